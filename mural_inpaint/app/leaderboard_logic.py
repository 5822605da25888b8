"""What the Leaderboard tab shows, free of UI code: ratings with intervals, win rates, raters, agreement, exports."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from mural_inpaint.app.context import AppContext
from mural_inpaint.app.served import scratch_folder
from mural_inpaint.errors import InputError
from mural_inpaint.exports import export_skips, export_votes
from mural_inpaint.ratings import Vote, canonical, cohen_kappa, fleiss_kappa, leaderboard, win_rate_matrix
from mural_inpaint.visuals import win_rate_image

BOOTSTRAP_ROUNDS = 1000
BOOTSTRAP_SEED = 0
RATING_COLUMNS = ["rank", "system", "rating", "95% low", "95% high", "wins", "ties", "losses", "votes"]
_OUTCOME = {"left": "a", "right": "b", "tie": "tie", "both_bad": "both_bad"}


def stored_votes(context: AppContext) -> list[Vote]:
    """Store rows -> :class:`~mural_inpaint.ratings.Vote` (a = the system shown left)."""
    return [Vote(v["left_system"], v["right_system"], _OUTCOME[v["outcome"]], v["item_id"], v["rater"])
            for v in context.store.votes()]


@dataclass
class Board:
    ratings: list[list]
    win_rates: np.ndarray | None  # uint8 image of the win-rate matrix, None without votes
    raters: list[list]
    agreement: str


def agreement_text(votes: list[Vote]) -> str:
    kappa, units = fleiss_kappa(votes)
    if kappa is None:
        return "Agreement: no pair of the same mural has been judged by two or more raters yet."
    lines = [f"Fleiss' kappa over {units} (mural, system pair) units judged by two or more raters: **{kappa:.2f}** "
             "(1 = full agreement, 0 = chance)."]
    by_rater: dict[str, dict] = defaultdict(dict)
    for vote in votes:
        key, outcome = canonical(vote)
        by_rater[vote.rater][key] = outcome
    for first, second in combinations(sorted(by_rater), 2):
        shared = sorted(set(by_rater[first]) & set(by_rater[second]))
        if len(shared) >= 2:
            kappa = cohen_kappa([by_rater[first][k] for k in shared], [by_rater[second][k] for k in shared])
            lines.append(f"Cohen's kappa, {first} vs {second} on {len(shared)} shared units: {kappa:.2f}")
    return "\n\n".join(lines)


def build_board(context: AppContext, rounds: int = BOOTSTRAP_ROUNDS) -> Board:
    """Bradley-Terry ratings (ties as half wins) with percentile-bootstrap 95 % intervals, fixed seed."""
    votes = stored_votes(context)
    if not votes:
        return Board([], None, [], "No votes yet.")
    ratings = leaderboard(votes, rounds=rounds, seed=BOOTSTRAP_SEED)
    rows = [[rank, r.system, round(r.rating), round(r.low), round(r.high), r.wins, r.ties, r.losses, r.votes]
            for rank, r in enumerate(ratings, 1)]
    systems, matrix = win_rate_matrix(votes)
    per_rater = Counter(v.rater for v in votes)
    raters = [[name, count] for name, count in per_rater.most_common()]
    return Board(rows, win_rate_image(systems, matrix), raters, agreement_text(votes))


def export_all_votes(context: AppContext, user: str) -> list[Path]:
    """Every vote with the systems revealed, CSV and JSONL, and every skip, CSV; admins only."""
    if not context.is_admin(user):
        raise InputError("Only admins can export votes (names listed in MURALXGAN_ADMINS).")
    folder = scratch_folder("votes-")
    return [*export_votes(context.store, folder), export_skips(context.store, folder)]


SKIP_COLUMNS = ["rater", "votes", "skips", "skips left", "reasons"]


def skips_per_rater(context: AppContext, user: str) -> list[list]:
    """[rater, votes, skips, skips left, reasons with counts] for every rater who voted or skipped; admins only."""
    if not context.is_admin(user):
        raise InputError("Only admins can see skips per rater (names listed in MURALXGAN_ADMINS).")
    votes = Counter(v["rater"] for v in context.store.votes())
    reasons: dict[str, Counter] = defaultdict(Counter)
    for row in context.store.skips():
        reasons[row["rater"]][row["reason"]] += 1
    limit = context.settings.skip_limit
    return [[rater, votes[rater], sum(reasons[rater].values()), max(0, limit - sum(reasons[rater].values())),
             "; ".join(f"{reason} ({count})" for reason, count in reasons[rater].most_common())]
            for rater in sorted(set(votes) | set(reasons))]
