"""The monitor's live status: what the loop last saw and the session's and the day's
tallies, written by the loop and read by the control thread, everything under one lock.

`snapshot` turns it into a `posture.core.status.Status`, the value `posture status`
shows. The time a sample counts is `posture.core.tally`'s rule on the wall times the
history stores, so this tally, `status`'s "today" and `posture report` agree.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from posture.app.monitor.clocks import Timeline
from posture.core import tally
from posture.core.nudges import DayTally
from posture.core.status import Status
from posture.core.tally import upright_share

if TYPE_CHECKING:
    from posture.core.episodes import Update
    from posture.ports import Clock, Hold


@dataclass
class Summary:
    """What one monitoring session saw, for the line printed at its end."""

    started_ms: int = 0
    ended_ms: int = 0
    #: per verdict, each sample counted as `posture.core.tally` says (as the report counts)
    seconds: dict[str, float] = field(default_factory=dict)
    episodes: int = 0
    nudges: dict[str, int] = field(default_factory=dict)

    @property
    def present(self) -> float:
        return self.seconds.get("good", 0.0) + self.seconds.get("bad", 0.0)

    @property
    def monitored(self) -> float:
        """Time covered by samples, whatever their verdict (pauses and faults are not)."""
        return sum(self.seconds.values())

    def text(self) -> str:
        upright = (upright_share(self.seconds.get("good", 0.0), self.present) or 0.0) * 100
        nudges = sum(self.nudges.values())
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.nudges.items()))
        return (
            f"session: {timedelta(seconds=round(self.monitored))} monitored, "
            f"{timedelta(seconds=round(self.present))} seen at the desk, upright "
            f"{upright:.0f}% of it; {self.episodes} slouch episode(s); "
            f"{nudges} nudge(s){f' ({kinds})' if kinds else ''}"
        )


def iso(wall_ms: float | None) -> str | None:
    """ISO 8601 in local time with its offset, to the second; None for no time."""
    if wall_ms is None or not math.isfinite(wall_ms):
        return None
    return (
        datetime.fromtimestamp(wall_ms / 1000, timezone.utc)
        .astimezone()
        .isoformat(timespec="seconds")
    )


def local_day(wall_ms: int) -> str:
    """The local date of a wall time, as "YYYY-MM-DD"."""
    return datetime.fromtimestamp(wall_ms / 1000).date().isoformat()


def local_midnight_ms(day: str) -> int:
    return int(datetime.fromisoformat(day).astimezone().timestamp() * 1000)


class LiveStatus:
    """Threading rule: the loop thread calls every method but `snapshot`; the control
    thread calls `snapshot`; both take `lock`, which the loop's pause and snooze requests
    share."""

    def __init__(
        self, clock: Clock, *, profile: str, source: str, timeline: Timeline | None = None
    ) -> None:
        self.clock = clock
        self.timeline = timeline if timeline is not None else Timeline(clock)
        self.profile = profile
        self.source = source
        self.lock = threading.Lock()
        self.summary = Summary()
        self.today = DayTally()
        self._update: Update | None = None
        self._verdict = "starting"
        self._problems: tuple[str, ...] = ()
        self._camera = "starting"
        self._hold: Hold | None = None
        self._quiet: str | None = None
        self._held_nudges = 0
        self._next_check_ms: int | None = None
        self._uncounted: tuple[int, str] | None = None  # (wall ms, verdict) of the last sample

    # -- the loop --------------------------------------------------------------------------

    def set_today(self, today: DayTally) -> None:
        with self.lock:
            self.today = today

    def looked(self, wall: int, update: Update, verdict: str, problems: list[str]) -> None:
        """A sample at `wall`: the previous one is counted up to it."""
        self._count_last(wall, stop=False)
        self._uncounted = (wall, verdict)
        with self.lock:
            self._update = update
            self._verdict = verdict
            self._problems = tuple(problems)

    def stopped(self, wall: int) -> None:
        """A pause or a camera fault starts at `wall`: the last sample counts up to it."""
        self._count_last(wall, stop=True)

    def camera(self, text: str) -> None:
        with self.lock:
            self._camera = text

    def held(self, hold: Hold | None) -> None:
        """A hold began or changed (`hold`), or ended (None)."""
        with self.lock:
            self._hold = hold
            if hold is not None:
                self._camera = f"released ({hold.reason})"

    def quiet(self, reason: str | None) -> None:
        with self.lock:
            self._quiet = reason

    def held_nudge(self) -> None:
        with self.lock:
            self._held_nudges += 1

    def camera_fault(self, text: str) -> None:
        with self.lock:
            self._camera = text
            self._verdict = "unknown"
            self._problems = ()

    def episode_started(self) -> None:
        with self.lock:
            self.summary.episodes += 1

    def nudged(self, kind: str, wall: int) -> None:
        with self.lock:
            self.summary.nudges[kind] = self.summary.nudges.get(kind, 0) + 1
            self.today.add_nudge(local_day(wall))

    def next_check(self, wall_ms: int) -> None:
        with self.lock:
            self._next_check_ms = wall_ms

    def _count_last(self, wall: int, *, stop: bool) -> None:
        """Count the last sample's time now that the next event of the session is known:
        a sample at `wall`, or (`stop`) a pause or camera fault starting then. A
        session's last sample, with nothing after it, counts nothing."""
        if self._uncounted is None:
            return
        t0, verdict = self._uncounted
        self._uncounted = None
        if stop:
            counted = tally.sample_ms([t0], [0], [wall], [0])
        else:
            counted = tally.sample_ms([t0, wall], [0, 0])
        seconds = int(counted[0]) / 1000
        with self.lock:
            self.summary.seconds[verdict] = self.summary.seconds.get(verdict, 0.0) + seconds
            self.today.add_time(local_day(t0), verdict, seconds)

    # -- the control thread ----------------------------------------------------------------

    def snapshot(
        self,
        *,
        paused_until: float | None,
        snoozed_until: float,
        notifier: str,
        history: str | None = None,
    ) -> Status:
        """The status now. `paused_until` / `snoozed_until`: wall-clock deadlines in UTC
        ms (inf: until resumed), read by the caller under `lock`; so is this, so call it
        holding it."""
        clock = self.clock
        update = self._update
        now_ms = clock.wall_ms()
        paused = paused_until is not None and now_ms < paused_until
        seconds = dict(self.summary.seconds)
        good = seconds.get("good", 0.0)
        present = good + seconds.get("bad", 0.0)
        share = upright_share(good, present)
        day = local_day(now_ms)
        today = self.today.upright_percent(day)
        today_s = self.today.seconds_on(day)
        pause_text: str | None = None
        if paused:
            assert paused_until is not None
            pause_text = "resume" if paused_until == math.inf else iso(paused_until)
        hold = self._hold
        if paused:
            state = "paused"
        elif hold is not None:
            state = hold.kind
        else:
            state = update.state if update else "starting"
        return Status(
            state=state,
            verdict=self._verdict,
            problems=self._problems,
            since=iso(self.timeline.wall_of(update.since)) if update else None,
            upright_percent=None if share is None else round(share * 100, 1),
            seen_seconds=round(present),
            upright_seconds=round(good, 3),
            monitored_seconds=round(sum(seconds.values()), 3),
            upright_percent_today=None if today is None else round(today, 1),
            seen_seconds_today=round(today_s.get("good", 0.0) + today_s.get("bad", 0.0), 3),
            upright_seconds_today=round(today_s.get("good", 0.0), 3),
            monitored_seconds_today=round(sum(today_s.values()), 3),
            nudges_today=self.today.nudges_on(day),
            nudges=sum(self.summary.nudges.values()),
            episodes=self.summary.episodes,
            camera=self._camera,
            paused_until=pause_text,
            snoozed_until=iso(snoozed_until) if now_ms < snoozed_until else None,
            next_check=iso(self._next_check_ms),
            stale=bool(update and update.stale),
            history=history,
            hold=None if hold is None else hold.reason,
            holder=None if hold is None else hold.holder,
            holder_pid=None if hold is None else hold.holder_pid,
            quiet=self._quiet,
            held_nudges=self._held_nudges,
            profile=self.profile,
            source=self.source,
            notifier=notifier,
        )
