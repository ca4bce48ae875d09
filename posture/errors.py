"""The one exception type the CLI turns into a one-line message and a non-zero exit.

Anything the user can fix (a missing file, a camera that does not answer, a damaged
profile) raises `PostureError` with a sentence that says what is wrong and what to do.
Everything else is a bug and keeps its traceback. `ForeignSocket` is here because both the
control adapter (which detects it) and `posture start` (which must not wait on it) need it.
"""

from __future__ import annotations


class PostureError(Exception):
    """A problem the user can fix; `str(err)` is the whole message, one line."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(PostureError):
    """A path, source or option the user gave cannot be used."""


class ModelError(PostureError):
    """The pose model file is missing, damaged or not a PoseLandmarker bundle."""


class ForeignSocket(PostureError):
    """The control socket, or the process answering on it, belongs to another user: they
    could answer `pause` or `stop` ("camera released") while the real monitor watches on,
    or read what `status` says. Refused, never talked to."""


class TrayUnavailable(PostureError):
    """The desktop shows no tray icons (no StatusNotifierWatcher on the session bus, no
    session bus, or the tray library of this platform is not installed)."""


class PreviewUnavailable(PostureError):
    """The preview window cannot be shown: no display (DISPLAY unset), or its process could
    not start. Calibration goes on in the terminal; `posture preview` stops."""


class Cancelled(PostureError):
    """The user ended the work before it was done (Esc in the preview window): nothing was
    saved."""

    exit_code = 1
