"""Benchmark of the background monitor; prints the figures the README quotes.

    .venv/bin/python scripts/bench_monitor.py [--hours 2] [--slice 180] [--away-minutes 2]

The footage is the bundled public-domain portrait (posture/samples/grace_hopper.jpg)
warped by `posture.app.demo.slouched` along a script on a simulated clock (one repetition is
about 20 minutes: upright with five glances down of 5-20 s, a 2-minute slouch, upright,
2 minutes away (`--away-minutes`), another 2-minute slouch, upright), at 10 frames a
second. A frame is 640x480: a room made of the portrait's own background (flag,
backdrop) with the warped portrait's top 480 rows in front of it at its own scale, or the
room alone while away.
Every distinct picture is pre-rendered, before any measurement, as 8 variants with
independent sensor noise (±2 grey levels) encoded as JPEG (quality 85), as a webcam
delivering MJPEG would send them. Each read picks a variant at random among those the
feed did not return in its last 4 reads, so a look never sees the very same noise as the
look before (a real camera never repeats its noise; an identical frame would be skipped
as unchanged for free), and which pairs of variants get compared is not fixed by a
pattern. Every frame a loop reads is decoded (JPEG -> BGR -> RGB) inside the measurement.

Measures, on this machine, in one run:
(a) the default monitor: `posture.app.monitor.loop.Monitor` with the config's default settings and
    episode Settings, the real MediaPipePose in VIDEO mode with num_poses 2 (as
    posture.app.compose builds it), the real judgment, nudges through a ChainNotifier whose one
    backend records them, and a real History in a temporary folder; ReplayClock(speed=0)
    over the script repeated for `--hours`. CPU (time.process_time) around the whole
    `monitor.run()`, looks, model runs, nudge latency from each slouch, nudges during the
    glances, and resident memory (VmRSS) after warm-up, after an hour and at the end.
    The share of the time the camera is held (its light on), over the run and over the
    absences: the feed is "opened" by a read after a release and held until the last read
    before the next release, plus REPLAY_OPEN_COST (1 s: a webcam's open and exposure
    warm-up) per opening, whose CPU is charged as WARMUP_DECODES more decoded frames.
(b) a continuous 10 fps loop, the way most posture monitors work: every frame decoded,
    pose.detect (same model, one pose as peers look for: the cheaper setting),
    features and judgment via posture.core.observe.Watch,
    over a `--slice`-second part of the script with upright, a glance and a slouch.
Targets: nudge <= slouch_after + 3 s after full slouch, no posture nudge during the
glances, RSS growth < 5 MB.
"""

from __future__ import annotations

import argparse
import bisect
import math
import platform
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import numpy as np
from machine import describe  # scripts/machine.py: the script's folder is on sys.path

from posture.adapters.notify.backends import ChainNotifier
from posture.adapters.pose.landmarker import MediaPipePose, PoseOptions
from posture.adapters.pose.model import ModelInfo
from posture.adapters.video.sources import open_source
from posture.app.monitor.clocks import ReplayClock
from posture.app.monitor.feeds import REPLAY_OPEN_COST
from posture.app.monitor.loop import Monitor
from posture.config import MonitorConfig, monitor_settings
from posture.core.calibration import FrameStats, calibrate, frame_brightness
from posture.core.episodes import Settings
from posture.core.frames import Frame, thumbnail
from posture.core.profile import Camera, Profile
from posture.ports import EndOfInput

WIDTH, HEIGHT = 640, 480
FPS = 10.0
VARIANTS = 8
NOISE = 2  # ± grey levels, independently per pixel and channel
JPEG_QUALITY = 85
#: Slouch amounts are rendered in steps of 1/LEVEL_STEPS (ramps pass through them).
LEVEL_STEPS = 20
AWAY_KEY = -1
GLANCE_RAMP = 0.5  # seconds to look down (and up again)
SLOUCH_RAMP = 3.0  # seconds to sink into a slouch (and to sit up again)
GLANCE_PART = 480.0  # the first 8 minutes of the script: upright with glances
#: (start, seconds held down) of the glances at the screen's lower edge, the desk, a phone
GLANCES = ((60.0, 8.0), (150.0, 15.0), (240.0, 5.0), (330.0, 20.0), (420.0, 12.0))
#: The continuous loop's slice: from the last glance through the first slouch.
SLICE_START = 420.0
RSS_GROWTH_TARGET_MB = 5.0
#: Frames a webcam opened for one look sends before its exposure settles (0.5 s at 30 fps),
#: decoded and thrown away at each opening (posture.core.camera_policy.Warmup).
WARMUP_DECODES = 15


