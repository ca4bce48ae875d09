"""The native-log filter: lines judged by their form, errors kept, and the real commands
leaving only posture's own lines on stderr (with whatever mediapipe the venv holds: the
lock in scripts/test, the newest allowed release in scripts/check-latest)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from posture.adapters.pose import native_log
from posture.adapters.video.sources import open_source
from posture.app import demo
from posture.app.compose import MediaPipeModel
from posture.samples import GRACE_HOPPER
from tests.conftest import foreign_lines, run_posture


@pytest.mark.parametrize(
    ("line", "noise"),
    [
        (b"W0000 00:00:1795251820.223941    8865 inference_feedback_manager.cc:121] x\n", True),
        (b"I1121 09:00:01.5 12 gl_context.cc:357] GL version\n", True),
        (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n", True),
        (b"WARNING: [model_load.cc:402] Sparsity tensors may not yet be fully supported.\n", True),
        (b"INFO: [environment.cc:36] Creating LiteRT environment with options\n", True),
        (b"VERBOSE: [tensor_buffer.cc:9] a message no release has printed yet\n", True),
        (b"DEBUG: anything at all\n", True),
        (
            b"WARNING: Logging before InitGoogle() is written to STDERRW0000 00:00:1.2 3 a.cc:1]\n",
            True,
        ),
        (b"E0000 00:00:1795251820.2 8865 calculator_graph.cc:12] real failure\n", False),
        (b"F1121 09:00:01.5 12 check.cc:1] Check failed\n", False),
        (b"ERROR: The model is not a valid Flatbuffer buffer\n", False),
        (b"FATAL: out of memory\n", False),
        # an error glued behind a warning is not hidden by it
        (b"WARNING: Logging before InitGoogle()E0000 00:00:1.2 3 a.cc:1] boom\n", False),
        (b"posture: error: something\n", False),
        (b"Segmentation fault (core dumped)\n", False),
        (b"  INFO: indented, so not a native record\n", False),
        (b"\n", False),
    ],
)
def test_lines_are_judged_by_their_form(line: bytes, noise: bool) -> None:
    assert native_log.is_noise(line) is noise


def test_glued_records_are_split_at_each_glog_prefix() -> None:
    line = b"WARNING: Logging before InitGoogle() is written to STDERRW0000 00:00:1.2 3 a.cc:1] x"
    parts = native_log.records(line)
    assert parts == [
        b"WARNING: Logging before InitGoogle() is written to STDERR",
        b"W0000 00:00:1.2 3 a.cc:1] x",
    ]
    assert [native_log.classify(p) for p in parts] == ["noise", "noise"]
    assert native_log.classify(b"E0000 00:00:1.2 3 a.cc:1] x") == "error"
    assert native_log.classify(b"hello") == "other"


_WRITER = r"""
import os, sys
from posture.adapters.pose import native_log
native_log.request_quiet()
native_log.install_if_requested()
os.write(2, b"INFO: chatter\n")
os.write(2, b"WARNING: [model_load.cc:402] Sparsity tensors may not yet be fully supported.\n")
os.write(2, b"W0000 00:00:1.2 3 a.cc:1] a warningE0000 00:00:1.2 3 b.cc:2] unclaimed glued error\n")
os.write(2, b"ERROR: The model is not a valid Flatbuffer buffer\n")
os.write(2, b"F1121 09:00:01.5 12 check.cc:1] Check failed: nobody raised this\n")
os.write(2, b"a line of some other program\n")
native_log.reported("cannot load x.task (The model is not a valid Flatbuffer buffer): ...")
print("posture: error: python's own line", file=sys.stderr)
os.write(2, b"no newline at the end")
"""


def test_the_filter_drops_noise_keeps_unclaimed_errors_and_everything_else() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WRITER], capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.decode().splitlines()
    assert sorted(lines) == sorted(
        [
            "E0000 00:00:1.2 3 b.cc:2] unclaimed glued error",
            "F1121 09:00:01.5 12 check.cc:1] Check failed: nobody raised this",
            "a line of some other program",
            "posture: error: python's own line",
            "no newline at the end",
        ]
    ), lines


def test_an_unclaimed_error_reaches_the_user_while_the_process_still_runs() -> None:
    """A native error with no exception must not wait for the exit to be seen."""
    code = (
        "import os, sys, time\n"
        "from posture.adapters.pose import native_log\n"
        "native_log.request_quiet(); native_log.install_if_requested()\n"
        "os.write(2, b'E0000 00:00:1.2 3 b.cc:2] camera graph failed\\n')\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # blocks until the filter lets it through
        assert line == b"E0000 00:00:1.2 3 b.cc:2] camera graph failed\n"
        assert proc.poll() is None  # still running: the line came after the hold, not at exit
    finally:
        proc.kill()
        proc.wait()


# --- the real commands -------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clip")
    shoulder = demo.shoulder_line(GRACE_HOPPER, open_source=open_source, pose=MediaPipeModel())
    stills = demo.upright_stills(folder, GRACE_HOPPER)
    return {
        "clip": demo.build_clip(folder, GRACE_HOPPER, shoulder),
        **{str(i): s for i, s in enumerate(stills)},
    }


def test_analyze_over_a_clip_writes_nothing_to_stderr(clip: dict[str, Path]) -> None:
    done = run_posture("analyze", str(clip["clip"]), "--max-frames", "40", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_calibrate_and_run_leave_only_posture_lines(clip: dict[str, Path], tmp_path: Path) -> None:
    env = {"POSTURE_HOME": str(tmp_path / "home")}
    sources = [arg for i in range(3) for arg in ("--source", str(clip[str(i)]))]
    calibrated = run_posture("calibrate", *sources, env=env)
    assert calibrated.returncode == 0, calibrated.stderr
    assert calibrated.stderr == ""
    refused = run_posture("calibrate", "--source", str(clip["clip"]), "--profile", "x", env=env)
    assert refused.returncode == 2
    assert refused.stderr.startswith("posture: error: you moved during calibration")
    assert refused.stderr.count("\n") == 1
    ran = run_posture("run", "--source", str(clip["clip"]), "--speed", "0", env=env)
    assert ran.returncode == 0, ran.stderr
    assert "posture: nudge (slouch)" in ran.stderr
    assert foreign_lines(ran.stderr) == []


def test_a_model_mediapipe_refuses_is_one_line(tmp_path: Path) -> None:
    import zipfile

    from posture.adapters.pose import model

    junk = tmp_path / "junk.task"
    with zipfile.ZipFile(junk, "w", zipfile.ZIP_STORED) as bundle:
        for name in model.TASK_MEMBERS:
            bundle.writestr(name, b"junk" * 64)
    done = run_posture("analyze", "--model", str(junk), str(GRACE_HOPPER))
    assert done.returncode == 2
    # MediaPipe's own "ERROR: The model is not a valid Flatbuffer buffer" is in this line
    # already, so its native copy is not shown a second time.
    assert done.stderr.startswith(f"posture: error: MediaPipe cannot load {junk}")
    assert done.stderr.count("\n") == 1, done.stderr
