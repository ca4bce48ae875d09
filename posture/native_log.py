"""Keep MediaPipe's native log lines off the user's terminal.

MediaPipe (absl logging) and TFLite write straight to file descriptor 2 from C++ threads:
``W0000 00:00:17… inference_feedback_manager.cc:121] Feedback manager requires…``,
``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``. No environment variable
silences them in mediapipe 1.2 (GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL were tried).

So, once per process and only when the CLI asks (not with --verbose), fd 2 becomes a pipe
read by a small thread that drops those info and warning lines and passes everything
else on, native errors (``E…``/``F…`` lines) included. Python's own `sys.stderr` is moved
to a duplicate of the original descriptor first, so our messages never wait on the thread.
"""

from __future__ import annotations

import atexit
import io
import os
import re
import sys
import threading

#: absl's info/warning prefix (``I1121 08:00:00.123 1234 file.cc:12]``, or ``W0000 …``
#: before InitGoogle), TFLite's chatty lines, and TFLite's ``ERROR:`` lines: those come
#: with a Python exception carrying the same text, which the CLI reports in one line.
NATIVE_NOISE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]]+\] "
    rb"|INFO: "
    rb"|ERROR: "
    rb"|WARNING: Logging before InitGoogle\(\))"
)

_lock = threading.Lock()
_requested = False
_installed = False


def request_quiet() -> None:
    """Ask for the filter; it is put in place just before mediapipe is first used."""
    global _requested
    _requested = True


def is_noise(line: bytes) -> bool:
    return NATIVE_NOISE.match(line) is not None


def _pump(read_fd: int, out_fd: int) -> None:
    with os.fdopen(read_fd, "rb") as pipe:
        for line in pipe:
            if not is_noise(line):
                os.write(out_fd, line)


def install_if_requested() -> None:
    """Route fd 2 through the filter, once, if `request_quiet` was called."""
    global _installed
    with _lock:
        if not _requested or _installed:
            return
        _installed = True
        sys.stderr.flush()
        original = os.dup(2)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
        sys.stderr = io.TextIOWrapper(
            io.FileIO(original, "w", closefd=False),
            encoding=encoding,
            errors="backslashreplace",
            line_buffering=True,
        )
        pump = threading.Thread(
            target=_pump, args=(read_fd, original), name="native-log-filter", daemon=True
        )
        pump.start()
        atexit.register(_drain, pump)


def _drain(pump: threading.Thread) -> None:
    """At exit, close our end of the pipe and let the thread pass on what is left."""
    try:
        os.close(2)
    except OSError:
        return
    pump.join(timeout=1.0)
