"""Build posture/models/pose_landmarker_full.task from Google's mediapipe 0.10.14 wheel.

    python scripts/build_pose_model.py                 # download, build, write the .task
    python scripts/build_pose_model.py --wheel W.whl   # use an already downloaded wheel
    python scripts/build_pose_model.py --check         # rebuild, compare with the committed file

Why this script exists
----------------------
posture runs MediaPipe's PoseLandmarker ("Tasks" API), which loads a `.task` file: an
uncompressed zip holding two TFLite networks, `pose_detector.tflite` (the person detector)
and `pose_landmarks_detector.tflite` (the 33-landmark BlazePose GHUM "full" model). The
machines this project builds on reach package registries only, so the published `.task`
file cannot be fetched at build or run time. The networks themselves are on PyPI, though:
Google's mediapipe 0.10.14 wheel (Apache-2.0) ships them for its legacy "solutions" API as

    mediapipe/modules/pose_detection/pose_detection.tflite
    mediapipe/modules/pose_landmark/pose_landmark_full.tflite

The detector loads in the Tasks API as it is. The landmark model does not: it carries no
TFLite metadata, and the Tasks API needs metadata to know how to turn an image into the
float32 input tensor ("Input tensor has type float32: it requires specifying
NormalizationOptions metadata"). So this script adds exactly that metadata and nothing
else (the weights and graph are untouched): an RGB image input normalised with mean 0 and
std 255 (pixel / 255, the [0, 1] range the legacy graph feeds the model), and names for the
five outputs in the model's own order: landmarks [1,195], presence [1,1],
segmentation_mask [1,256,256,1], heat_map [1,64,64,39], world_landmarks [1,117].

How
---
The metadata is written with MediaPipe's own metadata writer
(`mediapipe.tasks.python.metadata.metadata_writers.metadata_writer`). The writer in the
mediapipe the project runs (1.2.x) cannot do it (its compiled half is missing), so the
script uses the writer of the same 0.10.14 wheel, in a throwaway virtual environment:

1. `pip download mediapipe==0.10.14 --no-deps` for the running Python (or `--wheel`);
2. a venv in a temporary directory gets that wheel (`--no-deps`) plus exact pins of what
   the writer needs: `flatbuffers` and `numpy` (the writer re-serialises the whole model
   with the flatbuffers runtime, which needs numpy for the weight buffers);
3. this same file runs in that venv in its hidden `--_write-metadata IN OUT` mode. It
   imports the writer without running `mediapipe/__init__.py`, which would load the whole
   framework and need OpenCV, matplotlib, protobuf and attrs only to be thrown away; the
   writer itself needs none of them;
4. the two networks are packed into the `.task` zip, uncompressed (the Tasks API rejects
   compressed entries), in a fixed order, with fixed timestamps and attributes, and each
   entry's data aligned to 64 bytes through a padding extra field, so the TFLite buffers
   are aligned in memory and the output is byte-for-byte reproducible.

Reproducibility: the writer itself is deterministic (no time stamps, no randomness), but its
output depends on the version of the flatbuffers Python runtime that re-serialises the
model (24.3.25 and 25.12.19 give files of different sizes), hence the exact pin below.
`--check` rebuilds into a temporary file and compares SHA-256 with the committed file.

posture/models/NOTICE.md records the provenance and the hashes; posture/models/LICENSE is
the wheel's licence. Requires Python 3.10-3.12 (mediapipe 0.10.14 has no wheel for 3.13).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import io
import os
import struct
import subprocess
import sys
import tempfile
import types
import venv
import zipfile
from collections.abc import Sequence
from pathlib import Path

MEDIAPIPE_VERSION = "0.10.14"
SUPPORTED_PYTHONS = ((3, 10), (3, 12))  # the project's minimum to the newest 0.10.14 wheel
# What the metadata writer needs besides the wheel, pinned: the flatbuffers runtime decides
# the exact bytes of the re-serialised model. numpy 1.26.4 has wheels for CPython 3.10-3.12.
WRITER_REQUIREMENTS = ("flatbuffers==24.3.25", "numpy==1.26.4")

DETECTOR_IN_WHEEL = "mediapipe/modules/pose_detection/pose_detection.tflite"
LANDMARKS_IN_WHEEL = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
# The same bytes are in the CPython 3.10, 3.11 and 3.12 wheels (checked for manylinux x86_64);
# checked on every build so that another wheel cannot silently give another model.
SOURCE_SHA256 = {
    DETECTOR_IN_WHEEL: "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    LANDMARKS_IN_WHEEL: "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}

DETECTOR_IN_TASK = "pose_detector.tflite"
LANDMARKS_IN_TASK = "pose_landmarks_detector.tflite"

MODEL_NAME = "pose_landmark_full"
MODEL_DESCRIPTION = (
    "BlazePose GHUM 3D pose landmark model (full), from the mediapipe 0.10.14 wheel; "
    "TFLite metadata added by posture's scripts/build_pose_model.py."
)
# The landmark model's outputs, in the model's order, with the shapes they must have.
OUTPUTS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("landmarks", (1, 195)),
    ("presence", (1, 1)),
    ("segmentation_mask", (1, 256, 256, 1)),
    ("heat_map", (1, 64, 64, 39)),
    ("world_landmarks", (1, 117)),
)
INPUT_SHAPE = (1, 256, 256, 3)
NORM_MEAN = 0.0
NORM_STD = 255.0

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record
ZIP_UNIX = 3  # "made by" Unix, so that the mode below is read as one
ZIP_FILE_MODE = 0o100644  # regular file, rw-r--r--
ZIP_ALIGNMENT = 64
ZIP_LOCAL_HEADER_SIZE = 30
# Header id of the padding extra field: the id Android's APK tools give their alignment field
# (2 bytes of alignment, then zeros). Zip readers skip extra fields they do not know.
ALIGNMENT_EXTRA_ID = 0xD935

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "posture" / "models" / "pose_landmarker_full.task"
WRITE_METADATA_FLAG = "--_write-metadata"


class BuildError(Exception):
    """A step of the build failed; the message says which and why."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(command: Sequence[str]) -> None:
    """Run a command, failing with its output if it fails."""
    result = subprocess.run(list(command), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(
            f"command failed ({result.returncode}): {' '.join(command)}\n"
            f"{result.stdout}{result.stderr}"
        )


# --- the parent: wheel, venv, zip ---------------------------------------------------------


def create_writer_venv(directory: Path) -> Path:
    """Create a venv with pip for the running Python; return its interpreter."""
    venv.EnvBuilder(with_pip=True, clear=True).create(directory)
    bin_dir = "Scripts" if os.name == "nt" else "bin"
    python = directory / bin_dir / ("python.exe" if os.name == "nt" else "python")
    if not python.is_file():
        raise BuildError(f"the new virtual environment has no interpreter at {python}")
    return python


def pip(python: Path, *args: str) -> None:
    run([str(python), "-I", "-m", "pip", *args, "--disable-pip-version-check", "--no-input"])


def download_wheel(python: Path, directory: Path) -> Path:
    """`pip download` mediapipe==0.10.14, no dependencies, for `python`."""
    pip(
        python,
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(directory),
        f"mediapipe=={MEDIAPIPE_VERSION}",
    )
    wheels = sorted(directory.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
    if len(wheels) != 1:
        raise BuildError(f"expected one mediapipe wheel in {directory}, found {wheels}")
    return wheels[0]


def read_sources(wheel: Path) -> dict[str, bytes]:
    """The two networks from the wheel, checked against their known SHA-256."""
    if not wheel.name.startswith(f"mediapipe-{MEDIAPIPE_VERSION}-"):
        raise BuildError(f"{wheel.name} is not a mediapipe {MEDIAPIPE_VERSION} wheel")
    sources: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as zf:
        for member, expected in SOURCE_SHA256.items():
            try:
                data = zf.read(member)
            except KeyError:
                raise BuildError(f"{wheel.name} has no {member}") from None
            if sha256(data) != expected:
                raise BuildError(
                    f"{member} in {wheel.name} has SHA-256 {sha256(data)}, expected {expected}"
                )
            sources[member] = data
    return sources


def add_metadata(python: Path, landmarks: bytes, directory: Path) -> bytes:
    """Run this script's writer mode in the venv of `python` on the landmark model."""
    source = directory / "pose_landmark_full.tflite"
    target = directory / "pose_landmarks_detector.tflite"
    source.write_bytes(landmarks)
    run(
        [
            str(python),
            "-I",
            str(Path(__file__).resolve()),
            WRITE_METADATA_FLAG,
            str(source),
            str(target),
        ]
    )
    return target.read_bytes()


def aligned_entry(name: str, offset: int) -> zipfile.ZipInfo:
    """A ZipInfo whose data, if its local header starts at `offset`, starts aligned.

    The padding is an extra field (id, size, 2 bytes of alignment, zeros) in the local
    header, so the zip stays a plain sequence of entries that every reader accepts.
    """
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = ZIP_UNIX
    info.external_attr = ZIP_FILE_MODE << 16
    minimum = 6  # header id, data size, alignment
    unpadded = offset + ZIP_LOCAL_HEADER_SIZE + len(name.encode("ascii")) + minimum
    padding = -unpadded % ZIP_ALIGNMENT
    info.extra = struct.pack("<HHH", ALIGNMENT_EXTRA_ID, 2 + padding, ZIP_ALIGNMENT)
    info.extra += b"\0" * padding
    return info


def build_task(detector: bytes, landmarks: bytes) -> bytes:
    """The .task zip: stored, fixed order, fixed dates and modes, 64-byte aligned data."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in ((DETECTOR_IN_TASK, detector), (LANDMARKS_IN_TASK, landmarks)):
            zf.writestr(aligned_entry(name, buffer.tell()), data)
    task = buffer.getvalue()
    check_task(task, {DETECTOR_IN_TASK: detector, LANDMARKS_IN_TASK: landmarks})
    return task


def check_task(task: bytes, expected: dict[str, bytes]) -> None:
    """Read the zip back: the entries, their bytes, no compression, aligned data."""
    with zipfile.ZipFile(io.BytesIO(task)) as zf:
        if zf.namelist() != list(expected):
            raise BuildError(f"the .task holds {zf.namelist()}, expected {list(expected)}")
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED or zf.read(info) != expected[info.filename]:
                raise BuildError(f"{info.filename} was not stored as it is")
            name_len, extra_len = struct.unpack_from("<HH", task, info.header_offset + 26)
            start = info.header_offset + ZIP_LOCAL_HEADER_SIZE + name_len + extra_len
            if (
                start % ZIP_ALIGNMENT
                or task[start : start + info.file_size] != expected[info.filename]
            ):
                raise BuildError(
                    f"{info.filename}: no intact data {ZIP_ALIGNMENT}-aligned at {start}"
                )


def build(wheel: Path | None, work: Path) -> bytes:
    """Everything from the wheel to the bytes of the .task file; prints the hashes."""
    print(f"creating a throwaway venv for Python {sys.version_info.major}.{sys.version_info.minor}")
    python = create_writer_venv(work / "venv")
    if wheel is None:
        print(f"downloading mediapipe=={MEDIAPIPE_VERSION} (no dependencies)")
        wheel = download_wheel(python, work / "wheel")
    print(f"wheel    {sha256(wheel.read_bytes())}  {wheel.name}")
    sources = read_sources(wheel)
    for member, data in sources.items():
        print(f"source   {sha256(data)}  {member}")
    print(f"installing the wheel and {', '.join(WRITER_REQUIREMENTS)} into the venv")
    pip(
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        str(wheel),
        *WRITER_REQUIREMENTS,
    )
    landmarks = add_metadata(python, sources[LANDMARKS_IN_WHEEL], work)
    print(f"metadata {sha256(landmarks)}  {LANDMARKS_IN_TASK}")
    return build_task(sources[DETECTOR_IN_WHEEL], landmarks)


# --- the child: runs inside the throwaway venv, with mediapipe 0.10.14 ---------------------


def import_metadata_writer() -> types.ModuleType:
    """Import mediapipe 0.10.14's metadata writer without running mediapipe/__init__.py.

    `mediapipe` and `mediapipe.tasks.python` are registered as bare packages over the
    installed folders, so their __init__ modules (the whole framework, OpenCV, matplotlib,
    every task) never run; the writer's own imports are then ordinary ones.
    """
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("mediapipe is not installed in this environment")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, folder in (
        ("mediapipe", root),
        ("mediapipe.tasks.python", root / "tasks" / "python"),
    ):
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        sys.modules[name] = package
        if name == "mediapipe":
            importlib.import_module("mediapipe.tasks")  # a docstring only
    return importlib.import_module(
        "mediapipe.tasks.python.metadata.metadata_writers.metadata_writer"
    )


def check_tensor_shapes(model: bytearray) -> None:
    """Fail unless the model has the one input and five outputs the metadata describes."""
    writer_utils = importlib.import_module(
        "mediapipe.tasks.python.metadata.metadata_writers.writer_utils"
    )
    graph = writer_utils.get_subgraph(model)

    def shape(index: int) -> tuple[int, ...]:
        return tuple(int(d) for d in graph.Tensors(index).ShapeAsNumpy())

    inputs = [shape(graph.Inputs(i)) for i in range(graph.InputsLength())]
    outputs = [shape(graph.Outputs(i)) for i in range(graph.OutputsLength())]
    expected_outputs = [s for _, s in OUTPUTS]
    if inputs != [INPUT_SHAPE] or outputs != expected_outputs:
        raise BuildError(
            f"unexpected tensors: inputs {inputs}, outputs {outputs}; "
            f"expected {[INPUT_SHAPE]}, {expected_outputs}"
        )


def write_metadata(source: Path, target: Path) -> None:
    """Add the TFLite metadata to the landmark model at `source`, write it to `target`."""
    metadata_writer = import_metadata_writer()
    model = bytearray(source.read_bytes())
    check_tensor_shapes(model)
    writer = metadata_writer.MetadataWriter.create(model)
    writer.add_general_info(model_name=MODEL_NAME, model_description=MODEL_DESCRIPTION)
    writer.add_image_input(
        norm_mean=[NORM_MEAN],
        norm_std=[NORM_STD],
        color_space_type=metadata_writer.MetadataWriter.color_space_types.RGB,
    )
    for name, _ in OUTPUTS:
        writer.add_feature_output(name=name)
    populated, _metadata_json = writer.populate()
    target.write_bytes(bytes(populated))


# --- command line ------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build posture's pose_landmarker_full.task from the mediapipe 0.10.14 wheel.",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the .task (with --check: the file to compare with); "
        "default: %(default)s",
    )
    parser.add_argument(
        "--wheel",
        type=Path,
        help=f"an already downloaded mediapipe-{MEDIAPIPE_VERSION} wheel for this Python",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary file and compare its SHA-256 with --output's; "
        "exit 1 if they differ",
    )
    parser.add_argument(
        WRITE_METADATA_FLAG, nargs=2, metavar=("IN", "OUT"), type=Path, help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args._write_metadata is not None:
            source, target = args._write_metadata
            write_metadata(source, target)
            return 0
        output: Path = args.output
        wheel: Path | None = args.wheel.resolve() if args.wheel is not None else None
        if args.check and not output.is_file():
            raise BuildError(f"--check: there is no {output} to compare with")
        if wheel is not None and not wheel.is_file():
            raise BuildError(f"--wheel: there is no {wheel}")
        if not SUPPORTED_PYTHONS[0] <= sys.version_info[:2] <= SUPPORTED_PYTHONS[1]:
            raise BuildError(
                f"mediapipe {MEDIAPIPE_VERSION} has wheels for CPython 3.8-3.12 only; run this "
                "script with Python 3.10, 3.11 or 3.12 (all three build the same bytes)"
            )
        with tempfile.TemporaryDirectory(prefix="build_pose_model-") as temp:
            task = build(wheel, Path(temp))
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    digest = sha256(task)
    if args.check:
        committed = sha256(output.read_bytes())
        print(f"built    {digest}  ({len(task)} bytes)")
        print(f"on disk  {committed}  {output}")
        if committed != digest:
            print("MISMATCH: the committed model is not what this script builds", file=sys.stderr)
            return 1
        print("OK: identical")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(task)
    print(f"task     {digest}  {output} ({len(task)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
