"""What machine a benchmark ran on, for the first line of its figures."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe() -> str:
    """`machine: <CPU>, <N> cores, <arch>`."""
    return f"machine: {cpu_name()}, {os.cpu_count()} cores, {platform.machine()}"
