"""The tray's use case (`posture.app.tray`) over fakes of what it talks to: a fake
`TrayHost` (the real one is D-Bus's, tests/test_tray.py), a scripted `ControlTransport`
(so that garbled replies and a restarted monitor can be played exactly), a fake login
switch and notifier. The children it starts (`posture calibrate`, `posture report`) are
real processes: a small Python script stands in for `python -m posture`. The whole
chain with a real monitor and a real D-Bus item is tests/test_tray.py."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from posture.app.tray import POLL_EVERY, Tray, TrayParts, run_tray
from posture.core import tray as menu
from posture.core.status import SCHEMA
from posture.core.tray import TrayView
from posture.errors import PostureError, TrayUnavailable
from posture.ports import NotRunning

NOW = datetime(2026, 12, 2, 14, 30, tzinfo=timezone(timedelta(hours=1)))


def status_reply(**changes: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {
        "ok": True,
        "state": "upright",
        "verdict": "good",
        "problems": [],
        "since": "2026-12-02T14:02:10+01:00",
        "upright_percent": 90.0,
        "seen_seconds": 600,
        "upright_seconds": 540.0,
        "monitored_seconds": 620.0,
        "upright_percent_today": 82.0,
        "seen_seconds_today": 3600.0,
        "upright_seconds_today": 2966.0,
        "monitored_seconds_today": 3700.0,
        "nudges_today": 3,
        "nudges": 1,
        "episodes": 1,
        "camera": "ok",
        "paused_until": None,
        "snoozed_until": None,
        "next_check": None,
        "stale": False,
        "profile": "default",
        "source": "camera 0",
        "notifier": "log",
        "pid": 100,
        "schema": SCHEMA,
    }
    reply.update(changes)
    return reply


class FakeHost:
    name = "fake"

    def __init__(self, *, unavailable: str | None = None) -> None:
        self.unavailable = unavailable
        self.views: list[TrayView] = []
        self.on_click: Callable[[int], None] | None = None
        self.woken = threading.Event()
        self.closed = 0
        self.every: float | None = None

    def start(self, view: TrayView, on_click: Callable[[int], None]) -> None:
        if self.unavailable:
            raise TrayUnavailable(self.unavailable)
        self.views.append(view)
        self.on_click = on_click

    def show(self, view: TrayView) -> None:
        self.views.append(view)

    def run(self, step: Callable[[], bool], every: float) -> None:
        self.every = every
        deadline = time.monotonic() + 20
        while step() and time.monotonic() < deadline:
            self.woken.wait(0.02)
            self.woken.clear()

    def wake(self) -> None:
        self.woken.set()

    def close(self) -> None:
        self.closed += 1

    @property
    def view(self) -> TrayView:
        return self.views[-1]


class ScriptedTransport:
    """Answers `status` with `self.reply` (a dict, or an exception to raise); records
    every other request and answers it ok."""

    def __init__(self, reply: dict[str, Any] | Exception) -> None:
        self.reply = reply
        self.requests: list[dict[str, Any]] = []

    def serve(self, handler: Any, on_failure: Any) -> None:
        raise AssertionError("the tray never serves")

    def close(self) -> None:
        pass

    def request(self, message: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
        if message["cmd"] == "status":
            if isinstance(self.reply, Exception):
                raise self.reply
            return self.reply
        if isinstance(self.reply, NotRunning):
            raise self.reply
        self.requests.append(message)
        return {"ok": True}


class Login:
    def __init__(self) -> None:
        self.on = False

    def enabled(self) -> bool:
        return self.on

    def enable(self) -> None:
        self.on = True

    def disable(self) -> None:
        self.on = False


class Notes:
    name = "fake"

    def __init__(self) -> None:
        self.said: list[str] = []

    def notify(self, title: str, message: str) -> None:
        self.said.append(message)


#: Stands in for `python -m posture`: what it does is in the environment-free argv.
FAKE_POSTURE = """
import sys, pathlib
args = sys.argv[1:]
behaviour = pathlib.Path(sys.argv[0]).with_name("behaviour").read_text()
if args[0] == "calibrate":
    assert args[1:] == ["--preview"], args  # the window, though stderr is not a terminal
    if behaviour == "fail":
        sys.stderr.write("calibrating...\\nposture: error: no person found: sit in view\\n")
        sys.exit(2)
    sys.exit(0)
