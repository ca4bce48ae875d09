"""The command line as a whole: help everywhere, cheap start, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from posture.cli.main import cli
from tests.conftest import run_posture


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
    return found


COMMANDS = _commands(cli)


def test_there_are_commands() -> None:
    assert ("analyze",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"`posture {' '.join(path)} --help` shows no example"


def test_top_level_help_shows_the_everyday_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    examples = result.output.split("Options:")[0]
    for command in ("calibrate", "start", "status", "pause", "report", "demo"):
        assert f"  posture {command}" in examples, command


def test_help_and_version_do_not_import_mediapipe_or_opencv() -> None:
    code = (
        "import sys\n"
        "from posture.cli.main import cli\n"
        "for args in (['--help'], ['--version'], ['analyze', '--help']):\n"
        "    try:\n"
        "        cli(args, prog_name='posture')\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "heavy = sorted(m for m in ('mediapipe', 'cv2', 'numpy') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY=\n" in out, out


def test_python_dash_m_and_version() -> None:
    result = run_posture("--version")
    assert result.returncode == 0
    assert "posture, version" in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = run_posture("analyse")
    assert result.returncode == 2
    assert "No such command 'analyse'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cameras_says_clearly_when_none_answers() -> None:
    result = run_posture("cameras", "--max-index", "2")
    if result.returncode == 0:
        pytest.skip(f"a camera answers on this machine: {result.stdout.split()}")
    assert result.returncode == 1
    assert result.stderr == (
        "posture: error: no camera answers at indexes 0 to 1: plug one in, "
        "or close the program that holds it\n"
    )
