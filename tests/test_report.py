"""posture.app.report, its history reader (posture.adapters.storage.queries) and the
`posture report` / `posture history` commands.

Histories are real SQLite files written by the real `History` class in tmp_path; the
commands run as real processes (`python -m posture`) with POSTURE_HOME and TZ set, as a
user runs them. The last test runs the real monitor over a recording and checks the
report against what the run itself printed.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from posture.adapters.storage import queries
from posture.adapters.storage.history import History
from posture.adapters.storage.queries import HistoryQueries
from posture.app.report import commands as rp
from posture.app.report import data, period
from posture.app.report import text as terminal
from posture.core import stats
from posture.core.vocab import VERDICTS
from posture.errors import PostureError
from tests.conftest import run_posture

PARIS = ZoneInfo("Europe/Paris")
ENV_TZ = {"TZ": "Europe/Paris"}
S = 1000
FEATURES = {"head_height": 0.5, "ear_height": 0.4}


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = PARIS) -> int:
    return round(datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp() * 1000)


@dataclass
class Part:
    """Samples every `step` ms from `start` s to `end` s into the session."""

    start: int
    end: int
    verdict: str
    problems: tuple[str, ...] = ()
    step: int = 2 * S


def record(
    h: History,
    started: int,
    parts: Sequence[Part],
    *,
    end: int | None = None,
    ended: bool = True,
    episodes: Sequence[tuple[int, int | None, str]] = (),
    nudges: Sequence[tuple[int, str, int | None]] = (),
    periods: Sequence[tuple[str, int, int | None]] = (),
) -> int:
    """One session through the History API; offsets in seconds from `started`."""
    sid = h.start_session(started, profile="default", source="test", settings={})
    for part in parts:
        score = {"good": 0.4, "bad": 1.6}.get(part.verdict)
        for t in range(started + part.start * S, started + part.end * S, part.step):
            h.add_sample(sid, t, part.verdict, score, "upright", FEATURES, part.problems)
    h.flush()
    for start, stop, kind in episodes:
        h.add_episode(
            sid, started + start * S, None if stop is None else started + stop * S, kind, 1.7
        )
    for t, kind, corrected in nudges:
        nid = h.add_nudge(sid, started + t * S, kind, "message", "log")
        if corrected is not None:
            h.set_nudge_corrected(nid, corrected * S)
    for kind, start, stop in periods:
        pid = h.open_period(sid, kind, started + start * S)
        if stop is not None:
            h.close_period(pid, started + stop * S)
    if ended:
        h.end_session(sid, started + (end if end is not None else parts[-1].end) * S)
    return sid


def today() -> date:
    return datetime.now(PARIS).date()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def db_of(home: Path) -> Path:
    return home / "data" / "history.sqlite3"


@pytest.fixture
def week(home: Path) -> Path:
    """Three sessions: 3 days ago (1), yesterday (2), today (3), in Paris time.

    1: 10 min upright: 598 s present (the last sample counts nothing).
    2: 20 min upright, 10 min slouching (an episode, a nudge corrected after 570 s):
       1200 s upright of 1798 s present.
    3: 6 min upright, 2 min away, 2 min too close (an episode, a nudge corrected after
       30 s): 360 s upright of 478 s present, 120 s away.
    """
    d = today()
    with History(db_of(home)) as h:
        record(h, at(d - timedelta(days=3), 9), [Part(0, 600, "good")])
        record(
            h,
            at(d - timedelta(days=1), 10),
            [Part(0, 1200, "good"), Part(1200, 1800, "bad", ("slouch",))],
            episodes=[(1200, 1800, "slouch")],
            nudges=[(1230, "slouch", 570)],
        )
        record(
            h,
            at(d, 0, 1),
            [Part(0, 360, "good"), Part(360, 480, "away"), Part(480, 600, "bad", ("too_close",))],
            episodes=[(480, 600, "too_close")],
            nudges=[(500, "too_close", 30), (550, "break", None)],
            periods=[("away", 360, 480)],
        )
    return home


def posture(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_posture(*args, env={"POSTURE_HOME": str(home), **ENV_TZ, **env})


def report_json(home: Path, *args: str) -> dict[str, Any]:
    result = posture(home, "report", *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


# --- loading ------------------------------------------------------------------------------


def plain_samples(db: Path) -> stats.Samples:
    """The samples read row by row, the obvious way."""
    conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT session_id, t_ms, verdict, score, problems FROM samples")
        return stats.Samples.from_rows([tuple(r) for r in rows])
    finally:
        conn.close()


def same(a: stats.Samples, b: stats.Samples) -> None:
    assert a.session.tolist() == b.session.tolist()
    assert a.t_ms.tolist() == b.t_ms.tolist()
    assert a.verdict.tolist() == b.verdict.tolist()
    assert a.problems.tolist() == b.problems.tolist()
    assert a.score == pytest.approx(b.score, abs=1e-3, nan_ok=True)


def test_the_column_loader_reads_what_the_rows_hold(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    t0 = at(date(2026, 11, 20), 9)
    with History(db) as h:
        one = h.start_session(t0, profile="default", source="test", settings={})
        words = [
            ("good", 0.25, ()),
            ("bad", 1.5, ("slouch", "too_close")),
            ("bad", 2.125, ("neck",)),
            ("bad", None, ()),  # bad without problems (as before schema 2)
            ("away", None, ()),
            ("uncertain", None, ()),
            ("bad", 1.0, ("leaning", "head_tilt", "slouch", "neck", "too_close")),
            ("good", float("nan"), ()),
        ]
        for i, (verdict, score, problems) in enumerate(words):
            h.add_sample(one, t0 + i * 2000, verdict, score, "upright", {}, problems)
        h.end_session(one, t0 + 20_000)
        two = h.start_session(t0 + 60_000, profile="default", source="test", settings={})
        h.add_sample(two, t0 + 60_000, "good", 0.5, "upright", {})
        h.add_sample(two, t0 + 62_000, "bad", 1.2, "deviating", {}, ("head_tilt",))
    with HistoryQueries(db) as reader:
        sessions = reader.sessions()
    conn = History.open_readonly(db)
    try:
        expected = plain_samples(db)
        same(queries.load_samples(conn, t0, t0 + 100_000, sessions), expected)  # sessions apart
        same(queries.load_samples(conn, t0, t0 + 100_000), expected)  # the session column read
        assert [VERDICTS[v] for v in expected.verdict[:6]] == [
            "good",
            "bad",
            "bad",
            "bad",
            "away",
            "uncertain",
        ]
        assert expected.problems[6] == 0b11111
        part = queries.load_samples(conn, t0 + 2000, t0 + 6000, sessions)
        assert part.t_ms.tolist() == [t0 + 2000, t0 + 4000]
        assert len(queries.load_samples(conn, t0 - 10_000, t0, sessions)) == 0
    finally:
        conn.close()


def test_overlapping_sessions_are_told_apart_by_their_ids(tmp_path: Path) -> None:
    """Two recordings replayed at speed 0 can overlap in wall time."""
    db = tmp_path / "history.sqlite3"
    t0 = at(date(2026, 11, 20), 9)
    with History(db) as h:
        record(h, t0, [Part(0, 100, "good")])
        record(h, t0 + 50 * S, [Part(0, 100, "bad", ("slouch",))])
    with HistoryQueries(db) as reader:
        sessions = reader.sessions()
    conn = History.open_readonly(db)
    try:
        assert queries.disjoint(sessions) is None
        loaded = queries.load_samples(conn, t0, t0 + 200 * S, sessions)
    finally:
        conn.close()
    same(loaded.ordered(), plain_samples(db))
    with HistoryQueries(db) as reader:
        r = rp.make_report(
            reader,
            period.Choice(session=1),
            now_ms=t0 + 10**6,
            tz_name="UTC",
            tz=stats.zone("UTC"),
            running=False,
        )
    assert (r.present_s, r.upright_s) == (98.0, 98.0)


# --- choosing the period ------------------------------------------------------------------


def test_each_period_option_in_local_days() -> None:
    now = at(date(2026, 11, 21), 15, 30)
    sessions = [
        stats.SessionRow(1, at(date(2026, 11, 19), 9), at(date(2026, 11, 19), 12)),
        stats.SessionRow(
            2, at(date(2026, 11, 20), 23), None, last_sample_ms=at(date(2026, 11, 21), 1)
        ),
        stats.SessionRow(3, at(date(2026, 11, 21), 14), None, running=True),
    ]
    d = date(2026, 11, 21)
    midnight = {k: at(d + timedelta(days=k), 0) for k in range(-14, 2)}

    def choose(**options: Any) -> period.Period:
        return period.choose(period.Choice(**options), sessions, now, PARIS)

    today = choose(today=True)
    assert (today.title, today.since_ms, today.until_ms) == ("Today", midnight[0], midnight[1])
    assert today.previous == (midnight[-1], midnight[0])
    assert today.ranges == ((midnight[-6], midnight[1] + 10 * S),)  # the week of the strip
    yesterday = choose(yesterday=True)
    assert (yesterday.since_ms, yesterday.until_ms) == (midnight[-1], midnight[0])
    week = choose(days=7)
    assert (week.title, week.since_ms, week.until_ms) == ("Last 7 days", midnight[-6], midnight[1])
    assert week.previous == (midnight[-13], midnight[-6])
    assert choose(days=1).title == "Today"
    span = choose(since=date(2026, 11, 10), until=date(2026, 11, 12))
    assert (span.since_ms, span.until_ms) == (at(date(2026, 11, 10), 0), at(date(2026, 11, 13), 0))
    assert span.title == "Tue 10 Nov 2026 – Thu 12 Nov 2026"
    assert choose(since=date(2026, 11, 20)).until_ms == midnight[1]
    with pytest.raises(PostureError, match="before --since"):
        choose(since=date(2026, 11, 20), until=date(2026, 11, 19))

    latest = choose()
    assert latest.title == "Session 3 — Sat 21 Nov 2026, 14:00–15:30 (running)"
    assert (latest.since_ms, latest.until_ms) == (sessions[2].started_ms, now)
    assert latest.previous == (sessions[1].started_ms, at(d, 1))
    crashed = choose(session=2)
    assert crashed.title == "Session 2 — Fri 20 Nov 2026, 23:00 – Sat 21 Nov 2026, 01:00 (crashed)"
    assert choose(session=1).previous is None
    with pytest.raises(PostureError) as err:
        choose(session=9)
    assert str(err.value) == (
        "there is no session 9 in the history; the latest are 3, 2, 1"
        " (`posture history` lists them)"
    )


def test_the_local_zone_comes_from_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    assert period.local_zone({"TZ": "Asia/Kolkata"}) == ("Asia/Kolkata", ZoneInfo("Asia/Kolkata"))
    assert period.local_zone({"TZ": ":Europe/Paris"})[0] == "Europe/Paris"
    name, tz = period.local_zone({"TZ": "not a zone"})
    assert re.fullmatch(r"UTC[+-]\d\d:\d\d", name) and stats.zone(name) == tz


# --- rendering ----------------------------------------------------------------------------


def a_report(week: Path, choice: period.Choice) -> stats.Report:
    with HistoryQueries(db_of(week)) as reader:
        return rp.make_report(
            reader, choice, now_ms=rp.now_ms(), tz_name="Europe/Paris", tz=PARIS, running=False
        )


def test_text_has_every_figure_with_bars_and_an_ascii_fallback(week: Path) -> None:
    r = a_report(week, period.Choice(days=3))
    text = terminal.render_text(r)
    for words in (
        "Last 3 days",
        "monitored     40 min (at the desk 38 min, away 2 min)",
        "upright       69% of the time at the desk  ▼ -31 points on the previous period (100%)",
        "problems      slouching / head forward 10 min",
        "too close to the screen 2 min",
        "episodes      2: median 6 min, longest 10 min",
        "best streak   20 min upright",
        "away          2 min; 0 break(s) of 5 min or more",
        "nudges        2, 1 followed by a correction within 60 s",
        "worst hour    10:00–11:00, upright 67%",
        "by hour       upright share (all days together)",
        "    00:00  ███████▌     75%  8 min",
        "    10:00  ██████▋      67%  30 min",
        "last 7 days",
    ):
        assert words in text, words
    ascii_text = terminal.render_text(r, unicode=False)
    ascii_text.encode("ascii")
    assert "    10:00  #######...   67%  30 min" in ascii_text
    assert "v -31 points" in ascii_text


def test_json_and_csv_carry_the_same_figures(week: Path) -> None:
    r = a_report(week, period.Choice(days=3))
    doc = json.loads(data.render_json(r))
    assert doc["schema"] == 1
    assert (doc["monitored_s"], doc["present_s"], doc["upright_s"]) == (2396.0, 2276.0, 1560.0)
    assert doc["episode_count"] == 2 == len(doc["episodes"])
    assert doc["episodes"][0]["kind"] == "slouch" and doc["episodes"][0]["seconds"] == 600.0
    assert set(doc["episodes"][0]) == set(data.EPISODE_COLUMNS)
    assert doc["daily"][-1]["date"] == today().isoformat()
    lines = data.render_csv(r).splitlines()
    comments = [line[2:] for line in lines if line.startswith("# ")]
    table = [line for line in lines if not line.startswith("#")]
    figures = dict(csv.reader(comments))
    assert set(figures) >= {"monitored_s", "upright_share", "problem_s.slouch", "episode_count"}
    assert float(figures["upright_share"]) == doc["upright_share"]
    assert figures["running"] == "false"
    episodes = list(csv.DictReader(io.StringIO("\n".join(table))))
    assert [e["kind"] for e in episodes] == ["slouch", "too_close"]
    assert episodes[1]["seconds"] == "120.0"


# --- the command --------------------------------------------------------------------------


def test_report_defaults_to_the_latest_session(week: Path) -> None:
    result = posture(week, "report")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("Session 3 — ") and first.endswith(", 00:01–00:11")
    assert "upright       75% of the time at the desk" in result.stdout
    assert "▲ +9 points on the previous session (67%)" in result.stdout
    doc = report_json(week)
    assert (doc["present_s"], doc["upright_s"], doc["away_s"]) == (478.0, 360.0, 120.0)
    assert (doc["nudges"], doc["nudges_followed"], doc["episode_count"]) == (1, 1, 1)
    assert doc["problem_s"]["too_close"] == 118.0
    assert doc["tz"] == "Europe/Paris"
    assert doc["since"] == datetime.fromtimestamp(doc["since_ms"] / 1000, PARIS).isoformat()
    assert doc["previous_upright_share"] == pytest.approx(1200 / 1798, abs=1e-4)


def test_report_each_period_option(week: Path) -> None:
    d = today()
    today_doc = report_json(week, "--today")
    assert (today_doc["title"], today_doc["present_s"], today_doc["upright_s"]) == (
        "Today",
        478.0,
        360.0,
    )
    assert today_doc["since_ms"] == at(d, 0)
    yesterday = report_json(week, "--yesterday")
    assert (yesterday["present_s"], yesterday["upright_s"]) == (1798.0, 1200.0)
    assert yesterday["trend_points"] is None  # nothing the day before
    days = report_json(week, "--days", "3")
    assert days["present_s"] == 478 + 1798
    assert days["previous_upright_share"] == 1.0  # session 1, three days ago
    assert days["trend_points"] == pytest.approx((1560 / 2276 - 1) * 100, abs=0.01)
    assert [e["kind"] for e in days["episodes"]] == ["slouch", "too_close"]
    since = (d - timedelta(days=3)).isoformat()
    until = (d - timedelta(days=1)).isoformat()
    span = report_json(week, "--since", since, "--until", until)
    assert span["present_s"] == 598 + 1798
    assert span["since_ms"] == at(d - timedelta(days=3), 0)
    assert span["until_ms"] == at(d, 0)
    session = report_json(week, "--session", "2")
    assert session["present_s"] == 1798.0 and session["previous_upright_share"] == 1.0
    assert len(report_json(week, "--days", "30")["daily"]) == 30
    csv_text = posture(week, "report", "--yesterday", "--format", "csv").stdout
    assert "\nstart,end,start_ms,end_ms,seconds,kind,peak\n" in csv_text


def test_report_options_that_do_not_go_together(week: Path) -> None:
    for args in (
        ["--today", "--days", "2"],
        ["--until", "2026-01-01"],
        ["--open", "--format", "csv"],
    ):
        result = posture(week, "report", *args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr
    unknown = posture(week, "report", "--session", "42")
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "posture: error: there is no session 42 in the history; the latest are 3, 2, 1 "
        "(`posture history` lists them)\n"
    )


def test_no_history_yet_is_a_friendly_line_not_an_error(home: Path) -> None:
    for args in (["report"], ["report", "--today"], ["history"]):
        result = posture(home, *args)
        assert result.returncode == 0, args
        assert result.stdout == f"{rp.NO_HISTORY}\n", args
    as_json = posture(home, "report", "--format", "json")
    assert as_json.returncode == 0 and as_json.stdout == ""
    assert as_json.stderr == f"{rp.NO_HISTORY}\n"
    assert not home.exists()  # nothing created


def test_a_damaged_history_is_one_line_naming_it_and_left_alone(week: Path) -> None:
    db = db_of(week)
    with sqlite3.connect(db) as conn:  # one file, no -wal, as after a clean stop
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    page = 4096
    pages = len(data) // page
    assert pages > 8
    for i in range(2, pages):  # the schema page survives; the tables' pages do not
        data[i * page : (i + 1) * page] = b"\xa5" * page
    db.write_bytes(bytes(data))
    for args in (["report", "--days", "7"], ["history"]):
        result = posture(week, *args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"posture: error: history database {db} ")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert result.stdout == ""
        assert db.read_bytes() == bytes(data)
    garbage = b"not a database\n" * 500
    db.write_bytes(garbage)
    result = posture(week, "report")
    assert result.returncode == 2
    assert result.stderr == (
        f"posture: error: history database {db} is damaged or not a posture history "
        "(file is not a database): move it aside and posture starts a new one\n"
    )
    assert db.read_bytes() == garbage


def test_a_newer_history_is_refused_politely(week: Path) -> None:
    db = db_of(week)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    before = db.read_bytes()
    result = posture(week, "report")
    assert result.returncode == 2
    assert "was written by a newer posture (schema 99" in result.stderr
    assert result.stderr.count("\n") == 1
    assert db.read_bytes() == before


@pytest.fixture
def monitor_lock(home: Path) -> Iterator[None]:
    """Hold the monitor lock, as a running monitor does."""
    lock = home / "run" / "monitor.lock"
    lock.parent.mkdir(parents=True)
    with lock.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def test_history_lists_sessions_with_running_and_crashed(week: Path) -> None:
    d = today()
    with History(db_of(week)) as h:
        record(h, at(d, 2), [Part(0, 60, "good"), Part(60, 120, "bad", ("slouch",))], ended=False)
        record(h, at(d, 3), [Part(0, 120, "good")], ended=False)
    plain = posture(week, "history")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[0].split() == ["id", "started", "length", "upright"]
    assert [line.split()[0] for line in lines[1:]] == ["5", "4", "3", "2", "1"]
    assert lines[1].endswith("crashed") and lines[2].endswith("crashed")
    assert re.search(r"^ 4 .* 2 min  +51%  crashed$", lines[2])  # 60 of 118 s upright
    assert re.search(r"^ 2 .* 30 min  +67%$", lines[4])
    assert posture(week, "history", "--limit", "2").stdout.count("\n") == 3
    assert "pruned history" in posture(week, "history", "prune").stdout


def test_history_marks_the_running_session(week: Path, monitor_lock: None) -> None:
    # Both sessions in the past and the newest whatever the time of day (a few minutes ago
    # may be yesterday in Paris, so the report covers two days).
    now = round(time.time() * 1000)
    with History(db_of(week)) as h:
        record(h, now - 180_000, [Part(0, 60, "good")], ended=False)
        record(h, now - 90_000, [Part(0, 60, "good")], ended=False)
    lines = posture(week, "history").stdout.splitlines()
    assert lines[1].endswith("running") and lines[2].endswith("crashed")
    assert report_json(week, "--days", "2")["running"] is True
    if datetime.fromtimestamp((now - 180_000) / 1000, PARIS).date() == today():
        assert report_json(week)["title"].endswith("(running)")


def test_output_file_is_private_and_said_on_stderr(week: Path, tmp_path: Path) -> None:
    target = tmp_path / "week.json"
    result = posture(week, "report", "--days", "7", "--format", "json", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"wrote the json report to {target}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert json.loads(target.read_text(encoding="utf-8"))["title"] == "Last 7 days"


def test_open_writes_the_html_and_opens_it(week: Path, tmp_path: Path) -> None:
    pytest.importorskip("posture.app.report.html")
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" > {seen}\n')
    browser.chmod(0o755)
    out = tmp_path / "r.html"
    result = posture(week, "report", "--open", "--output", str(out), BROWSER=str(browser))
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert seen.read_text().strip() == out.resolve().as_uri()
    work = tmp_path / "cwd"
    work.mkdir()
    default = subprocess.run(
        [sys.executable, "-m", "posture", "report", "--open"],
        cwd=work,
        env=dict(os.environ, POSTURE_HOME=str(week), BROWSER=str(browser), **ENV_TZ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert default.returncode == 0, default.stderr
    (written,) = work.glob("posture-report-*.html")
    assert re.fullmatch(r"posture-report-\d{8}-\d{4}\.html", written.name)


def test_ascii_terminal_and_another_zone(week: Path) -> None:
    result = posture(week, "report", "--days", "3", PYTHONIOENCODING="ascii")
    assert result.returncode == 0, result.stderr
    result.stdout.encode("ascii")
    assert "#" in result.stdout
    india = posture(week, "report", "--days", "3", "--format", "json", TZ="Asia/Kolkata")
    doc = json.loads(india.stdout)
    assert doc["tz"] == "Asia/Kolkata" and doc["since"].endswith("+05:30")
    assert doc["present_s"] == 478 + 1798  # the same samples, other clock hours
    # 00:01 and 10:00 in Paris are 04:31 and 14:30 in India: hours that start at :30 UTC
    assert [h["start"][11:] for h in doc["hourly"]] == ["14:00:00+05:30", "04:00:00+05:30"]
    assert {h["start_ms"] % 3_600_000 for h in doc["hourly"]} == {1_800_000}


def test_the_report_never_imports_the_camera_side(week: Path) -> None:
    code = (
        "import sys\n"
        "from posture.cli.main import cli\n"
        "try:\n"
        "    cli(['report', '--days', '7'], prog_name='posture')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('HEAVY=' + ','.join(m for m in ('mediapipe', 'cv2') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, POSTURE_HOME=str(week), **ENV_TZ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY=\n" in result.stdout


# --- the real monitor, then the report ----------------------------------------------------

SUMMARY = re.compile(
    r"session: (?P<total>\S+) monitored, (?P<seen>\S+) seen at the desk, upright "
    r"(?P<upright>\d+)% of it; (?P<episodes>\d+) slouch episode\(s\); (?P<nudges>\d+) nudge"
)


def seconds(clock: str) -> int:
    h, m, s = (int(x) for x in clock.split(":"))
    return h * 3600 + m * 60 + s


def test_the_report_agrees_with_a_real_run(tmp_path: Path) -> None:
    from posture.adapters.video.sources import open_source
    from posture.app import demo
    from posture.app.compose import MediaPipeModel
    from posture.samples import GRACE_HOPPER

    folder = tmp_path / "clip"
    folder.mkdir()
    clip = demo.build_clip(
        folder,
        GRACE_HOPPER,
        demo.shoulder_line(GRACE_HOPPER, open_source=open_source, pose=MediaPipeModel()),
    )
    stills = demo.upright_stills(folder, GRACE_HOPPER)
    home = tmp_path / "home"
    calibrate = posture(home, "calibrate", *(a for p in stills for a in ("--source", str(p))))
    assert calibrate.returncode == 0, calibrate.stderr
    run = posture(home, "run", "--source", str(clip), "--speed", "0")
    assert run.returncode == 0, run.stderr
    summary = SUMMARY.search(run.stdout)
    assert summary is not None, run.stdout
    assert (summary["episodes"], summary["nudges"]) == ("1", "1")

    doc = report_json(home)
    assert doc["title"].startswith("Session 1 — ") and not doc["running"]
    assert doc["episode_count"] == 1 and doc["nudges"] == 1
    assert doc["episodes"][0]["kind"] == "slouch"
    assert abs(doc["upright_share"] * 100 - int(summary["upright"])) <= 1
    assert abs(doc["present_s"] - seconds(summary["seen"])) <= 2
    assert doc["problem_s"]["slouch"] > 30
    text = posture(home, "report")
    assert text.returncode == 0 and "episodes      1: median" in text.stdout
    listing = posture(home, "history").stdout.splitlines()
    assert len(listing) == 2 and listing[1].split()[0] == "1"
    assert listing[1].rstrip().endswith(f"{round(doc['upright_share'] * 100)}%")


# --- bad values and bad files (issue 10, section 7) ---------------------------------------

TOTALS = ("monitored_s", "present_s", "upright_s", "problem_s", "episode_count", "nudges")


def totals(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: doc[key] for key in (*TOTALS, "away_s", "paused_s", "episode_longest_s")}


def test_dates_far_in_the_past_or_future_are_clamped_or_refused(week: Path) -> None:
    d = today()
    everything = report_json(week, "--since", "0001-01-01")
    assert everything["since"].startswith((d - timedelta(days=3)).isoformat())
    assert totals(everything) == totals(report_json(week, "--days", "4"))
    ahead = report_json(
        week, "--since", (d - timedelta(days=1)).isoformat(), "--until", "9999-12-31"
    )
    assert ahead["until"].startswith((d + timedelta(days=1)).isoformat())
    for args, says in (
        (["--since", "9999-12-31"], "--since 9999-12-31 is after the last day with a history"),
        (["--since", "2000-01-01", "--until", "0001-01-01"], "--until 0001-01-01 is before"),
    ):
        result = posture(week, "report", *args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"posture: error: {says}")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_rows_of_the_wrong_type_are_left_out(week: Path) -> None:
    """Rows another program wrote with texts where posture writes times (the tables
    are not STRICT, so SQLite keeps them): the report and the listing are those of the
    rows posture wrote."""
    before = report_json(week, "--days", "7")
    listing = posture(week, "history").stdout
    db = db_of(week)
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO sessions (id, started_ms, ended_ms, profile, source, settings_json)"
            " VALUES (90, 'yesterday', 'soon', 'p', 's', '{}'), (91, -5e18, NULL, 'p', 's', '{}')"
        )
        conn.execute(
            "INSERT INTO samples (session_id, t_ms, verdict, score, state)"
            " VALUES (1, 'noon', 'good', 0.1, 'upright'), (1, x'00ff', 'bad', 'x', 'upright')"
        )
        conn.execute(
            "INSERT INTO episodes (session_id, start_ms, end_ms, kind, peak)"
            " VALUES (2, 'then', NULL, 'slouch', 'high')"
        )
        conn.execute(
            "INSERT INTO nudges (session_id, t_ms, kind, message, backend)"
            " VALUES ('two', 5, 'slouch', 'm', 'log')"
        )
        conn.execute(
            "INSERT INTO periods (session_id, kind, start_ms, end_ms) VALUES (2, 'away', 'x', 1)"
        )
    after = report_json(week, "--days", "7")
    assert totals(after) == totals(before)
    assert after["episodes"] == before["episodes"]
    again = posture(week, "history")
    assert again.returncode == 0, again.stderr
    assert again.stdout == listing


def test_lengths_stored_backwards_are_never_negative(week: Path) -> None:
    """An episode, a period or a session whose end was stored before its start (older
    versions did, after a backwards clock step) counts as nothing, not as minus."""
    db = db_of(week)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sessions SET ended_ms = started_ms - 3458000 WHERE id = 1")
        conn.execute("UPDATE episodes SET end_ms = start_ms - 3458000")
        conn.execute("UPDATE nudges SET corrected_after_ms = -5000")
    listing = posture(week, "history")
    assert listing.returncode == 0, listing.stderr
    assert "  0 s" in listing.stdout, listing.stdout  # session 1: ended "before" it began
    assert not re.search(r"(^|\s)-\d", listing.stdout), listing.stdout
    doc = report_json(week, "--days", "7")
    assert all(e["seconds"] >= 0 for e in doc["episodes"])
    text = posture(week, "report", "--days", "7").stdout
    assert not re.search(r"(^|\s)-\d", text), text


def test_a_history_failing_quick_check_is_refused(week: Path) -> None:
    """A damaged page the report's queries never read (the index `prune` uses): the
    report would look right; quick_check finds it, and the report says so in one line."""
    db = db_of(week)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'nudges_session'"
        ).fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    data[(root - 1) * page] = 0x01  # not a b-tree page type
    db.write_bytes(bytes(data))
    for args in (["report", "--days", "7"], ["history"]):
        result = posture(week, *args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"posture: error: history database {db} is damaged")
        assert "quick_check" in result.stderr and "move it aside" in result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert db.read_bytes() == bytes(data)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("UPDATE samples SET verdict = 'good,bad' WHERE rowid = 1", "verdicts for"),
        ("UPDATE samples SET t_ms = t_ms + 0.5 WHERE rowid = 1", "samples that are not numbers"),
    ],
)
def test_a_garbled_samples_column_names_the_file(week: Path, change: str, says: str) -> None:
    """A verdict holding a comma or a time with a fraction (posture writes neither)
    breaks the column parse: the message names the file, as every damaged-history
    message does."""
    db = db_of(week)
    with sqlite3.connect(db) as conn:
        conn.execute(change)
    result = posture(week, "report", "--days", "7")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"posture: error: history database {db} is damaged")
    assert says in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_large_history_has_its_small_tables_checked(
    week: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above FULL_CHECK_BYTES the samples are not checked whole (seconds for a year),
    the other tables are."""
    db = db_of(week)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'nudges_session'"
        ).fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    data[(root - 1) * page] = 0x01
    db.write_bytes(bytes(data))
    monkeypatch.setattr(queries, "FULL_CHECK_BYTES", 0)
    with HistoryQueries(db) as reader, pytest.raises(PostureError, match="quick_check"):
        reader.sessions()
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        names = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    assert set(queries.TABLES) == {name for (name,) in names}  # every table is checked
