"""The camera's light off when nobody needs it (issue 11, section 3): the stream stays open
while looks are close together, is opened for each look and released after it once
nobody has been seen for `close_camera_after`, and a just-opened camera's dark first
frames are skipped. The real Monitor, the real CameraFeed (a fake opener, or the real
OpenCV open of a video file through `open_source`), the pure policy with synthetic
frames."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from posture import config
from posture.adapters.video.sources import open_source
from posture.app.monitor.clocks import ReplayClock
from posture.app.monitor.feeds import CameraFeed, HoldMeter, ReplayFeed
from posture.app.monitor.loop import Monitor
from posture.config import MonitorConfig, monitor_settings
from posture.core.camera_policy import (
    IDLE_FACTOR,
    KEEP_OPEN_MAX,
    SETTLE_DELTA,
    WARMUP_FRAMES,
    WARMUP_SECONDS,
    CameraPlan,
    Warmup,
)
from posture.core.episodes import Settings
from posture.core.frames import Frame, PoseResult, thumbnail
from posture.ports import EndOfInput
from tests.synthetic import HEIGHT, WIDTH, Scenario, Segment, make_profile
from tests.test_monitor import FakeFeed, FakeNotifier, FakePose, default_settings

RNG = np.random.default_rng(11)
#: A room of 40-pixel patches (not blank: the monitor refuses a picture without contrast).
TEXTURE = np.repeat(np.repeat(RNG.uniform(0.3, 1.0, (HEIGHT // 40, WIDTH // 40, 3)), 40, 0), 40, 1)


def room(level: float) -> np.ndarray:
    """The room at brightness `level` (0-255 at full exposure)."""
    return np.clip(TEXTURE * level, 0, 255).astype(np.uint8)


class LoggingFeed(FakeFeed):
    """The test's fake camera, logging each read and each release with the time of the
    last read."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.events: list[tuple[str, float]] = []

    def read(self, t: float) -> Frame:
        frame = super().read(t)
        self.events.append(("read", t))
        return frame

    def release(self) -> None:
        super().release()
        last = self.events[-1][1] if self.events else 0.0
        self.events.append(("release", last))


def run_monitor(feed: object, scenario: Scenario, **settings: float) -> Monitor:
    monitor = Monitor(
        profile=make_profile(),
        feed=feed,  # type: ignore[arg-type]
        pose_factory=lambda: FakePose(scenario),
        notifier=FakeNotifier(),
        clock=ReplayClock(0, start_wall_ms=1_700_000_000_000),
        settings=default_settings(**settings),
        episode_settings=Settings(),
    )
    monitor.run()
    return monitor


def looks(events: list[tuple[str, float]]) -> list[tuple[float, bool]]:
    """(time of each look, whether the camera was released right after it)."""
    out: list[tuple[float, bool]] = []
    for i, (what, t) in enumerate(events):
        if what == "read":
            released = i + 1 < len(events) and events[i + 1][0] == "release"
            out.append((t, released))
    return out


def test_after_minutes_away_the_camera_opens_for_each_look_and_stays_open_otherwise() -> None:
    scenario = Scenario([Segment("upright", 60), Segment("away", 400), Segment("upright", 60)])
    feed = LoggingFeed(scenario)
    run_monitor(feed, scenario)
    seen = looks(feed.events)
    away_from = next(t for t, _ in seen if t >= 60)  # the first look of the absence
    before = [r for t, r in seen if t < away_from + 180]
    idle = [(t, r) for t, r in seen if away_from + 180 <= t < 460]
    back = [r for t, r in seen if t >= 460 + 10]
    assert before and not any(before)  # present, then away < 3 min: the stream stays open
    assert len(idle) >= 10 and all(r for _, r in idle)  # released after every look
    gaps = np.diff([t for t, _ in idle])
    assert np.allclose(gaps, default_settings().away_interval * IDLE_FACTOR)
    assert back and not any(back[:-1])  # back at the desk: open again (released at the end)
    assert seen[-1][1]


