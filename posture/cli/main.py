"""The `posture` console script: the group with every command added explicitly."""

from __future__ import annotations

import sys

from posture.adapters.pose import native_log
from posture.cli import analysis, monitor, preview, report, tray
from posture.cli.group import cli

__all__ = ["cli", "main"]

for _module in (analysis, monitor, preview, report, tray):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def _wants_verbose(argv: list[str]) -> bool:
    """Whether --verbose/-v stands among the global options (before the command name)."""
    for arg in argv:
        if arg in ("-v", "--verbose"):
            return True
        if not arg.startswith("-"):
            return False
    return False


def main() -> None:
    """The console script. Quieting native logs is decided here, not in the group callback,
    because it rewires the process's stderr: an in-process test runner must not get that."""
    if not _wants_verbose(sys.argv[1:]):
        native_log.request_quiet()
    cli(prog_name="posture")
