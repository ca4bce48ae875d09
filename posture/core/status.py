"""What the running monitor sees, as one typed value: `posture status`, `status --json`
and (later) a tray read it.

`Status` is built by the monitor's live status (`posture.app.monitor.live`), sent as a
JSON object by the control protocol (`posture.adapters.control.protocol`) and read back
into a `Status` by the CLI. Its JSON form is a public interface (README, "status --json"):
a field may be added under the same `SCHEMA`; renaming or removing one, or changing its
meaning, needs a new `SCHEMA`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from posture.errors import PostureError

#: The version of the JSON form; a reader refuses a newer one.
SCHEMA = 1


#: Fields a monitor of an earlier version of schema 1 may not send.
_OPTIONAL = ("pid", "history", "hold", "holder", "holder_pid", "quiet", "held_nudges", "schema")


@dataclass(frozen=True)
class Status:
    #: "starting", an episode state ("upright", "deviating", "slouching", "recovering",
    #: "away", "uncertain"), "paused", or a hold (`posture.core.vocab.HOLDS`:
    #: "camera_in_use", "locked", "asleep", "on_battery")
    state: str
    #: the last look's verdict ("good", "bad", "uncertain", "away"), "starting" before
    #: the first, "unknown" while the camera is in fault
    verdict: str
    #: the problems the last look was bad for
    problems: tuple[str, ...]
    #: ISO 8601 local time since when `state` holds; None before the first look
    since: str | None
    #: this session: upright share of the time seen at the desk (0-100), None if none
    upright_percent: float | None
    seen_seconds: int
    upright_seconds: float
    monitored_seconds: float
    #: today (since local midnight, earlier sessions included)
    upright_percent_today: float | None
    seen_seconds_today: float
    upright_seconds_today: float
    monitored_seconds_today: float
    nudges_today: int
    #: this session
    nudges: int
    episodes: int
    #: "starting", "ok", "released (paused)" or "fault: <why>; retrying in N s"
    camera: str
    #: ISO time, "resume" (until `posture resume`), or None when not paused
    paused_until: str | None
    snoozed_until: str | None
    next_check: str | None
    #: the calibration looks stale
    stale: bool
    profile: str
    source: str
    notifier: str
    #: the monitor's process id (set by the process that answers)
    pid: int | None = None
    #: None while the history is written, else e.g. "disk full; keeping 120 samples in
    #: memory, retrying in 30 s"
    history: str | None = None
    #: during a hold: why, e.g. "camera in use by zoom (pid 4242)"; else None
    hold: str | None = None
    #: the program that has the camera ("camera_in_use"), when it is known
    holder: str | None = None
    holder_pid: int | None = None
    #: why nudges are held back now ("do not disturb"), None when they are not
    quiet: str | None = None
    #: this session's nudges held back (do-not-disturb, a presentation)
    held_nudges: int = 0
    schema: int = field(default=SCHEMA)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of `status --json` and of the control reply."""
        out = dataclasses.asdict(self)
        out["problems"] = list(self.problems)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Status:
        """A `Status` from its JSON object; keys this version does not know are ignored
        (a newer monitor under the same schema), a newer schema or a missing key is a
        `PostureError`."""
        schema = data.get("schema")
        if not isinstance(schema, int) or schema > SCHEMA:
            raise PostureError(
                f"the monitor speaks status schema {schema!r}, this posture knows {SCHEMA}: "
                "restart the monitor with this posture (`posture stop`, `posture start`)"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        missing = sorted(n for n in names - values.keys() if n not in _OPTIONAL)
        if missing:
            raise PostureError(f"the monitor's status lacks {', '.join(missing)}")
        values["problems"] = tuple(values["problems"] or ())
        return cls(**values)


# --- the status in words: `posture status` (posture.cli.monitor) and the tray's tooltip
# (posture.core.tray) say the same things the same way ------------------------------


def _same(iso: str) -> str:
    return iso


def state_text(s: Status, when: Callable[[str], str] = _same) -> str:
    """What the monitor does now: "upright since 14:02", "locked: the screen is locked;
    not looking". `when` writes a time (the status's ISO text as it is, by default)."""
    if s.hold:
        return f"{s.state.replace('_', ' ')}: {s.hold}; not looking"
    since = f" since {when(s.since)}" if s.since and s.state != "paused" else ""
    return f"{s.state}{since}"


def posture_text(s: Status) -> str:
    """The last look's verdict and its problems: "bad: slouch, neck"."""
    problems = ": " + ", ".join(s.problems) if s.problems else ""
    return f"{s.verdict}{problems}"


def today_text(s: Status) -> str:
    """Today's figures so far: "upright 82% of the time seen, 3 nudge(s)"."""
    today = s.upright_percent_today
    seen = f"upright {today:.0f}% of the time seen" if today is not None else "nothing seen yet"
    return f"{seen}, {s.nudges_today} nudge(s)"


def paused_text(s: Status, when: Callable[[str], str] = _same) -> str | None:
    """Until when the monitor is paused ("until `posture resume`", "until 15:30"), None
    when it is not."""
    until = s.paused_until
    if not until:
        return None
    return "until `posture resume`" if until == "resume" else f"until {when(until)}"


def snoozed_text(s: Status, when: Callable[[str], str] = _same) -> str | None:
    """While snoozed, "no nudges until 15:30"; None otherwise."""
    return f"no nudges until {when(s.snoozed_until)}" if s.snoozed_until else None
