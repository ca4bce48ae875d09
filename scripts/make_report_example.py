#!/usr/bin/env python3
"""Make docs/report-example.png: the HTML report of a replayed session, screenshotted by
headless Chromium.

    python scripts/make_report_example.py [--png docs/report-example.png] [--html OUT.html]
    python scripts/make_report_example.py --synthetic     no pose model needed

By default the session is real: the demo's portrait (posture/samples) made into a
17-minute clip (upright, three slouches, a minute and a half away), calibrated on with
`posture calibrate`, watched by `posture run --source CLIP --speed 20` on a simulated
clock (paused for a minute partway, through the monitor's control socket as `posture
pause` does), all in a throwaway POSTURE_HOME; the report is then loaded from that
history as `posture report` loads it (posture.app.report.commands.make_report). Its times are those
of the run: today, in this computer's time zone.

--synthetic instead simulates a plausible working day from a fixed seed (no camera
side, no pose model; the same picture every time).

It needs matplotlib and /usr/bin/chromium (Debian: apt-get install chromium); the replay
also needs the camera side (mediapipe, OpenCV), as `posture demo` does.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from posture.app.report.html import render_html  # noqa: E402
from posture.core.stats import Band, EpisodeRow, Report  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DAY = date(2025, 3, 4)
PROBLEMS = ("slouch", "too_close", "leaning", "head_tilt", "neck")


def _ms(hour: int, minute: int, day: date = DAY) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute).timestamp() * 1000)


def _plan(rng: random.Random) -> list[tuple[int, int, str]]:
    """(start_ms, end_ms, kind) for the day, back to back."""
    fixed = [
        (_ms(10, 40), _ms(10, 52), "away"),  # coffee
        (_ms(12, 30), _ms(13, 18), "away"),  # lunch
        (_ms(15, 5), _ms(15, 25), "paused"),  # a call: monitoring paused
        (_ms(16, 10), _ms(16, 16), "away"),
    ]
    out: list[tuple[int, int, str]] = []
    t = _ms(9, 2)
    end = _ms(17, 34)
    fatigue = 0.0
    while t < end:
        nxt = next((f for f in fixed if f[0] >= t), None)
        if nxt is not None and nxt[0] <= t:
            out.append(nxt)
            t = nxt[1]
            continue
        limit = min(end, nxt[0]) if nxt else end
        hour = datetime.fromtimestamp(t / 1000).hour
        fatigue = 1.0 + (0.9 if hour in (11, 14, 16) else 0.0)
        upright = int(rng.uniform(8, 32) / fatigue * 60_000)
        slouch = int(rng.uniform(0.6, 5.5) * fatigue * 60_000)
        for kind, length in (("upright", upright), ("slouch", slouch)):
            stop = min(limit, t + length)
            if stop > t:
                out.append((t, stop, kind))
                t = stop
        if nxt is not None and t >= nxt[0]:
            out.append(nxt)
            t = nxt[1]
    return out


def synthetic_report() -> Report:
    """A plausible working day, simulated from a fixed seed."""
    rng = random.Random(4)
    plan = _plan(rng)
    bands = tuple(Band(s, e, k) for s, e, k in plan)
    since, until = plan[0][0], plan[-1][1]

    scores: list[tuple[int, float]] = []
    for s, e, kind in plan:
        if kind in ("away", "paused"):
            continue
        base = 0.45 if kind == "upright" else 1.35
        for t in range(s, e, 10_000):
            into = (t - s) / max(e - s, 1)
            bump = math.sin(math.pi * into) * (0.3 if kind == "slouch" else 0.1)
            scores.append((t, max(0.05, base + bump + rng.gauss(0, 0.08))))

    episodes = []
    problem_s = dict.fromkeys(PROBLEMS, 0.0)
    for s, e, kind in plan:
        if kind != "slouch":
            continue
        problem = rng.choices(PROBLEMS, weights=(6, 2, 1.5, 1, 2))[0]
        peak = max(v for t, v in scores if s <= t < e) if e - s > 10_000 else 1.2
        episodes.append(EpisodeRow(s, e, problem, round(peak, 2)))
        problem_s[problem] += (e - s) / 1000

    def total(kind: str, lo: int = since, hi: int = until) -> float:
        return sum(max(0, min(e, hi) - max(s, lo)) for s, e, k in plan if k == kind) / 1000

    upright_s = total("upright")
    present_s = upright_s + total("slouch")
    streak = max((e - s) / 1000 for s, e, k in plan if k == "upright")
    hourly = []
    worst: tuple[float, int] | None = None
    for hour in range(9, 18):
        lo, hi = _ms(hour, 0), _ms(hour + 1, 0)
        up, bad = total("upright", lo, hi), total("slouch", lo, hi)
        share = up / (up + bad) if up + bad > 0 else None
        hourly.append((lo, up + bad, share))
        if share is not None and up + bad >= 600 and (worst is None or share < worst[0]):
            worst = (share, hour)
    durations = sorted((e.end_ms - e.start_ms) / 1000 for e in episodes)
    share = upright_s / present_s
    daily: list[tuple[str, float, float | None]] = []
    for back in range(6, 0, -1):
        d = DAY - timedelta(days=back)
        if d.weekday() >= 5:
            daily.append((d.isoformat(), 0.0, None))
        else:
            daily.append((d.isoformat(), rng.uniform(5, 7.5) * 3600, rng.uniform(0.55, 0.8)))
    daily.append((DAY.isoformat(), present_s, share))
    previous = 0.66
    nudges = len([e for e in episodes if e.end_ms - e.start_ms > 90_000])
    return Report(
        title="Posture report: Tuesday",
        since_ms=since,
        until_ms=until,
        tz="Europe/Paris",
        running=False,
        monitored_s=(until - since) / 1000,
        present_s=present_s,
        upright_s=upright_s,
        upright_share=share,
        problem_s=problem_s,
        episodes=tuple(episodes),
        episode_median_s=durations[len(durations) // 2],
        episode_longest_s=durations[-1],
        longest_upright_streak_s=streak,
        away_s=total("away"),
        breaks=len([1 for s, e, k in plan if k == "away"]),
        paused_s=total("paused"),
        nudges=nudges,
        nudges_followed=max(0, nudges - 2),
        worst_hour=worst[1] if worst else None,
        worst_hour_share=worst[0] if worst else None,
        hourly=tuple(hourly),
        daily=tuple(daily),
        previous_upright_share=previous,
        trend_points=(share - previous) * 100,
        bands=bands,
        scores=tuple(scores),
    )


# --- a replayed session ----------------------------------------------------------------

#: The clip: (seconds, what): a slouch amount 0..1 (as in posture.app.demo), "ramp" to the
#: next amount over the segment, or "away" (nobody in the picture).
CLIP: tuple[tuple[float, float | str], ...] = (
    (120.0, 0.0),
    (3.0, "ramp"),
    (70.0, 1.0),
    (3.0, "ramp"),
    (150.0, 0.0),
    (90.0, "away"),
    (150.0, 0.0),
    (3.0, "ramp"),
    (50.0, 1.0),
    (3.0, "ramp"),
    (120.0, 0.0),
    (3.0, "ramp"),
    (150.0, 1.0),
    (3.0, "ramp"),
    (100.0, 0.0),
)
#: The pause: once this much present time has been seen, for this long (simulated s).
PAUSE_AFTER_S = 400
PAUSE_S = 60
#: Replay speed: simulated seconds per real second.
SPEED = 20.0


def _frames() -> list[float | None]:
    """Each frame's slouch amount (None: away), at posture.app.demo.FPS."""
    from posture.app import demo

    out: list[float | None] = []
    level = 0.0
    for i, (seconds, what) in enumerate(CLIP):
        n = round(seconds * demo.FPS)
        if what == "away":
            out += [None] * n
        elif what == "ramp":
            target = next(float(w) for _, w in CLIP[i + 1 :] if not isinstance(w, str))
            out += [level + (target - level) * (k + 1) / (n + 1) for k in range(n)]
        else:
            level = float(what)
            out += [level] * n
    return out


