"""The calibration harness (calibration/evaluate.py): its statistics on hand-worked cases,
its label discovery, and one real run over the shared photographs."""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from posture.adapters.pose import native_log
from posture.core import features, judgment
from posture.core.calibration import FrameStats
from posture.core.judgment import Judgment
from posture.core.profile import Camera

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "calibration" / "evaluate.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calibration_evaluate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


ev = _load()


# --- AUC ---------------------------------------------------------------------------------


def test_auc_perfectly_separated() -> None:
    assert ev.auc([1.0, 2.0, 3.0], [4.0, 5.0]) == 1.0
    assert ev.auc([4.0, 5.0], [1.0, 2.0, 3.0]) == 0.0
    assert ev.oriented(0.0) == (1.0, False)
    assert ev.oriented(1.0) == (1.0, True)


def test_auc_identical_samples_is_one_half() -> None:
    assert ev.auc([2.0, 2.0, 2.0], [2.0, 2.0]) == 0.5
    assert ev.oriented(0.5) == (0.5, None)


def test_auc_hand_worked_with_a_tie() -> None:
    # other 2 vs ref 1, 2, 3: win, tie, loss = 1.5; other 4: three wins = 3. 4.5 / 6.
    assert ev.auc([1.0, 2.0, 3.0], [2.0, 4.0]) == pytest.approx(0.75)
    assert ev.auc([2.0, 4.0], [1.0, 2.0, 3.0]) == pytest.approx(0.25)
    assert ev.oriented(0.25) == (0.75, False)


def test_auc_leaves_nan_out_and_is_nan_without_values() -> None:
    assert ev.auc([1.0, math.nan, 2.0], [3.0, math.nan]) == 1.0
    assert math.isnan(ev.auc([math.nan], [1.0]))
    assert math.isnan(ev.auc([], [1.0]))


# --- best threshold ----------------------------------------------------------------------


def test_best_threshold_hand_worked() -> None:
    # Cuts 1.5 .. 5.5; "other if > 4.5" catches 5 and 6 (2/3) and no reference (4/4):
    # (2/3 + 1) / 2 = 0.833, better than 2.5 (0.75), 3.5 (0.708), 1.5 (0.625), 5.5 (0.667).
    split = ev.best_threshold([1.0, 2.0, 3.0, 4.0], [3.0, 5.0, 6.0])
    assert split == ev.Split(pytest.approx(5 / 6), 4.5, True)


def test_best_threshold_other_lower() -> None:
    split = ev.best_threshold([0.5, 0.6, 0.55], [0.4, 0.45, 0.3])
    assert split.other_higher is False
    assert split.threshold == pytest.approx(0.475)
    assert split.balanced_accuracy == 1.0


def test_best_threshold_degenerate() -> None:
    split = ev.best_threshold([1.0, 1.0], [1.0])
    assert split.balanced_accuracy == 0.5
    assert split.threshold == 1.0
    assert ev.best_threshold([math.nan], [1.0]) is None


# --- relative transform ------------------------------------------------------------------


def test_relative_transform_subtracts_the_reference_median_and_excludes_it() -> None:
    values = np.array([[1.0, 10.0], [5.0, 20.0], [3.0, math.nan], [7.0, 40.0], [9.0, 50.0]])
    baseline, relative, keep = ev.relative_transform(values, [0, 2, 1])
    # Median of rows 0, 2, 1: (1, 3, 5) -> 3; (10, NaN, 20) -> 15 with the NaN left out.
    np.testing.assert_allclose(baseline, [3.0, 15.0])
    np.testing.assert_allclose(relative[3], [4.0, 25.0])
    np.testing.assert_allclose(relative[4], [6.0, 35.0])
    assert keep.tolist() == [False, False, False, True, True]


def test_relative_transform_without_reference_rows() -> None:
    baseline, _, keep = ev.relative_transform(np.ones((2, 3)), [])
    assert np.isnan(baseline).all()
    assert keep.all()


