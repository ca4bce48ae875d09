"""Assembly: the one module of `posture.app` that builds concrete adapters (camera,
recording, pose model, notifier, history, control transport, lock, log, the tray's
host) and hands them to the use cases as ports. The import rules allow it and only it
to import `posture.adapters`.

Organised by use case; each section builds what one use case needs and nothing else.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posture.adapters.pose.landmarker import MediaPipePose, Mode, PoseOptions
    from posture.adapters.pose.model import ModelInfo
    from posture.adapters.storage.history import History
    from posture.adapters.storage.profiles import ProfileFiles
    from posture.adapters.storage.queries import HistoryQueries
    from posture.adapters.system.lock import MonitorLock
    from posture.adapters.system.paths import Folders
    from posture.app.borrow import CameraLoan
    from posture.app.monitor.journal import Journal
    from posture.app.monitor.loop import Monitor
    from posture.app.tray import TrayParts
    from posture.config import Config, PoseConfig
    from posture.ports import (
        ControlTransport,
        HoldSensor,
        PreviewWindow,
        QuietSensor,
        Terminal,
        TrayHost,
    )

log = logging.getLogger("posture")

# --- the monitor: where its files are --------------------------------------------------

LOG_FILE = "posture.log"


@dataclass(frozen=True)
class MonitorPlaces:
    """Where one user's monitor keeps its files, from the folders resolved once."""

    data: Path
    log: Path
    runtime: Path

    @property
    def log_file(self) -> Path:
        return self.log / LOG_FILE


def folders_under(home: Path) -> Folders:
    """All of posture's folders under one folder, as POSTURE_HOME does (the demo's
    throwaway home), without changing the environment."""
    from posture.adapters.system import paths

    return paths.folders({"POSTURE_HOME": str(home)})


def monitor_places(home: Path | None = None) -> MonitorPlaces:
    """The user's folders, or (`home`) the folders under one folder."""
    from posture.adapters.system import paths

    found = paths.folders() if home is None else folders_under(home)
    return MonitorPlaces(data=found.data, log=found.log, runtime=found.runtime)


def monitor_lock(places: MonitorPlaces) -> MonitorLock:
    """One monitor per user: the `flock` on `monitor.lock` in the runtime folder."""
    from posture.adapters.system.lock import MonitorLock, lock_path

    return MonitorLock(lock_path(places.runtime))


def recorded_pid(places: MonitorPlaces) -> int | None:
    """The pid the last monitor wrote into its lock file (None: none)."""
    from posture.adapters.system.lock import lock_path, read_pid

    return read_pid(lock_path(places.runtime))


def is_running(places: MonitorPlaces) -> bool:
    from posture.adapters.system.lock import is_locked, lock_path

    return is_locked(lock_path(places.runtime))


def ensure_not_running(places: MonitorPlaces) -> None:
    """`AlreadyRunning` (naming the pid) when a monitor holds the lock."""
    from posture.adapters.system.lock import AlreadyRunning, is_locked, lock_path, read_pid

    lock = lock_path(places.runtime)
    if is_locked(lock):
        raise AlreadyRunning(read_pid(lock))


def control_transport(places: MonitorPlaces) -> ControlTransport:
    from posture.adapters.control.unix import UnixTransport, socket_path

    return UnixTransport(socket_path(places.runtime))


def setup_logging(log_dir: Path, *, to_stderr: bool, verbose: bool = False) -> Path:
    """`posture.log` (rotating: 1 MiB x 3, mode 0600) and, in the foreground, stderr."""
    from posture.adapters.private import (
        PrivateRotatingFileHandler,
        ensure_private_dir,
        open_private,
        refuse_links,
    )

    ensure_private_dir(log_dir)
    file = log_dir / LOG_FILE
    # Never through a link: the log, and the files rotation will rename it to.
    refuse_links(file, *(file.with_name(f"{file.name}.{n}") for n in range(1, 4)))
    os.close(open_private(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND))
    file.chmod(0o600)  # an older log may have been made with a looser mode
    handler = PrivateRotatingFileHandler(file, maxBytes=1 << 20, backupCount=3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("posture")
    root.handlers[:] = [handler]
    if to_stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("posture: %(message)s"))
        root.addHandler(console)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    # A log line that cannot be written (the log's disk is full) is dropped quietly, not
    # a traceback on stderr for every line: the monitor goes on and says so in `status`.
    logging.raiseExceptions = False
    return file


