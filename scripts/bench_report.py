"""Benchmark of `posture report` over a long history; prints the figures the README quotes.

    .venv/bin/python scripts/bench_report.py [--days 90] [--repeat 5] [--keep DIR]

Builds a temporary POSTURE_HOME whose history holds `--days` days ending today of two
4-hour sessions a day (09:00-13:00 and 14:00-18:00 local time) with a sample every 2 s
(1.3 million samples for 90 days, all nine feature values filled in), through the real
schema (`posture.adapters.storage.history.History` creates it) and plain `executemany`
inserts. The day is
a random walk of segments: upright stretches, glances down (bad for 4-20 s, no episode),
slouches (1-10 minutes: an episode, a nudge after 30 s and every 5 minutes while it lasts,
corrected when it ends), absences (20 s to 20 minutes: an away period) and uncertain
moments; a 15-minute pause each morning, a snooze now and then, break reminders, and one
crashed session (never ended).

Then times `posture report --days 90` (text, and --format json) end to end in this
process through the click command (history opened, rows loaded, figures computed,
rendered), the best and the median of `--repeat` runs, and once more as a new process
(`python -m posture report --days 90`: the wall time a user waits, interpreter start and
imports included). Target: <= 1 s in process.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

import numpy as np
from machine import describe  # scripts/machine.py: the script's folder is on sys.path

from posture.adapters.storage.history import FEATURE_COLUMNS, History

TARGET_S = 1.0
STEP_MS = 2000
SESSIONS = ((9, 13), (14, 18))  # local hours

_SAMPLE_SQL = (
    "INSERT INTO samples (session_id, t_ms, verdict, score, state, problems, "
    f"{', '.join(FEATURE_COLUMNS)}) VALUES ({', '.join('?' * (6 + len(FEATURE_COLUMNS)))})"
)
_SLOUCH_PROBLEMS = ("slouch", "slouch", "slouch", "slouch too_close", "leaning", "head_tilt")


def _ms(day: date, hour: int, tz: tzinfo) -> int:
    return round(datetime(day.year, day.month, day.day, hour, tzinfo=tz).timestamp() * 1000)


class Builder:
    """Rows of one history, accumulated in lists and written with executemany."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.sessions: list[tuple[int, int, int | None]] = []
        self.samples: list[tuple[object, ...]] = []
        self.episodes: list[tuple[int, int, int, str, float]] = []
        self.nudges: list[tuple[int, int, str, str, str, int | None]] = []
        self.periods: list[tuple[int, str, int, int]] = []

    def segments(self, seconds: float) -> list[tuple[str, float]]:
        """(kind, seconds) covering a session: upright stretches and what interrupts them."""
        rng = self.rng
        out: list[tuple[str, float]] = []
        total = 0.0
        while total < seconds:
            upright = max(20.0, float(rng.exponential(480.0)))
            kind = str(
                rng.choice(["glance", "slouch", "away", "uncertain"], p=[0.45, 0.25, 0.15, 0.15])
            )
            length = {
                "glance": float(rng.uniform(4, 20)),
                "slouch": float(rng.uniform(60, 600)),
                "away": float(min(1200.0, 20 + rng.exponential(240.0))),
                "uncertain": float(rng.uniform(2, 10)),
            }[kind]
            out += [("upright", upright), (kind, length)]
            total += upright + length
        return out

    def session(self, sid: int, start: int, end: int, *, crashed: bool, pause: bool) -> None:
        rng = self.rng
        self.sessions.append((sid, start, None if crashed else end))
        t = np.arange(start, end, STEP_MS, dtype=np.int64)
        kind = np.empty(len(t), dtype=object)
        problems = np.full(len(t), None, dtype=object)
        at = start
        for name, seconds in self.segments((end - start) / 1000):
            stop = min(end, at + round(seconds * 1000))
            inside = (t >= at) & (t < stop)
            kind[inside] = name
            if name == "glance":
                problems[inside] = "slouch"
            elif name == "slouch":
                problems[inside] = _SLOUCH_PROBLEMS[int(rng.integers(len(_SLOUCH_PROBLEMS)))]
                if stop - at >= 45_000:
                    self.slouch(sid, at, stop, str(problems[inside][0]).split()[0])
            elif name == "away" and stop > at:
                self.periods.append((sid, "away", at, stop))
            at = stop
            if at >= end:
                break
        keep = np.ones(len(t), dtype=bool)
        if pause:  # 11:00-11:15 on the morning clock: no samples
            p0 = start + 2 * 3_600_000
            p1 = p0 + 15 * 60_000
            keep = (t < p0) | (t >= p1)
            self.periods.append((sid, "pause", p0, p1))
        if rng.random() < 0.2:
            s0 = start + int(rng.integers(0, end - start - 900_000))
            self.periods.append((sid, "snooze", s0, s0 + 900_000))
        for minutes in (50, 105, 160, 215):
            if start + minutes * 60_000 < end:
                self.nudges.append(
                    (sid, start + minutes * 60_000, "break", "Time for a break", "log", None)
                )
        verdict = np.select(
            [kind == "upright", (kind == "glance") | (kind == "slouch"), kind == "away"],
            ["good", "bad", "away"],
            "uncertain",
        )
        state = np.select(
            [kind == "upright", kind == "glance", kind == "slouch", kind == "away"],
            ["upright", "deviating", "slouching", "away"],
            "uncertain",
        )
        n = len(t)
        score = np.where(
            verdict == "good", rng.uniform(0.1, 0.9, n), rng.uniform(1.0, 2.5, n)
        ).round(4)
        present = (verdict == "good") | (verdict == "bad")
        features = rng.normal(0.5, 0.1, (n, len(FEATURE_COLUMNS))).round(5)
        for i in np.flatnonzero(keep).tolist():
            self.samples.append(
                (
                    sid,
                    int(t[i]),
                    str(verdict[i]),
                    float(score[i]) if present[i] else None,
                    str(state[i]),
                    problems[i] if verdict[i] == "bad" else None,
                    *(features[i].tolist() if present[i] else [None] * len(FEATURE_COLUMNS)),
                )
            )

    def slouch(self, sid: int, start: int, stop: int, kind: str) -> None:
        self.episodes.append((sid, start, stop, kind, float(self.rng.uniform(1.2, 2.5))))
        sent = start + 30_000
        while sent < stop:
            corrected = stop - sent if stop - sent <= 300_000 else None
            message = "Posture check: slouching"
            self.nudges.append((sid, sent, kind, message, "notify-send", corrected))
            sent += 300_000

    def write(self, path: Path) -> None:
        History(path).close()  # the real schema, migrations recorded
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO sessions (id, started_ms, ended_ms, profile, source, settings_json)"
                " VALUES (?, ?, ?, 'default', 'camera:0', '{}')",
                self.sessions,
            )
            conn.executemany(_SAMPLE_SQL, self.samples)
            conn.executemany(
                "INSERT INTO episodes (session_id, start_ms, end_ms, kind, peak)"
                " VALUES (?, ?, ?, ?, ?)",
                self.episodes,
            )
            conn.executemany(
                "INSERT INTO nudges (session_id, t_ms, kind, message, backend,"
                " corrected_after_ms) VALUES (?, ?, ?, ?, ?, ?)",
                self.nudges,
            )
            conn.executemany(
                "INSERT INTO periods (session_id, kind, start_ms, end_ms) VALUES (?, ?, ?, ?)",
                self.periods,
            )
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()


