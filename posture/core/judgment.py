"""The posture judgment: features against the user's calibrated profile. Pure numpy.

Every check compares one feature with its calibrated median. Its tolerance is the larger
of a floor (what the calibration harness found separates postures, scaled by the
sensitivity) and three robust spreads of the calibration, so a jittery calibration
widens the tolerance instead of nagging. A deviation divided by its tolerance is a
*severity*: 1.0 is the threshold of a problem.

Checks of one problem and one group are averaged (two measures of the same thing, such
as nose and ear height, steady each other); a problem's severity is the largest of its
groups; the sample's score is the largest problem severity.

The floors come from `calibration/results.md` (webcam-front, 3 upright baseline frames):
see `calibration/README.md`, "Thresholds chosen".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from posture.core import features
from posture.core.profile import Profile, View
from posture.core.vocab import PROBLEMS, Verdict

#: Tolerance multipliers: low sensitivity lets more pass.
SENSITIVITY_SCALE = {"low": 1.4, "medium": 1.0, "high": 0.75}

#: How many calibrated robust spreads a feature may wander before it counts.
SPREAD_FACTOR = 3.0


@dataclass(frozen=True)
class Check:
    problem: str
    group: str
    feature: str
    #: +1: bad when the value rises; -1: when it falls; 0: either way
    direction: int
    #: tolerance at medium sensitivity: a fraction of |median| if `relative`, else units
    floor: float
    relative: bool
    view: View


CHECKS: tuple[Check, ...] = (
    # Upright frames stay within -7.3% / -3.5% of the baseline, slouched ones fall
    # 13-28% / 8.8-17% (results.md): a 10% / 7% floor sits in the gap, the mean steadies both.
    Check("slouch", "height", "head_height", -1, 0.10, True, "front"),
    Check("slouch", "height", "ear_height", -1, 0.07, True, "front"),
    # Forward head: the face grows against the shoulders. Upright frames reach +12%.
    Check("slouch", "forward", "face_width", +1, 0.20, True, "front"),
    Check("too_close", "size", "shoulder_width", +1, 0.20, True, "front"),
    Check("leaning", "tilt", "shoulder_tilt", 0, 8.0, False, "front"),
    Check("leaning", "offset", "head_offset", 0, 0.20, False, "front"),
    Check("head_tilt", "roll", "head_roll", 0, 15.0, False, "front"),
    # Side camera: straight 10.5-19 deg, hunched 38-49 deg; +10 over the baseline splits them.
    Check("neck", "neck", "neck_inclination", +1, 10.0, False, "side"),
)

#: The checks a verdict cannot do without, per view: with none of them known, "uncertain".
REQUIRED: dict[str, tuple[str, ...]] = {
    "front": ("head_height", "ear_height"),
    "side": ("neck_inclination",),
}


@dataclass(frozen=True)
class Judgment:
    verdict: Verdict
    #: the largest problem severity; NaN when uncertain or away
    score: float
    #: severity per problem that could be measured
    problems: dict[str, float]

    @property
    def worst(self) -> str | None:
        if not self.problems or self.verdict != "bad":
            return None
        return max(self.problems, key=lambda k: self.problems[k])

    @property
    def bad_problems(self) -> list[str]:
        return [p for p, s in self.problems.items() if s >= 1.0]


AWAY = Judgment("away", math.nan, {})


class Judge:
    """Prepared checks for one profile; `judge_rows` is vectorised over samples."""

    def __init__(self, profile: Profile, sensitivity: str | None = None) -> None:
        self.profile = profile
        scale = SENSITIVITY_SCALE[sensitivity or profile.sensitivity]
        checks = [c for c in CHECKS if c.view == profile.view]
        medians, tolerances, kept = [], [], []
        for check in checks:
            median = profile.median(check.feature)
            if not math.isfinite(median):
                continue  # not seen during calibration: cannot be judged
            floor = check.floor * (abs(median) if check.relative else 1.0) * scale
            spread = profile.spread(check.feature)
            spread = spread if math.isfinite(spread) else 0.0
            kept.append(check)
            medians.append(median)
            tolerances.append(max(floor, SPREAD_FACTOR * spread, 1e-9))
        self.checks = tuple(kept)
        self._columns = np.array([features.index(c.feature) for c in kept], dtype=np.intp)
        self._medians = np.array(medians)
        self._tolerances = np.array(tolerances)
        self._directions = np.array([c.direction for c in kept], dtype=np.float64)
        self.problems = tuple(p for p in PROBLEMS if any(c.problem == p for c in kept))
        groups = sorted({(c.problem, c.group) for c in kept}, key=lambda g: PROBLEMS.index(g[0]))
        self._groups = groups
        # (checks x groups) averaging matrix, and (groups x problems) membership
        self._in_group = np.array(
            [[c.problem == p and c.group == g for p, g in groups] for c in kept]
        )
        self._group_problem = np.array([[gp == p for p in self.problems] for gp, _ in groups])
        required = REQUIRED[profile.view]
        self._required = np.array([c.feature in required for c in kept])

    @property
    def tolerances(self) -> dict[Check, float]:
        """The tolerance in force for each check (floor x sensitivity, or the spread)."""
        return {c: float(t) for c, t in zip(self.checks, self._tolerances, strict=True)}

    def severities(self, rows: np.ndarray) -> np.ndarray:
        """(N, F) features -> (N, len(self.problems)) severities, NaN where unknown."""
        rows = np.atleast_2d(rows)
        values = rows[:, self._columns]
        delta = (values - self._medians) / self._tolerances
        signed = np.where(
            self._directions == 0, np.abs(delta), np.maximum(delta * self._directions, 0.0)
        )
        known = ~np.isnan(signed)
        filled = np.where(known, signed, 0.0)
        count = known.astype(np.float64) @ self._in_group
        with np.errstate(invalid="ignore", divide="ignore"):
            group_sev = (
                filled @ self._in_group
            ) / count  # NaN where no check of the group is known
        out = np.full((rows.shape[0], len(self.problems)), np.nan)
        for j in range(len(self.problems)):
            members = group_sev[:, self._group_problem[:, j]]
            any_known = ~np.all(np.isnan(members), axis=1)
            out[any_known, j] = np.nanmax(members[any_known], axis=1)
        return out

    def judge_rows(self, rows: np.ndarray) -> list[Judgment]:
        rows = np.atleast_2d(rows)
        sev = self.severities(rows)
        certain = ~np.all(np.isnan(rows[:, self._columns[self._required]]), axis=1)
        out: list[Judgment] = []
        for i in range(rows.shape[0]):
            if not certain[i]:
                out.append(Judgment("uncertain", math.nan, {}))
                continue
            problems = {
                p: float(s) for p, s in zip(self.problems, sev[i], strict=True) if not math.isnan(s)
            }
            score = max(problems.values(), default=math.nan)
            out.append(Judgment("bad" if score >= 1.0 else "good", score, problems))
        return out

    def judge(self, row: np.ndarray | None) -> Judgment:
        """One sample; `None` (no person, or not the calibrated one) is away."""
        if row is None:
            return AWAY
        return self.judge_rows(row)[0]


# --- following the calibrated person -----------------------------------------------------

#: Beyond these the pose is somebody else (or the user moved so far that judging against
#: this calibration would be wrong): the sample counts as away. The distance adds the
#: shift of the shoulder midpoint (image widths/heights) and |log| of the shoulder-width
#: ratio: a slouched user (shoulders 25% narrower, a few % lower) is about 0.35 away, a
#: passer-by at 0.6x size a quarter of the picture off about 0.75.
MAX_SHIFT = 0.35
MAX_SIZE_RATIO = 2.0  # shoulder width, either way
MAX_DISTANCE = 0.5
#: Beyond these (but within the above) the calibration is getting stale.
STALE_SHIFT = 0.15
STALE_SIZE_RATIO = 1.3


def _offsets(rows: np.ndarray, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Shift of the shoulder midpoint and |log| of the shoulder-width ratio, per row."""
    ix, iy, iw = (features.index(n) for n in ("shoulder_x", "shoulder_y", "shoulder_width"))
    x0, y0, w0 = (profile.median(n) for n in ("shoulder_x", "shoulder_y", "shoulder_width"))
    shift = np.hypot(rows[:, ix] - x0, rows[:, iy] - y0)
    with np.errstate(invalid="ignore", divide="ignore"):
        size = np.abs(np.log(rows[:, iw] / w0))
    return shift, size


