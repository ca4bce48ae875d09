"""Where posture keeps its files: platformdirs folders, or all under `POSTURE_HOME`.

`POSTURE_HOME` sends config, data, logs and the runtime folder to one place, so tests,
demos and a second setup never touch the user's own files. Folders are created with
mode 0700: profiles and history describe the user's body and habits.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from posture.adapters.private import check_trusted_dir

APP = "posture"


@dataclass(frozen=True)
class Folders:
    config: Path
    data: Path
    log: Path
    runtime: Path

    @property
    def config_file(self) -> Path:
        return self.config / "config.toml"


def folders(env: dict[str, str] | None = None) -> Folders:
    """The folders for this user; nothing is created here. Each that exists (and
    POSTURE_HOME itself) must be the user's and not writable by others, else
    `UntrustedFolder` says which and how to fix it."""
    env = dict(os.environ) if env is None else env
    home = env.get("POSTURE_HOME")
    if home:
        root = Path(home).expanduser()
        found = Folders(root / "config", root / "data", root / "log", root / "run")
        for folder in (root, found.config, found.data, found.log, found.runtime):
            check_trusted_dir(folder)
        return found
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP, appauthor=False)
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR platformdirs warns and falls back to a private /tmp
        # folder; that fallback is what we want, the warning is noise for the user.
        warnings.simplefilter("ignore")
        runtime = Path(dirs.user_runtime_dir)
    found = Folders(
        Path(dirs.user_config_dir), Path(dirs.user_data_dir), Path(dirs.user_log_dir), runtime
    )
    for folder in (found.config, found.data, found.log, found.runtime):
        check_trusted_dir(folder)
    return found