def rss_mb() -> float:
    """This process's resident memory now, in MB (VmRSS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the peak, at worst


# --- the script -------------------------------------------------------------------------


class Segment(NamedTuple):
    seconds: float
    start: float | None  # slouch amount at the segment's start; None: nobody there
    end: float | None  # ... at its end (a ramp when it differs from start)
    part: str  # "glances", "slouch", "upright" or "away"


def build_script(away: float = 120.0) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    t = 0.0
    for at, hold in GLANCES:
        segments += [
            Segment(at - t, 0.0, 0.0, "glances"),
            Segment(GLANCE_RAMP, 0.0, 1.0, "glances"),
            Segment(hold, 1.0, 1.0, "glances"),
            Segment(GLANCE_RAMP, 1.0, 0.0, "glances"),
        ]
        t = at + hold + 2 * GLANCE_RAMP
    segments.append(Segment(GLANCE_PART - t, 0.0, 0.0, "glances"))

    def slouch() -> list[Segment]:
        hold = 120.0 - 2 * SLOUCH_RAMP
        return [
            Segment(SLOUCH_RAMP, 0.0, 1.0, "slouch"),
            Segment(hold, 1.0, 1.0, "slouch"),
            Segment(SLOUCH_RAMP, 1.0, 0.0, "slouch"),
        ]

    segments += slouch()
    segments.append(Segment(180.0, 0.0, 0.0, "upright"))
    segments.append(Segment(away, None, None, "away"))
    segments.append(Segment(20.0, 0.0, 0.0, "upright"))  # sitting down again
    segments += slouch()
    segments.append(Segment(180.0, 0.0, 0.0, "upright"))
    return tuple(segments)


class Script:
    """Slouch amounts over time: linear within a ramp, None while nobody is there."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = tuple(segments)
        self.starts: list[float] = []
        t = 0.0
        for seg in self.segments:
            self.starts.append(t)
            t += seg.seconds
        self.total = t

    def level(self, t: float) -> float | None:
        """The amount at `t` seconds into the script (wrapping), quantised for rendering."""
        t %= self.total
        i = bisect.bisect_right(self.starts, t) - 1
        seg = self.segments[i]
        if seg.start is None or seg.end is None:
            return None
        share = (t - self.starts[i]) / seg.seconds if seg.seconds else 1.0
        amount = seg.start + (seg.end - seg.start) * min(1.0, share)
        return round(amount * LEVEL_STEPS) / LEVEL_STEPS

    def windows(self, part: str) -> list[tuple[float, float]]:
        """(start, end) of every stretch of consecutive segments of `part`."""
        out: list[tuple[float, float]] = []
        for seg, start in zip(self.segments, self.starts, strict=True):
            if seg.part != part:
                continue
            if out and math.isclose(out[-1][1], start):
                out[-1] = (out[-1][0], start + seg.seconds)
            else:
                out.append((start, start + seg.seconds))
        return out


# --- the footage ------------------------------------------------------------------------


def key_of(level: float | None) -> int:
    return AWAY_KEY if level is None else round(level * LEVEL_STEPS)


def empty_room(portrait: np.ndarray) -> np.ndarray:
    """The portrait's background with nobody in front of it: its flag on the left, its
    backdrop on the right (BGR, WIDTH x HEIGHT). The person sits in front of it."""
    import cv2

    flag_w = WIDTH * 35 // 100
    room = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    room[:, :flag_w] = cv2.resize(
        portrait[0:300, 0:140], (flag_w, HEIGHT), interpolation=cv2.INTER_AREA
    )
    room[:, flag_w:] = cv2.resize(
        portrait[0:300, 400:512], (WIDTH - flag_w, HEIGHT), interpolation=cv2.INTER_AREA
    )
    return room


