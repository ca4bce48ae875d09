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
from posture.errors import PostureError
from posture.ports import NotRunning

if TYPE_CHECKING:
    from posture.app.monitor.live import Summary
    from posture.app.monitor.loop import Monitor
    from posture.config import Config
    from posture.ports import ControlHandler

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
            monitor.resume()
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


def start_detached(args: list[str], *, wait: float = 30.0) -> int:
    """Start `posture run ARGS` as a detached process; return its pid once it answers."""
    places = compose.monitor_places()
    compose.ensure_not_running(places)
    proc = subprocess.Popen(
        [sys.executable, "-m", "posture", "run", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    deadline = time.monotonic() + wait
    transport = compose.control_transport(places)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PostureError(
                f"the monitor stopped at once (exit {proc.returncode}): "
                f"see {places.log_file}{_last_log_line(places.log_file)}"
            )
        with contextlib.suppress(PostureError):
            if transport.request({"cmd": "status"}, timeout=1.0).get("ok"):
                return proc.pid
        time.sleep(0.1)
    proc.terminate()
    raise PostureError(f"the monitor did not answer within {wait:.0f} s: see {places.log_file}")


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
