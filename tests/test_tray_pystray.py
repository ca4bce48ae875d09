"""The macOS and Windows tray host (`posture.adapters.tray.pystray_host`) over a fake
`pystray` module put in sys.modules: this machine is Linux, where pystray would need
PyGObject or Xlib, and neither darwin's nor win32's backend can run here. Pillow is the
real one. What is checked is our side of pystray's documented API: the Icon's image,
title and menu, the menu's actions, the main thread handed to `Icon.run`, stop."""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from posture.adapters.tray.pystray_host import IMAGE_SIZE, PystrayTray
from posture.core import tray as menu
from posture.core.tray import icon_pixels, view_of
from tests.test_tray_view import NOW, status


class FakeIcon:
    def __init__(self, name: str, icon: Any = None, title: str | None = None, menu: Any = None):
        self.name, self.icon, self.title, self.menu = name, icon, title, menu
        self.visible = False
        self.updates = 0
        self.stopped = threading.Event()
        self.run_thread: str | None = None

    def update_menu(self) -> None:
        self.updates += 1

    def run(self, setup: Callable[[Any], None] | None = None) -> None:
        self.run_thread = threading.current_thread().name
        if setup is not None:  # pystray runs setup on a thread of its own
            threading.Thread(target=setup, args=(self,), daemon=True).start()
        assert self.stopped.wait(10), "the icon was never stopped"

    def stop(self) -> None:
        self.stopped.set()


class FakeMenuItem:
    def __init__(
        self, text: str, action: Any, checked: Any = None, enabled: bool = True, **kw: Any
    ) -> None:
        self.text, self.action, self.checked, self.enabled = text, action, checked, enabled


class FakeMenu:
    SEPARATOR = object()

    def __init__(self, *items: Any) -> None:
        self.items = items


@pytest.fixture
def fake_pystray(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("pystray")
    module.Icon = FakeIcon  # type: ignore[attr-defined]
    module.Menu = FakeMenu  # type: ignore[attr-defined]
    module.MenuItem = FakeMenuItem  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pystray", module)
    return module


def test_the_icon_shows_the_view_and_its_menu_clicks(fake_pystray: types.ModuleType) -> None:
    host = PystrayTray(icon_pixels, platform="darwin")
    assert host.name == "pystray (darwin)"
    clicks: list[int] = []
    host.start(view_of(status(), autostart=True, now=NOW), clicks.append)
    icon: FakeIcon = host._icon
    assert icon.name == "posture" and icon.title == "posture: upright"
    picture = np.asarray(icon.icon)
    assert icon.icon.mode == "RGBA" and picture.shape == (IMAGE_SIZE, IMAGE_SIZE, 4)
    assert np.array_equal(picture, icon_pixels("upright", IMAGE_SIZE))
    entries = icon.menu.items
    assert [e is FakeMenu.SEPARATOR for e in entries].count(True) == 3
    real = [e for e in entries if e is not FakeMenu.SEPARATOR]
    assert [e.text for e in real][:2] == ["upright since 14:02", "Pause 30 min"]
    assert real[0].enabled is False
    login = next(e for e in real if e.text == "Start at login")
    assert login.checked(login) is True
    assert all(e.checked is None for e in real if e is not login)
    pause = next(e for e in real if e.text == "Pause 1 h")
    pause.action(icon, pause)
    assert clicks == [menu.PAUSE_1H]


def test_show_changes_only_what_changed(fake_pystray: types.ModuleType) -> None:
    host = PystrayTray(icon_pixels, platform="win32")
    host.start(view_of(status(), autostart=False, now=NOW), lambda item: None)
    icon: FakeIcon = host._icon
    first = icon.icon
    host.show(view_of(status(), autostart=False, now=NOW))
    assert icon.icon is first and icon.updates == 0  # unchanged: a no-op
    host.show(view_of(status(state="slouching"), autostart=False, now=NOW))
    assert icon.icon is not first and icon.title == "posture: slouching"
    assert icon.updates == 1


def test_run_hands_pystray_the_calling_thread_and_steps_until_false(
    fake_pystray: types.ModuleType,
) -> None:
    host = PystrayTray(icon_pixels, platform="darwin")
    host.start(view_of(None, autostart=False, now=NOW), lambda item: None)
    icon: FakeIcon = host._icon
    steps: list[float] = []

    def step() -> bool:
        steps.append(time.monotonic())
        if len(steps) == 1:
            threading.Timer(0.05, host.wake).start()  # soon after wake, not after `every`
        return len(steps) < 2

    began = time.monotonic()
    host.wake()  # a click before the loop ran: the first step comes at once
    host.run(step, every=30.0)
    assert icon.run_thread == threading.current_thread().name
    assert len(steps) == 2 and steps[-1] - began < 5  # woken, not 60 s of waiting
    assert icon.visible and icon.stopped.is_set()
    host.close()
    host.close()  # idempotent
    assert icon.visible is False


def test_without_pystray_one_line_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pystray", None)  # import fails as if not installed
    host = PystrayTray(icon_pixels, platform="win32")
    with pytest.raises(Exception, match=r"install posture\[tray\]") as caught:
        host.start(view_of(None, autostart=False, now=NOW), lambda item: None)
    assert type(caught.value).__name__ == "TrayUnavailable"
    assert "\n" not in str(caught.value)
