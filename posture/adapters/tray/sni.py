"""The tray icon on Linux: a StatusNotifierItem with its com.canonical.dbusmenu menu, served
over jeepney (pure Python), as a `posture.ports.TrayHost`.

What a panel sees (KDE, XFCE, Cinnamon, Budgie, GNOME with the AppIndicator extension):

* `org.kde.StatusNotifierItem` at /StatusNotifierItem, on our own connection, which owns
  the well-known name `org.kde.StatusNotifierItem-<pid>-<n>` and registers it with
  `org.kde.StatusNotifierWatcher.RegisterStatusNotifierItem`. The icon is sent as pixels
  (IconPixmap: ARGB32 in network byte order, 16/22/32/48 px, drawn by the `icon` callable),
  never as a theme name, so no file is installed. ItemIsMenu is true: a click opens the menu.
* `com.canonical.dbusmenu` at /MenuBar: a flat menu under the root item 0. A change of the
  menu's shape (items added, removed, reordered, a separator or checkbox more) bumps the
  layout's revision and emits LayoutUpdated; a change of labels, enabled or checkbox state
  only emits ItemsPropertiesUpdated. Event(id, "clicked") calls `on_click(id)`.
* Properties (Get, GetAll), Introspectable and Peer on both objects.

Threads: one daemon thread ("posture tray bus") owns the connection, because jeepney's
blocking connection must not be used from two threads at once. It answers the panel's
calls, calls `on_click`, and emits the change signals; `show` (any thread) only swaps the
view under a lock and pokes the thread through a pipe. Calls the thread itself makes while
it connects (AddMatch, RequestName) are synchronous, and whatever arrives meanwhile is kept
in a backlog and served after; RegisterStatusNotifierItem is sent without waiting, because
a watcher may read our properties before it answers. `run` is the main thread's wait loop.

Faults are log lines, never a crash: the watcher going away (the panel restarts) is waited
for and registered with again when it comes back; a lost bus is retried with back-off.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import selectors
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from jeepney import (  # type: ignore[import-untyped]
    DBusAddress,
    HeaderFields,
    MatchRule,
    MessageFlag,
    MessageType,
    new_error,
    new_method_call,
    new_method_return,
    new_signal,
)
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]
from jeepney.wrappers import unwrap_msg  # type: ignore[import-untyped]

from posture.core.tray import MenuItem, TrayView
from posture.errors import TrayUnavailable

log = logging.getLogger("posture")

ITEM = "org.kde.StatusNotifierItem"
ITEM_PATH = "/StatusNotifierItem"
MENU = "com.canonical.dbusmenu"
MENU_PATH = "/MenuBar"
WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
PROPERTIES = "org.freedesktop.DBus.Properties"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PEER = "org.freedesktop.DBus.Peer"
BUS = DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus")

#: the icon's sizes in pixels, each sent so that the panel need not scale
SIZES = (16, 22, 32, 48)
CALL_TIMEOUT = 2.0  # s, for each call the bus thread waits for
REGISTER_WAIT = 2.0  # s start() waits for the watcher's answer
JOIN_TIMEOUT = 3.0  # s close() waits for the bus thread
BACKOFF: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # s between reconnections
NO_TRAY = "no tray host on this desktop: "
WITHOUT = "; `posture status` works without a tray"
NO_WATCHER = (
    NO_TRAY + f"nothing owns {WATCHER} on the session bus, so no panel shows tray icons "
    "(GNOME needs the AppIndicator/KStatusNotifierItem extension)" + WITHOUT
)

Connection = Any  # jeepney.io.blocking.DBusConnection (jeepney has no type hints)
Message = Any  # jeepney.low_level.Message
#: (state, size) -> a (size, size, 4) uint8 RGBA picture; `posture.core.tray.icon_pixels`
IconPainter = Callable[[str, int], np.ndarray]
Pixmap = tuple[int, int, bytes]
Props = dict[str, tuple[str, Any]]

_numbers = itertools.count(1)  # the <n> of the well-known name, per process


class _NoBus(Exception):
    """The session bus cannot be reached; the message says why."""


class _CallFailed(Exception):
    """A method call to us that gets a D-Bus error back."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name = name


