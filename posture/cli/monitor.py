"""The monitor's commands: run, start, stop, status, pause, resume, snooze, demo,
notify-test, and autostart. Registered on the `posture` group by `posture.cli.main`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from posture.cli.group import ClickTerminal, load_config
from posture.errors import PostureError

if TYPE_CHECKING:
    from posture.app.compose import RunOptions
    from posture.core.status import Status


def _run_options(
    source: str | None, speed: float, interval: float, profile_name: str | None, verbose: bool
) -> RunOptions:
    from posture.app.compose import RunOptions

    return RunOptions(
        source=source, speed=speed, interval=interval, profile=profile_name, verbose=verbose
    )


def monitor_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--source",
                default=None,
                metavar="SOURCE",
                help="Watch a video or image sequence instead of the camera (tests, demos).",
            ),
            click.option(
                "--speed",
                type=click.FloatRange(min=0),
                default=1.0,
                show_default=True,
                help="With --source: times real time (0 = as fast as possible).",
            ),
            click.option(
                "--interval",
                type=click.FloatRange(min=0.01),
                default=1.0,
                show_default=True,
                help="With --source: seconds between the images of a folder or glob.",
            ),
            click.option(
                "--profile",
                "profile_name",
                default=None,
                metavar="NAME",
                help="Calibrated profile.",
            ),
        ]
    ):
        func = option(func)
    return func


@click.command()
@monitor_options
@click.pass_context
def run(
    ctx: click.Context, source: str | None, speed: float, interval: float, profile_name: str | None
) -> None:
    """Run the monitor in the foreground, logging to stderr, until Ctrl-C.

    It looks through the camera every few seconds, compares what it sees with your
    calibration, and nudges you after a sustained slouch. With --source it watches a
    recording on a simulated clock and stops at its end.

    \b
    Examples:
      posture run
      posture run --source session.mp4 --speed 20
    """
    from posture.app.service import run_monitor

    options = _run_options(source, speed, interval, profile_name, ctx.obj["verbose"])
    summary = run_monitor(load_config(), options, to_stderr=True)
    click.echo(summary.text())


def start_args(
    source: str | None, speed: float, interval: float, profile_name: str | None
) -> list[str]:
    """The `posture run` options of a monitor started in the background."""
    args: list[str] = []
    if source is not None:
        args += ["--source", source, "--speed", str(speed), "--interval", str(interval)]
    if profile_name is not None:
        args += ["--profile", profile_name]
    return args


@click.command()
@monitor_options
def start(source: str | None, speed: float, interval: float, profile_name: str | None) -> None:
    """Start the monitor in the background and return at once.

    One monitor runs per user; `posture stop` ends it, `posture status` shows it.

    \b
    Example:
      posture start
    """
    from posture.app.service import start_detached

    load_config()  # a broken config fails here, in the terminal, not in the background
    args = start_args(source, speed, interval, profile_name)
    pid = start_detached(args)
    click.echo(f"posture monitor started (pid {pid}); `posture status` shows what it sees")


@click.command()
def stop() -> None:
    """Stop the background monitor (it saves everything first).

    \b
    Example:
      posture stop
    """
    from posture.app.service import stop_monitor

    pid = stop_monitor()
    click.echo(f"posture monitor stopped (pid {pid})" if pid else "posture monitor stopped")


def _ask(message: dict[str, Any]) -> dict[str, Any]:
    from posture.app import compose

    reply = compose.control_transport(compose.monitor_places()).request(message)
    if not reply.get("ok"):
        raise PostureError(f"the monitor refused: {reply.get('error', 'no reason given')}")
    return reply


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the raw status as JSON.")
def status(as_json: bool) -> None:
    """What the running monitor sees: posture, since when, today's figures, the camera.

    \b
    Examples:
      posture status
      posture status --json
    """
    from posture.core.status import Status

    status = Status.from_json(_ask({"cmd": "status"}))
    if as_json:
        import json

        click.echo(json.dumps({"ok": True, **status.to_json()}, indent=2))
        return
    click.echo(format_status(status))


def format_status(status: Status) -> str:
    """The status as lines for a person (the wording is `posture.core.status`'s, shared
    with the tray's tooltip)."""
    from datetime import timedelta

    from posture.core.status import (
        paused_text,
        posture_text,
        snoozed_text,
        state_text,
        today_text,
    )

    s = status
    lines = [f"monitor      running (pid {s.pid}), profile '{s.profile}'"]
    lines.append(f"state        {state_text(s)}")
    lines.append(f"posture      {posture_text(s)}")
    lines.append(
        "this session "
        + (
            f"upright {s.upright_percent:.0f}% of {timedelta(seconds=s.seen_seconds)} seen"
            if s.upright_percent is not None
            else "nobody seen yet"
        )
        + f", {s.episodes} episode(s), {s.nudges} nudge(s)"
    )
    lines.append(f"today        {today_text(s)}")
    lines.append(f"camera       {s.camera} ({s.source})")
    if s.history:
        lines.append(f"history      {s.history}")
    if paused := paused_text(s):
        lines.append(f"paused       {paused}")
    if snoozed := snoozed_text(s):
        lines.append(f"snoozed      {snoozed}")
    if s.quiet or s.held_nudges:
        held = f"{s.held_nudges} nudge(s) held back this session"
        lines.append(f"quiet        {s.quiet + '; ' if s.quiet else ''}{held}")
    if s.stale:
        lines.append("calibration  looks stale: run `posture calibrate`")
    lines.append(f"next check   {s.next_check}")
    lines.append(f"nudges via   {s.notifier}")
    return "\n".join(lines)


def _duration(text: str) -> float:
    from datetime import datetime

    from posture.core.durations import parse_duration

    try:
        return parse_duration(text, now=datetime.now().astimezone())
    except ValueError as err:
        raise PostureError(str(err)) from None


@click.command()
@click.option("--for", "for_", default=None, metavar="DURATION", help="30m, 1h, 2h, tomorrow ... ")
def pause(for_: str | None) -> None:
    """Stop looking (the camera is released) until resumed, or for a while.

    \b
    Examples:
      posture pause --for 30m
      posture pause --for tomorrow
      posture pause
    """
    seconds = None if for_ is None else _duration(for_)
    reply = _ask({"cmd": "pause", "seconds": seconds})
    until = reply.get("paused_until")
    click.echo("paused until `posture resume`" if until == "resume" else f"paused until {until}")


@click.command()
def resume() -> None:
    """Look again after a pause, and end a snooze.

    \b
    Example:
      posture resume
    """
    _ask({"cmd": "resume"})
    click.echo("resumed")


@click.command()
@click.argument("duration", default="15m")
def snooze(duration: str) -> None:
    """Keep measuring, but send no nudges for a while (default 15m).

    \b
    Examples:
      posture snooze
      posture snooze 1h
    """
    reply = _ask({"cmd": "snooze", "seconds": _duration(duration)})
    click.echo(f"no nudges until {reply.get('snoozed_until')}")


@click.command()
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="Times real time (0 = as fast as possible).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the demo's HTML report here (default: a new file in the temporary folder).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML report in the browser.")
@click.pass_context
def demo(ctx: click.Context, speed: float, output: Path | None, open_browser: bool) -> None:
    """See the monitor work without a webcam: a made-up slouching clip, calibrated,
    watched, nudged (a real desktop notification), summed up in the report; all in a
    throwaway folder, so your own history is never touched.

    \b
    Examples:
      posture demo
      posture demo --open                  and show the HTML report in the browser
      posture demo --speed 0 -o demo.html  as fast as possible, the report in demo.html
    """
    from posture.adapters.video.sources import open_source
    from posture.app.compose import MediaPipeModel, history_reader_in, profiles_in
    from posture.app.demo import how_to_open, run_demo
    from posture.app.report.commands import can_draw

    result = run_demo(
        speed=speed,
        history=history_reader_in,
        open_source=open_source,
        pose=MediaPipeModel(),  # the demo's home has no config: the defaults
        profiles_in=profiles_in,
        terminal=ClickTerminal(),
        output=output,
        unicode=can_draw(sys.stdout),
        verbose=ctx.obj["verbose"],
    )
    click.echo(result.summary)
    click.echo()
    click.echo(result.report, nl=False)
    click.echo()
    click.echo(f"The HTML report of this session: {result.html}")
    if open_browser:
        import webbrowser

        if webbrowser.open(result.html.resolve().as_uri()):
            return
        click.echo("No browser could be started.", err=True)
    click.echo(f"Open it in a browser: {how_to_open(result.html)}")


