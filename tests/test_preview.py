"""The live preview as a user meets it: real `posture calibrate --preview` and `posture
preview` processes, the real model, on short clips made from the bundled public-domain
portrait (the demo's builders, as test_monitor_process's `material`), shown on a real
Xvfb server, found with xdotool, read back from screenshots (ImageMagick's `import`),
ended with Esc sent by xdotool; and the camera lent by a real `posture start` monitor
over its real control socket. No fakes: the window's death is a real SIGKILL or Qt's own
SIGABRT on a display nobody serves.

Debian packages: xvfb, xdotool, imagemagick (import).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
import pytest

from posture.adapters.window.process import window_environment
from posture.app import demo
from posture.errors import PreviewUnavailable
from posture.samples import GRACE_HOPPER
from tests.conftest import run_posture
from tests.desktop import _line_from, _stop, _wait_for
from tests.test_monitor_process import calibrated_home, status

PROGRAMS = {"Xvfb": "xvfb", "xdotool": "xdotool", "import": "imagemagick"}
#: The landmarks' colour (draw.SEEN, BGR): saturated green, which the portrait lacks.
GREEN = (0, 255, 0)
#: The panel's text colour (draw.TEXT).
TEXT = (235, 235, 235)
CANCELLED = "posture: error: calibration cancelled: nothing saved\n"

T = TypeVar("T")


def _require() -> None:
    missing = [f"{p} ({pkg})" for p, pkg in PROGRAMS.items() if shutil.which(p) is None]
    if missing:
        pytest.skip("the preview tests need programs that are not installed: " + ", ".join(missing))


# --- material: short clips of the portrait ---------------------------------------------


def _clip(path: Path, amounts: list[float], fps: float, shoulder: float) -> Path:
    """A clip of the portrait with the head sunk by `amounts` (0 upright, 1 slouched),
    with a camera's sensor noise (the demo's own `slouched`)."""
    bgr = cv2.imread(str(GRACE_HOPPER))
    height, width = bgr.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (width, height))
    rng = np.random.default_rng(5)
    try:
        for amount in amounts:
            frame = demo.slouched(bgr, amount, shoulder).astype(np.int16)
            frame += rng.integers(-2, 3, size=frame.shape, dtype=np.int16)
            writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    finally:
        writer.release()
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from posture.adapters.video.sources import open_source
    from posture.app.compose import MediaPipeModel

    folder = tmp_path_factory.mktemp("preview-clips")
    shoulder = demo.shoulder_line(GRACE_HOPPER, open_source=open_source, pose=MediaPipeModel())
    stills = demo.upright_stills(folder, GRACE_HOPPER)
    return {
        # 20 s of sitting still at 5 frames a second: calibrates. Played in real time only
        # while a window shows it, and the window tests end it with Esc: its length is
        # the time a loaded machine has to show the window, not the time a test takes.
        "upright": _clip(folder / "upright.avi", [0.0] * 100, 5.0, shoulder),
        # 3 s upright, then slouched for 12 s: the preview's verdict turns bad
        "slouch": _clip(folder / "slouch.avi", [0.0] * 15 + [1.0] * 60, 5.0, shoulder),
        # 4 min at 1 frame a second for a monitor to watch while the camera is borrowed,
        # and for the window the test closes long before its end
        # (on a recording's simulated clock, the resume skips the pause's whole length)
        "monitor": _clip(folder / "monitor.avi", [0.0] * 240, 1.0, shoulder),
        **{f"s{i}": p for i, p in enumerate(stills)},
    }


# --- a display of our own --------------------------------------------------------------


@dataclass
class Screen:
    display: str

    def env(self, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}
        return {**env, "DISPLAY": self.display, **more}

    def _run(self, *argv: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(argv, env=self.env(), capture_output=True, timeout=10, check=False)

    def window(self, name: str) -> str | None:
        """The id of the shown window called `name` (asked anew each time: Qt may replace
        the native window while it sizes it), or None."""
        found = self._run("xdotool", "search", "--onlyvisible", "--name", f"^{name}$")
        for window in found.stdout.decode().split():
            geometry = self.geometry(window)
            if geometry is not None and geometry[2] > 300:  # the picture and the panel
                return window
        return None

    def geometry(self, window: str) -> tuple[int, int, int, int] | None:
        """Where the window is; None while X does not say (Qt may still be mapping it)."""
        shell = self._run("xdotool", "getwindowgeometry", "--shell", window).stdout.decode()
        values = dict(line.split("=", 1) for line in shell.split() if "=" in line)
        if not {"X", "Y", "WIDTH", "HEIGHT"} <= values.keys():
            return None
        return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])

    def shot(self, name: str) -> np.ndarray | None:
        """The window's pixels (BGR), cut from a screenshot of the whole screen."""
        window = self.window(name)
        geometry = None if window is None else self.geometry(window)
        png = self._run("import", "-window", "root", "png:-").stdout
        screen = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        if geometry is None or screen is None:
            return None
        x, y, w, h = geometry
        return screen[y : y + h, x : x + w]

    def key(self, name: str, key: str) -> None:
        window = self.window(name)
        assert window is not None, f"no window {name!r}"
        self._run("xdotool", "key", "--window", window, key)

    def close(self, name: str) -> None:
        """What a window manager does when its close button is clicked: a WM_PROTOCOLS
        client message with WM_DELETE_WINDOW to the window (libX11 through ctypes; there
        is no window manager on Xvfb to click)."""
        code = (
            "import ctypes, ctypes.util, sys\n"
            "x = ctypes.CDLL(ctypes.util.find_library('X11'))\n"
            "x.XOpenDisplay.restype = ctypes.c_void_p\n"
            "x.XInternAtom.restype = ctypes.c_ulong\n"
            "x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]\n"
            "class Msg(ctypes.Structure):\n"
            "    _fields_ = [('type', ctypes.c_int), ('serial', ctypes.c_ulong),\n"
            "                ('send_event', ctypes.c_int), ('display', ctypes.c_void_p),\n"
            "                ('window', ctypes.c_ulong), ('message_type', ctypes.c_ulong),\n"
            "                ('format', ctypes.c_int), ('data', ctypes.c_long * 5)]\n"
            "class Event(ctypes.Union):\n"
            "    _fields_ = [('xclient', Msg), ('pad', ctypes.c_long * 24)]\n"
            "x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int,\n"
            "                         ctypes.c_long, ctypes.POINTER(Event)]\n"
            "d = x.XOpenDisplay(None)\n"
            "e = Event()\n"
            "e.xclient.type = 33  # ClientMessage\n"
            "e.xclient.window = int(sys.argv[1])\n"
            "e.xclient.message_type = x.XInternAtom(d, b'WM_PROTOCOLS', 0)\n"
            "e.xclient.format = 32\n"
            "e.xclient.data[0] = x.XInternAtom(d, b'WM_DELETE_WINDOW', 0)\n"
            "assert x.XSendEvent(d, int(sys.argv[1]), 0, 0, ctypes.byref(e))\n"
            "x.XFlush(ctypes.c_void_p(d))\n"
        )
        window = self.window(name)
        assert window is not None, f"no window {name!r}"
        sent = subprocess.run(
            [sys.executable, "-c", code, window], env=self.env(), timeout=10, check=False
        )
        assert sent.returncode == 0

    def pid(self, name: str) -> int:
        window = self.window(name)
        assert window is not None, f"no window {name!r}"
        return int(self._run("xdotool", "getwindowpid", window).stdout.decode().strip())


