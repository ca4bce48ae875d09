"""Desktop notifications with a fallback chain.

`make_notifier()` returns a `ChainNotifier` (the `posture.ports.Notifier` port): it sends
through the first backend that works and, when a backend fails, says so once in the log
and moves on to the next one for good. The last backend (a log line plus the terminal
bell) cannot fail, so a notification never raises.

Backends, in the order "auto" tries them:

- ``plyer``: plyer's notification facade. On Linux it is trusted only when plyer talks to the
  notification service through the Python ``dbus`` module, because that is the only Linux path
  on which plyer reports a failure (as an exception). Without ``dbus`` plyer runs ``notify-send``
  and ignores its exit status, and the notification it makes never expires; inside a folder
  named /app it goes through the Flatpak portal, again ignoring the result. In those cases this
  backend refuses with `NotifyError` and the chain moves on to the checked ``notify-send``.
- ``notify-send`` (Linux and other freedesktop systems) or ``osascript`` (macOS).
- ``log``: a WARNING on the "posture" logger and a terminal bell.

Threading rule: a notifier is used from the monitor's loop thread only.
Nothing here touches the network, and importing this module does not import plyer.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TextIO

log = logging.getLogger("posture")

APP_NAME = "posture"
#: How long a notification stays on screen, where the backend lets us say.
DISPLAY_SECONDS = 10
#: How long a helper command (notify-send, osascript) may take before it counts as failed.
COMMAND_TIMEOUT_SECONDS = 5.0

#: Every name `make_notifier` understands, whatever the platform.
NOTIFIER_NAMES = ("auto", "plyer", "notify-send", "osascript", "log")


class NotifyError(Exception):
    """A notification could not be shown; the message says why."""


class Backend(Protocol):
    """One way to send a desktop notification, which may fail (the chain moves on).
    Threading rule: called from the monitor's loop thread only."""

    @property
    def name(self) -> str: ...

    def notify(self, title: str, message: str) -> None:
        """Show one notification; raise `NotifyError` when it could not be shown."""
        ...


def _first_line(text: str, limit: int = 200) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def _describe(exc: BaseException) -> str:
    detail = _first_line(str(exc))
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


@contextlib.contextmanager
def _quiet() -> Iterator[tuple[list[warnings.WarningMessage], io.StringIO]]:
    """Capture the warnings plyer raises and what it prints (it prints a traceback to stderr
    when it cannot load its platform backend), so they can go into a `NotifyError` instead of
    the user's terminal. Swaps sys.stdout/sys.stderr briefly: fine from the loop thread."""
    captured = io.StringIO()
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(captured),
        contextlib.redirect_stderr(captured),
    ):
        warnings.simplefilter("always")
        yield caught, captured


# The plyer classes (plyer.platforms.linux.notification) that run a command and throw away
# its result, and why that matters. Checked against plyer 2.1.
_PLYER_UNCHECKED = {
    "NotifySendNotification": (
        "the Python dbus module is not installed, so plyer would run notify-send, ignore its "
        "exit status and make a notification that never expires"
    ),
    "NotifyDesktopPortals": (
        "a folder /app exists, so plyer assumes Flatpak and calls the desktop portal through "
        "gdbus, ignoring the result"
    ),
}


class PlyerNotifier:
    """Notifications through plyer (imported on first use)."""

    name = "plyer"

    def __init__(self) -> None:
        self._facade: Any = None

    def _load(self) -> Any:
        if self._facade is not None:
            return self._facade
        with _quiet() as (caught, printed):
            try:
                from plyer import notification

                # The first attribute access makes plyer pick its platform backend (once per
                # process); `__class__` is forwarded by plyer's proxy to that backend.
                backend: type = notification.__class__
            except Exception as exc:  # plyer missing or broken
                raise NotifyError(f"plyer could not be loaded: {_describe(exc)}") from exc
        said = [_first_line(str(w.message)).rstrip(".") for w in caught]
        printed_last = [line for line in printed.getvalue().splitlines() if line.strip()][-1:]
        module = getattr(backend, "__module__", "")
        if module.startswith("plyer.facades"):  # plyer found no platform backend
            why = "; ".join([*said, *printed_last]) or "no backend for this platform"
            raise NotifyError(f"plyer has no usable notification backend here ({why})")
        if module == "plyer.platforms.linux.notification" and backend.__name__ != "NotifyDbus":
            why = _PLYER_UNCHECKED.get(
                backend.__name__, f"plyer chose {backend.__name__}, which cannot report failures"
            )
            raise NotifyError(f"plyer cannot report failures here: {why}")
        self._facade = notification
        return notification

    def notify(self, title: str, message: str) -> None:
        facade = self._load()
        with _quiet():
            try:
                facade.notify(
                    title=title, message=message, app_name=APP_NAME, timeout=DISPLAY_SECONDS
                )
            except Exception as exc:  # dbus.exceptions.DBusException, NotImplementedError, ...
                raise NotifyError(_describe(exc)) from exc


