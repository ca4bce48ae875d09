"""Frames from a webcam, a video file, an image file, a folder of images or a glob.

`open_source(spec)` turns what the user typed into a `FrameSource`: an iterator of
`Frame`s, each an RGB uint8 picture with a timestamp, the file (or camera) it came from
and its index. Everything the user can get wrong (a missing file, a camera that does not
answer, a damaged image) raises `InputError` with a one-line message.

OpenCV is imported only inside the functions that use it, so
`import posture.adapters.video.sources` is cheap and the CLI's --help starts without loading
cv2.

OpenCV and the FFmpeg it bundles print warnings straight to stderr when probing absent
cameras or opening damaged files (``[ WARN:0@0.01] global cap_v4l.cpp ...``,
``[mov,mp4,... @ 0x...] moov atom not found``). Two switches keep that out of the user's
terminal, both only while this module talks to OpenCV and both overridable:

* OpenCV's own log: `cv2.utils.logging.setLogLevel(LOG_LEVEL_SILENT)` for the duration of
  each call into OpenCV, restored afterwards. Skipped if the user set OPENCV_LOG_LEVEL.
* FFmpeg's log: OpenCV reads OPENCV_FFMPEG_LOGLEVEL when its FFmpeg backend first opens
  something (not at import), so it is set to -8 (AV_LOG_QUIET) before the first open,
  unless the user already set it.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import re
import stat
import struct
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePath
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from posture import ports
from posture.core.frames import Frame
from posture.errors import InputError, PostureError

if TYPE_CHECKING:
    import cv2

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "CameraInUse",
    "CameraSource",
    "Frame",
    "FrameSource",
    "ImageSource",
    "VideoSource",
    "available_cameras",
    "open_source",
]

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
)

# Used for video timestamps only when the file reports neither positions nor a frame rate.
_FALLBACK_FPS = 30.0
_GLOB_CHARS = re.compile(r"[*?\[]")
_CAMERA_INDEX = re.compile(r"[0-9]+")
#: The most names a folder or a ``**`` pattern may reach before posture gives up.
MAX_LISTED = 200_000

Image = npt.NDArray[np.uint8]
_S = TypeVar("_S", bound="_SourceBase")
_P = TypeVar("_P", bound="FrameSource")


class FrameSource(ports.FrameSource, Protocol):
    """`posture.ports.FrameSource` (name, kind, single-pass frames, close) holding an
    OpenCV handle until closed, and a context manager.

    Threading rule: one thread reads a source. Create, iterate and close a source on the
    same thread; OpenCV capture handles are not safe to read from two threads or to
    release while another thread is reading them. To stop a reader from elsewhere, set a
    flag that its loop checks and let it close the source.

    A source is single pass: it is its own iterator, so looping over it again continues
    with the next frame, and once exhausted it stays exhausted (open a new one to start
    over). It closes itself when exhausted; `close()` may be called any number of times.
    """

    def __enter__(self: _P) -> _P: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


# --- OpenCV noise ---------------------------------------------------------------------

_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved_level = 0


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's and FFmpeg's stderr chatter while the block runs.

    Reference-counted so overlapping use from several threads restores the level that
    was in force before the first of them started.
    """
    global _quiet_depth, _quiet_saved_level
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if "OPENCV_LOG_LEVEL" in os.environ:  # the user asked for OpenCV's log: keep it
        yield
        return
    import cv2

    log = cv2.utils.logging
    with _quiet_lock:
        if _quiet_depth == 0:
            _quiet_saved_level = int(log.getLogLevel())
            log.setLogLevel(log.LOG_LEVEL_SILENT)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                log.setLogLevel(_quiet_saved_level)


# --- helpers ----------------------------------------------------------------------------


def _to_rgb(picture: cv2.typing.MatLike) -> Image:
    """OpenCV's BGR (or gray, or BGRA) picture as a C-contiguous uint8 RGB array."""
    import cv2

    array = np.asarray(picture)
    if array.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit picture, got {array.dtype}")
    if array.ndim == 2:
        code = cv2.COLOR_GRAY2RGB
    elif array.ndim == 3 and array.shape[2] == 3:
        code = cv2.COLOR_BGR2RGB
    elif array.ndim == 3 and array.shape[2] == 4:
        code = cv2.COLOR_BGRA2RGB
    elif array.ndim == 3 and array.shape[2] == 1:
        code = cv2.COLOR_GRAY2RGB
    else:
        raise ValueError(f"unexpected picture shape {array.shape}")
    rgb: Image = np.ascontiguousarray(cv2.cvtColor(array, code), dtype=np.uint8)
    return rgb


