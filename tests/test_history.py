"""Tests for posture.adapters.storage.history: real SQLite files in tmp_path, read back
with plain SQL.

What they pin down: the schema and its migration record, WAL and the private file modes,
every table round-trips, samples are buffered until the flush clock says so, a reader
works beside the writer, a newer, damaged or foreign file is refused and left alone,
prune deletes the old and keeps the running, and a SIGKILL loses at most `flush_every`
seconds of samples.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posture.adapters.storage import history as history_module
from posture.adapters.storage.history import FEATURE_COLUMNS, SCHEMA_VERSION, History, HistoryError
from posture.errors import PostureError
from posture.ports import HistoryUnavailable

REPO = Path(__file__).resolve().parent.parent
T0 = 1_700_000_000_000  # ms since the epoch: 2023-11-14
DAY = 86_400_000
POSIX = os.name == "posix"
FEATURES = {name: 0.01 * (i + 1) for i, name in enumerate(FEATURE_COLUMNS)}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


@pytest.fixture
def hist(db: Path) -> Iterator[History]:
    with History(db) as h:
        yield h


def plain(path: Path) -> sqlite3.Connection:
    """A reader that is not History.open_readonly, to check what is really on disk."""
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def query(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    conn = plain(path)
    try:
        return [tuple(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


def count(path: Path, table: str) -> int:
    return int(query(path, f"SELECT count(*) FROM {table}")[0][0])


def session(h: History, started_ms: int = T0) -> int:
    return h.start_session(started_ms, profile="default", source="0", settings={"slouch": 30})


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# --- schema, modes, WAL -----------------------------------------------------------------


@pytest.mark.skipif(not POSIX, reason="file modes are POSIX")
def test_creates_schema_in_wal_mode_with_private_modes(db: Path) -> None:
    old = os.umask(0o022)  # a typical umask: SQLite alone would make 0644 files
    try:
        with History(db) as h:
            sid = session(h)
            h.add_sample(sid, T0, "good", 0.2, "upright", FEATURES)
            h.flush()
            wal = db.with_name(db.name + "-wal")
            shm = db.with_name(db.name + "-shm")
            assert wal.stat().st_size > 0
            assert mode(db) == 0o600
            assert mode(wal) == 0o600
            assert mode(shm) == 0o600
            assert mode(db.parent) == 0o700
            assert query(db, "PRAGMA journal_mode") == [("wal",)]
    finally:
        os.umask(old)

    assert query(db, "SELECT version, name FROM migrations")[0][0] == 1
    assert [row[0] for row in query(db, "SELECT version FROM migrations")] == [1, 2, 3]
    assert query(db, "PRAGMA user_version") == [(3,)]
    assert SCHEMA_VERSION == 3
    tables = {row[0] for row in query(db, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "samples", "episodes", "nudges", "periods", "migrations"} <= tables
    columns = [row[1] for row in query(db, "PRAGMA table_info(samples)")]
    assert columns == [
        "session_id",
        "t_ms",
        "verdict",
        "score",
        "state",
        *FEATURE_COLUMNS,
        "problems",
    ]
    assert not any("image" in c or "frame" in c for c in columns)
    # an index leads with the time column of every time-keyed table
    for table, column in [
        ("samples", "t_ms"),
        ("episodes", "start_ms"),
        ("nudges", "t_ms"),
        ("periods", "start_ms"),
    ]:
        leading = [
            query(db, f"PRAGMA index_info({index[1]})")[0][2]
            for index in query(db, f"PRAGMA index_list({table})")
        ]
        assert column in leading, table


@pytest.mark.skipif(not POSIX, reason="file modes are POSIX")
def test_reopening_tightens_modes_and_does_not_migrate_again(db: Path) -> None:
    History(db).close()
    db.chmod(0o644)
    db.parent.chmod(0o755)
    with History(db) as h:
        session(h)
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700
    assert count(db, "migrations") == 3  # each step once, not again
    assert count(db, "sessions") == 1


def test_history_error_is_a_posture_error() -> None:
    assert issubclass(HistoryError, PostureError)


# --- round trips --------------------------------------------------------------------------


def test_everything_round_trips_through_plain_sql(db: Path) -> None:
    with History(db) as h:
        sid = h.start_session(
            T0, profile="desk", source="camera:0", settings={"slouch_after": 30.0, "x": [1, 2]}
        )
        h.add_sample(sid, T0 + 2000, "good", 0.25, "upright", FEATURES)
        h.add_sample(sid, T0 + 4000, "bad", 1.5, "deviating", {"head_pitch": -12.5})
        h.flush()
        ep = h.add_episode(sid, T0 + 4000, None, "head_forward", 1.5)
        other = h.add_episode(sid, T0 + 8000, T0 + 9000, "tilt", 1.1)
        h.close_episode(ep, T0 + 60_000, 2.25)
        nudge = h.add_nudge(sid, T0 + 34_000, "slouch", "Sit up", "plyer")
        h.set_nudge_corrected(nudge, 7000)
        untouched = h.add_nudge(sid, T0 + 35_000, "test", "Test", "log")
        period = h.open_period(sid, "pause", T0 + 70_000)
        h.close_period(period, T0 + 80_000)
        still_open = h.open_period(sid, "camera_fault", T0 + 90_000)

        # visible to another connection while the writer runs
        assert query(db, "SELECT ended_ms FROM sessions") == [(None,)]
        assert query(db, "SELECT end_ms FROM periods WHERE id = ?", (still_open,)) == [(None,)]
        h.end_session(sid, T0 + 100_000)

    assert query(db, "SELECT id, started_ms, ended_ms, profile, source FROM sessions") == [
        (sid, T0, T0 + 100_000, "desk", "camera:0")
    ]
    settings = query(db, "SELECT settings_json FROM sessions")[0][0]
    assert isinstance(settings, str)
    assert json.loads(settings) == {"slouch_after": 30.0, "x": [1, 2]}

    rows = query(
        db,
        f"SELECT session_id, t_ms, verdict, score, state, {', '.join(FEATURE_COLUMNS)}"
        " FROM samples ORDER BY t_ms",
    )
    assert rows[0] == (sid, T0 + 2000, "good", 0.25, "upright", *FEATURES.values())
    pitch = FEATURE_COLUMNS.index("head_pitch")
    expected: list[float | None] = [None] * len(FEATURE_COLUMNS)
    expected[pitch] = -12.5
    assert rows[1] == (sid, T0 + 4000, "bad", 1.5, "deviating", *expected)
    assert isinstance(rows[0][1], int)

    assert query(db, "SELECT id, session_id, start_ms, end_ms, kind, peak FROM episodes") == [
        (ep, sid, T0 + 4000, T0 + 60_000, "head_forward", 2.25),
        (other, sid, T0 + 8000, T0 + 9000, "tilt", 1.1),
    ]
    assert query(
        db, "SELECT id, session_id, t_ms, kind, message, backend, corrected_after_ms FROM nudges"
    ) == [
        (nudge, sid, T0 + 34_000, "slouch", "Sit up", "plyer", 7000),
        (untouched, sid, T0 + 35_000, "test", "Test", "log", None),
    ]
    # end_session closed the period still open, at the session's end
    assert query(db, "SELECT id, session_id, kind, start_ms, end_ms FROM periods") == [
        (period, sid, "pause", T0 + 70_000, T0 + 80_000),
        (still_open, sid, "camera_fault", T0 + 90_000, T0 + 100_000),
    ]


def test_end_session_closes_an_open_episode_and_flushes(db: Path) -> None:
    with History(db) as h:
        sid = session(h)
        h.add_sample(sid, T0 + 1000, "bad", 1.2, "slouching", {})
        h.add_episode(sid, T0, None, "neck", 1.3)
        h.end_session(sid, T0 + 5000)
        assert count(db, "samples") == 1
        assert query(db, "SELECT end_ms FROM episodes") == [(T0 + 5000,)]


def test_nan_becomes_null_and_unknown_features_are_ignored(hist: History, db: Path) -> None:
    sid = session(hist)
    feats: dict[str, float | None] = {
        "head_height": math.nan,
        "face_width": None,
        "shoulder_width": 0.5,
        "trunk_inclination": 3.0,  # a real feature, but not a column
        "no_such_feature": 1.0,
    }
    hist.add_sample(sid, T0, "uncertain", math.nan, "uncertain", feats)
    hist.add_sample(sid, T0 + 2000, "away", None, "away", {})
    hist.add_episode(sid, T0, T0 + 1, "k", math.nan)
    hist.flush()
    row = query(db, "SELECT score, head_height, face_width, shoulder_width FROM samples")[0]
    assert row == (None, None, None, 0.5)
    assert query(db, "SELECT score FROM samples WHERE verdict = 'away'") == [(None,)]
    assert query(db, "SELECT peak FROM episodes") == [(None,)]
    names = [row[1] for row in query(db, "PRAGMA table_info(samples)")]
    assert "trunk_inclination" not in names and "no_such_feature" not in names


def test_bad_input_is_rejected(hist: History, db: Path) -> None:
    sid = session(hist)
    with pytest.raises(ValueError, match="verdict 'slouchy'"):
        hist.add_sample(sid, T0, "slouchy", 1.0, "upright", {})
    with pytest.raises(ValueError, match="period kind"):
        hist.open_period(sid, "lunch", T0)
    with pytest.raises(ValueError, match="unknown history session"):
        hist.add_sample(sid + 1, T0, "good", 0.1, "upright", {})
    with pytest.raises(ValueError, match="unknown history session"):
        hist.add_nudge(sid + 1, T0, "slouch", "m", "b")
    with pytest.raises(ValueError, match="unknown episode"):
        hist.close_episode(12345, T0, 1.0)
    with pytest.raises(ValueError, match="unknown period"):
        hist.close_period(12345, T0)
    with pytest.raises(ValueError, match="unknown nudge"):
        hist.set_nudge_corrected(12345, 1000)
    with pytest.raises(TypeError, match="milliseconds"):
        hist.add_sample(sid, 1.7e12, "good", 0.1, "upright", {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="flush_every"):
        History(db, flush_every=-1)
    hist.flush()
    assert count(db, "samples") == 0
    assert count(db, "periods") == 0


def test_close_is_idempotent_and_use_after_close_fails(db: Path) -> None:
    h = History(db)
    sid = session(h)
    h.add_sample(sid, T0, "good", 0.1, "upright", {})
    h.close()
    h.close()
    assert count(db, "samples") == 1  # close flushed
    with pytest.raises(RuntimeError, match="closed"):
        h.add_sample(sid, T0 + 1, "good", 0.1, "upright", {})
    with pytest.raises(RuntimeError, match="closed"):
        h.add_nudge(sid, T0, "test", "m", "b")


# --- buffering ----------------------------------------------------------------------------


def test_samples_wait_in_memory_until_flush_every_has_passed(db: Path) -> None:
    with History(db, flush_every=10.0) as h:
        sid = session(h)
        reader = History.open_readonly(db)
        try:

            def stored() -> int:
                return int(reader.execute("SELECT count(*) FROM samples").fetchone()[0])

            h.add_sample(sid, T0, "good", 0.1, "upright", FEATURES)
            assert h.maybe_flush(100.0) is False  # the first call starts the clock
            h.add_sample(sid, T0 + 2000, "good", 0.1, "upright", FEATURES)
            assert h.maybe_flush(105.0) is False
            h.add_sample(sid, T0 + 4000, "bad", 1.1, "deviating", FEATURES)
            assert h.maybe_flush(109.99) is False
            assert stored() == 0
            assert h.buffered == 3
            assert h.maybe_flush(110.0) is True
            assert stored() == 3
            assert h.buffered == 0

            h.add_sample(sid, T0 + 6000, "good", 0.1, "upright", FEATURES)
            assert h.maybe_flush(115.0) is False
            assert stored() == 3
            assert h.maybe_flush(120.0) is True
            assert stored() == 4
            assert h.maybe_flush(140.0) is False  # nothing to write
        finally:
            reader.close()


def test_a_large_buffer_is_flushed_before_its_time(hist: History, db: Path) -> None:
    sid = session(hist)
    assert hist.maybe_flush(0.0) is False
    for i in range(history_module.FLUSH_ROWS - 1):
        hist.add_sample(sid, T0 + i, "good", 0.1, "upright", {})
    assert hist.maybe_flush(0.5) is False
    hist.add_sample(sid, T0 + 10_000, "good", 0.1, "upright", {})
    assert hist.maybe_flush(1.0) is True
    assert count(db, "samples") == history_module.FLUSH_ROWS


def test_a_failed_flush_keeps_the_samples_for_the_next_one(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_module, "BUSY_TIMEOUT_MS", 50)
    with History(db) as h:
        sid = session(h)
        h.add_sample(sid, T0, "good", 0.1, "upright", {})
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
            with pytest.raises(HistoryUnavailable, match="locked") as err:
                h.flush()
            assert err.value.reason == "database locked by another program"
            assert h.buffered == 1
            other.execute("ROLLBACK")
        finally:
            other.close()
        h.flush()
        assert h.buffered == 0
        assert count(db, "samples") == 1


# --- readers ------------------------------------------------------------------------------


def test_a_reader_reads_while_the_writer_writes(db: Path) -> None:
    with History(db) as h:
        sid = session(h)
        for i in range(10):
            h.add_sample(sid, T0 + 2000 * i, "good", 0.1, "upright", FEATURES)
        h.flush()
        reader = History.open_readonly(db)
        try:
            assert reader.execute("SELECT count(*) FROM samples").fetchone() == (10,)
            # a read transaction in progress (a report halfway through) ...
            reader.execute("BEGIN")
            assert reader.execute("SELECT count(*) FROM samples").fetchone() == (10,)
            # ... does not stop the writer, and sees its own snapshot
            for i in range(10, 30):
                h.add_sample(sid, T0 + 2000 * i, "bad", 1.2, "slouching", FEATURES)
            h.flush()
            h.add_nudge(sid, T0 + 60_000, "slouch", "Sit up", "plyer")
            assert reader.execute("SELECT count(*) FROM samples").fetchone() == (10,)
            reader.execute("COMMIT")
            assert reader.execute("SELECT count(*) FROM samples").fetchone() == (30,)
            assert reader.execute("SELECT count(*) FROM nudges").fetchone() == (1,)
            assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                reader.execute("DELETE FROM samples")
        finally:
            reader.close()
        h.add_sample(sid, T0 + 100_000, "good", 0.1, "upright", FEATURES)
    assert count(db, "samples") == 31


def test_open_readonly_works_after_the_writer_closed(db: Path) -> None:
    with History(db) as h:
        sid = session(h)
        h.add_sample(sid, T0, "good", 0.1, "upright", {})
    reader = History.open_readonly(db)
    try:
        assert reader.execute("SELECT count(*) FROM samples").fetchone() == (1,)
    finally:
        reader.close()


# --- refusing files it must not touch ----------------------------------------------------


def test_a_newer_schema_is_refused_politely_and_left_alone(db: Path) -> None:
    with History(db) as h:
        session(h)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = db.read_bytes()

    message = (
        f"history database {db} was written by a newer posture (schema 99, this one knows "
        f"{SCHEMA_VERSION}): upgrade posture"
    )
    with pytest.raises(HistoryError) as err:
        History(db)
    assert str(err.value) == message
    assert "\n" not in str(err.value)
    with pytest.raises(HistoryError) as err:
        History.open_readonly(db)
    assert str(err.value) == message
    assert db.read_bytes() == before


def test_a_garbage_file_is_refused_by_name_and_left_alone(db: Path) -> None:
    db.parent.mkdir(parents=True)
    garbage = b"this is not a database, just some notes\n" * 200
    db.write_bytes(garbage)
    with pytest.raises(HistoryError, match="damaged") as err:
        History(db)
    assert str(db) in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(HistoryError) as err:
        History.open_readonly(db)
    assert str(db) in str(err.value)
    assert db.read_bytes() == garbage


def test_another_programs_database_is_refused_and_left_alone(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with pytest.raises(HistoryError, match="not a posture history database") as err:
        History(db)
    assert str(db) in str(err.value)
    assert db.read_bytes() == before


def test_a_damaged_history_is_refused_and_left_alone(db: Path) -> None:
    with History(db) as h:
        sid = session(h)
        for i in range(5000):
            h.add_sample(sid, T0 + 2000 * i, "good", 0.1, "upright", FEATURES)
    page_size = int(query(db, "PRAGMA page_size")[0][0])
    pages = db.stat().st_size // page_size
    assert pages > 20
    data = bytearray(db.read_bytes())
    middle = pages // 2 * page_size
    data[middle : middle + page_size] = b"\xa5" * page_size
    db.write_bytes(bytes(data))

    with pytest.raises(HistoryError, match="damaged") as err:
        History(db)
    assert str(db) in str(err.value)
    assert db.read_bytes() == bytes(data)


def test_open_readonly_refuses_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "history.sqlite3"
    with pytest.raises(HistoryError, match="no history database") as err:
        History.open_readonly(missing)
    assert str(missing) in str(err.value)
    assert not missing.exists()


# --- prune ----------------------------------------------------------------------------------


def test_prune_deletes_the_old_keeps_the_recent_and_the_running(db: Path) -> None:
    cutoff = T0 + 30 * DAY
    with History(db) as h:
        # a session long finished
        old = session(h, T0)
        for i in range(20_000):
            h.add_sample(old, T0 + 1000 * i, "good", 0.1, "upright", FEATURES)
        h.add_episode(old, T0, T0 + 60_000, "neck", 1.4)
        h.add_nudge(old, T0 + 30_000, "slouch", "Sit up", "plyer")
        h.open_period(old, "pause", T0 + 100_000)
        h.end_session(old, T0 + DAY)
        # a session a crashed monitor never ended, inactive since before the cutoff
        abandoned = session(h, T0 + 2 * DAY)
        h.add_sample(abandoned, T0 + 2 * DAY, "good", 0.1, "upright", FEATURES)
        h.add_episode(abandoned, T0 + 2 * DAY, None, "tilt", 1.1)

    with History(db) as h:
        # a session finished after the cutoff: kept
        recent = session(h, cutoff + DAY)
        h.add_sample(recent, cutoff + DAY, "bad", 1.3, "slouching", FEATURES)
        h.end_session(recent, cutoff + 2 * DAY)

        # the running session began before the cutoff: its old rows go, it stays
        running = session(h, cutoff - DAY)
        h.add_sample(running, cutoff - DAY, "good", 0.1, "upright", FEATURES)
        h.add_sample(running, cutoff + 3 * DAY, "good", 0.1, "upright", FEATURES)
        h.add_episode(running, cutoff - DAY, cutoff - DAY + 60_000, "neck", 1.2)
        h.add_nudge(running, cutoff - DAY, "slouch", "Sit up", "plyer")
        open_pause = h.open_period(running, "snooze", cutoff - DAY)
        open_episode = h.add_episode(running, cutoff - DAY, None, "neck", 1.5)
        h.flush()

        wal = db.with_name(db.name + "-wal")
        size_before = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        counts = h.prune(cutoff)
        size_after = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

        assert counts == {
            "samples": 20_000 + 1 + 1,
            "episodes": 1 + 1 + 1,
            "nudges": 1 + 1,
            "periods": 1,
            "sessions": 2,
        }
        assert sorted(r[0] for r in query(db, "SELECT id FROM sessions")) == [recent, running]
        assert sorted(r[0] for r in query(db, "SELECT t_ms FROM samples")) == [
            cutoff + DAY,
            cutoff + 3 * DAY,
        ]
        assert query(db, "SELECT id FROM episodes") == [(open_episode,)]
        assert query(db, "SELECT id FROM periods") == [(open_pause,)]
        assert count(db, "nudges") == 0
        assert size_after < size_before
        assert query(db, "PRAGMA integrity_check") == [("ok",)]

        # the running session goes on as before
        h.add_sample(running, cutoff + 4 * DAY, "good", 0.1, "upright", FEATURES)
        h.close_period(open_pause, cutoff + 4 * DAY)
        h.end_session(running, cutoff + 5 * DAY)
        assert h.prune(cutoff) == dict.fromkeys(
            ("samples", "episodes", "nudges", "periods", "sessions"), 0
        )
    assert count(db, "samples") == 3


# --- crash --------------------------------------------------------------------------------

_CRASHER = """
import sys
from pathlib import Path
from posture.adapters.storage.history import History

