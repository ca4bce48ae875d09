"""The control channel: a real server and real clients on a Unix socket in a private folder."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from posture.adapters.control.unix import (
    ControlServer,
    ForeignSocket,
    NotRunning,
    peer_uid,
    request,
    socket_path,
)
from posture.errors import PostureError

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")


@pytest.fixture
def runtime() -> Iterator[Path]:
    # A short folder: a Unix socket path must fit in about 100 bytes, and pytest's
    # tmp_path can be longer than that (macOS especially).
    base = "/tmp" if Path("/tmp").is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix="pst-", dir=base))
    try:
        yield folder / "run"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def echo(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("cmd") == "boom":
        raise RuntimeError("kaboom")
    return {"ok": True, "echo": message}


@pytest.fixture
def server(runtime: Path) -> Iterator[ControlServer]:
    srv = ControlServer(socket_path(runtime), echo, client_timeout=0.3)
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


def raw_exchange(path: Path, data: bytes, *, timeout: float = 2.0) -> bytes:
    """Send raw bytes, then read until the server closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        reply = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                reply += chunk
        return reply


def test_socket_path(tmp_path: Path) -> None:
    assert socket_path(tmp_path) == tmp_path / "monitor.sock"


def test_round_trip(server: ControlServer) -> None:
    message = {"cmd": "status", "minutes": 5, "text": "é ü"}
    assert request(server.path, message, timeout=2) == {"ok": True, "echo": message}
    # one exchange per connection, many connections
    for i in range(5):
        assert request(server.path, {"n": i}, timeout=2)["echo"] == {"n": i}


def test_socket_and_folder_are_private(server: ControlServer) -> None:
    mode = server.path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(server.path.parent.stat().st_mode) == 0o700


def test_missing_socket_is_not_running(runtime: Path) -> None:
    with pytest.raises(NotRunning, match="no posture monitor is running"):
        request(socket_path(runtime), {"cmd": "status"}, timeout=1)
    runtime.mkdir()
    with pytest.raises(NotRunning):
        request(socket_path(runtime), {"cmd": "status"}, timeout=1)


