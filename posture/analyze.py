"""`posture analyze`: any mix of sources through the pose model and the features.

One record per frame, written as it is made (a camera or a long video streams), in one of
three formats. Stills share one IMAGE-mode estimator; each video or camera gets its own
VIDEO-mode estimator, so tracking never carries over from one clip to the next.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence, Sized
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

import numpy as np

from posture import features

if TYPE_CHECKING:
    from posture.config import PoseConfig
    from posture.pose import MediaPipePose, PoseEstimator
    from posture.sources import FrameSource

#: Landmarks whose visibility every record reports: the ones the features lean on.
KEY_LANDMARKS = {
    "nose": 0,
    "left_ear": 7,
    "right_ear": 8,
    "left_shoulder": 11,
    "right_shoulder": 12,
    "left_hip": 23,
    "right_hip": 24,
}
_KEY_IDX = np.array(list(KEY_LANDMARKS.values()))


@dataclass(frozen=True)
class FrameRecord:
    source: str
    frame: int
    t: float
    poses: int
    visibility: np.ndarray | None  # (len(KEY_LANDMARKS),) of the first pose
    features: np.ndarray  # (len(features.NAMES),), NaN where unknown

    @property
    def found(self) -> bool:
        return self.poses > 0


def _num(value: float, ndigits: int = 4) -> float | None:
    return None if math.isnan(value) else round(float(value), ndigits)


def analyze_frames(
    source: FrameSource,
    estimator: PoseEstimator,
    *,
    min_visibility: float,
    max_frames: int | None = None,
) -> Iterator[FrameRecord]:
    """Records for the frames of one source; the first pose is the one measured."""
    nan_row = np.full(len(features.NAMES), np.nan)
    for frame in source:
        if max_frames is not None and frame.index >= max_frames:
            break
        result = estimator.detect(frame.image, frame.timestamp)
        if result.found:
            first = result.landmarks[0]
            row = features.compute_features(
                first, aspect=result.aspect, min_visibility=min_visibility
            )[0]
            vis = first[_KEY_IDX, 3].astype(np.float64)
        else:
            row, vis = nan_row, None
        yield FrameRecord(
            frame.origin, frame.index, frame.timestamp, result.landmarks.shape[0], vis, row
        )


class Writer(Protocol):
    def write(self, record: FrameRecord) -> None: ...

    def close(self) -> None: ...


class JsonlWriter:
    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, record: FrameRecord) -> None:
        vis = (
            {name: _num(v, 3) for name, v in zip(KEY_LANDMARKS, record.visibility, strict=True)}
            if record.visibility is not None
            else None
        )
        obj = {
            "type": "frame",
            "source": record.source,
            "frame": record.frame,
            "t": round(record.t, 3),
            "pose": record.found,
            "poses": record.poses,
            "visibility": vis,
            "features": {n: _num(v) for n, v in zip(features.NAMES, record.features, strict=True)},
        }
        self.out.write(json.dumps(obj) + "\n")

    def close(self) -> None:
        self.out.flush()


class CsvWriter:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self._csv = csv.writer(out, lineterminator="\n")
        self._csv.writerow(
            ["source", "frame", "t", "pose", "poses"]
            + [f"vis_{n}" for n in KEY_LANDMARKS]
            + list(features.NAMES)
        )

    def write(self, record: FrameRecord) -> None:
        vis = (
            record.visibility if record.visibility is not None else [math.nan] * len(KEY_LANDMARKS)
        )

        def cell(v: float, nd: int) -> str:
            return "" if math.isnan(v) else f"{v:.{nd}f}"

        self._csv.writerow(
            [record.source, record.frame, f"{record.t:.3f}", int(record.found), record.poses]
            + [cell(v, 3) for v in vis]
            + [cell(v, 4) for v in record.features]
        )

    def close(self) -> None:
        self.out.flush()


#: Short headers for the terminal table, in feature order.
_TABLE_HEADERS = {
    "head_height": "head_h",
    "ear_height": "ear_h",
    "shoulder_width": "shoul_w",
    "face_width": "face_w",
    "head_pitch": "pitch",
    "head_roll": "roll°",
    "shoulder_tilt": "tilt°",
    "head_offset": "offset",
    "neck_inclination": "neck°",
    "trunk_inclination": "trunk°",
    "shoulder_x": "sh_x",
    "shoulder_y": "sh_y",
}


class TableWriter:
    """Aligned columns, one row per frame, printed as it comes; a legend at the end."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self._source_w = 24
        heads = [_TABLE_HEADERS.get(n, n[:8]) for n in features.NAMES]
        self.out.write(
            f"{'source':<{self._source_w}} {'frame':>5} {'t':>7} {'pose':>4} "
            + " ".join(f"{h:>8}" for h in heads)
            + "\n"
        )
        self._rows = 0
        self._found = 0

    def write(self, record: FrameRecord) -> None:
        name = Path(record.source).name if "/" in record.source else record.source
        if len(name) > self._source_w:
            name = "…" + name[-(self._source_w - 1) :]
        cells = " ".join("       -" if math.isnan(v) else f"{v:8.3f}" for v in record.features)
        self.out.write(
            f"{name:<{self._source_w}} {record.frame:>5} {record.t:>7.2f} "
            f"{'yes' if record.found else 'no':>4} {cells}\n"
        )
        self._rows += 1
        self._found += record.found

    def close(self) -> None:
        self.out.write(f"{self._rows} frames, a pose in {self._found}; '-' = not visible enough\n")
        self.out.flush()