def _has_image_extension(path: str) -> bool:
    return PurePath(path).suffix.lower() in IMAGE_EXTENSIONS


def _natural_key(text: str) -> tuple[list[str | int], str]:
    """Sort key putting ``frame2.png`` before ``frame10.png``; ties broken by the raw text."""
    parts = re.split(r"([0-9]+)", text)
    # re.split with a capture group alternates text, digits, text, ...: the types line up.
    key: list[str | int] = [int(p) if i % 2 else p.casefold() for i, p in enumerate(parts)]
    return key, text


#: A picture claiming more pixels than this is refused before decoding: OpenCV needs
#: 3 bytes for each (300 MB), even to shrink it.
MAX_IMAGE_PIXELS = 100_000_000
#: A baseline JPEG decodes straight at an eighth of its size (70 MB at 100 megapixels),
#: so the 200-megapixel photographs of some phones are read too.
MAX_JPEG_PIXELS = 256_000_000
#: Larger pictures are decoded reduced (by 2, 4 or 8: JPEG decodes straight at that
#: size) to at most this many pixels: the pose model sees 256x256 and every feature is in
#: picture units, so nothing is lost but memory.
DECODE_PIXELS = 4_000_000
#: The largest image file read into memory.
MAX_IMAGE_BYTES = 512 * 1024 * 1024
_REDUCTIONS = (1, 2, 4, 8)


def _u16(data: bytes, at: int, order: str = ">") -> int:
    value: int = struct.unpack_from(order + "H", data, at)[0]
    return value


def _u32(data: bytes, at: int, order: str = ">") -> int:
    value: int = struct.unpack_from(order + "I", data, at)[0]
    return value


def _jpeg_frame(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, marker) from the first start-of-frame marker, walking the
    segments; the marker says baseline (0xC0, 0xC1) or progressive and others."""
    at = 2
    while at + 9 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no length
            at += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return _u16(data, at + 7), _u16(data, at + 5), marker
        at += 2 + _u16(data, at + 2)
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first image directory (tags 256 and 257)."""
    order = "<" if data[:2] == b"II" else ">"
    ifd = _u32(data, 4, order)
    if ifd + 2 > len(data):
        return None
    found: dict[int, int] = {}
    for entry in range(min(_u16(data, ifd, order), 4096)):
        at = ifd + 2 + 12 * entry
        if at + 12 > len(data):
            break
        tag, kind = _u16(data, at, order), _u16(data, at + 2, order)
        if tag in (256, 257):
            found[tag] = _u16(data, at + 8, order) if kind == 3 else _u32(data, at + 8, order)
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        return width, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L":
        bits = _u32(data, 21, "<")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        return _u16(data, 26, "<") & 0x3FFF, _u16(data, 28, "<") & 0x3FFF
    return None


def picture_size(data: bytes) -> tuple[int, int] | None:
    """The (width, height) a PNG, JPEG, BMP, WebP or TIFF file's header claims, read
    without decoding; None for another format or a header too short to say."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            return _u32(data, 16), _u32(data, 20)
        if data[:2] == b"\xff\xd8":
            frame = _jpeg_frame(data)
            return None if frame is None else frame[:2]
        if data[:2] == b"BM":
            return abs(struct.unpack_from("<i", data, 18)[0]), abs(
                struct.unpack_from("<i", data, 22)[0]
            )
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_size(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(data)
    except struct.error:  # cut short
        return None
    return None


def _pixel_limit(data: bytes) -> int:
    """The most pixels a picture of this format may claim (`MAX_JPEG_PIXELS` for a
    baseline JPEG, else `MAX_IMAGE_PIXELS`)."""
    if data[:2] == b"\xff\xd8":
        with contextlib.suppress(struct.error):
            frame = _jpeg_frame(data)
            if frame is not None and frame[2] in (0xC0, 0xC1):
                return MAX_JPEG_PIXELS
    return MAX_IMAGE_PIXELS


def _reduction(size: tuple[int, int] | None) -> int:
    """By how much to reduce a picture of `size` so it decodes to DECODE_PIXELS or less."""
    if size is None:
        return 1
    pixels = size[0] * size[1]
    return next((r for r in _REDUCTIONS if pixels <= DECODE_PIXELS * r * r), _REDUCTIONS[-1])


def _read_bytes(path: str) -> bytes | None:
    """The bytes of the file at `path` (None for a folder), opened without blocking (a
    FIFO or a device is refused, not waited on) and no more than MAX_IMAGE_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError(f"no such file or folder: {path}") from None
    except IsADirectoryError:
        return None
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise InputError(f"cannot read image {path}: {reason.lower()}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return None
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"cannot read image {path}: not a regular file")
        if info.st_size > MAX_IMAGE_BYTES:
            raise InputError(
                f"image {path} is {info.st_size // (1024 * 1024)} MB, more than posture "
                f"reads ({MAX_IMAGE_BYTES // (1024 * 1024)} MB): make it smaller"
            )
        try:
            return fh.read(MAX_IMAGE_BYTES + 1)
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise InputError(f"cannot read image {path}: {reason.lower()}") from None


