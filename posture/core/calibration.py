"""Calibration: turn a few seconds of the user sitting upright into a `Profile`, or refuse.

The pure part (`check_frames`, `profile_from_features`, the gates) takes numbers only;
`posture.app.calibrate` (not here) drives the camera. A gate that fails raises
`CalibrationError` with what to fix; a bad baseline is never saved, because every later
verdict is measured against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from posture.core import features
from posture.core.profile import Camera, FeatureStats, Profile, Sensitivity, View
from posture.errors import PostureError

#: 1.4826 x MAD estimates the standard deviation of normally distributed values.
MAD_TO_SIGMA = 1.4826

MIN_POSE_SHARE = 0.9
MIN_VISIBLE_SHARE = 0.9
#: A second person at least this large (shoulder width against the user's) is not
#: "clearly" behind the user: calibrate alone.
SECOND_PERSON_SIZE = 0.7
SECOND_PERSON_SHARE = 0.2
#: Frame brightness (0-255 grey): a closed privacy shutter or covered lens is nearly
#: uniform; a picture darker than this is too dark for reliable landmarks.
BLANK_STD = 4.0
DARK_MEAN = 35.0
#: Robust spread limits for "you moved": tight on the features a verdict rests on (their
#: slouch thresholds are 0.04-0.06), looser on where the person sits in the picture.
STILLNESS_LIMITS: dict[str, dict[str, float]] = {
    "front": {"head_height": 0.03, "ear_height": 0.03, "shoulder_x": 0.08, "shoulder_y": 0.08},
    "side": {"neck_inclination": 6.0},
}
#: Shoulder width over the nose-to-shoulder-midpoint distance: about 1.7 from the front,
#: below 0.5 from the side, where the shoulders overlap.
SIDE_VIEW_RATIO = 0.8
REQUIRED_LANDMARKS = {
    "nose": features.NOSE,
    "left ear": features.LEFT_EAR,
    "right ear": features.RIGHT_EAR,
    "left shoulder": features.LEFT_SHOULDER,
    "right shoulder": features.RIGHT_SHOULDER,
}


class CalibrationError(PostureError):
    """Calibration refused: the message says what to change and to try again."""


@dataclass(frozen=True)
class FrameStats:
    """What calibration keeps of one frame: brightness, and the landmarks of every pose."""

    mean: float
    std: float
    poses: np.ndarray  # (P, 33, 4)
    aspect: float  # width / height of the frame


def frame_brightness(image: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of a cheaply downscaled grey version of an RGB frame."""
    small = image[::8, ::8].astype(np.float32)
    grey = small @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return float(grey.mean()), float(grey.std())


def view_of(landmarks: np.ndarray, aspects: np.ndarray | float) -> View:
    """Front or side, from how wide the shoulders look against the head's height above
    them, over (N, 33, 4) landmarks with each frame's aspect."""
    pts = np.asarray(landmarks, dtype=np.float64)
    pts = pts.reshape(-1, 33, pts.shape[-1])
    x = pts[:, :, 0] * np.reshape(aspects, (-1, 1))
    y = pts[:, :, 1]
    ls, rs, nose = features.LEFT_SHOULDER, features.RIGHT_SHOULDER, features.NOSE
    width = np.hypot(x[:, ls] - x[:, rs], y[:, ls] - y[:, rs])
    mid_x, mid_y = (x[:, ls] + x[:, rs]) / 2, (y[:, ls] + y[:, rs]) / 2
    head = np.hypot(x[:, nose] - mid_x, y[:, nose] - mid_y)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = float(np.nanmedian(width / head))
    return "side" if ratio < SIDE_VIEW_RATIO else "front"


def main_pose(poses: np.ndarray, aspect: float) -> tuple[int, float | None]:
    """The user's pose in a calibration frame: the largest (nearest) one, preferring the
    centre; and the size of the next largest relative to it (None if alone)."""
    rows = features.compute_features(poses, aspect=aspect)
    widths = np.nan_to_num(rows[:, features.index("shoulder_width")], nan=0.0)
    off_centre = np.abs(np.nan_to_num(rows[:, features.index("shoulder_x")], nan=1.0) - 0.5)
    # The largest pose, but among poses within about 10% of its size the most centred:
    # two similar people are refused below anyway, this only picks whose landmarks to use.
    order = np.lexsort((off_centre, -np.round(widths / max(float(widths.max()), 1e-9), 1)))
    main = int(order[0])
    if len(order) < 2 or widths[main] <= 0:
        return main, None
    return main, float(widths[order[1]] / widths[main])