def build_history(path: Path, days: int, tz: tzinfo, *, seed: int = 90) -> int:
    """A history of `days` days ending today at `path`; returns the number of samples."""
    builder = Builder(seed)
    today = datetime.now(tz).date()
    sid = 0
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        for j, (h0, h1) in enumerate(SESSIONS):
            sid += 1
            builder.session(
                sid,
                _ms(day, h0, tz),
                _ms(day, h1, tz),
                crashed=back == days // 2 and j == 1,
                pause=j == 0,
            )
    builder.write(path)
    return len(builder.samples)


def in_process(args: list[str]) -> tuple[float, str]:
    """One `posture ARGS` through the click command in this process: (seconds, stdout)."""
    from posture.cli.main import cli

    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        try:
            cli(args, prog_name="posture", standalone_mode=False)
        except SystemExit as stop:  # pragma: no cover - the command exits 0 normally
            if stop.code:
                raise
    return time.perf_counter() - start, out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="build the history here")
    options = parser.parse_args()

    from posture.app.report.period import local_zone

    tz_name, tz = local_zone()
    with tempfile.TemporaryDirectory(prefix="posture-bench-report-") as tmp:
        home = options.keep or Path(tmp)
        os.environ["POSTURE_HOME"] = str(home)
        db = home / "data" / "history.sqlite3"
        if db.exists():
            raise SystemExit(f"{db} exists: give --keep an empty folder")
        start = time.perf_counter()
        count = build_history(db, options.days, tz)
        built = time.perf_counter() - start
        size = db.stat().st_size / 1e6
        with sqlite3.connect(db) as conn:
            counts = {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("sessions", "episodes", "nudges", "periods")
            }

        period = ["report", "--days", str(options.days)]
        runs = {"text": period, "json": [*period, "--format", "json"]}
        timings: dict[str, list[float]] = {}
        outputs: dict[str, str] = {}
        for name, args in runs.items():
            timings[name] = []
            for _ in range(options.repeat):
                seconds, outputs[name] = in_process(args)
                timings[name].append(seconds)
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "posture", *period],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        wall = time.perf_counter() - start
        with_imports = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, time; t = time.perf_counter();"
                " import posture.app.report.commands, posture.cli.main;"
                " print(time.perf_counter() - t)",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )

    print(describe())
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"SQLite {sqlite3.sqlite_version}; time zone {tz_name}"
    )
    print(
        f"history: {options.days} days, {count:,} samples, "
        + ", ".join(f"{n:,} {t}" for t, n in counts.items())
        + f"; {size:.0f} MB; built in {built:.1f} s"
    )
    for name, values in timings.items():
        print(
            f"`posture {' '.join(runs[name])}` in process: best {min(values):.3f} s, "
            f"median {statistics.median(values):.3f} s of {len(values)}"
        )
    print(
        "importing posture.app.report.commands and the CLI, new process: "
        f"{float(with_imports.stdout):.3f} s"
    )
    print(f"`python -m posture {' '.join(period)}`, new process: {wall:.3f} s wall")
    best = min(timings["text"])
    print(f"target <= {TARGET_S:.1f} s in process: {'met' if best <= TARGET_S else 'MISSED'}")
    print()
    print(proc.stdout.rstrip())


if __name__ == "__main__":
    main()
