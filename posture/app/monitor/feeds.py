"""What the monitor looks at (`posture.ports.Feed`): the live camera, or a recording
played as if it were one. Both take what the video adapter opened, built by
`posture.app.compose`, so the loop never imports OpenCV's side."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from posture.errors import InputError
from posture.ports import CameraFault, EndOfInput

if TYPE_CHECKING:
    from posture.core.frames import Frame
    from posture.ports import FrameSource


class CameraFeed:
    """The live camera, opened when first read and released on `release` (while paused
    or after a fault), so its light is off whenever posture is not looking.

    `open_camera` opens it (raising `InputError` when it cannot)."""

    kind = "camera"

    def __init__(self, index: int, open_camera: Callable[[], FrameSource]) -> None:
        self.index = index
        self.name = str(index)
        self._open = open_camera
        self._source: FrameSource | None = None
        self._frames: Iterator[Frame] | None = None

    def read(self, t: float) -> Frame:
        if self._frames is None:
            try:
                self._source = self._open()
            except InputError as err:
                raise CameraFault(str(err)) from None
            self._frames = iter(self._source)
        try:
            return next(self._frames)
        except StopIteration:
            self.release()
            raise CameraFault(
                f"camera {self.index} stopped sending pictures (unplugged, or taken by "
                "another program?)"
            ) from None

    def release(self) -> None:
        if self._source is not None:
            self._source.close()
        self._source = self._frames = None


class ReplayFeed:
    """A video or image sequence as if it were a camera: `read(t)` gives the latest frame
    whose own timestamp is at most `t` seconds into the recording."""

    kind = "replay"

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.name = source.name
        self._frames = iter(source)
        self._current: Frame | None = None
        self._next: Frame | None = next(self._frames, None)

    def read(self, t: float) -> Frame:
        while self._next is not None and self._next.timestamp <= t:
            self._current, self._next = self._next, next(self._frames, None)
        if self._next is None and (self._current is None or t > self._current.timestamp + 2):
            raise EndOfInput
        if self._current is None:
            assert self._next is not None
            self._current = self._next
        return self._current

    def release(self) -> None:
        pass  # a recording keeps its place; only a real camera has a light to turn off
