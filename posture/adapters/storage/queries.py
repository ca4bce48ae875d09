"""The report's reads of the history: sessions, and the rows of some time ranges.

`HistoryQueries` implements `posture.ports.HistoryReader`: it hands out plain data
(`posture.core.stats` rows, numpy columns), never a SQLite type, so the report above
it has no SQL.

Read-only (`History.open_readonly`: nothing is ever written to the history, and a newer,
damaged or foreign file is refused with one line). A missing file is an empty history:
nothing is created. The samples, the bulk of the history (one every 2 s: 1.3 million
rows for 90 days of 8 hours), come in ONE indexed range scan per time range, as columns:
SQLite aggregates them into a few long texts (`group_concat` of the times, of the
verdict-or-problems words and of the scores in thousandths) that numpy parses at C
speed. That is about twice as fast as fetching the rows as Python tuples, and four times
faster than computing each sample's time in SQL with a window function (LEAD() OVER
(PARTITION BY session_id ORDER BY t_ms) costs more than the whole report in SQLite;
numpy does the same in milliseconds). The other tables are small and read as rows.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from posture.adapters.storage.history import History, HistoryError
from posture.core import stats
from posture.core.vocab import PROBLEMS, VERDICTS

__all__ = ["HistoryQueries", "disjoint", "load_samples"]

#: The history's tables; a file up to this size is checked whole before a report.
TABLES = ("sessions", "samples", "episodes", "nudges", "periods", "migrations")
FULL_CHECK_BYTES = 64 * 1024 * 1024

#: One word of the verdict-or-problems column (the problems of a bad sample, or the verdict).
_WORDS = (*VERDICTS, *PROBLEMS)

_SAMPLES_SQL = """SELECT count(*),
    {sessions}
    group_concat(t_ms - :lo),
    group_concat(CASE verdict WHEN 'bad' THEN coalesce(problems, 'bad') ELSE verdict END),
    group_concat(coalesce(CAST(score * 1000 AS INTEGER), -1))