if args[0] == "report":
    assert args[1:5] == ["--today", "--format", "html", "-o"], args
    if behaviour == "fail":
        sys.stderr.write("no history yet: start the monitor with `posture start`\\n")
        sys.exit(0)
    pathlib.Path(args[5]).write_text("<!DOCTYPE html><title>today</title>")
"""


class World:
    def __init__(self, tmp_path: Path, reply: dict[str, Any] | Exception) -> None:
        self.host = FakeHost()
        self.transport = ScriptedTransport(reply)
        self.login = Login()
        self.notes = Notes()
        self.started: list[str] = []
        self.browsed: list[str] = []
        script = tmp_path / "fake_posture.py"
        script.write_text(FAKE_POSTURE)
        self.behaviour = tmp_path / "behaviour"
        self.behaviour.write_text("ok")
        self.reports = tmp_path / "reports"
        self.reports.mkdir()
        self.start_result: Callable[[], int] = lambda: 101
        self.parts = TrayParts(
            host=self.host,
            transport=self.transport,
            login=self.login,
            notifier=self.notes,
            report_folder=lambda: self.reports,
            start_monitor=self._start,
            stop_monitor=self._stop,
            posture=[sys.executable, str(script)],
            open_browser=self._browse,
            now=lambda: NOW,
        )
        self.tray = Tray(self.parts)

    def _start(self) -> int:
        self.started.append("start")
        return self.start_result()

    def _stop(self) -> object:
        self.started.append("stop")
        return 100

    def _browse(self, url: str) -> bool:
        self.browsed.append(url)
        return True

    def settle(self, done: Callable[[], bool], timeout: float = 10) -> None:
        """Run the tray's step (as the host does) until `done`."""
        deadline = time.monotonic() + timeout
        self.tray.step()  # what was clicked
        while not done():
            assert time.monotonic() < deadline, "the tray did not get there"
            self.host.woken.wait(0.05)
            self.host.woken.clear()
            self.tray.step()


def items(view: TrayView) -> dict[int, menu.MenuItem]:
    return {i.id: i for i in view.menu if not i.separator}


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path, status_reply())
    w.tray.poll()
    w.host.start(w.tray.view(), w.tray.clicked)
    return w


def test_menu_clicks_are_queued_on_the_hosts_thread_and_done_by_the_step(world: World) -> None:
    assert world.host.on_click is not None
    clicker = threading.Thread(target=world.host.on_click, args=(menu.PAUSE_1H,))
    clicker.start()
    clicker.join()
    assert world.host.woken.is_set()
    assert world.transport.requests == []  # nothing done on the host's thread
    world.tray.step()
    assert world.transport.requests == [{"cmd": "pause", "seconds": 3600.0}]
    for item in (menu.PAUSE_30M, menu.PAUSE_TOMORROW, menu.RESUME, menu.SNOOZE_15M):
        world.tray.clicked(item)
    world.tray.step()
    assert world.transport.requests[1:] == [
        {"cmd": "pause", "seconds": 1800.0},
        {"cmd": "pause", "seconds": 9.5 * 3600},  # 14:30 to midnight, local time
        {"cmd": "resume"},
        {"cmd": "snooze", "seconds": 900.0},
    ]


