"""The report as data: JSON and CSV (schemas in README, "The report")."""

from __future__ import annotations

import csv
import io
import json
from datetime import tzinfo
from typing import Any

from posture.app.report.period import at_local
from posture.core import stats

__all__ = ["EPISODE_COLUMNS", "JSON_SCHEMA", "episode_rows", "figures", "render_csv", "render_json"]

#: JSON schema version of `render_json`.
JSON_SCHEMA = 1


def _iso(ms: int, tz: tzinfo) -> str:
    return at_local(ms, tz).isoformat(timespec="seconds")


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def figures(report: stats.Report) -> dict[str, Any]:
    """The report's figures as plain values (what JSON and CSV carry, without the rows)."""
    tz = stats.zone(report.tz)
    return {
        "schema": JSON_SCHEMA,
        "title": report.title,
        "since": _iso(report.since_ms, tz),
        "until": _iso(report.until_ms, tz),
        "since_ms": report.since_ms,
        "until_ms": report.until_ms,
        "tz": report.tz,
        "running": report.running,
        "monitored_s": _r(report.monitored_s),
        "present_s": _r(report.present_s),
        "upright_s": _r(report.upright_s),
        "upright_share": _r(report.upright_share, 4),
        "problem_s": {name: _r(s) for name, s in report.problem_s.items()},
        "episode_count": len(report.episodes),
        "episode_median_s": _r(report.episode_median_s),
        "episode_longest_s": _r(report.episode_longest_s),
        "longest_upright_streak_s": _r(report.longest_upright_streak_s),
        "away_s": _r(report.away_s),
        "breaks": report.breaks,
        "paused_s": _r(report.paused_s),
        "held_s": {kind: _r(s) for kind, s in report.held_s.items()},
        "nudges": report.nudges,
        "nudges_followed": report.nudges_followed,
        "nudges_held": report.nudges_held,
        "worst_hour": report.worst_hour,
        "worst_hour_share": _r(report.worst_hour_share, 4),
        "previous_upright_share": _r(report.previous_upright_share, 4),
        "trend_points": _r(report.trend_points, 2),
    }


def episode_rows(report: stats.Report) -> list[dict[str, Any]]:
    tz = stats.zone(report.tz)
    return [
        {
            "start": _iso(e.start_ms, tz),
            "end": _iso(e.end_ms, tz),
            "start_ms": e.start_ms,
            "end_ms": e.end_ms,
            "seconds": _r((e.end_ms - e.start_ms) / 1000),
            "kind": e.kind,
            "peak": _r(e.peak),
        }
        for e in report.episodes
    ]


def render_json(report: stats.Report) -> str:
    tz = stats.zone(report.tz)
    doc = figures(report)
    doc["hourly"] = [
        {"start": _iso(start, tz), "start_ms": start, "present_s": _r(p), "upright_share": _r(s, 4)}
        for start, p, s in report.hourly
    ]
    doc["daily"] = [
        {"date": day, "present_s": _r(p), "upright_share": _r(s, 4)} for day, p, s in report.daily
    ]
    doc["episodes"] = episode_rows(report)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


EPISODE_COLUMNS = ("start", "end", "start_ms", "end_ms", "seconds", "kind", "peak")


def _cell(value: object) -> object:
    """A CSV cell: empty for None, true/false as in JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def render_csv(report: stats.Report) -> str:
    """One stream: the figures as comment lines ("# name,value"), then the episodes as a
    table (a header, one row per episode)."""
    out = io.StringIO()
    comment = io.StringIO()
    writer = csv.writer(comment, lineterminator="\n")
    for name, value in figures(report).items():
        if isinstance(value, dict):
            for key, sub in value.items():
                writer.writerow([f"{name}.{key}", _cell(sub)])
        else:
            writer.writerow([name, _cell(value)])
    for line in comment.getvalue().splitlines():
        out.write(f"# {line}\n")
    table = csv.DictWriter(out, fieldnames=EPISODE_COLUMNS, lineterminator="\n")
    table.writeheader()
    for row in episode_rows(report):
        table.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()