def check_frames(
    frames: Sequence[FrameStats], *, min_visibility: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the quality gates; return the user's (N, 33, 4) landmarks, one per frame with
    a pose, and each frame's aspect. Raises CalibrationError naming the first gate that
    fails."""
    total = len(frames)
    if total == 0:
        raise CalibrationError("calibration got no frames: check the camera and try again")
    blank = sum(f.std < BLANK_STD for f in frames)
    if blank > total / 2:
        raise CalibrationError(
            "the camera shows a blank picture (privacy shutter closed or lens covered?): "
            "open it and run `posture calibrate` again"
        )
    dark = sum(f.mean < DARK_MEAN for f in frames)
    if dark > total / 2:
        raise CalibrationError(
            "the picture is too dark to see you reliably: turn on a light facing you and "
            "run `posture calibrate` again"
        )
    with_pose = [f for f in frames if f.poses.shape[0] > 0]
    if len(with_pose) < MIN_POSE_SHARE * total:
        raise CalibrationError(
            f"a person was found in only {len(with_pose)} of {total} frames: sit in front of "
            "the camera with your head and shoulders in view, and try again"
        )
    mains, crowded = [], 0
    for frame in with_pose:
        main, second = main_pose(frame.poses, frame.aspect)
        mains.append(frame.poses[main])
        if second is not None and second >= SECOND_PERSON_SIZE:
            crowded += 1
    if crowded > SECOND_PERSON_SHARE * len(with_pose):
        raise CalibrationError(
            "more than one person is in view: calibrate alone, or sit clearly nearest the "
            "camera, and try again"
        )
    landmarks = np.stack(mains)
    for name, idx in REQUIRED_LANDMARKS.items():
        seen = float(np.mean(landmarks[:, idx, 3] >= min_visibility))
        if seen < MIN_VISIBLE_SHARE:
            raise CalibrationError(
                f"your {name} is not visible in {round((1 - seen) * 100)}% of the frames: "
                "make sure your face and both shoulders are in the picture and lit, and try again"
            )
    return landmarks, np.array([f.aspect for f in with_pose])


def robust_stats(values: np.ndarray) -> FeatureStats:
    finite = values[np.isfinite(values)]
    if finite.size < max(1, values.size // 2):
        return FeatureStats(None, None)
    median = float(np.median(finite))
    spread = float(MAD_TO_SIGMA * np.median(np.abs(finite - median)))
    return FeatureStats(median, spread)


def check_stillness(rows: np.ndarray, view: View) -> None:
    for name, limit in STILLNESS_LIMITS[view].items():
        stats = robust_stats(rows[:, features.index(name)])
        if stats.spread is not None and stats.spread > limit:
            raise CalibrationError(
                "you moved during calibration: sit upright, look at the screen, keep still "
                "for the whole countdown, and try again"
            )


def profile_from_features(
    rows: np.ndarray,
    *,
    name: str,
    view: View,
    sensitivity: Sensitivity,
    camera: Camera,
    model_sha256: str,
    created: str,
) -> Profile:
    """The profile of calibration samples ((N, F) features of the user's upright frames)."""
    stats = {n: robust_stats(rows[:, i]) for i, n in enumerate(features.NAMES)}
    return Profile(
        name=name,
        created=created,
        view=view,
        sensitivity=sensitivity,
        camera=camera,
        model_sha256=model_sha256,
        frames=int(rows.shape[0]),
        features=stats,
    )


def calibrate(
    frames: Sequence[FrameStats],
    *,
    name: str,
    sensitivity: Sensitivity,
    camera: Camera,
    model_sha256: str,
    created: str,
    min_visibility: float = 0.5,
) -> Profile:
    """All the gates, then the profile. Pure: the caller supplies frames and the time."""
    landmarks, aspects = check_frames(frames, min_visibility=min_visibility)
    # Frames may differ in size (photographs): each gets its own aspect.
    view = view_of(landmarks, aspects)
    rows = np.vstack(
        [
            features.compute_features(marks, aspect=float(aspect), min_visibility=min_visibility)
            for marks, aspect in zip(landmarks, aspects, strict=True)
        ]
    )
    check_stillness(rows, view)
    required = ("head_height", "ear_height") if view == "front" else ("neck_inclination",)
    if all(robust_stats(rows[:, features.index(r)]).median is None for r in required):
        raise CalibrationError(
            "the features a verdict needs could not be measured: face the camera with head "
            "and shoulders in view, and try again"
        )
    return profile_from_features(
        rows,
        name=name,
        view=view,
        sensitivity=sensitivity,
        camera=camera,
        model_sha256=model_sha256,
        created=created,
    )
