"""Benchmark of the frame pipeline; prints the figures the README quotes.

    .venv/bin/python scripts/bench_pipeline.py [--frames 60]

Measures, on this machine:
- the pose model, ms per 640x480 frame, in VIDEO mode (tracking) and IMAGE mode;
- the features: µs for one sample, samples/s for a batch of 100,000;
- `posture analyze` frames/s over a folder of 640x480 JPEGs against a bare loop that decodes
  the same files and runs the same model (the overhead of sources, features and output);
- the wall time of `posture --help` in a new process.
Targets: <= 30 µs per sample, >= 500k samples/s, analyze overhead <= 10%, --help <= 0.3 s.
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import describe  # scripts/machine.py: the script's folder is on sys.path


def sample_frame() -> np.ndarray:
    """grace_hopper.jpg (matplotlib, public domain) at 640x480, RGB."""
    import cv2
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    bgr = cv2.imread(str(path))
    assert bgr is not None, path
    small = cv2.resize(bgr, (640, 480), interpolation=cv2.INTER_AREA)
    rgb: np.ndarray = np.ascontiguousarray(small[:, :, ::-1])
    return rgb


def noisy(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = rng.integers(-3, 4, size=frame.shape, dtype=np.int16)
    out: np.ndarray = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return out


def bench_model(frame: np.ndarray, frames: int) -> dict[str, float]:
    from posture.adapters.pose.landmarker import MediaPipePose, Mode, PoseOptions

    rng = np.random.default_rng(1)
    inputs = [noisy(frame, rng) for _ in range(8)]
    out: dict[str, float] = {}
    modes: tuple[Mode, ...] = ("video", "image")
    for mode in modes:
        with MediaPipePose(options=PoseOptions(mode=mode)) as pose:
            for i in range(5):
                pose.detect(inputs[i % 8], i / 10)
            start = time.perf_counter()
            for i in range(frames):
                pose.detect(inputs[i % 8], (i + 5) / 10)
            out[mode] = (time.perf_counter() - start) / frames * 1000
    return out


def bench_features() -> tuple[float, float]:
    from posture.core.features import compute_features

    rng = np.random.default_rng(2)
    one = rng.random((33, 4))
    one[:, 3] = 0.9
    reps = 20000
    for _ in range(1000):
        compute_features(one, aspect=4 / 3)
    start = time.perf_counter()
    for _ in range(reps):
        compute_features(one, aspect=4 / 3)
    per_sample_us = (time.perf_counter() - start) / reps * 1e6
    batch = rng.random((100_000, 33, 4))
    batch[:, :, 3] = 0.9
    times = []
    for _ in range(5):
        start = time.perf_counter()
        compute_features(batch, aspect=4 / 3)
        times.append(time.perf_counter() - start)
    return per_sample_us, len(batch) / min(times)


def bench_analyze(frame: np.ndarray, frames: int) -> tuple[float, float]:
    import cv2

    from posture.adapters.pose.landmarker import MediaPipePose, PoseOptions
    from posture.adapters.pose.model import resolve_model
    from posture.adapters.video.sources import open_source
    from posture.app.analyze import run_analyze
    from posture.app.compose import MediaPipeModel
    from posture.cli.group import ClickTerminal
    from posture.config import PoseConfig

    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(frames):
            cv2.imwrite(str(folder / f"f{i:04d}.jpg"), noisy(frame, rng)[:, :, ::-1])
        files = sorted(folder.glob("*.jpg"))
        info = resolve_model(None)

        def bare() -> float:
            with MediaPipePose(info, PoseOptions(mode="image")) as pose:
                start = time.perf_counter()
                for i, f in enumerate(files):
                    bgr = cv2.imread(str(f))
                    assert bgr is not None, f
                    pose.detect(np.ascontiguousarray(bgr[:, :, ::-1]), float(i))
                return len(files) / (time.perf_counter() - start)

        def full() -> float:
            start = time.perf_counter()
            run_analyze(
                [str(folder)],
                open_source=open_source,
                pose=MediaPipeModel(),
                fmt="jsonl",
                min_visibility=PoseConfig().min_visibility,
                max_frames=None,
                out=io.StringIO(),
                terminal=ClickTerminal(),
            )
            return len(files) / (time.perf_counter() - start)

        bare()  # warm the file cache and the model
        # Alternate the two so drift on a shared machine hits both alike.
        bares, fulls = [], []
        for _ in range(3):
            bares.append(bare())
            fulls.append(full())
        return statistics.median(bares), statistics.median(fulls)


def bench_help() -> float:
    times = []
    for _ in range(7):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "posture", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames per model measurement")
    args = parser.parse_args()
    from posture.adapters.pose import native_log

    native_log.request_quiet()  # MediaPipe's own log lines would bury the figures
    print(describe())
    print(f"python {platform.python_version()}, numpy {np.__version__}")
    frame = sample_frame()
    model = bench_model(frame, args.frames)
    print(
        f"pose model, 640x480: VIDEO mode {model['video']:.1f} ms/frame, "
        f"IMAGE mode {model['image']:.1f} ms/frame"
    )
    per_us, per_s = bench_features()
    print(
        f"features: {per_us:.1f} µs per sample (target <= 30), "
        f"{per_s:,.0f} samples/s in batch (target >= 500,000)"
    )
    bare, full = bench_analyze(frame, args.frames)
    overhead = (bare / full - 1) * 100
    print(
        f"analyze: {full:.1f} frames/s, bare model loop {bare:.1f} frames/s, "
        f"overhead {overhead:.1f}% (target <= 10%)"
    )
    print(f"posture --help: {bench_help() * 1000:.0f} ms wall (target <= 300)")


if __name__ == "__main__":
    main()
