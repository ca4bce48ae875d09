"""`posture report` and `posture history`: choose a period, load its rows, render them.

The figures themselves are `posture.core.stats` (pure); this module does the I/O around them:

Choosing
    `Choice` (the command's options) -> `Period`: a session (the latest by default), a
    run of local days (today, yesterday, the last N days, from a date to a date), the
    previous period to compare with, and the time ranges whose samples the figures need
    (the period, the days of the daily strip, the previous period).

Loading
    Through a `posture.ports.HistoryReader` the caller passes in (the CLI builds the
    storage adapter's): the sessions, then the rows of the period's ranges, as plain data
    and numpy columns. Whether a monitor runs now is passed in too. No module of the
    camera side (mediapipe, OpenCV) is imported.

Rendering
    `render_text` (a compact summary with one bar per clock hour; plain ASCII when the
    output cannot encode block characters), `render_json` and `render_csv` (schemas in
    README, "The report"); the HTML is `posture.app.report.html.render_html`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from posture.core import stats
from posture.core.vocab import PROBLEM_TEXT
from posture.errors import PostureError

if TYPE_CHECKING:
    from posture.ports import HistoryReader

NO_HISTORY = (
    "no history yet: start the monitor with `posture start`; the report shows what it recorded"
)
#: JSON schema version of `render_json`.
JSON_SCHEMA = 1


# --- time zone ----------------------------------------------------------------------------


def _fixed_name(offset: timedelta) -> str:
    minutes = round(offset.total_seconds() / 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local_zone(env: dict[str, str] | None = None) -> tuple[str, tzinfo]:
    """The local time zone as (name, tzinfo): the IANA zone of TZ, or of /etc/localtime,
    or else today's fixed offset ("UTC+01:00")."""
    from zoneinfo import ZoneInfo

    env = dict(os.environ) if env is None else env
    keys: list[str] = []
    tz = env.get("TZ")
    if tz:
        keys.append(tz.lstrip(":"))
    else:
        with contextlib.suppress(OSError):
            keys.append(str(Path("/etc/localtime").readlink()))
        with contextlib.suppress(OSError):
            keys.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for key in keys:
        if "zoneinfo/" in key:
            key = key.split("zoneinfo/", 1)[1]
        if not key or key.startswith("/") or ".." in key:
            continue
        try:
            return key, ZoneInfo(key)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            continue
    offset = datetime.now().astimezone().utcoffset() or timedelta(0)
    name = _fixed_name(offset)
    return name, stats.zone(name)


def _local(ms: int, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz)