class SniTray:
    """A StatusNotifierItem and its dbusmenu (see the module's docstring).

    `icon(state, size)` draws the icon of a view's state; `bus_address` overrides
    $DBUS_SESSION_BUS_ADDRESS (read at `start`); `backoff` is the wait before each
    reconnection attempt, the last one repeated; `watcher_wait` is how long `start` waits
    for a StatusNotifierWatcher to appear before it gives up (a tray started at login may
    come up before the panel does)."""

    name = "StatusNotifierItem"

    def __init__(
        self,
        icon: IconPainter,
        *,
        bus_address: str | None = None,
        backoff: tuple[float, ...] = BACKOFF,
        watcher_wait: float = 0.0,
    ) -> None:
        self._icon = icon
        self._watcher_wait = watcher_wait
        self._bus_address = bus_address
        self._backoff = backoff or BACKOFF
        self.bus_name = f"{ITEM}-{os.getpid()}-{next(_numbers)}"
        self._guard = threading.Lock()
        self._view: TrayView | None = None  # what to show: set by show() from any thread
        self._revision = 1  # the menu layout's revision, bumped when its shape changes
        self._on_click: Callable[[int], None] = lambda item: None
        self._stop = threading.Event()
        self._woken = threading.Event()  # run()'s wait
        self._registered = threading.Event()  # the watcher answered our first registration
        self._refusal: str | None = None  # ... with an error
        self._closed = False
        self._thread: threading.Thread | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        # -- the bus thread's own (also the caller's in start(), before the thread runs) --
        self._conn: Connection | None = None
        self._backlog: deque[Message] = deque()  # arrived while a call waited for its reply
        self._pending: dict[int, Callable[[Message], None]] = {}  # serial -> reply handler
        self._watcher = False  # a watcher owns its name
        self._told: tuple[str, str, str, str, tuple[MenuItem, ...], int] | None = None
        self._icons: dict[str, list[Pixmap]] = {}
        self._bad_icons: set[str] = set()

    # -- the port --

    def start(self, view: TrayView, on_click: Callable[[int], None]) -> None:
        if self._thread is not None or self._closed:
            raise RuntimeError("a tray item is started once")
        with self._guard:
            self._view = view
        self._on_click = on_click
        try:
            address = self._address()
            self._conn = self._connect(address)
        except _NoBus as err:
            raise TrayUnavailable(NO_TRAY + str(err) + WITHOUT) from None
        if not self._watcher and self._watcher_wait > 0:
            self._await_watcher(self._conn, self._watcher_wait)
        if not self._watcher:
            self._drop_connection()
            raise TrayUnavailable(NO_WATCHER)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._announced()
        try:
            self._register()
        except OSError as err:  # the bus went away this very moment
            self._drop_connection()
            self._finish()
            raise TrayUnavailable(
                NO_TRAY + f"lost the session bus ({_why(err)})" + WITHOUT
            ) from None
        self._thread = threading.Thread(
            target=self._serve, args=(address,), name="posture tray bus", daemon=True
        )
        self._thread.start()
        if not self._registered.wait(REGISTER_WAIT):
            log.warning(
                "tray: the StatusNotifierWatcher did not answer in %.0f s; the icon may not show",
                REGISTER_WAIT,
            )
        elif self._refusal is not None:
            refusal = self._refusal
            self.close()
            raise TrayUnavailable(
                NO_TRAY + f"the StatusNotifierWatcher refused the item ({refusal})" + WITHOUT
            )
        else:
            log.info("tray: %s registered with the StatusNotifierWatcher", self.bus_name)

    def show(self, view: TrayView) -> None:
        with self._guard:
            before = self._view
            if view == before:
                return
            if before is not None and _shape(before.menu) != _shape(view.menu):
                self._revision += 1
            self._view = view
        self._poke()

    def run(self, step: Callable[[], bool], every: float) -> None:
        """Call `step` every `every` seconds and soon after `wake`, until it returns False
        (or the item is closed)."""
        while not self._stop.is_set():
            self._woken.clear()
            if not step():
                return
            self._woken.wait(every)

    def wake(self) -> None:
        self._woken.set()

    def close(self) -> None:
        """Release the name and end the bus thread; idempotent, and safe from `on_click`
        (the thread then ends once the callback returns)."""
        with self._guard:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        self._woken.set()
        self._poke()
        thread = self._thread
        if thread is None:
            self._drop_connection()
            return
        if thread is not threading.current_thread():
            thread.join(JOIN_TIMEOUT)
            if thread.is_alive():
                log.warning("tray: the bus thread did not end in %.0f s", JOIN_TIMEOUT)

    # -- connecting (the caller's thread in start(), then the bus thread) --

    def _address(self) -> str:
        return self._bus_address or session_bus_address(os.environ)

    def _connect(self, address: str) -> Connection:
        """Connect, follow the watcher's name, own ours; `_NoBus` if any of it fails."""
        try:
            conn = open_dbus_connection(bus=address)
        except Exception as err:
            raise _NoBus(f"cannot reach the session bus at {address} ({_why(err)})") from None
        self._backlog.clear()
        self._pending.clear()
        try:
            conn.filter(MatchRule(), queue=self._backlog)  # whatever comes while we wait
            rule = MatchRule(type="signal", sender=BUS.bus_name, member="NameOwnerChanged")
            rule.add_arg_condition(0, WATCHER)
            _call(conn, "AddMatch", "s", (rule.serialise(),))
            self._watcher = bool(_call(conn, "NameHasOwner", "s", (WATCHER,))[0])
            answer = _call(conn, "RequestName", "su", (self.bus_name, 4))[0]  # 4: no queue
            if answer not in (1, 4):  # primary owner, already the owner
                raise _NoBus(f"the name {self.bus_name} is taken on the session bus")
        except _NoBus:
            conn.close()
            raise
        except Exception as err:
            conn.close()
            raise _NoBus(f"the session bus at {address} does not answer ({_why(err)})") from None
        return conn

    def _await_watcher(self, conn: Connection, seconds: float) -> None:
        """Wait up to `seconds` for the watcher's NameOwnerChanged; whatever else comes is
        kept for the bus thread."""
        log.info("tray: no StatusNotifierWatcher yet; waiting up to %.0f s for a panel", seconds)
        deadline = time.monotonic() + seconds
        while not self._watcher:
            try:
                msg = conn.receive(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return
            fields = msg.header.fields
            if fields.get(HeaderFields.member) == "NameOwnerChanged" and msg.body[0] == WATCHER:
                self._watcher = bool(msg.body[2])
            else:
                self._backlog.append(msg)

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _register(self) -> None:
        """RegisterStatusNotifierItem, without waiting: the answer comes to `_registration`."""
        watcher = DBusAddress(WATCHER_PATH, WATCHER, WATCHER)
        msg = new_method_call(watcher, "RegisterStatusNotifierItem", "s", (self.bus_name,))
        self._send_call(msg, self._registration)

    def _registration(self, reply: Message) -> None:
        first = not self._registered.is_set()
        if reply.header.message_type == MessageType.error:
            why = _error_text(reply)
            if first:
                self._refusal = why
            else:
                log.warning("tray: the StatusNotifierWatcher refused the item (%s)", why)
        elif not first:
            log.info("tray: registered again with the StatusNotifierWatcher")
        self._registered.set()

    def _send_call(self, msg: Message, on_reply: Callable[[Message], None]) -> None:
        conn = self._conn
        assert conn is not None
        serial = next(conn.outgoing_serial)
        self._pending[serial] = on_reply
        conn.send(msg, serial=serial)

    # -- the bus thread --

    def _serve(self, address: str) -> None:
        attempt = 0
        try:
            while not self._stop.is_set():
                if self._conn is None:
                    if self._nap(self._backoff[min(attempt, len(self._backoff) - 1)]):
                        break
                    attempt += 1
                    try:
                        self._conn = self._connect(address)
                    except _NoBus:
                        continue
                    self._announced()
                    if self._watcher:
                        log.info("tray: the session bus is back; registering again")
                        self._register()
                    else:
                        log.info("tray: the session bus is back; no StatusNotifierWatcher yet")
                try:
                    self._pump()
                except Exception as err:
                    if self._stop.is_set():
                        break
                    log.warning(
                        "tray: lost the session bus (%s); the icon is gone, trying again",
                        _why(err),
                    )
                    self._drop_connection()
                    attempt = 0
        finally:
            self._finish()

    def _nap(self, seconds: float) -> bool:
        """Wait `seconds` (a new view does not cut it short: the back-off holds), or until
        stopped; True when stopping."""
        deadline = time.monotonic() + seconds
        with selectors.DefaultSelector() as sel:
            if self._wake_r is not None:
                sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                sel.select(left)
                self._drain_wake()
        return self._stop.is_set()

    def _pump(self) -> None:
        """Serve the connection until stopped; raises when the bus is lost."""
        conn = self._conn
        assert conn is not None and self._wake_r is not None
        with selectors.DefaultSelector() as sel:
            sel.register(conn.sock, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop.is_set():
                self._announce(conn)
                while self._backlog:  # what came while _connect waited for its replies
                    self._dispatch(conn, self._backlog.popleft())
                while not self._stop.is_set():
                    try:
                        msg = conn.receive(timeout=0)
                    except TimeoutError:
                        break
                    self._dispatch(conn, msg)
                else:
                    return
                sel.select(None)
                self._drain_wake()

    def _drain_wake(self) -> None:
        if self._wake_r is None:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._wake_r, 512):
                pass

    def _poke(self) -> None:
        with self._guard:
            if self._wake_w is not None:
                with contextlib.suppress(BlockingIOError, OSError):
                    os.write(self._wake_w, b"x")

    def _finish(self) -> None:
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                release = new_method_call(BUS, "ReleaseName", "s", (self.bus_name,))
                conn.send_and_get_reply(release, timeout=CALL_TIMEOUT)
        self._drop_connection()
        with self._guard:
            for fd in (self._wake_r, self._wake_w):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._wake_r = self._wake_w = None
        self._registered.set()

    # -- what the panel reads --

    def _snapshot(self) -> tuple[TrayView, int]:
        with self._guard:
            view, revision = self._view, self._revision
        assert view is not None  # set in start()
        return view, revision

    def _status(self, view: TrayView) -> str:
        return "NeedsAttention" if view.state == "slouching" else "Active"

    def _pixmaps(self, state: str) -> list[Pixmap]:
        """The icon of `state` at every size (drawn once per state); a painter that
        fails is one log line and no pixels."""
        found = self._icons.get(state)
        if found is None:
            try:
                found = [argb32(self._icon(state, size)) for size in SIZES]
            except Exception as err:
                if state not in self._bad_icons:
                    self._bad_icons.add(state)
                    log.warning("tray: no icon for %r (%s)", state, _why(err))
                found = []
            self._icons[state] = found
        return found

    def _item_props(self) -> Props:
        view, _ = self._snapshot()
        pixmaps = self._pixmaps(view.state)
        return {
            "Category": ("s", "ApplicationStatus"),
            "Id": ("s", "posture"),
            "Title": ("s", view.title),
            "Status": ("s", self._status(view)),
            "WindowId": ("i", 0),
            "IconName": ("s", ""),
            "IconPixmap": ("a(iiay)", pixmaps),
            "OverlayIconName": ("s", ""),
            "OverlayIconPixmap": ("a(iiay)", []),
            "AttentionIconName": ("s", ""),
            "AttentionIconPixmap": ("a(iiay)", pixmaps),
            "AttentionMovieName": ("s", ""),
            "ToolTip": ("(sa(iiay)ss)", ("", [], view.title, view.tooltip)),
            "ItemIsMenu": ("b", True),
            "Menu": ("o", MENU_PATH),
            "IconThemePath": ("s", ""),
        }

    def _menu_props(self) -> Props:
        return {
            "Version": ("u", 3),
            "TextDirection": ("s", "ltr"),
            "Status": ("s", "normal"),
            "IconThemePath": ("as", []),
        }

    def _menu(self) -> tuple[dict[int, MenuItem], int]:
        view, revision = self._snapshot()
        return {item.id: item for item in view.menu}, revision

    # -- the change signals --

    def _announced(self) -> None:
        """What the panel knows now: what a new connection serves from the start."""
        view, revision = self._snapshot()
        self._told = _tellable(view, self._status(view), revision)

    def _announce(self, conn: Connection) -> None:
        view, revision = self._snapshot()
        now = _tellable(view, self._status(view), revision)
        before, self._told = self._told, now
        if before is None or before == now:
            return
        title, tooltip, state, status, menu, told_revision = before
        item = DBusAddress(ITEM_PATH, interface=ITEM)
        if title != view.title:
            conn.send(new_signal(item, "NewTitle"))
        if state != view.state:
            conn.send(new_signal(item, "NewIcon"))
            conn.send(new_signal(item, "NewAttentionIcon"))
        if (title, tooltip) != (view.title, view.tooltip):
            conn.send(new_signal(item, "NewToolTip"))
        if status != now[3]:
            conn.send(new_signal(item, "NewStatus", "s", (now[3],)))
        bar = DBusAddress(MENU_PATH, interface=MENU)
        if told_revision != revision:
            conn.send(new_signal(bar, "LayoutUpdated", "ui", (revision, 0)))
        elif menu != view.menu:
            old = {entry.id: entry for entry in menu}
            changed = [
                (entry.id, _entry_props(entry)) for entry in view.menu if old.get(entry.id) != entry
            ]
            conn.send(new_signal(bar, "ItemsPropertiesUpdated", "a(ia{sv})a(ias)", (changed, [])))

    # -- the calls to us --

    def _dispatch(self, conn: Connection, msg: Message) -> None:
        """Handle one message; a fault of ours in it is logged (the thread goes on), a
        fault of the connection (OSError) is raised."""
        try:
            self._handle(conn, msg)
        except OSError:
            raise
        except Exception:
            log.error("tray: a message it could not handle: %s", msg, exc_info=True)

    def _handle(self, conn: Connection, msg: Message) -> None:
        kind = msg.header.message_type
        if kind in (MessageType.method_return, MessageType.error):
            serial = msg.header.fields.get(HeaderFields.reply_serial)
            handler = self._pending.pop(serial, None)
            if handler is not None:
                handler(msg)
        elif kind == MessageType.signal:
            self._on_signal(msg)
        elif kind == MessageType.method_call:
            self._on_call(conn, msg)

    def _on_signal(self, msg: Message) -> None:
        fields = msg.header.fields
        if fields.get(HeaderFields.member) != "NameOwnerChanged" or msg.body[0] != WATCHER:
            return
        _name, old, new = msg.body
        if new:
            self._watcher = True
            if old:
                log.info("tray: another StatusNotifierWatcher took over; registering with it")
            else:
                log.info("tray: a StatusNotifierWatcher is back (a panel restarted?); registering")
            self._register()
        else:
            self._watcher = False
            log.info("tray: the StatusNotifierWatcher went away; waiting for a panel to come back")

    def _on_call(self, conn: Connection, msg: Message) -> None:
        fields = msg.header.fields
        path = fields.get(HeaderFields.path, "")
        interface = fields.get(HeaderFields.interface)
        member = fields.get(HeaderFields.member, "")
        signature = fields.get(HeaderFields.signature, "")
        quiet = bool(msg.header.flags & MessageFlag.no_reply_expected)
        after: Callable[[], None] | None = None
        try:
            reply_signature, body, after = self._answer(path, interface, member, signature, msg)
            reply = new_method_return(msg, reply_signature, body)
        except _CallFailed as err:
            reply = new_error(msg, err.name, "s", (str(err),))
        except Exception as err:  # a bug of ours: the caller gets an error, the thread lives
            log.error("tray: answering %s.%s failed", interface, member, exc_info=True)
            reply = new_error(msg, "org.freedesktop.DBus.Error.Failed", "s", (_why(err),))
        if not quiet:
            conn.send(reply)
        if after is not None:
            after()

    def _answer(
        self, path: str, interface: str | None, member: str, signature: str, msg: Message
    ) -> tuple[str | None, tuple[Any, ...], Callable[[], None] | None]:
        """The reply's signature and body to one call, and what to do once it is sent."""
        objects = {ITEM_PATH: ITEM, MENU_PATH: MENU}
        if interface == PEER or (interface is None and member in ("Ping", "GetMachineId")):
            if member == "Ping":
                return None, (), None
            if member == "GetMachineId":
                return "s", (_machine_id(),), None
        if member == "Introspect" and interface in (None, INTROSPECTABLE):
            return "s", (_introspection(path),), None
        own = objects.get(path)
        if own is None:
            raise _CallFailed("org.freedesktop.DBus.Error.UnknownObject", f"no object at {path}")
        if interface == PROPERTIES or (interface is None and member in ("Get", "GetAll", "Set")):
            return self._properties(own, member, signature, msg.body)
        if interface not in (None, own):
            raise _CallFailed(
                "org.freedesktop.DBus.Error.UnknownInterface", f"{path} has no {interface}"
            )
        if own == ITEM:
            expected = ITEM_METHODS.get(member)
            if expected is None:
                raise _unknown(own, member)
            _check(signature, expected, member)
            return None, (), None  # Activate, ContextMenu, ...: ItemIsMenu says "open the menu"
        expected = MENU_METHODS.get(member)
        if expected is None:
            raise _unknown(own, member)
        _check(signature, expected, member)
        return self._menu_call(member, msg.body)

    def _properties(
        self, interface: str, member: str, signature: str, body: tuple[Any, ...]
    ) -> tuple[str | None, tuple[Any, ...], Callable[[], None] | None]:
        expected = {"Get": "ss", "GetAll": "s", "Set": "ssv"}.get(member)
        if expected is None:
            raise _unknown(PROPERTIES, member)
        _check(signature, expected, member)
        asked = body[0]
        if asked not in ("", interface):
            raise _CallFailed("org.freedesktop.DBus.Error.UnknownInterface", f"no {asked} here")
        props = self._item_props() if interface == ITEM else self._menu_props()
        if member == "GetAll":
            return "a{sv}", (props,), None
        name = body[1]
        if name not in props:
            raise _CallFailed("org.freedesktop.DBus.Error.UnknownProperty", f"no property {name}")
        if member == "Set":
            raise _CallFailed("org.freedesktop.DBus.Error.PropertyReadOnly", f"{name} is read-only")
        return "v", (props[name],), None

    def _menu_call(
        self, member: str, body: tuple[Any, ...]
    ) -> tuple[str | None, tuple[Any, ...], Callable[[], None] | None]:
        items, revision = self._menu()
        if member == "GetLayout":
            parent, depth, names = body
            return "u(ia{sv}av)", (revision, _layout(items, parent, depth, names)), None
        if member == "GetGroupProperties":
            ids, names = body
            chosen = list(ids) if ids else [0, *items]
            found = [(i, _only(_props_of(items, i), names)) for i in chosen if _known(items, i)]
            return "a(ia{sv})", (found,), None
        if member == "GetProperty":
            item_id, name = body
            props = _props_of(items, item_id) if _known(items, item_id) else None
            if props is None:
                raise _no_item(item_id)
            if name not in props:
                raise _CallFailed("org.freedesktop.DBus.Error.InvalidArgs", f"no property {name}")
            return "v", (props[name],), None
        if member == "Event":
            item_id, event, _data, _timestamp = body
            if not _known(items, item_id):
                raise _no_item(item_id)
            return None, (), self._event_action(items, [(item_id, event)])
        if member == "EventGroup":
            (events,) = body
            unknown = [e[0] for e in events if not _known(items, e[0])]
            if events and len(unknown) == len(events):
                raise _no_item(unknown[0])
            action = self._event_action(items, [(e[0], e[1]) for e in events])
            return "ai", (unknown,), action
        if member == "AboutToShow":
            (item_id,) = body
            if not _known(items, item_id):
                raise _no_item(item_id)
            return "b", (False,), None
        (ids,) = body  # AboutToShowGroup
        return "aiai", ([], [i for i in ids if not _known(items, i)]), None

    def _event_action(
        self, items: Mapping[int, MenuItem], events: Iterable[tuple[int, str]]
    ) -> Callable[[], None] | None:
        clicked = [
            item_id
            for item_id, event in events
            if event == "clicked"
            and item_id in items
            and items[item_id].enabled
            and not items[item_id].separator
        ]
        if not clicked:
            return None

        def click() -> None:  # after the reply: the panel is not kept waiting
            for item_id in clicked:
                try:
                    self._on_click(item_id)
                except Exception:
                    log.error("tray: the menu item %d failed", item_id, exc_info=True)

        return click


# -- the menu as dbusmenu sees it --


def _shape(menu: Iterable[MenuItem]) -> tuple[tuple[int, bool, bool], ...]:
    """What the layout's revision follows: the items, their order and kinds."""
    return tuple((item.id, item.separator, item.checked is not None) for item in menu)


def _tellable(
    view: TrayView, status: str, revision: int
) -> tuple[str, str, str, str, tuple[MenuItem, ...], int]:
    return (view.title, view.tooltip, view.state, status, view.menu, revision)


def dbusmenu_label(text: str) -> str:
    """dbusmenu reads "_" as the mnemonic mark: a literal one is doubled."""
    return text.replace("_", "__")


def _entry_props(item: MenuItem) -> Props:
    if item.separator:
        return {"type": ("s", "separator"), "visible": ("b", True)}
    props: Props = {
        "label": ("s", dbusmenu_label(item.label)),
        "enabled": ("b", bool(item.enabled)),
        "visible": ("b", True),
    }
    if item.checked is not None:
        props["toggle-type"] = ("s", "checkmark")
        props["toggle-state"] = ("i", 1 if item.checked else 0)
    return props


ROOT_PROPS: Props = {"children-display": ("s", "submenu")}


def _known(items: Mapping[int, MenuItem], item_id: int) -> bool:
    return item_id == 0 or item_id in items


def _props_of(items: Mapping[int, MenuItem], item_id: int) -> Props:
    return dict(ROOT_PROPS) if item_id == 0 else _entry_props(items[item_id])


def _only(props: Props, names: Iterable[str]) -> Props:
    wanted = set(names)
    return {k: v for k, v in props.items() if k in wanted} if wanted else props


def _layout(
    items: Mapping[int, MenuItem], parent: int, depth: int, names: Iterable[str]
) -> tuple[int, Props, list[tuple[str, Any]]]:
    """GetLayout's tree from `parent`: the root has the items as children (unless
    `depth` is 0); the items have none."""
    if not _known(items, parent):
        raise _no_item(parent)
    names = list(names)
    children: list[tuple[str, Any]] = []
    if parent == 0 and depth != 0:
        children = [
            ("(ia{sv}av)", (item.id, _only(_entry_props(item), names), []))
            for item in items.values()
        ]
    return (parent, _only(_props_of(items, parent), names), children)


# -- small helpers --


def argb32(rgba: np.ndarray) -> Pixmap:
    """An RGBA picture as the StatusNotifierItem's (width, height, ARGB32 bytes in network
    byte order: A, R, G, B for each pixel, row by row)."""
    picture = np.asarray(rgba)
    if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 4:
        raise ValueError(f"an icon is (size, size, 4) uint8, not {picture.shape} {picture.dtype}")
    height, width = picture.shape[:2]
    return (int(width), int(height), np.ascontiguousarray(picture[..., [3, 0, 1, 2]]).tobytes())


def session_bus_address(env: Mapping[str, str]) -> str:
    """$DBUS_SESSION_BUS_ADDRESS, else the systemd user bus ($XDG_RUNTIME_DIR/bus), as
    libdbus finds it; `_NoBus` when there is neither."""
    address = env.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if address:
        return address
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime:
        bus = Path(runtime) / "bus"
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(bus.stat().st_mode):
                return f"unix:path={bus}"
    raise _NoBus("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)")


def _call(conn: Connection, method: str, signature: str, args: tuple[Any, ...]) -> Any:
    msg = new_method_call(BUS, method, signature, args)
    return unwrap_msg(conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT))


