"""The `posture` command line.

Every command imports what it needs inside its body: `posture --help` and the commands that
never touch the camera start without loading mediapipe or OpenCV (about a second saved).
User errors (`PostureError`) become one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from posture import __version__
from posture.errors import PostureError

#: Kept here rather than imported, so `--help` needs no other module.
SENSITIVITIES = ("low", "medium", "high")


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PostureError as err:
            click.echo(f"posture: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("posture: interrupted", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # `posture analyze ... | head`: the reader went away; that is not an error.
            sys.stderr.close()
            ctx.exit(0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posture")
@click.option(
    "--verbose", "-v", is_flag=True, help="Show MediaPipe's native log lines and debug logging."
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Watch your posture through the webcam, privately, for nearly no CPU.

    \b
    Examples:
      posture analyze photo.jpg            features of one photograph
      posture analyze 0 --max-frames 20    twenty frames from the first webcam
    """
    ctx.obj = {"verbose": verbose}


#: Shared by every command that runs the pose model.
_model_option = click.option(
    "--model",
    type=click.Path(dir_okay=True, path_type=Path),
    default=None,
    help="A PoseLandmarker .task file instead of the bundled full model.",
)


def _load_config() -> Any:
    from posture import config, paths

    return config.load(paths.folders().config_file)


@cli.command()
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "jsonl", "csv"]),
    default="table",
    show_default=True,
    help="Output format on stdout.",
)
@_model_option
@click.option(
    "--max-frames",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many frames per source (a camera runs until Ctrl-C otherwise).",
)
@click.option(
    "--num-poses", type=click.IntRange(1, 5), default=None, help="How many people to look for."
)
@click.option(
    "--profile",
    "profile_name",
    default=None,
    metavar="NAME",
    help="Judge every frame against this calibrated profile; adds verdicts and episodes.",
)
@click.option(
    "--sensitivity",
    type=click.Choice(SENSITIVITIES),
    default=None,
    help="Override the profile's sensitivity.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    help="Seconds between two images of a folder or glob (they have no time of their own).",
)
def analyze(
    sources: tuple[str, ...],
    fmt: str,
    model: Path | None,
    max_frames: int | None,
    num_poses: int | None,
    profile_name: str | None,
    sensitivity: str | None,
    interval: float,
) -> None:
    """Turn images, videos or a webcam into pose landmarks and posture features.

    SOURCE is an image, a folder of images, a glob such as 'shots/*.jpg' (quoted), a video
    file, or a camera index such as 0. Any mix may be given; each frame becomes one row.

    \b
    Examples:
      posture analyze me.jpg
      posture analyze shots/ --format jsonl > features.jsonl
      posture analyze clip.mp4 --format csv --model pose_landmarker_heavy.task
      posture analyze clip.mp4 --profile default     verdicts and slouch episodes
    """
    from posture.analyze import run_analyze
    from posture.config import episode_settings

    cfg = _load_config()
    profile = None
    if profile_name is not None:
        from posture import paths
        from posture import profile as profiles

        profile = profiles.load(paths.folders().data, profile_name)
    run_analyze(
        sources,
        fmt=fmt,
        model=model if model is not None else (cfg.pose.model or None),
        pose_config=cfg.pose,
        num_poses=num_poses,
        max_frames=max_frames,
        out=sys.stdout,
        profile=profile,
        sensitivity=sensitivity or cfg.judgment.sensitivity or None,
        image_interval=interval,
        settings=episode_settings(cfg.judgment) if profile is not None else None,
    )


