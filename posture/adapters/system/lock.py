"""One monitor per user: an exclusive lock on `monitor.lock` in the runtime folder."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

from posture.adapters.private import ensure_private_dir, open_private
from posture.errors import PostureError

#: The lock's file name in the runtime folder.
LOCK_FILE = "monitor.lock"


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


class MonitorLock:
    """An exclusive lock on `monitor.lock` in the runtime folder, holding our pid. The
    operating system drops it when the process dies, so a crash never leaves a monitor
    that "is running" but is not."""

    def __init__(self, path: Path) -> None:
        self.path = path
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
            raise AlreadyRunning(read_pid(self.path)) from None
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
