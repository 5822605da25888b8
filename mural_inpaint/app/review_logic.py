"""What the Caption review tab does, free of UI code: the queue, one mural's view, decisions, exports."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mural_inpaint.app.catalogue import damage_view
from mural_inpaint.app.context import AppContext
from mural_inpaint.app.served import scratch_folder, serve_copy
from mural_inpaint.errors import InputError
from mural_inpaint.review.exports import export_captions_dataset, export_captions_jsonl

SIGN_IN_TO_REVIEW = "Sign in to review descriptions: visitors who are not signed in can look but not decide."


@dataclass
class ReviewView:
    """One position in the queue (0-based ``position`` of ``total``)."""

    position: int
    total: int
    reviewed: int
    mural_id: str
    name: str
    image: str  # PNG under a fresh random name: the mural with its damage painted magenta
    draft: str
    captioner: str
    text: str  # what the editor starts from: the latest decision's text, else the draft
    history: list[list[str]]  # [when, who, decision, final text] per earlier decision, oldest first

    @property
    def heading(self) -> str:
        state = "not reviewed yet" if not self.history else f"last decision: {self.history[-1][2]}"
        return (f"**Mural {self.position + 1} of {self.total}** ({self.name}, {state}). "
                f"Reviewed so far: {self.reviewed} / {self.total}. Draft written by **{self.captioner}**.")


def review_view(context: AppContext, position: int) -> ReviewView | None:
    """The view at ``position`` (clamped into the queue); None when the queue is empty."""
    queue = context.store.review_queue()
    if not queue:
        return None
    position = min(max(int(position), 0), len(queue) - 1)
    row = queue[position]
    history = [[r["created_at"], r["reviewer"], r["decision"], r["final_text"]]
               for r in context.store.review_history(row["id"])]
    reviewed = sum(1 for r in queue if r["decision"] is not None)
    return ReviewView(position, len(queue), reviewed, row["id"], row["name"], serve_copy(damage_view(row)),
                      row["draft"], row["captioner"], row["final_text"] or row["draft"], history)


def position_of(context: AppContext, mural_id: str, fallback: int) -> int:
    """Where ``mural_id`` stands in the queue now (``fallback`` when it is not there)."""
    ids = [row["id"] for row in context.store.review_queue()]
    return ids.index(mural_id) if mural_id in ids else fallback


def decision_note(view: ReviewView, decision: str) -> str:
    """The confirmation after a decision, naming the mural it applied to (which stays on screen)."""
    return (f"Saved: **{decision}** for mural {view.position + 1} of {view.total} (**{view.name}**); its history "
            "below shows the decision. **Next unreviewed** moves on.")


def next_unreviewed(context: AppContext, position: int) -> int:
    """Position of the first unreviewed mural after ``position`` (wrapping round); ``position`` if none is left."""
    queue = context.store.review_queue()
    order = list(range(position + 1, len(queue))) + list(range(0, position + 1))
    return next((i for i in order if queue[i]["decision"] is None), position)


def decide(context: AppContext, user: str, mural_id: str, final_text: str, decision: str) -> int:
    """Store one decision as a new row (never overwriting); ``user`` comes from the request, not the page."""
    if not user:
        raise InputError(SIGN_IN_TO_REVIEW)
    if not mural_id:
        raise InputError("There is no mural to review yet.")
    final_text = (final_text or "").strip()
    if decision == "approved" and not final_text:
        raise InputError("An approved description cannot be empty: write what the damage is, or reject the draft.")
    context.store.touch_rater(user, is_admin=context.is_admin(user))
    return context.store.review_caption(mural_id, user, final_text, decision)


def export_reviewed(context: AppContext, user: str) -> tuple[list[Path], str]:
    """Approved captions as JSONL plus a zipped ``datasets`` folder; pushed to the Hub when configured."""
    if not user:
        raise InputError("Sign in to export reviewed descriptions.")
    folder = scratch_folder("captions-")
    jsonl = export_captions_jsonl(context.store, folder / "reviewed-captions.jsonl")
    repo = context.settings.captions_repo if os.environ.get("HF_TOKEN") else None
    try:
        export_captions_dataset(context.store, folder / "dataset", push_to_hub=repo, token=os.environ.get("HF_TOKEN"))
    except InputError:
        raise
    except Exception as error:  # (the Hub push failed; the local export still stands)
        message = f"Saved locally; pushing to {repo} failed: {error}"
    else:
        message = f"Exported and pushed to the Hub dataset {repo}." if repo else (
            "Exported. Set MURALXGAN_CAPTIONS_REPO and HF_TOKEN to push to the Hub as well.")
    archive = shutil.make_archive(str(folder / "reviewed-captions-dataset"), "zip", folder / "dataset")
    return [jsonl, Path(archive)], message
