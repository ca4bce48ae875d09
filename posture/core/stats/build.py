"""`build_report`: every figure of one report, from the rows, the period, `now_ms` and the zone."""

from __future__ import annotations

from datetime import tzinfo

import numpy as np

from posture.core.stats.figures import (
    Report,
    _clip,
    count_breaks,
    durations,
    episode_lengths,
    held_nudges,
    longest_upright_streak,
    nudge_counts,
    paused_seconds,
    problem_seconds,
    resolve_episodes,
    resolve_periods,
    trend_points,
    verdict_seconds,
)
from posture.core.stats.localtime import local_day, local_time
from posture.core.stats.rows import BAD, GOOD, MIN_DAYS, Rows
from posture.core.stats.timeline import (
    bands,
    daily,
    downsample_scores,
    hourly,
    seen_time,
    worst_hour,
)
from posture.core.tally import upright_share
from posture.core.vocab import HOLDS

# --- all together -------------------------------------------------------------------------


def build_report(
    rows: Rows,
    *,
    title: str,
    since_ms: int,
    until_ms: int,
    now_ms: int,
    tz: tzinfo,
    tz_name: str,
    previous: tuple[int, int] | None = None,
    session_id: int | None = None,
) -> Report:
    """The report of [since_ms, until_ms) from `rows`, which must hold the samples of the
    period (and up to 10 s past it), of the days `daily` shows and of `previous`.

    `session_id`: a session's report; only its own samples, episodes, nudges and pauses
    count (sessions never overlap in time, except recordings replayed on a simulated
    clock)."""
    samples = rows.samples.ordered()
    sessions = rows.sessions

    def own(row_session: int) -> bool:
        return session_id is None or row_session == session_id

    own_periods = [p for p in rows.periods if own(p.session_id)]
    own_pauses = resolve_periods(own_periods, sessions, now_ms, "pause")
    dt = durations(samples, rows.periods)
    t, verdict = samples.t_ms, samples.verdict
    inside = (t >= since_ms) & (t < until_ms)
    if session_id is not None:
        inside &= samples.session == session_id
    period = samples.take(inside)
    pdt = dt[inside]
    seconds = verdict_seconds(period.verdict, pdt)
    present = seconds["good"] + seconds["bad"]
    share = upright_share(seconds["good"], present)

    clock = local_time(t, tz)
    last_day = local_day(max(since_ms, until_ms - 1), tz)
    span = last_day - local_day(since_ms, tz) + 1
    present_ms, upright_ms = seen_time(verdict, dt)
    worst = worst_hour(clock.clock_hour[inside], present_ms[inside], upright_ms[inside])

    previous_share = None
    if previous is not None:
        before = (t >= previous[0]) & (t < previous[1])
        then = verdict_seconds(verdict[before], dt[before])
        previous_share = upright_share(then["good"], then["good"] + then["bad"])

    episodes = resolve_episodes(
        [e for e in rows.episodes if own(e.session_id)], sessions, since_ms, until_ms
    )
    median, longest = episode_lengths(episodes)
    own_nudges = [n for n in rows.nudges if own(n.session_id)]
    nudges, followed = nudge_counts(own_nudges, since_ms, until_ms)
    running = any(
        s.running
        and s.ended_ms is None
        and own(s.id)
        and _clip(s.started_ms, s.end_ms(now_ms), since_ms, until_ms) is not None
        for s in sessions
    )
    return Report(
        title=title,
        since_ms=since_ms,
        until_ms=until_ms,
        tz=tz_name,
        running=running,
        monitored_s=float(pdt.sum() / 1000),
        present_s=present,
        upright_s=seconds["good"],
        upright_share=share,
        problem_s=problem_seconds(period.verdict, period.problems, pdt),
        episodes=episodes,
        episode_median_s=median,
        episode_longest_s=longest,
        longest_upright_streak_s=longest_upright_streak(period.verdict, pdt),
        away_s=seconds["away"] + seconds["uncertain"],
        breaks=count_breaks(period.t_ms, period.verdict, pdt, clock.day[inside]),
        paused_s=paused_seconds(own_pauses, since_ms, until_ms),
        nudges=nudges,
        nudges_followed=followed,
        nudges_held=held_nudges(own_nudges, since_ms, until_ms),
        worst_hour=worst[0],
        worst_hour_share=worst[1],
        hourly=hourly(clock.hour_start_ms[inside], present_ms[inside], upright_ms[inside]),
        daily=daily(clock.day, present_ms, upright_ms, last_day, max(MIN_DAYS, span)),
        previous_upright_share=previous_share,
        trend_points=trend_points(share, previous_share),
        bands=bands(period, pdt, own_pauses, since_ms, until_ms),
        held_s={
            kind: paused_seconds(
                resolve_periods(own_periods, sessions, now_ms, kind), since_ms, until_ms
            )
            for kind in HOLDS
        },
        scores=downsample_scores(
            period.t_ms,
            np.where((period.verdict == GOOD) | (period.verdict == BAD), period.score, np.nan),
        ),
    )
