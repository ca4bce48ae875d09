"""Posture features computed from MediaPipe Pose image landmarks.

Pure and vectorised: no I/O, no clock, no camera or model imports.  The input is an
array of MediaPipe Pose *image* landmarks, shape ``(N, 33, 4)`` or ``(33, 4)``, with the
columns ``x, y, z, visibility``: ``x`` is divided by the image width, ``y`` by the image
height, the origin is the top-left corner and ``y`` grows DOWN.  ``z`` is not used.

Because ``x`` and ``y`` are normalised by different lengths, all geometry is done in
units of the image height: ``X = x * aspect`` and ``Y = y`` with ``aspect`` = image
width / image height.  Every feature except `shoulder_x` and `shoulder_y` is computed
in those units, so a circle stays a circle and angles are true image angles.

"Left" and "right" in landmark names are the PERSON's sides: with a front camera that
does not mirror, the person's left shoulder appears on the IMAGE right.  Features that
describe a line (roll, tilt, heights above a line, sideways offset) orient the line to
point towards the image right, so they do not depend on which side is which, nor on
whether the picture is mirrored except for the sign of the sideways features.

Each feature is NaN when a landmark it needs has visibility below ``min_visibility``
(or non-finite coordinates or visibility), or when its geometry is degenerate, e.g.
both shoulders on the same point.

Implementation note: points are handled as complex numbers ``X + iY``.  Every vector the
features need is one column of a single small matrix product, and for a line direction
``d`` and a vector ``v`` the quotient ``v / d`` has real part ``(v . d) / |d|**2`` (the
offset along the line over its length) and imaginary part ``-h / |d|``, where ``h`` is
the signed height of ``v`` above the line (y grows down).  That gives every height and
offset over a width in one division and keeps a single-sample call to a few dozen small
numpy operations.
"""

from __future__ import annotations

import difflib
import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "FEATURES",
    "LEFT_EAR",
    "LEFT_HIP",
    "LEFT_SHOULDER",
    "NAMES",
    "NOSE",
    "NUM_LANDMARKS",
    "RIGHT_EAR",
    "RIGHT_HIP",
    "RIGHT_SHOULDER",
    "FeatureSpec",
    "as_dict",
    "compute_features",
    "index",
]

# MediaPipe Pose landmark indices (the person's left / right).
NOSE = 0
LEFT_EAR = 7
RIGHT_EAR = 8
LEFT_SHOULDER = 11
RIGHT_SHOULDER = 12
LEFT_HIP = 23
RIGHT_HIP = 24
NUM_LANDMARKS = 33
_NUM_COLUMNS = 4  # x, y, z, visibility

# Lengths at or below this many image heights count as degenerate (coincident points).
_EPS = 1e-9


