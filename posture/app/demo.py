"""`posture demo`: the whole monitor on a machine with no webcam.

It makes a short clip from the bundled public-domain portrait (posture/samples), with the
head sinking and coming forward for a while, calibrates on the upright part, runs the
real monitor over the clip on a simulated clock in a throwaway home folder, sends the
nudge through the real notification chain (a desktop notification where there is a
desktop), prints the session summary and the session's report, and writes the HTML report
to a file it names. Nothing of the user's is read or written: the demo's history goes away
with its folder, and the HTML report is a new file (in the temporary folder unless told).
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from posture.ports import HistoryReader, PoseModel, ProfileStore, SourceOpener, Terminal

#: The clip: (seconds, slouch amount 0..1) segments, at FPS frames a second.
SCRIPT: tuple[tuple[float, float], ...] = (
    (40.0, 0.0),  # upright
    (3.0, -1.0),  # sinking (a ramp)
    (75.0, 1.0),  # slouched
    (3.0, -2.0),  # sitting up again (a ramp)
    (30.0, 0.0),  # upright
)
FPS = 2.0
#: How far the head sinks at full slouch, in pixels of the 512x600 portrait (the bundled
#: full model's head height falls from about 0.56 to 0.44: the 17-20% of a real slouch).
DROP_PX = 80.0
#: Over how many pixels above the shoulder line the drop fades out.
FADE_PX = 200.0


def slouched(image: np.ndarray, amount: float, shoulder_y: float) -> np.ndarray:
    """Everything above the shoulder line moved down by `amount` x DROP_PX, fading to no
    movement at the shoulders; the vacated top edge continues the top row of the background."""
    import cv2

    height, width = image.shape[:2]
    rows = np.arange(height, dtype=np.float32)
    shift = amount * DROP_PX * np.clip((shoulder_y - rows) / FADE_PX, 0.0, 1.0)
    map_y = np.repeat((rows - shift)[:, None], width, axis=1).astype(np.float32)
    map_x = np.repeat(np.arange(width, dtype=np.float32)[None, :], height, axis=0)
    out: np.ndarray = cv2.remap(
        image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return out


def amounts(script: Sequence[tuple[float, float]] = SCRIPT, fps: float = FPS) -> list[float]:
    """The slouch amount of every frame; negative amounts in the script are ramps from the
    previous level to the next."""
    levels = [a for _, a in script if a >= 0]
    out: list[float] = []
    level_i = 0
    for seconds, amount in script:
        n = round(seconds * fps)
        if amount >= 0:
            out += [amount] * n
            level_i += 1
        else:
            start, end = levels[level_i - 1], levels[level_i]
            out += [start + (end - start) * (i + 1) / (n + 1) for i in range(n)]
    return out


def build_clip(folder: Path, portrait: Path, shoulder_y: float, seed: int = 7) -> Path:
    """Write the clip as an MJPG AVI (every OpenCV build can write it); each frame gets a
    little sensor noise, as a real camera's would."""
    import cv2

    bgr = cv2.imread(str(portrait))
    if bgr is None:
        raise RuntimeError(f"cannot read {portrait}")
    height, width = bgr.shape[:2]
    path = folder / "demo.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (width, height))
    rng = np.random.default_rng(seed)
    try:
        for amount in amounts():
            frame = slouched(bgr, amount, shoulder_y).astype(np.int16)
            frame += rng.integers(-2, 3, size=frame.shape, dtype=np.int16)
            writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    finally:
        writer.release()
    return path


def upright_stills(folder: Path, portrait: Path, count: int = 3, seed: int = 11) -> list[Path]:
    """A few noisy upright frames to calibrate on (as if sampled from a camera)."""
    import cv2

    bgr = cv2.imread(str(portrait))
    if bgr is None:
        raise RuntimeError(f"cannot read {portrait}")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        frame = np.clip(bgr.astype(np.int16) + rng.integers(-2, 3, bgr.shape), 0, 255)
        path = folder / f"upright-{i}.png"
        cv2.imwrite(str(path), frame.astype(np.uint8))
        out.append(path)
    return out


