"""Blind A/B tab: two restorations of the same damage, no names until the vote is in."""

from __future__ import annotations

import gradio as gr

from mural_inpaint.app.arena_logic import SKIP_REASONS, STILL_OPEN, cast_vote, next_pair, skip
from mural_inpaint.app.auth import current_user
from mural_inpaint.app.context import DATABASE_EVENT_CONCURRENCY, AppContext
from mural_inpaint.errors import MuralXGANError

SCORES = ["-", "1", "2", "3", "4", "5"]


def build_arena_tab(context: AppContext) -> tuple:
    """Build the tab inside the current Blocks; returns (fn, inputs, outputs) that load it when it is opened."""
    pair_id = gr.State(None)  # server-side session state: the page never holds a handle to the systems
    gr.Markdown("Which restoration of the damaged area is better? Judge only the magenta region of the damaged "
                "mural. The systems are named after you vote. Each pair must be answered before the next: vote, "
                "or skip it with a reason (a rater has a limited number of skips).")
    damaged = gr.Image(label="Damaged mural (damage in magenta)", type="filepath", interactive=False, height=360)
    with gr.Row():
        left = gr.Image(label="A", type="filepath", interactive=False, height=360)
        right = gr.Image(label="B", type="filepath", interactive=False, height=360)
    with gr.Row():
        votes = [gr.Button("A is better"), gr.Button("B is better"), gr.Button("Tie: equally good"),
                 gr.Button("Both bad")]
    with gr.Row():
        left_score = gr.Radio(SCORES, value="-", label="Score for A (optional, 5 = best)")
        right_score = gr.Radio(SCORES, value="-", label="Score for B (optional, 5 = best)")
    comment = gr.Textbox(label="Comment (optional)", lines=2)
    reveal = gr.Markdown()
    with gr.Row():
        skip_reason = gr.Dropdown(list(SKIP_REASONS), value=None, label="Reason to skip this pair", scale=3)
        skip_button = gr.Button("Skip this pair", scale=1)
    next_button = gr.Button("Next pair", variant="primary")

    def issue(request: gr.Request, profile: gr.OAuthProfile | None = None):
        try:
            shown = next_pair(context, current_user(request, profile))
        except MuralXGANError as error:
            return None, None, None, None, str(error), "-", "-", "", None
        note = STILL_OPEN if shown.reissued else ""
        return (shown.pair_id, shown.damaged, shown.left, shown.right, note, "-", "-", "", None)

    def vote(outcome: str):
        def handler(pair: str | None, a_score: str, b_score: str, text: str, request: gr.Request,
                    profile: gr.OAuthProfile | None = None):
            try:
                revealed = cast_vote(context, current_user(request, profile), pair, outcome, a_score, b_score, text)
            except MuralXGANError as error:
                raise gr.Error(str(error)) from None
            return None, revealed
        return handler

    def skipped(pair: str | None, reason: str | None, text: str, request: gr.Request,
                profile: gr.OAuthProfile | None = None):
        try:
            note = skip(context, current_user(request, profile), pair, reason, text)
        except MuralXGANError as error:
            raise gr.Error(str(error)) from None
        return None, note + " Press Next pair for another."

    shown = [pair_id, damaged, left, right, reveal, left_score, right_score, comment, skip_reason]
    next_button.click(issue, None, shown, api_name="arena_next", concurrency_limit=DATABASE_EVENT_CONCURRENCY)
    for button, outcome in zip(votes, ("left", "right", "tie", "both_bad"), strict=True):
        button.click(vote(outcome), [pair_id, left_score, right_score, comment], [pair_id, reveal],
                     api_name=f"arena_vote_{outcome}", concurrency_limit=DATABASE_EVENT_CONCURRENCY)
    skip_button.click(skipped, [pair_id, skip_reason, comment], [pair_id, reveal], api_name="arena_skip",
                      concurrency_limit=DATABASE_EVENT_CONCURRENCY)
    return issue, None, shown