# --- label discovery ---------------------------------------------------------------------


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_discover_sets_labels_by_folder_or_file_name(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "README.md",
        "front/upright/s-2.jpg",
        "front/upright/s-10.jpg",
        "front/upright/s-1.jpg",
        "front/slouch/s-1.JPG",
        "front/slouch/deeper/s-7.png",
        "front/notes.txt",
        "side/straight_flip.jpg",
        "side/hunchback-2.jpeg",
        "side/kneeling.jpg",
        "side/recline7.png",
        "side/.hidden.jpg",
        "side/LICENSE",
        "empty/notes.txt",
        "one/test_image.jpg",
    )
    sets = {s.name: s for s in ev.discover_sets(tmp_path)}
    assert sorted(sets) == ["front", "one", "side"]

    front = sets["front"]
    assert front.labelled_by == "folder"
    assert front.labels == ("slouch", "upright")
    got = [(p.path.relative_to(front.root).as_posix(), p.label) for p in front.images]
    assert sorted(got) == [
        ("slouch/deeper/s-7.png", "slouch"),
        ("slouch/s-1.JPG", "slouch"),
        ("upright/s-1.jpg", "upright"),
        ("upright/s-10.jpg", "upright"),
        ("upright/s-2.jpg", "upright"),
    ]
    assert ev.reference_label(front.labels) == "upright"
    # The first frames by file name, digits compared as numbers: 1, 2, then 10.
    picked = ev.reference_indices(front.images, "upright", 2)
    assert [front.images[i].path.name for i in picked] == ["s-1.jpg", "s-2.jpg"]

    side = sets["side"]
    assert side.labelled_by == "file name"
    assert side.labels == ("hunchback", "kneeling", "recline", "straight")
    assert ev.reference_label(side.labels) == "straight"
    assert sets["one"].labels == ("test",)


def test_label_from_name_and_reference_label() -> None:
    assert ev.label_from_name("hunchback_hf_flip.jpg") == "hunchback"
    assert ev.label_from_name("slouch-3.png") == "slouch"
    assert ev.label_from_name("upright12.jpg") == "upright"
    assert ev.label_from_name("recline.jpg") == "recline"
    assert ev.label_from_name("123.jpg") == "123"
    assert ev.reference_label(["b", "upright", "straight"]) == "upright"
    assert ev.reference_label(["zeta", "alpha"]) == "alpha"


# --- a set evaluated and rendered from made-up features ----------------------------------


def test_evaluate_and_render_a_made_up_set(tmp_path: Path) -> None:
    _touch(tmp_path, *(f"s/upright/u{i}.jpg" for i in range(5)), "s/slouch/a.jpg", "s/slouch/b.jpg")
    (image_set,) = ev.discover_sets(tmp_path)
    n = len(image_set.images)
    values = np.full((n, len(features.NAMES)), math.nan)
    hh, roll = features.index("head_height"), features.index("head_roll")
    made_up = {"u0": 0.50, "u1": 0.52, "u2": 0.51, "u3": 0.53, "u4": 0.55, "a": 0.41, "b": 0.39}
    for i, image in enumerate(image_set.images):
        values[i, hh] = made_up[image.path.stem]
        values[i, roll] = float(i % 2)
    result = ev.evaluate_set(image_set, values, [True] * n, reference_count=3)
    assert result.reference == "upright"
    assert result.reference_files == ("u0.jpg", "u1.jpg", "u2.jpg")
    assert "trunk_inclination" in result.not_visible
    assert "head_height" not in result.not_visible
    (pair,) = result.pairs
    assert (pair.n_reference, pair.n_other, pair.n_reference_relative) == (5, 2, 2)
    head = next(c for c in pair.comparisons if c.feature == "head_height")
    assert head.raw.auc == 0.0 and head.raw.strength == 1.0
    assert head.relative is not None and head.relative.n_reference == 2
    assert head.baseline == pytest.approx(0.51)
    assert head.median_reference == pytest.approx(0.52)

    run = ev.RunInfo("python calibration/evaluate.py x", "bundled full", "ab" * 32, "1.2.2", 0.5)
    text = ev.render_report([result], [], run)
    assert "`abababababab`" in text
    assert "(-23%)" in text  # head_height median 0.52 -> 0.40
    assert "## What this means for the defaults" in text
    assert "not visible" in text
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)


# --- the judgment: summaries, balanced accuracy, thresholds ------------------------------


