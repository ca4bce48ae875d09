"""The monitor's history: sessions, samples, episodes, nudges and periods in SQLite.

One file, ``history.sqlite3`` in the data folder (the caller passes the path), written
by the background monitor all day and read by the report while it is being written.

Concurrency
    The database runs in WAL mode: one writer (the monitor, through `History`) and any
    number of readers (`History.open_readonly`) work at the same time without blocking
    each other; a busy timeout covers the short moments where they must wait (opening,
    checkpoints). A reader should not hold one read transaction open for long: while it
    does, the WAL cannot be checkpointed past its snapshot and keeps growing.

Durability
    ``synchronous=NORMAL`` in WAL mode: every committed transaction survives a crash of
    the process (SIGKILL, a Python crash); only a power loss or OS crash can lose the
    last transactions, never corrupt the file. Samples are buffered in memory and written
    in one transaction per flush (`maybe_flush`, every `flush_every` seconds), so a crash
    loses at most the samples of the last `flush_every` seconds. Everything else
    (sessions, episodes, nudges, periods) is written through at once.

Time
    Every stored time is INTEGER milliseconds since the Unix epoch, UTC (wall clock, for
    the report). `maybe_flush` alone takes a monotonic clock reading in seconds, passed in
    by the caller: this module never reads a clock except for `migrations.applied_ms`.

Privacy
    Numbers and short texts only, never image data. The file and its ``-wal``/``-shm``
    companions are created with mode 0600 in a folder with mode 0700.

Schema and migrations
    `MIGRATIONS` is an ordered list; each one runs in its own transaction that also
    records it in the ``migrations`` table and sets ``PRAGMA user_version`` to its
    version. Migration 1 creates everything; 3 rebuilds the tables with row ids with
    AUTOINCREMENT, so that an id a prune deleted is never handed out again. A database
    from a newer posture (a higher ``user_version`` than this code knows), a damaged
    file or a file that is not a posture history raise `HistoryError` and are never
    modified: an existing file is first checked through a separate read-only connection
    (its version, its tables and ``PRAGMA quick_check``, about a quarter of a second for
    a month of samples).

Run-time faults
    Once open, a write that fails for a reason outside posture (disk full, another
    program holding the write lock past the busy timeout, a read-only or failing disk)
    raises `posture.ports.HistoryUnavailable` with a short reason and leaves nothing
    half-written: buffered samples stay buffered, the call may be repeated. Before every
    write the file at `path` is compared with the one opened (device and inode): a
    deleted database is reported once ("database file deleted") and at the next attempt
    a new private one is created at the path, into which the running sessions and their
    open episodes and periods are written again (with their ids), so the monitor's rows
    go on; what was only in the deleted file is gone. A database replaced by another
    file ("database file replaced") is never written into: the fault lasts until the
    original is back or the path is free. A running session deleted by another program
    (a foreign-key failure) is written again the same way.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from posture.adapters.private import ensure_private_dir, refuse_links
from posture.core import vocab
from posture.errors import PostureError
from posture.ports import HistoryUnavailable

if TYPE_CHECKING:
    from posture.core.nudges import DayTally

__all__ = [
    "FEATURE_COLUMNS",
    "HISTORY_FILE",
    "MIGRATIONS",
    "PERIOD_KINDS",
    "SCHEMA_VERSION",
    "VERDICTS",
    "History",
    "HistoryError",
    "retention_cutoff",
]

log = logging.getLogger("posture")
_T = TypeVar("_T")

DAY_MS = 86_400_000
#: Wall clocks before this (2020-01-01 UTC) are not believed: a reset real-time clock.
_PLAUSIBLE_MS = 1_577_836_800_000

#: The history's file name in the data folder.
HISTORY_FILE = "history.sqlite3"

#: The feature values kept with every sample (`posture.core.features` names); others are ignored.
FEATURE_COLUMNS: tuple[str, ...] = (
    "head_height",
    "ear_height",
    "shoulder_width",
    "face_width",
    "head_pitch",
    "head_roll",
    "shoulder_tilt",
    "head_offset",
    "neck_inclination",
)

VERDICTS: frozenset[str] = frozenset({"good", "bad", "uncertain", "away"})
PERIOD_KINDS: frozenset[str] = frozenset(vocab.PERIOD_KINDS)

#: Milliseconds a connection waits for a lock held by another one before giving up.
BUSY_TIMEOUT_MS = 5000

#: `maybe_flush` flushes a buffer this large whatever the time; `add_sample` flushes at
#: `_HARD_LIMIT` rows even if `maybe_flush` is never called, so memory stays bounded.
FLUSH_ROWS = 500
_HARD_LIMIT = 10 * FLUSH_ROWS

_FEATURE_DDL = ",\n    ".join(f"{name} REAL" for name in FEATURE_COLUMNS)

#: (version, name, statements); applied in order, each in one transaction.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "create sessions, samples, episodes, nudges, periods",
        (
            """CREATE TABLE migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_ms INTEGER NOT NULL
)""",
            """CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER,
    profile TEXT NOT NULL,
    source TEXT NOT NULL,
    settings_json TEXT NOT NULL
)""",
            "CREATE INDEX sessions_started ON sessions (started_ms)",
            f"""CREATE TABLE samples (
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    t_ms INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    score REAL,
    state TEXT NOT NULL,
    {_FEATURE_DDL}
)""",
            "CREATE INDEX samples_t ON samples (t_ms)",
            "CREATE INDEX samples_session ON samples (session_id, t_ms)",
            """CREATE TABLE episodes (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    start_ms INTEGER NOT NULL,
    end_ms INTEGER,
    kind TEXT NOT NULL,
    peak REAL
)""",
            "CREATE INDEX episodes_start ON episodes (start_ms)",
            "CREATE INDEX episodes_session ON episodes (session_id)",
            """CREATE TABLE nudges (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    t_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    backend TEXT NOT NULL,
    corrected_after_ms INTEGER
)""",
            "CREATE INDEX nudges_t ON nudges (t_ms)",
            "CREATE INDEX nudges_session ON nudges (session_id)",
            """CREATE TABLE periods (
    id INTEGER PRIMARY KEY,
    session_id INTEGER NOT NULL REFERENCES sessions (id),
    kind TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER
)""",
            "CREATE INDEX periods_start ON periods (start_ms)",
            "CREATE INDEX periods_session ON periods (session_id)",
        ),
    ),
    (
        2,
        "samples: the problems found (space-separated), for time per problem in the report",
        ("ALTER TABLE samples ADD COLUMN problems TEXT",),
    ),
)


def _never_reused(created: tuple[str, ...]) -> tuple[str, ...]:
    """Migration 3's statements: each table with row ids rebuilt with AUTOINCREMENT (so
    an id deleted by a prune is never handed out again), from migration 1's own DDL.
    Runs with foreign keys off (`History._connect`), as a table rebuild must."""
    statements: list[str] = []
    for table in ("sessions", "episodes", "nudges", "periods"):
        (ddl,) = (s for s in created if s.startswith(f"CREATE TABLE {table} ("))
        new = ddl.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {table}_new (", 1)
        new = new.replace("id INTEGER PRIMARY KEY,", "id INTEGER PRIMARY KEY AUTOINCREMENT,", 1)
        statements += [
            new,
            f"INSERT INTO {table}_new SELECT * FROM {table}",
            f"DROP TABLE {table}",
            f"ALTER TABLE {table}_new RENAME TO {table}",
            *(s for s in created if s.startswith("CREATE INDEX") and f" ON {table} (" in s),
        ]
    return tuple(statements)


MIGRATIONS += (
    (
        3,
        "sessions, episodes, nudges, periods: ids never reused after a prune (AUTOINCREMENT)",
        _never_reused(MIGRATIONS[0][2]),
    ),
)

#: The schema version this code writes and reads.
SCHEMA_VERSION = MIGRATIONS[-1][0]

_TABLES = ("sessions", "samples", "episodes", "nudges", "periods", "migrations")
_CHILD_TABLES = ("samples", "episodes", "nudges", "periods")

_INSERT_SAMPLE = (
    "INSERT INTO samples (session_id, t_ms, verdict, score, state, problems, "
    f"{', '.join(FEATURE_COLUMNS)}) VALUES ({', '.join('?' * (6 + len(FEATURE_COLUMNS)))})"
)

_Row = tuple[object, ...]


class HistoryError(PostureError):
    """The history database cannot be used: newer, damaged, missing or not writable."""


#: SQLite primary result codes -> the short reason of a run-time fault.
_REASONS = {
    5: "database locked by another program",  # SQLITE_BUSY
    6: "database locked by another program",  # SQLITE_LOCKED
    8: "read-only",  # SQLITE_READONLY
    10: "I/O error",  # SQLITE_IOERR
    11: "database damaged",  # SQLITE_CORRUPT
    13: "disk full",  # SQLITE_FULL
    14: "cannot open the database file",  # SQLITE_CANTOPEN
    26: "database damaged",  # SQLITE_NOTADB
}
_OS_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk full",
    errno.EROFS: "read-only",
    errno.EACCES: "read-only",
    errno.EPERM: "read-only",
}


def _unavailable(err: sqlite3.Error | OSError) -> HistoryUnavailable:
    """A run-time fault with its short reason, for the status."""
    if isinstance(err, OSError):
        return HistoryUnavailable(_OS_REASONS.get(err.errno or 0, "I/O error"), str(err))
    code = getattr(err, "sqlite_errorcode", None)
    reason = _REASONS.get(code & 0xFF, "database error") if isinstance(code, int) else None
    if reason is None:
        text = str(err).lower()
        reason = next(
            (r for key, r in (("full", "disk full"), ("locked", _REASONS[5])) if key in text),
            "database error",
        )
    return HistoryUnavailable(reason, str(err))


def retention_cutoff(now_ms: int, newest_ms: int | None, days: int) -> tuple[int | None, str]:
    """Where the retention prune cuts: `days` before the newer of now and the newest
    stored row's time, whichever is earlier; (None, why) when it must not run: no
    history, or a wall clock that is not plausible (before 2020, behind the newest row
    by more than a day, or ahead of it by more than the retention, where a prune relative
    to it would take everything)."""
    if newest_ms is None:
        return None, ""
    if now_ms < _PLAUSIBLE_MS:
        return None, "the wall clock is before 2020"
    if now_ms < newest_ms - DAY_MS:
        return None, "the wall clock is more than a day behind the newest history row"
    if now_ms > newest_ms + days * DAY_MS:
        return None, f"the wall clock is more than {days} days ahead of the newest history row"
    return min(now_ms, newest_ms) - days * DAY_MS, ""


def _companions(path: Path) -> tuple[Path, ...]:
    return (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))


def _tighten(path: Path) -> None:
    """Mode 0600 for the database and whichever of its -wal/-shm files exist."""
    if os.name != "posix":
        return
    for file in _companions(path):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except FileNotFoundError:
            pass


def _ro_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


def _ms(value: int, what: str) -> int:
    """An integer number of milliseconds (int or numpy integer; not a float, not a bool)."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be integer milliseconds, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be integer milliseconds, got {value!r}") from None


