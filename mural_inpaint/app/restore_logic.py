"""What the Restore tab does, free of any UI code: editor value in, files and messages out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mural_inpaint.app.catalogue import add_candidate_file, add_mural
from mural_inpaint.app.context import AppContext, pipeline_for, shared_captioner
from mural_inpaint.app.served import scratch_folder
from mural_inpaint.app.uploads import load_photo, load_uploaded_mask, painted_mask
from mural_inpaint.errors import InputError
from mural_inpaint.imaging import save_png
from mural_inpaint.pipeline import RestorationResult, describe


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
        raise InputError("No damage is marked: paint over the damaged areas or upload a mask.")
    return image, mask


def describe_damage_text(editor_value: dict | None, mask_file: str | None) -> str:
    image, mask = image_and_mask(editor_value, mask_file)
    return describe(image, mask, shared_captioner()).text


def restore_to_files(editor_value: dict | None, mask_file: str | None, caption: str | None,
                     restorer: str) -> tuple[RestorationResult, np.ndarray, dict[str, Path]]:
    """Run the pipeline; write restored PNG, mask PNG and provenance JSON to a fresh temporary folder."""
    image, mask = image_and_mask(editor_value, mask_file)
    result = pipeline_for(restorer).restore(image, mask, caption=(caption or "").strip() or None)
    folder = scratch_folder("restore-")
    files = {
        "restored": save_png(result.image, folder / "restored.png"),
        "mask": save_png(result.mask, folder / "mask.png"),
        "provenance": folder / "provenance.json",
    }
    files["provenance"].write_text(json.dumps(result.provenance, indent=2, default=str))
    return result, image, files


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


def remember_restoration(context: AppContext, image: np.ndarray, result: RestorationResult, user: str) -> str | None:
    """Put a restoration made in the app into the review queue and the blind-rating pool when it may join
    (:func:`joins_study`); returns the item id, or None when it stays out.

    The draft to review is the machine's description (not the text the user typed); the user's restoration becomes
    the candidate of its restorer, and the catalogue worker adds the other systems' candidates, once each.
    """
    if joins_study(context, user, result.mask) is not None:
        return None
    captioner = shared_captioner()
    item_id, _ = add_mural(context.store, context.settings.files, image, result.mask, "upload",
                           f"restored in the app by {user}", captioner)
    system = result.provenance.get("restorer", "")
    if system in context.systems and system not in context.store.candidate_systems(item_id):
        add_candidate_file(context.store, context.settings.files, item_id, system, result.image, result.provenance)
    if context.worker is not None:
        context.worker.wake()
    return item_id
