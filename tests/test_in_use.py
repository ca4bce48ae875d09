"""Another program has the camera (a video call): the Linux watch on a real file that a
second real process opens and closes (inotify, /proc), through the sensor and through a
real `posture start` process; the macOS and Windows probes over fakes of their OS calls
(CoreMediaIO, the consent store), which exist only there."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from posture import config
from posture.adapters.video import in_use
from posture.adapters.video.in_use import (
    ConsentEntry,
    CoreMedia,
    DeviceWatch,
    PolledWatch,
    busy_hold,
    camera_in_use_sensor,
    consent_probe,
    core_media_probe,
    holders,
)
from posture.adapters.video.sources import CameraInUse
from posture.ports import CameraBusy, Hold
from tests.conftest import run_posture
from tests.test_monitor_process import calibrated_home, db_rows, material

__all__ = ["material"]  # the module fixture, shared with the process tests

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify and /proc")

HOLDER = """
import sys, time
f = open(sys.argv[1], "rb")
print(time.time(), flush=True)
sys.stdin.read()
"""


class Holder:
    """A second process that opens `path`, says when (its wall time), and closes it when
    told (or when killed)."""

    def __init__(self, path: Path, user: list[str] | None = None) -> None:
        self.process = subprocess.Popen(
            [*(user or []), sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.opened_at = float(self.process.stdout.readline())
        self.pid = self.process.pid

    def close(self) -> float:
        assert self.process.stdin is not None
        closed = time.time()
        self.process.stdin.close()
        self.process.wait(10)
        return closed


class Wakes:
    """The loop's `wake`, counted, with a way to wait for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self.event = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    def wait_for(self, check: Callable[[], bool], timeout: float = 2.0) -> float:
        """Seconds until `check()` holds (fails after `timeout`)."""
        start = time.monotonic()
        while not check():
            assert time.monotonic() - start < timeout, "not in time"
            self.event.wait(0.05)
            self.event.clear()
        return time.monotonic() - start


@pytest.fixture
def device(tmp_path: Path) -> Path:
    path = tmp_path / "video0"
    path.write_bytes(b"")
    return path


@pytest.fixture
def watch(device: Path) -> Iterator[tuple[DeviceWatch, Wakes]]:
    sensor, wakes = DeviceWatch(str(device), rescan=0.2), Wakes()
    sensor.start(wakes)
    try:
        yield sensor, wakes
    finally:
        sensor.close()


@linux
def test_a_second_process_opening_the_device_is_a_hold_naming_it(
    watch: tuple[DeviceWatch, Wakes], device: Path
) -> None:
    sensor, wakes = watch
    assert sensor.hold() is None
    other = Holder(device)
    seen = wakes.wait_for(lambda: sensor.hold() is not None)
    assert seen < 1.0
    assert sensor.hold() == Hold(
        "camera_in_use", f"camera in use by python (pid {other.pid})", "python", other.pid
    )
    other.close()
    wakes.wait_for(lambda: sensor.hold() is None)


@linux
def test_our_own_opens_are_not_a_hold(watch: tuple[DeviceWatch, Wakes], device: Path) -> None:
    sensor, wakes = watch
    for _ in range(3):
        with device.open("rb"):
            time.sleep(0.05)
    time.sleep(0.3)
    assert sensor.hold() is None
    assert wakes.count == 0  # the answer never changed


@linux
def test_a_holder_killed_ends_the_hold(watch: tuple[DeviceWatch, Wakes], device: Path) -> None:
    sensor, wakes = watch
    other = Holder(device)
    wakes.wait_for(lambda: sensor.hold() is not None)
    other.process.kill()
    other.process.wait()
    wakes.wait_for(lambda: sensor.hold() is None)


@linux
def test_a_device_held_before_the_watch_starts_is_a_hold_at_once(device: Path) -> None:
    other = Holder(device)
    sensor = DeviceWatch(str(device))
    sensor.start(Wakes())
    try:
        held = sensor.hold()
        assert held is not None and held.holder_pid == other.pid
    finally:
        sensor.close()
        other.close()


@linux
def test_a_device_that_appears_later_is_watched_then(tmp_path: Path) -> None:
    path = tmp_path / "video9"
    sensor, wakes = DeviceWatch(str(path), rescan=0.1), Wakes()
    sensor.start(wakes)  # no such device: not an error, looked for again
    try:
        path.write_bytes(b"")
        time.sleep(0.3)  # found by the next look for it
        other = Holder(path)
        wakes.wait_for(lambda: sensor.hold() is not None)
        other.close()
        wakes.wait_for(lambda: sensor.hold() is None)
        path.unlink()  # unplugged: the watch ends and is looked for again
        path.write_bytes(b"")
        time.sleep(0.3)
        other = Holder(path)
        wakes.wait_for(lambda: sensor.hold() is not None)
        other.close()
    finally:
        sensor.close()


