"""Another program has the camera (a video call): `HoldSensor`s that notice it, so the
monitor releases the camera at once and looks again when the other program lets go.

* Linux (`DeviceWatch`): inotify on the camera's device node (`/dev/videoN`, or
  `[monitor] camera_device`) wakes a small thread on every open and close; who holds the
  node is then read from `/proc/PID/fd` (our own opens fire too: that is why). The
  processes of other users cannot be seen without privileges: for them the camera's
  refusal to open (`CameraBusy`, raised by the video source) is the signal.
* macOS (`CoreMediaWatch`): CoreMediaIO's `kCMIODevicePropertyDeviceIsRunningSomewhere`
  on each video device, polled; it needs no camera permission and names no program.
* Windows (`ConsentStoreWatch`): the CapabilityAccessManager's `webcam` consent keys,
  polled: an application other than ours with `LastUsedTimeStart` set and
  `LastUsedTimeStop == 0` has the camera now.

The OS calls of macOS and Windows are imported when their sensor starts, never at
import, and are passed in by the tests as fakes."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import struct
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posture.ports import Hold, HoldSensor

log = logging.getLogger(__name__)

KIND = "camera_in_use"
#: While another program holds the camera, who holds it is read again this often (a
#: process may die without a close event reaching us first); also how often a device
#: node that does not exist yet is looked for.
RESCAN = 3.0
#: How often the macOS and Windows sensors ask the OS.
POLL = 1.0

# inotify(7)
_IN_OPEN = 0x020
_IN_CLOSE = 0x008 | 0x010  # IN_CLOSE_WRITE | IN_CLOSE_NOWRITE
_IN_ATTRIB = 0x004
_IN_DELETE_SELF = 0x400
_IN_IGNORED = 0x8000
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then the name, none for a file)


def in_use(holder: str | None = None, pid: int | None = None) -> Hold:
    """The hold of a camera another program has (its name and pid when known)."""
    if holder is None:
        return Hold(KIND, "camera in use by another program")
    where = f" (pid {pid})" if pid is not None else ""
    return Hold(KIND, f"camera in use by {holder}{where}", holder, pid)


@dataclass(frozen=True)
class Holders:
    """Who has a file open, from /proc: (pid, name) of each process seen holding it.
    Another user's processes are not seen without privileges."""

    found: tuple[tuple[int, str], ...]

    def hold(self) -> Hold | None:
        if not self.found:
            return None
        pid, name = self.found[0]
        return in_use(name, pid)


def holders(device: str, *, proc: str = "/proc", own_pid: int | None = None) -> Holders:
    """The processes other than ours (and its threads) with `device` open, lowest pid
    first, by the links in `/proc/PID/fd`."""
    own = os.getpid() if own_pid is None else own_pid
    target = os.path.realpath(device)
    found: list[tuple[int, str]] = []
    try:
        with os.scandir(proc) as entries:
            pids = sorted(int(e.name) for e in entries if e.name.isdigit())
    except OSError:
        return Holders(())
    for pid in pids:
        if pid == own:
            continue
        fds = f"{proc}/{pid}/fd"
        try:
            with os.scandir(fds) as entries:
                names = [e.name for e in entries]
        except OSError:  # another user's (no privileges), or gone meanwhile
            continue
        for fd in names:
            try:
                link = str(Path(f"{fds}/{fd}").readlink())
            except OSError:
                continue
            if link == target:
                found.append((pid, _name(proc, pid)))
                break
    return Holders(tuple(found))


def _name(proc: str, pid: int) -> str:
    try:
        return Path(f"{proc}/{pid}/comm").read_text(errors="replace").strip() or "?"
    except OSError:
        return "?"


#: VIDIOC_REQBUFS, _IOWR('V', 8, struct v4l2_requestbuffers): asking for no buffers
#: changes nothing, but answers EBUSY while another open file streams from the camera.
VIDIOC_REQBUFS = 0xC0145608
_NO_BUFFERS = struct.pack("IIII4x", 0, 1, 1, 0)  # count 0, VIDEO_CAPTURE, MMAP


def _ioctl(fd: int, request: int, arg: bytes) -> None:
    import fcntl

    fcntl.ioctl(fd, request, arg)


