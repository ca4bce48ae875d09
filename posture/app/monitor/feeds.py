"""What the monitor looks at (`posture.ports.Feed`): the live camera, or a recording
played as if it were one. Both take what the video adapter opened, built by
`posture.app.compose`, so the loop never imports OpenCV's side.

Both count the seconds the camera is held (opened -> released; `held`), so the time its
light is on can be measured (scripts/bench_monitor.py): a recording simulates it on its
own clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from posture.core.camera_policy import Warmup
from posture.core.frames import thumbnail
from posture.errors import InputError
from posture.ports import CameraFault, EndOfInput

if TYPE_CHECKING:
    from posture.core.frames import Frame
    from posture.ports import FrameSource

#: What a replay charges for each opening of its simulated camera, in seconds: a webcam's
#: open (0.1-0.5 s on V4L2) and auto-exposure warm-up (0.3-1 s); see scripts/bench_camera_open.py.
REPLAY_OPEN_COST = 1.0


class HoldMeter:
    """Seconds the camera was held, opening by opening; `open_cost` is added to each (a
    replay's simulated open and warm-up)."""

    def __init__(self, open_cost: float = 0.0) -> None:
        self.open_cost = open_cost
        self.opens = 0
        self._seconds = 0.0
        self._since: float | None = None

    def opened(self, t: float) -> None:
        if self._since is None:
            self._since = t
            self.opens += 1

    def released(self, t: float) -> None:
        if self._since is not None:
            self._seconds += max(0.0, t - self._since) + self.open_cost
            self._since = None

    def seconds(self, t: float) -> float:
        """Held so far, counting the opening in progress up to `t`."""
        if self._since is None:
            return self._seconds
        return self._seconds + max(0.0, t - self._since) + self.open_cost


class CameraFeed:
    """The live camera, opened when first read and released on `release` (while paused,
    after a fault, or between looks far apart), so its light is off whenever posture is
    not looking.

    `open_camera` opens it (raising `InputError` when it cannot). On each opening, frames
    are skipped until the exposure settles (`posture.core.camera_policy.Warmup`); `now`
    is the clock that bounds that and measures the time held."""

    kind = "camera"

    def __init__(
        self,
        index: int,
        open_camera: Callable[[], FrameSource],
        *,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.index = index
        self.name = str(index)
        self._open = open_camera
        self._now = now
        self._source: FrameSource | None = None
        self._frames: Iterator[Frame] | None = None
        self.held = HoldMeter()
        #: frames skipped waiting for the exposure at the last opening
        self.warmup_skipped = 0

    def read(self, t: float) -> Frame:
        if self._frames is None:
            start = self._now()
            try:
                self._source = self._open()
            except InputError as err:
                raise CameraFault(str(err)) from None
            self.held.opened(start)
            self._frames = iter(self._source)
            return self._settled(start)
        return self._next()

    def _next(self) -> Frame:
        assert self._frames is not None
        try:
            return next(self._frames)
        except StopIteration:
            self.release()
            raise CameraFault(
                f"camera {self.index} stopped sending pictures (unplugged, or taken by "
                "another program?)"
            ) from None

    def _settled(self, start: float) -> Frame:
        """The first frame after the auto-exposure settled (or the last one allowed)."""
        warmup = Warmup(start)
        frame = self._next()
        while not warmup.settled(thumbnail(frame.image), self._now()):
            frame = self._next()
        self.warmup_skipped = warmup.frames - 1
        return frame

    def release(self) -> None:
        if self._source is not None:
            self._source.close()
            self.held.released(self._now())
        self._source = self._frames = None


class ReplayFeed:
    """A video or image sequence as if it were a camera: `read(t)` gives the latest frame
    whose own timestamp is at most `t` seconds into the recording.

    Its camera is simulated: "opened" by the first read after a release, "held" until
    the last read before the next release, plus `open_cost` per opening."""

    kind = "replay"

    def __init__(self, source: FrameSource, *, open_cost: float = REPLAY_OPEN_COST) -> None:
        self.source = source
        self.name = source.name
        self._frames = iter(source)
        self._current: Frame | None = None
        self._next: Frame | None = next(self._frames, None)
        self.held = HoldMeter(open_cost)
        self._last_t = 0.0

    def read(self, t: float) -> Frame:
        self.held.opened(t)
        self._last_t = t
        while self._next is not None and self._next.timestamp <= t:
            self._current, self._next = self._next, next(self._frames, None)
        if self._next is None and (self._current is None or t > self._current.timestamp + 2):
            raise EndOfInput
        if self._current is None:
            assert self._next is not None
            self._current = self._next
        return self._current

    def release(self) -> None:
        # A recording keeps its place; only a real camera has a light to turn off.
        self.held.released(self._last_t)
