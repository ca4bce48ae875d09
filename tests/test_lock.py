"""The screen lock and sleep (issue 11, section 2).

Linux, on real components: a private "system" bus and session bus (dbus-daemon), logind
and the GNOME screensaver as python-dbusmock's templates on them (Debian python3-dbusmock,
run with /usr/bin/python3), the real sensor in this process and a real `posture start`.
macOS and Windows: their OS calls are fakes (ctypes-shaped functions), the poller real.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from posture.adapters.system import session_lock_polled as polled
from tests.conftest import run_posture
from tests.desktop import _stop, private_bus
from tests.test_monitor_process import calibrated_home, db_rows, material, status

__all__ = ["material"]  # the recording fixture, shared with test_monitor_process

SYSTEM_PYTHON = "/usr/bin/python3"
LOGIN1 = "org.freedesktop.login1"
SESSION_PATH = "/org/freedesktop/login1/session/c1"
MOCK = "org.freedesktop.DBus.Mock"


def jeepney() -> Any:
    return pytest.importorskip("jeepney")


@dataclass
class Desktop:
    """The two private buses with the mocks on them; `env` points a process at them."""

    system: str
    session: str
    folder: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "DBUS_SYSTEM_BUS_ADDRESS": self.system,
            "DBUS_SESSION_BUS_ADDRESS": self.session,
            "XDG_SESSION_ID": "c1",
        }

    def call(
        self, bus: str, name: str, path: str, iface: str, method: str, sig: str = "", *args: Any
    ) -> Any:
        j = jeepney()
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import unwrap_msg

        address = self.system if bus == "system" else self.session
        msg = j.new_method_call(j.DBusAddress(path, name, iface), method, sig or None, args)
        with open_dbus_connection(bus=address, enable_fds=True) as conn:
            return unwrap_msg(conn.send_and_get_reply(msg, timeout=5))

    def session_call(self, method: str, sig: str = "", *args: Any) -> None:
        self.call(
            "system", LOGIN1, SESSION_PATH, "org.freedesktop.login1.Session", method, sig, *args
        )

    def prepare_for_sleep(self, going: bool) -> None:
        self.call(
            "system", LOGIN1, "/org/freedesktop/login1", MOCK, "EmitSignal", "sssav",
            "org.freedesktop.login1.Manager", "PrepareForSleep", "b", [("b", going)],
        )  # fmt: skip

    def inhibitors(self) -> list[Any]:
        manager = "org.freedesktop.login1.Manager"
        return list(
            self.call("system", LOGIN1, "/org/freedesktop/login1", manager, "ListInhibitors")[0]
        )

    def screensaver(self, active: bool) -> None:
        name = "org.gnome.ScreenSaver"
        self.call("session", name, "/org/gnome/ScreenSaver", name, "SetActive", "b", active)

    def has_owner(self, bus: str, name: str) -> bool:
        dbus = "org.freedesktop.DBus"
        try:
            return bool(
                self.call(bus, dbus, "/org/freedesktop/DBus", dbus, "NameHasOwner", "s", name)[0]
            )
        except OSError:
            return False


def require_dbusmock() -> None:
    jeepney()
    if not Path(SYSTEM_PYTHON).exists():
        pytest.skip("needs /usr/bin/python3 with python-dbusmock (Debian python3-dbusmock)")
    found = subprocess.run([SYSTEM_PYTHON, "-c", "import dbusmock"], capture_output=True)
    if found.returncode != 0:
        pytest.skip("needs python-dbusmock for /usr/bin/python3 (Debian python3-dbusmock)")


#: (dbusmock's bus option, template, the name it owns)
MOCKS = (
    ("system", "logind", LOGIN1),
    ("session", "gnome_screensaver", "org.gnome.ScreenSaver"),
)


@contextlib.contextmanager
def mocked_desktop() -> Iterator[Desktop]:
    """dbus-daemon twice, logind's and the GNOME screensaver's mocks, one logind session
    "c1" of ours (active, unlocked)."""
    require_dbusmock()
    folder = Path(tempfile.mkdtemp(prefix="posture-lock-"))  # short: a socket path < 108 bytes
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with private_bus(folder, "system") as system, private_bus(folder, "session") as session:
            desktop = Desktop(system, session, folder)
            env = dict(os.environ, **desktop.env)
            for bus, template, name in MOCKS:
                argv = [SYSTEM_PYTHON, "-m", "dbusmock", f"--{bus}", "--template", template]
                with (folder / f"{template}.log").open("wb") as log:
                    procs.append(
                        subprocess.Popen(
                            argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
                        )
                    )
                wait_for(partial(desktop.has_owner, bus, name), 15, f"the {template} mock")
            desktop.call(
                "system", LOGIN1, "/org/freedesktop/login1", MOCK, "AddSession", "ssusb",
                "c1", "seat0", os.getuid(), "me", True,
            )  # fmt: skip
            yield desktop
            for proc in procs:
                _stop(proc)
    finally:
        for proc in procs:
            _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


def wait_for(check: Callable[[], object], seconds: float, what: str) -> float:
    """Poll `check` every 10 ms until true; the seconds it took."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.01)
    return time.monotonic() - start


