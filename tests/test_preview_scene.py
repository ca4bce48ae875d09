"""The preview's scene (pure core): which landmarks count and whether they are seen, the
shoulder box, each calibration gate live, the judgment's bands, mirrored as a video call.
Driven by hand-made landmark arrays (fakes of the model's output, as the core's unit tests
are); the window that draws it is tested under Xvfb in test_preview.py."""

from __future__ import annotations

import numpy as np
import pytest

from posture.core import features
from posture.core.calibration import (
    BLANK_STD,
    DARK_MEAN,
    MAD_TO_SIGMA,
    REQUIRED_LANDMARKS,
    STILLNESS_LIMITS,
    FrameStats,
    calibrate,
)
from posture.core.judgment import STALE_SHIFT, Judge
from posture.core.preview import (
    CALIBRATION_BOX,
    GATE_LABELS,
    LANDMARKS,
    STILL_WINDOW,
    GateWatch,
    Scene,
    calibrated_box,
    calibration_scene,
    judgment_scene,
    points_of,
)
from posture.core.profile import Camera
from tests.test_calibrate import ASPECT, frame, landmarks


def gates_of(watch: GateWatch, t: float, stats: FrameStats) -> dict[str, bool | None]:
    gates, _ = watch.update(t, stats)
    assert tuple(g.label for g in gates) == GATE_LABELS
    return {g.label: g.ok for g in gates}


def test_the_landmarks_drawn_are_the_ones_calibration_requires() -> None:
    assert {name for name, _ in LANDMARKS} == set(REQUIRED_LANDMARKS)
    assert dict(LANDMARKS) == REQUIRED_LANDMARKS


def test_points_are_mirrored_and_seen_by_min_visibility() -> None:
    pose = landmarks(x=0.3)
    pose[features.LEFT_EAR, 3] = 0.4
    points = {p.name: p for p in points_of(pose, 0.5, mirrored=True)}
    assert points["nose"].x == pytest.approx(0.7)  # x flipped, like a video call
    assert points["nose"].y == pytest.approx(pose[features.NOSE, 1])
    assert points["nose"].seen and not points["left ear"].seen
    plain = {p.name: p for p in points_of(pose, 0.5, mirrored=False)}
    assert plain["nose"].x == pytest.approx(0.3)
    # The person's left shoulder is on the image right; mirrored, on the left.
    assert plain["left shoulder"].x > plain["right shoulder"].x
    assert points["left shoulder"].x < points["right shoulder"].x
    assert points_of(None, 0.5, mirrored=True) == ()


def test_a_landmark_outside_the_picture_is_not_seen_and_kept_on_its_edge() -> None:
    pose = landmarks()
    pose[features.LEFT_SHOULDER, :2] = (1.3, 0.7)
    (shoulder,) = [p for p in points_of(pose, 0.5, True) if p.name == "left shoulder"]
    assert not shoulder.seen and shoulder.x == 0.0


def test_good_frames_pass_every_gate_once_still_is_known() -> None:
    watch = GateWatch()
    first = gates_of(watch, 0.0, frame(landmarks()))
    assert first["still"] is None  # one frame says nothing about movement
    assert all(ok for label, ok in first.items() if label != "still")
    for i in range(1, 5):
        gates = gates_of(watch, i * 0.2, frame(landmarks()))
    assert all(gates.values())


@pytest.mark.parametrize(
    ("stats", "failing"),
    [
        (frame(landmarks(), mean=DARK_MEAN - 1), {"enough light"}),
        (frame(landmarks(), std=BLANK_STD - 1), {"enough light"}),
        (frame(landmarks(), landmarks(x=0.25, scale=0.9)), {"one person"}),
        (frame(landmarks(vis=0.3)), {"nose seen", "ears seen", "shoulders seen"}),
    ],
)
def test_each_gate_fails_on_its_own(stats: FrameStats, failing: set[str]) -> None:
    gates = gates_of(GateWatch(), 0.0, stats)
    assert {label for label, ok in gates.items() if ok is False} == failing


def test_nobody_fails_person_found_and_leaves_the_rest_unknown() -> None:
    gates = gates_of(GateWatch(), 0.0, frame())
    assert gates["person found"] is False and gates["enough light"] is True
    assert [gates[label] for label in GATE_LABELS[2:]] == [None] * (len(GATE_LABELS) - 2)


def test_still_measures_the_spread_of_the_last_two_seconds_with_calibrations_limits() -> None:
    limit = STILLNESS_LIMITS["front"]["head_height"]
    # The hand-made pose's shoulders are 0.36 image heights apart; a head bobbing by dy
    # alternately has a robust spread of MAD_TO_SIGMA x (dy / 0.36) / 2 in head height.
    bob_at_limit = limit * 2 * 0.36 / MAD_TO_SIGMA

    def bobbing(dy: float, t0: float = 0.0) -> bool | None:
        watch = GateWatch()
        for i in range(6):
            gates = gates_of(watch, t0 + i * 0.2, frame(landmarks(head_y=0.30 + dy * (i % 2))))
        return gates["still"]

    assert bobbing(0.7 * bob_at_limit) is True
    assert bobbing(1.3 * bob_at_limit) is False
    # Once the movement is older than the window, still again.
    watch = GateWatch()
    for i in range(6):
        gates_of(watch, i * 0.2, frame(landmarks(head_y=0.30 + 2 * bob_at_limit * (i % 2))))
    t = 1.0 + STILL_WINDOW + 0.1
    for i in range(5):
        gates = gates_of(watch, t + i * 0.2, frame(landmarks()))
    assert gates["still"] is True


