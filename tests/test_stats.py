"""posture.core.stats: the report's figures, on small histories computed by hand.

Samples are mostly 10 s apart (the most one sample counts), so each counts 10 s unless
said otherwise; the last sample of a session counts nothing. Times are UTC; the local
zone is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from posture.core import stats
from posture.core.stats import (
    Band,
    EpisodeRow,
    NudgeRow,
    PeriodRow,
    Rows,
    Samples,
    SessionRow,
    StoredEpisode,
    figures,
    localtime,
    timeline,
)
from posture.core.stats import rows as stored_rows
from posture.core.vocab import PROBLEMS, VERDICTS

UTC = timezone.utc
S = 1000
MIN = 60 * S


def ms(*args: int, tz: object = UTC) -> int:
    """UTC milliseconds of a wall time in `tz` (default UTC)."""
    return round(datetime(*args, tzinfo=tz).timestamp() * 1000)  # type: ignore[arg-type,misc]


Row = tuple[int, int, str, float | None, str | None]


def run(
    session: int,
    start: int,
    end: int,
    verdict: str,
    problems: str | None = None,
    *,
    step: int = 10 * S,
    score: float | None = None,
) -> list[Row]:
    """Samples every `step` from `start` up to (not including) `end`."""
    if score is None:
        score = {"good": 0.5, "bad": 1.5}.get(verdict)
    return [(session, t, verdict, score, problems) for t in range(start, end, step)]


def report(
    rows: Rows,
    since: int,
    until: int,
    *,
    now: int | None = None,
    tz: str = "UTC",
    previous: tuple[int, int] | None = None,
) -> stats.Report:
    return stats.build_report(
        rows,
        title="test",
        since_ms=since,
        until_ms=until,
        now_ms=until if now is None else now,
        tz=stats.zone(tz),
        tz_name=tz,
        previous=previous,
    )


def samples(rows: Sequence[Row]) -> Samples:
    return Samples.from_rows(rows)


# --- one rule each ----------------------------------------------------------------------------


def test_a_sample_counts_until_the_next_at_most_ten_seconds_and_not_into_a_pause() -> None:
    rows = [(1, 0, "good", 0.1, None), (1, 2 * S, "good", 0.1, None)]
    rows += [(1, 4 * S, "good", 0.1, None), (1, 20 * S, "good", 0.1, None)]
    rows += [(2, 30 * S, "bad", 1.2, "slouch"), (2, 32 * S, "away", None, None)]
    data = samples(rows)
    assert figures.durations(data).tolist() == [2000, 2000, 10000, 0, 2000, 0]
    # a pause from 5 s: the sample at 4 s counts 1 s
    pause = PeriodRow(1, "pause", 5 * S, None)
    assert figures.durations(data, [pause]).tolist() == [2000, 2000, 1000, 0, 2000, 0]


def test_seconds_per_verdict_and_per_problem() -> None:
    rows = [
        (1, 0, "good", 0.2, None),
        (1, 2 * S, "bad", 1.4, "slouch too_close"),
        (1, 4 * S, "bad", 1.1, "neck"),
        (1, 6 * S, "away", None, None),
        (1, 8 * S, "uncertain", None, None),
        (1, 10 * S, "good", 0.3, None),
    ]
    data = samples(rows)
    dt = figures.durations(data)
    assert figures.verdict_seconds(data.verdict, dt) == {
        "good": 2.0,
        "bad": 4.0,
        "away": 2.0,
        "uncertain": 2.0,
    }
    assert figures.problem_seconds(data.verdict, data.problems, dt) == {
        "slouch": 2.0,
        "too_close": 2.0,
        "leaning": 0.0,
        "head_tilt": 0.0,
        "neck": 2.0,
    }


def test_samples_from_rows_sorts_and_encodes() -> None:
    data = samples(
        [
            (2, 5, "away", None, None),
            (1, 9, "bad", 1.25, "neck slouch odd"),
            (1, 3, "good", 0.5, ""),
        ]
    )
    assert data.session.tolist() == [1, 1, 2]
    assert data.t_ms.tolist() == [3, 9, 5]
    assert [VERDICTS[v] for v in data.verdict] == ["good", "bad", "away"]
    assert data.problems.tolist() == [0, 0b10001, 0]  # slouch = bit 0, neck = bit 4
    assert data.score[:2].tolist() == [0.5, 1.25] and math.isnan(data.score[2])
    # the stored problems bitmask follows the vocabulary's order
    assert [stored_rows.problem_mask(p) for p in PROBLEMS] == [1 << i for i in range(len(PROBLEMS))]


def test_the_longest_upright_streak_is_broken_only_by_bad_samples() -> None:
    rows = run(1, 0, 30 * S, "good")  # 30 s
    rows += run(1, 30 * S, 60 * S, "away")  # neither breaks nor adds
    rows += run(1, 60 * S, 80 * S, "good")  # +20 s: 50 s
    rows += run(1, 80 * S, 90 * S, "bad", "slouch")
    rows += run(1, 90 * S, 130 * S, "good")  # 40 s, the last counts nothing: 30 s
    rows += run(2, 200 * S, 220 * S, "good")  # another session continues it: 30 + 20 s
    data = samples(rows)
    dt = figures.durations(data)
    assert figures.longest_upright_streak(data.verdict, dt) == 50.0
    assert figures.longest_upright_streak(np.zeros(0, np.uint8), np.zeros(0, np.int64)) == 0.0


def test_breaks_are_absences_of_five_minutes_on_one_day() -> None:
    day = ms(2026, 11, 20, 10)
    rows = run(1, day, day + 60 * S, "good")  # the last at 50 s counts until 60 s
    rows += run(1, day + 60 * S, day + 6 * MIN, "away")
    rows += run(1, day + 6 * MIN, day + 7 * MIN, "good")  # absent 5 min: a break
    rows += run(1, day + 7 * MIN, day + 11 * MIN, "uncertain")
    rows += run(1, day + 11 * MIN, day + 12 * MIN, "bad", "slouch")  # absent 4 min: none
    night = ms(2026, 11, 21, 9)
    rows += run(2, night, night + MIN, "good")  # the night: no break
    data = samples(rows)
    dt = figures.durations(data)
    days = localtime.local_time(data.t_ms, UTC).day
    assert figures.count_breaks(data.t_ms, data.verdict, dt, days) == 1


def test_nudges_count_posture_ones_and_corrections_within_a_minute() -> None:
    nudges = [
        NudgeRow(1, 10, "slouch", 30 * S),
        NudgeRow(1, 20, "too_close", 60 * S),  # exactly a minute: followed
        NudgeRow(1, 30, "neck", 61 * S),
        NudgeRow(1, 40, "leaning", None),
        NudgeRow(1, 50, "break", None),
        NudgeRow(1, 60, "recalibrate", None),
        NudgeRow(1, 100, "slouch", 1 * S),  # outside the period
    ]
    assert figures.nudge_counts(nudges, 0, 100) == (4, 2)


def test_worst_hour_needs_ten_minutes_present() -> None:
    base = ms(2026, 11, 20, 9)
    rows = run(1, base, base + 20 * MIN, "good")  # 09: 20 min, 100%
    rows += run(1, base + 20 * MIN, base + 30 * MIN, "bad", "slouch")  # 09: 67%
    rows += run(1, base + 60 * MIN, base + 69 * MIN, "bad", "slouch")  # 10: 9 min bad only
    rows += run(1, base + 69 * MIN, base + 70 * MIN, "good")
    data = samples(rows)
    dt = figures.durations(data)
    clock = localtime.local_time(data.t_ms, UTC)
    present, upright = timeline.seen_time(data.verdict, dt)
    hour, share = timeline.worst_hour(clock.clock_hour, present, upright)
    # hour 10 has 9 min 50 s present (the last sample counts nothing): too little
    assert hour == 9 and share == pytest.approx(2 / 3)


def test_scores_are_downsampled_to_means_of_equal_slices_of_time() -> None:
    t = np.array([0, 1, 2, 3, 10, 11], dtype=np.int64)
    score = np.array([1.0, 3.0, math.nan, 5.0, 2.0, 4.0])
    assert timeline.downsample_scores(t, score, limit=10) == (
        (0, 1.0),
        (1, 3.0),
        (3, 5.0),
        (10, 2.0),
        (11, 4.0),
    )
    # 12 ms in 2 slices of 6 ms: [0, 6) holds 0, 1, 3; [6, 12) holds 10, 11
    assert timeline.downsample_scores(t, score, limit=2) == ((1, 3.0), (10, 3.0))


def test_zone_names() -> None:
    assert stats.zone("UTC") is UTC
    assert stats.zone("UTC+05:45").utcoffset(None).total_seconds() == 5 * 3600 + 45 * 60  # type: ignore[union-attr]
    assert stats.zone("UTC-03:30").utcoffset(None).total_seconds() == -(3 * 3600 + 30 * 60)  # type: ignore[union-attr]
    assert stats.zone("Europe/Paris") == ZoneInfo("Europe/Paris")


# --- whole reports ------------------------------------------------------------------------------


def test_episodes_across_pauses() -> None:
    """A slouch interrupted by a 35-s pause stays one episode (the monitor's decision); a
    20-minute pause lies between two episodes. Paused time is neither monitored nor
    present, cuts the sample before it, and breaks no upright streak."""
    h = lambda m, s=0: ms(2026, 11, 20, 9, m, s)  # noqa: E731
    rows = run(1, h(0), h(5), "good")  # 300 s
    rows += run(1, h(5), h(8), "bad", "slouch")  # 18 samples; the last cut at 07:55: 175 s
    rows += run(1, h(8, 30), h(9), "bad", "slouch")  # 30 s
    rows += run(1, h(9), h(20), "good")  # 660 s (the last: 10 s to the pause at 20:00)
    rows += run(1, h(40), h(42), "bad", "too_close")  # 120 s
    rows += run(1, h(42), h(50), "good")  # 48 samples, the last counts nothing: 470 s
    data = Rows(
        samples(rows),
        sessions=(SessionRow(1, h(0), h(50)),),
        episodes=(
            StoredEpisode(1, h(5), h(9), "slouch", 1.8),
            StoredEpisode(1, h(40), h(42), "too_close", 1.2),
        ),
        periods=(
            PeriodRow(1, "pause", h(7, 55), h(8, 30)),
            PeriodRow(1, "pause", h(20), h(40)),
            PeriodRow(1, "snooze", h(0), h(5)),
        ),
    )
    r = report(data, h(0), h(50))
    assert r.monitored_s == r.present_s == 1430 + 325
    assert r.upright_s == 1430
    assert r.upright_share == pytest.approx(1430 / 1755)
    assert r.problem_s == {
        "slouch": 205.0,
        "too_close": 120.0,
        "leaning": 0.0,
        "head_tilt": 0.0,
        "neck": 0.0,
    }
    assert r.paused_s == 35 + 1200
    assert r.episodes == (
        EpisodeRow(h(5), h(9), "slouch", 1.8),
        EpisodeRow(h(40), h(42), "too_close", 1.2),
    )
    assert (r.episode_median_s, r.episode_longest_s) == (180.0, 240.0)
    assert r.longest_upright_streak_s == 660.0
    assert r.breaks == 1  # the 20-minute pause; the 35-s one is too short
    assert r.away_s == 0.0
    assert r.bands == (
        Band(h(0), h(5), "upright"),
        Band(h(5), h(7, 55), "slouch"),
        Band(h(7, 55), h(8, 30), "paused"),
        Band(h(8, 30), h(9), "slouch"),
        Band(h(9), h(20), "upright"),
        Band(h(20), h(40), "paused"),
        Band(h(40), h(42), "slouch"),
        Band(h(42), h(49, 50), "upright"),
    )
    assert r.hourly == ((h(0), 1755.0, pytest.approx(1430 / 1755)),)
    assert len(r.scores) == len(rows)  # fewer than 2,000: every one


def test_away_inside_an_episode() -> None:
    """The episode keeps the minute away in its length (the monitor held it open); the
    minute counts as away, not present, not slouched, and is too short to be a break."""
    h = lambda m, s=0: ms(2026, 11, 20, 10, m, s)  # noqa: E731
    rows = run(1, h(0), h(1, 40), "good")  # 100 s
    rows += run(1, h(1, 40), h(3), "bad", "slouch")  # 80 s
    rows += run(1, h(3), h(4), "away")  # 60 s
    rows += run(1, h(4), h(5), "bad", "slouch")  # 60 s
    rows += run(1, h(5), h(6), "good")  # 6 samples, the last counts nothing: 50 s
    data = Rows(
        samples(rows),
        sessions=(SessionRow(1, h(0), h(6)),),
        episodes=(StoredEpisode(1, h(1, 40), h(5), "slouch", 2.0),),
        periods=(PeriodRow(1, "away", h(3), h(4)),),
    )
    r = report(data, h(0), h(6))
    assert (r.monitored_s, r.present_s, r.upright_s, r.away_s) == (350.0, 290.0, 150.0, 60.0)
    assert r.upright_share == pytest.approx(150 / 290)
    assert r.problem_s["slouch"] == 140.0
    assert r.episodes == (EpisodeRow(h(1, 40), h(5), "slouch", 2.0),)
    assert r.episode_longest_s == r.episode_median_s == 200.0
    assert r.breaks == 0
    assert r.longest_upright_streak_s == 100.0
    assert [b.kind for b in r.bands] == ["upright", "slouch", "away", "slouch", "upright"]
    assert r.bands[2] == Band(h(3), h(4), "away")


def midnight_rows() -> Rows:
    """A session from 23:30 to 00:30 UTC: good to 23:50, bad (an episode) to 00:10, good."""
    rows = run(1, ms(2026, 11, 20, 23, 30), ms(2026, 11, 20, 23, 50), "good")  # 1200 s
    rows += run(1, ms(2026, 11, 20, 23, 50), ms(2026, 11, 21, 0, 10), "bad", "slouch")
    rows += run(1, ms(2026, 11, 21, 0, 10), ms(2026, 11, 21, 0, 30), "good")  # 1190 s
    return Rows(
        samples(rows),
        sessions=(SessionRow(1, ms(2026, 11, 20, 23, 30), ms(2026, 11, 21, 0, 30)),),
        episodes=(
            StoredEpisode(1, ms(2026, 11, 20, 23, 50), ms(2026, 11, 21, 0, 10), "slouch", 1.5),
        ),
        nudges=(NudgeRow(1, ms(2026, 11, 20, 23, 50, 30), "slouch", 20 * S),),
    )


def test_a_session_across_midnight() -> None:
    rows = midnight_rows()
    first = report(rows, ms(2026, 11, 20), ms(2026, 11, 21))
    second = report(rows, ms(2026, 11, 21), ms(2026, 11, 22))
    whole = report(rows, ms(2026, 11, 20, 23, 30), ms(2026, 11, 21, 0, 30))
    assert (first.present_s, first.upright_s) == (1800.0, 1200.0)
    assert (second.present_s, second.upright_s) == (1790.0, 1190.0)
    assert whole.present_s == first.present_s + second.present_s
    # the episode, clipped to each day
    assert first.episodes == (
        EpisodeRow(ms(2026, 11, 20, 23, 50), ms(2026, 11, 21), "slouch", 1.5),
    )
    assert second.episodes == (
        EpisodeRow(ms(2026, 11, 21), ms(2026, 11, 21, 0, 10), "slouch", 1.5),
    )
    assert (first.nudges, first.nudges_followed, second.nudges) == (1, 1, 0)
    assert whole.hourly == (
        (ms(2026, 11, 20, 23), 1800.0, pytest.approx(2 / 3)),
        (ms(2026, 11, 21, 0), 1790.0, pytest.approx(1190 / 1790)),
    )
    assert (whole.worst_hour, whole.worst_hour_share) == (0, pytest.approx(1190 / 1790))
    # the daily strip: the week that ends on the session's last day, every day listed
    assert [d[0] for d in whole.daily] == [f"2026-11-{d}" for d in range(15, 22)]
    assert whole.daily[-2:] == (
        ("2026-11-20", 1800.0, pytest.approx(2 / 3)),
        ("2026-11-21", 1790.0, pytest.approx(1190 / 1790)),
    )
    assert whole.daily[0] == ("2026-11-15", 0.0, None)
    assert second.previous_upright_share is None  # no previous period given


def test_time_zones_stored_utc_shown_local() -> None:
    """The same session seen from India (UTC+05:30): 05:00-06:00 on the 21st, one hour."""
    rows = midnight_rows()
    kolkata = ZoneInfo("Asia/Kolkata")
    day = (ms(2026, 11, 21, tz=kolkata), ms(2026, 11, 22, tz=kolkata))
    r = report(rows, *day, tz="Asia/Kolkata")
    assert r.tz == "Asia/Kolkata"
    assert r.present_s == 3590.0
    assert r.hourly == ((ms(2026, 11, 20, 23, 30), 3590.0, pytest.approx(2390 / 3590)),)
    assert r.worst_hour == 5
    assert r.daily[-2:] == (
        ("2026-11-20", 0.0, None),
        ("2026-11-21", 3590.0, pytest.approx(2390 / 3590)),
    )
    assert len(r.episodes) == 1
    # ... and from UTC the 21st holds only its second half
    assert report(rows, ms(2026, 11, 21), ms(2026, 11, 22)).present_s == 1790.0


def test_the_hour_that_repeats_when_summer_time_ends() -> None:
    """New York, 1 Nov 2026: 01:00-02:00 happens twice (EDT, then EST). Two clock hours
    in `hourly`, one clock hour (1) for the worst hour, one local day."""
    rows = run(1, ms(2026, 11, 1, 5), ms(2026, 11, 1, 7), "good")
    data = Rows(samples(rows), sessions=(SessionRow(1, ms(2026, 11, 1, 5), ms(2026, 11, 1, 7)),))
    ny = ZoneInfo("America/New_York")
    r = report(data, ms(2026, 11, 1, tz=ny), ms(2026, 11, 2, tz=ny), tz="America/New_York")
    assert [(start, present) for start, present, _ in r.hourly] == [
        (ms(2026, 11, 1, 5), 3600.0),
        (ms(2026, 11, 1, 6), 3590.0),
    ]
    assert r.worst_hour == 1
    assert r.daily[-1] == ("2026-11-01", 7190.0, 1.0)
    assert len(r.daily) == 7


def test_local_time_in_a_zone_off_the_quarter_hour() -> None:
    """Before 1972 Liberia kept UTC-00:44:30: hours then started at :44:30 UTC."""
    t = np.array([ms(1960, 6, 1, 12, 0), ms(1960, 6, 1, 12, 50)], dtype=np.int64)
    clock = localtime.local_time(t, ZoneInfo("Africa/Monrovia"))
    assert clock.clock_hour.tolist() == [11, 12]
    assert clock.hour_start_ms.tolist() == [ms(1960, 6, 1, 11, 44, 30), ms(1960, 6, 1, 12, 44, 30)]


def running_rows(running: bool) -> Rows:
    h = lambda m, s=0: ms(2026, 11, 20, 10, m, s)  # noqa: E731
    rows = run(1, h(0), h(5), "good")  # 300 s
    rows += run(1, h(5), h(10, 1), "bad", "slouch")  # 10:05:00 ... 10:10:00: 300 s
    return Rows(
        samples(rows),
        sessions=(SessionRow(1, h(0), None, running=running, last_sample_ms=h(10)),),
        episodes=(StoredEpisode(1, h(5), None, "slouch", 1.5),),
        nudges=(NudgeRow(1, h(5, 30), "slouch", None),),
        periods=(PeriodRow(1, "pause", h(10, 5), None),),
    )


def test_a_session_still_running() -> None:
    """Its open episode ends at its last sample; its open pause goes on until now."""
    h = lambda m, s=0: ms(2026, 11, 20, 10, m, s)  # noqa: E731
    r = report(running_rows(True), h(0), h(20), now=h(20))
    assert r.running
    # the last sample (10:10:00) counts until the pause began, 5 s later
    assert (r.monitored_s, r.upright_s, r.present_s) == (605.0, 300.0, 605.0)
    assert r.episodes == (EpisodeRow(h(5), h(10), "slouch", 1.5),)
    assert r.paused_s == 595.0
    assert r.bands[-1] == Band(h(10, 5), h(20), "paused")
    assert (r.nudges, r.nudges_followed) == (1, 0)


def test_a_crashed_session() -> None:
    """Never ended, not running: everything open ends at its last sample."""
    h = lambda m, s=0: ms(2026, 11, 20, 10, m, s)  # noqa: E731
    r = report(running_rows(False), h(0), h(20), now=h(50))
    assert not r.running
    assert r.episodes == (EpisodeRow(h(5), h(10), "slouch", 1.5),)
    assert r.paused_s == 0.0  # the pause began after the last sample
    assert [b.kind for b in r.bands] == ["upright", "slouch"]
    assert r.bands[-1].end_ms == h(10, 5)  # the last sample counts until the pause began


def test_an_empty_period() -> None:
    rows = midnight_rows()
    r = report(
        rows, ms(2026, 11, 10), ms(2026, 11, 11), previous=(ms(2026, 11, 9), ms(2026, 11, 10))
    )
    assert (r.monitored_s, r.present_s, r.upright_s, r.away_s, r.paused_s) == (0, 0, 0, 0, 0)
    assert r.upright_share is None and r.previous_upright_share is None
    assert r.trend_points is None
    assert r.problem_s == dict.fromkeys(PROBLEMS, 0.0)
    assert r.episodes == () and r.episode_median_s is None and r.episode_longest_s is None
    assert r.longest_upright_streak_s == 0.0 and r.breaks == 0
    assert (r.nudges, r.nudges_followed) == (0, 0)
    assert r.worst_hour is None and r.worst_hour_share is None
    assert r.hourly == () and r.bands == () and r.scores == ()
    assert r.daily == tuple((f"2026-11-{d:02d}", 0.0, None) for d in range(4, 11))
    assert not r.running
    nothing = report(Rows(Samples.empty()), ms(2026, 11, 10), ms(2026, 11, 11))
    assert nothing.monitored_s == 0 and len(nothing.daily) == 7


def test_trend_against_the_previous_period() -> None:
    rows = midnight_rows()
    r = report(
        rows,
        ms(2026, 11, 21),
        ms(2026, 11, 22),
        previous=(ms(2026, 11, 20), ms(2026, 11, 21)),
    )
    assert r.previous_upright_share == pytest.approx(2 / 3)
    assert r.trend_points == pytest.approx((1190 / 1790 - 2 / 3) * 100)
    assert stats.trend_points(0.8, 0.75) == pytest.approx(5.0)
    assert stats.trend_points(None, 0.75) is None


def test_a_long_period_has_at_least_its_own_days_in_the_strip() -> None:
    rows = midnight_rows()
    r = report(rows, ms(2026, 11, 1), ms(2026, 11, 22))
    assert len(r.daily) == 21 and r.daily[0][0] == "2026-11-01"


def test_upright_share_per_session() -> None:
    rows = run(1, 0, 60 * S, "good") + run(1, 60 * S, 90 * S, "bad", "neck")
    rows += run(2, 200 * S, 230 * S, "away")
    data = Rows(samples(rows), sessions=(SessionRow(1, 0, 90 * S), SessionRow(2, 200 * S, 230 * S)))
    # session 1: 60 s good, 20 s bad (its last sample counts nothing)
    assert stats.session_shares(data, 0) == {1: pytest.approx(0.75), 2: None}


def test_a_camera_fault_ends_a_samples_time_like_a_pause() -> None:
    h = lambda m, s=0: ms(2026, 11, 20, 10, m, s)  # noqa: E731
    rows = run(1, h(0), h(1), "good") + run(1, h(3), h(4), "good")  # 6 + 6 samples
    sessions = (SessionRow(1, h(0), h(4)),)
    # without a period the sample at 10:00:50 runs on for 10 s into the gap ...
    plain = report(Rows(samples(rows), sessions), h(0), h(5))
    assert plain.monitored_s == 60 + 50
    # ... a camera fault from 10:00:52 (the next look found no picture) ends it there
    fault = (PeriodRow(1, "camera_fault", h(0, 52), h(3)),)
    r = report(Rows(samples(rows), sessions, periods=fault), h(0), h(5))
    assert (r.monitored_s, r.upright_s, r.paused_s) == (52 + 50, 52 + 50, 0.0)
    # another session's fault changes nothing
    other = (PeriodRow(2, "camera_fault", h(0, 52), h(3)),)
    assert report(Rows(samples(rows), sessions, periods=other), h(0), h(5)).monitored_s == 110
