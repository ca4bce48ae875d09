"""`posture tray`: the icon on the panel that shows and steers the monitor.

A client of the typed status over the `ControlTransport` and nothing else: it never
reaches into the monitor's process, so the monitor runs the same with or without it, and
a tray of an older or newer posture is told (a schema refusal is a fault icon, not a
crash).

It polls (`POLL_EVERY`): the status is one request and reply on a Unix socket every 2 s,
cheaper to answer than a subscription is to keep (the monitor would hold a connection
per listener, with its own thread and back-pressure rules), it sees a monitor that
restarted (a new pid) or went away with no extra code, and 2 s is the monitor's own
steady look interval, so a faster answer would show nothing new. scripts/bench_tray
measures both ends.

Threads: the host calls `on_click` from its own thread (the D-Bus connection's): a click
only goes into a queue and wakes the host, and the host's `run` calls `step` on the main
thread, which does the work (a request, a child process started, a notification). What
blocks for seconds (starting and stopping the monitor) runs on a worker thread whose
result comes back through the same queue; the children (`posture calibrate`, `posture
report`) each have a thread that reads their stderr until they exit.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import subprocess
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from posture.core import tray as menu
from posture.core.durations import parse_duration
from posture.core.status import Status
from posture.core.tray import TrayView, view_of
from posture.errors import PostureError, TrayUnavailable
from posture.ports import NotRunning

if TYPE_CHECKING:
    from posture.ports import ControlTransport, LoginEntry, Notifier, TrayHost

log = logging.getLogger("posture")

#: Seconds between two status requests.
POLL_EVERY = 2.0
#: How long one status request may take before the monitor counts as not answering.
REQUEST_TIMEOUT = 2.0

#: The menu's durations, as `posture pause --for` and `posture snooze` read them.
PAUSES = {menu.PAUSE_30M: "30m", menu.PAUSE_1H: "1h", menu.PAUSE_TOMORROW: "tomorrow"}
SNOOZE = "15m"


def local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass
class TrayParts:
    """What the tray works with, built by `posture.app.compose.tray_parts` (the host, the
    channel, the login entry, the notifier, the report folder) and the CLI (how to start
    and stop the monitor: `posture.app.service`)."""

    host: TrayHost
    transport: ControlTransport
    login: LoginEntry
    notifier: Notifier
    #: the folder today's report is written to (made private on first use)
    report_folder: Callable[[], Path]
    #: start the monitor detached; its pid once it answers (`service.start_detached`)
    start_monitor: Callable[[], int]
    #: stop it and wait for its flush (`service.stop_monitor`); NotRunning if none runs
    stop_monitor: Callable[[], object]
    #: how a posture command is run as a child process
    posture: list[str] = field(default_factory=lambda: [sys.executable, "-m", "posture"])
    open_browser: Callable[[str], bool] = webbrowser.open
    now: Callable[[], datetime] = local_now
    #: seconds to wait for a panel when the desktop has none yet (at login the panel may
    #: start after posture), a new host from `new_host` tried every second meanwhile
    wait_for_host: float = 0.0
    new_host: Callable[[], TrayHost] | None = None


class Child:
    """A posture command run as a child of the tray (calibrate, report): its stderr read
    on a thread of its own, which keeps the last line (the reason of a failure) and, when
    the child exits, hands `done(code, last_line)` to the tray's queue."""

    def __init__(
        self, argv: list[str], done: Callable[[int, str], None], post: Callable[[Any], None]
    ) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            close_fds=True,
        )
        self._thread = threading.Thread(
            target=self._read, args=(done, post), name="posture-child", daemon=True
        )
        self._thread.start()

    def _read(self, done: Callable[[int, str], None], post: Callable[[Any], None]) -> None:
        last = ""
        assert self.proc.stderr is not None
        with self.proc.stderr as stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    last = line
        code = self.proc.wait()
        post(lambda: done(code, last))


