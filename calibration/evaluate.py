"""The evidence behind the default thresholds: how well each posture feature separates
labelled postures in real photographs.

    python calibration/evaluate.py [DATA_DIR] [--output calibration/results.md]
                                   [--model PATH] [--reference-count 3]

DATA_DIR defaults to $POSTURE_DATA_DIR, else ``../shared/data`` next to the repository.
Each immediate subfolder of DATA_DIR that holds images (at any depth) is a set. An image's
label is the subfolder of the set it sits in; an image directly in the set folder is
labelled by its file-name prefix (the leading letters: ``hunchback_flip.jpg`` ->
``hunchback``). Sets with fewer than two labels are listed and skipped.

Every image goes through the package itself (`open_source`, `MediaPipePose` in IMAGE mode,
`compute_features`), and the report compares each label with the set's reference label
("upright", else "straight", else the alphabetically first):

* AUC (Mann-Whitney: the chance that a random frame of one label has the larger value,
  ties counted half), given as max(AUC, 1 - AUC) with the label that is higher;
* the best single threshold by balanced accuracy;
* both on the raw values and RELATIVE to the set's first ``--reference-count`` reference
  frames (value minus their median; those frames are left out of the relative scores),
  which is how the monitor judges: against the user's own calibrated upright posture.

Then the package's own judgment, per set: `posture.core.calibration.calibrate` (every quality
gate, with up to two poses per image so that the second-person gate is real) on the same
first reference frames, and `select_person` + `Judge.judge` on every other frame (on the
baseline frames too when a set has no other reference frames), at sensitivity low, medium
and high: verdicts per label, the problems flagged, the balanced accuracy of "bad" against
the reference label's "good", where the frames fall against each check's tolerance, and
the thresholds in force, read from `posture.core.judgment`.

The statistics, the judgment summaries and the markdown are pure functions; `main` only
wires them to the model.
The report has no timestamps, so rerunning on the same data and model gives the same file.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
# Measure the package of this checkout, even when another copy is installed.
sys.path.insert(0, str(REPO))

from posture.adapters.video.sources import IMAGE_EXTENSIONS  # noqa: E402
from posture.core import features, judgment, vocab  # noqa: E402  (after the sys.path line on purpose)
from posture.core.calibration import MAD_TO_SIGMA, CalibrationError, FrameStats, calibrate  # noqa: E402
from posture.core.profile import SENSITIVITIES, Camera  # noqa: E402

if TYPE_CHECKING:
    from posture.adapters.pose.landmarker import MediaPipePose
    from posture.adapters.pose.model import ModelInfo

FloatArray = npt.NDArray[np.float64]

#: Reference labels, in order of preference; else the alphabetically first label.
REFERENCE_LABELS = ("upright", "straight")
DEFAULT_REFERENCE_COUNT = 3
#: A feature finite on fewer than this share of a set's images is "not visible" there.
MIN_VISIBLE_SHARE = 0.5
#: AUC at or above which a feature is said to separate two labels.
STRONG_AUC = 0.9
#: AUC below which a feature is said not to separate two labels.
WEAK_AUC = 0.7
#: Shoulders narrower than this (image heights) mean a side view: the shoulder line is
#: then too short to measure heights, offsets or widths against (the ear line too).
NARROW_SHOULDERS = 0.1
#: Features measured against the shoulder line or the ear line (their length or direction).
LINE_FEATURES = (
    "head_height",
    "ear_height",
    "face_width",
    "head_pitch",
    "head_roll",
    "shoulder_tilt",
    "head_offset",
)
#: Scale-like features that stay well away from zero: for these a change or a relative
#: threshold is also given as a percentage of the reference median. Angles, signed
#: offsets and positions in the frame get differences only.
PERCENT_FEATURES = frozenset({"head_height", "ear_height", "shoulder_width", "face_width"})

_UNIT_SHORT = {
    "degrees": "deg",
    "ratio": "ratio",
    "image heights": "img h",
    "image widths": "img w",
}


# --- label discovery -------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: str


@dataclass(frozen=True)
class ImageSet:
    name: str
    root: Path
    images: tuple[LabelledImage, ...]
    labelled_by: str  # "folder", "file name" or "folder and file name"

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(sorted({image.label for image in self.images}))


def natural_key(text: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """Sort key putting ``x-2.jpg`` before ``x-10.jpg``; ties broken by the raw text."""
    parts = re.split(r"([0-9]+)", text)
    key = tuple((1, int(p)) if i % 2 else (0, p.casefold()) for i, p in enumerate(parts))
    return key, text


def label_from_name(filename: str) -> str:
    """The leading letters of a file name: up to ``_``, ``-``, a digit or the extension.

    A name that starts with no letter is labelled by its whole stem.
    """
    stem = Path(filename).stem
    match = re.match(r"[^\W\d_]+", stem)
    return match.group(0) if match else stem


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def discover_sets(data_dir: Path) -> list[ImageSet]:
    """Every immediate subfolder of `data_dir` holding images (at any depth), by name.

    Nothing is read: labels come from the folder layout and the file names only.
    """
    sets: list[ImageSet] = []
    for root in sorted((p for p in data_dir.iterdir() if p.is_dir()), key=lambda p: p.name):
        if root.name.startswith("."):
            continue
        files = sorted(
            (p for p in root.rglob("*") if is_image(p) and p.is_file()),
            key=lambda p: natural_key(p.relative_to(root).as_posix()),
        )
        if not files:
            continue
        images: list[LabelledImage] = []
        ways: set[str] = set()
        for path in files:
            parts = path.relative_to(root).parts
            if len(parts) > 1:
                images.append(LabelledImage(path, parts[0]))
                ways.add("folder")
            else:
                images.append(LabelledImage(path, label_from_name(path.name)))
                ways.add("file name")
        labelled_by = " and ".join(sorted(ways))
        sets.append(ImageSet(root.name, root, tuple(images), labelled_by))
    return sets


def reference_label(labels: Sequence[str]) -> str:
    for name in REFERENCE_LABELS:
        if name in labels:
            return name
    return sorted(labels)[0]


def reference_indices(images: Sequence[LabelledImage], label: str, count: int) -> list[int]:
    """Positions of the first `count` images of `label`, sorted by file name (naturally)."""
    mine = [i for i, image in enumerate(images) if image.label == label]
    mine.sort(key=lambda i: (natural_key(images[i].path.name), natural_key(str(images[i].path))))
    return mine[:count]


# --- statistics ------------------------------------------------------------------------


def _finite(values: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    return arr[np.isfinite(arr)]


def auc(reference: npt.ArrayLike, other: npt.ArrayLike) -> float:
    """P(other > reference) + P(other == reference) / 2 over all pairs (Mann-Whitney).

    NaNs are left out; NaN if either side has no value. 1 means every `other` value is
    above every `reference` value, 0 every one below, 0.5 no separation.
    """
    ref, oth = _finite(reference), _finite(other)
    if ref.size == 0 or oth.size == 0:
        return math.nan
    diff = oth[:, np.newaxis] - ref[np.newaxis, :]
    wins = np.count_nonzero(diff > 0) + 0.5 * np.count_nonzero(diff == 0)
    return float(wins / diff.size)


def oriented(value: float) -> tuple[float, bool | None]:
    """``(max(auc, 1 - auc), other_higher)``; other_higher is None at exactly 0.5 or NaN."""
    if math.isnan(value):
        return math.nan, None
    if value == 0.5:
        return 0.5, None
    return max(value, 1.0 - value), value > 0.5


@dataclass(frozen=True)
class Split:
    """A one-threshold rule: `other` when value > threshold (other_higher) or < it."""

    balanced_accuracy: float
    threshold: float
    other_higher: bool


def best_threshold(reference: npt.ArrayLike, other: npt.ArrayLike) -> Split | None:
    """The threshold with the best balanced accuracy, in either direction.

    Candidates are the midpoints between consecutive distinct values of both samples
    (the one value itself when all are equal). Ties go first to the direction the AUC
    points to (other higher when AUC >= 0.5), then to the lowest threshold. None if
    either side has no value.
    """
    ref, oth = _finite(reference), _finite(other)
    if ref.size == 0 or oth.size == 0:
        return None
    values = np.unique(np.concatenate((ref, oth)))
    cuts = (values[:-1] + values[1:]) / 2.0 if values.size > 1 else values
    above_oth = np.mean(oth[:, np.newaxis] > cuts, axis=0)  # share of `other` above each cut
    above_ref = np.mean(ref[:, np.newaxis] > cuts, axis=0)
    below_oth = np.mean(oth[:, np.newaxis] < cuts, axis=0)
    below_ref = np.mean(ref[:, np.newaxis] < cuts, axis=0)
    scores = {
        True: (above_oth + (1.0 - above_ref)) / 2.0,
        False: (below_oth + (1.0 - below_ref)) / 2.0,
    }
    first = auc(ref, oth) >= 0.5
    best: Split | None = None
    for direction in (first, not first):
        i = int(np.argmax(scores[direction]))
        score = float(scores[direction][i])
        if best is None or score > best.balanced_accuracy:
            best = Split(score, float(cuts[i]), direction)
    return best


def relative_transform(
    values: npt.ArrayLike, reference: Sequence[int]
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """``(baseline, relative, keep)`` for a (frames, features) matrix.

    baseline: the per-feature median of the `reference` rows (NaNs left out; NaN where
    none is finite); relative: every row minus the baseline; keep: True for the rows
    that are not reference rows, the only ones scored relatively.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"expected a (frames, features) matrix, got shape {arr.shape}")
    rows = np.asarray(list(reference), dtype=np.intp)
    baseline = np.full(arr.shape[1], np.nan)
    if rows.size:
        chosen = arr[rows]
        for j in range(arr.shape[1]):
            column = _finite(chosen[:, j])
            if column.size:
                baseline[j] = float(np.median(column))
    keep = np.ones(arr.shape[0], dtype=bool)
    keep[rows] = False
    return baseline, arr - baseline, keep