@dataclass(frozen=True)
class FeatureSpec:
    """What one feature column means.

    ``needs`` lists the landmark indices the feature requires; for the one-sided
    features (`neck_inclination`, `trunk_inclination`) it is the person's-left variant,
    and the person's-right mirror of it is used when that side is better seen.
    """

    name: str
    unit: str
    definition: str
    sign: str
    needs: tuple[int, ...]


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        name="head_height",
        unit="ratio",
        definition=(
            "Signed perpendicular distance from the nose to the line through both "
            "shoulders, divided by the shoulder width."
        ),
        sign=(
            "Positive when the nose is above the shoulder line (image-up side). Falls when "
            "the head drops or the person slouches (front webcam, bundled model: median "
            "0.58 upright, 0.47 slouched, a 20% drop)."
        ),
        needs=(NOSE, LEFT_SHOULDER, RIGHT_SHOULDER),
    ),
    FeatureSpec(
        name="ear_height",
        unit="ratio",
        definition=(
            "Signed perpendicular distance from the midpoint of the two ears to the line "
            "through both shoulders, divided by the shoulder width."
        ),
        sign=(
            "Positive when the ears are above the shoulder line. Falls when the head "
            "drops, the neck sinks between the shoulders or the person slouches."
        ),
        needs=(LEFT_EAR, RIGHT_EAR, LEFT_SHOULDER, RIGHT_SHOULDER),
    ),
    FeatureSpec(
        name="shoulder_width",
        unit="image heights",
        definition="Distance between the two shoulders, in units of the image height.",
        sign=(
            "Always positive; a proxy for the distance to the camera. Grows when leaning "
            "in or sitting too close, shrinks when slumping back or moving away."
        ),
        needs=(LEFT_SHOULDER, RIGHT_SHOULDER),
    ),
    FeatureSpec(
        name="face_width",
        unit="ratio",
        definition="Distance between the two ears divided by the shoulder width.",
        sign=(
            "Always positive. Grows when the head moves forward of the shoulders "
            "(forward head) or towards the camera; shrinks as the head turns sideways."
        ),
        needs=(LEFT_EAR, RIGHT_EAR, LEFT_SHOULDER, RIGHT_SHOULDER),
    ),
    FeatureSpec(
        name="head_pitch",
        unit="ratio",
        definition=(
            "Signed perpendicular distance from the nose to the line through both ears, "
            "divided by the ear-to-ear distance."
        ),
        sign=(
            "Positive when the nose is above the ear line. Falls when looking down or "
            "flexing the neck forward; rises when tipping the head back."
        ),
        needs=(NOSE, LEFT_EAR, RIGHT_EAR),
    ),
    FeatureSpec(
        name="head_roll",
        unit="degrees",
        definition=(
            "Angle of the ear-to-ear line against the image horizontal, in (-90, 90]; "
            "does not depend on which ear is which."
        ),
        sign=(
            "Positive when the ear on the image right is lower than the ear on the image "
            "left (the head tilted clockwise in the image); 0 for a level head."
        ),
        needs=(LEFT_EAR, RIGHT_EAR),
    ),
    FeatureSpec(
        name="shoulder_tilt",
        unit="degrees",
        definition=(
            "Angle of the shoulder-to-shoulder line against the image horizontal, in "
            "(-90, 90]; does not depend on which shoulder is which."
        ),
        sign=(
            "Positive when the shoulder on the image right is lower than the one on the "
            "image left (clockwise in the image); leaning or slumping to one side moves it."
        ),
        needs=(LEFT_SHOULDER, RIGHT_SHOULDER),
    ),
    FeatureSpec(
        name="head_offset",
        unit="ratio",
        definition=(
            "Offset of the nose from the shoulder midpoint along the shoulder line "
            "(oriented towards the image right), divided by the shoulder width."
        ),
        sign=(
            "Positive when the nose is towards the image right of the shoulder midpoint. "
            "Leaning sideways or shifting or turning the head moves it; 0 when centred."
        ),
        needs=(NOSE, LEFT_SHOULDER, RIGHT_SHOULDER),
    ),
    FeatureSpec(
        name="neck_inclination",
        unit="degrees",
        definition=(
            "Angle between the shoulder-to-ear vector and straight up in the image, on the "
            "better-seen side (the side whose lower of ear and shoulder visibility is "
            "higher; the person's left on a tie)."
        ),
        sign=(
            "Always >= 0; 0 when the ear is directly above the shoulder. The side-camera "
            "signal: grows as the head juts forward or the person hunches (side view: "
            "about 11-16 straight, 45-60 hunched). From the front it does not separate "
            "postures."
        ),
        needs=(LEFT_EAR, LEFT_SHOULDER),
    ),
    FeatureSpec(
        name="trunk_inclination",
        unit="degrees",
        definition=(
            "Angle between the hip-to-shoulder vector and straight up in the image, on the "
            "better-seen side (hip and shoulder; the person's left on a tie)."
        ),
        sign=(
            "Always >= 0; 0 when the shoulder is directly above the hip. Grows when the "
            "trunk leans forward, back or sideways. NaN when the hips are not visible, "
            "which is the usual case for a desk webcam."
        ),
        needs=(LEFT_HIP, LEFT_SHOULDER),
    ),
    FeatureSpec(
        name="shoulder_x",
        unit="image widths",
        definition=(
            "Horizontal position of the shoulder midpoint, normalised by the image width "
            "(0 = left edge, 1 = right edge; not aspect-scaled)."
        ),
        sign=(
            "Grows as the person moves towards the image right. Used to follow the "
            "calibrated person, not as a posture signal."
        ),
        needs=(LEFT_SHOULDER, RIGHT_SHOULDER),
    ),
    FeatureSpec(
        name="shoulder_y",
        unit="image heights",
        definition=(
            "Vertical position of the shoulder midpoint, normalised by the image height "
            "(0 = top edge, 1 = bottom edge)."
        ),
        sign=(
            "Grows as the shoulders move down in the image (sinking in the chair, "
            "slumping). Used to follow the calibrated person."
        ),
        needs=(LEFT_SHOULDER, RIGHT_SHOULDER),
    ),
)

