"""Shared fixtures: the shared photographs, an in-repo photograph, a private POSTURE_HOME,
and a way to run the real `posture` command as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    raw = os.environ.get("POSTURE_DATA_DIR")
    path = Path(raw) if raw else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip(
            "shared photographs not found: set POSTURE_DATA_DIR or put them at ../shared/data"
        )
    return path


@pytest.fixture(scope="session")
def grace_hopper() -> Path:
    """matplotlib's public-domain sample photograph: a person, head and shoulders, front view."""
    cbook = pytest.importorskip("matplotlib.cbook")
    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture
def posture_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("POSTURE_HOME", str(home))
    return home


def run_posture(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m posture ARGS` in a real process, as a user runs it."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "posture", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def foreign_lines(stderr: str) -> list[str]:
    """The lines of a posture process's stderr that posture did not write itself: every
    line posture writes starts with "posture" (its errors, log lines and the demo's
    narration); anything else is a native library's (or a Python warning)."""
    return [line for line in stderr.splitlines() if line and not line.startswith("posture")]
