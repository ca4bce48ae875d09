"""Running the monitor as a process: one per user (a lock), a rotating log, signals that
stop it cleanly, a detached start, and a stop that waits for the flush.

`run_monitor` assembles the real pieces (camera or recording, pose model, notifier,
history, control channel) around `posture.app.monitor.loop.Monitor` and runs it on this thread.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from posture.adapters.private import ensure_private_dir
from posture.adapters.storage.history import HISTORY_FILE
from posture.adapters.system import paths
from posture.adapters.system.lock import AlreadyRunning, MonitorLock, is_locked, lock_path, read_pid
from posture.errors import PostureError

if TYPE_CHECKING:
    from posture.app.monitor.loop import Monitor, Summary
    from posture.config import Config

log = logging.getLogger("posture")

LOG_FILE = "posture.log"


# --- durations ------------------------------------------------------------------------

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(text: str, *, now: datetime | None = None) -> float:
    """Seconds for '30m', '1h', '2h', '1h30m', '90s' or 'tomorrow' (until next local
    midnight). ValueError with a usable message otherwise."""
    text = text.strip().lower()
    if text == "tomorrow":
        now = now or datetime.now().astimezone()
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight - now).total_seconds()
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groups()):
        raise ValueError(
            f"'{text}' is not a duration: use for example 30m, 1h, 2h, 90s or tomorrow"
        )
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"'{text}' is not a positive duration")
    return total


# --- logging --------------------------------------------------------------------------


def setup_logging(log_dir: Path, *, to_stderr: bool, verbose: bool = False) -> Path:
    """`posture.log` (rotating: 1 MiB x 3, mode 0600) and, in the foreground, stderr."""
    ensure_private_dir(log_dir)
    file = log_dir / LOG_FILE
    if not file.exists():
        file.touch(mode=0o600)
    file.chmod(0o600)
    handler = logging.handlers.RotatingFileHandler(file, maxBytes=1 << 20, backupCount=3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("posture")
    root.handlers[:] = [handler]
    if to_stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("posture: %(message)s"))
        root.addHandler(console)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    return file


# --- running --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    source: str | None = None  # None: the configured camera
    speed: float = 1.0  # for a recording: times real time (0 = as fast as possible)
    interval: float = 1.0  # seconds between the images of a folder or glob
    profile: str | None = None  # None: the configured profile
    verbose: bool = False


def _handler(monitor: Monitor) -> Any:
    def handle(message: dict[str, Any]) -> dict[str, Any]:
        cmd = message.get("cmd")
        if cmd == "status":
            return dict(monitor.status(), pid=os.getpid())
        if cmd == "pause":
            seconds = message.get("seconds")
            return monitor.pause(None if seconds is None else float(seconds))
        if cmd == "resume":
            return monitor.resume()
        if cmd == "snooze":
            return monitor.snooze(float(message["seconds"]))
        if cmd == "stop":
            monitor.request_stop()
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    return handle


def run_monitor(config: Config, options: RunOptions, *, to_stderr: bool) -> Summary:
    """The monitor on this thread until stopped (a signal, `posture stop`) or, for a
    recording, until its end. Returns the session's summary."""
    from posture.adapters.control.unix import ControlServer, socket_path
    from posture.adapters.notify.backends import make_notifier
    from posture.adapters.pose.landmarker import MediaPipePose, PoseOptions
    from posture.adapters.pose.model import resolve_model
    from posture.adapters.storage.history import History
    from posture.adapters.video.sources import open_source
    from posture.app.monitor.loop import (
        CameraFeed,
        Feed,
        Monitor,
        RealClock,
        ReplayClock,
        ReplayFeed,
    )
    from posture.config import episode_settings, monitor_settings
    from posture.core import profile as profiles

    folders = paths.folders()
    lock = MonitorLock(lock_path(folders.runtime))
    lock.acquire()
    try:
        log_file = setup_logging(folders.log, to_stderr=to_stderr, verbose=options.verbose)
        profile = profiles.load(folders.data, options.profile or config.monitor.profile)
        info = resolve_model(config.pose.model or None)
        pose_options = PoseOptions(
            mode="video",
            # Two poses at least: with one, the detector may pick a passer-by and lose the
            # user (tests/test_monitor_process.py::test_faults_in_the_picture). It costs 29
            # instead of 17.5 ms per model run, but the model runs on few looks: most
            # frames are unchanged (scripts/bench_monitor.py).
            num_poses=max(config.pose.num_poses, 2),
            min_detection_confidence=config.pose.min_detection_confidence,
            min_presence_confidence=config.pose.min_presence_confidence,
            min_tracking_confidence=config.pose.min_tracking_confidence,
        )
        feed: Feed
        if options.source is None:
            m = config.monitor
            feed = CameraFeed(m.camera, m.width, m.height)
            clock: Any = RealClock()
        else:
            feed = ReplayFeed(open_source(options.source, image_interval=options.interval))
            clock = ReplayClock(options.speed)
        ensure_private_dir(folders.data)
        history = History(folders.data / HISTORY_FILE)
        history.prune(clock.wall_ms() - config.monitor.retention_days * 86_400_000)
        monitor = Monitor(
            profile=profile,
            feed=feed,
            pose_factory=lambda: MediaPipePose(info, pose_options),
            notifier=make_notifier(config.monitor.notifier),
            history=history,
            clock=clock,
            settings=monitor_settings(config.monitor),
            episode_settings=episode_settings(config.judgment),
            sensitivity=config.judgment.sensitivity or None,
            min_visibility=config.pose.min_visibility,
        )
        server = ControlServer(socket_path(folders.runtime), _handler(monitor))

        def on_signal(signum: int, frame: FrameType | None) -> None:
            monitor.request_stop()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            server.start()
            log.info(
                "monitoring %s with profile '%s' (pid %d, log %s, notifications via %s)",
                f"camera {feed.name}" if feed.kind == "camera" else feed.name,
                profile.name,
                os.getpid(),
                log_file,
                monitor.notifier.name,
            )
            summary = monitor.run()
        finally:
            server.close()
            history.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if not to_stderr:  # in the foreground the caller prints it
            log.info("%s", summary.text())
        return summary
    finally:
        lock.release()