NAMES: tuple[str, ...] = tuple(spec.name for spec in FEATURES)
_INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}


def index(name: str) -> int:
    """Return the column of feature `name`; KeyError naming the valid features otherwise."""
    try:
        return _INDEX[name]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(name), NAMES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise KeyError(
        f"unknown posture feature {name!r}.{hint} Known features: {', '.join(NAMES)}."
    ) from None


# --- internal layout ---------------------------------------------------------------
#
# Points are complex numbers X + iY (image heights, y down).  Landmarks are gathered in
# this order, the shoulders twice so that the per-side visibility pairs are two slices:
# (ear, hip) left and right against (shoulder, shoulder) left and right.
_GATHER = np.array(
    [
        NOSE,
        LEFT_EAR,
        LEFT_HIP,
        RIGHT_EAR,
        RIGHT_HIP,
        LEFT_SHOULDER,
        LEFT_SHOULDER,
        RIGHT_SHOULDER,
        RIGHT_SHOULDER,
    ],
    dtype=np.intp,
)
_NOSE_P, _EAR_L, _HIP_L, _EAR_R, _HIP_R, _SH_L, _SH_R = 0, 1, 2, 3, 4, 5, 7
_GATHERED = len(_GATHER)

# Columns of the complex work array `work = (usable landmarks) @ _mix(aspect)`.  The
# matrix product yields every vector the features need; later steps write their results
# into the spare columns in place, and one final gather picks the feature columns.
#   0 nose - ear midpoint, 1 nose - shoulder midpoint, 2 ear midpoint - shoulder midpoint,
#   3 ear line: each divided in place by the line in column 4, 5, 6, 7 (ear line, then
#   shoulder line three times), all right minus left and oriented to point image-right
#   8, 9 the left side's i*(ear - shoulder), i*(shoulder - hip) (i*: a plain angle to up)
#   10, 11 the same for the right side; copied over 8, 9 when it is better seen
#   12 shoulder midpoint in raw normalised coordinates (x not aspect-scaled)
#   13..19 spare: real part |column 3..9|, imaginary part the angle of column 4..9 (from 14)
_WORK = 20
_NUMER, _DENOM, _LINES = slice(0, 4), slice(4, 8), slice(4, 8)
_SIDES_L, _SIDES_R = slice(8, 10), slice(10, 12)
_VECTORS: tuple[dict[int, complex], ...] = (
    {_NOSE_P: 1, _EAR_L: -0.5, _EAR_R: -0.5},
    {_NOSE_P: 1, _SH_L: -0.5, _SH_R: -0.5},
    {_EAR_L: 0.5, _EAR_R: 0.5, _SH_L: -0.5, _SH_R: -0.5},
    {_EAR_R: 1, _EAR_L: -1},
    {_EAR_R: 1, _EAR_L: -1},
    {_SH_R: 1, _SH_L: -1},
    {_SH_R: 1, _SH_L: -1},
    {_SH_R: 1, _SH_L: -1},
    {_EAR_L: 1j, _SH_L: -1j},
    {_SH_L: 1j, _HIP_L: -1j},
    {_EAR_R: 1j, _SH_R: -1j},
    {_SH_R: 1j, _HIP_R: -1j},
)
_SHOULDER_MID = 12
# Replaces an unusable landmark's (x, y, z, visibility): no coordinates, never seen.
_UNUSABLE = np.array([0.0, 0.0, 0.0, -1.0])


