"""The HTML report: one self-contained file for a period of posture history.

`render_html` turns a `posture.core.stats.Report` into a single HTML page: inline CSS, the
charts as inline SVG drawn with matplotlib's object API (never pyplot, so no GUI backend
and no global figure state), no JavaScript and no external resource of any kind, so the
file can be mailed, archived or opened offline and shows the same everywhere. Rendering
the same report twice gives the same bytes (fixed SVG hash salt, fixed font, no dates in
the SVG metadata).

Times in the report are UTC milliseconds; the page shows them in the report's zone
(`Report.tz`, the local zone the figures were computed in), or in this computer's local
time when it does not know that zone.
Colours follow the Okabe-Ito colour-blind-safe palette, and no meaning rides on colour
alone: every band kind has its own hatching and a legend, and every figure is also
written out as text.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from posture.core.vocab import PROBLEM_TEXT

if TYPE_CHECKING:
    from posture.core.stats import Report

__all__ = ["KINDS", "PROBLEM_LABELS", "fmt_duration", "fmt_share", "render_html", "report_zone"]


@dataclass(frozen=True)
class _Kind:
    label: str
    color: str
    hatch: str | None
    hatch_color: str


#: Timeline band kinds: label, fill (Okabe-Ito), hatching and the hatching's colour.
KINDS: dict[str, _Kind] = {
    "upright": _Kind("Upright", "#009E73", None, "#009E73"),
    "slouch": _Kind("Slouching", "#D55E00", "////", "#FFFFFF"),
    "away": _Kind("Away", "#999999", "--", "#FFFFFF"),
    "paused": _Kind("Paused", "#E69F00", "\\\\", "#FFFFFF"),
}
#: Any other band kind (the report should have none).
OTHER = _Kind("Other", "#CC79A7", "xx", "#FFFFFF")
SCORE_COLOR = "#0072B2"
INK = "#1F2328"
MUTED = "#57606A"
GRID = "#D0D7DE"

#: How each problem of `Report.problem_s` (and each episode kind) is named on the page.
PROBLEM_LABELS: dict[str, str] = {k: v[:1].upper() + v[1:] for k, v in PROBLEM_TEXT.items()}

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
#: Episodes listed in the table at most (the rest are counted in a note).
MAX_EPISODE_ROWS = 200

_WIDE = 9.0  # inches: full-width charts (timeline, score)
_HALF = 5.6  # inches: the two side-by-side bar charts
_TICK_STEPS_S: tuple[int, ...] = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800)
_TICK_STEPS_S += (3600, 7200, 10800, 14400, 21600)

_RC: dict[Any, Any] = {
    "svg.hashsalt": "posture-report",
    "svg.fonttype": "path",  # glyphs as paths: no font is needed to show the charts
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same output everywhere
    "font.size": 11.0,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelcolor": INK,
    "ytick.labelcolor": INK,
    "text.color": INK,
    "hatch.linewidth": 1.0,
    "path.simplify": True,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
}


# ---------------------------------------------------------------------------------------
# Text


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt_duration(seconds: float | None) -> str:
    """`42 s`, `3 min 05 s`, `2 h 07 min`; an em dash for no value."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s" if s else f"{m} min"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def fmt_share(share: float | None) -> str:
    """A 0..1 share as a whole percentage; an em dash for no value."""
    if share is None or not math.isfinite(share):
        return "—"
    return f"{round(share * 100)}%"


#: The zone the page being rendered shows times in (None: this computer's).
_ZONE: ContextVar[tzinfo | None] = ContextVar("posture_report_zone", default=None)


def report_zone(name: str) -> tzinfo | None:
    """The zone a report names (`Report.tz`: "Europe/Paris", "UTC", "UTC+05:30"), or None
    when this computer cannot resolve it (then times show in its own local time)."""
    if name == "UTC":
        return timezone.utc
    if len(name) == 9 and name.startswith("UTC") and name[3] in "+-" and name[6] == ":":
        try:
            offset = timedelta(hours=int(name[4:6]), minutes=int(name[7:9]))
            return timezone(offset if name[3] == "+" else -offset)
        except ValueError:
            return None
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except (KeyError, ValueError, OSError, ImportError):  # unknown, no tzdata, odd name
        return None


