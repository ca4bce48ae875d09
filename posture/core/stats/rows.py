"""The history rows the report reads, as numpy columns and small records; the units."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from posture.core import tally
from posture.core.vocab import PROBLEMS, VERDICTS

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
Bool = npt.NDArray[np.bool_]

#: Verdict codes in `Samples.verdict`: the index in this tuple.
GOOD, BAD, AWAY, UNCERTAIN = range(4)

#: Band kinds; a verdict's band kind is `BAND_KINDS[_BAND_OF[verdict]]`.
BAND_KINDS: tuple[str, ...] = ("upright", "slouch", "away", "paused")
_BAND_OF = np.array([0, 1, 2, 2], dtype=np.int64)


MAX_GAP_MS = tally.MAX_SAMPLE_MS
BREAK_MS = 300_000
FOLLOWED_MS = 60_000
WORST_HOUR_MIN_S = 600.0
MAX_SCORES = 2000
MIN_DAYS = 7
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)


# --- the rows -----------------------------------------------------------------------------


def _i64(values: Any) -> I64:
    return np.asarray(values, dtype=np.int64)


def problem_mask(problems: str | None) -> int:
    """The bitmask of a stored problems text ("slouch too_close"): bit i = PROBLEMS[i].
    Names that are not problems are ignored."""
    mask = 0
    for name in (problems or "").split():
        if name in PROBLEMS:
            mask |= 1 << PROBLEMS.index(name)
    return mask


@dataclass(frozen=True, eq=False)
class Samples:
    """Samples as numpy columns, ordered by session, then time (`ordered` sorts).

    `verdict` holds indexes into `VERDICTS`; `problems` a bitmask over `PROBLEMS`;
    `score` is NaN where none was stored."""

    session: I64
    t_ms: I64
    verdict: U8
    problems: U8
    score: F64

    def __post_init__(self) -> None:
        n = len(self.t_ms)
        if not all(len(c) == n for c in (self.session, self.verdict, self.problems, self.score)):
            raise ValueError("sample columns differ in length")

    def __len__(self) -> int:
        return len(self.t_ms)

    @classmethod
    def empty(cls) -> Samples:
        return cls.from_rows(())

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, str, float | None, str | None]]) -> Samples:
        """From stored rows: (session_id, t_ms, verdict, score, problems), in any order."""
        rows = list(rows)
        return cls(
            session=_i64([r[0] for r in rows]),
            t_ms=_i64([r[1] for r in rows]),
            verdict=np.array([VERDICTS.index(r[2]) for r in rows], dtype=np.uint8),
            problems=np.array([problem_mask(r[4]) for r in rows], dtype=np.uint8),
            score=np.array([math.nan if r[3] is None else r[3] for r in rows], dtype=np.float64),
        ).ordered()

    def take(self, index: Bool | I64) -> Samples:
        return Samples(
            self.session[index],
            self.t_ms[index],
            self.verdict[index],
            self.problems[index],
            self.score[index],
        )

    def ordered(self) -> Samples:
        """Sorted by session, then time (itself when it already is)."""
        s, t = self.session, self.t_ms
        if len(t) < 2 or bool(np.all((s[1:] > s[:-1]) | ((s[1:] == s[:-1]) & (t[1:] >= t[:-1])))):
            return self
        return self.take(np.lexsort((t, s)).astype(np.int64))


@dataclass(frozen=True)
class SessionRow:
    id: int
    started_ms: int
    ended_ms: int | None
    #: the monitor still holds it (else an unended session crashed)
    running: bool = False
    #: the time of its last sample; needed when `ended_ms` is None
    last_sample_ms: int | None = None

    @property
    def crashed(self) -> bool:
        return self.ended_ms is None and not self.running

    def last_seen_ms(self) -> int:
        """Its last sample, or its start."""
        return max(self.started_ms, self.last_sample_ms or self.started_ms)

    def end_ms(self, now_ms: int) -> int:
        """Its end; now while running; its last sample after a crash."""
        if self.ended_ms is not None:
            return self.ended_ms
        return max(self.started_ms, now_ms) if self.running else self.last_seen_ms()


def mark_running(sessions: Iterable[SessionRow], running: bool) -> list[SessionRow]:
    """The sessions, with the newest unended one marked `running` when a monitor runs now
    (one monitor runs at a time, and its session has no end yet)."""
    rows = list(sessions)
    unended = [s for s in rows if s.ended_ms is None]
    live = max(unended, key=lambda s: (s.started_ms, s.id)).id if running and unended else None
    return [dataclasses.replace(s, running=s.id == live) for s in rows]


@dataclass(frozen=True)
class StoredEpisode:
    session_id: int
    start_ms: int
    end_ms: int | None
    kind: str
    peak: float | None


@dataclass(frozen=True)
class NudgeRow:
    session_id: int
    t_ms: int
    kind: str
    corrected_after_ms: int | None
    #: held back (do-not-disturb, a full-screen window): recorded, never shown
    held: bool = False


@dataclass(frozen=True)
class PeriodRow:
    session_id: int
    kind: str  # one of `posture.core.vocab.PERIOD_KINDS`
    start_ms: int
    end_ms: int | None


@dataclass(frozen=True)
class Rows:
    """What the report reads from the history."""

    samples: Samples
    sessions: tuple[SessionRow, ...] = ()
    episodes: tuple[StoredEpisode, ...] = ()
    nudges: tuple[NudgeRow, ...] = ()
    periods: tuple[PeriodRow, ...] = ()