# --- the monitor: its pieces ----------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    source: str | None = None  # None: the configured camera
    speed: float = 1.0  # for a recording: times real time (0 = as fast as possible)
    interval: float = 1.0  # seconds between the images of a folder or glob
    profile: str | None = None  # None: the configured profile
    verbose: bool = False


@dataclass
class MonitorParts:
    """A monitor and what must be closed after it."""

    monitor: Monitor
    transport: ControlTransport
    history: History
    journal: Journal

    def close(self) -> None:
        """Never raises for the history: a fault at the end is a log line (the journal
        has said what was not written)."""
        from posture.ports import HistoryUnavailable

        self.transport.close()
        try:
            self.history.close()
        except HistoryUnavailable as err:
            log.warning("%s when closing the history", err)


def build_monitor(config: Config, options: RunOptions, places: MonitorPlaces) -> MonitorParts:
    """The monitor over the configured camera (or `options.source` on a simulated
    clock), with the pose model, the notifier and the history (pruned to
    `retention_days`), and the transport it will answer on (not serving yet)."""
    from posture.adapters.notify.backends import make_notifier
    from posture.adapters.pose.landmarker import MediaPipePose
    from posture.adapters.pose.model import resolve_model
    from posture.adapters.private import ensure_private_dir
    from posture.adapters.storage import profiles
    from posture.adapters.storage.history import HISTORY_FILE, History
    from posture.adapters.video.sources import open_source
    from posture.app.monitor.clocks import RealClock, ReplayClock
    from posture.app.monitor.feeds import CameraFeed, ReplayFeed
    from posture.app.monitor.journal import Journal
    from posture.app.monitor.loop import Monitor
    from posture.config import episode_settings, monitor_settings
    from posture.ports import Clock, Feed

    profile = profiles.load(places.data, options.profile or config.monitor.profile)
    info = resolve_model(config.pose.model or None)
    # Two poses at least: with one, the detector may pick a passer-by and lose the user
    # (tests/test_monitor_process.py::test_faults_in_the_picture). It costs 29 instead of
    # 17.5 ms per model run, but the model runs on few looks: most frames are unchanged
    # (scripts/bench_monitor.py).
    video = pose_options(config.pose, "video", max(config.pose.num_poses, 2))
    feed: Feed
    clock: Clock
    if options.source is None:
        m = config.monitor
        feed = CameraFeed(m.camera, lambda: open_source(m.camera, width=m.width, height=m.height))
        clock = RealClock()
    else:
        feed = ReplayFeed(open_source(options.source, image_interval=options.interval))
        clock = ReplayClock(options.speed)
    ensure_private_dir(places.data)
    history = History(places.data / HISTORY_FILE)
    retain(history, clock.wall_ms(), config.monitor.retention_days)
    journal = Journal(history, retry=config.monitor.history_retry)
    monitor = Monitor(
        profile=profile,
        feed=feed,
        pose_factory=lambda: MediaPipePose(info, video),
        notifier=make_notifier(config.monitor.notifier),
        history=journal,
        clock=clock,
        settings=monitor_settings(config.monitor),
        episode_settings=episode_settings(config.judgment),
        sensitivity=config.judgment.sensitivity or None,
        min_visibility=config.pose.min_visibility,
        holds=hold_sensors(config, options),
        quiet=quiet_sensors(config),
    )
    return MonitorParts(monitor, control_transport(places), history, journal)


