"""The murals the app shows for caption review and blind rating, and their candidate restorations.

Murals come from collections named at launch (:mod:`mural_inpaint.data.sources` layouts or Hub ids) and from every
restoration made in the app.  Each is stored once (its id is a hash of image and mask, so re-importing is a no-op)
with a machine-written draft description.  Candidates are restorations of a mural by each rated system, computed
once through the one pipeline and cached; their files get random names, so nothing on disk or in a URL says which
system made them.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mural_inpaint.data.sources import cell_to_array, load_collection
from mural_inpaint.errors import InputError, MuralXGANError
from mural_inpaint.imaging import load_image, load_mask, save_png
from mural_inpaint.pipeline import RestorationPipeline
from mural_inpaint.review.store import Store
from mural_inpaint.text.captioners import Captioner
from mural_inpaint.visuals import with_hole_shown


def mural_fingerprint(image: np.ndarray, mask: np.ndarray) -> str:
    """Stable mural id of (uint8 ``[H, W, 3]`` image, bool ``[H, W]`` mask): the same image and damage, the same id."""
    digest = hashlib.sha256()
    digest.update(np.asarray(image.shape, np.int64).tobytes())
    digest.update(np.ascontiguousarray(image).tobytes())
    digest.update(np.packbits(mask).tobytes())
    return digest.hexdigest()[:16]


def add_mural(store: Store, files: Path, image: np.ndarray, mask: np.ndarray, name: str, source: str,
              captioner: Captioner) -> tuple[str, bool]:
    """Store a damaged mural (image + mask PNGs under ``files/murals``) with the machine's draft description.

    Returns (mural id, whether it was new); a mural already stored is left as it is.
    """
    mural_id = mural_fingerprint(image, mask)
    if store.mural(mural_id) is not None:
        return mural_id, False
    folder = files / "murals"
    image_path = save_png(image, folder / f"{mural_id}.png")
    mask_path = save_png(mask, folder / f"{mural_id}-mask.png")
    draft = captioner.caption(image, mask)
    store.add_mural(mural_id, name, int(image.shape[1]), int(image.shape[0]), str(image_path), str(mask_path), source)
    store.add_caption(mural_id, draft.captioner, draft.text)
    return mural_id, True


def source_name(source: str | Path) -> str:
    """How a collection is named to people: a Hub dataset id as it is, a folder by its last component (a note on the
    page never shows a server path)."""
    text = str(source)
    path = Path(text).expanduser()
    if text.startswith((".", "/", "~")) or path.exists():  # (what load_collection takes for a folder)
        return path.resolve().name or text
    return text


def without_source_path(text: str, source: str | Path) -> str:
    """``text`` (an error's message, say) with the collection's server path, as given or resolved, replaced by its
    :func:`source_name`."""
    name = source_name(source)
    for spelled in sorted({str(source), str(Path(str(source)).expanduser().resolve())}, key=len, reverse=True):
        if "/" in spelled and spelled != name:  # (a Hub id is its name already; "." is no path to replace)
            text = text.replace(spelled, name)
    return text


def import_collection(store: Store, files: Path, source: str, limit: int, captioner: Captioner) -> tuple[int, str]:
    """Add up to ``limit`` murals with a damage mask from one collection -> (number new, a note for people, naming
    the collection by :func:`source_name`)."""
    dataset = load_collection(source)
    with_mask = [i for i, row in enumerate(dataset.select_columns(["mask"])) if row["mask"] is not None]
    added = present = 0
    for index in with_mask[:limit]:
        row = dataset[index]
        image = cell_to_array(row["image"], load_image)
        mask = cell_to_array(row["mask"], load_mask)
        if mask.shape != image.shape[:2]:
            raise InputError(f"{source}: the mask of {row['stem']} is {mask.shape[1]}x{mask.shape[0]} pixels but "
                             f"its image is {image.shape[1]}x{image.shape[0]}.")
        if not mask.any() or mask.all():
            continue
        if add_mural(store, files, image, mask, str(row["stem"]), source, captioner)[1]:
            added += 1
        else:
            present += 1
    skipped = len(dataset) - len(with_mask)
    note = f"{source_name(source)}: {added} new murals with damage masks added ({present} already there)" + (
        f"; {skipped} images without a mask left out (they have no damage to review)" if skipped else "")
    return added, note


def load_stored(mural: dict) -> tuple[np.ndarray, np.ndarray]:
    """A stored mural's (image, mask); a file missing or unreadable on the server is one line naming the mural and
    what to do, never a server path."""
    try:
        image = load_image(mural["image_path"])
        return image, load_mask(mural["mask_path"], expected_size=image.shape[:2])
    except InputError:
        raise InputError(f"The stored files of mural {mural['name']!r} are missing or unreadable on the server; an "
                         "admin can bring them back from the study's backup (restart the app with "
                         "MURALXGAN_BACKUP_DIR or MURALXGAN_BACKUP_REPO set).") from None


def damage_view(mural: dict) -> str:
    """PNG of the mural with its damage painted magenta (what reviewers and raters see), made once per mural."""
    path = Path(mural["image_path"]).with_name(f"{mural['id']}-shown.png")
    if not path.is_file():
        save_png(with_hole_shown(*load_stored(mural)), path)
    return str(path)


def caption_for_restoring(store: Store, mural_id: str) -> tuple[str, str]:
    """(text, who wrote it): the latest approved expert text, else the machine draft."""
    approved = store.latest_approved_text(mural_id)
    if approved is not None:
        return approved, "expert"
    draft = store.latest_caption(mural_id)
    return (draft["text"], draft["captioner"]) if draft else ("", "none")


def add_candidate_file(store: Store, files: Path, mural_id: str, system: str, restored: np.ndarray,
                       provenance: dict) -> str:
    """Store one restoration under a random file name; returns the candidate id (existing one if already there)."""
    path = save_png(restored, files / "candidates" / f"{secrets.token_urlsafe(12)}.png")
    candidate_id = store.add_candidate(mural_id, system, str(path), provenance)
    if store.candidate(candidate_id)["image_path"] != str(path):
        path.unlink(missing_ok=True)  # another worker stored it first
    return candidate_id


def fill_candidates(store: Store, files: Path, mural_id: str, systems: tuple[str, ...],
                    pipeline_for: Callable[[str], RestorationPipeline],
                    failed: dict[tuple[str, str], str] | None = None) -> int:
    """Restore ``mural_id`` with every system that has no candidate for it yet; returns how many were added.

    With ``failed`` (a dict the caller keeps), a system that fails is recorded there as ``(mural_id, system): error``
    and not tried again, and the other systems still run; without it the first failure is raised.
    """
    missing = [system for system in systems if system not in store.candidate_systems(mural_id)
               and (failed is None or (mural_id, system) not in failed)]
    if not missing:
        return 0
    mural = store.mural(mural_id)
    image, mask = load_stored(mural)
    caption, caption_source = caption_for_restoring(store, mural_id)
    added = 0
    for system in missing:
        try:
            result = pipeline_for(system).restore(image, mask, caption=caption, caption_source=caption_source)
        except MuralXGANError as error:
            if failed is None:
                raise
            failed[mural_id, system] = str(error)
            continue
        add_candidate_file(store, files, mural_id, system, result.image, result.provenance)
        added += 1
    return added


class CatalogueWorker:
    """Background thread: imports the launch collections, then keeps every mural's candidates complete.

    ``wake()`` after adding a mural; ``notes`` collects what people should know (imports, failures).  Each candidate
    is computed once: stored ones are never recomputed, and a restoration that failed is not retried at every wake.
    """

    def __init__(self, store: Store, files: Path, sources: tuple[str, ...], limit: int, systems: tuple[str, ...],
                 captioner: Captioner, pipeline_for: Callable[[str], RestorationPipeline]):
        self.store, self.files, self.sources, self.limit = store, files, sources, limit
        self.systems, self.captioner, self.pipeline_for = systems, captioner, pipeline_for
        self.notes: list[str] = []
        self.failed: dict[tuple[str, str], str] = {}  # (mural id, system) -> why its restoration failed
        self.idle = threading.Event()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="muralxgan-catalogue", daemon=True)

    def start(self) -> CatalogueWorker:
        self._thread.start()
        return self

    def wake(self) -> None:
        self.idle.clear()
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def _run(self) -> None:
        for source in self.sources:
            try:
                self._note(import_collection(self.store, self.files, source, self.limit, self.captioner)[1])
            except Exception as error:  # (offline Hub, bad folder...: the app keeps serving)
                self._note(without_source_path(f"{source}: not imported ({error})", source))
        while not self._stop.is_set():
            self._wake.clear()
            self.fill_all()
            self.idle.set()
            self._wake.wait(timeout=60)

    def fill_all(self) -> int:
        """One pass over every mural: compute the candidates still missing; returns how many were added."""
        added = 0
        for mural in self.store.murals():
            if self._stop.is_set():
                break
            known = set(self.failed)
            try:
                added += fill_candidates(self.store, self.files, mural["id"], self.systems, self.pipeline_for,
                                         self.failed)
            except MuralXGANError as error:  # (the mural's own files are unreadable)
                self.failed.update({(mural["id"], system): str(error) for system in self.systems})
            for key in sorted(self.failed.keys() - known):
                self._note(f"{mural['name']}: no candidate from {key[1]} ({self.failed[key]})")
        return added
