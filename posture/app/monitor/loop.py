"""The background monitor's loop: a frame now and then -> pose -> judgment -> nudges and
history. One thread owns the camera, the model and the history; the control channel's
thread only reads a snapshot or posts a request and wakes the loop.

`while not stopped: interval = tick(); sleep(interval)` — the policy (`posture.core.nudges`)
decides the interval; the clock (`RealClock`, or `ReplayClock` for recordings played back
at N times real speed) decides what sleeping means. Nothing here can crash the loop: a
camera that fails, goes black or is taken by another program becomes a status and a
retry with back-off (2 s doubling to 60 s).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from posture.adapters.storage.history import FEATURE_COLUMNS
from posture.core import features, tally
from posture.core.calibration import BLANK_STD
from posture.core.episodes import Settings, Update
from posture.core.nudges import (
    RECALIBRATE,
    BreakTimer,
    DayTally,
    MonitorSettings,
    Nudge,
    Nudger,
    corrected_after,
    next_interval,
    tally_rows,
    thumbnail,
    unchanged,
)
from posture.core.observe import Watch

if TYPE_CHECKING:
    from posture.adapters.notify.backends import ChainNotifier
    from posture.adapters.pose.landmarker import PoseEstimator
    from posture.adapters.storage.history import History
    from posture.adapters.video.sources import Frame, FrameSource
    from posture.core.profile import Profile

log = logging.getLogger("posture")

#: Features kept with every sample in the history (numbers only, never a picture).
HISTORY_FEATURES = FEATURE_COLUMNS
_HISTORY_COLUMNS = np.array([features.index(n) for n in HISTORY_FEATURES])
BACKOFF_FIRST = 2.0
BACKOFF_MAX = 60.0


# --- time -----------------------------------------------------------------------------


class Clock(Protocol):
    """Monotonic seconds for the rules, wall milliseconds for the history. Threading
    rule: used by the loop thread; `sleep` returns early when `wake` is set."""

    def now(self) -> float: ...

    def wall_ms(self) -> int: ...

    def sleep(self, seconds: float, wake: threading.Event) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return int(time.time() * 1000)

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        wake.wait(seconds)


class ReplayClock:
    """Simulated time for a recording: each sleep advances it by the full interval and
    waits `seconds / speed` of real time (not at all with speed 0: as fast as possible)."""

    def __init__(self, speed: float, start_wall_ms: int | None = None) -> None:
        self.speed = speed
        self.t = 0.0
        self.start_wall_ms = int(time.time() * 1000) if start_wall_ms is None else start_wall_ms

    def now(self) -> float:
        return self.t

    def wall_ms(self) -> int:
        return self.start_wall_ms + round(self.t * 1000)

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        if self.speed > 0:
            wake.wait(seconds / self.speed)
        self.t += seconds


# --- frames ---------------------------------------------------------------------------


class CameraFault(Exception):
    """The camera gives no usable picture; the message says why, for the status."""


class EndOfInput(Exception):
    """A recording has been played to its end."""


class Feed(Protocol):
    """Frames for the loop. Threading rule: the loop thread only."""

    name: str
    kind: str

    def read(self, t: float) -> Frame: ...

    def release(self) -> None: ...


class CameraFeed:
    """The live camera, opened when first read and released on `release` (while paused
    or after a fault), so its light is off whenever posture is not looking."""

    kind = "camera"

    def __init__(self, index: int, width: int, height: int) -> None:
        self.index, self.width, self.height = index, width, height
        self.name = str(index)
        self._source: FrameSource | None = None
        self._frames: Iterator[Frame] | None = None

    def read(self, t: float) -> Frame:
        from posture.adapters.video.sources import open_source
        from posture.errors import InputError

        if self._frames is None:
            try:
                self._source = open_source(self.index, width=self.width, height=self.height)
            except InputError as err:
                raise CameraFault(str(err)) from None
            self._frames = iter(self._source)
        try:
            return next(self._frames)
        except StopIteration:
            self.release()
            raise CameraFault(
                f"camera {self.index} stopped sending pictures (unplugged, or taken by "
                "another program?)"
            ) from None

    def release(self) -> None:
        if self._source is not None:
            self._source.close()
        self._source = self._frames = None


class ReplayFeed:
    """A video or image sequence as if it were a camera: `read(t)` gives the latest frame
    whose own timestamp is at most `t` seconds into the recording."""

    kind = "replay"

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.name = source.name
        self._frames = iter(source)
        self._current: Frame | None = None
        self._next: Frame | None = next(self._frames, None)

    def read(self, t: float) -> Frame:
        while self._next is not None and self._next.timestamp <= t:
            self._current, self._next = self._next, next(self._frames, None)
        if self._next is None and (self._current is None or t > self._current.timestamp + 2):
            raise EndOfInput
        if self._current is None:
            assert self._next is not None
            self._current = self._next
        return self._current

    def release(self) -> None:
        pass  # a recording keeps its place; only a real camera has a light to turn off


# --- the loop -------------------------------------------------------------------------


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
        upright = self.seconds.get("good", 0.0) / self.present * 100 if self.present else 0.0
        nudges = sum(self.nudges.values())
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.nudges.items()))
        return (
            f"session: {timedelta(seconds=round(self.monitored))} monitored, "
            f"{timedelta(seconds=round(self.present))} seen at the desk, upright "
            f"{upright:.0f}% of it; {self.episodes} slouch episode(s); "
            f"{nudges} nudge(s){f' ({kinds})' if kinds else ''}"
        )


def _iso(wall_ms: float | None) -> str | None:
    if wall_ms is None or not math.isfinite(wall_ms):
        return None
    return (
        datetime.fromtimestamp(wall_ms / 1000, timezone.utc)
        .astimezone()
        .isoformat(timespec="seconds")
    )


def _local_day(wall_ms: int) -> str:
    return datetime.fromtimestamp(wall_ms / 1000).date().isoformat()


def _today_from(history: History, now_ms: int) -> DayTally:
    """Today's figures from earlier sessions, so `status` speaks of the day, not the run."""
    from posture.adapters.storage.history import History as Store
    from posture.adapters.storage.history import HistoryError

    day = _local_day(now_ms)
    midnight = datetime.fromisoformat(day).astimezone()
    since = int(midnight.timestamp() * 1000)
    try:
        conn = Store.open_readonly(history.path)
    except HistoryError:
        return DayTally()
    stop_kinds = ", ".join("?" * len(tally.STOPS))
    try:
        rows = conn.execute(
            "select session_id, t_ms, verdict from samples where t_ms >= ?"
            " order by session_id, t_ms",
            (since,),
        ).fetchall()
        stops = conn.execute(
            f"select session_id, start_ms from periods where start_ms >= ?"
            f" and kind in ({stop_kinds})",
            (since, *tally.STOPS),
        ).fetchall()
        nudges = conn.execute(
            "select count(*) from nudges where t_ms >= ? and kind != 'test'", (since,)
        ).fetchone()[0]
    finally:
        conn.close()
    return tally_rows(
        [(t, verdict) for _, t, verdict in rows],
        int(nudges),
        day,
        sessions=[sid for sid, _, _ in rows],
        stops=stops,
    )


