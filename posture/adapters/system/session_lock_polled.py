"""The screen lock on macOS and Windows, as a `HoldSensor` that asks the OS through ctypes
at most once a second (from `hold`, at the loop's tick; no thread).

* macOS: `CGSessionCopyCurrentDictionary()["CGSSessionScreenIsLocked"]` (CoreGraphics).
* Windows: `WTSQuerySessionInformationW(.., WTSSessionInfoEx)`'s `SessionFlags`
  (WTS_SESSIONSTATE_LOCK) for the current session (wtsapi32).

Sleep needs no sensor there: the machine stops, and the monitor's clock-gap rule treats
the gap as an absence. The frameworks are loaded in `start`, never at import, so this
module imports anywhere; the tests pass fake queries.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable

from posture.ports import Hold

LOCKED = Hold("locked", "the screen is locked")
POLL_EVERY = 1.0  # s: the OS is asked at most this often

Query = Callable[[], bool]  # is the screen locked now? (raises OSError if it cannot tell)


class PolledScreenLock:
    """Asks `load()`'s query at most once every `POLL_EVERY` seconds of `monotonic`."""

    def __init__(
        self,
        name: str,
        load: Callable[[], Query],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._load = load
        self._monotonic = monotonic
        self._query: Query | None = None
        self._asked = float("-inf")
        self._locked = False

    def start(self, wake: Callable[[], None]) -> None:
        self._query = self._load()  # raises when the OS call is not there
        self._locked = self._query()
        self._asked = self._monotonic()

    def hold(self) -> Hold | None:
        now = self._monotonic()
        if self._query is not None and now - self._asked >= POLL_EVERY:
            self._asked = now
            self._locked = self._query()
        return LOCKED if self._locked else None

    def close(self) -> None:
        self._query = None


# -- macOS --

K_CF_STRING_ENCODING_UTF8 = 0x08000100


def load_macos() -> Query:
    """CGSessionCopyCurrentDictionary and the CoreFoundation calls to read one key."""
    from ctypes import util

    cg_path = util.find_library("CoreGraphics") or util.find_library("ApplicationServices")
    cf_path = util.find_library("CoreFoundation")
    if not cg_path or not cf_path:
        raise OSError("CoreGraphics or CoreFoundation not found")
    return macos_query(ctypes.CDLL(cg_path), ctypes.CDLL(cf_path))


def macos_query(cg: ctypes.CDLL, cf: ctypes.CDLL) -> Query:
    """The query over these two libraries (real ones or fakes with the same names)."""
    vp = ctypes.c_void_p
    cg.CGSessionCopyCurrentDictionary.restype = vp
    cf.CFStringCreateWithCString.restype = vp
    cf.CFStringCreateWithCString.argtypes = [vp, ctypes.c_char_p, ctypes.c_uint32]
    cf.CFDictionaryGetValue.restype = vp
    cf.CFDictionaryGetValue.argtypes = [vp, vp]
    cf.CFBooleanGetValue.restype = ctypes.c_bool
    cf.CFBooleanGetValue.argtypes = [vp]
    cf.CFRelease.argtypes = [vp]
    key = cf.CFStringCreateWithCString(None, b"CGSSessionScreenIsLocked", K_CF_STRING_ENCODING_UTF8)
    if not key:
        raise OSError("CFStringCreateWithCString failed")

    def locked() -> bool:
        session = cg.CGSessionCopyCurrentDictionary()
        if not session:  # no window server session (ssh, a daemon): nothing to lock
            return False
        try:
            value = cf.CFDictionaryGetValue(session, key)
            return bool(value) and bool(cf.CFBooleanGetValue(value))
        finally:
            cf.CFRelease(session)

    return locked


# -- Windows --

WTS_CURRENT_SERVER_HANDLE = 0
WTS_CURRENT_SESSION = 0xFFFFFFFF
WTS_SESSION_INFO_EX = 25  # WTS_INFO_CLASS.WTSSessionInfoEx
WTS_SESSIONSTATE_LOCK = 0
WTS_SESSIONSTATE_UNLOCK = 1


DWORD, LONG, WCHAR = ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint16  # Windows' sizes
LARGE_INTEGER = ctypes.c_int64


class WTSINFOEX_LEVEL1_W(ctypes.Structure):
    """wtsapi32.h, whole: its LARGE_INTEGERs align the structure on 8 bytes, which puts
    `Data` at offset 8 in WTSINFOEXW."""

    _fields_ = [
        ("SessionId", DWORD),
        ("SessionState", ctypes.c_int32),  # WTS_CONNECTSTATE_CLASS
        ("SessionFlags", LONG),
        ("WinStationName", WCHAR * 33),
        ("UserName", WCHAR * 21),
        ("DomainName", WCHAR * 18),
        ("LogonTime", LARGE_INTEGER),
        ("ConnectTime", LARGE_INTEGER),
        ("DisconnectTime", LARGE_INTEGER),
        ("LastInputTime", LARGE_INTEGER),
        ("CurrentTime", LARGE_INTEGER),
        ("IncomingBytes", DWORD),
        ("OutgoingBytes", DWORD),
        ("IncomingFrames", DWORD),
        ("OutgoingFrames", DWORD),
        ("IncomingCompressedBytes", DWORD),
        ("OutgoingCompressedBytes", DWORD),
    ]


class WTSINFOEXW(ctypes.Structure):
    _fields_ = [("Level", DWORD), ("Data", WTSINFOEX_LEVEL1_W)]  # Data: a one-member union


def load_windows() -> Query:
    """wtsapi32's WTSQuerySessionInformationW and WTSFreeMemory."""
    windll = getattr(ctypes, "WinDLL", None)
    if windll is None:
        raise OSError("wtsapi32 is only on Windows")
    return windows_query(windll("wtsapi32"))


def windows_query(wtsapi32: ctypes.CDLL) -> Query:
    """The query over this library (the real one or a fake with the same names)."""
    query = wtsapi32.WTSQuerySessionInformationW
    query.argtypes = [
        ctypes.c_void_p,  # HANDLE
        DWORD,  # SessionId
        ctypes.c_int,  # WTS_INFO_CLASS
        ctypes.POINTER(ctypes.c_void_p),  # LPWSTR *ppBuffer
        ctypes.POINTER(DWORD),  # DWORD *pBytesReturned
    ]
    query.restype = ctypes.c_int
    wtsapi32.WTSFreeMemory.argtypes = [ctypes.c_void_p]

    def locked() -> bool:
        buffer, size = ctypes.c_void_p(), DWORD()
        if not query(
            WTS_CURRENT_SERVER_HANDLE,
            WTS_CURRENT_SESSION,
            WTS_SESSION_INFO_EX,
            ctypes.pointer(buffer),  # pointer, not byref: a fake can write through it
            ctypes.pointer(size),
        ):
            raise OSError("WTSQuerySessionInformationW failed")
        try:
            if size.value < ctypes.sizeof(WTSINFOEXW) or not buffer.value:
                raise OSError("WTSQuerySessionInformationW gave too little")
            info = WTSINFOEXW.from_address(buffer.value)
            flags = int(info.Data.SessionFlags)
            return int(info.Level) == 1 and flags == WTS_SESSIONSTATE_LOCK
        finally:
            wtsapi32.WTSFreeMemory(buffer)

    return locked
