"""`posture tray` end to end, with real components only: a private dbus-daemon
(tests/desktop.py), the watcher peer of tests/sni.py (what a panel runs: a real D-Bus peer
that only draws nothing), a real `posture tray` process and a real monitor (`posture
start` over the demo's clip, the real model, calibrated by `posture calibrate`), read and
clicked over D-Bus as a panel does (`SniClient`), and `posture status --json`.

The clip: the public-domain portrait whose head sinks from 40 s; at --speed 2 it lasts
75 s, the slouch is confirmed about 36 s after the start.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from posture.core import tray as menu
from posture.core.tray import icon_pixels
from tests.conftest import run_posture
from tests.desktop import desktop_session, dunst_history, private_bus
from tests.sni import SniClient, fake_watcher, wait_for
from tests.test_monitor_process import calibrated_home, material

__all__ = ["material"]  # the fixture, used here by name

SPEED = "2"
#: The machine's cameras: Calibrate… is clicked only where there is none to open.
CAMERAS = sorted(Path("/dev").glob("video*"))

RECORDER = """#!{python}
import sys
with open({record!r}, "a") as out:
    out.write(" ".join(sys.argv[1:]) + "\\n")
"""


def status(env: dict[str, str]) -> dict[str, Any] | None:
    """`posture status --json`, None when no monitor answers."""
    result = run_posture("status", "--json", env=env)
    if result.returncode == 3:
        return None
    assert result.returncode == 0, result.stderr
    reply: dict[str, Any] = json.loads(result.stdout)
    return reply


class Tray:
    """A real `posture tray` process and the panel's view of it."""

    def __init__(self, env: dict[str, str], address: str, *args: str) -> None:
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "posture", "tray", *args],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.address = address
        self.item: SniClient | None = None

    def connect(self, watcher: Any) -> SniClient:
        try:
            service = watcher.wait_for_item(timeout=30)
        except AssertionError:
            self.proc.kill()
            raise AssertionError(f"no item registered: {self.proc.communicate()}") from None
        self.item = SniClient(self.address, service)
        return self.item

    def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        if self.proc.poll() is not None:
            raise AssertionError(f"posture tray exited: {self.proc.communicate()}")
        return wait_for(predicate, timeout, what)

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"posture tray did not end: {err}") from None
        return self.proc.returncode, err

    def close(self) -> None:
        if self.item is not None:
            self.item.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.communicate(timeout=30)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    with private_bus(tmp_path, "session") as address, fake_watcher(address) as watcher:
        yield address, watcher


def desktop_env(tmp_path: Path, env: dict[str, str], address: str) -> dict[str, str]:
    """The user's environment for the tray: the private bus, a temporary HOME and config
    folder (the autostart entry goes there), a BROWSER that records what it is asked."""
    record = tmp_path / "browsed.txt"
    browser = tmp_path / "browser"
    browser.write_text(RECORDER.format(python=sys.executable, record=str(record)))
    browser.chmod(0o700)
    home = tmp_path / "user"
    home.mkdir(exist_ok=True)
    env = {
        **env,
        "DBUS_SESSION_BUS_ADDRESS": address,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "BROWSER": str(browser),
        "DISPLAY": "",
    }
    return env


def stop_quietly(env: dict[str, str]) -> None:
    if status(env) is not None:
        run_posture("stop", env=env)