def _local(ms: int | float) -> datetime:
    """UTC milliseconds as a naive datetime in the report's zone (this computer's local
    time when the report names none it knows)."""
    zone = _ZONE.get()
    if zone is None:
        return datetime.fromtimestamp(ms / 1000)
    return datetime.fromtimestamp(ms / 1000, zone).replace(tzinfo=None)


def _day(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b} {d.year}"


def _clock(dt: datetime) -> str:
    return f"{dt:%H:%M}"


def fmt_period(since_ms: int, until_ms: int) -> str:
    start, end = _local(since_ms), _local(until_ms)
    if start.date() == end.date():
        return f"{_day(start.date())}, {_clock(start)} – {_clock(end)}"
    return f"{_day(start.date())} {_clock(start)} – {_day(end.date())} {_clock(end)}"


def fmt_when(ms: int, *, dated: bool = True) -> str:
    dt = _local(ms)
    return f"{dt:%a} {dt.day} {dt:%b} {dt:%H:%M:%S}" if dated else f"{dt:%H:%M:%S}"


def fmt_hour(worst_hour: int | None) -> str:
    """The worst hour: an hour of the day (0..23) or a local-hour start in UTC ms."""
    if worst_hour is None:
        return "—"
    if 0 <= worst_hour <= 23:
        return f"{worst_hour:02d}:00–{(worst_hour + 1) % 24:02d}:00"
    start = _local(worst_hour)
    end = start + timedelta(hours=1)
    return f"{start:%a} {start.day} {start:%b}, {start:%H}:00–{end:%H}:00"


def _problem_label(kind: str) -> str:
    return PROBLEM_LABELS.get(kind, kind.replace("_", " ").capitalize())


def _kind_label(kind: str) -> str:
    return KINDS[kind].label if kind in KINDS else kind.replace("_", " ").capitalize()


# ---------------------------------------------------------------------------------------
# Charts


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'xlink:href="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_ROOT_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')


def _svg(fig: Any, prefix: str, label: str) -> str:
    """The figure as an inline <svg> element: no XML prolog, DOCTYPE, comment or
    metadata; no fixed size (CSS scales it); ids prefixed so that several charts can
    share a page; a <title> for screen readers."""
    buf = io.StringIO()
    fig.savefig(
        buf,
        format="svg",
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
    )
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    # matplotlib's `*{stroke-linejoin: round; stroke-linecap: butt}`: a <style> in an
    # inline SVG applies to the whole page; the page's CSS has it once, for charts only.
    text = re.sub(r"<defs>\s*<style[^>]*>.*?</style>\s*</defs>", "", text, flags=re.S)
    text = re.sub(r"<style[^>]*>.*?</style>", "", text, flags=re.S)
    head_end = text.index(">") + 1
    head = _ROOT_SIZE.sub("", text[:head_end])
    head = head.replace("<svg", f'<svg class="chart" role="img" aria-label="{_esc(label)}"', 1)
    body = text[head_end:]
    body = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', body)
    body = _HREF.sub(lambda m: f'xlink:href="#{prefix}-{m.group(1)}"', body)
    body = _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", body)
    body = re.sub(r">\s*\n\s*<", ">\n<", body)
    return f"{head}\n<title>{_esc(label)}</title>{body.strip()}\n"


def _tod(dt: datetime) -> float:
    """Seconds since local midnight."""
    return dt.hour * 3600 + dt.minute * 60 + dt.second + dt.microsecond / 1e6


