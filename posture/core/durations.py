"""Durations as people type them for `posture pause --for` and `posture snooze`: '30m',
'1h', '2h', '1h30m', '90s', or 'tomorrow' (until the next local midnight). Pure: the time
now is passed in."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

#: The longest pause or snooze: a week. Longer is `posture stop`; a bound also keeps
#: every deadline a date the clock can show (99999999 h is the year 13434).
MAX_SECONDS = 7 * 86_400.0

_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(text: str, *, now: datetime) -> float:
    """Seconds for `text`; 'tomorrow' counts from `now` (an aware local time) to the next
    midnight. ValueError with a usable message otherwise."""
    text = text.strip().lower()
    if text == "tomorrow":
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight - now).total_seconds()
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groups()):
        raise ValueError(
            f"'{text}' is not a duration: use for example 30m, 1h, 2h, 90s or tomorrow"
        )
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"'{text}' is not a positive duration")
    if total > MAX_SECONDS:
        raise ValueError(
            f"'{text}' is longer than the 7 days a pause or snooze may last: "
            "give a shorter duration, or `posture stop` the monitor"
        )
    return total


def checked_seconds(value: object) -> float:
    """A duration that came over the control channel: a finite number of seconds, more
    than 0 and at most `MAX_SECONDS`; ValueError otherwise (NaN would pause forever)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"seconds must be a number, not {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be more than 0 and at most {MAX_SECONDS:.0f}, not {value}")
    return seconds