def alive(pid: int) -> bool:
    """Whether the process runs (an exited one nobody reaped yet, a zombie, does not: the
    monitor `posture start` detached is reaped by whatever adopted it)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def icon(item: SniClient, size: int = 22) -> np.ndarray:
    return item.icons()[size]


def test_the_tray_follows_and_steers_a_real_monitor(
    tmp_path: Path, material: dict[str, Path], session: tuple[str, Any]
) -> None:
    address, watcher = session
    env = desktop_env(tmp_path, calibrated_home(tmp_path, material), address)
    home = Path(env["POSTURE_HOME"])
    began = time.time()
    started = run_posture("start", "--source", str(material["clip"]), "--speed", SPEED, env=env)
    assert started.returncode == 0, started.stderr
    pid = status(env)["pid"]  # type: ignore[index]
    tray = Tray(env, address)
    try:
        item = tray.connect(watcher)
        # upright: the title, tooltip, status and the icon's pixels say so
        tray.wait(lambda: item.title() == "posture: upright", 20, "upright")
        assert item.tooltip().text.startswith("upright since ")
        assert item.status() == "Active"
        assert np.array_equal(icon(item), icon_pixels("upright", 22))
        layout = {entry["id"]: entry for entry in item.layout()}
        assert layout[menu.STATUS]["label"].startswith("upright since ")
        assert not layout[menu.STATUS]["enabled"] and not layout[menu.RESUME]["enabled"]
        assert layout[menu.AUTOSTART]["toggle_state"] == 0
        assert menu.START not in layout

        # the clip's head sinks: slouching, within a poll of the monitor's confirmation
        tray.wait(lambda: item.title() == "posture: slouching", 90, "slouching")
        assert item.status() == "NeedsAttention"
        assert np.array_equal(icon(item), icon_pixels("slouching", 22))
        assert "posture bad: " in item.tooltip().text
        assert status(env)["state"] in ("slouching", "recovering")  # type: ignore[index]

        # Pause 1 h through dbusmenu's Event pauses the real monitor
        asked = time.time()
        item.click(menu.PAUSE_1H)
        paused = tray.wait(
            lambda: (s := status(env)) and s["state"] == "paused" and s, 10, "paused"
        )
        until = datetime.fromisoformat(paused["paused_until"]).timestamp()
        # an hour on the monitor's clock: over a recording at 2x, that wall clock runs
        # ahead of ours by the time since the start
        ahead = (time.time() - began) * (float(SPEED) - 1)
        assert 3600 - 5 <= until - asked <= 3600 + ahead + 10
        tray.wait(lambda: item.title() == "posture: paused", 10, "the paused title")
        assert np.array_equal(icon(item), icon_pixels("paused", 22))
        assert tray.wait(lambda: item.item(menu.RESUME)["enabled"], 5, "Resume enabled")
        assert "paused until " in item.tooltip().text

        item.click(menu.RESUME)
        tray.wait(lambda: status(env)["state"] != "paused", 10, "resumed")  # type: ignore[index]
        tray.wait(lambda: item.title() != "posture: paused", 10, "the title after resume")

        # Start at login: ticked, and the entry under the temporary home runs the tray
        item.click(menu.AUTOSTART)
        tray.wait(lambda: item.item(menu.AUTOSTART)["toggle_state"] == 1, 10, "ticked")
        entry = Path(env["XDG_CONFIG_HOME"]) / "autostart" / "posture.desktop"
        assert "-m posture tray" in entry.read_text()

        # Today's report: written in the data folder and opened in the browser
        item.click(menu.REPORT)
        record = tmp_path / "browsed.txt"
        tray.wait(record.exists, 60, "the browser to be asked")
        (url,) = record.read_text().split()
        assert url.startswith("file://")
        page = Path(url.removeprefix("file://"))
        assert page.parent == home / "data" / "reports"
        assert page.read_text().startswith("<!DOCTYPE html>")
        assert oct(page.stat().st_mode & 0o777) == "0o600"

        # Quit posture: both processes end, the socket is gone
        item.click(menu.QUIT)
        code, err = tray.finish()
        assert code == 0, err
        assert "Traceback" not in err
        assert status(env) is None
        assert not (home / "run" / "monitor.sock").exists()
        wait_for(lambda: not alive(pid), 15, "the monitor's process to end")  # after its lock
        wait_for(lambda: watcher.items == [], 5, "the item to leave the panel")
    finally:
        tray.close()
        stop_quietly(env)


def test_with_no_monitor_the_tray_starts_one_and_follows_a_restart(
    tmp_path: Path, material: dict[str, Path], session: tuple[str, Any]
) -> None:
    address, watcher = session
    env = desktop_env(tmp_path, calibrated_home(tmp_path, material), address)
    assert status(env) is None
    tray = Tray(env, address, "--source", str(material["clip"]), "--speed", SPEED)
    try:
        item = tray.connect(watcher)
        first = tray.wait(lambda: status(env), 30, "the monitor the tray started")
        assert first["source"].endswith(material["clip"].name)
        tray.wait(lambda: item.title() == "posture: upright", 20, "upright")

        # the monitor goes: stopped, with Start instead of the pause items
        assert run_posture("stop", env=env).returncode == 0
        tray.wait(lambda: item.title() == "posture: stopped", 10, "stopped")
        assert np.array_equal(icon(item), icon_pixels("stopped", 22))
        entries = {e["id"]: e for e in item.layout()}
        assert entries[menu.START]["label"] == "Start posture" and menu.PAUSE_1H not in entries

        # one started elsewhere is followed (a new pid)
        again = run_posture("start", "--source", str(material["clip"]), "--speed", SPEED, env=env)
        assert again.returncode == 0, again.stderr
        second = status(env)
        assert second is not None and second["pid"] != first["pid"]
        tray.wait(lambda: item.title() == "posture: upright", 20, "upright again")
        assert menu.START not in {e["id"] for e in item.layout()}

        # and Start in the menu starts one after a stop
        assert run_posture("stop", env=env).returncode == 0
        tray.wait(lambda: item.title() == "posture: stopped", 10, "stopped again")
        item.click(menu.START)
        third = tray.wait(lambda: status(env), 30, "the monitor Start started")
        assert third["pid"] not in (first["pid"], second["pid"])

        item.click(menu.QUIT)
        code, err = tray.finish()
        assert code == 0, err
        assert status(env) is None
    finally:
        tray.close()
        stop_quietly(env)


def test_without_a_watcher_or_a_bus_posture_tray_says_so_in_one_line(tmp_path: Path) -> None:
    """Nothing is started: no monitor, no lock left held."""
    env = {"POSTURE_HOME": str(tmp_path / "home")}
    with private_bus(tmp_path, "session") as address:
        result = run_posture("tray", env={**env, "DBUS_SESSION_BUS_ADDRESS": address}, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("posture: error: no tray host on this desktop")
    assert result.stderr.count("\n") == 1, result.stderr
    no_bus = {**env, "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'nobus'}"}
    result = run_posture("tray", env=no_bus, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("posture: error: no tray host on this desktop")
    assert status(env) is None


def test_at_login_the_monitor_starts_even_when_no_panel_ever_comes(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    """`posture tray --wait` (the login entry) starts the monitor at once, not once a panel
    shows: when none comes, the user is still watched over, and the one line says so."""
    with private_bus(tmp_path, "session") as address:
        env = desktop_env(tmp_path, calibrated_home(tmp_path, material), address)
        try:
            result = run_posture(
                "tray",
                "--wait",
                "3",
                "--source",
                str(material["clip"]),
                "--speed",
                SPEED,
                env=env,
                timeout=90,
            )
            assert result.returncode == 2, result.stderr
            said = [line for line in result.stderr.splitlines() if "error" in line]
            assert len(said) == 1, result.stderr
            assert said[0].startswith("posture: error: no tray host on this desktop")
            assert said[0].endswith("; the monitor was started without it")
            running = status(env)
            assert running is not None and running["source"].endswith(material["clip"].name)
        finally:
            stop_quietly(env)


def test_with_wait_the_tray_shows_once_the_panel_comes(tmp_path: Path) -> None:
    """At login the panel may come up after the login entries: `posture tray --wait`."""
    with private_bus(tmp_path, "session") as address:
        env = desktop_env(tmp_path, {"POSTURE_HOME": str(tmp_path / "home")}, address)
        tray = Tray(env, address, "--wait", "60")
        try:
            assert tray.proc.stderr is not None
            first = tray.proc.stderr.readline()  # said before the panel comes
            assert first.startswith("posture: tray: no tray host on this desktop: "), first
            assert first.rstrip().endswith("; waiting for a panel")
            with fake_watcher(address) as watcher:
                item = tray.connect(watcher)
                assert item.title().startswith("posture: ")
                item.click(menu.QUIT)
                code, err = tray.finish()
            assert code == 0, err
        finally:
            tray.close()


def test_one_tray_per_user_and_what_fails_is_told(tmp_path: Path) -> None:
    """With no calibration and no camera the monitor cannot start: the tray stays, its icon
    the fault one with the monitor's own reason; a second `posture tray` says one line;
    Calibrate… and Today's report fail (no camera, no history) and say why through a real
    notification daemon (dunst, on the private desktop's bus)."""
    with desktop_session() as desktop, fake_watcher(desktop.bus_address) as watcher:
        address = desktop.bus_address
        env = desktop_env(tmp_path, {"POSTURE_HOME": str(tmp_path / "home")}, address)
        tray = Tray(env, address)
        try:
            item = tray.connect(watcher)
            tray.wait(lambda: item.title() == "posture: fault", 60, "the fault of the start")
            assert np.array_equal(icon(item), icon_pixels("fault", 22))
            assert "the monitor did not start" in item.tooltip().text
            assert item.item(menu.START)["enabled"]
            second = run_posture("tray", env=env, timeout=60)
            assert second.returncode == 1
            assert second.stderr == (
                f"posture: error: posture tray is already running (pid {tray.proc.pid}): "
                "its icon is on the panel\n"
            )
            expected = [
                "no report: no history yet: start the monitor with `posture start`; the report "
                "shows what it recorded",
            ]
            if not CAMERAS:  # else the calibration would look through the machine's camera
                item.click(menu.CALIBRATE)
                expected.insert(
                    0,
                    "calibration failed: no camera at index 0 (no camera answers on this machine)",
                )
            item.click(menu.REPORT)

            def told() -> list[str]:
                bodies = [n["body"] for n in dunst_history(desktop.env)]
                return [b for b in bodies if b.startswith(("calibration failed", "no report"))]

            said = tray.wait(
                lambda: len(told()) == len(expected) and told(), 60, "the notifications"
            )
            assert sorted(said) == expected
            assert item.item(menu.CALIBRATE)["label"] == "Calibrate…"
            item.click(menu.QUIT)
            code, err = tray.finish()
            assert code == 0, err
        finally:
            tray.close()


def test_a_garbled_monitor_is_the_fault_icon_with_the_reason_never_a_crash(
    tmp_path: Path, session: tuple[str, Any]
) -> None:
    """Something of ours answers on the control socket, but not in the protocol: the real
    client reads it and the tray shows why, then follows a good answer when one comes."""
    address, watcher = session
    home = tmp_path / "home"
    env = desktop_env(tmp_path, {"POSTURE_HOME": str(home)}, address)
    runtime = home / "run"
    runtime.mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(runtime / "monitor.sock"))
    server.listen()
    answer = [b"this is not json\n"]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(answer[0])

    threading.Thread(target=serve, daemon=True).start()
    tray = Tray(env, address)
    try:
        item = tray.connect(watcher)
        tray.wait(lambda: item.title() == "posture: fault", 20, "the fault")
        assert "malformed reply (not JSON)" in item.tooltip().text
        assert np.array_equal(icon(item), icon_pixels("fault", 22))
        answer[0] = b'{"ok": true, "schema": 99}\n'  # a newer posture's monitor
        tray.wait(lambda: "status schema 99" in item.tooltip().text, 10, "the schema refusal")
        assert tray.proc.poll() is None
        item.click(menu.QUIT)
        code, err = tray.finish()
        assert code == 0, err
        assert "Traceback" not in err
    finally:
        server.close()
        tray.close()
