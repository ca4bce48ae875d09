"""posture.adapters.video.sources: frames from cameras, videos, images, folders and globs.

Every file here is generated in tmp_path with OpenCV, with known colours, so the tests
can check channel order, frame order and counts exactly.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import posture.adapters.video.sources as sources
from posture.adapters.video.sources import (
    CameraSource,
    Frame,
    ImageSource,
    VideoSource,
    available_cameras,
    open_source,
)
from posture.errors import InputError

REPO = Path(__file__).resolve().parent.parent

BLUE_BGR = (255, 0, 0)
W, H = 64, 48


def write_image(path: Path, bgr: tuple[int, int, int] = BLUE_BGR) -> Path:
    picture = np.zeros((H, W, 3), np.uint8)
    picture[:] = bgr
    assert cv2.imwrite(str(path), picture), path
    return path


def write_video(
    path: Path, fourcc: str, frames: int, fps: float = 10.0, *, blue: bool = False
) -> Path:
    """`frames` frames; frame i is uniform grey level 20 + 30 * i (or pure blue)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
    if not writer.isOpened():
        writer.release()
        pytest.skip(f"this OpenCV build cannot write {fourcc} {path.suffix}")
    for i in range(frames):
        picture = np.zeros((H, W, 3), np.uint8)
        picture[:] = BLUE_BGR if blue else (20 + 30 * i,) * 3
        writer.write(picture)
    writer.release()
    return path


def check_frame(frame: Frame, *, index: int, origin: str) -> None:
    assert isinstance(frame, Frame)
    assert frame.index == index
    assert frame.origin == origin
    assert frame.image.shape == (H, W, 3)
    assert frame.image.dtype == np.uint8
    assert frame.image.flags["C_CONTIGUOUS"]


def mean_rgb(frame: Frame) -> np.ndarray:
    return frame.image.reshape(-1, 3).mean(axis=0)


# --- import cost ------------------------------------------------------------------------


