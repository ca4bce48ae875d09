"""The tray's pure core (`posture.core.tray`): the icon of every state, and the view (icon
state, title, tooltip, menu) of a status. Statuses are built by hand here (the pure core's
unit tests); tests/test_tray.py follows a real monitor's."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from posture.cli.monitor import format_status
from posture.core import tray
from posture.core.status import Status
from posture.core.tray import ICON_STATES, icon_pixels, icon_state, view_of

ZONE = timezone(timedelta(hours=1))
NOW = datetime(2026, 12, 2, 14, 30, tzinfo=ZONE)


def status(**changes: object) -> Status:
    base = Status(
        state="upright",
        verdict="good",
        problems=(),
        since="2026-12-02T14:02:10+01:00",
        upright_percent=90.0,
        seen_seconds=600,
        upright_seconds=540.0,
        monitored_seconds=620.0,
        upright_percent_today=82.4,
        seen_seconds_today=3600.0,
        upright_seconds_today=2966.0,
        monitored_seconds_today=3700.0,
        nudges_today=3,
        nudges=1,
        episodes=1,
        camera="ok",
        paused_until=None,
        snoozed_until=None,
        next_check="2026-12-02T14:30:02+01:00",
        stale=False,
        profile="default",
        source="camera 0",
        notifier="plyer",
        pid=4242,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [16, 22, 32, 48])
def test_every_icon_is_rgba_of_its_size_with_a_transparent_background(size: int) -> None:
    for state in ICON_STATES:
        pixels = icon_pixels(state, size)
        assert pixels.shape == (size, size, 4) and pixels.dtype == np.uint8
        alpha = pixels[..., 3]
        assert alpha[0, 0] == 0  # a corner is background: the panel shows through
        assert 0.08 < (alpha > 127).mean() < 0.8, state  # a shape, neither a dot nor a block
        edge = (alpha > 0) & (alpha < 255)
        assert edge.any(), f"{state}: no partly covered pixel, so no antialiasing"


@pytest.mark.parametrize("size", [22, 48])
def test_every_pair_of_states_differs_in_shape_not_only_in_colour(size: int) -> None:
    """Read without colour vision: the shapes (alpha masks) of any two states differ in
    at least a sixth of the pixels either covers."""
    masks = {state: icon_pixels(state, size)[..., 3] > 127 for state in ICON_STATES}
    for a, b in itertools.combinations(ICON_STATES, 2):
        union = (masks[a] | masks[b]).sum()
        differ = (masks[a] ^ masks[b]).sum()
        assert differ / union > 1 / 6, f"{a} and {b} look alike at {size} px"


def test_icons_have_a_darker_rim_and_their_own_colour() -> None:
    for state in ICON_STATES:
        pixels = icon_pixels(state, 48).astype(int)
        solid = pixels[..., 3] == 255
        colours = pixels[..., :3][solid]
        assert tuple(colours.max(axis=0)) == tray.COLOURS[state]  # the fill, inside
        assert colours.sum(axis=1).min() < sum(tray.COLOURS[state]) * 0.7  # the rim
    assert len(set(tray.COLOURS.values())) == len(ICON_STATES)


def test_unknown_state_and_tiny_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown icon state 'sad'"):
        icon_pixels("sad", 22)
    with pytest.raises(ValueError, match="too small"):
        icon_pixels("upright", 4)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "upright"),
        ({"state": "deviating"}, "upright"),
        ({"state": "slouching", "verdict": "bad"}, "slouching"),
        ({"state": "recovering"}, "slouching"),
        ({"state": "away", "verdict": "away"}, "away"),
        ({"state": "uncertain"}, "away"),
        ({"state": "paused", "paused_until": "2026-12-02T15:00:00+01:00"}, "paused"),
        ({"snoozed_until": "2026-12-02T14:45:00+01:00"}, "paused"),
        ({"state": "locked", "hold": "the screen is locked"}, "locked"),
        ({"state": "asleep", "hold": "going to sleep"}, "locked"),
        ({"state": "camera_in_use", "hold": "camera in use by zoom (pid 7)"}, "camera_in_use"),
        ({"state": "on_battery", "hold": "on battery power"}, "paused"),
        ({"camera": "fault: no picture; retrying in 4 s"}, "fault"),
        ({"state": "starting", "verdict": "starting", "since": None}, "starting"),
    ],
)
def test_the_icon_state_of_a_status(changes: dict[str, object], expected: str) -> None:
    assert icon_state(status(**changes)) == expected


def test_without_a_status_the_icon_says_stopped_starting_or_fault() -> None:
    assert icon_state(None) == "stopped"
    assert icon_state(None, starting=True) == "starting"
    assert icon_state(None, error="garbled reply") == "fault"


def labels(view: tray.TrayView) -> dict[int, tray.MenuItem]:
    return {item.id: item for item in view.menu if not item.separator}


def test_the_view_of_a_running_monitor() -> None:
    view = view_of(status(), autostart=False, now=NOW)
    assert view.state == "upright" and view.title == "posture: upright"
    assert view.tooltip.splitlines() == [
        "upright since 14:02",
        "posture good",
        "today upright 82% of the time seen, 3 nudge(s)",
    ]
    # the same words as `posture status`
    for line in ("state        upright since", "posture      good", "today        upright 82%"):
        assert line in format_status(status())
    items = labels(view)
    assert [items[i].label for i in sorted(items)] == [
        "upright since 14:02",
        "Pause 30 min",
        "Pause 1 h",
        "Pause until tomorrow",
        "Resume",
        "Snooze 15 min",
        "Calibrate…",
        "Today's report",
        "Start at login",
        "Quit posture",
    ]
    assert not items[tray.STATUS].enabled
    assert not items[tray.RESUME].enabled  # neither paused nor snoozed
    assert items[tray.SNOOZE_15M].enabled and items[tray.PAUSE_1H].enabled
    assert items[tray.AUTOSTART].checked is False
    assert all(item.checked is None for i, item in items.items() if i != tray.AUTOSTART)
    assert tray.START not in items
    ids = [item.id for item in view.menu]
    assert len(ids) == len(set(ids)) and all(i > 0 for i in ids)
    assert [i.id for i in view.menu if i.separator] == [20, 21, 22]


def test_paused_and_snoozed_enable_resume() -> None:
    paused = view_of(
        status(state="paused", paused_until="2026-12-03T00:00:00+01:00"), autostart=True, now=NOW
    )
    items = labels(paused)
    assert paused.state == "paused" and paused.title == "posture: paused"
    assert items[tray.RESUME].enabled and not items[tray.SNOOZE_15M].enabled
    assert items[tray.AUTOSTART].checked is True
    assert "paused until tomorrow 00:00" in paused.tooltip.splitlines()
    assert paused.tooltip.splitlines()[0] == "paused"
    snoozed = view_of(status(snoozed_until="2026-12-02T14:45:00+01:00"), autostart=False, now=NOW)
    assert snoozed.title == "posture: snoozed" and snoozed.state == "paused"
    assert labels(snoozed)[tray.RESUME].enabled
    assert "snoozed, no nudges until 14:45" in snoozed.tooltip.splitlines()


def test_holds_and_faults_say_why() -> None:
    held = view_of(
        status(state="camera_in_use", hold="camera in use by zoom (pid 7)"),
        autostart=False,
        now=NOW,
    )
    assert held.title == "posture: camera in use"
    assert (
        held.tooltip.splitlines()[0] == "camera in use: camera in use by zoom (pid 7); not looking"
    )
    fault = view_of(status(camera="fault: no picture; retrying in 4 s"), autostart=False, now=NOW)
    assert fault.state == "fault" and fault.title == "posture: camera fault"
    assert "camera fault: no picture; retrying in 4 s" in fault.tooltip.splitlines()
    channel = view_of(None, error="the monitor's reply is not JSON", autostart=False, now=NOW)
    assert channel.state == "fault" and channel.title == "posture: fault"
    assert channel.tooltip == "fault: the monitor's reply is not JSON"
    stale = view_of(status(stale=True), autostart=False, now=NOW)
    assert "calibration looks stale: Calibrate… in this menu" in stale.tooltip


def test_without_a_monitor_the_menu_offers_start_instead_of_pause() -> None:
    stopped = view_of(None, autostart=False, now=NOW)
    items = labels(stopped)
    assert stopped.state == "stopped" and stopped.title == "posture: stopped"
    assert items[tray.START].label == "Start posture" and items[tray.START].enabled
    for gone in (tray.PAUSE_30M, tray.PAUSE_1H, tray.PAUSE_TOMORROW, tray.RESUME, tray.SNOOZE_15M):
        assert gone not in items
    assert {tray.CALIBRATE, tray.REPORT, tray.AUTOSTART, tray.QUIT} <= items.keys()
    starting = labels(view_of(None, autostart=False, now=NOW, starting=True))
    assert starting[tray.START].label == "Starting posture…" and not starting[tray.START].enabled


def test_a_running_calibration_disables_calibrate() -> None:
    items = labels(view_of(status(), autostart=False, now=NOW, calibrating=True))
    assert items[tray.CALIBRATE].label == "Calibrating…" and not items[tray.CALIBRATE].enabled


def test_clock_text_for_a_glance() -> None:
    assert tray.clock_text("2026-12-02T14:02:10+01:00", NOW) == "14:02"
    assert tray.clock_text("2026-12-02T13:02:10+00:00", NOW) == "14:02"  # in the local zone
    assert tray.clock_text("2026-12-03T00:00:00+01:00", NOW) == "tomorrow 00:00"
    assert tray.clock_text("2026-12-07T09:00:00+01:00", NOW) == "Mon 7 Dec 09:00"
    assert tray.clock_text("resume", NOW) == "resume"


def test_the_view_is_a_value() -> None:
    """Equal statuses give equal views: a host can skip an unchanged one."""
    assert view_of(status(), autostart=False, now=NOW) == view_of(
        status(), autostart=False, now=NOW
    )
    assert view_of(status(), autostart=False, now=NOW) != view_of(status(), autostart=True, now=NOW)
