"""Desktop notifications: the fallback chain, and real delivery to a real notification daemon
(dunst in a private D-Bus session on Xvfb, see tests/desktop.py)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from posture.adapters.notify.backends import (
    ChainNotifier,
    LogBellNotifier,
    NotifyError,
    NotifySendNotifier,
    OsascriptNotifier,
    PlyerNotifier,
    applescript_string,
    chain_names,
    make_notifier,
)
from tests.conftest import run_posture
from tests.desktop import DesktopSession, desktop_session, dunst_history

REPO = Path(__file__).resolve().parent.parent

# What a child process runs: the default chain (or the one named in argv[1]), one notification,
# then the name of the backend that delivered it.
CHILD = """
import sys
from posture.adapters.notify.backends import make_notifier
notifier = make_notifier(*sys.argv[1:])
notifier.notify("posture", "test body")
print(notifier.delivered_by)
"""


@pytest.fixture
def desktop() -> Iterator[DesktopSession]:
    with desktop_session() as session:
        yield session


@pytest.fixture
def posture_log(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """caplog sees the "posture" logger's warnings even if something turned propagation off."""
    monkeypatch.setattr(logging.getLogger("posture"), "propagate", True)
    caplog.set_level(logging.WARNING, logger="posture")


def fallbacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "meanwhile" in r.getMessage()]


def shown(env: dict[str, str]) -> list[dict[str, object]]:
    return [
        {key: note[key] for key in ("summary", "body", "appname", "timeout")}
        for note in dunst_history(env)
    ]


# Shown once, by whichever backend, and it goes away by itself after 10 s (dunst reports
# microseconds; plyer's own notify-send path would have sent 0, "never expires").
EXPECTED = [{"summary": "posture", "body": "test body", "appname": "posture", "timeout": 10**7}]


def child_env(desktop: DesktopSession, *extra_path: str) -> dict[str, str]:
    env = dict(desktop.env)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *extra_path])
    return env


# --- real daemon ------------------------------------------------------------------------------


def test_auto_reaches_real_daemon(
    desktop: DesktopSession,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    posture_log: None,
) -> None:
    desktop.apply(monkeypatch)
    notifier = make_notifier("auto")
    notifier.notify("posture", "test body")

    assert shown(desktop.env) == EXPECTED
    assert notifier.delivered_by == notifier.name
    # Without the dbus module plyer cannot tell a failure from a success, so "auto" skips
    # it quietly and the checked notify-send delivers; with it, plyer delivers.
    has_dbus = importlib.util.find_spec("dbus") is not None
    assert notifier.delivered_by == ("plyer" if has_dbus else "notify-send")
    assert fallbacks(caplog) == []


def test_notify_send_backend_reaches_real_daemon(
    desktop: DesktopSession,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    posture_log: None,
) -> None:
    desktop.apply(monkeypatch)
    notifier = make_notifier("notify-send")
    assert notifier.name == "notify-send"
    notifier.notify("posture", "test body")
    assert notifier.delivered_by == "notify-send"
    assert shown(desktop.env) == EXPECTED
    assert caplog.records == []


def test_a_child_process_of_the_session_notifies(desktop: DesktopSession) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=child_env(desktop),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("plyer", "notify-send")
    assert "UserWarning" not in done.stderr  # plyer's own complaints are kept quiet
    assert shown(desktop.env) == EXPECTED


def python_with_dbus() -> str | None:
    """An interpreter (3.10+) that can import the dbus module: this one, or Debian's
    python3 with python3-dbus."""
    for exe in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
        if not Path(exe).is_file():
            continue
        probe = [exe, "-c", "import sys, dbus; sys.exit(sys.version_info < (3, 10))"]
        if subprocess.run(probe, capture_output=True, timeout=60, check=False).returncode == 0:
            return exe
    return None


