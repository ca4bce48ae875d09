"""`posture start` as a user runs it: two at the same moment, a start-up that fails for a
reason only the monitor sees, folders it cannot use. Real `posture start` processes; the
monitor's own failures come back through the pipe `start` reads until it answers."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_posture
from tests.test_monitor_process import calibrated_home, material  # noqa: F401 (a fixture)

NOBODY = 65534
as_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to act as a second user (uid 65534)",
)


def monitors_of(home: Path) -> list[int]:
    """The pids of the `posture run` processes whose POSTURE_HOME is `home`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"run" in cmdline and f"POSTURE_HOME={home}".encode() in environ:
            found.append(int(entry.name))
    return found


def open_files(pid: int) -> list[str]:
    """What the descriptors of process `pid` lead to (those that stay while read)."""
    links = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):
            links.append(str(fd.readlink()))
    return links


@pytest.fixture
def home_env(tmp_path: Path, material: dict[str, Path]) -> Iterator[dict[str, str]]:  # noqa: F811
    env = calibrated_home(tmp_path, material)
    try:
        yield env
    finally:
        run_posture("stop", env=env)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="counts monitors in /proc")
def test_two_starts_at_the_same_moment_make_one_monitor_and_say_so(
    home_env: dict[str, str],
    material: dict[str, Path],  # noqa: F811
) -> None:
    env = dict(os.environ, **home_env)
    command = [sys.executable, "-m", "posture", "start", "--source", str(material["clip"])]
    both = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [(p.communicate(timeout=120), p.returncode) for p in both]
    started = [out for (out, _), code in results if code == 0]
    refused = [err for (_, err), code in results if code != 0]
    assert len(started) == 1 and len(refused) == 1, results
    pid = int(started[0].split("(pid ")[1].split(")")[0])
    assert started[0] == (
        f"posture monitor started (pid {pid}); `posture status` shows what it sees\n"
    )
    assert refused[0] == (
        f"posture: error: a posture monitor is already running (pid {pid}): "
        "`posture status` shows it, `posture stop` ends it\n"
    )
    assert [code for _, code in results if code != 0] == [1]
    home = Path(home_env["POSTURE_HOME"])
    deadline = time.monotonic() + 10
    while monitors_of(home) != [pid] and time.monotonic() < deadline:
        time.sleep(0.1)  # the losing child is on its way out
    assert monitors_of(home) == [pid]

    # Serving, the monitor let go of the pipe `start` read: every pipe it holds has both
    # ends in it (the native-log filter's), none leads to a reader that has gone.
    def one_ended() -> list[str]:
        pipes = Counter(link for link in open_files(pid) if link.startswith("pipe:"))
        return [pipe for pipe, ends in pipes.items() if ends != 2]

    deadline = time.monotonic() + 5
    while one_ended() and time.monotonic() < deadline:
        time.sleep(0.1)  # the native-log filter may be settling in
    assert one_ended() == [], open_files(pid)
    status = run_posture("status", env=home_env)
    assert status.returncode == 0 and f"running (pid {pid})" in status.stdout


def test_a_start_up_failure_only_the_monitor_sees_is_told_in_one_line(tmp_path: Path) -> None:
    """No calibration: `start` itself does not load the profile, the monitor does, and its
    stderr used to be /dev/null ("see the log", which did not say why)."""
    env = {"POSTURE_HOME": str(tmp_path / "home")}
    result = run_posture("start", env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr == (
        "posture: error: the monitor did not start: no calibration found for profile "
        "'default': run `posture calibrate`\n"
    )
    assert monitors_of(tmp_path / "home") == []


def test_a_file_as_posture_home_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder\n")
    for command in (["start"], ["status"], ["run"], ["stop"]):
        result = run_posture(*command, env={"POSTURE_HOME": str(home)}, timeout=60)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"posture: error: {home} is not a folder, and posture keeps its files in one: "
            "move the file away, or set POSTURE_HOME to a folder\n"
        )
    assert home.read_text() == "not a folder\n"


