"""`posture calibrate`: collect frames, apply the gates, save the profile; and `--show`."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING, cast

from posture.core import features
from posture.core.profile import Sensitivity, check_name

if TYPE_CHECKING:
    from posture.ports import PoseModel, PreviewWindow, ProfileStore, SourceOpener, Terminal


#: The features `--show` and the summary print, with how to format them.
_SHOWN = (
    ("head_height", "{:.3f}"),
    ("ear_height", "{:.3f}"),
    ("shoulder_width", "{:.3f}"),
    ("face_width", "{:.3f}"),
    ("head_pitch", "{:.3f}"),
    ("head_roll", "{:.1f}°"),
    ("shoulder_tilt", "{:.1f}°"),
    ("head_offset", "{:.3f}"),
    ("neck_inclination", "{:.1f}°"),
    ("shoulder_x", "{:.3f}"),
    ("shoulder_y", "{:.3f}"),
)


def run_calibrate(
    sources: list[str],
    *,
    profile_name: str,
    seconds: float,
    sensitivity: str,
    open_source: SourceOpener,
    pose: PoseModel,
    store: ProfileStore,
    min_visibility: float,
    countdown: int,
    terminal: Terminal,
    window: PreviewWindow | None = None,
) -> None:
    """Calibrate and save. With a `window` (the preview) every frame is shown with the
    gates live; Esc there is `Cancelled` and nothing is saved. The window is closed here."""
    from posture.app.capture import collect
    from posture.app.live_view import LiveView
    from posture.core.calibration import calibrate

    view = None if window is None else LiveView(window, terminal)
    try:
        check_name(profile_name)
        # The model is checked before any camera opens: a bad --model fails at once.
        model_sha256 = pose.sha256
        frames, camera = collect(
            sources,
            open_source=open_source,
            pose=pose,
            seconds=seconds,
            countdown=countdown,
            terminal=terminal,
            view=view,
            min_visibility=min_visibility,
        )
    finally:
        if view is not None:
            view.close()
    profile = calibrate(
        frames,
        name=profile_name,
        sensitivity=cast(Sensitivity, sensitivity),
        camera=camera,
        model_sha256=model_sha256,
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        min_visibility=min_visibility,
    )
    path = store.save(profile)
    terminal.show(
        f"Calibrated profile '{profile.name}' from {profile.frames} frames "
        f"({profile.view} view, sensitivity {profile.sensitivity}): saved to {path}"
    )


def show_profile(store: ProfileStore, name: str, terminal: Terminal) -> None:
    profile = store.load(name)
    path = store.path(name)
    terminal.show(f"profile      {profile.name}  ({path})")
    terminal.show(f"calibrated   {profile.created}  from {profile.frames} frames")
    terminal.show(f"view         {profile.view}")
    terminal.show(f"sensitivity  {profile.sensitivity}")
    cam = profile.camera
    what = f"camera {cam.source}" if cam.kind == "camera" else f"{cam.kind} {cam.source}"
    terminal.show(f"source       {what}, {cam.width}x{cam.height}")
    terminal.show(f"model        {profile.model_sha256[:12]}")
    terminal.show("upright posture (median ± robust spread):")
    for name_, fmt in _SHOWN:
        assert name_ in features.NAMES
        median, spread = profile.median(name_), profile.spread(name_)
        if math.isnan(median):
            terminal.show(f"  {name_:<17} not seen")
        else:
            terminal.show(f"  {name_:<17} {fmt.format(median)} ± {fmt.format(spread)}")
