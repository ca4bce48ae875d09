"""The camera side of calibration, driven by a fake camera and a fake clock (there is no
webcam on a CI machine; the file side runs for real in test_calibrate.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from posture.adapters.pose.landmarker import Mode, PoseResult, empty_result
from posture.adapters.video.sources import Frame
from posture.app.capture import collect, timed
from posture.core.calibration import CalibrationError
from posture.core.profile import Camera


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


class FakeTerminal:
    """Keeps what the use case said and how far its progress bar went."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self.shown: list[str] = []
        self.steps = 0

    def show(self, text: str) -> None:
        self.shown.append(text)

    def say(self, text: str) -> None:
        self.said.append(text)

    @contextmanager
    def progress(self, length: int, label: str) -> Iterator[FakeTerminal]:
        yield self

    def update(self, steps: int) -> None:
        self.steps += steps


class FakeClock:
    """Advances 0.1 s each time it is read, like a camera giving ten frames a second."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.1
        return self.now


def test_samples_for_the_given_seconds_after_a_countdown() -> None:
    terminal = FakeTerminal()
    said = terminal.said
    slept: list[float] = []
    frames = list(timed(FakeCamera(1000), 2.0, 3, terminal, clock=FakeClock(), sleep=slept.append))
    assert 19 <= len(frames) <= 21  # 2 s at ten frames a second
    assert said[0].startswith("Sit upright")
    assert said[1:] == ["  3…", "  2…", "  1…"]
    assert slept == [1, 1, 1]


def test_a_camera_that_stops_during_calibration_is_an_error() -> None:
    with pytest.raises(CalibrationError, match="camera stopped sending pictures"):
        list(timed(FakeCamera(5), 2.0, 0, FakeTerminal(), clock=FakeClock(), sleep=lambda _: None))


class FakeStills:
    """Three 4x4 stills, as an image folder opens."""

    kind = "images"

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def __iter__(self) -> Iterator[Frame]:
        image = np.full((4, 6, 3), 100, np.uint8)
        for i in range(3):
            yield Frame(float(i), image, f"{self.name}/{i}.png", i)

    def close(self) -> None:
        self.closed = True


class FakeEstimator:
    def __init__(self) -> None:
        self.closed = False

    def detect(self, image: np.ndarray, timestamp: float) -> PoseResult:
        return empty_result((image.shape[1], image.shape[0]))

    def close(self) -> None:
        self.closed = True


class FakePoseModel:
    sha256 = "ab" * 32
    num_poses = 1

    def __init__(self) -> None:
        self.made: list[tuple[str, int | None]] = []
        self.estimators: list[FakeEstimator] = []

    def estimator(self, mode: Mode, num_poses: int | None = None) -> FakeEstimator:
        self.made.append((mode, num_poses))
        self.estimators.append(FakeEstimator())
        return self.estimators[-1]


def test_collect_looks_for_two_people_and_closes_what_it_opened() -> None:
    opened: list[FakeStills] = []

    def open_source(spec: str, *, image_interval: float = 1.0) -> FakeStills:
        opened.append(FakeStills(spec))
        return opened[-1]

    pose = FakePoseModel()
    frames, camera = collect(
        ["shots"],
        open_source=open_source,
        pose=pose,
        seconds=2.0,
        countdown=0,
        terminal=FakeTerminal(),
    )
    assert pose.made == [("image", 2)]  # stills, and room to see a second person
    assert camera == Camera("shots", "images", 6, 4)
    assert [f.mean for f in frames] == [100.0] * 3
    assert all(f.poses.shape == (0, 33, 4) and f.aspect == 1.5 for f in frames)
    assert [s.closed for s in opened] == [True]
    assert [e.closed for e in pose.estimators] == [True]


class RecordingWindow:
    """A preview window that keeps the scenes it is shown and answers "closed" (Esc) from
    the `close_after`th frame on: the window's own process is tested under Xvfb in
    test_preview.py; here the camera's countdown and progress, which need a webcam."""

    reason = ""

    def __init__(self, close_after: int | None = None) -> None:
        self.scenes: list[object] = []
        self.close_after = close_after
        self.closed = False

    def show(self, image: np.ndarray, scene: object) -> str:
        self.scenes.append(scene)
        if self.close_after is not None and len(self.scenes) >= self.close_after:
            return "closed"
        return "open"

    def close(self) -> None:
        self.closed = True


def test_a_camera_with_the_preview_shows_the_countdown_then_the_progress() -> None:
    from posture.app.capture import Watched
    from posture.app.live_view import LiveView
    from posture.core.preview import GateWatch, Scene

    terminal = FakeTerminal()
    window = RecordingWindow()
    watched = Watched(
        FakeEstimator(),
        LiveView(window, terminal),  # type: ignore[arg-type]
        GateWatch(),
        clock=FakeClock(),
        sleep=lambda _: None,
    )
    kept = list(watched.camera(FakeCamera(1000), 2.0, 3, terminal))
    scenes = [s for s in window.scenes if isinstance(s, Scene)]
    counting = [s.countdown for s in scenes if s.countdown is not None]
    assert counting[0] == 3 and counting[-1] == 1 and counting == sorted(counting, reverse=True)
    progress = [s.progress for s in scenes if s.countdown is None]
    assert len(progress) == len(kept) and 19 <= len(kept) <= 21  # only sampled frames kept
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert terminal.said[1:4] == ["  3…", "  2…", "  1…"]  # the text flow says it too
    assert {g.label: g.ok for g in scenes[0].gates}["person found"] is False  # nobody here


def test_esc_in_the_preview_cancels_the_camera_calibration() -> None:
    from posture.app.capture import Watched
    from posture.app.live_view import LiveView
    from posture.core.preview import GateWatch
    from posture.errors import Cancelled

    terminal = FakeTerminal()
    window = RecordingWindow(close_after=25)
    watched = Watched(
        FakeEstimator(),
        LiveView(window, terminal),  # type: ignore[arg-type]
        GateWatch(),
        clock=FakeClock(),
        sleep=lambda _: None,
    )
    with pytest.raises(Cancelled, match="calibration cancelled: nothing saved"):
        list(watched.camera(FakeCamera(1000), 2.0, 1, terminal))


def test_a_file_is_paced_at_its_own_time_and_a_late_frame_is_not_waited_for() -> None:
    from posture.app.live_view import Pacer

    now = [10.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    pacer = Pacer(lambda: now[0], sleep)
    pacer.wait(5.0)  # the first frame: shown at once, whatever its timestamp
    pacer.wait(5.2)  # 0.2 s later in the file
    now[0] += 1.0  # the model was slow: 1 s went by
    pacer.wait(5.4)  # already late: not waited for
    pacer.wait(6.5)
    assert slept == [0.2, 0.3]