def test_looks_further_apart_than_a_few_seconds_release_the_camera_even_when_present() -> None:
    scenario = Scenario([Segment("upright", 120)])
    feed = LoggingFeed(scenario)
    run_monitor(feed, scenario, interval=KEEP_OPEN_MAX + 3)
    seen = looks(feed.events)
    assert len(seen) > 5 and all(r for _, r in seen)


def test_close_camera_after_is_a_config_key_and_zero_means_at_the_first_absent_look() -> None:
    scenario = Scenario([Segment("upright", 20), Segment("away", 40)])
    feed = LoggingFeed(scenario)
    run_monitor(feed, scenario, close_camera_after=0)
    seen = looks(feed.events)
    assert not any(r for t, r in seen if t < 20)
    assert all(r for t, r in seen if t >= 21)


# -- the pure policy -----------------------------------------------------------------------


def test_camera_plan_counts_the_absence_from_its_first_look() -> None:
    plan = CameraPlan(close_after=180)
    assert plan.after_look(0, True, 2.0) == (2.0, True)
    assert plan.after_look(10, False, 5.0) == (5.0, True)
    assert plan.away_for(100) == 90
    assert plan.after_look(189, False, 5.0) == (5.0, True)
    assert plan.after_look(190, False, 5.0) == (5.0 * IDLE_FACTOR, False)
    assert plan.after_look(200, True, 2.0) == (2.0, True)  # someone: open again
    assert plan.away_for(300) == 0
    assert plan.after_look(300, True, KEEP_OPEN_MAX + 0.1) == (KEEP_OPEN_MAX + 0.1, False)


def ramp(dark: int, level: float = 140.0) -> list[np.ndarray]:
    """Thumbnails of a camera warming up: `dark` frames brightening from black, then the
    room at `level` (with a little sensor noise)."""
    frames = [room(level * i / dark) for i in range(dark)]
    frames += [
        np.clip(room(level) + RNG.integers(0, 2, room(level).shape), 0, 255) for _ in range(5)
    ]
    return [thumbnail(f.astype(np.uint8)) for f in frames]


def test_warmup_skips_the_frames_while_the_exposure_brightens() -> None:
    warmup = Warmup(start=0.0)
    thumbs = ramp(8)
    used = next(i for i, th in enumerate(thumbs) if warmup.settled(th, 0.0))
    assert used == 9  # the second frame at full exposure: as bright as the one before
    assert abs(float(thumbs[used].mean()) - float(thumbs[-1].mean())) < SETTLE_DELTA


def test_warmup_is_bounded_in_frames_and_in_seconds() -> None:
    black = thumbnail(np.zeros((HEIGHT, WIDTH, 3), np.uint8))  # a closed shutter never settles
    warmup = Warmup(start=0.0)
    assert not any(warmup.settled(black, 0.0) for _ in range(WARMUP_FRAMES - 1))
    assert warmup.settled(black, 0.0)
    flicker = [thumbnail(room(60)), thumbnail(room(160))]
    warmup = Warmup(start=10.0)
    assert not warmup.settled(flicker[0], 10.1)
    assert not warmup.settled(flicker[1], 10.2)
    assert warmup.settled(flicker[0], 10.0 + WARMUP_SECONDS)


# -- the real CameraFeed -----------------------------------------------------------------


class WarmingCamera:
    """A FrameSource like a webcam just opened: `dark` frames brightening, then the room."""

    kind = "camera"
    name = "0"

    def __init__(self, dark: int) -> None:
        self.dark = dark
        self.closed = False

    def __iter__(self) -> Iterator[Frame]:
        for i in range(10_000):
            level = 140.0 * min(1.0, i / self.dark)
            yield Frame(i / 30, room(level), "camera:0", i)

    def close(self) -> None:
        self.closed = True


