"""A picture and what the pose model found in it, and the checks the monitor makes on a
picture before it pays for the model: is it blank, is it the one it saw last time.

Pure numpy. `Frame` and `PoseResult` are defined here, not in the video and pose
adapters that make them, so the ports (`posture.ports`) and the loop can name them
without importing OpenCV's or MediaPipe's side of the program.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from posture.core.calibration import BLANK_STD

N_LANDMARKS = 33

Image = npt.NDArray[np.uint8]


class Frame(NamedTuple):
    """One picture from a source."""

    timestamp: float
    """Seconds. Camera: `time.monotonic()` since the source opened. Video: the frame's
    position in the file. Images: `index * image_interval`."""
    image: Image
    """(H, W, 3) uint8, RGB order, C-contiguous."""
    origin: str
    """The file the frame came from (image or video path), or ``"camera:N"``."""
    index: int  # type: ignore[assignment]  # shadows tuple.index; the API names it so
    """0-based index of the frame within its source (for images: the file's position in
    the sorted listing)."""


@dataclass(frozen=True)
class PoseResult:
    """Every pose found in one frame.

    `landmarks` is (P, 33, 4): x and y normalised by the image width and height, z, and
    visibility (the smaller of MediaPipe's visibility and presence). `world` is (P, 33, 3)
    in metres around the hips. P is 0 when nobody is seen.
    """

    landmarks: np.ndarray
    world: np.ndarray
    image_size: tuple[int, int]  # (width, height)

    @property
    def found(self) -> bool:
        return bool(self.landmarks.shape[0] > 0)

    @property
    def aspect(self) -> float:
        return self.image_size[0] / self.image_size[1]


def empty_result(image_size: tuple[int, int]) -> PoseResult:
    return PoseResult(
        np.empty((0, N_LANDMARKS, 4), dtype=np.float32),
        np.empty((0, N_LANDMARKS, 3), dtype=np.float32),
        image_size,
    )


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A tiny grey picture (40x30 from 640x480) to tell changed frames from unchanged.

    Each thumbnail pixel averages 16 pixels (a 4x4 block of every 4th pixel), so a
    webcam's sensor noise (a few grey levels per pixel, after JPEG) shrinks about 4x and
    no longer looks like a change; taking single pixels, two frames of the same still
    picture differed as much as the threshold and the model ran on most looks anyway.
    """
    sub = image[::4, ::4].astype(np.float32)
    height, width = (sub.shape[0] // 4) * 4, (sub.shape[1] // 4) * 4
    if height == 0 or width == 0:
        grey_small: np.ndarray = sub @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return grey_small
    blocks = sub[:height, :width].reshape(height // 4, 4, width // 4, 4, 3).mean(axis=(1, 3))
    grey: np.ndarray = blocks @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return grey


def is_blank(thumb: np.ndarray) -> bool:
    """Whether a thumbnail has almost no contrast: a closed privacy shutter, a covered
    lens. The calibration's gate, so a picture it refuses the monitor refuses too."""
    return float(thumb.std()) < BLANK_STD


def unchanged(previous: np.ndarray | None, current: np.ndarray, threshold: float) -> bool:
    """Whether two thumbnails show the same picture, sensor noise aside."""
    if previous is None or previous.shape != current.shape:
        return False
    return float(np.mean(np.abs(current - previous))) < threshold
