"""The ports: the small interfaces the core and the use cases need from hardware and the
operating system. Each adapter in `posture.adapters` implements one of them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from posture.errors import PostureError

if TYPE_CHECKING:
    import numpy as np

    from posture.core.frames import Frame, PoseResult
    from posture.core.nudges import DayTally
    from posture.core.preview import Scene
    from posture.core.profile import Profile
    from posture.core.stats import Rows, SessionRow
    from posture.core.tray import TrayView


# --- the monitor: time, pictures, poses, notifications -----------------------------------


class Clock(Protocol):
    """Monotonic seconds for the rules (counting the time the machine was suspended, so
    an episode, a break or a wait measured across a night is measured right), wall
    milliseconds for the history and for the deadlines the user gives (pause, snooze).
    Threading rule: used by the loop thread; `sleep` returns early when `wake` is set
    (from any thread)."""

    def now(self) -> float: ...

    def wall_ms(self) -> int: ...

    def sleep(self, seconds: float, wake: threading.Event) -> None: ...


class CameraFault(Exception):
    """The camera gives no usable picture; the message says why, for the status."""


@dataclass(frozen=True)
class Hold:
    """Why the monitor must not look now, although it runs: `kind` is one of
    `posture.core.vocab.HOLDS` ("camera_in_use", "locked", "asleep", "on_battery"); `reason` the
    status's and the log's words ("camera in use by zoom (pid 4242)"); the program
    holding the camera, when one does and it is known."""

    kind: str
    reason: str
    holder: str | None = None
    holder_pid: int | None = None


class CameraBusy(CameraFault):
    """The camera cannot be opened because another program has it (EBUSY): a hold, not
    a fault."""

    def __init__(self, hold: Hold) -> None:
        super().__init__(hold.reason)
        self.hold = hold


class HoldSensor(Protocol):
    """Something that may tell the monitor not to look: a camera-in-use watcher, the
    screen lock, the machine going to sleep.

    Threading rule: `start` is called once by the loop thread before the first look;
    the sensor may then watch on a thread of its own and call `wake()` (from any thread)
    whenever its answer may have changed, so that the loop asks again at once. `hold` is
    called by the loop thread at every tick and must be cheap (no I/O that can block for
    long). `close` ends the watch; it is called once, at the end."""

    name: str

    def start(self, wake: Callable[[], None]) -> None: ...

    def hold(self) -> Hold | None: ...

    def close(self) -> None: ...


class QuietSensor(Protocol):
    """Something that asks for no nudges now (do-not-disturb, a presentation): the
    monitor goes on looking and records each nudge held back. `quiet` is called by the
    loop thread when a nudge is due; it returns why ("do not disturb") or None."""

    name: str

    def quiet(self) -> str | None: ...


class EndOfInput(Exception):
    """A recording has been played to its end."""


class FrameSource(Protocol):
    """Frames of a camera, a video or images, single pass, until closed (the video
    adapter's sources). Threading rule: one thread creates, reads and closes a source;
    `close` may be called any number of times."""

    @property
    def name(self) -> str: ...  # what the user named, for messages

    @property
    def kind(self) -> str: ...  # "camera" | "video" | "images"

    @property
    def length(self) -> int | None: ...  # how many frames, when known (not a camera's)

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class SourceOpener(Protocol):
    """Opens what the user named (a camera index, a video, an image, a folder, a glob);
    a name that is none of these is an `InputError`. Threading rule: any thread; the
    source belongs to the caller's thread."""

    def __call__(self, spec: str, *, image_interval: float = 1.0) -> FrameSource: ...


class Feed(Protocol):
    """Frames for the loop: `read(t)` the picture now, or `CameraFault`, or (a recording)
    `EndOfInput`; `release` lets the camera go (its light off) until the next read.
    Threading rule: the loop thread only."""

    name: str
    kind: str

    def read(self, t: float) -> Frame: ...

    def release(self) -> None: ...


class PoseEstimator(Protocol):
    """Finds poses in RGB frames.

    Threading rule: one thread owns an estimator; `detect` and `close` are called from it
    only. In video mode timestamps must increase; the adapter nudges equal ones forward.
    """

    def detect(self, image: np.ndarray, timestamp: float) -> PoseResult: ...

    def close(self) -> None: ...


#: "image" for unrelated stills, "video" for a stream (the model tracks between frames).
Mode = Literal["image", "video"]


class PoseModel(Protocol):
    """One pose model file with the configured detection settings: makes estimators.

    Threading rule: call from one thread at a time; each estimator it makes belongs to
    the thread that uses it. The model file is checked once, at the first `sha256` or
    `estimator` call (a damaged or wrong file is a `ModelError` there).
    """

    @property
    def sha256(self) -> str: ...

    @property
    def num_poses(self) -> int: ...  # how many people the settings look for

    def estimator(self, mode: Mode, num_poses: int | None = None) -> PoseEstimator: ...


class Notifier(Protocol):
    """Sends one desktop notification and never raises (a chain of backends falls back
    itself). `name` is the backend in use, for the status and the history. Threading rule:
    called from the monitor's loop thread only."""

    @property
    def name(self) -> str: ...

    def notify(self, title: str, message: str) -> None: ...


# --- the monitor: its history -----------------------------------------------------------


class HistoryUnavailable(PostureError):
    """The history cannot be written just now (a run-time fault, not a user's mistake):
    `reason` is short, for the status ("disk full", "database locked by another
    program", "read-only", "I/O error", "database file deleted", "database file
    replaced"). Nothing of the failed call was written; the same call may be retried."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"history: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason


class HistoryWriter(Protocol):
    """What the monitor writes to its history, one call per event; row ids come back so
    that an episode, a nudge or a period can be completed later. Wider than the other
    ports because it mirrors the history's tables; each method is one row.

    Threading rule: the loop thread writes; `day_so_far` is called once, before the loop.
    Times are the history's integer UTC milliseconds, except `maybe_flush`'s monotonic
    seconds. A write that fails for a run-time reason raises `HistoryUnavailable` and
    leaves nothing half-written (`posture.app.monitor.journal` keeps it and retries)."""

    def day_so_far(self, since_ms: int, day: str) -> DayTally:
        """The figures already recorded since `since_ms` (local midnight of `day`)."""
        ...

    def start_session(
        self, started_ms: int, *, profile: str, source: str, settings: dict[str, object]
    ) -> int: ...

    def end_session(self, session_id: int, ended_ms: int) -> None: ...

    def add_sample(
        self,
        session_id: int,
        t_ms: int,
        verdict: str,
        score: float | None,
        state: str,
        features: Mapping[str, float | None],
        problems: Sequence[str] = (),
    ) -> None: ...

    def maybe_flush(self, now: float) -> bool: ...

    def flush(self) -> None:
        """Write the buffered samples now."""
        ...

    @property
    def buffered(self) -> int:
        """How many samples wait in memory."""
        ...

    def health(self) -> str | None:
        """What is wrong with the history now, for the status; None: nothing. Any thread."""
        ...

    def add_episode(
        self, session_id: int, start_ms: int, end_ms: int | None, kind: str, peak: float
    ) -> int: ...

    def close_episode(self, episode_id: int, end_ms: int, peak: float) -> None: ...

    def add_nudge(
        self, session_id: int, t_ms: int, kind: str, message: str, backend: str
    ) -> int: ...

    def set_nudge_corrected(self, nudge_id: int, corrected_after_ms: int) -> None: ...

    def open_period(self, session_id: int, kind: str, start_ms: int) -> int: ...

    def close_period(self, period_id: int, end_ms: int) -> None: ...


class NullHistory:
    """A history that keeps nothing: the monitor without a history file (and the fake
    beside the port). Every row id it hands out is 0."""

    def day_so_far(self, since_ms: int, day: str) -> DayTally:
        from posture.core.nudges import DayTally

        return DayTally()

    def start_session(
        self, started_ms: int, *, profile: str, source: str, settings: dict[str, object]
    ) -> int:
        return 0

    def end_session(self, session_id: int, ended_ms: int) -> None:
        pass

    def add_sample(
        self,
        session_id: int,
        t_ms: int,
        verdict: str,
        score: float | None,
        state: str,
        features: Mapping[str, float | None],
        problems: Sequence[str] = (),
    ) -> None:
        pass

    def maybe_flush(self, now: float) -> bool:
        return False

    def flush(self) -> None:
        pass

    @property
    def buffered(self) -> int:
        return 0

    def health(self) -> str | None:
        return None

    def add_episode(
        self, session_id: int, start_ms: int, end_ms: int | None, kind: str, peak: float
    ) -> int:
        return 0

    def close_episode(self, episode_id: int, end_ms: int, peak: float) -> None:
        pass

    def add_nudge(self, session_id: int, t_ms: int, kind: str, message: str, backend: str) -> int:
        return 0

    def set_nudge_corrected(self, nudge_id: int, corrected_after_ms: int) -> None:
        pass

    def open_period(self, session_id: int, kind: str, start_ms: int) -> int:
        return 0

    def close_period(self, period_id: int, end_ms: int) -> None:
        pass


# --- the monitor: its control channel -----------------------------------------------------

#: Answers one request (a JSON object) with one reply (a JSON object with "ok").
ControlHandler = Callable[[dict[str, Any]], dict[str, Any]]


class NotRunning(PostureError):
    """No monitor answers on the control channel. Exit status 3, as `systemctl status`
    uses for a unit that is not running."""

    exit_code = 3

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "no posture monitor is running: start one with `posture start`")


class ControlTransport(Protocol):
    """The channel between `posture status|pause|resume|snooze|stop` and the running
    monitor: one request, one reply. A Unix socket today
    (`posture.adapters.control.unix`); a Windows named pipe would be one more adapter.

    Threading rule: `serve` calls `handler` on the transport's own thread, never twice at
    once, so the handler only reads a snapshot or posts a request to the loop; `close`
    and `request` may be called from any thread. `request` raises `NotRunning` when no
    monitor answers, `PostureError` for a silent or garbled one. If the channel fails for
    good, `serve` calls `on_failure` (from its thread): a monitor nobody can pause or stop
    must not go on watching."""

    def serve(self, handler: ControlHandler, on_failure: Callable[[], None]) -> None: ...

    def close(self) -> None: ...

    def request(self, message: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]: ...


# --- the report: reading the history ----------------------------------------------------
# Implemented by posture.adapters.storage.queries.HistoryQueries.


class HistoryReader(Protocol):
    """What the report reads from the monitor's history: plain rows and numpy columns,
    never a storage type. Read-only: nothing is ever written, and a monitor may be
    writing the history meanwhile. An empty or missing history has no sessions.

    Threading: a reader is used by the one thread that made it (it holds a connection)."""

    def sessions(self) -> tuple[SessionRow, ...]:
        """Every session in id order; an unended one with the time of its last sample.
        `running` is left False: whether a monitor runs now is the caller's answer."""
        ...

    def rows(self, sessions: Sequence[SessionRow], ranges: Sequence[tuple[int, int]]) -> Rows:
        """Everything a report over `ranges` (sorted, not overlapping) needs: the samples
        taken in them, and the episodes, nudges and periods that touch their span."""
        ...


# --- calibration: the profiles ------------------------------------------------------------
# Implemented by posture.adapters.storage.profiles.ProfileFiles.


class ProfileStore(Protocol):
    """The calibrated profiles, by name. Threading rule: one thread at a time. `load`
    raises `ProfileError` for a missing or damaged profile; `save` keeps the previous one
    of that name and returns where it wrote."""

    def load(self, name: str) -> Profile: ...

    def save(self, profile: Profile) -> Path: ...

    def path(self, name: str) -> Path: ...


# --- the tray ---------------------------------------------------------------------------
# Implemented by posture.adapters.tray (a StatusNotifierItem on Linux; pystray elsewhere).


class TrayHost(Protocol):
    """The icon and menu on the desktop's panel. Threading rule: `on_click` is called from
    the host's own thread; `show`, `wake` and `close` may be called from any thread; `run`
    owns the calling (main) thread, because macOS draws its status bar only from there."""

    #: what shows the icon, for the log: "StatusNotifierItem", "pystray (win32)"
    name: str

    def start(self, view: TrayView, on_click: Callable[[int], None]) -> None:
        """Show the icon; `TrayUnavailable` when the desktop has no tray (Linux: no
        StatusNotifierWatcher on the session bus) or no session bus."""
        ...

    def show(self, view: TrayView) -> None:
        """Show this view (a no-op when it is the one shown)."""
        ...

    def run(self, step: Callable[[], bool], every: float) -> None:
        """Call `step` every `every` seconds, and soon after `wake`, until it returns
        False; then return."""
        ...

    def wake(self) -> None: ...

    def close(self) -> None:
        """Take the icon away; idempotent."""
        ...


class LoginEntry(Protocol):
    """Whether posture starts at login, and the switch (`posture.adapters.system.autostart`,
    its command fixed when it is built: the tray's own). Any thread; `enabled` reads a
    small file each time, so it sees a change made with `posture autostart` too."""

    def enabled(self) -> bool: ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...


# --- the preview ------------------------------------------------------------------------
# Implemented by posture.adapters.window (a child process drawing with OpenCV's HighGUI).

#: What `PreviewWindow.show` found: "open" (shown, or being shown), "closed" (the user
#: pressed Esc or closed the window), "gone" (the window's process died: `reason` says why).
WindowState = Literal["open", "closed", "gone"]


class PreviewWindow(Protocol):
    """A window that shows the picture with a `posture.core.preview.Scene` drawn over it.
    Nothing it is given is ever written to disk. `show` never blocks on the drawing (a
    slow window skips frames) and never raises: a window that died is "gone", and
    `reason` says why in a few words. Threading rule: one thread shows and closes;
    `close` is idempotent."""

    @property
    def reason(self) -> str: ...

    def show(self, image: np.ndarray, scene: Scene) -> WindowState: ...

    def close(self) -> None: ...


class WindowOpener(Protocol):
    """Opens a preview window titled `title`; `PreviewUnavailable` when there is no
    display to show it on. Threading rule: the caller's thread owns the window."""

    def __call__(self, title: str) -> PreviewWindow: ...


# --- every use case: the person at the terminal -----------------------------------------
# Implemented by posture.cli.group.ClickTerminal.


class ProgressBar(Protocol):
    def update(self, steps: int) -> None: ...


class Terminal(Protocol):
    """Where a use case talks to the person who ran the command: `show` is the command's
    output (stdout), `say` a message about the work (stderr), `progress` a bar on stderr
    that a terminal shows and a pipe does not. Threading rule: the use case's thread."""

    def show(self, text: str) -> None: ...

    def say(self, text: str) -> None: ...

    def progress(self, length: int, label: str) -> AbstractContextManager[ProgressBar]: ...
