"""Profiles on disk: readable, private, never lost, damaged files left alone."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from posture.adapters.storage import profiles
from posture.core.profile import Camera, FeatureStats, Profile, ProfileError


def make(name: str = "default", head: float = 0.59) -> Profile:
    return Profile(
        name=name,
        created="2026-11-21T09:00:00+00:00",
        view="front",
        sensitivity="medium",
        camera=Camera("0", "camera", 640, 480),
        model_sha256="ab" * 32,
        frames=120,
        features={
            "head_height": FeatureStats(head, 0.01),
            "trunk_inclination": FeatureStats(None, None),
        },
    )


def test_round_trip_and_private_modes(tmp_path: Path) -> None:
    path = profiles.save(tmp_path, make())
    assert path == tmp_path / "profiles" / "default.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = profiles.load(tmp_path, "default")
    assert loaded == make()
    assert loaded.median("head_height") == 0.59
    assert loaded.median("trunk_inclination") != loaded.median("trunk_inclination")  # NaN
    text = json.loads(path.read_text())
    assert text["camera"] == {"source": "0", "kind": "camera", "width": 640, "height": 480}
    assert [p.name for p in (tmp_path / "profiles").glob("*.json")] == ["default.json"]


def test_recalibrating_keeps_the_previous_profile(tmp_path: Path) -> None:
    first = profiles.save(tmp_path, make(head=0.5))
    when = datetime(2026, 11, 21, 9, 30, tzinfo=timezone.utc)
    profiles.save(tmp_path, make(head=0.6), now=when)
    profiles.save(tmp_path, make(head=0.7), now=when)
    assert profiles.load(tmp_path, "default").median("head_height") == 0.7
    kept = sorted((tmp_path / "profiles" / "history").iterdir())
    assert [p.name for p in kept] == [
        "default-20261121T093000Z-1.json",
        "default-20261121T093000Z.json",
    ]
    heads = sorted(json.loads(p.read_text())["features"]["head_height"]["median"] for p in kept)
    assert heads == [0.5, 0.6]
    assert first.exists()
    assert not list((tmp_path / "profiles").glob(".*.tmp"))


def test_missing_profile_says_how_to_calibrate(tmp_path: Path) -> None:
    with pytest.raises(
        ProfileError, match=r"^no calibration found for profile 'default': run `posture calibrate`$"
    ):
        profiles.load(tmp_path, "default")
    with pytest.raises(ProfileError, match=r"run `posture calibrate --profile desk`$"):
        profiles.load(tmp_path, "desk")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "Expecting property name"),
        ("[1, 2]", "not a JSON object"),
        ('{"format": 99}', "format 99 is not 1"),
        ("", "Expecting value"),
    ],
)
def test_damaged_profile_is_reported_and_left_untouched(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "profiles" / "default.json"
    path.parent.mkdir()
    path.write_text(content)
    before = path.read_bytes()
    with pytest.raises(ProfileError) as info:
        profiles.load(tmp_path, "default")
    message = str(info.value)
    assert message.startswith(f"profile {path} is damaged (")
    assert reason in message
    assert "it was left as it is: run `posture calibrate`" in message
    assert "\n" not in message
    assert path.read_bytes() == before


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    raw = json.loads(make().to_json())
    del raw["camera"]
    path = tmp_path / "profiles" / "default.json"
    path.parent.mkdir()
    path.write_text(json.dumps(raw))
    with pytest.raises(ProfileError, match=r"damaged \(missing 'camera'\)"):
        profiles.load(tmp_path, "default")


@pytest.mark.parametrize("name", ["", "../etc", "a b", "x" * 41, ".hidden"])
def test_bad_profile_names_are_refused(name: str) -> None:
    with pytest.raises(ProfileError, match="is not usable"):
        profiles.check_name(name)


def test_saving_over_a_planted_link_or_fifo_replaces_it(tmp_path: Path) -> None:
    """Only a real profile file is kept in history/: a link there is not followed (its
    target neither copied nor written), a FIFO not opened."""
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    path = tmp_path / "profiles" / "default.json"
    path.parent.mkdir(mode=0o700)
    path.symlink_to(secret)
    profiles.save(tmp_path, make())
    assert not path.is_symlink()
    assert profiles.load(tmp_path, "default") == make()
    assert secret.read_text() == "not yours"
    assert not (tmp_path / "profiles" / "history").exists()
    path.unlink()
    os.mkfifo(path)
    profiles.save(tmp_path, make(head=0.6))
    assert profiles.load(tmp_path, "default").median("head_height") == 0.6