def _j(verdict: str, **problems: float) -> Judgment:
    score = max(problems.values(), default=math.nan)
    return Judgment(verdict, score, dict(problems))  # type: ignore[arg-type]


def test_summarize_verdicts_counts_verdicts_and_flagged_problems() -> None:
    summary = ev.summarize_verdicts(
        [
            _j("good", slouch=0.4),
            _j("bad", slouch=1.3, leaning=0.2),
            _j("bad", leaning=1.1, slouch=2.0),
            _j("uncertain"),
            _j("away"),
            _j("bad", too_close=1.0),
        ]
    )
    assert summary.frames == 6
    assert dict(summary.verdicts) == {"good": 1, "bad": 3, "uncertain": 1, "away": 1}
    # Only problems at severity >= 1 count, in judgment.PROBLEMS order.
    assert list(summary.problems.items()) == [("slouch", 2), ("too_close", 1), ("leaning", 1)]
    assert summary.share("bad") == pytest.approx(0.5)
    assert summary.scores == (0.4, 2.0)  # uncertain and away have no score


def test_summarize_verdicts_of_nothing() -> None:
    summary = ev.summarize_verdicts([])
    assert summary.frames == 0
    assert dict(summary.verdicts) == {"good": 0, "bad": 0, "uncertain": 0, "away": 0}
    assert dict(summary.problems) == {}
    assert summary.scores is None
    assert math.isnan(summary.share("good"))


def test_balanced_accuracy_hand_worked() -> None:
    # Reference: 3 of 4 good (the uncertain one is a miss); other: 1 of 2 bad (away is a miss).
    reference = ev.summarize_verdicts([_j("good"), _j("good"), _j("good"), _j("uncertain")])
    other = ev.summarize_verdicts([_j("bad", slouch=1.5), _j("away")])
    assert ev.balanced_accuracy(reference, other) == pytest.approx((3 / 4 + 1 / 2) / 2)
    perfect = ev.summarize_verdicts([_j("bad", neck=1.2)] * 3)
    assert ev.balanced_accuracy(ev.summarize_verdicts([_j("good")] * 2), perfect) == 1.0
    # Everything bad: the other side is all caught, the reference side all missed.
    assert ev.balanced_accuracy(perfect, perfect) == 0.5
    assert math.isnan(ev.balanced_accuracy(ev.summarize_verdicts([]), perfect))


def test_deviations_relative_and_absolute() -> None:
    relative = judgment.Check("slouch", "height", "head_height", -1, 0.10, True, "front")
    absolute = judgment.Check("leaning", "tilt", "shoulder_tilt", 0, 8.0, False, "front")
    np.testing.assert_allclose(ev.deviations(relative, [0.45, 0.55], 0.5), [-0.1, 0.1])
    np.testing.assert_allclose(ev.deviations(absolute, [3.0, -1.0], 2.0), [1.0, -3.0])
    assert ev.fmt_amount(relative, -0.1, signed=True) == "-10.0%"
    assert ev.fmt_amount(absolute, 1.0, signed=True) == "+1.0 deg"
    assert ev.fmt_floor(relative, 1.4) == "14% of the median"
    assert ev.fmt_floor(absolute, 0.75) == "6.0 deg"


def _table_rows(lines: list[str]) -> list[list[str]]:
    """The cells of a markdown table's rows (header first), separator left out."""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    return [row for row in rows if not all(set(cell) <= {"-"} for cell in row)]


def test_thresholds_table_has_every_check_and_the_scales() -> None:
    lines = ev.render_thresholds()
    text = "\n".join(lines)
    rows = _table_rows([line for line in lines if line.startswith("|")])
    header, body = rows[0], rows[1:]
    assert len(body) == len(judgment.CHECKS)
    for check, row in zip(judgment.CHECKS, body, strict=True):
        assert row[header.index("feature")] == f"`{check.feature}`"
        assert row[header.index("problem")].startswith(f"`{check.problem}`")
        assert row[header.index("view")] == check.view
        for name, scale in judgment.SENSITIVITY_SCALE.items():
            assert row[header.index(f"floor, {name}")] == ev.fmt_floor(check, scale)
    assert f"{judgment.SPREAD_FACTOR:g} × the calibrated robust spread" in text
    for name, scale in judgment.SENSITIVITY_SCALE.items():
        assert f"{name} × {scale:g}" in text


