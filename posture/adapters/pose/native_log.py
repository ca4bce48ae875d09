"""Keep MediaPipe's native log lines off the user's terminal, by their form.

MediaPipe (absl logging), TFLite and LiteRT write straight to file descriptor 2 from C++
threads: ``W0000 00:00:17… inference_feedback_manager.cc:121] Feedback manager requires…``,
``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``, mediapipe 1.2.3's
``WARNING: [model_load.cc:402] Sparsity tensors may not yet be fully supported.`` (38 times
a model load). No environment variable, absl setting or logging callback stops them, and
each release brings new messages, so lines are judged by their *form*, never by their text:

- an absl/glog record, ``[IWEF]mmdd hh:mm:ss.uuuuuu thread file:line] message``;
- a TFLite/LiteRT record, ``VERBOSE: ``, ``DEBUG: ``, ``INFO: ``, ``WARNING: ``, ``ERROR: ``
  or ``FATAL: `` at the start of the line.

Info and warning records are dropped. Error records (``E``/``F``, ``ERROR:``/``FATAL:``) are
held back for `HOLD` seconds: most come with a Python exception carrying the same text,
which the CLI reports in one line and names with `reported`, and then the native copy is
dropped; one nobody claimed is passed on. Everything else (a crash message, a child
program's output) passes at once. Records glued together on one line, such as
``WARNING: Logging before InitGoogle() is written to STDERRW0000 …]``, are split first.

So, once per process and only when the CLI asks (not with --verbose), fd 2 becomes a pipe
read by a small thread. Python's own `sys.stderr` is moved to a duplicate of the original
descriptor first, so posture's messages never wait on the thread.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import itertools
import os
import re
import select
import sys
import threading
import time
from typing import Literal

Kind = Literal["noise", "error", "other"]

#: absl/glog's prefix; the seconds may be a whole epoch before InitGoogle (``00:00:1795…``).
_GLOG = re.compile(rb"([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]\s]+\] ")
#: TFLite/LiteRT's severity prefix, only at the start of a record.
_SEVERITY = re.compile(rb"(VERBOSE|DEBUG|INFO|WARNING|ERROR|FATAL): ")
_NOISE_LEVELS = {b"I", b"W", b"VERBOSE", b"DEBUG", b"INFO", b"WARNING"}

#: How long a native error waits for the Python exception that may repeat it.
HOLD = 0.5

_lock = threading.Lock()
_requested = False
_installed = False
_held: list[tuple[float, bytes, bytes]] = []  # (deadline, record, its message)
_claims: list[bytes] = []
_out_fd = -1


def request_quiet() -> None:
    """Ask for the filter; it is put in place just before mediapipe is first used."""
    global _requested
    _requested = True


def records(line: bytes) -> list[bytes]:
    """One line cut into its log records: a glog prefix anywhere but the start begins a
    new record (native writers do not always end theirs with a newline)."""
    starts = [m.start() for m in _GLOG.finditer(line) if m.start() > 0]
    bounds = [0, *starts, len(line)]
    return [line[a:b] for a, b in itertools.pairwise(bounds) if line[a:b].strip()]


def _parse(record: bytes) -> tuple[Kind, bytes]:
    """The kind of one record and its message (the text after the prefix)."""
    for pattern in (_GLOG, _SEVERITY):
        match = pattern.match(record)
        if match:
            kind: Kind = "noise" if match.group(1) in _NOISE_LEVELS else "error"
            return kind, record[match.end() :].strip()
    return "other", record.strip()


def classify(record: bytes) -> Kind:
    """``noise`` (native info/warning), ``error`` (native error) or ``other``."""
    return _parse(record)[0]


def is_noise(line: bytes) -> bool:
    """Whether the filter drops this whole line: every record in it is native info or
    warning."""
    parts = records(line.rstrip(b"\r\n"))
    return bool(parts) and all(classify(p) == "noise" for p in parts)


def reported(message: str) -> None:
    """The CLI has shown this error to the user: held native errors it repeats are dropped."""
    with _lock:
        _claims.append(message.encode("utf-8", "replace"))


def _claimed(message: bytes) -> bool:
    return bool(message) and any(message in claim for claim in _claims)


def _release(now: float | None) -> None:
    """Pass on the held errors whose time is up (all of them when `now` is None) and that
    no reported error repeats. Called with `_lock` held."""
    keep = []
    for deadline, record, message in _held:
        if now is not None and deadline > now:
            keep.append((deadline, record, message))
        elif not _claimed(message):
            _write(record if record.endswith(b"\n") else record + b"\n")
    _held[:] = keep


def _write(data: bytes) -> None:
    with contextlib.suppress(OSError):  # the terminal went away; nothing to tell anyone
        os.write(_out_fd, data)


def _take(line: bytes) -> None:
    for record in records(line):
        kind, message = _parse(record)
        if kind == "other":
            _write(record if record.endswith(b"\n") else record + b"\n")
        elif kind == "error":
            with _lock:
                _held.append((time.monotonic() + HOLD, record, message))


def _pump(read_fd: int) -> None:
    pending = b""
    while True:
        with _lock:
            wait = min((d for d, _, _ in _held), default=None)
        timeout = None if wait is None else max(0.0, wait - time.monotonic())
        ready, _, _ = select.select([read_fd], [], [], timeout)
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                _take(line + b"\n")
        with _lock:
            _release(time.monotonic())
    if pending:
        _take(pending)
    os.close(read_fd)
    with _lock:
        _release(None)


def install_if_requested() -> None:
    """Route fd 2 through the filter, once, if `request_quiet` was called."""
    global _installed, _out_fd
    with _lock:
        if not _requested or _installed:
            return
        _installed = True
        sys.stderr.flush()
        _out_fd = os.dup(2)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
        sys.stderr = io.TextIOWrapper(
            io.FileIO(_out_fd, "w", closefd=False),
            encoding=encoding,
            errors="backslashreplace",
            line_buffering=True,
        )
        pump = threading.Thread(
            target=_pump, args=(read_fd,), name="native-log-filter", daemon=True
        )
        pump.start()
        atexit.register(_drain, pump)


def _drain(pump: threading.Thread) -> None:
    """At exit, close our end of the pipe and let the thread pass on what is left; errors
    still held are decided now (a child may keep the pipe open, so do not wait on it)."""
    try:
        os.close(2)
    except OSError:
        return
    pump.join(timeout=1.0)
    with _lock:
        _release(None)
