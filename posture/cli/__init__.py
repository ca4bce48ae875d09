"""The `posture` command line (click)."""
