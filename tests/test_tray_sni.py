"""The Linux tray item (posture/adapters/tray/sni.py) on a private dbus-daemon, read the
way a panel reads it: a real org.kde.StatusNotifierWatcher peer (tests/sni.py
`fake_watcher`, a thread of this process that owns the name and records registrations)
and a real D-Bus client (`SniClient`). No D-Bus call is mocked. The icon painter is a
stand-in (`posture.core.tray.icon_pixels` is tested with the tray use case): a picture
that differs per state and size, so that the pixels read back can be compared exactly.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from jeepney.wrappers import DBusErrorResponse

from posture.adapters.tray.sni import SIZES, SniTray
from posture.core import tray
from posture.core.tray import MenuItem, TrayView
from posture.errors import TrayUnavailable
from tests.desktop import private_bus
from tests.sni import ITEM, MENU, SniClient, fake_watcher, wait_for


def stand_in(state: str, size: int) -> np.ndarray:
    """A different picture per state and size: a filled square, a transparent corner."""
    picture = np.zeros((size, size, 4), np.uint8)
    picture[..., 0] = 10 * tray.ICON_STATES.index(state)
    picture[..., 1] = size
    picture[..., 2] = np.arange(size, dtype=np.uint8)[None, :]  # columns differ: no transpose
    picture[..., 3] = 255
    picture[: size // 4, : size // 4, 3] = 0
    return picture


def menu(*, autostart: bool = False, running: bool = True, line: str = "upright") -> tuple:
    items = [
        MenuItem(tray.STATUS, line, enabled=False),
        MenuItem(tray.SEPARATORS, "", separator=True),
        MenuItem(tray.PAUSE_30M, "Pause 30 min"),
        MenuItem(tray.PAUSE_1H, "Pause 1 h"),
        MenuItem(tray.RESUME, "Resume", enabled=False),
        MenuItem(tray.SEPARATORS + 1, "", separator=True),
        MenuItem(tray.AUTOSTART, "Start at login", checked=autostart),
        MenuItem(tray.QUIT, "Quit posture"),
    ]
    if not running:
        items.insert(2, MenuItem(tray.START, "Start posture"))
    return tuple(items)


UPRIGHT = TrayView("upright", "posture: upright", "upright for 12 min", menu())
SLOUCHING = TrayView("slouching", "posture: slouching", "slouching for 2 min", menu())


@pytest.fixture
def bus() -> Iterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="sni-"))  # short: a socket path < 108 bytes
    try:
        with private_bus(folder, "session") as address:
            yield address
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def item(bus: str, view: TrayView = UPRIGHT, clicks: list[int] | None = None) -> Iterator[SniTray]:
    host = SniTray(stand_in, bus_address=bus, backoff=(0.1,))
    host.start(view, (clicks if clicks is not None else []).append)
    try:
        yield host
    finally:
        host.close()


def test_the_item_registers_and_shows_the_view(bus: str) -> None:
    with fake_watcher(bus) as watcher, item(bus) as host:
        service = watcher.wait_for_item()
        assert service == host.bus_name
        assert host.bus_name.startswith("org.kde.StatusNotifierItem-")
        assert watcher.items == [service]
        with SniClient(bus, service) as client:
            assert watcher.registrations[0].sender != watcher.unique_name
            assert client.title() == "posture: upright"
            tip = client.tooltip()
            assert (tip.title, tip.text) == ("posture: upright", "upright for 12 min")
            assert client.status() == "Active"
            icons = client.icons()
            assert sorted(icons) == list(SIZES) == [16, 22, 32, 48]
            for size, picture in icons.items():
                assert np.array_equal(picture, stand_in("upright", size))
            props = client.get_all()
            assert props["Category"] == "ApplicationStatus"
            assert props["Id"] == "posture"
            assert props["ItemIsMenu"] is True
            assert props["Menu"] == "/MenuBar"
            assert props["IconName"] == ""
            assert client.get("Version", MENU) == 3


def test_a_new_view_emits_the_change_signals_and_reads_back(bus: str) -> None:
    with (
        fake_watcher(bus) as watcher,
        item(bus) as host,
        SniClient(bus, watcher.wait_for_item()) as client,
    ):
        host.show(SLOUCHING)
        client.wait_for_signal("NewStatus")
        names = client.signal_names()
        for name in ("NewTitle", "NewIcon", "NewToolTip", "NewStatus"):
            assert name in names
        assert client.wait_for_signal("NewStatus").body == ("NeedsAttention",)
        assert client.title() == "posture: slouching"
        assert client.tooltip().text == "slouching for 2 min"
        assert client.status() == "NeedsAttention"
        assert np.array_equal(client.icons()[22], stand_in("slouching", 22))
        assert np.array_equal(client.icons("AttentionIconPixmap")[48], stand_in("slouching", 48))

        client.clear_signals()
        host.show(SLOUCHING)  # unchanged: nothing is said
        host.show(TrayView("slouching", SLOUCHING.title, "slouching for 3 min", menu()))
        client.wait_for_signal("NewToolTip")
        assert client.signal_names() == ["NewToolTip"]  # what the no-op said came before
        assert client.tooltip().text == "slouching for 3 min"


def test_the_menu_layout_matches_the_view(bus: str) -> None:
    view = TrayView("camera_in_use", "posture: camera in use", "held", menu(line="camera_in_use"))
    with (
        fake_watcher(bus) as watcher,
        item(bus, view),
        SniClient(bus, watcher.wait_for_item()) as client,
    ):
        layout = client.layout()
    assert [entry["id"] for entry in layout] == [item.id for item in view.menu]
    by_id = {entry["id"]: entry for entry in layout}
    status = by_id[tray.STATUS]
    assert status["label"] == "camera_in_use"  # shown as given: the underscores doubled
    assert status["raw_label"] == "camera__in__use"
    assert status["enabled"] is False
    assert by_id[tray.PAUSE_1H]["label"] == "Pause 1 h"
    assert by_id[tray.PAUSE_1H]["enabled"] is True
    assert by_id[tray.RESUME]["enabled"] is False
    for separator in (tray.SEPARATORS, tray.SEPARATORS + 1):
        assert by_id[separator]["type"] == "separator"
    assert by_id[tray.AUTOSTART]["toggle_type"] == "checkmark"
    assert by_id[tray.AUTOSTART]["toggle_state"] == 0
    assert by_id[tray.QUIT]["toggle_state"] is None
    assert all(entry["visible"] and entry["children"] == 0 for entry in layout)


def test_a_click_through_event_calls_on_click_with_the_id(bus: str) -> None:
    clicks: list[int] = []
    threads: list[str] = []

    def on_click(item_id: int) -> None:
        threads.append(threading.current_thread().name)
        clicks.append(item_id)

    with fake_watcher(bus) as watcher:
        host = SniTray(stand_in, bus_address=bus)
        host.start(UPRIGHT, on_click)
        try:
            with SniClient(bus, watcher.wait_for_item()) as client:
                client.click(tray.PAUSE_1H)
                wait_for(lambda: clicks == [tray.PAUSE_1H], 5, "the click")
                assert threads == ["posture tray bus"]
                client.click(tray.RESUME)  # disabled: no call
                client.click(tray.SEPARATORS)  # a separator: no call
                client.event(tray.QUIT, "hovered")  # not a click
                client.click(tray.QUIT)
                wait_for(lambda: len(clicks) == 2, 5, "the second click")
                assert clicks == [tray.PAUSE_1H, tray.QUIT]
                with pytest.raises(DBusErrorResponse):
                    client.click(99)  # no such item: an error to the caller
        finally:
            host.close()


def test_a_failing_click_is_logged_and_the_item_lives_on(
    bus: str, caplog: pytest.LogCaptureFixture
) -> None:
    clicks: list[int] = []

    def on_click(item_id: int) -> None:
        clicks.append(item_id)
        raise RuntimeError("the use case broke")

    with fake_watcher(bus) as watcher:
        host = SniTray(stand_in, bus_address=bus)
        host.start(UPRIGHT, on_click)
        try:
            with (
                caplog.at_level(logging.ERROR, "posture"),
                SniClient(bus, watcher.wait_for_item()) as client,
            ):
                client.click(tray.PAUSE_30M)
                wait_for(lambda: "menu item 2 failed" in caplog.text, 5, "the log line")
                client.click(tray.PAUSE_1H)
                wait_for(lambda: clicks == [tray.PAUSE_30M, tray.PAUSE_1H], 5, "both clicks")
                assert client.title() == "posture: upright"
        finally:
            host.close()


def test_a_checkbox_change_updates_properties_and_a_new_item_the_layout(bus: str) -> None:
    with (
        fake_watcher(bus) as watcher,
        item(bus) as host,
        SniClient(bus, watcher.wait_for_item()) as client,
    ):
        revision = client.revision()
        host.show(TrayView(UPRIGHT.state, UPRIGHT.title, UPRIGHT.tooltip, menu(autostart=True)))
        updated = client.wait_for_signal("ItemsPropertiesUpdated")
        changed, removed = updated.body
        assert [entry[0] for entry in changed] == [tray.AUTOSTART]
        assert changed[0][1]["toggle-state"] == ("i", 1)
        assert removed == []
        assert client.item(tray.AUTOSTART)["toggle_state"] == 1
        assert client.revision() == revision
        assert "LayoutUpdated" not in client.signal_names()

        host.show(TrayView("stopped", "posture: stopped", "not running", menu(running=False)))
        laid = client.wait_for_signal("LayoutUpdated")
        assert laid.body == (revision + 1, 0)
        assert client.revision() == revision + 1
        assert client.item(tray.START)["label"] == "Start posture"
        assert client.item(tray.AUTOSTART)["toggle_state"] == 0


def test_no_watcher_is_one_clear_line(bus: str) -> None:
    host = SniTray(stand_in, bus_address=bus)
    with pytest.raises(TrayUnavailable) as raised:
        host.start(UPRIGHT, lambda item_id: None)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("no tray host on this desktop: ")
    assert "org.kde.StatusNotifierWatcher" in message
    assert "GNOME needs the AppIndicator/KStatusNotifierItem extension" in message
    assert "`posture status` works without a tray" in message
    with SniClient(bus, "org.freedesktop.DBus") as client:
        assert not client.name_has_owner(host.bus_name)  # nothing left behind
    host.close()


@pytest.mark.parametrize("address", [None, "unix:path=/nonexistent/posture/bus", "tcp:host=x"])
def test_no_session_bus_is_one_clear_line(
    address: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # no user bus there either
    if address is not None:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    with pytest.raises(TrayUnavailable) as raised:
        SniTray(stand_in).start(UPRIGHT, lambda item_id: None)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("no tray host on this desktop: ")
    assert ("DBUS_SESSION_BUS_ADDRESS is not set" if address is None else address) in message


def test_the_item_registers_again_when_the_panel_restarts(
    bus: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "posture"):
        with fake_watcher(bus) as first:
            host = SniTray(stand_in, bus_address=bus)
            host.start(UPRIGHT, lambda item_id: None)
            first.wait_for_item()
        try:
            wait_for(lambda: "StatusNotifierWatcher went away" in caplog.text, 5, "the log line")
            with SniClient(bus, host.bus_name) as client:
                host.show(SLOUCHING)  # no panel: the item still serves
                wait_for(lambda: client.title() == "posture: slouching", 5, "the new title")
                with fake_watcher(bus) as second:
                    assert second.wait_for_item() == host.bus_name
                    assert second.items == [host.bus_name]
        finally:
            host.close()
    assert "registering" in caplog.text


def test_a_lost_bus_is_a_log_line_and_the_item_comes_back(caplog: pytest.LogCaptureFixture) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sni-"))
    try:
        with caplog.at_level(logging.INFO, "posture"):
            with private_bus(folder, "session") as address, fake_watcher(address) as watcher:
                host = SniTray(stand_in, bus_address=address, backoff=(0.1,))
                host.start(UPRIGHT, lambda item_id: None)
                watcher.wait_for_item()
            try:  # the bus is gone
                wait_for(lambda: "lost the session bus" in caplog.text, 5, "the log line")
                host.show(SLOUCHING)  # nothing to tell: no error
                with private_bus(folder, "session") as again, fake_watcher(again) as watcher:
                    assert watcher.wait_for_item(timeout=10) == host.bus_name
                    with SniClient(again, host.bus_name) as client:
                        assert client.title() == "posture: slouching"
            finally:
                host.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert "the session bus is back" in caplog.text


def test_close_releases_the_name_and_is_idempotent(bus: str) -> None:
    with (
        fake_watcher(bus) as watcher,
        item(bus) as host,
        SniClient(bus, watcher.wait_for_item()) as client,
    ):
        assert client.name_has_owner(host.bus_name)
        host.close()
        assert not client.name_has_owner(host.bus_name)
        host.close()
        host.show(SLOUCHING)  # after close: ignored, no error
        wait_for(lambda: watcher.items == [], 5, "the watcher to forget the item")


def test_introspect_names_both_interfaces(bus: str) -> None:
    with (
        fake_watcher(bus) as watcher,
        item(bus),
        SniClient(bus, watcher.wait_for_item()) as client,
    ):
        item_xml = ET.fromstring(client.introspect())
        menu_xml = ET.fromstring(client.introspect("/MenuBar"))
        root_xml = ET.fromstring(client.introspect("/"))
    names = {node.get("name") for node in item_xml.iter("interface")}
    assert {ITEM, "org.freedesktop.DBus.Properties"} <= names
    assert MENU in {node.get("name") for node in menu_xml.iter("interface")}
    assert {"StatusNotifierItem", "MenuBar"} <= {node.get("name") for node in root_xml}
    signals = {node.get("name") for node in item_xml.iter("signal")}
    assert {"NewTitle", "NewIcon", "NewToolTip", "NewStatus"} <= signals


def test_run_steps_until_false_and_wake_hurries_it(bus: str) -> None:
    with fake_watcher(bus), item(bus) as host:
        steps: list[float] = []
        done = threading.Event()

        def step() -> bool:
            steps.append(time.monotonic())
            return len(steps) < 3

        def waker() -> None:
            while not done.wait(0.05):
                host.wake()

        thread = threading.Thread(target=waker, daemon=True)
        thread.start()
        started = time.monotonic()
        host.run(step, every=30.0)  # each step after a wake(), not after 30 s
        done.set()
        assert len(steps) == 3
        assert time.monotonic() - started < 5
        steps.clear()
        host.run(lambda: bool(steps.append(time.monotonic())), every=0.01)  # False: returns
        assert len(steps) == 1


def test_glib_and_systemd_clients_read_the_item(bus: str) -> None:
    """Two D-Bus implementations in C read what jeepney sends: GLib's GDBus (what the
    GNOME AppIndicator extension uses; its XML parser is strict) and systemd's sd-bus."""
    programs = {"gdbus": "libglib2.0-bin", "busctl": "systemd"}
    missing = [f"{name} ({pkg})" for name, pkg in programs.items() if shutil.which(name) is None]
    if missing:
        pytest.skip("needs " + ", ".join(missing))
    clicks: list[int] = []
    with fake_watcher(bus) as watcher, item(bus, clicks=clicks):
        service = watcher.wait_for_item()

        def gdbus(*args: str) -> str:
            argv = ["gdbus", args[0], "--address", bus, "--dest", service, *args[1:]]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
            assert done.returncode == 0, done.stderr
            return done.stdout

        shown = gdbus("introspect", "--object-path", "/StatusNotifierItem")
        assert "readonly s Title = 'posture: upright';" in shown
        assert "readonly o Menu = '/MenuBar';" in shown
        assert "com.canonical.dbusmenu" in gdbus("introspect", "--object-path", "/MenuBar")
        layout = gdbus(
            "call", "--object-path", "/MenuBar", "--method",
            "com.canonical.dbusmenu.GetLayout", "--", "0", "-1", "[]",
        )  # fmt: skip
        assert "'label': <'Pause 1 h'>" in layout
        assert "'toggle-type': <'checkmark'>" in layout
        assert "'type': <'separator'>" in layout
        gdbus(
            "call", "--object-path", "/MenuBar", "--method",
            "com.canonical.dbusmenu.Event", "--", "3", "clicked", "<0>", "0",
        )  # fmt: skip
        wait_for(lambda: clicks == [tray.PAUSE_1H], 5, "the click from gdbus")
        argv = ["busctl", f"--address={bus}", "get-property", service, "/StatusNotifierItem", ITEM]
        done = subprocess.run(
            [*argv, "Status", "ToolTip"], capture_output=True, text=True, timeout=10, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == 's "Active"'
        assert '"posture: upright" "upright for 12 min"' in done.stdout


def test_close_from_on_click_ends_the_item(bus: str) -> None:
    """Quit: the click's callback closes the item on the bus thread itself (no deadlock on
    its own join); the thread then ends and the name is released."""
    with fake_watcher(bus) as watcher:
        host = SniTray(stand_in, bus_address=bus)
        host.start(UPRIGHT, lambda item_id: host.close())
        with SniClient(bus, watcher.wait_for_item()) as client:
            client.click(tray.QUIT)
            wait_for(lambda: not client.name_has_owner(host.bus_name), 5, "the name released")
            bus_threads = [t for t in threading.enumerate() if t.name == "posture tray bus"]
            wait_for(lambda: not any(t.is_alive() for t in bus_threads), 5, "the thread's end")
        host.run(lambda: True, every=0.01)  # closed: returns at once
        host.close()


def test_start_can_wait_for_a_panel_that_comes_up_later(bus: str) -> None:
    """At login the tray may start before the panel: with watcher_wait, start() waits for
    the watcher to appear and then registers; without a watcher in that time, the line."""
    host = SniTray(stand_in, bus_address=bus, watcher_wait=0.3)
    started = time.monotonic()
    with pytest.raises(TrayUnavailable):
        host.start(UPRIGHT, lambda item_id: None)
    assert 0.3 <= time.monotonic() - started < 3

    host = SniTray(stand_in, bus_address=bus, watcher_wait=10)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            host.start(UPRIGHT, lambda item_id: None)
        except BaseException as err:
            errors.append(err)

    thread = threading.Thread(target=start)
    thread.start()
    try:
        time.sleep(0.3)
        assert thread.is_alive()  # still waiting for a panel
        with fake_watcher(bus) as watcher:
            assert watcher.wait_for_item() == host.bus_name
            thread.join(5)
            assert not thread.is_alive() and errors == []
    finally:
        thread.join(5)
        host.close()
