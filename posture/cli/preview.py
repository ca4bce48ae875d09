"""`posture preview`: the camera (or a file) in a window with the monitor's judgment drawn
on it. Its pieces come from `posture.app.compose`; heavy imports stay inside the body."""

from __future__ import annotations

from pathlib import Path

import click

from posture.cli.group import SENSITIVITIES, ClickTerminal, model_option


@click.command()
@click.option(
    "--source",
    default="0",
    show_default=True,
    metavar="SOURCE",
    help="Camera index, or a video, image, folder or glob (played at its own pace).",
)
@click.option(
    "--profile",
    "profile_name",
    default=None,
    metavar="NAME",
    help="The calibrated profile to judge against (default: the monitor's).",
)
@click.option(
    "--sensitivity",
    type=click.Choice(SENSITIVITIES),
    default=None,
    help="Override the profile's sensitivity.",
)
@model_option
def preview(
    source: str, profile_name: str | None, sensitivity: str | None, model: Path | None
) -> None:
    """See why a verdict is what it is: the picture (mirrored) with your landmarks, where
    your calibrated shoulders were, the score, the problems, and each judged feature
    against its calibrated band. Esc or closing the window ends it.

    A running monitor is paused while the preview has the camera, and resumed after (a
    snooze you set is kept). Needs a display: without one it says so and exits 1.

    \b
    Examples:
      posture preview
      posture preview --profile standing
      posture preview --source clip.mp4
    """
    import contextlib

    from posture.adapters.system import paths
    from posture.adapters.video.sources import open_source
    from posture.app import compose
    from posture.app.preview import TITLE, run_preview
    from posture.config import load
    from posture.errors import PreviewUnavailable

    folders = paths.folders()
    cfg = load(folders.config_file)
    profile = compose.profile_files(folders).load(profile_name or cfg.monitor.profile)
    pose = compose.MediaPipeModel(cfg.pose, model=model)
    pose.sha256  # a bad --model fails before any window or camera opens  # noqa: B018
    terminal = ClickTerminal()
    try:
        window = compose.preview_window(TITLE)
    except PreviewUnavailable as err:
        raise PreviewUnavailable(f"{err}: `posture preview` needs one", exit_code=1) from None
    with contextlib.ExitStack() as stack:
        stack.callback(window.close)
        if source.isdigit():
            stack.enter_context(compose.camera_loan(terminal))
        run_preview(
            source,
            profile=profile,
            open_source=open_source,
            pose=pose,
            window=window,
            terminal=terminal,
            min_visibility=cfg.pose.min_visibility,
            sensitivity=sensitivity or cfg.judgment.sensitivity or None,
        )


COMMANDS = (preview,)
