"""What the preview window draws, as plain values: pure, so every rule of it is tested
without a window, and the window process only paints what it is told.

A `Scene` holds the landmarks that count (nose, ears, shoulders; each seen or not by the
same `min_visibility` the features use), the box where the shoulders belong, each
calibration gate as it stands now, the countdown and the progress, and for
`posture preview` the judgment: score, problems and the calibrated band of each judged
feature with its current value.

Every threshold is the calibration's (`posture.core.calibration`) or the judgment's
(`posture.core.judgment`): a gate drawn green here is one that would pass if the whole
calibration looked like this moment.

Coordinates are fractions of the picture (0..1, y down), already MIRRORED (x -> 1 - x)
when `Scene.mirrored` is set: the window flips the picture and shows the user as a video
call does, so their raised left hand is on their left.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from posture.core import features
from posture.core.calibration import (
    BLANK_STD,
    DARK_MEAN,
    REQUIRED_LANDMARKS,
    SECOND_PERSON_SIZE,
    STILLNESS_LIMITS,
    FrameStats,
    main_pose,
    robust_stats,
    view_of,
)
from posture.core.judgment import STALE_SHIFT, Judge, select_person
from posture.core.profile import Profile

#: Seconds of recent frames the live "still" gate measures its spread over: long enough
#: for a spread of a handful of frames at any camera rate, short enough to turn green
#: soon after the user settles (the calibration itself samples 10 s by default).
STILL_WINDOW = 2.0
#: Fewer frames than this in the window: "still" is not known yet (a spread of two
#: values says nothing).
STILL_MIN_FRAMES = 3

#: Keep landmarks this far (a twentieth of the picture) from its edges: the model's
#: visibility falls for a shoulder at the edge, and a little movement takes it out.
EDGE = 0.05
#: Where both shoulders belong during calibration (fractions of the picture): off the
#: sides and the bottom by `EDGE`, and in the lower part of the picture, the upper part
#: left to the face (it stands about 0.6 shoulder widths above the shoulder line, and the
#: shoulders of a user at a laptop span a third to a half of the picture's width).
CALIBRATION_BOX = (EDGE, 0.45, 1.0 - EDGE, 1.0 - EDGE)

#: The landmarks drawn, with the name the gates use for them.
LANDMARKS: tuple[tuple[str, int], ...] = (
    ("nose", features.NOSE),
    ("left ear", features.LEFT_EAR),
    ("right ear", features.RIGHT_EAR),
    ("left shoulder", features.LEFT_SHOULDER),
    ("right shoulder", features.RIGHT_SHOULDER),
)

#: The gate lines, in the order the calibration checks them.
GATE_LABELS = (
    "enough light",
    "person found",
    "one person",
    "nose seen",
    "ears seen",
    "shoulders seen",
    "still",
)


@dataclass(frozen=True)
class Point:
    name: str
    x: float
    y: float
    seen: bool


@dataclass(frozen=True)
class Gate:
    label: str
    #: None: cannot be told yet (no person, or too few frames for a spread)
    ok: bool | None


@dataclass(frozen=True)
class Band:
    """One judged feature: its calibrated median ± the judge's tolerance, and now."""

    feature: str
    low: float
    high: float
    median: float
    #: None when the feature cannot be measured in this frame
    value: float | None
    #: +1 bad when it rises, -1 when it falls, 0 either way (`judgment.Check.direction`)
    direction: int


