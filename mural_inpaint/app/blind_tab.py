"""Blind A/B tab: two restorations of the same damage, no names until the vote is in."""

from __future__ import annotations

import gradio as gr

from mural_inpaint.app.auth import current_user
from mural_inpaint.app.blind_logic import SKIP_REASONS, STILL_OPEN, cast_vote, next_pair, skip
from mural_inpaint.app.context import DATABASE_EVENT_CONCURRENCY, AppContext
from mural_inpaint.app.feedback import gate_for_visitors, refused, study_note, visitor_reason
from mural_inpaint.errors import MuralXGANError

SCORES = ["-", "1", "2", "3", "4", "5"]


def build_blind_tab(context: AppContext) -> tuple:
    """Build the tab inside the current Blocks; returns (fn, inputs, outputs) that load it when it is opened."""
    pair_id = gr.State(None)  # server-side session state: the page never holds a handle to the systems
    visitor_study = gr.Markdown(study_note(context.settings), visible=False)
    named = ("The systems stay hidden in this study." if context.settings.reveal == "never"
             else "The systems are named after you vote.")
    gr.Markdown("Which restoration of the damaged area is better? Judge only the magenta region of the damaged "
                f"mural. {named} Each pair must be answered before the next: vote, or skip it with a reason (a "
                "rater has a limited number of skips).")
    damaged = gr.Image(label="Damaged mural (damage in magenta)", type="filepath", interactive=False, height=360)
    with gr.Row():
        left = gr.Image(label="A", type="filepath", interactive=False, height=360)
        right = gr.Image(label="B", type="filepath", interactive=False, height=360)
    with gr.Row():
        votes = [gr.Button(label, interactive=False) for label in ("A is better", "B is better", "Tie: equally good",
                                                                   "Both bad")]
    reveal = gr.Markdown()  # the reveal after a vote; for visitors, why they cannot vote
    with gr.Row():
        left_score = gr.Radio(SCORES, value="-", label="Score for A (optional, 5 = best)", interactive=False)
        right_score = gr.Radio(SCORES, value="-", label="Score for B (optional, 5 = best)", interactive=False)
    comment = gr.Textbox(label="Comment (optional)", lines=2, interactive=False)
    with gr.Row():
        skip_reason = gr.Dropdown(list(SKIP_REASONS), value=None, label="Reason to skip this pair", scale=3,
                                  interactive=False)
        skip_button = gr.Button("Skip this pair", scale=1, interactive=False)
    next_button = gr.Button("Next pair", variant="primary", interactive=False)

    def issue(request: gr.Request, profile: gr.OAuthProfile | None = None):
        user = current_user(request, profile)
        try:
            shown = next_pair(context, user)
        except MuralXGANError as error:
            why = str(error) if user else visitor_reason(context.settings, "rate restorations")
            return None, None, None, None, why, "-", "-", "", None
        note = STILL_OPEN if shown.reissued else ""
        return (shown.pair_id, shown.damaged, shown.left, shown.right, note, "-", "-", "", None)

    def vote(outcome: str):
        def handler(pair: str | None, a_score: str, b_score: str, text: str, request: gr.Request,
                    profile: gr.OAuthProfile | None = None):
            try:
                revealed = cast_vote(context, current_user(request, profile), pair, outcome, a_score, b_score, text)
            except MuralXGANError as error:
                raise refused(f"vote ({outcome})", error) from None
            return None, revealed
        return handler

    def skipped(pair: str | None, reason: str | None, text: str, request: gr.Request,
                profile: gr.OAuthProfile | None = None):
        try:
            note = skip(context, current_user(request, profile), pair, reason, text)
        except MuralXGANError as error:
            raise refused("skip", error) from None
        return None, note + " Press Next pair for another."

    shown = [pair_id, damaged, left, right, reveal, left_score, right_score, comment, skip_reason]
    next_button.click(issue, None, shown, api_name="blind_next", concurrency_limit=DATABASE_EVENT_CONCURRENCY)
    for button, outcome in zip(votes, ("left", "right", "tie", "both_bad"), strict=True):
        button.click(vote(outcome), [pair_id, left_score, right_score, comment], [pair_id, reveal],
                     api_name=f"blind_vote_{outcome}", concurrency_limit=DATABASE_EVENT_CONCURRENCY,
                     show_progress_on=[reveal])
    skip_button.click(skipped, [pair_id, skip_reason, comment], [pair_id, reveal], api_name="blind_skip",
                      concurrency_limit=DATABASE_EVENT_CONCURRENCY, show_progress_on=[reveal])
    gate_for_visitors([*votes, left_score, right_score, comment, skip_reason, skip_button, next_button],
                      [visitor_study])
    return issue, None, shown