def _decode_image(path: str) -> Image | None:
    """The picture in `path` as RGB, or None if it does not decode.

    Reads the bytes with Python and decodes them with `cv2.imdecode`, which (unlike
    `cv2.imread` on Windows) copes with any file name. EXIF orientation is applied. The
    size the header claims is checked first: an absurd one is refused without decoding,
    a large one decoded reduced (`DECODE_PIXELS`).
    """
    import cv2

    data = _read_bytes(path)
    if not data:
        return None
    size = picture_size(data)
    limit = _pixel_limit(data)
    if size is not None and size[0] * size[1] > limit:
        raise InputError(
            f"image {path} claims {size[0]}x{size[1]} pixels, more than posture reads "
            f"({limit // 1_000_000} megapixels): make it smaller"
        )
    flag = {
        1: cv2.IMREAD_COLOR,
        2: cv2.IMREAD_REDUCED_COLOR_2,
        4: cv2.IMREAD_REDUCED_COLOR_4,
        8: cv2.IMREAD_REDUCED_COLOR_8,
    }[_reduction(size)]
    try:
        with _quiet_opencv():
            picture = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    except cv2.error:  # OpenCV's own limits (OPENCV_IO_MAX_IMAGE_PIXELS), a bad header
        return None
    if picture is None or np.asarray(picture).size == 0:
        return None
    return _to_rgb(picture)


def _read_image(path: str) -> Image:
    picture = _decode_image(path)
    if picture is None:
        raise InputError(f"cannot read image {path}: damaged or not an image")
    return picture


