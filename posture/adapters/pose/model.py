"""The pose model file: the bundled PoseLandmarker bundle, or one the user points to.

The bundled `.task` is built reproducibly by `scripts/build_pose_model.py` from Google's
Apache-2.0 mediapipe 0.10.14 wheel (see `posture/models/NOTICE.md`). Its SHA-256 is pinned
here: a changed file is an error, because every calibrated profile records the model it was
made with and landmarks from another network are not comparable.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from posture.errors import ModelError

BUNDLED_MODEL = Path(__file__).resolve().parents[2] / "models" / "pose_landmarker_full.task"
BUNDLED_SHA256 = "7b0fc6c7be9d10037cdc9b595028e98d4eaa474e0754c1dc70e504478cc4cd9c"

#: The two networks a PoseLandmarker bundle must hold.
TASK_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    sha256: str
    bundled: bool

    @property
    def label(self) -> str:
        return "bundled full" if self.bundled else str(self.path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_bundle(path: Path) -> None:
    """Refuse anything MediaPipe would reject with an obscure native error."""
    hint = "give a PoseLandmarker .task file, or leave out --model to use the bundled one"
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path} is not a PoseLandmarker .task bundle (not a zip file): {hint}")
    with zipfile.ZipFile(path) as bundle:
        infos = {info.filename: info for info in bundle.infolist()}
    missing = [name for name in TASK_MEMBERS if name not in infos]
    if missing:
        raise ModelError(
            f"{path} is not a PoseLandmarker .task bundle (it lacks {', '.join(missing)}): {hint}"
        )
    compressed = [n for n in TASK_MEMBERS if infos[n].compress_type != zipfile.ZIP_STORED]
    if compressed:
        raise ModelError(
            f"{path} is a compressed zip; MediaPipe reads only uncompressed (stored) .task "
            "bundles: rebuild it with `zip -0`"
        )


def resolve_model(path: str | Path | None = None) -> ModelInfo:
    """The model to use: `path` if given (checked), else the bundled one (hash checked)."""
    if path is None or str(path) == "":
        if not BUNDLED_MODEL.is_file():
            raise ModelError(
                f"the bundled pose model is missing ({BUNDLED_MODEL}): reinstall posture"
            )
        digest = sha256_of(BUNDLED_MODEL)
        if digest != BUNDLED_SHA256:
            raise ModelError(
                f"the bundled pose model {BUNDLED_MODEL} is damaged or was replaced "
                f"(SHA-256 {digest[:12]}…, expected {BUNDLED_SHA256[:12]}…): reinstall posture"
            )
        return ModelInfo(BUNDLED_MODEL, digest, bundled=True)
    model = Path(path).expanduser()
    if not model.exists():
        raise ModelError(f"no such model file: {model}")
    if not model.is_file():
        raise ModelError(f"{model} is a folder, not a .task model file")
    _check_bundle(model)
    return ModelInfo(model.resolve(), sha256_of(model), bundled=False)