def _median(values: npt.ArrayLike) -> float:
    finite = _finite(values)
    return float(np.median(finite)) if finite.size else math.nan


# --- evaluation of one set -------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """One comparison of a feature between two samples."""

    auc: float  # P(other > reference) + ties / 2; NaN if a side has no value
    split: Split | None
    n_reference: int
    n_other: int

    @property
    def strength(self) -> float:
        return oriented(self.auc)[0]

    @property
    def other_higher(self) -> bool | None:
        return oriented(self.auc)[1]


def score(reference: npt.ArrayLike, other: npt.ArrayLike) -> Score:
    ref, oth = _finite(reference), _finite(other)
    return Score(auc(ref, oth), best_threshold(ref, oth), int(ref.size), int(oth.size))


@dataclass(frozen=True)
class FeatureComparison:
    feature: str
    median_reference: float
    median_other: float
    raw: Score
    relative: Score | None  # None when no reference frame is left to score
    baseline: float  # the reference frames' median the relative values are taken from


@dataclass(frozen=True)
class PairResult:
    reference: str
    other: str
    n_reference: int
    n_other: int
    n_reference_relative: int  # reference frames left after the baseline frames
    comparisons: tuple[FeatureComparison, ...]  # visible features, in features.NAMES order


@dataclass(frozen=True)
class SetResult:
    name: str
    labelled_by: str
    labels: tuple[str, ...]
    images: Mapping[str, int]  # label -> images
    posed: Mapping[str, int]  # label -> images with a pose
    unreadable: tuple[str, ...]
    reference: str
    reference_count: int
    reference_files: tuple[str, ...]
    medians: Mapping[str, Mapping[str, float]]  # label -> feature -> median
    not_visible: tuple[str, ...]
    pairs: tuple[PairResult, ...]


