"""What the tray shows, as plain values: the icon's state, its title and tooltip, and the
menu; and the icon of each state as pixels. Pure: `view_of` turns the monitor's typed
status into a `TrayView` (`posture.app.tray` polls it), and a `posture.ports.TrayHost` (a
StatusNotifierItem on Linux) puts it on the desktop with `icon_pixels`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from posture.core.status import (
    Status,
    paused_text,
    posture_text,
    snoozed_text,
    state_text,
    today_text,
)

#: The icon's states; each has its own shape as well as its own colour, so that it reads
#: without colour vision.
ICON_STATES = (
    "upright",
    "slouching",
    "away",
    "paused",
    "locked",
    "camera_in_use",
    "fault",
    "starting",
    "stopped",
)

# The menu's item ids: stable, > 0 (0 is dbusmenu's root).
STATUS = 1
PAUSE_30M = 2
PAUSE_1H = 3
PAUSE_TOMORROW = 4
RESUME = 5
SNOOZE_15M = 6
CALIBRATE = 7
REPORT = 8
AUTOSTART = 9
QUIT = 10
START = 11
#: Separators take ids from here up.
SEPARATORS = 20


@dataclass(frozen=True)
class MenuItem:
    """One entry of the tray's menu."""

    id: int
    #: "" for a separator
    label: str
    enabled: bool = True
    #: None: not a checkbox; True/False: a checkbox and its state
    checked: bool | None = None
    separator: bool = False


@dataclass(frozen=True)
class TrayView:
    """Everything the tray shows at one moment."""

    #: one of `ICON_STATES`
    state: str
    #: e.g. "posture: upright"
    title: str
    #: the status line
    tooltip: str
    menu: tuple[MenuItem, ...]


# --- the icon: a shape and a colour per state --------------------------------------------
#
# Drawn from signed distance fields (distance to the shape's edge, negative inside) in
# units of the icon's side, so one drawing serves every size; a pixel's coverage is its
# distance in pixels from the edge (clip(0.5 - d, 0, 1)), which antialiases the edge the
# way a renderer does at 16 or 22 px without supersampling. A darker rim of about one
# pixel keeps every icon readable on a light panel as on a dark one.

#: Fill colours (RGB), from the Okabe-Ito palette where it has one that fits.
COLOURS: dict[str, tuple[int, int, int]] = {
    "upright": (0, 158, 115),  # bluish green
    "slouching": (213, 94, 0),  # vermillion
    "away": (160, 160, 160),
    "paused": (0, 114, 178),  # blue
    "locked": (150, 95, 170),
    "camera_in_use": (230, 159, 0),  # orange
    "fault": (200, 30, 30),
    "starting": (86, 180, 233),  # sky blue
    "stopped": (120, 120, 120),
}


def _circle(x: Any, y: Any, cx: float, cy: float, r: float) -> Any:
    return np.hypot(x - cx, y - cy) - r


def _box(x: Any, y: Any, cx: float, cy: float, hw: float, hh: float, r: float = 0.0) -> Any:
    """A rectangle of half sizes hw, hh with corners rounded by r."""
    qx = np.abs(x - cx) - (hw - r)
    qy = np.abs(y - cy) - (hh - r)
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    return outside + np.minimum(np.maximum(qx, qy), 0.0) - r


