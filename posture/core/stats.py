"""The session report's figures: pure functions over history rows. No I/O, no clock.

Everything is passed in: the rows (`Rows`, loaded by `posture.app.report.commands`), the period, the
time `now_ms` and the local time zone. Times are integer UTC milliseconds, as stored;
local time (hours, days) comes only from the `tzinfo` passed in. Samples are numpy
columns (`Samples`), so 90 days of history (1.3 million samples) take a few tens of
milliseconds here.

The rules, each a function below:

Time of a sample (`durations`)
    `posture.core.tally`'s rule, the one the monitor's summary and `posture status` use too:
    a sample counts from its time until the next sample of its session, at most
    `MAX_GAP_MS` (10 s: longer, and the monitor was not looking), and never past the
    start of a pause or a camera fault of its session (posture stopped looking). The
    last sample of a session counts nothing. A sample belongs wholly to the period, hour
    and day in which it was taken (so at most 10 s sit on the wrong side of a boundary).

Verdicts
    ``good`` is upright, ``bad`` a slouch (any problem), ``away`` and ``uncertain`` are
    away. *Present* time is good + bad; the upright share is good / present. A bad sample
    counts for each problem it names (`problem_seconds`), so the problems can add up to
    more than the bad time.

Open ends
    A session without an end is *running* (the monitor still holds it) or *crashed*. An
    open episode ends at its session's last sample (running or crashed); an open pause or
    other period ends now in a running session and at the last sample in a crashed one.

Episodes
    As the monitor recorded them, clipped to the period; an episode's length is its
    end minus its start (short absences inside belong to it, as the monitor decided; an
    absence over a minute, or any pause over a minute, ended it before).

Longest upright streak
    The most good time between two bad samples. Away and uncertain samples, pauses and
    gaps (the monitor off, another session) neither break a streak nor add to it.

Breaks
    Absences of at least 5 minutes: from the end of one present sample to the next
    present sample, on the same local day (so the night is no break), whatever filled
    the time: away or uncertain samples, a pause, a camera fault, the monitor stopped.

Nudges
    Posture nudges only (one of `PROBLEMS`; not break or recalibrate); *followed* when
    the posture was corrected within `FOLLOWED_MS` (60 s).

Hours and days
    `hourly`: every local clock hour of the period with samples; the worst hour is the
    clock hour (0-23, all days together) with the lowest upright share among those with
    at least 10 minutes present. `daily`: each of the last N local days (N = the days
    the period touches, at least 7) ending with the period's last day, with ALL the
    samples of each day (a session's report shows the week up to it).

A session's report (`build_report(session_id=...)`) counts only that session's samples,
episodes, nudges and pauses: sessions never overlap in time, except recordings replayed
on a simulated clock. Samples are taken in session order, then time order (which for
sessions that do not overlap is time order: the streak and the timeline need it).

Trend
    Against the previous period (`previous` in `build_report`: for a session the caller
    passes the previous session): (upright share now - then) x 100, in points.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

import numpy as np
import numpy.typing as npt

from posture.core import tally
from posture.core.vocab import PROBLEMS, VERDICTS

__all__ = [
    "BAND_KINDS",
    "MAX_GAP_MS",
    "PROBLEMS",
    "VERDICTS",
    "Band",
    "EpisodeRow",
    "LocalTime",
    "NudgeRow",
    "PeriodRow",
    "Report",
    "Rows",
    "Samples",
    "SessionRow",
    "StoredEpisode",
    "bands",
    "build_report",
    "count_breaks",
    "daily",
    "day_iso",
    "downsample_scores",
    "durations",
    "episode_lengths",
    "hourly",
    "local_day",
    "local_time",
    "longest_upright_streak",
    "mark_running",
    "nudge_counts",
    "paused_seconds",
    "problem_mask",
    "problem_seconds",
    "resolve_episodes",
    "resolve_periods",
    "seen_time",
    "session_shares",
    "trend_points",
    "upright_share",
    "verdict_seconds",
    "worst_hour",
    "zone",
    "zone_name",
]

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


@dataclass(frozen=True)
class PeriodRow:
    session_id: int
    kind: str  # pause | snooze | away | camera_fault
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


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    start_ms: int
    end_ms: int
    kind: str  # "upright" | "slouch" | "away" | "paused"


@dataclass(frozen=True)
class EpisodeRow:
    start_ms: int
    end_ms: int
    kind: str
    peak: float | None


@dataclass(frozen=True)
class Report:
    """The figures of one period (see the module's docstring for how each is counted)."""

    #: "Session 12 — Sat 21 Nov 2026, 09:00–11:30", "Today", "Last 7 days" ...
    title: str
    #: the period reported, [since_ms, until_ms)
    since_ms: int
    until_ms: int
    #: the local zone used for display: an IANA name, "UTC" or "UTC+05:30" (`zone`)
    tz: str
    #: a session in the period is still running
    running: bool
    #: time covered by samples; present = good + bad ("at the desk")
    monitored_s: float
    present_s: float
    upright_s: float
    #: upright_s / present_s, 0..1; None when nobody was seen
    upright_share: float | None
    #: seconds per problem (every one of PROBLEMS)
    problem_s: dict[str, float]
    #: clipped to the period; an open one ends at its session's last sample
    episodes: tuple[EpisodeRow, ...]
    episode_median_s: float | None
    episode_longest_s: float | None
    #: the most upright time between two bad samples
    longest_upright_streak_s: float
    #: away and uncertain time; breaks: absences of >= 5 min on one day
    away_s: float
    breaks: int
    paused_s: float
    #: posture nudges; followed: corrected within 60 s
    nudges: int
    nudges_followed: int
    #: the local clock hour (0-23) with the lowest upright share, among those with
    #: >= 10 min present
    worst_hour: int | None
    worst_hour_share: float | None
    #: (UTC ms at which a local clock hour of the period with samples began, present s,
    #: upright share)
    hourly: tuple[tuple[int, float, float | None], ...]
    #: (local date ISO, present s, upright share) for the last N days (N = the period's
    #: days, at least 7), ending with the period's last day
    daily: tuple[tuple[str, float, float | None], ...]
    #: the previous period of the same length (for a session: the one before);
    #: trend = (now - previous) x 100
    previous_upright_share: float | None
    trend_points: float | None
    #: the timeline: merged runs of upright, slouch, away and paused time
    bands: tuple[Band, ...]
    #: (t_ms, score) of the present samples, at most 2,000 (means of equal time slices)
    scores: tuple[tuple[int, float], ...]


# --- time of each sample ------------------------------------------------------------------


def durations(
    samples: Samples, periods: Iterable[PeriodRow] = (), *, max_gap_ms: int = MAX_GAP_MS
) -> I64:
    """Milliseconds each sample counts (`posture.core.tally.sample_ms`): until the next
    sample of its session, at most `max_gap_ms`, never past the start of a pause or a
    camera fault of its session (`periods` of other kinds are ignored); 0 for a
    session's last sample."""
    stops = [p for p in periods if p.kind in tally.STOPS]
    return tally.sample_ms(
        samples.t_ms,
        samples.session,
        [p.start_ms for p in stops],
        [p.session_id for p in stops],
        max_ms=max_gap_ms,
    )


def verdict_seconds(verdict: U8, dt: I64) -> dict[str, float]:
    """Seconds per verdict."""
    sums = np.bincount(verdict, weights=dt, minlength=len(VERDICTS)) / 1000
    return {name: float(sums[i]) for i, name in enumerate(VERDICTS)}


def problem_seconds(verdict: U8, problems: U8, dt: I64) -> dict[str, float]:
    """Seconds per problem: a bad sample counts for every problem it names."""
    bad = verdict == BAD
    per_mask = np.bincount(problems[bad], weights=dt[bad], minlength=1 << len(PROBLEMS))
    masks = np.arange(len(per_mask))
    return {
        name: float(per_mask[(masks >> i) & 1 == 1].sum() / 1000) for i, name in enumerate(PROBLEMS)
    }


def upright_share(upright_s: float, present_s: float) -> float | None:
    """upright / present (0..1), None when nobody was seen."""
    return upright_s / present_s if present_s > 0 else None


def trend_points(now: float | None, previous: float | None) -> float | None:
    """The change of the upright share, in percentage points."""
    if now is None or previous is None:
        return None
    return (now - previous) * 100


# --- open ends, episodes, periods, nudges -------------------------------------------------


def _clip(start: int, end: int, since_ms: int, until_ms: int) -> tuple[int, int] | None:
    """[start, end] within the period, or None when it lies outside (a zero-length one
    counts when it falls inside)."""
    if start >= until_ms or end < since_ms or (end == since_ms and start < since_ms):
        return None
    return max(start, since_ms), min(max(end, start), until_ms)


def _sessions(rows: Iterable[SessionRow]) -> dict[int, SessionRow]:
    return {s.id: s for s in rows}


def resolve_episodes(
    episodes: Iterable[StoredEpisode],
    sessions: Iterable[SessionRow],
    since_ms: int,
    until_ms: int,
) -> tuple[EpisodeRow, ...]:
    """The episodes in the period, clipped to it, in time order; an open one ends at its
    session's last sample."""
    by_id = _sessions(sessions)
    out = []
    for e in episodes:
        end = e.end_ms
        if end is None:
            session = by_id.get(e.session_id)
            end = session.last_seen_ms() if session is not None else e.start_ms
        clipped = _clip(e.start_ms, end, since_ms, until_ms)
        if clipped is not None:
            out.append(EpisodeRow(clipped[0], clipped[1], e.kind, e.peak))
    return tuple(sorted(out, key=lambda r: (r.start_ms, r.end_ms)))


def episode_lengths(episodes: Sequence[EpisodeRow]) -> tuple[float | None, float | None]:
    """(median, longest) episode length in seconds; None without episodes."""
    if not episodes:
        return None, None
    lengths = [(e.end_ms - e.start_ms) / 1000 for e in episodes]
    return float(statistics.median(lengths)), max(lengths)


def resolve_periods(
    periods: Iterable[PeriodRow],
    sessions: Iterable[SessionRow],
    now_ms: int,
    kind: str,
) -> list[tuple[int, int]]:
    """(start, end) of the periods of one kind; an open one ends now in a running session,
    at the last sample in a crashed one."""
    by_id = _sessions(sessions)
    out = []
    for p in periods:
        if p.kind != kind:
            continue
        end = p.end_ms
        if end is None:
            session = by_id.get(p.session_id)
            if session is None:
                end = p.start_ms
            elif session.running and session.ended_ms is None:
                end = now_ms
            else:
                end = session.end_ms(now_ms)
        out.append((p.start_ms, max(p.start_ms, end)))
    return sorted(out)


def paused_seconds(pauses: Iterable[tuple[int, int]], since_ms: int, until_ms: int) -> float:
    """Seconds of the pauses within the period."""
    total = 0
    for start, end in pauses:
        clipped = _clip(start, end, since_ms, until_ms)
        if clipped is not None:
            total += clipped[1] - clipped[0]
    return total / 1000


def nudge_counts(nudges: Iterable[NudgeRow], since_ms: int, until_ms: int) -> tuple[int, int]:
    """(posture nudges in the period, how many were followed by a correction within 60 s)."""
    sent = [n for n in nudges if n.kind in PROBLEMS and since_ms <= n.t_ms < until_ms]
    followed = [
        n for n in sent if n.corrected_after_ms is not None and n.corrected_after_ms <= FOLLOWED_MS
    ]
    return len(sent), len(followed)


# --- sequences ----------------------------------------------------------------------------


def longest_upright_streak(verdict: U8, dt: I64) -> float:
    """The most good seconds between two bad samples (in time order); away and uncertain
    samples and gaps neither break a streak nor add to it."""
    if len(verdict) == 0:
        return 0.0
    run = np.cumsum(verdict == BAD)
    good = np.where(verdict == GOOD, dt, 0)
    return float(np.bincount(run, weights=good).max() / 1000)


def count_breaks(t_ms: I64, verdict: U8, dt: I64, day: I64, *, min_ms: int = BREAK_MS) -> int:
    """Absences of at least `min_ms` between two present samples of the same local day
    (`day`: each sample's local day), measured from the end of the first one's time."""
    present = (verdict == GOOD) | (verdict == BAD)
    t, d, k = t_ms[present], dt[present], day[present]
    if len(t) < 2:
        return 0
    if not bool(np.all(t[1:] >= t[:-1])):
        order = np.argsort(t, kind="stable")
        t, d, k = t[order], d[order], k[order]
    gap = t[1:] - (t[:-1] + d[:-1])
    return int(np.count_nonzero((gap >= min_ms) & (k[1:] == k[:-1])))


# --- local time ---------------------------------------------------------------------------


def zone_name(offset: timedelta) -> str:
    """The `Report.tz` name of a fixed offset, "UTC+05:30" (`zone` reads it back)."""
    minutes = round(offset.total_seconds() / 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone(name: str) -> tzinfo:
    """The tzinfo for a `Report.tz` name: an IANA key ("Europe/Paris"), "UTC", or a fixed
    offset written "UTC+05:30"."""
    if name.startswith("UTC") and len(name) == 9 and name[3] in "+-" and name[6] == ":":
        sign = 1 if name[3] == "+" else -1
        return timezone(sign * timedelta(hours=int(name[4:6]), minutes=int(name[7:9])))
    if name == "UTC":
        return timezone.utc
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _offset_ms(t_ms: int, tz: tzinfo) -> int:
    offset = datetime.fromtimestamp(t_ms / 1000, tz).utcoffset()
    return 0 if offset is None else round(offset.total_seconds() * 1000)


def _groups(keys: I64) -> tuple[I64, I64]:
    """(sorted distinct keys, index of each key among them); linear when already sorted."""
    if len(keys) == 0:
        return keys.copy(), keys.copy()
    change = keys[1:] != keys[:-1]
    if bool(np.all(keys[1:] >= keys[:-1])):
        inverse = np.zeros(len(keys), dtype=np.int64)
        np.cumsum(change, out=inverse[1:])
        return keys[np.r_[True, change]], inverse
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique.astype(np.int64), inverse.astype(np.int64).ravel()


@dataclass(frozen=True, eq=False)
class LocalTime:
    """Each sample's local calendar, in the zone passed to `local_time`."""

    #: UTC ms at which the sample's local clock hour began
    hour_start_ms: I64
    #: the local clock hour, 0-23
    clock_hour: I64
    #: the local date, in days since 1970-01-01
    day: I64


def local_time(t_ms: I64, tz: tzinfo) -> LocalTime:
    """Local clock hours and dates of many times at once: the zone's offset is looked up
    once per quarter hour that holds samples (every zone's offset, and so every change of
    it, is a whole number of quarter hours; finer steps are used for the rare ones that
    are not)."""
    for unit in (900_000, 60_000, 1_000):
        buckets, inverse = _groups(t_ms // unit)
        offsets = _i64([_offset_ms(int(b) * unit, tz) for b in buckets])
        if not np.any(offsets % unit):
            break
    start = buckets * unit
    local = start + offsets
    hour_start = start - local % HOUR_MS
    return LocalTime(
        hour_start_ms=hour_start[inverse],
        clock_hour=((local // HOUR_MS) % 24)[inverse],
        day=(local // DAY_MS)[inverse],
    )


def local_day(t_ms: int, tz: tzinfo) -> int:
    """One time's local date, in days since 1970-01-01."""
    return int((t_ms + _offset_ms(t_ms, tz)) // DAY_MS)


def day_iso(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).isoformat()


# --- hours and days -----------------------------------------------------------------------


def seen_time(verdict: U8, dt: I64) -> tuple[I64, I64]:
    """Each sample's present and upright milliseconds."""
    present = np.where((verdict == GOOD) | (verdict == BAD), dt, 0)
    upright = np.where(verdict == GOOD, dt, 0)
    return present, upright


def _sums(index: I64, weights: I64, size: int) -> F64:
    """Seconds per group (`index` of each sample's group)."""
    total: F64 = np.bincount(index, weights=weights, minlength=size)[:size] / 1000
    return total


def hourly(
    hour_start_ms: I64, present_ms: I64, upright_ms: I64
) -> tuple[tuple[int, float, float | None], ...]:
    """(start of the local clock hour, present s, upright share) per hour with samples."""
    keys, inverse = _groups(hour_start_ms)
    p = _sums(inverse, present_ms, len(keys))
    u = _sums(inverse, upright_ms, len(keys))
    return tuple(
        (int(k), float(p[i]), upright_share(float(u[i]), float(p[i])))
        for i, k in enumerate(keys.tolist())
    )


def worst_hour(
    clock_hour: I64, present_ms: I64, upright_ms: I64, *, min_present_s: float = WORST_HOUR_MIN_S
) -> tuple[int | None, float | None]:
    """The clock hour (0-23, all days together) with the lowest upright share among those
    with at least `min_present_s` present; the earliest on a tie."""
    p = _sums(clock_hour, present_ms, 24)
    u = _sums(clock_hour, upright_ms, 24)
    best: tuple[int | None, float | None] = (None, None)
    for hour in range(24):
        if p[hour] >= min_present_s:
            share = float(u[hour] / p[hour])
            if best[1] is None or share < best[1]:
                best = (hour, share)
    return best


def daily(
    day: I64, present_ms: I64, upright_ms: I64, last_day: int, days: int
) -> tuple[tuple[str, float, float | None], ...]:
    """(local date, present s, upright share) for each of `days` days ending `last_day`
    (`day`: each sample's local date in days since 1970-01-01)."""
    first = last_day - days + 1
    inside = (day >= first) & (day <= last_day)
    index = day[inside] - first
    p = _sums(index, present_ms[inside], days)
    u = _sums(index, upright_ms[inside], days)
    return tuple(
        (day_iso(first + i), float(p[i]), upright_share(float(u[i]), float(p[i])))
        for i in range(days)
    )


# --- the timeline -------------------------------------------------------------------------


def bands(
    samples: Samples,
    dt: I64,
    pauses: Iterable[tuple[int, int]],
    since_ms: int,
    until_ms: int,
) -> tuple[Band, ...]:
    """The timeline: runs of upright, slouch and away time (each sample from its time
    for its `dt`; a run ends at a gap, a change or another session) and the pauses,
    clipped to the period, in time order."""
    keep = dt > 0
    t, end = samples.t_ms[keep], samples.t_ms[keep] + dt[keep]
    kind, session = _BAND_OF[samples.verdict[keep]], samples.session[keep]
    out: list[tuple[int, int, int]] = []
    if len(t):
        new = np.ones(len(t), dtype=bool)
        new[1:] = (kind[1:] != kind[:-1]) | (session[1:] != session[:-1]) | (t[1:] != end[:-1])
        first = np.flatnonzero(new)
        last = np.r_[first[1:] - 1, len(t) - 1]
        starts = np.maximum(t[first], since_ms).tolist()
        ends = np.minimum(end[last], until_ms).tolist()
        out = [
            (s, e, k) for s, e, k in zip(starts, ends, kind[first].tolist(), strict=True) if e > s
        ]
    for start, stop in pauses:
        clipped = _clip(start, stop, since_ms, until_ms)
        if clipped is not None and clipped[1] > clipped[0]:
            out.append((clipped[0], clipped[1], 3))
    out.sort()
    return tuple(Band(s, e, BAND_KINDS[k]) for s, e, k in out)


def downsample_scores(
    t_ms: I64, score: F64, *, limit: int = MAX_SCORES
) -> tuple[tuple[int, float], ...]:
    """(t, score) of the samples with a score; beyond `limit`, the mean time and score of
    each of `limit` equal slices of time that holds any."""
    ok = np.isfinite(score)
    t, s = t_ms[ok], score[ok]
    if len(t) <= limit:
        order = np.argsort(t, kind="stable")
        return tuple(zip(t[order].tolist(), s[order].tolist(), strict=True))
    lo = int(t.min())
    width = -(-(int(t.max()) - lo + 1) // limit)
    slot = (t - lo) // width
    count = np.bincount(slot, minlength=limit)
    filled = count > 0
    mean_t = np.bincount(slot, weights=(t - lo).astype(np.float64), minlength=limit)
    mean_s = np.bincount(slot, weights=s, minlength=limit)
    return tuple(
        zip(
            (lo + np.round(mean_t[filled] / count[filled])).astype(np.int64).tolist(),
            (mean_s[filled] / count[filled]).tolist(),
            strict=True,
        )
    )


def session_shares(rows: Rows, now_ms: int) -> dict[int, float | None]:
    """The upright share of each session that has samples in `rows` (with the same
    sample times as `build_report`)."""
    samples = rows.samples.ordered()
    dt = durations(samples, rows.periods)
    ids, inverse = _groups(samples.session)
    present, upright = seen_time(samples.verdict, dt)
    p = _sums(inverse, present, len(ids))
    u = _sums(inverse, upright, len(ids))
    return {int(sid): upright_share(float(u[i]), float(p[i])) for i, sid in enumerate(ids.tolist())}


# --- all together -------------------------------------------------------------------------


def build_report(
    rows: Rows,
    *,
    title: str,
    since_ms: int,
    until_ms: int,
    now_ms: int,
    tz: tzinfo,
    tz_name: str,
    previous: tuple[int, int] | None = None,
    session_id: int | None = None,
) -> Report:
    """The report of [since_ms, until_ms) from `rows`, which must hold the samples of the
    period (and up to 10 s past it), of the days `daily` shows and of `previous`.

    `session_id`: a session's report; only its own samples, episodes, nudges and pauses
    count (sessions never overlap in time, except recordings replayed on a simulated
    clock)."""
    samples = rows.samples.ordered()
    sessions = rows.sessions

    def own(row_session: int) -> bool:
        return session_id is None or row_session == session_id

    own_pauses = resolve_periods(
        [p for p in rows.periods if own(p.session_id)], sessions, now_ms, "pause"
    )
    dt = durations(samples, rows.periods)
    t, verdict = samples.t_ms, samples.verdict
    inside = (t >= since_ms) & (t < until_ms)
    if session_id is not None:
        inside &= samples.session == session_id
    period = samples.take(inside)
    pdt = dt[inside]
    seconds = verdict_seconds(period.verdict, pdt)
    present = seconds["good"] + seconds["bad"]
    share = upright_share(seconds["good"], present)

    clock = local_time(t, tz)
    last_day = local_day(max(since_ms, until_ms - 1), tz)
    span = last_day - local_day(since_ms, tz) + 1
    present_ms, upright_ms = seen_time(verdict, dt)
    worst = worst_hour(clock.clock_hour[inside], present_ms[inside], upright_ms[inside])

    previous_share = None
    if previous is not None:
        before = (t >= previous[0]) & (t < previous[1])
        then = verdict_seconds(verdict[before], dt[before])
        previous_share = upright_share(then["good"], then["good"] + then["bad"])

    episodes = resolve_episodes(
        [e for e in rows.episodes if own(e.session_id)], sessions, since_ms, until_ms
    )
    median, longest = episode_lengths(episodes)
    nudges, followed = nudge_counts(
        [n for n in rows.nudges if own(n.session_id)], since_ms, until_ms
    )
    running = any(
        s.running
        and s.ended_ms is None
        and own(s.id)
        and _clip(s.started_ms, s.end_ms(now_ms), since_ms, until_ms) is not None
        for s in sessions
    )
    return Report(
        title=title,
        since_ms=since_ms,
        until_ms=until_ms,
        tz=tz_name,
        running=running,
        monitored_s=float(pdt.sum() / 1000),
        present_s=present,
        upright_s=seconds["good"],
        upright_share=share,
        problem_s=problem_seconds(period.verdict, period.problems, pdt),
        episodes=episodes,
        episode_median_s=median,
        episode_longest_s=longest,
        longest_upright_streak_s=longest_upright_streak(period.verdict, pdt),
        away_s=seconds["away"] + seconds["uncertain"],
        breaks=count_breaks(period.t_ms, period.verdict, pdt, clock.day[inside]),
        paused_s=paused_seconds(own_pauses, since_ms, until_ms),
        nudges=nudges,
        nudges_followed=followed,
        worst_hour=worst[0],
        worst_hour_share=worst[1],
        hourly=hourly(clock.hour_start_ms[inside], present_ms[inside], upright_ms[inside]),
        daily=daily(clock.day, present_ms, upright_ms, last_day, max(MIN_DAYS, span)),
        previous_upright_share=previous_share,
        trend_points=trend_points(share, previous_share),
        bands=bands(period, pdt, own_pauses, since_ms, until_ms),
        scores=downsample_scores(
            period.t_ms,
            np.where((period.verdict == GOOD) | (period.verdict == BAD), period.score, np.nan),
        ),
    )