@dataclass(frozen=True)
class Scene:
    title: str
    mirrored: bool = True
    points: tuple[Point, ...] = ()
    #: (x0, y0, x1, y1), fractions of the picture, or None
    box: tuple[float, float, float, float] | None = None
    #: both shoulders inside the box; None without a pose
    box_ok: bool | None = None
    gates: tuple[Gate, ...] = ()
    #: seconds left before sampling starts, or None
    countdown: int | None = None
    #: 0..1 of the sampling done, or None
    progress: float | None = None
    #: one short line under the gates ("sit upright and keep still", "frame 12")
    message: str = ""
    #: the judgment (`posture preview`): None while calibrating
    verdict: str | None = None
    score: float | None = None
    problems: tuple[str, ...] = ()
    bands: tuple[Band, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Scene:
        raw: dict[str, Any] = json.loads(text)
        box = raw.get("box")
        return cls(
            title=str(raw["title"]),
            mirrored=bool(raw.get("mirrored", True)),
            points=tuple(Point(**p) for p in raw.get("points", ())),
            box=None if box is None else (box[0], box[1], box[2], box[3]),
            box_ok=raw.get("box_ok"),
            gates=tuple(Gate(**g) for g in raw.get("gates", ())),
            countdown=raw.get("countdown"),
            progress=raw.get("progress"),
            message=str(raw.get("message", "")),
            verdict=raw.get("verdict"),
            score=raw.get("score"),
            problems=tuple(raw.get("problems", ())),
            bands=tuple(Band(**b) for b in raw.get("bands", ())),
        )


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _x(x: float, mirrored: bool) -> float:
    return 1.0 - x if mirrored else x


def points_of(pose: np.ndarray | None, min_visibility: float, mirrored: bool) -> tuple[Point, ...]:
    """The landmarks that count of one (33, 4) pose; none without a pose. A landmark
    outside the picture or below `min_visibility` is "not seen" (drawn where the model
    guesses it, clamped to the picture)."""
    if pose is None:
        return ()
    out = []
    for name, idx in LANDMARKS:
        x, y, vis = float(pose[idx, 0]), float(pose[idx, 1]), float(pose[idx, 3])
        seen = math.isfinite(vis) and vis >= min_visibility
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        cx, cy = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
        out.append(Point(name, _x(cx, mirrored), cy, seen and (cx, cy) == (x, y)))
    return tuple(out)


def mirrored_box(
    box: tuple[float, float, float, float], mirrored: bool
) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    if mirrored:
        x0, x1 = 1.0 - x1, 1.0 - x0
    return (x0, y0, x1, y1)


def shoulders_in(
    points: tuple[Point, ...], box: tuple[float, float, float, float] | None
) -> bool | None:
    """Whether both shoulders are inside the box (where the model puts them, seen or not:
    one outside the picture sits on its edge, outside the box); None without a pose."""
    shoulders = [p for p in points if p.name in ("left shoulder", "right shoulder")]
    if box is None or len(shoulders) < 2:
        return None
    x0, y0, x1, y1 = box
    return all(x0 <= p.x <= x1 and y0 <= p.y <= y1 for p in shoulders)


def calibrated_box(profile: Profile, aspect: float) -> tuple[float, float, float, float] | None:
    """Where the calibrated shoulders were, widened by `STALE_SHIFT` each way: sitting with
    the shoulders inside it, the calibration fits (`judgment.is_far_from_calibration`).
    Unmirrored fractions; None for a side view (its position is not followed)."""
    x, y = profile.median("shoulder_x"), profile.median("shoulder_y")
    width = profile.median("shoulder_width")  # image heights
    if profile.view == "side" or not all(map(math.isfinite, (x, y, width))):
        return None
    half = width / 2 / aspect  # image widths
    return (
        max(x - half - STALE_SHIFT, 0.0),
        max(y - STALE_SHIFT, 0.0),
        min(x + half + STALE_SHIFT, 1.0),
        min(y + STALE_SHIFT, 1.0),
    )


class GateWatch:
    """The calibration's gates, live: each frame's own answer, and "still" over the
    last `STILL_WINDOW` seconds. Frames come with increasing times."""

    def __init__(self, *, min_visibility: float = 0.5, window: float = STILL_WINDOW) -> None:
        self.min_visibility = min_visibility
        self.window = window
        self._recent: deque[tuple[float, np.ndarray, np.ndarray]] = deque()

    def update(self, t: float, stats: FrameStats) -> tuple[tuple[Gate, ...], np.ndarray | None]:
        """The gates for this frame, and the user's pose in it (None: nobody)."""
        light = stats.mean >= DARK_MEAN and stats.std >= BLANK_STD
        found = stats.poses.shape[0] > 0
        while self._recent and self._recent[0][0] < t - self.window:
            self._recent.popleft()
        if not found:
            self._recent.clear()  # movement out of the picture and back is not stillness
            gates = [Gate("enough light", light), Gate("person found", False)]
            gates += [Gate(label, None) for label in GATE_LABELS[2:]]
            return tuple(gates), None
        main, second = main_pose(stats.poses, stats.aspect)
        pose = stats.poses[main]
        vis = self.min_visibility

        def seen(*names: str) -> bool:
            return all(float(pose[REQUIRED_LANDMARKS[n], 3]) >= vis for n in names)

        row = features.compute_features(pose, aspect=stats.aspect, min_visibility=vis)[0]
        self._recent.append((t, pose, row))
        return (
            Gate("enough light", light),
            Gate("person found", True),
            Gate("one person", second is None or second < SECOND_PERSON_SIZE),
            Gate("nose seen", seen("nose")),
            Gate("ears seen", seen("left ear", "right ear")),
            Gate("shoulders seen", seen("left shoulder", "right shoulder")),
            Gate("still", self._still(stats.aspect)),
        ), pose

    def _still(self, aspect: float) -> bool | None:
        if len(self._recent) < STILL_MIN_FRAMES:
            return None
        poses = np.stack([p for _, p, _ in self._recent])
        rows = np.stack([r for _, _, r in self._recent])
        view = view_of(poses, aspect)
        known = False
        for name, limit in STILLNESS_LIMITS[view].items():
            stats = robust_stats(rows[:, features.index(name)])
            if stats.spread is None:
                continue
            if stats.spread > limit:
                return False
            known = True
        return True if known else None


def calibration_scene(
    title: str,
    stats: FrameStats,
    gates: tuple[Gate, ...],
    pose: np.ndarray | None,
    *,
    min_visibility: float,
    countdown: int | None = None,
    progress: float | None = None,
    message: str = "",
    mirrored: bool = True,
) -> Scene:
    """What `posture calibrate --preview` draws over one frame."""
    points = points_of(pose, min_visibility, mirrored)
    box = mirrored_box(CALIBRATION_BOX, mirrored)
    return Scene(
        title=title,
        mirrored=mirrored,
        points=points,
        box=box,
        box_ok=shoulders_in(points, box),
        gates=gates,
        countdown=countdown,
        progress=None if progress is None else min(max(progress, 0.0), 1.0),
        message=message,
    )


def bands(judge: Judge, row: np.ndarray | None) -> tuple[Band, ...]:
    """Each judged feature's calibrated band (median ± the tolerance in force) and its
    value in `row` (None: not measured, or nobody)."""
    out = []
    for check, tolerance in judge.tolerances.items():
        median = judge.profile.median(check.feature)
        value = None if row is None else _finite(row[features.index(check.feature)])
        out.append(
            Band(
                check.feature,
                median - tolerance,
                median + tolerance,
                median,
                value,
                check.direction,
            )
        )
    return tuple(out)


def judgment_scene(
    title: str,
    judge: Judge,
    stats: FrameStats,
    *,
    min_visibility: float,
    message: str = "",
    mirrored: bool = True,
) -> Scene:
    """What `posture preview` draws over one frame: the calibrated person (chosen as the
    monitor chooses), the judge's verdict, score and problems, the bands, and the gates
    that still matter (light, person, one person, the landmarks)."""
    profile = judge.profile
    rows = features.compute_features(
        stats.poses, aspect=stats.aspect, min_visibility=min_visibility
    )
    chosen = select_person(rows, profile) if rows.shape[0] else None
    row = None if chosen is None else rows[chosen]
    pose = None if chosen is None else stats.poses[chosen]
    judgment = judge.judge(row)
    box = calibrated_box(profile, stats.aspect)
    light = stats.mean >= DARK_MEAN and stats.std >= BLANK_STD
    gates = [Gate("enough light", light), Gate("calibrated person found", pose is not None)]
    if pose is not None:
        for label, names in (
            ("nose seen", ("nose",)),
            ("ears seen", ("left ear", "right ear")),
            ("shoulders seen", ("left shoulder", "right shoulder")),
        ):
            ok = all(float(pose[REQUIRED_LANDMARKS[n], 3]) >= min_visibility for n in names)
            gates.append(Gate(label, ok))
    points = points_of(pose, min_visibility, mirrored)
    shown_box = None if box is None else mirrored_box(box, mirrored)
    return Scene(
        title=title,
        mirrored=mirrored,
        points=points,
        box=shown_box,
        box_ok=shoulders_in(points, shown_box),
        gates=tuple(gates),
        message=message,
        verdict=judgment.verdict,
        score=_finite(judgment.score),
        problems=tuple(judgment.bad_problems),
        bands=bands(judge, row),
    )
