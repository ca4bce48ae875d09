"""One observation at a time: poses -> the calibrated person -> a verdict -> episodes.

The glue between the pure pieces, itself pure (the time comes in with every frame), so
`posture analyze --profile` and the background monitor judge a frame the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posture.core import features
from posture.core.episodes import Episode, Settings, Tracker, Update
from posture.core.judgment import (
    Judge,
    Judgment,
    camera_mismatch,
    is_far_from_calibration,
    select_person,
)
from posture.core.profile import Profile


@dataclass(frozen=True)
class Observation:
    judgment: Judgment
    update: Update
    #: which of the frame's poses was judged (the calibrated person), or None
    chosen: int | None
    #: its features, or None
    row: np.ndarray | None


class Watch:
    def __init__(
        self,
        profile: Profile,
        *,
        settings: Settings | None = None,
        sensitivity: str | None = None,
        min_visibility: float = 0.5,
    ) -> None:
        self.profile = profile
        self.judge = Judge(profile, sensitivity)
        self.tracker = Tracker(settings or Settings())
        self.min_visibility = min_visibility

    def observe(self, t: float, poses: np.ndarray, aspect: float) -> Observation:
        """Judge one frame's (P, 33, 4) poses at time `t` (seconds, never decreasing)."""
        rows = features.compute_features(poses, aspect=aspect, min_visibility=self.min_visibility)
        return self.observe_rows(t, rows)

    def observe_rows(self, t: float, rows: np.ndarray) -> Observation:
        """The same from the features of every pose in the frame, (P, F)."""
        chosen = select_person(rows, self.profile) if rows.shape[0] else None
        row = None if chosen is None else rows[chosen]
        judgment = self.judge.judge(row)
        far = row is not None and is_far_from_calibration(row, self.profile)
        return Observation(judgment, self.tracker.update(t, judgment, far=far), chosen, row)

    def finish(self, t: float) -> Episode | None:
        return self.tracker.finish(t)

    def interrupt(self) -> Episode | None:
        """Nothing was seen since the last observation: the open episode ends there."""
        return self.tracker.interrupt()

    @property
    def episodes(self) -> list[Episode]:
        episodes: list[Episode] = self.tracker.episodes
        return episodes

    def setup_warning(self, kind: str, source: str, width: int, height: int) -> str | None:
        """A one-line reason to recalibrate because the camera or picture size changed."""
        return camera_mismatch(self.profile, kind, source, width, height)