def _build_mix(aspect: float) -> npt.NDArray[np.float64]:
    """Real matrix: gathered (x, y, z, vis) rows -> interleaved (re, im) work columns."""
    mix = np.zeros((_NUM_COLUMNS * _GATHERED, 2 * _WORK), dtype=np.float64)
    for col, terms in enumerate(_VECTORS):
        for pos, coef in terms.items():
            c = complex(coef)
            x, y = _NUM_COLUMNS * pos, _NUM_COLUMNS * pos + 1
            # (X + iY) * c with X = aspect * x:  re = X c.re - Y c.im,  im = X c.im + Y c.re
            mix[x, 2 * col] = aspect * c.real
            mix[y, 2 * col] = -c.imag
            mix[x, 2 * col + 1] = aspect * c.imag
            mix[y, 2 * col + 1] = c.real
    for pos in (_SH_L, _SH_R):
        mix[_NUM_COLUMNS * pos, 2 * _SHOULDER_MID] = 0.5
        mix[_NUM_COLUMNS * pos + 1, 2 * _SHOULDER_MID + 1] = 0.5
    mix.setflags(write=False)
    return mix


_mix = functools.lru_cache(maxsize=8)(_build_mix)

# The feature columns in the real view of the work array (2*col = real, 2*col+1 = imag),
# and the factor each is multiplied by.
_DEG = 180.0 / math.pi
_PICK = np.array([3, 5, 30, 26, 1, 29, 31, 2, 37, 39, 24, 25], dtype=np.intp)
_SCALE = np.array([-1, -1, 1, 1, -1, _DEG, _DEG, 1, _DEG, _DEG, 1, 1], dtype=np.float64)
# |column 4..9|: ear line, shoulder line (x3), neck vector, trunk vector.
_LENGTHS = slice(28, 39, 2)

# Flags, True = usable: 0..8 gathered landmark, 9..14 the lengths above not degenerate,
# 15 / 16 a side seen for the neck / trunk.  _GATE[flag, feature]: a False flag makes the
# feature NaN.
_FLAGS = _GATHERED + 8
_EXTRA_FLAGS: dict[str, tuple[int, ...]] = {
    "head_height": (10,),
    "ear_height": (10,),
    "shoulder_width": (10,),
    "face_width": (9, 10),
    "head_pitch": (9,),
    "head_roll": (9,),
    "shoulder_tilt": (10,),
    "head_offset": (10,),
    "neck_inclination": (13, 15),
    "trunk_inclination": (14, 16),
    "shoulder_x": (),
    "shoulder_y": (),
}
_ONE_SIDED = frozenset({"neck_inclination", "trunk_inclination"})
_GATE = np.zeros((_FLAGS, len(FEATURES)), dtype=bool)
for _f, _spec in enumerate(FEATURES):
    if _spec.name not in _ONE_SIDED:  # one-sided features: gated by their side flags
        for _lm in _spec.needs:
            _GATE[np.flatnonzero(np.equal(_GATHER, _lm)), _f] = True
    for _flag in _EXTRA_FLAGS[_spec.name]:
        _GATE[_flag, _f] = True
_GATE.setflags(write=False)

_SHAPE_ERROR = (
    f"landmarks must have shape ({NUM_LANDMARKS}, {_NUM_COLUMNS}) or "
    f"(N, {NUM_LANDMARKS}, {_NUM_COLUMNS}) (x, y, z, visibility per MediaPipe Pose "
    "landmark), got shape {shape}"
)


