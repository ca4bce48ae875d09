"""The background monitor's loop."""
