"""Which period a report covers, in the local time zone.

`Choice` (the options of `posture report`) -> `Period`: a session (the latest by
default), a run of local days (today, yesterday, the last N days, from a date to a date),
the previous period to compare with, and the time ranges whose samples the figures need
(the period, the days of the daily strip, the previous period). The zone is found once
(`local_zone`) and passed to everything that shows a local time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

from posture.core import stats
from posture.errors import PostureError

#: The longest report in days (ten years): `--days` allows no more either.
MAX_DAYS = 3660

__all__ = ["Choice", "Period", "at_local", "choose", "local_zone", "merge_ranges", "short_date"]


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
    name = stats.zone_name(offset)
    return name, stats.zone(name)


def at_local(ms: int, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz)


def _midnight_ms(day: date, tz: tzinfo) -> int:
    """UTC ms of the first instant of a local date."""
    return round(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def local_date(ms: int, tz: tzinfo) -> date:
    return at_local(ms, tz).date()


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


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
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
    last = local_date(max(since_ms, until_ms - 1), tz)
    span = (last - local_date(since_ms, tz)).days + 1
    first = last - timedelta(days=max(stats.MIN_DAYS, span) - 1)
    ranges = [
        (since_ms, until_ms + stats.MAX_GAP_MS),
        (_midnight_ms(first, tz), _midnight_ms(last + timedelta(days=1), tz) + stats.MAX_GAP_MS),
    ]
    if previous is not None:
        ranges.append((previous[0], previous[1] + stats.MAX_GAP_MS))
    return merge_ranges(ranges)


def short_date(day: date, *, year: bool = True) -> str:
    text = f"{day.strftime('%a')} {day.day} {day.strftime('%b')}"
    return f"{text} {day.year}" if year else text


def _days_period(first: date, last: date, title: str, tz: tzinfo) -> Period:
    since = _midnight_ms(first, tz)
    until = _midnight_ms(last + timedelta(days=1), tz)
    n = (last - first).days + 1
    previous = (_midnight_ms(first - timedelta(days=n), tz), since)
    return Period(title, since, until, previous, _needs(since, until, previous, tz))


def _hm(ms: int, tz: tzinfo) -> str:
    return at_local(ms, tz).strftime("%H:%M")


def session_title(session: stats.SessionRow, now_ms: int, tz: tzinfo) -> str:
    start, end = session.started_ms, session.end_ms(now_ms)
    first, last = local_date(start, tz), local_date(end, tz)
    if first == last:
        when = f"{short_date(first)}, {_hm(start, tz)}–{_hm(end, tz)}"
    else:
        when = f"{short_date(first)}, {_hm(start, tz)} – {short_date(last)}, {_hm(end, tz)}"
    marker = " (running)" if session.running else " (crashed)" if session.crashed else ""
    return f"Session {session.id} — {when}{marker}"


def _span(
    since: date, until: date | None, sessions: Sequence[stats.SessionRow], today: date, tz: tzinfo
) -> tuple[date, date]:
    """The days of `--since` (and `--until`) a report can cover. An end after today (or
    after the last recorded day, if the clock was ahead) is that day: there is nothing
    later. A start so early that the period would pass MAX_DAYS (`--since 0001-01-01`:
    "everything") starts on the first recorded day; a period still that long, or one
    that starts after it ends, is refused in one line."""
    recorded = [local_date(s.started_ms, tz) for s in sessions]
    latest = max([today, *recorded])
    last = min(until or today, latest)
    if since > last:
        if until is not None and until < since:
            raise PostureError(f"--until {until.isoformat()} is before --since {since.isoformat()}")
        raise PostureError(
            f"--since {since.isoformat()} is after the last day with a history "
            f"({latest.isoformat()}): give an earlier date"
        )
    first = since
    if (last - first).days + 1 > MAX_DAYS and recorded:
        first = max(first, min(recorded))
    if (last - first).days + 1 > MAX_DAYS:
        raise PostureError(
            f"--since {first.isoformat()} to {last.isoformat()} is more than {MAX_DAYS} days: "
            "give a later --since (or --until)"
        )
    return first, last


def choose(choice: Choice, sessions: Sequence[stats.SessionRow], now_ms: int, tz: tzinfo) -> Period:
    """The period of a `Choice`; `PostureError` for an unknown session."""
    today = local_date(now_ms, tz)
    if choice.today or choice.days == 1:
        return _days_period(today, today, "Today", tz)
    if choice.yesterday:
        day = today - timedelta(days=1)
        return _days_period(day, day, "Yesterday", tz)
    if choice.days is not None:
        first = today - timedelta(days=choice.days - 1)
        return _days_period(first, today, f"Last {choice.days} days", tz)
    if choice.since is not None:
        first, last = _span(choice.since, choice.until, sessions, today, tz)
        title = short_date(last) if last == first else f"{short_date(first)} – {short_date(last)}"
        return _days_period(first, last, title, tz)
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
