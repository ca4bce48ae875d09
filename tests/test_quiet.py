"""Do-not-disturb, full-screen windows and battery power, on real components where this
machine has them: a notification server (python-dbusmock) with `Inhibited` on a private
session bus, a real `posture run` whose nudge is held back under it, GNOME's key through
the real `gsettings` (its keyfile backend in a temporary folder), a full-screen window on
Xvfb read with the real `xprop`, power supplies as real files in a sysfs-like folder and
a real monitor loop holding on them. Windows' and macOS' OS calls are fakes."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from posture.adapters.notify import quiet
from posture.adapters.system import power
from posture.app.compose import RunOptions, hold_sensors, quiet_sensors
from posture.config import Config, MonitorConfig
from tests.conftest import run_posture
from tests.desktop import BUS_CONFIG, desktop_session
from tests.synthetic import Scenario, Segment
from tests.test_holds import Watching, monitor_of, periods
from tests.test_monitor_process import (  # noqa: F401 (material: a fixture)
    calibrated_home,
    db_rows,
    material,
    status,
)

DBUSMOCK = "/usr/bin/python3"


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


# --- a private session bus with a notification server ---------------------------------------


class Bus:
    """A private session bus, with python-dbusmock's notification server on it."""

    def __init__(self, folder: Path, address: str, procs: list[subprocess.Popen[bytes]]) -> None:
        self.folder, self.address, self.procs = folder, address, procs
        self.env = {"DBUS_SESSION_BUS_ADDRESS": address}

    def send(self, *args: str) -> None:
        done = subprocess.run(
            ["dbus-send", f"--bus={self.address}", "--print-reply", *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def set_inhibited(self, value: bool, *, add: bool = False) -> None:
        method = (
            "org.freedesktop.DBus.Mock.AddProperty"
            if add
            else ("org.freedesktop.DBus.Properties.Set")
        )
        self.send(
            "--dest=org.freedesktop.Notifications",
            "/org/freedesktop/Notifications",
            method,
            "string:org.freedesktop.Notifications",
            "string:Inhibited",
            f"variant:boolean:{'true' if value else 'false'}",
        )

    def notified(self) -> int:
        """How many Notify calls the server got."""
        log = self.folder / "mock.log"
        return log.read_text().count(" Notify ") if log.exists() else 0


def _wait(check: object, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def bus() -> Iterator[Bus]:
    """dbus-daemon and (its `server()`) the notification server; both stopped at the end."""
    if shutil.which("dbus-daemon") is None or shutil.which("dbus-send") is None:
        pytest.skip("needs dbus-daemon and dbus-send (Debian: dbus)")
    check = subprocess.run([DBUSMOCK, "-c", "import dbusmock"], capture_output=True, check=False)
    if check.returncode != 0:
        pytest.skip("needs python3-dbusmock for /usr/bin/python3")
    folder = Path(tempfile.mkdtemp(prefix="posture-quiet-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        (folder / "bus.conf").write_text(BUS_CONFIG.format(socket=folder / "bus"))
        with (folder / "address").open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [
                        *("dbus-daemon", f"--config-file={folder / 'bus.conf'}", "--nofork"),
                        *("--nopidfile", "--print-address=1"),
                    ],
                    stdout=out,
                )
            )
        _wait(lambda: "\n" in (folder / "address").read_text(), "the bus")
        yield Bus(folder, (folder / "address").read_text().strip(), procs)
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def start_server(bus: Bus) -> None:
    """The notification server (dbusmock's notification_daemon template) on `bus`."""
    log = bus.folder / "mock.log"
    proc = subprocess.Popen(
        [DBUSMOCK, "-m", "dbusmock", "--template", "notification_daemon", "-l", str(log)],
        env={"DBUS_SESSION_BUS_ADDRESS": bus.address, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bus.procs.append(proc)  # stopped before the bus

    def owned() -> bool:
        done = subprocess.run(
            [
                *("dbus-send", f"--bus={bus.address}", "--print-reply"),
                *("--dest=org.freedesktop.DBus", "/org/freedesktop/DBus"),
                *("org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.Notifications"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return "boolean true" in done.stdout

    _wait(owned, "the notification server")


def test_inhibited_on_a_real_bus_is_do_not_disturb_asked_at_most_every_10_s(
    bus: Bus, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    sensor = quiet.NotificationsInhibited(bus.address, clock=clock)
    try:
        assert sensor.quiet() is None  # nobody owns the name yet: not inhibited
        start_server(bus)
        clock.t += 10
        assert sensor.quiet() is None  # a server without the property: not inhibited
        bus.set_inhibited(True, add=True)
        clock.t += 9
        assert sensor.quiet() is None  # the answer of 9 s ago is kept
        clock.t += 1
        assert sensor.quiet() == "do not disturb"
        bus.set_inhibited(False)
        clock.t += 10
        assert sensor.quiet() is None
    finally:
        sensor.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_bus_that_is_gone_is_one_warning_and_no_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    sensor = quiet.NotificationsInhibited(f"unix:path={tmp_path / 'none'}", clock=clock)
    for _ in range(3):
        assert sensor.quiet() is None
        clock.t += 10
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "nudges are not held back" in warnings[0]


def test_no_session_bus_at_all_is_one_warning_that_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert quiet.NotificationsInhibited().quiet() is None
    assert "no session bus (DBUS_SESSION_BUS_ADDRESS is not set)" in caplog.text


def wait_for_status(
    env: dict[str, str], check: Callable[[dict[str, object]], bool], timeout: float
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        seen = status(env)
        if check(seen):
            return seen
        assert time.monotonic() < deadline, f"timed out; last status: {seen}"
        time.sleep(0.5)


def test_a_real_monitor_holds_the_nudge_back_under_do_not_disturb_and_sends_it_without(
    tmp_path: Path,
    bus: Bus,
    material: dict[str, Path],  # noqa: F811
) -> None:
    if shutil.which("notify-send") is None:
        pytest.skip("needs notify-send (Debian: libnotify-bin)")
    start_server(bus)
    bus.set_inhibited(True, add=True)
    env = calibrated_home(tmp_path, material, '[monitor]\nnotifier = "notify-send"\n')
    env.update(bus.env, XDG_CURRENT_DESKTOP="KDE")
    home = Path(env["POSTURE_HOME"])
    clip = str(material["clip"])
    # A started monitor (a recording at 4x): `status` says why, and counts the held nudge.
    started = run_posture("start", "--source", clip, "--speed", "4", env=env)
    assert started.returncode == 0, started.stderr
    try:
        seen = wait_for_status(env, lambda s: s.get("held_nudges") == 1, timeout=120)
        assert seen["quiet"] == "do not disturb" and seen["nudges"] == 0
    finally:
        run_posture("stop", env=env)
    assert "held back (do not disturb)" in (home / "log" / "posture.log").read_text()
    assert bus.notified() == 0  # nothing reached the notification server
    assert db_rows(home, "select kind, backend from nudges") == [("slouch", "held: do not disturb")]

    bus.set_inhibited(False)
    sent = run_posture("run", "--source", clip, "--speed", "0", env=env)
    assert sent.returncode == 0, sent.stderr
    assert bus.notified() == 1
    backends = db_rows(home, "select backend from nudges order by t_ms")
    assert backends == [("held: do not disturb",), ("notify-send",)]

    # The report counts the held one apart: not shown, so not followed either.
    report = run_posture("report", "--days", "2", "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    figures = json.loads(report.stdout)
    assert (figures["nudges"], figures["nudges_held"]) == (1, 1)
    text = run_posture("report", "--days", "2", env=env)
    assert "1 held back (do not disturb)" in text.stdout


# --- GNOME: show-banners through the real gsettings ----------------------------------------


def test_gnome_show_banners_false_is_do_not_disturb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gsettings = shutil.which("gsettings")
    if gsettings is None:
        pytest.skip("needs gsettings (Debian: libglib2.0-bin)")
    monkeypatch.setenv("GSETTINGS_BACKEND", "keyfile")  # a file instead of dconf
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    schema = ["org.gnome.desktop.notifications", "show-banners"]
    known = subprocess.run([gsettings, "get", *schema], capture_output=True, check=False)
    if known.returncode != 0:
        pytest.skip("the org.gnome.desktop.notifications schema is not installed")
    clock = FakeClock()
    sensor = quiet.GnomeBanners(gsettings, clock=clock)
    assert sensor.quiet() is None
    subprocess.run([gsettings, "set", *schema, "false"], check=True)
    clock.t += 29
    assert sensor.quiet() is None  # kept for 30 s
    clock.t += 1
    assert sensor.quiet() == "do not disturb"
    subprocess.run([gsettings, "set", *schema, "true"], check=True)
    clock.t += 30
    assert sensor.quiet() is None


# --- X11: a full-screen active window on Xvfb ------------------------------------------------


class X11:
    """Window properties set as a window manager sets them (XChangeProperty through
    libX11: xprop -set cannot write the WINDOW type a window manager uses)."""

    def __init__(self, display: str) -> None:
        x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XDefaultRootWindow.restype = ctypes.c_ulong
        x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x11.XInternAtom.restype = ctypes.c_ulong
        x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x11.XChangeProperty.argtypes = [
            *(ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong),
            *(ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int),
        ]
        x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.x11, self.dpy = x11, x11.XOpenDisplay(display.encode())
        assert self.dpy, f"cannot open {display}"
        self.root = int(x11.XDefaultRootWindow(self.dpy))

    def atom(self, name: str) -> int:
        return int(self.x11.XInternAtom(self.dpy, name.encode(), 0))

    def set(self, window: int, name: str, kind: str, values: list[int]) -> None:
        data = (ctypes.c_ulong * len(values))(*values)
        self.x11.XChangeProperty(
            self.dpy, window, self.atom(name), self.atom(kind), 32, 0, data, len(values)
        )
        self.x11.XFlush(self.dpy)

    def close(self) -> None:
        self.x11.XCloseDisplay(self.dpy)


def window_id(env: dict[str, str], title: str) -> int | None:
    info = subprocess.run(
        ["xwininfo", "-name", title], env=env, capture_output=True, text=True, check=False
    )
    found = [w for w in info.stdout.split() if w.startswith("0x")]
    return int(found[0], 16) if info.returncode == 0 and found else None


def test_a_full_screen_active_window_on_a_real_x_server_is_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for program in ("xprop", "xwininfo", "xmessage"):
        if shutil.which(program) is None:
            pytest.skip(f"needs {program} (Debian: x11-utils)")
    with desktop_session() as desktop:
        desktop.apply(monkeypatch)
        title = "posture-full-screen"
        film = subprocess.Popen(
            ["xmessage", "-title", title, "a film"], env=desktop.env, stderr=subprocess.DEVNULL
        )
        x = X11(desktop.display)
        try:
            _wait(lambda: window_id(desktop.env, title) is not None, "the window")
            wid = window_id(desktop.env, title)
            assert wid is not None
            clock = FakeClock()
            (sensor,) = [
                s
                for s in quiet.desktop_sensors(fullscreen=True, platform="linux")
                if isinstance(s, quiet.X11Fullscreen)
            ]
            sensor._cache._clock = clock  # the real xprop; a fake clock for the cache
            assert sensor.quiet() is None  # no window manager has said which is active
            x.set(x.root, "_NET_ACTIVE_WINDOW", "WINDOW", [wid])
            clock.t += 3
            assert sensor.quiet() is None  # active, not full screen
            x.set(wid, "_NET_WM_STATE", "ATOM", [x.atom("_NET_WM_STATE_FULLSCREEN")])
            clock.t += 2
            assert sensor.quiet() is None  # the answer is kept for 3 s
            clock.t += 1
            assert sensor.quiet() == "a full-screen window"
            x.set(x.root, "_NET_ACTIVE_WINDOW", "WINDOW", [0])
            clock.t += 3
            assert sensor.quiet() is None  # no window is active now
        finally:
            x.close()
            film.terminate()
            film.wait(timeout=10)


# --- Windows: SHQueryUserNotificationState (a fake of the shell call) -----------------------


@pytest.mark.parametrize(
    ("state", "fullscreen", "expected"),
    [
        (5, True, None),  # QUNS_ACCEPTS_NOTIFICATIONS
        (4, False, "presentation mode"),
        (6, False, "quiet time"),
        (1, False, "the screen is locked"),
        (2, False, None),  # QUNS_BUSY: a full-screen program, only when asked for
        (2, True, "a full-screen program"),
        (3, True, "a full-screen game"),
        (7, True, None),  # QUNS_APP: a Windows Store app full screen is not told apart
    ],
)
def test_the_windows_notification_state(state: int, fullscreen: bool, expected: str | None) -> None:
    sensor = quiet.WindowsNotificationState(fullscreen=fullscreen, query=lambda: state)
    assert sensor.quiet() == expected


def test_a_failing_shell_call_is_one_warning_and_no_quiet(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> int:
        raise OSError("SHQueryUserNotificationState failed (HRESULT 0x80004005)")

    clock = FakeClock()
    sensor = quiet.WindowsNotificationState(fullscreen=True, query=broken, clock=clock)
    for _ in range(3):
        assert sensor.quiet() is None
        clock.t += 5
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


# --- which sensors, where -------------------------------------------------------------------


def names(sensors: object) -> list[str]:
    return [type(s).__name__ for s in sensors]  # type: ignore[attr-defined]


def test_the_sensors_chosen_for_each_platform_and_desktop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="posture")
    found = {"gsettings": "/usr/bin/gsettings", "xprop": "/usr/bin/xprop"}.get

    def chosen(platform: str, fullscreen: bool = False, **env: str) -> list[str]:
        return names(
            quiet.desktop_sensors(fullscreen=fullscreen, platform=platform, env=env, which=found)
        )

    assert chosen("linux", XDG_CURRENT_DESKTOP="KDE") == ["NotificationsInhibited"]
    assert chosen("linux", XDG_CURRENT_DESKTOP="ubuntu:GNOME") == [
        "NotificationsInhibited",
        "GnomeBanners",
    ]
    assert chosen("linux", True, DISPLAY=":0") == ["NotificationsInhibited", "X11Fullscreen"]
    assert chosen("win32", True) == ["WindowsNotificationState"]
    assert chosen("darwin") == []
    caplog.clear()
    assert chosen("linux", True, WAYLAND_DISPLAY="wayland-0") == ["NotificationsInhibited"]
    assert "no X display" in caplog.text
    caplog.clear()
    assert names(
        quiet.desktop_sensors(fullscreen=True, env={"DISPLAY": ":0"}, which=lambda _: None)
    ) == ["NotificationsInhibited"]
    assert "xprop is not installed" in caplog.text


def test_the_config_switches_the_sensors_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("XDG_CURRENT_DESKTOP", "KDE")
    off, on = (
        Config(),
        Config(monitor=MonitorConfig(pause_on_battery=True, quiet_when_fullscreen=True)),
    )
    # A recording on simulated time: no camera to watch, no screen lock that means
    # anything there; only the battery is the config's to switch.
    replay = RunOptions(source="clip.avi", speed=0)
    assert hold_sensors(off, replay) == []
    assert names(hold_sensors(on, replay)) == ["BatteryHold"]
    camera = names(hold_sensors(on, RunOptions()))
    assert "BatteryHold" in camera and len(camera) >= 2  # and the platform's own
    assert "X11Fullscreen" not in names(quiet_sensors(off))
    if shutil.which("xprop"):
        assert "X11Fullscreen" in names(quiet_sensors(on))


# --- battery: power supplies as files ---------------------------------------------------------


def supply(root: Path, name: str, **files: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in files.items():
        (folder / key).write_text(value + "\n")
    return folder


def test_on_battery_from_a_sysfs_tree(tmp_path: Path) -> None:
    root = tmp_path / "power_supply"
    assert power.linux_on_battery(root) is None  # no such folder: cannot tell
    root.mkdir()
    assert power.linux_on_battery(root) is False  # nothing listed: a desktop
    ac = supply(root, "AC", type="Mains", online="1")
    assert power.linux_on_battery(root) is False  # mains only: a desktop
    supply(root, "BAT0", type="Battery", present="1", status="Discharging")
    assert power.linux_on_battery(root) is False  # plugged in (status may lag)
    (ac / "online").write_text("0\n")
    assert power.linux_on_battery(root) is True
    supply(root, "ucsi-source-psy-USBC000:001", type="USB", online="1")
    assert power.linux_on_battery(root) is False  # charging over USB-C
    (root / "ucsi-source-psy-USBC000:001" / "online").write_text("0\n")
    assert power.linux_on_battery(root) is True


def test_a_mouse_battery_is_not_the_laptop_s(tmp_path: Path) -> None:
    root = tmp_path / "power_supply"
    supply(root, "hidpp_battery_0", type="Battery", scope="Device", status="Discharging")
    supply(root, "AC", type="Mains", online="0")
    assert power.linux_on_battery(root) is False
    only_battery = tmp_path / "other"
    supply(only_battery, "BAT1", type="Battery", status="Discharging")
    assert power.linux_on_battery(only_battery) is True  # no mains listed: its status
    supply(only_battery, "BAT1", status="Charging")
    assert power.linux_on_battery(only_battery) is False


def test_on_battery_on_macos_and_windows_with_fakes_of_their_calls() -> None:
    def pmset(first: str, code: int = 0) -> object:
        out = f"{first}\n -InternalBattery-0 (id=1234)\t81%; discharging; 4:12 remaining\n"
        return lambda *a, **k: subprocess.CompletedProcess(a, code, out, "")

    assert power.macos_on_battery(pmset("Now drawing from 'Battery Power'")) is True  # type: ignore[arg-type]
    assert power.macos_on_battery(pmset("Now drawing from 'AC Power'")) is False  # type: ignore[arg-type]
    assert power.macos_on_battery(pmset("", 1)) is None  # type: ignore[arg-type]
    assert power.windows_on_battery(lambda: (0, 1)) is True  # offline, battery high
    assert power.windows_on_battery(lambda: (1, 8)) is False  # online, charging
    assert power.windows_on_battery(lambda: (0, 128)) is False  # no system battery
    assert power.windows_on_battery(lambda: (255, 1)) is None  # unknown


def test_a_real_monitor_pauses_on_battery_and_looks_again_on_mains(tmp_path: Path) -> None:
    root = tmp_path / "power_supply"
    ac = supply(root, "AC", type="Mains", online="1")
    supply(root, "BAT0", type="Battery", status="Discharging")
    clock = Watching()

    def reading() -> bool | None:
        # The user unplugs at 100 s and plugs in again at 300 s of the monitor's clock.
        (ac / "online").write_text("0\n" if 100 <= clock.now() < 300 else "1\n")
        return power.linux_on_battery(root)

    battery = power.BatteryHold(reading, clock=clock.now)
    scenario = Scenario([Segment("upright", 500)])
    monitor, feed, _, history, _ = monitor_of(tmp_path, scenario, holds=(battery,), clock=clock)
    monitor.run()
    history.close()
    ((start, end),) = periods(tmp_path, "on_battery")
    assert 100 <= start <= 100 + power.POLL + 2
    assert 300 <= end <= 300 + power.POLL + 5 + 2
    assert not [t for t in feed.reads if start + 1 < t < end - 1]  # no look on battery
    assert clock.at(start + 1).state == "on_battery"
    assert clock.at(start + 1).hold == "on battery power (pause_on_battery)"


def test_a_machine_that_cannot_tell_its_power_source_says_so_at_start() -> None:
    with pytest.raises(OSError, match="pause_on_battery has no effect"):
        power.BatteryHold(lambda: None).start(lambda: None)
