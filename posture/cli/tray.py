"""`posture tray`: the icon on the panel. Registered on the `posture` group by
`posture.cli.main`."""

from __future__ import annotations

import logging
import sys

import click

from posture.cli.group import load_config
from posture.cli.monitor import autostart_command, monitor_options, start_args


@click.command()
@monitor_options
@click.option(
    "--wait",
    "wait",
    type=click.FloatRange(0, 600),
    default=0.0,
    metavar="SECONDS",
    help="Wait this long for a panel that shows tray icons (at login it may start after "
    "posture; the login entry waits 60 s). The monitor starts at once meanwhile.",
)
@click.pass_context
def tray(
    ctx: click.Context,
    source: str | None,
    speed: float,
    interval: float,
    profile_name: str | None,
    wait: float,
) -> None:
    """An icon on the panel that shows what the monitor sees and steers it.

    Its shape and colour say the state (upright, slouching, away, paused, screen locked,
    camera in use, fault); its menu pauses, snoozes, resumes, calibrates, opens today's
    report, switches the start at login and quits. It starts the monitor when none
    runs (with the options given here) and follows it. One tray per user; it runs until
    Quit posture or Ctrl-C (then the monitor keeps running).

    \b
    Examples:
      posture tray
      posture autostart enable --tray      start it (and so the monitor) at login
    """
    from posture.app import compose, service
    from posture.app.tray import run_tray

    config = load_config()  # a broken config fails here, before any icon is shown
    args = start_args(source, speed, interval, profile_name)
    places = compose.monitor_places()
    lock = compose.tray_lock(places)
    lock.acquire()
    try:
        _log_to_stderr(ctx.obj["verbose"])
        parts = compose.tray_parts(
            places,
            config=config,
            login_command=autostart_command(tray=True),
            start_monitor=lambda: service.start_detached(args),
            stop_monitor=service.stop_monitor,
            wait_for_host=wait,
        )
        code = run_tray(parts)
    finally:
        lock.release()
    sys.exit(code)


def _log_to_stderr(verbose: bool) -> None:
    """The tray's log lines go to stderr (a login session keeps them in its journal):
    the monitor's log file is the monitor's."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("posture: %(message)s"))
    root = logging.getLogger("posture")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


COMMANDS = (tray,)
