"""Holds and quiet through the real monitor loop, its SQLite history and its status: a
sensor that says the screen is locked, a camera another program has (EBUSY), a
do-not-disturb that holds nudges back. The sensors here are fakes of the port
(`posture.ports.HoldSensor`, `QuietSensor`) driven by the simulated clock; the real
adapters (logind over D-Bus, the device watcher, the desktop's do-not-disturb) have
their own tests on real buses and files."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from posture.adapters.storage.history import History
from posture.app.monitor.clocks import ReplayClock
from posture.app.monitor.loop import HOLD_RECHECK, Monitor
from posture.cli.monitor import format_status
from posture.core.episodes import Settings
from posture.core.frames import Frame
from posture.core.status import Status
from posture.ports import CameraBusy, Hold
from tests.synthetic import Scenario, Segment, make_profile
from tests.test_monitor import FakeFeed, FakeNotifier, FakePose, default_settings, rows

T0 = 1_700_000_000_000
LOCKED = Hold("locked", "the screen is locked")


class Window:
    """Something true between `start` and `end` seconds of the monitor's clock."""

    def __init__(self, clock: ReplayClock, start: float, end: float) -> None:
        self.clock, self.start, self.end = clock, start, end

    def now(self) -> bool:
        return self.start <= self.clock.now() < self.end


class FakeLock:
    """A `HoldSensor`: the screen locked during `window`."""

    name = "fake lock"

    def __init__(self, window: Window, hold: Hold = LOCKED) -> None:
        self.window = window
        self.hold_value = hold
        self.started = self.closed = 0
        self.wake: Callable[[], None] | None = None

    def start(self, wake: Callable[[], None]) -> None:
        self.started += 1
        self.wake = wake

    def hold(self) -> Hold | None:
        return self.hold_value if self.window.now() else None

    def close(self) -> None:
        self.closed += 1


class BusyFeed(FakeFeed):
    """A camera another program opens during `busy` (s): every read is EBUSY then."""

    def __init__(self, scenario: Scenario, busy: tuple[float, float]) -> None:
        super().__init__(scenario)
        self.busy = busy

    def read(self, t: float) -> Frame:
        if self.busy[0] <= t < self.busy[1] and t <= self.scenario.duration:
            self.reads.append(t)
            raise CameraBusy(
                Hold("camera_in_use", "camera in use by zoom (pid 4242)", "zoom", 4242)
            )
        return super().read(t)


class Watching(ReplayClock):
    """A replay clock that keeps `monitor.status()` at each sleep (as `posture status`
    would ask from the control thread)."""

    def __init__(self) -> None:
        super().__init__(0, start_wall_ms=T0)
        self.monitor: Monitor | None = None
        self.seen: list[tuple[float, Status]] = []

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        if self.monitor is not None:
            self.seen.append((self.t, self.monitor.status()))
        super().sleep(seconds, wake)

    def at(self, t: float) -> Status:
        return next(status for when, status in self.seen if when >= t)


def monitor_of(
    tmp_path: Path,
    scenario: Scenario,
    *,
    feed: FakeFeed | None = None,
    holds: tuple[object, ...] = (),
    quiet: tuple[object, ...] = (),
    clock: Watching | None = None,
    **settings: float,
) -> tuple[Monitor, FakeFeed, FakeNotifier, History, Watching]:
    clock = clock if clock is not None else Watching()
    feed = feed if feed is not None else FakeFeed(scenario)
    notifier = FakeNotifier()
    history = History(tmp_path / "history.sqlite3")
    monitor = Monitor(
        profile=make_profile(),
        feed=feed,
        pose_factory=lambda: FakePose(scenario),
        notifier=notifier,
        history=history,
        clock=clock,
        settings=default_settings(**settings),
        episode_settings=Settings(),
        holds=holds,  # type: ignore[arg-type]
        quiet=quiet,  # type: ignore[arg-type]
    )
    clock.monitor = monitor
    return monitor, feed, notifier, history, clock


def periods(tmp_path: Path, kind: str) -> list[tuple[float, float]]:
    """The periods of `kind`, as seconds since the start."""
    found = rows(
        tmp_path / "history.sqlite3",
        f"select start_ms, end_ms from periods where kind = '{kind}' order by start_ms",
    )
    return [((s - T0) / 1000, (e - T0) / 1000) for s, e in found]  # type: ignore[operator]


def test_a_locked_screen_releases_the_camera_stops_looking_and_is_a_period(
    tmp_path: Path,
) -> None:
    scenario = Scenario([Segment("upright", 600)])
    clock = Watching()
    lock = FakeLock(Window(clock, 100, 400))
    monitor, feed, _, history, _ = monitor_of(tmp_path, scenario, holds=(lock,), clock=clock)
    monitor.run()
    history.close()
    assert lock.started == 1 and lock.closed == 1
    assert not [t for t in feed.reads if 100 <= t < 400]  # no look while locked
    assert [t for t in feed.reads if 400 <= t < 400 + HOLD_RECHECK + 1]  # back at once
    assert feed.releases >= 2  # released at the lock (and at the end)
    ((start, end),) = periods(tmp_path, "locked")
    assert 100 <= start < 100 + 3 and 400 <= end < 400 + HOLD_RECHECK + 1
    status = clock.at(200)
    assert status.state == "locked" and status.hold == "the screen is locked"
    assert status.camera == "released (the screen is locked)"
    assert "state        locked: the screen is locked; not looking" in format_status(status)
    assert clock.at(450).state == "upright" and clock.at(450).hold is None
    # A hold is a stop for the time count, as a pause is: nothing counted while locked.
    assert monitor.summary.monitored < 600 - 300 + 10


