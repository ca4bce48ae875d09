"""On battery power: a `HoldSensor` for `pause_on_battery`, so that the camera and the
model rest while the laptop runs on its battery. The power source is read at most every
`POLL` seconds (the loop asks at every tick; the answer changes rarely).

- Linux: /sys/class/power_supply. On battery = a system battery is there (type Battery,
  not a device's: `scope` Device is a mouse's or a headset's) and no external supply
  (Mains, USB...) is online; with no external supply listed at all, the battery's
  `status` Discharging decides.
- macOS: `pmset -g batt`, whose first line says "drawing from 'Battery Power'".
- Windows: `GetSystemPowerStatus` (kernel32): `ACLineStatus` 0 = offline.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from posture.ports import Hold

ON_BATTERY = Hold("on_battery", "on battery power (pause_on_battery)")
#: seconds between two readings of the power source
POLL = 10.0
SYSFS = Path("/sys/class/power_supply")

#: None: cannot tell (no power information at all)
Reading = Callable[[], "bool | None"]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def linux_on_battery(root: Path = SYSFS) -> bool | None:
    """From the power supplies under `root`; None when there is no such folder."""
    if not root.is_dir():
        return None
    external: list[bool] = []
    discharging: list[bool] = []
    for supply in sorted(root.iterdir()):
        kind = _read(supply / "type")
        if kind == "Battery":
            if _read(supply / "scope") == "Device" or _read(supply / "present") == "0":
                continue
            discharging.append(_read(supply / "status") == "Discharging")
        elif kind:
            external.append(_read(supply / "online") == "1")
    if not discharging:
        return False  # no system battery: a desktop
    if external:
        return not any(external)
    return any(discharging)


def macos_on_battery(
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> bool | None:
    """From `pmset -g batt`; None when pmset is missing or fails."""
    pmset = shutil.which("pmset") or "/usr/bin/pmset"
    try:
        done = run([pmset, "-g", "batt"], capture_output=True, text=True, timeout=2, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0 or not done.stdout:
        return None
    return "'Battery Power'" in done.stdout.splitlines()[0]


def _system_power_status() -> tuple[int, int]:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    class SystemPowerStatus(ctypes.Structure):
        _fields_ = [
            ("ACLineStatus", wintypes.BYTE),
            ("BatteryFlag", wintypes.BYTE),
            ("BatteryLifePercent", wintypes.BYTE),
            ("SystemStatusFlag", wintypes.BYTE),
            ("BatteryLifeTime", wintypes.DWORD),
            ("BatteryFullLifeTime", wintypes.DWORD),
        ]

    status = SystemPowerStatus()
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
    if not kernel32.GetSystemPowerStatus(ctypes.byref(status)):
        raise OSError("GetSystemPowerStatus failed")
    return status.ACLineStatus & 0xFF, status.BatteryFlag & 0xFF


def windows_on_battery(status: Callable[[], tuple[int, int]] = _system_power_status) -> bool | None:
    """From (ACLineStatus, BatteryFlag): 0 = offline; 255 = unknown; flag 128 = no
    system battery."""
    try:
        line, flag = status()
    except OSError:
        return None
    if line == 255:
        return None
    return line == 0 and flag != 128


def platform_reading(platform: str = sys.platform) -> Reading:
    if platform == "win32":
        return windows_on_battery
    if platform == "darwin":
        return macos_on_battery
    return linux_on_battery


class BatteryHold:
    """Holds the monitor while on battery (`reading`: the platform's, or a fake)."""

    name = "battery (pause_on_battery)"

    def __init__(
        self,
        reading: Reading | None = None,
        *,
        poll: float = POLL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reading = reading or platform_reading()
        self.poll, self._clock = poll, clock
        self._at: float | None = None
        self._on_battery = False

    def start(self, wake: Callable[[], None]) -> None:
        """Raises when the power source cannot be told at all (the loop logs it once)."""
        if self._reading() is None:
            raise OSError("cannot tell the power source; pause_on_battery has no effect")

    def hold(self) -> Hold | None:
        now = self._clock()
        if self._at is None or now - self._at >= self.poll:
            self._at = now
            self._on_battery = bool(self._reading())
        return ON_BATTERY if self._on_battery else None

    def close(self) -> None:
        pass
