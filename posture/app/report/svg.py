"""matplotlib figures as inline SVG for the HTML report: the object API on Agg (never
pyplot: no GUI backend, no global figure state), fixed fonts and hash salt so the same
report gives the same bytes, and the axes the charts share."""

from __future__ import annotations

import io
import math
import re
from datetime import datetime
from typing import Any

from posture.app.report.display import GRID, INK, MUTED, esc

WIDE = 9.0  # inches: full-width charts (timeline, score)
HALF = 5.6  # inches: the two side-by-side bar charts
_TICK_STEPS_S: tuple[int, ...] = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800)
_TICK_STEPS_S += (3600, 7200, 10800, 14400, 21600)

RC: dict[Any, Any] = {
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


def figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'xlink:href="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_ROOT_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')


def svg(fig: Any, prefix: str, label: str) -> str:
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
    head = head.replace("<svg", f'<svg class="chart" role="img" aria-label="{esc(label)}"', 1)
    body = text[head_end:]
    body = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', body)
    body = _HREF.sub(lambda m: f'xlink:href="#{prefix}-{m.group(1)}"', body)
    body = _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", body)
    body = re.sub(r">\s*\n\s*<", ">\n<", body)
    return f"{head}\n<title>{esc(label)}</title>{body.strip()}\n"


def tod(dt: datetime) -> float:
    """Seconds since local midnight."""
    return dt.hour * 3600 + dt.minute * 60 + dt.second + dt.microsecond / 1e6


def clock_axis(axis: Any, lo: float, hi: float, min_step: int = 1) -> None:
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


def mdates() -> Any:
    """matplotlib.dates (untyped in places: used through Any)."""
    import matplotlib.dates

    return matplotlib.dates


def date_axis(axis: Any) -> None:
    dates = mdates()
    locator = dates.AutoDateLocator(minticks=3, maxticks=8)
    axis.set_major_locator(locator)
    axis.set_major_formatter(dates.ConciseDateFormatter(locator))


def percent_axis(ax: Any) -> None:
    from matplotlib.ticker import MultipleLocator, PercentFormatter

    ax.set_ylim(0, 112)
    ax.yaxis.set_major_locator(MultipleLocator(25))
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def average_line(ax: Any, share: float | None) -> None:
    if share is not None and math.isfinite(share):
        ax.axhline(share * 100, color=INK, linestyle=":", linewidth=1.2)
