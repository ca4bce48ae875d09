"""Pictures shipped with posture, for the demo and for trying it without a webcam."""

from __future__ import annotations

from pathlib import Path

#: Commodore Grace M. Hopper, official US Navy portrait (public domain), as shipped in
#: matplotlib's sample data; head and shoulders, front view. See README.md here.
GRACE_HOPPER = Path(__file__).resolve().parent / "grace_hopper.jpg"