def _clock_axis(axis: Any, lo: float, hi: float, min_step: int = 1) -> None:
    """An axis of seconds since midnight, ticked at round clock times."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    span = max(hi - lo, 1.0)
    steps = [s for s in _TICK_STEPS_S if s >= min_step]
    step = next((s for s in steps if span / s <= 7), steps[-1])
    seconds = step < 60

    def label(x: float, _pos: object) -> str:
        total = round(x)
        h, rest = divmod(total, 3600)
        m, s = divmod(rest, 60)
        return f"{h:02d}:{m:02d}:{s:02d}" if seconds else f"{h:02d}:{m:02d}"

    axis.set_major_locator(MultipleLocator(step))
    axis.set_major_formatter(FuncFormatter(label))


def _mdates() -> Any:
    """matplotlib.dates (untyped in places: used through Any)."""
    import matplotlib.dates

    return matplotlib.dates


def _date_axis(axis: Any) -> None:
    mdates = _mdates()
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    axis.set_major_locator(locator)
    axis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _one_day(times_ms: Iterable[int]) -> bool:
    days = {_local(t).date() for t in times_ms}
    return len(days) <= 1


Segment = tuple[float, float, str]  # start, end (seconds since local midnight), kind


def _segments(report: Report) -> dict[date, list[Segment]]:
    """The bands split at local midnights: per day, (start, end, kind) in seconds of the
    day, adjacent pieces of one kind merged."""
    rows: dict[date, list[Segment]] = {}
    for band in sorted(report.bands, key=lambda b: (b.start_ms, b.end_ms)):
        if band.end_ms <= band.start_ms:
            continue
        start, end = _local(band.start_ms), _local(band.end_ms)
        while start.date() < end.date():
            midnight = datetime.combine(start.date() + timedelta(days=1), time())
            rows.setdefault(start.date(), []).append((_tod(start), 86400.0, band.kind))
            start = midnight
        if end > start:
            rows.setdefault(start.date(), []).append((_tod(start), _tod(end), band.kind))
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


def _timeline_chart(report: Report) -> tuple[str | None, str]:
    """The chart, and a note on what it leaves out."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    rows = _segments(report)
    if not rows:
        return None, ""
    days = sorted(rows)[-MAX_TIMELINE_DAYS:]
    note = ""
    if len(rows) > len(days):
        note = f"The last {len(days)} of the {len(rows)} days with a record."
    lo = min(s[0] for d in days for s in rows[d])
    hi = max(s[1] for d in days for s in rows[d])
    pad = max((hi - lo) * 0.01, 1.0)
    fig = _figure(_WIDE, 1.1 + 0.42 * len(days))
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
    _clock_axis(ax.xaxis, lo, hi)
    ax.spines["left"].set_visible(False)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    label = "Timeline of the period: upright, slouching, away, paused"
    return _svg(fig, "timeline", label), note


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


def _score_chart(report: Report) -> str | None:
    import numpy as np

    times, values = _series(report.scores)
    if not times:
        return None
    y = np.array(values, dtype=float)
    single = _one_day([times[0], times[-1]])
    if single:
        x = np.array([_tod(_local(t)) for t in times])
    else:
        x = np.array([_mdates().date2num(_local(t)) for t in times])
    fig = _figure(_WIDE, 3.2)
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
        _clock_axis(ax.xaxis, lo, hi)
    else:
        _date_axis(ax.xaxis)
    ax.set_ylabel("score")
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    return _svg(fig, "score", "Posture score over time, with the threshold at 1.0")


def _percent_axis(ax: Any) -> None:
    from matplotlib.ticker import MultipleLocator, PercentFormatter

    ax.set_ylim(0, 112)
    ax.yaxis.set_major_locator(MultipleLocator(25))
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _average_line(ax: Any, share: float | None) -> None:
    if share is not None and math.isfinite(share):
        ax.axhline(share * 100, color=INK, linestyle=":", linewidth=1.2)


def _worst_index(report: Report, starts: Sequence[int], shares: Sequence[float]) -> int | None:
    hour = report.worst_hour
    if hour is None:
        return None
    if 0 <= hour <= 23:
        matches = [i for i, t in enumerate(starts) if _local(t).hour == hour]
    else:
        matches = [i for i, t in enumerate(starts) if t == hour]
    if not matches:
        return None
    return min(matches, key=lambda i: shares[i])