def _segment(x: Any, y: Any, a: tuple[float, float], b: tuple[float, float], r: float) -> Any:
    """A stroke of half width r from a to b, round ends."""
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    t = np.clip(((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(x - ax - t * dx, y - ay - t * dy) - r


def _convex(x: Any, y: Any, points: tuple[tuple[float, float], ...], r: float = 0.0) -> Any:
    """A convex polygon (points clockwise on screen, y down), its corners rounded by r:
    the largest distance to its edges' lines (exact inside, a close bound outside)."""
    d = np.full(np.shape(x), -np.inf)
    for (ax, ay), (bx, by) in zip(points, points[1:] + points[:1], strict=True):
        nx, ny = by - ay, ax - bx  # the outward normal of a clockwise edge
        norm = math.hypot(nx, ny)
        d = np.maximum(d, ((x - ax) * nx + (y - ay) * ny) / norm)
    return d + r


def _shape(state: str, x: Any, y: Any) -> Any:
    """The signed distance (icon units) to the state's shape."""
    if state == "upright":  # a filled disc: all is well
        return _circle(x, y, 0.5, 0.5, 0.42)
    if state == "slouching":  # a triangle pointing down: the head sinks
        return _convex(x, y, ((0.1, 0.15), (0.9, 0.15), (0.5, 0.88)), 0.0) - 0.035
    if state == "away":  # a hollow ring: nobody there
        return np.abs(_circle(x, y, 0.5, 0.5, 0.35)) - 0.065
    if state == "paused":  # two bars
        left = _box(x, y, 0.31, 0.5, 0.12, 0.38, 0.04)
        return np.minimum(left, _box(x, y, 0.69, 0.5, 0.12, 0.38, 0.04))
    if state == "locked":  # a padlock: body, shackle and keyhole
        body = _box(x, y, 0.5, 0.66, 0.36, 0.26, 0.06)
        shackle = np.maximum(np.abs(_circle(x, y, 0.5, 0.38, 0.2)) - 0.065, y - 0.45)
        return np.maximum(np.minimum(body, shackle), -_circle(x, y, 0.5, 0.65, 0.075))
    if state == "camera_in_use":  # a camera: body and viewfinder, the lens a ring
        body = np.minimum(
            _box(x, y, 0.5, 0.6, 0.45, 0.28, 0.07), _box(x, y, 0.5, 0.3, 0.16, 0.08, 0.03)
        )
        lens_gap = np.abs(_circle(x, y, 0.5, 0.6, 0.14)) - 0.045
        return np.maximum(body, -lens_gap)
    if state == "fault":  # an X
        return np.minimum(
            _segment(x, y, (0.2, 0.2), (0.8, 0.8), 0.11),
            _segment(x, y, (0.8, 0.2), (0.2, 0.8), 0.11),
        )
    if state == "starting":  # a dotted ring: on its way
        angles = np.arange(8) * (math.pi / 4)
        dots = [
            _circle(x, y, 0.5 + 0.36 * math.cos(a), 0.5 + 0.36 * math.sin(a), 0.095) for a in angles
        ]
        return np.minimum.reduce(dots)
    if state == "stopped":  # a square: stop
        return _box(x, y, 0.5, 0.5, 0.36, 0.36, 0.05)
    raise ValueError(f"unknown icon state {state!r}; one of {', '.join(ICON_STATES)}")


def icon_pixels(state: str, size: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The icon of `state` as a (size, size, 4) RGBA array (straight alpha), its shape
    as telling as its colour, so that it reads without colour vision."""
    if size < 8:
        raise ValueError(f"an icon of {size} px is too small to draw; 8 px at least")
    centres = (np.arange(size, dtype=np.float64) + 0.5) / size
    x, y = np.meshgrid(centres, centres)
    d = _shape(state, x, y) * size  # pixels from the edge, negative inside
    alpha = np.clip(0.5 - d, 0.0, 1.0)
    rim = max(1.0, size / 22)
    inner = np.clip(-d - rim + 0.5, 0.0, 1.0)[..., None]  # 0 on the rim, 1 well inside
    fill = np.array(COLOURS[state], dtype=np.float64)
    colour = fill * 0.55 + (fill - fill * 0.55) * inner
    out = np.empty((size, size, 4), dtype=np.uint8)
    out[..., :3] = np.rint(colour).astype(np.uint8)
    out[..., 3] = np.rint(alpha * 255).astype(np.uint8)
    return out


# --- the view: the icon's state, its words and the menu, from the status -------------------

#: Title words of the states whose word is not the icon state's own.
_TITLE_WORDS = {"camera_in_use": "camera in use", "asleep": "asleep", "on_battery": "on battery"}


def icon_state(status: Status | None, *, error: str | None = None, starting: bool = False) -> str:
    """Which icon: the monitor's state (a slouch being confirmed is still upright; one
    ending is still a slouch), a pause or snooze, a hold, a camera fault; without a
    status: starting, a fault of the channel (`error`), or stopped."""
    if status is None:
        return "starting" if starting else "fault" if error else "stopped"
    s = status
    if s.state == "paused" or s.paused_until or s.snoozed_until:
        return "paused"
    if s.state == "camera_in_use":
        return "camera_in_use"
    if s.state in ("locked", "asleep"):
        return "locked"
    if s.state == "on_battery":
        return "paused"
    if s.camera.startswith("fault"):
        return "fault"
    if s.state == "starting":
        return "starting"
    if s.state in ("upright", "deviating"):
        return "upright"
    if s.state in ("slouching", "recovering"):
        return "slouching"
    return "away"  # away, uncertain


def clock_text(iso: str, now: datetime) -> str:
    """A time of the status for a glance: "14:02" today, "tomorrow 00:00", else the day
    ("Mon 7 Dec 09:00"); the text as it came when it is not an ISO time."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if when.tzinfo is not None and now.tzinfo is not None:
        when = when.astimezone(now.tzinfo)
    days = (when.date() - now.date()).days
    hm = when.strftime("%H:%M")
    if days == 0:
        return hm
    if days == 1:
        return f"tomorrow {hm}"
    return f"{when.strftime('%a')} {when.day} {when.strftime('%b')} {hm}"


def _title(status: Status | None, state: str) -> str:
    if status is not None and status.snoozed_until and not status.paused_until:
        word = "snoozed"
    elif status is not None and status.state in _TITLE_WORDS:
        word = _TITLE_WORDS[status.state]
    elif status is not None and state == "fault":
        word = "camera fault"
    else:
        word = _TITLE_WORDS.get(state, state.replace("_", " "))
    return f"posture: {word}"


def _lines(status: Status, now: datetime) -> list[str]:
    """The tooltip's lines: `posture status`'s wording, times for a glance."""

    def when(iso: str) -> str:
        return clock_text(iso, now)

    s = status
    lines = [state_text(s, when), f"posture {posture_text(s)}", f"today {today_text(s)}"]
    if paused := paused_text(s, when):
        lines.append(f"paused {paused}")
    if snoozed := snoozed_text(s, when):
        lines.append(f"snoozed, {snoozed}")
    if s.camera.startswith("fault"):
        lines.append(f"camera {s.camera}")
    if s.history:
        lines.append(f"history {s.history}")
    if s.stale:
        lines.append("calibration looks stale: Calibrate… in this menu")
    return lines


def view_of(
    status: Status | None,
    *,
    error: str | None = None,
    autostart: bool,
    now: datetime,
    starting: bool = False,
    calibrating: bool = False,
) -> TrayView:
    """What the tray shows for the monitor's `status` (None: no monitor answers; then
    `error` is why the channel failed, if it did, and `starting` whether the tray is
    starting one). `autostart`: whether posture starts at login; `now`: the local time
    (aware), for the times shown; `calibrating`: a calibration the tray started runs."""
    state = icon_state(status, error=error, starting=starting)
    if status is not None:
        lines = _lines(status, now)
    elif starting:
        lines = ["starting the monitor…"]
    elif error:
        lines = [f"fault: {error}"]
    else:
        lines = ["not running: Start posture in this menu starts it"]
    menu: list[MenuItem] = [MenuItem(STATUS, lines[0], enabled=False), _separator(0)]
    if status is None:
        label = "Starting posture…" if starting else "Start posture"
        menu.append(MenuItem(START, label, enabled=not starting))
    else:
        paused = bool(status.paused_until) or status.state == "paused"
        menu += [
            MenuItem(PAUSE_30M, "Pause 30 min"),
            MenuItem(PAUSE_1H, "Pause 1 h"),
            MenuItem(PAUSE_TOMORROW, "Pause until tomorrow"),
            MenuItem(RESUME, "Resume", enabled=paused or bool(status.snoozed_until)),
            MenuItem(SNOOZE_15M, "Snooze 15 min", enabled=not paused),
        ]
    menu += [
        _separator(1),
        MenuItem(
            CALIBRATE, "Calibrating…" if calibrating else "Calibrate…", enabled=not calibrating
        ),
        MenuItem(REPORT, "Today's report"),
        MenuItem(AUTOSTART, "Start at login", checked=autostart),
        _separator(2),
        MenuItem(QUIT, "Quit posture"),
    ]
    return TrayView(
        state=state, title=_title(status, state), tooltip="\n".join(lines), menu=tuple(menu)
    )


def _separator(n: int) -> MenuItem:
    return MenuItem(SEPARATORS + n, "", separator=True)
