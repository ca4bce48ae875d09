"""Calibration: the quality gates on hand-made and real inputs, and the whole flow through
the CLI on real photographs, as a user runs it."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import cv2
import numpy as np
import pytest

from posture.core import features
from posture.core.calibration import (
    CalibrationError,
    FrameStats,
    check_frames,
    frame_brightness,
    view_of,
)
from tests.conftest import run_posture

ASPECT = 4 / 3


def landmarks(
    head_y: float = 0.30, x: float = 0.5, scale: float = 1.0, vis: float = 0.99
) -> np.ndarray:
    """A front-view pose: shoulders at y 0.7, head above; one (33, 4) array."""
    pts = np.zeros((33, 4))
    pts[:, 3] = vis
    half = 0.18 * scale / ASPECT
    pts[features.LEFT_SHOULDER, :2] = (x + half, 0.7)
    pts[features.RIGHT_SHOULDER, :2] = (x - half, 0.7)
    pts[features.NOSE, :2] = (x, 0.7 - (0.7 - head_y) * scale)
    pts[features.LEFT_EAR, :2] = (x + half * 0.4, 0.7 - (0.7 - head_y - 0.02) * scale)
    pts[features.RIGHT_EAR, :2] = (x - half * 0.4, 0.7 - (0.7 - head_y - 0.02) * scale)
    return pts


def frame(*poses: np.ndarray, mean: float = 120.0, std: float = 40.0) -> FrameStats:
    stack = np.stack(poses) if poses else np.empty((0, 33, 4))
    return FrameStats(mean, std, stack, ASPECT)


def test_good_frames_pass_and_give_the_users_landmarks() -> None:
    marks, aspects = check_frames([frame(landmarks()) for _ in range(10)])
    assert marks.shape == (10, 33, 4)
    assert aspects.tolist() == [ASPECT] * 10
    assert view_of(marks, aspects) == "front"


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([], "got no frames"),
        ([frame(landmarks(), std=1.0)] * 10, "blank picture"),
        ([frame(landmarks(), mean=20.0)] * 10, "too dark"),
        ([frame(landmarks())] * 8 + [frame()] * 2, None),  # 80% found... below 90%
        ([frame(landmarks(), landmarks(x=0.25, scale=0.9))] * 10, "more than one person"),
        ([frame(landmarks(vis=0.3))] * 10, "your nose is not visible in 100% of the frames"),
    ],
)
def test_each_gate_refuses(frames: list[FrameStats], message: str | None) -> None:
    with pytest.raises(CalibrationError) as info:
        check_frames(frames)
    expected = message or "a person was found in only 8 of 10 frames"
    assert expected in str(info.value)


def test_a_small_person_behind_the_user_is_tolerated() -> None:
    frames = [frame(landmarks(), landmarks(x=0.15, scale=0.4)) for _ in range(10)]
    marks, _ = check_frames(frames)
    assert np.allclose(marks[:, features.NOSE, 0], 0.5)  # the user, not the one behind


def test_brightness_of_a_frame() -> None:
    black = np.zeros((48, 64, 3), np.uint8)
    assert frame_brightness(black) == (0.0, 0.0)
    stripes = np.zeros((48, 64, 3), np.uint8)
    stripes[::2] = 200
    mean, std = frame_brightness(stripes)
    assert mean == pytest.approx(200.0)  # every 8th row is a bright one
    checker = np.zeros((64, 64, 3), np.uint8)
    checker[::16] = 255
    mean, std = frame_brightness(checker)
    assert 0 < mean < 255 and std > 50


# --- the real thing ----------------------------------------------------------------------


def profile_file(home: Path, name: str = "default") -> Path:
    return home / "data" / "profiles" / f"{name}.json"


def calibrate(home: Path, *sources: str, name: str = "default") -> tuple[int, str, str]:
    args = ["calibrate", "--profile", name]
    for source in sources:
        args += ["--source", source]
    result = run_posture(*args, env={"POSTURE_HOME": str(home)})
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory, grace_hopper: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gates")
    g = cv2.imread(str(grace_hopper))
    made = {
        "black": np.zeros((480, 640, 3), np.uint8),
        "dark": (g * 0.08).astype(np.uint8),
        "cut_off": g[:330],  # the shoulders are below the picture's edge
        "two": np.hstack([g, g]),
    }
    room = np.full((480, 640, 3), (180, 190, 200), np.uint8)
    cv2.rectangle(room, (50, 200), (300, 470), (60, 80, 120), -1)
    cv2.rectangle(room, (400, 50), (600, 250), (230, 230, 240), -1)
    made["room"] = room
    paths = {}
    for name, image in made.items():
        paths[name] = folder / f"{name}.png"
        cv2.imwrite(str(paths[name]), image)
    return paths


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("black", "the camera shows a blank picture (privacy shutter closed or lens covered?)"),
        ("dark", "the picture is too dark to see you reliably"),
        ("room", "a person was found in only 0 of 1 frames"),
        ("cut_off", "shoulder is not visible in 100% of the frames"),
        ("two", "more than one person is in view"),
    ],
)
def test_real_inputs_refused_and_nothing_saved(
    tmp_path: Path, bad_inputs: dict[str, Path], grace_hopper: Path, case: str, message: str
) -> None:
    home = tmp_path / "home"
    code, _, err = calibrate(home, str(grace_hopper))
    assert code == 0, err
    before = profile_file(home).read_bytes()
    code, _, err = calibrate(home, str(bad_inputs[case]))
    assert code == 2
    assert err.startswith("posture: error: ") and message in err
    assert err.count("\n") == 1
    assert profile_file(home).read_bytes() == before  # the good profile is untouched
    assert not (home / "data" / "profiles" / "history").exists()


def test_movement_during_calibration_is_refused(tmp_path: Path, data_dir: Path) -> None:
    # upright and slouched frames mixed: the head height wanders far more than sitting still
    code, _, err = calibrate(tmp_path, str(data_dir / "webcam-front"))
    assert code == 2
    assert "you moved during calibration" in err
    assert not profile_file(tmp_path).exists()


def judged(stdout: str) -> list[dict[str, object]]:
    return [r for r in map(json.loads, stdout.splitlines()) if r["type"] == "frame"]


def test_front_webcam_upright_vs_slouch_balanced_accuracy(tmp_path: Path, data_dir: Path) -> None:
    """Calibrate on the first three upright photographs, judge the other 26."""
    upright = sorted((data_dir / "webcam-front" / "upright").glob("*.jpg"), key=lambda p: p.name)
    slouch = sorted((data_dir / "webcam-front" / "slouch").glob("*.jpg"))
    code, out, err = calibrate(tmp_path, *map(str, upright[:3]))
    assert code == 0, err
    assert "Calibrated profile 'default' from 3 frames (front view" in out
    rest = [*upright[3:], *slouch]
    result = run_posture(
        "analyze",
        *map(str, rest),
        "--profile",
        "default",
        "--format",
        "jsonl",
        env={"POSTURE_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    rows = judged(result.stdout)
    assert len(rows) == 26
    verdicts = {
        Path(str(r["source"])).parent.name + "/" + Path(str(r["source"])).name: r["verdict"]
        for r in rows
    }
    up_ok = [v == "good" for k, v in verdicts.items() if k.startswith("upright/")]
    sl_ok = [v == "bad" for k, v in verdicts.items() if k.startswith("slouch/")]
    assert len(up_ok) == 12 and len(sl_ok) == 14
    balanced = (statistics.mean(up_ok) + statistics.mean(sl_ok)) / 2
    assert balanced >= 0.95, verdicts
    for r in rows:
        if r["verdict"] == "bad":
            assert "slouch" in r["problems"]  # type: ignore[operator]


def test_side_view_tells_hunchback_from_straight(tmp_path: Path, data_dir: Path) -> None:
    side = data_dir / "side-view"
    straight = sorted(str(p) for p in side.glob("straight*.jpg"))
    code, out, err = calibrate(tmp_path, *straight, name="side")
    assert code == 0, err
    assert "(side view" in out
    hunch = sorted(str(p) for p in side.glob("hunchback*.jpg"))
    result = run_posture(
        "analyze",
        *straight,
        *hunch,
        "--profile",
        "side",
        "--format",
        "jsonl",
        env={"POSTURE_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    rows = judged(result.stdout)
    verdict = {Path(str(r["source"])).name: r["verdict"] for r in rows}
    assert all(verdict[Path(p).name] == "good" for p in straight), verdict
    assert all(verdict[Path(p).name] == "bad" for p in hunch), verdict
    assert all(set(r["problems"]) == {"neck"} for r in rows)  # type: ignore[arg-type]


def test_show_and_errors_through_the_cli(tmp_path: Path, grace_hopper: Path) -> None:
    env = {"POSTURE_HOME": str(tmp_path)}
    missing = run_posture("calibrate", "--show", env=env)
    assert missing.returncode == 2
    assert (
        missing.stderr
        == "posture: error: no calibration found for profile 'default': run `posture calibrate`\n"
    )
    no_profile = run_posture("analyze", str(grace_hopper), "--profile", "default", env=env)
    assert no_profile.returncode == 2 and "no calibration found" in no_profile.stderr

    code, _, err = calibrate(tmp_path, str(grace_hopper))
    assert code == 0, err
    shown = run_posture("calibrate", "--show", env=env)
    assert shown.returncode == 0
    assert "view         front" in shown.stdout
    assert "head_height" in shown.stdout and "±" in shown.stdout

    path = profile_file(tmp_path)
    raw = json.loads(path.read_text())
    raw["model_sha256"] = "0" * 64
    path.write_text(json.dumps(raw))
    other_model = run_posture("analyze", str(grace_hopper), "--profile", "default", env=env)
    assert other_model.returncode == 0
    assert (
        "posture: warning: profile 'default' was calibrated with another pose model"
        in other_model.stderr
    )

    path.write_text("{ damaged")
    damaged = run_posture("analyze", str(grace_hopper), "--profile", "default", env=env)
    assert damaged.returncode == 2
    assert damaged.stderr.startswith(f"posture: error: profile {path} is damaged")
    assert damaged.stderr.count("\n") == 1
    assert path.read_text() == "{ damaged"

    bad_name = run_posture("calibrate", "--profile", "../x", "--source", str(grace_hopper), env=env)
    assert bad_name.returncode == 2 and "is not usable" in bad_name.stderr


def test_a_sequence_that_slouches_gives_one_episode(tmp_path: Path, data_dir: Path) -> None:
    """Upright, slouched, upright again, 5 s apart: one slouch episode, in the right place;
    with `slouch_after` longer than the slouch, none."""
    front = data_dir / "webcam-front"
    upright = sorted((front / "upright").glob("*.jpg"))
    slouch = sorted((front / "slouch").glob("*.jpg"))
    home = tmp_path / "home"
    assert calibrate(home, *map(str, upright[:3]))[0] == 0
    seq = tmp_path / "seq"
    seq.mkdir()
    for i, photo in enumerate([*upright, *slouch, *upright]):
        (seq / f"{i:03d}.jpg").symlink_to(photo)
    env = {"POSTURE_HOME": str(home)}
    args = ["analyze", str(seq), "--profile", "default", "--interval", "5", "--format", "jsonl"]
    result = run_posture(*args, env=env)
    assert result.returncode == 0, result.stderr
    episodes = [r for r in map(json.loads, result.stdout.splitlines()) if r["type"] == "episode"]
    assert len(episodes) == 1
    (episode,) = episodes
    assert episode["kind"] == "slouch"
    first_bad, back = 5.0 * len(upright), 5.0 * (len(upright) + len(slouch))
    assert first_bad <= episode["start"] <= first_bad + 5.0
    assert back <= episode["end"] <= back + 5.0

    table = run_posture(*args[:-2], env=env)
    assert "episodes: 1" in table.stdout
    assert "slouch from 1:" in table.stdout

    (home / "config").mkdir()
    (home / "config" / "config.toml").write_text("[judgment]\nslouch_after = 120\n")
    patient = run_posture(*args, env=env)
    assert patient.returncode == 0, patient.stderr
    assert '"type": "episode"' not in patient.stdout


def test_sitting_far_from_the_calibrated_place_flags_a_stale_calibration(
    tmp_path: Path, grace_hopper: Path
) -> None:
    home = tmp_path / "home"
    assert calibrate(home, str(grace_hopper))[0] == 0
    image = cv2.imread(str(grace_hopper))
    height, width = image.shape[:2]
    shift = np.float32([[1, 0, 0.2 * width], [0, 1, 0]])
    moved = cv2.warpAffine(image, shift, (width, height), borderMode=cv2.BORDER_REPLICATE)
    seq = tmp_path / "seq"
    seq.mkdir()
    for i in range(25):  # 25 x 30 s = 12 minutes, sitting a fifth of the picture aside
        cv2.imwrite(str(seq / f"{i:03d}.png"), moved)
    env = {"POSTURE_HOME": str(home)}
    args = ["analyze", str(seq), "--profile", "default", "--interval", "30", "--format", "jsonl"]
    result = run_posture(*args, env=env)
    assert result.returncode == 0, result.stderr
    rows = judged(result.stdout)
    assert all(r["verdict"] == "good" for r in rows)  # moved aside, not slouching
    stale = [bool(r["stale"]) for r in rows]
    assert not any(stale[:15]) and all(stale[-3:])
    table = run_posture(*args[:-2], env=env)
    assert "the calibration looks stale" in table.stdout
