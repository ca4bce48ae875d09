"""Local time for the report: fixed-offset zone names, local hours and days of UTC milliseconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

import numpy as np

from posture.core.stats.rows import _EPOCH, DAY_MS, HOUR_MS, I64, _i64

# --- local time ---------------------------------------------------------------------------


def zone_name(offset: timedelta) -> str:
    """The `Report.tz` name of a fixed offset, "UTC+05:30" (`zone` reads it back)."""
    minutes = round(offset.total_seconds() / 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone(name: str) -> tzinfo:
    """The tzinfo for a `Report.tz` name: an IANA key ("Europe/Paris"), "UTC", or a fixed
    offset written "UTC+05:30"."""
    if name.startswith("UTC") and len(name) == 9 and name[3] in "+-" and name[6] == ":":
        sign = 1 if name[3] == "+" else -1
        return timezone(sign * timedelta(hours=int(name[4:6]), minutes=int(name[7:9])))
    if name == "UTC":
        return timezone.utc
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _offset_ms(t_ms: int, tz: tzinfo) -> int:
    offset = datetime.fromtimestamp(t_ms / 1000, tz).utcoffset()
    return 0 if offset is None else round(offset.total_seconds() * 1000)


def _groups(keys: I64) -> tuple[I64, I64]:
    """(sorted distinct keys, index of each key among them); linear when already sorted."""
    if len(keys) == 0:
        return keys.copy(), keys.copy()
    change = keys[1:] != keys[:-1]
    if bool(np.all(keys[1:] >= keys[:-1])):
        inverse = np.zeros(len(keys), dtype=np.int64)
        np.cumsum(change, out=inverse[1:])
        return keys[np.r_[True, change]], inverse
    unique, inverse = np.unique(keys, return_inverse=True)
    return unique.astype(np.int64), inverse.astype(np.int64).ravel()


@dataclass(frozen=True, eq=False)
class LocalTime:
    """Each sample's local calendar, in the zone passed to `local_time`."""

    #: UTC ms at which the sample's local clock hour began
    hour_start_ms: I64
    #: the local clock hour, 0-23
    clock_hour: I64
    #: the local date, in days since 1970-01-01
    day: I64


def local_time(t_ms: I64, tz: tzinfo) -> LocalTime:
    """Local clock hours and dates of many times at once: the zone's offset is looked up
    once per quarter hour that holds samples (every zone's offset, and so every change of
    it, is a whole number of quarter hours; finer steps are used for the rare ones that
    are not)."""
    for unit in (900_000, 60_000, 1_000):
        buckets, inverse = _groups(t_ms // unit)
        offsets = _i64([_offset_ms(int(b) * unit, tz) for b in buckets])
        if not np.any(offsets % unit):
            break
    start = buckets * unit
    local = start + offsets
    hour_start = start - local % HOUR_MS
    return LocalTime(
        hour_start_ms=hour_start[inverse],
        clock_hour=((local // HOUR_MS) % 24)[inverse],
        day=(local // DAY_MS)[inverse],
    )


def local_day(t_ms: int, tz: tzinfo) -> int:
    """One time's local date, in days since 1970-01-01."""
    return int((t_ms + _offset_ms(t_ms, tz)) // DAY_MS)


def day_iso(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).isoformat()
