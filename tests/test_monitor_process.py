"""The monitor as a user runs it: real `posture run` / `posture start` processes over a
recording, the real model, a real SQLite file, real signals, a real notification daemon.

The recording is the demo's clip (a public-domain portrait whose head sinks for 75 s);
the profile is calibrated through `posture calibrate` on upright stills of it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from posture.adapters.video.sources import open_source
from posture.app import demo
from posture.app.compose import MediaPipeModel
from posture.samples import GRACE_HOPPER
from tests.conftest import foreign_lines, run_posture
from tests.desktop import desktop_session, dunst_history


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clip")
    shoulder = demo.shoulder_line(GRACE_HOPPER, open_source=open_source, pose=MediaPipeModel())
    clip = demo.build_clip(folder, GRACE_HOPPER, shoulder)
    stills = demo.upright_stills(folder, GRACE_HOPPER)
    return {
        "clip": clip,
        "stills": folder,
        "shoulder": Path(str(shoulder)),
        **{f"s{i}": p for i, p in enumerate(stills)},
    }


def calibrated_home(tmp_path: Path, material: dict[str, Path], config: str = "") -> dict[str, str]:
    home = tmp_path / "home"
    env = {"POSTURE_HOME": str(home)}
    args = ["calibrate"]
    for i in range(3):
        args += ["--source", str(material[f"s{i}"])]
    result = run_posture(*args, env=env)
    assert result.returncode == 0, result.stderr
    if config:
        (home / "config").mkdir(parents=True, exist_ok=True)
        (home / "config" / "config.toml").write_text(config)
    return env


def db_rows(home: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "data" / "history.sqlite3") as conn:
        return conn.execute(sql).fetchall()


def test_run_over_a_recording_nudges_once_and_records_everything(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    env = calibrated_home(tmp_path, material)
    home = Path(env["POSTURE_HOME"])
    result = run_posture("run", "--source", str(material["clip"]), "--speed", "0", env=env)
    assert result.returncode == 0, result.stderr
    assert "1 slouch episode(s); 1 nudge(s) (1 slouch)" in result.stdout
    assert "nudge (slouch)" in result.stderr
    assert foreign_lines(result.stderr) == []  # no native log line, no warning
    (ended,) = db_rows(home, "select ended_ms from sessions")[0]
    assert ended is not None
    (samples,) = db_rows(home, "select count(*) from samples")[0]
    assert 60 <= samples <= 160  # 151 s at one look every 1-2 s
    assert db_rows(home, "select count(*) from samples where verdict = 'bad'")[0][0] > 10
    ((start, end),) = db_rows(home, "select start_ms, end_ms from episodes")
    ((sent, corrected, backend),) = db_rows(
        home, "select t_ms, corrected_after_ms, backend from nudges"
    )
    started = db_rows(home, "select started_ms from sessions")[0][0]
    assert 40_000 <= start - started <= 50_000  # the clip sinks at 40-43 s
    assert 30_000 <= sent - start <= 33_000  # slouch_after (30 s) + at most a look
    assert corrected is not None and 0 < corrected <= end - sent + 1000
    assert backend in ("notify-send", "log", "plyer")
    # private files
    for path in (home / "data" / "history.sqlite3", home / "log" / "posture.log"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (home, home / "data", home / "log", home / "run"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    columns = {r[1] for r in db_rows(home, "pragma table_info(samples)")}
    assert not any("image" in c or "frame" in c for c in columns)


def test_without_any_notification_service_the_run_completes_and_logs(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    env = calibrated_home(tmp_path, material)
    bare = tmp_path / "bin"
    bare.mkdir()
    env.update({"PATH": str(bare), "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'nobus'}"})
    env.pop("DISPLAY", None)
    result = run_posture("run", "--source", str(material["clip"]), "--speed", "0", env=env)
    assert result.returncode == 0, result.stderr
    log = (Path(env["POSTURE_HOME"]) / "log" / "posture.log").read_text()
    assert "using log meanwhile" in log
    assert "notification: Posture check: Slouching" in log
    assert log.count("failed (") <= 2  # each fallback said once


def test_the_nudge_reaches_a_real_notification_daemon(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    env = calibrated_home(tmp_path, material)
    with desktop_session() as desktop:
        env.update(desktop.variables)
        result = run_posture("run", "--source", str(material["clip"]), "--speed", "0", env=env)
        assert result.returncode == 0, result.stderr
        shown = dunst_history(desktop.env)
    posture = [n for n in shown if n.get("appname") == "posture"]
    assert len(posture) == 1, shown
    assert posture[0]["summary"] == "Posture check"
    assert posture[0]["body"].startswith("Slouching / head forward for 30 seconds.")
    test = run_posture("notify-test", env=env)
    assert test.returncode == 1 or "notification sent via" in test.stdout


@pytest.fixture
def started(tmp_path: Path, material: dict[str, Path]) -> Iterator[dict[str, str]]:
    env = calibrated_home(tmp_path, material)
    result = run_posture("start", "--source", str(material["clip"]), "--speed", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("posture monitor started (pid ")
    try:
        yield env
    finally:
        run_posture("stop", env=env)


def status(env: dict[str, str]) -> dict[str, object]:
    result = run_posture("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    reply: dict[str, object] = json.loads(result.stdout)
    return reply


def test_a_started_monitor_is_driven_by_the_control_commands(started: dict[str, str]) -> None:
    env = started
    first = status(env)
    assert first["profile"] == "default" and first["camera"] in ("ok", "starting")
    pid = first["pid"]
    human = run_posture("status", env=env)
    assert human.returncode == 0 and f"running (pid {pid})" in human.stdout

    again = run_posture("start", env=env)
    assert again.returncode == 1
    assert again.stderr == (
        f"posture: error: a posture monitor is already running (pid {pid}): "
        "`posture status` shows it, `posture stop` ends it\n"
    )

    paused = run_posture("pause", "--for", "30m", env=env)
    assert paused.returncode == 0 and paused.stdout.startswith("paused until ")
    deadline = time.monotonic() + 10
    while status(env)["camera"] != "released (paused)" and time.monotonic() < deadline:
        time.sleep(0.1)
    now = status(env)
    assert now["state"] == "paused" and now["camera"] == "released (paused)"
    assert now["paused_until"]

    assert run_posture("resume", env=env).stdout == "resumed\n"
    deadline = time.monotonic() + 10
    while status(env)["state"] == "paused" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status(env)["state"] != "paused"

    snoozed = run_posture("snooze", "15m", env=env)
    assert snoozed.returncode == 0 and snoozed.stdout.startswith("no nudges until ")
    assert status(env)["snoozed_until"]

    bad = run_posture("pause", "--for", "soon", env=env)
    assert bad.returncode == 2 and "is not a duration" in bad.stderr

    stopped = run_posture("stop", env=env)
    assert stopped.returncode == 0 and stopped.stdout == f"posture monitor stopped (pid {pid})\n"
    home = Path(env["POSTURE_HOME"])
    (ended,) = db_rows(home, "select ended_ms from sessions")[0]
    assert ended is not None  # flushed and closed before exiting
    kinds = {r[0] for r in db_rows(home, "select kind from periods")}
    assert "pause" in kinds
    for command in ("status", "pause", "resume", "stop"):
        gone = run_posture(command, env=env)
        assert gone.returncode == 3
        assert (
            gone.stderr
            == "posture: error: no posture monitor is running: start one with `posture start`\n"
        )


def _spawn_run(env: dict[str, str], clip: Path, speed: str) -> subprocess.Popen[str]:
    full = dict(os.environ, **env)
    return subprocess.Popen(
        [sys.executable, "-m", "posture", "run", "--source", str(clip), "--speed", speed],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_samples(home: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    db = home / "data" / "history.sqlite3"
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    if conn.execute("select count(*) from samples").fetchone()[0] >= count:
                        return
            except sqlite3.Error:
                pass
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} samples after {timeout} s")


def test_sigterm_flushes_and_exits_cleanly(tmp_path: Path, material: dict[str, Path]) -> None:
    env = calibrated_home(tmp_path, material)
    home = Path(env["POSTURE_HOME"])
    proc = _spawn_run(env, material["clip"], "3")
    _wait_for_samples(home, 5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "session:" in out
    (ended,) = db_rows(home, "select ended_ms from sessions")[0]
    assert ended is not None
    last = db_rows(home, "select max(t_ms) from samples")[0][0]
    assert isinstance(last, int) and ended - last <= 3_000  # nothing buffered was lost


def test_sigkill_mid_write_loses_at_most_ten_seconds(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    env = calibrated_home(tmp_path, material)
    home = Path(env["POSTURE_HOME"])
    proc = _spawn_run(env, material["clip"], "5")
    _wait_for_samples(home, 10)
    seen = status(env)
    proc.kill()
    proc.communicate(timeout=30)
    with sqlite3.connect(home / "data" / "history.sqlite3") as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        started, ended = conn.execute("select started_ms, ended_ms from sessions").fetchone()
        last = conn.execute("select max(t_ms) from samples").fetchone()[0]
    assert ended is None  # it never got to say goodbye
    recorded = (last - started) / 1000
    seen_at_kill = float(seen["seen_seconds"])  # type: ignore[arg-type]
    assert recorded >= seen_at_kill - 10 - 2  # at most flush_every (10 s) lost, plus a look


def test_a_corrupt_config_stops_start_with_one_line(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    env = calibrated_home(tmp_path, material, config="[monitor]\ncooldown = 5\n")
    for command in (["start"], ["run", "--source", str(material["clip"])]):
        result = run_posture(*command, env=env)
        assert result.returncode == 2
        assert (
            "monitor.cooldown = 5.0 is out of range (30.0 to 86400.0): fix or remove it"
            in result.stderr
        )
        assert result.stderr.count("\n") == 1


def test_faults_in_the_picture(tmp_path: Path, material: dict[str, Path]) -> None:
    """Black frames (a closed shutter), an empty chair, and a second person: the run goes
    on, the history says what happened, and the passer-by changes nothing."""
    portrait = cv2.imread(str(GRACE_HOPPER))
    height, width = portrait.shape[:2]
    small = cv2.resize(portrait, (width // 3, height // 3))
    with_visitor = portrait.copy()
    with_visitor[10 : 10 + small.shape[0], 5 : 5 + small.shape[1]] = small
    room = np.full_like(portrait, 140)
    cv2.rectangle(room, (60, 300), (420, 600), (40, 60, 90), -1)
    frames = (
        [portrait] * 20
        + [np.zeros_like(portrait)] * 16
        + [room] * 16
        + [with_visitor] * 20
        + [portrait] * 6
    )
    seq = tmp_path / "faults"
    seq.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(seq / f"{i:03d}.png"), frame)
    env = calibrated_home(tmp_path, material)
    home = Path(env["POSTURE_HOME"])
    result = run_posture("run", "--source", str(seq), "--speed", "0", "--interval", "2", env=env)
    assert result.returncode == 0, result.stderr
    assert "blank picture (privacy shutter closed?)" in result.stderr
    periods = db_rows(home, "select kind, start_ms, end_ms from periods order by start_ms")
    kinds = [p[0] for p in periods]
    assert "camera_fault" in kinds and "away" in kinds
    started = db_rows(home, "select started_ms from sessions")[0][0]
    away = next(p for p in periods if p[0] == "away")
    # The chair is empty from 72 s; the shutter's back-off (2, 4, 8, 16, 32 s from 40 s)
    # means the next look comes at 102 s at the latest.
    fault = next(p for p in periods if p[0] == "camera_fault")
    assert 40_000 <= fault[1] - started <= 42_000
    assert 72_000 <= away[1] - started <= 104_000
    assert fault[2] is not None and fault[2] <= away[1]
    verdicts = db_rows(
        home,
        f"select verdict from samples where t_ms >= {started} + 106000 "
        f"and t_ms < {started} + 140000",
    )
    assert verdicts and all(
        v[0] == "good" for v in verdicts
    )  # with the visitor: still her, upright


@pytest.mark.parametrize("planted", ["run/monitor.lock", "log/posture.log", "data/history.sqlite3"])
def test_a_planted_link_is_refused_and_its_target_untouched(
    tmp_path: Path, material: dict[str, Path], planted: str
) -> None:
    """A symbolic link where posture keeps its own file (another user's trap: the target
    would be truncated, chmod-ed, appended to or made a database): one line, exit non-zero,
    the target exactly as it was. A dangling link is refused too."""
    env = calibrated_home(tmp_path, material)
    home = Path(env["POSTURE_HOME"])
    target = tmp_path / "victim.txt"
    target.write_text("the user's own file\n")
    target.chmod(0o644)
    link = home / planted
    link.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    link.symlink_to(target)
    result = run_posture("run", "--source", str(material["clip"]), "--speed", "0", env=env)
    assert result.returncode != 0
    assert f"posture: error: {link} is a symbolic link" in result.stderr
    assert "Traceback" not in result.stderr
    assert target.read_text() == "the user's own file\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    dangling = tmp_path / "nowhere.db"
    link.unlink()
    link.symlink_to(dangling)
    again = run_posture("run", "--source", str(material["clip"]), "--speed", "0", env=env)
    assert again.returncode != 0 and "is a symbolic link" in again.stderr
    assert not dangling.exists()


def test_the_run_needs_no_network(tmp_path: Path, material: dict[str, Path]) -> None:
    env = calibrated_home(tmp_path, material)
    guard = (
        "import socket, sys\n"
        "_real = socket.socket\n"
        "class Guarded(_real):\n"
        "    def __init__(self, family=-1, *args, **kwargs):\n"
        "        if family != socket.AF_UNIX:\n"
        "            raise PermissionError(f'posture tried to open a socket of family {family}')\n"
        "        super().__init__(family, *args, **kwargs)\n"
        "socket.socket = Guarded\n"
        "sys.argv = ['posture', 'run', '--source', sys.argv[1], '--speed', '0']\n"
        "from posture.cli.main import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", guard, str(material["clip"])],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "tried to open a socket" not in result.stderr
    assert "1 slouch episode(s)" in result.stdout


def test_the_demo_shows_nudge_and_report_and_touches_nothing_of_the_users(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with desktop_session() as desktop:
        env = {"POSTURE_HOME": str(home), "TMPDIR": str(scratch), **desktop.variables}
        result = run_posture("demo", "--speed", "0", env=env)
        shown = dunst_history(desktop.env)
    assert result.returncode == 0, result.stderr
    assert "1 slouch episode(s)" in result.stdout and "1 nudge(s) (1 slouch)" in result.stdout
    assert "nudge (slouch)" in result.stderr
    assert foreign_lines(result.stderr) == []
    # the nudge went through the real chain to the desktop's notification daemon
    nudges = [n for n in shown if n.get("appname") == "posture"]
    assert [n["summary"] for n in nudges] == ["Posture check"], shown
    # the terminal report of the demo session, read back from its own history
    assert "Session 1" in result.stdout
    assert "episodes      1:" in result.stdout
    assert "nudges        1, 1 followed by a correction" in result.stdout
    # the HTML report: a new private file in the temporary folder, named, with how to open it
    (html,) = scratch.glob("posture-demo-report-*.html")
    assert f"The HTML report of this session: {html}" in result.stdout
    assert f"xdg-open {html}" in result.stdout
    assert stat.S_IMODE(html.stat().st_mode) == 0o600
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert not home.exists()
    assert sorted(p.name for p in scratch.iterdir()) == [html.name]  # nothing else left


def test_the_demo_leaves_nothing_in_the_users_own_folders(tmp_path: Path) -> None:
    """With the user's real folders (no POSTURE_HOME), the demo writes none of them: its
    home is handed down, not set in the environment."""
    home = tmp_path / "user"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmp_path))
    for name in ("POSTURE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        env.pop(name, None)
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "runtime")
    (tmp_path / "runtime").mkdir(mode=0o700)
    result = subprocess.run(
        [sys.executable, "-m", "posture", "demo", "--speed", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    touched = [
        p for p in (*home.rglob("*"), *(tmp_path / "runtime").rglob("*")) if "posture" in p.name
    ]
    assert touched == []


def test_the_demo_writes_its_report_where_told(tmp_path: Path) -> None:
    target = tmp_path / "demo.html"
    result = run_posture(
        "demo", "--speed", "0", "-o", str(target), env={"POSTURE_HOME": str(tmp_path / "h")}
    )
    assert result.returncode == 0, result.stderr
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert f"The HTML report of this session: {target}" in result.stdout


def test_history_prune_from_the_command_line(tmp_path: Path, material: dict[str, Path]) -> None:
    env = calibrated_home(tmp_path, material)
    assert run_posture("history", "prune", env=env).stdout == "no history yet: nothing to prune\n"
    run = run_posture("run", "--source", str(material["clip"]), "--speed", "0", env=env)
    assert run.returncode == 0, run.stderr
    kept = run_posture("history", "prune", env=env)
    assert kept.returncode == 0 and "removed nothing" in kept.stdout
    home = Path(env["POSTURE_HOME"])
    old = db_rows(home, "select count(*) from samples")[0][0]
    with sqlite3.connect(home / "data" / "history.sqlite3") as conn:
        conn.execute("update samples set t_ms = t_ms - 400 * 86400000")
        conn.execute(
            "update sessions set started_ms = started_ms - 400 * 86400000, "
            "ended_ms = ended_ms - 400 * 86400000"
        )
    pruned = run_posture("history", "prune", "--older-than", "365", env=env)
    assert pruned.returncode == 0 and f"{old} samples" in pruned.stdout
    assert db_rows(home, "select count(*) from samples")[0][0] == 0


def test_autostart_with_a_temporary_home(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    assert "disabled" in run_posture("autostart", "status", env=env).stdout
    enabled = run_posture("autostart", "enable", env=env)
    assert enabled.returncode == 0, enabled.stderr
    entry = tmp_path / "cfg" / "autostart" / "posture.desktop"
    assert entry.exists() and "-m posture start" in entry.read_text()
    assert "enabled" in run_posture("autostart", "status", env=env).stdout
    assert run_posture("autostart", "disable", env=env).stdout == f"removed {entry}\n"
    assert not entry.exists()