def stale_socket(path: Path) -> None:
    """A socket file as a monitor that died leaves it: bound, closed, never unlinked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()
    assert path.exists()


def test_stale_socket_is_not_running(runtime: Path) -> None:
    path = socket_path(runtime)
    stale_socket(path)
    with pytest.raises(NotRunning):
        request(path, {"cmd": "status"}, timeout=1)


def test_server_replaces_a_stale_socket(runtime: Path) -> None:
    path = socket_path(runtime)
    stale_socket(path)
    with ControlServer(path, echo):
        assert request(path, {"cmd": "status"}, timeout=2)["ok"] is True


def test_not_running_is_a_posture_error() -> None:
    err = NotRunning()
    assert isinstance(err, PostureError)
    assert str(err) == "no posture monitor is running: start one with `posture start`"
    assert err.exit_code == 3


def test_handler_exception_replies_not_ok(server: ControlServer) -> None:
    reply = request(server.path, {"cmd": "boom"}, timeout=2)
    assert reply["ok"] is False
    assert "kaboom" in reply["error"]
    assert request(server.path, {"cmd": "status"}, timeout=2)["ok"] is True


def test_handler_posture_error_is_its_message(runtime: Path) -> None:
    def handler(message: dict[str, Any]) -> dict[str, Any]:
        raise PostureError("no camera")

    with ControlServer(socket_path(runtime), handler) as srv:
        assert request(srv.path, {}, timeout=2) == {"ok": False, "error": "no camera"}


def test_unserializable_reply(runtime: Path) -> None:
    with ControlServer(socket_path(runtime), lambda m: {"ok": True, "x": object()}) as srv:
        reply = request(srv.path, {}, timeout=2)
    assert reply["ok"] is False and "not JSON" in reply["error"]


def test_garbage_gets_an_error_and_the_server_lives(server: ControlServer) -> None:
    reply = json.loads(raw_exchange(server.path, b"this is not json\n"))
    assert reply == {"ok": False, "error": "invalid request: not JSON"}
    reply = json.loads(raw_exchange(server.path, b"[1, 2, 3]\n"))
    assert reply == {"ok": False, "error": "invalid request: not a JSON object"}
    reply = json.loads(raw_exchange(server.path, b"\xff\xfe\x00garbage\n"))
    assert reply["ok"] is False
    assert request(server.path, {"cmd": "status"}, timeout=2)["ok"] is True


def test_deeply_nested_json_is_refused_and_the_server_lives(server: ControlServer) -> None:
    """60 KB of brackets, under the size limit: json's parser runs out of stack
    (RecursionError, not ValueError); that request is refused, the next is answered."""
    nested = b"[" * 30_000 + b"]" * 30_000 + b"\n"
    assert len(nested) < 64 * 1024
    reply = json.loads(raw_exchange(server.path, nested))
    assert reply == {"ok": False, "error": "invalid request: nested too deeply"}
    assert request(server.path, {"cmd": "status"}) == {"ok": True, "echo": {"cmd": "status"}}


def test_a_failure_in_one_exchange_costs_only_that_client(runtime: Path) -> None:
    """Whatever escapes the handling of one request, the server thread goes on."""

    srv = ControlServer(socket_path(runtime), lambda message: {"ok": True}, client_timeout=0.3)
    srv.start()
    try:
        original = srv._read

        def exploding_read(*args: Any) -> None:
            if not getattr(exploding_read, "done", False):
                exploding_read.done = True  # type: ignore[attr-defined]
                raise MemoryError("a bug in the server's own code")
            original(*args)

        srv._read = exploding_read  # type: ignore[method-assign]
        with contextlib.suppress(OSError, PostureError):
            raw_exchange(srv.path, b'{"cmd": "status"}\n')
        assert request(srv.path, {"cmd": "status"}) == {"ok": True}
    finally:
        srv.close()


def test_a_failing_server_serves_again_then_gives_up_and_says_so(runtime: Path) -> None:
    """The server's own code failing (not one request's): it serves again; when it keeps
    failing, the channel is dead and `on_failure` is called (the monitor stops)."""
    gave_up = threading.Event()
    srv = ControlServer(socket_path(runtime), lambda message: {"ok": True}, on_failure=gave_up.set)
    srv.start()
    try:
        original = srv._accept
        failures = {"left": 1}

        def flaky_accept(*args: Any) -> None:
            if failures["left"] > 0:
                failures["left"] -= 1
                raise MemoryError("a bug in accept")
            original(*args)

        srv._accept = flaky_accept  # type: ignore[method-assign]
        with contextlib.suppress(OSError, PostureError):
            request(srv.path, {"cmd": "status"}, timeout=1)
        assert request(srv.path, {"cmd": "status"}, timeout=2) == {"ok": True}  # served again
        assert not gave_up.is_set()

        failures["left"] = 10**6  # now it always fails
        for _ in range(8):
            with contextlib.suppress(OSError, PostureError):
                request(srv.path, {"cmd": "status"}, timeout=0.5)
            if gave_up.is_set():
                break
        assert gave_up.wait(5)
    finally:
        srv.close()


def test_request_without_newline_then_eof(server: ControlServer) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        sock.connect(str(server.path))
        sock.sendall(b'{"cmd": "status"}')
        sock.shutdown(socket.SHUT_WR)
        reply = json.loads(sock.recv(65536))
    assert reply == {"ok": True, "echo": {"cmd": "status"}}


def test_connect_and_hang_up(server: ControlServer) -> None:
    for _ in range(3):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(server.path))
    assert request(server.path, {"cmd": "status"}, timeout=2)["ok"] is True


def test_oversize_request_is_refused(server: ControlServer) -> None:
    reply = raw_exchange(server.path, b'{"x": "' + b"a" * (200 * 1024) + b'"}\n')
    # The server answers and hangs up; the client may see the answer or a reset.
    if reply:
        assert json.loads(reply) == {"ok": False, "error": "request too large"}
    assert request(server.path, {"cmd": "status"}, timeout=2)["ok"] is True


def test_silent_client_does_not_block_others(server: ControlServer) -> None:
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        silent.connect(str(server.path))
        silent.settimeout(2)
        # Others are served while the silent client holds its connection.
        start = time.monotonic()
        assert request(server.path, {"cmd": "status"}, timeout=2)["ok"] is True
        assert time.monotonic() - start < 0.25
        # The server drops the silent client after its timeout (0.3 s here), unanswered.
        assert silent.recv(1024) == b""
    finally:
        silent.close()
    assert request(server.path, {"cmd": "status"}, timeout=2)["ok"] is True


def test_many_clients_at_once(server: ControlServer) -> None:
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def ask(i: int) -> None:
        reply = request(server.path, {"n": i}, timeout=5)
        with lock:
            results.append(reply)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["echo"]["n"] for r in results) == list(range(20))


def test_request_timeout(runtime: Path) -> None:
    release = threading.Event()

    def slow(message: dict[str, Any]) -> dict[str, Any]:
        release.wait(2)
        return {"ok": True}

    with ControlServer(socket_path(runtime), slow) as srv:
        try:
            with pytest.raises(PostureError, match=r"did not answer within 0\.2 s"):
                request(srv.path, {}, timeout=0.2)
        finally:
            release.set()


def fake_server(path: Path, reply: bytes) -> threading.Thread:
    """A one-shot listener that answers `reply` whatever it is asked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"not json\n", "malformed reply"),
        (b"[1]\n", "malformed reply"),
        (b"", "without an answer"),
    ],
)
def test_malformed_reply(runtime: Path, reply: bytes, message: str) -> None:
    path = socket_path(runtime)
    thread = fake_server(path, reply)
    with pytest.raises(PostureError, match=message) as info:
        request(path, {"cmd": "status"}, timeout=2)
    assert not isinstance(info.value, NotRunning)
    thread.join(2)


