"""What the Blind A/B tab does, free of UI code.

Blindness rules: before a vote, nothing the page receives names a system: images are copies under fresh random file
names (so not even a candidate's stored name repeats across pairs), labels are "A" and "B", and the only handle is
the random pair id kept in the server-side session.  The identities come back only from a vote the store accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mural_inpaint.app.catalogue import damage_view
from mural_inpaint.app.context import AppContext
from mural_inpaint.app.served import serve_copy
from mural_inpaint.errors import InputError

SIGN_IN_TO_VOTE = "Sign in to rate restorations: visitors who are not signed in can look but not vote."
OUTCOME_LABELS = {"left": "A is better", "right": "B is better", "tie": "Tie: equally good", "both_bad": "Both bad"}


@dataclass
class ShownPair:
    pair_id: str
    damaged: str  # PNG paths under random names
    left: str
    right: str
def next_pair(context: AppContext, user: str, rng: np.random.Generator | None = None) -> ShownPair:
    """Issue the next pair to ``user`` (favouring the least-voted pairs); raises :class:`InputError` with why not."""
    if not user:
        raise InputError(SIGN_IN_TO_VOTE)
    context.store.touch_rater(user, is_admin=context.is_admin(user))
    pair = context.store.issue_pair(user, rng or np.random.default_rng(), systems=context.systems)
    if pair is None:
        raise InputError("No restorations are ready to compare yet: they are computed in the background after "
                         "murals are added (restore one in the Restore tab, or launch with MURALXGAN_REVIEW_DATA).")
    item = context.store.item(pair.item_id)
    damaged = damage_view(item)
    left, right = context.store.candidate(pair.left_id), context.store.candidate(pair.right_id)
    return ShownPair(pair.pair_id, serve_copy(damaged), serve_copy(left["image_path"]), serve_copy(right["image_path"]))


def _score(value) -> int | None:
    if value in (None, "", "-"):
        return None
    return int(value)


def cast_vote(context: AppContext, user: str, pair_id: str | None, outcome: str, left_score=None, right_score=None,
              comment: str = "") -> str:
    """Record a vote for a pair issued to ``user``; returns the reveal (Markdown)."""
    if not user:
        raise InputError(SIGN_IN_TO_VOTE)
    if not pair_id:
        raise InputError("Load a pair first (Next pair).")
    revealed = context.store.record_vote(pair_id, user, outcome, _score(left_score), _score(right_score),
                                         (comment or "").strip())
    return (f"Vote recorded: **{OUTCOME_LABELS[outcome]}**. A was **{revealed['left_system']}**, "
            f"B was **{revealed['right_system']}**.")
