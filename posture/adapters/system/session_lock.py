"""The screen lock and sleep on Linux, as a `HoldSensor`.

* The system bus: logind's session (its `LockedHint` property, its `Lock` / `Unlock`
  signals) and the manager's `PrepareForSleep(b)`; a "delay" sleep inhibitor gives the
  monitor a second to release the camera before the machine sleeps.
* The session bus, as a fallback (a desktop whose locker does not tell logind): the
  screensaver's `ActiveChanged(b)`, org.freedesktop.ScreenSaver and org.gnome.ScreenSaver.

Each bus is watched on a daemon thread of its own with jeepney's blocking client (pure
Python). The threads only update a cached state and wake the loop; `hold` reads it. A
lost bus is one log line, counts as unlocked and awake, and is reconnected with back-off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from jeepney import (  # type: ignore[import-untyped]
    DBusAddress,
    MatchRule,
    Properties,
    new_method_call,
)
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]
from jeepney.wrappers import unwrap_msg  # type: ignore[import-untyped]

from posture.ports import Hold

log = logging.getLogger("posture")

LOGIN1 = "org.freedesktop.login1"
MANAGER_PATH = "/org/freedesktop/login1"
MANAGER = "org.freedesktop.login1.Manager"
SESSION = "org.freedesktop.login1.Session"
PROPERTIES = "org.freedesktop.DBus.Properties"
#: (bus name, object path, interface) of the screensavers whose ActiveChanged we follow
SCREENSAVERS = (
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver"),
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
)
CALL_TIMEOUT = 2.0  # s, for each call while connecting
SLEEP_DELAY = 1.0  # s the sleep inhibitor is held after PrepareForSleep(true)
BACKOFF: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # s between reconnection attempts

ASLEEP = Hold("asleep", "the machine is going to sleep")
LOCKED = Hold("locked", "the screen is locked")

Connection = Any  # jeepney.io.blocking.DBusConnection (jeepney has no type hints)
Message = Any  # jeepney.low_level.Message


class NoBus(OSError):
    """A bus, or the service on it, is not there."""


class LinuxScreenLock:
    """logind and the screensaver over D-Bus (see the module's docstring)."""

    name = "screen lock"

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locked = False  # logind: Lock/Unlock, LockedHint
        self._asleep = False  # logind: PrepareForSleep
        self._saver: set[str] = set()  # the screensaver interfaces that say active
        self._session: str | None = None  # logind's object path of our session
        self._inhibitor: int | None = None  # the fd of the sleep delay lock
        self._taken = 0  # how many inhibitors were taken
        self._refused = False  # logind refused the inhibitor (said once)
        self._stop = threading.Event()
        self._watches: list[_Watch] = []
        self._wake: Callable[[], None] = lambda: None

    # -- the port --

    def start(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        system = _Watch("system", self._setup_system, self._on_system, self._lost_system)
        session = _Watch("session", self._setup_session, self._on_session, self._lost_session)
        reasons = []
        for watch in (system, session):
            try:
                watch.connect()
            except NoBus as err:
                reasons.append(str(err))
            except Exception as err:
                reasons.append(f"no {watch.bus} bus: {_why(err)}")
            else:
                self._watches.append(watch)
        if not self._watches:
            raise NoBus("; ".join(reasons))
        for reason in reasons:
            log.info("%s: %s; watching the other bus only", self.name, reason)
        for watch in self._watches:
            watch.run_on_thread(self._stop)
        watched = []
        if system in self._watches:
            found = self._session
            watched.append(f"logind session {found}" if found else "logind (no session found)")
        if session in self._watches:
            watched.append("the screensaver")
        with self._guard:
            state = self._hold()
        log.info("%s: watching %s%s", self.name, " and ".join(watched), _said(state))

    def hold(self) -> Hold | None:
        with self._guard:
            return self._hold()

    def close(self) -> None:
        self._stop.set()
        for watch in self._watches:
            watch.stop()
        self._drop_inhibitor()

    def _hold(self) -> Hold | None:
        if self._asleep:
            return ASLEEP
        if self._locked or self._saver:
            return LOCKED
        return None

    def _changed(self, **state: object) -> None:
        with self._guard:
            before = self._hold()
            for key, value in state.items():
                setattr(self, key, value)
            after = self._hold()
        if after != before:
            self._wake()

    # -- the system bus: logind --

    def _setup_system(self, conn: Connection) -> None:
        if not _call_bus(conn, "NameHasOwner", "s", (LOGIN1,))[0]:
            raise NoBus("no logind on the system bus")
        manager = DBusAddress(MANAGER_PATH, LOGIN1, MANAGER)
        _add_match(conn, MatchRule(type="signal", interface=MANAGER, member="PrepareForSleep"))
        session = _find_session(conn, manager)
        if session is not None:
            _add_match(conn, MatchRule(type="signal", path=session, interface=SESSION))
            rule = MatchRule(type="signal", path=session, interface=PROPERTIES)
            rule.add_arg_condition(0, SESSION)
            _add_match(conn, rule)
        locked = bool(session and _get(conn, DBusAddress(session, LOGIN1, SESSION), "LockedHint"))
        asleep = bool(_get(conn, manager, "PreparingForSleep", default=False))
        self._session = session
        self._changed(_locked=locked, _asleep=asleep)
        if not asleep:
            self._take_inhibitor(conn)

    def _on_system(self, conn: Connection, msg: Message) -> None:
        fields, body = _fields(msg), msg.body
        member, path = fields.get("member"), fields.get("path")
        if fields.get("interface") == MANAGER and member == "PrepareForSleep":
            going = bool(body[0])
            self._changed(_asleep=going)
            if going:  # let go of this inhibitor, not one a quick wake took since
                with self._guard:
                    taken = self._taken
                timer = threading.Timer(SLEEP_DELAY, self._drop_inhibitor, (taken,))
                timer.daemon = True
                timer.start()
            else:
                self._take_inhibitor(conn)
        elif path != self._session:
            return
        elif member in ("Lock", "Unlock") and fields.get("interface") == SESSION:
            self._changed(_locked=member == "Lock")
        elif member == "PropertiesChanged" and body[0] == SESSION and "LockedHint" in body[1]:
            self._changed(_locked=bool(body[1]["LockedHint"][1]))

    def _lost_system(self) -> None:
        self._drop_inhibitor()
        self._changed(_locked=False, _asleep=False)

    def _take_inhibitor(self, conn: Connection) -> None:
        """A delay lock on sleep, so that the camera is released before it; none if
        logind refuses (a policy may), which only costs that second."""
        manager = DBusAddress(MANAGER_PATH, LOGIN1, MANAGER)
        why = "release the camera"
        msg = new_method_call(manager, "Inhibit", "ssss", ("sleep", "posture", why, "delay"))
        try:
            fd = _reply(conn, msg)[0]
        except Exception as err:
            if not self._refused:  # said once, not at every wake
                self._refused = True
                log.info("%s: no sleep inhibitor (%s)", self.name, _why(err))
            return
        self._drop_inhibitor()
        with self._guard:
            self._inhibitor = fd.to_raw_fd()
            self._taken += 1

    def _drop_inhibitor(self, taken: int | None = None) -> None:
        """Let go of the inhibitor (only the `taken`-th: if another was taken since, keep it;
        an fd number may be the same)."""
        with self._guard:
            fd = self._inhibitor
            if fd is None or (taken is not None and taken != self._taken):
                return
            self._inhibitor = None
        with contextlib.suppress(OSError):
            os.close(fd)

    # -- the session bus: the screensaver --

    def _setup_session(self, conn: Connection) -> None:
        active = set()
        for name, path, interface in SCREENSAVERS:
            _add_match(conn, MatchRule(type="signal", interface=interface, member="ActiveChanged"))
            if _call_bus(conn, "NameHasOwner", "s", (name,))[0]:
                with contextlib.suppress(Exception):
                    call = new_method_call(DBusAddress(path, name, interface), "GetActive")
                    if _reply(conn, call)[0]:
                        active.add(interface)
        self._changed(_saver=active)

    def _on_session(self, conn: Connection, msg: Message) -> None:
        fields = _fields(msg)
        interface = fields.get("interface")
        if fields.get("member") != "ActiveChanged" or not msg.body:
            return
        with self._guard:
            active = set(self._saver)
        if msg.body[0]:
            active.add(str(interface))
        else:
            active.discard(interface)
        self._changed(_saver=active)

    def _lost_session(self) -> None:
        self._changed(_saver=set())


class _Watch:
    """One bus: connect and set up (raises if it cannot), then receive on a daemon
    thread until stopped; a lost connection is one log line and a reconnection."""

    def __init__(
        self,
        bus: str,
        setup: Callable[[Connection], None],
        handle: Callable[[Connection, Message], None],
        lost: Callable[[], None],
    ) -> None:
        self.bus, self.setup, self.handle, self.lost = bus, setup, handle, lost
        self.conn: Connection | None = None
        self.thread: threading.Thread | None = None

    def connect(self) -> None:
        address = _address(self.bus)
        try:
            conn = open_dbus_connection(bus=address, enable_fds=self.bus == "system")
        except OSError as err:
            raise NoBus(f"no {self.bus} bus at {address}: {err.strerror or _why(err)}") from err
        try:
            self.setup(conn)
        except BaseException:
            conn.close()
            raise
        self.conn = conn

    def run_on_thread(self, stop: threading.Event) -> None:
        self.thread = threading.Thread(
            target=self._run, args=(stop,), name=f"posture {self.bus} bus", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        conn = self.conn
        if conn is not None:  # wakes the receiving thread: its socket reads EOF
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        if self.thread is not None:
            self.thread.join(timeout=2)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._receive(stop)
            except Exception as err:
                if stop.is_set():
                    return
                log.warning(
                    "screen lock: lost the %s bus (%s); taken as unlocked, trying again",
                    self.bus,
                    _why(err),
                )
                self.lost()
                self._reconnect(stop)

    def _receive(self, stop: threading.Event) -> None:
        conn = self.conn
        assert conn is not None  # connected before the thread starts
        while not stop.is_set():
            msg = conn.receive()
            if msg.header.message_type.name != "signal":
                continue
            try:
                self.handle(conn, msg)
            except (IndexError, KeyError, TypeError, ValueError) as err:  # not as documented
                log.debug("screen lock: a signal it cannot read (%s): %s", _why(err), msg)

    def _reconnect(self, stop: threading.Event) -> None:
        with contextlib.suppress(Exception):
            if self.conn is not None:
                self.conn.close()
        for attempt in range(1_000_000):
            if stop.wait(BACKOFF[min(attempt, len(BACKOFF) - 1)]):
                return
            try:
                self.connect()
            except Exception:
                continue
            log.info("screen lock: the %s bus is back; watching again", self.bus)
            return


# -- small D-Bus helpers --


def _address(bus: str) -> str:
    """The bus's address, as libdbus finds it (the system bus has a default place)."""
    variable = f"DBUS_{bus.upper()}_BUS_ADDRESS"
    address = os.environ.get(variable, "")
    if not address and bus == "system":
        address = "unix:path=/var/run/dbus/system_bus_socket"
    if not address:
        raise NoBus(f"no {bus} bus ({variable} is not set)")
    return address


def _reply(conn: Connection, msg: Message) -> tuple[Any, ...]:
    body: tuple[Any, ...] = unwrap_msg(conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT))
    return body


def _call_bus(conn: Connection, method: str, signature: str, args: tuple[Any, ...]) -> Any:
    bus = DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus")
    return _reply(conn, new_method_call(bus, method, signature, args))


def _add_match(conn: Connection, rule: Any) -> None:
    _call_bus(conn, "AddMatch", "s", (rule.serialise(),))


_NOTHING = object()


def _get(conn: Connection, address: Any, prop: str, default: Any = _NOTHING) -> Any:
    """A property's value (a variant's value); `default` if given and it cannot be read."""
    try:
        return _reply(conn, Properties(address).get(prop))[0][1]
    except Exception:
        if default is _NOTHING:
            raise
        return default


def _find_session(conn: Connection, manager: Any) -> str | None:
    """Our logind session: $XDG_SESSION_ID, else the one of our process, else the user's
    display session; the first whose LockedHint can be read."""

    def candidates() -> Any:
        sid = os.environ.get("XDG_SESSION_ID")
        if sid:
            yield lambda: _reply(conn, new_method_call(manager, "GetSession", "s", (sid,)))[0]
        pid = os.getpid()
        yield lambda: _reply(conn, new_method_call(manager, "GetSessionByPID", "u", (pid,)))[0]
        user = DBusAddress(f"{MANAGER_PATH}/user/self", LOGIN1, "org.freedesktop.login1.User")
        yield lambda: _get(conn, user, "Display")[1]

    for candidate in candidates():
        with contextlib.suppress(Exception):
            path = str(candidate())
            if path and path != "/":
                _get(conn, DBusAddress(path, LOGIN1, SESSION), "LockedHint")
                return path
    return None


def _fields(msg: Message) -> dict[str, Any]:
    """A message's header fields by name (path, interface, member, ...)."""
    return {key.name: value for key, value in msg.header.fields.items()}


def _why(err: BaseException) -> str:
    text = str(err).strip()
    return text if text else type(err).__name__


def _said(hold: Hold | None) -> str:
    return f"; {hold.reason}" if hold is not None else ""
