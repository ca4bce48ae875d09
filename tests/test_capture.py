"""The camera side of calibration, driven by a fake camera and a fake clock (there is no
webcam on a CI machine; the file side runs for real in test_calibrate.py)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from posture.adapters.video.sources import Frame
from posture.app.capture import timed
from posture.core.calibration import CalibrationError


class FakeCamera:
    name = "0"
    kind = "camera"

    def __init__(self, frames: int) -> None:
        self.frames = frames

    def __iter__(self) -> Iterator[Frame]:
        image = np.zeros((4, 4, 3), np.uint8)
        for i in range(self.frames):
            yield Frame(i * 0.1, image, "camera:0", i)

    def close(self) -> None:
        pass


class FakeClock:
    """Advances 0.1 s each time it is read, like a camera giving ten frames a second."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.1
        return self.now


def test_samples_for_the_given_seconds_after_a_countdown() -> None:
    said: list[str] = []
    slept: list[float] = []
    frames = list(
        timed(FakeCamera(1000), 2.0, 3, said.append, clock=FakeClock(), sleep=slept.append)
    )
    assert 19 <= len(frames) <= 21  # 2 s at ten frames a second
    assert said[0].startswith("Sit upright")
    assert said[1:] == ["  3…", "  2…", "  1…"]
    assert slept == [1, 1, 1]


def test_a_camera_that_stops_during_calibration_is_an_error() -> None:
    with pytest.raises(CalibrationError, match="camera stopped sending pictures"):
        list(timed(FakeCamera(5), 2.0, 0, lambda _: None, clock=FakeClock(), sleep=lambda _: None))
