"""Do-not-disturb, presentations and full-screen windows: the `QuietSensor`s. The loop
asks `quiet()` at every look, so each sensor keeps its last answer for a few seconds and
asks the desktop again only then, with a short timeout: a slow desktop delays a look by
at most that timeout, and never more often than the cache allows.

- Any freedesktop notification server (KDE Plasma, and others that implement it): the
  `Inhibited` property of `org.freedesktop.Notifications` on the session bus. A server
  without the property is not inhibited.
- GNOME: GNOME Shell has no `Inhibited`; its do-not-disturb switch is the GSettings key
  `org.gnome.desktop.notifications show-banners` (false = do not disturb). It is read
  with `gsettings`, the documented reader: dconf has no D-Bus read method (its service
  only writes; readers map its database file), so there is nothing simpler to ask.
- X11, with `quiet_when_fullscreen`: the active window (`_NET_ACTIVE_WINDOW` of the root
  window) has `_NET_WM_STATE_FULLSCREEN` in its `_NET_WM_STATE`, read with `xprop`.
  Wayland has no protocol for a client to see other windows: nothing to ask there.
- Windows: `SHQueryUserNotificationState` (shell32), which tells presentation mode, quiet
  time, a locked screen, and (with `quiet_when_fullscreen`) a full-screen program.
  Focus assist itself has no documented API.
- macOS: Focus (do-not-disturb) has no documented API for other programs; none is read.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from posture.ports import QuietSensor

log = logging.getLogger("posture")

DND = "do not disturb"
FULLSCREEN = "a full-screen window"
#: seconds an answer is kept: the session bus, gsettings, xprop
BUS_TTL = 10.0
GSETTINGS_TTL = 30.0
XPROP_TTL = 3.0
#: seconds one question may take
ASK_TIMEOUT = 1.0

Run = Callable[..., "subprocess.CompletedProcess[str]"]


class Cached:
    """A sensor's answer, asked again at most every `ttl` seconds; a question that fails
    is one log line (the first time) and counts as no quiet."""

    def __init__(
        self, name: str, ask: Callable[[], str | None], ttl: float, clock: Callable[[], float]
    ) -> None:
        self.name, self._ask, self.ttl, self._clock = name, ask, ttl, clock
        self._at: float | None = None
        self._answer: str | None = None
        self._failed = False

    def get(self) -> str | None:
        now = self._clock()
        if self._at is not None and now - self._at < self.ttl:
            return self._answer
        self._at = now
        try:
            self._answer = self._ask()
            self._failed = False
        except Exception as err:  # a desktop that does not answer is not quiet
            if not self._failed:
                log.warning("%s: cannot ask (%s); nudges are not held back for it", self.name, err)
            self._failed = True
            self._answer = None
        return self._answer


# --- org.freedesktop.Notifications Inhibited ------------------------------------------------


class NotificationsInhibited:
    """Do-not-disturb of a notification server that has the `Inhibited` property (KDE
    Plasma): read on the session bus (`bus`: jeepney's name or address)."""

    name = "do-not-disturb (org.freedesktop.Notifications Inhibited)"

    def __init__(
        self,
        bus: str = "SESSION",
        *,
        ttl: float = BUS_TTL,
        timeout: float = ASK_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus, self.timeout = bus, timeout
        self._conn: Any = None
        self._cache = Cached(self.name, self._ask, ttl, clock)

    def quiet(self) -> str | None:
        return self._cache.get()

    def _ask(self) -> str | None:
        from jeepney import DBusAddress, Properties  # type: ignore[import-untyped,unused-ignore]
        from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped,unused-ignore]
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg  # type: ignore[import-untyped,unused-ignore]

        address = DBusAddress(
            "/org/freedesktop/Notifications",
            bus_name="org.freedesktop.Notifications",
            interface="org.freedesktop.Notifications",
        )
        if self._conn is None:
            try:
                self._conn = open_dbus_connection(self.bus, auth_timeout=self.timeout)
            except KeyError:
                raise OSError("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)") from None
        try:
            reply = self._conn.send_and_get_reply(
                Properties(address).get("Inhibited"), timeout=self.timeout
            )
        except Exception:
            self.close()  # a broken or slow connection: a new one next time
            raise
        try:
            body = unwrap_msg(reply)
        except DBusErrorResponse:
            return None  # no server, or one without the property: not inhibited
        return DND if body and body[0] == ("b", True) else None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


# --- GNOME: show-banners ------------------------------------------------------------------


class GnomeBanners:
    """GNOME's do-not-disturb: `show-banners` false, read with `gsettings`."""

    name = "GNOME do-not-disturb (org.gnome.desktop.notifications show-banners)"

    def __init__(
        self,
        gsettings: str = "gsettings",
        *,
        run: Run = subprocess.run,
        ttl: float = GSETTINGS_TTL,
        timeout: float = ASK_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gsettings, self._run, self.timeout = gsettings, run, timeout
        self._cache = Cached(self.name, self._ask, ttl, clock)

    def quiet(self) -> str | None:
        return self._cache.get()

    def _ask(self) -> str | None:
        argv = [self.gsettings, "get", "org.gnome.desktop.notifications", "show-banners"]
        done = self._run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        if done.returncode != 0:
            raise OSError(f"gsettings failed: {done.stderr.strip() or done.returncode}")
        return DND if done.stdout.strip() == "false" else None


# --- X11: the active window is full screen ------------------------------------------------

_WINDOW_ID = re.compile(r"window id # (0x[0-9a-fA-F]+)")


class X11Fullscreen:
    """The active window of the X display is full screen (`_NET_WM_STATE_FULLSCREEN`)."""

    name = "full-screen window (X11 _NET_WM_STATE)"

    def __init__(
        self,
        xprop: str = "xprop",
        *,
        run: Run = subprocess.run,
        ttl: float = XPROP_TTL,
        timeout: float = ASK_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.xprop, self._run, self.timeout = xprop, run, timeout
        self._cache = Cached(self.name, self._ask, ttl, clock)

    def quiet(self) -> str | None:
        return self._cache.get()

    def _xprop(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run(
            [self.xprop, *args], capture_output=True, text=True, timeout=self.timeout, check=False
        )

    def _ask(self) -> str | None:
        root = self._xprop("-root", "_NET_ACTIVE_WINDOW")
        if root.returncode != 0:
            raise OSError(f"xprop failed: {root.stderr.strip() or root.returncode}")
        found = _WINDOW_ID.search(root.stdout)
        if found is None or int(found.group(1), 16) == 0:
            return None  # no window manager that says, or no active window
        state = self._xprop("-id", found.group(1), "_NET_WM_STATE")
        if state.returncode != 0:
            return None  # the window has gone since
        return FULLSCREEN if "_NET_WM_STATE_FULLSCREEN" in state.stdout else None


# --- Windows: SHQueryUserNotificationState ------------------------------------------------

#: QUERY_USER_NOTIFICATION_STATE (shellapi.h) -> why nudges wait; the full-screen ones
#: only with `quiet_when_fullscreen`.
QUNS_QUIET = {
    1: "the screen is locked",  # QUNS_NOT_PRESENT: screen saver, locked, another user
    4: "presentation mode",  # QUNS_PRESENTATION_MODE
    6: "quiet time",  # QUNS_QUIET_TIME: the first hour after a new user's first sign-in
}
QUNS_FULLSCREEN = {
    2: "a full-screen program",  # QUNS_BUSY: full screen, or presentation settings on
    3: "a full-screen game",  # QUNS_RUNNING_D3D_FULL_SCREEN
}


def _shell_notification_state() -> int:  # pragma: no cover - Windows only
    import ctypes

    state = ctypes.c_int(0)
    shell32 = ctypes.windll.shell32  # type: ignore[attr-defined,unused-ignore]
    result = shell32.SHQueryUserNotificationState(ctypes.byref(state))
    if result != 0:
        raise OSError(f"SHQueryUserNotificationState failed (HRESULT {result & 0xFFFFFFFF:#x})")
    return state.value


class WindowsNotificationState:
    """Presentation mode, quiet time, a locked screen (and full-screen programs) as the
    Windows shell tells them (`query`: the shell call, replaced by a fake in tests)."""

    name = "Windows notification state (SHQueryUserNotificationState)"

    def __init__(
        self,
        *,
        fullscreen: bool,
        query: Callable[[], int] = _shell_notification_state,
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fullscreen, self._query = fullscreen, query
        self._cache = Cached(self.name, self._ask, ttl, clock)

    def quiet(self) -> str | None:
        return self._cache.get()

    def _ask(self) -> str | None:
        state = self._query()
        if state in QUNS_QUIET:
            return QUNS_QUIET[state]
        return QUNS_FULLSCREEN.get(state) if self.fullscreen else None


# --- the choice ----------------------------------------------------------------------------


def desktop_sensors(
    *,
    fullscreen: bool,
    platform: str = sys.platform,
    env: Mapping[str, str] = os.environ,
    which: Callable[[str], str | None] = shutil.which,
) -> Sequence[QuietSensor]:
    """The quiet sensors for this platform and desktop; what cannot be watched is said in
    one log line (only when the user asked for it, for the full-screen one)."""
    if platform == "win32":
        return [WindowsNotificationState(fullscreen=fullscreen)]
    if platform == "darwin":
        log.debug("macOS has no documented do-not-disturb (Focus) API: nudges are not held")
        if fullscreen:
            log.info("quiet_when_fullscreen: not available on macOS; nudges are not held back")
        return []
    sensors: list[QuietSensor] = [NotificationsInhibited()]
    gsettings = which("gsettings")
    if "gnome" in env.get("XDG_CURRENT_DESKTOP", "").lower() and gsettings:
        sensors.append(GnomeBanners(gsettings))
    if fullscreen:
        xprop = which("xprop")
        if not env.get("DISPLAY"):
            log.info("quiet_when_fullscreen: no X display (DISPLAY); full screen is not seen")
        elif xprop is None:
            log.info("quiet_when_fullscreen: xprop is not installed (x11-utils); not seen")
        else:
            sensors.append(X11Fullscreen(xprop))
    return sensors
