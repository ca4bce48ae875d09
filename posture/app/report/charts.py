"""The HTML report's four charts: the timeline (a row per day, bands of upright,
slouching, away and paused time), the posture score, the upright share per hour and per
day. Each returns an inline <svg> (or None when there is nothing to draw)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from posture.app.report.display import (
    GRID,
    INK,
    KINDS,
    OTHER,
    SCORE_COLOR,
    fmt_share,
    one_day,
    wall,
)
from posture.app.report.svg import (
    HALF,
    WIDE,
    average_line,
    clock_axis,
    date_axis,
    figure,
    mdates,
    percent_axis,
    svg,
    tod,
)

if TYPE_CHECKING:
    from posture.core.stats import Report

#: Charts plot at most about this many points or buckets (a long period is averaged down).
MAX_POINTS = 1200
#: Scores further apart than this (or 3 times their usual spacing) break the line.
GAP_MS = 15_000
#: The timeline shows at most this many days (the latest), a row each.
MAX_TIMELINE_DAYS = 14
#: A timeline row with more pieces than this is redrawn at TIMELINE_BINS bins across
#: (about a pixel each), each bin the kind that fills most of it.
MAX_ROW_SEGMENTS = 300
TIMELINE_BINS = 720


Segment = tuple[float, float, str]  # start, end (seconds since local midnight), kind


def _segments(report: Report, zone: tzinfo | None) -> dict[date, list[Segment]]:
    """The bands split at local midnights: per day, (start, end, kind) in seconds of the
    day, adjacent pieces of one kind merged."""
    rows: dict[date, list[Segment]] = {}
    for band in sorted(report.bands, key=lambda b: (b.start_ms, b.end_ms)):
        if band.end_ms <= band.start_ms:
            continue
        start, end = wall(band.start_ms, zone), wall(band.end_ms, zone)
        while start.date() < end.date():
            midnight = datetime.combine(start.date() + timedelta(days=1), time())
            rows.setdefault(start.date(), []).append((tod(start), 86400.0, band.kind))
            start = midnight
        if end > start:
            rows.setdefault(start.date(), []).append((tod(start), tod(end), band.kind))
    merged: dict[date, list[Segment]] = {}
    for day in sorted(rows):
        out: list[Segment] = []
        for seg in rows[day]:
            if out and out[-1][2] == seg[2] and seg[0] - out[-1][1] <= 1.0:
                out[-1] = (out[-1][0], max(out[-1][1], seg[1]), seg[2])
            else:
                out.append(seg)
        merged[day] = out
    return merged


def _binned(row: Sequence[Segment], lo: float, hi: float, bins: int) -> list[Segment]:
    """The row at `bins` bins across [lo, hi]: each bin the kind covering most of it (none
    when less than half of it is covered), runs of one kind joined."""
    import numpy as np

    edges = np.linspace(lo, hi, bins + 1)
    kinds = sorted({k for _, _, k in row})
    cover = np.zeros((len(kinds), bins))
    for i, kind in enumerate(kinds):
        spans = sorted((a, b) for a, b, k in row if k == kind)
        xs = np.maximum.accumulate(np.array([x for span in spans for x in span], dtype=float))
        lengths = np.array([b - a for a, b in spans], dtype=float)
        before = np.concatenate(([0.0], np.cumsum(lengths)[:-1]))
        ys = np.ravel(np.column_stack((before, before + lengths)))
        cover[i] = np.diff(np.interp(edges, xs, ys, left=0.0, right=float(lengths.sum())))
    best = np.argmax(cover, axis=0)
    filled = cover.max(axis=0) >= (hi - lo) / bins / 2
    out: list[Segment] = []
    for b in range(bins):
        if not filled[b]:
            continue
        kind = kinds[int(best[b])]
        if out and out[-1][2] == kind and out[-1][1] >= float(edges[b]):
            out[-1] = (out[-1][0], float(edges[b + 1]), kind)
        else:
            out.append((float(edges[b]), float(edges[b + 1]), kind))
    return out


def timeline_chart(report: Report, zone: tzinfo | None) -> tuple[str | None, str]:
    """The chart, and a note on what it leaves out."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    rows = _segments(report, zone)
    if not rows:
        return None, ""
    days = sorted(rows)[-MAX_TIMELINE_DAYS:]
    note = ""
    if len(rows) > len(days):
        note = f"The last {len(days)} of the {len(rows)} days with a record."
    lo = min(s[0] for d in days for s in rows[d])
    hi = max(s[1] for d in days for s in rows[d])
    pad = max((hi - lo) * 0.01, 1.0)
    fig = figure(WIDE, 1.1 + 0.42 * len(days))
    ax = fig.add_subplot()
    for i, day in enumerate(days):
        row = rows[day]
        if len(row) > MAX_ROW_SEGMENTS:
            row = _binned(row, lo, hi, TIMELINE_BINS)
        by_kind: dict[str, list[tuple[float, float]]] = {}
        for start, end, kind in row:
            by_kind.setdefault(kind, []).append((start, end))
        top, bottom = i - 0.36, i + 0.36
        for kind, spans in by_kind.items():
            # One path per row and kind (not a rectangle each): a small SVG.
            verts = [
                corner
                for a, b in spans
                for corner in ((a, top), (b, top), (b, bottom), (a, bottom), (a, top))
            ]
            codes = [MPath.MOVETO, MPath.LINETO, MPath.LINETO, MPath.LINETO, MPath.CLOSEPOLY]
            style = KINDS.get(kind, OTHER)
            ax.add_patch(
                PathPatch(
                    MPath(verts, codes * len(spans)),
                    facecolor=style.color,
                    edgecolor=style.hatch_color,
                    linewidth=0,
                    hatch=style.hatch,
                )
            )
    ax.set_ylim(len(days) - 0.5, -0.5)
    ax.set_yticks(range(len(days)))
    ax.set_yticklabels([f"{d:%a} {d.day} {d:%b}" for d in days])
    ax.tick_params(axis="y", length=0)
    ax.set_xlim(lo - pad, hi + pad)
    clock_axis(ax.xaxis, lo, hi)
    ax.spines["left"].set_visible(False)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    label = "Timeline of the period: upright, slouching, away, paused"
    return svg(fig, "timeline", label), note


