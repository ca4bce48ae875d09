"""The preview window's own process: `python -m posture.adapters.window.child TITLE`.

It reads frames and scenes from its stdin (the pipe from `process.py`; the wire format
is there), draws each with `draw.render` and shows it with OpenCV's HighGUI, and writes
one line to its stdout when the window is done with: "closed esc" (the user pressed Esc)
or "closed window" (the user closed it). It ends when its stdin ends.

Why a process of its own: HighGUI aborts the whole process (SIGABRT, which Python
cannot catch) when it cannot open the display, and its event loop must be pumped
(`waitKey`) all the time; the parent's calibration and the model go on whatever happens
here. The window is made with `WINDOW_GUI_NORMAL`: no toolbar, so there is no Save
button, and nothing of the picture can be written to disk from it.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
from typing import Any, BinaryIO

import numpy as np

#: Each message: this header (the scene's JSON length, height, width), the JSON, then
#: height x width x 3 bytes of RGB.
HEADER = struct.Struct(">III")
#: A frame larger than this is refused (a garbled header must not allocate gigabytes).
MAX_SIDE = 8192
MAX_JSON = 1 << 20
ESC = 27
#: How long each turn of the event loop waits for a key, in ms: 60 turns a second.
TURN_MS = 16


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


class Inbox:
    """The newest message from the pipe, read on a thread of its own so that the window
    stays responsive while the parent is busy (a slow window skips frames)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._latest: tuple[np.ndarray, str] | None = None
        self.ended = threading.Event()
        threading.Thread(target=self._read, name="window-inbox", daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                head = _read_exactly(self._stream, HEADER.size)
                if head is None:
                    return
                length, height, width = HEADER.unpack(head)
                if length > MAX_JSON or not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
                    return
                text = _read_exactly(self._stream, length)
                pixels = _read_exactly(self._stream, height * width * 3)
                if text is None or pixels is None:
                    return
                image = np.frombuffer(pixels, np.uint8).reshape(height, width, 3)
                with self._lock:
                    self._latest = (image, text.decode("utf-8"))
        finally:
            self.ended.set()

    def take(self) -> tuple[np.ndarray, str] | None:
        with self._lock:
            latest, self._latest = self._latest, None
        return latest


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _closed(cv2: Any, title: str) -> bool:
    """Whether the user closed the window (its close button): Qt's HighGUI then has no
    window of that name, and asking about it raises."""
    try:
        return bool(cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1)
    except cv2.error:
        return True


def run(title: str, inbox: Inbox) -> str | None:
    """The event loop until the pipe ends (None) or the user closes the window (how)."""
    import cv2

    from posture.adapters.window.draw import render
    from posture.core.preview import Scene

    cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)
    shown = False
    try:
        while not inbox.ended.is_set():
            latest = inbox.take()
            if latest is not None:
                image, text = latest
                cv2.imshow(title, render(image, Scene.from_json(text)))
                shown = True
            key = cv2.waitKey(TURN_MS)
            if key & 0xFF == ESC:
                return "esc"
            if shown and _closed(cv2, title):
                return "window"
        return None
    finally:
        cv2.destroyAllWindows()


def main(argv: list[str]) -> None:
    title = argv[0] if argv else "posture"
    how = run(title, Inbox(sys.stdin.buffer))
    if how is not None:
        _say(f"closed {how}")
    # Not a normal interpreter exit: the inbox thread may be blocked in a read of stdin,
    # whose lock the shutdown would wait for.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
