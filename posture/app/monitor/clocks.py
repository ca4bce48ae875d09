"""The monitor's clocks (`posture.ports.Clock`): the real one, and a simulated one that
plays a recording back at N times real speed, so tests, benchmarks and the demo run the
very loop a user runs; and the `Timeline` that maps the rules' clock to the wall times
the history stores.

The rules' clock counts the time the machine was asleep: `time.monotonic()` stops during
a suspend on Linux and macOS, so an episode, a pause or a snooze open across a night
would go on as if the night had not happened. Linux has `CLOCK_BOOTTIME` for that, macOS
its `CLOCK_MONOTONIC` (unlike `time.monotonic()` there, it runs on in sleep); Windows'
`time.monotonic()` counts sleep already.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from posture.ports import Clock


def suspend_clock_name(platform: str) -> str | None:
    """The `time` module's clock id that counts suspend on `platform` (`sys.platform`),
    or None where `time.monotonic()` already does or nothing better is known."""
    if platform.startswith("linux"):
        return "CLOCK_BOOTTIME"
    if platform == "darwin":
        return "CLOCK_MONOTONIC"
    return None


def rules_clock(platform: str = sys.platform) -> Callable[[], float]:
    """Seconds of a monotonic clock that counts suspend (see the module)."""
    name = suspend_clock_name(platform)
    clock_id = getattr(time, name, None) if name else None
    if clock_id is None:
        return time.monotonic
    return lambda: time.clock_gettime(clock_id)


class RealClock:
    def __init__(self, platform: str = sys.platform) -> None:
        self._now = rules_clock(platform)

    def now(self) -> float:
        return self._now()

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


class Timeline:
    """The wall time (UTC ms, as the history stores) of a time of the rules' clock,
    measured from the last look (`anchor`), not from now: after a suspend the rules' clock
    may not have counted (`time.monotonic()` elsewhere) and after a step the wall clock
    jumped, so "now minus the elapsed time" would put a time before the jump on the wrong
    side of it. The loop handles what happened before a jump, then anchors after it.

    Threading rule: the loop anchors; any thread may read (one tuple, replaced whole)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._anchor: tuple[float, int] | None = None

    def anchor(self, t: float, wall_ms: int) -> None:
        self._anchor = (t, wall_ms)

    def wall_of(self, t: float) -> int:
        anchor = self._anchor
        if anchor is None:
            return wall_of(self.clock, t)
        t0, wall0 = anchor
        return wall0 + round((t - t0) * 1000)


def wall_of(clock: Clock, t: float) -> int:
    """The wall time (UTC ms, as the history stores) of rules time `t`, from now (see
    `Timeline` for why the monitor measures from its last look instead)."""
    return clock.wall_ms() - round((clock.now() - t) * 1000)
