"""Suspend and clock steps through the real monitor (issue 10, section 2): the real loop,
judgment, tracker, policy and SQLite history, fakes only at the edges, on a simulated
clock whose wall time and rules' time jump as a laptop's do.

A suspend moves the wall clock on; the rules' clock moves with it when it counts suspend
(`CLOCK_BOOTTIME`, what `RealClock` uses on Linux) and not when it does not
(`time.monotonic()` on Linux and macOS, what the monitor used before). Every test runs
both ways: the loop must be right whichever clock it gets.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from posture.adapters.control.protocol import answer
from posture.adapters.storage.history import History
from posture.app.monitor.clocks import RealClock, ReplayClock, rules_clock, suspend_clock_name
from posture.app.monitor.loop import Monitor
from posture.app.service import _handler
from posture.core.durations import parse_duration
from posture.core.episodes import Settings, Tracker
from posture.core.judgment import Judgment
from posture.core.nudges import GAP_FLOOR, BreakTimer, unseen_gap
from tests.conftest import run_posture
from tests.synthetic import Scenario, Segment, make_profile
from tests.test_monitor import FakeFeed, FakeNotifier, FakePose, default_settings

START_MS = 1_700_000_000_000
HOUR = 3600.0
COUNTS = pytest.mark.parametrize(
    "counted", [True, False], ids=["boottime", "monotonic-stops-in-suspend"]
)


class JumpingClock(ReplayClock):
    """A replay clock on which, once the rules' time reaches a point, something happens
    between two looks: a suspend, a step of the wall clock, a request from the control
    thread (pause, snooze)."""

    def __init__(self, start_wall_ms: int = START_MS) -> None:
        super().__init__(0, start_wall_ms=start_wall_ms)
        self.wall_offset_ms = 0
        self._events: list[tuple[float, Callable[[], object]]] = []

    def wall_ms(self) -> int:
        return super().wall_ms() + self.wall_offset_ms

    def at(self, t: float, action: Callable[[], object]) -> None:
        self._events.append((t, action))
        self._events.sort(key=lambda e: e[0])

    def suspend(self, seconds: float, *, counted: bool) -> None:
        """The machine sleeps `seconds`: the wall clock goes on, the rules' clock too if
        it counts suspend."""
        if counted:
            self.t += seconds
        else:
            self.wall_offset_ms += round(seconds * 1000)

    def step(self, seconds: float) -> None:
        """The wall clock is set `seconds` forward (or back)."""
        self.wall_offset_ms += round(seconds * 1000)

    def sleep(self, seconds: float, wake: threading.Event) -> None:
        super().sleep(seconds, wake)
        while self._events and self._events[0][0] <= self.t:
            _, action = self._events.pop(0)
            action()


def scenario(
    before: list[Segment], asleep: float, after: list[Segment], *, counted: bool
) -> Scenario:
    """The user's timeline on the rules' clock: the time asleep is on it only if the
    clock counts it (the camera is not read meanwhile, so what it shows does not matter)."""
    middle = [Segment("away", asleep)] if counted else []
    return Scenario([*before, *middle, *after])


def monitor_on(
    tmp_path: Path, timeline: Scenario, clock: JumpingClock, **settings: Any
) -> tuple[Monitor, FakeFeed, FakeNotifier, History]:
    feed = FakeFeed(timeline)
    notifier = FakeNotifier()
    history = History(tmp_path / "history.sqlite3")
    monitor = Monitor(
        profile=make_profile(),
        feed=feed,
        pose_factory=lambda: FakePose(timeline),
        notifier=notifier,
        history=history,
        clock=clock,
        settings=default_settings(**settings),
        episode_settings=Settings(),
    )
    return monitor, feed, notifier, history


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def assert_times_run_forward(db: Path) -> None:
    """Within every session: it ends after it starts, its samples, nudges and periods
    are in order and inside it, each episode ends after it starts and inside it."""
    for sid, start, end in rows(db, "select id, started_ms, ended_ms from sessions"):
        assert end is not None and start <= end, (sid, start, end)
        of_session = f"where session_id = {sid} order by rowid"
        for table in ("samples", "nudges"):
            times = [r[0] for r in rows(db, f"select t_ms from {table} {of_session}")]
            assert times == sorted(times) and all(start <= t <= end for t in times), table
        for table in ("episodes", "periods"):
            for first, last in rows(db, f"select start_ms, end_ms from {table} {of_session}"):
                assert last is not None and start <= first <= last <= end, (table, first, last)


# --- the rules' clock --------------------------------------------------------------------


def test_the_rules_clock_counts_suspend_on_each_platform() -> None:
    assert suspend_clock_name("linux") == "CLOCK_BOOTTIME"
    assert suspend_clock_name("darwin") == "CLOCK_MONOTONIC"  # counts sleep there
    assert suspend_clock_name("win32") is None  # time.monotonic() counts it already
    assert suspend_clock_name("freebsd14") is None
    assert rules_clock("win32") is time.monotonic


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CLOCK_BOOTTIME is Linux's")
def test_the_real_clock_is_boottime_here() -> None:
    clock = RealClock()
    for _ in range(3):
        before = time.clock_gettime(time.CLOCK_BOOTTIME)
        now = clock.now()
        after = time.clock_gettime(time.CLOCK_BOOTTIME)
        assert before <= now <= after
    # the macOS choice, tried here where the same clock id exists
    monotonic = rules_clock("darwin")
    assert abs(monotonic() - time.clock_gettime(time.CLOCK_MONOTONIC)) < 0.05


def test_a_gap_is_an_absence_only_when_far_longer_than_planned() -> None:
    assert unseen_gap(2.0, 2.0, 2.0) is None
    assert unseen_gap(60.0, 60.0, 60.0) is None  # a camera fault's back-off
    assert unseen_gap(GAP_FLOOR, GAP_FLOOR, 2.0) is None
    assert unseen_gap(2.0, 8 * HOUR, 2.0) == 8 * HOUR  # the rules' clock did not count it
    assert unseen_gap(8 * HOUR, 8 * HOUR, 2.0) == 8 * HOUR
    assert unseen_gap(2.0, -HOUR, 2.0) is None  # a step back is no gap (the loop splits)
    assert unseen_gap(400.0, 400.0, 300.0) is None  # a long pause tick
    assert unseen_gap(1000.0, 1000.0, 300.0) == 1000.0
    breaks = BreakTimer(default_settings())
    breaks.on_sample(0.0, True)
    breaks.unseen(60.0)
    assert breaks.seated_since == 0.0  # a minute is no break
    breaks.unseen(10 * HOUR)
    assert breaks.seated_since is None


def test_an_interrupted_tracker_ends_the_episode_at_the_last_look() -> None:
    tracker = Tracker()
    bad = Judgment("bad", 2.0, {"slouch": 2.0})
    t = 0.0
    while tracker.current is None:
        tracker.update(t, bad)
        t += 1.0
    last = t - 1.0
    episode = tracker.interrupt()
    assert episode is not None and episode.end == last
    assert tracker.interrupt() is None  # once
    # afresh: the smoothing is empty, so one bad look after the gap is no episode
    update = tracker.update(last + 2.0, bad)
    assert update.state == "deviating" and update.since == last + 2.0 and update.ended is None


# --- suspend, through the monitor ----------------------------------------------------------


@COUNTS
def test_an_episode_open_across_a_suspend_ends_at_the_last_look(
    posture_home: Path, counted: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: stored as 8 h 02 min, the report's "longest episode"."""
    tmp_path = posture_home / "data"
    clock = JumpingClock()
    timeline = scenario(
        [Segment("upright", 60), Segment("slouch", 120)],
        8 * HOUR,
        [Segment("slouch", 90), Segment("upright", 60)],
        counted=counted,
    )
    clock.at(150, lambda: clock.suspend(8 * HOUR, counted=counted))
    monitor, _, _, history = monitor_on(tmp_path, timeline, clock)
    with caplog.at_level(logging.INFO, logger="posture"):
        monitor.run()
    history.close()
    db = tmp_path / "history.sqlite3"
    episodes = rows(db, "select start_ms, end_ms from episodes order by start_ms")
    assert len(episodes) == 2  # before the night, and the slouch after it
    (s1, e1), (s2, _) = episodes
    assert 60_000 <= s1 - START_MS <= 64_000 and 148_000 <= e1 - START_MS <= 152_000
    assert s2 - START_MS >= 150_000 + 8 * HOUR * 1000
    assert all(end - start < 150_000 for start, end in episodes)
    assert_times_run_forward(db)
    assert [r.getMessage() for r in caplog.records if "no look for" in r.getMessage()] == [
        "no look for 8 h 00 min (suspend?); treated as an absence"
    ]
    report = run_posture(
        "report", "--session", "1", "--format", "json", env={"POSTURE_HOME": str(posture_home)}
    )
    assert report.returncode == 0, report.stderr
    assert 60 <= json.loads(report.stdout)["episode_longest_s"] <= 150


