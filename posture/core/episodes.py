"""Slouch episodes: per-sample judgments in, a few well-founded episodes out. Pure.

`Tracker.update(t, judgment, far=...)` is fed every sample the monitor takes, with the
time `t` in seconds from a monotonic clock (passed in: this module never reads a clock
and does no I/O). It smooths the judgment score over time, decides when a deviation has
lasted long enough to be a slouch *episode*, when that episode is over, and whether the
calibration looks stale. A nudge is only worth sending when it is right, timely and
rare, and every rule below serves one of those.

Time, not samples
    The monitor samples every ~2 s, faster while it confirms a deviation, and other
    tools feed up to 10 samples a second. Every rule is therefore stated in seconds and
    every clock measures seconds, never sample counts, so the same posture gives the same
    episodes at any rate (to within one sample period of the slowest rate).

Presence and the present clock
    A sample is *present* when its verdict is ``good`` or ``bad`` (with a finite score);
    ``away`` and ``uncertain`` samples (and a ``good``/``bad`` one with a NaN score) are
    absences. The tracker keeps a *present clock* that advances only while the person is
    seen: the interval between two samples counts in full when both are present, half
    when one is (the person came or went somewhere in between: the midpoint is the
    unbiased guess), and not at all when neither is. An interval longer than
    `Settings.away_reset` never counts: nothing is known about it, and it is treated as
    an absence of that length. All durations below (the time since onset, the recovery
    time, the smoothing window, the stale window) are measured on this clock.

    Why: a person who looks away from the camera, or whose landmarks drop out for a
    moment, has not changed posture. Counting that time would turn a pause into a slouch;
    forgetting the deviation would let every glance at the door reset a real one. So an
    absence PAUSES everything: a pending deviation neither grows nor is dropped, an open
    episode neither grows nor ends, and the smoothing window still holds the samples from
    before, so when the person is back the machine continues exactly where it was. The
    state reported meanwhile is ``away`` or ``uncertain`` (with its own `since`), and the
    smoothed score is NaN (unknown).

    Only an absence longer than `away_reset` (from the last present sample to the current
    one) changes anything: the person has left. A pending deviation is forgotten, an open
    episode ends at the time the person was last seen (or when its recovery began, if it
    was recovering; `Update.ended` of the first sample past `away_reset` reports it), the
    smoothing window is emptied, and on return the state is ``upright`` since the return.

    `Tracker.interrupt` is the same said by the caller: nothing is known since the last
    sample (the machine slept, the clock stepped). The open episode ends when the person
    was last seen (returned at once, not with the next update), the rest is forgotten as
    above, and the interval until the next sample counts as absent whatever its length.

Smoothing
    The smoothed score is the median of the scores of the present samples of the last
    `smooth_window` seconds of present time, i.e. of ``(t - smooth_window, t]`` when the
    person was seen throughout; after a short absence the window still holds the samples
    from before it. A median ignores a single wild sample in either direction, and its
    lag (about half the window) is the same at every rate. For an even count it is the
    LOWER of the two middle values: bad posture needs a strict majority of the window.
    With the mean of the two, a run of bad samples would count for one sample period
    longer than it lasted (the window half bad would still be bad), so a glance just
    under `slouch_after` could become an episode at some rates; with the lower median a
    stretch of bad posture shorter than `slouch_after` never does, at any rate and
    however the samples fall on it. (The price: a slouch is confirmed up to one sample
    period later than with the mean.)

States (the underlying state; absences are reported over it, as above)
    ``upright``: the smoothed score is below `entry` (or an episode has just ended).
    ``deviating``: the smoothed score reached `entry` at the *onset* and has stayed at or
        above it since. Once the present time since onset reaches `slouch_after` it is an
        episode: ``slouching``, and `Update.started` carries it. If the smoothed score
        falls below `entry` before that, the deviation is dropped (back to ``upright``):
        a glance down shorter than `slouch_after` never counts, however it is sampled.
    ``slouching``: an open episode. Between the exit threshold (`exit_ratio * entry`) and
        `entry` it simply continues (hysteresis: a score hovering at the threshold gives
        one episode, not a string of them). Below the exit threshold it is
        ``recovering``.
    ``recovering``: the smoothed score has stayed below the exit threshold since the
        recovery began. Back at or above the exit threshold it is ``slouching`` again (the
        same episode: sitting up for a moment does not end a slouch); after
        `recover_after` seconds below it the episode ends, with `end` = when the recovery
        began (the slouch was over then; the wait only made sure of it), reported in
        `Update.ended`, and the state is ``upright``.

Episodes
    ``start`` is the onset (when the smoothed score first reached `entry`, so it lags
    the real change by the smoothing delay, about half the window), ``confirmed_at`` the
    time it became an episode, ``end`` as above (None while open), ``peak`` the highest
    smoothed score from onset to end. ``kind`` is the problem with the largest summed
    severity over the episode's *bad* samples (score >= `entry`), counting on each sample
    only the problems at or above `entry` (with the default `entry` of 1.0, exactly the
    judge's bad samples and problems): the problem that was a problem for longest and
    worst, never one that only hovered below the threshold all along. In the degenerate
    case where no sample of the episode was bad (only possible with a `slouch_after`
    shorter than the smoothing window), every severity of every sample counts. Ties go
    to the problem seen first.

Stale calibration
    ``far`` (from `posture.core.judgment.is_far_from_calibration`) says the person sits
    noticeably away from where, or at another size than, they were calibrated. The
    tracker keeps, for the last `stale_after` seconds of present time, how much of that
    time was spent far (an interval's presence credit goes to its present ends' `far`
    flags, half each, so the share is time-weighted and does not depend on the rate or on
    the faster sampling while confirming). `Update.stale` is True when the window holds
    a full `stale_after` seconds of present time AND at least `stale_share` of it was
    far. Requiring the full window means a calibration is never called stale on less
    evidence than `stale_after` seconds of watching the person (with the defaults, at
    least 8 of the last 10 present minutes far); measuring on the present clock means
    that a lunch break neither dilutes nor fakes that evidence. The flag clears by
    itself once the person has sat near the calibrated place for long enough.

Cost and memory
    `update` does a few deque operations and sorts the scores of one smoothing window
    (at most a few dozen numbers). The smoothing and stale deques are trimmed by time,
    so memory is bounded by the sampling rate times `stale_after` however long the
    process runs; only the list of finished episodes grows, one entry per episode.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from posture.core.judgment import Judgment
from posture.core.vocab import VERDICTS, State, is_present

__all__ = ["DEFAULT_SETTINGS", "Episode", "Settings", "State", "Tracker", "Update"]

_Underlying = Literal["upright", "deviating", "slouching", "recovering"]
_Absent = Literal["away", "uncertain"]

#: Slack for comparisons of accumulated times: sums of sample intervals such as 0.1 s are
#: not exact in binary, and a duration that is due must not miss by a rounding error.
_EPS = 1e-9

_SECONDS = ("slouch_after", "smooth_window", "recover_after", "away_reset", "stale_after")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Settings:
    """The rules of the tracker; durations in seconds of present time (see the module)."""

    #: seconds of sustained bad (smoothed) posture before an episode starts
    slouch_after: float = 30.0
    #: the smoothed score is the (lower) median of the scores of the present samples in
    #: (t - smooth_window, t], in present time
    smooth_window: float = 5.0
    #: a smoothed score >= entry is bad
    entry: float = 1.0
    #: an episode ends once the smoothed score stays < exit_ratio * entry ...
    exit_ratio: float = 0.7
    #: ... for this many seconds
    recover_after: float = 5.0
    #: an absence (away or uncertain) longer than this ends an open episode (at the time
    #: the person was last seen) and forgets a pending deviation
    away_reset: float = 60.0
    #: being far from the calibrated position/size for this long (present time) flags a
    #: stale calibration ...
    stale_after: float = 600.0
    #: ... when at least this share of the present time of the last stale_after seconds
    #: was far
    stale_share: float = 0.8

    def __post_init__(self) -> None:
        for name in (*_SECONDS, "entry"):
            value = getattr(self, name)
            if not (_is_number(value) and math.isfinite(value) and value > 0):
                unit = "" if name == "entry" else " of seconds"
                raise ValueError(
                    f"episode setting {name} must be a positive finite number{unit}, got {value!r}"
                )
        if not (_is_number(self.exit_ratio) and 0 < self.exit_ratio < 1):
            raise ValueError(
                "episode setting exit_ratio must be between 0 and 1 (exclusive): the exit "
                f"threshold must lie below the entry threshold, got {self.exit_ratio!r}"
            )
        if not (_is_number(self.stale_share) and 0 < self.stale_share <= 1):
            raise ValueError(
                f"episode setting stale_share must be a share in (0, 1], got {self.stale_share!r}"
            )

    @property
    def exit(self) -> float:
        """The exit threshold: a smoothed score below it counts towards recovery."""
        return self.exit_ratio * self.entry


@dataclass(frozen=True)
class Episode:
    #: when the smoothed score first reached entry (the onset, not the confirmation time)
    start: float
    #: when the smoothed score first fell below the exit threshold for the recovery that
    #: ended it (or the last-seen time when ended by absence, or the finish time); None
    #: while open
    end: float | None
    #: the problem with the largest summed severity over the episode's bad samples
    kind: str
    #: the highest smoothed score during the episode
    peak: float
    #: when it became an episode (onset + slouch_after of present time)
    confirmed_at: float


@dataclass(frozen=True)
class Update:
    state: State
    #: when the current state began
    since: float
    #: the smoothed score; NaN when unknown (absent)
    smoothed: float
    #: the episode confirmed by this sample (end None), else None
    started: Episode | None
    #: the episode that ended at this sample, else None
    ended: Episode | None
    #: the calibration looks stale (far from it for long)
    stale: bool


#: The defaults (a frozen instance, so sharing it is safe).
DEFAULT_SETTINGS = Settings()


class Tracker:
    """The episode state machine; feed it every sample in time order."""

    def __init__(self, settings: Settings = DEFAULT_SETTINGS) -> None:
        self.settings = settings
        self._episodes: list[Episode] = []
        # time
        self._t_prev: float | None = None
        self._prev_present = False
        self._prev_far = False
        self._p = 0.0  # the present clock
        self._last_seen: float | None = None
        # the underlying state
        self._state: _Underlying = "upright"
        self._since: float | None = None
        self._absent: _Absent | None = None
        self._absent_since = 0.0
        self._reset = False  # a long absence reset the state; `since` restarts on return
        self._gap = False  # interrupted: the interval to the next sample is not seen
        # smoothing window: (present clock, score)
        self._window: deque[tuple[float, float]] = deque()
        # the deviation or episode under way
        self._onset_t = 0.0
        self._onset_p = 0.0
        self._confirmed_at = 0.0
        self._recovery_t = 0.0
        self._recovery_p = 0.0
        self._peak = -math.inf
        self._bad_sums: dict[str, float] = {}
        self._all_sums: dict[str, float] = {}
        # stale window: (present clock at the interval's end, present credit, far credit)
        self._stale: deque[tuple[float, float, float]] = deque()
        self._stale_total = 0.0
        self._stale_far = 0.0

    # --- public -------------------------------------------------------------------

    @property
    def episodes(self) -> list[Episode]:
        """The finished episodes, in order (a copy)."""
        return list(self._episodes)

    @property
    def current(self) -> Episode | None:
        """The open episode, if any (it stays open through a short absence)."""
        if self._state not in ("slouching", "recovering"):
            return None
        return self._episode(None)

    def update(self, t: float, judgment: Judgment, *, far: bool = False) -> Update:
        """Take one sample at time `t` (seconds, monotonic, never decreasing)."""
        self._check_time(t)
        s = self.settings
        verdict = judgment.verdict
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        score = judgment.score
        present = is_present(verdict) and math.isfinite(score)
        far = bool(far) and present

        ended: Episode | None = None
        if self._last_seen is not None and not self._reset and t - self._last_seen > s.away_reset:
            ended = self._forget(self._last_seen)

        # Advance the present clock by this interval's presence credit.
        if self._t_prev is not None and not self._gap:
            dt = t - self._t_prev
            if dt <= s.away_reset:
                half = 0.5 * dt
                credit = half * (self._prev_present + present)
                if credit > 0.0:
                    far_credit = half * ((self._prev_present and self._prev_far) + far)
                    self._p += credit
                    self._add_stale(credit, far_credit)
        self._t_prev = t
        self._gap = False
        self._prev_present = present
        self._prev_far = far
        stale = self._is_stale()

        if not present:
            absent: _Absent = "away" if verdict == "away" else "uncertain"
            if self._absent != absent:
                self._absent = absent
                self._absent_since = t
            return Update(absent, self._absent_since, math.nan, None, ended, stale)

        self._absent = None
        self._last_seen = t
        if self._reset or self._since is None:
            self._reset = False
            self._since = t
        p = self._p
        window = self._window
        window.append((p, score))
        horizon = p - s.smooth_window + _EPS
        while window[0][0] <= horizon:
            window.popleft()
        smoothed = _median(window)

        started: Episode | None = None
        state = self._state
        if state == "upright":
            if smoothed >= s.entry:
                self._begin_deviation(t, p)
        elif state == "deviating":
            if smoothed < s.entry:
                self._set("upright", t)
        elif state == "slouching":
            if smoothed < s.exit:
                self._set("recovering", t)
                self._recovery_t = t
                self._recovery_p = p
        elif smoothed >= s.exit:  # recovering, and back above the exit threshold
            self._set("slouching", t)
        elif p - self._recovery_p >= s.recover_after - _EPS:
            ended = self._close(self._recovery_t)
            self._set("upright", t)

        if self._state != "upright":
            self._accumulate(judgment, smoothed)
            if self._state == "deviating" and p - self._onset_p >= s.slouch_after - _EPS:
                self._set("slouching", t)
                self._confirmed_at = t
                started = self._episode(None)
        return Update(self._state, self._since, smoothed, started, ended, stale)

    def finish(self, t: float) -> Episode | None:
        """End of input at `t`: close and return the open episode, if any.

        Its end is `t`, or the time the person was last seen if they are absent now, or
        when its recovery began if it was recovering. A pending deviation is dropped."""
        self._check_time(t)
        self._t_prev = t
        self._prev_present = False  # nothing is known after the end of input
        episode: Episode | None = None
        if self._state in ("slouching", "recovering"):
            last = self._last_seen if self._absent is not None else None
            episode = self._close(t if last is None else last)
        if self._state != "upright":
            self._set("upright", t)
        return episode

    def interrupt(self) -> Episode | None:
        """Nothing is known since the last sample (see "Presence"): close and return the
        open episode, at the time the person was last seen (or when its recovery began),
        and start afresh with the next sample."""
        self._gap = True
        if self._last_seen is None or self._reset:
            return None
        return self._forget(self._last_seen)

    # --- internals ----------------------------------------------------------------

    def _check_time(self, t: float) -> None:
        if not (_is_number(t) and math.isfinite(t)):
            raise ValueError(f"time must be a finite number of seconds, got {t!r}")
        if self._t_prev is not None and t < self._t_prev:
            raise ValueError(
                f"time went backwards: {t!r} after {self._t_prev!r} (use a monotonic clock)"
            )

    def _set(self, state: _Underlying, t: float) -> None:
        self._state = state
        self._since = t

    def _begin_deviation(self, t: float, p: float) -> None:
        self._set("deviating", t)
        self._onset_t = t
        self._onset_p = p
        self._peak = -math.inf
        self._bad_sums = {}
        self._all_sums = {}

    def _accumulate(self, judgment: Judgment, smoothed: float) -> None:
        entry = self.settings.entry
        if smoothed > self._peak:
            self._peak = smoothed
        all_sums = self._all_sums
        for problem, severity in judgment.problems.items():
            all_sums[problem] = all_sums.get(problem, 0.0) + severity
        if judgment.score >= entry:
            bad_sums = self._bad_sums
            for problem, severity in judgment.problems.items():
                if severity >= entry:
                    bad_sums[problem] = bad_sums.get(problem, 0.0) + severity

    def _kind(self) -> str:
        sums = self._bad_sums or self._all_sums
        if not sums:
            return "unknown"
        return max(sums, key=sums.__getitem__)  # first seen wins a tie

    def _episode(self, end: float | None) -> Episode:
        return Episode(self._onset_t, end, self._kind(), self._peak, self._confirmed_at)

    def _close(self, end: float) -> Episode:
        """End the open episode at `end` (or when its recovery began, if earlier)."""
        if self._state == "recovering":
            end = min(end, self._recovery_t)
        episode = self._episode(end)
        self._episodes.append(episode)
        return episode

    def _forget(self, last_seen: float) -> Episode | None:
        """The person has been gone longer than away_reset: start afresh on return."""
        ended = self._close(last_seen) if self._state in ("slouching", "recovering") else None
        self._state = "upright"
        self._reset = True
        self._window.clear()
        return ended

    def _add_stale(self, credit: float, far_credit: float) -> None:
        queue = self._stale
        queue.append((self._p, credit, far_credit))
        self._stale_total += credit
        self._stale_far += far_credit
        horizon = self._p - self.settings.stale_after + _EPS
        while queue[0][0] <= horizon:
            _, old, old_far = queue.popleft()
            self._stale_total -= old
            self._stale_far -= old_far

    def _is_stale(self) -> bool:
        s = self.settings
        total = self._stale_total
        return total >= s.stale_after - _EPS and self._stale_far >= s.stale_share * total - _EPS


def _median(window: deque[tuple[float, float]]) -> float:
    """The lower median of the window's scores (see "Smoothing" above)."""
    values = sorted([score for _, score in window])
    return values[(len(values) - 1) // 2]
