"""posture.core.tally: how long a sample counts, on hand-computed cases (milliseconds)."""

from __future__ import annotations

import numpy as np
import pytest

from posture.core.tally import MAX_SAMPLE_MS, STOPS, sample_ms

S = 1000


def test_until_the_next_sample_of_its_session_at_most_ten_seconds() -> None:
    t = [0, 2 * S, 4 * S, 20 * S, 30 * S, 32 * S]
    session = [1, 1, 1, 1, 2, 2]
    # 2 s, 2 s, a 16 s gap counted 10 s, session 1's last (nothing after it), 2 s, the last
    assert sample_ms(t, session).tolist() == [2000, 2000, 10000, 0, 2000, 0]
    assert MAX_SAMPLE_MS == 10 * S


def test_a_pause_or_a_fault_of_its_own_session_ends_it() -> None:
    t = [0, 2 * S, 4 * S, 20 * S, 30 * S, 32 * S]
    session = [1, 1, 1, 1, 2, 2]
    # session 1 paused at 5 s: the sample at 4 s counts 1 s; a fault at 23 s gives
    # session 1's last sample 3 s; session 2's fault at 31 s cuts its sample at 30 s to
    # 1 s; the stops come in any order
    stops = ([23 * S, 31 * S, 5 * S], [1, 2, 1])
    assert sample_ms(t, session, *stops).tolist() == [2000, 2000, 1000, 3000, 1000, 0]
    # another session's stop changes nothing
    assert sample_ms(t, session, [3 * S], [2]).tolist() == [2000, 2000, 10000, 0, 2000, 0]
    # a stop long after a session's last sample: still at most 10 s
    assert sample_ms([0], [1], [60 * S], [1]).tolist() == [10000]
    # a stop at the very time of a sample: paused as it was taken
    assert sample_ms([0, 2 * S], [1, 1], [0], [1]).tolist() == [0, 0]
    assert STOPS == ("pause", "camera_fault", "camera_in_use", "locked", "asleep", "on_battery")


def test_the_issue_example_302_s_upright_with_a_120_s_pause_at_60_s() -> None:
    # looks every 2 s from 0 to 58 s, paused from 60 s to 180 s, looks from 180 s to 302 s
    t = np.r_[np.arange(0, 60, 2), np.arange(180, 303, 2)] * S
    ms = sample_ms(t, np.ones_like(t), [60 * S], [1])
    # 30 looks of 2 s before the pause (the one at 58 s up to the pause), 61 of 2 s after
    # it, the one at 302 s last: 182 s, not 240 s (into the pause for up to 60 s) or
    # 190 s (up to 10 s)
    assert ms.sum() == 182 * S
    assert sample_ms(t, np.ones_like(t)).sum() == 190 * S  # without the cut


def test_a_wall_clock_set_back_counts_nothing_and_the_cap_is_a_parameter() -> None:
    assert sample_ms([5 * S, 3 * S, 4 * S], [1, 1, 1]).tolist() == [0, 1000, 0]
    assert sample_ms([0, 30 * S, 50 * S], [1, 1, 1], max_ms=60 * S).tolist() == [
        30000,
        20000,
        0,
    ]


def test_empty_and_wrong_inputs() -> None:
    assert sample_ms([], []).tolist() == []
    assert sample_ms([], [], [S], [1]).tolist() == []
    assert sample_ms([7], [1]).tolist() == [0]
    with pytest.raises(ValueError, match="ordered by session"):
        sample_ms([0, 1], [2, 1])
    with pytest.raises(ValueError, match="differ in length"):
        sample_ms([0, 1], [1])
    with pytest.raises(ValueError, match="differ in length"):
        sample_ms([0], [1], [5], [])
