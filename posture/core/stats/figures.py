"""The report's figures and how each is computed: the time of each sample, open ends,
episodes, periods, nudges, streaks and breaks."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from posture.core import tally
from posture.core.stats.rows import (
    BAD,
    BREAK_MS,
    FOLLOWED_MS,
    GOOD,
    I64,
    MAX_GAP_MS,
    U8,
    NudgeRow,
    PeriodRow,
    Samples,
    SessionRow,
    StoredEpisode,
)
from posture.core.vocab import PROBLEMS, VERDICTS

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
    #: posture nudges held back (do-not-disturb, a full-screen window): not in `nudges`
    nudges_held: int = 0
    #: seconds of each hold (every one of `HOLDS`: camera in use, screen locked, asleep)
    #: within the period: the monitor ran but did not look
    held_s: dict[str, float] = field(default_factory=dict)


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
    """(posture nudges shown in the period, how many were followed by a correction within
    60 s): the ones held back are not shown, so neither sent nor followed."""
    sent = [
        n for n in nudges if n.kind in PROBLEMS and not n.held and since_ms <= n.t_ms < until_ms
    ]
    followed = [
        n for n in sent if n.corrected_after_ms is not None and n.corrected_after_ms <= FOLLOWED_MS
    ]
    return len(sent), len(followed)


def held_nudges(nudges: Iterable[NudgeRow], since_ms: int, until_ms: int) -> int:
    """Posture nudges held back in the period (do-not-disturb, a full-screen window)."""
    return sum(1 for n in nudges if n.kind in PROBLEMS and n.held and since_ms <= n.t_ms < until_ms)


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