def _hourly_chart(report: Report) -> tuple[str | None, bool]:
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
    fig = _figure(_HALF, 3.3)
    ax = fig.add_subplot()
    single = _one_day(starts)
    if single:
        x = [_tod(_local(t)) for t in starts]
        width = 3600 * 0.82
    else:
        x = [float(_mdates().date2num(_local(t))) for t in starts]
        width = 0.82 / 24
    heights = [s * 100 for s in shares]
    upright = KINDS["upright"]
    bars = ax.bar(x, heights, width=width, align="edge", color=upright.color, linewidth=0)
    # The worst of one hour is no news: marked only among several.
    worst = _worst_index(report, starts, shares) if len(rows) > 1 else None
    if worst is not None:
        slouch = KINDS["slouch"]
        bar = bars[worst]
        bar.set_facecolor(slouch.color)
        bar.set_edgecolor(slouch.hatch_color)
        bar.set_hatch("////")
    if len(rows) <= 12:
        ax.bar_label(bars, labels=[fmt_share(s) for s in shares], padding=2, fontsize=10)
    _percent_axis(ax)
    _average_line(ax, report.upright_share)
    if single:
        lo, hi = min(x), max(x) + 3600
        ax.set_xlim(lo - 600, hi + 600)
        _clock_axis(ax.xaxis, lo, hi, min_step=3600)
        ax.set_xlabel("hour starting at")
    else:
        _date_axis(ax.xaxis)
    ax.set_ylabel("upright")
    return _svg(fig, "hourly", "Upright share per hour"), worst is not None


def _daily_chart(report: Report) -> str | None:
    rows = list(report.daily)
    if not any(s is not None and math.isfinite(s) for _, _, s in rows):
        return None
    fig = _figure(_HALF, 3.3)
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
    _percent_axis(ax)
    _average_line(ax, report.upright_share)
    ax.set_ylabel("upright")
    return _svg(fig, "daily", f"Upright share per day, last {len(rows)} days")


# ---------------------------------------------------------------------------------------
# Page

_CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #57606a; --line: #d0d7de;
  --bg: #f3f4f6; --card: #ffffff; --upright: #009e73; --slouch: #d55e00;
  --away: #999999; --paused: #e69f00; --other: #cc79a7; --blue: #0072b2;
  --stripe: rgba(255, 255, 255, 0.85); }
* { box-sizing: border-box; }
html { font-size: 100%; -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  font-size: 1rem; line-height: 1.45; }
main { max-width: 62rem; margin: 0 auto; padding: 1.25rem 1rem 2rem; }
header { margin-bottom: 1rem; }
h1 { font-size: 1.6rem; line-height: 1.2; margin: 0 0 0.3rem; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin: 0 0 0.6rem; }
.period { color: var(--muted); margin: 0; }
.live { display: inline-block; margin: 0.5rem 0 0; padding: 0.15rem 0.6rem;
  border: 1px solid var(--blue); border-radius: 1rem; color: var(--blue);
  font-size: 0.85rem; }
.stats { display: grid; gap: 0.75rem; margin: 0 0 0.75rem; padding: 0; list-style: none;
  grid-template-columns: repeat(2, minmax(0, 1fr)); }
@media (min-width: 50rem) { .stats { grid-template-columns: repeat(4, minmax(0, 1fr)); } }
.stat, .card { background: var(--card); border: 1px solid var(--line);
  border-radius: 0.6rem; }
.stat { padding: 0.75rem 0.9rem; min-width: 0; }
.stat .label { color: var(--muted); font-size: 0.8rem; text-transform: uppercase;
  letter-spacing: 0.03em; }
.stat .value { font-size: 1.6rem; font-weight: 650; line-height: 1.25;
  overflow-wrap: anywhere; }
