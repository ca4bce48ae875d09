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
from datetime import datetime
from typing import Any, Literal

from posture.errors import PostureError

FORMAT = 1
View = Literal["front", "side"]
Sensitivity = Literal["low", "medium", "high"]
SENSITIVITIES: tuple[str, ...] = ("low", "medium", "high")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_SHA256 = re.compile(r"[0-9a-f]{64}")

#: What a profile can hold. The bounds are ones no real calibration reaches: a value
#: beyond them was written by hand or by another program, and judged against it posture
#: would nudge for ever (a median of 1e308) or never (a spread of 1e308).
CAMERA_KINDS: tuple[str, ...] = ("camera", "video", "images")
MAX_PICTURE_SIDE = 20000
MAX_FRAMES = 10_000_000
MAX_NOTES = 100
EARLIEST_YEAR = 2000

#: Per feature of `posture.core.features`: (lowest, highest) median it can measure, and
#: the largest spread a still person could show. Angles are in degrees (roll and tilt in
#: (-90, 90], inclinations 0-180); positions in picture widths or heights, a little past
#: the edges; ratios (lengths over the shoulder or ear width) are unbounded in principle
#: (from the side the shoulders overlap), so only absurd ones are refused.
POSSIBLE: dict[str, tuple[float, float, float]] = {
    "head_height": (-1000.0, 1000.0, 100.0),
    "ear_height": (-1000.0, 1000.0, 100.0),
    "shoulder_width": (0.0, 50.0, 5.0),
    "face_width": (0.0, 1000.0, 100.0),
    "head_pitch": (-1000.0, 1000.0, 100.0),
    "head_roll": (-90.0, 90.0, 45.0),
    "shoulder_tilt": (-90.0, 90.0, 45.0),
    "head_offset": (-1000.0, 1000.0, 100.0),
    "neck_inclination": (0.0, 180.0, 90.0),
    "trunk_inclination": (0.0, 180.0, 90.0),
    "shoulder_x": (-1.0, 2.0, 1.0),
    "shoulder_y": (-1.0, 2.0, 1.0),
}

#: Per view, the largest spread of the features its verdicts use: calibration refuses a
#: person who moved more (its stillness gates, `posture.core.calibration.STILLNESS_LIMITS`,
#: are these or tighter), and the front view's other checks see a still upper body,
#: whose ratios and angles wander by hundredths and degrees, not by whole units.
STILL: dict[str, dict[str, float]] = {
    "front": {
        "head_height": 0.03,
        "ear_height": 0.03,
        "shoulder_x": 0.08,
        "shoulder_y": 0.08,
        "shoulder_width": 0.5,
        "face_width": 1.0,
        "head_pitch": 1.0,
        "head_offset": 1.0,
        "head_roll": 30.0,
        "shoulder_tilt": 30.0,
    },
    "side": {"neck_inclination": 6.0},
}


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


def _number(value: Any, what: str) -> float:
    """A finite JSON number (not a boolean), else ValueError naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer too big for a float
        raise ValueError(f"{what} is not a finite number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} is not a finite number")
    return number


def _integer(value: Any, what: str, lo: int, hi: int) -> int:
    """A JSON integer in [lo, hi] (2.0 counts; 2.5, 1e400 and booleans do not)."""
    number = _number(value, what)
    if not number.is_integer() or not lo <= number <= hi:
        raise ValueError(f"{what} {value!r} is not a whole number from {lo} to {hi}")
    return int(number)


def _text(value: Any, what: str, limit: int = 4096) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"{what} is not a text of at most {limit} characters")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def _created(value: Any) -> str:
    text = _text(value, "created", 64)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"created {text!r} is not an ISO 8601 time") from None
    if when.year < EARLIEST_YEAR:
        raise ValueError(f"created {text!r} is before {EARLIEST_YEAR}")
    return text


def _camera(value: Any) -> Camera:
    cam = _object(value, "camera")
    kind = cam["kind"]
    if kind not in CAMERA_KINDS:
        raise ValueError(f"camera.kind {kind!r} is not one of {', '.join(CAMERA_KINDS)}")
    return Camera(
        _text(cam["source"], "camera.source"),
        kind,
        _integer(cam["width"], "camera.width", 1, MAX_PICTURE_SIDE),
        _integer(cam["height"], "camera.height", 1, MAX_PICTURE_SIDE),
    )


def _feature(name: str, value: Any, view: View) -> FeatureStats:
    """One feature's median and spread, each None (not measured) or a value that a real
    calibration can give: the median within what the feature can measure, the spread
    no more than a still person (the calibration's gates) could show."""
    stats = _object(value, f"features.{name}")
    missing = [key for key in ("median", "spread") if key not in stats]
    if missing:
        raise KeyError(f"{name}.{missing[0]}")
    raw_median, raw_spread = stats["median"], stats["spread"]
    if raw_median is None and raw_spread is None:
        return FeatureStats(None, None)
    median = _number(raw_median, f"{name}.median")
    spread = _number(raw_spread, f"{name}.spread")
    lo, hi, widest = POSSIBLE[name]
    if not lo <= median <= hi:
        raise ValueError(f"{name}.median {median:g} is outside the possible {lo:g} to {hi:g}")
    widest = STILL.get(view, {}).get(name, widest)
    if not 0 <= spread <= widest:
        raise ValueError(
            f"{name}.spread {spread:g} is not from 0 to {widest:g}, as a calibration gives"
        )
    return FeatureStats(median, spread)


def _features(value: Any, view: View) -> dict[str, FeatureStats]:
    raw = _object(value, "features")
    unknown = sorted(set(raw) - set(POSSIBLE))
    if unknown:
        raise ValueError(f"feature {unknown[0][:40]!r} is not one posture measures")
    return {name: _feature(name, stats, view) for name, stats in raw.items()}


def _notes(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_NOTES:
        raise ValueError(f"notes is not a list of at most {MAX_NOTES} texts")
    return [_text(note, "a note") for note in value]


def parse(text: str, name: str) -> Profile:
    """A profile from its JSON text; ValueError (or KeyError, a missing field) says what is
    wrong. Every field is checked: its type, and that its value is one a calibration can
    write (see `POSSIBLE`, `STILL`, `MAX_PICTURE_SIDE`)."""
    try:
        raw = _object(json.loads(text), "the file")
    except RecursionError:
        raise ValueError("nested too deeply to be a profile") from None
    version = raw.get("format")
    if type(version) is not int or version != FORMAT:
        raise ValueError(f"format {version!r:.20} is not {FORMAT}")
    view = raw["view"]
    if view not in ("front", "side"):
        raise ValueError(f"view {view!r:.20} is not front or side")
    sensitivity = raw["sensitivity"]
    if sensitivity not in SENSITIVITIES:
        raise ValueError(
            f"sensitivity {sensitivity!r:.20} is not one of {', '.join(SENSITIVITIES)}"
        )
    sha = _text(raw["model_sha256"], "model_sha256", 64)
    if not _SHA256.fullmatch(sha):
        raise ValueError("model_sha256 is not 64 hexadecimal digits")
    return Profile(
        name=name,
        created=_created(raw["created"]),
        view=view,
        sensitivity=sensitivity,
        camera=_camera(raw["camera"]),
        model_sha256=sha,
        frames=_integer(raw["frames"], "frames", 1, MAX_FRAMES),
        features=_features(raw["features"], view),
        notes=_notes(raw.get("notes", [])),
    )