def _run_command(argv: Sequence[str], timeout: float) -> None:
    """Run a notification command; a missing program, a time-out or a non-zero exit status
    raise `NotifyError`. A command that hangs is killed with everything it started (it
    runs in a process group of its own), so no child is left behind."""
    program = argv[0]
    posix = os.name == "posix"
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=posix,
        )
    except FileNotFoundError as exc:
        raise NotifyError(f"{program} is not installed (not found on PATH)") from exc
    except OSError as exc:
        raise NotifyError(f"{program} could not be run: {_describe(exc)}") from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        if posix:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
        for pipe in (proc.stdout, proc.stderr):  # a child that left the group may hold them
            if pipe is not None:
                pipe.close()
        raise NotifyError(f"{program} did not finish within {timeout:g} s") from exc
    if proc.returncode != 0:
        detail = _first_line(stderr) or _first_line(stdout)
        suffix = f": {detail}" if detail else ""
        raise NotifyError(f"{program} exited with status {proc.returncode}{suffix}")


class NotifySendNotifier:
    """libnotify's ``notify-send`` command (Debian/Ubuntu package libnotify-bin)."""

    name = "notify-send"

    def __init__(
        self, *, program: str = "notify-send", timeout: float = COMMAND_TIMEOUT_SECONDS
    ) -> None:
        self.program = program
        self.timeout = timeout

    def argv(self, title: str, message: str) -> list[str]:
        # "--" so that a title or message starting with "-" is not read as an option.
        return [
            self.program,
            f"--app-name={APP_NAME}",
            f"--expire-time={DISPLAY_SECONDS * 1000}",
            "--",
            title,
            message,
        ]

    def notify(self, title: str, message: str) -> None:
        _run_command(self.argv(title, message), self.timeout)