def _check_positive(value: float, what: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{what} must be a positive number, got {value}")


class _SourceBase:
    """Context-manager and iterator plumbing shared by the concrete sources."""

    name: str
    kind: str
    #: how many frames, when known (a camera's are not)
    length: int | None = None

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


# --- camera -----------------------------------------------------------------------------


class CameraInUse(ports.CameraBusy, PostureError):
    """The camera did not open, or gave no picture, because another program has it: to
    the monitor a hold (`CameraBusy`), to a command such as `calibrate` one line."""

    def __str__(self) -> str:
        return f"{self.hold.reason}: close that program's video, or wait until it is done"


def _busy(index: int) -> CameraInUse | None:
    """Why camera `index` failed, if another program has it (Linux: its /dev/videoN is
    open elsewhere, or answers EBUSY); elsewhere the monitor's sensors tell."""
    if not sys.platform.startswith("linux"):
        return None
    from posture.adapters.video.in_use import busy_hold

    hold = busy_hold(f"/dev/video{index}")
    return None if hold is None else CameraInUse(hold)


def _camera_backend() -> int:
    """V4L2 on Linux (it honours the frame size and buffer size settings); else any."""
    import cv2

    if sys.platform.startswith("linux") and cv2.videoio_registry.hasBackend(cv2.CAP_V4L2):
        return int(cv2.CAP_V4L2)
    return int(cv2.CAP_ANY)


def available_cameras(max_index: int = 8) -> list[int]:
    """Indexes in 0 .. max_index - 1 at which a camera opens, probing each quietly."""
    import cv2

    found: list[int] = []
    backend = _camera_backend()
    with _quiet_opencv():
        for index in range(max_index):
            capture = cv2.VideoCapture(index, backend)
            try:
                if capture.isOpened():
                    found.append(index)
            finally:
                capture.release()
    return found


class CameraSource(_SourceBase):
    """Live frames from webcam `index`, until a read fails or the source is closed.

    A read that fails mid-stream (camera unplugged, driver error) ends the iteration and
    releases the camera; a caller that wants to reconnect opens a new `CameraSource`.
    """

    kind: str = "camera"

    def __init__(
        self, index: int, *, width: int = 640, height: int = 480, name: str | None = None
    ) -> None:
        import cv2

        if index < 0:
            raise InputError(f"camera index must be 0 or more, got {index}")
        _check_positive(width, "camera width")
        _check_positive(height, "camera height")
        self.index = index
        self.name = str(index) if name is None else name
        self.origin = f"camera:{index}"
        self._next_index = 0

        with _quiet_opencv():
            capture = cv2.VideoCapture(index, _camera_backend())
            if not capture.isOpened():
                capture.release()
                if (busy := _busy(index)) is not None:
                    raise busy
                others = [i for i in available_cameras() if i != index]
                answer = (
                    "cameras that answer: " + ", ".join(map(str, others))
                    if others
                    else "no camera answers on this machine"
                )
                raise InputError(f"no camera at index {index} ({answer})")
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            # Drivers queue several frames (V4L2: 4 by default) and read() returns the
            # oldest. The pose model reads a few frames a second at most, so with a queue
            # it would always look at a picture from seconds ago. A one-frame buffer
            # makes each read return (nearly) the newest picture. Backends that ignore
            # the setting keep their own queue; that costs latency, not correctness.
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            # A camera that another program holds often opens but delivers nothing:
            # say so now rather than yield an empty stream.
            if not capture.grab():
                capture.release()
                if (busy := _busy(index)) is not None:
                    raise busy
                raise InputError(
                    f"camera {index} opened but sends no picture (is another program using it?)"
                )
        self._capture: cv2.VideoCapture | None = capture
        self._opened_at = time.monotonic()
        self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def __next__(self) -> Frame:
        capture = self._capture
        if capture is None:
            raise StopIteration
        with _quiet_opencv():
            ok, picture = capture.read()
        timestamp = time.monotonic() - self._opened_at
        if not ok or picture is None or np.asarray(picture).size == 0:
            self.close()
            raise StopIteration
        frame = Frame(timestamp, _to_rgb(picture), self.origin, self._next_index)
        self._next_index += 1
        return frame

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


# --- video ------------------------------------------------------------------------------


def _open_video(path: str) -> cv2.VideoCapture | None:
    """An opened capture on `path`, or None.

    Prefers the FFmpeg backend: it reads every container OpenCV knows, and asking for it
    explicitly keeps OpenCV from trying its built-in AVI parser on damaged files, which
    prints to stderr unconditionally.
    """
    import cv2

    ffmpeg = cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG)
    backend = cv2.CAP_FFMPEG if ffmpeg else cv2.CAP_ANY
    with _quiet_opencv():
        capture = cv2.VideoCapture(path, backend)
    if capture.isOpened():
        return capture
    capture.release()
    return None


class VideoSource(_SourceBase):
    """The frames of a video file, in order, decoded one at a time.

    The first frame is decoded when the source opens, so a file that opens but holds no
    frame fails at once with "no frames in video X". `fps` is the frame rate the file
    reports, or None if it reports none.
    """

    kind: str = "video"

    def __init__(self, path: str, *, name: str | None = None) -> None:
        import cv2

        self.path = path
        self.name = path if name is None else name
        capture = _open_video(path)
        if capture is None:
            raise InputError(f"cannot read video {self.name}: damaged or not a video")
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        self.fps: float | None = fps if math.isfinite(fps) and fps > 0 else None
        count = float(capture.get(cv2.CAP_PROP_FRAME_COUNT))  # the header's: may be off
        self.length = int(count) if math.isfinite(count) and count >= 1 else None
        self._capture: cv2.VideoCapture | None = capture
        self._next_index = 0
        self._last_timestamp = 0.0
        first = self._read()
        if first is None:
            raise InputError(f"no frames in video {self.name}")
        self._pending: Frame | None = first

    def _read(self) -> Frame | None:
        import cv2

        capture = self._capture
        if capture is None:
            return None
        with _quiet_opencv():
            ok, picture = capture.read()
            position_ms = float(capture.get(cv2.CAP_PROP_POS_MSEC))
        if not ok or picture is None or np.asarray(picture).size == 0:
            self.close()
            return None
        index = self._next_index
        if math.isfinite(position_ms) and position_ms >= 0 and (index == 0 or position_ms > 0):
            timestamp = position_ms / 1000.0
        else:  # backend does not report positions
            timestamp = index / (self.fps or _FALLBACK_FPS)
        # Never step backwards, whatever the container says.
        timestamp = max(timestamp, self._last_timestamp)
        self._last_timestamp = timestamp
        self._next_index += 1
        return Frame(timestamp, _to_rgb(picture), self.path, index)

    def __next__(self) -> Frame:
        frame, self._pending = self._pending, None
        if frame is None:
            frame = self._read()
        if frame is None:
            raise StopIteration
        return frame

    def close(self) -> None:
        self._pending = None
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