def evaluate_set(
    image_set: ImageSet,
    values: npt.ArrayLike,
    posed: Sequence[bool],
    *,
    reference_count: int = DEFAULT_REFERENCE_COUNT,
    unreadable: Sequence[str] = (),
) -> SetResult:
    """Statistics of one set from its (images, features) matrix (NaN = not measured)."""
    arr = np.asarray(values, dtype=np.float64)
    images = image_set.images
    if arr.shape != (len(images), len(features.NAMES)):
        raise ValueError(
            f"expected a ({len(images)}, {len(features.NAMES)}) matrix, got {arr.shape}"
        )
    labels = np.array([image.label for image in images])
    names = image_set.labels
    ref_label = reference_label(names)
    ref_rows = reference_indices(images, ref_label, reference_count)
    baseline, relative, keep = relative_transform(arr, ref_rows)

    finite_share = np.isfinite(arr).mean(axis=0) if len(images) else np.zeros(arr.shape[1])
    visible = [j for j, _ in enumerate(features.NAMES) if finite_share[j] >= MIN_VISIBLE_SHARE]
    not_visible = tuple(n for j, n in enumerate(features.NAMES) if j not in visible)
    medians = {
        label: {n: _median(arr[labels == label, j]) for j, n in enumerate(features.NAMES)}
        for label in names
    }

    pairs: list[PairResult] = []
    ref_mask = labels == ref_label
    for other in names:
        if other == ref_label:
            continue
        oth_mask = labels == other
        rel_ref = ref_mask & keep
        comparisons = []
        for j in visible:
            name = features.NAMES[j]
            rel = (
                score(relative[rel_ref, j], relative[oth_mask & keep, j]) if rel_ref.any() else None
            )
            comparisons.append(
                FeatureComparison(
                    name,
                    medians[ref_label][name],
                    medians[other][name],
                    score(arr[ref_mask, j], arr[oth_mask, j]),
                    rel,
                    float(baseline[j]),
                )
            )
        pairs.append(
            PairResult(
                ref_label,
                other,
                int(ref_mask.sum()),
                int(oth_mask.sum()),
                int(rel_ref.sum()),
                tuple(comparisons),
            )
        )

    posed_arr = np.asarray(posed, dtype=bool)
    return SetResult(
        name=image_set.name,
        labelled_by=image_set.labelled_by,
        labels=names,
        images={label: int((labels == label).sum()) for label in names},
        posed={label: int((posed_arr & (labels == label)).sum()) for label in names},
        unreadable=tuple(unreadable),
        reference=ref_label,
        reference_count=reference_count,
        reference_files=tuple(images[i].path.name for i in ref_rows),
        medians=medians,
        not_visible=not_visible,
        pairs=tuple(pairs),
    )


# --- evaluation of the posture judgment ------------------------------------------------

#: Every verdict `posture.core.judgment` gives, in the order the report lists them.
VERDICTS: tuple[vocab.Verdict, ...] = ("good", "bad", "uncertain", "away")
#: The profile's creation time: never written anywhere, fixed so a run is reproducible.
PROFILE_CREATED = "1970-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class VerdictSummary:
    """The verdicts of one label's frames at one sensitivity."""

    frames: int
    verdicts: Mapping[str, int]  # every verdict of VERDICTS -> frames
    problems: Mapping[str, int]  # problem -> frames where it reached severity 1
    #: lowest and highest score (the worst problem's severity) of the judged frames
    scores: tuple[float, float] | None = None

    def share(self, verdict: str) -> float:
        return self.verdicts.get(verdict, 0) / self.frames if self.frames else math.nan


def summarize_verdicts(judgments: Sequence[judgment.Judgment]) -> VerdictSummary:
    """Counts of each verdict, of each problem flagged (severity >= 1) in bad frames, and
    the range of the scores of the frames that were judged good or bad.

    Problems come in `vocab.PROBLEMS` order, any other after them alphabetically.
    """
    counts: dict[str, int] = {verdict: 0 for verdict in VERDICTS}
    flagged: dict[str, int] = {}
    for one in judgments:
        counts[one.verdict] = counts.get(one.verdict, 0) + 1
        if one.verdict == "bad":
            for problem in one.bad_problems:
                flagged[problem] = flagged.get(problem, 0) + 1
    known = [p for p in vocab.PROBLEMS if p in flagged]
    order = known + sorted(p for p in flagged if p not in vocab.PROBLEMS)
    scores = [one.score for one in judgments if math.isfinite(one.score)]
    return VerdictSummary(
        len(judgments),
        counts,
        {p: flagged[p] for p in order},
        (min(scores), max(scores)) if scores else None,
    )


def balanced_accuracy(reference: VerdictSummary, other: VerdictSummary) -> float:
    """The mean of the share of `other` frames judged bad and the share of `reference`
    frames judged good. Uncertain and away count as misses on both sides; NaN if either
    side has no frame."""
    if reference.frames == 0 or other.frames == 0:
        return math.nan
    return (other.share("bad") + reference.share("good")) / 2.0


def deviations(check: judgment.Check, values: npt.ArrayLike, median: float) -> FloatArray:
    """How far `values` are from the calibrated `median`, in the check's own terms: a
    fraction of |median| for a relative check, the feature's units otherwise."""
    delta = np.asarray(values, dtype=np.float64) - median
    if not check.relative:
        return delta
    with np.errstate(divide="ignore", invalid="ignore"):
        return delta / abs(median)


@dataclass(frozen=True)
class CheckInForce:
    """One check of a calibrated profile, and where the judged frames fell against it."""

    check: judgment.Check
    median: float  # calibrated
    spread: float  # calibrated robust spread (NaN if none)
    tolerances: Mapping[str, float]  # sensitivity -> tolerance, in the check's own terms
    deviations: Mapping[str, tuple[float, ...]]  # label -> finite deviations, sorted


@dataclass(frozen=True)
class JudgmentResult:
    """The real judgment run over one set: calibrated on reference frames, then judging."""

    name: str
    reference: str
    labels: tuple[str, ...]
    baseline_files: tuple[str, ...]
    #: True when the set has no more reference frames than the baseline takes: every one
    #: forms the baseline, and the reference frames judged are the baseline frames.
    judged_baseline: bool
    refused: str | None  # the CalibrationError message, if calibration refused
    view: str | None
    summaries: Mapping[str, Mapping[str, VerdictSummary]]  # sensitivity -> label -> ...
    checks: tuple[CheckInForce, ...]

    def accuracy(self, sensitivity: str, other: str) -> float:
        """Balanced accuracy of `other` judged bad vs the reference label judged good."""
        by_label = self.summaries.get(sensitivity, {})
        if self.reference not in by_label or other not in by_label:
            return math.nan
        return balanced_accuracy(by_label[self.reference], by_label[other])


def _tolerances(judge: judgment.Judge) -> dict[judgment.Check, float]:
    """The tolerance in force for each check of `judge`."""
    return judge.tolerances


