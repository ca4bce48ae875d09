"""posture's words, each defined once: verdicts, problems, episode states, and how a length
of time is written for people.

Everything that names a verdict or a problem (the judgment, the episode tracker, the
history's columns, the statistics, the report, `status`) imports it from here, so a new
problem is one line in this file, and two parts of the program can never disagree on a
spelling or an order.
"""

from __future__ import annotations

import math
from typing import Literal

#: What one look found: a calibrated person upright (`good`) or not (`bad`), nobody there
#: (`away`), or a person whose key landmarks could not be seen (`uncertain`).
Verdict = Literal["good", "bad", "away", "uncertain"]
#: Every verdict, in the order the statistics index them.
VERDICTS: tuple[Verdict, ...] = ("good", "bad", "away", "uncertain")
#: The verdicts of a look that saw the user at the desk.
PRESENT: frozenset[str] = frozenset({"good", "bad"})

#: The posture problems the judgment can find, in the order of the history's bitmask.
PROBLEMS: tuple[str, ...] = ("slouch", "too_close", "leaning", "head_tilt", "neck")
#: What each problem means, for messages and the report.
PROBLEM_TEXT: dict[str, str] = {
    "slouch": "slouching / head forward",
    "too_close": "too close to the screen",
    "leaning": "leaning sideways",
    "head_tilt": "head tilted",
    "neck": "neck bent forward",
}

#: Why the monitor does not look for a while although it runs, each a `status` state and
#: a history period: another program has the camera (a video call), the screen is
#: locked, the machine is going to sleep, the laptop runs on its battery (only with
#: `pause_on_battery`). The camera is released for all of them.
Hold = Literal["camera_in_use", "locked", "asleep", "on_battery"]
HOLDS: tuple[Hold, ...] = ("camera_in_use", "locked", "asleep", "on_battery")
#: Every kind of history period: a pause, a snooze, nobody there, a camera fault, a hold.
#: How the report names the time of each hold: the monitor ran but did not look.
HOLD_TEXT: dict[str, str] = {
    "camera_in_use": "camera in use by another program",
    "locked": "screen locked",
    "asleep": "asleep",
    "on_battery": "on battery power",
}
PERIOD_KINDS: tuple[str, ...] = ("pause", "snooze", "away", "camera_fault", *HOLDS)

#: Where the episode tracker stands.
State = Literal["upright", "deviating", "slouching", "recovering", "away", "uncertain"]


def is_present(verdict: str) -> bool:
    """Whether a look with this verdict saw the user at the desk."""
    return verdict in PRESENT


def span(seconds: float | None) -> str:
    """A length for people: ``45 s``, ``3 min 05 s``, ``2 h 07 min``; an em dash for none.

    Seconds are shown below an hour only where they are not zero, so a whole number of
    minutes reads ``12 min``."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def span_minutes(seconds: float) -> str:
    """A length to the nearest minute from a minute on: ``45 s``, ``12 min``,
    ``2 h 05 min`` (the terminal report, whose columns read at a glance)."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def span_words(seconds: float) -> str:
    """A length in a sentence: ``45 seconds``, ``12 minutes`` (notifications)."""
    if seconds < 90:
        return f"{round(seconds)} seconds"
    return f"{round(seconds / 60)} minutes"