@cli.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="SOURCE",
    help="Camera index (default 0), or a video, image, folder or glob; may be repeated.",
)
@click.option("--profile", "profile_name", default="default", show_default=True, metavar="NAME")
@click.option(
    "--seconds",
    type=click.FloatRange(2, 120),
    default=10.0,
    show_default=True,
    help="How long to sample a camera.",
)
@click.option(
    "--sensitivity",
    type=click.Choice(SENSITIVITIES),
    default="medium",
    show_default=True,
    help="How far from your upright posture counts as a problem.",
)
@click.option("--show", is_flag=True, help="Print the saved profile instead of calibrating.")
@_model_option
@click.option(
    "--countdown",
    type=click.IntRange(0, 10),
    default=3,
    show_default=True,
    help="Seconds to get ready before a camera is sampled.",
)
def calibrate(
    sources: tuple[str, ...],
    profile_name: str,
    seconds: float,
    sensitivity: str,
    show: bool,
    model: Path | None,
    countdown: int,
) -> None:
    """Record your upright posture: every verdict is measured against it.

    With a camera: sit upright as you mean to sit, look at the screen and keep still for
    the countdown and the sampling. With files: every frame is used. Calibration refuses
    (and saves nothing) when it cannot see you well: no person, a blank or dark picture,
    face or shoulders out of view, two people, or movement.

    \b
    Examples:
      posture calibrate
      posture calibrate --profile standing --sensitivity high
      posture calibrate --source upright1.jpg --source upright2.jpg
      posture calibrate --show
    """
    from posture.calibrate_cli import run_calibrate, show_profile

    if show:
        show_profile(profile_name)
        return
    cfg = _load_config()
    run_calibrate(
        list(sources) or ["0"],
        profile_name=profile_name,
        seconds=seconds,
        sensitivity=sensitivity,
        model=model if model is not None else (cfg.pose.model or None),
        pose_config=cfg.pose,
        countdown=countdown,
    )


@cli.command()
@click.option(
    "--max-index",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Probe camera indexes 0 .. N-1.",
)
def cameras(max_index: int) -> None:
    """List the camera indexes that answer, for `--source` and `analyze`.

    Exits 1 when no camera answers (no webcam, or another program holds it).

    \b
    Example:
      posture cameras
    """
    from posture.sources import available_cameras

    found = available_cameras(max_index)
    if not found:
        raise PostureError(
            f"no camera answers at indexes 0 to {max_index - 1}: plug one in, or close the "
            "program that holds it",
            exit_code=1,
        )
    for index in found:
        click.echo(index)


# --- the monitor ----------------------------------------------------------------------


def _run_options(
    source: str | None, speed: float, interval: float, profile_name: str | None, verbose: bool
) -> Any:
    from posture.daemon import RunOptions

    return RunOptions(
        source=source, speed=speed, interval=interval, profile=profile_name, verbose=verbose
    )


def _monitor_options(func: Any) -> Any:
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


@cli.command()
@_monitor_options
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
    from posture.daemon import run_monitor

    options = _run_options(source, speed, interval, profile_name, ctx.obj["verbose"])
    summary = run_monitor(_load_config(), options, to_stderr=True)
    click.echo(summary.text())


@cli.command()
@_monitor_options
def start(source: str | None, speed: float, interval: float, profile_name: str | None) -> None:
    """Start the monitor in the background and return at once.

    One monitor runs per user; `posture stop` ends it, `posture status` shows it.

    \b
    Example:
      posture start
    """
    from posture.daemon import start_detached

    _load_config()  # a broken config fails here, in the terminal, not in the background
    args: list[str] = []
    if source is not None:
        args += ["--source", source, "--speed", str(speed), "--interval", str(interval)]
    if profile_name is not None:
        args += ["--profile", profile_name]
    pid = start_detached(args)
    click.echo(f"posture monitor started (pid {pid}); `posture status` shows what it sees")


@cli.command()
def stop() -> None:
    """Stop the background monitor (it saves everything first).

    \b
    Example:
      posture stop
    """
    from posture.daemon import stop_monitor

    pid = stop_monitor()
    click.echo(f"posture monitor stopped (pid {pid})" if pid else "posture monitor stopped")