def applescript_string(text: str) -> str:
    """`text` as an AppleScript string literal, quotes included."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\r", "\\r")
        .replace("\n", "\\n")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


class OsascriptNotifier:
    """macOS: ``osascript -e 'display notification ...'``."""

    name = "osascript"

    def __init__(
        self, *, program: str = "osascript", timeout: float = COMMAND_TIMEOUT_SECONDS
    ) -> None:
        self.program = program
        self.timeout = timeout

    def argv(self, title: str, message: str) -> list[str]:
        script = (
            f"display notification {applescript_string(message)} "
            f"with title {applescript_string(title)}"
        )
        return [self.program, "-e", script]

    def notify(self, title: str, message: str) -> None:
        _run_command(self.argv(title, message), self.timeout)


class LogBellNotifier:
    """Last resort that cannot fail: a WARNING on the "posture" logger, and the terminal bell
    when stderr is a terminal."""

    name = "log"

    def __init__(self, *, stream: TextIO | None = None) -> None:
        self._stream = stream  # None: sys.stderr at the time of the notification

    def notify(self, title: str, message: str) -> None:
        log.warning("notification: %s: %s", title, message)
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            if stream is not None and stream.isatty():
                stream.write("\a")
                stream.flush()
        except (OSError, ValueError):  # closed or broken stream: the log line is enough
            pass


#: After a backend fails, it is tried again after this long, then twice as long after each
#: further failure, up to `RETRY_MAX` (a notification daemon that starts late, at login,
#: is back within a minute; one that is gone for good costs one try every half hour).
RETRY_FIRST = 30.0
RETRY_MAX = 1800.0


class ChainNotifier:
    """Sends through the first backend that works. A backend that fails is skipped, for
    this notification and until its retry time (30 s, doubling to 30 min while it keeps
    failing); the notification goes to the next backend meanwhile. Each outage is logged
    once when it starts and once when it ends. The last backend is always tried. Never
    raises.

    `name` is the backend the next notification goes to first; after `notify()`,
    `delivered_by` is the backend that showed it (None if even the last backend failed).
    `clock` (monotonic seconds) is for tests."""

    def __init__(
        self, backends: Sequence[Backend], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not backends:
            raise ValueError("ChainNotifier needs at least one backend")
        self._backends = tuple(backends)
        self._clock = clock
        self._backoff = [0.0] * len(self._backends)  # 0: up
        self._retry_at = [0.0] * len(self._backends)
        self.delivered_by: str | None = None

    def _skipped(self, i: int, now: float) -> bool:
        return i + 1 < len(self._backends) and self._backoff[i] > 0 and now < self._retry_at[i]

    @property
    def name(self) -> str:
        now = self._clock()
        first = next(i for i in range(len(self._backends)) if not self._skipped(i, now))
        return self._backends[first].name

    def notify(self, title: str, message: str) -> None:
        self.delivered_by = None
        now = self._clock()
        outages: list[tuple[str, str, float]] = []
        last = len(self._backends) - 1
        for i, backend in enumerate(self._backends):
            if self._skipped(i, now):
                continue
            try:
                backend.notify(title, message)
            except Exception as exc:  # a backend must never take the monitor down
                reason = str(exc) if isinstance(exc, NotifyError) else _describe(exc)
                if i == last:
                    log.warning(
                        "notification not shown: %s failed (%s): %s: %s",
                        backend.name,
                        reason,
                        title,
                        message,
                    )
                    break
                if self._backoff[i] == 0:
                    outages.append((backend.name, reason, RETRY_FIRST))
                self._backoff[i] = min(RETRY_MAX, max(RETRY_FIRST, self._backoff[i] * 2))
                self._retry_at[i] = now + self._backoff[i]
                continue
            if self._backoff[i] > 0:
                self._backoff[i] = 0.0
                log.warning("notifications via %s work again", backend.name)
            self.delivered_by = backend.name
            break
        for name, reason, retry in outages:
            log.warning(
                "notifications via %s failed (%s); using %s meanwhile, trying it again in %.0f s",
                name,
                reason,
                self.delivered_by or "nothing",
                retry,
            )


_FACTORIES: dict[str, Callable[[], Backend]] = {
    "plyer": PlyerNotifier,
    "notify-send": NotifySendNotifier,
    "osascript": OsascriptNotifier,
    "log": LogBellNotifier,
}


def backend_order(platform: str = sys.platform) -> tuple[str, ...]:
    """The backends "auto" tries on `platform` (a `sys.platform` value), in order."""
    if platform == "darwin":
        native: tuple[str, ...] = ("osascript",)
    elif platform.startswith(("win", "cygwin", "msys")):
        native = ()
    else:  # Linux and the BSDs: freedesktop notifications
        native = ("notify-send",)
    return ("plyer", *native, "log")


def _plyer_can_report(platform: str) -> bool:
    if platform == "darwin" or platform.startswith(("win", "cygwin", "msys")):
        return True
    import importlib.util

    return importlib.util.find_spec("dbus") is not None


def chain_names(preference: str = "auto", *, platform: str = sys.platform) -> tuple[str, ...]:
    """The backends a configured preference tries, in order: "auto" every backend for
    `platform`; a backend name starts the chain at that backend. Raises ValueError for a
    name that is unknown or not offered on `platform`."""
    order = backend_order(platform)
    offered = ", ".join(("auto", *order))
    if preference == "auto":
        # On Linux plyer reports failures only through the Python dbus module; without it
        # "auto" goes straight to notify-send instead of warning about plyer each run.
        return order if _plyer_can_report(platform) else tuple(n for n in order if n != "plyer")
    if preference in order:
        return order[order.index(preference) :]
    if preference in NOTIFIER_NAMES:
        raise ValueError(
            f"notifier {preference!r} is not available on {platform}; choose one of: {offered}"
        )
    raise ValueError(f"unknown notifier {preference!r}; choose one of: {offered}")


def make_notifier(preference: str = "auto", *, platform: str = sys.platform) -> ChainNotifier:
    """The notifier for a configured preference: the chain of `chain_names`."""
    return ChainNotifier(
        [_FACTORIES[name]() for name in chain_names(preference, platform=platform)]
    )
