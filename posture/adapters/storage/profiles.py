"""Calibrated profiles on disk: one readable JSON file per name, private, never lost.

`<data>/profiles/NAME.json`, mode 0600, written atomically (a crash mid-write leaves the
old file, not half a new one). A recalibration keeps the previous file in
`profiles/history/` rather than overwriting it: every verdict was measured against it.
Nothing here ever rewrites a file it could not read; a damaged one is reported with its
path and left for the user to look at.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from posture.adapters.private import ensure_private_dir, open_private
from posture.core.profile import Profile, ProfileError, check_name, parse

#: The largest profile file read: a calibration writes about 2 KB.
MAX_BYTES = 1024 * 1024


def profile_path(data_dir: Path, name: str) -> Path:
    return data_dir / "profiles" / f"{check_name(name)}.json"


def _calibrate_hint(name: str) -> str:
    return "posture calibrate" if name == "default" else f"posture calibrate --profile {name}"


def _damaged(path: Path, name: str, reason: str) -> ProfileError:
    return ProfileError(
        f"profile {path} is damaged ({reason}); it was left as it is: run "
        f"`{_calibrate_hint(name)}` to make a new one"
    )


def _read(path: Path, name: str) -> bytes:
    """The bytes of the profile file: never through a link, never blocking on a FIFO or
    a device (opened non-blocking, then refused unless a regular file), at most
    `MAX_BYTES` (a calibration writes a few kilobytes)."""
    fd = open_private(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ProfileError(
                f"profile {path} is not a regular file; it was left as it is: remove it "
                f"and run `{_calibrate_hint(name)}`"
            )
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _damaged(path, name, f"larger than {MAX_BYTES // 1024} KB")
    return data


def load(data_dir: Path, name: str = "default") -> Profile:
    path = profile_path(data_dir, name)
    if not path.exists() and not path.is_symlink():
        raise ProfileError(
            f"no calibration found for profile '{name}': run `{_calibrate_hint(name)}`"
        )
    try:
        return parse(_read(path, name).decode("utf-8"), name)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise ProfileError(f"cannot read profile {path}: {reason}") from exc
    except UnicodeDecodeError as exc:
        raise _damaged(path, name, "not UTF-8 text") from exc
    except (ValueError, KeyError, TypeError) as exc:
        reason = f"missing {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise _damaged(path, name, reason[:200]) from exc


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def save(data_dir: Path, profile: Profile, *, now: datetime | None = None) -> Path:
    """Write `profile` atomically, mode 0600. An existing profile of that name is kept as
    a copy in profiles/history/ before the new one replaces it."""
    path = profile_path(data_dir, profile.name)
    folder = ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{profile.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(profile.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).chmod(0o600)
        if _is_regular(path):  # a link or a FIFO planted there is replaced, not kept
            stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
            history = ensure_private_dir(folder / "history")
            keep = history / f"{profile.name}-{stamp}.json"
            counter = 1
            while keep.exists():
                keep = history / f"{profile.name}-{stamp}-{counter}.json"
                counter += 1
            shutil.copy2(path, keep)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class ProfileFiles:
    """The profiles of one data folder, as the use cases see them (`ProfileStore`)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def load(self, name: str) -> Profile:
        return load(self.data_dir, name)

    def save(self, profile: Profile) -> Path:
        return save(self.data_dir, profile)

    def path(self, name: str) -> Path:
        return profile_path(self.data_dir, name)
