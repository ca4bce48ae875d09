"""How long an open-and-read takes with the OpenCV backend: the cost of opening the camera
for each look (posture.core.camera_policy), printed for the README.

    .venv/bin/python scripts/bench_camera_open.py [--repeat 20]

What it measures, on this machine, each `--repeat` times (median and worst):
(1) `cv2.VideoCapture` on a 640x480 MJPG video file written to a temporary folder, open
    + first read + release: OpenCV's own cost, without a device's;
(2) the same through `open_source` and posture's `CameraFeed` (open, the exposure warm-up
    rule over a clip whose first 10 frames brighten from black, read, release): the path
    a look takes when the camera is opened for it, and how many frames it skipped;
(3) every /dev/video* device that answers (none in a container without a webcam or
    v4l2loopback): `CameraSource` open + settled read + release, the real figure.
Where (3) finds nothing it says so: the figures for a device are then the assumption in
posture.core.camera_policy (open 0.1-0.5 s, auto-exposure 0.3-1 s).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from machine import describe  # scripts/machine.py: the script's folder is on sys.path

from posture.adapters.video.sources import open_source
from posture.app.monitor.feeds import CameraFeed
from posture.errors import InputError

WIDTH, HEIGHT = 640, 480
DARK = 10  # frames brightening from black at the clip's start


def write_clip(path: Path) -> Path:
    """A 640x480 MJPG clip of a textured room: DARK frames brightening, then steady."""
    rng = np.random.default_rng(3)
    patches = rng.uniform(0.3, 1.0, (HEIGHT // 40, WIDTH // 40, 3))
    texture = np.repeat(np.repeat(patches, 40, 0), 40, 1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, (WIDTH, HEIGHT))
    assert writer.isOpened(), "this OpenCV build cannot write MJPG"
    for i in range(DARK + 50):
        writer.write(np.clip(texture * 150 * min(1.0, i / DARK), 0, 255).astype(np.uint8))
    writer.release()
    return path


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(median, worst) milliseconds of `action`, and its last result."""
    times: list[float] = []
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times), result


def raw_open_read(path: str) -> bool:
    capture = cv2.VideoCapture(path)
    ok, _ = capture.read()
    capture.release()
    return bool(ok)


def feed_look(spec: str) -> int:
    """One look with the camera opened for it: open, warm-up, read, release."""
    feed = CameraFeed(0, lambda: open_source(spec))
    feed.read(0.0)
    feed.release()
    return feed.warmup_skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(describe())
    names = (cv2.videoio_registry.getBackendName(b) for b in cv2.videoio_registry.getBackends())
    backends = ", ".join(dict.fromkeys(names))
    print(f"opencv {cv2.__version__}, video backends: {backends}")
    with tempfile.TemporaryDirectory(prefix="posture-open-") as tmp:
        clip = str(write_clip(Path(tmp) / "warming.avi"))
        median, worst, _ = timed(lambda: raw_open_read(clip), args.repeat)
        print(
            f"(1) cv2.VideoCapture open + first read + release of a {WIDTH}x{HEIGHT} MJPG "
            f"file: median {median:.1f} ms, worst {worst:.1f} ms ({args.repeat} times)"
        )
        median, worst, skipped = timed(lambda: feed_look(clip), args.repeat)
        print(
            f"(2) CameraFeed look through open_source (open, warm-up, read, release), clip "
            f"brightening over {DARK} frames: median {median:.1f} ms, worst {worst:.1f} ms, "
            f"{skipped} frames skipped"
        )
    devices = sorted(str(p) for p in Path("/dev").glob("video*"))
    if not devices:
        print(
            "(3) no /dev/video* device here (no webcam, no v4l2loopback): a real camera's "
            "open and exposure warm-up were not measured"
        )
    for device in devices:
        index = int(device.removeprefix("/dev/video"))
        try:
            median, worst, skipped = timed(partial(feed_look, str(index)), args.repeat)
        except InputError as err:
            print(f"(3) {device}: {err}")
            continue
        print(
            f"(3) {device}: CameraSource look (open, warm-up, read, release): median "
            f"{median:.0f} ms, worst {worst:.0f} ms, {skipped} frames skipped at the last"
        )


if __name__ == "__main__":
    main()
