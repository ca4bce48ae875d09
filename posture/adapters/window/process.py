"""The preview window as a child process (`child.py`), fed over a pipe: the
`PreviewWindow` port.

Frames never touch a file: each goes down the child's stdin (a pipe) as raw RGB bytes
after a small header, and the child answers on its stdout. A writer thread sends the
newest frame only, so the caller (the model's loop) never waits for the drawing; a
reader thread notes the child's "closed" line. When the child dies (HighGUI's SIGABRT,
a kill), `show` answers "gone" with the reason, and the caller goes on without it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import IO

import numpy as np

from posture.adapters.window.child import HEADER
from posture.core.preview import Scene
from posture.errors import PreviewUnavailable
from posture.ports import WindowState

#: The child's first lines of stderr kept for the reason it died (Qt's first line names
#: the cause: "could not connect to display :9").
_KEPT_LINES = 5


def window_environment(env: Mapping[str, str], platform: str = sys.platform) -> dict[str, str]:
    """The child's environment: `PreviewUnavailable` without an X display to open; on a
    Wayland session Qt is told to use XWayland (`QT_QPA_PLATFORM=xcb`), the one platform
    plugin opencv-python's Qt is built with besides offscreen ones. macOS and Windows
    draw windows without X: nothing to check there."""
    out = dict(env)
    if platform in ("darwin", "win32"):
        return out
    wayland = bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE") == "wayland"
    if not env.get("DISPLAY"):
        why = "a Wayland session without XWayland" if wayland else "DISPLAY is not set"
        raise PreviewUnavailable(f"no display for the preview window ({why})")
    if wayland:
        out["QT_QPA_PLATFORM"] = "xcb"
    return out


def _death(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exited with status {code}"


class WindowProcess:
    """One preview window in a child process."""

    def __init__(self, title: str, *, env: Mapping[str, str] | None = None) -> None:
        child_env = window_environment(os.environ if env is None else env)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "posture.adapters.window.child", title],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=child_env,
                close_fds=True,
            )
        except OSError as err:
            raise PreviewUnavailable(
                f"the preview window could not start: {err.strerror or err}"
            ) from None
        self.title = title
        self._lock = threading.Condition()
        self._pending: tuple[np.ndarray, Scene] | None = None
        self._state: WindowState = "open"
        self._reason = ""
        self._closing = False
        self._stderr: list[str] = []
        assert self._proc.stdin and self._proc.stdout and self._proc.stderr
        self._threads = [
            threading.Thread(target=self._write, args=(self._proc.stdin,), daemon=True),
            threading.Thread(target=self._listen, args=(self._proc.stdout,), daemon=True),
            threading.Thread(target=self._keep_stderr, args=(self._proc.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def reason(self) -> str:
        return self._reason

    def show(self, image: np.ndarray, scene: Scene) -> WindowState:
        # Whether the child died is the listener's to say: it reads the child's last
        # words ("closed esc") before it sees the end of the pipe.
        with self._lock:
            if self._state == "open":
                self._pending = (image, scene)
                self._lock.notify_all()
            return self._state

    def close(self) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._lock.notify_all()
        try:
            self._proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for thread in self._threads:
            thread.join(timeout=1)

    # -- the threads -------------------------------------------------------------------

    def _gone(self, reason: str) -> None:
        """Under the lock: the child is no more (unless it said it was closed)."""
        if self._state == "open":
            self._state = "gone"
            first = self._stderr[0][:200] if self._stderr else ""
            self._reason = reason + (f" ({first})" if first else "")

    def _write(self, pipe: IO[bytes]) -> None:
        try:
            while True:
                with self._lock:
                    while self._pending is None and not self._closing:
                        self._lock.wait()
                    if self._closing:
                        return
                    assert self._pending is not None
                    image, scene = self._pending
                    self._pending = None
                rgb = np.ascontiguousarray(image, dtype=np.uint8)
                text = scene.to_json().encode("utf-8")
                pipe.write(HEADER.pack(len(text), rgb.shape[0], rgb.shape[1]))
                pipe.write(text)
                pipe.write(rgb.tobytes())  # one copy; a frame is under 1 MB
                pipe.flush()
        except (OSError, ValueError):  # the child went away (a broken pipe)
            code = self._proc.wait()
            with self._lock:
                self._gone(_death(code))
        finally:
            with contextlib.suppress(OSError):
                pipe.close()

    def _listen(self, pipe: IO[bytes]) -> None:
        for raw in pipe:
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith("closed"):
                with self._lock:
                    if self._state == "open":
                        self._state = "closed"
                        self._reason = line.removeprefix("closed").strip()
        code = self._proc.wait()
        self._threads[2].join(timeout=1)  # its last words on stderr, for the reason
        with self._lock:
            if not self._closing:
                self._gone(_death(code))

    def _keep_stderr(self, pipe: IO[bytes]) -> None:
        for raw in pipe:
            line = raw.decode("utf-8", "replace").strip()
            if line and len(self._stderr) < _KEPT_LINES:
                self._stderr.append(line)


def open_window(title: str) -> WindowProcess:
    """The `WindowOpener`: a preview window titled `title` in a child process."""
    return WindowProcess(title)