WRITERS: dict[str, Callable[[IO[str]], Writer]] = {
    "table": TableWriter,
    "jsonl": JsonlWriter,
    "csv": CsvWriter,
}


def run_analyze(
    specs: Sequence[str],
    *,
    fmt: str,
    model: Path | str | None,
    pose_config: PoseConfig,
    num_poses: int | None,
    max_frames: int | None,
    out: IO[str],
) -> None:
    """Open every source first (so a typo fails before any work), then stream records."""
    from posture.model import resolve_model
    from posture.pose import MediaPipePose, PoseOptions
    from posture.sources import open_source

    info = resolve_model(model)
    opened: list[FrameSource] = []
    # The writer is made at the first record, so a model that fails to load leaves
    # stdout empty rather than holding a header with nothing under it.
    writer: Writer | None = None
    try:
        for spec in specs:
            opened.append(open_source(spec))
        base = PoseOptions(
            num_poses=num_poses or pose_config.num_poses,
            min_detection_confidence=pose_config.min_detection_confidence,
            min_presence_confidence=pose_config.min_presence_confidence,
            min_tracking_confidence=pose_config.min_tracking_confidence,
        )
        stills: MediaPipePose | None = None
        try:
            for source in opened:
                if source.kind == "images":
                    if stills is None:
                        stills = MediaPipePose(info, replace(base, mode="image"))
                    estimator: MediaPipePose = stills
                else:
                    estimator = MediaPipePose(info, replace(base, mode="video"))
                try:
                    records = analyze_frames(
                        source,
                        estimator,
                        min_visibility=pose_config.min_visibility,
                        max_frames=max_frames,
                    )
                    for record in _with_progress(records, source):
                        if writer is None:
                            writer = WRITERS[fmt](out)
                        writer.write(record)
                finally:
                    if estimator is not stills:
                        estimator.close()
        finally:
            if stills is not None:
                stills.close()
        if writer is None:
            writer = WRITERS[fmt](out)
        writer.close()
    finally:
        for source in opened:
            source.close()


def _with_progress(records: Iterator[FrameRecord], source: FrameSource) -> Iterator[FrameRecord]:
    """A progress bar on stderr, only for a person watching and an input worth one."""
    total = len(source) if isinstance(source, Sized) else 0
    if total < 20 or not sys.stderr.isatty():
        yield from records
        return
    import click

    with click.progressbar(length=total, label=f"analyzing {source.name}", file=sys.stderr) as bar:
        for record in records:
            bar.update(1)
            yield record