@dataclass
class Clip:
    """Pre-rendered JPEGs: VARIANTS noisy versions of every distinct picture."""

    script: Script
    jpegs: dict[int, list[np.ndarray]]
    keys: np.ndarray  # the picture key of every frame of one repetition

    def jpeg(self, frame: int, variant: int) -> np.ndarray:
        key = int(self.keys[frame % len(self.keys)])
        return self.jpegs[key][variant]


def render_clip(script: Script, portrait: np.ndarray, shoulder_y: float, seed: int = 5) -> Clip:
    import cv2

    from posture.app.demo import slouched

    frames = round(script.total * FPS)
    keys = np.array([key_of(script.level(i / FPS)) for i in range(frames)], dtype=np.int16)
    rng = np.random.default_rng(seed)
    room = empty_room(portrait)
    jpegs: dict[int, list[np.ndarray]] = {}
    for key in sorted({int(k) for k in keys}):
        clean = room.copy()
        if key != AWAY_KEY:
            # Warped at the portrait's own scale, as the demo does (its DROP_PX is in those
            # pixels), and set into the room unscaled: its top 480 rows (head, shoulders,
            # chest), centred. Stretched to 640x480 instead, the model loses the person at
            # full slouch; shrunk to 480 rows high, the warp barely moves the features.
            warped = slouched(portrait, key / LEVEL_STEPS, shoulder_y) if key else portrait
            rows = min(HEIGHT, warped.shape[0])
            cols = min(WIDTH, warped.shape[1])
            left = (WIDTH - cols) // 2
            clean[:rows, left : left + cols] = warped[:rows, :cols]
        variants = []
        for _ in range(VARIANTS):
            noise = rng.integers(-NOISE, NOISE + 1, size=clean.shape, dtype=np.int16)
            noisy = np.clip(clean.astype(np.int16) + noise, 0, 255).astype(np.uint8)
            ok, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            assert ok
            variants.append(np.asarray(buf))
        jpegs[key] = variants
    return Clip(script, jpegs, keys)


def decode(jpeg: np.ndarray) -> np.ndarray:
    """What a camera source does with an MJPEG frame: JPEG -> BGR -> RGB."""
    import cv2

    bgr = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    if bgr is None:
        raise RuntimeError("a pre-rendered JPEG does not decode")
    rgb: np.ndarray = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return rgb


