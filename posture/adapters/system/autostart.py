"""Start the monitor at login: one entry in the place each desktop reads at login.

* Linux and other Unix desktops: an XDG autostart entry,
  `$XDG_CONFIG_HOME/autostart/posture.desktop` (`~/.config/autostart` by default).
* macOS: a launchd agent, `~/Library/LaunchAgents/io.github.posture.monitor.plist`.
* Windows: a script in the Startup folder,
  `%APPDATA%\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\posture.cmd`.

The entry takes effect at the next login; nothing is started now. The command to run is
the caller's (typically `[sys.executable, "-m", "posture", "start"]`), written with the
quoting each format needs and read back by `status`.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import plistlib
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from posture.errors import PostureError

DESKTOP_NAME = "posture.desktop"
LAUNCHD_LABEL = "io.github.posture.monitor"
CMD_NAME = "posture.cmd"

#: Characters that force an Exec argument into double quotes (Desktop Entry spec,
#: "The Exec key").
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
#: Inside double quotes these four take a backslash.
_EXEC_ESCAPED = frozenset('"`$\\')
#: Field codes a hand-edited Exec line may hold; they are not part of the command.
_FIELD_CODES = frozenset(
    {"%f", "%F", "%u", "%U", "%d", "%D", "%n", "%N", "%i", "%c", "%k", "%v", "%m"}
)
#: Characters that make cmd.exe act unless the argument is in double quotes.
_CMD_SPECIAL = frozenset(" \t&|<>^(),;=!")


@dataclass(frozen=True)
class AutostartStatus:
    enabled: bool
    path: Path
    command: list[str] = field(default_factory=list)


def _kind(platform: str) -> str:
    if platform == "win32":
        return "windows"
    if platform == "darwin":
        return "macos"
    return "xdg"


def entry_path(platform: str, home: Path, env: Mapping[str, str]) -> Path:
    """Where the login entry lives for `platform` (a `sys.platform` value)."""
    kind = _kind(platform)
    if kind == "macos":
        return home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    if kind == "windows":
        appdata = env.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return base / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup" / CMD_NAME
    # The XDG Base Directory spec: a relative XDG_CONFIG_HOME is invalid and ignored.
    xdg = env.get("XDG_CONFIG_HOME", "")
    config = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".config"
    return config / "autostart" / DESKTOP_NAME


def _resolve(platform: str, home: Path | None, env: Mapping[str, str] | None) -> tuple[str, Path]:
    home = Path.home() if home is None else home
    env = os.environ if env is None else env
    return _kind(platform), entry_path(platform, home, env)


def enable(
    command: Sequence[str],
    *,
    platform: str = sys.platform,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Write (or rewrite) the login entry that runs `command`; return its path."""
    command = list(command)
    if not command or not all(isinstance(arg, str) for arg in command) or not command[0]:
        raise ValueError(f"autostart needs a non-empty command of strings, got {command!r}")
    for arg in command:
        if any(ord(ch) < 0x20 or ch == "\x7f" for ch in arg):
            raise PostureError(f"cannot start {arg!r} at login: it contains a control character")
    kind, path = _resolve(platform, home, env)
    if kind == "macos":
        data = plistlib.dumps(
            {
                "Label": LAUNCHD_LABEL,
                "ProgramArguments": command,
                "RunAtLoad": True,
                "KeepAlive": False,
                # `posture start` returns once the monitor it spawned answers; without
                # this, launchd would kill that monitor along with the finished job.
                "AbandonProcessGroup": True,
                # Not throttled as a background job: it watches the user in real time.
                "ProcessType": "Interactive",
            }
        )
    elif kind == "windows":
        data = _cmd_script(command).encode("utf-8")
    else:
        data = _desktop_entry(command).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, data)
    except OSError as err:
        raise PostureError(
            f"cannot write the autostart entry {path}: {err.strerror or err}"
        ) from err
    return path


