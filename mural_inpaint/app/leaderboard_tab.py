"""Leaderboard tab: ratings against a reference with intervals, pairwise differences, win rates, raters and their
consistency, agreement; vote export and skips per rater for admins (disabled, with the reason beside them, for
everyone else)."""

from __future__ import annotations

import gradio as gr

from mural_inpaint.app.auth import current_user
from mural_inpaint.app.context import AppContext
from mural_inpaint.app.feedback import gate_for_admins, refused
from mural_inpaint.app.leaderboard_logic import (
    BOOTSTRAP_ROUNDS,
    DIFFERENCE_COLUMNS,
    EXPORT_ACTION,
    RATER_COLUMNS,
    RATING_COLUMNS,
    SKIP_COLUMNS,
    SKIPS_ACTION,
    build_board,
    export_all_votes,
    skips_per_rater,
)
from mural_inpaint.errors import MuralXGANError


def build_leaderboard_tab(context: AppContext) -> tuple:
    """Build the tab inside the current Blocks; returns (fn, inputs, outputs) that load it when it is opened."""
    gr.Markdown(f"Bradley-Terry ratings fitted by maximum likelihood (ties and 'both bad' count as half a win each "
                f"way), on the Elo scale, measured from a reference system at 1000; 95 % intervals of each system's "
                f"difference from the reference and of every pairwise difference from {BOOTSTRAP_ROUNDS} parametric "
                "bootstrap refits with a fixed seed (votes per pair as observed, outcomes redrawn from the fitted "
                "model). A difference whose interval excludes 0 is a clear one.")
    refresh = gr.Button("Refresh", variant="primary")
    notes = gr.Markdown()
    ratings = gr.Dataframe(headers=RATING_COLUMNS, label="Ratings (rank within each group)", interactive=False)
    differences = gr.Dataframe(headers=DIFFERENCE_COLUMNS, label="Every pairwise difference", interactive=False)
    with gr.Row():
        matrix = gr.Image(label="Win rates", type="numpy", format="png", interactive=False)
        with gr.Column():
            raters = gr.Dataframe(headers=RATER_COLUMNS, label="Votes per rater, and how consistent they are on "
                                  "pairs they judged again", interactive=False)
            agreement = gr.Markdown()
    with gr.Accordion("Export all votes (admins)", open=False):
        export_button = gr.Button("Export votes as CSV and JSONL", interactive=False)
        why_no_export = gr.Markdown(visible=False)  # for anyone but an admin: why the button is off
        export_files = gr.File(label="votes.csv, votes.jsonl and skips.csv", file_count="multiple")
    with gr.Accordion("Skipped pairs per rater (admins)", open=False):
        skips_button = gr.Button("Show skips", interactive=False)
        why_no_skips = gr.Markdown(visible=False)
        skips_table = gr.Dataframe(headers=SKIP_COLUMNS, label="Votes and skips per rater", interactive=False,
                                   wrap=True)

    def board():
        shown = build_board(context)
        return shown.notes, shown.ratings, shown.differences, shown.win_rates, shown.raters, shown.agreement

    def export(request: gr.Request, profile: gr.OAuthProfile | None = None):
        try:
            return [str(p) for p in export_all_votes(context, current_user(request, profile))]
        except MuralXGANError as error:
            raise refused("vote export", error) from None

    def skips(request: gr.Request, profile: gr.OAuthProfile | None = None):
        try:
            return skips_per_rater(context, current_user(request, profile))
        except MuralXGANError as error:
            raise refused("skips per rater", error) from None

    outputs = [notes, ratings, differences, matrix, raters, agreement]
    refresh.click(board, None, outputs, api_name="leaderboard")
    skips_button.click(skips, None, skips_table, api_name="skips")
    export_button.click(export, None, export_files, api_name="export_votes")
    gate_for_admins(context.settings, [(export_button, why_no_export, EXPORT_ACTION),
                                       (skips_button, why_no_skips, SKIPS_ACTION)])
    return board, None, outputs
