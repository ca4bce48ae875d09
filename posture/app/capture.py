"""Collect calibration frames: from a camera with a countdown and a progress bar, or every
frame of the files given. Only brightness and landmarks are kept; frames are dropped."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import PurePath
from typing import TYPE_CHECKING

from posture.core.calibration import CalibrationError, FrameStats, frame_brightness
from posture.core.preview import GateWatch, calibration_scene
from posture.core.profile import Camera
from posture.errors import Cancelled

if TYPE_CHECKING:
    from posture.app.live_view import LiveView
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
#: The preview window's title while calibrating (tests find the window by it).
TITLE = "posture calibrate"
CANCELLED = "calibration cancelled: nothing saved"


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
    view: LiveView | None = None,
    min_visibility: float = 0.5,
) -> tuple[list[FrameStats], Camera]:
    """Frames of every source; a camera is sampled for `seconds` after a countdown.
    The profile records the first source, and its picture size, as its camera. With a
    `view`, each frame is shown too (files at their own pace)."""
    frames: list[FrameStats] = []
    camera: Camera | None = None
    num_poses = max(pose.num_poses, CALIBRATION_POSES)
    for spec in specs:
        with closing(open_source(spec)) as source:
            mode: Mode = "image" if source.kind == "images" else "video"
            with closing(pose.estimator(mode, num_poses)) as estimator:
                if view is not None and view.active:
                    watch = Watched(estimator, view, GateWatch(min_visibility=min_visibility))
                    if source.kind == "camera":
                        kept = watch.camera(source, seconds, countdown, terminal)
                    else:
                        kept = watch.files(source)
                    for frame, stats in kept:
                        if camera is None:
                            height, width = frame.image.shape[:2]
                            camera = Camera(spec, source.kind, width, height)
                        frames.append(stats)
                    continue
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
    for frame, _ in sampled(iter(source), seconds, terminal, clock):
        yield frame


def sampled(
    frames: Iterator[Frame], seconds: float, terminal: Terminal, clock: Callable[[], float]
) -> Iterator[tuple[Frame, float]]:
    """The camera's frames for `seconds`, each with the share of the time done (0-1), and
    the terminal's progress bar; `CalibrationError` when the camera stops before."""
    ticks = max(1, round(seconds * 10))
    start = clock()
    with terminal.progress(ticks, "calibrating") as bar:
        shown = 0
        for frame in frames:
            elapsed = clock() - start
            yield frame, min(elapsed / seconds, 1.0)
            now = min(int(elapsed * 10), ticks)
            bar.update(now - shown)
            shown = now
            if elapsed >= seconds:
                return
    raise _stopped()


class Watched:
    """The frames of one source shown in the preview window as they are collected."""

    def __init__(
        self,
        estimator: PoseEstimator,
        view: LiveView,
        gates: GateWatch,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.estimator = estimator
        self.view = view
        self.gates = gates
        self.clock = clock
        self.sleep = sleep

    def _show(
        self, frame: Frame, *, countdown: int | None, progress: float | None, message: str
    ) -> FrameStats:
        stats = _stats(self.estimator, frame)
        gates, pose = self.gates.update(frame.timestamp, stats)
        scene = calibration_scene(
            TITLE,
            stats,
            gates,
            pose,
            min_visibility=self.gates.min_visibility,
            countdown=countdown,
            progress=progress,
            message=message,
        )
        if not self.view.show(frame.image, scene):
            raise Cancelled(CANCELLED)
        return stats

    def files(self, source: FrameSource) -> Iterator[tuple[Frame, FrameStats]]:
        """Every frame of a file, shown at the file's own pace."""
        from posture.app.live_view import Pacer

        pacer = Pacer(self.clock, self.sleep)
        total = source.length
        for frame in source:
            if self.view.active:  # without the window, files go as fast as the model
                pacer.wait(frame.timestamp)
            message = f"{PurePath(source.name).name}: frame {frame.index + 1}"
            progress = None if not total else (frame.index + 1) / total
            yield frame, self._show(frame, countdown=None, progress=progress, message=message)

    def camera(
        self, source: FrameSource, seconds: float, countdown: int, terminal: Terminal
    ) -> Iterator[tuple[Frame, FrameStats]]:
        """As `timed`, with the countdown's frames shown (not kept) and the sampled ones
        shown and kept."""
        terminal.say("Sit upright as you mean to sit, look at the screen, and keep still.")
        frames = iter(source)
        start = self.clock()
        said = None
        for frame in frames:
            left = countdown - (self.clock() - start)
            if left <= 0:
                break
            number = math.ceil(left)
            if number != said:
                terminal.say(f"  {number}…")
                said = number
            self._show(frame, countdown=number, progress=0.0, message="get ready")
        else:
            raise _stopped()
        for frame, progress in sampled(frames, seconds, terminal, self.clock):
            yield frame, self._show(frame, countdown=None, progress=progress, message="")


def _stopped() -> CalibrationError:
    return CalibrationError(
        "the camera stopped sending pictures during calibration (unplugged, or taken by "
        "another program?): run `posture calibrate` again"
    )