FROM samples WHERE t_ms >= :lo AND t_ms < :hi"""


# SQLite orders every number before every text and blob, so the integer bounds of these
# ranges also leave out a time another program stored as a text ("noon") or a blob.


def disjoint(sessions: Sequence[stats.SessionRow]) -> tuple[stats.I64, stats.I64] | None:
    """(start times, ids) of the sessions sorted by start, when no two overlap in time
    (always so for a live monitor: one runs at a time); None when some do (recordings
    replayed on a simulated clock can)."""
    ordered = sorted(sessions, key=lambda s: (s.started_ms, s.id))
    ends = [s.ended_ms if s.ended_ms is not None else s.last_seen_ms() for s in ordered]
    if any(b.started_ms < end for b, end in zip(ordered[1:], ends, strict=False)):
        return None
    return (
        np.array([s.started_ms for s in ordered], dtype=np.int64),
        np.array([s.id for s in ordered], dtype=np.int64),
    )


class Garbled(ValueError):
    """A column of the samples does not parse: the file holds what posture never writes."""


def _ints(text: str | None, n: int) -> stats.I64:
    if n == 0 or text is None:
        return np.zeros(0, dtype=np.int64)
    try:
        values = np.fromstring(text, dtype=np.int64, sep=",")
    except ValueError as err:
        raise Garbled(f"samples that are not numbers: {err}") from None
    if len(values) != n:
        raise Garbled(f"{len(values)} values for {n} samples")
    return values


def _words(text: str | None, n: int) -> tuple[stats.U8, stats.U8]:
    """(verdict codes, problem masks) from the words column of `_SAMPLES_SQL`: the
    verdict, or for a bad sample its problems ("slouch too_close", or "bad" when none
    were stored). Each word of the vocabulary is found with a few vectorised byte
    comparisons at the word starts; unknown words are ignored (the sample stays bad)."""
    verdict = np.full(n, stats.BAD, dtype=np.uint8)
    problems = np.zeros(n, dtype=np.uint8)
    if n == 0 or not text:
        return verdict, problems
    raw = np.frombuffer(text.encode("utf-8") + b"," * 16, dtype=np.uint8)
    comma, space = ord(","), ord(" ")
    field_ends = np.flatnonzero(raw[: len(raw) - 15] == comma)
    if len(field_ends) != n:
        raise Garbled(f"{len(field_ends)} verdicts for {n} samples")
    breaks = np.flatnonzero((raw[: len(raw) - 16] == comma) | (raw[: len(raw) - 16] == space))
    starts = np.r_[0, breaks + 1]
    initial = raw[starts]
    for word in _WORDS:
        code = word.encode("ascii")
        found = starts[initial == code[0]]
        for j, c in enumerate(code[1:], start=1):
            found = found[raw[found + j] == c]
        end = raw[found + len(code)]
        found = found[(end == comma) | (end == space)]
        fields = np.searchsorted(field_ends, found)
        if word in VERDICTS:
            verdict[fields] = VERDICTS.index(word)
        else:
            problems[fields] |= np.uint8(1 << PROBLEMS.index(word))
    return verdict, problems


def load_samples(
    conn: sqlite3.Connection,
    lo: int,
    hi: int,
    sessions: Sequence[stats.SessionRow] | None = None,
) -> stats.Samples:
    """The samples taken in [lo, hi), in one indexed scan, as columns.

    With `sessions` (all of them) that do not overlap in time, each sample's session is
    the one that started last before it, and the session column is not read (a tenth of
    the time); otherwise it is."""
    apart = None if sessions is None else disjoint(sessions)
    sql = _SAMPLES_SQL.format(sessions="" if apart else "group_concat(session_id),")
    row = conn.execute(sql, {"lo": lo, "hi": hi}).fetchone()
    n = int(row[0])
    times, words, scores = row[-3:]
    t_ms = _ints(times, n) + lo
    if apart is None:
        session = _ints(row[1], n)
    else:
        starts, ids = apart
        session = ids[np.maximum(np.searchsorted(starts, t_ms, side="right") - 1, 0)]
    verdict, problems = _words(words, n)
    milli = _ints(scores, n)
    return stats.Samples(
        session=session,
        t_ms=t_ms,
        verdict=verdict,
        problems=problems,
        score=np.where(milli >= 0, milli / 1000, np.nan),
    )


def _concat(parts: Sequence[stats.Samples]) -> stats.Samples:
    if len(parts) == 1:
        return parts[0]
    return stats.Samples(
        *(
            np.concatenate([getattr(p, name) for p in parts])
            for name in ("session", "t_ms", "verdict", "problems", "score")
        )
    )


def _damaged(path: Path, reason: object) -> HistoryError:
    return HistoryError(
        f"history database {path} is damaged or not a posture history ({reason}): "
        "move it aside and posture starts a new one"
    )


def _read_error(path: Path, err: sqlite3.Error) -> HistoryError:
    if type(err) is sqlite3.DatabaseError:  # "malformed", "file is not a database"
        return _damaged(path, err)
    return HistoryError(f"history database {path} cannot be read: {err}")


def _check(conn: sqlite3.Connection, path: Path) -> None:
    """`PRAGMA quick_check` before the first read: a damaged page can leave a query
    answering with part of the rows and no error, a report that looks right but is not.

    A whole file up to `FULL_CHECK_BYTES` (about a month of samples: 0.3 s); a larger
    one has its small tables checked (milliseconds) and not the samples, whose full
    check costs seconds (4 s for a year, 800 MB): the report reads only the sample pages
    of its period, and SQLite refuses a malformed page it reads ("damaged")."""
    size = path.stat().st_size
    targets = [None] if size <= FULL_CHECK_BYTES else [t for t in TABLES if t != "samples"]
    for table in targets:
        sql = "PRAGMA quick_check(1)" if table is None else f"PRAGMA quick_check({table})"
        result = [str(row[0]) for row in conn.execute(sql)]
        if result != ["ok"]:
            said = result[0].replace("*** in database main ***", "") if result else "no answer"
            raise _damaged(path, f"quick_check: {' '.join(said.split())[:200]}")


def _int(value: object) -> int | None:
    """A stored time or id as an int; None for what posture never writes there (a text,
    a blob, NULL, a float that is not finite or a whole number of milliseconds)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


#: The latest time a report can show (the end of year 9999, where Python's dates end).
MAX_MS = 253_402_300_799_999


def _time(value: object) -> int | None:
    """A stored time in ms, or None for one that is not (or not between 1970 and 9999)."""
    ms = _int(value)
    return ms if ms is not None and 0 <= ms <= MAX_MS else None


def _end(start: int, value: object) -> int | None:
    """A stored end time (None: still open), never before its start: older versions
    stored ends before starts after a backwards clock step, and those are clamped to the
    start, as is an end that is not a time at all."""
    if value is None:
        return None
    end = _time(value)
    return start if end is None else max(start, end)


