"""The background monitor's loop: a frame now and then -> pose -> judgment -> nudges.
Look, judge, decide; the history writes are the recorder's (`recorder.py`), the tallies
the control thread reads are the live status's (`live.py`).

`while not stopped: interval = tick(); sleep(interval)` — the policy (`posture.core.nudges`)
decides the interval; the clock (`posture.ports.Clock`) decides what sleeping means.
Nothing here can crash the loop: a camera that fails, goes black or is taken by another
program becomes a status and a retry with back-off (2 s doubling to 60 s).

Nor can the clocks corrupt what it records. A wait far longer than planned (the machine
slept, the process was stopped, the wall clock stepped forward) is an absence: the open
episode ends at the last look and the sitting counts as interrupted. The wall clock
stepping back ends the session at its last time and goes on in a new one. Pauses and
snoozes end at wall-clock deadlines, as the user asked them.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from posture.app.monitor.clocks import Timeline
from posture.app.monitor.live import LiveStatus, Summary, iso
from posture.app.monitor.recorder import Recorder
from posture.core.camera_policy import CameraPlan
from posture.core.frames import is_blank, thumbnail, unchanged
from posture.core.nudges import BreakTimer, Nudge, Nudger, next_interval, unseen_gap
from posture.core.observe import Watch
from posture.core.vocab import is_present, span
from posture.ports import CameraBusy, CameraFault, EndOfInput, NullHistory

if TYPE_CHECKING:
    from posture.core.episodes import Settings
    from posture.core.frames import Frame
    from posture.core.nudges import MonitorSettings
    from posture.core.profile import Profile
    from posture.core.status import Status
    from posture.ports import (
        Clock,
        Feed,
        HistoryWriter,
        Hold,
        HoldSensor,
        Notifier,
        PoseEstimator,
        QuietSensor,
    )

log = logging.getLogger("posture")

BACKOFF_FIRST = 2.0
BACKOFF_MAX = 60.0
#: The wall clock going back by less than this (NTP's small corrections) is clamped; by
#: more, the session is split (`Recorder.split`).
STEP_BACK_MS = 2000
#: While a hold lasts, the loop asks again this often (a sensor may wake it sooner), and
#: tries the camera again this often while it is busy: back within 10 s after the other
#: program lets go.
HOLD_RECHECK = 5.0


class Monitor:
    """The loop owns the camera, the model and the history (one thread); `pause`,
    `resume`, `snooze`, `request_stop` and `status` may be called from any thread."""

    def __init__(
        self,
        *,
        profile: Profile,
        feed: Feed,
        pose_factory: Callable[[], PoseEstimator],
        notifier: Notifier,
        history: HistoryWriter | None = None,
        clock: Clock,
        settings: MonitorSettings,
        episode_settings: Settings,
        sensitivity: str | None = None,
        min_visibility: float = 0.5,
        holds: Sequence[HoldSensor] = (),
        quiet: Sequence[QuietSensor] = (),
    ) -> None:
        self.profile = profile
        self.hold_sensors = list(holds)
        self.quiet_sensors = list(quiet)
        self.feed = feed
        self.pose_factory = pose_factory
        self.notifier = notifier
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
        self.camera_plan = CameraPlan(settings.close_camera_after)
        self.timeline = Timeline(clock)
        self.live = LiveStatus(
            clock, profile=profile.name, source=feed.name, timeline=self.timeline
        )
        self.recorder = Recorder(
            history if history is not None else NullHistory(), clock, self.timeline
        )
        self.wake = threading.Event()
        self.stop = threading.Event()
        self._pose: PoseEstimator | None = None
        # A request from the control thread (under the live status's lock), applied by the
        # loop: a wall-clock deadline (UTC ms); inf = until resumed.
        self._paused_until: float | None = None
        # Loop-private state.
        self._backoff = 0.0
        self._last_thumb: np.ndarray | None = None
        self._last_poses: np.ndarray | None = None
        self._last_aspect = 1.0
        self._last_model_t = -math.inf
        self._last_t: float | None = None
        # The last tick: (rules time, raw wall ms, the wait planned after it).
        self._last_tick: tuple[float, int, float] | None = None
        self._wall_floor: int | None = None  # the last wall time handed to the history
        self._checked_setup = False
        self._held: Hold | None = None  # the hold in force, if any
        self._sensor_faults: set[str] = set()  # sensors whose failure was logged
        self.model_runs = 0
        self.samples = 0

    @property
    def summary(self) -> Summary:
        return self.live.summary

    # -- control (any thread) ------------------------------------------------------------

    def pause(self, seconds: float | None) -> str:
        """Stop looking for `seconds` (None: until resumed); when it ends, as ISO time,
        or "resume". The end is a wall-clock deadline: a suspend does not stretch it."""
        with self.live.lock:
            until = None if seconds is None else self.clock.wall_ms() + seconds * 1000
            self._paused_until = math.inf if until is None else until
        self.wake.set()
        return (iso(until) if until else None) or "resume"

    def resume(self, *, keep_snooze: bool = False) -> None:
        """End a pause, and a snooze too unless `keep_snooze` (a preview giving the camera
        back: the user's snooze is not its to end)."""
        with self.live.lock:
            self._paused_until = None
            if not keep_snooze:
                self.nudger.snooze(-math.inf)
        self.wake.set()

    def snooze(self, seconds: float) -> str | None:
        """No nudges for `seconds`; until when, as ISO time."""
        with self.live.lock:
            # A float the loop only reads: set here, seen at its next nudge decision.
            until = self.clock.wall_ms() + seconds * 1000
            self.nudger.snooze(until)
        return iso(until)

    def request_stop(self) -> None:
        self.stop.set()
        self.wake.set()

    def status(self) -> Status:
        with self.live.lock:
            return self.live.snapshot(
                paused_until=self._paused_until,
                snoozed_until=self.nudger.snoozed_until,
                notifier=self.notifier.name,
                history=self.recorder.history.health(),
            )

    # -- the loop (one thread) -------------------------------------------------------------

    def run(self) -> Summary:
        start_ms = self.clock.wall_ms()
        self.summary.started_ms = self._wall_floor = start_ms
        today = self.recorder.start(
            start_ms,
            profile=self.profile.name,
            source=f"{self.feed.kind}:{self.feed.name}",
            settings={"interval": self.settings.interval, "cooldown": self.settings.cooldown},
        )
        self.live.set_today(today)
        self._start_sensors()
        try:
            while not self.stop.is_set():
                self.wake.clear()  # before the tick: a wake during it is not lost
                interval = self.tick()
                if interval is None:
                    break
                self.live.next_check(self.clock.wall_ms() + round(interval * 1000))
                self.clock.sleep(interval, self.wake)
        finally:
            self._finish()
        return self.summary

    def _finish(self) -> None:
        t = self.clock.now()
        end_ms = self._wall_at_end(self.clock.wall_ms())
        episode = self.watch.finish(self._last_t if self._last_t is not None else t)
        if episode is not None:
            self.recorder.episode_ended(episode)
        if self._pose is not None:
            self._pose.close()
            self._pose = None
        self.feed.release()
        self._close_sensors()
        self.summary.ended_ms = end_ms
        self.recorder.finish(end_ms)

    def tick(self) -> float | None:
        """Look once (or not, while paused); the seconds until the next look, or None at
        the end of a recording."""
        t = self.clock.now()
        raw = self.clock.wall_ms()
        wall = self._check_clocks(t, raw)
        self.timeline.anchor(t, wall)
        interval = self._tick(t, wall, raw)
        self._last_tick = (t, raw, 0.0 if interval is None else interval)
        return interval

    # -- the clocks ------------------------------------------------------------------------

    def _check_clocks(self, t: float, raw: int) -> int:
        """The wall time to record for this tick, after what the clocks say happened
        since the last one: a gap nobody looked through, or the wall clock stepping back."""
        last = self._last_tick
        if last is not None:
            t0, raw0, planned = last
            gap = unseen_gap(t - t0, (raw - raw0) / 1000, planned)
            if gap is not None:
                log.info("no look for %s (suspend?); treated as an absence", span(gap))
                self._interrupt()
                self.breaks.unseen(gap)
        floor = self._wall_floor
        if floor is not None and raw < floor - STEP_BACK_MS:
            log.warning(
                "the wall clock went back by %s; the session goes on as a new one from now",
                span((floor - raw) / 1000),
            )
            self._interrupt()
            self.live.stopped(floor)
            self.recorder.split(floor, raw)
            floor = None
        wall = raw if floor is None else max(raw, floor)
        self._wall_floor = wall
        return wall

    def _wall_at_end(self, raw: int) -> int:
        floor = self._wall_floor
        if floor is None or raw >= floor:
            return raw
        if raw < floor - STEP_BACK_MS:
            log.warning(
                "the wall clock went back by %s; the session ends at its last time",
                span((floor - raw) / 1000),
            )
        return floor

    def _interrupt(self) -> None:
        """Nothing is known since the last look: the open episode ends there."""
        episode = self.watch.interrupt()
        if episode is not None:
            self.recorder.episode_ended(episode)
            self.nudger.episode_over()
        self._last_poses = None  # nor is a picture from before worth reusing

    # -- one tick --------------------------------------------------------------------------

    def _tick(self, t: float, wall: int, raw: int) -> float | None:
        with self.live.lock:
            paused_until = self._paused_until
            if paused_until is not None and raw >= paused_until:
                self._paused_until = paused_until = None
        if paused_until is not None:
            self._end_hold(wall)  # a pause says more than a hold: the user asked for it
            if self.recorder.begin(self.recorder.paused, wall):
                self.live.stopped(wall)
                self.feed.release()
                log.info("paused; camera released")
            self.live.camera("released (paused)")
            left = (paused_until - raw) / 1000
            return max(0.05, min(self.settings.away_interval * 12, left))
        if self.recorder.end(self.recorder.paused, wall):
            log.info("resumed")
        hold = self._sensed_hold()
        if hold is not None:
            return self._on_hold(hold, wall)
        if self._held is not None and self._held.kind != "camera_in_use":
            self._end_hold(wall)  # a busy camera's hold ends when it gives a picture

        try:
            frame = self.feed.read(t)
            thumb = thumbnail(frame.image)
            # The same tiny picture tells a blank frame and an unchanged one.
            if is_blank(thumb):
                raise CameraFault("the camera shows a blank picture (privacy shutter closed?)")
        except EndOfInput:
            return None
        except CameraBusy as busy:
            return self._on_hold(busy.hold, wall)
        except CameraFault as fault:
            self._end_hold(wall)
            return self._fault(str(fault), wall)
        self._end_hold(wall)
        if self.recorder.end(self.recorder.fault, wall):
            log.info("camera back")
        self._backoff = 0.0
        self.live.camera("ok")
        height, width = frame.image.shape[:2]
        if not self._checked_setup:
            self._checked_setup = True
            reason = self.watch.setup_warning(self.feed.kind, self.feed.name, width, height)
            if reason:
                log.warning(reason)
                self._send(self.nudger.flag_stale(), t, wall)
        return self._observe(t, wall, frame, thumb)

    # -- holds: another program has the camera, the screen is locked, the machine sleeps --

    def _start_sensors(self) -> None:
        for sensor in list(self.hold_sensors):
            try:
                sensor.start(self.wake.set)
            except Exception as err:  # a sensor that cannot watch must not stop the monitor
                log.warning("%s: cannot watch (%s); going on without it", sensor.name, err)
                self.hold_sensors.remove(sensor)

    def _close_sensors(self) -> None:
        for sensor in self.hold_sensors:
            try:
                sensor.close()
            except Exception as err:
                log.warning("%s: %s while closing", sensor.name, err)

    def _sensed_hold(self) -> Hold | None:
        """The first hold a sensor reports; a sensor that fails counts as no hold (one
        log line per sensor)."""
        for sensor in self.hold_sensors:
            try:
                hold = sensor.hold()
            except Exception as err:
                if sensor.name not in self._sensor_faults:
                    self._sensor_faults.add(sensor.name)
                    log.warning("%s: %s; taken as no hold", sensor.name, err)
                continue
            if hold is not None:
                return hold
        return None

    def _on_hold(self, hold: Hold, wall: int) -> float:
        """Do not look: the camera released, the history flushed, the hold a period (a
        break for the break timer, as no sample comes while it lasts)."""
        held = self._held
        if held is None or held.kind != hold.kind:
            if held is None:
                self.live.stopped(wall)
                self._interrupt()
            else:
                self.recorder.end(self.recorder.holds[held.kind], wall)
            self.feed.release()
            self.recorder.begin(self.recorder.holds[hold.kind], wall)
            self.recorder.flush_now()
            log.info("%s; camera released", hold.reason)
        elif hold != held:
            log.info("%s", hold.reason)
        self._held = hold
        self.live.held(hold)
        return HOLD_RECHECK

    def _end_hold(self, wall: int) -> None:
        held = self._held
        if held is None:
            return
        self._held = None
        self.recorder.end(self.recorder.holds[held.kind], wall)
        self.live.held(None)
        log.info("%s: over; looking again", held.reason)

    def _quiet_reason(self) -> str | None:
        """Why nudges are to be held back now (the first quiet sensor that says so)."""
        for sensor in self.quiet_sensors:
            try:
                reason = sensor.quiet()
            except Exception as err:
                if sensor.name not in self._sensor_faults:
                    self._sensor_faults.add(sensor.name)
                    log.warning("%s: %s; nudges are not held back for it", sensor.name, err)
                continue
            if reason is not None:
                return reason
        return None

    def _fault(self, reason: str, wall: int) -> float:
        self.live.stopped(wall)
        self.feed.release()
        self._backoff = min(BACKOFF_MAX, max(BACKOFF_FIRST, self._backoff * 2))
        if self.recorder.begin(self.recorder.fault, wall):
            log.warning("camera: %s; retrying in %.0f s", reason, self._backoff)
        self.live.camera_fault(f"fault: {reason}; retrying in {self._backoff:.0f} s")
        return self._backoff

    def _poses(self, t: float, frame: Frame, thumb: np.ndarray) -> tuple[np.ndarray, float]:
        """The poses in `frame`: the model's, or the last ones when the picture has not
        changed and the model ran less than `max_skip` ago."""
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
        self._last_t = t
        self.live.looked(wall, update, judgment.verdict, judgment.bad_problems)
        self.recorder.sample(wall, seen, update.state)
        if judgment.verdict == "away":
            self.recorder.begin(self.recorder.away, wall)
        else:
            self.recorder.end(self.recorder.away, wall)
        if update.started is not None:
            self.live.episode_started()
            log.info("slouch episode (%s) since %.0f s", update.started.kind, update.started.start)
            self.recorder.episode_started(update.started)
        if update.ended is not None:
            self.recorder.episode_ended(update.ended)
        nudges = self.nudger.on_update(t, update, wall_ms=wall)
        reminder = self.breaks.on_sample(t, is_present(judgment.verdict))
        if reminder is not None:
            nudges.append(reminder)
        self._send(nudges, t, wall)
        self.recorder.flush(t)
        interval = next_interval(update, self.settings, bad=judgment.verdict == "bad")
        interval, keep_open = self.camera_plan.after_look(t, is_present(judgment.verdict), interval)
        if not keep_open:  # the next look is far off: the light off until then
            self.feed.release()
            self.live.camera("released between looks")
        return interval

    def _send(self, nudges: list[Nudge], t: float, wall: int) -> None:
        quiet = self._quiet_reason() if self.quiet_sensors else None
        self.live.quiet(quiet)
        for nudge in nudges:
            if quiet is not None:
                log.info("nudge (%s) held back (%s): %s", nudge.kind, quiet, nudge.message)
                self.live.held_nudge()
                self.recorder.nudged(nudge, t, wall, f"held: {quiet}")
                continue
            self.notifier.notify(nudge.title, nudge.message)
            log.info("nudge (%s) via %s: %s", nudge.kind, self.notifier.name, nudge.message)
            self.live.nudged(nudge.kind, wall)
            self.recorder.nudged(nudge, t, wall, self.notifier.name)
