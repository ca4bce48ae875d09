"""The control channel between the monitor and its commands."""
