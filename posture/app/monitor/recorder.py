"""The monitor's history writes: its session, one sample per look, the slouch episodes
and the nudges about them, and the periods (paused, away, camera fault).

Everything goes through the `posture.ports.HistoryWriter` port (`NullHistory` when there
is none), so the loop says what happened and never how it is stored.

A session's times run forward: the loop never hands a wall time earlier than the last
one (it clamps a small step back and `split`s the session at a large one), an episode's
end is never stored before its start, nor its start before the session's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from posture.app.monitor.clocks import Timeline
from posture.app.monitor.live import local_day, local_midnight_ms
from posture.core import features
from posture.core.nudges import RECALIBRATE, corrected_after
from posture.core.vocab import HOLDS
from posture.ports import NullHistory

if TYPE_CHECKING:
    from posture.core.episodes import Episode
    from posture.core.nudges import DayTally, Nudge
    from posture.core.observe import Observation
    from posture.ports import Clock, HistoryWriter


class Period:
    """A stretch of time of one kind in the history, open or not."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.row: int | None = None

    @property
    def is_open(self) -> bool:
        return self.row is not None


#: Nudges that are not about a slouch, so no correction is measured after them.
_NOT_POSTURE = ("break", RECALIBRATE.kind)


class Recorder:
    """Threading rule: the loop thread only. Until `start` opens the session nothing is
    written (a test may drive the loop by hand first)."""

    def __init__(
        self, history: HistoryWriter, clock: Clock, timeline: Timeline | None = None
    ) -> None:
        self._store = history
        self.history: HistoryWriter = NullHistory()
        self.clock = clock
        self.timeline = timeline if timeline is not None else Timeline(clock)
        self._opened: tuple[str, str, dict[str, object]] | None = None
        self._session_start_ms = 0
        self._episode_start_ms = 0
        self.paused = Period("pause")
        self.fault = Period("camera_fault")
        self.away = Period("away")
        #: One period per kind of hold (`posture.core.vocab.HOLDS`).
        self.holds: dict[str, Period] = {kind: Period(kind) for kind in HOLDS}
        self._session = 0
        self._episode_row: int | None = None
        self._episode_nudges: list[tuple[int, float]] = []  # (nudge row, monotonic time)

    def start(
        self, wall_ms: int, *, profile: str, source: str, settings: dict[str, object]
    ) -> DayTally:
        """Open the session; returns today's figures from the sessions before it, so that
        `status` speaks of the day, not of this run."""
        self.history = self._store
        # A period opened before the session was not recorded: the loop opens it again.
        for period in self.periods:
            period.row = None
        self._episode_row, self._episode_nudges = None, []
        day = local_day(wall_ms)
        today = self.history.day_so_far(local_midnight_ms(day), day)
        self._opened = (profile, source, settings)
        self._open_session(wall_ms)
        return today

    def _open_session(self, wall_ms: int) -> None:
        assert self._opened is not None
        profile, source, settings = self._opened
        self._session_start_ms = wall_ms
        self._session = self.history.start_session(
            wall_ms, profile=profile, source=source, settings=settings
        )

    @property
    def periods(self) -> tuple[Period, ...]:
        return (self.fault, self.paused, self.away, *self.holds.values())

    def finish(self, wall_ms: int) -> None:
        for period in self.periods:
            self.end(period, wall_ms)
        self.history.end_session(self._session, wall_ms)

    def split(self, end_ms: int, start_ms: int) -> None:
        """The wall clock went back: end the session at its last time `end_ms` and go on
        in a new one from `start_ms` (the same profile, source and settings, the open
        periods open again), so that no session's times run backwards. The loop has
        ended the open episode first."""
        if self._opened is None:
            return  # no session yet: nothing is recorded
        periods = [p for p in self.periods if p.is_open]
        self.finish(end_ms)
        self._open_session(start_ms)
        for period in periods:
            self.begin(period, start_ms)

    def begin(self, period: Period, wall_ms: int) -> bool:
        """Open `period` unless it is open; whether it was opened now."""
        if period.is_open:
            return False
        period.row = self.history.open_period(self._session, period.kind, wall_ms)
        return True

    def end(self, period: Period, wall_ms: int) -> bool:
        """Close `period` if it is open; whether it was."""
        if period.row is None:
            return False
        self.history.close_period(period.row, wall_ms)
        period.row = None
        return True

    def sample(self, wall_ms: int, seen: Observation, state: str) -> None:
        judgment = seen.judgment
        row = seen.row
        # Every feature by name; the storage keeps the ones it has columns for.
        values = {} if row is None else dict(zip(features.NAMES, row.tolist(), strict=True))
        self.history.add_sample(
            self._session,
            wall_ms,
            judgment.verdict,
            None if math.isnan(judgment.score) else judgment.score,
            state,
            values,
            problems=judgment.bad_problems,
        )

    def episode_started(self, episode: Episode) -> None:
        start = max(self._session_start_ms, self.timeline.wall_of(episode.start))
        self._episode_start_ms = start
        self._episode_row = self.history.add_episode(
            self._session, start, None, episode.kind, episode.peak
        )

    def episode_ended(self, episode: Episode) -> None:
        """The episode's end, and for each nudge about it how long until the user sat up."""
        if self._episode_row is not None:
            end = episode.end if episode.end is not None else self.clock.now()
            end_ms = max(self._episode_start_ms, self.timeline.wall_of(end))
            self.history.close_episode(self._episode_row, end_ms, episode.peak)
            for row, nudge_t in self._episode_nudges:
                after = corrected_after(nudge_t, episode)
                if after is not None:
                    self.history.set_nudge_corrected(row, round(after * 1000))
        self._episode_row = None
        self._episode_nudges = []

    def nudged(self, nudge: Nudge, t: float, wall_ms: int, backend: str) -> None:
        row = self.history.add_nudge(self._session, wall_ms, nudge.kind, nudge.message, backend)
        if nudge.kind not in _NOT_POSTURE:
            self._episode_nudges.append((row, t))

    def flush(self, t: float) -> None:
        self.history.maybe_flush(t)

    def flush_now(self) -> None:
        """Write what is buffered now (the screen locks, the machine goes to sleep)."""
        self.history.flush()