@COUNTS
def test_no_break_reminder_after_a_night_asleep(tmp_path: Path, counted: bool) -> None:
    """Was: 45 min seated, 10 h asleep, 5 min later "You have been sitting for 50
    minutes"."""
    clock = JumpingClock()
    timeline = scenario(
        [Segment("upright", 45 * 60)], 10 * HOUR, [Segment("upright", 6 * 60)], counted=counted
    )
    clock.at(45 * 60 - 1, lambda: clock.suspend(10 * HOUR, counted=counted))
    monitor, _, notifier, history = monitor_on(tmp_path, timeline, clock)
    monitor.run()
    history.close()
    assert not [m for _, m in notifier.sent if "sitting for" in m]
    # the same 51 minutes without the night do get it: the test can tell
    clock = JumpingClock()
    monitor, _, notifier, history = monitor_on(
        tmp_path / "awake", Scenario([Segment("upright", 51 * 60)]), clock
    )
    monitor.run()
    assert [m for _, m in notifier.sent if "sitting for 50 minutes" in m]


@COUNTS
def test_a_pause_for_an_hour_is_over_after_a_longer_suspend(tmp_path: Path, counted: bool) -> None:
    """Was: `pause --for 1h`, then 8 h asleep: still paused after it."""
    clock = JumpingClock()
    timeline = scenario(
        [Segment("upright", 20)], 8 * HOUR, [Segment("upright", 120)], counted=counted
    )
    monitor, feed, _, history = monitor_on(tmp_path, timeline, clock)
    clock.at(10, lambda: monitor.pause(HOUR))
    clock.at(20, lambda: clock.suspend(8 * HOUR, counted=counted))
    monitor.run()
    history.close()
    woke = 20 + (8 * HOUR if counted else 0)
    after = [t for t in feed.reads if t > woke]
    assert after and after[0] - woke <= 61  # looking again within the pause's minute tick
    assert not [t for t in feed.reads if 10 < t <= woke]
    db = tmp_path / "history.sqlite3"
    ((start, end),) = rows(db, "select start_ms, end_ms from periods where kind = 'pause'")
    assert 10_000 <= start - START_MS <= 12_000
    woke_ms = START_MS + round(20 + 8 * HOUR) * 1000
    assert woke_ms <= end <= woke_ms + 61_000
    assert_times_run_forward(db)


