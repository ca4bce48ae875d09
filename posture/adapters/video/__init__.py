"""Frame sources: the camera, video files, images, folders and globs (OpenCV)."""