@pytest.fixture
def desktop(monkeypatch: pytest.MonkeyPatch) -> Iterator[Desktop]:
    with mocked_desktop() as found:
        for key, value in found.env.items():
            monkeypatch.setenv(key, value)
        yield found


# -- the Linux sensor in this process, on the real buses --


class Wakes:
    def __init__(self) -> None:
        self.count = 0
        self.event = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()


def test_logind_lock_unlock_lockedhint_and_sleep_reach_the_sensor(desktop: Desktop) -> None:
    from posture.adapters.system.session_lock import ASLEEP, LOCKED, SLEEP_DELAY, LinuxScreenLock

    sensor, wakes = LinuxScreenLock(), Wakes()
    sensor.start(wakes)
    try:
        assert sensor.hold() is None
        assert [i[0] for i in desktop.inhibitors()] == ["sleep"]  # the delay lock, taken

        def after(action: Callable[[], None], expected: object) -> None:
            wakes.event.clear()
            action()
            assert wakes.event.wait(1), "the loop was not woken"
            wait_for(lambda: sensor.hold() == expected, 1, f"hold {expected}")

        after(lambda: desktop.session_call("Lock"), LOCKED)
        after(lambda: desktop.session_call("Unlock"), None)
        after(lambda: desktop.session_call("SetLockedHint", "b", True), LOCKED)
        after(lambda: desktop.session_call("SetLockedHint", "b", False), None)
        after(lambda: desktop.prepare_for_sleep(True), ASLEEP)
        wait_for(lambda: desktop.inhibitors() == [], 3, "the inhibitor to be let go")
        after(lambda: desktop.prepare_for_sleep(False), None)
        wait_for(lambda: len(desktop.inhibitors()) == 1, 3, "the inhibitor to be taken again")
        after(lambda: desktop.prepare_for_sleep(True), ASLEEP)  # a sleep called off at once:
        after(lambda: desktop.prepare_for_sleep(False), None)  # the new inhibitor is kept
        time.sleep(SLEEP_DELAY + 0.3)
        assert len(desktop.inhibitors()) == 1
        after(lambda: desktop.screensaver(True), LOCKED)  # the fallback
        after(lambda: desktop.screensaver(False), None)
    finally:
        sensor.close()


def test_a_lock_already_there_at_start_is_seen(desktop: Desktop) -> None:
    from posture.adapters.system.session_lock import LOCKED, LinuxScreenLock

    desktop.session_call("SetLockedHint", "b", True)
    sensor = LinuxScreenLock()
    sensor.start(Wakes())
    try:
        assert sensor.hold() == LOCKED
    finally:
        sensor.close()


