"""Synthetic landmarks, profiles and timelines for testing the judgment and the episodes.

`pose` draws MediaPipe-like image landmarks ((33, 4): x and y normalised by the image
width and height, y down, z unused, visibility in column 3) of a person seated in front
of a webcam: face, shoulders and elbows visible, hips and below out of the picture. The
person's left side is on the image right (an unmirrored front camera).

`make_profile` calibrates from generated upright frames through the real
`posture.core.calibration.calibrate`; `Scenario` is a timeline of segments (upright, slouch,
glance, away, dropout, second_person) that gives the poses of the frame at any time; and
`drive` samples a scenario at a rate through the real pipeline: features -> the
calibrated person -> the judge -> the episode tracker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from posture.core import features
from posture.core.calibration import FrameStats, calibrate
from posture.core.episodes import DEFAULT_SETTINGS, Settings, Tracker, Update
from posture.core.judgment import Judge, Judgment, is_far_from_calibration, select_person
from posture.core.profile import Camera, Profile, Sensitivity

WIDTH, HEIGHT = 640, 480
ASPECT = WIDTH / HEIGHT
CAMERA = Camera("synthetic", "video", WIDTH, HEIGHT)
CREATED = "2025-01-01T00:00:00+00:00"
#: Landmark jitter (normalised units): about 1.5 pixels at 640x480.
NOISE = 0.003

# Landmark indices beyond those `posture.core.features` names.
EYES = (1, 2, 3, 4, 5, 6)
MOUTH = (9, 10)
HEAD = (features.NOSE, *EYES, features.LEFT_EAR, features.RIGHT_EAR, *MOUTH)
LEFT_ELBOW, RIGHT_ELBOW = 13, 14

# Where the shoulder midpoint sits in the picture (normalised x, y) at shift (0, 0).
ANCHOR = (0.5, 0.72)
# The upright body around the shoulder midpoint, in image heights at scale 1 (X right,
# Y down; the person's left at +X). Head height: the nose 0.21 above the shoulder line,
# shoulder width 0.36, so head_height is 0.58 as measured on real webcam frames.
SHOULDER_HALF = 0.18
HEAD_HEIGHT = 0.21
_BODY: dict[int, tuple[float, float]] = {
    0: (0.0, -0.21),  # nose
    1: (0.022, -0.238),  # left eye inner
    2: (0.035, -0.240),  # left eye
    3: (0.048, -0.238),  # left eye outer
    4: (-0.022, -0.238),
    5: (-0.035, -0.240),
    6: (-0.048, -0.238),
    7: (0.075, -0.225),  # left ear
    8: (-0.075, -0.225),
    9: (0.026, -0.172),  # mouth left
    10: (-0.026, -0.172),
    11: (SHOULDER_HALF, 0.0),  # left shoulder
    12: (-SHOULDER_HALF, 0.0),
    13: (0.23, 0.25),  # left elbow
    14: (-0.23, 0.25),
    15: (0.13, 0.42),  # wrists, hands: below the picture
    16: (-0.13, 0.42),
    17: (0.14, 0.47),
    18: (-0.14, 0.47),
    19: (0.13, 0.48),
    20: (-0.13, 0.48),
    21: (0.11, 0.46),
    22: (-0.11, 0.46),
    23: (0.11, 0.50),  # hips: hidden by the desk
    24: (-0.11, 0.50),
    25: (0.12, 0.75),  # knees, ankles, feet
    26: (-0.12, 0.75),
    27: (0.12, 1.05),
    28: (-0.12, 1.05),
    29: (0.12, 1.08),
    30: (-0.12, 1.08),
    31: (0.14, 1.10),
    32: (-0.14, 1.10),
}
_OFFSETS = np.array([_BODY[i] for i in range(features.NUM_LANDMARKS)], dtype=np.float64)
_VISIBLE = (*HEAD, features.LEFT_SHOULDER, features.RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW)
_VISIBILITY = np.full(features.NUM_LANDMARKS, 0.05)
_VISIBILITY[list(_VISIBLE)] = 0.99
_IS_HEAD = np.zeros(features.NUM_LANDMARKS, dtype=bool)
_IS_HEAD[list(HEAD)] = True
# Leaning pivots around the hips.
_PIVOT = np.array(_BODY[23]) * (0.0, 1.0)

#: Visibility overrides for a landmark dropout: the face is not seen.
DROPOUT: dict[int, float] = dict.fromkeys(HEAD, 0.1)


def pose(
    *,
    head_drop: float = 0.0,
    lean: float = 0.0,
    scale: float = 1.0,
    shift: tuple[float, float] = (0.0, 0.0),
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
    visibility: Mapping[int, float] | None = None,
    aspect: float = ASPECT,
) -> np.ndarray:
    """One seated person's (33, 4) landmarks.

    head_drop: 0 upright .. 1 clearly slouched: the head (nose, eyes, ears, mouth) moves
        down towards the shoulder line by head_drop x 25% of the upright head height.
    lean: degrees sideways, the upper body turning about the hips; positive lowers the
        shoulder on the image right (shoulder_tilt becomes `lean`).
    scale: size in the picture (distance to the camera): 1 is the calibrated size.
    shift: (dx, dy) of the whole person in normalised units (image widths, heights).
    noise: standard deviation of gaussian jitter on x and y (normalised), from `rng`.
    visibility: {landmark index: visibility} overrides, e.g. `DROPOUT`.
    """
    body = _OFFSETS.copy()
    body[_IS_HEAD, 1] += head_drop * 0.25 * HEAD_HEIGHT
    if lean:
        angle = math.radians(lean)
        cos, sin = math.cos(angle), math.sin(angle)
        rel = body - _PIVOT
        body = _PIVOT + np.column_stack(
            (rel[:, 0] * cos - rel[:, 1] * sin, rel[:, 0] * sin + rel[:, 1] * cos)
        )
    out = np.zeros((features.NUM_LANDMARKS, 4), dtype=np.float64)
    out[:, 0] = ANCHOR[0] + shift[0] + body[:, 0] * scale / aspect
    out[:, 1] = ANCHOR[1] + shift[1] + body[:, 1] * scale
    if noise:
        if rng is None:
            raise ValueError("noise needs an rng (np.random.default_rng(seed))")
        out[:, :2] += rng.normal(0.0, noise, size=(features.NUM_LANDMARKS, 2))
    out[:, 3] = _VISIBILITY
    for idx, vis in (visibility or {}).items():
        out[idx, 3] = vis
    return out


def calibration_frames(
    n: int = 30, *, noise: float = NOISE, seed: int = 0, **pose_args: Any
) -> list[FrameStats]:
    """`n` upright frames as calibration sees them (an ordinary, well-lit picture)."""
    rng = np.random.default_rng(seed)
    return [
        FrameStats(
            mean=120.0,
            std=40.0,
            poses=pose(noise=noise, rng=rng, **pose_args)[np.newaxis],
            aspect=ASPECT,
        )
        for _ in range(n)
    ]


def make_profile(
    n: int = 30,
    *,
    noise: float = NOISE,
    seed: int = 0,
    sensitivity: Sensitivity = "medium",
    **pose_args: Any,
) -> Profile:
    """A profile calibrated by the real `calibrate` from generated upright frames."""
    return calibrate(
        calibration_frames(n, noise=noise, seed=seed, **pose_args),
        name="synthetic",
        sensitivity=sensitivity,
        camera=CAMERA,
        model_sha256="synthetic",
        created=CREATED,
    )


Kind = Literal["upright", "slouch", "glance", "away", "dropout", "second_person"]
_DEFAULT_DROP = {"slouch": 1.0, "glance": 1.0}
#: The second person: well behind the user (under half their size) and to one side,
#: slouched, so that judging them instead of the user would show.
BYSTANDER: dict[str, Any] = {"scale": 0.45, "shift": (0.3, -0.12), "head_drop": 1.0}


@dataclass(frozen=True)
class Segment:
    """A stretch of the timeline.

    upright / slouch / glance: the user alone, head_drop `drop` (default 0, 1 and 1: a
    glance is a short head drop); away: nobody (or only the bystander); dropout: the
    user with the face not seen (nose, eyes, ears, mouth at visibility 0.1);
    second_person: the user plus a smaller, off-centre second person. `bystander` adds
    the second person to any segment.
    """

    kind: Kind
    duration: float
    drop: float | None = None
    lean: float = 0.0
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    bystander: bool = False

    @property
    def head_drop(self) -> float:
        return self.drop if self.drop is not None else _DEFAULT_DROP.get(self.kind, 0.0)


class Scenario:
    """A timeline of segments from t = 0; `poses(t)` is the frame's (P, 33, 4) poses.

    The jitter of a frame depends only on (seed, t, which person), so sampling the same
    scenario at any rate sees the same signal, and a bystander never changes the user's
    landmarks. Past the last segment the last one continues."""

    def __init__(
        self,
        segments: Sequence[Segment],
        *,
        noise: float = NOISE,
        seed: int = 0,
        bystander: bool = False,
        bystander_args: Mapping[str, Any] | None = None,
    ) -> None:
        if not segments:
            raise ValueError("a scenario needs at least one segment")
        self.segments = tuple(segments)
        self.noise = noise
        self.seed = seed
        self.bystander = bystander
        self.bystander_args = dict(BYSTANDER if bystander_args is None else bystander_args)
        self.starts = np.cumsum([0.0, *(s.duration for s in self.segments)])

    @property
    def duration(self) -> float:
        return float(self.starts[-1])

    def start_of(self, i: int) -> float:
        """When segment `i` begins."""
        return float(self.starts[i])

    def segment_at(self, t: float) -> Segment:
        i = int(np.searchsorted(self.starts, t, side="right")) - 1
        return self.segments[min(max(i, 0), len(self.segments) - 1)]

    def _rng(self, t: float, who: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, round(t * 1000), who])

    def poses(self, t: float) -> np.ndarray:
        seg = self.segment_at(t)
        out = []
        if seg.kind != "away":
            out.append(
                pose(
                    head_drop=seg.head_drop,
                    lean=seg.lean,
                    scale=seg.scale,
                    shift=seg.shift,
                    noise=self.noise,
                    rng=self._rng(t, 0),
                    visibility=DROPOUT if seg.kind == "dropout" else None,
                )
            )
        if self.bystander or seg.bystander or seg.kind == "second_person":
            out.append(pose(noise=self.noise, rng=self._rng(t, 1), **self.bystander_args))
        if not out:
            return np.zeros((0, features.NUM_LANDMARKS, 4))
        return np.stack(out)


@dataclass
class Run:
    """What `drive` saw: one entry per sample."""

    times: list[float]
    judgments: list[Judgment]
    updates: list[Update]
    tracker: Tracker

    def states(self) -> list[str]:
        return [u.state for u in self.updates]

    def at(self, t: float) -> Update:
        """The update of the last sample at or before `t`."""
        i = int(np.searchsorted(self.times, t + 1e-9, side="right")) - 1
        if i < 0:
            raise ValueError(f"no sample at or before {t}")
        return self.updates[i]


def drive(
    scenario: Scenario,
    profile: Profile,
    *,
    rate: float,
    settings: Settings = DEFAULT_SETTINGS,
    start: float = 0.0,
    end: float | None = None,
    judge: Judge | None = None,
    finish: bool = True,
) -> Run:
    """Sample `scenario` at `rate` Hz over [start, end) (default: all of it) through the
    real pipeline, and `finish` the tracker at `end` unless told not to."""
    end = scenario.duration if end is None else end
    judge = judge or Judge(profile)
    tracker = Tracker(settings)
    count = math.ceil((end - start) * rate - 1e-9)
    times = [start + k / rate for k in range(count)]
    judgments: list[Judgment] = []
    updates: list[Update] = []
    for t in times:
        judgment, far = judge_frame(judge, scenario.poses(t))
        judgments.append(judgment)
        updates.append(tracker.update(t, judgment, far=far))
    if finish:
        tracker.finish(end)
    return Run(times, judgments, updates, tracker)


def judge_frame(judge: Judge, poses: np.ndarray) -> tuple[Judgment, bool]:
    """One frame's poses -> the calibrated person's judgment, and whether they sit far
    from the calibrated place."""
    profile = judge.profile
    if poses.shape[0] == 0:
        return judge.judge(None), False
    rows = features.compute_features(poses, aspect=ASPECT)
    chosen = select_person(rows, profile)
    row = None if chosen is None else rows[chosen]
    far = row is not None and is_far_from_calibration(row, profile)
    return judge.judge(row), far