def build_clip(folder: Path) -> Path:
    """The clip as an MJPG AVI, with a little sensor noise as posture.app.demo makes it."""
    import cv2
    import numpy as np

    from posture.adapters.video.sources import open_source
    from posture.app import demo
    from posture.app.compose import MediaPipeModel
    from posture.samples import GRACE_HOPPER

    shoulder = demo.shoulder_line(GRACE_HOPPER, open_source=open_source, pose=MediaPipeModel())
    bgr = cv2.imread(str(GRACE_HOPPER))
    if bgr is None:
        raise RuntimeError(f"cannot read {GRACE_HOPPER}")
    height, width = bgr.shape[:2]
    # Nobody there: the backdrop's colour, lit from above, over a darker desk (a uniform
    # picture would be a covered camera to the monitor, not an empty room).
    backdrop = np.median(bgr[:40].reshape(-1, 3), axis=0)
    light = np.linspace(1.25, 0.8, height)[:, None, None]
    empty = np.clip(backdrop[None, None, :] * light, 0, 255).repeat(width, axis=1)
    empty[int(height * 0.7) :] = backdrop * 0.45
    empty = empty.astype(np.uint8)
    path = folder / "session.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), demo.FPS, (width, height))
    rng = np.random.default_rng(5)
    try:
        for amount in _frames():
            base = empty if amount is None else demo.slouched(bgr, amount, shoulder)
            frame = base.astype(np.int16) + rng.integers(-2, 3, size=base.shape, dtype=np.int16)
            writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    finally:
        writer.release()
    return path