def select_person(rows: np.ndarray, profile: Profile) -> int | None:
    """Of the poses in one frame ((P, F) features), the one nearest the calibrated position
    and size; None if there is none, or none close enough to be the calibrated person.

    In a side view the position is not followed (the calibration may mix mirrored shots):
    the largest pose counts.
    """
    rows = np.atleast_2d(rows)
    if rows.shape[0] == 0:
        return None
    if profile.view == "side":
        widths = np.nan_to_num(rows[:, features.index("shoulder_width")], nan=-1.0)
        return int(np.argmax(widths))
    shift, size = _offsets(rows, profile)
    distance = shift + size
    candidates = (
        (shift <= MAX_SHIFT) & (size <= math.log(MAX_SIZE_RATIO)) & (distance <= MAX_DISTANCE)
    )
    if not candidates.any():
        return None
    return int(np.argmin(np.where(candidates, distance, np.inf)))


def is_far_from_calibration(row: np.ndarray, profile: Profile) -> bool:
    """Whether the person sits noticeably away from where (or how big) they were calibrated."""
    if profile.view == "side":
        return False
    shift, size = _offsets(np.atleast_2d(row), profile)
    return bool(shift[0] > STALE_SHIFT or size[0] > math.log(STALE_SIZE_RATIO))


def camera_mismatch(
    profile: Profile, kind: str, source: str, width: int, height: int
) -> str | None:
    """Why this profile may not fit the current camera or picture, or None."""
    cam = profile.camera
    hint = "run `posture calibrate` again for reliable verdicts"
    if kind == "camera" and cam.kind == "camera" and source != cam.source:
        return (
            f"profile '{profile.name}' was calibrated with camera {cam.source}, "
            f"not {source}: {hint}"
        )
    if (width, height) != (cam.width, cam.height):
        return (
            f"the picture is {width}x{height} but profile '{profile.name}' was calibrated at "
            f"{cam.width}x{cam.height}: {hint}"
        )
    return None


def model_mismatch(profile: Profile, model_sha256: str) -> str | None:
    if profile.model_sha256 == model_sha256:
        return None
    return (
        f"profile '{profile.name}' was calibrated with another pose model "
        f"({profile.model_sha256[:12]}, now {model_sha256[:12]}): run `posture calibrate` "
        "again for reliable verdicts"
    )