# --- the judgment over a made-up set -----------------------------------------------------


def _pose(nose_y: float) -> np.ndarray:
    """A front-view pose (1, 33, 4): shoulders at y 0.7, ears at 0.42, nose at `nose_y`."""
    marks = np.zeros((1, 33, 4))
    for idx, (x, y) in {
        features.NOSE: (0.5, nose_y),
        features.LEFT_EAR: (0.55, 0.42),
        features.RIGHT_EAR: (0.45, 0.42),
        features.LEFT_SHOULDER: (0.65, 0.7),
        features.RIGHT_SHOULDER: (0.35, 0.7),
    }.items():
        marks[0, idx] = (x, y, 0.0, 0.99)
    return marks


def _frame(nose_y: float | None, *, std: float = 40.0) -> FrameStats:
    poses = np.zeros((0, 33, 4)) if nose_y is None else _pose(nose_y)
    return FrameStats(120.0, std, poses, 1.0)


def _made_up_set(tmp_path: Path, names: list[str]) -> Any:
    _touch(tmp_path, *(f"s/{name}.jpg" for name in names))
    (image_set,) = ev.discover_sets(tmp_path)
    return image_set


CAMERA = Camera("u0.jpg", "images", 640, 480)


def test_evaluate_judgment_calibrates_on_the_first_reference_frames(tmp_path: Path) -> None:
    image_set = _made_up_set(
        tmp_path,
        ["upright/u0", "upright/u1", "upright/u2", "upright/u3", "slouch/a", "slouch/b"],
    )
    nose = {"u0": 0.4, "u1": 0.4, "u2": 0.4, "u3": 0.41, "a": 0.55, "b": None}
    frames = [_frame(nose[image.path.stem]) for image in image_set.images]
    result = ev.evaluate_judgment(image_set, frames, camera=CAMERA, model_sha256="ab" * 32)
    assert result.refused is None and result.view == "front"
    assert result.reference == "upright" and not result.judged_baseline
    assert result.baseline_files == ("u0.jpg", "u1.jpg", "u2.jpg")
    for sensitivity in ("low", "medium", "high"):
        upright = result.summaries[sensitivity]["upright"]
        slouch = result.summaries[sensitivity]["slouch"]
        assert (upright.frames, upright.verdicts["good"]) == (1, 1)  # u3 only
        assert dict(slouch.verdicts) == {"good": 0, "bad": 1, "uncertain": 0, "away": 1}
        assert dict(slouch.problems) == {"slouch": 1}
        assert result.accuracy(sensitivity, "slouch") == pytest.approx(0.75)
    head = next(c for c in result.checks if c.check.feature == "head_height")
    assert head.median == pytest.approx(1.0)  # nose 0.3 above a 0.3-wide shoulder line
    assert head.tolerances["medium"] == pytest.approx(0.10)  # no spread: the floor
    assert head.tolerances["low"] == pytest.approx(0.14)
    assert head.deviations["slouch"] == pytest.approx((-0.5,))
    assert head.deviations["upright"] == pytest.approx((-1 / 30,))

    run = ev.RunInfo("python calibration/evaluate.py x", "bundled full", "ab" * 32, "1.2.2", 0.5)
    text = ev.render_report([], [], run, [result])
    assert "## The posture judgment" in text
    assert "### Thresholds in force" in text
    assert _judgment_accuracy(text, "s", "upright", "slouch", "medium") == pytest.approx(0.75)
    assert "-50.0%" in text
    assert "% (spread)" not in text  # identical baseline frames: the floors decide


def test_evaluate_judgment_with_only_baseline_reference_frames(tmp_path: Path) -> None:
    image_set = _made_up_set(tmp_path, ["straight_a", "straight_b", "hunch_a"])
    nose = {"straight_a": 0.4, "straight_b": 0.4, "hunch_a": 0.6}
    frames = [_frame(nose[image.path.stem]) for image in image_set.images]
    result = ev.evaluate_judgment(
        image_set, frames, camera=CAMERA, model_sha256="ab" * 32, reference_count=3
    )
    assert result.judged_baseline
    assert result.baseline_files == ("straight_a.jpg", "straight_b.jpg")
    # The baseline frames are judged too, against themselves.
    assert result.summaries["medium"]["straight"].verdicts["good"] == 2
    assert result.accuracy("medium", "hunch") == 1.0
    text = "\n".join(ev.render_judgment(result))
    assert "baseline frames themselves" in text


