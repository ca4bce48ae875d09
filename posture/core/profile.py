"""A calibrated profile: the user's own upright posture, as numbers, in a readable file.

One JSON file per named profile in `<data>/profiles/NAME.json`, mode 0600, written
atomically. A recalibration keeps the previous file in `profiles/history/` rather than
overwriting it, and nothing here ever rewrites a file it could not read.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
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
    if not _NAME.fullmatch(name):
        raise ProfileError(
            f"profile name {name!r} is not usable: use 1-40 letters, digits, '-', '_' or '.'"
        )
    return name


def profile_path(data_dir: Path, name: str) -> Path:
    return data_dir / "profiles" / f"{check_name(name)}.json"


def _calibrate_hint(name: str) -> str:
    return "posture calibrate" if name == "default" else f"posture calibrate --profile {name}"


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


def load(data_dir: Path, name: str = "default") -> Profile:
    path = profile_path(data_dir, name)
    if not path.exists():
        raise ProfileError(
            f"no calibration found for profile '{name}': run `{_calibrate_hint(name)}`"
        )
    try:
        return parse(path.read_text(encoding="utf-8"), name)
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        reason = f"missing {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise ProfileError(
            f"profile {path} is damaged ({reason}); it was left as it is: run "
            f"`{_calibrate_hint(name)}` to make a new one"
        ) from exc


def save(data_dir: Path, profile: Profile, *, now: datetime | None = None) -> Path:
    """Write `profile` atomically, mode 0600. An existing profile of that name is kept as
    a copy in profiles/history/ before the new one replaces it."""
    from posture.adapters.private import ensure_private_dir

    path = profile_path(data_dir, profile.name)
    folder = ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{profile.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(profile.to_json())
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).chmod(0o600)
        if path.exists():
            stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
            history = ensure_private_dir(folder / "history")
            keep = history / f"{profile.name}-{stamp}.json"
            counter = 1
            while keep.exists():
                keep = history / f"{profile.name}-{stamp}-{counter}.json"
                counter += 1
            shutil.copy2(path, keep)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def list_profiles(data_dir: Path) -> list[str]:
    folder = data_dir / "profiles"
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if _NAME.fullmatch(p.stem))
