"""Tests for posture.core.episodes: one slouch is one episode, a glance is none, whatever the
sampling rate, through absences, dropouts and bystanders.

Most tests run the real pipeline (synthetic landmarks -> features -> the calibrated
person -> the real judge -> the tracker) through `tests/synthetic.py`; the property tests
and the threshold tests feed the tracker hand-made judgments, which is faster and puts
the score exactly where the test needs it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import groupby

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from posture.core import features
from posture.core.episodes import Episode, Settings, Tracker, Update
from posture.core.judgment import Judge, Judgment, is_far_from_calibration
from posture.core.profile import Profile
from tests.synthetic import (
    ASPECT,
    BYSTANDER,
    Run,
    Scenario,
    Segment,
    drive,
    judge_frame,
    make_profile,
    pose,
)

S = Settings()
RATES = (0.5, 2.0, 10.0)
SLOWEST_PERIOD = 1 / min(RATES)  # 2 s


@pytest.fixture(scope="module")
def profile() -> Profile:
    return make_profile()


@pytest.fixture(scope="module")
def judge(profile: Profile) -> Judge:
    return Judge(profile)


# --- helpers ---------------------------------------------------------------------------


def judgment(score: float, problem: str = "slouch", **others: float) -> Judgment:
    """A present sample: `problem` at `score`, plus any `others` problems."""
    problems = {problem: score, **others}
    worst = max(problems.values())
    return Judgment("bad" if worst >= 1.0 else "good", worst, problems)


AWAY = Judgment("away", math.nan, {})
UNCERTAIN = Judgment("uncertain", math.nan, {})

Step = tuple[float, "float | Judgment"]


def steps(*segments: Step) -> Callable[[float], Judgment]:
    """A piecewise-constant signal: (duration, score or judgment) segments from t = 0."""
    ends = np.cumsum([d for d, _ in segments])
    values = [v if isinstance(v, Judgment) else judgment(v) for _, v in segments]

    def at(t: float) -> Judgment:
        i = int(np.searchsorted(ends, t, side="right"))
        return values[min(i, len(values) - 1)]

    return at


def feed(
    signal: Callable[[float], Judgment],
    *,
    rate: float,
    end: float,
    tracker: Tracker | None = None,
    far: Callable[[float], bool] = lambda t: False,
) -> tuple[Tracker, list[tuple[float, Update]]]:
    """Sample `signal` at `rate` Hz over [0, end) into a tracker."""
    tracker = tracker or Tracker()
    out = []
    for k in range(math.ceil(end * rate - 1e-9)):
        t = k / rate
        out.append((t, tracker.update(t, signal(t), far=far(t))))
    return tracker, out


def runs(states: Sequence[str]) -> list[str]:
    """The sequence of states with repeats collapsed."""
    return [state for state, _ in groupby(states)]


def all_episodes(run: Run) -> list[Episode]:
    return run.tracker.episodes


def assert_close_episodes(a: list[Episode], b: list[Episode], tol: float) -> None:
    assert len(a) == len(b), (a, b)
    for x, y in zip(a, b, strict=True):
        assert x.kind == y.kind, (x, y)
        assert abs(x.start - y.start) <= tol, (x, y)
        assert abs(x.confirmed_at - y.confirmed_at) <= tol, (x, y)
        assert x.end is not None and y.end is not None
        assert abs(x.end - y.end) <= tol, (x, y)


# --- one slouch, one episode -------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_sustained_slouch_is_one_episode(profile: Profile, rate: float) -> None:
    scenario = Scenario([Segment("upright", 60), Segment("slouch", 120), Segment("upright", 60)])
    run = drive(scenario, profile, rate=rate)
    period = 1 / rate

    [episode] = run.tracker.episodes
    assert 60 <= episode.start <= 60 + S.smooth_window  # the onset, lagged by the smoothing
    assert episode.confirmed_at == pytest.approx(episode.start + S.slouch_after, abs=period)
    assert episode.kind == "slouch"
    assert episode.peak > 2.0  # a clear slouch: about 2.8 x the tolerance
    assert episode.end is not None
    assert 180 <= episode.end <= 180 + S.smooth_window

    started = [(t, u.started) for t, u in zip(run.times, run.updates, strict=True) if u.started]
    ended = [(t, u.ended) for t, u in zip(run.times, run.updates, strict=True) if u.ended]
    assert len(started) == 1 and len(ended) == 1
    t_started, first = started[0]
    assert first is not None and first.end is None and first.start == episode.start
    assert t_started == first.confirmed_at == episode.confirmed_at
    t_ended, last = ended[0]
    assert last == episode
    assert t_ended == pytest.approx(episode.end + S.recover_after, abs=period)

    assert runs(run.states()) == ["upright", "deviating", "slouching", "recovering", "upright"]
    assert run.at(150).state == "slouching"
    assert run.at(150).since == episode.confirmed_at
    assert run.at(150).smoothed >= S.entry
    assert run.tracker.current is None


def test_current_is_the_open_episode(profile: Profile) -> None:
    scenario = Scenario([Segment("upright", 30), Segment("slouch", 60)])
    run = drive(scenario, profile, rate=2, finish=False)
    current = run.tracker.current
    assert current is not None and current.end is None and current.kind == "slouch"
    assert run.tracker.episodes == []
    closed = run.tracker.finish(90)
    assert closed is not None and closed.end == 90 and closed.start == current.start
    assert run.tracker.episodes == [closed] and run.tracker.current is None


@pytest.mark.parametrize("rate", RATES)
def test_glances_never_count(profile: Profile, rate: float) -> None:
    segments = [Segment("upright", 40)]
    for length in (10, 20, 25):
        segments += [Segment("glance", length), Segment("upright", 30)]
    run = drive(Scenario(segments), profile, rate=rate)
    assert run.tracker.episodes == []
    assert "slouching" not in run.states()
    # The glances were seen, and were bad while they lasted: they were dropped by the rule.
    assert runs(run.states()).count("deviating") == 3
    assert sum(j.verdict == "bad" for j in run.judgments) >= 50 * rate


@pytest.mark.parametrize("rate", RATES)
def test_a_slouch_just_longer_than_slouch_after_counts(profile: Profile, rate: float) -> None:
    # The counterpart of the glances: the same head drop held for 40 s is an episode.
    scenario = Scenario([Segment("upright", 40), Segment("glance", 40), Segment("upright", 30)])
    assert len(drive(scenario, profile, rate=rate).tracker.episodes) == 1


@pytest.mark.parametrize("rate", [0.5, 1.0, 2.0, 3.0, 4.0, 10.0])
def test_the_longest_glance_does_not_count(rate: float) -> None:
    # The worst case: a bad stretch just under slouch_after that begins exactly on a
    # sample holds ceil(29.99 * rate) bad samples, as many as a 30 s slouch would. The
    # smoothed score must still stay bad for less than slouch_after.
    signal = steps((10, 0.2), (S.slouch_after - 0.01, 3.0), (20, 0.2))
    tracker, updates = feed(signal, rate=rate, end=60)
    assert tracker.episodes == [] and tracker.current is None
    assert "deviating" in [u.state for _, u in updates]
    # ... and one two sample periods longer does count (the smoothed score needs a strict
    # majority of bad samples in the window, which costs up to two periods at the start).
    signal = steps((10, 0.2), (S.slouch_after + 2 / rate, 3.0), (20, 0.2))
    tracker, _ = feed(signal, rate=rate, end=61)
    assert len(tracker.episodes) == 1


@settings(max_examples=80, deadline=None)
@given(
    rate=st.sampled_from([0.5, 1.0, 2.0, 3.0, 10.0]),
    parts=st.lists(
        st.tuples(
            # a bad stretch shorter than slouch_after, often just shorter
            st.floats(0.1, 29.99) | st.floats(28.0, 29.99),
            st.floats(1.0, 5.0),  # its score
            st.floats(5.0, 60.0),  # the upright gap after it
            st.floats(0.0, 0.99),  # the gap's score
        ),
        min_size=1,
        max_size=6,
    ),
    offset=st.floats(0.0, 1.0),
)
def test_bad_stretches_shorter_than_slouch_after_never_count(
    rate: float, parts: list[tuple[float, float, float, float]], offset: float
) -> None:
    segments: list[Step] = [(5.0 + offset, 0.2)]
    for bad, score, gap, gap_score in parts:
        segments += [(bad, score), (gap, gap_score)]
    end = sum(d for d, _ in segments)
    tracker, updates = feed(steps(*segments), rate=rate, end=end)
    assert tracker.finish(end) is None
    assert tracker.episodes == []
    assert all(u.started is None for _, u in updates)


@settings(max_examples=40, deadline=None)
@given(
    parts=st.lists(
        st.tuples(st.integers(1, 10), st.integers(1, 10)).map(lambda p: (2.0 * p[0], 2.0 * p[1])),
        min_size=1,
        max_size=5,
    ),
)
def test_absences_shorter_than_away_reset_never_add_slouch_time(
    parts: list[tuple[float, float]],
) -> None:
    # Bad stretches adding up to less than slouch_after of presence, broken by absences
    # (away or uncertain) of up to 20 s: the deviation pauses, never grows.
    present = 0.0
    segments: list[Step] = [(10.0, 0.2)]
    for i, (bad, absent) in enumerate(parts):
        if present + bad >= S.slouch_after - 4:
            break
        present += bad
        segments += [(bad, 2.0), (absent, AWAY if i % 2 else UNCERTAIN)]
    segments.append((20.0, 0.2))
    end = sum(d for d, _ in segments)
    tracker, _ = feed(steps(*segments), rate=2.0, end=end)
    assert tracker.episodes == []


# --- hysteresis ----------------------------------------------------------------------------


def test_score_between_exit_and_entry_keeps_one_episode() -> None:
    # 60 s bad, then 120 s alternating 0.75 / 0.95 every 3 s (between the exit threshold
    # 0.7 and the entry 1.0), then upright.
    segments: list[Step] = [(20, 0.2), (60, 2.0)]
    segments += [(3, 0.75 if i % 2 else 0.95) for i in range(40)]
    segments += [(40, 0.2)]
    tracker, updates = feed(steps(*segments), rate=2, end=sum(d for d, _ in segments))
    [episode] = tracker.episodes
    assert episode.end is not None and 200 <= episode.end <= 205
    during = [u.state for t, u in updates if 95 <= t < 200]
    assert set(during) == {"slouching"}
    assert all(S.exit <= u.smoothed < S.entry for t, u in updates if 85 <= t < 200)


@pytest.mark.parametrize(("dip", "episodes"), [(3.0, 1), (4.0, 1), (8.0, 2), (15.0, 2)])
def test_dip_below_exit_shorter_than_recover_after_keeps_the_episode(
    dip: float, episodes: int
) -> None:
    segments: list[Step] = [(20, 0.2), (60, 2.0), (dip, 0.2), (60, 2.0), (30, 0.2)]
    tracker, updates = feed(steps(*segments), rate=10, end=sum(d for d, _ in segments))
    assert len(tracker.episodes) == episodes
    assert "recovering" in runs([u.state for _, u in updates])


@pytest.mark.parametrize("rate", RATES)
def test_sitting_up_for_a_moment_keeps_the_episode(profile: Profile, rate: float) -> None:
    segments = [
        Segment("upright", 30),
        Segment("slouch", 60),
        Segment("upright", 2),  # sits up, and slouches again
        Segment("slouch", 60),
        Segment("upright", 30),
    ]
    run = drive(Scenario(segments), profile, rate=rate)
    [episode] = run.tracker.episodes
    assert episode.end is not None and 152 <= episode.end <= 157


def test_a_real_recovery_between_slouches_gives_two_episodes(profile: Profile) -> None:
    segments = [
        Segment("upright", 30),
        Segment("slouch", 60),
        Segment("upright", 20),
        Segment("slouch", 60),
        Segment("upright", 30),
    ]
    run = drive(Scenario(segments), profile, rate=2)
    first, second = run.tracker.episodes
    assert first.end is not None and 90 <= first.end <= 95
    assert 110 <= second.start <= 115


# --- rate independence -----------------------------------------------------------------------

MIXED = [
    Segment("upright", 60),
    Segment("slouch", 120),
    Segment("upright", 40),
    Segment("glance", 20),
    Segment("upright", 40),
    Segment("slouch", 80),
    Segment("upright", 2),
    Segment("slouch", 60),
    Segment("upright", 60),
    Segment("upright", 80, lean=15),
    Segment("upright", 60),
]


def test_same_episodes_at_any_rate(profile: Profile) -> None:
    results = {rate: drive(Scenario(MIXED), profile, rate=rate).tracker.episodes for rate in RATES}
    base = results[2.0]
    assert [e.kind for e in base] == ["slouch", "slouch", "leaning"]
    for rate in RATES:
        assert_close_episodes(results[rate], base, SLOWEST_PERIOD)


# A bad run: bad pieces broken by 2 s upright dips or short absences (which neither end
# nor grow it), followed by a separator that ends it: upright for 10 s or more, or an
# absence longer than away_reset. Every duration is a whole number of 2 s, so all rates
# sample the same boundaries.
_PIECE = st.tuples(
    st.integers(1, 30),  # bad for 2..60 s
    st.sampled_from(["dip", "away", "uncertain"]),  # then
    st.integers(2, 20),  # absent for 4..40 s (if absent)
)
_SEPARATOR = st.tuples(st.sampled_from(["good", "away"]), st.integers(5, 30))


@settings(max_examples=40, deadline=None)
@given(blocks=st.lists(st.tuples(st.lists(_PIECE, min_size=1, max_size=3), _SEPARATOR), max_size=4))
def test_same_episodes_at_any_rate_property(
    blocks: list[tuple[list[tuple[int, str, int]], tuple[str, int]]],
) -> None:
    segments: list[Step] = [(10.0, 0.2)]
    for pieces, (separator, n) in blocks:
        present = 0.0
        for i, (bad, kind, absent) in enumerate(pieces):
            segments.append((2.0 * bad, 2.0))
            present += 2.0 * bad
            if i < len(pieces) - 1:
                if kind == "dip":
                    segments.append((2.0, 0.2))
                    present += 2.0
                else:
                    segments.append((2.0 * absent, AWAY if kind == "away" else UNCERTAIN))
        # Keep clear of the threshold: a run of 20 s or less never counts, one of 40 s
        # or more always does (how close to slouch_after is tested elsewhere).
        assume(present <= 20 or present >= 40)
        if separator == "good":
            segments.append((2.0 * n, 0.2))
        else:
            segments += [(2.0 * n + 60.0, AWAY), (10.0, 0.2)]
    segments.append((30.0, 0.2))
    end = sum(d for d, _ in segments)
    results = {}
    for rate in RATES:
        tracker, _ = feed(steps(*segments), rate=rate, end=end)
        assert tracker.finish(end) is None
        results[rate] = tracker.episodes
    for rate in RATES:
        assert_close_episodes(results[rate], results[2.0], SLOWEST_PERIOD)


# --- away and uncertain ---------------------------------------------------------------------

ABSENCES = [("away", "away"), ("dropout", "uncertain")]


@pytest.mark.parametrize(("kind", "state"), ABSENCES)
def test_short_absence_inside_a_slouch_keeps_one_episode(
    profile: Profile, kind: str, state: str
) -> None:
    segments = [
        Segment("upright", 60),
        Segment("slouch", 50),
        Segment(kind, 20),  # type: ignore[arg-type]
        Segment("slouch", 60),
        Segment("upright", 40),
    ]
    run = drive(Scenario(segments), profile, rate=2)
    [episode] = run.tracker.episodes
    assert 60 <= episode.start <= 65
    assert episode.end is not None and 190 <= episode.end <= 195
    middle = run.at(120)
    assert middle.state == state and math.isnan(middle.smoothed)
    assert middle.since == pytest.approx(110, abs=0.5)
    assert run.tracker.current is None
    assert runs(run.states()) == [
        "upright",
        "deviating",
        "slouching",
        state,
        "slouching",
        "recovering",
        "upright",
    ]
    # Back from the absence, the state carries on where it was, since when it began.
    assert run.at(131).since == episode.confirmed_at


@pytest.mark.parametrize(("kind", "state"), ABSENCES)
def test_short_absence_pauses_a_deviation(profile: Profile, kind: str, state: str) -> None:
    # 20 s + 15 s of slouching around a 20 s absence: 35 s of presence is an episode, and
    # it took 20 s longer to confirm than without the absence.
    segments = [
        Segment("upright", 60),
        Segment("slouch", 20),
        Segment(kind, 20),  # type: ignore[arg-type]
        Segment("slouch", 15),
        Segment("upright", 40),
    ]
    run = drive(Scenario(segments), profile, rate=2)
    [episode] = run.tracker.episodes
    assert episode.confirmed_at == pytest.approx(episode.start + S.slouch_after + 20, abs=1)
    assert run.at(90).state == state


@pytest.mark.parametrize(("kind", "state"), ABSENCES)
def test_absence_during_a_deviation_does_not_count_as_slouch_time(
    profile: Profile, kind: str, state: str
) -> None:
    segments = [
        Segment("upright", 60),
        Segment("slouch", 20),
        Segment(kind, 40),  # type: ignore[arg-type]
        Segment("upright", 40),
    ]
    run = drive(Scenario(segments), profile, rate=2)
    assert run.tracker.episodes == []
    assert run.at(100).state == state
    # Nor does it reset the deviation: on return it is still pending, from the same onset.
    back = run.at(120)
    assert back.state == "deviating"
    assert back.since == run.at(79).since
    assert run.at(130).state == "upright"


@pytest.mark.parametrize(("kind", "state"), ABSENCES)
def test_long_absence_ends_the_episode_when_last_seen(
    profile: Profile, kind: str, state: str
) -> None:
    segments = [
        Segment("upright", 60),
        Segment("slouch", 90),
        Segment(kind, 90),  # type: ignore[arg-type]
        Segment("slouch", 20),
        Segment("upright", 30),
    ]
    run = drive(Scenario(segments), profile, rate=2)
    [episode] = run.tracker.episodes  # the 20 s after the return is a fresh deviation
    assert episode.end == 149.5  # the last sample that saw the user
    ended = [(t, u) for t, u in zip(run.times, run.updates, strict=True) if u.ended]
    assert len(ended) == 1
    t_ended, update = ended[0]
    assert t_ended == 210.0 and update.state == state  # over away_reset after 149.5
    assert run.at(241).state == "deviating"
    assert run.at(241).since == 240.0  # a fresh onset after the return


@pytest.mark.parametrize(("kind", "state"), ABSENCES)
@pytest.mark.parametrize(("absence", "episodes"), [(20, 1), (70, 0)])
def test_long_absence_forgets_a_pending_deviation(
    profile: Profile, kind: str, state: str, absence: float, episodes: int
) -> None:
    segments = [
        Segment("upright", 60),
        Segment("slouch", 20),
        Segment(kind, absence),  # type: ignore[arg-type]
        Segment("slouch", 20),
        Segment("upright", 30),
    ]
    run = drive(Scenario(segments), profile, rate=2)
    assert len(run.tracker.episodes) == episodes
    assert run.at(90).state == state


@pytest.mark.parametrize("absent", [AWAY, UNCERTAIN])
def test_absence_during_recovery_pauses_it(absent: Judgment) -> None:
    # Sits up for 3 s (the recovery begins), is not seen for 20 s, and is back slouching:
    # the recovery had only a few seconds of presence, so the episode goes on.
    segments: list[Step] = [(10, 0.2), (60, 2.0), (3, 0.2), (20, absent), (40, 2.0), (20, 0.2)]
    tracker, updates = feed(steps(*segments), rate=2, end=153)
    [episode] = tracker.episodes
    assert episode.end is not None and episode.end > 130
    states = runs([u.state for _, u in updates])
    assert states[states.index("recovering") + 1 :][:2] == [absent.verdict, "recovering"]
    # Back upright instead: the recovery resumes and ends the episode when it began.
    segments[4] = (40, 0.2)
    tracker, updates = feed(steps(*segments), rate=2, end=133)
    [episode] = tracker.episodes
    began = next(u.since for _, u in updates if u.state == "recovering")
    assert episode.end == began and 72 <= began <= 73
    t_ended = next(t for t, u in updates if u.ended)
    assert 93 + S.recover_after - 2 <= t_ended <= 93 + S.recover_after


def test_a_gap_without_samples_counts_as_an_absence() -> None:
    tracker, _ = feed(steps((10, 0.2), (100, 2.0)), rate=2, end=100)
    assert tracker.current is not None
    # The process was stalled for five minutes: the episode ended when last seen.
    update = tracker.update(400.0, judgment(2.0))
    assert update.ended is not None and update.ended.end == 99.5
    assert update.state == "deviating" and update.since == 400.0


def test_uncertain_and_away_are_reported_with_their_own_since() -> None:
    tracker = Tracker()
    assert tracker.update(0, AWAY).state == "away"
    assert tracker.update(1, AWAY).since == 0
    u = tracker.update(2, UNCERTAIN)
    assert (u.state, u.since) == ("uncertain", 2)
    u = tracker.update(3, judgment(0.2))
    assert (u.state, u.since) == ("upright", 3)
    # A good/bad verdict without a finite score cannot be smoothed: uncertain.
    assert tracker.update(4, Judgment("bad", math.nan, {})).state == "uncertain"


# --- bystanders ----------------------------------------------------------------------------

NEAR_BYSTANDER = {"scale": 0.6, "shift": (0.25, -0.05), "head_drop": 1.0}


@pytest.mark.parametrize("bystander", [BYSTANDER, NEAR_BYSTANDER])
def test_second_person_never_changes_the_verdicts(
    profile: Profile, judge: Judge, bystander: dict[str, object]
) -> None:
    segments = [*MIXED[:6], Segment("dropout", 20), Segment("upright", 30)]
    alone = drive(Scenario(segments), profile, rate=2)
    crowded_scenario = Scenario(segments, bystander=True, bystander_args=bystander)
    crowded = drive(crowded_scenario, profile, rate=2)
    assert crowded_scenario.poses(10.0).shape[0] == 2
    # The bystander is slouched: judged on their own they would be bad.
    rows = features.compute_features(crowded_scenario.poses(10.0)[1], aspect=ASPECT)
    assert judge.judge(rows[0]).verdict == "bad"

    assert [j.verdict for j in crowded.judgments] == [j.verdict for j in alone.judgments]
    # Equal up to rounding: the batched feature computation may sum in another order.
    np.testing.assert_allclose(
        [j.score for j in crowded.judgments], [j.score for j in alone.judgments], rtol=1e-9
    )
    assert crowded.tracker.episodes == alone.tracker.episodes
    assert [u.state for u in crowded.updates] == [u.state for u in alone.updates]


def test_second_person_segment_keeps_the_user(profile: Profile) -> None:
    segments = [Segment("upright", 30), Segment("second_person", 30), Segment("upright", 10)]
    run = drive(Scenario(segments), profile, rate=2)
    assert {j.verdict for j in run.judgments} == {"good"}


def test_passer_by_alone_is_away(profile: Profile, judge: Judge) -> None:
    segments = [
        Segment("upright", 30),
        Segment("away", 30, bystander=True),
        Segment("upright", 30),
    ]
    scenario = Scenario(segments)
    assert scenario.poses(45.0).shape[0] == 1  # only the passer-by
    run = drive(scenario, profile, rate=2)
    verdicts = [j.verdict for t, j in zip(run.times, run.judgments, strict=True) if 30 <= t < 60]
    assert set(verdicts) == {"away"}
    assert run.at(45).state == "away"
    assert run.tracker.episodes == []
    assert judge_frame(judge, scenario.poses(45.0))[0].verdict == "away"


# --- stale calibration -------------------------------------------------------------------------

SHIFTED = {"shift": (0.2, 0.0)}  # 0.2 image widths to the side: far, still the user
SMALLER = {"scale": 0.72}  # moved back: the shoulders 28% narrower


@pytest.mark.parametrize("moved", [SHIFTED, SMALLER])
def test_sitting_far_from_calibration_flags_stale(
    profile: Profile, moved: dict[str, object]
) -> None:
    scenario = Scenario([Segment("upright", 700, **moved)])  # type: ignore[arg-type]
    row = features.compute_features(scenario.poses(0.0), aspect=ASPECT)[0]
    assert is_far_from_calibration(row, profile)
    run = drive(scenario, profile, rate=0.5)
    # Far is not bad posture (the odd noisy sample aside: smaller means noisier ratios).
    assert sum(j.verdict == "good" for j in run.judgments) >= 0.95 * len(run.judgments)
    assert run.tracker.episodes == []
    assert not any(u.stale for t, u in zip(run.times, run.updates, strict=True) if t < 598)
    assert all(u.stale for t, u in zip(run.times, run.updates, strict=True) if t >= 600)


def test_short_excursions_do_not_flag_stale(profile: Profile) -> None:
    segments = []
    for _ in range(5):
        segments += [Segment("upright", 200), Segment("upright", 100, shift=(0.2, 0.0))]
    run = drive(Scenario(segments), profile, rate=0.5)
    assert sum(u.stale for u in run.updates) == 0
    # The excursions were seen as far (the test could fail).
    assert run.tracker._stale_far > 0


def test_stale_needs_present_time_and_clears(profile: Profile) -> None:
    segments = [
        Segment("upright", 300, shift=(0.2, 0.0)),
        Segment("away", 600),  # lunch: the clock stops
        Segment("upright", 400, shift=(0.2, 0.0)),
        Segment("upright", 300),  # back where calibrated
    ]
    run = drive(Scenario(segments), profile, rate=0.5)
    assert not run.at(1150).stale  # 300 + 250 s of presence: not enough yet
    assert run.at(1210).stale  # over 600 s of presence, all far
    assert not run.at(1599).stale  # 200 s back in place: under 80% far


def test_stale_share_is_time_weighted() -> None:
    # Far only while sampled fast (10 Hz for 100 s, then 0.5 Hz upright near): far holds
    # most samples but a sixth of the time, so it is not stale.
    tracker = Tracker()
    stale = []
    for k in range(1000):
        stale.append(tracker.update(k / 10, judgment(0.2), far=True).stale)
    t = 100.0
    while t < 700:
        t += 2.0
        stale.append(tracker.update(t, judgment(0.2), far=False).stale)
    assert not any(stale)
    # ... and the same shares by time flag it once most of the time is far.
    for _ in range(300):
        t += 2.0
        last = tracker.update(t, judgment(0.2), far=True)
    assert last.stale


# --- episode details, finish, validation -------------------------------------------------------


def test_kind_is_the_problem_bad_longest_and_worst() -> None:
    # Mostly slouched, a while leaning harder, and a neck hovering below 1 throughout.
    segments: list[Step] = [
        (10, 0.2),
        (60, judgment(1.5, "slouch", leaning=0.5, neck=0.95)),
        (20, judgment(0.5, "slouch", leaning=2.0, neck=0.95)),
        (20, 0.2),
    ]
    tracker, _ = feed(steps(*segments), rate=2, end=110)
    [episode] = tracker.episodes
    assert episode.kind == "slouch"
    assert episode.peak == 2.0 or episode.peak == 1.5

    segments[1] = (40, judgment(1.5, "slouch", leaning=0.5, neck=0.95))
    segments[2] = (40, judgment(0.5, "slouch", leaning=2.0, neck=0.95))
    tracker, _ = feed(steps(*segments), rate=2, end=110)
    assert [e.kind for e in tracker.episodes] == ["leaning"]

    # Slouching and leaning take turns; the neck hovers just under the threshold all along
    # and has the largest plain sum, but it never was a problem.
    turns: list[Step] = [(10, 0.2)]
    for i in range(8):
        problem, other = ("slouch", "leaning") if i % 2 else ("leaning", "slouch")
        turns.append((10, judgment(1.5, problem, **{other: 0.1, "neck": 0.99})))
    turns.append((20, 0.2))
    tracker, _ = feed(steps(*turns), rate=2, end=110)
    [episode] = tracker.episodes
    assert episode.kind in ("slouch", "leaning")


def test_peak_is_the_highest_smoothed_score() -> None:
    segments: list[Step] = [(10, 0.2), (20, 1.5), (20, 3.0), (20, 1.2), (20, 0.2)]
    tracker, updates = feed(steps(*segments), rate=2, end=90)
    [episode] = tracker.episodes
    assert episode.peak == 3.0
    assert episode.peak == max(u.smoothed for _, u in updates if not math.isnan(u.smoothed))


def test_finish_closes_the_open_episode() -> None:
    tracker, _ = feed(steps((10, 0.2), (60, 2.0)), rate=2, end=70)
    episode = tracker.finish(75.0)
    assert episode is not None
    assert episode.end == 75.0 and episode.kind == "slouch" and 10 <= episode.start <= 13
    assert tracker.episodes == [episode] and tracker.current is None
    assert tracker.finish(80.0) is None


def test_finish_while_away_ends_at_last_seen() -> None:
    tracker, _ = feed(steps((10, 0.2), (60, 2.0), (20, AWAY)), rate=2, end=90)
    assert tracker.current is not None
    episode = tracker.finish(90.0)
    assert episode is not None and episode.end == 69.5


def test_finish_while_recovering_ends_when_recovery_began() -> None:
    tracker, updates = feed(steps((10, 0.2), (60, 2.0), (3, 0.2)), rate=2, end=73)
    assert updates[-1][1].state == "recovering"
    began = updates[-1][1].since
    episode = tracker.finish(73.0)
    assert episode is not None and episode.end == began


def test_finish_drops_a_pending_deviation() -> None:
    tracker, updates = feed(steps((10, 0.2), (20, 2.0)), rate=2, end=30)
    assert updates[-1][1].state == "deviating"
    assert tracker.finish(30.0) is None
    assert tracker.episodes == []


def test_time_must_not_go_backwards() -> None:
    tracker = Tracker()
    tracker.update(10.0, judgment(0.2))
    tracker.update(10.0, judgment(0.2))  # the same time is fine
    with pytest.raises(ValueError, match="backwards"):
        tracker.update(9.5, judgment(0.2))
    with pytest.raises(ValueError, match="backwards"):
        tracker.finish(9.0)
    with pytest.raises(ValueError, match="finite"):
        tracker.update(math.nan, judgment(0.2))


def test_unknown_verdict_is_refused() -> None:
    with pytest.raises(ValueError, match="verdict"):
        Tracker().update(0.0, Judgment("meh", 0.5, {}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slouch_after", 0.0),
        ("slouch_after", -1.0),
        ("smooth_window", math.nan),
        ("entry", 0.0),
        ("recover_after", math.inf),
        ("away_reset", -5.0),
        ("stale_after", 0),
        ("exit_ratio", 0.0),
        ("exit_ratio", 1.0),
        ("exit_ratio", 1.5),
        ("stale_share", 0.0),
        ("stale_share", 1.01),
        ("slouch_after", "30"),
        ("entry", True),
    ],
)
def test_settings_are_validated(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        Settings(**{field: value})  # type: ignore[arg-type]


def test_settings_accept_edges() -> None:
    s = Settings(stale_share=1.0, exit_ratio=0.5, entry=2.0, slouch_after=1)
    assert s.exit == 1.0


def test_custom_settings_are_used() -> None:
    quick = Settings(slouch_after=10.0, recover_after=2.0)
    tracker, _ = feed(
        steps((10, 0.2), (15, 2.0), (10, 0.2)), rate=2, end=35, tracker=Tracker(quick)
    )
    [episode] = tracker.episodes
    assert episode.confirmed_at == pytest.approx(episode.start + 10.0)


def test_memory_stays_bounded() -> None:
    # Two hours at 10 Hz: the windows hold seconds of samples, not the whole run.
    tracker = Tracker()
    signal = steps(*[(d, s) for _ in range(60) for d, s in ((60.0, 2.0), (60.0, 0.2))])
    for k in range(72_000):
        t = k / 10
        tracker.update(t, signal(t), far=k % 3 == 0)
    assert len(tracker._window) <= S.smooth_window * 10 + 1
    assert len(tracker._stale) <= S.stale_after * 10 + 1
    assert len(tracker.episodes) == 60


def test_pose_generator_sanity(judge: Judge) -> None:
    # The generator's knobs move the features the way the docstring says.
    upright = features.compute_features(pose(), aspect=ASPECT)[0]
    slouched = features.compute_features(pose(head_drop=1.0), aspect=ASPECT)[0]
    hh = features.index("head_height")
    assert upright[hh] == pytest.approx(0.21 / 0.36)
    assert slouched[hh] == pytest.approx(0.75 * upright[hh])
    leaning = features.compute_features(pose(lean=10.0), aspect=ASPECT)[0]
    assert leaning[features.index("shoulder_tilt")] == pytest.approx(10.0)
    far = features.compute_features(pose(scale=0.5), aspect=ASPECT)[0]
    assert far[features.index("shoulder_width")] == pytest.approx(0.18)
    assert judge.judge(upright).verdict == "good"
    assert judge.judge(slouched).verdict == "bad"