def evaluate_judgment(
    image_set: ImageSet,
    frames: Sequence[FrameStats | None],
    *,
    camera: Camera,
    model_sha256: str,
    reference_count: int = DEFAULT_REFERENCE_COUNT,
    min_visibility: float = 0.5,
) -> JudgmentResult:
    """Calibrate on the set's first `reference_count` reference frames by file name, then
    judge every other frame at each sensitivity, as `posture analyze --profile` does.

    `frames` holds each image's brightness and every pose found (None: unreadable, left
    out). A set with no more reference frames than `reference_count` is calibrated on all
    of them, and those baseline frames are judged too (nothing else could stand for the
    reference label).
    """
    images = image_set.images
    if len(frames) != len(images):
        raise ValueError(f"expected {len(images)} frames, got {len(frames)}")
    labels = image_set.labels
    ref_label = reference_label(labels)
    ref_rows = reference_indices(images, ref_label, reference_count)
    judged_baseline = sum(image.label == ref_label for image in images) <= reference_count
    baseline_files = tuple(images[i].path.name for i in ref_rows)
    baseline = [f for f in (frames[i] for i in ref_rows) if f is not None]

    unjudged = JudgmentResult(
        name=image_set.name,
        reference=ref_label,
        labels=labels,
        baseline_files=baseline_files,
        judged_baseline=judged_baseline,
        refused=None,
        view=None,
        summaries={},
        checks=(),
    )
    try:
        profile = calibrate(
            baseline,
            name="evaluate",
            sensitivity="medium",
            camera=camera,
            model_sha256=model_sha256,
            created=PROFILE_CREATED,
            min_visibility=min_visibility,
        )
    except CalibrationError as err:
        return replace(unjudged, refused=str(err))

    skip = set() if judged_baseline else set(ref_rows)
    judged_labels: list[str] = []
    judged_rows: list[FloatArray | None] = []
    for i, (image, frame) in enumerate(zip(images, frames, strict=True)):
        if i in skip or frame is None:
            continue
        row: FloatArray | None = None
        if frame.poses.shape[0]:
            rows = features.compute_features(
                frame.poses, aspect=frame.aspect, min_visibility=min_visibility
            )
            chosen = judgment.select_person(rows, profile)
            row = None if chosen is None else rows[chosen]
        judged_labels.append(image.label)
        judged_rows.append(row)

    summaries: dict[str, dict[str, VerdictSummary]] = {}
    tolerances: dict[str, dict[judgment.Check, float]] = {}
    for sensitivity in SENSITIVITIES:
        judge = judgment.Judge(profile, sensitivity)
        verdicts = [judge.judge(row) for row in judged_rows]
        summaries[sensitivity] = {
            label: summarize_verdicts(
                [v for v, lb in zip(verdicts, judged_labels, strict=True) if lb == label]
            )
            for label in labels
        }
        tolerances[sensitivity] = _tolerances(judge)

    medium = judgment.Judge(profile, "medium")
    checks: list[CheckInForce] = []
    for check in medium.checks:
        column = features.index(check.feature)
        median = profile.median(check.feature)
        per_label: dict[str, tuple[float, ...]] = {}
        for label in labels:
            values = [
                r[column]
                for r, lb in zip(judged_rows, judged_labels, strict=True)
                if lb == label and r is not None
            ]
            per_label[label] = tuple(
                float(d) for d in np.sort(_finite(deviations(check, values, median)))
            )
        tol = {s: tolerances[s][check] for s in SENSITIVITIES}
        if check.relative:
            tol = {s: t / abs(median) for s, t in tol.items()}
        checks.append(CheckInForce(check, median, profile.spread(check.feature), tol, per_label))
    return replace(unjudged, view=profile.view, summaries=summaries, checks=tuple(checks))


# --- markdown --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunInfo:
    """What the report says about how it was made (nothing that changes between runs)."""

    command: str
    model: str  # e.g. "bundled full"
    model_sha256: str
    mediapipe: str
    min_visibility: float


def _spec(name: str) -> features.FeatureSpec:
    return features.FEATURES[features.index(name)]


def _unit(name: str) -> str:
    unit = _spec(name).unit
    return _UNIT_SHORT.get(unit, unit)


def fmt_value(name: str, value: float, *, signed: bool = False) -> str:
    if math.isnan(value):
        return "-"
    digits = 1 if _spec(name).unit == "degrees" else 3
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def percent_of(name: str, value: float, base: float) -> float | None:
    """`value` as a percentage of `base`, for the features where that means something."""
    if name not in PERCENT_FEATURES or not math.isfinite(base) or abs(base) < 1e-9:
        return None
    return 100.0 * value / abs(base)


def fmt_change(name: str, before: float, after: float) -> str:
    """``0.530 → 0.440 (-17%)``; a difference with the unit for non-percent features."""
    if math.isnan(before) or math.isnan(after):
        return f"{fmt_value(name, before)} → {fmt_value(name, after)}"
    pct = percent_of(name, after - before, before)
    unit = "" if _spec(name).unit == "ratio" else _unit(name)
    change = (
        f"{pct:+.0f}%"
        if pct is not None
        else f"{fmt_value(name, after - before, signed=True)}{' ' + unit if unit else ''}"
    )
    return f"{fmt_value(name, before)} → {fmt_value(name, after)} ({change})"


def fmt_auc(result: Score, reference: str, other: str) -> str:
    strength, other_higher = result.strength, result.other_higher
    if math.isnan(strength):
        return "n/a"
    if other_higher is None:
        return f"{strength:.3f} (none)"
    return f"{strength:.3f} ({other if other_higher else reference} higher)"


def fmt_split(name: str, result: Score, other: str, *, base: float | None = None) -> str:
    split = result.split
    if split is None:
        return "n/a"
    sign = ">" if split.other_higher else "<"
    if base is None:
        rule = f"{other} if {sign} {fmt_value(name, split.threshold)}"
    else:
        rule = f"{other} if {sign} ref {fmt_value(name, split.threshold, signed=True)}"
        pct = percent_of(name, split.threshold, base)
        if pct is not None:
            rule += f" ({pct:+.0f}%)"
    return f"{rule}: {split.balanced_accuracy:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _best(comparison: FeatureComparison) -> tuple[Score, bool]:
    """The score the summary uses: relative when there is one, and whether it is."""
    if comparison.relative is not None:
        return comparison.relative, True
    return comparison.raw, False