def _ask(message: dict[str, Any]) -> dict[str, Any]:
    from posture import paths
    from posture.control import request, socket_path

    reply = request(socket_path(paths.folders().runtime), message)
    if not reply.get("ok"):
        raise PostureError(f"the monitor refused: {reply.get('error', 'no reason given')}")
    return reply


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the raw status as JSON.")
def status(as_json: bool) -> None:
    """What the running monitor sees: posture, since when, today's figures, the camera.

    \b
    Examples:
      posture status
      posture status --json
    """
    reply = _ask({"cmd": "status"})
    if as_json:
        import json

        click.echo(json.dumps(reply, indent=2))
        return
    from posture.daemon import format_status

    click.echo(format_status(reply))


def _duration(text: str) -> float:
    from posture.daemon import parse_duration

    try:
        return parse_duration(text)
    except ValueError as err:
        raise PostureError(str(err)) from None


@cli.command()
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


@cli.command()
def resume() -> None:
    """Look again after a pause, and end a snooze.

    \b
    Example:
      posture resume
    """
    _ask({"cmd": "resume"})
    click.echo("resumed")


@cli.command()
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


@cli.command()
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="Times real time (0 = as fast as possible).",
)
@click.pass_context
def demo(ctx: click.Context, speed: float) -> None:
    """See the monitor work without a webcam: a made-up slouching clip, calibrated,
    watched, nudged, summed up; in a throwaway folder.

    \b
    Example:
      posture demo
    """
    from posture.demo import run_demo

    click.echo(run_demo(speed=speed, verbose=ctx.obj["verbose"]))


@cli.command("notify-test")
def notify_test() -> None:
    """Send a test notification through the configured backend.

    \b
    Example:
      posture notify-test
    """
    from posture.notify import make_notifier

    notifier = make_notifier(_load_config().monitor.notifier)
    notifier.notify("posture", "Test notification: this is how posture will nudge you.")
    if notifier.delivered_by is None:
        raise PostureError("the notification could not be shown by any backend (see above)")
    click.echo(f"notification sent via {notifier.delivered_by}")


@cli.command()
@click.option("--session", "session", type=int, default=None, metavar="ID", help="One session.")
@click.option("--today", is_flag=True, help="Today, from local midnight.")
@click.option("--yesterday", is_flag=True, help="Yesterday.")
@click.option(
    "--days",
    type=click.IntRange(1, 3660),
    default=None,
    metavar="N",
    help="Today and the N-1 days before.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="DATE",
    help="From this local date (YYYY-MM-DD) ...",
)
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="DATE",
    help="... to this one, included (default: today).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "json", "csv"]),
    default=None,
    help="Output format (default: text; html with --open).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write to FILE (mode 0600) instead of stdout.",
)
@click.option(
    "--open",
    "open_browser",
    is_flag=True,
    help="Write the HTML report (to --output, or posture-report-DATE-TIME.html here) and "
    "open it in the browser.",
)
def report(
    session: int | None,
    today: bool,
    yesterday: bool,
    days: int | None,
    since: Any,
    until: Any,
    fmt: str | None,
    output: Path | None,
    open_browser: bool,
) -> None:
    """What the monitor recorded: time upright, problems, episodes, nudges, by hour.

    Reads the history only (never writes it), while the monitor runs too. Without a
    period option: the latest session. Times are shown in local time.

    \b
    Examples:
      posture report                       the latest session
      posture report --today
      posture report --days 7 --format json > week.json
      posture report --since 2026-11-01 --until 2026-11-30 --format csv -o nov.csv
      posture report --days 30 --open      the HTML report in the browser
    """
    from posture.report import Choice, run_report

    chosen = [
        name
        for name, given in (
            ("--session", session is not None),
            ("--today", today),
            ("--yesterday", yesterday),
            ("--days", days is not None),
            ("--since", since is not None),
        )
        if given
    ]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one period: {' and '.join(chosen)} were both given")
    if until is not None and since is None:
        raise click.UsageError("--until needs --since")
    if open_browser and fmt not in (None, "html"):
        raise click.UsageError("--open shows the HTML report: leave out --format or use html")
    choice = Choice(
        session=session,
        today=today,
        yesterday=yesterday,
        days=days,
        since=since.date() if since is not None else None,
        until=until.date() if until is not None else None,
    )
    run_report(
        choice,
        fmt=fmt or ("html" if open_browser else "text"),
        output=output,
        open_browser=open_browser,
    )


