"""What the Restore tab does, free of any UI code: editor value in, files and messages out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mural_inpaint.app.catalogue import add_candidate_file, add_mural
from mural_inpaint.app.context import AppContext, pipeline_for, shared_captioner
from mural_inpaint.app.served import scratch_folder
from mural_inpaint.app.uploads import load_photo, load_uploaded_mask, painted_mask
from mural_inpaint.errors import InputError, MuralXGANError
from mural_inpaint.imaging import save_png
from mural_inpaint.pipeline import Progress, RestorationResult, describe

GENERIC_NAMES = {"background", "image", "blob", "upload", ""}  # what browsers and the editor call an unnamed photo
UNNAMED = "uploaded photo"


def photo_name(typed: str | None, editor_value: dict | None) -> str:
    """The mural's name for the queue and the downloads: the name field, else the uploaded file's own name (its stem),
    else "uploaded photo"."""
    for candidate in ((typed or "").strip(), ((editor_value or {}).get("name") or "").strip()):
        stem = Path(candidate).stem.strip() if candidate else ""
        if stem and stem.lower() not in GENERIC_NAMES:
            return stem
    return UNNAMED


def file_stem(name: str) -> str:
    """``name`` made safe as the start of a file name (letters of any script, digits, ``.``, ``_``, ``-``)."""
    return re.sub(r"[^\w.-]+", "-", name).strip(".-")[:80] or "mural"


def image_and_mask(editor_value: dict | None, mask_file: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Photo editor value (+ optional uploaded mask file) -> uint8 ``[H, W, 3]`` image, bool ``[H, W]`` mask.

    The photo and the mask are read by the command line's loader (:mod:`mural_inpaint.app.uploads`), from the
    uploaded files themselves; painted strokes on any layer (opaque pixels) mark damage; an uploaded mask replaces
    them.
    """
    value = editor_value or {}
    image = load_photo(value.get("background"))
    if mask_file:
        return image, load_uploaded_mask(mask_file, image.shape[:2])
    mask = painted_mask(value.get("layers"), image.shape[:2])
    if not mask.any():
        raise InputError(NO_DAMAGE)
    return image, mask


NO_DAMAGE = "No damage is marked: paint over the damaged areas or upload a mask."
FOLLOWING = "The description follows the damage as you paint it; edit it freely: your text is never replaced."
KEPT = ("Your description is kept. The machine's description of the damage as marked now is beside it: use it, "
        "or keep yours.")


def describe_damage_text(editor_value: dict | None, mask_file: str | None) -> str:
    image, mask = image_and_mask(editor_value, mask_file)
    return describe(image, mask, shared_captioner()).text


def edited(text: str | None, machine_draft: str | None) -> bool:
    """Whether the description box holds the conservator's own words (not empty, not the machine's last draft)."""
    typed = (text or "").strip()
    return bool(typed) and typed != (machine_draft or "").strip()


@dataclass
class Description:
    """What the Restore tab shows after the damage changed.

    ``text``: the description box's new text, or None to leave the conservator's edit as it is; ``draft``: the
    machine's description of the damage as marked now ("" when there is none), which becomes the last draft;
    ``offer``: whether that draft is offered beside the edit; ``note``: one line under the box (Markdown).
    """

    text: str | None
    draft: str
    offer: bool
    note: str


def follow_damage(editor_value: dict | None, mask_file: str | None, text: str | None,
                  machine_draft: str | None) -> Description:
    """Describe the damage as it is marked now without ever replacing the conservator's words.

    While the box holds nothing or the machine's own last draft, the new draft replaces it; once the conservator
    has written in it, the edit stays and the new draft is offered beside it.  A photo or mask that cannot be
    used is said in the note (a mask of the wrong size, say), never silently ignored.
    """
    own = edited(text, machine_draft)
    try:
        draft = describe_damage_text(editor_value, mask_file)
    except MuralXGANError as error:
        if (editor_value or {}).get("background") is None:
            note = ""  # no photo (yet, or cleared): nothing to say
        elif str(error) == NO_DAMAGE:
            note = "Paint over the damage, or upload a mask: the description follows what you mark."
        else:
            note = f"**The damage cannot be described:** {error}"
        return Description(None if own else "", "", False, note)
    if not own:
        return Description(draft, draft, False, FOLLOWING)
    same = (text or "").strip() == draft.strip()
    return Description(None, draft, not same, "" if same else KEPT)