def _posture(*args: str, env: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "posture", *args]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed:\n{result.stdout}{result.stderr}")


def replay_report(work: Path) -> Report:
    """Calibrate, replay the clip with the monitor (pausing it partway), load the report."""
    from posture.adapters.control.unix import request, socket_path
    from posture.adapters.storage.history import HISTORY_FILE
    from posture.adapters.storage.queries import HistoryQueries
    from posture.adapters.system import paths
    from posture.app import demo
    from posture.app.report import commands as report
    from posture.app.report.period import Choice, local_zone
    from posture.errors import PostureError
    from posture.samples import GRACE_HOPPER

    home = work / "home"
    env = {**os.environ, "POSTURE_HOME": str(home), "PYTHONPATH": str(REPO)}
    print("building the clip ...", file=sys.stderr)
    clip = build_clip(work)
    stills = demo.upright_stills(work, GRACE_HOPPER)
    _posture("calibrate", *(a for s in stills for a in ("--source", str(s))), env=env)
    print(f"replaying it at {SPEED:g}x ...", file=sys.stderr)
    start_ms = int(time.time() * 1000)
    cmd = [sys.executable, "-m", "posture", "run", "--source", str(clip), "--speed", f"{SPEED}"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sock = socket_path(paths.folders(env).runtime)
    paused = False
    try:
        while proc.poll() is None:
            time.sleep(0.05)
            if paused:
                continue
            try:
                seen = request(sock, {"cmd": "status"}, timeout=2.0).get("seen_seconds") or 0
                if seen >= PAUSE_AFTER_S:
                    request(sock, {"cmd": "pause", "seconds": PAUSE_S}, timeout=2.0)
                    paused = True
            except PostureError:
                pass  # not listening yet, or just finished
        output = proc.communicate()[0].decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != 0:
        raise RuntimeError(f"posture run failed:\n{output}")
    print(output.strip().splitlines()[-1], file=sys.stderr)
    seconds = sum(s for s, _ in CLIP)
    saved = os.environ.get("POSTURE_HOME")
    os.environ["POSTURE_HOME"] = str(home)
    try:
        tz_name, tz = local_zone()
        with HistoryQueries(paths.folders().data / HISTORY_FILE) as reader:
            return report.make_report(
                reader,
                Choice(),
                now_ms=start_ms + round(seconds * 1000) + 60_000,
                tz_name=tz_name,
                tz=tz,
                running=False,
            )
    finally:
        if saved is None:
            os.environ.pop("POSTURE_HOME", None)
        else:
            os.environ["POSTURE_HOME"] = saved


# --- the picture ----------------------------------------------------------------------


def screenshot(html_file: Path, png: Path, width: int, height: int) -> None:
    """Headless Chromium's screenshot of a local file, width x height CSS pixels."""
    with tempfile.TemporaryDirectory(prefix="posture-chromium-") as profile:
        cmd = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png}",
            html_file.resolve().as_uri(),
        ]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {png}")


def crop_to_content(png: Path, margin: int = 24) -> None:
    """Cut the empty page background below the content."""
    import matplotlib.image as mpimg
    import numpy as np

    image = mpimg.imread(str(png))[..., :3]
    background = image[-1, -1]
    differs = np.any(np.abs(image - background) > 0.02, axis=(1, 2))
    rows = np.nonzero(differs)[0]
    bottom = min(image.shape[0], int(rows[-1]) + 1 + margin) if len(rows) else image.shape[0]
    mpimg.imsave(str(png), np.ascontiguousarray(image[:bottom]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--png", type=Path, default=REPO / "docs" / "report-example.png")
    parser.add_argument("--html", type=Path, help="also keep the HTML here")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument(
        "--synthetic", action="store_true", help="a simulated day instead of a replayed session"
    )
    args = parser.parse_args(argv)
    if shutil.which(CHROMIUM) is None:
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="posture-report-") as tmp:
        work = Path(tmp)
        report = synthetic_report() if args.synthetic else replay_report(work)
        page = render_html(report)
        html_file = work / "report.html"
        html_file.write_text(page, encoding="utf-8")
        if args.html:
            args.html.write_text(page, encoding="utf-8")
        args.png.parent.mkdir(parents=True, exist_ok=True)
        screenshot(html_file, args.png, args.width, 6000)
    crop_to_content(args.png)
    size = args.png.stat().st_size // 1024
    print(f"wrote {args.png} ({size} KiB; the HTML is {len(page) // 1024} KiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
