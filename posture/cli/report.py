"""The report's commands: `posture report` and `posture history` (list, prune).
Registered on the `posture` group by `posture.cli.main`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from posture.cli.group import load_config

if TYPE_CHECKING:
    from posture.adapters.storage.queries import HistoryQueries


def history_file() -> Path:
    """The user's history file (the folders resolved here, once per command)."""
    from posture.adapters.storage.history import HISTORY_FILE
    from posture.adapters.system import paths

    return paths.folders().data / HISTORY_FILE


def monitor_running() -> bool:
    """Whether a monitor holds the lock now (then the newest unended session is its)."""
    from posture.adapters.system import paths
    from posture.adapters.system.lock import is_locked, lock_path

    try:
        return is_locked(lock_path(paths.folders().runtime))
    except OSError:
        return False


def history_reader() -> HistoryQueries:
    """The report's read-only view of the user's history (a `HistoryReader`); a context
    manager that closes it."""
    from posture.adapters.storage.queries import HistoryQueries

    return HistoryQueries(history_file())


@click.command()
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
    from posture.app.report.commands import run_report
    from posture.app.report.period import Choice

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
    with history_reader() as reader:
        run_report(
            reader,
            choice,
            running=monitor_running(),
            fmt=fmt or ("html" if open_browser else "text"),
            output=output,
            open_browser=open_browser,
        )


@click.group(invoke_without_command=True)
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
    from posture.app.report.listing import run_history_list

    with history_reader() as reader:
        run_history_list(reader, running=monitor_running(), limit=limit)


#: The longest `--older-than`: the longest `retention_days`.
MAX_PRUNE_DAYS = 36500


@history.command("prune")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(min=0, max=MAX_PRUNE_DAYS),
    default=None,
    metavar="DAYS",
    help="Delete what is older than this many days (default: [monitor] retention_days, 365).",
)
def history_prune(days: int | None) -> None:
    """Delete old history and shrink the file. The monitor also does this when it starts.

    Days count back from now, or from the newest recorded row if that is earlier (a
    clock set ahead deletes nothing recent). A running monitor's session is never
    touched.

    \b
    Examples:
      posture history prune
      posture history prune --older-than 30
    """
    import time

    from posture.adapters.storage.history import DAY_MS, History

    keep = days if days is not None else load_config().monitor.retention_days
    path = history_file()
    if not path.exists():
        click.echo("no history yet: nothing to prune")
        return
    with History(path) as store:
        newest = store.newest_ms()
        now = int(time.time() * 1000)
        cutoff = (now if newest is None else min(now, newest)) - keep * DAY_MS
        counts = store.prune(cutoff, spare_newest_open=monitor_running())
    removed = ", ".join(f"{n} {table}" for table, n in counts.items() if n) or "nothing"
    click.echo(f"pruned history older than {keep} days: removed {removed}")


COMMANDS = (report, history)