@linux
def test_holders_lists_the_processes_with_the_file_open_but_not_ours(device: Path) -> None:
    with device.open("rb"):
        assert holders(str(device)).found == ()
        others = [Holder(device), Holder(device)]
        found = holders(str(device)).found
        assert [pid for pid, _ in found] == sorted(o.pid for o in others)
        assert {name for _, name in found} == {"python"}
        for other in others:
            other.close()
    assert holders(str(device)).found == ()


@linux
def test_another_users_holder_is_not_seen_in_proc_but_ebusy_says_so(device: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root for a second uid")
    device.chmod(0o644)
    device.parent.chmod(0o755)
    other = Holder(device)  # root's; the scan below runs as nobody
    scan = subprocess.run(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", sys.executable,
         "-c", "import sys; from posture.adapters.video.in_use import holders;"
         "print(len(holders(sys.argv[1]).found))", str(device)],
        capture_output=True, text=True, check=False, cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    other.close()
    assert scan.returncode == 0, scan.stderr
    assert scan.stdout.strip() == "0"

    def ebusy(fd: int, request: int, arg: bytes) -> None:
        assert request == in_use.VIDIOC_REQBUFS and len(arg) == 20
        raise OSError(errno.EBUSY, "busy")

    assert busy_hold(str(device), ioctl=ebusy) == Hold(
        "camera_in_use", "camera in use by another program"
    )


@linux
def test_busy_hold_is_a_holder_seen_or_ebusy_and_nothing_else(device: Path, tmp_path: Path) -> None:
    assert busy_hold(str(tmp_path / "absent")) is None
    assert busy_hold(str(device)) is None  # a file answers ENOTTY: not busy, a fault
    other = Holder(device)
    held = busy_hold(str(device))
    other.close()
    assert held is not None and held.holder_pid == other.pid
    error = CameraInUse(held)
    assert isinstance(error, CameraBusy) and error.hold is held
    assert str(error) == (
        f"camera in use by python (pid {other.pid}): close that program's video, or wait "
        "until it is done"
    )


def test_camera_device_must_be_an_absolute_path(tmp_path: Path) -> None:
    file = tmp_path / "config.toml"
    file.write_text('[monitor]\ncamera_device = "video0"\n')
    with pytest.raises(config.ConfigError, match=r"camera_device = 'video0' should be an abs"):
        config.load(file)
    file.write_text('[monitor]\ncamera_device = "/dev/video2"\n')
    assert config.load(file).monitor.camera_device == "/dev/video2"
    assert config.Config().monitor.camera_device == ""


def test_which_sensor_for_which_platform_and_source() -> None:
    linux_camera = camera_in_use_sensor(1, "", "linux")
    assert isinstance(linux_camera, DeviceWatch) and linux_camera.device == "/dev/video1"
    configured = camera_in_use_sensor(None, "/tmp/cam", "linux")  # over a recording too
    assert isinstance(configured, DeviceWatch) and configured.device == "/tmp/cam"
    assert camera_in_use_sensor(None, "", "linux") is None  # a recording has no camera
    assert isinstance(camera_in_use_sensor(0, "", "darwin"), PolledWatch)
    assert isinstance(camera_in_use_sensor(0, "", "win32"), PolledWatch)
    assert camera_in_use_sensor(None, "", "win32") is None
    assert camera_in_use_sensor(0, "", "sunos5") is None


# --- macOS and Windows: their OS calls faked --------------------------------------------


def test_core_media_another_process_running_a_camera_is_a_hold() -> None:
    running: dict[tuple[int, int], bool] = {}
    cmio = CoreMedia(devices=lambda: [33, 34], running=lambda d, p: running.get((d, p), False))
    probe = core_media_probe(cmio)
    assert probe() is None
    somewhere, here = in_use._CMIO_RUNNING_SOMEWHERE, in_use._CMIO_RUNNING_HERE
    running[(34, somewhere)] = True  # another program
    assert probe() == Hold("camera_in_use", "camera in use by another program")
    running[(34, here)] = True  # it is us
    assert probe() is None
    assert somewhere == int.from_bytes(b"gone", "big")


def test_consent_store_another_app_with_an_open_use_is_a_hold() -> None:
    own = r"C:\Python311\python.exe"
    entries = [
        ConsentEntry("Microsoft.WindowsCamera_8wekyb3d8bbwe", 133_000, 133_500),  # over
        ConsentEntry("C:#Python311#python.exe", 133_000, 0),  # us
        ConsentEntry("C:#Program Files#Zoom#bin#Zoom.exe", 0, 0),  # never used
    ]
    probe = consent_probe(lambda: entries, own)
    assert probe() is None
    entries.append(ConsentEntry("C:#Program Files#Zoom#bin#Zoom.exe", 134_000, 0))
    assert probe() == Hold("camera_in_use", "camera in use by Zoom.exe", "Zoom.exe", None)


def test_a_polled_watch_wakes_the_loop_when_the_answer_changes() -> None:
    answer: list[Hold | None] = [None]
    sensor, wakes = PolledWatch("fake", lambda: lambda: answer[0], period=0.02), Wakes()
    sensor.start(wakes)
    try:
        answer[0] = in_use.in_use("Teams.exe")
        wakes.wait_for(lambda: sensor.hold() is not None)
        answer[0] = None
        wakes.wait_for(lambda: sensor.hold() is None)
        assert wakes.count == 2
    finally:
        sensor.close()


def test_a_polled_watch_whose_os_call_fails_is_no_hold(caplog: pytest.LogCaptureFixture) -> None:
    def probe() -> Hold | None:
        raise OSError("CMIOObjectGetPropertyData: status -50")

    calls = [in_use.in_use()]

    def connect() -> Callable[[], Hold | None]:
        return lambda: calls.pop() if calls else probe()

    sensor, wakes = PolledWatch("fake", connect, period=0.02), Wakes()
    sensor.start(wakes)
    try:
        assert sensor.hold() is not None
        wakes.wait_for(lambda: sensor.hold() is None)
        time.sleep(0.1)
    finally:
        sensor.close()
    assert [r.message for r in caplog.records].count(
        "fake: CMIOObjectGetPropertyData: status -50; taken as not in use"
    ) == 1


# --- a real `posture start` ----------------------------------------------------------------


def _log_time(line: str) -> float:
    """The wall time of a posture.log line ("2026-12-01 23:50:01,123 INFO ...")."""
    stamp = line[:23]
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _status(env: dict[str, str]) -> dict[str, object]:
    result = run_posture("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    reply: dict[str, object] = json.loads(result.stdout)
    return reply


def _wait_log(log: Path, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if text in line:
                return line
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the log:\n{log.read_text()}")


@linux
def test_a_started_monitor_hands_the_camera_to_another_program_and_looks_again(
    tmp_path: Path, material: dict[str, Path]
) -> None:
    device = tmp_path / "video0"
    device.write_bytes(b"")
    env = calibrated_home(tmp_path, material, f'[monitor]\ncamera_device = "{device}"\n')
    home = Path(env["POSTURE_HOME"])
    log = home / "log" / "posture.log"
    result = run_posture("start", "--source", str(material["clip"]), "--speed", "1", env=env)
    assert result.returncode == 0, result.stderr
    try:
        deadline = time.monotonic() + 20
        while db_rows(home, "select count(*) from samples")[0][0] < 2:  # looking
            assert time.monotonic() < deadline
            time.sleep(0.2)
        other = Holder(device)
        released = _wait_log(log, "; camera released", 5)
        release_time = _log_time(released) - other.opened_at
        assert release_time < 1.0, released
        assert f"camera in use by python (pid {other.pid}); camera released" in released
        now = _status(env)
        assert now["state"] == "camera_in_use"
        assert now["hold"] == f"camera in use by python (pid {other.pid})"
        assert (now["holder"], now["holder_pid"]) == ("python", other.pid)
        human = run_posture("status", env=env).stdout
        assert f"camera in use: camera in use by python (pid {other.pid}); not looking" in human
        time.sleep(1.0)  # held for a while: no look meanwhile
        looks = db_rows(home, "select count(*) from samples")[0][0]
        closed = other.close()
        back = _wait_log(log, "over; looking again", 10)
        resume_time = _log_time(back) - closed
        assert resume_time < 10.0
        deadline = time.monotonic() + 10
        while _status(env)["state"] == "camera_in_use":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert _status(env)["hold"] is None
        print(f"release {release_time * 1000:.0f} ms, look again {resume_time * 1000:.0f} ms")
    finally:
        stopped = run_posture("stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
    held = "select kind, start_ms, end_ms from periods where kind = 'camera_in_use'"
    periods = db_rows(home, held)
    assert len(periods) == 1
    ((_, start, end),) = periods
    assert end - start >= 1000
    held_looks = db_rows(
        home, f"select count(*) from samples where t_ms > {start + 500} and t_ms < {end}"
    )[0][0]
    assert held_looks == 0 and looks > 0
    # the report shows the time the camera was another program's
    report = run_posture("report", "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    held_s = json.loads(report.stdout)["held_s"]
    assert held_s["locked"] == held_s["asleep"] == 0
    assert abs(held_s["camera_in_use"] - (end - start) / 1000) < 0.01
    text = run_posture("report", env=env).stdout
    lines = [line for line in text.splitlines() if "not looking" in line]
    assert len(lines) == 1 and lines[0].endswith(": camera in use by another program"), text
    csv = run_posture("report", "--format", "csv", env=env).stdout
    assert "# held_s.camera_in_use," in csv
