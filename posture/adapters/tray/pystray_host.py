"""The tray icon on macOS and Windows: a `posture.ports.TrayHost` over pystray (its darwin
backend needs pyobjc, its win32 backend only ctypes) and Pillow for the image, both from
the optional extra `posture[tray]` and imported in `start`, never at import.

pystray's `Icon.run` must own the main thread (macOS draws its status bar only from
there): `run` hands it the thread, and the tray's `step` runs on the thread pystray
starts for its `setup` callback, every `every` seconds and soon after `wake`. Menu
actions come from pystray's own thread and only call `on_click`. The menu is rebuilt
from each new view (`update_menu`), the image redrawn only when the state changes.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from posture.errors import TrayUnavailable

if TYPE_CHECKING:
    import numpy as np

    from posture.core.tray import MenuItem, TrayView

#: Pixels of the image handed to pystray: the platform scales it (Windows shows 16-32 px,
#: macOS 18-22 pt, twice that on a Retina screen).
IMAGE_SIZE = 64


class PystrayTray:
    """A pystray `Icon` as a `TrayHost`. `icon(state, size)` draws a state's RGBA pixels."""

    def __init__(
        self, icon: Callable[[str, int], np.ndarray[Any, Any]], *, platform: str = sys.platform
    ) -> None:
        self._paint = icon
        self.name = f"pystray ({platform})"
        self._icon: Any = None
        self._pystray: Any = None  # the modules, imported in `start`
        self._image: Any = None
        self._view: TrayView | None = None
        self._on_click: Callable[[int], None] = lambda item: None
        self._woken = threading.Event()
        self._lock = threading.Lock()
        self._closed = False

    def start(self, view: TrayView, on_click: Callable[[int], None]) -> None:
        try:
            import pystray
            from PIL import Image
        except ImportError as err:
            raise TrayUnavailable(
                f"no tray host on this desktop: {err.name or err} is not installed; "
                "install posture[tray] (`pip install 'posture[tray]'`)"
            ) from None
        except Exception as err:  # pystray picks its backend at import; none may work
            raise TrayUnavailable(f"no tray host on this desktop: pystray: {err}") from None
        self._pystray, self._image = pystray, Image
        self._on_click = on_click
        self._view = view
        self._icon = pystray.Icon(
            "posture", icon=self._picture(view.state), title=view.title, menu=self._menu(view)
        )

    def show(self, view: TrayView) -> None:
        with self._lock:
            old, self._view = self._view, view
            icon = self._icon
        if icon is None or old == view:
            return
        if old is None or old.state != view.state:
            icon.icon = self._picture(view.state)
        if old is None or old.title != view.title:
            icon.title = view.title
        if old is None or old.menu != view.menu:
            icon.menu = self._menu(view)
            icon.update_menu()

    def run(self, step: Callable[[], bool], every: float) -> None:
        icon = self._icon
        if icon is None:
            raise RuntimeError("run before start")

        def setup(started: Any) -> None:
            started.visible = True
            try:
                while not self._closed:
                    self._woken.wait(every)
                    self._woken.clear()
                    if self._closed or not step():
                        break
            finally:
                started.stop()

        icon.run(setup=setup)

    def wake(self) -> None:
        self._woken.set()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._woken.set()
        icon, self._icon = self._icon, None
        if icon is not None:
            icon.visible = False
            icon.stop()

    # -- pystray's values --

    def _picture(self, state: str) -> Any:
        return self._image.fromarray(self._paint(state, IMAGE_SIZE))  # (h, w, 4): RGBA

    def _menu(self, view: TrayView) -> Any:
        pystray = self._pystray
        return pystray.Menu(*(self._entry(item) for item in view.menu))

    def _entry(self, item: MenuItem) -> Any:
        pystray = self._pystray
        if item.separator:
            return pystray.Menu.SEPARATOR

        def clicked(icon: Any, entry: Any) -> None:
            self._on_click(item.id)

        checked = None if item.checked is None else (lambda entry, on=item.checked: on)
        return pystray.MenuItem(item.label, clicked, checked=checked, enabled=item.enabled)
