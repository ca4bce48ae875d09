"""Bad values and bad files, through the real CLI: each is one line saying what is wrong
and what to do, a non-zero exit, no traceback, and the user's file left as it was."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from posture.core import calibration, features
from posture.core.profile import POSSIBLE, STILL
from tests.conftest import foreign_lines, run_posture


def profile_dict(**changes: Any) -> dict[str, Any]:
    """A profile as calibration writes it (front view, every feature measured)."""
    raw: dict[str, Any] = {
        "name": "default",
        "created": "2026-11-21T09:00:00+00:00",
        "view": "front",
        "sensitivity": "medium",
        "camera": {"source": "0", "kind": "camera", "width": 640, "height": 480},
        "model_sha256": "ab" * 32,
        "frames": 120,
        "features": {name: {"median": 0.5, "spread": 0.01} for name in features.NAMES},
        "format": 1,
        "notes": [],
    }
    raw.update(changes)
    return raw


def write_profile(home: Path, content: str | bytes) -> Path:
    path = home / "data" / "profiles" / "default.json"
    path.parent.mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    (home / "data").chmod(0o700)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    path.chmod(0o600)
    return path


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], *parts: str, native: bool = False
) -> str:
    """The one line posture wrote; with `native`, a native library's own lines (libpng
    writes "libpng error: ..." straight to fd 2) are left out."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    if native:
        lines = [line for line in lines if line not in foreign_lines(result.stderr)]
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def test_a_good_profile_is_shown(posture_home: Path) -> None:
    write_profile(posture_home, json.dumps(profile_dict()))
    result = run_posture("calibrate", "--show")
    assert result.returncode == 0, result.stderr
    assert "head_height       0.500 ± 0.010" in result.stdout


def _features(**stats: dict[str, Any]) -> dict[str, Any]:
    raw = profile_dict()["features"]
    raw.update(stats)
    return raw


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (profile_dict(features=[]), "features is not a JSON object"),
        (profile_dict(features=None), "features is not a JSON object"),
        (profile_dict(camera=[640, 480]), "camera is not a JSON object"),
        (profile_dict(frames="many"), "frames is not a number"),
        (profile_dict(frames=0), "frames 0 is not a whole number from 1"),
        (profile_dict(created="yesterday"), "created 'yesterday' is not an ISO 8601 time"),
        (profile_dict(created="0001-01-01T00:00:00"), "is before 2000"),
        (profile_dict(model_sha256="xyz"), "model_sha256 is not 64 hexadecimal digits"),
        (profile_dict(notes="hello"), "notes is not a list"),
        (profile_dict(format=True), "format True is not 1"),
        (
            profile_dict(camera={"source": "0", "kind": "camera", "width": 0, "height": 480}),
            "camera.width 0 is not a whole number from 1 to 20000",
        ),
        (
            profile_dict(camera={"source": "0", "kind": "tv", "width": 640, "height": 480}),
            "camera.kind 'tv' is not one of",
        ),
        (
            profile_dict(features=_features(head_height={"median": 1e308, "spread": 0.01})),
            "head_height.median 1e+308 is outside the possible -1000 to 1000",
        ),
        (
            profile_dict(features=_features(head_height={"median": 0, "spread": 1e308})),
            "head_height.spread 1e+308 is not from 0 to 0.03",
        ),
        (
            profile_dict(features=_features(head_roll={"median": 120.0, "spread": 1.0})),
            "head_roll.median 120 is outside the possible -90 to 90",
        ),
        (
            profile_dict(features=_features(head_height={"median": 0.5, "spread": -1})),
            "head_height.spread -1 is not from 0",
        ),
        (
            profile_dict(features=_features(head_height={"median": "0.5", "spread": 0.01})),
            "head_height.median is not a number",
        ),
        (
            profile_dict(features=_features(head_height=[0.5, 0.01])),
            "features.head_height is not a JSON object",
        ),
        (profile_dict(features=_features(wingspan={"median": 1, "spread": 0})), "'wingspan'"),
        (profile_dict(features=_features(head_roll={"median": 1})), "missing 'head_roll.spread'"),
    ],
)
def test_implausible_profile_values_are_refused(
    posture_home: Path, raw: dict[str, Any], reason: str
) -> None:
    path = write_profile(posture_home, json.dumps(raw))
    before = path.read_bytes()
    result = run_posture("calibrate", "--show")
    assert_one_line_error(result, f"profile {path} is damaged (", reason, "posture calibrate")
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            json.dumps(profile_dict()).replace('"width": 640', '"width": 1e400'),
            "camera.width is not a finite number",
        ),
        (
            json.dumps(profile_dict()).replace('"width": 640', '"width": ' + "9" * 400),
            "camera.width is not a finite number",
        ),
        (
            json.dumps(profile_dict()).replace('"median": 0.5', '"median": NaN', 1),
            "head_height.median is not a finite number",
        ),
        ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
        ('{"a": ' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (" " * (1024 * 1024 + 1), "larger than 1024 KB"),
    ],
)
def test_malformed_profile_text_is_refused(
    posture_home: Path, text: str | bytes, reason: str
) -> None:
    path = write_profile(posture_home, text)
    before = path.read_bytes()
    result = run_posture("calibrate", "--show", timeout=60)
    assert_one_line_error(result, f"profile {path} is damaged (", reason)
    assert path.read_bytes() == before