def test_close_removes_the_socket_and_is_idempotent(runtime: Path) -> None:
    srv = ControlServer(socket_path(runtime), echo)
    srv.start()
    assert srv.path.exists()
    srv.close()
    assert not srv.path.exists()
    srv.close()
    with pytest.raises(NotRunning):
        request(srv.path, {}, timeout=1)


def test_close_before_start_is_harmless(runtime: Path) -> None:
    ControlServer(socket_path(runtime), echo).close()


def test_close_from_the_handler_still_replies(runtime: Path) -> None:
    holder: list[ControlServer] = []

    def stop(message: dict[str, Any]) -> dict[str, Any]:
        holder[0].close()
        return {"ok": True, "stopping": True}

    srv = ControlServer(socket_path(runtime), stop)
    holder.append(srv)
    srv.start()
    assert request(srv.path, {"cmd": "stop"}, timeout=2) == {"ok": True, "stopping": True}
    assert not srv.path.exists()
    srv.close()


def test_second_server_on_the_same_path_refuses(server: ControlServer) -> None:
    second = ControlServer(server.path, echo)
    with pytest.raises(PostureError, match="a monitor is already listening on"):
        second.start()
    second.close()
    # The first is untouched: its socket is still there and answers.
    assert request(server.path, {"cmd": "status"}, timeout=2)["ok"] is True


def test_a_regular_file_in_the_way_is_not_removed(runtime: Path) -> None:
    path = socket_path(runtime)
    runtime.mkdir()
    path.write_text("keep me")
    with pytest.raises(PostureError, match="not a socket"):
        ControlServer(path, echo).start()
    assert path.read_text() == "keep me"


def test_restart_after_close(runtime: Path) -> None:
    srv = ControlServer(socket_path(runtime), echo)
    srv.start()
    srv.close()
    srv.start()
    try:
        assert request(srv.path, {}, timeout=2)["ok"] is True
    finally:
        srv.close()


def test_path_too_long(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 120) / "monitor.sock"
    with pytest.raises(PostureError, match="too long"):
        request(path, {}, timeout=1)
    with pytest.raises(PostureError, match="too long"):
        ControlServer(path, echo).start()


def test_windows_is_refused(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(socket, "AF_UNIX")
    with pytest.raises(PostureError, match="needs Unix sockets"):
        request(socket_path(runtime), {})
    with pytest.raises(PostureError, match="needs Unix sockets"):
        ControlServer(socket_path(runtime), echo).start()


# --- who is at the other end: the socket's owner and the peer's uid ----------------------

NOBODY = 65534
as_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to act as a second user (uid 65534)",
)
on_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_PEERCRED")


