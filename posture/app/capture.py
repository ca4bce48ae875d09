"""Collect calibration frames: from a camera with a countdown and a progress bar, or every
frame of the files given. Only brightness and landmarks are kept; frames are dropped."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from typing import TYPE_CHECKING

from posture.core.calibration import CalibrationError, FrameStats, frame_brightness
from posture.core.profile import Camera

if TYPE_CHECKING:
    from posture.core.frames import Frame
    from posture.ports import (
        FrameSource,
        Mode,
        PoseEstimator,
        PoseModel,
        SourceOpener,
        Terminal,
    )

#: Calibration looks for two people so that a second one in view can be refused.
CALIBRATION_POSES = 2


def _stats(pose: PoseEstimator, frame: Frame) -> FrameStats:
    result = pose.detect(frame.image, frame.timestamp)
    mean, std = frame_brightness(frame.image)
    return FrameStats(mean, std, result.landmarks, result.aspect)


def collect(
    specs: Sequence[str],
    *,
    open_source: SourceOpener,
    pose: PoseModel,
    seconds: float,
    countdown: int,
    terminal: Terminal,
) -> tuple[list[FrameStats], Camera]:
    """Frames of every source; a camera is sampled for `seconds` after a countdown.
    The profile records the first source, and its picture size, as its camera."""
    frames: list[FrameStats] = []
    camera: Camera | None = None
    num_poses = max(pose.num_poses, CALIBRATION_POSES)
    for spec in specs:
        with closing(open_source(spec)) as source:
            mode: Mode = "image" if source.kind == "images" else "video"
            with closing(pose.estimator(mode, num_poses)) as estimator:
                if source.kind == "camera":
                    stream = timed(source, seconds, countdown, terminal)
                else:
                    stream = iter(source)
                for frame in stream:
                    if camera is None:
                        height, width = frame.image.shape[:2]
                        camera = Camera(spec, source.kind, width, height)
                    frames.append(_stats(estimator, frame))
    if camera is None:
        raise CalibrationError("calibration got no frames: check the source and try again")
    return frames, camera


def timed(
    source: FrameSource,
    seconds: float,
    countdown: int,
    terminal: Terminal,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Frame]:
    """The camera's frames for `seconds` after a countdown, with a progress bar."""
    say = terminal.say
    say("Sit upright as you mean to sit, look at the screen, and keep still.")
    for n in range(countdown, 0, -1):
        say(f"  {n}…")
        sleep(1)
    ticks = max(1, round(seconds * 10))
    start = clock()
    with terminal.progress(ticks, "calibrating") as bar:
        shown = 0
        for frame in source:
            yield frame
            elapsed = clock() - start
            now = min(int(elapsed * 10), ticks)
            bar.update(now - shown)
            shown = now
            if elapsed >= seconds:
                return
    raise CalibrationError(
        "the camera stopped sending pictures during calibration (unplugged, or taken by "
        "another program?): run `posture calibrate` again"
    )
