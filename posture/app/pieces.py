"""What the picture use cases (analyze, calibrate, capture, demo) need from the outside
world, as small interfaces: a way to open sources, a pose model that makes estimators,
and a store of profiles. The CLI builds the real ones (`posture.cli.analysis`) and hands
them in, so these use cases import no adapter and a test can hand in fakes.

These protocols live here only while the monitor's ports are being written: when the two
branches meet they move into `posture.ports`, and `Picture` and `FoundPoses` give way to
the `Frame` and `PoseResult` data classes the core will hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np

    from posture.core.profile import Profile

#: "image" for unrelated stills, "video" for a stream (the model tracks between frames).
Mode = Literal["image", "video"]


class Picture(Protocol):
    """One frame of a source (the video adapter's `Frame`)."""

    @property
    def timestamp(self) -> float: ...
    @property
    def image(self) -> np.ndarray: ...
    @property
    def origin(self) -> str: ...
    @property
    def index(self) -> int: ...


class FrameSource(Protocol):
    """Frames of a camera, a video or images, single pass.

    Threading rule: one thread reads a source; it is created, iterated and closed on that
    thread. `close` may be called any number of times.
    """

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...  # "camera" | "video" | "images"

    def __iter__(self) -> Iterator[Picture]: ...

    def close(self) -> None: ...


class SourceOpener(Protocol):
    """Opens what the user named (a camera index, a video, an image, a folder, a glob);
    a name that is none of these is an `InputError`.

    Threading rule: any thread; the source it returns belongs to the caller's thread.
    """

    def __call__(self, spec: str, *, image_interval: float = 1.0) -> FrameSource: ...


class FoundPoses(Protocol):
    """The poses found in one frame (the pose adapter's `PoseResult`)."""

    @property
    def landmarks(self) -> np.ndarray: ...  # (P, 33, 4)
    @property
    def image_size(self) -> tuple[int, int]: ...  # (width, height)
    @property
    def found(self) -> bool: ...
    @property
    def aspect(self) -> float: ...


class PoseEstimator(Protocol):
    """Finds poses in RGB frames.

    Threading rule: one thread owns an estimator; `detect` and `close` are called from it
    only. In video mode timestamps must increase.
    """

    def detect(self, image: np.ndarray, timestamp: float) -> FoundPoses: ...

    def close(self) -> None: ...


class PoseModel(Protocol):
    """One pose model file with the configured detection settings: makes estimators.

    Threading rule: call from one thread at a time; each estimator it makes belongs to
    the thread that uses it. The model file is checked once, at the first `sha256` or
    `estimator` call (a damaged or wrong file is a `ModelError` there).
    """

    @property
    def sha256(self) -> str: ...
    @property
    def num_poses(self) -> int: ...  # how many people the settings look for

    def estimator(self, mode: Mode, num_poses: int | None = None) -> PoseEstimator: ...


class ProfileStore(Protocol):
    """The calibrated profiles, by name.

    Threading rule: one thread at a time. `load` raises `ProfileError` for a missing or
    damaged profile; `save` keeps the previous one of that name and returns where it wrote.
    """

    def load(self, name: str) -> Profile: ...

    def save(self, profile: Profile) -> Path: ...

    def path(self, name: str) -> Path: ...
