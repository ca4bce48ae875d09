"""`posture analyze`: any mix of sources through the pose model and the features, and,
with a profile, through the judgment and the episode tracker.

One record per frame, written as it is made (a camera or a long video streams), in one of
three formats. Stills share one IMAGE-mode estimator; each video or camera gets its own
VIDEO-mode estimator, so tracking never carries over from one clip to the next. With a
profile each source also gets its own `Watch` (its timestamps start again at zero), and
its episodes follow its frames.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

import numpy as np

from posture.core import features

if TYPE_CHECKING:
    from posture.core.episodes import Episode, Settings
    from posture.core.judgment import Judgment
    from posture.core.observe import Watch
    from posture.core.profile import Profile
    from posture.ports import FrameSource, PoseEstimator, PoseModel, SourceOpener, Terminal

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
    visibility: np.ndarray | None  # (len(KEY_LANDMARKS),) of the measured pose
    features: np.ndarray  # (len(features.NAMES),), NaN where unknown
    image_size: tuple[int, int] = (0, 0)  # width, height
    judgment: Judgment | None = None  # with a profile
    state: str | None = None  # the episode tracker's state, with a profile
    stale: bool = False  # the tracker finds the calibration stale

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
    watch: Watch | None = None,
) -> Iterator[FrameRecord]:
    """Records for the frames of one source. Without a profile the first pose is the one
    measured; with one (`watch`), the pose nearest the calibrated person."""
    nan_row = np.full(len(features.NAMES), np.nan)
    for frame in source:
        if max_frames is not None and frame.index >= max_frames:
            break
        result = estimator.detect(frame.image, frame.timestamp)
        rows = features.compute_features(
            result.landmarks, aspect=result.aspect, min_visibility=min_visibility
        )
        chosen: int | None = 0 if result.found else None
        judgment = state = None
        stale = False
        if watch is not None:
            seen = watch.observe_rows(frame.timestamp, rows)
            judgment, state, stale = seen.judgment, seen.update.state, seen.update.stale
            chosen = seen.chosen
        if chosen is None:
            row, vis = nan_row, None
        else:
            row = rows[chosen]
            vis = result.landmarks[chosen, _KEY_IDX, 3].astype(np.float64)
        yield FrameRecord(
            frame.origin,
            frame.index,
            frame.timestamp,
            result.landmarks.shape[0],
            vis,
            row,
            result.image_size,
            judgment,
            state,
            stale,
        )


class Writer(Protocol):
    def write(self, record: FrameRecord) -> None: ...

    def episode(self, source: str, episode: Episode) -> None: ...

    def close(self) -> None: ...


def _problems(judgment: Judgment | None) -> dict[str, float] | None:
    if judgment is None:
        return None
    return {p: round(s, 3) for p, s in judgment.problems.items()}


class JsonlWriter:
    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, record: FrameRecord) -> None:
        vis = (
            {name: _num(v, 3) for name, v in zip(KEY_LANDMARKS, record.visibility, strict=True)}
            if record.visibility is not None
            else None
        )
        obj: dict[str, object] = {
            "type": "frame",
            "source": record.source,
            "frame": record.frame,
            "t": round(record.t, 3),
            "pose": record.found,
            "poses": record.poses,
            "visibility": vis,
            "features": {n: _num(v) for n, v in zip(features.NAMES, record.features, strict=True)},
        }
        if record.judgment is not None:
            obj["verdict"] = record.judgment.verdict
            obj["score"] = _num(record.judgment.score, 3)
            obj["problems"] = _problems(record.judgment)
            obj["state"] = record.state
            obj["stale"] = record.stale
        self.out.write(json.dumps(obj) + "\n")

    def episode(self, source: str, episode: Episode) -> None:
        obj = {
            "type": "episode",
            "source": source,
            "start": round(episode.start, 3),
            "end": None if episode.end is None else round(episode.end, 3),
            "kind": episode.kind,
            "peak": round(episode.peak, 3),
        }
        self.out.write(json.dumps(obj) + "\n")

    def close(self) -> None:
        self.out.flush()


class CsvWriter:
    """One row per frame; episodes are not rows of this table (use jsonl for them)."""

    def __init__(self, out: IO[str], *, judged: bool) -> None:
        self.out = out
        self.judged = judged
        self._csv = csv.writer(out, lineterminator="\n")
        header = (
            ["source", "frame", "t", "pose", "poses"]
            + [f"vis_{n}" for n in KEY_LANDMARKS]
            + list(features.NAMES)
        )
        if judged:
            header += ["verdict", "score", "problems", "state"]
        self._csv.writerow(header)

    def write(self, record: FrameRecord) -> None:
        vis = record.visibility
        if vis is None:
            vis = np.full(len(KEY_LANDMARKS), np.nan)

        def cell(v: float, nd: int) -> str:
            return "" if math.isnan(v) else f"{v:.{nd}f}"

        row = (
            [record.source, record.frame, f"{record.t:.3f}", int(record.found), record.poses]
            + [cell(v, 3) for v in vis]
            + [cell(v, 4) for v in record.features]
        )
        if self.judged and record.judgment is not None:
            j = record.judgment
            row += [j.verdict, cell(j.score, 3), " ".join(j.bad_problems), record.state or ""]
        self._csv.writerow(row)

    def episode(self, source: str, episode: Episode) -> None:
        pass

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


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}:{secs:04.1f}"


class TableWriter:
    """Aligned columns, one row per frame, printed as it comes; episodes and a legend at
    the end."""

    def __init__(self, out: IO[str], *, judged: bool) -> None:
        self.out = out
        self.judged = judged
        self._source_w = 24
        heads = [_TABLE_HEADERS.get(n, n[:8]) for n in features.NAMES]
        extra = f" {'verdict':>9} {'score':>6}  problems" if judged else ""
        self.out.write(
            f"{'source':<{self._source_w}} {'frame':>5} {'t':>7} {'pose':>4} "
            + " ".join(f"{h:>8}" for h in heads)
            + extra
            + "\n"
        )
        self._rows = 0
        self._found = 0
        self._verdicts: dict[str, int] = {}
        self._episodes: list[tuple[str, Episode]] = []
        self._stale = False

    def write(self, record: FrameRecord) -> None:
        name = Path(record.source).name if "/" in record.source else record.source
        if len(name) > self._source_w:
            name = "…" + name[-(self._source_w - 1) :]
        cells = " ".join("       -" if math.isnan(v) else f"{v:8.3f}" for v in record.features)
        extra = ""
        if record.judgment is not None:
            j = record.judgment
            score = "     -" if math.isnan(j.score) else f"{j.score:6.2f}"
            extra = f" {j.verdict:>9} {score}  {' '.join(j.bad_problems)}"
            self._verdicts[j.verdict] = self._verdicts.get(j.verdict, 0) + 1
            self._stale = self._stale or record.stale
        self.out.write(
            f"{name:<{self._source_w}} {record.frame:>5} {record.t:>7.2f} "
            f"{'yes' if record.found else 'no':>4} {cells}{extra}\n"
        )
        self._rows += 1
        self._found += record.found

    def episode(self, source: str, episode: Episode) -> None:
        self._episodes.append((source, episode))

    def close(self) -> None:
        self.out.write(f"{self._rows} frames, a pose in {self._found}; '-' = not visible enough\n")
        if self.judged:
            counts = ", ".join(f"{n} {v}" for v, n in sorted(self._verdicts.items()))
            self.out.write(f"verdicts: {counts or 'none'}\n")
            if self._stale:
                self.out.write(
                    "the calibration looks stale (you sat far from where you calibrated): "
                    "run `posture calibrate` again\n"
                )
            self.out.write(f"episodes: {len(self._episodes)}\n")
            for source, ep in self._episodes:
                end = "still open" if ep.end is None else _clock(ep.end)
                self.out.write(
                    f"  {Path(source).name}: {ep.kind} from {_clock(ep.start)} to {end}, "
                    f"peak {ep.peak:.2f}\n"
                )
        self.out.flush()


WRITERS: dict[str, Callable[..., Writer]] = {
    "table": TableWriter,
    "jsonl": lambda out, judged: JsonlWriter(out),
    "csv": CsvWriter,
}


def run_analyze(
    specs: Sequence[str],
    *,
    open_source: SourceOpener,
    pose: PoseModel,
    fmt: str,
    min_visibility: float,
    max_frames: int | None,
    out: IO[str],
    terminal: Terminal,
    profile: Profile | None = None,
    sensitivity: str | None = None,
    image_interval: float = 1.0,
    settings: Settings | None = None,
) -> None:
    """Open every source first (so a typo fails before any work), then stream records.
    `pose` makes one IMAGE-mode estimator for all stills and a VIDEO-mode one per stream."""
    from posture.core.judgment import model_mismatch

    # The model is checked first: a bad --model fails before any source opens.
    model_sha256 = pose.sha256
    if profile is not None and (reason := model_mismatch(profile, model_sha256)):
        terminal.say(f"posture: warning: {reason}")
    opened: list[FrameSource] = []
    # The writer is made at the first record, so a model that fails to load leaves
    # stdout empty rather than holding a header with nothing under it.
    writer: Writer | None = None
    judged = profile is not None

    def emit(record: FrameRecord) -> Writer:
        nonlocal writer
        if writer is None:
            writer = WRITERS[fmt](out, judged=judged)
        writer.write(record)
        return writer

    def emit_episode(source: str, episode: Episode) -> None:
        assert writer is not None  # a source with a last frame has written it
        writer.episode(source, episode)

    try:
        for spec in specs:
            opened.append(open_source(spec, image_interval=image_interval))
        stills: PoseEstimator | None = None
        try:
            for source in opened:
                if source.kind == "images":
                    if stills is None:
                        stills = pose.estimator("image")
                    estimator: PoseEstimator = stills
                else:
                    estimator = pose.estimator("video")
                watch = None
                if profile is not None:
                    from posture.core.observe import Watch

                    watch = Watch(
                        profile,
                        settings=settings,
                        sensitivity=sensitivity,
                        min_visibility=min_visibility,
                    )
                last: FrameRecord | None = None
                try:
                    records = analyze_frames(
                        source,
                        estimator,
                        min_visibility=min_visibility,
                        max_frames=max_frames,
                        watch=watch,
                    )
                    for record in _with_progress(records, source, terminal):
                        if watch is not None and last is None:
                            reason = watch.setup_warning(
                                source.kind, source.name, *record.image_size
                            )
                            if reason:
                                terminal.say(f"posture: warning: {reason}")
                        emit(record)
                        last = record
                finally:
                    if estimator is not stills:
                        estimator.close()
                if watch is not None and last is not None:
                    watch.finish(last.t)
                    for episode in watch.episodes:
                        emit_episode(source.name, episode)
        finally:
            if stills is not None:
                stills.close()
        if writer is None:
            writer = WRITERS[fmt](out, judged=judged)
        writer.close()
    finally:
        for source in opened:
            source.close()


def _with_progress(
    records: Iterator[FrameRecord], source: FrameSource, terminal: Terminal
) -> Iterator[FrameRecord]:
    """A progress bar on stderr, only for a person watching and an input worth one."""
    total = len(source) if isinstance(source, Sized) else 0
    if total < 20 or not sys.stderr.isatty():
        yield from records
        return
    with terminal.progress(total, f"analyzing {source.name}") as bar:
        for record in records:
            bar.update(1)
            yield record
