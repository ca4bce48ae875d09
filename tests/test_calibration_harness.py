"""The calibration harness (calibration/evaluate.py): its statistics on hand-worked cases,
its label discovery, and one real run over the shared photographs."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from posture import features

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


@pytest.mark.slow
def test_end_to_end_on_the_shared_photographs(data_dir: Path, tmp_path: Path) -> None:
    if not (data_dir / "webcam-front").is_dir() or not (data_dir / "side-view").is_dir():
        pytest.skip(f"{data_dir} lacks webcam-front/ or side-view/")
    output = tmp_path / "results.md"
    env = {**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(data_dir), "--output", str(output)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = output.read_text(encoding="utf-8")

    value, higher = _raw_auc(text, "webcam-front", "`upright` vs `slouch`", "head_height")
    assert value >= 0.9 and higher == "upright"

    value, higher = _raw_auc(text, "side-view", "`straight` vs `hunchback`", "neck_inclination")
    assert value >= 0.9 and higher == "hunchback"

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
