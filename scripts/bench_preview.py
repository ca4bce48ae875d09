"""Benchmark of the live preview; prints the figures the README quotes.

    .venv/bin/python scripts/bench_preview.py [--seconds 10]

What `posture preview` does per frame, in this process: the real model (MediaPipePose,
VIDEO mode, the bundled model, one pose as `posture preview` asks for; calibration looks
for two), the judgment against a profile calibrated on the bundled portrait, the scene,
and the real window process (`posture.adapters.window`: the frame down the pipe, drawn
and shown with HighGUI) on a private Xvfb server. The frames are the bundled portrait
(512x600) with camera noise, decoded from JPEG each time as a webcam's MJPEG would be.

(a) as fast as it goes: frames a second, and CPU (this process, and the window process
    from /proc) as a share of one core;
(b) at 10 frames a second (a frame every 100 ms, the rest slept): CPU the same way.
Also the window process's resident memory (VmRSS) at the end of each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from machine import describe  # scripts/machine.py: the script's folder is on sys.path

from posture.adapters.pose.landmarker import MediaPipePose
from posture.adapters.window.process import WindowProcess
from posture.app.compose import MediaPipeModel
from posture.core.calibration import FrameStats, calibrate, frame_brightness
from posture.core.judgment import Judge
from posture.core.preview import judgment_scene
from posture.core.profile import Camera
from posture.samples import GRACE_HOPPER

TICKS = os.sysconf("SC_CLK_TCK")


def child_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a running process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def frames() -> list[bytes]:
    bgr = cv2.imread(str(GRACE_HOPPER))
    assert bgr is not None
    rng = np.random.default_rng(2)
    out = []
    for _ in range(8):
        noisy = np.clip(bgr.astype(np.int16) + rng.integers(-2, 3, bgr.shape), 0, 255)
        ok, jpeg = cv2.imencode(".jpg", noisy.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok
        out.append(jpeg.tobytes())
    return out


def decode(jpeg: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None
    rgb: np.ndarray = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return rgb


def run(
    seconds: float,
    period: float,
    pose: MediaPipePose,
    judge: Judge,
    window: WindowProcess,
    jpegs: list[bytes],
    clock: Callable[[], float] = time.monotonic,
) -> tuple[float, float, float]:
    """Frames a second, CPU share of this process and of the window's."""
    start, cpu0, child0 = clock(), time.process_time(), child_cpu(window.pid)
    n = 0
    t = start
    while clock() - start < seconds:
        rgb = decode(jpegs[n % len(jpegs)])
        result = pose.detect(rgb, t - start)
        mean, std = frame_brightness(rgb)
        stats = FrameStats(mean, std, result.landmarks, result.aspect)
        scene = judgment_scene("posture preview", judge, stats, min_visibility=0.5)
        assert window.show(rgb, scene) == "open", window.reason
        n += 1
        t += period
        if period and t > clock():
            time.sleep(t - clock())
    wall = clock() - start
    return (
        n / wall,
        (time.process_time() - cpu0) / wall,
        (child_cpu(window.pid) - child0) / wall,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    seconds = parser.parse_args().seconds
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "1280x1024x24"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as out:
        display = ":" + out.readline().strip()
    try:
        jpegs = frames()
        model = MediaPipeModel()
        with model.estimator("image", 2) as still:
            rgb = decode(jpegs[0])
            mean, std = frame_brightness(rgb)
            calibration = []
            for i, jpeg in enumerate(jpegs):
                found = still.detect(decode(jpeg), float(i))
                calibration.append(FrameStats(mean, std, found.landmarks, found.aspect))
        profile = calibrate(
            calibration,
            name="bench",
            sensitivity="medium",
            camera=Camera("bench", "video", rgb.shape[1], rgb.shape[0]),
            model_sha256=model.sha256,
            created="2026-01-01T00:00:00+00:00",
        )
        judge = Judge(profile)
        env = {**os.environ, "DISPLAY": display}
        env.pop("WAYLAND_DISPLAY", None)
        print(describe())
        print(
            f"frames: {rgb.shape[1]}x{rgb.shape[0]} JPEG, decoded per frame; {seconds:.0f} s each"
        )
        for label, period in (("as fast as it goes", 0.0), ("at 10 frames a second", 0.1)):
            window = WindowProcess("posture preview", env=env)
            pose = model.estimator("video")
            try:
                run(1.0, period, pose, judge, window, jpegs)  # warm-up
                fps, own, child = run(seconds, period, pose, judge, window, jpegs)
                rss = resident_mb(window.pid)
            finally:
                pose.close()
                window.close()
            print(
                f"{label}: {fps:.1f} frames/s; CPU {own * 100:.0f}% of a core for the model "
                f"and the scene, {child * 100:.0f}% for the window process ({rss:.0f} MB resident)"
            )
    finally:
        xvfb.terminate()
        xvfb.wait()


if __name__ == "__main__":
    main()
