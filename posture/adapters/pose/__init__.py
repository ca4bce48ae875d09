"""The pose estimator: MediaPipe's PoseLandmarker, its bundled model, its native log."""
