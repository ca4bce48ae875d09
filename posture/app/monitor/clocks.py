"""The monitor's clocks (`posture.ports.Clock`): the real one, and a simulated one that
plays a recording back at N times real speed, so tests, benchmarks and the demo run the
very loop a user runs."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posture.ports import Clock


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return int(time.time() * 1000)

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(seconds)


class ReplayClock:
    """Simulated time for a recording: each sleep advances it by the full interval and
    waits `seconds / speed` of real time (not at all with speed 0: as fast as possible)."""

    def __init__(self, speed: float, start_wall_ms: int | None = None) -> None:
        self.speed = speed
        self.t = 0.0
        self.start_wall_ms = int(time.time() * 1000) if start_wall_ms is None else start_wall_ms

    def now(self) -> float:
        return self.t

    def wall_ms(self) -> int:
        return self.start_wall_ms + round(self.t * 1000)

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        if self.speed > 0:
            wake.wait(seconds / self.speed)
        self.t += seconds


def wall_of(clock: Clock, t: float) -> int:
    """The wall time (UTC ms, as the history stores) of monotonic time `t`."""
    return clock.wall_ms() - round((clock.now() - t) * 1000)
