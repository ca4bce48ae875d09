"""The commands that look at pictures: analyze, calibrate, cameras. The real pieces their
use cases are handed (sources, the MediaPipe pose model, the profile files) come from
`posture.app.compose`.

The adapters are imported inside the functions, never at the top: `posture --help` loads
neither numpy, OpenCV nor mediapipe.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from posture.cli.group import SENSITIVITIES, ClickTerminal, model_option
from posture.errors import PostureError

if TYPE_CHECKING:
    from posture.adapters.system.paths import Folders
    from posture.config import Config
    from posture.ports import PreviewWindow


def _folders_and_config() -> tuple[Folders, Config]:
    """The user's folders, resolved once per command, and the config file in them."""
    from posture import config
    from posture.adapters.system import paths

    folders = paths.folders()
    return folders, config.load(folders.config_file)


@click.command()
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "jsonl", "csv"]),
    default="table",
    show_default=True,
    help="Output format on stdout.",
)
@model_option
@click.option(
    "--max-frames",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many frames per source (a camera runs until Ctrl-C otherwise).",
)
@click.option(
    "--num-poses", type=click.IntRange(1, 5), default=None, help="How many people to look for."
)
@click.option(
    "--profile",
    "profile_name",
    default=None,
    metavar="NAME",
    help="Judge every frame against this calibrated profile; adds verdicts and episodes.",
)
@click.option(
    "--sensitivity",
    type=click.Choice(SENSITIVITIES),
    default=None,
    help="Override the profile's sensitivity.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    help="Seconds between two images of a folder or glob (they have no time of their own).",
)
def analyze(
    sources: tuple[str, ...],
    fmt: str,
    model: Path | None,
    max_frames: int | None,
    num_poses: int | None,
    profile_name: str | None,
    sensitivity: str | None,
    interval: float,
) -> None:
    """Turn images, videos or a webcam into pose landmarks and posture features.

    SOURCE is an image, a folder of images, a glob such as 'shots/*.jpg' (quoted), a video
    file, or a camera index such as 0. Any mix may be given; each frame becomes one row.

    \b
    Examples:
      posture analyze me.jpg
      posture analyze shots/ --format jsonl > features.jsonl
      posture analyze clip.mp4 --format csv --model pose_landmarker_heavy.task
      posture analyze clip.mp4 --profile default     verdicts and slouch episodes
    """
    from posture.adapters.video.sources import open_source
    from posture.app.analyze import run_analyze
    from posture.app.compose import MediaPipeModel, profile_files
    from posture.config import episode_settings

    folders, cfg = _folders_and_config()
    profile = None
    if profile_name is not None:
        profile = profile_files(folders).load(profile_name)
    run_analyze(
        sources,
        open_source=open_source,
        pose=MediaPipeModel(cfg.pose, model=model, num_poses=num_poses),
        fmt=fmt,
        min_visibility=cfg.pose.min_visibility,
        max_frames=max_frames,
        out=sys.stdout,
        terminal=ClickTerminal(),
        profile=profile,
        sensitivity=sensitivity or cfg.judgment.sensitivity or None,
        image_interval=interval,
        settings=episode_settings(cfg.judgment) if profile is not None else None,
    )