def _real(value: float | None) -> float | None:
    """A float for a REAL column; None and NaN become NULL."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _damaged(path: Path, err: BaseException) -> HistoryError:
    return HistoryError(
        f"history database {path} is damaged or not a posture history ({err}): "
        "move it aside and posture starts a new one"
    )


def _newer(path: Path, version: int) -> HistoryError:
    return HistoryError(
        f"history database {path} was written by a newer posture (schema {version}, "
        f"this one knows {SCHEMA_VERSION}): upgrade posture"
    )


def _failed(path: Path, err: sqlite3.Error) -> HistoryError:
    if type(err) is sqlite3.DatabaseError:  # "malformed", "file is not a database"
        return _damaged(path, err)
    return HistoryError(f"history database {path} cannot be used: {err}")


def _rollback(conn: sqlite3.Connection) -> None:
    """End a failed transaction; SQLite may have ended it itself (a full disk)."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _check_schema(conn: sqlite3.Connection, path: Path, *, allow_new: bool) -> int:
    """The database's schema version, after making sure this code may use it.

    Reads only. `allow_new`: an empty database (version 0, no tables) is fine (the
    writer creates the schema); otherwise version 0 means "not a posture history"."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    names = {
        str(row[0])
        for row in conn.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    }
    if version > SCHEMA_VERSION:
        raise _newer(path, version)
    if version == 0:
        if names or not allow_new:
            raise HistoryError(
                f"{path} is not a posture history database"
                + (" (it is empty)" if not names else "")
                + ": move it aside and posture starts a new one"
            )
        return 0
    missing = [table for table in _TABLES if table not in names]
    if missing:
        raise _damaged(path, RuntimeError(f"table {missing[0]} is missing"))
    return version


class History:
    """The writer: the monitor's one connection to the history database.

    Thread-safe (one lock around every call), but meant for one process at a time."""

    def __init__(self, path: Path, *, flush_every: float = 10.0) -> None:
        if not (isinstance(flush_every, (int, float)) and math.isfinite(flush_every)):
            raise ValueError(f"flush_every must be a finite number of seconds, got {flush_every!r}")
        if flush_every < 0:
            raise ValueError(f"flush_every must not be negative, got {flush_every!r}")
        self.path = Path(path)
        self.flush_every = float(flush_every)
        self._lock = threading.RLock()
        self._buffer: list[_Row] = []
        self._last_flush: float | None = None
        self._running: set[int] = set()  # sessions started here and not ended yet
        self._known: set[int] = set()  # session ids known to exist
        self._conn: sqlite3.Connection | None = None
        # To write again what a deleted file held of the running sessions: their rows and
        # their open episodes and periods, by id.
        self._session_rows: dict[int, tuple[object, ...]] = {}
        self._open_rows: dict[tuple[str, int], tuple[object, ...]] = {}
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self._lost: str | None = None  # "deleted" / "replaced" once noticed
        self._recreated = False
        try:
            ensure_private_dir(self.path.parent)
        except OSError as err:
            raise HistoryError(
                f"cannot create the folder {self.path.parent} for the history: {err}"
            ) from err
        # Never through a link: a dangling one would create the database at its target.
        refuse_links(*(self.path.with_name(self.path.name + s) for s in ("", "-wal", "-shm")))
        if self.path.exists():
            self._probe()
        self._conn = self._connect()
        self._identity = self._stat_identity()

    # --- opening --------------------------------------------------------------------

    def _probe(self) -> None:
        """Check an existing file through a read-only connection, before any write."""
        try:
            conn = sqlite3.connect(_ro_uri(self.path), uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as err:
            raise _failed(self.path, err) from err
        try:
            if _check_schema(conn, self.path, allow_new=True) == 0:
                return
            result = [str(row[0]) for row in conn.execute("PRAGMA quick_check(1)")]
            if result != ["ok"]:
                raise _damaged(self.path, RuntimeError(result[0] if result else "no answer"))
        except sqlite3.Error as err:
            raise _failed(self.path, err) from err
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        old_umask = os.umask(0o077)
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # explicit transactions only
                check_same_thread=False,  # guarded by self._lock
            )
        except sqlite3.Error as err:
            raise _failed(self.path, err) from err
        finally:
            os.umask(old_umask)
        try:
            _tighten(self.path)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if _check_schema(conn, self.path, allow_new=True) == 0:
                # Must precede the first table, and the switch to WAL, to take effect.
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            if mode != "wal":
                raise HistoryError(
                    f"history database {self.path} cannot use write-ahead logging "
                    f"(journal mode {mode}): keep the data folder on a local disk"
                )
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)  # foreign keys off: a table rebuild must drop the old one
            conn.execute("PRAGMA foreign_keys = ON")
            _tighten(self.path)
        except sqlite3.Error as err:
            conn.close()
            raise _failed(self.path, err) from err
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        for version, name, statements in MIGRATIONS:
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if current > SCHEMA_VERSION:
                    raise _newer(self.path, current)
                if current >= version:
                    conn.execute("ROLLBACK")
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO migrations (version, name, applied_ms) VALUES (?, ?, ?)",
                    (version, name, time.time_ns() // 1_000_000),
                )
                conn.execute(f"PRAGMA user_version = {int(version)}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @classmethod
    def open_readonly(cls, path: Path) -> sqlite3.Connection:
        """A read-only connection for readers (the report); the caller closes it.

        It reads while the monitor writes. `HistoryError` when the file is missing,
        damaged, not a posture history, or from a newer posture."""
        path = Path(path)
        if not path.is_file():
            raise HistoryError(
                f"no history database at {path}: the monitor has not recorded anything yet"
            )
        try:
            conn = sqlite3.connect(
                _ro_uri(path),
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as err:
            raise _failed(path, err) from err
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _check_schema(conn, path, allow_new=False)
        except sqlite3.Error as err:
            conn.close()
            raise _failed(path, err) from err
        except BaseException:
            conn.close()
            raise
        return conn

    # --- plumbing ---------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"history {self.path} is closed")
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite failures of an open database (disk full, locks, a failing disk) as
        `HistoryUnavailable`; constraint and API misuse errors stay what they are: bugs."""
        try:
            yield
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise
        except sqlite3.DatabaseError as err:
            raise _unavailable(err) from err

    def _stat_identity(self) -> tuple[int, int] | None:
        """(device, inode) of the file at `path` (a link counts as another file); None
        when there is none."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise _unavailable(err) from err
        return (info.st_dev, info.st_ino)

    def _check_file(self) -> None:
        """Before a write: the file at `path` is still the one opened, else the fault;
        a deleted one is replaced by a new database at the second attempt."""
        found = self._stat_identity()
        if found is not None and found == self._identity:
            self._lost = None
            return
        if found is None and self._lost == "deleted":
            self._recreate()
            return
        self._lost = "deleted" if found is None else "replaced"
        raise HistoryUnavailable(f"database file {self._lost}", str(self.path))

    def _recreate(self) -> None:
        """A new database at `path` holding the running sessions and their open rows."""
        try:
            ensure_private_dir(self.path.parent)
            new = self._connect()
        except (HistoryError, OSError) as err:
            # Nothing half-made stays behind: the next attempt starts from a free path.
            for file in _companions(self.path):
                with suppress(OSError):
                    file.unlink()
            if isinstance(err, OSError):
                raise _unavailable(err) from err
            raise HistoryUnavailable("database file deleted", str(err)) from err
        old, self._conn = self._conn, new
        if old is not None:
            with suppress(sqlite3.Error):
                old.close()
        self._identity = self._stat_identity()
        self._lost = None
        self._recreated = True
        self._known = set(self._running)
        with self._errors():
            self._restore(self._conn)
        log.warning(
            "history: %s was deleted; a new one holds the running session from now on",
            self.path,
        )

    def _restore(self, conn: sqlite3.Connection) -> bool:
        """Write again the running sessions and their open rows missing from the file,
        with their ids, in one transaction; whether any was missing."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            added = 0
            for sid, row in self._session_rows.items():
                added += conn.execute(
                    "INSERT OR IGNORE INTO sessions (id, started_ms, ended_ms, profile, source,"
                    " settings_json) VALUES (?, ?, NULL, ?, ?, ?)",
                    (sid, *row),
                ).rowcount
            for (table, row_id), row in self._open_rows.items():
                columns = "session_id, start_ms, end_ms, kind, peak"
                if table == "periods":
                    columns = "session_id, kind, start_ms, end_ms"
                marks = ", ".join("?" * (len(row) + 1))
                conn.execute(
                    f"INSERT OR IGNORE INTO {table} (id, {columns}) VALUES ({marks})",
                    (row_id, *row),
                )
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return added > 0

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._check_file()
        conn = self._db
        _rollback(conn)  # one a failed ROLLBACK left open
        with self._errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise

    def _write(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """`work` in one transaction; a running session deleted by another program (a
        foreign-key failure) is written again, and `work` retried once."""
        try:
            with self._transaction() as conn:
                return work(conn)
        except sqlite3.IntegrityError:
            with self._errors():
                if not self._restore(self._db):
                    raise
            log.warning("history: a running session was deleted by another program; kept it")
            with self._transaction() as conn:
                return work(conn)

    def _check_session(self, session_id: int) -> int:
        conn = self._db  # also: not closed
        session_id = operator.index(session_id)
        if session_id not in self._known:
            with self._errors():
                row = conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                raise ValueError(f"unknown history session {session_id}")
            self._known.add(session_id)
        return session_id

    def _update_one(self, sql: str, params: tuple[object, ...], what: str, row_id: int) -> None:
        with self._transaction() as conn:
            if conn.execute(sql, params).rowcount != 1:
                if what == "nudge" and self._session_rows and self._recreated:
                    return  # it was in the deleted file: already reported
                raise ValueError(f"unknown {what} {row_id}")

    # --- sessions -----------------------------------------------------------------------

    def start_session(
        self, started_ms: int, *, profile: str, source: str, settings: dict[str, object]
    ) -> int:
        """A new running session; returns its id."""
        started_ms = _ms(started_ms, "started_ms")
        row = (started_ms, str(profile), str(source), json.dumps(settings, default=str))
        with self._lock:
            session_id = self._insert(
                "INSERT INTO sessions (started_ms, ended_ms, profile, source, settings_json)"
                " VALUES (?, NULL, ?, ?, ?)",
                row,
            )
            self._known.add(session_id)
            self._running.add(session_id)
            self._session_rows[session_id] = row
        return session_id

    def _insert(self, sql: str, params: tuple[object, ...]) -> int:
        def work(conn: sqlite3.Connection) -> int:
            row_id = conn.execute(sql, params).lastrowid
            assert row_id is not None
            return row_id

        return self._write(work)

    def end_session(self, session_id: int, ended_ms: int) -> None:
        """Flush the buffered samples, end the session, and end its episodes and periods
        still open at `ended_ms`."""
        ended_ms = _ms(ended_ms, "ended_ms")
        with self._lock:
            session_id = self._check_session(session_id)
            self._flush()

            def work(conn: sqlite3.Connection) -> None:
                conn.execute(
                    "UPDATE sessions SET ended_ms = ? WHERE id = ?", (ended_ms, session_id)
                )
                for table in ("episodes", "periods"):
                    conn.execute(
                        f"UPDATE {table} SET end_ms = max(start_ms, ?)"
                        " WHERE session_id = ? AND end_ms IS NULL",
                        (ended_ms, session_id),
                    )

            self._write(work)
            self._running.discard(session_id)
            self._session_rows.pop(session_id, None)
            for key in [k for k, row in self._open_rows.items() if row[0] == session_id]:
                del self._open_rows[key]

    def day_so_far(self, since_ms: int, day: str) -> DayTally:
        """Today's figures already recorded (sessions before this one): seconds per
        verdict by `posture.core.tally`'s rule, and posture nudges, since `since_ms`
        (local midnight of `day`)."""
        from posture.core import tally
        from posture.core.nudges import tally_rows

        since_ms = _ms(since_ms, "since_ms")
        stop_kinds = ", ".join("?" * len(tally.STOPS))
        with self._lock, self._errors():
            conn = self._db
            rows = conn.execute(
                "SELECT session_id, t_ms, verdict FROM samples WHERE t_ms >= ?"
                " ORDER BY session_id, t_ms",
                (since_ms,),
            ).fetchall()
            stops = conn.execute(
                f"SELECT session_id, start_ms FROM periods WHERE start_ms >= ?"
                f" AND kind IN ({stop_kinds})",
                (since_ms, *tally.STOPS),
            ).fetchall()
            nudges = conn.execute(
                "SELECT count(*) FROM nudges WHERE t_ms >= ? AND kind != 'test'", (since_ms,)
            ).fetchone()[0]
        return tally_rows(
            [(t, verdict) for _, t, verdict in rows],
            int(nudges),
            day,
            sessions=[sid for sid, _, _ in rows],
            stops=stops,
        )

    # --- samples --------------------------------------------------------------------------

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
        """Buffer one sample in memory; `maybe_flush`/`flush` write it.

        Features not in `FEATURE_COLUMNS` are ignored; NaN (and None) become NULL.
        `problems` are the problems the sample was bad for (NULL when none)."""
        t_ms = _ms(t_ms, "t_ms")
        if verdict not in VERDICTS:
            raise ValueError(
                f"unknown verdict {verdict!r}: expected one of {', '.join(sorted(VERDICTS))}"
            )
        values = [_real(features.get(name)) for name in FEATURE_COLUMNS]
        with self._lock:
            session_id = self._check_session(session_id)
            found = " ".join(problems) or None
            if len(self._buffer) >= _HARD_LIMIT - 1:
                self._flush()  # first: if it fails, this sample is not taken either
            self._buffer.append(
                (session_id, t_ms, verdict, _real(score), str(state), found, *values)
            )

    @property
    def buffered(self) -> int:
        """How many samples wait in memory."""
        return len(self._buffer)

    def health(self) -> str | None:
        """The file's trouble once noticed ("database file deleted"); None: none known."""
        lost = self._lost
        return None if lost is None else f"database file {lost}"

    def maybe_flush(self, now: float) -> bool:
        """Flush the buffered samples if `flush_every` seconds have passed since the last
        flush, or if `FLUSH_ROWS` of them wait; returns whether it wrote.

        `now` is a monotonic clock reading in seconds. The first call (and the first
        after `flush`, `end_session` or `prune`) only starts the clock, so call it after
        every `add_sample`: then a crash loses at most `flush_every` seconds of samples.
        With nothing buffered it writes nothing, and the next sample is written at the
        next call."""
        with self._lock:
            if self._last_flush is None:
                self._last_flush = now
            due = now - self._last_flush >= self.flush_every
            if not self._buffer or not (due or len(self._buffer) >= FLUSH_ROWS):
                return False
            self._flush()
            self._last_flush = now
            return True

    def flush(self) -> None:
        """Write the buffered samples now, in one transaction."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            rows = self._buffer
            self._write(lambda conn: conn.executemany(_INSERT_SAMPLE, rows))
            # Only now: on failure the rows stay buffered for the next attempt.
            self._buffer = []
        self._last_flush = None  # the flush clock restarts at the next maybe_flush

    # --- episodes, nudges, periods (written through) ---------------------------------------

    def add_episode(
        self, session_id: int, start_ms: int, end_ms: int | None, kind: str, peak: float
    ) -> int:
        start_ms = _ms(start_ms, "start_ms")
        end = None if end_ms is None else _ms(end_ms, "end_ms")
        with self._lock:
            session_id = self._check_session(session_id)
            row = (session_id, start_ms, end, str(kind), _real(peak))
            row_id = self._insert(
                "INSERT INTO episodes (session_id, start_ms, end_ms, kind, peak)"
                " VALUES (?, ?, ?, ?, ?)",
                row,
            )
            if end is None and session_id in self._running:
                self._open_rows["episodes", row_id] = row
        return row_id

    def close_episode(self, episode_id: int, end_ms: int, peak: float) -> None:
        end_ms = _ms(end_ms, "end_ms")
        with self._lock:
            self._update_one(
                "UPDATE episodes SET end_ms = ?, peak = ? WHERE id = ?",
                (end_ms, _real(peak), operator.index(episode_id)),
                "episode",
                episode_id,
            )
            self._open_rows.pop(("episodes", operator.index(episode_id)), None)

    def add_nudge(self, session_id: int, t_ms: int, kind: str, message: str, backend: str) -> int:
        t_ms = _ms(t_ms, "t_ms")
        with self._lock:
            session_id = self._check_session(session_id)
            return self._insert(
                "INSERT INTO nudges (session_id, t_ms, kind, message, backend)"
                " VALUES (?, ?, ?, ?, ?)",
                (session_id, t_ms, str(kind), str(message), str(backend)),
            )

    def set_nudge_corrected(self, nudge_id: int, corrected_after_ms: int) -> None:
        """How long after the nudge the posture was corrected, in milliseconds."""
        corrected_after_ms = _ms(corrected_after_ms, "corrected_after_ms")
        with self._lock:
            self._update_one(
                "UPDATE nudges SET corrected_after_ms = ? WHERE id = ?",
                (corrected_after_ms, operator.index(nudge_id)),
                "nudge",
                nudge_id,
            )

    def open_period(self, session_id: int, kind: str, start_ms: int) -> int:
        start_ms = _ms(start_ms, "start_ms")
        if kind not in PERIOD_KINDS:
            raise ValueError(
                f"unknown period kind {kind!r}: expected one of {', '.join(sorted(PERIOD_KINDS))}"
            )
        with self._lock:
            session_id = self._check_session(session_id)
            row = (session_id, kind, start_ms, None)
            row_id = self._insert(
                "INSERT INTO periods (session_id, kind, start_ms, end_ms) VALUES (?, ?, ?, ?)",
                row,
            )
            if session_id in self._running:
                self._open_rows["periods", row_id] = row
        return row_id

    def close_period(self, period_id: int, end_ms: int) -> None:
        end_ms = _ms(end_ms, "end_ms")
        with self._lock:
            self._update_one(
                "UPDATE periods SET end_ms = ? WHERE id = ?",
                (end_ms, operator.index(period_id)),
                "period",
                period_id,
            )
            self._open_rows.pop(("periods", operator.index(period_id)), None)

    # --- housekeeping ----------------------------------------------------------------------

    def newest_ms(self) -> int | None:
        """The time of the newest stored row (a sample, a session's start or end, an
        episode, a nudge, a period); None for an empty history."""
        parts = " UNION ALL ".join(
            f"SELECT max({column}) AS m FROM {table}"
            for table, column in (
                ("samples", "t_ms"),
                ("sessions", "started_ms"),
                ("sessions", "ended_ms"),
                ("nudges", "t_ms"),
                ("episodes", "start_ms"),
                ("periods", "start_ms"),
            )
        )
        with self._lock, self._errors():
            value = self._db.execute(f"SELECT max(m) FROM ({parts})").fetchone()
        return None if value[0] is None else int(value[0])

    def prune(self, before_ms: int, *, spare_newest_open: bool = False) -> dict[str, int]:
        """Delete what is older than `before_ms` and shrink the file.

        Samples and nudges before it; episodes and periods that ended before it (or, still
        open in a session that is not running here, i.e. abandoned by a crash, began
        before it); sessions that ended before it, with everything in them; sessions never
        ended (a crashed monitor) that began before it and hold nothing newer. Never a
        session running in this History; `spare_newest_open` (a monitor runs in another
        process: its session is the newest one not ended) also leaves that session and
        every row of it alone. Returns the number of rows deleted per table."""
        before_ms = _ms(before_ms, "before_ms")
        with self._lock:
            self._flush()
            counts = dict.fromkeys((*_CHILD_TABLES, "sessions"), 0)
            params = {"before": before_ms}
            with self._transaction() as conn:
                # Ids inlined: integers only, and SQLite accepts "IN ()".
                whole = self._newest_open(conn) if spare_newest_open else set()
                spared = ",".join(str(int(i)) for i in sorted(whole))
                running = ",".join(str(int(i)) for i in sorted(self._running | whole))
                doomed = [
                    (int(row[0]),)
                    for row in conn.execute(
                        f"""SELECT id FROM sessions s WHERE id NOT IN ({running})
                        AND (ended_ms < :before OR (ended_ms IS NULL AND started_ms < :before
                        AND NOT EXISTS (SELECT 1 FROM samples
                            WHERE session_id = s.id AND t_ms >= :before)
                        AND NOT EXISTS (SELECT 1 FROM nudges
                            WHERE session_id = s.id AND t_ms >= :before)
                        AND NOT EXISTS (SELECT 1 FROM episodes
                            WHERE session_id = s.id AND start_ms >= :before)
                        AND NOT EXISTS (SELECT 1 FROM periods
                            WHERE session_id = s.id AND start_ms >= :before)))""",
                        params,
                    )
                ]
                if doomed:
                    for table in _CHILD_TABLES:
                        counts[table] += conn.executemany(
                            f"DELETE FROM {table} WHERE session_id = ?", doomed
                        ).rowcount
                for table in ("samples", "nudges"):
                    counts[table] += conn.execute(
                        f"DELETE FROM {table} WHERE t_ms < :before"
                        f" AND session_id NOT IN ({spared})",
                        params,
                    ).rowcount
                for table in ("episodes", "periods"):
                    counts[table] += conn.execute(
                        f"""DELETE FROM {table} WHERE session_id NOT IN ({spared})
                        AND (end_ms < :before OR (end_ms IS NULL
                        AND start_ms < :before AND session_id NOT IN ({running})))""",
                        params,
                    ).rowcount
                if doomed:
                    counts["sessions"] += conn.executemany(
                        "DELETE FROM sessions WHERE id = ?", doomed
                    ).rowcount
            self._known.difference_update(i for (i,) in doomed)
            self._shrink()
            return counts

    @staticmethod
    def _newest_open(conn: sqlite3.Connection) -> set[int]:
        row = conn.execute("SELECT max(id) FROM sessions WHERE ended_ms IS NULL").fetchone()
        return set() if row[0] is None else {int(row[0])}

    def _shrink(self) -> None:
        conn = self._db
        with self._errors():
            if int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) == 2:
                # executescript, not execute: execute steps this pragma once, which frees
                # one page; executescript runs it to the end (every free page).
                conn.executescript("PRAGMA incremental_vacuum;")
            else:
                conn.execute("VACUUM")
            # Copies the WAL into the file (which truncates it to its new size) and empties
            # the WAL; a reader holding an old snapshot only makes it partial, not fail.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    # --- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Flush and close; safe to call twice."""
        with self._lock:
            conn = self._conn
            if conn is None:
                return
            try:
                self._flush()
                with self._errors():
                    conn.execute("PRAGMA optimize")
            finally:
                self._conn = None
                conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
