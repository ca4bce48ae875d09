"""`posture history`: the latest sessions, newest first, with their length and upright
share; `running` marks the monitor's current one, `crashed` one that never ended."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import IO, TYPE_CHECKING

from posture.app.report.commands import NoHistory, can_draw, now_ms, sessions_of
from posture.app.report.period import at_local, local_zone, merge_ranges, short_date
from posture.app.report.text import ASCII, pct
from posture.core import stats
from posture.core.vocab import span_minutes as span

if TYPE_CHECKING:
    from posture.ports import HistoryReader

__all__ = ["SessionLine", "list_sessions", "render_sessions", "run_history_list"]


@dataclass(frozen=True)
class SessionLine:
    id: int
    started_ms: int
    seconds: float
    upright_share: float | None
    running: bool
    crashed: bool


def list_sessions(
    reader: HistoryReader, *, limit: int, now_ms: int, running: bool
) -> list[SessionLine]:
    """The latest `limit` sessions, newest first, with their upright share."""
    sessions = sessions_of(reader, running)
    chosen = sorted(sessions, key=lambda s: (s.started_ms, s.id))[-limit:]
    ranges = merge_ranges((s.started_ms, s.end_ms(now_ms) + stats.MAX_GAP_MS + 1) for s in chosen)
    rows = reader.rows(sessions, ranges)
    shares = stats.session_shares(rows, now_ms)
    return [
        SessionLine(
            id=s.id,
            started_ms=s.started_ms,
            seconds=(s.end_ms(now_ms) - s.started_ms) / 1000,
            upright_share=shares.get(s.id),
            running=s.running,
            crashed=s.crashed,
        )
        for s in reversed(chosen)
    ]


def render_sessions(lines: Sequence[SessionLine], tz: tzinfo, *, unicode: bool = True) -> str:
    rows = [("id", "started", "length", "upright", "")]
    for line in lines:
        when = at_local(line.started_ms, tz)
        rows.append(
            (
                str(line.id),
                f"{short_date(when.date())} {when.strftime('%H:%M')}",
                span(line.seconds),
                pct(line.upright_share),
                "running" if line.running else "crashed" if line.crashed else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    text = "\n".join(
        f"{r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}"
        f"  {r[4]}".rstrip()
        for r in rows
    )
    text += "\n"
    return text if unicode else text.translate(ASCII)


def run_history_list(
    reader: HistoryReader, *, running: bool, limit: int, out: IO[str] | None = None
) -> None:
    """`posture history`: the latest sessions as a table."""
    out = out or sys.stdout
    _, tz = local_zone()
    try:
        lines = list_sessions(reader, limit=limit, now_ms=now_ms(), running=running)
    except NoHistory as nothing:
        print(nothing, file=out)
        return
    out.write(render_sessions(lines, tz, unicode=can_draw(out)))