def test_a_lost_bus_is_one_line_counts_as_unlocked_and_is_watched_again(
    desktop: Desktop, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posture.adapters.system import session_lock
    from posture.adapters.system.session_lock import LinuxScreenLock

    sensor, wakes = LinuxScreenLock(), Wakes()
    with caplog.at_level(logging.INFO, logger="posture"):
        sensor.start(wakes)
        try:
            desktop.screensaver(True)
            wait_for(lambda: sensor.hold() is not None, 1, "the screensaver lock")
            monkeypatch.setattr(session_lock, "BACKOFF", (0.1,))  # reconnect soon
            for watch in sensor._watches:  # the session bus's connection drops
                if watch.bus == "session":
                    watch.conn.sock.shutdown(2)
            wait_for(lambda: sensor.hold() is None, 1, "unlocked after the loss")
            wait_for(lambda: "the session bus is back" in caplog.text, 3, "reconnection")
            desktop.screensaver(True)  # still watched after the reconnection
            wait_for(lambda: sensor.hold() is not None, 1, "the lock again")
        finally:
            sensor.close()
    lost = [r.getMessage() for r in caplog.records if "lost the" in r.getMessage()]
    assert len(lost) == 1 and lost[0].startswith(
        "screen lock: lost the session bus (") and lost[0].endswith(
        "); taken as unlocked, trying again")  # fmt: skip


def test_without_logind_the_screensaver_alone_is_watched(
    desktop: Desktop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from posture.adapters.system.session_lock import LOCKED, LinuxScreenLock

    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={desktop.folder}/none")
    sensor = LinuxScreenLock()
    with caplog.at_level(logging.INFO, logger="posture"):
        sensor.start(Wakes())
    try:
        said = [r.getMessage() for r in caplog.records]
        assert said == [
            f"screen lock: no system bus at unix:path={desktop.folder}/none: No such file or "
            "directory; watching the other bus only",
            "screen lock: watching the screensaver",
        ]
        desktop.screensaver(True)
        wait_for(lambda: sensor.hold() == LOCKED, 1, "the screensaver's lock")
    finally:
        sensor.close()


def test_without_any_bus_start_raises_one_clear_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from posture.adapters.system.session_lock import LinuxScreenLock, NoBus

    jeepney()
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/system")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/session")
    with pytest.raises(
        NoBus, match=r"^no system bus at unix:path=/nonexistent/system: .+; no session bus at .+$"
    ):
        LinuxScreenLock().start(lambda: None)


# -- a real `posture start` --


def log_of(env: dict[str, str]) -> str:
    path = Path(env["POSTURE_HOME"]) / "log" / "posture.log"
    return path.read_text() if path.exists() else ""


def asker(home: Path) -> Callable[[], dict[str, Any]]:
    """The monitor's status straight from its control socket (what `posture status` asks,
    without a process start per question, so that a time to it can be measured)."""
    from posture.app import compose

    transport = compose.control_transport(compose.monitor_places(home))
    return lambda: transport.request({"cmd": "status"}, timeout=1.0)


def says(ask: Callable[[], dict[str, Any]], key: str, value: object) -> Callable[[], bool]:
    return lambda: bool(ask()[key] == value)


def grows(ask: Callable[[], dict[str, Any]], key: str, than: int) -> Callable[[], bool]:
    return lambda: bool(ask()[key] > than)


def seconds_until(check: Callable[[], object], action: Callable[[], None], what: str) -> float:
    """Do `action`; the seconds until `check` holds (at most 1)."""
    start = time.monotonic()
    action()
    wait_for(check, 1, what)
    return time.monotonic() - start


def samples_after(home: Path, wall_ms: float) -> int:
    (count,) = db_rows(home, f"select count(*) from samples where t_ms > {int(wall_ms)}")[0]
    assert isinstance(count, int)
    return count


def test_the_running_monitor_lets_the_camera_go_when_locked_or_asleep_and_looks_again(
    tmp_path: Path, material: dict[str, Path], desktop: Desktop
) -> None:
    env = dict(calibrated_home(tmp_path, material), **desktop.env)
    home = Path(env["POSTURE_HOME"])
    started = run_posture("start", "--source", str(material["clip"]), "--speed", "1", env=env)
    assert started.returncode == 0, started.stderr
    figures: dict[str, float] = {}
    resumed: dict[str, float] = {}  # the wall time (ms) each hold was ended
    holds = (
        ("the screen is locked", "locked",
         partial(desktop.session_call, "Lock"), partial(desktop.session_call, "Unlock")),
        ("the machine is going to sleep", "asleep",
         partial(desktop.prepare_for_sleep, True), partial(desktop.prepare_for_sleep, False)),
    )  # fmt: skip
    try:
        wait_for(
            lambda: (
                f"screen lock: watching logind session {SESSION_PATH} and the screensaver"
                in log_of(env)
            ),
            60,
            "the watch",
        )
        wait_for(lambda: status(env)["seen_seconds"] > 0, 60, "a first look")
        ask = asker(home)
        for hold, state, begin, end in holds:
            released = log_of(env).count(f"{hold}; camera released")
            figures[f"{state}: status"] = seconds_until(
                says(ask, "state", state), begin, f"status {state}"
            )
            now = ask()
            assert now["hold"] == hold and now["camera"] == f"released ({hold})"
            assert log_of(env).count(f"{hold}; camera released") == released + 1
            resumed[state] = time.time() * 1000
            seen = ask()["seen_seconds"]
            figures[f"{state}: looking again"] = seconds_until(
                says(ask, "camera", "ok"), end, "the camera back"
            )
            assert ask()["state"] not in ("locked", "asleep")
            assert f"{hold}: over; looking again" in log_of(env)
            wait_for(grows(ask, "seen_seconds", seen), 5, "a new look")
    finally:
        stopped = run_posture("stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    print({k: round(v, 3) for k, v in figures.items()})
    kinds = [r[0] for r in db_rows(home, "select kind from periods order by start_ms")]
    assert "locked" in kinds and "asleep" in kinds
    for state, wall_ms in resumed.items():
        assert samples_after(home, wall_ms) > 0, f"no look after {state}"


def test_with_no_bus_at_all_the_monitor_runs_and_says_so_once(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    jeepney()
    env = calibrated_home(tmp_path, material)
    env["DBUS_SYSTEM_BUS_ADDRESS"] = f"unix:path={tmp_path}/none-system"
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path}/none-session"
    started = run_posture("start", "--source", str(material["clip"]), "--speed", "1", env=env)
    assert started.returncode == 0, started.stderr
    try:
        wait_for(lambda: "cannot watch" in log_of(env), 60, "the line")
        wait_for(lambda: status(env)["seen_seconds"] > 0, 60, "a look")
    finally:
        run_posture("stop", env=env)
    lines = [line for line in log_of(env).splitlines() if "screen lock" in line]
    assert len(lines) == 1
    assert re.search(
        r"screen lock: cannot watch \(no system bus at unix:path=.+: No such file or "
        r"directory; no session bus at unix:path=.+: No such file or directory\); "
        r"going on without it$",
        lines[0],
    )


# -- the loop: a wake while it looks is not lost --


def test_a_wake_during_a_look_cuts_the_next_sleep_short(tmp_path: Path) -> None:
    """A lock signal comes while the loop is busy with a look (inference takes a good part
    of a second on a slow machine): the sleep after that look must not wait it out."""
    from tests.synthetic import Scenario, Segment
    from tests.test_holds import Watching, monitor_of

    class Noting(Watching):
        def __init__(self) -> None:
            super().__init__()
            self.woken: list[bool] = []

        def sleep(self, seconds: float, wake: threading.Event) -> None:
            self.woken.append(wake.is_set())
            super().sleep(seconds, wake)

    class SignalDuringTick:
        name = "signal during a tick"
        calls = 0
        wake: Callable[[], None] = staticmethod(lambda: None)

        def start(self, wake: Callable[[], None]) -> None:
            self.wake = wake

        def hold(self) -> None:
            self.calls += 1
            if self.calls == 5:  # as the bus thread would, while the loop thread looks
                self.wake()

        def close(self) -> None:
            pass

    clock = Noting()
    scenario = Scenario([Segment("upright", 20)])
    monitor, *_, history, _ = monitor_of(
        tmp_path, scenario, holds=(SignalDuringTick(),), clock=clock
    )
    monitor.run()
    history.close()
    assert clock.woken[4] is True  # the sleep after the fifth tick returns at once
    assert clock.woken.count(True) == 1


# -- macOS and Windows: the OS calls are fakes --


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_the_poller_asks_the_os_at_most_once_a_second() -> None:
    answers = iter([False, True, True, False])
    asked: list[float] = []
    clock = Clock()

    def query() -> bool:
        asked.append(clock.t)
        return next(answers)

    sensor = polled.PolledScreenLock("screen lock", lambda: query, clock)
    sensor.start(lambda: None)
    assert sensor.hold() is None
    clock.t += 0.5
    assert sensor.hold() is None  # not asked again yet
    clock.t += 0.5
    assert sensor.hold() == polled.LOCKED
    clock.t += 1
    assert sensor.hold() == polled.LOCKED
    clock.t += 1.2
    assert sensor.hold() is None
    assert asked == [100.0, 101.0, 102.0, 103.2]


def test_a_platform_without_the_call_cannot_watch() -> None:
    sensor = polled.PolledScreenLock("screen lock", polled.load_windows)
    if hasattr(ctypes, "WinDLL"):
        pytest.skip("this is Windows: the call is there")
    with pytest.raises(OSError, match="only on Windows"):
        sensor.start(lambda: None)


class FakeFunction:
    """A ctypes foreign function's shape: callable, with argtypes/restype to set."""

    def __init__(self, body: Callable[..., Any]) -> None:
        self.body = body
        self.argtypes: object = None
        self.restype: object = None

    def __call__(self, *args: Any) -> Any:
        return self.body(*args)


class FakeLibrary:
    def __init__(self, **functions: Callable[..., Any]) -> None:
        for name, body in functions.items():
            setattr(self, name, FakeFunction(body))


def test_macos_reads_cgssessionscreenislocked_and_releases_the_dictionary() -> None:
    SESSION, KEY, TRUE, FALSE = 0x1000, 0x2000, 0x3000, 0x4000
    state = {"value": FALSE, "released": 0, "session": SESSION}
    cg = FakeLibrary(CGSessionCopyCurrentDictionary=lambda: state["session"])

    def get_value(d: int, key: int) -> int | None:
        assert (d, key) == (SESSION, KEY)
        return state["value"] or None

    def release(obj: int) -> None:
        state["released"] += 1

    def create(_alloc: Any, text: bytes, encoding: int) -> int:
        assert text == b"CGSSessionScreenIsLocked"
        assert encoding == polled.K_CF_STRING_ENCODING_UTF8
        return KEY

    cf = FakeLibrary(
        CFStringCreateWithCString=create,
        CFDictionaryGetValue=get_value,
        CFBooleanGetValue=lambda v: v == TRUE,
        CFRelease=release,
    )
    locked = polled.macos_query(cg, cf)  # type: ignore[arg-type]
    assert locked() is False
    state["value"] = TRUE
    assert locked() is True
    state["value"] = 0  # the key is absent when the screen was never locked
    assert locked() is False
    assert state["released"] == 3
    state["session"] = 0  # no window server session (ssh)
    assert locked() is False


def test_the_windows_structure_has_the_layout_of_wtsapi32_h() -> None:
    assert polled.WTSINFOEXW.Data.offset == 8
    assert polled.WTSINFOEX_LEVEL1_W.SessionFlags.offset == 8
    assert polled.WTSINFOEX_LEVEL1_W.LogonTime.offset == 160
    assert ctypes.sizeof(polled.WTSINFOEXW) == 8 + 224


def test_windows_reads_the_session_flags_and_frees_the_buffer() -> None:
    flags = {"now": polled.WTS_SESSIONSTATE_UNLOCK, "freed": 0}
    buffers: list[Any] = []

    def query(server: int, session: int, kind: int, out: Any, size: Any) -> int:
        assert (server, session, kind) == (0, 0xFFFFFFFF, 25)
        info = polled.WTSINFOEXW(Level=1)
        info.Data.SessionFlags = flags["now"]
        buffers.append(info)
        out.contents.value = ctypes.addressof(info)
        size.contents.value = ctypes.sizeof(info)
        return 1

    def free(pointer: Any) -> None:
        flags["freed"] += 1

    api = FakeLibrary(WTSQuerySessionInformationW=query, WTSFreeMemory=free)
    locked = polled.windows_query(api)  # type: ignore[arg-type]
    assert locked() is False
    flags["now"] = polled.WTS_SESSIONSTATE_LOCK
    assert locked() is True
    assert flags["freed"] == 2

    failing = FakeLibrary(WTSQuerySessionInformationW=lambda *a: 0, WTSFreeMemory=free)
    with pytest.raises(OSError, match="WTSQuerySessionInformationW failed"):
        polled.windows_query(failing)()  # type: ignore[arg-type]