@click.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="SOURCE",
    help="Camera index (default 0), or a video, image, folder or glob; may be repeated.",
)
@click.option("--profile", "profile_name", default="default", show_default=True, metavar="NAME")
@click.option(
    "--seconds",
    type=click.FloatRange(2, 120),
    default=10.0,
    show_default=True,
    help="How long to sample a camera.",
)
@click.option(
    "--sensitivity",
    type=click.Choice(SENSITIVITIES),
    default="medium",
    show_default=True,
    help="How far from your upright posture counts as a problem.",
)
@click.option("--show", is_flag=True, help="Print the saved profile instead of calibrating.")
@model_option
@click.option(
    "--countdown",
    type=click.IntRange(0, 10),
    default=3,
    show_default=True,
    help="Seconds to get ready before a camera is sampled.",
)
@click.option(
    "--preview/--no-preview",
    default=None,
    help="Show the picture in a window with the gates live; Esc cancels. Default: on when "
    "a display is available and posture runs in a terminal.",
)
def calibrate(
    sources: tuple[str, ...],
    profile_name: str,
    seconds: float,
    sensitivity: str,
    show: bool,
    model: Path | None,
    countdown: int,
    preview: bool | None,
) -> None:
    """Record your upright posture: every verdict is measured against it.

    With a camera: sit upright as you mean to sit, look at the screen and keep still for
    the countdown and the sampling. With files: every frame is used. Calibration refuses
    (and saves nothing) when it cannot see you well: no person, a blank or dark picture,
    face or shoulders out of view, two people, or movement.

    With the preview (a window: the picture mirrored, your landmarks, where your shoulders
    belong, each gate as it stands, the countdown and the progress) a file is played at
    its own pace. A running monitor is paused while a camera is calibrated, and resumed
    after (a snooze you set is kept).

    \b
    Examples:
      posture calibrate
      posture calibrate --profile standing --sensitivity high
      posture calibrate --source upright1.jpg --source upright2.jpg
      posture calibrate --source clip.mp4 --preview
      posture calibrate --show
    """
    from posture.app.calibrate import run_calibrate, show_profile
    from posture.app.compose import MediaPipeModel, profile_files

    if show:
        from posture.adapters.system import paths

        show_profile(profile_files(paths.folders()), profile_name, ClickTerminal())
        return
    from posture.adapters.video.sources import open_source
    from posture.app import compose
    from posture.app.capture import TITLE

    folders, cfg = _folders_and_config()
    terminal = ClickTerminal()
    specs = list(sources) or ["0"]
    window = _preview_window(TITLE, preview, terminal, "calibrating in the terminal")
    with contextlib.ExitStack() as stack:
        loan = stack.enter_context(compose.camera_loan(terminal)) if _camera(specs) else None
        run_calibrate(
            specs,
            profile_name=profile_name,
            seconds=seconds,
            sensitivity=sensitivity,
            open_source=open_source,
            pose=MediaPipeModel(cfg.pose, model=model),
            store=profile_files(folders),
            min_visibility=cfg.pose.min_visibility,
            countdown=countdown,
            terminal=terminal,
            window=window,
        )
    if (loan is not None and loan.running) or compose.monitor_answers():
        terminal.say(
            "posture: the running monitor still uses the calibration it started with: "
            "restart it (`posture stop && posture start`) to use this one"
        )


def _camera(specs: list[str]) -> bool:
    """Whether a camera index is among the sources (then the monitor lends its camera)."""
    return any(spec.isdigit() for spec in specs)


def _preview_window(
    title: str, wanted: bool | None, terminal: ClickTerminal, instead: str
) -> PreviewWindow | None:
    """The preview window when asked for (`wanted`), or by default when a display is
    there and posture runs in a terminal (a script or a test gets the text flow). Asked
    for but impossible: one line, and the text flow (`instead` says what happens)."""
    from posture.app import compose
    from posture.errors import PreviewUnavailable

    if wanted is None:
        # macOS and Windows always have a display; an X11 one (XWayland too) sets DISPLAY.
        has_display = sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY"))
        wanted = has_display and sys.stderr.isatty()
    if not wanted:
        return None
    try:
        return compose.preview_window(title)
    except PreviewUnavailable as err:
        terminal.say(f"posture: {err}: {instead}")
        return None


@click.command()
@click.option(
    "--max-index",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Probe camera indexes 0 .. N-1.",
)
def cameras(max_index: int) -> None:
    """List the camera indexes that answer, for `--source` and `analyze`.

    Exits 1 when no camera answers (no webcam, or another program holds it).

    \b
    Example:
      posture cameras
    """
    from posture.adapters.video.sources import available_cameras

    found = available_cameras(max_index)
    if not found:
        raise PostureError(
            f"no camera answers at indexes 0 to {max_index - 1}: plug one in, or close the "
            "program that holds it",
            exit_code=1,
        )
    for index in found:
        click.echo(index)


COMMANDS = (analyze, calibrate, cameras)
