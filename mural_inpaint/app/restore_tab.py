"""Restore tab: upload, paint or upload the damage, read / edit the description, restore, compare, download.

- The description follows the damage as it is painted: each change of the editor restarts a short timer in the
  browser (:data:`DEBOUNCE_MS`); when the painting pauses, a hidden button asks the server for the machine's
  description.  The conservator's own words are never replaced: the new draft is then offered beside them
  (:func:`~mural_inpaint.app.restore_logic.follow_damage`), and a draft that arrives after the box was edited in the
  meantime is dropped in the browser (:data:`KEEP_IF_EDITED`).
- Restoring reports its stages through ``gr.Progress`` on the status line, and the time it reports runs from the
  click (a first, unqueued step stamps it), not from when the model started.
- "Also restore with the machine's description" restores a second time, guided by the machine's words instead of
  the conservator's, and shows both side by side with how far the words moved the restored colour.
- Refusals appear once, with the progress, on the status line beside the control; the other outputs keep what
  they showed.
"""

from __future__ import annotations

import time

import gradio as gr

from mural_inpaint.app.auth import current_user
from mural_inpaint.app.context import AppContext
from mural_inpaint.app.feedback import refused
from mural_inpaint.app.photo_editor import photo_editor
from mural_inpaint.app.restore_logic import (
    edited,
    follow_damage,
    joins_study,
    photo_name,
    remember_restoration,
    restore_to_files,
    restored_message,
    words_comparison,
)
from mural_inpaint.errors import MuralXGANError
from mural_inpaint.pipeline import default_restorer_name
from mural_inpaint.restorers import RESTORERS
from mural_inpaint.restorers.base import GAN_RESTORERS

DEBOUNCE_MS = 700
#: js for ``editor.change``: (re)start the timer that describes the damage once the painting pauses
FOLLOW_LATER = (f"() => {{ clearTimeout(globalThis.__muralxganFollow); globalThis.__muralxganFollow = setTimeout("
                f"() => document.querySelector('#muralxgan-follow-damage')?.click(), {DEBOUNCE_MS}); }}")
#: js after a description arrives: (box now, proposed text, box as it was sent) -> the box; typing since it was
#: sent wins over the machine
KEEP_IF_EDITED = "(now, proposed, sent) => (now === sent ? proposed : now)"
#: js for ``editor.upload``: the uploaded file's name, remembered by the page's head script, without its extension
PHOTO_NAME = ("() => { const name = globalThis.__muralxganPhotoName || ''; globalThis.__muralxganPhotoName = '';"
              " return name.replace(/\\.[^.]+$/, ''); }")
STAMP_WAIT_LIMIT_S = 3600.0  # an older click stamp is not this restoration's


def restorer_choices() -> list[tuple[str, str]]:
    """(label with the registry's one-line description, name), the default first; the MuralXGAN restorers only
    when a checkpoint lets them run."""
    default = default_restorer_name()
    entries = {entry.name: entry for entry in RESTORERS.entries()}
    names = [default] + [n for n in entries if n != default and not (n in GAN_RESTORERS and default != "muralxgan")]
    return [(f"{name}: {entries[name].summary}" if entries[name].summary else name, name) for name in names]


