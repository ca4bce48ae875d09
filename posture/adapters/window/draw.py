"""The preview's picture: a frame with its `Scene` painted by OpenCV, and a side panel.

Only plain drawing, no window: the window process (`child.py`) shows what `render`
returns, and a test or the screenshot script can call it directly. OpenCV's Hershey fonts
are ASCII only, so a gate's state is a drawn mark (a tick, a cross, a dash) beside its
words, never a Unicode sign.
"""

from __future__ import annotations

import numpy as np

from posture.core.preview import Band, Scene
from posture.core.vocab import PROBLEM_TEXT

# BGR. The landmarks' colours are saturated on purpose: a photograph seldom has these
# pixels, so a landmark is easy to see (and to count in a screenshot).
SEEN = (0, 255, 0)
NOT_SEEN = (0, 0, 255)
BOX = (0, 200, 255)
PANEL = (38, 38, 38)
TEXT = (235, 235, 235)
DIM = (150, 150, 150)
OK = SEEN
NOT_OK = NOT_SEEN
BAND = (90, 120, 90)
BAR = (255, 190, 60)
VERDICT_COLOUR = {"good": SEEN, "bad": NOT_SEEN, "away": DIM, "uncertain": DIM}

#: The picture is shown at most this large (a 1080p camera fits a laptop screen).
MAX_PICTURE = (640, 480)
PANEL_WIDTH = 300
LINE = 22
FONT_SCALE = 0.5


def _font() -> int:
    import cv2

    return int(cv2.FONT_HERSHEY_SIMPLEX)


def _text(canvas: np.ndarray, text: str, x: int, y: int, colour: tuple[int, int, int]) -> None:
    import cv2

    ascii_text = text.encode("ascii", "replace").decode("ascii")
    cv2.putText(canvas, ascii_text, (x, y), _font(), FONT_SCALE, colour, 1, cv2.LINE_AA)


def _mark(canvas: np.ndarray, ok: bool | None, x: int, y: int) -> None:
    """A tick (ok), a cross (not) or a dash (not known yet), 12 px, baseline at y."""
    import cv2

    if ok is True:
        pts = np.array([[x, y - 6], [x + 4, y - 1], [x + 12, y - 12]], np.int32)
        cv2.polylines(canvas, [pts], False, OK, 2, cv2.LINE_AA)
    elif ok is False:
        cv2.line(canvas, (x + 1, y - 11), (x + 11, y - 1), NOT_OK, 2, cv2.LINE_AA)
        cv2.line(canvas, (x + 1, y - 1), (x + 11, y - 11), NOT_OK, 2, cv2.LINE_AA)
    else:
        cv2.line(canvas, (x + 1, y - 6), (x + 11, y - 6), DIM, 2)


def _picture(rgb: np.ndarray, mirrored: bool) -> np.ndarray:
    import cv2

    height, width = rgb.shape[:2]
    scale = min(1.0, MAX_PICTURE[0] / width, MAX_PICTURE[1] / height)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return cv2.flip(bgr, 1) if mirrored else bgr


