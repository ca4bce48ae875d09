"""What the tray shows, as plain values: the icon's state, its title and tooltip, and the
menu. Pure: `posture.app.tray` builds a `TrayView` from the monitor's typed status, and a
`posture.ports.TrayHost` (a StatusNotifierItem on Linux) puts it on the desktop.
"""

from __future__ import annotations

from dataclasses import dataclass

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
