"""Running the monitor as a process: one per user (a lock), signals that stop it cleanly,
a detached start, and a stop that waits for the flush.

The pieces (camera or recording, pose model, notifier, history, control transport, the
lock and the log) come from `posture.app.compose`; this module only runs them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from posture.app import compose
from posture.app.compose import RunOptions
from posture.core.durations import checked_seconds
from posture.errors import ForeignSocket, PostureError
from posture.ports import NotRunning

if TYPE_CHECKING:
    from posture.app.monitor.live import Summary
    from posture.app.monitor.loop import Monitor
    from posture.config import Config
    from posture.ports import ControlHandler, ControlTransport

__all__ = ["RunOptions", "run_monitor", "start_detached", "stop_monitor"]

log = logging.getLogger("posture")


def _seconds(value: object) -> float:
    """A request's duration, checked before anything is applied (a bad one is refused)."""
    try:
        return checked_seconds(value)
    except ValueError as err:
        raise PostureError(f"invalid request: {err}") from None


def _handler(monitor: Monitor) -> ControlHandler:
    """The control requests (`posture.adapters.control.protocol`), answered from the
    transport's thread: a snapshot, or a request the loop applies."""

    def handle(message: dict[str, Any]) -> dict[str, Any]:
        cmd = message.get("cmd")
        if cmd == "status":
            status = dataclasses.replace(monitor.status(), pid=os.getpid())
            return {"ok": True, **status.to_json()}
        if cmd == "pause":
            seconds = message.get("seconds")
            until = monitor.pause(None if seconds is None else _seconds(seconds))
            return {"ok": True, "paused_until": until}
        if cmd == "resume":
            keep_snooze = message.get("keep_snooze", False)
            if not isinstance(keep_snooze, bool):
                raise PostureError("invalid request: keep_snooze must be true or false")
            monitor.resume(keep_snooze=keep_snooze)
            return {"ok": True}
        if cmd == "snooze":
            return {"ok": True, "snoozed_until": monitor.snooze(_seconds(message.get("seconds")))}
        if cmd == "stop":
            monitor.request_stop()
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    return handle


def run_monitor(
    config: Config, options: RunOptions, *, to_stderr: bool, home: Path | None = None
) -> Summary:
    """The monitor on this thread until stopped (a signal, `posture stop`) or, for a
    recording, until its end. Returns the session's summary. `home`: keep every file under
    that folder instead of the user's folders (the demo)."""
    places = compose.monitor_places(home)
    lock = compose.monitor_lock(places)
    lock.acquire()
    try:
        log_file = compose.setup_logging(places.log, to_stderr=to_stderr, verbose=options.verbose)
        parts = compose.build_monitor(config, options, places)
        monitor = parts.monitor

        def on_signal(signum: int, frame: FrameType | None) -> None:
            monitor.request_stop()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            parts.transport.serve(_handler(monitor), on_failure=monitor.request_stop)
            if os.environ.pop(DETACHED, None):
                _let_go_of_stderr()
            feed = monitor.feed
            log.info(
                "monitoring %s with profile '%s' (pid %d, log %s, notifications via %s)",
                f"camera {feed.name}" if feed.kind == "camera" else feed.name,
                monitor.profile.name,
                os.getpid(),
                log_file,
                monitor.notifier.name,
            )
            summary = monitor.run()
        finally:
            parts.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if not to_stderr:  # in the foreground the caller prints it
            log.info("%s", summary.text())
        return summary
    finally:
        lock.release()


#: In the environment of the monitor `start` launches: its stderr is a pipe `start` reads
#: until the monitor answers, so a start-up failure is told in the terminal; once serving,
#: the monitor lets go of the pipe (`_let_go_of_stderr`).
DETACHED = "POSTURE_DETACHED"
#: What `start` keeps of the monitor's stderr: its last words are the reason.
_KEPT = 16 * 1024


def start_detached(args: list[str], *, wait: float = 30.0) -> int:
    """Start `posture run ARGS` as a detached process; return its pid once it answers.

    Raises `AlreadyRunning` when a monitor runs, including one another `start` launched
    at the same moment (its pid, not our child's); `PostureError` with the child's own
    one-line reason when it fails before it answers."""
    places = compose.monitor_places()
    compose.ensure_not_running(places)
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "posture", "run", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=write_fd,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, DETACHED: "1"},
        )
    except OSError as err:
        os.close(read_fd)
        raise PostureError(
            f"cannot start the monitor with {sys.executable}: {err.strerror or err}"
        ) from None
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    try:
        return _await_start(proc, read_fd, places, wait)
    finally:
        os.close(read_fd)