T0 = int(sys.argv[2])
h = History(Path(sys.argv[1]), flush_every=10)
sid = h.start_session(T0, profile="default", source="0", settings={})
for second in range(26):  # fake monotonic times 0..25 s, one sample a second
    h.add_sample(sid, T0 + 1000 * second, "good", 0.1, "upright", {"head_pitch": 1.0})
    h.maybe_flush(float(second))
print("written", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not POSIX, reason="SIGKILL is POSIX")
def test_a_killed_monitor_loses_at_most_flush_every_seconds(db: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASHER, str(db), str(T0)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == "written\n", proc.stderr.read() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    last_written = T0 + 25_000
    reader = History.open_readonly(db)
    try:
        assert reader.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        times = [row[0] for row in reader.execute("SELECT t_ms FROM samples ORDER BY t_ms")]
        # everything flushed survived, in order, with nothing missing in between ...
        assert times == [T0 + 1000 * s for s in range(len(times))]
        # ... and at most flush_every seconds of samples were lost
        assert times[-1] >= last_written - 10_000
        assert reader.execute("SELECT ended_ms FROM sessions").fetchall() == [(None,)]
    finally:
        reader.close()

    # and the monitor can take up writing again
    with History(db) as h:
        sid = session(h, last_written + 60_000)
        h.add_sample(sid, last_written + 60_000, "good", 0.1, "upright", {})
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert count(db, "sessions") == 2


def test_an_old_database_is_migrated_and_the_step_recorded(tmp_path: Path) -> None:
    """A version-1 file (as the first monitor wrote it) gains the problems column."""
    import sqlite3 as sq

    from posture.adapters.storage.history import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    with sq.connect(path) as conn:
        version, name, statements = MIGRATIONS[0]
        for statement in statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO migrations (version, name, applied_ms) VALUES (?, ?, 0)", (version, name)
        )
        conn.execute("INSERT INTO sessions VALUES (1, 0, 5, 'default', 'camera:0', '{}')")
        conn.execute(
            "INSERT INTO samples (session_id, t_ms, verdict, state) "
            "VALUES (1, 1, 'good', 'upright')"
        )
        conn.execute("PRAGMA user_version = 1")
    with History(path) as store:
        session = store.start_session(10, profile="default", source="camera:0", settings={})
        store.add_sample(session, 11, "bad", 1.5, "deviating", {}, problems=["slouch", "too_close"])
        store.flush()
    with sq.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert [r[0] for r in conn.execute("SELECT version FROM migrations ORDER BY version")] == [
            1,
            2,
            3,
        ]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT id, ended_ms FROM sessions ORDER BY id").fetchall() == [
            (1, 5),
            (session, None),
        ]
        rows = conn.execute("SELECT t_ms, verdict, problems FROM samples ORDER BY t_ms").fetchall()
    assert rows == [(1, "good", None), (11, "bad", "slouch too_close")]


def test_ids_are_never_reused_after_a_prune(db: Path) -> None:
    """Issue 10: a prune that took the newest rows made the next session take their ids."""
    with History(db) as h:
        first = session(h, T0)
        episode = h.add_episode(first, T0, T0 + 1, "neck", 1.0)
        h.end_session(first, T0 + 10)
        h.prune(T0 + DAY)
        assert count(db, "sessions") == 0
        second = session(h, T0 + 2 * DAY)
        assert second > first
        assert h.add_episode(second, T0 + 2 * DAY, None, "neck", 1.0) > episode
