"""One monitor per user: an exclusive lock on `monitor.lock` in the runtime folder; and one
tray per user, the same way on `tray.lock`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

from posture.adapters.private import ensure_private_dir, open_private
from posture.errors import PostureError

#: The lock's file name in the runtime folder.
LOCK_FILE = "monitor.lock"
#: The tray's (`posture tray`): a file of its own, so a tray never stops a monitor starting.
TRAY_LOCK_FILE = "tray.lock"


def lock_path(runtime: Path) -> Path:
    return runtime / LOCK_FILE


class AlreadyRunning(PostureError):
    def __init__(self, pid: int | None) -> None:
        who = f" (pid {pid})" if pid else ""
        super().__init__(
            f"a posture monitor is already running{who}: `posture status` shows it, "
            "`posture stop` ends it",
            exit_code=1,
        )


class TrayRunning(PostureError):
    def __init__(self, pid: int | None) -> None:
        who = f" (pid {pid})" if pid else ""
        super().__init__(
            f"posture tray is already running{who}: its icon is on the panel", exit_code=1
        )


class MonitorLock:
    """An exclusive lock on `monitor.lock` in the runtime folder (or another file, with
    the error `busy` makes when it is held), holding our pid. The operating system drops
    it when the process dies, so a crash never leaves a monitor that "is running" but is
    not."""

    def __init__(
        self, path: Path, busy: Callable[[int | None], PostureError] = AlreadyRunning
    ) -> None:
        self.path = path
        self._busy = busy
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        import fcntl

        ensure_private_dir(self.path.parent)
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        fh = os.fdopen(fd, "r+", encoding="ascii")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            raise self._busy(read_pid(self.path)) from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
        except OSError as err:  # a full disk, typically: one line, not a traceback
            with contextlib.suppress(OSError):  # closes even when the flush fails again
                fh.close()
            raise PostureError(
                f"cannot write {self.path} ({err.strerror}): make room there, or set "
                "POSTURE_HOME to another folder"
            ) from None
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the lock
            self._fh = None


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip() or 0) or None
    except (OSError, ValueError):
        return None


def is_locked(path: Path) -> bool:
    """Whether a live process holds the monitor lock."""
    import fcntl

    if not path.exists():
        return False
    with path.open("r", encoding="ascii") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False
