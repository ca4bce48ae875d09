"""The control channel over a Unix socket: `posture.ports.ControlTransport` for Linux and
macOS.

A Unix domain socket, `monitor.sock`, in the runtime folder (mode 0700); the socket itself
has mode 0600, so only the user who runs the monitor can talk to it. There is no TCP.
Both ends also check who is at the other one (`peer_uid`: `SO_PEERCRED` on Linux,
`LOCAL_PEERCRED` on macOS): the server drops a client of another uid, the client talks
only to a socket file it owns and a server of its own uid. Equal uids, root included: root
does not drive a user's monitor, nor a user root's (a fake socket of another user would
otherwise answer `pause` with "camera released" while the real monitor watched on).
What travels on it, one exchange per connection, is `posture.adapters.control.protocol`.

The server is a single thread that multiplexes its clients with `selectors`, so a client
that connects and says nothing only holds its own connection until `client_timeout`, and
a malformed, oversized or failing request costs only that request.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import selectors
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from posture.adapters.control.protocol import (
    MAX_REPLY,
    MAX_REQUEST,
    TOO_LARGE,
    answer,
    decode_reply,
    encode,
    encode_reply,
)
from posture.adapters.private import LinkRefused, ensure_private_dir
from posture.errors import ForeignSocket, PostureError
from posture.ports import ControlHandler, NotRunning

__all__ = [
    "ControlServer",
    "ForeignSocket",
    "NotRunning",
    "UnixTransport",
    "peer_uid",
    "request",
    "socket_path",
]

log = logging.getLogger(__name__)

SOCKET_NAME = "monitor.sock"
#: How long one client may take to send its request.
CLIENT_TIMEOUT = 2.0
#: At most this many clients are served at once; more are turned away.
MAX_CLIENTS = 32
#: How often the server thread serves again after a failure of its own before the channel
#: is declared dead (and the monitor told).
RESTARTS = 5


def socket_path(runtime_dir: Path) -> Path:
    """Where the monitor listens: `monitor.sock` in the runtime folder."""
    return runtime_dir / SOCKET_NAME


def _require_unix_sockets() -> None:
    if not hasattr(socket, "AF_UNIX"):
        raise PostureError("the control channel needs Unix sockets; Windows is not supported yet")


def _check_length(path: Path) -> None:
    # sun_path is 108 bytes on Linux, 104 on macOS and the BSDs (NUL included there).
    limit = 107 if sys.platform.startswith("linux") else 103
    size = len(os.fsencode(path))
    if size > limit:
        raise PostureError(
            f"the control socket path {path} is too long for a Unix socket "
            f"({size} bytes, at most {limit}): set POSTURE_HOME to a shorter folder"
        )


def _connect(path: Path, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(os.fspath(path))
    except BaseException:
        sock.close()
        raise
    return sock


class _CredSocket(Protocol):
    def getsockopt(self, level: int, optname: int, buflen: int, /) -> bytes: ...


#: Linux's `struct ucred`: pid, uid, gid.
_UCRED = struct.Struct("iII")
#: macOS's `struct xucred` (what `getpeereid` reads): cr_version, cr_uid, cr_ngroups,
#: cr_groups[16], natively aligned (76 bytes).
_XUCRED = struct.Struct("IIh16I")
_XUCRED_VERSION = 0
#: `SOL_LOCAL` on macOS, which Python does not name.
_SOL_LOCAL = 0


def peer_uid(sock: _CredSocket, platform: str | None = None) -> int | None:
    """The effective uid of the process at the other end of a connected Unix socket:
    `SO_PEERCRED` on Linux, `LOCAL_PEERCRED` on macOS; None on a platform with neither (the
    socket's mode 0600 in a 0700 folder still guards it there). `OSError` if the call
    fails."""
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux"):
        option = getattr(socket, "SO_PEERCRED", 17)
        raw = sock.getsockopt(socket.SOL_SOCKET, option, _UCRED.size)
        return int(_UCRED.unpack(raw[: _UCRED.size])[1])
    if platform == "darwin":
        option = getattr(socket, "LOCAL_PEERCRED", 1)
        raw = sock.getsockopt(_SOL_LOCAL, option, _XUCRED.size)
        if len(raw) < 8:
            raise OSError(errno.EINVAL, "LOCAL_PEERCRED returned too little")
        version, uid = struct.unpack_from("II", raw)
        if version != _XUCRED_VERSION:
            raise OSError(errno.EINVAL, f"LOCAL_PEERCRED returned xucred version {version}")
        return int(uid)
    return None


def _check_socket_file(path: Path) -> None:
    """Before connecting: the path must be a socket of ours. `NotRunning` when there is
    none (or a file that no monitor can listen on), `ForeignSocket` when another user
    owns what is there, `LinkRefused` for a link."""
    try:
        st = path.lstat()
    except (FileNotFoundError, NotADirectoryError) as err:
        raise NotRunning() from err
    except OSError as err:
        raise PostureError(f"cannot reach the posture monitor at {path}: {err.strerror}") from err
    me = os.geteuid()
    if st.st_uid != me:
        raise ForeignSocket(
            f"the control socket {path} belongs to uid {st.st_uid}, not you (uid {me}): "
            f"remove it (rm '{path}'), or check who runs posture"
        )
    if stat.S_ISLNK(st.st_mode):
        raise LinkRefused(path)
    if not stat.S_ISSOCK(st.st_mode):
        raise NotRunning()


def _check_peer(sock: socket.socket, path: Path) -> None:
    """After connecting: the process that listens must run as us."""
    me = os.geteuid()
    try:
        uid = peer_uid(sock)
    except OSError as err:
        raise PostureError(
            f"cannot tell who answers on {path} ({err.strerror or err}): not talking to it"
        ) from err
    if uid is not None and uid != me:
        raise ForeignSocket(
            f"the control socket {path} is answered by uid {uid}, not you (uid {me}): "
            "posture talks only to your own monitor; check who runs posture"
        )


def request(path: Path, message: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
    """Send `message` to the monitor listening on `path` and return its reply.

    Raises `NotRunning` when no monitor listens there (no socket, or a stale socket file
    left by a monitor that died), `PostureError` when the monitor does not answer within
    `timeout` seconds or answers something that is not one JSON object, `ForeignSocket`
    (before anything is sent) when the socket or the process listening on it is not ours.
    """
    _require_unix_sockets()
    _check_length(path)
    data = encode(message)
    deadline = time.monotonic() + timeout
    _check_socket_file(path)
    try:
        sock = _connect(path, timeout)
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as err:
        raise NotRunning() from err
    except PermissionError as err:
        raise PostureError(
            f"cannot reach the posture monitor at {path}: permission denied"
        ) from err
    except TimeoutError as err:
        raise PostureError(
            f"the posture monitor at {path} did not accept a connection within {timeout:g} s"
        ) from err
    except OSError as err:
        if err.errno in (errno.ENOTSOCK, errno.ECONNREFUSED, errno.ENOENT):
            raise NotRunning() from err
        raise PostureError(f"cannot reach the posture monitor at {path}: {err.strerror}") from err

    reply = bytearray()
    with sock:
        _check_peer(sock, path)
        try:
            sock.sendall(data)
            while b"\n" not in reply and len(reply) <= MAX_REPLY:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except TimeoutError as err:
            raise PostureError(
                f"the posture monitor did not answer within {timeout:g} s; "
                "it may be stuck: stop it and start it again"
            ) from err
        except (BrokenPipeError, ConnectionResetError) as err:
            raise PostureError(
                "the posture monitor closed the connection without an answer"
            ) from err
    return decode_reply(bytes(reply).split(b"\n", 1)[0])


@dataclass
class _Client:
    sock: socket.socket
    deadline: float
    buffer: bytearray = field(default_factory=bytearray)


class ControlServer:
    """Listens on a Unix socket and answers each request with `handler(request)`.

    Threading rule: the handler runs on the server's own thread; it must only read a
    snapshot or post a request to the monitor loop (the loop owns the camera). It is never
    called twice at once. It returns the reply (a JSON-serializable dict, by convention with
    `"ok"`); if it raises, the client gets `{"ok": false, "error": ...}` and the server goes
    on serving.
    """

    def __init__(
        self,
        path: Path,
        handler: ControlHandler,
        *,
        client_timeout: float = CLIENT_TIMEOUT,
        max_request: int = MAX_REQUEST,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.handler = handler
        self.on_failure = on_failure
        self.client_timeout = client_timeout
        self.max_request = max_request
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._inode: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._refused: set[int | None] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Bind the socket and serve on a daemon thread.

        A socket file left by a monitor that died is removed; if a monitor answers on the
        path, raises `PostureError`.
        """
        _require_unix_sockets()
        _check_length(self.path)
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("ControlServer.start() called twice")
            ensure_private_dir(self.path.parent)
            self._remove_stale()
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            bound = False
            try:
                # The socket is created 0600 (umask 0177), never briefly open to others.
                old_umask = os.umask(0o177)
                try:
                    listener.bind(os.fspath(self.path))
                finally:
                    os.umask(old_umask)
                bound = True
                self.path.chmod(0o600)
                st = self.path.stat()
                self._inode = (st.st_dev, st.st_ino)
                listener.listen(16)
                listener.setblocking(False)
            except OSError as err:
                listener.close()
                if bound:
                    with contextlib.suppress(OSError):
                        self.path.unlink()
                if err.errno == errno.EADDRINUSE:
                    raise self._already_listening() from err
                raise PostureError(
                    f"cannot listen on the control socket {self.path}: {err.strerror or err}"
                ) from err
            wake_r, self._wake_w = socket.socketpair()
            wake_r.setblocking(False)
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._serve,
                args=(listener, wake_r, self._wake_w, self._stop),
                name="posture-control",
                daemon=True,
            )
            self._thread.start()

    def close(self) -> None:
        """Stop serving and remove the socket file. Safe to call more than once, and from
        the handler itself (the reply in progress is still sent)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._stop.set()
            self._unlink_own()
            if self._wake_w is not None:
                with contextlib.suppress(OSError):
                    self._wake_w.send(b"x")
        if thread is not threading.current_thread():
            thread.join(timeout=5.0)
            if thread.is_alive():
                log.warning("control: the server thread did not stop (a handler is stuck)")

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------

    def _already_listening(self) -> PostureError:
        return PostureError(
            f"a monitor is already listening on {self.path}: "
            "check it with `posture status` or stop it with `posture stop`"
        )

    def _remove_stale(self) -> None:
        try:
            st = self.path.lstat()
        except FileNotFoundError:
            return
        if st.st_uid != os.geteuid():
            raise ForeignSocket(
                f"the control socket {self.path} belongs to uid {st.st_uid}, not you "
                f"(uid {os.geteuid()}): remove it (rm '{self.path}'), or check who runs posture"
            )
        if not stat.S_ISSOCK(st.st_mode):
            raise PostureError(f"{self.path} exists and is not a socket: remove it and start again")
        try:
            probe = _connect(self.path, 1.0)
        except ConnectionRefusedError:
            # Nobody listens: the socket file of a monitor that died. Replace it.
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        except FileNotFoundError:
            return
        except OSError as err:
            raise PostureError(
                f"cannot check the control socket {self.path}: {err.strerror or err}"
            ) from err
        probe.close()
        raise self._already_listening()

    def _unlink_own(self) -> None:
        """Remove the socket file, unless someone else's socket has replaced ours."""
        try:
            st = self.path.lstat()
        except FileNotFoundError:
            return
        if self._inode == (st.st_dev, st.st_ino):
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    # -- the server thread -----------------------------------------------------------------

    def _serve(
        self,
        listener: socket.socket,
        wake: socket.socket,
        wake_w: socket.socket,
        stop: threading.Event,
    ) -> None:
        clients: dict[int, _Client] = {}
        with selectors.DefaultSelector() as sel:
            sel.register(listener, selectors.EVENT_READ, None)
            sel.register(wake, selectors.EVENT_READ, None)
            failures = 0
            try:
                while not stop.is_set():
                    try:
                        self._serve_until(stop, listener, wake, sel, clients)
                    except Exception:
                        # A bug in the server's own code: serve again, a few times; then the
                        # channel is dead, and the monitor must not go on watching unseen.
                        failures += 1
                        log.exception("control: the server failed (%d of %d)", failures, RESTARTS)
                        for client in list(clients.values()):
                            self._drop(client, sel, clients)
                        if failures >= RESTARTS:
                            log.error(
                                "control: the channel keeps failing; the monitor stops rather "
                                "than watch with nobody able to pause or stop it"
                            )
                            if self.on_failure is not None:
                                self.on_failure()
                            break
            finally:
                for client in list(clients.values()):
                    self._drop(client, sel, clients)
        for sock in (listener, wake, wake_w):
            sock.close()

    def _serve_until(
        self,
        stop: threading.Event,
        listener: socket.socket,
        wake: socket.socket,
        sel: selectors.BaseSelector,
        clients: dict[int, _Client],
    ) -> None:
        while not stop.is_set():
            now = time.monotonic()
            timeout = min((c.deadline for c in clients.values()), default=now + 60.0)
            events = sel.select(max(0.0, timeout - now))
            for key, _ in events:
                if key.fileobj is wake:
                    continue
                if key.fileobj is listener:
                    self._accept(listener, sel, clients)
                else:
                    client = clients.get(key.fd)
                    if client is not None:
                        self._serve_one(client, sel, clients)
            now = time.monotonic()
            for client in [c for c in clients.values() if c.deadline <= now]:
                log.debug("control: a client said nothing in time; dropped")
                self._drop(client, sel, clients)

    def _accept(
        self, listener: socket.socket, sel: selectors.BaseSelector, clients: dict[int, _Client]
    ) -> None:
        for _ in range(16):
            try:
                conn, _addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                log.debug("control: accept failed: %s", err)
                return
            if len(clients) >= MAX_CLIENTS or not self._ours(conn):
                conn.close()
                continue
            conn.setblocking(False)
            client = _Client(conn, time.monotonic() + self.client_timeout)
            clients[conn.fileno()] = client
            sel.register(conn, selectors.EVENT_READ, None)

    def _ours(self, conn: socket.socket) -> bool:
        """Whether the client runs as the monitor's user; another's is refused, and said in
        the log once per uid (a client that keeps trying does not fill it)."""
        me = os.geteuid()
        try:
            uid = peer_uid(conn)
        except OSError as err:
            if None not in self._refused:
                self._refused.add(None)
                log.warning("control: refused a client whose uid cannot be read: %s", err)
            return False
        if uid is None or uid == me:
            return True
        if uid not in self._refused:
            self._refused.add(uid)
            log.warning(
                "control: refused a connection from uid %d: the monitor answers only its "
                "own user (uid %d)",
                uid,
                me,
            )
        return False

    def _drop(
        self, client: _Client, sel: selectors.BaseSelector, clients: dict[int, _Client]
    ) -> None:
        clients.pop(client.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(client.sock)
        client.sock.close()

    def _serve_one(
        self, client: _Client, sel: selectors.BaseSelector, clients: dict[int, _Client]
    ) -> None:
        """One client's turn; whatever goes wrong costs that client only, never the
        server thread (a dead thread would leave the camera watching, uncontrolled)."""
        try:
            self._read(client, sel, clients)
        except Exception:
            log.exception("control: a request failed; its client is dropped")
            self._drop(client, sel, clients)

    def _read(
        self, client: _Client, sel: selectors.BaseSelector, clients: dict[int, _Client]
    ) -> None:
        try:
            chunk = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(client, sel, clients)
            return
        client.buffer += chunk
        newline = client.buffer.find(b"\n")
        if (newline if newline >= 0 else len(client.buffer)) > self.max_request:
            self._reply(client, TOO_LARGE)
        elif newline >= 0:
            self._reply(client, answer(self.handler, bytes(client.buffer[:newline])))
        elif not chunk:  # the client closed its side: what it sent is the request
            if client.buffer.strip():
                self._reply(client, answer(self.handler, bytes(client.buffer)))
        else:
            return
        self._drop(client, sel, clients)

    def _reply(self, client: _Client, reply: dict[str, Any]) -> None:
        data = encode_reply(reply)
        try:
            client.sock.settimeout(self.client_timeout)
            client.sock.sendall(data)
        except OSError as err:
            log.debug("control: could not send a reply: %s", err)


class UnixTransport:
    """`posture.ports.ControlTransport` on the Unix socket at `path` (see `socket_path`).
    Threading rule: as the port's; `serve` starts the `ControlServer` thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._server: ControlServer | None = None

    def serve(self, handler: ControlHandler, on_failure: Callable[[], None]) -> None:
        server = ControlServer(self.path, handler, on_failure=on_failure)
        server.start()
        self._server = server

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    def request(self, message: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
        return request(self.path, message, timeout=timeout)