@pytest.fixture
def read_only_home() -> Iterator[Path]:
    """A read-only tmpfs (root ignores mode bits; a read-only mount it does not)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a read-only tmpfs needs root")
    base = Path(tempfile.mkdtemp(prefix="pst-ro-", dir="/tmp"))
    home = base / "home"
    home.mkdir(mode=0o700)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,mode=0700,size=1m", "tmpfs", str(home)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield home
    finally:
        subprocess.run(["umount", str(home)], check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_a_read_only_posture_home_is_one_line(read_only_home: Path) -> None:
    env = {"POSTURE_HOME": str(read_only_home)}
    reason = (
        f"posture cannot write in {read_only_home} (a read-only file system): make it "
        "writable, or set POSTURE_HOME to a folder you can write in\n"
    )
    started = run_posture("start", env=env, timeout=60)
    assert started.returncode == 2
    assert started.stderr == f"posture: error: the monitor did not start: {reason}"
    ran = run_posture("run", env=env, timeout=60)
    assert ran.returncode == 2 and ran.stderr == f"posture: error: {reason}"
    # Folders that exist, on a file system made read-only since: the same line.
    subprocess.run(["umount", str(read_only_home)], check=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "mode=0700,size=1m", "tmpfs", str(read_only_home)],
        check=True,
    )
    for name in ("run", "log", "data", "config"):
        (read_only_home / name).mkdir(mode=0o700)
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_home)], check=True)
    again = run_posture("start", env=env, timeout=60)
    assert again.returncode == 2
    assert again.stderr == (
        f"posture: error: the monitor did not start: posture cannot write in "
        f"{read_only_home / 'run'} (a read-only file system): make it writable, or set "
        "POSTURE_HOME to a folder you can write in\n"
    )


@pytest.fixture
def full_home() -> Iterator[Path]:
    """A POSTURE_HOME on a small tmpfs filled to the last byte."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    base = Path(tempfile.mkdtemp(prefix="pst-full-", dir="/tmp"))
    home = base / "home"
    home.mkdir(mode=0o700)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "mode=0700,size=64k", "tmpfs", str(home)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        with contextlib.suppress(OSError), (home / "filler").open("wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        yield home
    finally:
        subprocess.run(["umount", str(home)], check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_a_full_disk_is_told_by_start_in_one_line(full_home: Path) -> None:
    """The monitor's first write (its pid in the lock) fails: before, `start` said "see
    the log", a log that could not be written, and `run` showed a traceback."""
    env = {"POSTURE_HOME": str(full_home)}
    reason = (
        f"cannot write {full_home / 'run' / 'monitor.lock'} (No space left on device): make "
        "room there, or set POSTURE_HOME to another folder\n"
    )
    started = run_posture("start", env=env, timeout=60)
    assert (started.returncode, started.stderr) == (
        2,
        f"posture: error: the monitor did not start: {reason}",
    )
    ran = run_posture("run", env=env, timeout=60)
    assert (ran.returncode, ran.stderr) == (2, f"posture: error: {reason}")


@as_root
@pytest.mark.parametrize("folder", ["run", "log", "data"])
def test_a_subfolder_of_another_user_is_one_line(tmp_path: Path, folder: str) -> None:
    home = tmp_path / "home"
    (home / folder).mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    os.chown(home / folder, NOBODY, NOBODY)
    result = run_posture("start", env={"POSTURE_HOME": str(home)}, timeout=60)
    assert result.returncode == 2
    assert result.stderr == (
        f"posture: error: {home / folder} belongs to another user (uid {NOBODY}): posture "
        "keeps its files only in folders of yours; set POSTURE_HOME to a folder of your own\n"
    )


@as_root
def test_a_home_in_a_folder_the_user_cannot_write_is_one_line(tmp_path: Path) -> None:
    """As a second user (uid 65534), POSTURE_HOME not yet made, in a folder of root's:
    `mkdir` is refused (the raw `PermissionError` traceback before). `run`, as this
    user's Python here cannot start another (the interpreter's link leads into /root)."""
    parent = Path(tempfile.mkdtemp(prefix="pst-root-", dir="/tmp"))
    try:
        parent.chmod(0o755)
        home = parent / "home"
        result = subprocess.run(
            [
                "setpriv",
                f"--reuid={NOBODY}",
                f"--regid={NOBODY}",
                "--clear-groups",
                sys.executable,
                "-m",
                "posture",
                "run",
            ],
            env=dict(os.environ, POSTURE_HOME=str(home)),
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"posture: error: posture cannot write in {parent} (Permission denied): make it "
            "writable, or set POSTURE_HOME to a folder you can write in\n"
        )
        assert not home.exists()
    finally:
        shutil.rmtree(parent, ignore_errors=True)