def as_nobody(script: str, *args: str, timeout: float = 20) -> subprocess.Popen[str]:
    """`python -c SCRIPT ARGS` as uid/gid 65534 with no groups: another user."""
    return subprocess.Popen(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            sys.executable,
            "-c",
            script,
            *args,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@on_linux
def test_the_peer_uid_on_linux_is_the_process_s() -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        assert peer_uid(a) == os.geteuid()
        assert peer_uid(b, platform="linux") == os.geteuid()


class FakeMacSocket:
    """A macOS socket as `getsockopt(SOL_LOCAL, LOCAL_PEERCRED, ...)` answers it."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.asked: list[tuple[int, int, int]] = []

    def getsockopt(self, level: int, optname: int, buflen: int, /) -> bytes:
        self.asked.append((level, optname, buflen))
        return self.raw


def test_the_peer_uid_on_macos_is_read_from_xucred() -> None:
    groups = [20, 12, 61] + [0] * 13
    fake = FakeMacSocket(struct.pack("IIh16I", 0, 501, 3, *groups))
    assert peer_uid(fake, platform="darwin") == 501
    assert fake.asked == [(0, 1, 76)]  # SOL_LOCAL, LOCAL_PEERCRED, sizeof(struct xucred)
    with pytest.raises(OSError, match="xucred version 7"):
        peer_uid(FakeMacSocket(struct.pack("IIh16I", 7, 501, 0, *[0] * 16)), platform="darwin")
    with pytest.raises(OSError, match="too little"):
        peer_uid(FakeMacSocket(b"\0\0"), platform="darwin")
    nowhere = FakeMacSocket(b"")
    assert peer_uid(nowhere, platform="sunos5") is None and nowhere.asked == []


@as_root
def test_a_socket_file_of_another_user_is_refused_before_connecting(runtime: Path) -> None:
    asked: list[dict[str, Any]] = []

    def handler(message: dict[str, Any]) -> dict[str, Any]:
        asked.append(message)
        return {"ok": True}

    with ControlServer(socket_path(runtime), handler) as srv:
        os.chown(srv.path, NOBODY, NOBODY)
        with pytest.raises(ForeignSocket) as info:
            request(srv.path, {"cmd": "stop"}, timeout=2)
        assert str(info.value) == (
            f"the control socket {srv.path} belongs to uid {NOBODY}, not you (uid 0): "
            f"remove it (rm '{srv.path}'), or check who runs posture"
        )
        assert asked == []
        # A link of ours to a socket is refused as well (it could lead anywhere).
        os.chown(srv.path, 0, 0)
        link = runtime / "link.sock"
        link.symlink_to(srv.path)
        with pytest.raises(PostureError, match="is a symbolic link"):
            request(link, {"cmd": "stop"}, timeout=2)
        assert asked == []


FAKE_MONITOR = """
import json, os, socket, sys
folder = sys.argv[1]
path = os.path.join(folder, "monitor.sock")
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path)
listener.listen(4)
print("listening", flush=True)
listener.settimeout(15)
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
print("got", json.dumps(got.decode()), flush=True)
"""


def fake_monitor_of_nobody(place: Path) -> tuple[subprocess.Popen[str], Path]:
    """A process of uid 65534 listening like a monitor that answers anything "ok", its
    socket moved to `place` (the same inode: whoever connects there reaches it)."""
    scratch = Path(tempfile.mkdtemp(prefix="pst-nobody-", dir="/tmp"))
    os.chown(scratch, NOBODY, NOBODY)
    proc = as_nobody(FAKE_MONITOR, str(scratch))
    assert proc.stdout is not None and proc.stdout.readline() == "listening\n", proc.stderr
    place.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    (scratch / "monitor.sock").rename(place)
    scratch.rmdir()
    return proc, place


@as_root
@on_linux
def test_a_server_of_another_uid_is_refused_and_told_nothing(runtime: Path) -> None:
    """Its socket file made ours (root can chown it): the peer's uid still gives it away."""
    proc, path = fake_monitor_of_nobody(socket_path(runtime))
    try:
        os.chown(path, 0, 0)
        with pytest.raises(ForeignSocket) as info:
            request(path, {"cmd": "pause", "seconds": None}, timeout=2)
        assert str(info.value) == (
            f"the control socket {path} is answered by uid {NOBODY}, not you (uid 0): "
            "posture talks only to your own monitor; check who runs posture"
        )
        out, err = proc.communicate(timeout=10)
        assert out == 'got ""\n', err  # it heard nothing, not even the command
    finally:
        proc.kill()
        proc.wait()


CLIENT = """
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(5)
sock.connect(sys.argv[1])
try:
    sock.sendall(b'{"cmd": "stop"}\\n')
    reply = sock.recv(65536)
except OSError:  # the server hung up first (a reset, a broken pipe)
    reply = b""
print(repr(reply))
"""


@as_root
@on_linux
def test_a_client_of_another_uid_is_dropped_logged_once_and_the_server_serves_on(
    runtime: Path,
) -> None:
    asked: list[dict[str, Any]] = []

    def handler(message: dict[str, Any]) -> dict[str, Any]:
        asked.append(message)
        return {"ok": True}

    records = Records()
    logger = logging.getLogger("posture.adapters.control.unix")
    logger.addHandler(records)
    open_folder = Path(tempfile.mkdtemp(prefix="pst-open-", dir="/tmp"))
    try:
        with ControlServer(socket_path(runtime), handler) as srv:
            # Let uid 65534 reach the socket: a hard link in a folder it can enter, and
            # the mode opened (the same inode: the server's socket).
            open_folder.chmod(0o711)
            door = open_folder / "door.sock"
            os.link(srv.path, door)
            door.chmod(0o666)
            for _ in range(3):
                client = as_nobody(CLIENT, str(door))
                out, err = client.communicate(timeout=20)
                assert client.returncode == 0, err
                assert out == "b''\n"  # hung up on, unanswered
            assert asked == []
            assert [m for m in records.messages if "refused" in m] == [
                f"control: refused a connection from uid {NOBODY}: the monitor answers only "
                "its own user (uid 0)"
            ]
            srv.path.chmod(0o600)
            assert request(srv.path, {"cmd": "status"}, timeout=2) == {"ok": True}
            assert asked == [{"cmd": "status"}]
    finally:
        logger.removeHandler(records)
        shutil.rmtree(open_folder, ignore_errors=True)
