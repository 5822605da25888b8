"""What the Blind A/B tab does, free of UI code.

Blindness rules: before a vote, nothing the page receives names a system or links an image to another showing:
every showing is a fresh file under a fresh random name with a fresh nonce, the two restorations padded to one size
(:mod:`mural_inpaint.app.served`); labels are "A" and "B", and the only handle is the random pair id kept in the
server-side session.  The identities come back only from a vote the store accepted.

No cherry-picking: a rater's pair stays theirs until it is answered, by a vote or by a skip with a reason (capped
per rater, ``MURALXGAN_SKIP_LIMIT``); asking for the next pair before that shows the same pair again.

No recognising: the pixels of a restoration are the one thing a showing cannot change, so a rater is never shown a
restoration twice (:meth:`~mural_inpaint.review.store.Store.issue_pair`); after a reveal they could know it again, by
eye or by hashing the decoded pixels, and with it a side of the pair.  A rater who has seen every restoration is told
so (:data:`ALL_COMPARED`).  Raters who pool their reveals could still recognise what another has not rated yet;
``MURALXGAN_REVEAL=never`` closes that too: no rater is told which system made a pair (admins' exports
say).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mural_inpaint.app.catalogue import damage_view
from mural_inpaint.app.context import AppContext
from mural_inpaint.app.served import serve_pair
from mural_inpaint.errors import InputError, MuralXGANError

SIGN_IN_TO_VOTE = "Sign in to rate restorations: visitors who are not signed in can look but not vote."
OUTCOME_LABELS = {"left": "A is better", "right": "B is better", "tie": "Tie: equally good", "both_bad": "Both bad"}
SKIP_REASONS = ("I cannot judge this kind of damage", "The images do not show properly",
                "I recognise the mural or the restorations", "Another reason (say which in the comment)")
STILL_OPEN = "This pair is still waiting for your answer: vote, or skip it with a reason, to get the next one."
NOTHING_READY = ("No restorations are ready to compare yet: they are computed in the background after murals are "
                 "added (a signed-in user's restoration in the Restore tab adds one).")
KEPT_HIDDEN = ("The systems stay hidden from raters in this study, so that nobody can learn to recognise them; "
               "the leaderboard shows how each system does overall.")
ALL_COMPARED = ("You have compared every restoration available to you; thank you. Each one is shown to you only once, "
                "so that you never know which system made it before you vote. New murals will add more.")


@dataclass
class ShownPair:
    pair_id: str
    damaged: str  # PNG paths under random names
    left: str
    right: str
    reissued: bool = False  # the rater's open pair, shown again


def next_pair(context: AppContext, user: str, rng: np.random.Generator | None = None) -> ShownPair:
    """The rater's open pair, else a new one of restorations they have never been shown (favouring the least-voted
    pairs); raises :class:`InputError` with why not."""
    if not user:
        raise InputError(SIGN_IN_TO_VOTE)
    context.store.touch_rater(user, is_admin=context.is_admin(user))
    pair = context.store.issue_pair(user, rng or np.random.default_rng(), systems=context.systems)
    if pair is None:
        raise InputError(ALL_COMPARED if context.store.shown_candidates(user) else NOTHING_READY)
    try:
        mural = context.store.mural(pair.mural_id)
        left, right = context.store.candidate(pair.left_id), context.store.candidate(pair.right_id)
        siblings = [c["image_path"] for c in context.store.candidates_of(pair.mural_id)
                    if c["system"] in context.systems]
        shown = serve_pair(damage_view(mural), left["image_path"], right["image_path"], siblings)
    except (OSError, ValueError, MuralXGANError):
        context.store.withdraw_pair(pair.pair_id, user)  # nobody saw it: it leaves no row
        raise InputError("The images of this pair could not be loaded on the server; press Next pair for "
                         "another.") from None
    return ShownPair(pair.pair_id, *shown, reissued=pair.reissued)


def _score(value) -> int | None:
    if value in (None, "", "-"):
        return None
    return int(value)


def cast_vote(context: AppContext, user: str, pair_id: str | None, outcome: str, left_score=None, right_score=None,
              comment: str = "") -> str:
    """Record a vote for a pair issued to ``user``; returns the reveal (Markdown), or with ``MURALXGAN_REVEAL=never``
    only the confirmation: a reveal teaches a rater the pixels of a system's restoration, and raters who pool their
    reveals could recognise restorations the others have not rated yet."""
    if not user:
        raise InputError(SIGN_IN_TO_VOTE)
    if not pair_id:
        raise InputError("Load a pair first (Next pair).")
    revealed = context.store.record_vote(pair_id, user, outcome, _score(left_score), _score(right_score),
                                         (comment or "").strip())
    if context.settings.reveal == "never":
        return f"Vote recorded: **{OUTCOME_LABELS[outcome]}**. {KEPT_HIDDEN}"
    return (f"Vote recorded: **{OUTCOME_LABELS[outcome]}**. A was **{revealed['left_system']}**, "
            f"B was **{revealed['right_system']}**.")


def skip(context: AppContext, user: str, pair_id: str | None, reason: str | None, comment: str = "") -> str:
    """Answer the open pair with a skip (systems stay hidden); returns a note with the skips left."""
    if not user:
        raise InputError(SIGN_IN_TO_VOTE)
    if not pair_id:
        raise InputError("Load a pair first (Next pair).")
    limit = context.settings.skip_limit
    used = context.store.skip_pair(pair_id, user, reason or "", comment, limit=limit)
    return f"Skipped ({reason}). You may skip {limit - used} more pair{'' if limit - used == 1 else 's'}."
