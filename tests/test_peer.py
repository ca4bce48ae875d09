"""Who is at the other end of the control socket, through the real CLI: a fake monitor of
another user (uid 65534) at the monitor's socket path is never told anything, and a real
`posture start` monitor drops a client of another user and serves on."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_posture
from tests.test_control import CLIENT, NOBODY, as_nobody, as_root, on_linux
from tests.test_monitor_process import calibrated_home, material  # noqa: F401 (a fixture)

pytestmark = [as_root, on_linux]

FAKE_MONITOR = """
import json, os, socket, sys
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(os.path.join(sys.argv[1], "monitor.sock"))
listener.listen(8)
print("listening", flush=True)
while True:
    conn, _ = listener.accept()
    conn.settimeout(5)
    got = b""
    try:
        while chunk := conn.recv(65536):
            got += chunk
            if b"\\n" in got:
                conn.sendall(b'{"ok": true, "paused_until": "resume"}\\n')
                break
    except OSError:
        pass
    conn.close()
    print("got", json.dumps(got.decode()), flush=True)
"""


@pytest.fixture
def fake_monitor(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, subprocess.Popen[str]]]:
    """A POSTURE_HOME whose run/monitor.sock is the socket of a process of uid 65534 that
    answers anything "ok" (bound in a folder of its own, then moved into place: the same
    socket)."""
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    scratch = Path(tempfile.mkdtemp(prefix="pst-nobody-", dir="/tmp"))
    os.chown(scratch, NOBODY, NOBODY)
    proc = as_nobody(FAKE_MONITOR, str(scratch))
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "listening\n"
        sock = home / "run" / "monitor.sock"
        (scratch / "monitor.sock").rename(sock)
        yield {"POSTURE_HOME": str(home)}, sock, proc
    finally:
        proc.kill()
        proc.wait()
        scratch.rmdir()


def heard(proc: subprocess.Popen[str]) -> list[str]:
    proc.kill()
    out, _ = proc.communicate(timeout=10)
    return [line for line in out.splitlines() if line.startswith("got")]


def test_a_socket_of_another_user_is_never_told_anything(
    fake_monitor: tuple[dict[str, str], Path, subprocess.Popen[str]],
) -> None:
    env, sock, proc = fake_monitor
    owned = (
        f"posture: error: the control socket {sock} belongs to uid {NOBODY}, not you "
        f"(uid 0): remove it (rm '{sock}'), or check who runs posture\n"
    )
    for command in (["status"], ["pause"], ["snooze", "10m"], ["stop"], ["start"]):
        result = run_posture(*command, env=env, timeout=60)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", owned), command
    assert heard(proc) == []  # not even connected to


def test_a_monitor_of_another_uid_behind_a_socket_file_of_ours_is_refused(
    fake_monitor: tuple[dict[str, str], Path, subprocess.Popen[str]],
) -> None:
    """Root can make the socket file look ours; the uid of the process that listens
    (SO_PEERCRED) still tells: `pause` does not report "paused", `stop` not "stopped"."""
    env, sock, proc = fake_monitor
    os.chown(sock, 0, 0)
    answered = (
        f"posture: error: the control socket {sock} is answered by uid {NOBODY}, not you "
        "(uid 0): posture talks only to your own monitor; check who runs posture\n"
    )
    for command in (["status"], ["pause"], ["stop"]):
        result = run_posture(*command, env=env, timeout=60)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", answered), command
    assert heard(proc) == ['got ""'] * 3  # connected to, told nothing


def test_a_real_monitor_drops_a_client_of_another_uid_and_serves_on(
    tmp_path: Path,
    material: dict[str, Path],  # noqa: F811
) -> None:
    env = calibrated_home(tmp_path, material)
    home = Path(env["POSTURE_HOME"])
    started = run_posture("start", "--source", str(material["clip"]), env=env)
    assert started.returncode == 0, started.stderr
    open_folder = Path(tempfile.mkdtemp(prefix="pst-open-", dir="/tmp"))
    door = open_folder / "door.sock"
    try:
        # Let uid 65534 reach the monitor's socket: a hard link in a folder it may enter,
        # the (shared) inode's mode opened.
        open_folder.chmod(0o711)
        os.link(home / "run" / "monitor.sock", door)
        door.chmod(0o666)
        for _ in range(2):
            client = as_nobody(CLIENT, str(door))
            out, err = client.communicate(timeout=30)
            assert (client.returncode, out) == (0, "b''\n"), err  # hung up on, unanswered
        door.chmod(0o600)
        status = run_posture("status", env=env)
        assert status.returncode == 0 and "running (pid" in status.stdout
        paused = run_posture("pause", env=env)
        assert paused.returncode == 0 and paused.stdout.startswith("paused")
    finally:
        run_posture("stop", env=env)
        door.unlink(missing_ok=True)
        open_folder.rmdir()
    log = (home / "log" / "posture.log").read_text()
    refused = [line for line in log.splitlines() if "refused a connection" in line]
    assert len(refused) == 1, refused  # once per uid, however often it tries
    assert refused[0].endswith(
        f"control: refused a connection from uid {NOBODY}: the monitor answers only its "
        "own user (uid 0)"
    )
