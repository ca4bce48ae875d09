"""How long a sample counts: the one rule behind every "seconds seen".

The monitor's own tally (its end-of-session summary and `posture status`), the day's
figures `posture status` reads back from the history, and `posture report` all count time
with `sample_ms`. Pure: numpy only, no clock; times are the history's integer UTC
milliseconds.

The rule
    A sample counts from its time until the next event of its session: its next
    sample, or the start of a pause, a camera fault or a hold (`STOPS`), whichever first;
    at most `MAX_SAMPLE_MS` (10 s). A session's last sample, with nothing after it,
    counts nothing. The verdict does not enter into it: away and uncertain samples are
    counted like good and bad ones (the callers add them up as away time).

Why this rule (it is the report's, plus the cut at camera faults):

- *Until the next look.* The monitor decides when to look again (every 1, 2 or 5 s) and
  holds its verdict until then; the next sample is where that verdict was replaced.
- *Not into a pause.* The user told posture to stop looking: that time is paused, not
  seen. The monitor's tally used to run the last verdict on into the pause for up to a
  minute (302 s of upright replay with a 120 s pause: 240 s "seen", not 182 s).
- *Not into a camera fault.* The look that opened the fault found no picture: from then
  posture does not know where the user sat, exactly as in a pause. The report used to
  give the sample before a fault 10 s; the monitor gave it nothing.
- *At most 10 s.* Twice the longest default look interval (5 s while nobody is there).
  A longer gap with no pause or fault in it means the loop was not running (a suspended
  laptop: the monotonic clock stops, the wall clock does not; a stopped or crashed
  process; samples lost before a flush): that time was not seen. The monitor's cap was
  60 s only because it reused the camera back-off limit. Known limit: with look
  intervals configured above 10 s, each look counts 10 s.
- *The last sample counts nothing.* After a crash, how long the monitor went on looking
  is unknown; after a clean stop it is at most one interval. A running monitor counts a
  sample once its next event comes, so `status` and a report taken meanwhile agree.
- *No cut at midnight or at a report's ends.* A sample belongs wholly to the day, hour
  and period in which it was taken (at most 10 s sit across a boundary), so its figure
  never depends on the question asked: `status`'s "today" and `posture report --today`
  count the same samples the same way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from posture.core.vocab import HOLDS

__all__ = ["MAX_SAMPLE_MS", "STOPS", "sample_ms"]

#: The most one sample counts, in milliseconds.
MAX_SAMPLE_MS = 10_000
#: The kinds of history period whose start ends the time of the sample before it.
STOPS: tuple[str, ...] = ("pause", "camera_fault", *HOLDS)

_NONE = np.iinfo(np.int64).max  # no next event


def sample_ms(
    t_ms: npt.ArrayLike,
    session: npt.ArrayLike,
    stop_ms: npt.ArrayLike = (),
    stop_session: npt.ArrayLike = (),
    *,
    max_ms: int = MAX_SAMPLE_MS,
) -> npt.NDArray[np.int64]:
    """Milliseconds each sample counts (the rule in the module's docstring).

    `t_ms` and `session`: the samples, ordered by session, then time. `stop_ms` and
    `stop_session`: when each pause or camera fault started, and in which session, in any
    order; only a stop in a sample's own session, at or after its time, ends it. A
    sample taken at the same time as its next event counts 0 (so would one whose next
    event lies before it, were the wall clock set back).
    """
    t = np.asarray(t_ms, dtype=np.int64)
    s = np.asarray(session, dtype=np.int64)
    stop_t = np.asarray(stop_ms, dtype=np.int64)
    stop_s = np.asarray(stop_session, dtype=np.int64)
    if t.shape != s.shape or stop_t.shape != stop_s.shape:
        raise ValueError("times and sessions differ in length")
    if len(s) > 1 and not bool(np.all(s[1:] >= s[:-1])):
        raise ValueError("samples must be ordered by session, then time")
    end = np.full(len(t), _NONE, dtype=np.int64)
    if len(t) > 1:
        end[:-1] = np.where(s[1:] == s[:-1], t[1:], _NONE)
    for sid in np.unique(stop_s).tolist():
        lo, hi = np.searchsorted(s, sid, side="left"), np.searchsorted(s, sid, side="right")
        if lo == hi:
            continue
        starts = np.sort(stop_t[stop_s == sid])
        k = np.searchsorted(starts, t[lo:hi], side="left")
        found = k < len(starts)
        cut = starts[np.minimum(k, len(starts) - 1)]
        end[lo:hi] = np.where(found, np.minimum(end[lo:hi], cut), end[lo:hi])
    counted: npt.NDArray[np.int64] = np.where(
        end == _NONE, 0, np.clip(np.minimum(end, t + max_ms) - t, 0, max_ms)
    )
    return counted


def upright_share(upright_s: float, present_s: float) -> float | None:
    """The upright share (0..1): upright time over time seen at the desk; None when nobody
    was seen. The one definition: the monitor's summary, `status` and the report use it."""
    return upright_s / present_s if present_s > 0 else None