def hold_sensors(config: Config, options: RunOptions) -> list[HoldSensor]:
    """What may tell the monitor not to look, on this platform and this desktop (each
    sensor that cannot watch says so in one log line when the monitor starts it)."""
    sensors: list[HoldSensor] = []
    from posture.adapters.video.in_use import camera_in_use_sensor

    camera = config.monitor.camera if options.source is None else None
    if (in_use := camera_in_use_sensor(camera, config.monitor.camera_device)) is not None:
        sensors.append(in_use)
    if config.monitor.pause_on_battery:
        from posture.adapters.system.power import BatteryHold

        sensors.append(BatteryHold())
    if options.source is None or options.speed > 0:  # real time: a lock now is this run's
        sensors += screen_lock_sensors(sys.platform)
    return sensors


def screen_lock_sensors(platform: str) -> list[HoldSensor]:
    """The screen lock (and sleep, where the OS tells) of this platform."""
    if platform.startswith("linux"):
        from posture.adapters.system.session_lock import LinuxScreenLock

        return [LinuxScreenLock()]
    from posture.adapters.system import session_lock_polled as polled

    if platform == "darwin":
        return [polled.PolledScreenLock("screen lock", polled.load_macos)]
    if platform == "win32":
        return [polled.PolledScreenLock("screen lock", polled.load_windows)]
    return []


def quiet_sensors(config: Config) -> list[QuietSensor]:
    """What may ask for no nudges now (do-not-disturb, a presentation)."""
    sensors: list[QuietSensor] = []
    from posture.adapters.notify.quiet import desktop_sensors

    sensors.extend(desktop_sensors(fullscreen=config.monitor.quiet_when_fullscreen))
    return sensors


def retain(history: History, now_ms: int, days: int) -> None:
    """The retention prune at start: `days` before the newest stored row (or now, if
    earlier); skipped, with a log line, on an implausible wall clock or a storage fault
    (the monitor runs all the same)."""
    from posture.adapters.storage.history import retention_cutoff
    from posture.ports import HistoryUnavailable

    try:
        cutoff, why = retention_cutoff(now_ms, history.newest_ms(), days)
        if why:
            log.warning("history: %s; old history is not pruned this time", why)
        elif cutoff is not None:
            history.prune(cutoff)
    except HistoryUnavailable as err:
        log.warning("%s; old history is not pruned this time", err)


# --- the picture use cases (analyze, calibrate, capture, demo) and the monitor: the pose
# model and the profiles ---------------------------------------------------------------


def pose_options(settings: PoseConfig, mode: Mode, num_poses: int | None = None) -> PoseOptions:
    """The pose adapter's options from the `[pose]` settings (the one place this is
    written): `num_poses`, when given, replaces the configured count."""
    from posture.adapters.pose.landmarker import PoseOptions

    return PoseOptions(
        mode=mode,
        num_poses=num_poses or settings.num_poses,
        min_detection_confidence=settings.min_detection_confidence,
        min_presence_confidence=settings.min_presence_confidence,
        min_tracking_confidence=settings.min_tracking_confidence,
    )


class MediaPipeModel:
    """The real `PoseModel`: MediaPipe's PoseLandmarker with the `[pose]` settings.

    `model` (a `--model` given on the command line) wins over the configured file; neither
    means the bundled model. No settings: the defaults. The file is checked once, when
    first needed.
    """

    def __init__(
        self,
        settings: PoseConfig | None = None,
        *,
        model: Path | str | None = None,
        num_poses: int | None = None,
    ) -> None:
        from posture.config import PoseConfig

        settings = settings or PoseConfig()
        self.settings = settings
        self.model = model if model is not None else (settings.model or None)
        self.num_poses = num_poses or settings.num_poses
        self._info: ModelInfo | None = None

    def _resolved(self) -> ModelInfo:
        if self._info is None:
            from posture.adapters.pose.model import resolve_model

            self._info = resolve_model(self.model)
        return self._info

    @property
    def sha256(self) -> str:
        return self._resolved().sha256

    def estimator(self, mode: Mode, num_poses: int | None = None) -> MediaPipePose:
        from posture.adapters.pose.landmarker import MediaPipePose

        options = pose_options(self.settings, mode, num_poses or self.num_poses)
        return MediaPipePose(self._resolved(), options)