@cli.group(invoke_without_command=True)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    metavar="N",
    help="List the latest N sessions.",
)
@click.pass_context
def history(ctx: click.Context, limit: int) -> None:
    """The monitor's history: numbers only (verdicts, scores, episodes, nudges), never images.

    Without a subcommand: the latest sessions, newest first, with their length and upright
    share; `running` marks the monitor's current one, `crashed` one that never ended
    (its monitor was killed). `posture report --session ID` shows one.

    \b
    Examples:
      posture history
      posture history --limit 100
      posture history prune --older-than 90
    """
    if ctx.invoked_subcommand is not None:
        return
    from posture.report import run_history_list

    run_history_list(limit)


@history.command("prune")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0),
    default=None,
    metavar="DAYS",
    help="Delete what is older than this many days (default: [monitor] retention_days, 365).",
)
def history_prune(days: int | None) -> None:
    """Delete old history and shrink the file. The monitor also does this when it starts.

    \b
    Examples:
      posture history prune
      posture history prune --older-than 30
    """
    import time

    from posture import paths
    from posture.daemon import HISTORY_FILE
    from posture.history import History

    keep = days if days is not None else _load_config().monitor.retention_days
    path = paths.folders().data / HISTORY_FILE
    if not path.exists():
        click.echo("no history yet: nothing to prune")
        return
    with History(path) as store:
        counts = store.prune(int(time.time() * 1000) - keep * 86_400_000)
    removed = ", ".join(f"{n} {table}" for table, n in counts.items() if n) or "nothing"
    click.echo(f"pruned history older than {keep} days: removed {removed}")


def _autostart_command() -> list[str]:
    return [sys.executable, "-m", "posture", "start"]


@cli.group()
def autostart() -> None:
    """Start the monitor when you log in (or stop doing so).

    \b
    Examples:
      posture autostart enable
      posture autostart status
      posture autostart disable
    """


@autostart.command("enable")
def autostart_enable() -> None:
    """Start the monitor at every login, with this Python and this posture.

    \b
    Example:
      posture autostart enable
    """
    from posture import autostart as login

    path = login.enable(_autostart_command())
    click.echo(f"posture will start at your next login ({path})")


@autostart.command("disable")
def autostart_disable() -> None:
    """Stop starting the monitor at login (a running monitor keeps running).

    \b
    Example:
      posture autostart disable
    """
    from posture import autostart as login

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

    from posture import autostart as login

    state = login.status()
    if not state.enabled:
        note = " (the entry exists but is switched off)" if state.path.exists() else ""
        click.echo(f"autostart: disabled{note}; `posture autostart enable` turns it on")
        return
    click.echo(f"autostart: enabled ({state.path})")
    click.echo(f"  runs: {shlex.join(state.command)}")
    if state.command != _autostart_command():
        click.echo("  note: not this Python or posture; `posture autostart enable` updates it")


def _wants_verbose(argv: list[str]) -> bool:
    """Whether --verbose/-v stands among the global options (before the command name)."""
    for arg in argv:
        if arg in ("-v", "--verbose"):
            return True
        if not arg.startswith("-"):
            return False
    return False


def main() -> None:
    """The console script. Quieting native logs is decided here, not in the group callback,
    because it rewires the process's stderr: an in-process test runner must not get that."""
    if not _wants_verbose(sys.argv[1:]):
        from posture import native_log

        native_log.request_quiet()
    cli(prog_name="posture")
