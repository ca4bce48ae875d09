"""Test tools for a StatusNotifierItem: what a panel is and does, on a private bus.

    with private_bus(tmp_path, "session") as address:          # tests/desktop.py
        with fake_watcher(address) as watcher:                  # what the panel runs
            ...start the item (SniTray, or a real `posture tray` with that bus)...
            service = watcher.wait_for_item()                   # its bus name, once registered
            with SniClient(address, service) as item:           # what the panel reads
                item.title(); item.tooltip().text; item.status(); item.icons()[22]
                item.layout()                                   # the menu, one dict per item
                item.click(3)                                   # dbusmenu Event "clicked"
                item.wait_for(lambda: item.title() == "posture: paused", timeout=5)
                item.wait_for(lambda: "NewTitle" in item.signal_names())

Both are real D-Bus peers over jeepney (no mock of D-Bus): `fake_watcher` owns
org.kde.StatusNotifierWatcher on a thread of the test process, answers
RegisterStatusNotifierItem (after checking that the name it is given has an owner, as
KDE's watcher does), records every registration and emits StatusNotifierItemRegistered;
it forgets an item whose connection goes (StatusNotifierItemUnregistered). Its
properties: IsStatusNotifierHostRegistered true (it stands for the panel's host as well),
RegisteredStatusNotifierItems (the services as registered), ProtocolVersion 0. The fake
part is only that it draws nothing. `SniClient` reads the item the way a panel's host does
and records every signal the item emits.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from jeepney import (
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
from jeepney.io.blocking import open_dbus_connection
from jeepney.io.threading import DBusRouter
from jeepney.io.threading import open_dbus_connection as open_threaded_connection
from jeepney.wrappers import DBusErrorResponse, unwrap_msg

WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM = "org.kde.StatusNotifierItem"
ITEM_PATH = "/StatusNotifierItem"
MENU = "com.canonical.dbusmenu"
PROPERTIES = "org.freedesktop.DBus.Properties"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
BUS = DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus")
CALL_TIMEOUT = 5.0

T = TypeVar("T")


# -- the watcher --


@dataclass(frozen=True)
class Registration:
    """One RegisterStatusNotifierItem call: who sent it, and the service it named."""

    sender: str  # the caller's unique name (":1.42")
    service: str  # the argument: a bus name, or an object path on the sender's connection


class FakeWatcher:
    """org.kde.StatusNotifierWatcher on a thread (see the module's docstring); made by
    `fake_watcher`."""

    def __init__(self, bus_address: str) -> None:
        self.address = bus_address
        self._guard = threading.Lock()
        self._registrations: list[Registration] = []
        self._items: list[str] = []  # registered and still on the bus
        self._owners: dict[str, str] = {}  # service -> the unique name that owned it
        self._hosts: list[str] = []
        self._conn = open_dbus_connection(bus=bus_address)
        self._backlog: deque[Any] = deque()
        self._conn.filter(MatchRule(), queue=self._backlog)
        self._stop_r, self._stop_w = os.pipe()
        rule = MatchRule(type="signal", sender=BUS.bus_name, member="NameOwnerChanged")
        self._bus_call("AddMatch", "s", (rule.serialise(),))
        owned = self._bus_call("RequestName", "su", (WATCHER, 4))[0]
        if owned != 1:
            self._conn.close()
            raise RuntimeError(f"fake watcher: {WATCHER} is taken on {bus_address}")
        self.unique_name: str = self._conn.unique_name
        self._thread = threading.Thread(target=self._serve, name="fake watcher", daemon=True)
        self._thread.start()

    # -- what a test asks --

    @property
    def registrations(self) -> list[Registration]:
        """Every RegisterStatusNotifierItem call answered so far, oldest first."""
        with self._guard:
            return list(self._registrations)

    @property
    def items(self) -> list[str]:
        """RegisteredStatusNotifierItems: the services registered whose owner is still there."""
        with self._guard:
            return list(self._items)

    def wait_for_item(self, timeout: float = 5.0, *, count: int = 1) -> str:
        """The service of the `count`-th registration, once it has come (AssertionError after
        `timeout` seconds)."""
        found = wait_for(
            lambda: self.registrations[count - 1] if len(self.registrations) >= count else None,
            timeout,
            f"registration {count} with the fake watcher",
        )
        return found.service

    def close(self) -> None:
        """Stop answering and let go of the name (the connection closes, the bus drops it)."""
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        self._thread.join(5)
        with contextlib.suppress(Exception):
            self._conn.close()
        for fd in (self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- the thread --

    def _bus_call(self, method: str, signature: str, args: tuple[Any, ...]) -> Any:
        msg = new_method_call(BUS, method, signature, args)
        return unwrap_msg(self._conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT))

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._conn.sock, selectors.EVENT_READ)
            sel.register(self._stop_r, selectors.EVENT_READ)
            while True:
                while self._backlog:
                    self._handle(self._backlog.popleft())
                try:
                    while True:
                        self._handle(self._conn.receive(timeout=0))
                except TimeoutError:
                    pass
                except OSError:
                    return  # the bus went away
                ready = {key.fileobj for key, _ in sel.select(None)}
                if self._stop_r in ready:
                    return

    def _handle(self, msg: Any) -> None:
        kind = msg.header.message_type
        fields = msg.header.fields
        member = fields.get(HeaderFields.member)
        if kind == MessageType.signal:
            if member == "NameOwnerChanged":
                self._owner_changed(*msg.body)
            return
        if kind != MessageType.method_call:
            return
        try:
            signature, body = self._answer(msg)
            reply = new_method_return(msg, signature, body)
        except _Refused as err:
            reply = new_error(msg, err.name, "s", (str(err),))
        except Exception as err:
            reply = new_error(msg, "org.freedesktop.DBus.Error.Failed", "s", (repr(err),))
        if not msg.header.flags & MessageFlag.no_reply_expected:
            self._conn.send(reply)
        if (
            member == "RegisterStatusNotifierItem"
            and reply.header.message_type != MessageType.error
        ):
            service = self._registrations[-1].service
            emitter = DBusAddress(WATCHER_PATH, interface=WATCHER)
            self._conn.send(new_signal(emitter, "StatusNotifierItemRegistered", "s", (service,)))

    def _answer(self, msg: Any) -> tuple[str | None, tuple[Any, ...]]:
        fields = msg.header.fields
        interface, member = fields.get(HeaderFields.interface), fields.get(HeaderFields.member)
        sender = fields.get(HeaderFields.sender, "")
        if member == "Introspect":
            return "s", (WATCHER_XML,)
        if interface == PROPERTIES:
            props = {
                "IsStatusNotifierHostRegistered": ("b", True),
                "RegisteredStatusNotifierItems": ("as", self.items),
                "ProtocolVersion": ("i", 0),
            }
            if member == "GetAll":
                return "a{sv}", (props,)
            if member == "Get" and msg.body[1] in props:
                return "v", (props[msg.body[1]],)
            raise _Refused("org.freedesktop.DBus.Error.InvalidArgs", f"no {msg.body}")
        if member == "RegisterStatusNotifierItem":
            (service,) = msg.body
            owner = sender if service.startswith("/") else self._owner_of(service)
            with self._guard:
                self._registrations.append(Registration(sender, service))
                if service not in self._items:
                    self._items.append(service)
                self._owners[service] = owner
            return None, ()
        if member == "RegisterStatusNotifierHost":
            with self._guard:
                self._hosts.append(msg.body[0])
            emitter = DBusAddress(WATCHER_PATH, interface=WATCHER)
            self._conn.send(new_signal(emitter, "StatusNotifierHostRegistered"))
            return None, ()
        raise _Refused("org.freedesktop.DBus.Error.UnknownMethod", f"no {member}")

    def _owner_of(self, service: str) -> str:
        """The unique name owning `service`; refused (as KDE's watcher does) when none."""
        try:
            return str(self._bus_call("GetNameOwner", "s", (service,))[0])
        except DBusErrorResponse:
            raise _Refused(
                "org.freedesktop.DBus.Error.ServiceUnknown", f"{service} has no owner"
            ) from None

    def _owner_changed(self, name: str, old: str, new: str) -> None:
        """An item whose owner left the bus is forgotten, and the hosts told."""
        if new:
            return
        with self._guard:
            gone = [s for s, owner in self._owners.items() if name in (s, owner) and old == owner]
            for service in gone:
                self._owners.pop(service, None)
                if service in self._items:
                    self._items.remove(service)
        emitter = DBusAddress(WATCHER_PATH, interface=WATCHER)
        for service in gone:
            self._conn.send(new_signal(emitter, "StatusNotifierItemUnregistered", "s", (service,)))


class _Refused(Exception):
    """A D-Bus error the fake watcher answers with."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text)
        self.name = name


@contextlib.contextmanager
def fake_watcher(bus_address: str) -> Iterator[FakeWatcher]:
    """A `FakeWatcher` on the bus at `bus_address` for the `with` block; gone after it (as a
    panel that exits), so that entering another is "the panel restarted"."""
    watcher = FakeWatcher(bus_address)
    try:
        yield watcher
    finally:
        watcher.close()


# -- the client (a panel's host) --


@dataclass(frozen=True)
class ToolTip:
    icon_name: str
    icons: dict[int, np.ndarray]  # size -> RGBA
    title: str
    text: str


@dataclass(frozen=True)
class Signal:
    """A signal the item emitted."""

    path: str
    interface: str
    member: str
    body: tuple[Any, ...]


class _Recorder:
    """A "queue" for jeepney's router filter that keeps every signal, in order."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.signals: list[Signal] = []

    def put_nowait(self, msg: Any) -> None:
        fields = msg.header.fields
        if fields.get(HeaderFields.interface) == BUS.interface:
            return  # NameAcquired and the like, from the bus to us
        signal = Signal(
            fields.get(HeaderFields.path, ""),
            fields.get(HeaderFields.interface, ""),
            fields.get(HeaderFields.member, ""),
            tuple(msg.body),
        )
        with self.guard:
            self.signals.append(signal)


class SniClient:
    """Reads a StatusNotifierItem and its dbusmenu as a panel does, and records the
    signals it emits (from the moment the client is made).

    `service` is what the item registered: a bus name ("org.kde.StatusNotifierItem-1-1"),
    optionally followed by the object path ("name/StatusNotifierItem", KDE's form).
    Every read is a real D-Bus call; a D-Bus error raises jeepney's DBusErrorResponse."""

    def __init__(self, bus_address: str, service: str, *, timeout: float = CALL_TIMEOUT) -> None:
        name, slash, path = service.partition("/")
        self.service = name
        self.path = "/" + path if slash else ITEM_PATH
        self.timeout = timeout
        self._conn = open_threaded_connection(bus=bus_address)
        self._router = DBusRouter(self._conn)
        self._recorder = _Recorder()
        self._filter = self._router.filter(MatchRule(type="signal"), queue=self._recorder)
        for rule in (
            MatchRule(type="signal", sender=name, path=self.path),
            MatchRule(type="signal", sender=name, interface=MENU),
        ):
            self.call(BUS, "AddMatch", "s", (rule.serialise(),))
        self._menu_path: str | None = None

    def __enter__(self) -> SniClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._filter.close()
        self._router.close()
        self._conn.close()

    # -- calls --

    def call(
        self, address: DBusAddress, method: str, signature: str | None = None, body: tuple = ()
    ) -> tuple[Any, ...]:
        """One method call; its reply's body."""
        reply = self._router.send_and_get_reply(
            new_method_call(address, method, signature, body), timeout=self.timeout
        )
        result: tuple[Any, ...] = unwrap_msg(reply)
        return result

    def item_address(self, interface: str = ITEM) -> DBusAddress:
        return DBusAddress(self.path, self.service, interface)

    def menu_address(self, interface: str = MENU) -> DBusAddress:
        if self._menu_path is None:
            self._menu_path = str(self.get("Menu"))
        return DBusAddress(self._menu_path, self.service, interface)

    def get(self, name: str, interface: str = ITEM) -> Any:
        """A property's value (the variant unwrapped), of the item or (MENU) of the menu."""
        address = (
            self.item_address(PROPERTIES) if interface == ITEM else self.menu_address(PROPERTIES)
        )
        return self.call(address, "Get", "ss", (interface, name))[0][1]

    def get_all(self, interface: str = ITEM) -> dict[str, Any]:
        address = (
            self.item_address(PROPERTIES) if interface == ITEM else self.menu_address(PROPERTIES)
        )
        props = self.call(address, "GetAll", "s", (interface,))[0]
        return {key: value[1] for key, value in props.items()}

    def title(self) -> str:
        return str(self.get("Title"))

    def status(self) -> str:
        return str(self.get("Status"))

    def tooltip(self) -> ToolTip:
        icon_name, pixmaps, title, text = self.get("ToolTip")
        return ToolTip(icon_name, decode_pixmaps(pixmaps), title, text)

    def icons(self, prop: str = "IconPixmap") -> dict[int, np.ndarray]:
        """The item's icon at each size it sends: size -> (size, size, 4) uint8 RGBA."""
        return decode_pixmaps(self.get(prop))

    def introspect(self, path: str | None = None) -> str:
        address = DBusAddress(path or self.path, self.service, INTROSPECTABLE)
        return str(self.call(address, "Introspect")[0])

    def name_has_owner(self, name: str | None = None) -> bool:
        return bool(self.call(BUS, "NameHasOwner", "s", (name or self.service,))[0])

    # -- the menu --

    def get_layout(self, parent: int = 0, depth: int = -1) -> tuple[int, Any]:
        """GetLayout's raw answer: (revision, (id, props, children))."""
        revision, tree = self.call(self.menu_address(), "GetLayout", "iias", (parent, depth, []))
        return int(revision), tree

    def revision(self) -> int:
        return self.get_layout()[0]

    def layout(self) -> list[dict[str, Any]]:
        """The root's children, in order: one dict each with id, type ("standard" or
        "separator"), label (as shown: "__" read as "_", a lone "_" mnemonic mark dropped),
        raw_label (as sent), enabled, visible, toggle_type ("" or "checkmark"),
        toggle_state (None when not a toggle, else 0/1) and children (their count), with
        dbusmenu's defaults filled in for properties not sent."""
        _, (_root, _props, children) = self.get_layout()
        return [_entry(child[1]) for child in children]

    def item(self, item_id: int) -> dict[str, Any]:
        """One entry of `layout()` by id (KeyError when absent)."""
        for entry in self.layout():
            if entry["id"] == item_id:
                return entry
        raise KeyError(item_id)

    def event(self, item_id: int, event: str, timestamp: int = 0) -> None:
        self.call(self.menu_address(), "Event", "isvu", (item_id, event, ("i", 0), timestamp))

    def click(self, item_id: int, timestamp: int = 0) -> None:
        """dbusmenu Event(item_id, "clicked", 0, timestamp), as a panel sends on a click."""
        self.event(item_id, "clicked", timestamp)

    # -- signals --

    @property
    def signals(self) -> list[Signal]:
        """Every signal from the item (either object) since the client was made or cleared."""
        with self._recorder.guard:
            return list(self._recorder.signals)

    def signal_names(self) -> list[str]:
        return [signal.member for signal in self.signals]

    def clear_signals(self) -> None:
        with self._recorder.guard:
            self._recorder.signals.clear()

    def wait_for_signal(self, member: str, timeout: float = 5.0) -> Signal:
        """The first recorded signal called `member`, once it has come."""
        return wait_for(
            lambda: next((s for s in self.signals if s.member == member), None),
            timeout,
            f"the signal {member}",
        )

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, what: str = "") -> T:
        """`predicate()`'s value once it is truthy (see `wait_for`)."""
        return wait_for(predicate, timeout, what)


def wait_for(predicate: Callable[[], T], timeout: float = 5.0, what: str = "") -> T:
    """Ask `predicate` (every 20 ms) until its value is truthy and return that value; a
    D-Bus error from it counts as "not yet". AssertionError after `timeout` seconds, with
    the last value or error."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
        except DBusErrorResponse as err:
            value, last = None, err  # type: ignore[assignment]
        else:
            if value:
                return value
            last = value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or predicate}; last: {last!r}"
            )
        time.sleep(0.02)


def decode_pixmaps(pixmaps: list[tuple[int, int, bytes]]) -> dict[int, np.ndarray]:
    """a(iiay) in ARGB32 network byte order -> {width: (height, width, 4) RGBA uint8}."""
    found = {}
    for width, height, data in pixmaps:
        argb = np.frombuffer(data, dtype=np.uint8).reshape(height, width, 4)
        found[width] = np.ascontiguousarray(argb[..., [1, 2, 3, 0]])
    return found


def _entry(node: tuple[int, dict[str, tuple[str, Any]], list[Any]]) -> dict[str, Any]:
    item_id, props, children = node
    value = {key: variant[1] for key, variant in props.items()}
    raw = str(value.get("label", ""))
    toggle_type = str(value.get("toggle-type", ""))
    return {
        "id": item_id,
        "type": str(value.get("type", "standard")),
        "label": _shown(raw),
        "raw_label": raw,
        "enabled": bool(value.get("enabled", True)),
        "visible": bool(value.get("visible", True)),
        "toggle_type": toggle_type,
        "toggle_state": int(value.get("toggle-state", -1)) if toggle_type else None,
        "children": len(children),
    }


def _shown(label: str) -> str:
    """A dbusmenu label as a panel shows it: "__" is "_", a lone "_" marks a mnemonic."""
    out, i = [], 0
    while i < len(label):
        if label[i] == "_":
            if label[i + 1 : i + 2] == "_":
                out.append("_")
                i += 2
                continue
            i += 1
            continue
        out.append(label[i])
        i += 1
    return "".join(out)


WATCHER_XML = """<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<node>
  <interface name="org.kde.StatusNotifierWatcher">
    <method name="RegisterStatusNotifierItem"><arg name="service" type="s" direction="in"/></method>
    <method name="RegisterStatusNotifierHost"><arg name="service" type="s" direction="in"/></method>
    <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
    <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
    <property name="ProtocolVersion" type="i" access="read"/>
    <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
    <signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
    <signal name="StatusNotifierHostRegistered"/>
  </interface>
</node>
"""
