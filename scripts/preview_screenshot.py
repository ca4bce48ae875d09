"""The README's pictures of the preview: `posture calibrate --preview` and `posture preview`
over clips of the bundled public-domain portrait, on a private Xvfb server.

    .venv/bin/python scripts/preview_screenshot.py [--out docs]

Writes `calibrate-preview.png` (sampling, every gate green) and `preview.png` (the head
sunk: the verdict, the problem and the bands) into `--out`: each is the window only, cut
from a screenshot of the screen (ImageMagick's `import`), reduced to 256 colours so that
it stays small. Everything else happens in a throwaway folder: a POSTURE_HOME of its own,
the clips, the display. Needs Xvfb, xdotool and ImageMagick (Debian: xvfb, xdotool,
imagemagick).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from posture.adapters.video.sources import open_source
from posture.app import demo
from posture.app.compose import MediaPipeModel
from posture.samples import GRACE_HOPPER

#: draw.SEEN and draw.NOT_SEEN (BGR): what says the drawing is there.
GREEN = np.array((0, 255, 0), np.int16)
RED = np.array((0, 0, 255), np.int16)
PANEL = 300


def portrait() -> np.ndarray:
    bgr = cv2.imread(str(GRACE_HOPPER))
    if bgr is None:
        raise SystemExit(f"cannot read {GRACE_HOPPER}")
    return bgr


def clip(path: Path, amounts: list[float], shoulder: float, fps: float = 5.0) -> Path:
    bgr = portrait()
    height, width = bgr.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    rng = np.random.default_rng(1)
    for amount in amounts:
        frame = demo.slouched(bgr, amount, shoulder).astype(np.int16)
        frame += rng.integers(-2, 3, size=frame.shape, dtype=np.int16)
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()
    return path


def pixels(shot: np.ndarray, colour: np.ndarray) -> int:
    return int((np.abs(shot.astype(np.int16) - colour).max(axis=2) <= 40).sum())


class Display:
    def __init__(self, folder: Path) -> None:
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "1280x1024x24"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read) as out:
            self.name = ":" + out.readline().strip()
        self.env = {**os.environ, "DISPLAY": self.name}
        self.env.pop("WAYLAND_DISPLAY", None)

    def run(self, *argv: str) -> str:
        done = subprocess.run(argv, env=self.env, capture_output=True, timeout=20, check=False)
        return done.stdout.decode()

    def window(self, name: str, proc: subprocess.Popen[bytes]) -> str:
        def found() -> str | None:
            if proc.poll() is not None:
                raise SystemExit(f"posture exited early ({proc.returncode})")
            ids = self.run("xdotool", "search", "--onlyvisible", "--name", f"^{name}$").split()
            return ids[0] if ids else None

        return wait(f"a window {name!r}", found)

    def shot(self, window: str) -> np.ndarray | None:
        """The window cut from a screenshot; None while X does not say where it is."""
        shell = self.run("xdotool", "getwindowgeometry", "--shell", window)
        geometry = dict(line.split("=", 1) for line in shell.split() if "=" in line)
        png = subprocess.run(
            ["import", "-window", "root", "png:-"], env=self.env, capture_output=True, check=True
        ).stdout
        screen = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        if screen is None or not {"X", "Y", "WIDTH", "HEIGHT"} <= geometry.keys():
            return None
        x, y, w, h = (int(geometry[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
        return screen[y : y + h, x : x + w]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


T = TypeVar("T")


def wait(what: str, check: Callable[[], T | None], timeout: float = 40) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def capture(
    display: Display,
    args: list[str],
    env: dict[str, str],
    title: str,
    ready: Callable[[np.ndarray], bool],
    settle: float = 0.0,
) -> np.ndarray:
    """Run posture with its window; once a screenshot is `ready`, wait `settle` seconds
    and keep the next one that is; then Esc."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "posture", *args],
        env={**display.env, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        window = display.window(title, proc)

        def check() -> np.ndarray | None:
            shot = display.shot(window)
            return shot if shot is not None and ready(shot) else None

        wait("the drawing", check)
        time.sleep(settle)
        shot = wait("the drawing", check)
        display.run("xdotool", "key", "--window", window, "Escape")
        proc.wait(timeout=30)
        return shot
    finally:
        if proc.poll() is None:
            proc.kill()


def save(shot: np.ndarray, path: Path) -> None:
    """A 256-colour PNG: a tenth of the size of the full-colour one, and still clear."""
    from PIL import Image

    rgb = Image.fromarray(cv2.cvtColor(shot, cv2.COLOR_BGR2RGB))
    rgb.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path}: {shot.shape[1]}x{shot.shape[0]}, {path.stat().st_size // 1024} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    out = parser.parse_args().out
    with tempfile.TemporaryDirectory(prefix="posture-shots-") as tmp:
        folder = Path(tmp)
        env = {"POSTURE_HOME": str(folder / "home")}
        shoulder = demo.shoulder_line(GRACE_HOPPER, open_source=open_source, pose=MediaPipeModel())
        upright = clip(folder / "upright.avi", [0.0] * 100, shoulder)
        slouch = clip(folder / "slouch.avi", [0.0] * 10 + [1.0] * 90, shoulder)
        display = Display(folder)
        try:

            def sampling(shot: np.ndarray) -> bool:
                # every gate ticked (seven ticks), the landmarks on the picture
                return pixels(shot[:, -PANEL:], GREEN) > 7 * 30 and pixels(shot, GREEN) > 900

            save(
                capture(
                    display, ["calibrate", "--source", str(upright), "--preview"], env,
                    "posture calibrate", sampling, settle=4.0,
                ),
                out / "calibrate-preview.png",
            )  # fmt: skip
            stills = demo.upright_stills(folder, GRACE_HOPPER)
            calibrated = subprocess.run(
                [sys.executable, "-m", "posture", "calibrate", "--no-preview"]
                + [arg for still in stills for arg in ("--source", str(still))],
                env={**os.environ, **env},
                capture_output=True,
                check=False,
            )
            if calibrated.returncode != 0:
                raise SystemExit(calibrated.stderr.decode())

            def judged(shot: np.ndarray) -> bool:
                return pixels(shot[:, -PANEL:], RED) > 200  # bad, the problem, out of band

            save(
                capture(display, ["preview", "--source", str(slouch)], env, "posture preview",
                        judged),
                out / "preview.png",
            )  # fmt: skip
        finally:
            display.close()


if __name__ == "__main__":
    main()
