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

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import numpy as np

from posture.adapters.storage.history import History, HistoryError
from posture.core import stats
from posture.core.vocab import PROBLEMS, VERDICTS

__all__ = ["HistoryQueries", "disjoint", "load_samples"]

#: One word of the verdict-or-problems column (the problems of a bad sample, or the verdict).
_WORDS = (*VERDICTS, *PROBLEMS)

_SAMPLES_SQL = """SELECT count(*),
    {sessions}
    group_concat(t_ms - :lo),
    group_concat(CASE verdict WHEN 'bad' THEN coalesce(problems, 'bad') ELSE verdict END),
    group_concat(coalesce(CAST(score * 1000 AS INTEGER), -1))
FROM samples WHERE t_ms >= :lo AND t_ms < :hi"""


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


def _ints(text: str | None, n: int) -> stats.I64:
    if n == 0 or text is None:
        return np.zeros(0, dtype=np.int64)
    values = np.fromstring(text, dtype=np.int64, sep=",")
    if len(values) != n:
        raise HistoryError(f"the history returned {len(values)} values for {n} samples")
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
        raise HistoryError(f"the history returned {len(field_ends)} verdicts for {n} samples")
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


def _read_error(path: Path, err: sqlite3.Error) -> HistoryError:
    if type(err) is sqlite3.DatabaseError:  # "malformed", "file is not a database"
        return HistoryError(
            f"history database {path} is damaged or not a posture history ({err}): "
            "move it aside and posture starts a new one"
        )
    return HistoryError(f"history database {path} cannot be read: {err}")


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
            self._conn = History.open_readonly(self.path)
        try:
            yield self._conn
        except sqlite3.Error as err:
            raise _read_error(self.path, err) from err

    def sessions(self) -> tuple[stats.SessionRow, ...]:
        with self._reading() as conn:
            if conn is None:
                return ()
            rows = conn.execute("SELECT id, started_ms, ended_ms FROM sessions ORDER BY id")
            out = []
            for sid, started, ended in rows.fetchall():
                last = None
                if ended is None:
                    value = conn.execute(
                        "SELECT max(t_ms) FROM samples WHERE session_id = ?", (sid,)
                    ).fetchone()[0]
                    last = None if value is None else int(value)
                out.append(
                    stats.SessionRow(
                        id=int(sid),
                        started_ms=int(started),
                        ended_ms=None if ended is None else int(ended),
                        last_sample_ms=last,
                    )
                )
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
            stats.StoredEpisode(
                int(r[0]), int(r[1]), None if r[2] is None else int(r[2]), r[3], r[4]
            )
            for r in conn.execute(
                "SELECT session_id, start_ms, end_ms, kind, peak FROM episodes"
                " WHERE start_ms < :hi AND (end_ms IS NULL OR end_ms >= :lo)",
                params,
            )
        )
        nudges = tuple(
            stats.NudgeRow(int(r[0]), int(r[1]), str(r[2]), None if r[3] is None else int(r[3]))
            for r in conn.execute(
                "SELECT session_id, t_ms, kind, corrected_after_ms FROM nudges"
                " WHERE t_ms >= :lo AND t_ms < :hi",
                params,
            )
        )
        periods = tuple(
            stats.PeriodRow(int(r[0]), str(r[1]), int(r[2]), None if r[3] is None else int(r[3]))
            for r in conn.execute(
                "SELECT session_id, kind, start_ms, end_ms FROM periods"
                " WHERE start_ms < :hi AND (end_ms IS NULL OR end_ms >= :lo)",
                params,
            )
        )
        return stats.Rows(samples, tuple(sessions), episodes, nudges, periods)
