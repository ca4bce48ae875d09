"""The preview window as a use case sees it: frames and scenes in, "the user closed it"
out, and a window that dies told in one line and then done without.

Also the pace of a file played for the eye: with the window a recording is shown at its
own frame rate (stills at their interval), so the user sees it as it was filmed; without
the window files are read as fast as the model goes, as always.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from posture.core.preview import Scene
    from posture.ports import PreviewWindow, Terminal


class LiveView:
    """A `PreviewWindow` that may die: `show` answers False once the user closed the
    window (Esc), True otherwise, also after the window's process died (then the work
    goes on in the terminal, after one line saying so; `on_gone(reason)` instead)."""

    def __init__(
        self,
        window: PreviewWindow,
        terminal: Terminal,
        *,
        on_gone: Callable[[str], None] | None = None,
    ) -> None:
        self._window: PreviewWindow | None = window
        self._terminal = terminal
        self._on_gone = on_gone or self._say_gone

    def _say_gone(self, reason: str) -> None:
        self._terminal.say(f"posture: the preview window ended ({reason}); going on without it")

    @property
    def active(self) -> bool:
        return self._window is not None

    def show(self, image: np.ndarray, scene: Scene) -> bool:
        window = self._window
        if window is None:
            return True
        state = window.show(image, scene)
        if state == "closed":
            return False
        if state == "gone":
            self.close()
            self._on_gone(window.reason)
        return True

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None


class Pacer:
    """Waits until a frame's own time has come (its timestamp after the first one's),
    measured from when the first frame was shown; a late frame is not waited for."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._origin: tuple[float, float] | None = None

    def wait(self, timestamp: float) -> None:
        now = self._clock()
        if self._origin is None:
            self._origin = (now, timestamp)
            return
        due = self._origin[0] + (timestamp - self._origin[1])
        if due > now:
            self._sleep(due - now)
