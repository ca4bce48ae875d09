"""Durations as people type them for `posture pause --for` and `posture snooze`: '30m',
'1h', '2h', '1h30m', '90s', or 'tomorrow' (until the next local midnight). Pure: the time
now is passed in."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

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
    return total
