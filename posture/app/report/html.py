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

import math
from collections.abc import Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING

from posture.app.report.charts import daily_chart, hourly_chart, score_chart, timeline_chart
from posture.app.report.css import CSS
from posture.app.report.display import (
    KINDS,
    PROBLEM_LABELS,
    clock,
    esc,
    fmt_hour,
    fmt_period,
    fmt_share,
    fmt_when,
    kind_label,
    one_day,
    problem_label,
    report_zone,
    wall,
)
from posture.app.report.svg import RC
from posture.core.stats import HOLD_TEXT, trend_points
from posture.core.vocab import span as fmt_duration

if TYPE_CHECKING:
    from posture.core.stats import Report

__all__ = ["render_html"]

#: Episodes listed in the table at most (the rest are counted in a note).
MAX_EPISODE_ROWS = 200


def _stat(label: str, value: str, sub: str = "") -> str:
    """A headline figure; `sub` is HTML (escape what goes in it)."""
    sub_html = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<li class="stat"><div class="label">{esc(label)}</div>'
        f'<div class="value">{esc(value)}</div>{sub_html}</li>'
    )


def _trend(report: Report) -> str:
    prev = report.previous_upright_share
    points = report.trend_points
    if points is None:
        points = trend_points(report.upright_share, prev)
    if points is None or not math.isfinite(points):
        return "no earlier period to compare"
    than = esc(f" ({fmt_share(prev)})") if prev is not None else ""
    rounded = round(points)
    if rounded == 0:
        return f"= the same as the previous period{than}"
    word, cls, arrow = ("up", "up", "▲") if rounded > 0 else ("down", "down", "▼")
    unit = "point" if abs(rounded) == 1 else "points"
    return (
        f'<span class="{cls}">{arrow} {word} {abs(rounded)} {unit}</span> '
        f"on the previous period{than}"
    )


def _headline(report: Report, zone: tzinfo | None) -> str:
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
    if report.nudges_held:
        nudge_sub += f"; {report.nudges_held} held back (do not disturb)"
    paused = f"paused {fmt_duration(report.paused_s)}" if report.paused_s > 0 else "never paused"
    held = [
        f"{HOLD_TEXT.get(kind, kind)} {fmt_duration(s)}"
        for kind, s in report.held_s.items()
        if s > 0
    ]
    paused = " · ".join([paused, *held])
    if report.monitored_s > 0:
        present = f"{fmt_share(report.present_s / report.monitored_s)} of the monitored time"
    else:
        present = "nothing was monitored"
    upright_sub = _trend(report)
    if report.upright_share is not None:
        upright_sub = f"{esc(fmt_duration(report.upright_s))} upright · {upright_sub}"
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
        _stat("Monitored", fmt_duration(report.monitored_s), esc(paused)),
        _stat("At the desk", fmt_duration(report.present_s), esc(present)),
        _stat("Upright", fmt_share(report.upright_share), upright_sub),
        _stat("Episodes", str(episodes), esc(ep_sub)),
        _stat("Longest upright streak", fmt_duration(report.longest_upright_streak_s)),
        _stat("Away", fmt_duration(report.away_s), esc(breaks)),
        _stat("Nudges", str(nudges), esc(nudge_sub)),
        _stat("Worst hour", fmt_hour(report.worst_hour, zone), esc(worst_sub)),
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
            f'<li><span class="name">{esc(problem_label(kind))}</span>'
            f'<span class="meter" aria-hidden="true"><span style="width:{width:.1f}%">'
            f'</span></span><span class="time">{esc(fmt_duration(seconds))}</span></li>'
        )
    return (
        '<section class="card"><h2>Time per problem</h2>'
        '<ul class="problems">' + "".join(rows) + "</ul></section>"
    )


def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """(swatch class, label, extra text) items as an HTML legend."""
    out = []
    for cls, label, extra in items:
        extra_html = f' <span class="extra">{esc(extra)}</span>' if extra else ""
        out.append(
            f'<li><span class="sw {esc(cls)}" aria-hidden="true"></span>'
            f"<span>{esc(label)}{extra_html}</span></li>"
        )
    return '<ul class="legend">' + "".join(out) + "</ul>"


def _timeline_legend(report: Report) -> str:
    totals: dict[str, float] = {}
    for band in report.bands:
        totals[band.kind] = totals.get(band.kind, 0.0) + max(0, band.end_ms - band.start_ms) / 1000
    items = [(name, k.label, fmt_duration(totals.get(name, 0.0))) for name, k in KINDS.items()]
    items += [
        ("other", kind_label(name), fmt_duration(seconds))
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
        note_html = f'<p class="note">{esc(note)}</p>' if note else ""
        body = f'{note_html}{legend}<div class="plot">{svg}</div>'
    else:
        body = f'<p class="nodata">{esc(empty)}</p>'
    cls = "card wide" if wide else "card"
    return f'<section class="{cls}"><h2>{esc(title)}</h2>{body}</section>'


def _episodes(report: Report, zone: tzinfo | None) -> str:
    rows = sorted(report.episodes, key=lambda e: (e.start_ms, e.end_ms))
    if not rows:
        return (
            '<section class="card"><h2>Episodes</h2>'
            '<p class="nodata">No episodes in this period.</p></section>'
        )
    shown = rows[:MAX_EPISODE_ROWS]
    ends = [report.since_ms, report.until_ms, rows[0].start_ms, rows[-1].end_ms]
    dated = not one_day(ends, zone)
    body = []
    for e in shown:
        peak = "—" if e.peak is None or not math.isfinite(e.peak) else f"{e.peak:.2f}"
        body.append(
            f"<tr><td>{esc(fmt_when(e.start_ms, zone, dated=dated))}</td>"
            f"<td>{esc(f'{wall(e.end_ms, zone):%H:%M:%S}')}</td>"
            f'<td class="num">{esc(fmt_duration((e.end_ms - e.start_ms) / 1000))}</td>'
            f"<td>{esc(problem_label(e.kind))}</td>"
            f'<td class="num">{esc(peak)}</td></tr>'
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
    return _render(report, report_zone(report.tz))


def _render(report: Report, zone: tzinfo | None) -> str:
    import matplotlib

    with matplotlib.rc_context(RC):
        timeline, timeline_note = timeline_chart(report, zone)
        score = score_chart(report, zone)
        hourly, marks_worst = hourly_chart(report, zone)
        daily = daily_chart(report)

    title = esc(report.title)
    period = esc(fmt_period(report.since_ms, report.until_ms, zone))
    tz = esc(report.tz)
    live = ""
    if report.running:
        until = esc(clock(wall(report.until_ms, zone)))
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
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f'<header><h1>{title}</h1><p class="period">{period} ({tz})</p>{live}</header>',
        _headline(report, zone),
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
        _episodes(report, zone),
        f"<footer>Made by posture on this computer; times are local ({tz}). "
        "This page needs no network and runs no script.</footer>",
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"