@pytest.fixture
def screen() -> Iterator[Screen]:
    """An Xvfb server on a free display (it picks the number: -displayfd), large enough
    for the window, stopped afterwards."""
    _require()
    folder = Path(tempfile.mkdtemp(prefix="posture-xvfb-"))
    try:
        with (folder / "display").open("wb") as out, (folder / "log").open("wb") as log:
            xvfb = subprocess.Popen(
                [
                    *("Xvfb", "-displayfd", str(out.fileno()), "-nolisten", "tcp", "-noreset"),
                    *("-screen", "0", "1280x1024x24"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(out.fileno(),),
            )
        try:
            number = _wait_for(
                "Xvfb", _line_from(folder / "display", xvfb, "Xvfb"), time.monotonic() + 15
            )
            yield Screen(f":{number}")
        finally:
            _stop(xvfb)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def wait_until(what: str, check: Callable[[], T | None], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def spawn(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "posture", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def count(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    distance = np.abs(pixels.astype(np.int16) - np.array(colour, np.int16)).max(axis=2)
    return int((distance <= tolerance).sum())


def picture_and_panel(shot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The picture (left) and the panel (the right 300 px: draw.PANEL_WIDTH)."""
    return shot[:, :-300], shot[:, -300:]


def drawn(
    screen: Screen,
    window: str,
    proc: subprocess.Popen[str],
    enough: Callable[[np.ndarray], bool],
) -> np.ndarray:
    """The first screenshot of the window for which `enough` holds."""

    def check() -> np.ndarray | None:
        if proc.poll() is not None:
            raise AssertionError(f"posture exited ({proc.returncode}): {proc.communicate()}")
        shot = screen.shot(window)
        return shot if shot is not None and enough(shot) else None

    return wait_until("the window's drawing", check)


def window_of(screen: Screen, name: str, proc: subprocess.Popen[str]) -> str:
    """`name`, once a window of that name is shown (found with xdotool search --name)."""

    def found() -> str | None:
        if proc.poll() is not None:
            raise AssertionError(f"posture exited ({proc.returncode}): {proc.communicate()}")
        return name if screen.window(name) is not None else None

    return wait_until(f"a window named {name!r}", found)


def profile_file(home: Path) -> Path:
    return home / "data" / "profiles" / "default.json"


# --- the window process's environment (a pure function, no display needed) --------------


def test_the_window_needs_an_x_display_and_uses_xwayland_on_wayland() -> None:
    with pytest.raises(PreviewUnavailable, match=r"DISPLAY is not set"):
        window_environment({})
    with pytest.raises(PreviewUnavailable, match="Wayland session without XWayland"):
        window_environment({"WAYLAND_DISPLAY": "wayland-0"})
    assert "QT_QPA_PLATFORM" not in window_environment({"DISPLAY": ":0"})
    for wayland in ({"WAYLAND_DISPLAY": "wayland-0"}, {"XDG_SESSION_TYPE": "wayland"}):
        env = window_environment({"DISPLAY": ":0", **wayland})
        assert env["QT_QPA_PLATFORM"] == "xcb"
    for platform in ("darwin", "win32"):  # no X there: nothing to check
        assert window_environment({}, platform) == {}


# --- calibrate --preview ------------------------------------------------------------------


def test_calibrate_preview_shows_landmarks_and_gates_and_esc_saves_nothing(
    tmp_path: Path, clips: dict[str, Path], screen: Screen
) -> None:
    home = tmp_path / "home"
    proc = spawn(
        screen.env(POSTURE_HOME=str(home)), "calibrate", "--source", str(clips["upright"]),
        "--preview",
    )  # fmt: skip
    try:
        window = window_of(screen, "posture calibrate", proc)

        def landmarks_and_gates(shot: np.ndarray) -> bool:
            picture, panel = picture_and_panel(shot)
            # five dots of 6 px radius; the gates' ticks (green) and words (light grey)
            return count(picture, GREEN) > 300 and count(panel, GREEN) > 150

        shot = drawn(screen, window, proc, landmarks_and_gates)
        panel = picture_and_panel(shot)[1]
        assert count(panel, TEXT, tolerance=30) > 300  # the gate lines' words
        # The portrait has no such green itself: the dots are the drawing's.
        portrait = cv2.imread(str(GRACE_HOPPER))
        assert count(portrait, GREEN) < 20
        screen.key(window, "Escape")
        out, err = proc.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert proc.returncode == 1, err
    assert err == CANCELLED
    assert out == ""
    assert not profile_file(home).exists()


def test_the_preview_is_mirrored_like_a_video_call(
    tmp_path: Path, clips: dict[str, Path], screen: Screen
) -> None:
    """The portrait's face is right of its centre; mirrored, the window shows it left."""
    home = tmp_path / "home"
    proc = spawn(
        screen.env(POSTURE_HOME=str(home)), "calibrate", "--source", str(clips["upright"]),
        "--preview",
    )  # fmt: skip
    try:
        window = window_of(screen, "posture calibrate", proc)
        shot = drawn(screen, window, proc, lambda s: count(picture_and_panel(s)[0], GREEN) > 300)
        picture = picture_and_panel(shot)[0].astype(np.int16)
        portrait = cv2.imread(str(GRACE_HOPPER))
        size = (picture.shape[1], picture.shape[0])
        flipped = cv2.resize(cv2.flip(portrait, 1), size, interpolation=cv2.INTER_AREA)
        plain = cv2.resize(portrait, size, interpolation=cv2.INTER_AREA)
        # Away from the drawing, the window's picture is the portrait flipped left-right.
        assert np.abs(picture - flipped).mean() < 0.5 * np.abs(picture - plain).mean()
        screen.key(window, "Escape")
        proc.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def test_nothing_from_the_window_is_written_to_disk(
    tmp_path: Path, clips: dict[str, Path], screen: Screen
) -> None:
    """Ctrl+S (HighGUI's "save the picture" with its toolbar, which WINDOW_GUI_NORMAL
    leaves out) writes no file under the home, the working folder or $HOME."""
    home, cwd, user = tmp_path / "home", tmp_path / "cwd", tmp_path / "user"
    cwd.mkdir()
    user.mkdir()
    env = screen.env(POSTURE_HOME=str(home), HOME=str(user))
    proc = spawn(env, "calibrate", "--source", str(clips["upright"]), "--preview", cwd=cwd)
    try:
        window = window_of(screen, "posture calibrate", proc)
        drawn(screen, window, proc, lambda s: count(picture_and_panel(s)[0], GREEN) > 300)

        def files() -> set[Path]:
            return {p for root in (home, cwd, user) for p in root.rglob("*") if p.is_file()}

        before = files()
        screen.key(window, "ctrl+s")
        time.sleep(1.0)  # a save dialog or a write would have happened by now
        screen.key(window, "Return")  # would confirm a save dialog, if there were one
        time.sleep(0.5)
        after = files()
        screen.key(window, "Escape")
        _, err = proc.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert after == before, after - before
    images = [p for p in files() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")]
    assert images == []
    assert err == CANCELLED


def test_by_default_a_script_gets_the_text_flow_even_with_a_display(
    tmp_path: Path, clips: dict[str, Path], screen: Screen
) -> None:
    """Not in a terminal (stderr a pipe, as for a script or a test): no window unless
    `--preview` asks, so the 20 s clip is not played in real time and nothing is said."""
    home = tmp_path / "home"
    started = time.monotonic()
    result = run_posture(
        "calibrate", "--source", str(clips["upright"]), env=screen.env(POSTURE_HOME=str(home))
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert time.monotonic() - started < 15
    assert profile_file(home).exists()


def test_without_a_display_calibration_says_one_line_and_saves_in_the_text_flow(
    tmp_path: Path, clips: dict[str, Path]
) -> None:
    home = tmp_path / "home"
    env = {"POSTURE_HOME": str(home), "DISPLAY": ""}
    result = run_posture("calibrate", "--source", str(clips["upright"]), "--preview", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "posture: no display for the preview window (DISPLAY is not set): "
        "calibrating in the terminal\n"
    )
    assert result.stdout.startswith("Calibrated profile 'default' from 100 frames")
    assert profile_file(home).exists()


def test_a_window_that_qt_aborts_leaves_calibration_in_the_text_flow(
    tmp_path: Path, clips: dict[str, Path]
) -> None:
    """DISPLAY names a display nobody serves: HighGUI (Qt) aborts its process with
    SIGABRT, as it does on a machine without X; the calibration goes on and saves."""
    home = tmp_path / "home"
    env = {"POSTURE_HOME": str(home), "DISPLAY": ":4093"}
    result = run_posture("calibrate", "--source", str(clips["upright"]), "--preview", env=env)
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("posture: the preview window ended (killed by SIGABRT")
    assert line.endswith("; going on without it")
    assert profile_file(home).exists()


def test_a_window_killed_mid_way_leaves_calibration_in_the_text_flow(
    tmp_path: Path, clips: dict[str, Path], screen: Screen
) -> None:
    home = tmp_path / "home"
    started = time.monotonic()
    proc = spawn(
        screen.env(POSTURE_HOME=str(home)), "calibrate", "--source", str(clips["upright"]),
        "--preview",
    )  # fmt: skip
    try:
        window = window_of(screen, "posture calibrate", proc)
        drawn(screen, window, proc, lambda s: count(picture_and_panel(s)[0], GREEN) > 300)
        os.kill(screen.pid(window), signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert proc.returncode == 0, err
    assert err == "posture: the preview window ended (killed by SIGKILL); going on without it\n"
    assert out.startswith("Calibrated profile 'default' from 100 frames")
    assert profile_file(home).exists()
    # Without the window the rest of the file is not played in real time.
    assert time.monotonic() - started < 30


# --- posture preview ----------------------------------------------------------------------


def test_preview_draws_the_judgment_and_esc_ends_it(
    tmp_path: Path, clips: dict[str, Path], screen: Screen
) -> None:
    env = calibrated_home(tmp_path, clips)
    home = Path(env["POSTURE_HOME"])
    saved = profile_file(home).read_bytes()
    proc = spawn(screen.env(**env), "preview", "--source", str(clips["slouch"]))
    try:
        window = window_of(screen, "posture preview", proc)
        shot = drawn(screen, window, proc, lambda s: count(picture_and_panel(s)[0], GREEN) > 300)
        # The gates' ticks and the bands' in-band values are green in the panel.
        assert count(picture_and_panel(shot)[1], GREEN) > 100
        # Then the head sinks: the verdict, the problem and out-of-band values turn red.
        red = (0, 0, 255)
        drawn(screen, window, proc, lambda s: count(picture_and_panel(s)[1], red) > 150)
        screen.key(window, "Escape")
        out, err = proc.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert proc.returncode == 0, err
    assert (out, err) == ("", "")
    assert profile_file(home).read_bytes() == saved


def test_closing_the_preview_window_ends_it(
    tmp_path: Path, clips: dict[str, Path], screen: Screen
) -> None:
    env = calibrated_home(tmp_path, clips)
    # The 4-min clip: a loaded machine may take long to show the window, and the clip
    # must still be playing when the test closes it.
    proc = spawn(screen.env(**env), "preview", "--source", str(clips["monitor"]))
    try:
        window = window_of(screen, "posture preview", proc)
        drawn(screen, window, proc, lambda s: count(picture_and_panel(s)[0], GREEN) > 300)
        closed = time.monotonic()
        screen.close(window)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - closed
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert proc.returncode == 0, err
    assert (out, err) == ("", "")
    assert took < 6  # long before the clip's end (4 min, played in real time)


def test_preview_without_a_display_is_one_line_and_exit_1(
    tmp_path: Path, clips: dict[str, Path]
) -> None:
    env = calibrated_home(tmp_path, clips)
    env["DISPLAY"] = ""
    result = run_posture("preview", "--source", str(clips["slouch"]), env=env)
    assert result.returncode == 1
    assert result.stderr == (
        "posture: error: no display for the preview window (DISPLAY is not set): "
        "`posture preview` needs one\n"
    )


# --- the camera lent by a running monitor --------------------------------------------------


@pytest.fixture
def monitor(tmp_path: Path, clips: dict[str, Path]) -> Iterator[dict[str, str]]:
    env = calibrated_home(tmp_path, clips)
    result = run_posture("start", "--source", str(clips["monitor"]), "--speed", "1", env=env)
    assert result.returncode == 0, result.stderr
    try:
        yield env
    finally:
        run_posture("stop", env=env)


def test_borrowing_pauses_a_running_monitor_and_gives_it_back_with_its_snooze(
    monitor: dict[str, str], clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from posture.app import compose
    from tests.test_capture import FakeTerminal

    for key, value in monitor.items():
        monkeypatch.setenv(key, value)
    assert run_posture("snooze", "15m", env=monitor).returncode == 0
    snoozed = status(monitor)["snoozed_until"]
    assert snoozed
    terminal = FakeTerminal()
    with compose.camera_loan(terminal) as loan:
        assert loan.borrowed
        now = status(monitor)
        assert now["state"] == "paused" and now["camera"] == "released (paused)"
    wait_until("the monitor to look again", lambda: status(monitor)["state"] != "paused" or None)
    after = status(monitor)
    assert after["snoozed_until"] == snoozed  # the user's snooze survived
    assert after["paused_until"] is None
    assert terminal.said == [
        "posture: the running monitor is paused while this has the camera",
        "posture: the monitor has the camera again",
    ]

    # A pause the user sets while the camera is lent is theirs: it stays.
    with compose.camera_loan(FakeTerminal()) as loan:
        assert loan.borrowed
        assert run_posture("pause", "--for", "2h", env=monitor).returncode == 0
        users = status(monitor)["paused_until"]
    assert status(monitor)["paused_until"] == users
    assert run_posture("resume", env=monitor).returncode == 0

    # A monitor the user paused stays paused.
    assert run_posture("pause", "--for", "1h", env=monitor).returncode == 0
    until = status(monitor)["paused_until"]
    with compose.camera_loan(FakeTerminal()) as loan:
        assert not loan.borrowed and loan.running
    assert status(monitor)["paused_until"] == until

    # Calibrating while it runs: it says the monitor keeps its old calibration.
    args = [a for i in range(3) for a in ("--source", str(clips[f"s{i}"]))]
    result = run_posture("calibrate", *args, env=monitor)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "posture: the running monitor still uses the calibration it started with: "
        "restart it (`posture stop && posture start`) to use this one\n"
    )


def test_a_borrower_that_dies_leaves_the_monitor_paused_only_for_its_lease(
    monitor: dict[str, str],
) -> None:
    """The lease: a borrower killed before it gives the camera back (here it exits
    at once, without resuming) leaves a pause that ends by itself."""
    code = (
        "import os\n"
        "from posture.app.borrow import CameraLoan\n"
        "from posture.app import compose\n"
        "from tests.test_capture import FakeTerminal\n"
        "loan = CameraLoan(compose.control_transport(compose.monitor_places()), FakeTerminal(),"
        " lease=3.0)\n"
        "loan.__enter__()\n"
        "os._exit(0)\n"
    )
    env = dict(os.environ, **monitor)
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=60, check=False)
    assert done.returncode == 0
    assert status(monitor)["state"] == "paused"
    wait_until("the lease to run out", lambda: status(monitor)["state"] != "paused" or None, 15)
