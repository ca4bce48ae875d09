"""How the HTML report shows things: band kinds with their colours and hatching
(Okabe-Ito, never colour alone), problem names, shares, and times in the report's zone.

The zone is passed to every function that shows a time (`report_zone` finds it once per
page); None means this computer's local time."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from posture.core.stats import zone as zone_named
from posture.core.vocab import PROBLEM_TEXT


@dataclass(frozen=True)
class Kind:
    label: str
    color: str
    hatch: str | None
    hatch_color: str


#: Timeline band kinds: label, fill (Okabe-Ito), hatching and the hatching's colour.
KINDS: dict[str, Kind] = {
    "upright": Kind("Upright", "#009E73", None, "#009E73"),
    "slouch": Kind("Slouching", "#D55E00", "////", "#FFFFFF"),
    "away": Kind("Away", "#999999", "--", "#FFFFFF"),
    "paused": Kind("Paused", "#E69F00", "\\\\", "#FFFFFF"),
}
#: Any other band kind (the report should have none).
OTHER = Kind("Other", "#CC79A7", "xx", "#FFFFFF")
SCORE_COLOR = "#0072B2"
INK = "#1F2328"
MUTED = "#57606A"
GRID = "#D0D7DE"

#: How each problem of `Report.problem_s` (and each episode kind) is named on the page.
PROBLEM_LABELS: dict[str, str] = {k: v[:1].upper() + v[1:] for k, v in PROBLEM_TEXT.items()}


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def fmt_share(share: float | None) -> str:
    """A 0..1 share as a whole percentage; an em dash for no value."""
    if share is None or not math.isfinite(share):
        return "—"
    return f"{round(share * 100)}%"


def report_zone(name: str) -> tzinfo | None:
    """The zone a report names (`Report.tz`: "Europe/Paris", "UTC", "UTC+05:30"), or None
    when this computer cannot resolve it (then times show in its own local time)."""
    try:
        return zone_named(name)
    except (KeyError, ValueError, OSError):  # unknown, no tzdata, odd name or offset
        return None


def wall(ms: int | float, zone: tzinfo | None) -> datetime:
    """UTC milliseconds as a naive datetime in the report's zone (this computer's local
    time when the report names none it knows)."""
    if zone is None:
        return datetime.fromtimestamp(ms / 1000)
    return datetime.fromtimestamp(ms / 1000, zone).replace(tzinfo=None)


def long_date(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b} {d.year}"


def clock(dt: datetime) -> str:
    return f"{dt:%H:%M}"


def fmt_period(since_ms: int, until_ms: int, zone: tzinfo | None) -> str:
    start, end = wall(since_ms, zone), wall(until_ms, zone)
    if start.date() == end.date():
        return f"{long_date(start.date())}, {clock(start)} – {clock(end)}"
    return f"{long_date(start.date())} {clock(start)} – {long_date(end.date())} {clock(end)}"


def fmt_when(ms: int, zone: tzinfo | None, *, dated: bool = True) -> str:
    dt = wall(ms, zone)
    return f"{dt:%a} {dt.day} {dt:%b} {dt:%H:%M:%S}" if dated else f"{dt:%H:%M:%S}"


def fmt_hour(worst_hour: int | None, zone: tzinfo | None) -> str:
    """The worst hour: an hour of the day (0..23) or a local-hour start in UTC ms."""
    if worst_hour is None:
        return "—"
    if 0 <= worst_hour <= 23:
        return f"{worst_hour:02d}:00–{(worst_hour + 1) % 24:02d}:00"
    start = wall(worst_hour, zone)
    end = start + timedelta(hours=1)
    return f"{start:%a} {start.day} {start:%b}, {start:%H}:00–{end:%H}:00"


def problem_label(kind: str) -> str:
    return PROBLEM_LABELS.get(kind, kind.replace("_", " ").capitalize())


def kind_label(kind: str) -> str:
    return KINDS[kind].label if kind in KINDS else kind.replace("_", " ").capitalize()


def one_day(times_ms: Iterable[int], zone: tzinfo | None) -> bool:
    days = {wall(t, zone).date() for t in times_ms}
    return len(days) <= 1