def disable(
    *,
    platform: str = sys.platform,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Path | None:
    """Remove the login entry; return its path, or None when there was none."""
    _, path = _resolve(platform, home, env)
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise PostureError(
            f"cannot remove the autostart entry {path}: {err.strerror or err}"
        ) from err
    return path


def status(
    *,
    platform: str = sys.platform,
    home: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> AutostartStatus:
    """Whether the login entry exists (and is not switched off), and what it runs."""
    kind, path = _resolve(platform, home, env)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return AutostartStatus(False, path, [])
    except OSError as err:
        raise PostureError(
            f"cannot read the autostart entry {path}: {err.strerror or err}"
        ) from err
    try:
        if kind == "macos":
            enabled, command = _parse_plist(data)
        elif kind == "windows":
            enabled, command = _parse_cmd(data.decode("utf-8"))
        else:
            enabled, command = _parse_desktop(data.decode("utf-8"))
    except (ValueError, configparser.Error) as err:
        raise PostureError(
            f"the autostart entry {path} is damaged ({err}): "
            "run `posture autostart disable` and enable it again"
        ) from err
    return AutostartStatus(enabled, path, command)


def _write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step, mode 0600."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


# -- XDG .desktop -----------------------------------------------------------------------


def desktop_exec_quote(command: Sequence[str]) -> str:
    """The value of an Exec key that runs `command`, as it is written in the file:
    arguments quoted per the Desktop Entry spec, then the string-value escapes."""
    words = []
    for arg in command:
        if not arg or any(ch in _EXEC_RESERVED for ch in arg):
            arg = '"' + "".join("\\" + ch if ch in _EXEC_ESCAPED else ch for ch in arg) + '"'
        words.append(arg.replace("%", "%%"))
    # The string-value escapes apply on top: a backslash is written as two.
    return " ".join(words).replace("\\", "\\\\")


def _unescape_string(value: str) -> str:
    """Undo the escapes of a Desktop Entry string value (\\s \\n \\t \\r \\\\)."""
    out = []
    chars = iter(value)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(nxt, "\\" + nxt))
    return "".join(out)


def desktop_exec_split(value: str) -> list[str]:
    """The command of an Exec value as read from the file (the inverse of
    `desktop_exec_quote`); field codes such as %U are dropped."""
    text = _unescape_string(value)
    words: list[str] = []
    word: list[str] = []
    started = quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "\\" and i + 1 < len(text) and text[i + 1] in _EXEC_ESCAPED:
                word.append(text[i + 1])
                i += 1
            elif ch == '"':
                quoted = False
            else:
                word.append(ch)
        elif ch == '"':
            quoted = started = True
        elif ch in " \t":
            if started:
                words.append("".join(word))
            word, started = [], False
        else:
            word.append(ch)
            started = True
        i += 1
    if quoted:
        raise ValueError("unterminated quote in Exec")
    if started:
        words.append("".join(word))
    return [w.replace("%%", "%") for w in words if w not in _FIELD_CODES]


def _desktop_entry(command: Sequence[str]) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=posture\n"
        "Comment=Watch your posture through the webcam\n"
        f"Exec={desktop_exec_quote(command)}\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def _parse_desktop(text: str) -> tuple[bool, list[str]]:
    parser = configparser.ConfigParser(
        interpolation=None, delimiters=("=",), comment_prefixes=("#",), strict=False
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    if not parser.has_section("Desktop Entry"):
        raise ValueError("no [Desktop Entry] group")
    entry = parser["Desktop Entry"]
    if "Exec" not in entry:
        raise ValueError("no Exec key")
    command = desktop_exec_split(entry["Exec"])
    # The autostart spec: Hidden=true means the entry was deleted; GNOME's own switch too.
    enabled = (
        entry.get("Hidden", "false").strip() != "true"
        and entry.get("X-GNOME-Autostart-enabled", "true").strip() != "false"
    )
    return enabled, command


# -- launchd plist ----------------------------------------------------------------------


def _parse_plist(data: bytes) -> tuple[bool, list[str]]:
    try:
        job: Any = plistlib.loads(data)
    except plistlib.InvalidFileException as err:
        raise ValueError("not a property list") from err
    if not isinstance(job, dict):
        raise ValueError("not a launchd job")
    args = job.get("ProgramArguments")
    if args is None and isinstance(job.get("Program"), str):
        args = [job["Program"]]
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError("no ProgramArguments")
    return job.get("Disabled") is not True, list(args)


# -- Windows Startup script -------------------------------------------------------------


def _cmd_quote(arg: str) -> str:
    if '"' in arg:
        raise PostureError(f"cannot start {arg!r} at login on Windows: it contains a double quote")
    arg = arg.replace("%", "%%")
    if arg and not any(ch in _CMD_SPECIAL for ch in arg):
        return arg
    # Backslashes before the closing quote are doubled, as the C runtime expects.
    trailing = len(arg) - len(arg.rstrip("\\"))
    return '"' + arg + "\\" * trailing + '"'


def _cmd_script(command: Sequence[str]) -> str:
    line = " ".join(_cmd_quote(arg) for arg in command)
    return (
        "@echo off\r\n"
        # The script is UTF-8; without this cmd.exe reads it in the OEM code page.
        "chcp 65001 >nul\r\n"
        "rem Written by `posture autostart enable`; remove with `posture autostart disable`.\r\n"
        f'start "" /min {line}\r\n'
    )


def _cmd_split(text: str) -> list[str]:
    """Split a command line as the C runtime does, after cmd.exe's %% -> %."""
    text = text.replace("%%", "%")
    words: list[str] = []
    word: list[str] = []
    started = quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            run = len(text[i:]) - len(text[i:].lstrip("\\"))
            if i + run < len(text) and text[i + run] == '"':
                word.append("\\" * (run // 2))
                if run % 2:
                    word.append('"')
                    i += run + 1
                else:
                    i += run
                started = True
                continue
            word.append("\\" * run)
            started = True
            i += run
            continue
        if ch == '"':
            quoted = not quoted
            started = True
        elif ch in " \t" and not quoted:
            if started:
                words.append("".join(word))
            word, started = [], False
        else:
            word.append(ch)
            started = True
        i += 1
    if started:
        words.append("".join(word))
    return words


def _parse_cmd(text: str) -> tuple[bool, list[str]]:
    prefix = 'start "" /min '
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.lower().startswith(prefix):
            return True, _cmd_split(stripped[len(prefix) :])
    raise ValueError("no `start` line")
