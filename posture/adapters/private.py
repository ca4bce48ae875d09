"""Private files and folders, shared by every adapter that writes the user's data: folders
0700, files 0600. (Profiles and history describe the user's body and habits.)"""

from __future__ import annotations

import errno
import io
import logging.handlers
import os
import stat
from pathlib import Path

from posture.errors import PostureError


class LinkRefused(PostureError):
    """A file of posture's own is a symbolic link: posture never follows one (another user
    could point it at a file of yours to be truncated, chmod-ed or appended to)."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} is a symbolic link, and posture does not follow links for its own files: "
            f"remove it (rm '{path}') and try again"
        )


def refuse_links(*paths: Path) -> None:
    """`LinkRefused` if any of `paths` is a symbolic link (dangling ones included)."""
    for path in paths:
        if path.is_symlink():
            raise LinkRefused(path)


def open_private(path: Path, flags: int) -> int:
    """`os.open` of a file of posture's own: mode 0600 when created, never through a
    symbolic link (`LinkRefused`), not inherited by child processes."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        return os.open(path, flags | nofollow | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as err:
        if err.errno == errno.ELOOP or (nofollow == 0 and path.is_symlink()):
            raise LinkRefused(path) from None
        raise


class UntrustedFolder(PostureError):
    """A folder posture would read its config or profiles from, or put its socket in, that
    another user owns or may write to: they could plant a config, a profile or a fake
    control socket there."""


class FolderError(PostureError):
    """A folder posture needs is a file, cannot be made, or cannot be written in."""


def _not_a_folder(path: Path) -> FolderError:
    """The error for `path`, or for the first folder above it that is a file."""
    for place in (*reversed(path.parents), path):
        if place.exists() and not place.is_dir():
            path = place
            break
    return FolderError(
        f"{path} is not a folder, and posture keeps its files in one: move the file away, "
        "or set POSTURE_HOME to a folder"
    )


def check_trusted_dir(path: Path) -> None:
    """`UntrustedFolder` when `path` exists and belongs to another user or is writable by
    group or others; `FolderError` when it, or a folder above it, is a file; nothing when
    it does not exist yet (it will be made 0700)."""
    if os.name != "posix":
        return
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise _not_a_folder(path) from None
    except OSError as err:
        raise FolderError(
            f"cannot look into {path} ({err.strerror}): set POSTURE_HOME to a folder of yours"
        ) from None
    if not stat.S_ISDIR(st.st_mode):
        raise _not_a_folder(path)
    if st.st_uid != os.getuid():
        raise UntrustedFolder(
            f"{path} belongs to another user (uid {st.st_uid}): posture keeps its files only "
            "in folders of yours; set POSTURE_HOME to a folder of your own"
        )
    if st.st_mode & 0o022:
        raise UntrustedFolder(
            f"{path} can be written by other users (mode {st.st_mode & 0o777:o}), who could "
            f"plant files posture would trust: run `chmod 700 '{path}'` and try again"
        )


def _cannot_write(path: Path, reason: str) -> FolderError:
    try:
        read_only = bool(os.statvfs(path).f_flag & getattr(os, "ST_RDONLY", 1))
    except OSError:
        read_only = False
    if read_only:
        reason = "a read-only file system"
    return FolderError(
        f"posture cannot write in {path} ({reason}): make it writable, or set POSTURE_HOME "
        "to a folder you can write in"
    )


def ensure_private_dir(path: Path) -> Path:
    """Create `path`, and every missing folder above it, readable by the user only;
    tighten `path` if it exists. (`mkdir(parents=True)` would give the parents the
    umask's mode, typically 0755.) A folder that cannot be made or written in is a
    `FolderError`, one line, before any file in it is tried."""
    check_trusted_dir(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as err:
            raise _cannot_write(folder.parent, err.strerror or str(err)) from None
    try:
        if os.name == "posix" and (path.stat().st_mode & 0o077):
            path.chmod(0o700)
    except OSError as err:
        raise _cannot_write(path, err.strerror or str(err)) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise _cannot_write(path, "permission denied")
    return path


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file, the rotated ones included, is created 0600 and
    opened without following a link (the standard handler opens with the umask's mode,
    typically 0644, and follows links)."""

    def _open(self) -> io.TextIOWrapper:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in self.mode else os.O_TRUNC)
        fd = open_private(Path(self.baseFilename), flags)
        # The flags above decide append or truncate; the file object only writes.
        return open(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)  # noqa: PTH123