def _after(value: object) -> int | None:
    """How long after a nudge the posture was corrected: never negative; not a time, None."""
    after = _int(value)
    return None if after is None else max(0, after)


def _real(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    return None


def _typed(rows: Iterable[Sequence[Any]], times: tuple[int, ...] = (0, 1)) -> Iterator[list[Any]]:
    """The rows whose id and time columns (`times`) hold integers (times between 1970
    and 9999), those made ints; a row another program wrote with a text there is left
    out rather than crash the report."""
    for row in rows:
        out = list(row)
        for column in times:
            value = _time(out[column])
            if value is None:
                break
            out[column] = value
        else:
            yield out


class HistoryQueries:
    """The history at `path`, read-only, for the report (a `HistoryReader`).

    The file is opened on the first read and held until `close` (or the end of a `with`
    block); one thread uses it. No file: no sessions, nothing created."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> HistoryQueries:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        """The connection (None without a file); SQLite's errors as one line naming it."""
        if self._conn is None and self.path.exists():
            conn = History.open_readonly(self.path)
            try:
                _check(conn, self.path)
            except sqlite3.Error as err:
                conn.close()
                raise _read_error(self.path, err) from err
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        try:
            yield self._conn
        except sqlite3.Error as err:
            raise _read_error(self.path, err) from err
        except Garbled as err:
            raise _damaged(self.path, err) from err

    def sessions(self) -> tuple[stats.SessionRow, ...]:
        with self._reading() as conn:
            if conn is None:
                return ()
            rows = conn.execute("SELECT id, started_ms, ended_ms FROM sessions ORDER BY id")
            out = []
            for raw_id, raw_start, raw_end in rows.fetchall():
                sid, started = _time(raw_id), _time(raw_start)
                if sid is None or started is None:  # not posture's: left out
                    continue
                ended, last = _end(started, raw_end), None
                if ended is None:
                    value = conn.execute(
                        "SELECT max(t_ms) FROM samples WHERE session_id = ? AND t_ms <= ?",
                        (sid, MAX_MS),
                    ).fetchone()[0]
                    last = None if value is None else _end(started, value)
                out.append(stats.SessionRow(sid, started, ended, last_sample_ms=last))
            return tuple(out)

    def rows(
        self, sessions: Sequence[stats.SessionRow], ranges: Sequence[tuple[int, int]]
    ) -> stats.Rows:
        with self._reading() as conn:
            if conn is None or not ranges:
                return stats.Rows(stats.Samples.empty(), tuple(sessions))
            return self._rows(conn, sessions, ranges)

    @staticmethod
    def _rows(
        conn: sqlite3.Connection,
        sessions: Sequence[stats.SessionRow],
        ranges: Sequence[tuple[int, int]],
    ) -> stats.Rows:
        lo, hi = ranges[0][0], ranges[-1][1]
        samples = _concat([load_samples(conn, a, b, sessions) for a, b in ranges]).ordered()
        params = {"lo": lo, "hi": hi}
        episodes = tuple(
            stats.StoredEpisode(sid, start, _end(start, end), str(kind), _real(peak))
            for sid, start, end, kind, peak in _typed(
                conn.execute(
                    "SELECT session_id, start_ms, end_ms, kind, peak FROM episodes"
                    " WHERE start_ms < :hi AND (end_ms IS NULL OR end_ms >= :lo)",
                    params,
                )
            )
        )
        nudges = tuple(
            stats.NudgeRow(sid, t, str(kind), _after(after), bool(held))
            for sid, t, kind, after, held in _typed(
                conn.execute(
                    "SELECT session_id, t_ms, kind, corrected_after_ms,"
                    " backend LIKE 'held:%' FROM nudges"
                    " WHERE t_ms >= :lo AND t_ms < :hi",
                    params,
                )
            )
        )
        periods = tuple(
            stats.PeriodRow(sid, str(kind), start, _end(start, end))
            for sid, kind, start, end in _typed(
                conn.execute(
                    "SELECT session_id, kind, start_ms, end_ms FROM periods"
                    " WHERE start_ms < :hi AND (end_ms IS NULL OR end_ms >= :lo)",
                    params,
                ),
                times=(0, 2),
            )
        )
        return stats.Rows(samples, tuple(sessions), episodes, nudges, periods)
