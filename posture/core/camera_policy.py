"""When the camera stays open between looks, and when a just-opened camera's picture can
be used: pure, the clock passed in.

- `CameraPlan`: after each look, the wait until the next one and whether the stream stays
  open for it. Open while looks are close together (at most `KEEP_OPEN_MAX` apart: the
  stream's light stays on, as reopening would cost about as long as the wait); once
  nobody has been seen for `close_after` seconds, the camera is opened for each look and
  released after it, and looks come `IDLE_FACTOR` times further apart.
- `Warmup`: a camera just opened sends dark, then brightening frames while its
  auto-exposure settles; frames are skipped until the brightness holds still (bounded
  in frames and seconds, so a camera that never settles still gives its last picture).
"""

from __future__ import annotations

import numpy as np

from posture.core.frames import is_blank

#: Looks at most this many seconds apart keep the stream open between them.
KEEP_OPEN_MAX = 5.0
#: After `close_after` seconds with nobody seen, the planned wait is this many times longer
#: (5 s away interval -> a look every 10 s, each one opening the camera).
IDLE_FACTOR = 2.0

#: Two consecutive frames whose thumbnails' mean brightness differs by less than this
#: (grey levels) show a settled exposure.
SETTLE_DELTA = 2.0
#: At most this many frames, and this many seconds, are read waiting for it: webcams
#: settle their auto-exposure in about 0.3-1 s at 30 fps (10-30 frames); 45 frames and
#: 2 s cover that with margin and stop a camera that never settles from holding a look.
WARMUP_FRAMES = 45
WARMUP_SECONDS = 2.0


class CameraPlan:
    """Tracks how long nobody has been seen; `after_look` says what to do next."""

    def __init__(self, close_after: float) -> None:
        self.close_after = close_after
        self._absent_since: float | None = None

    def away_for(self, t: float) -> float:
        """Seconds since the first look of the current absence (0 while someone is there)."""
        return 0.0 if self._absent_since is None else t - self._absent_since

    def after_look(self, t: float, present: bool, interval: float) -> tuple[float, bool]:
        """(the wait until the next look, whether the stream stays open through it), given
        the look at `t` saw someone (`present`) and the `interval` the policy planned."""
        if present:
            self._absent_since = None
        elif self._absent_since is None:
            self._absent_since = t
        if not present and self.away_for(t) >= self.close_after:
            return interval * IDLE_FACTOR, False
        return interval, interval <= KEEP_OPEN_MAX


class Warmup:
    """The frames of one opening of the camera, from `start` (seconds)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.frames = 0
        self._last: float | None = None

    def settled(self, thumb: np.ndarray, t: float) -> bool:
        """Whether this frame (its thumbnail, read at `t`) is the one to use: not blank
        and as bright as the frame before, or the frames or the time allowed are spent."""
        self.frames += 1
        mean = float(thumb.mean())
        last, self._last = self._last, mean
        if self.frames >= WARMUP_FRAMES or t - self.start >= WARMUP_SECONDS:
            return True
        return last is not None and abs(mean - last) < SETTLE_DELTA and not is_blank(thumb)
