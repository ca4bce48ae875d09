"""Use cases: the monitor, calibration, analysis, the demo and the report. No click,
no print to the terminal of their own: the CLI calls them."""
