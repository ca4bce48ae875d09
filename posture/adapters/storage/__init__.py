"""SQLite history and calibration profiles on disk."""
