"""`posture report`: choose a period, load its rows, render them.

The figures are `posture.core.stats` (pure); the period `posture.app.report.period`; the
renderings `text`, `data` (JSON, CSV) and `html`. The history comes through a
`posture.ports.HistoryReader` the caller passes in (the CLI builds the storage adapter's),
and whether a monitor runs now is passed in too. No module of the camera side
(mediapipe, OpenCV) is imported.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import tzinfo
from pathlib import Path
from typing import IO, TYPE_CHECKING

from posture.app.report.data import render_csv, render_json
from posture.app.report.period import Choice, at_local, choose, local_zone
from posture.app.report.text import render_text
from posture.core import stats
from posture.errors import PostureError

if TYPE_CHECKING:
    from posture.ports import HistoryReader

__all__ = ["NO_HISTORY", "NoHistory", "can_draw", "make_report", "render", "run_report"]

NO_HISTORY = (
    "no history yet: start the monitor with `posture start`; the report shows what it recorded"
)


class NoHistory(PostureError):
    """Nothing recorded yet: not an error (exit 0), a hint."""

    exit_code = 0


def sessions_of(reader: HistoryReader, running: bool) -> list[stats.SessionRow]:
    """The history's sessions, the monitor's own marked `running` when one runs now (the
    newest unended session is its); `NoHistory` when there are none."""
    sessions = stats.mark_running(reader.sessions(), running)
    if not sessions:
        raise NoHistory(NO_HISTORY)
    return sessions


def make_report(
    reader: HistoryReader,
    choice: Choice,
    *,
    now_ms: int,
    tz_name: str,
    tz: tzinfo,
    running: bool,
) -> stats.Report:
    """The report of `choice` from the history `reader` reads. `running`: whether a
    monitor runs now."""
    sessions = sessions_of(reader, running)
    period = choose(choice, sessions, now_ms, tz)
    rows = reader.rows(sessions, period.ranges)

    return stats.build_report(
        rows,
        title=period.title,
        since_ms=period.since_ms,
        until_ms=period.until_ms,
        now_ms=now_ms,
        tz=tz,
        tz_name=tz_name,
        previous=period.previous,
        session_id=period.session_id,
    )


def render(report: stats.Report, fmt: str, *, unicode: bool = True) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "html":
        try:
            from posture.app.report.html import render_html
        except ImportError as err:
            raise PostureError(f"the HTML report is not available: {err}") from None
        return render_html(report)
    return render_text(report, unicode=unicode)


def can_draw(stream: IO[str]) -> bool:
    """Whether a text stream can take the block characters of the bars."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "█▁▏—–·▲▼".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def write_private(path: Path, text: str) -> None:
    """Write a report file readable by the user only (it describes their habits)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def run_report(
    reader: HistoryReader,
    choice: Choice,
    *,
    running: bool,
    fmt: str,
    output: Path | None,
    open_browser: bool,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> None:
    """`posture report`: choose, load, render, write (and open). `running`: whether a
    monitor runs now."""
    out = out or sys.stdout
    err = err or sys.stderr
    tz_name, tz = local_zone()
    moment = now_ms()
    try:
        report = make_report(reader, choice, now_ms=moment, tz_name=tz_name, tz=tz, running=running)
    except NoHistory as nothing:
        print(nothing, file=out if fmt == "text" and output is None else err)
        return
    if open_browser and output is None:
        output = Path(f"posture-report-{at_local(moment, tz).strftime('%Y%m%d-%H%M')}.html")
    if output is None:
        out.write(render(report, fmt, unicode=can_draw(out)))
        return
    try:
        write_private(output, render(report, fmt))
    except OSError as error:
        raise PostureError(f"cannot write the report to {output}: {error.strerror}") from None
    print(f"wrote the {fmt} report to {output}", file=err)
    if open_browser:
        import webbrowser

        if not webbrowser.open(output.resolve().as_uri()):
            print(f"no browser could be started: open {output} yourself", file=err)