class ScriptFeed:
    """The clip as a camera (posture.ports.Feed): `read(t)` decodes the frame shown at
    `t`, in a noise variant none of the last `VARIANTS // 2` reads had; `EndOfInput` after
    `seconds`. Records RSS when `t` first passes each mark."""

    kind = "camera"

    def __init__(
        self, clip: Clip, seconds: float, marks: Sequence[tuple[str, float]] = (), seed: int = 9
    ) -> None:
        self.name = "bench"
        self.clip = clip
        self.seconds = seconds
        self.marks = list(marks)
        self.rss: dict[str, float] = {}
        self.reads = 0
        self._rng = np.random.default_rng(seed)
        self._recent: deque[int] = deque(maxlen=VARIANTS // 2)
        #: (opened, released) of every holding of the simulated camera
        self.held: list[tuple[float, float]] = []
        self._opened: float | None = None
        self._last_t = 0.0

    def read(self, t: float) -> Frame:
        if self.marks and t >= self.marks[0][1]:
            self.rss[self.marks.pop(0)[0]] = rss_mb()
        if t >= self.seconds:
            self.rss["end"] = rss_mb()
            raise EndOfInput
        i = int(t * FPS + 1e-6)
        self.reads += 1
        if self._opened is None:
            self._opened = t
            for _ in range(WARMUP_DECODES):
                decode(self.clip.jpeg(i, 0))
        self._last_t = t
        fresh = [v for v in range(VARIANTS) if v not in self._recent]
        variant = fresh[int(self._rng.integers(len(fresh)))]
        self._recent.append(variant)
        return Frame(i / FPS, decode(self.clip.jpeg(i, variant)), "camera:bench", i)

    def release(self) -> None:
        if self._opened is not None:
            self.held.append((self._opened, self._last_t + REPLAY_OPEN_COST))
            self._opened = None


# --- notifications ----------------------------------------------------------------------


@dataclass
class RecordingBackend:
    """A notifier backend (posture.adapters.notify.backends.Backend) that keeps what it was
    asked to show, with the monitor's clock time."""

    clock: ReplayClock
    sent: list[tuple[float, str, str]] = field(default_factory=list)
    name: str = "bench"

    def notify(self, title: str, message: str) -> None:
        self.sent.append((self.clock.now(), title, message))


POSTURE_TITLE = "Posture check"


# --- setup ------------------------------------------------------------------------------


def make_profile(clip: Clip, model: ModelInfo) -> Profile:
    """Calibrate as `posture calibrate` does from a camera: brightness and every pose
    (num_poses 2, IMAGE mode) of a few upright noisy frames."""
    stats = []
    with MediaPipePose(model, PoseOptions(mode="image", num_poses=2)) as pose:
        for jpeg in clip.jpegs[0]:
            image = decode(jpeg)
            result = pose.detect(image, 0.0)
            mean, std = frame_brightness(image)
            stats.append(FrameStats(mean, std, result.landmarks, result.aspect))
        room = decode(clip.jpegs[AWAY_KEY][0])
        if pose.detect(room, 0.0).found:
            raise RuntimeError("the model finds a person in the empty-room picture")
    return calibrate(
        stats,
        name="bench",
        sensitivity="medium",
        camera=Camera("bench", "camera", WIDTH, HEIGHT),
        model_sha256=model.sha256,
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    )


def thumbnail_noise(clip: Clip) -> list[float]:
    """For every pair of noise variants of the upright picture, the mean absolute
    difference of their thumbnails (what `posture.core.frames.unchanged` compares to its
    threshold)."""
    thumbs = [thumbnail(decode(j)) for j in clip.jpegs[0]]
    return [float(np.mean(np.abs(a - b))) for i, a in enumerate(thumbs) for b in thumbs[i + 1 :]]


# --- (a) the monitor --------------------------------------------------------------------


@dataclass
class MonitorRun:
    seconds: float
    cpu: float
    wall: float
    samples: int
    model_runs: int
    reads: int
    sent: list[tuple[float, str, str]]
    nudges: dict[str, int]
    episodes: int
    rss: dict[str, float]
    held: list[tuple[float, float]]


def run_monitor(clip: Clip, profile: Profile, model: ModelInfo, seconds: float) -> MonitorRun:
    from posture.adapters.storage.history import History

    options = PoseOptions(mode="video", num_poses=2)
    clock = ReplayClock(speed=0, start_wall_ms=1_700_000_000_000)
    backend = RecordingBackend(clock)
    marks = [("warm", clip.script.total), ("hour", 3600.0)]
    feed = ScriptFeed(clip, seconds, marks)
    with tempfile.TemporaryDirectory(prefix="posture-bench-") as tmp:
        history = History(Path(tmp) / "history.sqlite3")
        monitor = Monitor(
            profile=profile,
            feed=feed,
            pose_factory=lambda: MediaPipePose(model, options),
            notifier=ChainNotifier([backend]),
            history=history,
            clock=clock,
            settings=monitor_settings(MonitorConfig()),
            episode_settings=Settings(),
        )
        wall = time.perf_counter()
        cpu = time.process_time()
        summary = monitor.run()
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - wall
        history.close()
    return MonitorRun(
        seconds=clock.now(),
        cpu=cpu,
        wall=wall,
        samples=monitor.samples,
        model_runs=monitor.model_runs,
        reads=feed.reads,
        sent=backend.sent,
        nudges=dict(summary.nudges),
        episodes=summary.episodes,
        rss=feed.rss,
        held=feed.held,
    )


# --- (b) the continuous loop ------------------------------------------------------------


def run_continuous(clip: Clip, profile: Profile, model: ModelInfo, seconds: float) -> float:
    """CPU seconds of a 10 fps loop over `seconds` of the script from SLICE_START."""
    from posture.core.observe import Watch

    feed = ScriptFeed(clip, SLICE_START + seconds)
    watch = Watch(profile, settings=Settings())
    frames = round(seconds * FPS)
    # The model is loaded outside the measurement (in (a) it is inside): favours (b).
    with MediaPipePose(model, PoseOptions(mode="video", num_poses=1)) as pose:
        cpu = time.process_time()
        for k in range(frames):
            t = SLICE_START + k / FPS
            frame = feed.read(t)
            result = pose.detect(frame.image, t)
            watch.observe(t, result.landmarks, result.aspect)
        return time.process_time() - cpu


# --- report -----------------------------------------------------------------------------


def latencies(run: MonitorRun, script: Script) -> list[tuple[float, float] | None]:
    """For every slouch of every repetition: seconds from full slouch and from the start
    of the ramp to the first posture nudge during it (None: no nudge)."""
    out: list[tuple[float, float] | None] = []
    posture = [t for t, title, _ in run.sent if title == POSTURE_TITLE]
    reps = math.ceil(run.seconds / script.total)
    for rep in range(reps):
        for start, end in script.windows("slouch"):
            ramp = rep * script.total + start
            if ramp + SLOUCH_RAMP >= run.seconds:
                continue
            during = [t for t in posture if ramp <= t < rep * script.total + end]
            full = ramp + SLOUCH_RAMP
            out.append((during[0] - full, during[0] - ramp) if during else None)
    return out


def glance_nudges(run: MonitorRun, script: Script) -> tuple[int, int]:
    """Posture nudges, and other nudges (break reminders: the script's 2-minute absence is
    no real break), sent during the upright-with-glances parts."""
    windows = script.windows("glances")
    reps = math.ceil(run.seconds / script.total)
    posture = other = 0
    for t, title, _ in run.sent:
        local, rep = t % script.total, int(t // script.total)
        if rep < reps and any(a <= local < b for a, b in windows):
            if title == POSTURE_TITLE:
                posture += 1
            else:
                other += 1
    return posture, other


def held_share(run: MonitorRun, windows: Sequence[tuple[float, float]]) -> float:
    """The share of the time in `windows` that the camera was held."""
    held = total = 0.0
    for start, end in windows:
        end = min(end, run.seconds)
        if end <= start:
            continue
        total += end - start
        held += sum(max(0.0, min(end, b) - max(start, a)) for a, b in run.held)
    return held / total if total else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--hours", type=float, default=2.0, help="simulated hours for (a) (whole scripts)"
    )
    parser.add_argument(
        "--slice", type=float, default=180.0, help="seconds of the script for (b) at 10 fps"
    )
    parser.add_argument(
        "--away-minutes", type=float, default=2.0, help="the script's absence, in minutes"
    )
    args = parser.parse_args()
    import cv2
    import mediapipe

    from posture.adapters.pose import native_log
    from posture.adapters.pose.model import resolve_model
    from posture.app.compose import MediaPipeModel
    from posture.app.demo import shoulder_line
    from posture.samples import GRACE_HOPPER

    native_log.request_quiet()  # MediaPipe's own log lines would bury the figures
    print(describe())
    print(
        f"python {platform.python_version()}, mediapipe {mediapipe.__version__}, "
        f"opencv {cv2.__version__}, numpy {np.__version__}"
    )

    # Everything before the measurements: footage, calibration.
    script = Script(build_script(args.away_minutes * 60))
    portrait = cv2.imread(str(GRACE_HOPPER))
    assert portrait is not None, GRACE_HOPPER
    clip = render_clip(
        script,
        portrait,
        shoulder_line(GRACE_HOPPER, open_source=open_source, pose=MediaPipeModel()),
    )
    info = resolve_model(None)
    profile = make_profile(clip, info)
    reps = max(1, math.ceil(args.hours * 3600 / script.total))
    seconds = reps * script.total
    pictures = sum(len(v) for v in clip.jpegs.values())
    size = statistics.mean(len(j) for v in clip.jpegs.values() for j in v) / 1024
    print(
        f"footage: {script.total / 60:.1f} min script x {reps} = {seconds / 3600:.2f} h "
        f"simulated, {WIDTH}x{HEIGHT} at {FPS:g} fps, {pictures} pre-rendered JPEGs "
        f"(q{JPEG_QUALITY}, ±{NOISE} noise, {size:.0f} KiB each), decoded on every read"
    )
    noise = thumbnail_noise(clip)
    print(
        f"unchanged test: two noisy frames of the same picture differ by "
        f"{statistics.mean(noise):.2f} grey levels in the thumbnail ({min(noise):.2f}-"
        f"{max(noise):.2f} over {len(noise)} pairs; skip threshold "
        f"{monitor_settings(MonitorConfig()).unchanged_threshold:g})"
    )

    run = run_monitor(clip, profile, info, seconds)
    per_hour_a = run.cpu / run.seconds * 3600
    skipped = run.samples - run.model_runs
    print(
        f"(a) monitor (real History in a temp folder): {per_hour_a:.1f} CPU s per monitored hour = "
        f"{run.cpu / run.seconds * 100:.2f}% of one core "
        f"({run.cpu:.1f} s CPU, {run.wall:.1f} s wall for {run.seconds / 3600:.2f} h)"
    )
    reps_away = [
        (start + k * script.total, end + k * script.total)
        for k in range(reps)
        for start, end in script.windows("away")
    ]
    print(
        f"(a) camera held (light on) {held_share(run, [(0.0, run.seconds)]) * 100:.1f}% of "
        f"the time, {held_share(run, reps_away) * 100:.1f}% while away "
        f"({args.away_minutes:g}-minute absences; {len(run.held)} openings; close_camera_after "
        f"{MonitorConfig().close_camera_after:g} s, {REPLAY_OPEN_COST:g} s per opening)"
    )
    print(
        f"(a) looks: {run.samples} samples (one per {run.seconds / max(1, run.samples):.2f} s), "
        f"{run.model_runs} model runs, {skipped} skipped as unchanged "
        f"({skipped / max(1, run.samples) * 100:.1f}%)"
    )

    cpu_b = run_continuous(clip, profile, info, args.slice)
    per_hour_b = cpu_b / args.slice * 3600
    print(
        f"(b) continuous {FPS:g} fps loop: {per_hour_b:.0f} CPU s per monitored hour = "
        f"{cpu_b / args.slice * 100:.1f}% of one core ({cpu_b:.1f} s CPU for a "
        f"{args.slice:.0f} s slice, {round(args.slice * FPS)} frames)"
    )
    print(f"(b)/(a): {per_hour_b / per_hour_a:.1f}x the CPU")

    lat = latencies(run, script)
    target = Settings().slouch_after + 3
    found = [x for x in lat if x is not None]
    first = ", ".join("missed" if x is None else f"{x[0]:.1f} s" for x in lat[:2])
    worst = max(x[0] for x in found) if found else math.nan
    worst_ramp = max(x[1] for x in found) if found else math.nan
    print(
        f"nudge latency from full slouch: {first} (first script); worst of {len(lat)} "
        f"slouches {worst:.1f} s, {len(lat) - len(found)} missed (target <= {target:.0f} s)"
    )
    print(f"nudge latency from the start of the ramp: worst {worst_ramp:.1f} s")
    posture, other = glance_nudges(run, script)
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(run.nudges.items()))
    print(
        f"posture nudges during upright with glances: {posture} (target 0); "
        f"break reminders there: {other}; all nudges: {kinds or 'none'}; "
        f"{run.episodes} episodes for {len(lat)} slouches"
    )
    warm = run.rss.get("warm", math.nan)
    hour = run.rss.get("hour", math.nan)
    end = run.rss.get("end", math.nan)
    print(
        f"RSS: {warm:.1f} MB after warm-up ({script.total / 60:.0f} simulated min), "
        f"{hour:.1f} MB after 1 h, {end:.1f} MB at {run.seconds / 3600:.2f} h: "
        f"growth {end - warm:+.1f} MB (target < {RSS_GROWTH_TARGET_MB:g} MB)"
    )


if __name__ == "__main__":
    main()