def build_restore_tab(context: AppContext) -> None:
    with gr.Row():
        with gr.Column():
            editor = photo_editor(label="Mural photo: paint over the damage", type="filepath", format="png",
                                  brush=gr.Brush(colors=["#ff00ff"], default_size=12, color_mode="fixed"),
                                  layers=False, sources=["upload", "clipboard"], elem_id="muralxgan-photo")
            mask_file = gr.File(label="...or upload a damage mask (white = damage)", file_types=["image"],
                                type="filepath")
            name = gr.Textbox("", label="Mural name (kept in the review queue and the downloads' file names)",
                              placeholder="the uploaded file's name", max_lines=1)
            caption = gr.Textbox("", label="Damage description (follows the damage as you paint; editable, and your "
                                 "words are kept; guides the restoration)", lines=3)
            with gr.Row(equal_height=True):
                note = gr.Markdown(scale=4)
                describe_button = gr.Button("Describe damage", size="sm", scale=1, min_width=130)
            with gr.Group(visible=False) as offer:
                draft = gr.Textbox(label="The machine's description of the damage as marked now", lines=3,
                                   interactive=False)
                use_draft = gr.Button("Use the machine's description instead of mine", size="sm")
            restorer = gr.Dropdown(restorer_choices(), value=default_restorer_name(), label="Restorer")
            compare_words = gr.Checkbox(False, label="Also restore with the machine's description, to see what my "
                                        "words change (takes twice as long)")
            restore_button = gr.Button("Restore", variant="primary")
        with gr.Column():
            comparison = gr.ImageSlider(label="Before / after", type="filepath", format="png")
            status = gr.Markdown(min_height=64)
            downloads = gr.File(label="Downloads: restored PNG, mask PNG, provenance JSON", file_count="multiple")
            with gr.Group(visible=False) as words_group:
                words_view = gr.ImageSlider(label="Guided by the machine's description / by your words",
                                            type="filepath", format="png")
                words_note = gr.Markdown()
    machine_draft = gr.State("")  # the machine's last draft: the box holds the conservator's words when it differs
    clicked_at = gr.State(None)  # when Restore was clicked (time.monotonic)
    compared_with = gr.State(None)  # the last restoration guided by the conservator's words, to compare against
    follow_button = gr.Button("Describe the damage as painted", visible="hidden", elem_id="muralxgan-follow-damage")
    proposed = gr.Textbox(label="Description", visible="hidden")  # what the box is to show ...
    sent = gr.Textbox(label="Description as sent", visible="hidden")  # ... and the box when the request left

    def follow(editor, mask_file, caption, last):
        described = follow_damage(editor, mask_file, caption, last)
        return (caption if described.text is None else described.text, caption or "", described.draft,
                gr.update(visible=described.offer), described.note, described.draft)

    def stamp():
        return time.monotonic(), gr.update(interactive=False, value="Restoring...")

    def restore(editor, mask_file, caption, restorer, mural_name, last, clicked, request: gr.Request,
                profile: gr.OAuthProfile | None = None, progress=gr.Progress()):  # noqa: B008 (Gradio idiom)
        started = time.monotonic()
        clicked = clicked if clicked is not None and 0 <= started - clicked < STAMP_WAIT_LIMIT_S else started
        mural = photo_name(mural_name, editor)
        own = edited(caption, last)  # the conservator's words guide it; else the machine describes the damage anew
        try:
            result, original, files = restore_to_files(
                editor, mask_file, caption if own else None, restorer, name=mural,
                progress=lambda stage, fraction: progress(fraction, desc=stage))
        except MuralXGANError as error:
            raise refused("restore", error) from None
        user = current_user(request, profile)
        left_out = joins_study(context, user, result.mask)
        remember_restoration(context, original, result, user, name=mural)
        message = restored_message(result, restorer, time.monotonic() - clicked, left_out)
        downloads_ = [str(files[key]) for key in ("restored", "mask", "provenance")]
        compared = {"restored": str(files["restored"]), "mask": str(files["mask"]), "name": mural} if own else None
        return ((str(files["original"]), str(files["restored"])), caption if own else result.caption, downloads_,
                message, last if own else result.caption, None, compared)

    def compare(editor, mask_file, restorer, wanted, compared, progress=gr.Progress()):  # noqa: B008 (Gradio idiom)
        """After the restoration is shown: the same damage guided by the machine's description, beside it."""
        if not wanted or compared is None:
            return gr.update(visible=False), None, ""
        from mural_inpaint.imaging import load_image, load_mask

        try:
            without, note = words_comparison(editor, mask_file, restorer, compared["name"],
                                             load_image(compared["restored"]), load_mask(compared["mask"]),
                                             progress=lambda stage, fraction: progress(
                                                 fraction, desc=f"with the machine's description: {stage}"))
        except MuralXGANError as error:
            raise refused("compare", error) from None
        view = (str(without), compared["restored"]) if without else None
        return gr.update(visible=True), view, note


    follow_outputs = [proposed, sent, draft, offer, note, machine_draft]
    follow_inputs = [editor, mask_file, caption, machine_draft]
    for trigger, api_name in ((follow_button.click, False), (mask_file.upload, False), (mask_file.clear, False),
                              (describe_button.click, "describe")):
        trigger(follow, follow_inputs, follow_outputs, api_name=api_name, trigger_mode="always_last",
                show_progress="hidden" if api_name is False else "minimal", show_progress_on=[note]
                ).then(None, [caption, proposed, sent], caption, js=KEEP_IF_EDITED, api_name=False)
    editor.change(None, None, None, js=FOLLOW_LATER, api_name=False)
    editor.upload(None, None, name, js=PHOTO_NAME, api_name=False)
    use_draft.click(lambda text: (text, gr.update(visible=False), ""), draft, [caption, offer, note],
                    api_name=False)
    restore_button.click(stamp, None, [clicked_at, restore_button], queue=False, show_progress="hidden",
                         api_name=False
                         ).then(restore, [editor, mask_file, caption, restorer, name, machine_draft, clicked_at],
                                [comparison, caption, downloads, status, machine_draft, clicked_at, compared_with],
                                api_name="restore", show_progress_on=[status]
                         ).then(lambda: gr.update(interactive=True, value="Restore"), None, restore_button,
                                queue=False, show_progress="hidden", api_name=False
                         ).then(compare, [editor, mask_file, restorer, compare_words, compared_with],
                                [words_group, words_view, words_note], api_name=False, show_progress_on=[words_note])
