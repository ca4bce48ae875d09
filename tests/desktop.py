"""A private desktop session for tests that need a real notification daemon.

    with desktop_session() as desktop:        # skips the test when the programs are missing
        desktop.apply(monkeypatch)            # DISPLAY / DBUS_SESSION_BUS_ADDRESS for this process
        subprocess.run([...], env=desktop.env)  # or for a child process
        notes = dunst_history(desktop.env)    # what dunst was asked to show

The session is a D-Bus session bus of its own (dbus-daemon with a config written to a temporary
folder, no service activation, so nothing else gets started), an Xvfb server on a free display
number (Xvfb picks it: -displayfd) and dunst. Every process is a child of the test process and
is stopped and reaped on exit. Debian packages: dbus (dbus-daemon, dbus-send), xvfb, dunst
(dunst, dunstctl; its dependencies bring systemd's busctl, which `dunstctl history` uses).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

#: program -> the Debian package that provides it
PROGRAMS = {
    "dbus-daemon": "dbus",
    "dbus-send": "dbus",
    "Xvfb": "xvfb",
    "dunst": "dunst",
    "dunstctl": "dunst",
    "busctl": "systemd",
}

# A session bus that only we use: a socket in our folder, anyone (us) may own any name, and no
# <servicedir>, so a call to a missing service fails instead of starting one.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

DUNSTRC = """[global]
    history_length = 100
    show_indicators = no
"""

T = TypeVar("T")


@dataclass(frozen=True)
class DesktopSession:
    display: str  # ":N"
    bus_address: str  # DBUS_SESSION_BUS_ADDRESS of the private bus
    env: dict[str, str]  # os.environ plus the two variables: for child processes
    folder: Path  # the session's temporary folder (logs, sockets); removed on exit
    pids: tuple[int, ...]  # dbus-daemon, Xvfb, dunst: all stopped and reaped on exit

    @property
    def variables(self) -> dict[str, str]:
        return {"DISPLAY": self.display, "DBUS_SESSION_BUS_ADDRESS": self.bus_address}

    def apply(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point this process at the session (undone by monkeypatch after the test)."""
        for key, value in self.variables.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)


def missing_programs() -> list[str]:
    return [f"{name} ({pkg})" for name, pkg in PROGRAMS.items() if shutil.which(name) is None]


def require_desktop_programs() -> None:
    missing = missing_programs()
    if missing:
        pytest.skip("desktop session needs programs that are not installed: " + ", ".join(missing))


def _wait_for(what: str, check: Callable[[], T | None], deadline: float) -> T:
    """Poll `check` (every 10 ms at first, then up to 100 ms) until it returns a value."""
    pause = 0.01
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise RuntimeError(f"desktop session: timed out waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.1)


def _line_from(path: Path, proc: subprocess.Popen[bytes], what: str) -> Callable[[], str | None]:
    """A check for `_wait_for`: the first complete line `proc` wrote to `path`."""

    def check() -> str | None:
        text = path.read_text() if path.exists() else ""
        if "\n" in text:
            return text.split("\n", 1)[0].strip()
        if proc.poll() is not None:
            raise RuntimeError(f"desktop session: {what} exited with status {proc.returncode}")
        return None

    return check


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()


def _log_tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-2000:]
    return ""


@contextlib.contextmanager
def desktop_session(*, timeout: float = 15.0) -> Iterator[DesktopSession]:
    """Start dbus-daemon, Xvfb and dunst; yield the session; stop them all. Skips the calling
    test when a program is missing. `timeout` bounds the whole start-up."""
    require_desktop_programs()
    deadline = time.monotonic() + timeout
    # Short path on purpose: a unix socket path must stay under 108 bytes.
    folder = Path(tempfile.mkdtemp(prefix="posture-desktop-"))
    procs: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], name: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        with (folder / f"{name}.log").open("wb") as log:
            kwargs.setdefault("stdout", log)
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=log, **kwargs)
        procs.append(proc)
        return proc

    try:
        config = folder / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=folder / "bus"))
        with (folder / "bus-address").open("wb") as out:
            bus = start(
                [
                    "dbus-daemon",
                    f"--config-file={config}",
                    "--nofork",
                    "--nopidfile",
                    "--print-address=1",
                ],
                "dbus-daemon",
                stdout=out,
            )
        address = _wait_for(
            "the D-Bus address", _line_from(folder / "bus-address", bus, "dbus-daemon"), deadline
        )

        # Xvfb picks a free display number itself and writes it to the file once it accepts
        # connections.
        with (folder / "display").open("wb") as out:
            xvfb = start(
                [
                    "Xvfb",
                    "-displayfd",
                    str(out.fileno()),
                    "-nolisten",
                    "tcp",
                    "-noreset",
                    "-screen",
                    "0",
                    "640x480x24",
                ],
                "xvfb",
                pass_fds=(out.fileno(),),
            )
        display = ":" + _wait_for(
            "Xvfb's display number", _line_from(folder / "display", xvfb, "Xvfb"), deadline
        )

        env = dict(os.environ)
        env.pop("WAYLAND_DISPLAY", None)
        env.update(DISPLAY=display, DBUS_SESSION_BUS_ADDRESS=address)
        dunstrc = folder / "dunstrc"
        dunstrc.write_text(DUNSTRC)
        dunst = start(["dunst", "-config", str(dunstrc)], "dunst", env=env)

        def dunst_answers() -> bool | None:
            if dunst.poll() is not None:
                raise RuntimeError(
                    f"desktop session: dunst exited with status {dunst.returncode}:\n"
                    + _log_tail(folder / "dunst.log")
                )
            asked = subprocess.run(
                ["dunstctl", "is-paused"], env=env, capture_output=True, timeout=5, check=False
            )
            return True if asked.returncode == 0 else None

        _wait_for("dunst to answer on the bus", dunst_answers, deadline)
        yield DesktopSession(
            display=display,
            bus_address=address,
            env=env,
            folder=folder,
            pids=tuple(proc.pid for proc in procs),
        )
    finally:
        for proc in reversed(procs):
            _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


def dunst_history(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every notification dunst got in this session, newest first, as plain dicts (summary,
    body, appname, timeout in microseconds, ...). Closes the ones on screen first: dunst lists
    a notification in its history only once it is closed."""
    for command in (["dunstctl", "close-all"], ["dunstctl", "history"]):
        done = subprocess.run(
            command, env=dict(env), capture_output=True, text=True, timeout=10, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    groups = json.loads(done.stdout)["data"]
    return [
        {key: field["data"] for key, field in entry.items()} for group in groups for entry in group
    ]


@contextlib.contextmanager
def private_bus(folder: Path, name: str, *, timeout: float = 10.0) -> Iterator[str]:
    """A dbus-daemon of our own listening in `folder` (the session bus's config: anyone may
    own any name, no service activation); yields its address, stops it on exit. Serves as
    a private "system" bus too: point DBUS_SYSTEM_BUS_ADDRESS at it."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("a private bus needs dbus-daemon (Debian package dbus)")
    config = folder / f"{name}.conf"
    config.write_text(BUS_CONFIG.format(socket=folder / name))
    printed = folder / f"{name}-address"
    with printed.open("wb") as out, (folder / f"{name}.log").open("wb") as log:
        argv = ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile"]
        proc = subprocess.Popen(
            [*argv, "--print-address=1"], stdin=subprocess.DEVNULL, stdout=out, stderr=log
        )
    try:
        yield _wait_for(
            f"the {name} bus's address",
            _line_from(printed, proc, "dbus-daemon"),
            time.monotonic() + timeout,
        )
    finally:
        _stop(proc)