def start_detached(args: list[str], *, wait: float = 30.0) -> int:
    """Start `posture run ARGS` as a detached process; return its pid once it answers."""
    from posture.adapters.control.unix import request, socket_path

    folders = paths.folders()
    lock = lock_path(folders.runtime)
    if is_locked(lock):
        raise AlreadyRunning(read_pid(lock))
    proc = subprocess.Popen(
        [sys.executable, "-m", "posture", "run", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    deadline = time.monotonic() + wait
    sock = socket_path(folders.runtime)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PostureError(
                f"the monitor stopped at once (exit {proc.returncode}): "
                f"see {folders.log / LOG_FILE}{_last_log_line(folders.log / LOG_FILE)}"
            )
        with contextlib.suppress(PostureError):
            if request(sock, {"cmd": "status"}, timeout=1.0).get("ok"):
                return proc.pid
        time.sleep(0.1)
    proc.terminate()
    raise PostureError(
        f"the monitor did not answer within {wait:.0f} s: see {folders.log / LOG_FILE}"
    )


def _last_log_line(file: Path) -> str:
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" (last line: {lines[-1]})" if lines else ""


def stop_monitor(*, wait: float = 15.0) -> int | None:
    """Ask the running monitor to stop and wait until it has flushed and exited."""
    from posture.adapters.control.unix import NotRunning, request, socket_path

    folders = paths.folders()
    lock = lock_path(folders.runtime)
    pid = read_pid(lock)
    try:
        request(socket_path(folders.runtime), {"cmd": "stop"})
    except NotRunning:
        if not is_locked(lock):
            raise
        if pid:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while is_locked(lock):
        if time.monotonic() > deadline:
            if pid:
                os.kill(pid, signal.SIGTERM)
            raise PostureError(
                f"the monitor (pid {pid}) did not stop within {wait:.0f} s; sent it SIGTERM"
            )
        time.sleep(0.05)
    return pid


def format_status(status: dict[str, Any]) -> str:
    """The status reply as lines for a person."""
    lines = [f"monitor      running (pid {status.get('pid')}), profile '{status.get('profile')}'"]
    state = status.get("state")
    since = status.get("since")
    lines.append(f"state        {state}{f' since {since}' if since and state != 'paused' else ''}")
    problems = status.get("problems") or []
    verdict = status.get("verdict")
    lines.append(f"posture      {verdict}{(': ' + ', '.join(problems)) if problems else ''}")
    upright = status.get("upright_percent")
    seen = status.get("seen_seconds") or 0
    lines.append(
        "this session "
        + (
            f"upright {upright:.0f}% of {timedelta(seconds=seen)} seen"
            if upright is not None
            else "nobody seen yet"
        )
        + f", {status.get('episodes', 0)} episode(s), {status.get('nudges', 0)} nudge(s)"
    )
    today = status.get("upright_percent_today")
    lines.append(
        "today        "
        + (f"upright {today:.0f}% of the time seen" if today is not None else "nothing seen yet")
        + f", {status.get('nudges_today', 0)} nudge(s)"
    )
    lines.append(f"camera       {status.get('camera')} ({status.get('source')})")
    if status.get("paused_until"):
        until = status["paused_until"]
        lines.append(
            f"paused       {'until `posture resume`' if until == 'resume' else 'until ' + until}"
        )
    if status.get("snoozed_until"):
        lines.append(f"snoozed      no nudges until {status['snoozed_until']}")
    if status.get("stale"):
        lines.append("calibration  looks stale: run `posture calibrate`")
    lines.append(f"next check   {status.get('next_check')}")
    lines.append(f"nudges via   {status.get('notifier')}")
    return "\n".join(lines)