@pytest.fixture
def dbus_python(tmp_path: Path) -> tuple[str, str]:
    """(interpreter with dbus, a folder holding only plyer) for a child process."""
    exe = python_with_dbus()
    if exe is None:
        pytest.skip("no Python with the dbus module (Debian: python3-dbus) for plyer's D-Bus path")
    spec = importlib.util.find_spec("plyer")
    assert spec is not None and spec.submodule_search_locations
    only_plyer = tmp_path / "plyer-only"
    only_plyer.mkdir()
    (only_plyer / "plyer").symlink_to(spec.submodule_search_locations[0])
    return exe, str(only_plyer)


def test_plyer_over_dbus_reaches_real_daemon(
    desktop: DesktopSession, dbus_python: tuple[str, str]
) -> None:
    exe, plyer_path = dbus_python
    done = subprocess.run(
        [exe, "-c", CHILD, "plyer"],
        env=child_env(desktop, plyer_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "plyer", done.stderr
    assert shown(desktop.env) == EXPECTED


def test_plyer_over_dbus_reports_a_dead_bus(
    tmp_path: Path, desktop: DesktopSession, dbus_python: tuple[str, str]
) -> None:
    exe, plyer_path = dbus_python
    code = (
        "from posture.adapters.notify.backends import NotifyError, PlyerNotifier\n"
        "try:\n"
        "    PlyerNotifier().notify('posture', 'test body')\n"
        "except NotifyError as exc:\n"
        "    print(exc)\n"
    )
    env = child_env(desktop, plyer_path)
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path / 'no-bus'}"
    done = subprocess.run(
        [exe, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("DBusException: "), done.stdout + done.stderr
    assert shown(desktop.env) == []


def test_desktop_session_leaves_nothing_behind() -> None:
    with desktop_session() as session:
        pids = session.pids
        folder = session.folder
        x_socket = Path("/tmp/.X11-unix") / f"X{session.display[1:]}"
        assert len(pids) == 3
        assert x_socket.exists()
        for pid in pids:
            os.kill(pid, 0)  # running
    for pid in pids:  # stopped and reaped: not even a zombie is left
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not folder.exists()
    assert not x_socket.exists()


# --- no notification service at all -----------------------------------------------------------


def no_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A session bus address where nothing listens, and a PATH without notify-send."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    monkeypatch.setenv("PATH", str(empty))


def test_without_any_service_the_chain_ends_at_log_and_bell(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    posture_log: None,
) -> None:
    no_service(tmp_path, monkeypatch)
    notifier = make_notifier("auto", platform="linux")
    notifier.notify("posture", "test body")
    notifier.notify("posture", "test body")  # no new fallback messages

    assert notifier.name == notifier.delivered_by == "log"
    moves = fallbacks(caplog)
    if importlib.util.find_spec("dbus") is not None:  # plyer is in the chain and fails first
        assert moves[0].startswith("notifications via plyer failed (")
        assert moves[0].endswith("; using notify-send meanwhile, trying it again in 30 s")
        moves = moves[1:]
    assert len(moves) == 1, moves
    assert moves[0] == (
        "notifications via notify-send failed (notify-send is not installed (not found on "
        "PATH)); using log meanwhile, trying it again in 30 s"
    )
    shown_in_log = [
        r for r in caplog.records if r.getMessage() == "notification: posture: test body"
    ]
    assert len(shown_in_log) == 2
    assert all(r.levelno == logging.WARNING and r.name == "posture" for r in shown_in_log)


def test_notify_test_fails_when_only_the_log_got_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {
        "PATH": str(empty),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}",
        "POSTURE_HOME": str(tmp_path / "home"),
    }
    done = run_posture("notify-test", env=env)
    assert done.returncode == 1
    assert "posture: error: no desktop notification service showed it" in done.stderr
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text('[monitor]\nnotifier = "log"\n')
    chosen = run_posture("notify-test", env=env)
    assert chosen.returncode == 0, chosen.stderr
    assert "notification sent via log" in chosen.stdout


@pytest.mark.skipif(shutil.which("notify-send") is None, reason="notify-send not installed")
def test_notify_send_reports_a_dead_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    with pytest.raises(NotifyError, match=r"^notify-send exited with status [1-9]"):
        NotifySendNotifier().notify("posture", "test body")


def test_plyer_without_dbus_refuses_rather_than_hiding_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("dbus") is not None:
        pytest.skip("the dbus module is importable here, so plyer does report failures")
    no_service(tmp_path, monkeypatch)
    with pytest.raises(NotifyError, match="plyer"):
        PlyerNotifier().notify("posture", "test body")


# --- the chain, with fake backends ------------------------------------------------------------


class Recording:
    def __init__(self, name: str) -> None:
        self.name = name
        self.shown: list[tuple[str, str]] = []

    def notify(self, title: str, message: str) -> None:
        self.shown.append((title, message))


class Failing(Recording):
    def __init__(self, name: str, error: Exception | None = None) -> None:
        super().__init__(name)
        self.error = error or NotifyError("no service")

    def notify(self, title: str, message: str) -> None:
        super().notify(title, message)
        raise self.error


class Flaky(Recording):
    """Fails until `fixed` is set, as a notification daemon that starts late at login."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.fixed = False

    def notify(self, title: str, message: str) -> None:
        super().notify(title, message)
        if not self.fixed:
            raise NotifyError("no service yet")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_failed_backend_is_retried_later_and_used_again(
    caplog: pytest.LogCaptureFixture, posture_log: None
) -> None:
    first, second = Flaky("first"), Recording("second")
    clock = Clock()
    chain = ChainNotifier([first, second], clock=clock)
    assert chain.name == "first"

    chain.notify("t1", "m1")  # first fails: this one falls back to second
    chain.notify("t2", "m2")  # within the retry time: first is not asked
    assert first.shown == [("t1", "m1")]
    assert second.shown == [("t1", "m1"), ("t2", "m2")]
    assert chain.name == chain.delivered_by == "second"

    clock.now += 30  # its retry time: asked again, still failing; the wait doubles
    chain.notify("t3", "m3")
    assert first.shown[-1] == ("t3", "m3") and chain.delivered_by == "second"
    clock.now += 59
    chain.notify("t4", "m4")
    assert first.shown[-1] == ("t3", "m3")  # 60 s now, not 30: not asked yet

    first.fixed = True
    clock.now += 1
    chain.notify("t5", "m5")
    assert chain.name == chain.delivered_by == "first"
    assert first.shown[-1] == ("t5", "m5") and second.shown[-1] == ("t4", "m4")
    # one line when the outage began, one when it ended; none for the retries between
    assert [r.getMessage() for r in caplog.records] == [
        "notifications via first failed (no service yet); using second meanwhile, trying it "
        "again in 30 s",
        "notifications via first work again",
    ]


def test_a_command_that_hangs_is_killed_with_its_children(tmp_path: Path) -> None:
    """A notify-send that never returns (a bus that does not answer) costs the loop the
    time-out, and leaves no process behind, not even one it started."""
    pid_file = tmp_path / "child.pid"
    script = tmp_path / "notify-send"
    script.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {pid_file}\nwait\n")
    script.chmod(0o755)
    with pytest.raises(NotifyError, match=r"did not finish within 0\.5 s"):
        NotifySendNotifier(program=str(script), timeout=0.5).notify("posture", "body")
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # SIGKILL is delivered at once; reaping may lag
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, os.WNOHANG)
        time.sleep(0.05)
    else:
        pytest.fail(f"the hung command's child {child} is still running")


def test_a_notify_send_that_fails_once_then_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, posture_log: None
) -> None:
    """The login case through the real command: the first call fails, later ones work."""
    shown = tmp_path / "shown.txt"
    script = tmp_path / "notify-send"
    script.write_text(
        "#!/bin/sh\n"
        f"if [ ! -e {tmp_path}/started ]; then\n"
        f'  touch {tmp_path}/started; echo "no bus" >&2; exit 1\n'
        "fi\n"
        f'echo "$@" >> {shown}\n'
    )
    script.chmod(0o755)
    clock = Clock()
    chain = ChainNotifier([NotifySendNotifier(program=str(script)), Recording("log")], clock=clock)
    chain.notify("posture", "first")
    assert chain.delivered_by == "log" and not shown.exists()
    clock.now += 30
    chain.notify("posture", "second")
    assert chain.delivered_by == "notify-send"
    assert "second" in shown.read_text()


def test_chain_walks_past_several_failures_and_unexpected_errors(
    caplog: pytest.LogCaptureFixture, posture_log: None
) -> None:
    last = Recording("last")
    chain = ChainNotifier([Failing("a"), Failing("b", RuntimeError("bug")), last])
    chain.notify("t", "m")
    chain.notify("t", "m")
    assert last.shown == [("t", "m"), ("t", "m")]
    assert fallbacks(caplog) == [
        "notifications via a failed (no service); using last meanwhile, trying it again in 30 s",
        "notifications via b failed (RuntimeError: bug); using last meanwhile, trying it again "
        "in 30 s",
    ]


def test_chain_never_raises_even_when_the_last_backend_fails(
    caplog: pytest.LogCaptureFixture, posture_log: None
) -> None:
    chain = ChainNotifier([Failing("only")])
    chain.notify("t", "m")
    chain.notify("t", "m")
    assert chain.delivered_by is None
    assert chain.name == "only"
    assert [r.getMessage() for r in caplog.records] == [
        "notification not shown: only failed (no service): t: m"
    ] * 2


def test_chain_needs_a_backend() -> None:
    with pytest.raises(ValueError):
        ChainNotifier([])


@pytest.mark.parametrize(
    ("preference", "platform", "chain"),
    [
        ("auto", "linux", ("plyer", "notify-send", "log")),
        ("auto", "darwin", ("plyer", "osascript", "log")),
        ("auto", "win32", ("plyer", "log")),
        ("auto", "freebsd14", ("plyer", "notify-send", "log")),
        ("plyer", "linux", ("plyer", "notify-send", "log")),
        ("notify-send", "linux", ("notify-send", "log")),
        ("osascript", "darwin", ("osascript", "log")),
        ("log", "linux", ("log",)),
        ("log", "win32", ("log",)),
    ],
)
def test_make_notifier_chains(preference: str, platform: str, chain: tuple[str, ...]) -> None:
    if preference == "auto" and "notify-send" in chain and importlib.util.find_spec("dbus") is None:
        chain = chain[1:]  # on Linux "auto" skips plyer when it could not report failures
    assert chain_names(preference, platform=platform) == chain
    notifier = make_notifier(preference, platform=platform)
    assert notifier.name == chain[0]


def test_unknown_preference_lists_the_names() -> None:
    with pytest.raises(ValueError, match=r"choose one of: auto, plyer, notify-send, log$"):
        make_notifier("growl", platform="linux")
    with pytest.raises(ValueError, match="not available on linux"):
        make_notifier("osascript", platform="linux")
    with pytest.raises(ValueError, match=r"choose one of: auto, plyer, osascript, log$"):
        make_notifier("notify-send", platform="darwin")


def test_osascript_argv_escapes_quotes_and_backslashes() -> None:
    argv = OsascriptNotifier().argv('Say "up"', 'back\\slash, "quoted"\nnext line')
    assert argv == [
        "osascript",
        "-e",
        'display notification "back\\\\slash, \\"quoted\\"\\nnext line" with title "Say \\"up\\""',
    ]
    assert applescript_string("") == '""'
    assert applescript_string('\\"') == '"\\\\\\""'


def test_notify_send_argv() -> None:
    assert NotifySendNotifier().argv("-posture", "-5 degrees") == [
        "notify-send",
        "--app-name=posture",
        "--expire-time=10000",
        "--",
        "-posture",
        "-5 degrees",
    ]


class FakeTerminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_log_and_bell(caplog: pytest.LogCaptureFixture, posture_log: None) -> None:
    terminal, piped = FakeTerminal(tty=True), FakeTerminal(tty=False)
    LogBellNotifier(stream=terminal).notify("posture", "sit up")
    LogBellNotifier(stream=piped).notify("posture", "sit up")
    assert terminal.getvalue() == "\a"
    assert piped.getvalue() == ""
    assert [r.getMessage() for r in caplog.records] == ["notification: posture: sit up"] * 2


def test_importing_notify_does_not_import_plyer() -> None:
    code = "import sys, posture.adapters.notify.backends; print('plyer' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "False"