def render_set(result: SetResult) -> list[str]:
    out = [f"## {result.name}", ""]
    total = sum(result.images.values())
    out.append(
        f"{total} images, labelled by {result.labelled_by}. Reference label: "
        f"`{result.reference}`. Relative baseline: the median of the first "
        f"{result.reference_count} `{result.reference}` frames by file name "
        f"({', '.join(f'`{n}`' for n in result.reference_files)}); they are left out of "
        "the relative scores."
    )
    out.append("")
    out.extend(
        _table(
            ["label", "images", "with a pose"],
            [[f"`{lb}`", str(result.images[lb]), str(result.posed[lb])] for lb in result.labels],
        )
    )
    if result.unreadable:
        out += ["", "Unreadable: " + ", ".join(f"`{n}`" for n in result.unreadable) + "."]
    out += ["", "### Medians per label", ""]
    rows = []
    for name in features.NAMES:
        unit = _unit(name)
        if name in result.not_visible:
            cells = ["not visible"] * len(result.labels)
        else:
            cells = [fmt_value(name, result.medians[lb][name]) for lb in result.labels]
        rows.append([f"`{name}`", unit, *cells])
    out.extend(_table(["feature", "unit", *(f"`{lb}`" for lb in result.labels)], rows))
    if result.not_visible:
        out += [
            "",
            "Not visible (NaN on most images of the set, so not scored): "
            + ", ".join(f"`{n}`" for n in result.not_visible)
            + ".",
        ]
    for pair in result.pairs:
        ref, oth = pair.reference, pair.other
        out += ["", f"### `{ref}` vs `{oth}`", ""]
        note = (
            f"n = {pair.n_reference} `{ref}`, {pair.n_other} `{oth}`; relative: "
            f"{pair.n_reference_relative} `{ref}` after the baseline frames."
        )
        if pair.n_reference_relative == 0:
            note += (
                f" No `{ref}` frame is left for the relative scores (the set has "
                f"{pair.n_reference}); a smaller --reference-count would leave some."
            )
        out += [note, ""]
        rows = []
        for c in pair.comparisons:
            rel = c.relative
            rows.append(
                [
                    f"`{c.feature}`",
                    fmt_change(c.feature, c.median_reference, c.median_other),
                    fmt_auc(c.raw, ref, oth),
                    fmt_split(c.feature, c.raw, oth),
                    fmt_auc(rel, ref, oth) if rel else "n/a",
                    fmt_split(c.feature, rel, oth, base=c.baseline) if rel else "n/a",
                ]
            )
        out.extend(
            _table(
                [
                    "feature",
                    f"median `{ref}` → `{oth}`",
                    "AUC",
                    "best split: bal. acc.",
                    "relative AUC",
                    "relative split: bal. acc.",
                ],
                rows,
            )
        )
    return out


def _describe(c: FeatureComparison, pair: PairResult) -> str:
    chosen, is_rel = _best(c)
    strength, other_higher = chosen.strength, chosen.other_higher
    direction = "higher" if other_higher else "lower"
    text = (
        f"`{c.feature}` (AUC {strength:.3f}, `{pair.other}` {direction}; median "
        f"{fmt_change(c.feature, c.median_reference, c.median_other)}"
    )
    if chosen.split is not None:
        split = chosen.split
        sign = ">" if split.other_higher else "<"
        if is_rel:
            limit = f"reference {fmt_value(c.feature, split.threshold, signed=True)}"
            pct = percent_of(c.feature, split.threshold, c.baseline)
            if pct is not None:
                limit += f" ({pct:+.0f}% of the baseline)"
        else:
            limit = fmt_value(c.feature, split.threshold)
        text += (
            f"; `{pair.other}` if {sign} {limit}, balanced accuracy {split.balanced_accuracy:.2f}"
        )
    return text + ")"


def side_view_features(result: SetResult) -> tuple[str, ...]:
    """The features that are noise in `result`'s set because it is a side view.

    Seen from the side the shoulders (and ears) nearly overlap, so every feature measured
    against the shoulder or ear line divides by almost nothing or takes the direction of
    an almost zero-length line. Empty for a set whose shoulders are visibly apart.
    """
    if "shoulder_width" in result.not_visible:
        return ()
    widths = [result.medians[label]["shoulder_width"] for label in result.labels]
    finite = [w for w in widths if math.isfinite(w)]
    if not finite or max(finite) >= NARROW_SHOULDERS:
        return ()
    return tuple(n for n in LINE_FEATURES if n not in result.not_visible)


def render_meaning(results: Sequence[SetResult]) -> list[str]:
    """The summary: which features separate which labels, generated from the scores."""
    out = ["## What this means for the defaults", ""]
    strong_in: dict[str, list[str]] = {}
    best_in: dict[str, dict[str, float]] = {}
    for result in results:
        noisy = side_view_features(result)
        if noisy:
            widest = max(result.medians[lb]["shoulder_width"] for lb in result.labels)
            out.append(
                f"- **{result.name}**: a side view (median shoulder width at most "
                f"{fmt_value('shoulder_width', widest)} image heights), so the features "
                "measured against the shoulder or ear line ("
                + ", ".join(f"`{n}`" for n in noisy)
                + ") are ill-conditioned there and left out of this summary, whatever "
                "their AUC."
            )
        for pair in result.pairs:
            scored = [
                c
                for c in pair.comparisons
                if not math.isnan(_best(c)[0].strength) and c.feature not in noisy
            ]
            relative = all(c.relative is not None for c in pair.comparisons)
            strong = sorted(
                (c for c in scored if _best(c)[0].strength >= STRONG_AUC),
                key=lambda c: -_best(c)[0].strength,
            )
            weak = [c.feature for c in scored if _best(c)[0].strength < WEAK_AUC]
            for c in scored:
                s = _best(c)[0].strength
                best = best_in.setdefault(c.feature, {})
                best[result.name] = max(best.get(result.name, 0.0), s)
                if s >= STRONG_AUC:
                    strong_in.setdefault(c.feature, []).append(
                        f"{result.name} `{pair.reference}`/`{pair.other}`"
                    )
            kind = (
                "relative to the baseline"
                if relative
                else "raw values: no reference frame is left for relative scores"
            )
            head = f"- **{result.name}**, `{pair.reference}` → `{pair.other}` ({kind}): "
            if strong:
                head += f"AUC >= {STRONG_AUC} for " + "; ".join(_describe(c, pair) for c in strong)
            else:
                head += f"no single feature reaches AUC {STRONG_AUC}"
            if weak:
                head += f". AUC < {WEAK_AUC}: " + ", ".join(f"`{n}`" for n in weak)
            out.append(head + ".")
        if result.not_visible:
            out.append(
                f"- **{result.name}**: not visible, so unusable there: "
                + ", ".join(f"`{n}`" for n in result.not_visible)
                + "."
            )
    if len(results) > 1:
        out += ["", "Across sets (the best AUC of any pair in each set where it counts):", ""]
        for name in features.NAMES:
            if name not in best_in:
                continue
            per_set = ", ".join(f"{s} {v:.2f}" for s, v in best_in[name].items())
            where = (
                "separates " + ", ".join(strong_in[name])
                if name in strong_in
                else "separates no pair"
            )
            out.append(f"- `{name}`: {where} ({per_set}).")
    sizes = "; ".join(
        f"{r.name}: " + ", ".join(f"{r.images[lb]} `{lb}`" for lb in r.labels) for r in results
    )
    out += [
        "",
        f"The samples are small ({sizes}). A best split lies halfway between two "
        "neighbouring frames, so on so few frames it fits them exactly and says little "
        "about new ones: a default taken from here is a starting point. The relative "
        "thresholds are the ones to carry over, because the monitor judges each frame "
        "against the user's own calibrated upright frames, not against absolute values.",
    ]
    return out