@click.command("notify-test")
def notify_test() -> None:
    """Send a test notification through the configured backend.

    \b
    Example:
      posture notify-test
    """
    from posture.adapters.notify.backends import make_notifier

    preference = load_config().monitor.notifier
    notifier = make_notifier(preference)
    notifier.notify("posture", "Test notification: this is how posture will nudge you.")
    if notifier.delivered_by is None:
        raise PostureError(
            "the notification could not be shown by any backend (see above)", exit_code=1
        )
    if notifier.delivered_by == "log" and preference != "log":
        # The log always "delivers": for a test of the desktop's notifications that is a no.
        raise PostureError(
            "no desktop notification service showed it, it only went to the log (see above): "
            "start one (is a desktop session running?) or set [monitor] notifier",
            exit_code=1,
        )
    click.echo(f"notification sent via {notifier.delivered_by}")


def autostart_command(*, tray: bool = False) -> list[str]:
    """What the login entry runs: `posture start`, or `posture tray` (which starts the
    monitor too) waiting up to a minute for the panel, with this Python."""
    if tray:
        return [sys.executable, "-m", "posture", "tray", "--wait", str(LOGIN_PANEL_WAIT)]
    return [sys.executable, "-m", "posture", "start"]


#: Seconds the tray started at login waits for the panel: the desktop starts login entries
#: and its panel in no set order.
LOGIN_PANEL_WAIT = 60


