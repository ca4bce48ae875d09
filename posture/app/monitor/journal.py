"""The monitor's history through storage faults: a `HistoryWriter` in front of the real
one that never lets a run-time fault (`HistoryUnavailable`: disk full, a lock held by
another program, a deleted database...) reach the loop.

Every call goes straight through while the history works. When one fails, it and every
later call are kept in memory, in order, and the monitor goes on; a row id that the
history would have returned is a provisional one (negative), mapped to the real id when
the calls are written. The whole queue is tried again at `maybe_flush` after a back-off
(`retry` seconds, doubling up to ten times that) on the loop's monotonic clock, and at
`end_session` (the stop) once more whatever the back-off. At most `max_samples` samples
are kept (those waiting in the history's own buffer included); beyond that the oldest
are dropped. Sessions, episodes, nudges and periods are few and never dropped.

One log line when a fault begins (with its reason), one when it clears, one when samples
start being dropped, one at a stop that cannot write. `health()` is the status's line.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from posture.ports import HistoryUnavailable

if TYPE_CHECKING:
    from posture.core.nudges import DayTally
    from posture.ports import HistoryWriter

log = logging.getLogger("posture")

#: Samples kept in memory at most: about 11 hours at one look every 2 s.
MAX_SAMPLES = 20_000
#: The back-off doubles from `retry` up to this many times it (30 s -> 5 min).
BACKOFF_FACTOR = 10

#: The calls that return a new row id.
_CREATES = frozenset({"start_session", "add_episode", "add_nudge", "open_period"})


@dataclass
class _Call:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    provisional: int | None = None  # the id handed out for a row not written yet


class Journal:
    """Threading rule: the loop thread calls everything but `health`, which any thread
    may call (it reads a few plain values)."""

    def __init__(
        self, history: HistoryWriter, *, retry: float = 30.0, max_samples: int = MAX_SAMPLES
    ) -> None:
        if not retry > 0:
            raise ValueError(f"retry must be a positive number of seconds, got {retry!r}")
        self.history = history
        self.retry = float(retry)
        self.max_samples = max_samples
        self._calls: deque[_Call] = deque()
        self._ids: dict[int, int] = {}  # provisional -> real row id
        self._next_id = -1
        self._samples = 0  # samples among `_calls`
        self._dropped = 0
        self._fault: str | None = None
        self._backoff = 0.0
        self._retry_at: float | None = None  # None: from the next `maybe_flush`
        self._kept = 0  # samples in memory, ours and the history's, for `health`

    # --- the status ---------------------------------------------------------------------

    def health(self) -> str | None:
        """None while the history works, else e.g. "disk full; keeping 120 samples in
        memory, retrying in 30 s"."""
        fault = self._fault
        if fault is None:
            return None
        return f"{fault}; keeping {self._kept} samples in memory, retrying in {self._backoff:.0f} s"

    @property
    def buffered(self) -> int:
        return self._samples + self.history.buffered

    # --- the port -------------------------------------------------------------------------

    def day_so_far(self, since_ms: int, day: str) -> DayTally:
        try:
            return self.history.day_so_far(since_ms, day)
        except HistoryUnavailable as err:
            from posture.core.nudges import DayTally

            log.warning("%s; today's figures count from this session only", err)
            return DayTally()

    def start_session(
        self, started_ms: int, *, profile: str, source: str, settings: dict[str, object]
    ) -> int:
        return int(
            self._call(
                "start_session", started_ms, profile=profile, source=source, settings=settings
            )
        )

    def end_session(self, session_id: int, ended_ms: int) -> None:
        """End it; in a fault, one more attempt at writing everything kept (the stop)."""
        self._call("end_session", session_id, ended_ms)
        if self._fault is None:
            return
        try:
            self._write_kept()
        except HistoryUnavailable as err:
            lost = self.buffered
            self._calls.clear()
            self._samples = 0
            log.warning("%s at the stop: %d samples and the session's end not written", err, lost)

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
        self._call("add_sample", session_id, t_ms, verdict, score, state, features, problems)

    def maybe_flush(self, now: float) -> bool:
        """Flush as the history does; in a fault, try everything kept once the back-off
        has passed. `now`: monotonic seconds."""
        if self._fault is None:
            try:
                return self.history.maybe_flush(now)
            except HistoryUnavailable as err:
                self._begin(err)
        if self._retry_at is None:
            self._retry_at = now + self._backoff
        if now < self._retry_at:
            return False
        try:
            self._write_kept()
        except HistoryUnavailable as err:
            self._backoff = min(self.retry * BACKOFF_FACTOR, self._backoff * 2)
            self._retry_at = now + self._backoff
            if err.reason != self._fault:
                log.warning("%s; retrying in %.0f s", err, self._backoff)
                self._fault = err.reason
            return False
        return True

    def flush(self) -> None:
        if self._fault is None:
            try:
                self.history.flush()
            except HistoryUnavailable as err:
                self._begin(err)
        else:
            with contextlib.suppress(HistoryUnavailable):
                self._write_kept()

    def add_episode(
        self, session_id: int, start_ms: int, end_ms: int | None, kind: str, peak: float
    ) -> int:
        return int(self._call("add_episode", session_id, start_ms, end_ms, kind, peak))

    def close_episode(self, episode_id: int, end_ms: int, peak: float) -> None:
        self._call("close_episode", episode_id, end_ms, peak)

    def add_nudge(self, session_id: int, t_ms: int, kind: str, message: str, backend: str) -> int:
        return int(self._call("add_nudge", session_id, t_ms, kind, message, backend))

    def set_nudge_corrected(self, nudge_id: int, corrected_after_ms: int) -> None:
        self._call("set_nudge_corrected", nudge_id, corrected_after_ms)

    def open_period(self, session_id: int, kind: str, start_ms: int) -> int:
        return int(self._call("open_period", session_id, kind, start_ms))

    def close_period(self, period_id: int, end_ms: int) -> None:
        self._call("close_period", period_id, end_ms)

    # --- keeping and writing ----------------------------------------------------------------

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Straight through while the history works; else kept (a provisional id back)."""
        call = _Call(method, args, kwargs)
        if self._fault is None:
            try:
                return self._send(call)
            except HistoryUnavailable as err:
                self._begin(err)
        if method in _CREATES:
            call.provisional = self._next_id
            self._next_id -= 1
        self._calls.append(call)
        if method == "add_sample":
            self._samples += 1
            self._bound()
        self._kept = self.buffered
        return call.provisional

    def _send(self, call: _Call) -> Any:
        """One call to the history, its provisional row id (the first argument of every
        call but `start_session`) replaced by the real one."""
        args = call.args
        if call.method != "start_session" and args and args[0] < 0:
            args = (self._ids[args[0]], *args[1:])
        result = getattr(self.history, call.method)(*args, **call.kwargs)
        if call.provisional is not None:
            self._ids[call.provisional] = int(result)
        return result

    def _write_kept(self) -> None:
        """Every kept call in order, then the samples: `HistoryUnavailable` if the fault
        lasts (what was written is no longer kept)."""
        kept = self.buffered
        while self._calls:
            call = self._calls[0]
            try:
                self._send(call)
            except (ValueError, KeyError) as err:  # a row that went with a deleted file
                log.warning("history: %s not written: %s", call.method, err)
            self._calls.popleft()
            if call.method == "add_sample":
                self._samples -= 1
        self.history.flush()
        dropped = f" ({self._dropped} older ones were dropped)" if self._dropped else ""
        log.info("history: written the %d samples kept in memory%s; fault over", kept, dropped)
        self._fault, self._retry_at, self._dropped, self._kept = None, None, 0, 0

    def _begin(self, err: HistoryUnavailable) -> None:
        self._fault = err.reason
        self._backoff = self.retry
        self._retry_at = None
        self._kept = self.buffered
        log.warning("%s; keeping samples in memory, retrying in %.0f s", err, self._backoff)

    def _bound(self) -> None:
        """Drop the oldest kept samples beyond `max_samples` (said once per fault)."""
        while self._samples and self.buffered > self.max_samples:
            index = next(i for i, c in enumerate(self._calls) if c.method == "add_sample")
            del self._calls[index]
            self._samples -= 1
            if not self._dropped:
                log.warning(
                    "history: more than %d samples in memory; dropping the oldest",
                    self.max_samples,
                )
            self._dropped += 1