def busy_hold(device: str, *, ioctl: Callable[[int, int, bytes], None] = _ioctl) -> Hold | None:
    """Why a camera that did not open (or gave no picture) is busy, if it is: another
    process seen holding its device node, or the node answering EBUSY (to the open, or to
    a request for no buffers: a program of another user, whose files /proc does not
    show). None when neither says so: then it is a fault, not a hold."""
    if not Path(device).exists():
        return None
    seen = holders(device)
    if seen.found:
        return seen.hold()
    try:
        fd = os.open(device, os.O_RDWR | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        return in_use() if err.errno == errno.EBUSY else None
    try:
        ioctl(fd, VIDIOC_REQBUFS, _NO_BUFFERS)
    except OSError as err:
        return in_use() if err.errno == errno.EBUSY else None
    finally:
        os.close(fd)
    return None


# --- Linux: inotify ---------------------------------------------------------------------


class Inotify:
    """inotify(7) through libc (ctypes, loaded on first use)."""

    def __init__(self) -> None:
        import ctypes

        self._libc = ctypes.CDLL(None, use_errno=True)
        self._ctypes = ctypes
        fd = int(self._libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
        if fd < 0:
            raise self._error("inotify_init1")
        self.fd = fd

    def _error(self, call: str) -> OSError:
        code = self._ctypes.get_errno()
        return OSError(code, f"{call}: {os.strerror(code)}")

    def watch(self, path: str) -> int:
        mask = _IN_OPEN | _IN_CLOSE | _IN_ATTRIB | _IN_DELETE_SELF
        wd = int(self._libc.inotify_add_watch(self.fd, os.fsencode(path), mask))
        if wd < 0:
            raise self._error(f"inotify_add_watch {path}")
        return wd

    def events(self) -> list[int]:
        """The masks of the events waiting (none when there are none)."""
        masks: list[int] = []
        while True:
            try:
                data = os.read(self.fd, 64 * 1024)
            except BlockingIOError:
                return masks
            at = 0
            while at + _EVENT.size <= len(data):
                _wd, mask, _cookie, length = _EVENT.unpack_from(data, at)
                masks.append(mask)
                at += _EVENT.size + length

    def close(self) -> None:
        os.close(self.fd)


class DeviceWatch:
    """The Linux sensor: another program with the camera's device node open.

    A thread waits on inotify and the stop pipe: an open of the node (ours too) or a
    close while it is held makes it read who holds it from /proc; while held it reads
    again every `rescan` seconds. A change of answer wakes the loop. `hold` returns what
    the thread last found."""

    def __init__(
        self, device: str, *, rescan: float = RESCAN, find: Callable[[str], Holders] = holders
    ) -> None:
        self.device = device
        self.name = f"camera in use ({device})"
        self._rescan = rescan
        self._find = find
        self._hold: Hold | None = None
        self._thread: threading.Thread | None = None
        self._stop_r, self._stop_w = -1, -1
        self._inotify: Inotify | None = None
        self._wd: int | None = None

    def start(self, wake: Callable[[], None]) -> None:
        self._inotify = Inotify()
        self._stop_r, self._stop_w = os.pipe()
        self._add_watch(first=True)
        self._scan(wake)  # it may be held already
        self._thread = threading.Thread(
            target=self._run, args=(wake,), name="camera-in-use", daemon=True
        )
        self._thread.start()

    def hold(self) -> Hold | None:
        return self._hold

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(5)
            self._thread = None
        for fd in (self._stop_r, self._stop_w):
            if fd >= 0:
                os.close(fd)
        self._stop_r = self._stop_w = -1
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None

    def _add_watch(self, *, first: bool = False) -> None:
        assert self._inotify is not None
        try:
            self._wd = self._inotify.watch(self.device)
        except OSError as err:
            self._wd = None
            if err.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
            if first:
                log.info(
                    "%s: no such device yet; looking for it every %g s", self.name, self._rescan
                )
        else:
            if not first:
                log.info("%s: watching again", self.name)

    def _run(self, wake: Callable[[], None]) -> None:
        assert self._inotify is not None
        try:
            while True:
                waiting = self._hold is not None or self._wd is None
                timeout = self._rescan if waiting else None
                ready, _, _ = select.select([self._inotify.fd, self._stop_r], [], [], timeout)
                if self._stop_r in ready:
                    return
                if self._wd is None:
                    self._add_watch()
                    if self._wd is not None:
                        self._scan(wake)
                masks = self._inotify.events() if ready else []
                if any(m & (_IN_IGNORED | _IN_DELETE_SELF) for m in masks):
                    self._wd = None  # unplugged, or the file removed: look for it again
                    self._add_watch()
                opened = any(m & _IN_OPEN for m in masks)
                closed = any(m & (_IN_CLOSE | _IN_IGNORED) for m in masks)
                if opened or (self._hold is not None and (closed or not ready)):
                    self._scan(wake)
        except Exception as err:  # the watch ends; the monitor goes on without it
            log.warning("%s: %s; no longer watching", self.name, err)
            self._hold = None
            wake()

    def _scan(self, wake: Callable[[], None]) -> None:
        hold = self._find(self.device).hold()
        if hold != self._hold:
            self._hold = hold
            wake()


# --- macOS and Windows: polled ------------------------------------------------------------


class PolledWatch:
    """A sensor whose OS answers only when asked: a thread asks `probe` every `period`
    seconds and wakes the loop when the answer changes. `connect` (called by `start`)
    returns the probe, so the OS libraries load only when the monitor starts it."""

    def __init__(
        self, name: str, connect: Callable[[], Callable[[], Hold | None]], period: float = POLL
    ) -> None:
        self.name = name
        self._connect = connect
        self._period = period
        self._hold: Hold | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, wake: Callable[[], None]) -> None:
        probe = self._connect()
        self._hold = probe()
        self._thread = threading.Thread(
            target=self._run, args=(probe, wake), name="camera-in-use", daemon=True
        )
        self._thread.start()

    def hold(self) -> Hold | None:
        return self._hold

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self, probe: Callable[[], Hold | None], wake: Callable[[], None]) -> None:
        failed = False
        while not self._stop.wait(self._period):
            try:
                hold = probe()
            except Exception as err:
                if not failed:
                    log.warning("%s: %s; taken as not in use", self.name, err)
                failed, hold = True, None
            if hold != self._hold:
                self._hold = hold
                wake()