@click.group()
def autostart() -> None:
    """Start the monitor (or the tray and the monitor) when you log in, or stop doing so.

    \b
    Examples:
      posture autostart enable
      posture autostart enable --tray
      posture autostart status
      posture autostart disable
    """


@autostart.command("enable")
@click.option("--tray", is_flag=True, help="Start the tray icon at login (it starts the monitor).")
def autostart_enable(tray: bool) -> None:
    """Start the monitor at every login, with this Python and this posture.

    \b
    Examples:
      posture autostart enable
      posture autostart enable --tray      the tray icon, which starts the monitor
    """
    from posture.adapters.system import autostart as login

    path = login.enable(autostart_command(tray=tray))
    what = "posture's tray (and the monitor)" if tray else "posture"
    click.echo(f"{what} will start at your next login ({path})")


@autostart.command("disable")
def autostart_disable() -> None:
    """Stop starting the monitor at login (a running monitor keeps running).

    \b
    Example:
      posture autostart disable
    """
    from posture.adapters.system import autostart as login

    path = login.disable()
    click.echo(f"removed {path}" if path else "autostart was not enabled")


@autostart.command("status")
def autostart_status() -> None:
    """Whether the monitor starts at login, and with which command.

    \b
    Example:
      posture autostart status
    """
    import shlex

    from posture.adapters.system import autostart as login

    state = login.status()
    if not state.enabled:
        note = " (the entry exists but is switched off)" if state.path.exists() else ""
        click.echo(f"autostart: disabled{note}; `posture autostart enable` turns it on")
        return
    click.echo(f"autostart: enabled ({state.path})")
    click.echo(f"  runs: {shlex.join(state.command)}")
    if state.command[:4] == autostart_command(tray=True)[:4]:
        click.echo("  starts the tray icon, which starts the monitor")
    elif state.command != autostart_command():
        click.echo("  note: not this Python or posture; `posture autostart enable` updates it")


COMMANDS = (run, start, stop, status, pause, resume, snooze, demo, notify_test, autostart)
