"""Settings: defaults in code, the user's TOML file over them, every value checked on load.

The file is `config.toml` in the config folder (see `posture.adapters.system.paths`). A
wrong key, type or
value stops the program with one line naming the key, the value and the file: a monitor
that silently ignores a typo in `slouch_after` would nag or never nudge.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from posture.errors import PostureError

if TYPE_CHECKING:
    from posture.core.episodes import Settings
    from posture.core.nudges import MonitorSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class ConfigError(PostureError):
    """The config file cannot be used as it is."""


def _range(lo: float, hi: float) -> dict[str, Any]:
    return {"range": (lo, hi)}


@dataclass(frozen=True)
class PoseConfig:
    #: a PoseLandmarker .task file; empty means the bundled full model
    model: str = ""
    num_poses: int = field(default=1, metadata=_range(1, 5))
    min_detection_confidence: float = field(default=0.5, metadata=_range(0.0, 1.0))
    min_presence_confidence: float = field(default=0.5, metadata=_range(0.0, 1.0))
    min_tracking_confidence: float = field(default=0.5, metadata=_range(0.0, 1.0))
    #: a landmark seen with less visibility than this does not count
    min_visibility: float = field(default=0.5, metadata=_range(0.0, 1.0))


@dataclass(frozen=True)
class JudgmentConfig:
    #: seconds of sustained bad posture before it is a slouch episode (and, later, a nudge)
    slouch_after: float = field(default=30.0, metadata=_range(5.0, 3600.0))
    #: seconds over which the score is smoothed (a median)
    smooth_window: float = field(default=5.0, metadata=_range(0.5, 60.0))
    #: an episode ends when the smoothed score stays below exit_ratio x the entry level ...
    exit_ratio: float = field(default=0.7, metadata=_range(0.1, 0.95))
    #: ... for this many seconds
    recover_after: float = field(default=5.0, metadata=_range(0.5, 300.0))
    #: an absence longer than this ends an episode; a shorter one only pauses the clock
    away_reset: float = field(default=60.0, metadata=_range(5.0, 3600.0))
    #: sensitivity for profiles that do not set one: low, medium or high ("" = the profile's)
    sensitivity: str = ""


@dataclass(frozen=True)
class MonitorConfig:
    #: the camera index the monitor watches
    camera: int = field(default=0, metadata=_range(0, 63))
    #: the device node watched for other programs opening the camera (Linux); empty
    #: means /dev/videoN of `camera`. Also watched when the monitor runs over a recording
    camera_device: str = ""
    width: int = field(default=640, metadata=_range(160, 3840))
    height: int = field(default=480, metadata=_range(120, 2160))
    #: the calibrated profile the monitor judges against
    profile: str = "default"
    #: seconds between looks while posture is steady / being confirmed / nobody is there
    interval: float = field(default=2.0, metadata=_range(0.5, 60.0))
    confirm_interval: float = field(default=1.0, metadata=_range(0.2, 30.0))
    away_interval: float = field(default=5.0, metadata=_range(0.5, 300.0))
    #: seconds with nobody seen after which the camera is opened for each look and released
    #: after it (its light off between looks, which come twice as far apart)
    close_camera_after: float = field(default=180.0, metadata=_range(0.0, 86400.0))
    #: seconds between two posture nudges at least
    cooldown: float = field(default=300.0, metadata=_range(30.0, 86400.0))
    break_reminder: bool = True
    #: minutes seated, and minutes away that count as a break
    break_after_minutes: float = field(default=50.0, metadata=_range(5.0, 600.0))
    break_length_minutes: float = field(default=5.0, metadata=_range(1.0, 120.0))
    #: plyer, notify-send, osascript, log, or auto (the first that works)
    notifier: str = "auto"
    #: days of history kept
    retention_days: int = field(default=365, metadata=_range(1, 36500))
    #: seconds before the history is tried again after a storage fault (doubling to 10x)
    history_retry: float = field(default=30.0, metadata=_range(0.1, 3600.0))
    #: hold nudges back while a full-screen window is active (a film, a presentation)
    quiet_when_fullscreen: bool = False
    #: stop looking (the camera off) while the laptop runs on its battery
    pause_on_battery: bool = False


#: Two tuning values of the monitor that are not in the file: the mean difference (grey
#: levels) of two thumbnails below which a frame counts as unchanged and the model is not
#: run again, and how often the model runs anyway (seconds).
UNCHANGED_THRESHOLD = 1.5
MAX_SKIP = 30.0


@dataclass(frozen=True)
class Config:
    pose: PoseConfig = field(default_factory=PoseConfig)
    judgment: JudgmentConfig = field(default_factory=JudgmentConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)


def _check_value(where: str, spec: dataclasses.Field[Any], value: Any, file: Path) -> Any:
    expected = spec.type if isinstance(spec.type, str) else spec.type.__name__
    ok: bool
    if expected == "bool":
        ok = isinstance(value, bool)
    elif expected == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif expected == "str":
        ok = isinstance(value, str)
    else:  # pragma: no cover - a new field type needs a branch here
        raise TypeError(f"unsupported config type {expected}")
    if not ok:
        raise ConfigError(f"{file}: {where} = {value!r} should be a {expected}: fix or remove it")
    bounds = spec.metadata.get("range")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise ConfigError(
            f"{file}: {where} = {value!r} is out of range ({bounds[0]} to {bounds[1]}): "
            "fix or remove it"
        )
    return value


def _build(cls: type[Any], table: dict[str, Any], prefix: str, file: Path) -> Any:
    specs = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = f"{prefix}{key}"
        spec = specs.get(key)
        if spec is None:
            known = ", ".join(sorted(specs))
            raise ConfigError(f"{file}: unknown setting {where} (known here: {known})")
        if dataclasses.is_dataclass(spec.default_factory):
            if not isinstance(value, dict):
                raise ConfigError(f"{file}: {where} should be a [{where}] table")
            values[key] = _build(spec.default_factory, value, f"{where}.", file)
        else:
            values[key] = _check_value(where, spec, value, file)
    return cls(**values)


#: The largest config file read; a settings file is a few hundred bytes.
MAX_CONFIG_BYTES = 1 << 20


_READ_FLAGS = (
    os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


def _open(file: Path) -> tuple[int, bool] | None:
    """A descriptor of the config (None when there is none), and whether it was reached
    through a symbolic link. A link is followed once, to its final target, opened without
    following any further link: dotfile managers link the config from elsewhere."""
    try:
        return os.open(file, _READ_FLAGS), False
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise ConfigError(f"cannot read {file}: {exc.strerror}: fix or remove it") from None
    target = file.resolve()
    try:
        return os.open(target, _READ_FLAGS), True
    except OSError as exc:
        raise ConfigError(
            f"{file} is a symbolic link to {target}, which cannot be read ({exc.strerror}): "
            "fix the link or put the file itself there"
        ) from None


def _read(file: Path) -> str | None:
    """The file's text, or None when there is none. Only a regular file is read, and
    never one too large to be a config: a FIFO would hang the command, a device or a huge
    file fill the memory. Through a link, only a file of the user's own (or root's) that
    no one else may write."""
    opened = _open(file)
    if opened is None:
        return None
    fd, linked = opened
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{file} is not a regular file: replace it with a TOML file")
        if linked and (info.st_uid not in (os.getuid(), 0) or info.st_mode & 0o022):
            raise ConfigError(
                f"{file} is a symbolic link to {file.resolve()}, a file another user owns "
                "or may write: put a file of your own there"
            )
        data = b""
        while len(data) <= MAX_CONFIG_BYTES and (chunk := os.read(fd, 1 << 16)):
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{file} is larger than {MAX_CONFIG_BYTES >> 20} MiB, too large for a config: "
            "fix or remove it"
        )
    return data.decode("utf-8")


def load(file: Path) -> Config:
    """The config in `file` over the defaults; the defaults alone when it does not exist."""
    try:
        text = _read(file)
        if text is None:
            return Config()
        table = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file} is not valid TOML ({exc}): fix or remove it") from None
    except RecursionError:  # "a=[[[[…]]]]": the parser's stack, not a setting
        raise ConfigError(f"{file} is nested too deeply to be a config: fix or remove it") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}: fix or remove it") from None
    config: Config = _build(Config, table, "", file)
    notifiers = ("auto", "plyer", "notify-send", "osascript", "log")
    if config.monitor.notifier not in notifiers:
        raise ConfigError(
            f"{file}: monitor.notifier = {config.monitor.notifier!r} should be one of "
            f"{', '.join(notifiers)}: fix or remove it"
        )
    device = config.monitor.camera_device
    if device and (not Path(device).is_absolute() or "\0" in device):
        raise ConfigError(
            f"{file}: monitor.camera_device = {device!r} should be an absolute path (such "
            "as /dev/video0) or empty: fix or remove it"
        )
    if config.judgment.sensitivity not in ("", "low", "medium", "high"):
        raise ConfigError(
            f"{file}: judgment.sensitivity = {config.judgment.sensitivity!r} should be low, "
            "medium or high: fix or remove it"
        )
    return config


def monitor_settings(monitor: MonitorConfig) -> MonitorSettings:
    """The monitor's policy settings from the config (imported lazily: the CLI's help
    stays light)."""
    from posture.core.nudges import MonitorSettings

    return MonitorSettings(
        interval=monitor.interval,
        confirm_interval=monitor.confirm_interval,
        away_interval=monitor.away_interval,
        close_camera_after=monitor.close_camera_after,
        cooldown=monitor.cooldown,
        break_reminder=monitor.break_reminder,
        break_after=monitor.break_after_minutes * 60,
        break_length=monitor.break_length_minutes * 60,
        unchanged_threshold=UNCHANGED_THRESHOLD,
        max_skip=MAX_SKIP,
    )


def episode_settings(judgment: JudgmentConfig) -> Settings:
    """The tracker's settings from the config (imported lazily: the CLI's help stays light)."""
    from posture.core.episodes import Settings

    return Settings(
        slouch_after=judgment.slouch_after,
        smooth_window=judgment.smooth_window,
        exit_ratio=judgment.exit_ratio,
        recover_after=judgment.recover_after,
        away_reset=judgment.away_reset,
    )
