"""Peak memory of reading one big picture through `open_source`, the way `posture
analyze` and `posture calibrate` read a file.

Writes PNGs of the given sizes (built row by row with zlib, so making a 20000x20000 one
costs no memory), opens each in a fresh Python process that decodes its first frame,
and prints that process's peak resident size (VmHWM on Linux, else `ru_maxrss`; it
includes the interpreter, numpy and OpenCV: about 60 MB) and what happened. A size
ending in ``.jpg`` is a JPEG instead (written with OpenCV, so the making costs its
pixels' memory):

    .venv/bin/python scripts/bench_big_image.py 4000x3000 10000x10000 8000x6000.jpg
"""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

_CHILD = """
import resource
import sys
from posture.adapters.video.sources import open_source
from posture.errors import PostureError
try:
    frame = next(iter(open_source(sys.argv[1])))
    print(f"decoded {frame.image.shape[1]}x{frame.image.shape[0]}")
except PostureError as err:
    print(f"refused: {err}")
try:  # this process's own peak (ru_maxrss also carries the parent's, from before exec)
    with open("/proc/self/status") as status:
        print(next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")))
except OSError:
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def write_png(path: Path, width: int, height: int) -> None:
    """An RGB PNG of `width` x `height`: a grey gradient, compressed row by row."""
    packer = zlib.compressobj(6)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        pending = b""
        for y in range(height):
            shade = bytes([y * 255 // max(height - 1, 1)]) * (3 * width)
            pending += packer.compress(b"\x00" + shade)
            if len(pending) > 1 << 20:
                out.write(_chunk(b"IDAT", pending))
                pending = b""
        pending += packer.flush()
        out.write(_chunk(b"IDAT", pending))
        out.write(_chunk(b"IEND", b""))


def write_jpeg(path: Path, width: int, height: int) -> None:
    """A JPEG of `width` x `height` (made in this process with OpenCV: 3 bytes a pixel)."""
    import cv2
    import numpy as np

    rows = np.linspace(0, 255, height, dtype=np.uint8)[:, None, None]
    picture = np.ascontiguousarray(np.broadcast_to(rows, (height, width, 3)))
    if not cv2.imwrite(str(path), picture):
        raise SystemExit(f"OpenCV cannot write {path}")


def measure(path: Path) -> tuple[float, str]:
    """(peak RSS in MB, what the reader said) of one fresh process reading `path`."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or len(lines) != 2:
        return math.nan, (done.stderr.strip().splitlines() or ["failed"])[-1]
    return int(lines[1]) / 1024, lines[0]  # in KB


def main(sizes: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            dims, _, kind = size.partition(".")
            width, height = (int(v) for v in dims.split("x"))
            path = Path(tmp) / f"big-{width}x{height}.{kind or 'png'}"
            (write_jpeg if kind in ("jpg", "jpeg") else write_png)(path, width, height)
            peak, said = measure(path)
            kb = path.stat().st_size / 1024
            print(f"{size:>12} ({kb:,.0f} KB file): peak {peak:,.0f} MB  {said[:100]}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["4000x3000", "10000x10000", "20000x20000", "8000x6000.jpg"])