def test_a_fifo_profile_is_refused_without_waiting(posture_home: Path) -> None:
    path = write_profile(posture_home, "")
    path.unlink()
    os.mkfifo(path, 0o600)
    result = run_posture("calibrate", "--show", timeout=30)
    assert_one_line_error(result, f"profile {path} is not a regular file", "remove it")
    assert path.exists()


def test_a_linked_profile_is_not_followed(posture_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(profile_dict()))
    path = write_profile(posture_home, "")
    path.unlink()
    path.symlink_to(target)
    result = run_posture("calibrate", "--show")
    assert_one_line_error(result, f"{path} is a symbolic link")


def test_the_bounds_cover_every_feature_and_the_calibration_gates() -> None:
    """Every feature has bounds, and no profile calibration writes is refused: the
    stillness gates let through no spread wider than the profile accepts."""
    assert set(POSSIBLE) == set(features.NAMES)
    for view, limits in calibration.STILLNESS_LIMITS.items():
        for name, limit in limits.items():
            assert limit <= STILL[view].get(name, POSSIBLE[name][2])
    for view in STILL.values():
        assert set(view) <= set(features.NAMES)


# --- pictures ---------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` (its data is one empty row)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def test_a_picture_claiming_an_absurd_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(100_000, 100_000))
    assert len(path.read_bytes()) < 100
    result = run_posture("analyze", str(path), timeout=120)
    assert_one_line_error(
        result, f"image {path} claims 100000x100000 pixels", "100 megapixels", "make it smaller"
    )


def test_a_damaged_picture_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    path.write_bytes(png_claiming(640, 480))  # the header is fine, the data is not
    result = run_posture("analyze", str(path), timeout=120)
    assert_one_line_error(result, f"cannot read image {path}: damaged or not an image", native=True)


@pytest.mark.parametrize("name", ["pipe.png", "pipe.mp4", "pipe"])
def test_a_fifo_source_is_refused_without_waiting(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    os.mkfifo(path)
    result = run_posture("analyze", str(path), timeout=60)
    assert_one_line_error(result, f"{path} is a pipe or a socket: name a picture or a video")


def test_a_double_star_glob_through_link_loops_ends(tmp_path: Path, grace_hopper: Path) -> None:
    root = tmp_path / "photos"
    (root / "a" / "b").mkdir(parents=True)
    shutil.copy(grace_hopper, root / "a" / "b" / "person.jpg")
    (root / "a" / "b" / "up").symlink_to(root / "a")
    (root / "a" / "b" / "top").symlink_to(root)
    (root / "a" / "loop").symlink_to(".")
    result = run_posture("analyze", f"{root}/**/*.jpg", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("person.jpg") == 1, result.stdout
