"""The ports: the small interfaces the core and the use cases need from hardware and the
operating system. Each adapter in `posture.adapters` implements one of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from posture.core.stats import Rows, SessionRow


# --- the report: reading the history ----------------------------------------------------
# Implemented by posture.adapters.storage.queries.HistoryQueries.


class HistoryReader(Protocol):
    """What the report reads from the monitor's history: plain rows and numpy columns,
    never a storage type. Read-only: nothing is ever written, and a monitor may be
    writing the history meanwhile. An empty or missing history has no sessions.

    Threading: a reader is used by the one thread that made it (it holds a connection)."""

    def sessions(self) -> tuple[SessionRow, ...]:
        """Every session in id order; an unended one with the time of its last sample.
        `running` is left False: whether a monitor runs now is the caller's answer."""
        ...

    def rows(self, sessions: Sequence[SessionRow], ranges: Sequence[tuple[int, int]]) -> Rows:
        """Everything a report over `ranges` (sorted, not overlapping) needs: the samples
        taken in them, and the episodes, nudges and periods that touch their span."""
        ...
