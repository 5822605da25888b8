"""Restore tab: upload, paint or upload the damage, read / edit the description, restore, compare, download."""

from __future__ import annotations

import gradio as gr

from mural_inpaint.app.auth import current_user
from mural_inpaint.app.context import AppContext
from mural_inpaint.app.photo_editor import photo_editor
from mural_inpaint.app.restore_logic import describe_damage_text, joins_study, remember_restoration, restore_to_files
from mural_inpaint.errors import MuralXGANError
from mural_inpaint.pipeline import default_restorer_name
from mural_inpaint.restorers import RESTORERS


def _restorer_choices() -> list[str]:
    default = default_restorer_name()
    names = [default] + [n for n in RESTORERS.names() if n != default]
    if default != "muralxgan":
        names.remove("muralxgan")  # no checkpoint yet: do not offer what cannot run
    return names


def _describe(editor, mask_file):
    try:
        return describe_damage_text(editor, mask_file)
    except MuralXGANError as error:
        raise gr.Error(str(error)) from None


def _describe_if_ready(editor, mask_file):
    """After a mask upload: write the description when photo and mask fit together, else leave the box alone."""
    try:
        return describe_damage_text(editor, mask_file)
    except MuralXGANError:
        return gr.update()


def build_restore_tab(context: AppContext) -> None:
    def restore(editor, mask_file, caption, restorer, request: gr.Request, profile: gr.OAuthProfile | None = None,
                progress=gr.Progress()):  # noqa: B008 (Gradio idiom)
        progress(0.1, desc="restoring")
        try:
            result, original, files = restore_to_files(editor, mask_file, caption, restorer)
        except MuralXGANError as error:
            raise gr.Error(str(error)) from None
        user = current_user(request, profile)
        left_out = joins_study(context, user, result.mask)
        remember_restoration(context, original, result, user)
        seconds = result.provenance["timings"]["total_s"]
        status = (f"Restored {result.provenance['damaged_percent']:.1f}% of the image with **{restorer}** "
                  f"in {seconds:.1f} s. " + ("The mural joins the caption review queue and the blind comparisons."
                                             if left_out is None else f"Not added to the study: {left_out}."))
        return ((original, result.image), result.caption, [str(p) for p in files.values()], status)

    with gr.Row():
        with gr.Column():
            editor = photo_editor(label="Mural photo: paint over the damage", type="filepath", format="png",
                                    brush=gr.Brush(colors=["#ff00ff"], default_size=12, color_mode="fixed"),
                                    layers=False, sources=["upload", "clipboard"])
            mask_file = gr.File(label="...or upload a damage mask (white = damage)", file_types=["image"],
                                type="filepath")
            caption = gr.Textbox(label="Damage description (editable; guides the restoration)", lines=3)
            with gr.Row():
                describe_button = gr.Button("Describe damage")
                restorer = gr.Dropdown(_restorer_choices(), value=default_restorer_name(), label="Restorer")
            restore_button = gr.Button("Restore", variant="primary")
        with gr.Column():
            comparison = gr.ImageSlider(label="Before / after", type="numpy", format="png")
            status = gr.Markdown()
            downloads = gr.File(label="Downloads: restored PNG, mask PNG, provenance JSON", file_count="multiple")
    describe_button.click(_describe, [editor, mask_file], caption, api_name="describe")
    mask_file.upload(_describe_if_ready, [editor, mask_file], caption, api_name=False)
    restore_button.click(restore, [editor, mask_file, caption, restorer], [comparison, caption, downloads, status],
                         api_name="restore")