def _overlay(picture: np.ndarray, scene: Scene) -> None:
    import cv2

    height, width = picture.shape[:2]
    if scene.box is not None:
        x0, y0, x1, y1 = scene.box
        top_left = (round(x0 * (width - 1)), round(y0 * (height - 1)))
        bottom_right = (round(x1 * (width - 1)), round(y1 * (height - 1)))
        colour = NOT_OK if scene.box_ok is False else BOX  # red: a shoulder outside it
        cv2.rectangle(picture, top_left, bottom_right, colour, 2)
    for point in scene.points:
        centre = (round(point.x * (width - 1)), round(point.y * (height - 1)))
        cv2.circle(picture, centre, 8, (0, 0, 0), -1, cv2.LINE_AA)
        cv2.circle(picture, centre, 6, SEEN if point.seen else NOT_SEEN, -1, cv2.LINE_AA)
    if scene.countdown is not None:
        text = str(scene.countdown)
        scale, thick = 4.0, 8
        (tw, th), _ = cv2.getTextSize(text, _font(), scale, thick)
        origin = ((width - tw) // 2, (height + th) // 2)
        cv2.putText(picture, text, origin, _font(), scale, (0, 0, 0), thick + 6, cv2.LINE_AA)
        cv2.putText(picture, text, origin, _font(), scale, TEXT, thick, cv2.LINE_AA)


def _band(canvas: np.ndarray, band: Band, x: int, y: int, width: int) -> None:
    """One feature: its name and value, then a bar whose middle half is the calibrated
    band (median ± tolerance) and a tick where the value is (red outside the band)."""
    import cv2

    value = "not seen" if band.value is None else f"{band.value:.2f}"
    _text(canvas, f"{band.feature}  {value}", x, y, TEXT)
    half = (band.high - band.low) or 1.0
    lo, hi = band.low - half / 2, band.high + half / 2  # the band is the middle half

    def at(v: float) -> int:
        return x + round((min(max(v, lo), hi) - lo) / (hi - lo) * width)

    top = y + 5
    cv2.rectangle(canvas, (x, top), (x + width, top + 8), (70, 70, 70), -1)
    cv2.rectangle(canvas, (at(band.low), top), (at(band.high), top + 8), BAND, -1)
    cv2.line(canvas, (at(band.median), top), (at(band.median), top + 8), DIM, 1)
    if band.value is not None:
        inside = band.low <= band.value <= band.high
        cx = at(band.value)
        cv2.rectangle(canvas, (cx - 2, top - 3), (cx + 2, top + 11), OK if inside else NOT_OK, -1)


def render(rgb: np.ndarray, scene: Scene) -> np.ndarray:
    """The window's picture (BGR): the frame (mirrored as the scene says) with the
    landmarks, the box and the countdown on it, and the panel at its right."""
    import cv2

    picture = _picture(rgb, scene.mirrored)
    _overlay(picture, scene)
    rows = 4 + len(scene.gates) + (2 if scene.progress is not None else 0)
    if scene.verdict is not None:
        rows += 2 + len(scene.problems) + 2 * len(scene.bands)
    height = max(picture.shape[0], rows * LINE + 20)
    canvas = np.full((height, picture.shape[1] + PANEL_WIDTH, 3), PANEL, np.uint8)
    canvas[: picture.shape[0], : picture.shape[1]] = picture
    x = picture.shape[1] + 14
    y = 28
    _text(canvas, scene.title, x, y, TEXT)
    y += LINE + 6
    for gate in scene.gates:
        _mark(canvas, gate.ok, x, y)
        _text(canvas, gate.label, x + 22, y, TEXT if gate.ok is not None else DIM)
        y += LINE
    if scene.progress is not None:
        y += 6
        bar = PANEL_WIDTH - 28
        cv2.rectangle(canvas, (x, y - 12), (x + bar, y), DIM, 1)
        cv2.rectangle(canvas, (x, y - 12), (x + round(bar * scene.progress), y), BAR, -1)
        y += LINE
    if scene.message:
        _text(canvas, scene.message, x, y, DIM)
        y += LINE
    if scene.verdict is not None:
        y += 6
        score = "" if scene.score is None else f"  score {scene.score:.2f}"
        _text(canvas, f"{scene.verdict}{score}", x, y, VERDICT_COLOUR.get(scene.verdict, TEXT))
        y += LINE
        for problem in scene.problems:
            _text(canvas, PROBLEM_TEXT.get(problem, problem), x, y, NOT_OK)
            y += LINE
        y += 4
        for band in scene.bands:
            _band(canvas, band, x, y, PANEL_WIDTH - 28)
            y += 2 * LINE
    _text(canvas, "Esc: cancel" if scene.verdict is None else "Esc: close", x, height - 12, DIM)
    return canvas
