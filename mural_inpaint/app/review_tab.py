"""Caption review tab: walk the queue, edit the machine's draft, approve or reject, export what was reviewed."""

from __future__ import annotations

import gradio as gr

from mural_inpaint.app.auth import current_user
from mural_inpaint.app.context import DATABASE_EVENT_CONCURRENCY, AppContext
from mural_inpaint.app.feedback import gate_for_visitors, refused, study_note, visitor_reason
from mural_inpaint.app.review_logic import (
    decide,
    decision_note,
    export_reviewed,
    next_unreviewed,
    position_of,
    review_view,
)
from mural_inpaint.errors import MuralXGANError

HISTORY_COLUMNS = ["when (UTC)", "who", "decision", "description"]


def build_review_tab(context: AppContext) -> tuple:
    """Build the tab inside the current Blocks; returns (fn, inputs, outputs) that load it when it is opened."""
    position = gr.State(0)
    mural_id = gr.State("")
    visitor_study = gr.Markdown(study_note(context.settings), visible=False)
    with gr.Row():
        heading = gr.Markdown("Loading the review queue...")
        reload = gr.Button("Reload queue", size="sm", scale=0, min_width=140)
    with gr.Row():
        image = gr.Image(label="Mural (damage shown in magenta)", type="filepath", interactive=False,
                         height=420)
        with gr.Column():
            draft = gr.Textbox(label="Machine draft", lines=4, interactive=False)
            final = gr.Textbox(label="Your description (edit, then approve or reject)", lines=5, interactive=False)
            with gr.Row():
                approve = gr.Button("Approve", variant="primary", interactive=False)
                reject = gr.Button("Reject", variant="stop", interactive=False)
            why_not = gr.Markdown(visitor_reason(context.settings, "approve or reject descriptions"), visible=False)
            with gr.Row():
                previous = gr.Button("Previous")
                following = gr.Button("Next")
                unreviewed = gr.Button("Next unreviewed")
            status = gr.Markdown()
    history = gr.Dataframe(headers=HISTORY_COLUMNS, label="Decisions on this mural (every one is kept)",
                           interactive=False, wrap=True)
    with gr.Accordion("Export reviewed descriptions (JSONL and a datasets folder for training)", open=False):
        export_button = gr.Button("Export approved descriptions", interactive=False)
        why_no_export = gr.Markdown(visitor_reason(context.settings, "export them"), visible=False)
        export_files = gr.File(label="reviewed-captions.jsonl and the zipped datasets folder", file_count="multiple")
        export_status = gr.Markdown()

    def show(at: int, message: str = ""):
        try:
            view = review_view(context, at)
        except MuralXGANError as error:
            raise refused("review", error) from None
        if view is None:
            empty = ("The review queue is empty: murals join it when signed-in users restore them in the Restore "
                     "tab, and from the collections this server was started with.")
            return empty, None, "", "", [], 0, "", message
        return (view.heading, view.image, view.draft, view.text, view.history, view.position, view.mural_id,
                message)

    outputs = [heading, image, draft, final, history, position, mural_id, status]

    def decided(decision: str):
        def handler(at: int, mural_id: str, text: str, request: gr.Request, profile: gr.OAuthProfile | None = None):
            try:
                decide(context, current_user(request, profile), mural_id, text, decision)
            except MuralXGANError as error:
                raise refused(f"review ({decision})", error) from None
            view = review_view(context, position_of(context, mural_id, at))  # the same mural, with the decision
            return show(view.position, decision_note(view, decision))
        return handler

    def export(request: gr.Request, profile: gr.OAuthProfile | None = None):
        try:
            files, message = export_reviewed(context, current_user(request, profile))
        except MuralXGANError as error:
            raise refused("caption export", error) from None
        return [str(f) for f in files], message

    def load(at: int):
        return show(at)

    reload.click(load, position, outputs, api_name="review_show", concurrency_limit=DATABASE_EVENT_CONCURRENCY)
    previous.click(lambda at: show(at - 1), position, outputs, api_name=False)
    following.click(lambda at: show(at + 1), position, outputs, api_name=False)
    unreviewed.click(lambda at: show(next_unreviewed(context, at)), position, outputs, api_name=False)
    approve.click(decided("approved"), [position, mural_id, final], outputs, api_name="review_approve",
                  concurrency_limit=DATABASE_EVENT_CONCURRENCY, show_progress_on=[status])
    reject.click(decided("rejected"), [position, mural_id, final], outputs, api_name="review_reject",
                 concurrency_limit=DATABASE_EVENT_CONCURRENCY, show_progress_on=[status])
    export_button.click(export, None, [export_files, export_status], api_name="review_export",
                        show_progress_on=[export_status])
    gate_for_visitors([final, approve, reject, export_button], [visitor_study, why_not, why_no_export])
    return load, [position], outputs