def _await_start(
    proc: subprocess.Popen[bytes], errors: int, places: compose.MonitorPlaces, wait: float
) -> int:
    """Read the child's stderr and ask for the status until a monitor answers or the child
    has exited and said all it had to say."""
    transport = compose.control_transport(places)
    said = b""
    open_ = True  # until the child lets go of the pipe (or exits)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        exited = proc.poll() is not None
        if open_:
            chunk, open_ = _read_available(errors, 0.0 if exited else 0.1)
            said = (said + chunk)[-_KEPT:]
        else:
            time.sleep(0.1)
        pid = _answering_pid(transport)
        if pid == proc.pid:
            return pid
        if pid is not None:  # another `start`'s monitor won the lock
            raise _already_running(places, pid)
        if exited:
            if compose.is_running(places):  # the winner of the lock, still starting up
                time.sleep(0.1)
                continue
            raise PostureError(
                f"the monitor did not start: {_reason(said, proc.returncode, places)}"
            )
    proc.terminate()
    raise PostureError(f"the monitor did not answer within {wait:.0f} s: see {places.log_file}")


def _read_available(fd: int, timeout: float) -> tuple[bytes, bool]:
    """What the pipe holds now (waiting up to `timeout` for the first of it), and whether
    it is still open at the other end."""
    data = b""
    while select.select([fd], [], [], timeout)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            return data, False
        data += chunk
        timeout = 0.0
    return data, True


def _answering_pid(transport: ControlTransport) -> int | None:
    """The pid of the monitor that answers on the control channel, None if none does."""
    try:
        reply = transport.request({"cmd": "status"}, timeout=1.0)
    except ForeignSocket:
        raise
    except PostureError:  # nobody there yet, or not answering yet
        return None
    pid = reply.get("pid")
    return pid if reply.get("ok") and isinstance(pid, int) else None


def _already_running(places: compose.MonitorPlaces, pid: int) -> PostureError:
    try:
        compose.ensure_not_running(places)
    except PostureError as err:  # `AlreadyRunning`, with the pid in the lock
        return err
    return PostureError(f"a posture monitor is already running (pid {pid})", exit_code=1)


def _reason(said: bytes, code: int | None, places: compose.MonitorPlaces) -> str:
    """The child's one-line error (a native library's line may follow it), else its last
    line on stderr (a traceback's), else its exit status and the log's last line."""
    lines = [line.strip() for line in said.decode("utf-8", "replace").splitlines()]
    prefix = "posture: error: "
    ours = [line for line in lines if line.startswith(prefix)]
    last = ours[-1] if ours else next((line for line in reversed(lines) if line), "")
    if last:
        return last.removeprefix(prefix)
    return f"it exited with status {code}: see {places.log_file}{_last_log_line(places.log_file)}"


def _let_go_of_stderr() -> None:
    """In the monitor `start` launched, once it serves: stderr (the pipe `start` read)
    becomes /dev/null, so nothing writes to a pipe nobody reads, and `start` sees its end.
    Both the descriptor 2 and Python's `sys.stderr`, which may be a copy of it."""
    fds = {2}
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
        fds.add(sys.stderr.fileno())
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _last_log_line(file: Path) -> str:
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" (last line: {lines[-1]})" if lines else ""


def stop_monitor(*, wait: float = 15.0) -> int | None:
    """Ask the running monitor to stop and wait until it has flushed and exited."""
    places = compose.monitor_places()
    pid = compose.recorded_pid(places)
    try:
        compose.control_transport(places).request({"cmd": "stop"})
    except NotRunning:
        if not compose.is_running(places):
            raise
        if pid:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while compose.is_running(places):
        if time.monotonic() > deadline:
            if pid:
                os.kill(pid, signal.SIGTERM)
            raise PostureError(
                f"the monitor (pid {pid}) did not stop within {wait:.0f} s; sent it SIGTERM"
            )
        time.sleep(0.05)
    return pid