# --- images -----------------------------------------------------------------------------


class ImageSource(_SourceBase):
    """Image files in the given order, decoded one at a time while iterating.

    Frame `i` has timestamp ``i * image_interval``. The first image is decoded when the
    source opens, so a single damaged image fails at once. A later file that does not
    decode raises `InputError` from `next()`; the source has moved past it, so a caller
    that prefers to skip damaged files can catch the error and keep iterating (frame
    indexes stay the files' positions in the listing).
    """

    kind: str = "images"

    def __init__(
        self, paths: Sequence[str], *, name: str | None = None, image_interval: float = 1.0
    ) -> None:
        if not paths:
            raise ValueError("ImageSource needs at least one path")
        _check_positive(image_interval, "image interval")
        self.paths: list[str] = list(paths)
        self.name = self.paths[0] if name is None else name
        self.image_interval = float(image_interval)
        self.length = len(self.paths)
        self._position = 0
        self._pending: Frame | None = self._load(0)
        self._position = 1

    def _load(self, position: int) -> Frame:
        path = self.paths[position]
        return Frame(position * self.image_interval, _read_image(path), path, position)

    def __len__(self) -> int:
        """How many image files the source lists (readable or not)."""
        return len(self.paths)

    def __next__(self) -> Frame:
        frame, self._pending = self._pending, None
        if frame is not None:
            return frame
        position = self._position
        if position >= len(self.paths):
            raise StopIteration
        self._position += 1  # move on even if this file is damaged
        return self._load(position)

    def close(self) -> None:
        self._pending = None
        self._position = len(self.paths)


def _list_folder(folder: str) -> list[str]:
    """Image files in `folder` and its subfolders, sorted by relative path; hidden files
    and folders skipped. A folder of labelled subfolders (``upright/``, ``slouch/``) is
    one source, read label by label."""
    found: list[str] = []
    errors: list[OSError] = []
    for root, dirs, files in os.walk(folder, onerror=errors.append):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = os.path.relpath(root, folder)
        for name in files:
            if not name.startswith(".") and _has_image_extension(name):
                found.append(name if rel == "." else str(Path(rel) / name))
    if errors and not found:
        err = errors[0]
        reason = (err.strerror or type(err).__name__).lower()
        raise InputError(f"cannot list folder {folder}: {reason}") from None
    return [str(Path(folder) / name) for name in sorted(found, key=_natural_key)]