def test_camera_feed_skips_dark_first_frames_and_counts_the_time_held() -> None:
    opened: list[WarmingCamera] = []
    now = [100.0]

    def opener() -> WarmingCamera:
        opened.append(WarmingCamera(dark=6))
        return opened[-1]

    feed = CameraFeed(0, opener, now=lambda: now[0])
    frame = feed.read(0.0)
    assert feed.warmup_skipped == 7 and frame.index == 7
    assert float(frame.image.mean()) == pytest.approx(float(room(140).mean()), abs=1)
    assert feed.read(1.0).index == 8  # open: no warm-up for the next look
    now[0] = 103.0
    feed.release()
    assert opened[0].closed and feed.held.seconds(now[0]) == 3.0
    now[0] = 110.0
    feed.read(2.0)
    assert len(opened) == 2 and feed.held.opens == 2
    now[0] = 110.5
    assert feed.held.seconds(now[0]) == 3.5


def test_replay_feed_simulates_holding_the_camera() -> None:
    class Stills:
        kind = "images"
        name = "stills"

        def __iter__(self) -> Iterator[Frame]:
            return iter([Frame(float(i), room(140), "images", i) for i in range(100)])

        def close(self) -> None:
            pass

    feed = ReplayFeed(Stills(), open_cost=1.0)  # type: ignore[arg-type]
    for t in (0.0, 2.0, 4.0):
        feed.read(t)
    feed.release()  # held 0 -> 4 s, plus the opening
    feed.read(20.0)
    feed.release()
    assert feed.held.seconds(30.0) == 4.0 + 1.0 + 1.0 and feed.held.opens == 2
    meter = HoldMeter()
    meter.released(5.0)  # released without an opening: nothing held
    assert meter.seconds(9.0) == 0.0


def write_warming_video(path: Path, dark: int = 6, bright: int = 60) -> Path:
    """A video of a camera warming up: `dark` frames brightening, then the room."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (WIDTH, HEIGHT))
    if not writer.isOpened():
        writer.release()
        pytest.skip("this OpenCV build cannot write MJPG .avi")
    for i in range(dark + bright):
        writer.write(room(140.0 * min(1.0, i / dark)))
    writer.release()
    return path


class EndingCameraFeed(CameraFeed):
    """The real CameraFeed, over a run of `seconds` (a camera never ends by itself)."""

    def __init__(self, seconds: float, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.seconds = seconds

    def read(self, t: float) -> Frame:
        if t > self.seconds:
            raise EndOfInput
        return super().read(t)


class BrightnessPose(FakePose):
    """The fake model, noting the brightness of each picture it is given."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.brightness: list[float] = []

    def detect(self, image: np.ndarray, timestamp: float) -> PoseResult:
        self.brightness.append(float(image.mean()))
        return super().detect(image, timestamp)


def test_open_per_look_through_opencv_skips_the_warmup_frames(tmp_path: Path) -> None:
    video = write_warming_video(tmp_path / "warming.avi")
    scenario = Scenario([Segment("away", 120)])
    opens: list[int] = []

    def opener() -> object:
        opens.append(1)
        return open_source(str(video))

    clock = ReplayClock(0, start_wall_ms=1_700_000_000_000)
    feed = EndingCameraFeed(120, 0, opener, now=clock.now)
    pose = BrightnessPose(scenario)
    settings = dataclasses.replace(default_settings(), close_camera_after=0.0, max_skip=0.0)
    monitor = Monitor(
        profile=make_profile(),
        feed=feed,
        pose_factory=lambda: pose,
        notifier=FakeNotifier(),
        clock=clock,
        settings=settings,
        episode_settings=Settings(),
    )
    monitor.run()
    assert monitor.samples >= 10
    assert len(opens) == monitor.samples == feed.held.opens  # opened for every look
    assert feed.warmup_skipped >= 6  # the dark frames of the last opening
    full = float(room(140).mean())
    assert pose.brightness and all(abs(b - full) < 3 for b in pose.brightness)


def test_close_camera_after_is_read_from_the_config_file_and_checked(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text("[monitor]\nclose_camera_after = 60\n")
    file.chmod(0o600)
    assert monitor_settings(config.load(file).monitor).close_camera_after == 60
    assert MonitorConfig().close_camera_after == 180
    file.write_text("[monitor]\nclose_camera_after = -1\n")
    with pytest.raises(config.ConfigError, match="close_camera_after"):
        config.load(file)