def restore_to_files(editor_value: dict | None, mask_file: str | None, caption: str | None,
                     restorer: str, name: str = UNNAMED, caption_source: str = "expert",
                     progress: Progress | None = None) -> tuple[RestorationResult, np.ndarray, dict[str, Path]]:
    """Run the pipeline; write the restored PNG, the mask PNG and the provenance JSON, named after the mural
    (``<name>-restored.png`` ...), to a fresh temporary folder, and the photo as shown (``<name>.png``).

    ``caption`` empty: the machine describes the damage; ``caption_source`` names who wrote a given caption.
    ``progress(stage, fraction)`` hears the stages: "loading the restorer", the pipeline's, "saving the files".
    """
    report = progress or (lambda stage, fraction: None)
    image, mask = image_and_mask(editor_value, mask_file)
    report("loading the restorer", 0.02)
    pipeline = pipeline_for(restorer)
    result = pipeline.restore(image, mask, caption=(caption or "").strip() or None, caption_source=caption_source,
                              progress=progress)
    report("saving the files", 0.97)
    folder = scratch_folder("restore-")
    stem = file_stem(name)
    files = {
        "restored": save_png(result.image, folder / f"{stem}-restored.png"),
        "mask": save_png(result.mask, folder / f"{stem}-mask.png"),
        "provenance": folder / f"{stem}-provenance.json",
        "original": save_png(image, folder / "shown" / f"{stem}.png"),  # the "before" of the comparison
    }
    files["provenance"].write_text(json.dumps({"name": name, **result.provenance}, indent=2, default=str))
    return result, image, files


def words_comparison(editor_value: dict | None, mask_file: str | None, restorer: str, name: str,
                     with_words: np.ndarray, mask: np.ndarray, progress: Progress | None = None
                     ) -> tuple[Path | None, str]:
    """What the conservator's words change: the same restoration guided by the machine's own description instead.

    ``with_words``: the restoration guided by the conservator's words (uint8 ``[H, W, 3]``); ``mask``: its damage.

    -> (the PNG restored without their words, or None when the restorer reads no text, one line saying how far the
    restored area's mean colour moved, in CIEDE2000, about 2 being a just visible difference).
    """
    from mural_inpaint.palette import mean_colour_difference

    if not pipeline_for(restorer).restorer.uses_text:
        return None, f"**{restorer}** does not read the description, so your words change nothing."
    machine, _, files = restore_to_files(editor_value, mask_file, None, restorer, name=f"{name} machine words",
                                         progress=progress)
    if not mask.any():
        return files["restored"], "No damage is marked, so the words have nothing to change."
    moved = mean_colour_difference(with_words, machine.image, mask)
    seen = "a visible difference" if moved >= 2 else "below a just visible difference (about 2)"
    return files["restored"], (f"Your words moved the restored area's mean colour by **{moved:.1f} CIEDE2000** "
                               f"from the restoration guided by the machine's description ({seen}).")


def restored_message(result: RestorationResult, restorer: str, waited_s: float, left_out: str | None) -> str:
    """The status line after a restoration: the wait the user saw (from the click), then what the model took."""
    timings = result.provenance.get("timings", {})
    model = timings.get("restore_s", 0.0) + timings.get("text_embedding_s", 0.0)
    joined = ("The mural joins the caption review queue and the blind comparisons." if left_out is None
              else f"Not added to the study: {left_out}.")
    # what the description made the pipeline do (outlines joined); other notes may name server paths, so not shown
    said = "".join(f" {note[0].upper()}{note[1:]}." for note in result.provenance.get("notes", []) if "outline" in note)
    return (f"Restored {result.provenance['damaged_percent']:.1f}% of the image with **{restorer}** in "
            f"**{waited_s:.1f} s** from your click (the restorer itself: {model:.1f} s).{said} {joined}")


def joins_study(context: AppContext, user: str, mask: np.ndarray) -> str | None:
    """Why a restoration by ``user`` stays out of the review queue and the blind study, or None when it joins.

    Only signed-in users add murals (``MURALXGAN_RESTORES_JOIN``: ``signed-in``, ``admins`` or ``off``), and a
    restoration with an empty mask never joins (every candidate would be the photo itself).
    """
    policy = context.settings.restores_join
    if policy == "off":
        return "restorations made here do not join the study on this server"
    if not user:
        return "sign in for your restorations to join the caption review and the blind comparisons"
    if policy == "admins" and not context.is_admin(user):
        return "on this server only admins' restorations join the study"
    if not mask.any():
        return "no damage was marked, so there is nothing to compare"
    return None


def remember_restoration(context: AppContext, image: np.ndarray, result: RestorationResult, user: str,
                         name: str = UNNAMED) -> str | None:
    """Put a restoration made in the app into the review queue and the blind-rating pool, under the mural's
    ``name``, when it may join (:func:`joins_study`); returns the mural id, or None when it stays out.

    The draft to review is the machine's description (not the text the user typed); the user's restoration becomes
    the candidate of its restorer, and the catalogue worker adds the other systems' candidates, once each.
    """
    if joins_study(context, user, result.mask) is not None:
        return None
    captioner = shared_captioner()
    mural_id, _ = add_mural(context.store, context.settings.files, image, result.mask, name,
                           f"restored in the app by {user}", captioner)
    system = result.provenance.get("restorer", "")
    if system in context.systems and system not in context.store.candidate_systems(mural_id):
        add_candidate_file(context.store, context.settings.files, mural_id, system, result.image, result.provenance)
    if context.worker is not None:
        context.worker.wake()
    return mural_id