def test_the_view_follows_the_status_and_a_restarted_monitor(world: World) -> None:
    assert world.host.view.state == "upright" and world.tray.pid == 100
    world.transport.reply = status_reply(state="slouching", verdict="bad", problems=["slouch"])
    world.tray.step()
    assert world.host.view.state == "slouching"
    assert "posture bad: slouch" in world.host.view.tooltip
    world.transport.reply = status_reply(pid=200, state="paused", paused_until="resume")
    world.tray.step()
    assert world.tray.pid == 200 and world.host.view.title == "posture: paused"
    assert items(world.host.view)[menu.RESUME].enabled
    world.transport.reply = NotRunning()
    world.tray.step()
    view = world.host.view
    assert view.state == "stopped" and menu.START in items(view)
    assert menu.PAUSE_1H not in items(view)
    world.tray.clicked(menu.START)
    world.transport.reply = status_reply(pid=300)
    world.settle(lambda: not world.tray.starting)
    assert world.started == ["start"]
    world.tray.step()
    assert world.host.view.state == "upright" and world.tray.pid == 300


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (PostureError("the monitor's reply is not JSON"), "the monitor's reply is not JSON"),
        (OSError(5, "Input/output error"), "Input/output error"),
        (status_reply(schema=SCHEMA + 1), "the monitor speaks status schema"),
        (status_reply(problems=5), "not iterable"),
        ({"ok": False, "error": "busy"}, "the monitor refused: busy"),
    ],
)
def test_a_fault_of_the_channel_is_the_fault_icon_with_its_reason(
    world: World, fault: dict[str, Any] | Exception, reason: str
) -> None:
    world.transport.reply = fault
    assert world.tray.step() is True  # never an exception out of the step
    view = world.host.view
    assert view.state == "fault" and reason in view.tooltip
    assert menu.START in items(view)
    world.transport.reply = status_reply()
    world.tray.step()
    assert world.host.view.state == "upright"


def test_a_click_while_no_monitor_runs_is_told_not_raised(world: World) -> None:
    world.transport.reply = NotRunning()
    world.tray.clicked(menu.PAUSE_30M)
    world.tray.step()
    assert world.notes.said == ["posture is not running: Start posture in the menu"]


def test_start_at_login_toggles_and_the_checkbox_follows(world: World) -> None:
    assert items(world.host.view)[menu.AUTOSTART].checked is False
    world.tray.clicked(menu.AUTOSTART)
    world.tray.step()
    assert world.login.on and items(world.host.view)[menu.AUTOSTART].checked is True
    world.login.on = False  # `posture autostart disable` meanwhile: the next poll sees it
    world.tray.step()
    assert items(world.host.view)[menu.AUTOSTART].checked is False


def test_calibrate_restarts_the_monitor_once_it_saved_a_profile(world: World) -> None:
    world.tray.clicked(menu.CALIBRATE)
    world.tray.step()
    calibrating = items(world.host.view)[menu.CALIBRATE]
    assert calibrating.label == "Calibrating…" and not calibrating.enabled
    world.settle(lambda: world.started == ["stop", "start"] and not world.tray.starting)
    assert not world.tray.calibrating and world.notes.said == []


def test_a_failed_calibration_is_told_with_its_last_line(world: World) -> None:
    world.behaviour.write_text("fail")
    world.tray.clicked(menu.CALIBRATE)
    world.settle(lambda: bool(world.notes.said))
    assert world.notes.said == ["calibration failed: no person found: sit in view"]
    assert world.started == [] and not world.tray.calibrating


def test_todays_report_is_written_then_opened(world: World) -> None:
    stale = world.reports / "posture-today-20261202.html"
    stale.write_text("yesterday's run of today")
    earlier = world.reports / "posture-today-20261125.html"
    earlier.write_text("a week ago")
    world.tray.clicked(menu.REPORT)
    world.settle(lambda: bool(world.browsed))
    assert world.browsed == [stale.as_uri()]
    assert stale.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in world.reports.iterdir()) == [stale.name]  # one, not one a day


