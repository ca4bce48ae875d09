"""The judgment on hand-made feature rows: severities worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posture.core import features
from posture.core.judgment import (
    Judge,
    camera_mismatch,
    is_far_from_calibration,
    model_mismatch,
    select_person,
)
from posture.core.profile import Camera, FeatureStats, Profile

UPRIGHT = {
    "head_height": 0.60,
    "ear_height": 0.62,
    "shoulder_width": 0.50,
    "face_width": 0.40,
    "head_pitch": -0.05,
    "head_roll": 0.0,
    "shoulder_tilt": 0.0,
    "head_offset": 0.0,
    "neck_inclination": 20.0,
    "shoulder_x": 0.5,
    "shoulder_y": 0.7,
}


def profile(view: str = "front", spread: float = 0.0, sensitivity: str = "medium") -> Profile:
    stats = {
        n: FeatureStats(UPRIGHT.get(n), None if n not in UPRIGHT else spread)
        for n in features.NAMES
    }
    return Profile(
        name="t",
        created="2026-11-21T00:00:00+00:00",
        view=view,  # type: ignore[arg-type]
        sensitivity=sensitivity,  # type: ignore[arg-type]
        camera=Camera("0", "camera", 640, 480),
        model_sha256="m" * 64,
        frames=30,
        features=stats,
    )


def row(**changes: float) -> np.ndarray:
    values = dict(UPRIGHT, trunk_inclination=math.nan)
    values.update(changes)
    return np.array([values[n] for n in features.NAMES], dtype=np.float64)


def test_upright_is_good_with_zero_score() -> None:
    j = Judge(profile()).judge(row())
    assert j.verdict == "good"
    assert j.score == 0.0
    assert set(j.problems) == {"slouch", "too_close", "leaning", "head_tilt"}
    assert j.worst is None


def test_slouch_severity_averages_head_and_ear_drop() -> None:
    # head: drop 0.09 over tolerance 0.10 * 0.60 = 0.06 -> 1.5
    # ears: drop 0.0434 over 0.07 * 0.62 = 0.0434 -> 1.0; mean 1.25
    j = Judge(profile()).judge(row(head_height=0.51, ear_height=0.62 - 0.0434))
    assert j.problems["slouch"] == pytest.approx(1.25)
    assert j.verdict == "bad"
    assert j.worst == "slouch"
    assert j.bad_problems == ["slouch"]


def test_rising_head_is_not_a_slouch() -> None:
    j = Judge(profile()).judge(row(head_height=0.8, ear_height=0.8))
    assert j.problems["slouch"] == 0.0


def test_forward_head_from_face_width() -> None:
    # face +0.12 over 0.2 * 0.40 = 0.08 -> 1.5, its own group: the max with height (0)
    j = Judge(profile()).judge(row(face_width=0.52))
    assert j.problems["slouch"] == pytest.approx(1.5)


def test_too_close_leaning_and_tilt_both_ways() -> None:
    judge = Judge(profile())
    assert judge.judge(row(shoulder_width=0.65)).problems["too_close"] == pytest.approx(1.5)
    assert judge.judge(row(shoulder_width=0.40)).problems["too_close"] == 0.0
    assert judge.judge(row(shoulder_tilt=-12.0)).problems["leaning"] == pytest.approx(1.5)
    assert judge.judge(row(head_offset=0.1)).problems["leaning"] == pytest.approx(0.5)
    assert judge.judge(row(head_roll=30.0)).problems["head_tilt"] == pytest.approx(2.0)


def test_sensitivity_scales_tolerances() -> None:
    sample = row(head_height=0.54, ear_height=0.62 - 0.0434 * 0.9)  # medium: (1.0 + 0.9)/2
    assert Judge(profile()).judge(sample).problems["slouch"] == pytest.approx(0.95)
    assert Judge(profile(), "high").judge(sample).problems["slouch"] == pytest.approx(0.95 / 0.75)
    assert Judge(profile(sensitivity="low")).judge(sample).problems["slouch"] == pytest.approx(
        0.95 / 1.4
    )


def test_a_jittery_calibration_widens_the_tolerance() -> None:
    # spread 0.04: 3 x 0.04 = 0.12 > every floor used below
    j = Judge(profile(spread=0.04)).judge(row(head_height=0.48, ear_height=0.50))
    assert j.problems["slouch"] == pytest.approx(1.0)


def test_missing_landmarks_make_uncertain_or_partial() -> None:
    judge = Judge(profile())
    assert judge.judge(row(head_height=math.nan, ear_height=math.nan)).verdict == "uncertain"
    partial = judge.judge(row(head_height=math.nan, ear_height=0.62 - 2 * 0.0434))
    assert partial.problems["slouch"] == pytest.approx(2.0)  # the ear alone
    assert judge.judge(None).verdict == "away"


def test_side_view_judges_the_neck_only() -> None:
    judge = Judge(profile("side"))
    assert judge.problems == ("neck",)
    assert judge.judge(row(neck_inclination=35.0)).problems == {"neck": pytest.approx(1.5)}
    assert judge.judge(row(neck_inclination=35.0, head_height=0.1)).verdict == "bad"
    assert judge.judge(row(neck_inclination=15.0)).verdict == "good"
    assert judge.judge(row(neck_inclination=math.nan)).verdict == "uncertain"


def test_batch_equals_one_by_one() -> None:
    judge = Judge(profile())
    rows = np.stack(
        [
            row(),
            row(head_height=0.4),
            row(shoulder_tilt=20.0),
            row(head_height=math.nan, ear_height=math.nan),
        ]
    )
    batch = judge.judge_rows(rows)
    assert [j.verdict for j in batch] == ["good", "bad", "bad", "uncertain"]
    for i, j in enumerate(batch):
        single = judge.judge(rows[i])
        assert single.verdict == j.verdict
        assert single.problems == pytest.approx(j.problems)


def test_the_calibrated_person_is_followed() -> None:
    p = profile()
    user = row(shoulder_x=0.52)
    passer = row(shoulder_x=0.1, shoulder_width=0.3)
    assert select_person(np.stack([passer, user]), p) == 1
    assert select_person(np.stack([user, passer]), p) == 0
    assert select_person(passer[None, :], p) is None  # only a passer-by: away
    assert select_person(np.empty((0, len(features.NAMES))), p) is None
    big_stranger = row(shoulder_width=1.2)
    assert select_person(big_stranger[None, :], p) is None


def test_far_from_calibration_and_setup_changes() -> None:
    p = profile()
    assert not is_far_from_calibration(row(shoulder_x=0.55), p)
    assert is_far_from_calibration(row(shoulder_x=0.7), p)
    assert is_far_from_calibration(row(shoulder_width=0.7), p)
    assert camera_mismatch(p, "camera", "0", 640, 480) is None
    assert "calibrated with camera 0, not 1" in (camera_mismatch(p, "camera", "1", 640, 480) or "")
    assert "1280x720 but profile 't' was calibrated at 640x480" in (
        camera_mismatch(p, "camera", "0", 1280, 720) or ""
    )
    assert model_mismatch(p, "m" * 64) is None
    assert "another pose model" in (model_mismatch(p, "n" * 64) or "")
