"""Private files and folders, shared by every adapter that writes the user's data: folders
0700, files 0600. (Profiles and history describe the user's body and habits.)"""

from __future__ import annotations

import os
from pathlib import Path


def ensure_private_dir(path: Path) -> Path:
    """Create `path`, and every missing folder above it, readable by the user only;
    tighten `path` if it exists. (`mkdir(parents=True)` would give the parents the
    umask's mode, typically 0755.)"""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    if os.name == "posix" and (path.stat().st_mode & 0o077):
        path.chmod(0o700)
    return path