class Monitor:
    def __init__(
        self,
        *,
        profile: Profile,
        feed: Feed,
        pose_factory: Callable[[], PoseEstimator],
        notifier: ChainNotifier,
        history: History | None,
        clock: Clock,
        settings: MonitorSettings,
        episode_settings: Settings,
        sensitivity: str | None = None,
        min_visibility: float = 0.5,
    ) -> None:
        self.profile = profile
        self.feed = feed
        self.pose_factory = pose_factory
        self.notifier = notifier
        self.history = history
        self.clock = clock
        self.settings = settings
        self.watch = Watch(
            profile,
            settings=episode_settings,
            sensitivity=sensitivity,
            min_visibility=min_visibility,
        )
        self.nudger = Nudger(settings)
        self.breaks = BreakTimer(settings)
        self.summary = Summary()
        self.today = DayTally()
        self.wake = threading.Event()
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._pose: PoseEstimator | None = None
        self._session: int | None = None
        # What the loop last saw; read by `status()` under the lock.
        self._update: Update | None = None
        self._verdict = "starting"
        self._problems: list[str] = []
        self._camera = "starting"
        self._next_check_ms: int | None = None
        # Requests from the control thread, applied by the loop.
        self._paused_until: float | None = None  # monotonic; inf = until resumed
        # Loop-private state.
        self._backoff = 0.0
        self._fault_period: int | None = None
        self._pause_period: int | None = None
        self._away_period: int | None = None
        self._episode_row: int | None = None
        self._episode_nudges: list[tuple[int, float]] = []  # (nudge row, monotonic time)
        self._last_thumb: np.ndarray | None = None
        self._last_poses: np.ndarray | None = None
        self._last_aspect = 1.0
        self._last_model_t = -math.inf
        self._last_t: float | None = None
        self._uncounted: tuple[int, str] | None = None  # (wall ms, verdict) of the last sample
        self._checked_setup = False
        self.model_runs = 0
        self.samples = 0

    # -- control (any thread) ------------------------------------------------------------

    def _wall_of(self, t: float) -> int:
        return self.clock.wall_ms() - round((self.clock.now() - t) * 1000)

    def pause(self, seconds: float | None) -> dict[str, Any]:
        with self._lock:
            now = self.clock.now()
            self._paused_until = math.inf if seconds is None else now + seconds
            until = None if seconds is None else self._wall_of(now) + seconds * 1000
        self.wake.set()
        return {"ok": True, "paused_until": _iso(until) if until else "resume"}

    def resume(self) -> dict[str, Any]:
        with self._lock:
            self._paused_until = None
            self.nudger.snooze(-math.inf)
        self.wake.set()
        return {"ok": True}

    def snooze(self, seconds: float) -> dict[str, Any]:
        with self._lock:
            # A float the loop only reads: set here, seen at its next nudge decision.
            now = self.clock.now()
            self.nudger.snooze(now + seconds)
            until = self._wall_of(now) + seconds * 1000
        return {"ok": True, "snoozed_until": _iso(until)}

    def request_stop(self) -> None:
        self.stop.set()
        self.wake.set()

    def status(self) -> dict[str, Any]:
        with self._lock:
            update = self._update
            now = self.clock.now()
            paused = self._paused_until is not None and now < self._paused_until
            snoozed_until = self.nudger.snoozed_until
            seconds = dict(self.summary.seconds)
            present = seconds.get("good", 0.0) + seconds.get("bad", 0.0)
            day = _local_day(self.clock.wall_ms())
            today = self.today.upright_percent(day)
            today_s = self.today.seconds_on(day)
            return {
                "ok": True,
                "state": "paused" if paused else (update.state if update else "starting"),
                "verdict": self._verdict,
                "problems": list(self._problems),
                "since": _iso(self._wall_of(update.since)) if update else None,
                "upright_percent": round(seconds.get("good", 0.0) / present * 100, 1)
                if present
                else None,
                "seen_seconds": round(present),
                "upright_seconds": round(seconds.get("good", 0.0), 3),
                "monitored_seconds": round(sum(seconds.values()), 3),
                "upright_percent_today": None if today is None else round(today, 1),
                "seen_seconds_today": round(today_s.get("good", 0.0) + today_s.get("bad", 0.0), 3),
                "upright_seconds_today": round(today_s.get("good", 0.0), 3),
                "monitored_seconds_today": round(sum(today_s.values()), 3),
                "nudges_today": self.today.nudges_on(day),
                "nudges": sum(self.summary.nudges.values()),
                "episodes": self.summary.episodes,
                "camera": self._camera,
                "paused_until": None
                if not paused
                else (
                    "resume"
                    if self._paused_until == math.inf
                    else _iso(self._wall_of(self._paused_until or 0))
                ),
                "snoozed_until": _iso(self._wall_of(snoozed_until))
                if now < snoozed_until
                else None,
                "next_check": _iso(self._next_check_ms),
                "stale": bool(update and update.stale),
                "profile": self.profile.name,
                "source": self.feed.name,
                "notifier": self.notifier.name,
            }

    # -- the loop (one thread) -------------------------------------------------------------

    def run(self) -> Summary:
        start_ms = self.clock.wall_ms()
        self.summary.started_ms = start_ms
        if self.history is not None:
            self.today = _today_from(self.history, start_ms)
            self._session = self.history.start_session(
                start_ms,
                profile=self.profile.name,
                source=f"{self.feed.kind}:{self.feed.name}",
                settings={"interval": self.settings.interval, "cooldown": self.settings.cooldown},
            )
        try:
            while not self.stop.is_set():
                interval = self.tick()
                if interval is None:
                    break
                with self._lock:
                    self._next_check_ms = self.clock.wall_ms() + round(interval * 1000)
                self.wake.clear()
                self.clock.sleep(interval, self.wake)
        finally:
            self._finish()
        return self.summary

    def _finish(self) -> None:
        t = self.clock.now()
        end_ms = self.clock.wall_ms()
        episode = self.watch.finish(self._last_t if self._last_t is not None else t)
        if episode is not None:
            self._on_episode_end(episode)
        for attr in ("_fault_period", "_pause_period", "_away_period"):
            self._close_period(attr, end_ms)
        if self._pose is not None:
            self._pose.close()
            self._pose = None
        self.feed.release()
        self.summary.ended_ms = end_ms
        if self.history is not None and self._session is not None:
            self.history.end_session(self._session, end_ms)

    def _open_period(self, attr: str, kind: str, wall_ms: int) -> None:
        if getattr(self, attr) is None and self.history is not None and self._session is not None:
            setattr(self, attr, self.history.open_period(self._session, kind, wall_ms))

    def _close_period(self, attr: str, wall_ms: int) -> None:
        row = getattr(self, attr)
        if row is not None and self.history is not None:
            self.history.close_period(row, wall_ms)
        setattr(self, attr, None)

    def tick(self) -> float | None:
        """Look once (or not, while paused); the seconds until the next look, or None at
        the end of a recording."""
        t = self.clock.now()
        wall = self.clock.wall_ms()
        with self._lock:
            paused_until = self._paused_until
            if paused_until is not None and t >= paused_until:
                self._paused_until = paused_until = None
        if paused_until is not None:
            if self._pause_period is None:
                self._count_last(wall, stop=True)
                self.feed.release()
                log.info("paused; camera released")
                self._open_period("_pause_period", "pause", wall)
            with self._lock:
                self._camera = "released (paused)"
            return max(0.05, min(self.settings.away_interval * 12, paused_until - t))
        if self._pause_period is not None:
            log.info("resumed")
            self._close_period("_pause_period", wall)

        try:
            frame = self.feed.read(t)
            thumb = thumbnail(frame.image)
            # The same tiny picture tells a blank frame and an unchanged one.
            if float(thumb.std()) < BLANK_STD:
                raise CameraFault("the camera shows a blank picture (privacy shutter closed?)")
        except EndOfInput:
            return None
        except CameraFault as fault:
            return self._fault(str(fault), wall)
        if self._fault_period is not None:
            log.info("camera back")
            self._close_period("_fault_period", wall)
        self._backoff = 0.0
        with self._lock:
            self._camera = "ok"
        height, width = frame.image.shape[:2]
        if not self._checked_setup:
            self._checked_setup = True
            reason = self.watch.setup_warning(self.feed.kind, self.feed.name, width, height)
            if reason:
                log.warning(reason)
                self._send(self.nudger.flag_stale(), t, wall)
        return self._observe(t, wall, frame, thumb)

    def _fault(self, reason: str, wall: int) -> float:
        self._count_last(wall, stop=True)
        self.feed.release()
        self._backoff = min(BACKOFF_MAX, max(BACKOFF_FIRST, self._backoff * 2))
        if self._fault_period is None:
            log.warning("camera: %s; retrying in %.0f s", reason, self._backoff)
            self._open_period("_fault_period", "camera_fault", wall)
        with self._lock:
            self._camera = f"fault: {reason}; retrying in {self._backoff:.0f} s"
            self._verdict = "unknown"
            self._problems = []
        return self._backoff

    def _poses(self, t: float, frame: Frame, thumb: np.ndarray) -> tuple[np.ndarray, float]:
        if (
            self._last_poses is not None
            and t - self._last_model_t < self.settings.max_skip
            and unchanged(self._last_thumb, thumb, self.settings.unchanged_threshold)
        ):
            return self._last_poses, self._last_aspect
        if self._pose is None:
            self._pose = self.pose_factory()
        result = self._pose.detect(frame.image, t)
        self.model_runs += 1
        self._last_thumb, self._last_model_t = thumb, t
        self._last_poses, self._last_aspect = result.landmarks, result.aspect
        return result.landmarks, result.aspect

    def _observe(self, t: float, wall: int, frame: Frame, thumb: np.ndarray) -> float:
        poses, aspect = self._poses(t, frame, thumb)
        seen = self.watch.observe(t, poses, aspect)
        update, judgment = seen.update, seen.judgment
        self.samples += 1
        self._count_last(wall, stop=False)
        self._uncounted = (wall, judgment.verdict)
        self._last_t = t
        with self._lock:
            self._update = update
            self._verdict = judgment.verdict
            self._problems = judgment.bad_problems
        if self.history is not None and self._session is not None:
            row = seen.row
            values = (
                {}
                if row is None
                else dict(zip(HISTORY_FEATURES, row[_HISTORY_COLUMNS].tolist(), strict=True))
            )
            score = None if math.isnan(judgment.score) else judgment.score
            self.history.add_sample(
                self._session,
                wall,
                judgment.verdict,
                score,
                update.state,
                values,
                problems=judgment.bad_problems,
            )
        present = judgment.verdict in ("good", "bad")
        if judgment.verdict == "away":
            self._open_period("_away_period", "away", wall)
        elif self._away_period is not None:
            self._close_period("_away_period", wall)
        if update.started is not None:
            self.summary.episodes += 1
            log.info("slouch episode (%s) since %.0f s", update.started.kind, update.started.start)
            if self.history is not None and self._session is not None:
                self._episode_row = self.history.add_episode(
                    self._session,
                    self._wall_of(update.started.start),
                    None,
                    update.started.kind,
                    update.started.peak,
                )
        if update.ended is not None:
            self._on_episode_end(update.ended)
        nudges = self.nudger.on_update(t, update)
        reminder = self.breaks.on_sample(t, present)
        if reminder is not None:
            nudges.append(reminder)
        self._send(nudges, t, wall)
        if self.history is not None:
            self.history.maybe_flush(t)
        return next_interval(update, self.settings, bad=judgment.verdict == "bad")

    def _count_last(self, wall: int, *, stop: bool) -> None:
        """Count the last sample's time now that the next event of the session is known:
        a sample at `wall`, or (`stop`) a pause or camera fault starting then. The rule is
        `posture.core.tally`'s, on the wall times the history stores, so this tally, `status`
        and `posture report` agree; a session's last sample, with nothing after it,
        counts nothing."""
        if self._uncounted is None:
            return
        t0, verdict = self._uncounted
        self._uncounted = None
        if stop:
            counted = tally.sample_ms([t0], [0], [wall], [0])
        else:
            counted = tally.sample_ms([t0, wall], [0, 0])
        seconds = int(counted[0]) / 1000
        with self._lock:  # `status()` reads both from the control thread
            self.summary.seconds[verdict] = self.summary.seconds.get(verdict, 0.0) + seconds
            self.today.add_time(_local_day(t0), verdict, seconds)

    def _on_episode_end(self, episode: Any) -> None:
        if self.history is not None and self._episode_row is not None:
            end = episode.end if episode.end is not None else self.clock.now()
            self.history.close_episode(self._episode_row, self._wall_of(end), episode.peak)
            for row, nudge_t in self._episode_nudges:
                after = corrected_after(nudge_t, episode)
                if after is not None:
                    self.history.set_nudge_corrected(row, round(after * 1000))
        self._episode_row = None
        self._episode_nudges = []

    def _send(self, nudges: list[Nudge], t: float, wall: int) -> None:
        for nudge in nudges:
            self.notifier.notify(nudge.title, nudge.message)
            log.info("nudge (%s) via %s: %s", nudge.kind, self.notifier.name, nudge.message)
            with self._lock:
                self.summary.nudges[nudge.kind] = self.summary.nudges.get(nudge.kind, 0) + 1
                self.today.add_nudge(_local_day(wall))
            if self.history is not None and self._session is not None:
                row = self.history.add_nudge(
                    self._session, wall, nudge.kind, nudge.message, self.notifier.name
                )
                if nudge.kind not in ("break", RECALIBRATE.kind):
                    self._episode_nudges.append((row, t))