def _series(points: Sequence[tuple[int, float]]) -> tuple[list[int], list[float]]:
    """The scores, sorted, averaged into at most MAX_POINTS buckets of time; NaN where
    there is a gap (an empty bucket, or a silence of GAP_MS): the line breaks there."""
    import numpy as np

    pts = sorted((t, s) for t, s in points if math.isfinite(s))
    t = np.array([p[0] for p in pts], dtype=np.int64)
    s = np.array([p[1] for p in pts], dtype=float)
    if len(t) > MAX_POINTS:
        edges = np.linspace(t[0], t[-1] + 1, MAX_POINTS + 1)
        idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, MAX_POINTS - 1)
        count = np.bincount(idx, minlength=MAX_POINTS)
        total = np.bincount(idx, weights=s, minlength=MAX_POINTS)
        centers = ((edges[:-1] + edges[1:]) / 2).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return [int(c) for c in centers], [float(v) for v in mean]
    times: list[int] = []
    values: list[float] = []
    # A sample stands for at most 10 s (posture.core.stats): a longer silence is a pause, an
    # absence or the monitor off, and the line breaks there.
    gap = max(GAP_MS, 3.0 * float(np.median(np.diff(t)))) if len(t) > 1 else math.inf
    for i in range(len(t)):
        if i and t[i] - t[i - 1] > gap:
            times.append(int((t[i] + t[i - 1]) // 2))
            values.append(math.nan)
        times.append(int(t[i]))
        values.append(float(s[i]))
    return times, values


def score_chart(report: Report, zone: tzinfo | None) -> str | None:
    import numpy as np

    times, values = _series(report.scores)
    if not times:
        return None
    y = np.array(values, dtype=float)
    single = one_day([times[0], times[-1]], zone)
    if single:
        x = np.array([tod(wall(t, zone)) for t in times])
    else:
        x = np.array([mdates().date2num(wall(t, zone)) for t in times])
    fig = figure(WIDE, 3.2)
    ax = fig.add_subplot()
    slouch = KINDS["slouch"]
    # Shade above the threshold, one stretch of data at a time (never across a gap).
    finite = np.isfinite(y)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], finite.astype(np.int8), [0]))))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        xs, ys = x[start:stop], y[start:stop]
        if len(xs) < 2 or not np.any(ys > 1.0):
            continue
        ax.fill_between(
            xs,
            1.0,
            ys,
            where=ys > 1.0,
            interpolate=True,
            facecolor=slouch.color,
            edgecolor=slouch.hatch_color,
            alpha=0.6,
            linewidth=0,
            hatch="///",
        )
    ax.plot(x, y, color=SCORE_COLOR, linewidth=1.4)
    if len(x) == 1:
        ax.plot(x, y, "o", color=SCORE_COLOR, markersize=4)
    ax.axhline(1.0, color=INK, linestyle="--", linewidth=1.1)
    top = float(np.max(y[finite])) if finite.any() else 1.0
    ax.set_ylim(0.0, min(max(1.6, top * 1.08), 5.0))
    if single:
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        pad = max((hi - lo) * 0.01, 1.0)
        ax.set_xlim(lo - pad, hi + pad)
        clock_axis(ax.xaxis, lo, hi)
    else:
        date_axis(ax.xaxis)
    ax.set_ylabel("score")
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    return svg(fig, "score", "Posture score over time, with the threshold at 1.0")


