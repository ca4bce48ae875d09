"""Login entries for each platform, written into a temporary HOME (never the real one)."""

from __future__ import annotations

import configparser
import plistlib
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from posture.adapters.system import autostart
from posture.adapters.system.autostart import (
    AutostartStatus,
    desktop_exec_quote,
    desktop_exec_split,
    disable,
    enable,
    entry_path,
    status,
)
from posture.errors import PostureError
from tests.conftest import run_posture

PLATFORMS = ("linux", "darwin", "win32")
COMMAND = ["/opt/py 3.11/bin/python3", "-m", "posture", "start"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def env_for(platform: str, home: Path) -> dict[str, str]:
    return {"APPDATA": str(home / "AppData" / "Roaming")} if platform == "win32" else {}


def expected_path(platform: str, home: Path) -> Path:
    return {
        "linux": home / ".config" / "autostart" / "posture.desktop",
        "darwin": home / "Library" / "LaunchAgents" / "io.github.posture.monitor.plist",
        "win32": home
        / "AppData"
        / "Roaming"
        / "Microsoft"
        / "Windows"
        / "Start Menu"
        / "Programs"
        / "Startup"
        / "posture.cmd",
    }[platform]


def read_desktop(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_enable_status_disable(platform: str, home: Path) -> None:
    env = env_for(platform, home)
    where = expected_path(platform, home)
    assert entry_path(platform, home, env) == where
    assert status(platform=platform, home=home, env=env) == AutostartStatus(False, where, [])

    assert enable(COMMAND, platform=platform, home=home, env=env) == where
    assert where.is_file()
    assert stat.S_IMODE(where.stat().st_mode) == 0o600
    assert list(where.parent.iterdir()) == [where]  # no temporary file left behind
    assert status(platform=platform, home=home, env=env) == AutostartStatus(True, where, COMMAND)

    # enabling again rewrites the entry with the new command
    other = ["/usr/bin/python3", "-m", "posture", "start", "--profile", "desk"]
    enable(other, platform=platform, home=home, env=env)
    assert status(platform=platform, home=home, env=env).command == other

    assert disable(platform=platform, home=home, env=env) == where
    assert not where.exists()
    assert status(platform=platform, home=home, env=env) == AutostartStatus(False, where, [])
    assert disable(platform=platform, home=home, env=env) is None


def test_desktop_entry_content(home: Path) -> None:
    path = enable(COMMAND, platform="linux", home=home, env={})
    entry = read_desktop(path)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "posture"
    assert entry["Comment"]
    assert entry["Exec"] == '"/opt/py 3.11/bin/python3" -m posture start'
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["Terminal"] == "false"
    assert entry["NoDisplay"] == "true"


def test_plist_content(home: Path) -> None:
    path = enable(COMMAND, platform="darwin", home=home, env={})
    with path.open("rb") as f:
        job = plistlib.load(f)
    assert job["Label"] == "io.github.posture.monitor"
    assert job["ProgramArguments"] == COMMAND
    assert job["RunAtLoad"] is True
    assert job["KeepAlive"] is False
    assert job["AbandonProcessGroup"] is True


def test_cmd_content(home: Path) -> None:
    env = env_for("win32", home)
    command = [r"C:\Program Files\Python311\python.exe", "-m", "posture", "start"]
    path = enable(command, platform="win32", home=home, env=env)
    data = path.read_bytes()
    assert b"\r\n" in data
    lines = data.decode().splitlines()
    assert lines[0] == "@echo off"
    assert lines[-1] == r'start "" /min "C:\Program Files\Python311\python.exe" -m posture start'
    assert status(platform="win32", home=home, env=env).command == command


def test_xdg_config_home_is_respected(home: Path, tmp_path: Path) -> None:
    config = tmp_path / "xdg-config"
    env = {"XDG_CONFIG_HOME": str(config)}
    path = enable(COMMAND, platform="linux", home=home, env=env)
    assert path == config / "autostart" / "posture.desktop"
    assert path.is_file()
    assert not (home / ".config").exists()
    assert status(platform="linux", home=home, env=env).enabled
    assert not status(platform="linux", home=home, env={}).enabled


def test_relative_xdg_config_home_is_ignored(home: Path) -> None:
    path = entry_path("linux", home, {"XDG_CONFIG_HOME": "relative/config"})
    assert path == home / ".config" / "autostart" / "posture.desktop"


def test_other_unix_uses_xdg(home: Path) -> None:
    assert entry_path("freebsd14", home, {}) == expected_path("linux", home)


def test_windows_without_appdata(home: Path) -> None:
    assert entry_path("win32", home, {}) == expected_path("win32", home)


AWKWARD_COMMANDS = [
    ["/usr/bin/python3", "-c", 'print("hello world")'],
    ["/home/o'brien/my env/bin/python", "-m", "posture", "start"],
    ["/usr/bin/env", "A=$HOME", "`x`", "back\\slash", "trailing\\", "100%", "%U"],
    ["/usr/bin/python3", "", "a\tb", "semi;colon", "ünïcödé", "#hash", "~"],
]


@pytest.mark.parametrize("command", AWKWARD_COMMANDS)
def test_desktop_exec_quoting_round_trips(command: list[str], home: Path) -> None:
    if any("\t" in arg for arg in command):
        with pytest.raises(PostureError, match="control character"):
            enable(command, platform="linux", home=home, env={})
        command = [arg.replace("\t", " ") for arg in command]
    assert desktop_exec_split(desktop_exec_quote(command)) == command
    enable(command, platform="linux", home=home, env={})
    assert status(platform="linux", home=home, env={}).command == command


@pytest.mark.parametrize("command", AWKWARD_COMMANDS)
def test_plist_round_trips(command: list[str], home: Path) -> None:
    command = [arg.replace("\t", " ") for arg in command]
    enable(command, platform="darwin", home=home, env={})
    assert status(platform="darwin", home=home, env={}).command == command


@pytest.mark.parametrize("command", [c for c in AWKWARD_COMMANDS if not any('"' in a for a in c)])
def test_cmd_round_trips(command: list[str], home: Path) -> None:
    command = [arg.replace("\t", " ") for arg in command]
    env = env_for("win32", home)
    enable(command, platform="win32", home=home, env=env)
    assert status(platform="win32", home=home, env=env).command == command


def test_cmd_refuses_double_quotes(home: Path) -> None:
    with pytest.raises(PostureError, match="double quote"):
        enable(["python", 'say "hi"'], platform="win32", home=home, env=env_for("win32", home))


def test_desktop_exec_quoting_examples() -> None:
    # The Desktop Entry spec's rules: reserved characters force quotes; inside them
    # " ` $ \ take a backslash; % doubles; then the string escape doubles each backslash.
    assert (
        desktop_exec_quote(["/usr/bin/python3", "-m", "posture"]) == "/usr/bin/python3 -m posture"
    )
    assert desktop_exec_quote(["/a b/py"]) == '"/a b/py"'
    assert desktop_exec_quote(['say "hi"']) == '"say \\\\"hi\\\\""'
    assert desktop_exec_quote(["a\\b"]) == '"a\\\\\\\\b"'
    assert desktop_exec_quote(["50%"]) == "50%%"
    assert desktop_exec_quote([""]) == '""'


def test_exec_field_codes_are_dropped() -> None:
    assert desktop_exec_split("/usr/bin/posture start %U") == ["/usr/bin/posture", "start"]


def test_hidden_or_switched_off_entry_is_disabled(home: Path) -> None:
    path = enable(COMMAND, platform="linux", home=home, env={})
    text = path.read_text()
    path.write_text(text + "Hidden=true\n")
    assert status(platform="linux", home=home, env={}) == AutostartStatus(False, path, COMMAND)
    path.write_text(
        text.replace("X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false")
    )
    assert not status(platform="linux", home=home, env={}).enabled


@pytest.mark.parametrize("platform", PLATFORMS)
def test_damaged_entry_is_a_posture_error(platform: str, home: Path) -> None:
    env = env_for(platform, home)
    path = entry_path(platform, home, env)
    path.parent.mkdir(parents=True)
    path.write_text("garbage without structure\n")
    with pytest.raises(PostureError, match="damaged"):
        status(platform=platform, home=home, env=env)
    assert disable(platform=platform, home=home, env=env) == path


def test_empty_command_is_a_bug(home: Path) -> None:
    with pytest.raises(ValueError):
        enable([], platform="linux", home=home, env={})


@pytest.mark.parametrize("platform", PLATFORMS)
def test_control_characters_are_refused(platform: str, home: Path) -> None:
    with pytest.raises(PostureError, match="control character"):
        enable(["python", "a\nb"], platform=platform, home=home, env=env_for(platform, home))
    assert not entry_path(platform, home, env_for(platform, home)).exists()


def test_defaults_use_the_real_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Without home= and env=, Path.home() and os.environ are used; point both at tmp.
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    path = enable(COMMAND, platform="linux")
    assert path == home / ".config" / "autostart" / "posture.desktop"
    assert status(platform="linux").enabled
    assert disable(platform="linux") == path


DESKTOP_FILE_VALIDATE = shutil.which("desktop-file-validate")


@pytest.mark.skipif(
    DESKTOP_FILE_VALIDATE is None,
    reason="desktop-file-validate not installed (apt-get install desktop-file-utils)",
)
@pytest.mark.parametrize("command", [COMMAND, *AWKWARD_COMMANDS[:3]])
def test_desktop_file_validates(command: list[str], home: Path) -> None:
    assert DESKTOP_FILE_VALIDATE is not None
    path = enable(command, platform="linux", home=home, env={})
    result = subprocess.run(
        [DESKTOP_FILE_VALIDATE, str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in (result.stdout + result.stderr).lower()


def test_module_constants() -> None:
    assert autostart.LAUNCHD_LABEL == "io.github.posture.monitor"


def test_enable_tray_from_the_command_line(tmp_path: Path) -> None:
    """`posture autostart enable --tray`: the login entry runs `python -m posture tray`
    (which starts the monitor), and `status` recognises it as posture's own."""
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    enabled = run_posture("autostart", "enable", "--tray", env=env)
    assert enabled.returncode == 0, enabled.stderr
    assert enabled.stdout.startswith("posture's tray (and the monitor) will start at your next")
    entry = tmp_path / "cfg" / "autostart" / "posture.desktop"
    assert status(platform="linux", home=tmp_path, env=env).command == [
        sys.executable,
        "-m",
        "posture",
        "tray",
        "--wait",
        "60",  # the panel may come up after the login entries
    ]
    shown = run_posture("autostart", "status", env=env)
    assert f"autostart: enabled ({entry})" in shown.stdout
    assert "starts the tray icon, which starts the monitor" in shown.stdout
    assert "note:" not in shown.stdout
    plain = run_posture("autostart", "enable", env=env)
    assert plain.returncode == 0 and "-m posture start" in entry.read_text()
    assert "note:" not in run_posture("autostart", "status", env=env).stdout
