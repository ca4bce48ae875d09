"""The report for a terminal: a compact summary with one bar per clock hour and a strip
of the last days; plain ASCII when the output cannot encode block characters."""

from __future__ import annotations

from datetime import date

from posture.app.report.period import at_local, short_date
from posture.core import stats
from posture.core.vocab import PROBLEM_TEXT
from posture.core.vocab import span_minutes as span

__all__ = ["ASCII", "clock_hours", "pct", "render_text"]


def pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


ASCII = str.maketrans({"—": "-", "–": "-", "·": ",", "▲": "^", "▼": "v", "…": "..."})
_BLOCKS = " ▏▎▍▌▋▊▉█"
_SPARKS = "▁▂▃▄▅▆▇█"
#: The daily strip of a long report wraps after this many days.
DAYS_PER_LINE = 31
_ASCII_SPARKS = "_.-:=+*#"


def _bar(share: float | None, width: int, unicode: bool) -> str:
    if share is None:
        return " " * width
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    if not unicode:
        full = round(eighths / 8)
        return "#" * full + "." * (width - full)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_BLOCKS[part] if part else "")).ljust(width)


def _spark(share: float | None, unicode: bool) -> str:
    if share is None:
        return " "
    levels = _SPARKS if unicode else _ASCII_SPARKS
    return levels[min(len(levels) - 1, int(max(0.0, share) * len(levels)))]


def clock_hours(report: stats.Report) -> list[tuple[int, float, float | None]]:
    """(clock hour 0-23, present s, upright share), all days of the report together."""
    tz = stats.zone(report.tz)
    present: dict[int, float] = {}
    upright: dict[int, float] = {}
    for start, seconds, share in report.hourly:
        hour = at_local(start, tz).hour
        present[hour] = present.get(hour, 0.0) + seconds
        upright[hour] = upright.get(hour, 0.0) + seconds * (share or 0.0)
    return [
        (hour, present[hour], stats.upright_share(upright[hour], present[hour]))
        for hour in sorted(present)
    ]


def render_text(report: stats.Report, *, unicode: bool = True) -> str:
    """The compact summary for a terminal."""
    tz = stats.zone(report.tz)
    lines = [report.title]
    if report.monitored_s == 0 and report.paused_s == 0:
        lines.append("  nothing was recorded in this period")
    else:
        lines.append(
            f"  monitored     {span(report.monitored_s)} (at the desk {span(report.present_s)},"
            f" away {span(report.away_s)}"
            + (f", paused {span(report.paused_s)}" if report.paused_s else "")
            + ")"
        )
        upright = (
            f"  upright       {pct(report.upright_share)} of the time at the desk"
            if report.upright_share is not None
            else "  upright       — (nobody was seen at the desk)"
        )
        if report.trend_points is not None:
            arrow = "▲" if report.trend_points > 0 else "▼" if report.trend_points < 0 else "="
            then = "session" if report.title.startswith("Session") else "period"
            upright += (
                f"  {arrow} {report.trend_points:+.0f} points on the previous {then}"
                f" ({pct(report.previous_upright_share)})"
            )
        lines.append(upright)
        problems = [
            f"{PROBLEM_TEXT.get(name, name)} {span(seconds)}"
            for name, seconds in sorted(report.problem_s.items(), key=lambda kv: -kv[1])
            if seconds > 0
        ]
        lines.append(f"  problems      {problems[0] if problems else 'none'}")
        lines += [f"                {problem}" for problem in problems[1:]]
        if report.episodes:
            assert report.episode_median_s is not None and report.episode_longest_s is not None
            lines.append(
                f"  episodes      {len(report.episodes)}: median {span(report.episode_median_s)},"
                f" longest {span(report.episode_longest_s)}"
            )
        else:
            lines.append("  episodes      none")
        lines.append(f"  best streak   {span(report.longest_upright_streak_s)} upright")
        lines.append(
            f"  away          {span(report.away_s)}; {report.breaks} break(s) of 5 min or more"
        )
        lines += [
            f"  not looking   {span(seconds)}: {stats.HOLD_TEXT.get(kind, kind)}"
            for kind, seconds in report.held_s.items()
            if seconds > 0
        ]
        lines.append(
            f"  nudges        {report.nudges}, {report.nudges_followed} followed by a"
            " correction within 60 s"
            + (f"; {report.nudges_held} held back (do not disturb)" if report.nudges_held else "")
        )
        if report.worst_hour is not None:
            h = report.worst_hour
            lines.append(
                f"  worst hour    {h:02d}:00–{(h + 1) % 24:02d}:00,"
                f" upright {pct(report.worst_hour_share)}"
            )
        hours = clock_hours(report)
        if hours:
            several = len({at_local(start, tz).date() for start, _, _ in report.hourly}) > 1
            lines.append(
                "  by hour       upright share" + (" (all days together)" if several else "")
            )
            for hour, present, share in hours:
                lines.append(
                    f"    {hour:02d}:00  {_bar(share, 10, unicode)}  {pct(share):>4}"
                    f"  {span(present)}"
                )
    label = f"last {len(report.daily)} days"
    for at in range(0, len(report.daily), DAYS_PER_LINE):
        week = report.daily[at : at + DAYS_PER_LINE]
        first, last = date.fromisoformat(week[0][0]), date.fromisoformat(week[-1][0])
        sparks = "".join(_spark(share, unicode) for _, _, share in week)
        lines.append(
            f"  {label:<12}  {sparks}  "
            f"{short_date(first, year=False)} – {short_date(last, year=False)}"
        )
        label = ""
    text = "\n".join(lines) + "\n"
    return text if unicode else text.translate(ASCII)
