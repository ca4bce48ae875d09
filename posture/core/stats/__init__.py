"""The session report's figures: pure functions over history rows. No I/O, no clock.

The modules: `rows` (what is read from the history, as numpy columns), `figures` (the
rules below, one function each), `localtime` (zones, local hours and days), `timeline`
(hours, days, bands, scores) and `build` (`build_report`: all of them for one period).
This package exports what the report and the storage adapter use; tests of single rules
import them from their module.

Everything is passed in: the rows (`Rows`, read by the storage adapter behind
`ports.HistoryReader`), the period, the time `now_ms` and the local time zone. Times are
integer UTC milliseconds, as stored;
local time (hours, days) comes only from the `tzinfo` passed in. Samples are numpy
columns (`Samples`), so 90 days of history (1.3 million samples) take a few tens of
milliseconds here.

The rules, each a function below:

Time of a sample (`durations`)
    `posture.core.tally`'s rule, the one the monitor's summary and `posture status` use too:
    a sample counts from its time until the next sample of its session, at most
    `MAX_GAP_MS` (10 s: longer, and the monitor was not looking), and never past the
    start of a pause or a camera fault of its session (posture stopped looking). The
    last sample of a session counts nothing. A sample belongs wholly to the period, hour
    and day in which it was taken (so at most 10 s sit on the wrong side of a boundary).

Verdicts
    ``good`` is upright, ``bad`` a slouch (any problem), ``away`` and ``uncertain`` are
    away. *Present* time is good + bad; the upright share is good / present. A bad sample
    counts for each problem it names (`problem_seconds`), so the problems can add up to
    more than the bad time.

Open ends
    A session without an end is *running* (the monitor still holds it) or *crashed*. An
    open episode ends at its session's last sample (running or crashed); an open pause or
    other period ends now in a running session and at the last sample in a crashed one.

Episodes
    As the monitor recorded them, clipped to the period; an episode's length is its
    end minus its start (short absences inside belong to it, as the monitor decided; an
    absence over a minute, or any pause over a minute, ended it before).

Longest upright streak
    The most good time between two bad samples. Away and uncertain samples, pauses and
    gaps (the monitor off, another session) neither break a streak nor add to it.

Breaks
    Absences of at least 5 minutes: from the end of one present sample to the next
    present sample, on the same local day (so the night is no break), whatever filled
    the time: away or uncertain samples, a pause, a camera fault, the monitor stopped.

Nudges
    Posture nudges only (one of `PROBLEMS`; not break or recalibrate); *followed* when
    the posture was corrected within `FOLLOWED_MS` (60 s).

Hours and days
    `hourly`: every local clock hour of the period with samples; the worst hour is the
    clock hour (0-23, all days together) with the lowest upright share among those with
    at least 10 minutes present. `daily`: each of the last N local days (N = the days
    the period touches, at least 7) ending with the period's last day, with ALL the
    samples of each day (a session's report shows the week up to it).

A session's report (`build_report(session_id=...)`) counts only that session's samples,
episodes, nudges and pauses: sessions never overlap in time, except recordings replayed
on a simulated clock. Samples are taken in session order, then time order (which for
sessions that do not overlap is time order: the streak and the timeline need it).

Trend
    Against the previous period (`previous` in `build_report`: for a session the caller
    passes the previous session): (upright share now - then) x 100, in points.
"""

from posture.core.stats.build import build_report
from posture.core.stats.figures import Band, EpisodeRow, Report, trend_points
from posture.core.stats.localtime import zone, zone_name
from posture.core.stats.rows import (
    BAD,
    I64,
    MAX_GAP_MS,
    MIN_DAYS,
    U8,
    NudgeRow,
    PeriodRow,
    Rows,
    Samples,
    SessionRow,
    StoredEpisode,
    mark_running,
)
from posture.core.stats.timeline import session_shares
from posture.core.tally import upright_share
from posture.core.vocab import HOLD_TEXT

__all__ = [
    "BAD",
    "HOLD_TEXT",
    "I64",
    "MAX_GAP_MS",
    "MIN_DAYS",
    "U8",
    "Band",
    "EpisodeRow",
    "NudgeRow",
    "PeriodRow",
    "Report",
    "Rows",
    "Samples",
    "SessionRow",
    "StoredEpisode",
    "build_report",
    "mark_running",
    "session_shares",
    "trend_points",
    "upright_share",
    "zone",
    "zone_name",
]
