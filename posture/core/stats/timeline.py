"""Hours, days and the timeline of a report."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from posture.core.stats.figures import Band, _clip, durations
from posture.core.stats.localtime import _groups, day_iso
from posture.core.stats.rows import (
    _BAND_OF,
    BAD,
    BAND_KINDS,
    F64,
    GOOD,
    I64,
    MAX_SCORES,
    U8,
    WORST_HOUR_MIN_S,
    Rows,
    Samples,
)
from posture.core.tally import upright_share

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