@COUNTS
@pytest.mark.parametrize(("wake_hour", "looks_at"), [(8, (8, 0)), (23, (0, 0))])
def test_pause_until_tomorrow_ends_at_the_wall_time_asked(
    tmp_path: Path, counted: bool, wake_hour: int, looks_at: tuple[int, int]
) -> None:
    """Was: `pause --for tomorrow` at 18:00, asleep 18:30-08:00: camera off until 13:30.
    Woken at 23:00 instead, it stays paused until midnight, not an hour less or more."""
    evening = datetime(2026, 11, 20, 17, 59, 50).astimezone()
    clock = JumpingClock(round(evening.timestamp() * 1000))
    at_18 = evening + timedelta(seconds=10)
    seconds = parse_duration("tomorrow", now=at_18)
    woken = (at_18 + timedelta(days=1)).replace(hour=wake_hour, minute=0)
    if wake_hour > 12:
        woken -= timedelta(days=1)
    asleep = (woken - at_18).total_seconds() - 30 * 60
    timeline = scenario(
        [Segment("upright", 30 * 60 + 10)], asleep, [Segment("upright", 2 * HOUR)], counted=counted
    )
    monitor, _, _, history = monitor_on(tmp_path, timeline, clock)
    handle = _handler(monitor)
    replies: list[dict[str, Any]] = []
    request = json.dumps({"cmd": "pause", "seconds": seconds}).encode()
    clock.at(10, lambda: replies.append(answer(handle, request)))
    clock.at(10 + 30 * 60, lambda: clock.suspend(asleep, counted=counted))
    statuses: list[str] = []
    awake = 10 + 30 * 60 + (asleep if counted else 0) + 1
    clock.at(awake, lambda: statuses.append(monitor.status().to_json()["state"]))
    monitor.run()
    history.close()
    midnight = (at_18 + timedelta(days=1)).replace(hour=0, minute=0)
    assert replies[0]["ok"] and replies[0]["paused_until"] == midnight.isoformat(timespec="seconds")
    db = tmp_path / "history.sqlite3"
    first_look_after = rows(
        db, f"select min(t_ms) from samples where t_ms > {round(at_18.timestamp() * 1000)}"
    )[0][0]
    looked = datetime.fromtimestamp(first_look_after / 1000).astimezone()
    expected = woken.replace(hour=looks_at[0], minute=looks_at[1])
    if looks_at[0] < wake_hour:
        expected += timedelta(days=1)
    assert expected <= looked <= expected + timedelta(seconds=61), (looked, expected)
    assert statuses == ["paused" if wake_hour == 23 else "upright"]
    assert_times_run_forward(db)


