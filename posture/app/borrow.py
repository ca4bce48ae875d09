"""Borrowing the camera from a running monitor: the camera has one owner, so while
`posture calibrate` or `posture preview` uses it, the monitor is paused, and afterwards
it is given back as it was.

Only through the control channel (`ControlTransport`): the monitor is paused on a lease,
`LEASE` seconds renewed every `RENEW` seconds by a thread, so a preview that crashes or is
killed leaves the monitor paused for two minutes at most, never for good. Giving it back
is `resume` with `keep_snooze`: a plain `resume` also ends a snooze, and the user's snooze
is not ours to end. A monitor the user had paused is left alone (and stays paused), and
so is one the user pauses or resumes meanwhile: the pause is ours only while its deadline
is the one our last `pause` got.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from posture.errors import PostureError
from posture.ports import NotRunning

if TYPE_CHECKING:
    from posture.ports import ControlTransport, Terminal

#: How long each pause of the lease lasts, and how often it is renewed: a renewal may be
#: late by a whole loaded minute and still come before the pause runs out.
LEASE = 120.0
RENEW = 30.0
#: How long to wait for the paused monitor to say it released the camera.
RELEASE_WAIT = 5.0
RELEASED = "released (paused)"


def monitor_answers(transport: ControlTransport) -> bool:
    """Whether a monitor answers on the control channel now."""
    try:
        transport.request({"cmd": "status"}, timeout=2.0)
    except PostureError:
        return False
    return True


class CameraLoan:
    """`with CameraLoan(transport, terminal):` the monitor (if one runs and is not paused)
    is paused for the block's length and resumed after it, its snooze kept."""

    def __init__(
        self,
        transport: ControlTransport,
        terminal: Terminal,
        *,
        lease: float = LEASE,
        renew: float = RENEW,
    ) -> None:
        self.transport = transport
        self.terminal = terminal
        self.lease = lease
        self.renew = renew
        #: whether we paused a monitor (and so must resume it)
        self.borrowed = False
        #: whether a monitor answered at all
        self.running = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: the deadline our last pause got back: a different one is the user's
        self._ours: object = None

    def __enter__(self) -> CameraLoan:
        try:
            status = self.transport.request({"cmd": "status"}, timeout=2.0)
        except NotRunning:
            return self
        except PostureError as err:
            self.terminal.say(f"posture: the running monitor does not answer ({err}): not paused")
            return self
        self.running = True
        if status.get("state") == "paused":
            return self  # the user's pause: theirs to end
        try:
            self._pause()
        except PostureError as err:  # it stopped meanwhile, or refused
            self.terminal.say(f"posture: the running monitor was not paused ({err})")
            return self
        self.borrowed = True
        self._thread = threading.Thread(target=self._keep, name="camera-loan", daemon=True)
        self._thread.start()
        self.terminal.say("posture: the running monitor is paused while this has the camera")
        self._await_release()
        return self

    def _pause(self) -> None:
        reply = self.transport.request({"cmd": "pause", "seconds": self.lease})
        self._ours = reply.get("paused_until")

    def _still_ours(self) -> bool:
        """Whether the monitor's pause is still the one we set (not the user's since)."""
        try:
            status = self.transport.request({"cmd": "status"}, timeout=2.0)
        except PostureError:
            return False
        return self._ours is not None and status.get("paused_until") == self._ours

    def _await_release(self) -> None:
        deadline = time.monotonic() + RELEASE_WAIT
        while time.monotonic() < deadline:
            try:
                status = self.transport.request({"cmd": "status"}, timeout=2.0)
            except PostureError:
                return
            if status.get("camera") == RELEASED:
                return
            time.sleep(0.05)

    def _keep(self) -> None:
        while not self._done.wait(self.renew):
            with self._lock:
                if self._done.is_set():
                    return
                if not self._still_ours():
                    self._let_go("the user paused or resumed it meanwhile")
                    return
                try:
                    self._pause()
                except PostureError:
                    self.borrowed = False  # the monitor went away: nothing to give back
                    return

    def _let_go(self, why: str) -> None:
        self.borrowed = False
        self.terminal.say(f"posture: the monitor is left as it is now ({why})")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not self.borrowed:
            return
        if not self._still_ours():
            self._let_go("the user paused or resumed it meanwhile")
            return
        try:
            self.transport.request({"cmd": "resume", "keep_snooze": True})
        except PostureError as err:
            self.terminal.say(f"posture: could not resume the monitor ({err})")
            return
        self.terminal.say("posture: the monitor has the camera again")
