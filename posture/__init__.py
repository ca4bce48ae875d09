"""posture: a private workstation posture monitor built on MediaPipe pose landmarks."""

__version__ = "0.1.0"