# macOS: CoreMediaIO


def _fourcc(code: str) -> int:
    return int.from_bytes(code.encode("ascii"), "big")


_CMIO_SYSTEM_OBJECT = 1
_CMIO_DEVICES = _fourcc("dev#")
_CMIO_RUNNING_SOMEWHERE = _fourcc("gone")
_CMIO_RUNNING_HERE = _fourcc("goin")
_CMIO_SCOPE_GLOBAL = _fourcc("glob")
_CMIO_ELEMENT_MAIN = 0


@dataclass(frozen=True)
class CoreMedia:
    """The two CoreMediaIO questions the macOS sensor asks (fakes in the tests)."""

    devices: Callable[[], list[int]]
    running: Callable[[int, int], bool]  # (device, property) -> is it on


def core_media_probe(cmio: CoreMedia) -> Callable[[], Hold | None]:
    """A camera running somewhere but not in this process is another program's."""

    def probe() -> Hold | None:
        for device in cmio.devices():
            if cmio.running(device, _CMIO_RUNNING_SOMEWHERE) and not cmio.running(
                device, _CMIO_RUNNING_HERE
            ):
                return in_use()
        return None

    return probe


def core_media() -> CoreMedia:  # pragma: no cover - macOS only
    """CoreMediaIO through ctypes: `CMIOObjectGetPropertyData` on the system object's
    device list, then on each device."""
    import ctypes

    lib = ctypes.cdll.LoadLibrary("/System/Library/Frameworks/CoreMediaIO.framework/CoreMediaIO")

    class Address(ctypes.Structure):
        _fields_ = [
            ("selector", ctypes.c_uint32),
            ("scope", ctypes.c_uint32),
            ("element", ctypes.c_uint32),
        ]

    def get(obj: int, selector: int, size: int) -> bytes:
        address = Address(selector, _CMIO_SCOPE_GLOBAL, _CMIO_ELEMENT_MAIN)
        buffer = ctypes.create_string_buffer(size)
        used = ctypes.c_uint32(0)
        status = lib.CMIOObjectGetPropertyData(
            ctypes.c_uint32(obj), ctypes.byref(address), ctypes.c_uint32(0), None,
            ctypes.c_uint32(size), ctypes.byref(used), buffer,
        )  # fmt: skip
        if status != 0:
            raise OSError(f"CMIOObjectGetPropertyData: status {status}")
        return buffer.raw[: used.value]

    def size_of(obj: int, selector: int) -> int:
        address = Address(selector, _CMIO_SCOPE_GLOBAL, _CMIO_ELEMENT_MAIN)
        size = ctypes.c_uint32(0)
        status = lib.CMIOObjectGetPropertyDataSize(
            ctypes.c_uint32(obj), ctypes.byref(address), ctypes.c_uint32(0), None,
            ctypes.byref(size),
        )  # fmt: skip
        if status != 0:
            raise OSError(f"CMIOObjectGetPropertyDataSize: status {status}")
        return size.value

    def devices() -> list[int]:
        data = get(_CMIO_SYSTEM_OBJECT, _CMIO_DEVICES, size_of(_CMIO_SYSTEM_OBJECT, _CMIO_DEVICES))
        return list(struct.unpack(f"{len(data) // 4}I", data[: len(data) // 4 * 4]))

    def running(device: int, selector: int) -> bool:
        data = get(device, selector, 4)
        return len(data) == 4 and struct.unpack("I", data)[0] != 0

    return CoreMedia(devices, running)


# Windows: the consent store

CONSENT_STORE = (
    r"Software\Microsoft\Windows\CurrentVersion\CapabilityAccessManager\ConsentStore\webcam"
)


@dataclass(frozen=True)
class ConsentEntry:
    """One application's webcam key: its name (a package name, or a program's path with
    `#` for `\\` under NonPackaged) and its last use's start and stop (FILETIME, 0 = none)."""

    app: str
    start: int
    stop: int


def consent_probe(
    entries: Callable[[], Iterable[ConsentEntry]], own: str
) -> Callable[[], Hold | None]:
    """An application other than `own` (our program's path) whose last use has started
    and not stopped has the camera."""
    ours = own.replace("\\", "#").casefold()

    def probe() -> Hold | None:
        for entry in entries():
            if entry.start and not entry.stop and entry.app.casefold() != ours:
                return in_use(entry.app.rsplit("#", 1)[-1])
        return None

    return probe


def consent_entries() -> Iterable[ConsentEntry]:  # pragma: no cover - Windows only
    """The webcam keys of HKCU, packaged apps and NonPackaged programs."""
    import importlib

    winreg: Any = importlib.import_module("winreg")  # typeshed's is for Windows only

    def values(key: object) -> tuple[int, int]:
        found = []
        for name in ("LastUsedTimeStart", "LastUsedTimeStop"):
            try:
                found.append(int(winreg.QueryValueEx(key, name)[0]))
            except OSError:
                found.append(0)
        return found[0], found[1]

    def children(path: str) -> list[str]:
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, path) as key:
                count = winreg.QueryInfoKey(key)[0]
                return [winreg.EnumKey(key, i) for i in range(count)]
        except OSError:
            return []

    found: list[ConsentEntry] = []
    for parent in (CONSENT_STORE, CONSENT_STORE + r"\NonPackaged"):
        for app in children(parent):
            if app == "NonPackaged":
                continue
            with contextlib.suppress(OSError):
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, f"{parent}\\{app}") as key:
                    start, stop = values(key)
                found.append(ConsentEntry(app, start, stop))
    return found


# --- which one ----------------------------------------------------------------------------


def camera_in_use_sensor(
    camera: int | None, device: str = "", platform: str = sys.platform
) -> HoldSensor | None:
    """The sensor of this platform for camera `camera` (None: the monitor looks at a
    recording), or for the device node `device` when one is configured (Linux; watched
    even over a recording). None when there is nothing to watch."""
    if platform.startswith("linux"):
        if device:
            return DeviceWatch(device)
        return None if camera is None else DeviceWatch(f"/dev/video{camera}")
    if camera is None:
        return None
    if platform == "darwin":
        return PolledWatch("camera in use (CoreMediaIO)", lambda: core_media_probe(core_media()))
    if platform == "win32":
        return PolledWatch(
            "camera in use (consent store)",
            lambda: consent_probe(consent_entries, sys.executable),
        )
    return None
