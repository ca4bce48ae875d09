"""The `posture` command group: its global options and the one-line error handling every
command shares. The commands live in `analysis`, `monitor` and `report`; `main` adds them.

Every command imports what it needs inside its body: `posture --help` and the commands that
never touch the camera start without loading mediapipe or OpenCV (about a second saved).
User errors (`PostureError`) become one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from posture import __version__
from posture.adapters.pose import native_log
from posture.errors import PostureError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from posture.config import Config

#: Kept here rather than imported, so `--help` needs no other module.
SENSITIVITIES = ("low", "medium", "high")


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PostureError as err:
            native_log.reported(str(err))  # its native copy, if any, is not shown again
            click.echo(f"posture: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("posture: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # `posture analyze ... | head`: the reader went away; that is not an error.
            sys.stderr.close()
            ctx.exit(0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posture")
@click.option(
    "--verbose", "-v", is_flag=True, help="Show MediaPipe's native log lines and debug logging."
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Watch your posture through the webcam, privately, for nearly no CPU.

    \b
    Examples, every day:
      posture calibrate          once per desk: sit upright, look at the screen
      posture start              the monitor in the background (autostart enable: at login)
      posture status             what it sees now, and today's upright share
      posture pause --for 1h     camera off for an hour (resume: at once)
      posture report             the latest session; --today, --days 7, --open
    \b
    Examples, to try it out:
      posture demo               the whole product on a made-up clip, no webcam needed
      posture analyze photo.jpg  the posture features of one photograph
    """
    ctx.obj = {"verbose": verbose}


#: Shared by every command that runs the pose model.
model_option = click.option(
    "--model",
    type=click.Path(dir_okay=True, path_type=Path),
    default=None,
    help="A PoseLandmarker .task file instead of the bundled full model.",
)


def load_config() -> Config:
    from posture import config
    from posture.adapters.system import paths

    return config.load(paths.folders().config_file)


class ClickTerminal:
    """The real `Terminal`: click's output, its progress bar on stderr."""

    def show(self, text: str) -> None:
        click.echo(text)

    def say(self, text: str) -> None:
        click.echo(text, err=True)

    def progress(self, length: int, label: str) -> ProgressBar[int]:
        return click.progressbar(length=length, label=label, file=sys.stderr)