def test_calibration_scene_has_the_box_mirrored_and_a_clamped_progress() -> None:
    stats = frame(landmarks())
    gates, pose = GateWatch().update(0.0, stats)
    scene = calibration_scene(
        "posture calibrate", stats, gates, pose, min_visibility=0.5, countdown=2, progress=1.4
    )
    x0, y0, x1, y1 = CALIBRATION_BOX
    assert scene.box == pytest.approx((1 - x1, y0, 1 - x0, y1))
    assert scene.progress == 1.0 and scene.countdown == 2
    assert len(scene.points) == 5 and all(p.seen for p in scene.points)
    # The shoulders of the hand-made pose are in the box; moved aside, one is not.
    assert scene.box_ok is True
    aside = frame(landmarks(x=0.1))
    gates, pose = GateWatch().update(0.0, aside)
    assert calibration_scene("c", aside, gates, pose, min_visibility=0.5).box_ok is False
    nobody = calibration_scene("c", frame(), *GateWatch().update(0.0, frame()), min_visibility=0.5)
    assert nobody.box_ok is None
    assert scene.box is not None
    for p in scene.points:
        if "shoulder" in p.name:
            assert scene.box[0] <= p.x <= scene.box[2] and scene.box[1] <= p.y <= scene.box[3]


def profile_of(poses: list[np.ndarray]) -> Judge:
    profile = calibrate(
        [frame(p) for p in poses],
        name="t",
        sensitivity="medium",
        camera=Camera("clip", "video", 640, 480),
        model_sha256="ab" * 32,
        created="2026-01-01T00:00:00+00:00",
    )
    return Judge(profile)


def test_judgment_scene_draws_the_verdict_and_each_judged_features_band() -> None:
    judge = profile_of([landmarks() for _ in range(10)])
    upright = judgment_scene("posture preview", judge, frame(landmarks()), min_visibility=0.5)
    assert upright.verdict == "good" and upright.problems == ()
    assert upright.score == pytest.approx(0.0, abs=1e-6)
    tolerances = {c.feature: t for c, t in judge.tolerances.items()}
    assert {b.feature for b in upright.bands} == set(tolerances)
    for band in upright.bands:
        assert band.high - band.median == pytest.approx(tolerances[band.feature])
        assert band.median - band.low == pytest.approx(tolerances[band.feature])
        assert band.value == pytest.approx(band.median, abs=1e-9)

    slouched = judgment_scene(
        "posture preview", judge, frame(landmarks(head_y=0.42)), min_visibility=0.5
    )
    assert slouched.verdict == "bad" and "slouch" in slouched.problems
    assert slouched.score is not None and slouched.score >= 1.0
    head = next(b for b in slouched.bands if b.feature == "head_height")
    assert head.value is not None and head.value < head.low and head.direction == -1


def test_judgment_scene_box_is_the_calibrated_shoulders_widened_by_the_stale_shift() -> None:
    judge = profile_of([landmarks(x=0.4) for _ in range(10)])
    box = calibrated_box(judge.profile, ASPECT)
    assert box is not None
    half = judge.profile.median("shoulder_width") / 2 / ASPECT
    assert box[0] == pytest.approx(0.4 - half - STALE_SHIFT)
    assert box[2] == pytest.approx(0.4 + half + STALE_SHIFT)
    scene = judgment_scene("posture preview", judge, frame(landmarks(x=0.4)), min_visibility=0.5)
    assert scene.box == pytest.approx((1 - box[2], box[1], 1 - box[0], box[3]))


def test_nobody_is_away_with_no_points_and_bands_without_values() -> None:
    judge = profile_of([landmarks() for _ in range(10)])
    scene = judgment_scene("posture preview", judge, frame(), min_visibility=0.5)
    assert scene.verdict == "away" and scene.score is None and scene.points == ()
    assert scene.bands and all(b.value is None for b in scene.bands)
    gates = {g.label: g.ok for g in scene.gates}
    assert gates == {"enough light": True, "calibrated person found": False}


def test_a_scene_goes_through_json_unchanged() -> None:
    judge = profile_of([landmarks() for _ in range(10)])
    for scene in (
        judgment_scene("posture preview", judge, frame(landmarks(head_y=0.4)), min_visibility=0.5),
        calibration_scene(
            "posture calibrate",
            frame(landmarks()),
            GateWatch().update(0.0, frame(landmarks()))[0],
            landmarks(),
            min_visibility=0.5,
            countdown=3,
            progress=0.5,
            message="frame 1",
        ),
        Scene("empty"),
    ):
        assert Scene.from_json(scene.to_json()) == scene