def _midnight_ms(day: date, tz: tzinfo) -> int:
    """UTC ms of the first instant of a local date."""
    return round(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def _day(ms: int, tz: tzinfo) -> date:
    return _local(ms, tz).date()


# --- choosing the period ------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The period options of `posture report`; none set: the latest session."""

    session: int | None = None
    today: bool = False
    yesterday: bool = False
    days: int | None = None
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class Period:
    title: str
    since_ms: int
    until_ms: int
    previous: tuple[int, int] | None
    #: time ranges [lo, hi) whose samples the report needs, merged and sorted
    ranges: tuple[tuple[int, int], ...]
    #: a session's report: its id
    session_id: int | None = None


def _merge(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(r for r in ranges if r[1] > r[0]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def _needs(
    since_ms: int, until_ms: int, previous: tuple[int, int] | None, tz: tzinfo
) -> tuple[tuple[int, int], ...]:
    """The sample ranges a report of [since, until) reads: the period and the 10 s after
    it (the last sample's time), the days of its daily strip, the previous period."""
    last = _day(max(since_ms, until_ms - 1), tz)
    span = (last - _day(since_ms, tz)).days + 1
    first = last - timedelta(days=max(stats.MIN_DAYS, span) - 1)
    ranges = [
        (since_ms, until_ms + stats.MAX_GAP_MS),
        (_midnight_ms(first, tz), _midnight_ms(last + timedelta(days=1), tz) + stats.MAX_GAP_MS),
    ]
    if previous is not None:
        ranges.append((previous[0], previous[1] + stats.MAX_GAP_MS))
    return _merge(ranges)


def _short_date(day: date, *, year: bool = True) -> str:
    text = f"{day.strftime('%a')} {day.day} {day.strftime('%b')}"
    return f"{text} {day.year}" if year else text


def _days_period(first: date, last: date, title: str, tz: tzinfo) -> Period:
    since = _midnight_ms(first, tz)
    until = _midnight_ms(last + timedelta(days=1), tz)
    n = (last - first).days + 1
    previous = (_midnight_ms(first - timedelta(days=n), tz), since)
    return Period(title, since, until, previous, _needs(since, until, previous, tz))


def _hm(ms: int, tz: tzinfo) -> str:
    return _local(ms, tz).strftime("%H:%M")


def session_title(session: stats.SessionRow, now_ms: int, tz: tzinfo) -> str:
    start, end = session.started_ms, session.end_ms(now_ms)
    first, last = _day(start, tz), _day(end, tz)
    if first == last:
        when = f"{_short_date(first)}, {_hm(start, tz)}–{_hm(end, tz)}"
    else:
        when = f"{_short_date(first)}, {_hm(start, tz)} – {_short_date(last)}, {_hm(end, tz)}"
    marker = " (running)" if session.running else " (crashed)" if session.crashed else ""
    return f"Session {session.id} — {when}{marker}"


def choose(choice: Choice, sessions: Sequence[stats.SessionRow], now_ms: int, tz: tzinfo) -> Period:
    """The period of a `Choice`; `PostureError` for an unknown session."""
    today = _day(now_ms, tz)
    if choice.today or choice.days == 1:
        return _days_period(today, today, "Today", tz)
    if choice.yesterday:
        day = today - timedelta(days=1)
        return _days_period(day, day, "Yesterday", tz)
    if choice.days is not None:
        first = today - timedelta(days=choice.days - 1)
        return _days_period(first, today, f"Last {choice.days} days", tz)
    if choice.since is not None:
        last = choice.until or today
        if last < choice.since:
            raise PostureError(
                f"--until {last.isoformat()} is before --since {choice.since.isoformat()}"
            )
        if last == choice.since:
            title = _short_date(last)
        else:
            title = f"{_short_date(choice.since)} – {_short_date(last)}"
        return _days_period(choice.since, last, title, tz)
    ordered = sorted(sessions, key=lambda s: (s.started_ms, s.id))
    if choice.session is None:
        session = ordered[-1]
    else:
        found = [s for s in ordered if s.id == choice.session]
        if not found:
            latest = ", ".join(str(s.id) for s in reversed(ordered[-5:]))
            raise PostureError(
                f"there is no session {choice.session} in the history; the latest are {latest}"
                " (`posture history` lists them)"
            )
        session = found[0]
    position = ordered.index(session)
    before = ordered[position - 1] if position > 0 else None
    previous = None if before is None else (before.started_ms, before.end_ms(now_ms))
    since, until = session.started_ms, session.end_ms(now_ms)
    return Period(
        session_title(session, now_ms, tz),
        since,
        until,
        previous,
        _needs(since, until, previous, tz),
        session.id,
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


# --- rendering: text ----------------------------------------------------------------------


def span(seconds: float) -> str:
    """A length for people: 45 s, 12 min, 2 h 05 min."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


_ASCII = str.maketrans({"—": "-", "–": "-", "·": ",", "▲": "^", "▼": "v", "…": "..."})
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
        hour = _local(start, tz).hour
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
            f"  upright       {_pct(report.upright_share)} of the time at the desk"
            if report.upright_share is not None
            else "  upright       — (nobody was seen at the desk)"
        )
        if report.trend_points is not None:
            arrow = "▲" if report.trend_points > 0 else "▼" if report.trend_points < 0 else "="
            then = "session" if report.title.startswith("Session") else "period"
            upright += (
                f"  {arrow} {report.trend_points:+.0f} points on the previous {then}"
                f" ({_pct(report.previous_upright_share)})"
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
        lines.append(
            f"  nudges        {report.nudges}, {report.nudges_followed} followed by a"
            " correction within 60 s"
        )
        if report.worst_hour is not None:
            h = report.worst_hour
            lines.append(
                f"  worst hour    {h:02d}:00–{(h + 1) % 24:02d}:00,"
                f" upright {_pct(report.worst_hour_share)}"
            )
        hours = clock_hours(report)
        if hours:
            several = len({_local(start, tz).date() for start, _, _ in report.hourly}) > 1
            lines.append(
                "  by hour       upright share" + (" (all days together)" if several else "")
            )
            for hour, present, share in hours:
                lines.append(
                    f"    {hour:02d}:00  {_bar(share, 10, unicode)}  {_pct(share):>4}"
                    f"  {span(present)}"
                )
    label = f"last {len(report.daily)} days"
    for at in range(0, len(report.daily), DAYS_PER_LINE):
        week = report.daily[at : at + DAYS_PER_LINE]
        first, last = date.fromisoformat(week[0][0]), date.fromisoformat(week[-1][0])
        sparks = "".join(_spark(share, unicode) for _, _, share in week)
        lines.append(
            f"  {label:<12}  {sparks}  "
            f"{_short_date(first, year=False)} – {_short_date(last, year=False)}"
        )
        label = ""
    text = "\n".join(lines) + "\n"
    return text if unicode else text.translate(_ASCII)


# --- rendering: JSON and CSV --------------------------------------------------------------


def _iso(ms: int, tz: tzinfo) -> str:
    return _local(ms, tz).isoformat(timespec="seconds")


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
        "nudges": report.nudges,
        "nudges_followed": report.nudges_followed,
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


# --- the commands -------------------------------------------------------------------------


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
        output = Path(f"posture-report-{_local(moment, tz).strftime('%Y%m%d-%H%M')}.html")
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


# --- posture history ----------------------------------------------------------------------


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
    ranges = _merge((s.started_ms, s.end_ms(now_ms) + stats.MAX_GAP_MS + 1) for s in chosen)
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
        when = _local(line.started_ms, tz)
        rows.append(
            (
                str(line.id),
                f"{_short_date(when.date())} {when.strftime('%H:%M')}",
                span(line.seconds),
                _pct(line.upright_share),
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
    return text if unicode else text.translate(_ASCII)


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


__all__ = [
    "JSON_SCHEMA",
    "NO_HISTORY",
    "Choice",
    "NoHistory",
    "Period",
    "choose",
    "figures",
    "list_sessions",
    "local_zone",
    "make_report",
    "render",
    "render_csv",
    "render_json",
    "render_text",
    "run_report",
]
