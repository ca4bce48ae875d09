"""`posture analyze` as a user runs it: a real process, the real model, real photographs."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

import pytest

from posture.adapters.pose import native_log
from posture.core import features
from tests.conftest import run_posture


def frames(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_webcam_front_every_frame_has_a_pose_and_slouch_drops_the_head(data_dir: Path) -> None:
    out = run_posture("analyze", str(data_dir / "webcam-front"), "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no native log lines, no warnings
    rows = frames(out.stdout)
    for row in rows:
        row["label"] = Path(str(row["source"])).parent.name
    assert len(rows) == 29
    assert {r["label"] for r in rows} == {"upright", "slouch"}
    assert all(r["pose"] for r in rows)
    first = rows[0]
    assert set(first) >= {"source", "frame", "t", "pose", "visibility", "features"}
    assert set(first["features"]) == set(features.NAMES)  # type: ignore[arg-type]
    assert first["visibility"]["nose"] > 0.5  # type: ignore[index]

    def median(label: str) -> float:
        return statistics.median(
            r["features"]["head_height"]  # type: ignore[index]
            for r in rows
            if r["label"] == label
        )

    assert median("slouch") < median("upright")


def test_a_folder_without_images_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no pictures here")
    result = run_posture("analyze", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("posture: error: no images in folder")
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_mixed_sources_in_every_format(grace_hopper: Path, tmp_path: Path) -> None:
    import cv2
    import numpy as np

    still = cv2.imread(str(grace_hopper))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(
        str(video), cv2.VideoWriter.fourcc(*"MJPG"), 5.0, (still.shape[1], still.shape[0])
    )
    for _ in range(4):
        writer.write(still)
    writer.release()
    empty = tmp_path / "room.png"
    cv2.imwrite(str(empty), np.full((240, 320, 3), 90, dtype=np.uint8))

    jsonl = run_posture("analyze", str(grace_hopper), str(video), str(empty), "--format", "jsonl")
    assert jsonl.returncode == 0, jsonl.stderr
    rows = frames(jsonl.stdout)
    assert [r["source"] for r in rows] == [str(grace_hopper)] + [str(video)] * 4 + [str(empty)]
    assert [r["pose"] for r in rows] == [True] * 5 + [False]
    assert rows[-1]["features"]["head_height"] is None  # type: ignore[index]
    assert [r["frame"] for r in rows[1:5]] == [0, 1, 2, 3]
    heights = [r["features"]["head_height"] for r in rows[:5]]  # type: ignore[index]
    assert max(heights) - min(heights) < 0.05  # the same picture as a still and as video

    as_csv = run_posture("analyze", str(grace_hopper), str(empty), "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(table) == 2
    assert table[0]["pose"] == "1" and table[1]["pose"] == "0"
    assert float(table[0]["head_height"]) == pytest.approx(heights[0], abs=1e-3)
    assert table[1]["head_height"] == ""

    as_table = run_posture("analyze", str(grace_hopper), str(empty))
    assert as_table.returncode == 0, as_table.stderr
    lines = as_table.stdout.splitlines()
    assert lines[0].split()[:4] == ["source", "frame", "t", "pose"]
    assert "grace_hopper.jpg" in lines[1] and " yes " in lines[1]
    assert "room.png" in lines[2] and " no " in lines[2]
    assert lines[-1] == "2 frames, a pose in 1; '-' = not visible enough"


def test_max_frames_limits_each_source(grace_hopper: Path, tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"f{i}.jpg").write_bytes(grace_hopper.read_bytes())
    result = run_posture("analyze", str(tmp_path), "--format", "jsonl", "--max-frames", "2")
    assert result.returncode == 0, result.stderr
    assert [r["frame"] for r in frames(result.stdout)] == [0, 1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/no/such/photo.jpg"], "no such file or folder: /no/such/photo.jpg"),
        (["0"], "no camera at index 0"),
        (["--model", "/no/such.task", "{img}"], "no such model file: /no/such.task"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    grace_hopper: Path, args: list[str], message: str
) -> None:
    args = [a.replace("{img}", str(grace_hopper)) for a in args]
    result = run_posture("analyze", *args)
    if "camera" in message and "no camera" not in result.stderr:
        pytest.skip("a camera answers on this machine")
    assert result.returncode == 2
    assert result.stderr.startswith(f"posture: error: {message}")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_model_option_and_config_use_another_task_file(grace_hopper: Path, tmp_path: Path) -> None:
    from posture.adapters.pose.model import BUNDLED_MODEL

    junk = tmp_path / "heavy.task"
    junk.write_bytes(b"not a zip")
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(f'[pose]\nmodel = "{junk}"\n')
    env = {"POSTURE_HOME": str(home)}
    from_config = run_posture("analyze", str(grace_hopper), env=env)
    assert from_config.returncode == 2
    assert f"{junk} is not a PoseLandmarker .task bundle" in from_config.stderr
    # --model wins over the config
    copy = tmp_path / "copy.task"
    copy.write_bytes(BUNDLED_MODEL.read_bytes())
    from_option = run_posture("analyze", "--model", str(copy), str(grace_hopper), env=env)
    assert from_option.returncode == 0, from_option.stderr


def test_a_bad_config_is_one_line(grace_hopper: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text("[pose]\nnum_poses = 9\n")
    result = run_posture("analyze", str(grace_hopper), env={"POSTURE_HOME": str(home)})
    assert result.returncode == 2
    assert "pose.num_poses = 9 is out of range" in result.stderr
    assert result.stderr.count("\n") == 1


def test_verbose_lets_native_logs_through(grace_hopper: Path) -> None:
    quiet = run_posture("analyze", str(grace_hopper))
    loud = run_posture("--verbose", "analyze", str(grace_hopper))
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stderr == ""
    assert any(native_log.is_noise(line.encode()) for line in loud.stderr.splitlines()), (
        "expected MediaPipe's native log lines with --verbose; if mediapipe stopped printing "
        "them, the filter may be unnecessary"
    )
    assert "Exception ignored" not in loud.stderr  # the landmarker was closed explicitly


def test_progress_bar_on_a_terminal_for_long_inputs(grace_hopper: Path, tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    for i in range(20):
        (tmp_path / f"f{i:02d}.jpg").write_bytes(grace_hopper.read_bytes())
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "posture", "analyze", str(tmp_path), "--format", "csv"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=300,
            check=False,
        )
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed: all read
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
    assert proc.returncode == 0
    assert proc.stdout.decode().count("\n") == 21  # header + 20 rows, bar not on stdout
    assert b"analyzing" in seen and b"100%" in seen