.stat .sub { color: var(--muted); font-size: 0.875rem; }
.up { color: #006e50; } .down { color: #a84300; }
.card { padding: 1rem; margin: 0 0 0.75rem; min-width: 0; }
.note { color: var(--muted); font-size: 0.9rem; margin: -0.3rem 0 0.5rem; }
.nodata { color: var(--muted); font-style: italic; margin: 0.25rem 0; }
.pair { display: grid; gap: 0.75rem; margin: 0 0 0.75rem;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 24rem), 1fr)); }
.pair .card { margin: 0; }
.plot { overflow-x: auto; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart * { stroke-linejoin: round; stroke-linecap: butt; }
.legend { display: flex; flex-wrap: wrap; gap: 0.25rem 1.1rem; list-style: none;
  margin: 0 0 0.4rem; padding: 0; font-size: 0.9rem; }
.legend li { display: flex; align-items: center; gap: 0.45rem; }
.legend .extra { color: var(--muted); }
.sw { display: inline-block; flex: none; width: 1.7rem; height: 0.95rem; border-radius: 2px; }
.sw.upright { background: var(--upright); }
.sw.slouch, .sw.worst, .meter span { background: var(--slouch); background-image:
  repeating-linear-gradient(135deg, transparent 0 0.3rem, var(--stripe) 0.3rem 0.42rem); }
.sw.away { background: var(--away); background-image:
  repeating-linear-gradient(180deg, transparent 0 0.2rem, var(--stripe) 0.2rem 0.3rem); }
.sw.paused { background: var(--paused); background-image:
  repeating-linear-gradient(45deg, transparent 0 0.3rem, var(--stripe) 0.3rem 0.42rem); }
.sw.other { background: var(--other); }
.sw.problem { background: rgba(213, 94, 0, 0.6); background-image:
  repeating-linear-gradient(135deg, transparent 0 0.3rem, var(--stripe) 0.3rem 0.42rem); }
.sw.score, .sw.threshold, .sw.average { height: 0; border-radius: 0; }
.sw.score { border-top: 3px solid var(--blue); }
.sw.threshold { border-top: 2px dashed var(--ink); }
.sw.average { border-top: 2px dotted var(--ink); }
.problems { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.45rem; }
.problems li { display: grid; grid-template-columns: minmax(9rem, 14rem) 1fr auto;
  gap: 0.75rem; align-items: center; }
.meter { height: 0.8rem; background: #eef0f3; border-radius: 0.4rem; overflow: hidden; }
.meter span { display: block; height: 100%; }
.problems .time { font-variant-numeric: tabular-nums; text-align: right; min-width: 5.5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.95rem;
  font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--line);
  white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 0.85rem; }
td.num, th.num { text-align: right; }
footer { color: var(--muted); font-size: 0.85rem; margin-top: 1rem; }
@media (max-width: 40rem) {
  main { padding: 0.9rem 0.75rem 1.5rem; }
  h1 { font-size: 1.35rem; }
  .card { padding: 0.75rem; }
  .stat { padding: 0.6rem 0.7rem; }
  .stat .value { font-size: 1.3rem; }
  .wide svg.chart { min-width: 36rem; }
  .problems li { grid-template-columns: 1fr auto; gap: 0.2rem 0.75rem; }
  .problems .meter { grid-column: 1 / -1; grid-row: 2; }
}
@media print { body { background: #fff; } .card, .stat { break-inside: avoid; } }
"""


def _stat(label: str, value: str, sub: str = "") -> str:
    """A headline figure; `sub` is HTML (escape what goes in it)."""
    sub_html = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<li class="stat"><div class="label">{_esc(label)}</div>'
        f'<div class="value">{_esc(value)}</div>{sub_html}</li>'
    )


def _trend(report: Report) -> str:
    prev = report.previous_upright_share
    points = report.trend_points
    if points is None and prev is not None and report.upright_share is not None:
        points = (report.upright_share - prev) * 100
    if points is None or not math.isfinite(points):
        return "no earlier period to compare"
    than = _esc(f" ({fmt_share(prev)})") if prev is not None else ""
    rounded = round(points)
    if rounded == 0:
        return f"= the same as the previous period{than}"
    word, cls, arrow = ("up", "up", "▲") if rounded > 0 else ("down", "down", "▼")
    unit = "point" if abs(rounded) == 1 else "points"
    return (
        f'<span class="{cls}">{arrow} {word} {abs(rounded)} {unit}</span> '
        f"on the previous period{than}"
    )


def _headline(report: Report) -> str:
    episodes = len(report.episodes)
    nudges = report.nudges
    followed = report.nudges_followed
    if nudges:
        nudge_sub = (
            f"{followed} of {nudges} followed by a correction within 60 s "
            f"({fmt_share(followed / nudges)})"
        )
    else:
        nudge_sub = "no nudge was sent"
    paused = f"paused {fmt_duration(report.paused_s)}" if report.paused_s > 0 else "never paused"
    if report.monitored_s > 0:
        present = f"{fmt_share(report.present_s / report.monitored_s)} of the monitored time"
    else:
        present = "nothing was monitored"
    upright_sub = _trend(report)
    if report.upright_share is not None:
        upright_sub = f"{_esc(fmt_duration(report.upright_s))} upright · {upright_sub}"
    ep_sub = (
        f"median {fmt_duration(report.episode_median_s)} · "
        f"longest {fmt_duration(report.episode_longest_s)}"
        if episodes
        else "none in this period"
    )
    worst_sub = (
        f"{fmt_share(report.worst_hour_share)} upright"
        if report.worst_hour is not None
        else "not enough data"
    )
    breaks = f"{report.breaks} break{'' if report.breaks == 1 else 's'}"
    cards = [
        _stat("Monitored", fmt_duration(report.monitored_s), _esc(paused)),
        _stat("At the desk", fmt_duration(report.present_s), _esc(present)),
        _stat("Upright", fmt_share(report.upright_share), upright_sub),
        _stat("Episodes", str(episodes), _esc(ep_sub)),
        _stat("Longest upright streak", fmt_duration(report.longest_upright_streak_s)),
        _stat("Away", fmt_duration(report.away_s), _esc(breaks)),
        _stat("Nudges", str(nudges), _esc(nudge_sub)),
        _stat("Worst hour", fmt_hour(report.worst_hour), _esc(worst_sub)),
    ]
    return '<ul class="stats">' + "".join(cards) + "</ul>"


def _problems(report: Report) -> str:
    given = {k: v for k, v in report.problem_s.items() if math.isfinite(v)}
    items = list(given.items()) + [(k, 0.0) for k in PROBLEM_LABELS if k not in given]
    order = {k: i for i, k in enumerate(PROBLEM_LABELS)}
    items.sort(key=lambda kv: (-kv[1], order.get(kv[0], len(order)), kv[0]))
    top = max((v for _, v in items), default=0.0)
    rows = []
    for kind, seconds in items:
        width = 0.0 if top <= 0 else max(0.0, min(100.0, seconds / top * 100))
        rows.append(
            f'<li><span class="name">{_esc(_problem_label(kind))}</span>'
            f'<span class="meter" aria-hidden="true"><span style="width:{width:.1f}%">'
            f'</span></span><span class="time">{_esc(fmt_duration(seconds))}</span></li>'
        )
    return (
        '<section class="card"><h2>Time per problem</h2>'
        '<ul class="problems">' + "".join(rows) + "</ul></section>"
    )


def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """(swatch class, label, extra text) items as an HTML legend."""
    out = []
    for cls, label, extra in items:
        extra_html = f' <span class="extra">{_esc(extra)}</span>' if extra else ""
        out.append(
            f'<li><span class="sw {_esc(cls)}" aria-hidden="true"></span>'
            f"<span>{_esc(label)}{extra_html}</span></li>"
        )
    return '<ul class="legend">' + "".join(out) + "</ul>"


def _timeline_legend(report: Report) -> str:
    totals: dict[str, float] = {}
    for band in report.bands:
        totals[band.kind] = totals.get(band.kind, 0.0) + max(0, band.end_ms - band.start_ms) / 1000
    items = [(name, k.label, fmt_duration(totals.get(name, 0.0))) for name, k in KINDS.items()]
    items += [
        ("other", _kind_label(name), fmt_duration(seconds))
        for name, seconds in sorted(totals.items())
        if name not in KINDS
    ]
    return _legend(items)


def _chart_card(
    title: str,
    svg: str | None,
    empty: str,
    *,
    legend: str = "",
    note: str = "",
    wide: bool = False,
) -> str:
    if svg:
        note_html = f'<p class="note">{_esc(note)}</p>' if note else ""
        body = f'{note_html}{legend}<div class="plot">{svg}</div>'
    else:
        body = f'<p class="nodata">{_esc(empty)}</p>'
    cls = "card wide" if wide else "card"
    return f'<section class="{cls}"><h2>{_esc(title)}</h2>{body}</section>'


def _episodes(report: Report) -> str:
    rows = sorted(report.episodes, key=lambda e: (e.start_ms, e.end_ms))
    if not rows:
        return (
            '<section class="card"><h2>Episodes</h2>'
            '<p class="nodata">No episodes in this period.</p></section>'
        )
    shown = rows[:MAX_EPISODE_ROWS]
    dated = not _one_day([report.since_ms, report.until_ms, rows[0].start_ms, rows[-1].end_ms])
    body = []
    for e in shown:
        peak = "—" if e.peak is None or not math.isfinite(e.peak) else f"{e.peak:.2f}"
        body.append(
            f"<tr><td>{_esc(fmt_when(e.start_ms, dated=dated))}</td>"
            f"<td>{_esc(f'{_local(e.end_ms):%H:%M:%S}')}</td>"
            f'<td class="num">{_esc(fmt_duration((e.end_ms - e.start_ms) / 1000))}</td>'
            f"<td>{_esc(_problem_label(e.kind))}</td>"
            f'<td class="num">{_esc(peak)}</td></tr>'
        )
    more = ""
    if len(rows) > len(shown):
        more = f'<p class="note">And {len(rows) - len(shown)} more, not listed.</p>'
    return (
        f'<section class="card"><h2>Episodes ({len(rows)})</h2><div class="scroll"><table>'
        '<thead><tr><th scope="col">Start</th><th scope="col">End</th>'
        '<th scope="col" class="num">Duration</th><th scope="col">Problem</th>'
        '<th scope="col" class="num">Peak score</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{more}</section>"
    )


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML document (a str)."""
    token = _ZONE.set(report_zone(report.tz))
    try:
        return _render(report)
    finally:
        _ZONE.reset(token)


def _render(report: Report) -> str:
    import matplotlib

    with matplotlib.rc_context(_RC):
        timeline, timeline_note = _timeline_chart(report)
        score = _score_chart(report)
        hourly, marks_worst = _hourly_chart(report)
        daily = _daily_chart(report)

    title = _esc(report.title)
    period = _esc(fmt_period(report.since_ms, report.until_ms))
    tz = _esc(report.tz)
    live = ""
    if report.running:
        until = _esc(_clock(_local(report.until_ms)))
        live = f'<p class="live">Still running: the figures go up to {until}</p>'
    average = [("average", "whole period", fmt_share(report.upright_share))]
    if report.upright_share is None:
        average = []
    bar_items = [("upright", "upright share", "")]
    hour_items = bar_items + ([("worst", "worst hour", "")] if marks_worst else []) + average
    days = len(report.daily)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light">',
        f"<title>{title}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f'<header><h1>{title}</h1><p class="period">{period} ({tz})</p>{live}</header>',
        _headline(report),
        _problems(report),
        _chart_card(
            "Timeline",
            timeline,
            "No timeline: nothing was recorded in this period.",
            legend=_timeline_legend(report),
            note=timeline_note,
            wide=True,
        ),
        _chart_card(
            "Posture score",
            score,
            "No posture scores in this period.",
            legend=_legend(
                [
                    ("score", "posture score", ""),
                    ("threshold", "threshold 1.0", ""),
                    ("problem", "above it: off your upright", ""),
                ]
            ),
            wide=True,
        ),
        '<div class="pair">',
        _chart_card(
            "Upright share per hour",
            hourly,
            "No hour with someone present in this period.",
            legend=_legend(hour_items),
        ),
        _chart_card(
            "Upright share per day"
            + (f", last {days} day{'' if days == 1 else 's'}" if days else ""),
            daily,
            "No daily figures for this period.",
            legend=_legend(bar_items + average),
        ),
        "</div>",
        _episodes(report),
        f"<footer>Made by posture on this computer; times are local ({tz}). "
        "This page needs no network and runs no script.</footer>",
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"
