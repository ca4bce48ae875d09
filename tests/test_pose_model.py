"""The bundled model and the pose adapter, with the real MediaPipe on real photographs."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from posture.adapters.pose import model
from posture.adapters.pose.landmarker import MediaPipePose, PoseOptions
from posture.adapters.video.sources import open_source
from posture.core import features
from posture.errors import ModelError


def rgb(path: Path) -> np.ndarray:
    with open_source(str(path)) as source:
        return next(iter(source)).image


def test_bundled_model_hash_is_pinned_and_matches() -> None:
    info = model.resolve_model(None)
    assert info.bundled
    assert info.sha256 == model.BUNDLED_SHA256
    assert info.path.stat().st_size > 5_000_000
    with zipfile.ZipFile(info.path) as bundle:
        members = {i.filename: i.compress_type for i in bundle.infolist()}
    assert members == {name: zipfile.ZIP_STORED for name in model.TASK_MEMBERS}


def test_changed_bundled_model_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "pose_landmarker_full.task"
    shutil.copyfile(model.BUNDLED_MODEL, copy)
    with copy.open("ab") as fh:
        fh.write(b"\0")
    monkeypatch.setattr(model, "BUNDLED_MODEL", copy)
    with pytest.raises(ModelError, match=r"damaged or was replaced .*reinstall posture"):
        model.resolve_model(None)
    copy.unlink()
    with pytest.raises(ModelError, match="bundled pose model is missing"):
        model.resolve_model(None)


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", method) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return path


def test_wrong_model_files_are_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model file"):
        model.resolve_model(tmp_path / "missing.task")
    with pytest.raises(ModelError, match="is a folder"):
        model.resolve_model(tmp_path)
    text = tmp_path / "notes.task"
    text.write_text("hello")
    with pytest.raises(ModelError, match="not a zip file"):
        model.resolve_model(text)
    other = _zip(tmp_path / "face.task", {"face_detector.tflite": b"x"})
    with pytest.raises(ModelError, match=r"lacks pose_detector\.tflite, pose_landmarks_detector"):
        model.resolve_model(other)
    packed = _zip(
        tmp_path / "packed.task",
        {name: b"x" * 1000 for name in model.TASK_MEMBERS},
        zipfile.ZIP_DEFLATED,
    )
    with pytest.raises(ModelError, match=r"compressed zip.*zip -0"):
        model.resolve_model(packed)


def test_a_bundle_mediapipe_cannot_load_is_a_model_error(tmp_path: Path) -> None:
    junk = _zip(tmp_path / "junk.task", {name: b"junk" * 64 for name in model.TASK_MEMBERS})
    info = model.resolve_model(junk)
    assert not info.bundled
    with pytest.raises(ModelError, match=r"MediaPipe cannot load .*junk\.task"):
        MediaPipePose(info, PoseOptions(mode="image"))


def test_fixture_landmarks_within_mediapipe_margin(data_dir: Path) -> None:
    """MediaPipe's own sample test, with the confidences pinned (results change with them)."""
    fixture = data_dir / "mediapipe-fixture"
    expected = np.array(
        json.loads((fixture / "expected_landmarks.json").read_text())["expected"]["full"]
    )
    options = PoseOptions(
        mode="image",
        min_detection_confidence=0.5,
        min_presence_confidence=0.5,
        min_tracking_confidence=0.5,
    )
    with MediaPipePose(options=options) as pose:
        result = pose.detect(rgb(fixture / "test_image.jpg"), 0.0)
    assert result.landmarks.shape == (1, 33, 4)
    assert result.world.shape == (1, 33, 3)
    assert result.image_size == (960, 640)
    error = np.abs(result.landmarks[0, :, :2] - expected[:, :2])
    assert error.max() < 0.03, f"worst landmark {error.max(axis=1).argmax()} off by {error.max()}"


def test_video_mode_tracks_and_tolerates_repeated_timestamps(grace_hopper: Path) -> None:
    image = rgb(grace_hopper)
    with MediaPipePose(options=PoseOptions(mode="video")) as pose:
        results = [pose.detect(image, t) for t in (0.0, 0.0, 0.5, 0.4, 1.0)]
    assert all(r.found for r in results)
    noses = np.array([r.landmarks[0, 0, :2] for r in results])
    assert np.ptp(noses, axis=0).max() < 0.02  # the same picture: the same pose


def test_no_person_gives_an_empty_result() -> None:
    blank = np.full((480, 640, 3), 127, dtype=np.uint8)
    with MediaPipePose(options=PoseOptions(mode="image")) as pose:
        result = pose.detect(blank, 0.0)
    assert not result.found
    assert result.landmarks.shape == (0, 33, 4)
    assert result.aspect == pytest.approx(640 / 480)


def test_detect_rejects_wrong_images_and_use_after_close() -> None:
    pose = MediaPipePose(options=PoseOptions(mode="image"))
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB"):
        pose.detect(np.zeros((10, 10), dtype=np.uint8), 0.0)
    pose.close()
    pose.close()  # twice is fine
    with pytest.raises(RuntimeError, match="after close"):
        pose.detect(np.zeros((10, 10, 3), dtype=np.uint8), 0.0)


def test_grace_hopper_head_above_shoulders(grace_hopper: Path) -> None:
    """The in-repo fixture needing no shared data: a front portrait, head and shoulders."""
    image = rgb(grace_hopper)
    with MediaPipePose(options=PoseOptions(mode="image")) as pose:
        result = pose.detect(image, 0.0)
    assert result.found
    row = features.as_dict(features.compute_features(result.landmarks[0], aspect=result.aspect)[0])
    assert row["head_height"] is not None and row["head_height"] > 0.3
    assert row["ear_height"] is not None and row["ear_height"] > 0
    assert row["trunk_inclination"] is None  # no hips in a portrait
