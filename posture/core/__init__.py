"""The pure core: features, calibration, judgment, episodes, nudges, tallies and
statistics. Standard library and numpy only; every clock is an argument."""