def compute_features(
    landmarks: npt.ArrayLike, *, aspect: float, min_visibility: float = 0.5
) -> npt.NDArray[np.float64]:
    """Compute the posture features of one or many poses.

    `landmarks` has shape ``(N, 33, 4)`` or ``(33, 4)`` (MediaPipe Pose image landmarks:
    normalised x, y, z, visibility); `aspect` is the image width / height.  Returns a
    float64 array of shape ``(N, len(NAMES))`` (``(1, len(NAMES))`` for a single pose),
    columns in `NAMES` order, NaN where a needed landmark has visibility below
    `min_visibility` or the geometry is degenerate.  A landmark with NaN visibility or
    non-finite coordinates counts as not visible.
    """
    arr = landmarks if type(landmarks) is np.ndarray else np.asarray(landmarks)
    shape = arr.shape
    if shape[-2:] != (NUM_LANDMARKS, _NUM_COLUMNS) or arr.ndim not in (2, 3):
        raise ValueError(_SHAPE_ERROR.format(shape=shape))
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"landmarks must be a real numeric array, got dtype {arr.dtype}")
    if not (aspect > 0.0 and math.isfinite(aspect)):
        raise ValueError(f"aspect (image width / height) must be finite and > 0, got {aspect!r}")
    if not 0.0 <= min_visibility <= 1.0:
        raise ValueError(f"min_visibility must be in [0, 1], got {min_visibility!r}")
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    n = arr.shape[0]

    pts = np.take(arr, _GATHER, axis=1)  # (N, 9, 4)
    if pts.dtype != np.float64:
        pts = pts.astype(np.float64)
    flags = np.empty((n, _FLAGS), dtype=bool)
    ok = flags[:, :_GATHERED]
    with np.errstate(all="ignore"):
        np.greater_equal(pts[:, :, 3], min_visibility, out=ok)  # False for NaN too
        ok &= np.isfinite(pts[:, :, :2].view(np.complex128)[:, :, 0])
        # Unusable points carry no coordinates, so a NaN or inf there cannot leak through
        # the product, and visibility -1.
        pts = np.where(ok[:, :, np.newaxis], pts, _UNUSABLE)
        work = (pts.reshape(n, _NUM_COLUMNS * _GATHERED) @ _mix(float(aspect))).view(np.complex128)
        raw = work.view(np.float64)

        lines = work[:, _LINES]  # orient to point image-right (complex < is lexicographic)
        np.negative(lines, out=lines, where=lines < 0)
        np.divide(work[:, _NUMER], work[:, _DENOM], out=work[:, _NUMER])
        # One-sided features: use the side whose worse-seen landmark is better seen.
        vis = pts[:, :, 3]
        score = np.minimum(vis[:, 1:5], vis[:, 5:9])  # neck L, trunk L, neck R, trunk R
        left, right = score[:, 0:2], score[:, 2:4]
        np.copyto(work[:, _SIDES_L], work[:, _SIDES_R], where=right > left)
        sides = work.imag[:, _SIDES_L]
        np.abs(sides, out=sides)  # angle to "up" = atan2(|dx|, -dy), in [0, 180]
        np.greater_equal(np.maximum(left, right), min_visibility, out=flags[:, 15:17])

        np.abs(work[:, 3:10], out=work.real[:, 13:20])
        np.arctan2(work.imag[:, 4:10], work.real[:, 4:10], out=work.imag[:, 14:20])
        np.greater(raw[:, _LENGTHS], _EPS, out=flags[:, 9:15])
        out = raw[:, _PICK]
        out *= _SCALE
        np.copyto(out, np.nan, where=~flags @ _GATE)
    return out


def as_dict(row: npt.ArrayLike) -> dict[str, float | None]:
    """One feature row (shape ``(F,)`` or ``(1, F)``) as ``{name: value}``.

    NaN (and any other non-finite value) becomes None, so the result is JSON-safe.
    """
    values = np.asarray(row, dtype=np.float64)
    if values.shape not in ((len(NAMES),), (1, len(NAMES))):
        raise ValueError(
            f"as_dict expects one row of {len(NAMES)} features, shape ({len(NAMES)},) or "
            f"(1, {len(NAMES)}), got shape {values.shape}"
        )
    return {
        name: (v + 0.0 if math.isfinite(v) else None)  # + 0.0: no -0.0
        for name, v in zip(NAMES, values.reshape(-1).tolist(), strict=True)
    }