def _check(signature: str, expected: str, member: str) -> None:
    if signature != expected:
        raise _CallFailed(
            "org.freedesktop.DBus.Error.InvalidArgs",
            f"{member} takes ({expected}), not ({signature})",
        )


def _unknown(interface: str, member: str) -> _CallFailed:
    return _CallFailed("org.freedesktop.DBus.Error.UnknownMethod", f"{interface} has no {member}")


def _no_item(item_id: int) -> _CallFailed:
    return _CallFailed("org.freedesktop.DBus.Error.InvalidArgs", f"no menu item {item_id}")


def _error_text(reply: Message) -> str:
    name = reply.header.fields.get(HeaderFields.error_name, "an error")
    text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
    return f"{name}: {text}" if text else str(name)


def _machine_id() -> str:
    for place in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        with contextlib.suppress(OSError):
            return Path(place).read_text().strip()
    raise _CallFailed("org.freedesktop.DBus.Error.Failed", "no machine id")


def _why(err: BaseException) -> str:
    text = str(err).strip()
    return text if text else type(err).__name__


ITEM_METHODS = {
    "ContextMenu": "ii",
    "Activate": "ii",
    "SecondaryActivate": "ii",
    "Scroll": "is",
    "ProvideXdgActivationToken": "s",
}
MENU_METHODS = {
    "GetLayout": "iias",
    "GetGroupProperties": "aias",
    "GetProperty": "is",
    "Event": "isvu",
    "EventGroup": "a(isvu)",
    "AboutToShow": "i",
    "AboutToShowGroup": "ai",
}

