"""Benchmark of the tray's cost; prints the figures the README quotes.

    .venv/bin/python scripts/bench_tray.py [--seconds 120]

A private dbus-daemon with the watcher peer of tests/sni.py (what a panel runs), a real
`posture start` over the demo's clip at half speed (so it lasts 5 min) and a real
`posture tray` polling it. Measured from /proc (user + system CPU time):
- the tray process over `--seconds`, after its start-up;
- the monitor's cost of answering a status request: the monitor paused (so it does
  nothing else), its CPU time over a burst of requests against the same time idle; at one
  request every 2 s (the tray's poll) that is its extra cost;
- one request's round trip, as the tray sees it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe  # scripts/machine.py: the script's folder is on sys.path

# The repository's own test tools (a private bus, the watcher peer), loaded by name: they
# are test code, typed for the tests' own checks, not for this script's.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
private_bus = importlib.import_module("tests.desktop").private_bus
fake_watcher = importlib.import_module("tests.sni").fake_watcher

TICK = os.sysconf("SC_CLK_TCK")
BURST = 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def posture(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "posture", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )


def setup(folder: Path) -> tuple[dict[str, str], Path]:
    """A calibrated home and the demo's clip."""
    from posture.adapters.video.sources import open_source
    from posture.app import demo
    from posture.app.compose import MediaPipeModel
    from posture.samples import GRACE_HOPPER

    shoulder = demo.shoulder_line(GRACE_HOPPER, open_source=open_source, pose=MediaPipeModel())
    clip = demo.build_clip(folder, GRACE_HOPPER, shoulder)
    env = {"POSTURE_HOME": str(folder / "home")}
    args = ["calibrate"]
    for still in demo.upright_stills(folder, GRACE_HOPPER):
        args += ["--source", str(still)]
    posture(*args, env=env)
    return env, clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    seconds = parser.parse_args().seconds
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env, clip = setup(folder)
        with private_bus(folder, "session") as address, fake_watcher(address) as watcher:
            env["DBUS_SESSION_BUS_ADDRESS"] = address
            posture("start", "--source", str(clip), "--speed", "0.5", env=env)
            tray = subprocess.Popen(
                [sys.executable, "-m", "posture", "tray"],
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                watcher.wait_for_item(timeout=30)
                time.sleep(5)  # past its start-up
                start_cpu, start_wall = cpu_seconds(tray.pid), time.monotonic()
                startup = start_cpu
                time.sleep(seconds)
                used = cpu_seconds(tray.pid) - start_cpu
                wall = time.monotonic() - start_wall
                rss = rss_mib(tray.pid)
                tray_figures = (used, wall, rss, startup)
                answer, trip = monitor_cost(env)
            finally:
                tray.terminate()
                tray.wait(30)
                subprocess.run(
                    [sys.executable, "-m", "posture", "stop"],
                    env={**os.environ, **env},
                    capture_output=True,
                    check=False,
                )
    used, wall, rss, startup = tray_figures
    print(
        f"tray         {1000 * used:.0f} ms CPU over {wall:.0f} s = {100 * used / wall:.3f} % "
        f"of one core; RSS {rss:.0f} MiB; start-up {startup:.2f} s CPU"
    )
    print(
        f"monitor      {1000 * answer:.2f} ms CPU per status answer; at one poll per 2 s: "
        f"{100 * answer / 2:.3f} % of one core"
    )
    print(f"round trip   median {1000 * trip:.2f} ms per status request ({BURST} requests)")


def monitor_cost(env: dict[str, str]) -> tuple[float, float]:
    """The monitor's CPU seconds per status answer (paused, against as long idle), and
    the median round trip of one request."""
    os.environ["POSTURE_HOME"] = env["POSTURE_HOME"]
    from posture.app import compose

    places = compose.monitor_places()
    transport = compose.control_transport(places)
    pid = transport.request({"cmd": "status"})["pid"]
    transport.request({"cmd": "pause", "seconds": 3600})
    time.sleep(3)  # the pause taken, the camera released
    trips: list[float] = []
    before = cpu_seconds(pid)
    began = time.monotonic()
    for _ in range(BURST):
        sent = time.perf_counter()
        transport.request({"cmd": "status"})
        trips.append(time.perf_counter() - sent)
    busy = cpu_seconds(pid) - before
    took = time.monotonic() - began
    before = cpu_seconds(pid)
    time.sleep(max(took, 5.0))
    idle = (cpu_seconds(pid) - before) * took / max(took, 5.0)
    return max(busy - idle, 0.0) / BURST, statistics.median(trips)


if __name__ == "__main__":
    main()