class Tray:
    """The tray's state and its step; `run` is the whole use case."""

    def __init__(self, parts: TrayParts) -> None:
        self.parts = parts
        self.status: Status | None = None
        #: why the channel failed (a garbled reply, a refused schema), None when it did not
        self.error: str | None = None
        #: why the last start failed, shown until a monitor answers or Start is clicked
        self.start_error: str | None = None
        self.starting = False
        self.calibrating = False
        self.autostart = False
        self.pid: int | None = None
        self.quitting = False
        self.exit_code = 0
        self._events: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._start_thread: threading.Thread | None = None
        #: why the last start failed, as the worker saw it (None: it started)
        self._start_failed: str | None = None
        self._stopping = threading.Event()

    # --- any thread ---------------------------------------------------------------------

    def clicked(self, item: int) -> None:
        """The host's `on_click`, on its thread: queued for the step."""
        self._post(item)

    def stop(self) -> None:
        """End the tray (a signal): the monitor keeps running."""
        self._stopping.set()
        self._post(self._leave)

    def _post(self, event: Any) -> None:
        self._events.put(event)
        self.parts.host.wake()

    # --- the main thread ----------------------------------------------------------------

    def run(self) -> int:
        """Show the icon (`TrayUnavailable` when the desktop has none), start the monitor
        when none answers, follow it until Quit posture or `stop`; the exit status."""
        self.poll()
        will_start = self.status is None and self.error is None
        if will_start and self.parts.wait_for_host > 0:
            # At login the monitor does not wait for the panel: if none ever comes, the
            # user is still watched over, and told so.
            self.start()
            will_start = False
        self.starting = self.starting or will_start  # the first view already says so
        try:
            if not self._show_first():
                return 0  # stopped while waiting for a panel
        except TrayUnavailable as err:
            if self._start_thread is None:
                raise
            self._start_thread.join()  # its monitor is detached once it answers
            if self._start_failed is None:
                raise TrayUnavailable(f"{err}; the monitor was started without it") from None
            raise TrayUnavailable(
                f"{err}; the monitor did not start: {self._start_failed}"
            ) from None
        log.info("tray: shown by %s", self.parts.host.name)
        try:
            if will_start:
                self.starting = False
                self.start()
            self.parts.host.show(self.view())
            self.parts.host.run(self.step, POLL_EVERY)
        finally:
            self.parts.host.close()
        return self.exit_code

    def _show_first(self) -> bool:
        """Start the host; while the desktop has no tray yet and `wait_for_host` allows,
        try a new host every second. False when stopped meanwhile."""
        deadline = time.monotonic() + self.parts.wait_for_host
        said = False
        while True:
            try:
                self.parts.host.start(self.view(), self.clicked)
                return True
            except TrayUnavailable as err:
                self.parts.host.close()
                if self.parts.new_host is None or time.monotonic() >= deadline:
                    raise
                if not said:
                    log.info("tray: %s; waiting for a panel", str(err).split(";")[0])
                    said = True
            if self._stopping.wait(1.0):
                return False
            self.parts.host = self.parts.new_host()

    def step(self) -> bool:
        """The queued clicks and results, then a status request and the view; False
        once the tray is to end."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            try:
                if isinstance(event, int):
                    self.act(event)
                else:
                    event()
            except PostureError as err:  # a user-fixable problem: told, the tray goes on
                self.tell(str(err))
            except Exception as err:  # an OS fault (a child that cannot start): told too
                log.exception("tray: %r failed", event)
                self.tell(f"that failed: {err}")
            if self.quitting:
                return False
        self.poll()
        self.parts.host.show(self.view())
        return not self.quitting

    def view(self) -> TrayView:
        return view_of(
            self.status,
            error=self.error or self.start_error,
            autostart=self.autostart,
            now=self.parts.now(),
            starting=self.starting,
            calibrating=self.calibrating,
        )

    def poll(self) -> None:
        """Ask the monitor for its status: a fault of the channel is the fault icon with
        its reason, never an exception out of the tray."""
        try:
            reply = self.parts.transport.request({"cmd": "status"}, timeout=REQUEST_TIMEOUT)
            if not reply.get("ok"):
                raise PostureError(f"the monitor refused: {reply.get('error', 'no reason')}")
            status = Status.from_json(reply)
        except NotRunning:
            self.status, self.error = None, None
            if self.pid is not None:
                log.info("the monitor (pid %d) is gone", self.pid)
                self.pid = None
        except Exception as err:  # garbled, refused, a newer schema: a fault, said once
            reason = str(err) or type(err).__name__
            if reason != self.error:
                log.warning("tray: the monitor's status: %s", reason)
            self.status, self.error = None, reason
        else:
            self.status, self.error, self.start_error = status, None, None
            if status.pid != self.pid:
                log.info("tray: following the monitor (pid %s)", status.pid)
                self.pid = status.pid
        try:
            self.autostart = self.parts.login.enabled()
        except PostureError as err:
            log.warning("tray: %s", err)
            self.autostart = False

    def act(self, item: int) -> None:
        """One menu item."""
        if item in PAUSES:
            seconds = parse_duration(PAUSES[item], now=self.parts.now())
            self.request({"cmd": "pause", "seconds": seconds})
        elif item == menu.RESUME:
            self.request({"cmd": "resume"})
        elif item == menu.SNOOZE_15M:
            self.request({"cmd": "snooze", "seconds": parse_duration(SNOOZE, now=self.parts.now())})
        elif item == menu.START:
            self.start_error = None
            self.start()
        elif item == menu.CALIBRATE:
            self.calibrate()
        elif item == menu.REPORT:
            self.report()
        elif item == menu.AUTOSTART:
            if self.parts.login.enabled():
                self.parts.login.disable()
            else:
                self.parts.login.enable()
        elif item == menu.QUIT:
            self.quit()
        else:
            log.debug("tray: click on item %d ignored", item)

    def request(self, message: dict[str, Any]) -> None:
        try:
            reply = self.parts.transport.request(message)
        except NotRunning:
            raise PostureError("posture is not running: Start posture in the menu") from None
        if not reply.get("ok"):
            raise PostureError(f"the monitor refused: {reply.get('error', 'no reason given')}")

    def tell(self, message: str) -> None:
        """A desktop notification, and the log."""
        log.warning("tray: %s", message)
        self.parts.notifier.notify("posture", message)

    # --- the monitor's life -------------------------------------------------------------

    def start(self, *, restart: bool = False) -> None:
        """Start (or stop and start) the monitor on a worker thread: it waits until the
        monitor answers, which takes a second or more."""
        if self.starting:
            return
        self.starting = True

        def work() -> None:
            error: str | None = None
            try:
                if restart:
                    with contextlib.suppress(NotRunning):
                        self.parts.stop_monitor()
                pid = self.parts.start_monitor()
                log.info("tray: started the monitor (pid %d)", pid)
            except PostureError as err:
                error = str(err)
            except Exception as err:  # a bug or an OS fault: told, the tray goes on
                log.exception("tray: starting the monitor failed")
                error = f"cannot start the monitor: {err}"
            self._start_failed = error
            self._post(lambda: self._started(error))

        self._start_thread = threading.Thread(target=work, name="posture-start", daemon=True)
        self._start_thread.start()

    def _started(self, error: str | None) -> None:
        self.starting = False
        if error and "already running" not in error:
            self.start_error = error
            self.tell(error)

    def quit(self) -> None:
        """Quit posture: stop the monitor (it flushes first), then end the tray."""
        try:
            self.parts.stop_monitor()
        except NotRunning:
            pass
        except PostureError as err:
            log.warning("tray: %s", err)
        self.quitting = True

    def _leave(self) -> None:
        self.quitting = True

    # --- children -----------------------------------------------------------------------

    def calibrate(self) -> None:
        """`posture calibrate --preview` as a child (its own preview window); once it saved
        a profile, the monitor restarts so the new profile counts."""
        if self.calibrating:
            return

        def done(code: int, last: str) -> None:
            self.calibrating = False
            if code == 0:
                log.info("tray: calibrated; restarting the monitor")
                self.start(restart=True)
            else:
                self.tell(f"calibration failed: {_reason(last, code)}")

        # --preview: the child's stderr is a pipe, not a terminal, which would keep it to
        # the text flow; from the tray the user must see themselves (without a display
        # it says so in a line, and calibrates all the same).
        Child([*self.parts.posture, "calibrate", "--preview"], done, self._post)
        self.calibrating = True

    def report(self) -> None:
        """Today's HTML report into the report folder, as `posture report --today --format
        html -o FILE` writes it (that very command, as a child: the tray never loads the
        report's charts), then opened in the browser."""
        folder = self.parts.report_folder()
        target = folder / f"posture-today-{self.parts.now():%Y%m%d}.html"
        # An old file is never shown as today's, and the earlier days' go: the folder
        # holds one report, not one a day for ever (`posture report` makes any day's).
        for old in [target, *folder.glob("posture-today-*.html")]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()

        def done(code: int, last: str) -> None:
            if code == 0 and target.exists():
                if not self.parts.open_browser(target.as_uri()):
                    self.tell(f"no browser could be started: the report is {target}")
                return
            self.tell(f"no report: {_reason(last, code)}")

        argv = [*self.parts.posture, "report", "--today", "--format", "html", "-o", str(target)]
        Child(argv, done, self._post)


def _reason(last: str, code: int) -> str:
    """A child's last line on stderr, without posture's error prefix."""
    return last.removeprefix("posture: error: ") if last else f"it exited with status {code}"


def run_tray(parts: TrayParts) -> int:
    """The tray until Quit posture (exit 0) or SIGTERM/SIGINT (exit 0, the monitor left
    running: a logout ends it by itself); `TrayUnavailable` when the desktop shows no
    tray icons."""
    tray = Tray(parts)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        tray.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return tray.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