@COUNTS
def test_a_snooze_is_over_after_a_longer_suspend(tmp_path: Path, counted: bool) -> None:
    """Was: `snooze 15m`, then 2 h asleep: a slouch afterwards went unsaid."""
    clock = JumpingClock()
    timeline = scenario(
        [Segment("upright", 40)],
        2 * HOUR,
        [Segment("upright", 30), Segment("slouch", 120)],
        counted=counted,
    )
    monitor, _, notifier, history = monitor_on(tmp_path, timeline, clock)
    until: list[str | None] = []
    clock.at(20, lambda: until.append(monitor.snooze(15 * 60)))
    clock.at(40, lambda: clock.suspend(2 * HOUR, counted=counted))
    monitor.run()
    history.close()
    assert until[0] == datetime.fromtimestamp(START_MS / 1000 + 20 + 900).astimezone().isoformat(
        timespec="seconds"
    )
    assert [title for title, _ in notifier.sent] == ["Posture check"]
    assert_times_run_forward(tmp_path / "history.sqlite3")


def test_a_snooze_still_silences_within_its_wall_time(tmp_path: Path) -> None:
    """The other side: a snooze outlasting the suspend still holds after it, and status
    shows its wall-clock end."""
    clock = JumpingClock()
    timeline = Scenario([Segment("upright", 40), Segment("upright", 30), Segment("slouch", 120)])
    monitor, _, notifier, history = monitor_on(tmp_path, timeline, clock)
    clock.at(20, lambda: monitor.snooze(2 * HOUR))
    clock.at(40, lambda: clock.suspend(HOUR, counted=False))
    shown: list[str | None] = []
    clock.at(50, lambda: shown.append(monitor.status().snoozed_until))
    monitor.run()
    history.close()
    assert notifier.sent == [] and monitor.summary.episodes == 1
    assert shown == [
        datetime.fromtimestamp(START_MS / 1000 + 20 + 2 * HOUR)
        .astimezone()
        .isoformat(timespec="seconds")
    ]


# --- wall-clock steps ----------------------------------------------------------------------