_STANDARD = """  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get"><arg name="interface_name" type="s" direction="in"/>
      <arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="out"/></method>
    <method name="GetAll"><arg name="interface_name" type="s" direction="in"/>
      <arg name="properties" type="a{sv}" direction="out"/></method>
    <method name="Set"><arg name="interface_name" type="s" direction="in"/>
      <arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="in"/></method>
    <signal name="PropertiesChanged"><arg name="interface_name" type="s"/>
      <arg name="changed_properties" type="a{sv}"/>
      <arg name="invalidated_properties" type="as"/></signal>
  </interface>
  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml_data" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId"><arg name="machine_uuid" type="s" direction="out"/></method>
  </interface>
"""
_DOCTYPE = (
    '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
    ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n'
)
_ITEM_XML = """  <interface name="org.kde.StatusNotifierItem">
    <property name="Category" type="s" access="read"/>
    <property name="Id" type="s" access="read"/>
    <property name="Title" type="s" access="read"/>
    <property name="Status" type="s" access="read"/>
    <property name="WindowId" type="i" access="read"/>
    <property name="IconName" type="s" access="read"/>
    <property name="IconPixmap" type="a(iiay)" access="read"/>
    <property name="OverlayIconName" type="s" access="read"/>
    <property name="OverlayIconPixmap" type="a(iiay)" access="read"/>
    <property name="AttentionIconName" type="s" access="read"/>
    <property name="AttentionIconPixmap" type="a(iiay)" access="read"/>
    <property name="AttentionMovieName" type="s" access="read"/>
    <property name="ToolTip" type="(sa(iiay)ss)" access="read"/>
    <property name="ItemIsMenu" type="b" access="read"/>
    <property name="Menu" type="o" access="read"/>
    <property name="IconThemePath" type="s" access="read"/>
    <method name="ContextMenu"><arg name="x" type="i" direction="in"/>
      <arg name="y" type="i" direction="in"/></method>
    <method name="Activate"><arg name="x" type="i" direction="in"/>
      <arg name="y" type="i" direction="in"/></method>
    <method name="SecondaryActivate"><arg name="x" type="i" direction="in"/>
      <arg name="y" type="i" direction="in"/></method>
    <method name="Scroll"><arg name="delta" type="i" direction="in"/>
      <arg name="orientation" type="s" direction="in"/></method>
    <method name="ProvideXdgActivationToken"><arg name="token" type="s" direction="in"/></method>
    <signal name="NewTitle"/>
    <signal name="NewIcon"/>
    <signal name="NewAttentionIcon"/>
    <signal name="NewOverlayIcon"/>
    <signal name="NewToolTip"/>
    <signal name="NewStatus"><arg name="status" type="s"/></signal>
  </interface>
"""
_MENU_XML = """  <interface name="com.canonical.dbusmenu">
    <property name="Version" type="u" access="read"/>
    <property name="TextDirection" type="s" access="read"/>
    <property name="Status" type="s" access="read"/>
    <property name="IconThemePath" type="as" access="read"/>
    <method name="GetLayout"><arg name="parentId" type="i" direction="in"/>
      <arg name="recursionDepth" type="i" direction="in"/>
      <arg name="propertyNames" type="as" direction="in"/>
      <arg name="revision" type="u" direction="out"/>
      <arg name="layout" type="(ia{sv}av)" direction="out"/></method>
    <method name="GetGroupProperties"><arg name="ids" type="ai" direction="in"/>
      <arg name="propertyNames" type="as" direction="in"/>
      <arg name="properties" type="a(ia{sv})" direction="out"/></method>
    <method name="GetProperty"><arg name="id" type="i" direction="in"/>
      <arg name="name" type="s" direction="in"/>
      <arg name="value" type="v" direction="out"/></method>
    <method name="Event"><arg name="id" type="i" direction="in"/>
      <arg name="eventId" type="s" direction="in"/>
      <arg name="data" type="v" direction="in"/>
      <arg name="timestamp" type="u" direction="in"/></method>
    <method name="EventGroup"><arg name="events" type="a(isvu)" direction="in"/>
      <arg name="idErrors" type="ai" direction="out"/></method>
    <method name="AboutToShow"><arg name="id" type="i" direction="in"/>
      <arg name="needUpdate" type="b" direction="out"/></method>
    <method name="AboutToShowGroup"><arg name="ids" type="ai" direction="in"/>
      <arg name="updatesNeeded" type="ai" direction="out"/>
      <arg name="idErrors" type="ai" direction="out"/></method>
    <signal name="ItemsPropertiesUpdated"><arg name="updatedProps" type="a(ia{sv})"/>
      <arg name="removedProps" type="a(ias)"/></signal>
    <signal name="LayoutUpdated"><arg name="revision" type="u"/>
      <arg name="parent" type="i"/></signal>
    <signal name="ItemActivationRequested"><arg name="id" type="i"/>
      <arg name="timestamp" type="u"/></signal>
  </interface>
"""


def _introspection(path: str) -> str:
    """The Introspect XML of `path`: our two objects, and the nodes that lead to them."""
    if path == ITEM_PATH:
        return _DOCTYPE + "<node>\n" + _ITEM_XML + _STANDARD + "</node>\n"
    if path == MENU_PATH:
        return _DOCTYPE + "<node>\n" + _MENU_XML + _STANDARD + "</node>\n"
    nodes = ""
    if path == "/":
        nodes = '  <node name="StatusNotifierItem"/>\n  <node name="MenuBar"/>\n'
    return _DOCTYPE + "<node>\n" + nodes + "</node>\n"
