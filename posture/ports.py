"""The ports: the small interfaces the core and the use cases need from hardware and the
operating system. Each adapter in `posture.adapters` implements one of them."""

from __future__ import annotations