def _component_regex(part: str) -> str:
    """One path component of a glob pattern as a regex: `*`, `?`, `[...]` within it."""
    out, i = [], 0
    while i < len(part):
        c = part[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in part[i + 2 :]:
            end = part.index("]", i + 2)
            body = part[i + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[{'^' if negate else ''}{body}]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _glob_regex(parts: Sequence[str]) -> re.Pattern[str]:
    """The components after the literal folder as one regex; ``**`` is any depth."""
    out = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append("(?:[^/]+/)*[^/]+" if last else "(?:[^/]+/)*")
        else:
            out.append(_component_regex(part) + ("" if last else "/"))
    return re.compile("".join(out))


def _walk(folder: str, spec: str) -> Iterator[tuple[str, list[str]]]:
    """(folder, its visible file names) for `folder` and every visible folder below it.
    Linked folders are followed, but each real folder once (by device and inode), so a
    link loop ends; more than MAX_LISTED names in all is an `InputError`. Folders that
    cannot be listed are passed over, as `glob` does."""
    seen: set[tuple[int, int]] = set()
    listed = 0
    for root, dirs, files in os.walk(folder, followlinks=True):
        listed += len(dirs) + len(files)
        if listed > MAX_LISTED:
            raise InputError(
                f"{spec} reaches more than {MAX_LISTED} files and folders: name a smaller "
                "folder or a narrower pattern"
            )
        kept = []
        for name in dirs:
            if name.startswith("."):
                continue
            try:
                info = (Path(root) / name).stat()
            except OSError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                kept.append(name)
        dirs[:] = kept
        yield root, [name for name in files if not name.startswith(".")]


def _list_glob(pattern: str) -> list[str]:
    """Image files matching `pattern` (``**`` recurses, through linked folders but never
    round a link loop), sorted by path."""
    parts = pattern.replace(os.sep, "/").split("/")
    if "**" not in parts:  # one level per component: glob cannot loop
        matches = glob.glob(pattern)  # noqa: PTH207
        files = [m for m in matches if _has_image_extension(m) and Path(m).is_file()]
        return sorted(files, key=_natural_key)
    fixed = next(i for i, part in enumerate(parts) if _GLOB_CHARS.search(part) or part == "**")
    folder = "/".join(parts[:fixed])
    if not folder and pattern.startswith("/"):
        folder = "/"
    rule = _glob_regex(parts[fixed:])
    found: list[str] = []
    for root, files in _walk(folder or ".", pattern):
        rel = os.path.relpath(root, folder or ".").replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        for name in files:
            if _has_image_extension(name) and rule.fullmatch(prefix + name):
                path = os.path.join(root, name) if folder else prefix + name  # noqa: PTH118
                if Path(path).is_file():
                    found.append(path)
    return sorted(found, key=_natural_key)


# --- entry point ------------------------------------------------------------------------


def open_source(
    spec: str | int, *, width: int = 640, height: int = 480, image_interval: float = 1.0
) -> FrameSource:
    """Open what the user named: a camera index, a video, an image, a folder or a glob.

    * an int, or a string of digits: the camera at that index, asked for `width` x
      `height` frames;
    * an existing folder: its image files (``.jpg .jpeg .png .bmp .webp .tif .tiff``,
      any case) there and in its subfolders, sorted by relative path, hidden files skipped;
    * an existing file: an image or a video by its extension; any other file is tried
      as an image, then as a video;
    * otherwise, a string containing ``*``, ``?`` or ``[``: the image files matching it
      as a glob pattern, sorted by path;
    * anything else: an `InputError`.

    Images get timestamps ``index * image_interval``.
    """
    if isinstance(spec, int):
        return CameraSource(spec, width=width, height=height, name=str(spec))
    if _CAMERA_INDEX.fullmatch(spec):
        return CameraSource(int(spec), width=width, height=height, name=spec)
    if not spec.strip():
        raise InputError("no source given: name a camera index, a file, a folder or a pattern")

    path = str(Path(spec).expanduser())
    if Path(path).is_dir():
        files = _list_folder(path)
        if not files:
            looked_for = ", ".join(IMAGE_EXTENSIONS)
            raise InputError(f"no images in folder {spec} (looked for {looked_for})")
        return ImageSource(files, name=spec, image_interval=image_interval)

    if Path(path).exists():
        if Path(path).is_fifo() or Path(path).is_socket():  # reading one waits for a writer
            raise InputError(f"{spec} is a pipe or a socket: name a picture or a video file")
        extension = Path(path).suffix.lower()
        if extension in IMAGE_EXTENSIONS:
            return ImageSource([path], name=spec, image_interval=image_interval)
        if extension in VIDEO_EXTENSIONS:
            return VideoSource(path, name=spec)
        return _open_unknown_file(path, spec, image_interval)

    if _GLOB_CHARS.search(spec):
        files = _list_glob(path)
        if not files:
            raise InputError(f"no images match {spec}")
        return ImageSource(files, name=spec, image_interval=image_interval)

    raise InputError(f"no such file or folder: {spec}")


def _open_unknown_file(path: str, spec: str, image_interval: float) -> FrameSource:
    """A file whose extension says nothing: an image if it decodes as one, else a video."""
    import cv2

    # Only read the whole file for imdecode if its header looks like an image, so a big
    # video with an odd extension is not loaded into memory.
    with _quiet_opencv():
        looks_like_image = cv2.haveImageReader(path)
    if looks_like_image and _decode_image(path) is not None:
        return ImageSource([path], name=spec, image_interval=image_interval)
    try:
        return VideoSource(path, name=spec)
    except InputError:
        raise InputError(f"not an image or video: {spec}") from None
