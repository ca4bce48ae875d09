"""Storage faults never stop the monitor (issue 10): a full disk, a lock held by another
program, a prune while it runs, its database deleted. Real `posture start` processes over
the demo's clip, a real 2 MB tmpfs, real SQLite files; the journal alone against a flaky
fake history."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from posture.adapters.storage.history import DAY_MS, History, retention_cutoff
from posture.app import compose
from posture.app.monitor.journal import Journal
from posture.ports import HistoryUnavailable, NullHistory
from tests.conftest import run_posture
from tests.test_monitor_process import calibrated_home, db_rows, material, status

__all__ = ["material"]  # the clip and stills fixture, shared with the process tests

T0 = 1_780_000_000_000  # 2026-05-28


# --- the journal against a flaky history -----------------------------------------------------


class FlakyHistory(NullHistory):
    """Records what is written; `down` makes every call fail as a full disk would."""

    def __init__(self) -> None:
        self.down = False
        self.rows: list[tuple[object, ...]] = []
        self.pending: list[tuple[object, ...]] = []
        self.next_id = 100

    def _up(self) -> None:
        if self.down:
            raise HistoryUnavailable("disk full")

    def _new(self, *row: object) -> int:
        self._up()
        self.next_id += 1
        self.rows.append((self.next_id, *row))
        return self.next_id

    def start_session(
        self, started_ms: int, *, profile: str, source: str, settings: dict[str, object]
    ) -> int:
        return self._new("session", started_ms)

    def end_session(self, session_id: int, ended_ms: int) -> None:
        self.flush()
        self._up()
        self.rows.append(("end", session_id, ended_ms))

    def add_sample(
        self,
        session_id: int,
        t_ms: int,
        verdict: str,
        score: float | None,
        state: str,
        features: Mapping[str, float | None],
        problems: Sequence[str] = (),
    ) -> None:
        self.pending.append(("sample", session_id, t_ms))

    def maybe_flush(self, now: float) -> bool:
        self.flush()
        return True

    def flush(self) -> None:
        if self.pending:
            self._up()
            self.rows += self.pending
            self.pending = []

    @property
    def buffered(self) -> int:
        return len(self.pending)

    def add_episode(
        self, session_id: int, start_ms: int, end_ms: int | None, kind: str, peak: float
    ) -> int:
        return self._new("episode", session_id, start_ms)

    def close_episode(self, episode_id: int, end_ms: int, peak: float) -> None:
        self._up()
        self.rows.append(("close", episode_id, end_ms))


def test_the_journal_keeps_the_calls_in_order_and_maps_the_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="posture")
    inner = FlakyHistory()
    journal = Journal(inner, retry=30)
    inner.down = True
    sid = journal.start_session(T0, profile="p", source="s", settings={})
    assert sid < 0  # provisional
    journal.add_sample(sid, T0 + 1, "good", 0.1, "upright", {})
    episode = journal.add_episode(sid, T0 + 2, None, "neck", 1.0)
    journal.add_sample(sid, T0 + 3, "bad", 1.1, "slouching", {})
    assert journal.maybe_flush(0.0) is False
    assert journal.health() == "disk full; keeping 2 samples in memory, retrying in 30 s"
    assert journal.maybe_flush(29.0) is False  # the back-off has not passed
    assert journal.maybe_flush(30.0) is False  # still down: the back-off doubles
    assert journal.health() == "disk full; keeping 2 samples in memory, retrying in 60 s"
    inner.down = False
    assert journal.maybe_flush(60.0) is False
    assert journal.maybe_flush(90.0) is True
    assert journal.health() is None
    journal.close_episode(episode, T0 + 4, 1.2)  # a provisional id, after the fault
    journal.end_session(sid, T0 + 5)
    assert inner.rows == [
        (101, "session", T0),
        (102, "episode", 101, T0 + 2),
        ("sample", 101, T0 + 1),
        ("sample", 101, T0 + 3),
        ("close", 102, T0 + 4),
        ("end", 101, T0 + 5),
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["history: disk full; keeping samples in memory, retrying in 30 s"]
    assert any("written the 2 samples kept in memory" in r.getMessage() for r in caplog.records)


def test_the_journal_keeps_at_most_max_samples_and_never_drops_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = FlakyHistory()
    journal = Journal(inner, retry=1, max_samples=50)
    sid = journal.start_session(T0, profile="p", source="s", settings={})
    inner.down = True
    journal.maybe_flush(0.0)
    episode = journal.add_episode(sid, T0, None, "neck", 1.0)
    for i in range(200):
        journal.add_sample(sid, T0 + i, "good", 0.1, "upright", {})
    journal.close_episode(episode, T0 + 300, 1.0)
    assert journal.buffered == 50
    inner.down = False
    journal.end_session(sid, T0 + 400)  # the stop writes what is kept
    samples = [row[2] for row in inner.rows if row[0] == "sample"]
    assert samples == [T0 + i for i in range(150, 200)]  # the newest 50
    assert [row[0] for row in inner.rows if row[0] != "sample"] == [101, 102, "close", "end"]
    dropping = [r for r in caplog.records if "dropping the oldest" in r.getMessage()]
    assert len(dropping) == 1


def test_a_stop_that_cannot_write_says_what_is_lost(caplog: pytest.LogCaptureFixture) -> None:
    inner = FlakyHistory()
    journal = Journal(inner, retry=1)
    sid = journal.start_session(T0, profile="p", source="s", settings={})
    inner.down = True
    for i in range(7):
        journal.add_sample(sid, T0 + i, "good", 0.1, "upright", {})
    journal.maybe_flush(0.0)
    journal.end_session(sid, T0 + 10)  # does not raise
    assert any(
        "7 samples and the session's end not written" in r.getMessage() for r in caplog.records
    )


# --- the history file itself -------------------------------------------------------------------


def test_a_replaced_database_is_never_written_into(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    with History(db) as h:
        sid = h.start_session(T0, profile="p", source="s", settings={})
        h.add_sample(sid, T0, "good", 0.1, "upright", {})
        db.rename(tmp_path / "aside.sqlite3")
        with contextlib.closing(sqlite3.connect(db)) as other:
            other.execute("create table theirs (x)")
            other.commit()
        for _ in range(2):  # noticed, and still refused at the retry
            with pytest.raises(HistoryUnavailable) as err:
                h.flush()
            assert err.value.reason == "database file replaced"
        assert h.health() == "database file replaced" and h.buffered == 1
        with contextlib.closing(sqlite3.connect(db)) as other:
            names = [r[0] for r in other.execute("select name from sqlite_master")]
        assert names == ["theirs"]
        db.unlink()  # the path is free: a new database, with the running session
        with pytest.raises(HistoryUnavailable, match="deleted"):
            h.flush()
        h.flush()
        h.end_session(sid, T0 + 1000)
    assert db_rows_at(db, "select id, started_ms, ended_ms from sessions") == [(sid, T0, T0 + 1000)]
    assert db_rows_at(db, "select session_id, t_ms from samples") == [(sid, T0)]


def test_a_running_session_deleted_by_another_program_is_written_again(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    with History(db) as h:
        sid = h.start_session(T0, profile="p", source="s", settings={"a": 1})
        period = h.open_period(sid, "pause", T0 + 10)
        with contextlib.closing(sqlite3.connect(db)) as other:
            other.execute("delete from periods")
            other.execute("delete from sessions")
            other.commit()
        h.add_sample(sid, T0 + 20, "good", 0.1, "upright", {})
        h.flush()  # a foreign-key failure: the session and its open period come back
        h.close_period(period, T0 + 30)
        h.end_session(sid, T0 + 40)
    assert db_rows_at(db, "select id, ended_ms, settings_json from sessions") == [
        (sid, T0 + 40, '{"a": 1}')
    ]
    assert db_rows_at(db, "select id, start_ms, end_ms from periods") == [
        (period, T0 + 10, T0 + 30)
    ]


def db_rows_at(db: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


# --- retention and prune bounds ----------------------------------------------------------------


def test_retention_with_a_clock_two_years_ahead_deletes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "history.sqlite3"
    with History(db) as h:
        sid = h.start_session(T0, profile="p", source="s", settings={})
        for i in range(10):
            h.add_sample(sid, T0 + i * 1000, "good", 0.1, "upright", {})
        h.end_session(sid, T0 + 20_000)
    with History(db) as h:
        compose.retain(h, T0 + 2 * 365 * DAY_MS, 365)
        assert h.newest_ms() == T0 + 20_000
    assert db_count(db, "samples") == 10 and db_count(db, "sessions") == 1
    assert "more than 365 days ahead of the newest history row" in caplog.text
    # a clock somewhat ahead prunes relative to the newest row, not to now
    assert retention_cutoff(T0 + 100 * DAY_MS, T0, 365) == (T0 - 365 * DAY_MS, "")
    assert retention_cutoff(T0 + 10 * DAY_MS, T0, 30) == (T0 - 30 * DAY_MS, "")
    assert retention_cutoff(T0 - 2 * DAY_MS, T0, 30)[0] is None  # behind the history
    assert retention_cutoff(0, T0, 30)[0] is None  # a reset clock
    assert retention_cutoff(T0, None, 30) == (None, "")


def db_count(db: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute(f"select count(*) from {table}").fetchone()[0])


def test_prune_older_than_an_absurd_number_is_one_line(tmp_path: Path) -> None:
    env = {"POSTURE_HOME": str(tmp_path / "home")}
    for days in ("1e15", "1000000000000000"):
        result = run_posture("history", "prune", "--older-than", days, env=env)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "--older-than" in errors[0]


# --- a real monitor through storage faults ----------------------------------------------------


def wait_for(what: Callable[[], object], timeout: float, message: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(message)


def history_line(env: dict[str, str]) -> str | None:
    value = status(env).get("history")
    return value if isinstance(value, str) else None


def sample_count(home: Path) -> int:
    db = home / "data" / "history.sqlite3"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("select count(*) from samples").fetchone()[0])
    except sqlite3.Error:
        return 0


@contextlib.contextmanager
def started_monitor(env: dict[str, str], clip: Path) -> Iterator[Path]:
    result = run_posture("start", "--source", str(clip), "--speed", "1", env=env)
    assert result.returncode == 0, result.stderr
    try:
        yield Path(env["POSTURE_HOME"])
    finally:
        run_posture("stop", env=env)


FAST_RETRY = "[monitor]\nhistory_retry = 1\n"


def test_prune_while_a_monitor_runs_spares_its_session(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    env = calibrated_home(tmp_path, material)
    with started_monitor(env, material["clip"]) as home:
        wait_for(lambda: sample_count(home) >= 3, 60, "no samples written")
        pruned = run_posture("history", "prune", "--older-than", "0", env=env)
        assert pruned.returncode == 0, pruned.stderr
        assert "removed nothing" in pruned.stdout
        before = sample_count(home)
        wait_for(lambda: sample_count(home) > before, 30, "the monitor stopped writing")
        assert status(env)["history"] is None
        stopped = run_posture("stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
    ((ended,),) = db_rows(home, "select ended_ms from sessions")
    assert ended is not None
    assert "Traceback" not in (home / "log" / "posture.log").read_text()


def test_a_lock_held_past_the_busy_timeout_is_a_status_not_an_exit(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    env = calibrated_home(tmp_path, material, FAST_RETRY)
    with started_monitor(env, material["clip"]) as home:
        wait_for(lambda: sample_count(home) >= 3, 60, "no samples written")
        other = sqlite3.connect(home / "data" / "history.sqlite3", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            line = wait_for(lambda: history_line(env), 40, "the lock was never noticed")
            assert str(line).startswith("database locked by another program; keeping ")
            locked_at = time.time() * 1000
            shown = run_posture("status", env=env).stdout
            assert "history      database locked by another program; keeping" in shown
        finally:
            other.execute("ROLLBACK")
            other.close()
        wait_for(lambda: history_line(env) is None, 40, "the fault never cleared")
        stopped = run_posture("stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
    (during,) = db_rows(home, f"select count(*) from samples where t_ms < {locked_at}")[0]
    assert isinstance(during, int) and during >= 3
    ((ended,),) = db_rows(home, "select ended_ms from sessions")
    assert ended is not None
    log = (home / "log" / "posture.log").read_text()
    assert log.count("history: database locked by another program") == 1
    assert "history: written the" in log


def test_the_database_deleted_during_a_run_is_noticed_and_made_again(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    env = calibrated_home(tmp_path, material, "[monitor]\nhistory_retry = 3\n")
    with started_monitor(env, material["clip"]) as home:
        wait_for(lambda: sample_count(home) >= 3, 60, "no samples written")
        db = home / "data" / "history.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                db.with_name(db.name + suffix).unlink()
        deleted_at = time.time() * 1000
        line = wait_for(lambda: history_line(env), 30, "the deletion was never noticed")
        assert str(line).startswith("database file deleted; keeping ")
        wait_for(lambda: history_line(env) is None, 30, "no new database was made")
        assert db.exists()
        stopped = run_posture("stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
    ((started, ended),) = db_rows(home, "select started_ms, ended_ms from sessions")
    assert ended is not None and started < deleted_at
    (kept,) = db_rows(home, "select count(*) from samples")[0]
    assert isinstance(kept, int) and kept >= 1  # what the monitor saw since
    log = (home / "log" / "posture.log").read_text()
    assert "history: database file deleted" in log and "was deleted; a new one" in log


@pytest.fixture
def tmpfs_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(home)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield home
    finally:
        subprocess.run(["umount", "-l", str(home)], check=False)


def fill(folder: Path) -> Path:
    """A file that takes every free byte of the file system."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_a_status_and_the_samples_are_written_after(
    tmpfs_home: Path, tmp_path: Path, material: dict[str, Path]
) -> None:
    env = calibrated_home(tmp_path, material, FAST_RETRY)
    assert Path(env["POSTURE_HOME"]) == tmpfs_home
    with started_monitor(env, material["clip"]) as home:
        wait_for(lambda: sample_count(home) >= 3, 60, "no samples written")
        filler = fill(home)
        full_at = time.time() * 1000
        line = wait_for(lambda: history_line(env), 60, "the full disk was never noticed")
        assert str(line).startswith("disk full; keeping ")
        time.sleep(2)
        assert "disk full" in run_posture("status", env=env).stdout  # still alive
        filler.unlink()
        freed_at = time.time() * 1000
        wait_for(lambda: history_line(env) is None, 60, "the fault never cleared")
        stopped = run_posture("stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
    (during,) = db_rows(
        home, f"select count(*) from samples where t_ms between {full_at} and {freed_at}"
    )[0]
    assert isinstance(during, int) and during >= 2  # kept in memory, written after
    ((ended,),) = db_rows(home, "select ended_ms from sessions")
    assert ended is not None
    log = (home / "log" / "posture.log").read_text()
    assert log.count("history: disk full") == 1