# --- markdown: the posture judgment ----------------------------------------------------

_DIRECTION_TEXT = {-1: "falls", +1: "rises", 0: "moves either way"}


def _fmt_share(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def fmt_floor(check: judgment.Check, scale: float = 1.0) -> str:
    """A check's floor at a sensitivity scale: ``10% of the median`` or ``8.0 deg``."""
    amount = check.floor * scale
    if check.relative:
        return f"{100.0 * amount:.3g}% of the median"
    unit = _spec(check.feature).unit
    suffix = "" if unit == "ratio" else f" {_unit(check.feature)}"
    return f"{fmt_value(check.feature, amount)}{suffix}"


def fmt_amount(check: judgment.Check, value: float, *, signed: bool = False) -> str:
    """A deviation or tolerance in the check's terms: a percentage of the calibrated
    median for a relative check, the feature's units otherwise."""
    if math.isnan(value):
        return "-"
    if check.relative:
        return f"{100.0 * value:+.1f}%" if signed else f"{100.0 * value:.1f}%"
    unit = _spec(check.feature).unit
    suffix = "" if unit == "ratio" else f" {_unit(check.feature)}"
    return fmt_value(check.feature, value, signed=signed) + suffix


def render_thresholds(
    checks: Sequence[judgment.Check] = judgment.CHECKS,
    *,
    spread_factor: float = judgment.SPREAD_FACTOR,
    scales: Mapping[str, float] = judgment.SENSITIVITY_SCALE,
) -> list[str]:
    """The thresholds in force, read from `posture.core.judgment` (so they cannot drift)."""
    names = list(scales)
    out = [
        "### Thresholds in force",
        "",
        "Read from `posture/core/judgment.py` when this report was made. Each check compares "
        "one feature of the judged person with its calibrated median. Its tolerance is the "
        "larger of the floor below times the sensitivity scale ("
        + ", ".join(f"{n} × {scales[n]:g}" for n in names)
        + f") and {spread_factor:g} × the calibrated robust spread ({MAD_TO_SIGMA:g} × MAD). The "
        "deviation in the bad direction over the tolerance is the check's severity; the "
        "checks of one group are averaged, a problem takes its worst group, and a frame is "
        "`bad` when a problem reaches severity 1. A check whose feature was not seen "
        "during calibration is dropped.",
        "",
    ]
    rows = [
        [
            f"`{c.problem}` ({vocab.PROBLEM_TEXT.get(c.problem, c.problem)})",
            c.group,
            f"`{c.feature}`",
            c.view,
            _DIRECTION_TEXT.get(c.direction, str(c.direction)),
            *(fmt_floor(c, scales[n]) for n in names),
        ]
        for c in checks
    ]
    out.extend(
        _table(
            ["problem", "group", "feature", "view", "bad when it", *(f"floor, {n}" for n in names)],
            rows,
        )
    )
    required = "; ".join(
        f"{view} view: " + ", ".join(f"`{n}`" for n in needed)
        for view, needed in judgment.REQUIRED.items()
    )
    out += [
        "",
        f"A frame is `uncertain` when none of these can be measured ({required}), and "
        "`away` when it has no pose or, in a front view, none whose shoulder midpoint is "
        f"within {judgment.MAX_SHIFT:g} (image widths and heights) of the calibrated one and "
        f"whose shoulder width is within a factor {judgment.MAX_SIZE_RATIO:g} of it (in a "
        "side view the largest pose is judged).",
    ]
    return out


def _fmt_tolerance(c: CheckInForce, sensitivity: str) -> str:
    """The tolerance in force, marked "(spread)" where the calibrated spread, not the
    floor, sets it."""
    tolerance = c.tolerances[sensitivity]
    floor = c.check.floor * judgment.SENSITIVITY_SCALE[sensitivity]
    text = fmt_amount(c.check, tolerance)
    return text + " (spread)" if tolerance > floor * (1 + 1e-9) else text


def _label_order(result: JudgmentResult) -> list[str]:
    return [result.reference, *(lb for lb in result.labels if lb != result.reference)]


def render_judgment(result: JudgmentResult) -> list[str]:
    out = [f"### Judgment: {result.name}", ""]
    ref = result.reference
    files = ", ".join(f"`{n}`" for n in result.baseline_files)
    if result.judged_baseline:
        text = (
            f"Calibrated with `posture.core.calibration.calibrate` (every quality gate) on all "
            f"{len(result.baseline_files)} `{ref}` frames ({files}), since the set has no "
            f"more than --reference-count of them. So the `{ref}` frames judged below are the "
            "baseline frames themselves: their verdicts show that the calibration agrees with "
            "itself, not how new reference frames would fare."
        )
    else:
        text = (
            f"Calibrated with `posture.core.calibration.calibrate` (every quality gate) on the "
            f"first {len(result.baseline_files)} `{ref}` frames by file name ({files}); "
            f"every other frame is judged, the other `{ref}` frames included."
        )
    out.append(text)
    if result.refused is not None:
        out += ["", f"**Calibration refused**: {result.refused}"]
        return out
    out += [
        "",
        f"Calibrated view: {result.view}. Each frame's features are computed at its own "
        "aspect ratio, the calibrated person is picked with `select_person`, and "
        "`Judge.judge` gives the verdict.",
        "",
    ]
    order = _label_order(result)
    rows = []
    for c in result.checks:
        relative_spread = c.spread / abs(c.median) if c.check.relative else c.spread
        spread = fmt_amount(c.check, relative_spread) if math.isfinite(c.spread) else "-"
        cells = []
        for label in order:
            devs = c.deviations.get(label, ())
            cells.append(
                f"{fmt_amount(c.check, devs[0], signed=True)} … "
                f"{fmt_amount(c.check, devs[-1], signed=True)}"
                if devs
                else "-"
            )
        rows.append(
            [
                f"`{c.check.feature}` ({_DIRECTION_TEXT.get(c.check.direction, '?')})",
                f"{fmt_value(c.check.feature, c.median)} ± {spread}",
                " / ".join(_fmt_tolerance(c, s) for s in SENSITIVITIES),
                *cells,
            ]
        )
    out += [
        "Where the judged frames fall against each check: the range (lowest … highest) of "
        "their deviation from the calibrated median, as a percentage of it for a relative "
        "check, next to the tolerance in force at each sensitivity (the calibrated spread is in "
        f'the same terms; "(spread)" marks a tolerance set by {judgment.SPREAD_FACTOR:g} × '
        "the spread rather than by the floor).",
        "",
    ]
    out.extend(
        _table(
            [
                "check (bad when it)",
                "calibrated median ± spread",
                "tolerance " + " / ".join(SENSITIVITIES),
                *(f"`{lb}` deviation" for lb in order),
            ],
            rows,
        )
    )
    out += [
        "",
        "Verdicts per label and sensitivity. **score**: the lowest … highest score of the "
        "label's frames judged good or bad (the worst problem's severity; `bad` from 1.0), "
        "which shows how close the verdicts come to flipping.",
        "",
    ]
    rows = []
    for label in order:
        for sensitivity in SENSITIVITIES:
            summary = result.summaries[sensitivity][label]
            flagged = ", ".join(f"`{p}` {n}" for p, n in summary.problems.items()) or "-"
            accuracy = "-" if label == ref else _fmt_share(result.accuracy(sensitivity, label))
            scores = f"{summary.scores[0]:.2f} … {summary.scores[1]:.2f}" if summary.scores else "-"
            rows.append(
                [
                    f"`{label}`",
                    sensitivity,
                    str(summary.frames),
                    *(str(summary.verdicts.get(v, 0)) for v in VERDICTS),
                    scores,
                    flagged,
                    accuracy,
                ]
            )
    out.extend(
        _table(
            [
                "label",
                "sensitivity",
                "frames",
                *VERDICTS,
                "score",
                "problems flagged (frames)",
                f"bal. acc. (`bad` vs `{ref}` `good`)",
            ],
            rows,
        )
    )
    return out


def render_accuracy(results: Sequence[JudgmentResult]) -> list[str]:
    """One table of every set's balanced accuracies, per sensitivity."""
    out = [
        "### Balanced accuracy of the judgment",
        "",
        "The mean of two shares: the label's frames judged `bad`, and the reference "
        "label's judged frames judged `good` (`uncertain` and `away` count as misses on "
        "both sides).",
        "",
    ]
    rows = []
    refused = []
    for result in results:
        if result.refused is not None:
            refused.append(result.name)
            continue
        n_ref = result.summaries[SENSITIVITIES[0]][result.reference].frames
        judged = (
            f"the {n_ref} baseline frames"
            if result.judged_baseline
            else f"{n_ref} not in the baseline"
        )
        for other in _label_order(result)[1:]:
            n_other = result.summaries[SENSITIVITIES[0]][other].frames
            rows.append(
                [
                    result.name,
                    f"`{result.reference}` → `{other}`",
                    judged,
                    str(n_other),
                    *(_fmt_share(result.accuracy(s, other)) for s in SENSITIVITIES),
                ]
            )
    out.extend(
        _table(["set", "pair", "reference frames judged", "other frames", *SENSITIVITIES], rows)
    )
    if refused:
        out += ["", "Calibration refused, so not judged: " + ", ".join(refused) + "."]
    return out


def render_judgments(results: Sequence[JudgmentResult]) -> list[str]:
    out = [
        "## The posture judgment",
        "",
        "The package's own judgment (`posture.core.calibration` then `posture.core.judgment`) run "
        "over every set, with the poses found at up to two people per image so that the "
        "second-person calibration gate is real.",
        "",
    ]
    out.extend(render_thresholds())
    for result in results:
        out.append("")
        out.extend(render_judgment(result))
    out.append("")
    out.extend(render_accuracy(results))
    return out


def render_report(
    results: Sequence[SetResult],
    skipped: Sequence[ImageSet],
    run: RunInfo,
    judgments: Sequence[JudgmentResult] = (),
) -> str:
    out = [
        "# Calibration results",
        "",
        "Generated by `calibration/evaluate.py`; do not edit by hand. Rerun with:",
        "",
        "```",
        run.command,
        "```",
        "",
        f"Model: {run.model}, SHA-256 `{run.model_sha256[:12]}`; mediapipe {run.mediapipe}; "
        f"PoseLandmarker in IMAGE mode, default confidences; landmarks below visibility "
        f"{run.min_visibility} do not count.",
        "",
        "How to read it: **AUC** is the chance that a random frame of one label has a "
        "larger value than a random frame of the other (Mann-Whitney, ties count half), "
        "shown as max(AUC, 1 - AUC) with the label that is higher: 0.5 is no separation, "
        "1.0 perfect. **Best split** is the single threshold with the best balanced "
        "accuracy (the mean of the two labels' hit rates) and the rule it gives. "
        "**Relative** values are each frame minus the median of the set's first reference "
        "frames (`ref ± x`: the threshold as an offset from that median, and in brackets "
        "as a percentage of it for scale-like features); the baseline frames themselves "
        "are not scored. Subtracting a constant does not change the ordering, so the "
        "relative AUC differs from the raw one only by the frames left out; what changes "
        "is that the threshold becomes a change from the user's own upright posture.",
        "",
    ]
    if skipped:
        out.append(
            "Skipped (fewer than two labels): "
            + "; ".join(
                f"`{s.name}` ({len(s.images)} image{'s' if len(s.images) != 1 else ''}, "
                f"label {', '.join(f'`{lb}`' for lb in s.labels)})"
                for s in skipped
            )
            + "."
        )
        out.append("")
    for result in results:
        out.extend(render_set(result))
        out.append("")
    out.extend(render_meaning(results))
    if judgments:
        out.append("")
        out.extend(render_judgments(judgments))
    return "\n".join(out).rstrip("\n") + "\n"


# --- running the model -----------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """What the model found in one set's images."""

    rows: FloatArray  # (images, features) of the first pose; NaN rows without one
    posed: list[bool]
    unreadable: list[str]
    #: brightness and every pose (up to the detector's num_poses), None when unreadable
    frames: list[FrameStats | None]
    sizes: list[tuple[int, int] | None]  # (width, height), None when unreadable


def measure(image_set: ImageSet, pose: MediaPipePose, *, min_visibility: float) -> Measurement:
    """Run the model over every image of the set: the first pose's features for the
    statistics, and every pose with the frame's brightness for the judgment."""
    from posture.adapters.video.sources import open_source
    from posture.core.calibration import frame_brightness
    from posture.errors import InputError

    rows = np.full((len(image_set.images), len(features.NAMES)), np.nan)
    posed: list[bool] = []
    unreadable: list[str] = []
    frames: list[FrameStats | None] = []
    sizes: list[tuple[int, int] | None] = []
    for i, image in enumerate(image_set.images):
        try:
            source = open_source(str(image.path))
            try:
                frame = next(iter(source))
            finally:
                source.close()
        except InputError:
            unreadable.append(image.path.relative_to(image_set.root).as_posix())
            posed.append(False)
            frames.append(None)
            sizes.append(None)
            continue
        result = pose.detect(frame.image, frame.timestamp)
        posed.append(result.found)
        if result.found:
            rows[i] = features.compute_features(
                result.landmarks[0], aspect=result.aspect, min_visibility=min_visibility
            )[0]
        mean, std = frame_brightness(frame.image)
        frames.append(FrameStats(mean, std, result.landmarks, result.aspect))
        sizes.append(result.image_size)
    return Measurement(rows, posed, unreadable, frames, sizes)


def calibration_camera(image_set: ImageSet, measured: Measurement, rows: Sequence[int]) -> Camera:
    """What the profile records as its camera: the first readable baseline image."""
    for i in rows:
        size = measured.sizes[i]
        if size is not None:
            return Camera(image_set.images[i].path.name, "images", size[0], size[1])
    return Camera(image_set.name, "images", 0, 0)


def default_data_dir(env: Mapping[str, str]) -> Path:
    raw = env.get("POSTURE_DATA_DIR")
    return Path(raw).expanduser() if raw else REPO.parent / "shared" / "data"


def display_path(path: Path) -> str:
    """`path` relative to the repository when it is inside it or next to it."""
    absolute = path.resolve()
    try:
        rel = Path(os.path.relpath(absolute, REPO))
    except ValueError:  # another drive on Windows
        return absolute.as_posix()
    if rel.parts[:2] == ("..", ".."):
        return absolute.as_posix()
    return rel.as_posix()


def command_line(data_dir: Path, output: Path, model: str | None, reference_count: int) -> str:
    parts = ["python", "calibration/evaluate.py", display_path(data_dir)]
    parts += ["--output", display_path(output)]
    if model:
        parts += ["--model", display_path(Path(model))]
    parts += ["--reference-count", str(reference_count)]
    return " ".join(parts)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="evaluate.py",
        description=(
            "Measure how well each posture feature separates labelled postures in "
            "photographs, and write the evidence for the default thresholds as markdown."
        ),
        epilog="Example: python calibration/evaluate.py ../shared/data",
    )
    parser.add_argument(
        "data_dir",
        nargs="?",
        type=Path,
        metavar="DATA_DIR",
        help="folder of image sets (default: $POSTURE_DATA_DIR, else ../shared/data)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=REPO / "calibration" / "results.md",
        help="markdown file to write (default: calibration/results.md)",
    )
    parser.add_argument(
        "--model", default=None, help="a PoseLandmarker .task file (default: the bundled one)"
    )
    parser.add_argument(
        "--reference-count",
        type=_positive_int,
        default=DEFAULT_REFERENCE_COUNT,
        help="reference-label frames per set that form the relative baseline (default: 3)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data_dir: Path = args.data_dir if args.data_dir is not None else default_data_dir(os.environ)
    if not data_dir.is_dir():
        print(
            f"evaluate.py: error: no data folder at {data_dir}: "
            "give DATA_DIR or set POSTURE_DATA_DIR",
            file=sys.stderr,
        )
        return 2
    sets = discover_sets(data_dir)
    usable = [s for s in sets if len(s.labels) >= 2]
    skipped = [s for s in sets if len(s.labels) < 2]
    if not usable:
        print(
            f"evaluate.py: error: no set in {data_dir} has two or more labels "
            "(a set is a subfolder; labels are its subfolders or file-name prefixes)",
            file=sys.stderr,
        )
        return 2

    from importlib.metadata import version

    from posture.adapters.pose import native_log
    from posture.adapters.pose.landmarker import MediaPipePose, PoseOptions
    from posture.adapters.pose.model import resolve_model
    from posture.config import PoseConfig
    from posture.errors import PostureError

    # Filter MediaPipe's and TFLite's native log lines out of stderr (installed when the
    # first MediaPipePose is created).
    native_log.request_quiet()
    min_visibility = PoseConfig().min_visibility
    results: list[SetResult] = []
    judged: list[JudgmentResult] = []
    try:
        info: ModelInfo = resolve_model(args.model)
        # Two poses, so that calibration's second-person gate sees a second person; the
        # feature statistics keep using the first pose, as with one.
        with MediaPipePose(info, PoseOptions(mode="image", num_poses=2)) as pose:
            for image_set in usable:
                print(f"{image_set.name}: {len(image_set.images)} images", file=sys.stderr)
                measured = measure(image_set, pose, min_visibility=min_visibility)
                results.append(
                    evaluate_set(
                        image_set,
                        measured.rows,
                        measured.posed,
                        reference_count=args.reference_count,
                        unreadable=measured.unreadable,
                    )
                )
                ref_rows = reference_indices(
                    image_set.images, reference_label(image_set.labels), args.reference_count
                )
                judged.append(
                    evaluate_judgment(
                        image_set,
                        measured.frames,
                        camera=calibration_camera(image_set, measured, ref_rows),
                        model_sha256=info.sha256,
                        reference_count=args.reference_count,
                        min_visibility=min_visibility,
                    )
                )
    except PostureError as err:
        print(f"evaluate.py: error: {err}", file=sys.stderr)
        return err.exit_code

    run = RunInfo(
        command=command_line(data_dir, args.output, args.model, args.reference_count),
        model=info.label if info.bundled else Path(info.path).name,
        model_sha256=info.sha256,
        mediapipe=version("mediapipe"),
        min_visibility=min_visibility,
    )
    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_report(results, skipped, run, judged), encoding="utf-8")
    print(f"wrote {display_path(output)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
