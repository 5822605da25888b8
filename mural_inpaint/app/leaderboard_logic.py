"""What the Leaderboard tab shows, free of UI code: ratings against a reference with intervals, pairwise
differences, win rates, raters and their consistency, agreement, exports."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from mural_inpaint.app.context import AppContext
from mural_inpaint.app.served import scratch_folder
from mural_inpaint.errors import InputError
from mural_inpaint.review.exports import export_skips, export_votes
from mural_inpaint.review.ratings import (
    Standings,
    Vote,
    cohen_kappa,
    first_judgements,
    fleiss_kappa,
    intra_rater_consistency,
    standings,
    win_rate_matrix,
)
from mural_inpaint.visuals import win_rate_image

BOOTSTRAP_ROUNDS = 1000
BOOTSTRAP_SEED = 0
RATING_COLUMNS = ["rank", "system", "group", "rating", "95% low", "95% high", "wins", "ties", "losses", "votes"]
DIFFERENCE_COLUMNS = ["system", "vs", "difference (Elo)", "95% low", "95% high", "votes between them"]
RATER_COLUMNS = ["rater", "votes", "repeated pairs", "same answer", "consistency (kappa)"]
_OUTCOME = {"left": "a", "right": "b", "tie": "tie", "both_bad": "both_bad"}


def stored_votes(context: AppContext) -> list[Vote]:
    """Store rows (in the order cast) -> :class:`~mural_inpaint.review.ratings.Vote` (a = the system shown left)."""
    return [Vote(v["left_system"], v["right_system"], _OUTCOME[v["outcome"]], v["mural_id"], v["rater"])
            for v in context.store.votes()]


@dataclass
class Board:
    ratings: list[list]
    win_rates: np.ndarray | None  # uint8 image of the win-rate matrix, None without votes
    raters: list[list]
    agreement: str
    differences: list[list] = field(default_factory=list)
    notes: str = ""


def agreement_text(votes: list[Vote]) -> str:
    kappa, units = fleiss_kappa(votes)
    if kappa is None:
        return ("Agreement: no pair of the same mural has been judged by two or more raters yet (a rater's repeats "
                "count once here, and as their consistency in the table of raters).")
    lines = [f"Fleiss' kappa over {units} units (mural + pair of systems) judged by two or more raters, one judgement "
             f"per rater and unit (their first): **{kappa:.2f}** (1 = full agreement, 0 = chance)."]
    firsts = first_judgements(votes)[0]
    for first, second in combinations(sorted(firsts), 2):
        shared = sorted(set(firsts[first]) & set(firsts[second]))
        if len(shared) >= 2:
            kappa = cohen_kappa([firsts[first][k] for k in shared], [firsts[second][k] for k in shared])
            lines.append(f"Cohen's kappa, {first} vs {second} on {len(shared)} shared units: {kappa:.2f}")
    return "\n\n".join(lines)


def _notes(shown: Standings, reference: str | None) -> str:
    """What the ratings are measured from and who is held back, in words for the people reading the board (the page
    never names the server's settings)."""
    lines = []
    references = [r.system for r in shown.ratings if r.reference]
    if references:
        chosen = ("chosen by the study's organisers" if reference in references
                  else "the system with the most votes" + (" in its group" if len(references) > 1 else ""))
        lines.append(f"Ratings are measured from **{', '.join(references)}** (the reference, at 1000: {chosen}), "
                     "so a newcomer cannot move or widen the others.")
    if shown.held_back:
        held = ", ".join(f"{system} ({count} vote{'s' if count != 1 else ''})"
                         for system, count in sorted(shown.held_back.items()))
        lines.append(f"Systems with fewer than {shown.min_votes} votes are held back until they have more: {held}.")
    if shown.warning:
        lines.append(f"**Warning:** {shown.warning}")
    return "\n\n".join(lines)


def build_board(context: AppContext, rounds: int = BOOTSTRAP_ROUNDS, min_votes: int | None = None) -> Board:
    """Bradley-Terry ratings (ties as half wins) against a reference system, with 95 % intervals for each system and
    every pairwise difference (parametric bootstrap, fixed seed); systems below ``min_votes`` (default: the
    settings') held back; a warning and separate groups when the comparisons fall apart."""
    votes = stored_votes(context)
    if not votes:
        return Board([], None, [], "No votes yet.")
    settings = context.settings
    reference = settings.reference_system
    shown = standings(votes, rounds=rounds, seed=BOOTSTRAP_SEED,
                      min_votes=settings.min_votes if min_votes is None else min_votes, reference=reference)
    rows, rank, group = [], 0, 0
    for r in shown.ratings:
        rank = 1 if r.group != group else rank + 1
        group = r.group
        rows.append([rank, r.system + (" (reference)" if r.reference else ""), r.group, round(r.rating),
                     round(r.low), round(r.high), r.wins, r.ties, r.losses, r.votes])
    differences = [[d.first, d.second, round(d.difference), round(d.low), round(d.high), d.direct_votes]
                   for d in shown.differences]
    systems, matrix = win_rate_matrix(votes)
    per_rater = Counter(v.rater for v in votes)
    consistency = {c.rater: c for c in intra_rater_consistency(votes)}
    raters = []
    for name, count in per_rater.most_common():
        c = consistency.get(name)
        raters.append([name, count, c.repeats if c else 0, f"{c.same} of {c.repeats}" if c else "",
                       "" if c is None or c.kappa is None else round(c.kappa, 2)])
    return Board(rows, win_rate_image(systems, matrix), raters, agreement_text(votes), differences,
                 _notes(shown, reference))


#: Admin-only actions, as the refusals and the notes beside the disabled buttons name them.
EXPORT_ACTION = "export votes"
SKIPS_ACTION = "see skips per rater"


def admins_only(action: str) -> InputError:
    """The refusal of an admin-only action, in the words of the note beside its disabled button."""
    return InputError(f"Only the study's admins can {action}.")


def export_all_votes(context: AppContext, user: str) -> list[Path]:
    """Every vote with the systems revealed, CSV and JSONL, and every skip, CSV; admins only."""
    if not context.is_admin(user):
        raise admins_only(EXPORT_ACTION)
    folder = scratch_folder("votes-")
    return [*export_votes(context.store, folder), export_skips(context.store, folder)]


SKIP_COLUMNS = ["rater", "votes", "skips", "skips left", "reasons"]


def skips_per_rater(context: AppContext, user: str) -> list[list]:
    """[rater, votes, skips, skips left, reasons with counts] for every rater who voted or skipped; admins only."""
    if not context.is_admin(user):
        raise admins_only(SKIPS_ACTION)
    votes = Counter(v["rater"] for v in context.store.votes())
    reasons: dict[str, Counter] = defaultdict(Counter)
    for row in context.store.skips():
        reasons[row["rater"]][row["reason"]] += 1
    limit = context.settings.skip_limit
    return [[rater, votes[rater], sum(reasons[rater].values()), max(0, limit - sum(reasons[rater].values())),
             "; ".join(f"{reason} ({count})" for reason, count in reasons[rater].most_common())]
            for rater in sorted(set(votes) | set(reasons))]
