"""`posture preview`: the picture with the monitor's judgment drawn on it, so a user can
see why a verdict is what it is: the calibrated person as the monitor picks them, their
landmarks, where the calibrated shoulders were, the score, the problems and each judged
feature against its calibrated band. Until Esc (or the end of a file, played at its own
pace). Judged frame by frame, without the monitor's smoothing over seconds. There is
no text flow: without a display, or when the window dies, it is one line and exit 1.
"""

from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING

from posture.app.live_view import LiveView, Pacer
from posture.core.calibration import FrameStats, frame_brightness
from posture.core.judgment import Judge
from posture.core.preview import judgment_scene
from posture.errors import PostureError

if TYPE_CHECKING:
    from posture.core.profile import Profile
    from posture.ports import Mode, PoseModel, PreviewWindow, SourceOpener, Terminal

TITLE = "posture preview"


def run_preview(
    spec: str,
    *,
    profile: Profile,
    open_source: SourceOpener,
    pose: PoseModel,
    window: PreviewWindow,
    terminal: Terminal,
    min_visibility: float,
    sensitivity: str | None = None,
) -> int:
    """Show `spec` (a camera or a file) with the judgment until the user closes the
    window, the file ends or the window dies. Returns the frames shown. The window is
    closed here."""
    judge = Judge(profile, sensitivity)

    def gone(reason: str) -> None:
        raise PostureError(f"the preview window ended ({reason})", exit_code=1)

    view = LiveView(window, terminal, on_gone=gone)
    shown = 0
    try:
        with closing(open_source(spec)) as source:
            mode: Mode = "image" if source.kind == "images" else "video"
            with closing(pose.estimator(mode)) as estimator:
                pacer = None if source.kind == "camera" else Pacer()
                for frame in source:
                    if pacer is not None:
                        pacer.wait(frame.timestamp)
                    result = estimator.detect(frame.image, frame.timestamp)
                    mean, std = frame_brightness(frame.image)
                    stats = FrameStats(mean, std, result.landmarks, result.aspect)
                    scene = judgment_scene(
                        TITLE,
                        judge,
                        stats,
                        min_visibility=min_visibility,
                        message=f"profile {profile.name}",
                    )
                    if not view.show(frame.image, scene):
                        return shown
                    shown += 1
    finally:
        view.close()
    return shown
