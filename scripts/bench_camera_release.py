"""Benchmark of handing the camera to another program; prints the figures the README quotes.

    .venv/bin/python scripts/bench_camera_release.py [--rounds 5]

A real `posture start` over the demo's clip, with `[monitor] camera_device` pointing at a
file; a second process opens that file (as a video call would the camera) and closes it,
`--rounds` times. Measured from posture's log (its lines carry milliseconds):
- release: from the other process's open to the monitor's "camera released";
- look again: from its close to the monitor's "looking again";
- the /proc scan that names the holder (the sensor runs it on every open of the node).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from machine import describe  # scripts/machine.py: the script's folder is on sys.path

HOLDER = """
import sys, time
f = open(sys.argv[1], "rb")
print(time.time(), flush=True)
sys.stdin.read()
"""


def posture(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "posture", *args],
        capture_output=True,
        text=True,
        env=full,
        check=True,
    )


def log_time(line: str) -> float:
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def wait_line(log: Path, text: str, after: int, timeout: float = 15) -> tuple[str, int]:
    """The first line containing `text` after the first `after` lines, and its number."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines()
        for n, line in enumerate(lines[after:], after):
            if text in line:
                return line, n + 1
        time.sleep(0.02)
    raise SystemExit(f"{text!r} not in {log} within {timeout} s")


def setup(folder: Path) -> tuple[dict[str, str], Path, Path]:
    """A calibrated home over the demo's clip, and the file watched as the camera."""
    from posture.adapters.video.sources import open_source
    from posture.app import demo
    from posture.app.compose import MediaPipeModel
    from posture.samples import GRACE_HOPPER

    shoulder = demo.shoulder_line(GRACE_HOPPER, open_source=open_source, pose=MediaPipeModel())
    clip = demo.build_clip(folder, GRACE_HOPPER, shoulder)
    stills = demo.upright_stills(folder, GRACE_HOPPER)
    home = folder / "home"
    env = {"POSTURE_HOME": str(home)}
    args = ["calibrate"]
    for still in stills:
        args += ["--source", str(still)]
    posture(*args, env=env)
    device = folder / "video0"
    device.write_bytes(b"")
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(f'[monitor]\ncamera_device = "{device}"\n')
    return env, clip, device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        env, clip, device = setup(Path(tmp))
        log = Path(env["POSTURE_HOME"]) / "log" / "posture.log"
        posture("start", "--source", str(clip), "--speed", "1", env=env)
        release: list[float] = []
        back: list[float] = []
        try:
            _, seen = wait_line(log, "monitoring ", 0)
            time.sleep(8)  # the model loaded and looking
            for _ in range(rounds):
                other = subprocess.Popen(
                    [sys.executable, "-c", HOLDER, str(device)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                assert other.stdout is not None and other.stdin is not None
                opened = float(other.stdout.readline())
                line, seen = wait_line(log, "; camera released", seen)
                release.append(log_time(line) - opened)
                time.sleep(1)
                closed = time.time()
                other.stdin.close()
                other.wait()
                line, seen = wait_line(log, "looking again", seen)
                back.append(log_time(line) - closed)
                time.sleep(2)
        finally:
            subprocess.run(
                [sys.executable, "-m", "posture", "stop"],
                env={**os.environ, **env},
                capture_output=True,
                check=False,
            )
        from posture.adapters.video.in_use import holders

        started = time.perf_counter()
        for _ in range(20):
            holders(str(device))
        scan = (time.perf_counter() - started) / 20
        processes = sum(1 for p in Path("/proc").iterdir() if p.name.isdigit())
    ms = [1000 * r for r in release]
    print(f"release      median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms ({rounds} x)")
    ms = [1000 * b for b in back]
    print(f"look again   median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms")
    print(f"/proc scan   {1000 * scan:.1f} ms over {processes} processes")


if __name__ == "__main__":
    main()
