import math

import numpy as np
import pytest

from mural_inpaint.review.ratings import (
    ELO_SCALE,
    Vote,
    bradley_terry,
    cohen_kappa,
    first_judgements,
    fleiss_kappa,
    intra_rater_consistency,
    leaderboard,
    standings,
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
    ratings = {r.system: r for r in leaderboard(votes, rounds=200, seed=1, reference="s1")}
    fitted = np.array([(ratings[f"s{k}"].rating - 1000) / ELO_SCALE for k in range(3)])
    assert np.allclose(fitted, truth, atol=0.12)
    assert ratings["s1"].reference and ratings["s1"].low == ratings["s1"].high == ratings["s1"].rating == 1000
    for name in ("s0", "s2"):
        assert ratings[name].low < ratings[name].rating < ratings[name].high


def test_ties_count_half_and_undefeated_systems_stay_finite():
    votes = [Vote("x", "y", "tie")] * 4 + [Vote("x", "y", "both_bad")] * 2
    board = leaderboard(votes, rounds=50)
    assert board[0].rating == pytest.approx(1000) and board[1].rating == pytest.approx(1000)
    assert board[0].ties == 6 and board[0].wins == 0
    unbeaten = leaderboard([Vote("p", "q", "a")] * 5, rounds=50)
    assert unbeaten[0].system == "p" and math.isfinite(unbeaten[1].rating) and unbeaten[0].rating > unbeaten[1].rating


def test_bootstrap_is_reproducible_for_a_seed():
    votes = [Vote("a1", "b1", o) for o in ("a", "a", "b", "tie", "a")]
    first, second = leaderboard(votes, rounds=300, seed=7), leaderboard(votes, rounds=300, seed=7)
    assert [(r.low, r.high) for r in first] == [(r.low, r.high) for r in second]


def _simulated(rng, strengths: dict[str, float], count: int, systems: tuple[str, str]) -> list[Vote]:
    a, b = systems
    p = 1 / (1 + math.exp(strengths[b] - strengths[a]))
    return [Vote(a, b, "a" if rng.random() < p else "b", f"m{k}", "r") for k in range(count)]


def test_a_newcomer_with_few_votes_neither_moves_nor_widens_the_others():
    """Issue 14: one newcomer with 6 votes widened another system's interval from 46 to 204 Elo (mean-centred)."""
    rng = np.random.default_rng(3)
    strengths = {"muralxgan": 0.6, "telea": 0.0, "newcomer": 0.0}
    settled = _simulated(rng, strengths, 200, ("muralxgan", "telea"))
    newcomer = [Vote("newcomer", "telea", "a", f"n{k}", "r") for k in range(6)]

    def width(votes, **options):
        rating = next(r for r in standings(votes, rounds=400, seed=0, **options).ratings if r.system == "muralxgan")
        return rating.high - rating.low, rating.rating

    alone, point = width(settled, reference="telea")
    joined, moved = width(settled + newcomer, reference="telea")
    assert 30 < alone < 120 and joined == pytest.approx(alone, rel=0.15) and moved == pytest.approx(point, abs=1)
    held = standings(settled + newcomer, rounds=100, min_votes=20)
    assert held.held_back == {"newcomer": 6} and {r.system for r in held.ratings} == {"muralxgan", "telea"}


def test_single_and_unanimous_votes_never_show_a_zero_width_interval():
    for votes in ([Vote("p", "q", "a")], [Vote("p", "q", "a")] * 25):
        beaten = next(r for r in standings(votes, rounds=300).ratings if not r.reference)
        assert beaten.high - beaten.low > 10, (len(votes), beaten)
    assert standings([Vote("p", "q", "a")], rounds=50, min_votes=2).ratings == []


def test_every_pairwise_difference_has_an_interval():
    rng = np.random.default_rng(5)
    strengths = {"a": 1.5, "b": 0.0, "c": 0.0}
    votes = [v for pair in (("a", "b"), ("b", "c"), ("a", "c")) for v in _simulated(rng, strengths, 150, pair)]
    shown = standings(votes, rounds=300)
    assert {(d.first, d.second) for d in shown.differences} == {("a", "b"), ("a", "c"), ("b", "c")}
    by_pair = {(d.first, d.second): d for d in shown.differences}
    for d in shown.differences:
        assert d.low <= d.difference <= d.high and d.direct_votes == 150
    assert by_pair["a", "b"].clear and by_pair["a", "c"].clear and not by_pair["b", "c"].clear
    ratings = {r.system: r.rating for r in shown.ratings}
    assert by_pair["a", "c"].difference == pytest.approx(ratings["a"] - ratings["c"])


def test_systems_never_compared_are_rated_apart_with_a_warning():
    votes = [Vote("a", "b", "a")] * 8 + [Vote("a", "b", "b")] * 2 + [Vote("c", "d", "tie")] * 3
    shown = standings(votes, rounds=100)
    assert shown.groups == [["a", "b"], ["c", "d"]]
    assert "2 groups that were never compared" in shown.warning and "not comparable" in shown.warning
    assert sorted((r.group, r.reference) for r in shown.ratings) == [(1, False), (1, True), (2, False), (2, True)]
    assert all(r.rating == 1000 for r in shown.ratings if r.reference)
    assert {(d.first, d.second) for d in shown.differences} <= {("a", "b"), ("c", "d"), ("d", "c")}
    assert standings(votes[:10], rounds=10).warning is None


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


def test_a_rater_voting_twice_is_not_two_raters_but_their_consistency():
    """Issue 14: one rater voting twice on a mural gave Fleiss' kappa 1.0 "between raters"."""
    repeated = [Vote("g", "t", "a", "m1", "r1"), Vote("t", "g", "b", "m1", "r1")]  # the same answer, mirrored
    assert fleiss_kappa(repeated) == (None, 0)
    assert [(c.rater, c.repeats, c.same) for c in intra_rater_consistency(repeated)] == [("r1", 1, 1)]
    # first judgements only: r1 said a then b on m1; r2 said a -> one unit, full agreement on the firsts
    votes = [Vote("g", "t", "a", "m1", "r1"), Vote("g", "t", "b", "m1", "r1"), Vote("g", "t", "a", "m1", "r2"),
             Vote("g", "t", "b", "m2", "r1"), Vote("g", "t", "a", "m2", "r2")]
    kappa, units = fleiss_kappa(votes)
    assert units == 2 and kappa == pytest.approx(fleiss_kappa([votes[0], votes[2], votes[3], votes[4]])[0])
    firsts, repeats = first_judgements(votes)
    assert firsts["r1"] == {("m1", "g", "t"): "a", ("m2", "g", "t"): "b"} and repeats == {"r1": [("a", "b")]}


def test_intra_rater_consistency_per_rater():
    units = [f"m{k}" for k in range(6)]
    first = ["a", "b", "tie", "a", "b", "a"]
    again = ["a", "b", "tie", "b", "b", "a"]
    votes = ([Vote("g", "t", o, m, "ana") for o, m in zip(first, units, strict=True)]
             + [Vote("g", "t", o, m, "ana") for o, m in zip(again, units, strict=True)]
             + [Vote("g", "t", "a", "m0", "ben")])
    (ana,) = intra_rater_consistency(votes)
    assert (ana.rater, ana.repeats, ana.same) == ("ana", 6, 5) and ana.share == pytest.approx(5 / 6)
    assert ana.kappa == pytest.approx(cohen_kappa(first, again))


def test_cohen_kappa_reference_value():
    # Classic 2x2 example: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> kappa = 0.4
    first = ["y"] * 25 + ["n"] * 25
    second = ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    assert cohen_kappa([], []) is None
