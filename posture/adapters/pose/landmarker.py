"""The pose estimator: MediaPipe's PoseLandmarker behind a small numpy interface.

MediaPipe types never leave this module. `detect` takes an RGB frame and returns plain
arrays, so the features, the judgment and every test of them run without mediapipe.

VIDEO mode tracks the person between frames instead of running the detector on each one
(about twice as fast on a 640x480 frame), so streams use it; unrelated stills use IMAGE
mode, where tracking from one photograph to the next would be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from posture.adapters.pose import native_log
from posture.adapters.pose.model import ModelInfo, resolve_model
from posture.core.frames import N_LANDMARKS, PoseResult, empty_result
from posture.errors import ModelError

if TYPE_CHECKING:
    from collections.abc import Sequence

Mode = Literal["image", "video"]


@dataclass(frozen=True)
class PoseOptions:
    mode: Mode = "video"
    num_poses: int = 1
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


def _to_arrays(
    poses: Sequence[Sequence[Any]], world: Sequence[Sequence[Any]]
) -> tuple[np.ndarray, np.ndarray]:
    # Column 3 is how far a landmark can be trusted: MediaPipe's visibility (not hidden
    # behind something) AND its presence (inside the picture). Visibility alone stays high
    # for shoulders cut off by the frame edge, which the model then invents.
    marks = np.array(
        [
            [(p.x, p.y, p.z, min(p.visibility or 0.0, p.presence or 0.0)) for p in pose]
            for pose in poses
        ],
        dtype=np.float32,
    ).reshape(len(poses), N_LANDMARKS, 4)
    world_marks = np.array(
        [[(p.x, p.y, p.z) for p in pose] for pose in world], dtype=np.float32
    ).reshape(len(world), N_LANDMARKS, 3)
    return marks, world_marks


@dataclass
class MediaPipePose:
    """PoseLandmarker, created at once and closed explicitly.

    Closing matters: left to the garbage collector at interpreter exit, mediapipe 1.2
    prints "Exception ignored in PoseLandmarker.__del__".
    """

    model: ModelInfo | None = None
    options: PoseOptions = field(default_factory=PoseOptions)
    _landmarker: Any = field(init=False, default=None, repr=False)
    _mp: Any = field(init=False, default=None, repr=False)
    _last_ms: int = field(init=False, default=-1, repr=False)

    def __post_init__(self) -> None:
        if self.model is None:
            self.model = resolve_model(None)
        native_log.install_if_requested()
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions
        from mediapipe.tasks.python.vision import (
            PoseLandmarker,
            PoseLandmarkerOptions,
            RunningMode,
        )

        self._mp = mp
        opts = self.options
        running = RunningMode.VIDEO if opts.mode == "video" else RunningMode.IMAGE
        try:
            self._landmarker = PoseLandmarker.create_from_options(
                PoseLandmarkerOptions(
                    base_options=BaseOptions(model_asset_path=str(self.model.path)),
                    running_mode=running,
                    num_poses=opts.num_poses,
                    min_pose_detection_confidence=opts.min_detection_confidence,
                    min_pose_presence_confidence=opts.min_presence_confidence,
                    min_tracking_confidence=opts.min_tracking_confidence,
                )
            )
        except (RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"MediaPipe cannot load {self.model.path} as a pose model ({first}): "
                "give a PoseLandmarker .task file, or leave out --model"
            ) from exc

    def detect(self, image: np.ndarray, timestamp: float) -> PoseResult:
        if self._landmarker is None:
            raise RuntimeError("detect() after close()")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape}")
        if not image.flags.c_contiguous:
            image = np.ascontiguousarray(image)
        height, width = image.shape[:2]
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=image)
        if self.options.mode == "video":
            ms = max(round(timestamp * 1000), self._last_ms + 1)
            self._last_ms = ms
            result = self._landmarker.detect_for_video(mp_image, ms)
        else:
            result = self._landmarker.detect(mp_image)
        if not result.pose_landmarks:
            return empty_result((width, height))
        marks, world = _to_arrays(result.pose_landmarks, result.pose_world_landmarks)
        return PoseResult(marks, world, (width, height))

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> MediaPipePose:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