def test_evaluate_judgment_reports_a_refused_calibration(tmp_path: Path) -> None:
    image_set = _made_up_set(tmp_path, ["upright/u0", "upright/u1", "slouch/a"])
    frames = [
        _frame(0.4, std=0.0 if image.label == "upright" else 40.0) for image in image_set.images
    ]
    result = ev.evaluate_judgment(image_set, frames, camera=CAMERA, model_sha256="ab" * 32)
    assert result.refused is not None and "blank picture" in result.refused
    assert not result.summaries
    text = "\n".join(ev.render_judgments([result]))
    assert "**Calibration refused**: " + result.refused in text
    assert "Calibration refused, so not judged: s." in text


# --- the real thing ----------------------------------------------------------------------


def _raw_auc(text: str, set_name: str, pair: str, feature: str) -> tuple[float, str]:
    """(AUC, the label that is higher) of `feature` in the `pair` table of `set_name`."""
    section = text.split(f"\n## {set_name}\n", 1)[1].split("\n## ", 1)[0]
    table = section.split(f"\n### {pair}\n", 1)[1].split("\n### ", 1)[0]
    row = next(line for line in table.splitlines() if line.startswith(f"| `{feature}` |"))
    cell = row.split(" | ")[2]
    match = re.fullmatch(r"([0-9.]+) \((\w+) higher\)", cell)
    assert match is not None, row
    return float(match.group(1)), match.group(2)


def _judgment_accuracy(
    text: str, set_name: str, reference: str, other: str, sensitivity: str
) -> float:
    """The balanced accuracy of `other` vs `reference` at `sensitivity`, read from the
    report's "Balanced accuracy of the judgment" table (columns found by their header)."""
    section = text.split("\n### Balanced accuracy of the judgment\n", 1)[1]
    section = re.split(r"\n#{1,3} ", section, maxsplit=1)[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    rows = _table_rows(table)
    header = rows[0]
    pair = f"`{reference}` → `{other}`"
    row = next(
        r
        for r in rows[1:]
        if r[header.index("set")] == set_name and r[header.index("pair")] == pair
    )
    return float(row[header.index(sensitivity)])


@pytest.mark.slow
def test_end_to_end_on_the_shared_photographs(data_dir: Path, tmp_path: Path) -> None:
    if not (data_dir / "webcam-front").is_dir() or not (data_dir / "side-view").is_dir():
        pytest.skip(f"{data_dir} lacks webcam-front/ or side-view/")
    output = tmp_path / "results.md"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(data_dir), "--output", str(output)],
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    # MediaPipe's native info and warning lines are filtered out of stderr.
    noise = [line for line in done.stderr.splitlines() if native_log.is_noise(line)]
    assert not noise, noise
    text = output.read_text(encoding="utf-8")

    value, higher = _raw_auc(text, "webcam-front", "`upright` vs `slouch`", "head_height")
    assert value >= 0.9 and higher == "upright"

    value, higher = _raw_auc(text, "side-view", "`straight` vs `hunchback`", "neck_inclination")
    assert value >= 0.9 and higher == "hunchback"

    # The real judgment, calibrated on the first three reference frames.
    assert "## The posture judgment" in text
    assert "### Thresholds in force" in text
    for check in judgment.CHECKS:
        assert f"`{check.feature}`" in text.split("### Thresholds in force", 1)[1]
    front = _judgment_accuracy(text, "webcam-front", "upright", "slouch", "medium")
    assert front >= 0.95
    side = _judgment_accuracy(text, "side-view", "straight", "hunchback", "medium")
    assert side >= 0.95

    assert "mediapipe-fixture" in text  # listed as skipped: one label only
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text)


def test_missing_data_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "absent")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "error" in done.stderr