@contextmanager
def private_home() -> Iterator[Path]:
    """A throwaway home for the demo, laid out as POSTURE_HOME would be: every step is
    handed it, the environment is not changed, and the user's own files are never
    touched."""
    with tempfile.TemporaryDirectory(prefix="posture-demo-") as tmp:
        yield Path(tmp)


def shoulder_line(portrait: Path, *, open_source: SourceOpener, pose: PoseModel) -> float:
    """Where the model (the bundled one, for the demo) puts the shoulders in the portrait,
    in pixels."""
    from posture.core import features

    with (
        closing(open_source(str(portrait))) as source,
        closing(pose.estimator("image")) as estimator,
    ):
        frame = next(iter(source))
        result = estimator.detect(frame.image, 0.0)
    if not result.found:
        raise RuntimeError("the model finds nobody in the demo portrait")
    row = features.compute_features(result.landmarks[0], aspect=result.aspect)[0]
    return float(row[features.index("shoulder_y")] * frame.image.shape[0])


def new_report_file(output: Path | None) -> Path:
    """Where the demo's HTML report goes: `output`, or a new private file in the
    temporary folder (never one that exists: nothing of the user's is overwritten)."""
    if output is not None:
        return output
    fd, name = tempfile.mkstemp(prefix="posture-demo-report-", suffix=".html")
    os.close(fd)
    return Path(name)


def how_to_open(path: Path) -> str:
    """The command that opens a file in the default browser on this platform."""
    if sys.platform == "darwin":
        return f"open {shlex.quote(str(path))}"
    if os.name == "nt":
        return f'start "" "{path}"'
    return f"xdg-open {shlex.quote(str(path))}"


@dataclass(frozen=True)
class DemoResult:
    summary: str
    report: str
    html: Path


def run_demo(
    *,
    speed: float,
    history: Callable[[Path], AbstractContextManager[HistoryReader]],
    open_source: SourceOpener,
    pose: PoseModel,
    profiles_in: Callable[[Path], ProfileStore],
    terminal: Terminal,
    output: Path | None = None,
    unicode: bool = True,
    verbose: bool = False,
) -> DemoResult:
    """The demo from start to end: the session summary line, the terminal report of the
    demo session (read back from the demo's own history: `history(home)` opens a reader
    of the history under a home folder), and the HTML report's file.

    `pose` is the bundled model with the default settings (the demo's home has no
    config); `profiles_in(home)` is the profile store of a POSTURE_HOME folder."""
    from posture.app.calibrate import run_calibrate
    from posture.app.report.commands import make_report, now_ms, render, write_private
    from posture.app.report.period import Choice, local_zone
    from posture.app.service import RunOptions, run_monitor
    from posture.config import Config
    from posture.samples import GRACE_HOPPER

    config = Config()  # the defaults: the demo's home is empty
    seconds = sum(s for s, _ in SCRIPT)
    pace = f"at {speed:g}x speed" if speed > 0 else "as fast as the machine can"
    tz_name, tz = local_zone()
    with private_home() as home, tempfile.TemporaryDirectory(prefix="posture-clip-") as tmp:
        folder = Path(tmp)
        terminal.say(
            f"posture demo: a {seconds:.0f} s clip of someone who slouches for "
            f"{SCRIPT[2][0]:.0f} s, watched {pace} in a throwaway folder"
        )
        shoulder = shoulder_line(GRACE_HOPPER, open_source=open_source, pose=pose)
        clip = build_clip(folder, GRACE_HOPPER, shoulder)
        stills = upright_stills(folder, GRACE_HOPPER)
        run_calibrate(
            [str(p) for p in stills],
            profile_name="default",
            seconds=10.0,
            sensitivity="medium",
            open_source=open_source,
            pose=pose,
            store=profiles_in(home),
            min_visibility=config.pose.min_visibility,
            countdown=0,
            terminal=terminal,
        )
        summary = run_monitor(
            config,
            RunOptions(source=str(clip), speed=speed, verbose=verbose),
            to_stderr=True,
            home=home,
        )
        with history(home) as reader:
            report = make_report(
                reader, Choice(), now_ms=now_ms(), tz_name=tz_name, tz=tz, running=False
            )
        html = new_report_file(output)
        write_private(html, render(report, "html"))
        text = render(report, "text", unicode=unicode)
    return DemoResult(summary=summary.text(), report=text, html=html)
