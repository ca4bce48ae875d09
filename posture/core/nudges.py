"""What the monitor decides, given what it saw and the time: pure, the clock passed in.

- `next_interval`: how long to wait before the next look, from the tracker's state.
- `Nudger`: which notifications to send, and when (cooldown, snooze, one-time hints).
- `BreakTimer`: time seated without a real break.
- `unseen_gap`: whether the time since the last look was a plain wait or an absence
  (the machine slept, the process was stopped, the wall clock stepped forward).
- `DayTally`: the day's figures for `posture status`.

Times are seconds of a monotonic clock that counts suspend (simulated when a recording
is replayed); the snooze's end is a wall-clock deadline (UTC ms), as the user asked it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from posture.core import tally
from posture.core.episodes import Episode, Update
from posture.core.vocab import PROBLEM_TEXT


@dataclass(frozen=True)
class MonitorSettings:
    """The monitor's policy, in seconds. No defaults here: they are the config's
    (`posture.config.MonitorConfig`, `posture.config.monitor_settings`), defined once."""

    #: between looks while posture is steady
    interval: float
    #: ... while a deviation or a recovery is being confirmed
    confirm_interval: float
    #: ... while nobody is there
    away_interval: float
    #: nobody seen for this long: the camera is opened for each look, released after it
    #: (`posture.core.camera_policy.CameraPlan`)
    close_camera_after: float
    #: at least this long between two posture nudges
    cooldown: float
    break_reminder: bool
    #: remind after this long seated ...
    break_after: float
    #: ... without an absence at least this long
    break_length: float
    #: mean absolute difference (grey levels) of two thumbnails below which a frame counts
    #: as unchanged and the model is not run again (`posture.core.frames.unchanged`)
    unchanged_threshold: float
    #: but the model runs at least this often anyway
    max_skip: float


def next_interval(update: Update, settings: MonitorSettings, *, bad: bool = False) -> float:
    """Slow while steady, faster while a deviation or recovery is being confirmed (so an
    episode starts and ends on time; `bad`: the last look was bad, so one may be starting),
    slow when nobody is there."""
    if update.state in ("deviating", "recovering") or (bad and update.state == "upright"):
        return settings.confirm_interval
    if update.state in ("away", "uncertain"):
        return settings.away_interval
    return settings.interval


#: A wait between two looks longer than this many times the interval planned for it ...
GAP_FACTOR = 3.0
#: ... and than this many seconds is no wait but an absence: nobody looked.
GAP_FLOOR = 120.0


def unseen_gap(rules_elapsed: float, wall_elapsed: float, planned: float) -> float | None:
    """The seconds nobody looked, when the time since the last look is far longer than
    the `planned` wait (above `GAP_FACTOR` x `planned` and `GAP_FLOOR`), else None.

    The longer of the two clocks' accounts counts: a rules' clock that does not count
    suspend (`time.monotonic()` on some systems) says a night was two seconds; a wall
    clock stepped forward says an hour went by. Either way the last look says nothing
    about the time since, and treating it as seen is what made an 8 h "episode" and a
    "sitting for 50 minutes" after a night asleep."""
    gap = max(rules_elapsed, wall_elapsed)
    return gap if gap > max(GAP_FACTOR * planned, GAP_FLOOR) else None


@dataclass(frozen=True)
class Nudge:
    kind: str  # a problem (slouch, too_close, ...), "break" or "recalibrate"
    title: str
    message: str


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{round(seconds)} seconds"
    return f"{round(seconds / 60)} minutes"


_ADVICE = {
    "slouch": "Sit back, lift your head and let your shoulders drop.",
    "too_close": "Sit back from the screen a little.",
    "leaning": "Sit centred over your hips.",
    "head_tilt": "Level your head.",
    "neck": "Bring your head back over your shoulders.",
}


def posture_nudge(kind: str, seconds: float) -> Nudge:
    what = PROBLEM_TEXT.get(kind, kind)
    advice = _ADVICE.get(kind, "Sit up.")
    return Nudge(kind, "Posture check", f"{what.capitalize()} for {_duration(seconds)}. {advice}")


def break_nudge(seconds: float) -> Nudge:
    return Nudge(
        "break",
        "Time for a break",
        f"You have been sitting for {_duration(seconds)}. Stand up and move for a few minutes.",
    )


RECALIBRATE = Nudge(
    "recalibrate",
    "Recalibrate posture?",
    "You sit quite differently from when you calibrated. Run `posture calibrate` to keep "
    "nudges accurate.",
)


class Nudger:
    """Posture nudges: the first when an episode is confirmed, again while it lasts but
    never more often than `cooldown`; none while snoozed (measuring goes on; the snooze
    ends at a wall-clock deadline, in UTC ms, so a suspend does not stretch it). A stale
    calibration is pointed out once."""

    def __init__(self, settings: MonitorSettings) -> None:
        self.settings = settings
        self.snoozed_until = -math.inf
        self.last_posture_nudge = -math.inf
        self._episode_start: float | None = None
        self._episode_kind = "slouch"
        self._stale_told = False

    def snooze(self, until_ms: float) -> None:
        """No posture nudges until the wall time `until_ms` (-inf: none)."""
        self.snoozed_until = until_ms

    def is_snoozed(self, wall_ms: float) -> bool:
        return wall_ms < self.snoozed_until

    def episode_over(self) -> None:
        """The episode ended outside an update (the loop saw a gap): nudge no more."""
        self._episode_start = None

    def on_update(self, t: float, update: Update, *, wall_ms: float) -> list[Nudge]:
        out: list[Nudge] = []
        if update.started is not None:
            self._episode_start = update.started.start
            self._episode_kind = update.started.kind
        if update.ended is not None:
            self._episode_start = None
        if (
            self._episode_start is not None
            and update.state == "slouching"
            and not self.is_snoozed(wall_ms)
            and t - self.last_posture_nudge >= self.settings.cooldown
        ):
            self.last_posture_nudge = t
            out.append(posture_nudge(self._episode_kind, t - self._episode_start))
        if update.stale:
            out.extend(self.flag_stale())
        return out

    def flag_stale(self) -> list[Nudge]:
        """The one-time suggestion to recalibrate (empty once it was made)."""
        if self._stale_told:
            return []
        self._stale_told = True
        return [RECALIBRATE]


def corrected_after(nudge_t: float, ended: Episode) -> float | None:
    """Seconds from a nudge to the end of the episode it was about, if it ended after it."""
    if ended.end is None or ended.end < nudge_t:
        return None
    return ended.end - nudge_t


class BreakTimer:
    """Seated time since the last absence of at least `break_length`; reminds once at
    `break_after`, then every 15 minutes while the sitting goes on.

    No look at all for `break_length` (a pause, a camera fault, the screen locked, the
    machine asleep) counts as a break too: nobody can say the user sat through it, and a
    reminder of "70 minutes" after an hour's pause is the false alarm that teaches users to
    ignore them."""

    REPEAT = 900.0

    def __init__(self, settings: MonitorSettings) -> None:
        self.settings = settings
        self.seated_since: float | None = None
        self._away_since: float | None = None
        self._last_reminder = -math.inf
        self._last_t: float | None = None

    def unseen(self, seconds: float) -> None:
        """Nobody looked for `seconds` (a gap the rules' clock may not have counted): a
        break if it was at least `break_length`."""
        if seconds >= self.settings.break_length:
            self.seated_since = self._away_since = None

    def on_sample(self, t: float, present: bool) -> Nudge | None:
        s = self.settings
        if not s.break_reminder:
            return None
        if self._last_t is not None and t - self._last_t >= s.break_length:
            self.seated_since = self._away_since = None  # no look for that long: a break
        self._last_t = t
        if not present:
            if self._away_since is None:
                self._away_since = t
            if t - self._away_since >= s.break_length:
                self.seated_since = None  # a real break
            return None
        if self._away_since is not None and t - self._away_since >= s.break_length:
            self.seated_since = None
        self._away_since = None
        if self.seated_since is None:
            self.seated_since = t
            self._last_reminder = -math.inf
        seated = t - self.seated_since
        if seated >= s.break_after and t - self._last_reminder >= self.REPEAT:
            self._last_reminder = t
            return break_nudge(seated)
        return None


@dataclass
class DayTally:
    """Today's figures for `posture status`: seconds per verdict and nudges, since local
    midnight. `day` is the local date the figures belong to; a new day starts afresh."""

    day: str = ""
    seconds: dict[str, float] | None = None
    nudges: int = 0

    def _roll(self, day: str) -> None:
        if day != self.day:
            self.day, self.seconds, self.nudges = day, {}, 0

    def add_time(self, day: str, verdict: str, seconds: float) -> None:
        self._roll(day)
        assert self.seconds is not None
        self.seconds[verdict] = self.seconds.get(verdict, 0.0) + seconds

    def add_nudge(self, day: str) -> None:
        self._roll(day)
        self.nudges += 1

    def upright_percent(self, day: str) -> float | None:
        if day != self.day or not self.seconds:
            return None
        present = self.seconds.get("good", 0.0) + self.seconds.get("bad", 0.0)
        share = tally.upright_share(self.seconds.get("good", 0.0), present)
        return None if share is None else share * 100

    def seconds_on(self, day: str) -> dict[str, float]:
        """Seconds per verdict on `day` (empty for another day)."""
        return dict(self.seconds or {}) if day == self.day else {}

    def nudges_on(self, day: str) -> int:
        return self.nudges if day == self.day else 0


def tally_rows(
    samples: Sequence[tuple[int, str]],
    nudges: int,
    day: str,
    *,
    sessions: Sequence[int] | None = None,
    stops: Sequence[tuple[int, int]] = (),
    max_gap_ms: int = tally.MAX_SAMPLE_MS,
) -> DayTally:
    """A day's tally from history rows ((t_ms, verdict), ordered by session, then time):
    each sample counts as `posture.core.tally.sample_ms` says (until the next one of its
    session, at most `max_gap_ms`, never past a pause or camera fault).

    `sessions`: each row's session (None: all of one); `stops`: (session, start_ms) of
    the pauses and camera faults."""
    ms = tally.sample_ms(
        [t for t, _ in samples],
        [0] * len(samples) if sessions is None else sessions,
        [t for _, t in stops],
        [sid for sid, _ in stops],
        max_ms=max_gap_ms,
    )
    result = DayTally(day=day, seconds={}, nudges=nudges)
    for (_, verdict), counted in zip(samples, ms.tolist(), strict=True):
        result.add_time(day, verdict, counted / 1000)
    return result