def test_a_wall_clock_step_back_never_makes_time_run_backwards(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, posture_home: Path
) -> None:
    """Was: the clock set back an hour mid-episode: an episode of -3458 s, a session
    ending before it started, a negative length in `posture history`, an empty report.
    Now the session ends at its last time and goes on as a new one."""
    clock = JumpingClock(round(datetime.now().replace(hour=12, minute=0).timestamp() * 1000))
    start_ms = clock.wall_ms()
    timeline = Scenario([Segment("upright", 60), Segment("slouch", 120), Segment("upright", 60)])
    clock.at(150, lambda: clock.step(-HOUR))
    (posture_home / "data").mkdir(parents=True, mode=0o700)
    db = posture_home / "data" / "history.sqlite3"
    monitor, _, _, history = monitor_on(db.parent, timeline, clock)
    clock.at(151, lambda: monitor.pause(20))  # a pause open across nothing odd
    with caplog.at_level(logging.INFO, logger="posture"):
        monitor.run()
    history.close()
    assert_times_run_forward(db)
    sessions = rows(db, "select id, started_ms, ended_ms from sessions order by id")
    assert len(sessions) == 2
    (_, s1, e1), (_, s2, e2) = sessions
    assert s1 == start_ms and 149_000 <= e1 - s1 <= 151_000
    assert 0 <= s2 - (start_ms + 150_000 - 3_600_000) <= 2_000 and e2 - s2 >= 85_000
    episodes = rows(db, "select session_id, start_ms, end_ms from episodes order by id")
    assert episodes[0][0] == 1 and 148_000 <= episodes[0][2] - s1 <= 151_000
    assert [r.getMessage() for r in caplog.records if "went back" in r.getMessage()] == [
        "the wall clock went back by 59 min 58 s; the session goes on as a new one from now"
    ]
    listing = run_posture("history", env={"POSTURE_HOME": str(posture_home)})
    assert listing.returncode == 0, listing.stderr
    lengths = listing.stdout.splitlines()[1:]
    assert len(lengths) == 2 and "-" not in listing.stdout, listing.stdout
    env = {"POSTURE_HOME": str(posture_home)}
    report = run_posture("report", "--today", "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    doc = json.loads(report.stdout)
    assert doc["monitored_s"] > 200 and doc["episodes"]


def test_a_small_step_back_is_clamped_and_a_step_forward_is_a_gap(tmp_path: Path) -> None:
    clock = JumpingClock()
    timeline = Scenario([Segment("upright", 60), Segment("slouch", 200), Segment("upright", 60)])
    clock.at(100, lambda: clock.step(-1.5))  # NTP's small correction: one session
    clock.at(150, lambda: clock.step(HOUR))  # set an hour forward mid-episode
    monitor, _, _, history = monitor_on(tmp_path, timeline, clock)
    monitor.run()
    history.close()
    db = tmp_path / "history.sqlite3"
    assert_times_run_forward(db)
    assert len(rows(db, "select id from sessions")) == 1
    samples = np.array([r[0] for r in rows(db, "select t_ms from samples order by rowid")])
    assert np.all(np.diff(samples) >= 0)
    episodes = rows(db, "select start_ms, end_ms from episodes order by id")
    assert len(episodes) == 2 and all(e - s < 150_000 for s, e in episodes)
    # ended at the last look (the wall 1.5 s behind since the small step)
    assert 146_000 <= episodes[0][1] - START_MS <= 149_500
    assert episodes[1][0] >= START_MS + 148_500 + HOUR * 1000  # after the step


def test_a_step_back_just_before_the_stop_still_ends_the_session_after_its_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = JumpingClock()
    monitor, _, _, history = monitor_on(tmp_path, Scenario([Segment("upright", 60)]), clock)

    def step_and_stop() -> None:
        clock.step(-HOUR)
        monitor.request_stop()

    clock.at(30, step_and_stop)
    with caplog.at_level(logging.INFO, logger="posture"):
        monitor.run()
    history.close()
    db = tmp_path / "history.sqlite3"
    assert_times_run_forward(db)
    ((start, end),) = rows(db, "select started_ms, ended_ms from sessions")
    assert start == START_MS and 28_000 <= end - start <= 30_000
    assert any("the session ends at its last time" in r.getMessage() for r in caplog.records)