def _worst_index(
    report: Report, zone: tzinfo | None, starts: Sequence[int], shares: Sequence[float]
) -> int | None:
    hour = report.worst_hour
    if hour is None:
        return None
    if 0 <= hour <= 23:
        matches = [i for i, t in enumerate(starts) if wall(t, zone).hour == hour]
    else:
        matches = [i for i, t in enumerate(starts) if t == hour]
    if not matches:
        return None
    return min(matches, key=lambda i: shares[i])


def hourly_chart(report: Report, zone: tzinfo | None) -> tuple[str | None, bool]:
    """The chart, and whether it marks a worst hour."""
    rows = sorted(
        (t, share)
        for t, _present, share in report.hourly
        if share is not None and math.isfinite(share)
    )
    if not rows:
        return None, False
    starts = [t for t, _ in rows]
    shares = [s for _, s in rows]
    fig = figure(HALF, 3.3)
    ax = fig.add_subplot()
    single = one_day(starts, zone)
    if single:
        x = [tod(wall(t, zone)) for t in starts]
        width = 3600 * 0.82
    else:
        x = [float(mdates().date2num(wall(t, zone))) for t in starts]
        width = 0.82 / 24
    heights = [s * 100 for s in shares]
    upright = KINDS["upright"]
    bars = ax.bar(x, heights, width=width, align="edge", color=upright.color, linewidth=0)
    # The worst of one hour is no news: marked only among several.
    worst = _worst_index(report, zone, starts, shares) if len(rows) > 1 else None
    if worst is not None:
        slouch = KINDS["slouch"]
        bar = bars[worst]
        bar.set_facecolor(slouch.color)
        bar.set_edgecolor(slouch.hatch_color)
        bar.set_hatch("////")
    if len(rows) <= 12:
        ax.bar_label(bars, labels=[fmt_share(s) for s in shares], padding=2, fontsize=10)
    percent_axis(ax)
    average_line(ax, report.upright_share)
    if single:
        lo, hi = min(x), max(x) + 3600
        ax.set_xlim(lo - 600, hi + 600)
        clock_axis(ax.xaxis, lo, hi, min_step=3600)
        ax.set_xlabel("hour starting at")
    else:
        date_axis(ax.xaxis)
    ax.set_ylabel("upright")
    return svg(fig, "hourly", "Upright share per hour"), worst is not None


def daily_chart(report: Report) -> str | None:
    rows = list(report.daily)
    if not any(s is not None and math.isfinite(s) for _, _, s in rows):
        return None
    fig = figure(HALF, 3.3)
    ax = fig.add_subplot()
    xs = list(range(len(rows)))
    labels: list[str] = []
    for day_iso, _present, _share in rows:
        try:
            d = date.fromisoformat(day_iso)
            labels.append(f"{d:%a}\n{d.day} {d:%b}")
        except ValueError:
            labels.append(day_iso)
    heights = [s * 100 if s is not None and math.isfinite(s) else 0.0 for _, _, s in rows]
    upright = KINDS["upright"]
    bars = ax.bar(xs, heights, width=0.7, color=upright.color, linewidth=0)
    texts = [fmt_share(s) if s is not None else "no data" for _, _, s in rows]
    if len(rows) <= 14:
        ax.bar_label(bars, labels=texts, padding=2, fontsize=10)
    every = max(1, math.ceil(len(rows) / 10))
    ax.set_xticks(xs[::every])
    ax.set_xticklabels(labels[::every])
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.tick_params(axis="x", length=0)
    percent_axis(ax)
    average_line(ax, report.upright_share)
    ax.set_ylabel("upright")
    return svg(fig, "daily", f"Upright share per day, last {len(rows)} days")
