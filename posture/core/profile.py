"""A calibrated profile: the user's own upright posture, as numbers, and its JSON text.

Pure: the data, its name rule, and the text both ways (`Profile.to_json`, `parse`). The
files (where they live, 0600, atomic writes, the copies kept on recalibration, damaged
files reported) are `posture.adapters.storage.profiles`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from posture.errors import PostureError

FORMAT = 1
View = Literal["front", "side"]
Sensitivity = Literal["low", "medium", "high"]
SENSITIVITIES: tuple[str, ...] = ("low", "medium", "high")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


class ProfileError(PostureError):
    """No profile, or one that cannot be used."""


@dataclass(frozen=True)
class FeatureStats:
    """The calibrated value of one feature: median and robust spread (1.4826 x MAD)."""

    median: float | None
    spread: float | None


@dataclass(frozen=True)
class Camera:
    """What the profile was calibrated with: a camera index or a file, and its picture size."""

    source: str
    kind: str  # "camera" | "video" | "images"
    width: int
    height: int


@dataclass(frozen=True)
class Profile:
    name: str
    created: str  # ISO 8601, UTC
    view: View
    sensitivity: Sensitivity
    camera: Camera
    model_sha256: str
    frames: int
    features: dict[str, FeatureStats]
    format: int = FORMAT
    notes: list[str] = field(default_factory=list)

    def median(self, name: str) -> float:
        stats = self.features.get(name)
        return math.nan if stats is None or stats.median is None else stats.median

    def spread(self, name: str) -> float:
        stats = self.features.get(name)
        return math.nan if stats is None or stats.spread is None else stats.spread

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"


def check_name(name: str) -> str:
    """`name` if it can name a profile (and its file): 1-40 safe characters."""
    if not _NAME.fullmatch(name):
        raise ProfileError(
            f"profile name {name!r} is not usable: use 1-40 letters, digits, '-', '_' or '.'"
        )
    return name


def _finite_or_none(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} is not a number")
    return float(value)


def parse(text: str, name: str) -> Profile:
    """A profile from its JSON text; ValueError/KeyError/TypeError say what is wrong."""
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    if raw.get("format") != FORMAT:
        raise ValueError(f"format {raw.get('format')!r} is not {FORMAT}")
    view = raw["view"]
    if view not in ("front", "side"):
        raise ValueError(f"view {view!r} is not front or side")
    sensitivity = raw["sensitivity"]
    if sensitivity not in SENSITIVITIES:
        raise ValueError(f"sensitivity {sensitivity!r} is not one of {', '.join(SENSITIVITIES)}")
    cam = raw["camera"]
    camera = Camera(str(cam["source"]), str(cam["kind"]), int(cam["width"]), int(cam["height"]))
    feats = {
        str(key): FeatureStats(
            _finite_or_none(value["median"], f"{key}.median"),
            _finite_or_none(value["spread"], f"{key}.spread"),
        )
        for key, value in raw["features"].items()
    }
    return Profile(
        name=name,
        created=str(raw["created"]),
        view=view,
        sensitivity=sensitivity,
        camera=camera,
        model_sha256=str(raw["model_sha256"]),
        frames=int(raw["frames"]),
        features=feats,
        notes=[str(n) for n in raw.get("notes", [])],
    )