def test_no_history_no_report_and_it_says_why(world: World) -> None:
    world.behaviour.write_text("fail")
    world.tray.clicked(menu.REPORT)
    world.settle(lambda: bool(world.notes.said))
    assert world.notes.said == ["no report: no history yet: start the monitor with `posture start`"]
    assert world.browsed == [] and not list(world.reports.iterdir())


def test_the_whole_run_starts_a_monitor_when_none_answers_and_quit_stops_it(
    tmp_path: Path,
) -> None:
    w = World(tmp_path, NotRunning())

    def start() -> int:
        w.transport.reply = status_reply(pid=101)
        return 101

    w.start_result = start
    seen: list[TrayView] = []

    def user() -> None:  # on the panel, while the tray owns the main thread
        deadline = time.monotonic() + 10
        while not (w.host.views and w.host.view.state == "upright"):
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        seen.extend(w.host.views)
        assert w.host.on_click is not None
        w.host.on_click(menu.QUIT)

    clicker = threading.Thread(target=user)
    clicker.start()
    code = run_tray(w.parts)  # the host's run returns once the step says so
    clicker.join(10)
    assert code == 0 and w.started == ["start", "stop"] and w.host.closed == 1
    assert seen[0].state == "starting"  # from the first view on
    assert seen[-1].state == "upright"
    assert w.host.every == POLL_EVERY


def test_a_failed_start_is_a_fault_with_the_monitors_reason(tmp_path: Path) -> None:
    w = World(tmp_path, NotRunning())

    def start() -> int:
        raise PostureError("the monitor did not start: no profile 'default': run calibrate")

    w.start_result = start
    w.tray.poll()
    w.host.start(w.tray.view(), w.tray.clicked)
    w.tray.start()
    w.settle(lambda: not w.tray.starting)
    w.tray.step()  # the next poll: still nobody there, the reason stays
    view = w.host.view
    assert view.state == "fault" and "no profile 'default'" in view.tooltip
    assert w.notes.said == ["the monitor did not start: no profile 'default': run calibrate"]


def test_no_tray_host_is_the_hosts_one_line_and_starts_nothing(tmp_path: Path) -> None:
    w = World(tmp_path, NotRunning())
    w.parts.host = FakeHost(unavailable="no tray host on this desktop: no watcher")
    with pytest.raises(TrayUnavailable, match="no watcher"):
        run_tray(w.parts)
    assert w.started == []


def test_waiting_for_a_panel_tries_a_new_host_until_one_shows_the_icon(tmp_path: Path) -> None:
    """`posture tray --wait`: at login the panel may come after posture."""
    w = World(tmp_path, status_reply())
    hosts = [FakeHost(unavailable="no tray host on this desktop: no watcher; more")]
    w.parts.host = hosts[0]
    w.parts.wait_for_host = 30

    def new_host() -> FakeHost:
        hosts.append(FakeHost(unavailable=None if len(hosts) >= 2 else "still none"))
        return hosts[-1]

    w.parts.new_host = new_host

    def user() -> None:
        wait_until(lambda: hosts[-1].on_click is not None)
        click = hosts[-1].on_click
        assert click is not None
        click(menu.QUIT)

    quitter = threading.Thread(target=user)
    quitter.start()
    began = time.monotonic()
    assert run_tray(w.parts) == 0
    quitter.join(10)
    assert len(hosts) == 3 and [h.closed for h in hosts] == [1, 1, 1]
    assert 1.5 < time.monotonic() - began < 10  # a try every second


def test_without_wait_or_past_it_no_panel_is_the_hosts_line(tmp_path: Path) -> None:
    w = World(tmp_path, status_reply())
    w.parts.host = FakeHost(unavailable="no tray host on this desktop: no watcher")
    w.parts.new_host = lambda: FakeHost(unavailable="no tray host on this desktop: no watcher")
    w.parts.wait_for_host = 1.5
    began = time.monotonic()
    with pytest.raises(TrayUnavailable, match="no watcher"):
        run_tray(w.parts)
    assert 1.0 < time.monotonic() - began < 5


def wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.02)
