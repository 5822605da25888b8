"""Statistics for blind A/B votes: Bradley-Terry ratings with bootstrap intervals, win matrices, rater agreement.

A vote compares system ``a`` with system ``b`` and has an outcome: ``"a"`` (a better), ``"b"``, ``"tie"`` or
``"both_bad"``.  For ratings, ties and "both bad" count as half a win for each side (both say "no difference in
quality"), the usual convention for Bradley-Terry with ties.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

OUTCOMES = ("a", "b", "tie", "both_bad")
#: Ratings are reported on the Elo scale: 400 points = 10x the odds of winning; the mean system sits at 1000.
ELO_SCALE = 400.0 / np.log(10.0)


@dataclass(frozen=True)
class Vote:
    a: str
    b: str
    outcome: str  # one of OUTCOMES
    item: str = ""  # which damaged mural (for agreement)
    rater: str = ""


@dataclass
class Rating:
    system: str
    rating: float  # Elo scale, mean 1000
    low: float  # bootstrap 2.5 % percentile
    high: float  # bootstrap 97.5 % percentile
    wins: int
    ties: int
    losses: int

    @property
    def votes(self) -> int:
        return self.wins + self.ties + self.losses


def _win_counts(votes: Sequence[Vote], index: dict[str, int]) -> np.ndarray:
    """``W[i, j]``: wins of i over j, ties as half a win each way."""
    wins = np.zeros((len(index), len(index)))
    for vote in votes:
        i, j = index[vote.a], index[vote.b]
        if vote.outcome == "a":
            wins[i, j] += 1
        elif vote.outcome == "b":
            wins[j, i] += 1
        else:
            wins[i, j] += 0.5
            wins[j, i] += 0.5
    return wins


def bradley_terry(wins: np.ndarray, prior: float = 0.5, iterations: int = 2000, tol: float = 1e-10) -> np.ndarray:
    """Maximum-likelihood log-strengths (mean 0) from a win matrix, by Hunter's MM algorithm.

    ``prior`` adds that many virtual ties between every compared pair, which keeps a system that never lost (or
    never won) at a finite rating; it barely moves well-measured ratings.
    """
    n = len(wins)
    games = wins + wins.T
    wins = wins + prior * (games > 0) / 2
    games = wins + wins.T
    total_wins = wins.sum(axis=1)
    strength = np.ones(n)
    for _ in range(iterations):
        denominator = (games / (strength[:, None] + strength[None, :])).sum(axis=1)
        updated = np.where(denominator > 0, total_wins / np.maximum(denominator, 1e-300), strength)
        updated = np.maximum(updated, 1e-12)
        updated /= np.exp(np.mean(np.log(updated)))
        if np.max(np.abs(np.log(updated) - np.log(strength))) < tol:
            strength = updated
            break
        strength = updated
    log_strength = np.log(strength)
    return log_strength - log_strength.mean()


def leaderboard(votes: Sequence[Vote], rounds: int = 1000, seed: int = 0) -> list[Rating]:
    """Ratings with percentile-bootstrap 95 % intervals (votes resampled with replacement), best first."""
    systems = sorted({v.a for v in votes} | {v.b for v in votes})
    if not systems:
        return []
    index = {s: i for i, s in enumerate(systems)}
    point = bradley_terry(_win_counts(votes, index))
    rng = np.random.default_rng(seed)
    samples = np.empty((rounds, len(systems)))
    for r in range(rounds):
        chosen = rng.integers(0, len(votes), len(votes))
        samples[r] = bradley_terry(_win_counts([votes[k] for k in chosen], index))
    low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    record = {s: Counter() for s in systems}
    for vote in votes:
        if vote.outcome == "a":
            record[vote.a]["wins"] += 1
            record[vote.b]["losses"] += 1
        elif vote.outcome == "b":
            record[vote.b]["wins"] += 1
            record[vote.a]["losses"] += 1
        else:
            record[vote.a]["ties"] += 1
            record[vote.b]["ties"] += 1
    ratings = [
        Rating(s, 1000 + ELO_SCALE * point[i], 1000 + ELO_SCALE * low[i], 1000 + ELO_SCALE * high[i],
               record[s]["wins"], record[s]["ties"], record[s]["losses"])
        for s, i in index.items()
    ]
    return sorted(ratings, key=lambda r: -r.rating)


def win_rate_matrix(votes: Sequence[Vote]) -> tuple[list[str], np.ndarray]:
    """(systems, M) where ``M[i, j]`` is i's win rate against j (ties half), NaN where they never met."""
    systems = sorted({v.a for v in votes} | {v.b for v in votes})
    index = {s: i for i, s in enumerate(systems)}
    wins = _win_counts(votes, index)
    games = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return systems, np.where(games > 0, wins / games, np.nan)


def canonical(vote: Vote) -> tuple[tuple[str, str, str], str]:
    """Key and outcome with the pair in sorted order, so a rater who saw it mirrored counts the same."""
    if vote.a <= vote.b:
        return (vote.item, vote.a, vote.b), vote.outcome
    flipped = {"a": "b", "b": "a"}.get(vote.outcome, vote.outcome)
    return (vote.item, vote.b, vote.a), flipped


def fleiss_kappa(votes: Iterable[Vote]) -> tuple[float | None, int]:
    """Fleiss' kappa over (item, pair) units judged by two or more raters -> (kappa or None, number of units).

    Raters may have judged different numbers of units; each unit uses its own rater count.
    """
    units: dict[tuple, Counter] = defaultdict(Counter)
    for vote in votes:
        key, outcome = canonical(vote)
        units[key][outcome] += 1
    units = {k: c for k, c in units.items() if sum(c.values()) >= 2}
    if not units:
        return None, 0
    agreement, totals = [], Counter()
    for counts in units.values():
        n = sum(counts.values())
        agreement.append((sum(c * (c - 1) for c in counts.values())) / (n * (n - 1)))
        for outcome, c in counts.items():
            totals[outcome] += c / n
    p_bar = float(np.mean(agreement))
    shares = np.array([totals[o] for o in OUTCOMES]) / len(units)
    p_e = float((shares**2).sum())
    if p_e >= 1.0:
        return (1.0 if p_bar >= 1.0 else 0.0), len(units)
    return (p_bar - p_e) / (1 - p_e), len(units)


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float | None:
    """Cohen's kappa between two raters' outcomes on the same units (None when there are none)."""
    if not first:
        return None
    first, second = list(first), list(second)
    observed = float(np.mean([x == y for x, y in zip(first, second, strict=True)]))
    a, b, n = Counter(first), Counter(second), len(first)
    expected = sum(a[o] * b[o] for o in set(a) | set(b)) / (n * n)
    return 1.0 if expected >= 1.0 else (observed - expected) / (1 - expected)