def test_import_does_not_load_cv2() -> None:
    code = textwrap.dedent(
        """
        import sys
        import posture.adapters.video.sources
        print("cv2" in sys.modules)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "False"


# --- single images ----------------------------------------------------------------------


def test_png_is_one_rgb_frame(tmp_path: Path) -> None:
    path = write_image(tmp_path / "blue.png")
    with open_source(str(path), image_interval=2.5) as source:
        assert source.kind == "images"
        assert source.name == str(path)
        frames = list(source)
    assert len(frames) == 1
    check_frame(frames[0], index=0, origin=str(path))
    assert frames[0].timestamp == 0.0
    # OpenCV wrote BGR (255, 0, 0): the frame must be RGB (0, 0, 255), exactly (png).
    assert (frames[0].image == np.array([0, 0, 255], np.uint8)).all()


def test_jpg_is_rgb_too(tmp_path: Path) -> None:
    path = write_image(tmp_path / "blue.JPG")  # extensions match in any case
    with open_source(str(path)) as source:
        (frame,) = list(source)
    red, green, blue = mean_rgb(frame)
    assert blue > 240 and red < 15 and green < 15


def test_gray_and_alpha_images_become_three_channel_rgb(tmp_path: Path) -> None:
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), np.full((H, W), 77, np.uint8))
    bgra = tmp_path / "bgra.png"
    cv2.imwrite(str(bgra), np.full((H, W, 4), (0, 0, 255, 128), np.uint8))  # red, half alpha
    (g,) = list(open_source(str(gray)))
    (c,) = list(open_source(str(bgra)))
    check_frame(g, index=0, origin=str(gray))
    check_frame(c, index=0, origin=str(bgra))
    assert (g.image == 77).all()
    assert (c.image == np.array([255, 0, 0], np.uint8)).all()


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    rgb = np.zeros((40, 80, 3), np.uint8)  # landscape, stored sideways with orientation 6
    exif = image_module.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    image_module.fromarray(rgb).save(path, exif=exif)
    (frame,) = list(open_source(str(path)))
    assert frame.image.shape == (80, 40, 3)


# --- folders and globs ------------------------------------------------------------------


def make_folder(folder: Path) -> list[Path]:
    """Images whose natural order differs from their creation order, plus clutter."""
    folder.mkdir()
    # Red is 20 times the number in the name.
    colours = {"frame10.png": (0, 0, 200), "frame2.png": (0, 0, 40), "frame1.png": (0, 0, 20)}
    for name, bgr in colours.items():
        write_image(folder / name, bgr)
    write_image(folder / "Frame3.JPEG", (0, 0, 60))
    (folder / "notes.txt").write_text("not an image")
    (folder / "clip.avi").write_bytes(b"RIFF")
    (folder / "sub").mkdir()
    write_image(folder / "sub" / "frame0.png", (0, 0, 0))  # subfolders come after, by path
    (folder / ".git").mkdir()
    write_image(folder / ".git" / "frame5.png")  # hidden folders are skipped
    write_image(folder / ".hidden.png")  # skipped, like a glob skips it
    (folder / "dir.png").mkdir()  # a folder named like an image is not one
    names = ("frame1.png", "frame2.png", "Frame3.JPEG", "frame10.png", "sub/frame0.png")
    return [folder / n for n in names]


def test_folder_yields_its_images_in_name_order(tmp_path: Path) -> None:
    expected = make_folder(tmp_path / "shots")
    with open_source(str(tmp_path / "shots"), image_interval=0.5) as source:
        assert source.kind == "images"
        frames = list(source)
    assert [f.origin for f in frames] == [str(p) for p in expected]
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.timestamp for f in frames] == [0.0, 0.5, 1.0, 1.5, 2.0]
    for i, frame in enumerate(frames):
        check_frame(frame, index=i, origin=str(expected[i]))
    # The red channel carries the number in the name (jpeg: approximately).
    assert [round(float(mean_rgb(f)[0]) / 20) for f in frames] == [1, 2, 3, 10, 0]


def test_glob_yields_matching_images_sorted(tmp_path: Path) -> None:
    make_folder(tmp_path / "shots")
    write_image(tmp_path / "shots" / "other.png")
    pattern = str(tmp_path / "shots" / "frame*.png")
    with open_source(pattern, image_interval=0.25) as source:
        assert source.kind == "images"
        assert source.name == pattern
        frames = list(source)
    names = [Path(f.origin).name for f in frames]
    assert names == ["frame1.png", "frame2.png", "frame10.png"]
    assert [f.timestamp for f in frames] == [0.0, 0.25, 0.5]


def test_glob_question_mark_brackets_and_double_star(tmp_path: Path) -> None:
    make_folder(tmp_path / "shots")
    base = tmp_path / "shots"
    assert [Path(f.origin).name for f in open_source(str(base / "frame?.png"))] == [
        "frame1.png",
        "frame2.png",
    ]
    assert [Path(f.origin).name for f in open_source(str(base / "frame[2-9]*"))] == ["frame2.png"]
    deep = [Path(f.origin).name for f in open_source(str(base / "**" / "frame0.png"))]
    assert deep == ["frame0.png"]


def test_existing_path_with_glob_characters_is_a_path(tmp_path: Path) -> None:
    folder = tmp_path / "set [1]"
    folder.mkdir()
    write_image(folder / "a.png")
    frames = list(open_source(str(folder)))
    assert [f.origin for f in frames] == [str(folder / "a.png")]


def test_images_are_read_lazily(tmp_path: Path) -> None:
    folder = tmp_path / "lazy"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        write_image(folder / name)
    source = open_source(str(folder))
    # Damage c.png after the source opened: only reading it while iterating notices.
    (folder / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    first, second = next(iter(source)), next(iter(source))
    assert [first.index, second.index] == [0, 1]
    with pytest.raises(InputError, match=r"cannot read image .*c\.png: damaged or not an image"):
        next(iter(source))


def test_damaged_image_in_folder_can_be_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_image(folder / "a.png")
    (folder / "b.png").write_bytes(b"not a png")
    write_image(folder / "c.png")
    source = open_source(str(folder))
    got = []
    while True:
        try:
            got.append(next(iter(source)))
        except InputError as err:
            assert str(err) == f"cannot read image {folder / 'b.png'}: damaged or not an image"
        except StopIteration:
            break
    assert [(Path(f.origin).name, f.index, f.timestamp) for f in got] == [
        ("a.png", 0, 0.0),
        ("c.png", 2, 2.0),
    ]


def test_image_source_direct_and_len(tmp_path: Path) -> None:
    paths = [str(write_image(tmp_path / f"{n}.png")) for n in "xyz"]
    source = ImageSource(paths, name="three", image_interval=3.0)
    assert len(source) == 3
    assert repr(source) == "ImageSource('three')"
    assert [(f.origin, f.timestamp) for f in source] == list(
        zip(paths, [0.0, 3.0, 6.0], strict=True)
    )
    with pytest.raises(ValueError):
        ImageSource([])


# --- videos -----------------------------------------------------------------------------


@pytest.mark.parametrize(("fourcc", "suffix"), [("MJPG", ".avi"), ("mp4v", ".mp4")])
def test_video_frames_in_order_with_timestamps(tmp_path: Path, fourcc: str, suffix: str) -> None:
    path = write_video(tmp_path / f"clip{suffix}", fourcc, frames=6, fps=10.0)
    with open_source(str(path)) as source:
        assert source.kind == "video"
        assert isinstance(source, VideoSource)
        assert source.fps == pytest.approx(10.0)
        frames = list(source)
    assert len(frames) == 6
    for i, frame in enumerate(frames):
        check_frame(frame, index=i, origin=str(path))
        assert frame.timestamp == pytest.approx(i / 10.0, abs=0.011)
        assert abs(float(mean_rgb(frame).mean()) - (20 + 30 * i)) < 6
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps) and len(set(stamps)) == 6


def test_video_frames_are_rgb(tmp_path: Path) -> None:
    path = write_video(tmp_path / "blue.avi", "MJPG", frames=2, blue=True)
    for frame in open_source(str(path)):
        red, green, blue = mean_rgb(frame)
        assert blue > 230 and red < 25 and green < 25


def test_video_releases_capture_when_exhausted_or_closed(tmp_path: Path) -> None:
    path = str(write_video(tmp_path / "clip.avi", "MJPG", frames=3))
    source = VideoSource(path)
    assert len(list(source)) == 3
    assert source._capture is None
    assert list(source) == []  # single pass: stays exhausted

    with VideoSource(path) as source:
        next(iter(source))
    assert source._capture is None
    assert list(source) == []
    source.close()  # closing twice is fine


def test_single_pass_continues_after_break(tmp_path: Path) -> None:
    path = str(write_video(tmp_path / "clip.avi", "MJPG", frames=4))
    source = open_source(path)
    for frame in source:
        if frame.index == 1:
            break
    assert [f.index for f in source] == [2, 3]


def test_video_timestamps_fall_back_to_index_over_fps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(write_video(tmp_path / "clip.avi", "MJPG", frames=3, fps=4.0))
    real_capture = cv2.VideoCapture

    class NoPositions:
        """A capture whose backend reports no positions. (A wrapper, not a subclass:
        subclasses of cv2.VideoCapture crash the interpreter when garbage-collected.)"""

        def __init__(self, *args: object) -> None:
            self.capture = real_capture(*args)

        def get(self, prop: int) -> float:
            return 0.0 if prop == cv2.CAP_PROP_POS_MSEC else float(self.capture.get(prop))

        def __getattr__(self, name: str) -> object:
            return getattr(self.capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", NoPositions)
    frames = list(open_source(path))
    assert [f.timestamp for f in frames] == [0.0, 0.25, 0.5]


# --- files of unknown type --------------------------------------------------------------


def test_unknown_extension_image_and_video(tmp_path: Path) -> None:
    image = tmp_path / "picture.dat"
    image.write_bytes(write_image(tmp_path / "p.png").read_bytes())
    video = tmp_path / "movie.bin"
    video.write_bytes(write_video(tmp_path / "v.avi", "MJPG", frames=3).read_bytes())

    with open_source(str(image)) as source:
        assert source.kind == "images"
        (frame,) = list(source)
    assert (frame.image == np.array([0, 0, 255], np.uint8)).all()

    with open_source(str(video)) as source:
        assert source.kind == "video"
        assert [f.index for f in source] == [0, 1, 2]


# --- errors -----------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere.png")
    with pytest.raises(InputError, match=rf"^no such file or folder: {re.escape(missing)}$"):
        open_source(missing)


@pytest.mark.parametrize("spec", ["", "  "])
def test_empty_spec(spec: str) -> None:
    with pytest.raises(InputError, match=r"^no source given"):
        open_source(spec)


def test_glob_without_matches(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    pattern = str(tmp_path / "*.txt")  # matches a file, but not an image
    with pytest.raises(InputError, match=rf"^no images match {re.escape(pattern)}$"):
        open_source(pattern)


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / ".cache").mkdir()
    write_image(tmp_path / ".cache" / "hidden.png")
    expected = (
        f"no images in folder {tmp_path} (looked for .jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff)"
    )
    with pytest.raises(InputError) as info:
        open_source(str(tmp_path))
    assert str(info.value) == expected


def test_damaged_image(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    whole = write_image(tmp_path / "whole.png").read_bytes()
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(whole[:60])
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for path in (damaged, empty):
        with pytest.raises(
            InputError,
            match=rf"^cannot read image {re.escape(str(path))}: damaged or not an image$",
        ):
            open_source(str(path))
    assert capfd.readouterr() == ("", "")


def test_not_an_image_or_video(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n" * 20)
    with pytest.raises(InputError, match=rf"^not an image or video: {re.escape(str(path))}$"):
        open_source(str(path))


def test_video_without_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "empty.avi", "MJPG", frames=0)
    with pytest.raises(InputError, match=rf"^no frames in video {re.escape(str(path))}$"):
        open_source(str(path))


def test_damaged_video(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_text("this is no movie\n" * 10)
    with pytest.raises(
        InputError, match=rf"^cannot read video {re.escape(str(path))}: damaged or not a video$"
    ):
        open_source(str(path))


@pytest.mark.parametrize("interval", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_image_interval(tmp_path: Path, interval: float) -> None:
    path = write_image(tmp_path / "a.png")
    with pytest.raises(InputError, match=r"^image interval must be a positive number"):
        open_source(str(path), image_interval=interval)


def test_damaged_files_print_nothing_in_a_fresh_process(tmp_path: Path) -> None:
    """FFmpeg's own log ("moov atom not found", "chunk too big") is configured when
    OpenCV's FFmpeg backend first opens something, so check it as the CLI would run:
    in a process where posture.adapters.video.sources is the first to use it."""
    whole = write_image(tmp_path / "whole.png").read_bytes()
    (tmp_path / "damaged_png.mp4").write_bytes(whole[:60])
    (tmp_path / "text.mp4").write_text("no movie\n" * 10)
    clip = write_video(tmp_path / "clip.avi", "MJPG", frames=3).read_bytes()
    (tmp_path / "cut.avi").write_bytes(clip[:300])  # OpenCV's own AVI parser would complain
    (tmp_path / "damaged.dat").write_bytes(whole[:60])
    (tmp_path / "damaged.png").write_bytes(whole[:60])
    code = textwrap.dedent(
        """
        import sys
        from posture.errors import InputError
        from posture.adapters.video.sources import open_source
        for spec in sys.argv[1:]:
            try:
                open_source(spec)
            except InputError as err:
                print(err)
        """
    )
    names = ["damaged_png.mp4", "text.mp4", "cut.avi", "damaged.dat", "damaged.png", "7"]
    specs = [str(tmp_path / n) for n in names[:-1]] + [names[-1]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-c", code, *specs], capture_output=True, text=True, env=env, check=True
    )
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[:-1] == [
        f"no frames in video {specs[0]}",
        f"cannot read video {specs[1]}: damaged or not a video",
        f"cannot read video {specs[2]}: damaged or not a video",
        f"not an image or video: {specs[3]}",
        f"cannot read image {specs[4]}: damaged or not an image",
    ]
    assert lines[-1].startswith("no camera at index 7 (")


# --- cameras ----------------------------------------------------------------------------


@pytest.fixture
def no_camera(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCV_LOG_LEVEL", raising=False)
    if available_cameras():
        pytest.skip("a camera answers on this machine")


@pytest.mark.usefixtures("no_camera")
@pytest.mark.parametrize("spec", [0, "0"])
def test_absent_camera_is_a_quiet_input_error(
    spec: int | str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputError) as info:
        open_source(spec)
    assert str(info.value) == "no camera at index 0 (no camera answers on this machine)"
    assert capfd.readouterr() == ("", "")


@pytest.mark.usefixtures("no_camera")
def test_absent_camera_lists_those_that_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "available_cameras", lambda max_index=8: [0, 2])
    with pytest.raises(InputError) as info:
        CameraSource(5)
    assert str(info.value) == "no camera at index 5 (cameras that answer: 0, 2)"


@pytest.mark.usefixtures("no_camera")
def test_available_cameras_probes_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    assert available_cameras(max_index=4) == []
    assert capfd.readouterr() == ("", "")


def test_opencv_log_level_is_silenced_only_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCV_LOG_LEVEL", raising=False)
    log = cv2.utils.logging
    before = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_WARNING)
    try:
        with sources._quiet_opencv():
            assert log.getLogLevel() == log.LOG_LEVEL_SILENT
            with sources._quiet_opencv():  # nested (or another thread): still silent
                pass
            assert log.getLogLevel() == log.LOG_LEVEL_SILENT
        assert log.getLogLevel() == log.LOG_LEVEL_WARNING
        available_cameras(max_index=2)
        assert log.getLogLevel() == log.LOG_LEVEL_WARNING
    finally:
        log.setLogLevel(before)


def test_user_opencv_log_level_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCV_LOG_LEVEL", "INFO")
    log = cv2.utils.logging
    before = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_INFO)
    try:
        with sources._quiet_opencv():
            assert log.getLogLevel() == log.LOG_LEVEL_INFO
    finally:
        log.setLogLevel(before)


def test_negative_camera_index() -> None:
    with pytest.raises(InputError, match=r"^camera index must be 0 or more, got -1$"):
        open_source(-1)


# --- sorting ----------------------------------------------------------------------------


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, unique=True))
def test_numbered_names_sort_numerically(numbers: list[int]) -> None:
    names = [f"frame_{n}.png" for n in numbers]
    assert sorted(names, key=sources._natural_key) == [f"frame_{n}.png" for n in sorted(numbers)]


@given(st.lists(st.text(alphabet="ab01._-Ä", max_size=8), unique=True))
def test_name_sort_is_a_total_order(names: list[str]) -> None:
    ordered = sorted(names, key=sources._natural_key)
    assert sorted(reversed(names), key=sources._natural_key) == ordered
    assert sorted(ordered) == sorted(names)


# --- big, lying and looping inputs ------------------------------------------------------


@pytest.mark.parametrize("extension", [".png", ".jpg", ".bmp", ".webp", ".tif"])
def test_picture_size_is_read_from_the_header(tmp_path: Path, extension: str) -> None:
    path = tmp_path / f"picture{extension}"
    picture = np.zeros((37, 53, 3), np.uint8)
    if not cv2.imwrite(str(path), picture):
        pytest.skip(f"this OpenCV build cannot write {extension}")
    assert sources.picture_size(path.read_bytes()) == (53, 37)
    assert sources.picture_size(path.read_bytes()[:8]) is None


def test_a_large_picture_is_decoded_reduced(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    assert cv2.imwrite(str(path), np.full((2400, 3200, 3), 128, np.uint8))
    frame = next(iter(open_source(str(path))))
    assert frame.image.shape == (1200, 1600, 3)  # 7.7 MP halved: within DECODE_PIXELS
    small = next(iter(open_source(write_image(tmp_path / "small.png").as_posix())))
    assert small.image.shape == (H, W, 3)


def test_glob_double_star_matches_like_glob(tmp_path: Path) -> None:
    make_folder(tmp_path / "shots")
    (tmp_path / "shots" / "sub" / "deeper").mkdir()
    write_image(tmp_path / "shots" / "sub" / "deeper" / "frame7.png")
    base = str(tmp_path / "shots")
    for rest in ("**/*.png", "**/frame?.png", "*/**/*.png", "**", "**/deeper/*", "sub/**/*"):
        pattern = f"{base}/{rest}"
        expected = sorted(
            m
            for m in glob.glob(pattern, recursive=True)  # noqa: PTH207
            if Path(m).is_file() and sources._has_image_extension(m)
        )
        assert sorted(f.origin for f in open_source(pattern)) == expected, rest


def test_glob_follows_links_but_not_round_a_loop(tmp_path: Path) -> None:
    root = tmp_path / "loop"
    (root / "a" / "b").mkdir(parents=True)
    write_image(root / "a" / "b" / "x.png")
    (root / "a" / "b" / "up").symlink_to(root / "a")
    (root / "a" / "self").symlink_to(".")
    (root / "elsewhere").symlink_to(root / "a" / "b")
    origins = [f.origin for f in open_source(f"{root}/**/*.png")]
    assert len(origins) == 1
    assert origins[0].endswith("x.png")


def test_glob_reaching_too_many_names_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_LISTED", 5)
    for i in range(6):
        (tmp_path / f"f{i}.txt").write_text("")
    with pytest.raises(InputError, match=r"reaches more than 5 files and folders"):
        open_source(f"{tmp_path}/**/*.png")


def jpeg_claiming(width: int, height: int, marker: int) -> bytes:
    """A JPEG start (SOI, an APP0 segment, a start-of-frame) claiming `width` x `height`."""
    app0 = b"\xff\xe0" + (16).to_bytes(2, "big") + b"JFIF\x00" + bytes(9)
    sof = bytes([0xFF, marker]) + (17).to_bytes(2, "big") + b"\x08"
    sof += height.to_bytes(2, "big") + width.to_bytes(2, "big") + b"\x03" + bytes(9)
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def test_a_baseline_jpeg_may_claim_more_than_a_progressive_one(tmp_path: Path) -> None:
    """200 megapixels: a baseline JPEG decodes at an eighth of it, so it gets as far as
    decoding (and this one, a header alone, fails there); a progressive one is refused."""
    for marker, says in ((0xC0, "damaged or not an image"), (0xC2, "claims 16320x12240")):
        path = tmp_path / f"photo-{marker:x}.jpg"
        path.write_bytes(jpeg_claiming(16320, 12240, marker))
        assert sources.picture_size(path.read_bytes()) == (16320, 12240)
        with pytest.raises(InputError, match=says):
            open_source(str(path))
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(jpeg_claiming(20000, 20000, 0xC0))
    with pytest.raises(InputError, match=r"claims 20000x20000 pixels, .* \(256 megapixels\)"):
        open_source(str(huge))


def test_an_image_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    """Past `open_source`'s own check (a FIFO made after the listing): never waited on."""
    path = tmp_path / "late.png"
    os.mkfifo(path)
    with pytest.raises(InputError, match=r"cannot read image .*late.png: not a regular file"):
        ImageSource([str(path)])
