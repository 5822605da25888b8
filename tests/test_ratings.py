import math

import numpy as np
import pytest

from mural_inpaint.ratings import (
    ELO_SCALE,
    Vote,
    bradley_terry,
    cohen_kappa,
    fleiss_kappa,
    leaderboard,
    win_rate_matrix,
)


def test_bradley_terry_recovers_known_odds():
    # A beats B 3:1 -> strength ratio 3 -> log difference ln 3 (no prior).
    wins = np.array([[0, 30], [10, 0]], float)
    strengths = bradley_terry(wins, prior=0.0)
    assert strengths[0] - strengths[1] == pytest.approx(math.log(3), abs=1e-6)
    assert strengths.sum() == pytest.approx(0.0, abs=1e-9)


def test_bradley_terry_fits_a_transitive_three_way_simulation():
    rng = np.random.default_rng(0)
    truth = np.array([1.0, 0.0, -1.0])
    votes = []
    for _ in range(3000):
        i, j = rng.choice(3, 2, replace=False)
        p = 1 / (1 + math.exp(truth[j] - truth[i]))
        votes.append(Vote(f"s{i}", f"s{j}", "a" if rng.random() < p else "b"))
    ratings = {r.system: r for r in leaderboard(votes, rounds=200, seed=1)}
    fitted = np.array([(ratings[f"s{k}"].rating - 1000) / ELO_SCALE for k in range(3)])
    assert np.allclose(fitted, truth, atol=0.12)
    for rating in ratings.values():
        assert rating.low < rating.rating < rating.high


def test_ties_count_half_and_undefeated_systems_stay_finite():
    votes = [Vote("x", "y", "tie")] * 4 + [Vote("x", "y", "both_bad")] * 2
    board = leaderboard(votes, rounds=50)
    assert board[0].rating == pytest.approx(1000) and board[1].rating == pytest.approx(1000)
    assert board[0].ties == 6 and board[0].wins == 0
    unbeaten = leaderboard([Vote("p", "q", "a")] * 5, rounds=50)
    assert unbeaten[0].system == "p" and math.isfinite(unbeaten[0].rating) and unbeaten[0].rating > 1000


def test_bootstrap_is_reproducible_for_a_seed():
    votes = [Vote("a1", "b1", o) for o in ("a", "a", "b", "tie", "a")]
    first, second = leaderboard(votes, rounds=300, seed=7), leaderboard(votes, rounds=300, seed=7)
    assert [(r.low, r.high) for r in first] == [(r.low, r.high) for r in second]


def test_win_rate_matrix():
    systems, matrix = win_rate_matrix([Vote("a", "b", "a"), Vote("b", "a", "tie"), Vote("a", "c", "b")])
    assert systems == ["a", "b", "c"]
    assert matrix[0, 1] == pytest.approx(0.75) and matrix[1, 0] == pytest.approx(0.25)
    assert matrix[0, 2] == 0.0 and math.isnan(matrix[1, 2])


def test_fleiss_kappa_reference_and_mirrored_pairs():
    # Perfect agreement, with one rater seeing the pair mirrored (left/right swapped): still agreement.
    votes = [Vote("g", "t", "a", "m1", "r1"), Vote("t", "g", "b", "m1", "r2"),
             Vote("g", "t", "b", "m2", "r1"), Vote("g", "t", "b", "m2", "r2")]
    kappa, units = fleiss_kappa(votes)
    assert units == 2 and kappa == pytest.approx(1.0)
    # Complete disagreement on both units.
    votes = [Vote("g", "t", "a", "m1", "r1"), Vote("g", "t", "b", "m1", "r2"),
             Vote("g", "t", "b", "m2", "r1"), Vote("g", "t", "a", "m2", "r2")]
    assert fleiss_kappa(votes)[0] == pytest.approx(-1.0)
    assert fleiss_kappa([Vote("g", "t", "a", "m1", "r1")]) == (None, 0)


def test_cohen_kappa_reference_value():
    # Classic 2x2 example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> kappa = 0.4
    first = ["y"] * 25 + ["n"] * 25
    second = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    assert cohen_kappa([], []) is None
