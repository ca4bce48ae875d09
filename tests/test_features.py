"""Tests for posture.core.features: known geometry, conventions, gating and invariances."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from posture.core.features import (
    FEATURES,
    LEFT_EAR,
    LEFT_HIP,
    LEFT_SHOULDER,
    NAMES,
    NOSE,
    NUM_LANDMARKS,
    RIGHT_EAR,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    as_dict,
    compute_features,
    index,
)

Point = tuple[float, float]
Array = npt.NDArray[np.float64]

USED = (NOSE, LEFT_EAR, RIGHT_EAR, LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP)
ONE_SIDED = ("neck_inclination", "trunk_inclination")
# Features that do not depend on the distance to the camera or the position in the frame.
INVARIANT = tuple(n for n in NAMES if n not in ("shoulder_width", "shoulder_x", "shoulder_y"))
SWAP = {
    LEFT_EAR: RIGHT_EAR,
    RIGHT_EAR: LEFT_EAR,
    LEFT_SHOULDER: RIGHT_SHOULDER,
    RIGHT_SHOULDER: LEFT_SHOULDER,
    LEFT_HIP: RIGHT_HIP,
    RIGHT_HIP: LEFT_HIP,
}

# An upright pose from a front camera, in image heights (X = x * aspect, Y = y, y down).
# The person's left side is on the image right.
UPRIGHT: dict[int, Point] = {
    NOSE: (0.5, 0.4),
    LEFT_EAR: (0.55, 0.42),
    RIGHT_EAR: (0.45, 0.42),
    LEFT_SHOULDER: (0.7, 0.6),
    RIGHT_SHOULDER: (0.3, 0.6),
    LEFT_HIP: (0.7, 0.95),
    RIGHT_HIP: (0.3, 0.95),
}


def render(
    points: Mapping[int, Point],
    *,
    aspect: float = 1.0,
    vis: Mapping[int, float] | None = None,
    default_vis: float = 0.99,
) -> Array:
    """(33, 4) landmarks for points given in image heights; other landmarks far away."""
    lm = np.zeros((NUM_LANDMARKS, 4))
    lm[:, 0] = 5.0  # unused landmarks: somewhere off-image, well seen
    lm[:, 1] = -3.0
    lm[:, 3] = default_vis
    for i, (x, y) in points.items():
        lm[i, 0] = x / aspect
        lm[i, 1] = y
    for i, v in (vis or {}).items():
        lm[i, 3] = v
    return lm


def feats(lm: npt.ArrayLike, *, aspect: float = 1.0, **kw: float) -> dict[str, float]:
    row = compute_features(lm, aspect=aspect, **kw)
    assert row.shape == (1, len(NAMES))
    return dict(zip(NAMES, row[0].tolist(), strict=True))


@contextmanager
def no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --- the spec table ----------------------------------------------------------------------


def test_spec_table_is_complete() -> None:
    assert [s.name for s in FEATURES] == list(NAMES)
    assert NAMES == (
        "head_height",
        "ear_height",
        "shoulder_width",
        "face_width",
        "head_pitch",
        "head_roll",
        "shoulder_tilt",
        "head_offset",
        "neck_inclination",
        "trunk_inclination",
        "shoulder_x",
        "shoulder_y",
    )
    for spec in FEATURES:
        assert spec.unit and len(spec.definition) > 20 and len(spec.sign) > 20
        assert spec.needs and set(spec.needs) <= set(USED)
    with pytest.raises(AttributeError):
        FEATURES[0].name = "x"  # type: ignore[misc]


def test_index_and_helpful_key_error() -> None:
    assert [index(n) for n in NAMES] == list(range(len(NAMES)))
    with pytest.raises(KeyError, match=r"Did you mean 'head_height'.*Known features: head_height"):
        index("head_hieght")
    with pytest.raises(KeyError, match="unknown posture feature 'slouch'"):
        index("slouch")


def test_as_dict() -> None:
    row = compute_features(render(UPRIGHT, vis={NOSE: 0.1}), aspect=1.0)
    d = as_dict(row)
    assert list(d) == list(NAMES)
    assert d["head_height"] is None and d["head_offset"] is None
    assert d["shoulder_y"] == pytest.approx(0.6)
    assert as_dict(row[0]) == d
    zero = as_dict(np.full(len(NAMES), -0.0))["head_roll"]
    assert zero == 0.0 and math.copysign(1.0, zero) == 1.0
    with pytest.raises(ValueError, match="one row of 12 features"):
        as_dict(np.zeros((2, len(NAMES))))
    with pytest.raises(ValueError, match="got shape \\(11,\\)"):
        as_dict(np.zeros(len(NAMES) - 1))


# --- exact values on hand-built poses ----------------------------------------------------


def test_upright_pose_exact_values() -> None:
    f = feats(render(UPRIGHT))
    assert f["head_height"] == pytest.approx(0.2 / 0.4)  # nose 0.2 above, width 0.4
    assert f["ear_height"] == pytest.approx(0.18 / 0.4)
    assert f["shoulder_width"] == pytest.approx(0.4)
    assert f["face_width"] == pytest.approx(0.1 / 0.4)
    assert f["head_pitch"] == pytest.approx(0.02 / 0.1)
    assert f["head_roll"] == pytest.approx(0.0, abs=1e-12)
    assert f["shoulder_tilt"] == pytest.approx(0.0, abs=1e-12)
    assert f["head_offset"] == pytest.approx(0.0, abs=1e-12)
    # Left side (ties go left): shoulder (0.7, 0.6) -> ear (0.55, 0.42).
    assert f["neck_inclination"] == pytest.approx(math.degrees(math.atan(0.15 / 0.18)))
    assert f["trunk_inclination"] == pytest.approx(0.0, abs=1e-12)
    assert f["shoulder_x"] == pytest.approx(0.5)
    assert f["shoulder_y"] == pytest.approx(0.6)


def test_tilted_shoulder_line_exact_values() -> None:
    # Shoulder line at 45 degrees, image-right end lower; width 0.4*sqrt(2).
    pose = {
        **UPRIGHT,
        RIGHT_SHOULDER: (0.3, 0.5),
        LEFT_SHOULDER: (0.7, 0.9),
        NOSE: (0.6, 0.6),  # 0.1*sqrt(2) straight "above" the midpoint (0.5, 0.7)
    }
    f = feats(render(pose))
    assert f["shoulder_tilt"] == pytest.approx(45.0)
    assert f["shoulder_width"] == pytest.approx(0.4 * math.sqrt(2))
    assert f["head_height"] == pytest.approx(0.25)
    assert f["head_offset"] == pytest.approx(0.0, abs=1e-12)
    assert f["shoulder_x"] == pytest.approx(0.5)
    assert f["shoulder_y"] == pytest.approx(0.7)

    # Nose 0.2 to the image right of the midpoint: 0.2/sqrt(2) along and above the line.
    f = feats(render({**pose, NOSE: (0.7, 0.7)}))
    assert f["head_offset"] == pytest.approx(0.25)
    assert f["head_height"] == pytest.approx(0.25)


def test_head_height_drops_when_head_drops() -> None:
    upright = feats(render(UPRIGHT))
    slouched = feats(render({**UPRIGHT, NOSE: (0.5, 0.45), LEFT_EAR: (0.55, 0.47)}))
    assert slouched["head_height"] == pytest.approx(0.15 / 0.4)
    assert slouched["head_height"] < upright["head_height"]
    assert slouched["ear_height"] < upright["ear_height"]
    below = feats(render({**UPRIGHT, NOSE: (0.5, 0.7)}))
    assert below["head_height"] == pytest.approx(-0.25)


def test_head_pitch_falls_when_looking_down() -> None:
    level = feats(render({**UPRIGHT, NOSE: (0.5, 0.42)}))
    down = feats(render({**UPRIGHT, NOSE: (0.5, 0.45)}))
    assert level["head_pitch"] == pytest.approx(0.0, abs=1e-12)
    assert down["head_pitch"] == pytest.approx(-0.3)


def test_face_width_and_shoulder_width_grow_when_closer() -> None:
    far = feats(render(UPRIGHT))
    big_head = feats(render({**UPRIGHT, LEFT_EAR: (0.6, 0.42), RIGHT_EAR: (0.4, 0.42)}))
    assert big_head["face_width"] == pytest.approx(0.5)
    assert big_head["face_width"] > far["face_width"]
    near = {k: (0.5 + 2 * (x - 0.5), 0.6 + 2 * (y - 0.6)) for k, (x, y) in UPRIGHT.items()}
    assert feats(render(near))["shoulder_width"] == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("left_ear", "right_ear", "expected"),
    [
        ((0.5, 0.5), (0.4, 0.4), 45.0),  # image-right ear lower: clockwise, positive
        ((0.4, 0.4), (0.5, 0.5), 45.0),  # which ear is "left" does not matter
        ((0.5, 0.4), (0.4, 0.5), -45.0),
        ((0.4, 0.5), (0.5, 0.4), -45.0),
        ((0.5, 0.4), (0.5, 0.5), 90.0),  # vertical: 90, never -90
        ((0.5, 0.5), (0.5, 0.4), 90.0),
        ((0.4, 0.45), (0.5, 0.45), 0.0),
    ],
)
def test_head_roll_sign(left_ear: Point, right_ear: Point, expected: float) -> None:
    f = feats(render({**UPRIGHT, LEFT_EAR: left_ear, RIGHT_EAR: right_ear}))
    assert f["head_roll"] == pytest.approx(expected, abs=1e-12)


def test_shoulder_tilt_sign_and_range() -> None:
    lower_right = {**UPRIGHT, LEFT_SHOULDER: (0.7, 0.7)}
    lower_left = {**UPRIGHT, RIGHT_SHOULDER: (0.3, 0.7)}
    assert feats(render(lower_right))["shoulder_tilt"] == pytest.approx(
        math.degrees(math.atan(0.1 / 0.4))
    )
    assert feats(render(lower_left))["shoulder_tilt"] == pytest.approx(
        -math.degrees(math.atan(0.1 / 0.4))
    )
    vertical = {**UPRIGHT, LEFT_SHOULDER: (0.5, 0.4), RIGHT_SHOULDER: (0.5, 0.8)}
    assert feats(render(vertical))["shoulder_tilt"] == pytest.approx(90.0)


def test_head_offset_sign() -> None:
    right = feats(render({**UPRIGHT, NOSE: (0.6, 0.4)}))
    left = feats(render({**UPRIGHT, NOSE: (0.4, 0.4)}))
    assert right["head_offset"] == pytest.approx(0.25)
    assert left["head_offset"] == pytest.approx(-0.25)
    # Sideways shift of the head does not change its height above the shoulders.
    assert right["head_height"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("ear", "expected"),
    [
        ((0.7, 0.45), 0.0),  # ear straight above the left shoulder (0.7, 0.6)
        ((0.6, 0.5), 45.0),  # 45 degree lean towards the image left
        ((0.8, 0.5), 45.0),  # ... and towards the image right: always >= 0
        ((0.7 - math.sqrt(3) * 0.1, 0.5), 60.0),
        ((0.5, 0.6), 90.0),  # level with the shoulder
        ((0.7, 0.7), 180.0),  # straight below
    ],
)
def test_neck_inclination_angles(ear: Point, expected: float) -> None:
    f = feats(render({**UPRIGHT, LEFT_EAR: ear}, vis={RIGHT_EAR: 0.6}))  # left better seen
    assert f["neck_inclination"] == pytest.approx(expected, abs=1e-9)


def test_trunk_inclination_angle() -> None:
    leaning = {**UPRIGHT, LEFT_HIP: (0.6, 0.7)}  # hip 0.1 left, 0.1 below the shoulder
    f = feats(render(leaning, vis={RIGHT_HIP: 0.7}))
    assert f["trunk_inclination"] == pytest.approx(45.0)


# --- aspect ------------------------------------------------------------------------------


def test_same_physical_pose_in_16_9_and_1_1_gives_same_features() -> None:
    pose = {
        **UPRIGHT,
        NOSE: (0.53, 0.41),
        LEFT_EAR: (0.6, 0.44),
        LEFT_SHOULDER: (0.72, 0.64),
        LEFT_HIP: (0.66, 0.97),
    }
    square = feats(render(pose, aspect=1.0), aspect=1.0)
    wide = feats(render(pose, aspect=16 / 9), aspect=16 / 9)
    for name in (*INVARIANT, "shoulder_width", "shoulder_y"):
        assert wide[name] == pytest.approx(square[name], rel=1e-12, abs=1e-12), name
    assert square["shoulder_tilt"] != pytest.approx(0.0)
    assert wide["shoulder_x"] == pytest.approx(square["shoulder_x"] * 9 / 16)
    # Ignoring the aspect would distort the geometry: the test above can fail.
    distorted = feats(render(pose, aspect=16 / 9), aspect=1.0)
    assert distorted["shoulder_tilt"] != pytest.approx(square["shoulder_tilt"], rel=1e-3)
    assert distorted["head_height"] != pytest.approx(square["head_height"], rel=1e-3)


# --- visibility --------------------------------------------------------------------------


@pytest.mark.parametrize("landmark", USED)
def test_invisible_landmark_gates_exactly_the_features_that_need_it(landmark: int) -> None:
    full = feats(render(UPRIGHT))
    assert all(math.isfinite(v) for v in full.values())
    hidden = feats(render(UPRIGHT, vis={landmark: 0.49}))
    for spec in FEATURES:
        if spec.name in ONE_SIDED:
            # The other side is fully seen, so the feature stays finite.
            assert math.isfinite(hidden[spec.name]), spec.name
        elif landmark in spec.needs:
            assert math.isnan(hidden[spec.name]), spec.name
        else:
            assert hidden[spec.name] == full[spec.name], spec.name


def test_min_visibility_threshold_is_inclusive_and_adjustable() -> None:
    lm = render(UPRIGHT, vis={NOSE: 0.5})
    assert math.isfinite(feats(lm)["head_height"])
    assert math.isnan(feats(lm, min_visibility=0.51)["head_height"])
    assert math.isfinite(feats(lm, min_visibility=0.0)["head_height"])


def test_neck_inclination_uses_better_seen_side() -> None:
    # Left ear straight above the left shoulder (0 deg); right side leans 45 deg.
    pose = {**UPRIGHT, LEFT_EAR: (0.7, 0.45), RIGHT_EAR: (0.4, 0.5)}

    def neck(vis: dict[int, float]) -> float:
        return feats(render(pose, vis=vis))["neck_inclination"]

    # Scores: left min(0.6, 0.9) = 0.6, right min(0.8, 0.7) = 0.7 -> right side.
    assert neck({LEFT_EAR: 0.6, LEFT_SHOULDER: 0.9, RIGHT_EAR: 0.8, RIGHT_SHOULDER: 0.7}) == (
        pytest.approx(45.0)
    )
    # The other way round -> left side.
    assert neck(
        {LEFT_EAR: 0.8, LEFT_SHOULDER: 0.7, RIGHT_EAR: 0.6, RIGHT_SHOULDER: 0.9}
    ) == pytest.approx(0.0, abs=1e-9)
    # A tie goes to the person's left.
    assert neck({}) == pytest.approx(0.0, abs=1e-9)
    # One side under the threshold: the other side, however poorly it is seen above it.
    assert neck({LEFT_EAR: 0.2, RIGHT_EAR: 0.5, RIGHT_SHOULDER: 0.5}) == pytest.approx(45.0)
    # Both sides under the threshold: NaN.
    f = feats(render(pose, vis={LEFT_SHOULDER: 0.3, RIGHT_EAR: 0.4}))
    assert math.isnan(f["neck_inclination"])
    assert f["trunk_inclination"] == pytest.approx(0.0, abs=1e-9)  # right hip + shoulder


def test_trunk_inclination_nan_without_hips() -> None:
    f = feats(render(UPRIGHT, vis={LEFT_HIP: 0.05, RIGHT_HIP: 0.1}))
    assert math.isnan(f["trunk_inclination"])
    assert all(math.isfinite(v) for k, v in f.items() if k != "trunk_inclination")


def test_nan_visibility_and_non_finite_coordinates_count_as_unseen() -> None:
    with no_warnings():
        lm = render(UPRIGHT)
        lm[LEFT_HIP, 3] = np.nan
        lm[RIGHT_HIP, 0] = np.inf
        lm[NOSE, 1] = np.nan
        f = feats(lm)
    assert math.isnan(f["trunk_inclination"])
    assert math.isnan(f["head_height"]) and math.isnan(f["head_pitch"])
    full = feats(render(UPRIGHT))
    for name in ("ear_height", "shoulder_width", "face_width", "head_roll", "neck_inclination"):
        assert f[name] == full[name]


# --- degenerate geometry -----------------------------------------------------------------


def test_all_landmarks_on_one_point_gives_nan_without_warnings() -> None:
    lm = np.zeros((NUM_LANDMARKS, 4))
    lm[:, :2] = 0.5
    lm[:, 3] = 1.0
    with no_warnings():
        f = feats(lm, aspect=16 / 9)
    for name in NAMES:
        if name in ("shoulder_x", "shoulder_y"):
            assert f[name] == pytest.approx(0.5)  # a position is still defined
        else:
            assert math.isnan(f[name]), name


def test_coincident_shoulders_and_ear_on_shoulder() -> None:
    with no_warnings():
        same = feats(render({**UPRIGHT, LEFT_SHOULDER: (0.3, 0.6)}))
        ear_on_shoulder = feats(render({**UPRIGHT, LEFT_EAR: (0.7, 0.6)}))
        ears_together = feats(render({**UPRIGHT, LEFT_EAR: (0.45, 0.42)}))
    for name in ("head_height", "ear_height", "shoulder_width", "face_width", "head_offset"):
        assert math.isnan(same[name]), name
    assert math.isnan(same["shoulder_tilt"])
    assert math.isfinite(same["head_pitch"]) and math.isfinite(same["head_roll"])
    assert math.isnan(ear_on_shoulder["neck_inclination"])  # no direction on the left side
    assert math.isfinite(ear_on_shoulder["trunk_inclination"])
    for name in ("head_pitch", "head_roll", "face_width"):
        assert math.isnan(ears_together[name]), name
    assert math.isfinite(ears_together["ear_height"])


# --- shapes, batching, input types -------------------------------------------------------


def random_poses(n: int, seed: int = 0) -> Array:
    rng = np.random.default_rng(seed)
    lm = rng.uniform(0.0, 1.0, size=(n, NUM_LANDMARKS, 4))
    lm[:, :, 3] = rng.uniform(0.3, 1.0, size=(n, NUM_LANDMARKS))
    return lm


def test_batch_equals_row_by_row() -> None:
    lm = random_poses(300)
    lm[5, :, :2] = 0.25  # a degenerate row inside the batch
    batch = compute_features(lm, aspect=4 / 3)
    assert batch.shape == (300, len(NAMES)) and batch.dtype == np.float64
    rows = np.vstack([compute_features(row, aspect=4 / 3) for row in lm])
    np.testing.assert_array_equal(np.isnan(batch), np.isnan(rows))
    np.testing.assert_allclose(batch, rows, rtol=1e-12, atol=1e-12)
    assert 0 < np.isnan(batch).mean() < 1


def test_single_pose_shape_and_input_types() -> None:
    lm = render(UPRIGHT)
    out = compute_features(lm, aspect=1.0)
    assert out.shape == (1, len(NAMES))
    np.testing.assert_array_equal(compute_features(lm[np.newaxis], aspect=1.0), out)
    np.testing.assert_array_equal(compute_features(lm.tolist(), aspect=1.0), out)
    np.testing.assert_allclose(
        compute_features(lm.astype(np.float32), aspect=1.0), out, rtol=1e-5, atol=1e-5
    )
    assert compute_features(np.zeros((0, NUM_LANDMARKS, 4)), aspect=1.0).shape == (0, 12)
    before = lm.copy()
    compute_features(lm, aspect=2.0)
    np.testing.assert_array_equal(lm, before)  # the input is not modified


@pytest.mark.parametrize(
    "shape", [(33, 3), (32, 4), (33,), (4,), (2, 33, 5), (2, 3, 33, 4), (), (33, 4, 1)]
)
def test_wrong_shapes_raise_value_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"landmarks must have shape \(33, 4\) or \(N, 33, 4\)"):
        compute_features(np.zeros(shape), aspect=1.0)


def test_bad_arguments_raise_value_error() -> None:
    lm = render(UPRIGHT)
    for aspect in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="aspect"):
            compute_features(lm, aspect=aspect)
    for threshold in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match="min_visibility"):
            compute_features(lm, aspect=1.0, min_visibility=threshold)
    with pytest.raises(ValueError, match="real numeric"):
        compute_features(np.full((33, 4), "a"), aspect=1.0)


def test_mirrored_image_flips_only_the_sideways_signs() -> None:
    lm = random_poses(200, seed=3)
    lm[:, :, 3] = 1.0
    mirrored = lm.copy()
    mirrored[:, :, 0] = 1.0 - mirrored[:, :, 0]
    a = compute_features(lm, aspect=1.5)
    b = compute_features(mirrored, aspect=1.5)
    ok = np.isfinite(a).all(axis=1) & (np.abs(a[:, index("head_roll")]) < 89)
    ok &= np.abs(a[:, index("shoulder_tilt")]) < 89
    assert ok.sum() > 20
    a, b = a[ok], b[ok]
    flip = [index("head_roll"), index("shoulder_tilt"), index("head_offset")]
    keep = [i for i in range(len(NAMES)) if i not in flip and NAMES[i] != "shoulder_x"]
    np.testing.assert_allclose(b[:, flip], -a[:, flip], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b[:, keep], a[:, keep], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b[:, index("shoulder_x")], 1.0 - a[:, index("shoulder_x")])


def test_swapping_left_and_right_labels_changes_nothing() -> None:
    lm = random_poses(200, seed=4)
    swapped = lm.copy()
    for a, b in SWAP.items():
        swapped[:, a] = lm[:, b]
    np.testing.assert_allclose(
        compute_features(swapped, aspect=1.2),
        compute_features(lm, aspect=1.2),
        rtol=1e-12,
        atol=1e-12,
    )


# --- properties --------------------------------------------------------------------------

coord = st.floats(0.0, 1.0)


@st.composite
def well_conditioned_poses(draw: st.DrawFn) -> dict[int, Point]:
    """The used landmarks at distinct, well-separated places (in image heights)."""
    pose = {i: (draw(st.floats(0.0, 16 / 9)), draw(coord)) for i in USED}

    def dist(a: int, b: int) -> float:
        return math.dist(pose[a], pose[b])

    def steep(a: int, b: int) -> bool:  # near-vertical lines sit on the +-90 seam
        (xa, ya), (xb, yb) = pose[a], pose[b]
        return abs(ya - yb) > 5 * abs(xa - xb)

    assume(dist(LEFT_SHOULDER, RIGHT_SHOULDER) > 0.05 and dist(LEFT_EAR, RIGHT_EAR) > 0.02)
    assume(not steep(LEFT_SHOULDER, RIGHT_SHOULDER) and not steep(LEFT_EAR, RIGHT_EAR))
    for a, b in ((LEFT_EAR, LEFT_SHOULDER), (RIGHT_EAR, RIGHT_SHOULDER)):
        assume(dist(a, b) > 0.02)
    for a, b in ((LEFT_HIP, LEFT_SHOULDER), (RIGHT_HIP, RIGHT_SHOULDER)):
        assume(dist(a, b) > 0.02)
    return pose


aspects = st.floats(0.5, 2.5)


def close(a: dict[str, float], b: dict[str, float], names: tuple[str, ...]) -> None:
    for name in names:
        assert a[name] == pytest.approx(b[name], rel=1e-9, abs=1e-9), name


@settings(max_examples=200, deadline=None)
@given(
    pose=well_conditioned_poses(),
    aspect=aspects,
    k=st.floats(0.25, 4.0),
    cx=st.floats(-1.0, 2.0),
    cy=st.floats(-1.0, 2.0),
)
def test_scale_invariance(
    pose: dict[int, Point], aspect: float, k: float, cx: float, cy: float
) -> None:
    scaled = {i: (cx + k * (x - cx), cy + k * (y - cy)) for i, (x, y) in pose.items()}
    a = feats(render(pose, aspect=aspect), aspect=aspect)
    b = feats(render(scaled, aspect=aspect), aspect=aspect)
    assert all(math.isfinite(v) for v in a.values())
    close(a, b, INVARIANT)
    assert b["shoulder_width"] == pytest.approx(k * a["shoulder_width"], rel=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    pose=well_conditioned_poses(),
    aspect=aspects,
    tx=st.floats(-1.0, 1.0),
    ty=st.floats(-1.0, 1.0),
)
def test_translation_invariance(
    pose: dict[int, Point], aspect: float, tx: float, ty: float
) -> None:
    moved = {i: (x + tx, y + ty) for i, (x, y) in pose.items()}
    a = feats(render(pose, aspect=aspect), aspect=aspect)
    b = feats(render(moved, aspect=aspect), aspect=aspect)
    close(a, b, (*INVARIANT, "shoulder_width"))
    assert b["shoulder_x"] == pytest.approx(a["shoulder_x"] + tx / aspect, abs=1e-9)
    assert b["shoulder_y"] == pytest.approx(a["shoulder_y"] + ty, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(
    pose=well_conditioned_poses(),
    vis=st.lists(st.floats(0.0, 1.0), min_size=len(USED), max_size=len(USED)),
    threshold=st.floats(0.0, 1.0),
)
def test_nan_iff_a_needed_landmark_is_below_threshold(
    pose: dict[int, Point], vis: list[float], threshold: float
) -> None:
    seen = dict(zip(USED, vis, strict=True))
    f = feats(render(pose, vis=seen), min_visibility=threshold)

    def hidden(*landmarks: int) -> bool:
        return any(seen[i] < threshold for i in landmarks)

    for spec in FEATURES:
        if spec.name == "neck_inclination":
            expect_nan = hidden(LEFT_EAR, LEFT_SHOULDER) and hidden(RIGHT_EAR, RIGHT_SHOULDER)
        elif spec.name == "trunk_inclination":
            expect_nan = hidden(LEFT_HIP, LEFT_SHOULDER) and hidden(RIGHT_HIP, RIGHT_SHOULDER)
        else:
            expect_nan = hidden(*spec.needs)
        assert math.isnan(f[spec.name]) == expect_nan, spec.name


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.sampled_from([0.0, 0.5, 1.0, -0.0, math.nan, math.inf, -math.inf, 1e6, 1e-300]),
        min_size=len(USED) * 3,
        max_size=len(USED) * 3,
    ),
    aspect=aspects,
)
def test_degenerate_and_non_finite_inputs_never_warn(values: list[float], aspect: float) -> None:
    lm = np.full((NUM_LANDMARKS, 4), 0.5)
    lm[list(USED), 0] = values[0::3]
    lm[list(USED), 1] = values[1::3]
    lm[list(USED), 3] = values[2::3]
    with no_warnings():
        out = compute_features(lm, aspect=aspect)
        as_dict(out)
    assert out.shape == (1, len(NAMES))
    assert not np.isinf(out).any()
    usable = np.isfinite(lm[:, :2]).all(axis=1) & (lm[:, 3] >= 0.5)
    for spec in FEATURES:
        if spec.name not in ONE_SIDED and not usable[list(spec.needs)].all():
            assert np.isnan(out[0, index(spec.name)]), spec.name