def profile_files(folders: Folders) -> ProfileFiles:
    from posture.adapters.storage.profiles import ProfileFiles

    return ProfileFiles(folders.data)


def profiles_in(home: Path) -> ProfileFiles:
    """The profile files of a POSTURE_HOME-style folder (the demo's throwaway home)."""
    return profile_files(folders_under(home))


def history_reader_in(home: Path) -> HistoryQueries:
    """The report's read-only view of the history under a POSTURE_HOME-style folder."""
    from posture.adapters.storage.history import HISTORY_FILE
    from posture.adapters.storage.queries import HistoryQueries

    return HistoryQueries(folders_under(home).data / HISTORY_FILE)


# --- the tray ----------------------------------------------------------------------------


def tray_lock(places: MonitorPlaces) -> MonitorLock:
    """One tray per user: the `flock` on `tray.lock` (not the monitor's) in the runtime
    folder; a second `posture tray` is `TrayRunning`, one line."""
    from posture.adapters.system.lock import TRAY_LOCK_FILE, MonitorLock, TrayRunning

    return MonitorLock(places.runtime / TRAY_LOCK_FILE, busy=TrayRunning)


def tray_host(platform: str = sys.platform) -> TrayHost:
    """The icon on this desktop's panel: a StatusNotifierItem over D-Bus on Linux and the
    other Unix desktops, pystray on macOS and Windows (the `posture[tray]` extra)."""
    from posture.core.tray import icon_pixels

    if platform in ("darwin", "win32"):
        from posture.adapters.tray.pystray_host import PystrayTray

        return PystrayTray(icon_pixels, platform=platform)
    from posture.adapters.tray.sni import SniTray

    return SniTray(icon_pixels)


class LoginSwitch:
    """The `LoginEntry` of the tray: the autostart entry, written with `command`; enabled
    whatever posture command it runs (`posture start` or `posture tray`)."""

    def __init__(self, command: list[str]) -> None:
        self.command = command

    def enabled(self) -> bool:
        from posture.adapters.system import autostart

        return autostart.status().enabled

    def enable(self) -> None:
        from posture.adapters.system import autostart

        autostart.enable(self.command)

    def disable(self) -> None:
        from posture.adapters.system import autostart

        autostart.disable()


def report_folder(places: MonitorPlaces) -> Path:
    """Where the tray writes today's report: `reports/` in the data folder, private."""
    from posture.adapters.private import ensure_private_dir

    folder = places.data / "reports"
    ensure_private_dir(places.data)
    ensure_private_dir(folder)
    return folder


def tray_parts(
    places: MonitorPlaces,
    *,
    config: Config,
    login_command: list[str],
    start_monitor: Callable[[], int],
    stop_monitor: Callable[[], object],
    wait_for_host: float = 0.0,
) -> TrayParts:
    """What `posture.app.tray` works with: the host of this platform, the control
    channel, the login switch, the configured notifier and the report folder."""
    from posture.adapters.notify.backends import make_notifier
    from posture.app.tray import TrayParts

    return TrayParts(
        host=tray_host(),
        transport=control_transport(places),
        login=LoginSwitch(login_command),
        notifier=make_notifier(config.monitor.notifier),
        report_folder=lambda: report_folder(places),
        start_monitor=start_monitor,
        stop_monitor=stop_monitor,
        wait_for_host=wait_for_host,
        new_host=tray_host,
    )


# --- the preview: its window and the camera it borrows ------------------------------------


def preview_window(title: str) -> PreviewWindow:
    """The preview window (a child process); `PreviewUnavailable` without a display."""
    from posture.adapters.window.process import open_window

    return open_window(title)


def camera_loan(terminal: Terminal) -> CameraLoan:
    """Borrowing the camera from the user's running monitor, over its control channel."""
    from posture.app.borrow import CameraLoan

    return CameraLoan(control_transport(monitor_places()), terminal)


def monitor_answers() -> bool:
    """Whether the user's monitor answers now (it keeps its calibration until restarted)."""
    from posture.app.borrow import monitor_answers

    return monitor_answers(control_transport(monitor_places()))