def test_a_long_lock_counts_as_a_break_and_a_slouch_in_it_is_not_nudged(
    tmp_path: Path,
) -> None:
    """45 min seated, locked 10 min (the user slouches over a phone, unseen), 10 min
    more: no break reminder ("sitting for 65 minutes"), no slouch nudge."""
    scenario = Scenario([Segment("upright", 2700), Segment("slouch", 600), Segment("upright", 600)])
    clock = Watching()
    lock = FakeLock(Window(clock, 2700, 3300))
    monitor, _, notifier, history, _ = monitor_of(
        tmp_path, scenario, holds=(lock,), clock=clock, break_after=3000, break_length=300
    )
    monitor.run()
    history.close()
    assert notifier.sent == []
    unlocked = tmp_path / "unlocked"
    unlocked.mkdir()
    without = Scenario([Segment("upright", 3900)])
    monitor, _, notifier, history, _ = monitor_of(
        unlocked, without, break_after=3000, break_length=300
    )
    monitor.run()
    history.close()
    assert any("sitting" in message for _, message in notifier.sent)  # the test can fail


def test_a_busy_camera_is_a_hold_naming_the_holder_not_a_fault(tmp_path: Path) -> None:
    scenario = Scenario([Segment("upright", 300)])
    feed = BusyFeed(scenario, busy=(60, 180))
    monitor, _, _, history, clock = monitor_of(tmp_path, scenario, feed=feed)
    monitor.run()
    history.close()
    status = clock.at(100)
    assert status.state == "camera_in_use"
    assert (status.holder, status.holder_pid) == ("zoom", 4242)
    assert status.hold == "camera in use by zoom (pid 4242)"
    assert status.verdict != "unknown"  # not a fault
    assert periods(tmp_path, "camera_fault") == []
    ((start, end),) = periods(tmp_path, "camera_in_use")
    assert 60 <= start < 63 and 180 <= end < 180 + HOLD_RECHECK + 1
    tries = [t for t in feed.reads if 60 <= t < 180]
    assert all(b - a <= HOLD_RECHECK + 0.01 for a, b in itertools.pairwise(tries))
    assert clock.at(200).state == "upright"


class FakeDnd:
    """A `QuietSensor`: do-not-disturb during `window`."""

    name = "fake do-not-disturb"

    def __init__(self, window: Window) -> None:
        self.window = window

    def quiet(self) -> str | None:
        return "do not disturb" if self.window.now() else None


def test_do_not_disturb_holds_a_nudge_back_and_records_it(tmp_path: Path) -> None:
    scenario = Scenario([Segment("upright", 60), Segment("slouch", 120), Segment("upright", 60)])
    clock = Watching()
    monitor, _, notifier, history, _ = monitor_of(
        tmp_path, scenario, quiet=(FakeDnd(Window(clock, 0, 1e9)),), clock=clock
    )
    monitor.run()
    history.close()
    assert notifier.sent == []
    ((kind, backend),) = rows(tmp_path / "history.sqlite3", "select kind, backend from nudges")
    assert kind == "slouch" and backend == "held: do not disturb"
    last = clock.seen[-1][1]
    assert last.held_nudges == 1 and last.nudges == 0
    assert last.quiet == "do not disturb"
    assert "quiet        do not disturb; 1 nudge(s) held back this session" in format_status(last)


class Broken:
    name = "broken sensor"

    def __init__(self, *, at_start: bool) -> None:
        self.at_start = at_start
        self.calls = 0

    def start(self, wake: Callable[[], None]) -> None:
        if self.at_start:
            raise OSError("no session bus")

    def hold(self) -> Hold | None:
        self.calls += 1
        raise RuntimeError("the bus went away")

    def close(self) -> None:
        pass


def test_a_sensor_that_fails_is_one_log_line_and_the_monitor_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = Scenario([Segment("upright", 60), Segment("slouch", 120), Segment("upright", 60)])
    first, later = Broken(at_start=True), Broken(at_start=False)
    monitor, _, notifier, history, _ = monitor_of(tmp_path, scenario, holds=(first, later))
    with caplog.at_level(logging.INFO, logger="posture"):
        monitor.run()
    history.close()
    assert len(notifier.sent) == 1  # the slouch is still nudged
    assert first.calls == 0 and later.calls > 10
    said = [r.getMessage() for r in caplog.records if "sensor" in r.getMessage()]
    assert said == [
        "broken sensor: cannot watch (no session bus); going on without it",
        "broken sensor: the bus went away; taken as no hold",
    ]


def test_every_hold_has_its_words_in_the_report() -> None:
    from posture.core.vocab import HOLD_TEXT, HOLDS, PERIOD_KINDS

    assert tuple(HOLD_TEXT) == HOLDS
    assert set(HOLDS) <= set(PERIOD_KINDS)
