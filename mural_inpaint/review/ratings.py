"""Statistics for blind A/B votes, fit to publish: Bradley-Terry ratings against a reference system with intervals
for every system and every pairwise difference, win matrices, rater agreement and rater consistency.

A vote compares system ``a`` with system ``b`` and has an outcome: ``"a"`` (a better), ``"b"``, ``"tie"`` or
``"both_bad"``.  For ratings, ties and "both bad" count as half a win for each side (both say "no difference in
quality"), the usual convention for Bradley-Terry with ties.

What :func:`standings` reports, and why:

- **Reference**: ratings are differences from one reference system (Elo scale, the reference at 1000), not from the
  mean of all systems, so a newcomer with a handful of votes cannot move or widen the others' ratings.
- **Intervals** (95 %): parametric bootstrap.  The number of votes (and of ties) between each pair of systems is kept
  as observed; the decisive votes are redrawn from the fitted model (which carries a prior of one virtual tie per
  compared pair) and refitted.  Unlike resampling the votes, this never gives a zero-width interval to a unanimous
  result.  Each system gets an interval against the reference, and every pair of systems an interval for their
  difference.
- **Held back**: a system with fewer than ``min_votes`` votes is left out of the fit (and its votes with it) and
  listed with its count.
- **Disconnected comparisons**: systems that were never compared, directly or through others, have no common scale;
  each group of connected systems is rated on its own, against its own reference, with a warning.
- **Agreement** counts one judgement per rater and unit (mural + pair of systems), the rater's first; a rater's
  deliberate repeats are their **consistency** (same answer again, and Cohen's kappa of first vs repeat).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

OUTCOMES = ("a", "b", "tie", "both_bad")
#: Ratings are reported on the Elo scale: 400 points = 10x the odds of winning; the reference system sits at 1000.
ELO_SCALE = 400.0 / np.log(10.0)
REFERENCE_RATING = 1000.0


@dataclass(frozen=True)
class Vote:
    a: str
    b: str
    outcome: str  # one of OUTCOMES
    mural: str = ""  # id of the damaged mural (for agreement)
    rater: str = ""


@dataclass
class Rating:
    system: str
    rating: float  # Elo scale, the group's reference system at 1000
    low: float  # 95 % interval of the difference from the reference (+1000); the reference's own is 1000-1000
    high: float
    wins: int
    ties: int
    losses: int
    group: int = 1  # 1, 2, ...: systems compared with each other, directly or through others
    reference: bool = False

    @property
    def votes(self) -> int:
        return self.wins + self.ties + self.losses


@dataclass
class Difference:
    """``first`` minus ``second`` in Elo points (``first`` rated higher), with its 95 % interval."""

    first: str
    second: str
    difference: float
    low: float
    high: float
    direct_votes: int  # votes that compared these two systems with each other

    @property
    def clear(self) -> bool:
        """Whether the interval excludes zero."""
        return self.low > 0 or self.high < 0


@dataclass
class Standings:
    ratings: list[Rating]
    differences: list[Difference]
    held_back: dict[str, int] = field(default_factory=dict)  # system -> its votes, below min_votes
    groups: list[list[str]] = field(default_factory=list)
    min_votes: int = 0

    @property
    def warning(self) -> str | None:
        if len(self.groups) < 2:
            return None
        shown = "; ".join(", ".join(group) for group in self.groups)
        return (f"The systems fall into {len(self.groups)} groups that were never compared with each other, directly "
                f"or through other systems ({shown}): each group is rated on its own, against its own reference, "
                "and ratings from different groups are not comparable.")


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


def _record(votes: Sequence[Vote]) -> dict[str, Counter]:
    record: dict[str, Counter] = defaultdict(Counter)
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
    return record


def hold_back(votes: Sequence[Vote], min_votes: int) -> tuple[list[Vote], dict[str, int]]:
    """Leave out systems with fewer than ``min_votes`` votes, and their votes, until every system left has enough;
    returns (votes kept, {system held back: its votes})."""
    kept, held = list(votes), {}
    while True:
        counts = Counter(s for v in kept for s in (v.a, v.b))
        low = {s: n for s, n in counts.items() if n < min_votes}
        if not low:
            break
        for system in low:
            held[system] = sum(1 for v in votes if system in (v.a, v.b))
        kept = [v for v in kept if v.a not in low and v.b not in low]
    return kept, held


def comparison_groups(votes: Sequence[Vote]) -> list[list[str]]:
    """Connected components of the graph "was compared with": largest first, each sorted."""
    parent: dict[str, str] = {}

    def root(s: str) -> str:
        while parent.setdefault(s, s) != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for vote in votes:
        parent[root(vote.a)] = root(vote.b)
    groups: dict[str, list[str]] = defaultdict(list)
    for system in sorted(parent):
        groups[root(system)].append(system)
    return sorted(groups.values(), key=lambda g: (-len(g), g))


def _parametric_samples(votes: Sequence[Vote], index: dict[str, int], point: np.ndarray, rounds: int,
                        rng: np.random.Generator) -> np.ndarray:
    """``rounds`` refits on outcomes redrawn from the fitted model: votes and ties per pair as observed."""
    decisive: Counter = Counter()
    ties: Counter = Counter()
    for vote in votes:
        i, j = sorted((index[vote.a], index[vote.b]))
        (ties if vote.outcome in ("tie", "both_bad") else decisive)[i, j] += 1
    pairs = sorted(set(decisive) | set(ties))
    n = np.array([decisive[p] for p in pairs])
    t = np.array([ties[p] for p in pairs], float)
    first = np.array([p[0] for p in pairs], int)
    second = np.array([p[1] for p in pairs], int)
    strength = np.exp(point)
    p_first = strength[first] / (strength[first] + strength[second])
    samples = np.empty((rounds, len(index)))
    for r in range(rounds):
        won = rng.binomial(n, p_first)
        wins = np.zeros((len(index), len(index)))
        wins[first, second] = won + t / 2
        wins[second, first] = n - won + t / 2
        samples[r] = bradley_terry(wins)
    return samples


def standings(votes: Sequence[Vote], rounds: int = 1000, seed: int = 0, min_votes: int = 0,
              reference: str | None = None) -> Standings:
    """Ratings against a reference system (``reference`` when it is rated, else the system with the most votes in
    its group), 95 % intervals for each system and each pairwise difference (parametric bootstrap, ``rounds``
    refits, ``seed``), systems below ``min_votes`` held back, and one fit per group of connected systems."""
    kept, held = hold_back(votes, min_votes)
    groups = comparison_groups(kept)
    rng = np.random.default_rng(seed)
    record = _record(kept)
    ratings, differences = [], []
    for number, group in enumerate(groups, 1):
        in_group = [v for v in kept if v.a in group]
        index = {s: i for i, s in enumerate(group)}
        point = bradley_terry(_win_counts(in_group, index))
        samples = _parametric_samples(in_group, index, point, rounds, rng)
        votes_of = {s: record[s]["wins"] + record[s]["ties"] + record[s]["losses"] for s in group}
        anchor = reference if reference in index else min(group, key=lambda s: (-votes_of[s], s))
        k = index[anchor]
        relative = ELO_SCALE * (samples - samples[:, [k]])
        low, high = np.percentile(relative, [2.5, 97.5], axis=0)
        for system, i in index.items():
            ratings.append(Rating(system, REFERENCE_RATING + ELO_SCALE * (point[i] - point[k]),
                                  REFERENCE_RATING + low[i], REFERENCE_RATING + high[i], record[system]["wins"],
                                  record[system]["ties"], record[system]["losses"], number, system == anchor))
        direct = Counter(frozenset((v.a, v.b)) for v in in_group)
        for x, y in combinations(group, 2):
            i, j = (index[x], index[y]) if point[index[x]] >= point[index[y]] else (index[y], index[x])
            spread = ELO_SCALE * (samples[:, i] - samples[:, j])
            lo, hi = np.percentile(spread, [2.5, 97.5])
            differences.append(Difference(group[i], group[j], ELO_SCALE * (point[i] - point[j]), float(lo),
                                          float(hi), direct[frozenset((x, y))]))
    ratings.sort(key=lambda r: (r.group, -r.rating, r.system))
    differences.sort(key=lambda d: (-abs(d.difference), d.first, d.second))
    return Standings(ratings, differences, held, groups, min_votes)


def leaderboard(votes: Sequence[Vote], rounds: int = 1000, seed: int = 0,
                reference: str | None = None) -> list[Rating]:
    """The ratings of :func:`standings` with nothing held back: best first within each group."""
    return standings(votes, rounds=rounds, seed=seed, reference=reference).ratings


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
        return (vote.mural, vote.a, vote.b), vote.outcome
    flipped = {"a": "b", "b": "a"}.get(vote.outcome, vote.outcome)
    return (vote.mural, vote.b, vote.a), flipped


def first_judgements(votes: Iterable[Vote]) -> tuple[dict[str, dict[tuple, str]], dict[str, list[tuple[str, str]]]]:
    """Split votes (in the order cast) into each rater's first judgement per unit (mural + pair of systems, mirrored
    showings counted as one) and their repeats: -> ({rater: {unit: outcome}}, {rater: [(first, repeat), ...]})."""
    firsts: dict[str, dict[tuple, str]] = defaultdict(dict)
    repeats: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for vote in votes:
        key, outcome = canonical(vote)
        if key in firsts[vote.rater]:
            repeats[vote.rater].append((firsts[vote.rater][key], outcome))
        else:
            firsts[vote.rater][key] = outcome
    return dict(firsts), dict(repeats)


def fleiss_kappa(votes: Iterable[Vote]) -> tuple[float | None, int]:
    """Fleiss' kappa over units (mural + pair of systems) judged by two or more raters -> (kappa or None, units).

    One judgement per rater and unit (their first): a rater who judged a pair again is not a second rater.  Raters
    may have judged different numbers of units; each unit uses its own rater count.
    """
    units: dict[tuple, Counter] = defaultdict(Counter)
    for judged in first_judgements(votes)[0].values():
        for key, outcome in judged.items():
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


@dataclass
class Consistency:
    """One rater's repeats: how often they gave the same answer to a unit they had judged before."""

    rater: str
    repeats: int
    same: int
    kappa: float | None  # Cohen's kappa, first judgement vs repeat; None below 2 repeats

    @property
    def share(self) -> float:
        return self.same / self.repeats if self.repeats else float("nan")


def intra_rater_consistency(votes: Iterable[Vote]) -> list[Consistency]:
    """Per rater with repeats: repeats, same answers, and Cohen's kappa of first judgement vs repeat."""
    result = []
    for rater, pairs in sorted(first_judgements(votes)[1].items()):
        first, again = [p[0] for p in pairs], [p[1] for p in pairs]
        result.append(Consistency(rater, len(pairs), sum(x == y for x, y in pairs),
                                  cohen_kappa(first, again) if len(pairs) >= 2 else None))
    return result


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float | None:
    """Cohen's kappa between two raters' outcomes on the same units (None when there are none)."""
    if not first:
        return None
    first, second = list(first), list(second)
    observed = float(np.mean([x == y for x, y in zip(first, second, strict=True)]))
    a, b, n = Counter(first), Counter(second), len(first)
    expected = sum(a[o] * b[o] for o in set(a) | set(b)) / (n * n)
    return 1.0 if expected >= 1.0 else (observed - expected) / (1 - expected)
