"""Benchmark cases: a clean reference, a damage mask, and the damaged image a restorer is given.

Data layouts (``data``):

- a folder with ``gt/`` + ``mask/`` (e.g. ``../shared/data/muraldh-sample``), images matched to masks by file stem;
- a MuralDH folder with ``images/`` + ``labels/`` (labels may be damage-class index maps: any non-zero class is
  damage; ``<stem>_mask`` / ``<stem>_label`` label names are accepted too);
- a Hugging Face ``datasets`` folder written by ``save_to_disk`` or a Hub dataset id, with image and mask columns.

Mask protocols (``masks``): ``"own"`` uses each case's own mask; ``"large"`` replaces it with one contiguous
sizeable loss, :func:`mural_inpaint.data.damage.synthesize_damage` with the ``large`` preset (a box of 64-100 px on a
256 px crop plus an overlapping ragged blob, 8-20 % of the crop: losses where the surroundings no longer say what was
there); ``"bank:DIR"`` replaces it with a random crop of a real traced damage mask from
:meth:`mural_inpaint.data.damage.MaskBank.from_folder`. ``large`` and ``bank`` draw each mask with a generator seeded by
``(seed, case index in the full listing)``, so a case's mask does not depend on which other cases are loaded
(``limit``, ``holdout``).
The damaged image has every hole pixel set to mid-grey, so no restorer can see what was lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mural_inpaint.errors import InputError
from mural_inpaint.imaging import IMAGE_SUFFIXES, hide_damage, list_images, load_image, load_mask, open_pil

#: Folder pairs recognised as (images, masks), in this order.
FOLDER_LAYOUTS = (("gt", "mask"), ("images", "labels"))
_LABEL_SUFFIXES = ("_mask", "_label", "_labels", "_gt")


@dataclass
class Case:
    """One benchmark case: ``image`` is ``reference`` with the hole (``mask`` True) set to mid-grey."""

    name: str
    image: np.ndarray  # uint8 [H, W, 3], damaged
    mask: np.ndarray  # bool [H, W], True = hole
    reference: np.ndarray  # uint8 [H, W, 3], clean
    protocol: str = "own"  # the mask protocol that made ``mask`` (own / bank / large)

    @property
    def hole_percent(self) -> float:
        return 100.0 * float(self.mask.mean())


def make_case(name: str, reference: np.ndarray, mask: np.ndarray) -> Case:
    """Validate a (reference, mask) pair and build the damaged image."""
    if mask.shape != reference.shape[:2]:
        raise InputError(f"{name}: the mask is {mask.shape[1]}x{mask.shape[0]} pixels but the image is "
                         f"{reference.shape[1]}x{reference.shape[0]}.")
    if not mask.any():
        raise InputError(f"{name}: the mask marks no damage, so there is nothing to restore or measure.")
    if mask.all():
        raise InputError(f"{name}: the mask covers the whole image, so there is nothing to restore from.")
    return Case(name, hide_damage(reference, mask), mask, reference)


def _names(items) -> str:
    items = list(items)
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def read_holdout(path: str | os.PathLike) -> list[str]:
    """Case stems listed in a text file, one per line (blank lines and ``#`` comments ignored)."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"Holdout list not found: {file}.")
    stems = []
    for line in file.read_text().splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            stems.append(Path(entry).stem if Path(entry).suffix.lower() in IMAGE_SUFFIXES else entry)
    if not stems:
        raise InputError(f"Holdout list {file} names no cases.")
    return stems


def _label_mask(path: Path) -> np.ndarray:
    """A MuralDH label (class-index map, 0 = intact, or a 0/255 mask) -> bool mask; JPEGs are thresholded."""
    if path.suffix.lower() in (".jpg", ".jpeg"):
        return load_mask(path)
    values = np.asarray(open_pil(path))
    return (values.max(axis=2) if values.ndim == 3 else values) > 0


def _folder_sources(root: Path, image_dir: str, mask_dir: str, own_masks: bool) -> list[tuple[str, Path, Path | None]]:
    images = list_images(root / image_dir)
    if not images:
        raise InputError(f"{root / image_dir}: no images (PNG, JPEG, TIFF, WebP, BMP) in this folder.")
    masks = list_images(root / mask_dir) if (root / mask_dir).is_dir() else {}
    for stem, path in list(masks.items()):  # MuralDH-style "<stem>_mask.png" names
        for suffix in _LABEL_SUFFIXES:
            if stem.endswith(suffix) and stem.removesuffix(suffix) not in masks:
                masks[stem.removesuffix(suffix)] = path
    missing = [stem for stem in images if stem not in masks]
    if own_masks and missing:
        raise InputError(f"{root / mask_dir}: no mask for {_names(missing)} "
                         "(masks are matched to images by file name stem).")
    return [(stem, path, masks.get(stem)) for stem, path in images.items()]


def _load_dataset(data: str, split: str | None):
    """A ``datasets.Dataset`` from a ``save_to_disk`` folder or a Hub dataset id."""
    import datasets

    from mural_inpaint.hub import looks_like_path

    path = Path(data)
    if not path.is_dir() and (looks_like_path(data) or path.exists()):
        raise InputError(f"{data}: no such data folder (nor a Hugging Face dataset id).")
    try:
        if path.is_dir():
            loaded = datasets.load_from_disk(str(path))
        else:
            loaded = datasets.load_dataset(data, split=split)
    except Exception as error:
        reason = " ".join(str(error).split())[:200]
        raise InputError(f"{data}: not a benchmark folder (gt/ + mask/ or images/ + labels/) and not a loadable "
                         f"Hugging Face dataset ({reason}).") from None
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        default = splits[0] if len(splits) == 1 else None
        chosen = split or next((s for s in ("test", "validation") if s in loaded), default)
        if chosen not in loaded:
            raise InputError(f"{data}: choose a split with --split (available: {', '.join(splits)}).")
        loaded = loaded[chosen]
    return loaded


def _dataset_value(value):
    """A decoded ``datasets`` image cell: PIL image, array, or ``{"bytes", "path"}`` dict -> loadable source."""
    if isinstance(value, dict):
        return value.get("bytes") or value.get("path")
    return np.asarray(value) if isinstance(value, list) else value


def _dataset_cases(data: str, split: str | None, image_column: str, mask_column: str, name_column: str | None,
                   own_masks: bool):
    """(names, loader(index) -> (reference, mask or None)) for a Hugging Face dataset."""
    dataset = _load_dataset(data, split)
    columns = dataset.column_names
    if image_column not in columns:
        raise InputError(f"{data}: no image column {image_column!r} (columns: {', '.join(columns)}).")
    if own_masks and mask_column not in columns:
        raise InputError(f"{data}: no mask column {mask_column!r} (columns: {', '.join(columns)}); "
                         "use --mask-column or --masks bank:DIR.")
    if name_column and name_column in columns:
        names = [str(name) for name in dataset[name_column]]
    else:
        names = [f"{index:05d}" for index in range(len(dataset))]

    def load(index: int):
        row = dataset[index]
        reference = load_image(_dataset_value(row[image_column]), name=names[index])
        mask = row.get(mask_column) if own_masks else None
        if mask is None:
            if own_masks:
                raise InputError(f"{data}: case {names[index]} has no mask.")
            return reference, None
        return reference, load_mask(_dataset_value(mask), name=f"{names[index]} mask")

    return names, load


def load_cases(data: str | os.PathLike, masks: str = "own", seed: int = 0, limit: int | None = None,
               holdout: str | os.PathLike | None = None, *, split: str | None = None, image_column: str = "image",
               mask_column: str = "mask", name_column: str | None = "name") -> list[Case]:
    """Benchmark cases from ``data`` (see the module docstring), sorted by name for folders, in dataset order else.

    ``masks``: ``"own"``, ``"large"`` or ``"bank:DIR"``.  ``holdout``: a text file of case stems to keep (validation
    or benchmark crops kept out of training).  ``limit``: the first N cases after the holdout filter.
    """
    own = masks == "own"
    if not own and masks != "large" and not masks.startswith("bank:"):
        raise InputError(f"Unknown mask protocol {masks!r}: use 'own', 'large' or 'bank:DIR'.")
    root = Path(data)
    layout = next(((i, m) for i, m in FOLDER_LAYOUTS if (root / i).is_dir()), None) if root.is_dir() else None
    if layout:
        sources = _folder_sources(root, *layout, own_masks=own)
        names = [name for name, _, _ in sources]

        def load(index: int):
            _, image_path, mask_path = sources[index]
            reference = load_image(image_path)
            if mask_path is None or not own:
                return reference, None
            mask = _label_mask(mask_path) if layout[1] == "labels" else load_mask(mask_path)
            return reference, mask
    else:
        names, load = _dataset_cases(str(data), split, image_column, mask_column, name_column, own)
    if not names:
        raise InputError(f"{data}: holds no benchmark cases.")
    indices = list(range(len(names)))
    if holdout is not None:
        wanted = read_holdout(holdout)
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            raise InputError(f"{holdout}: lists cases that are not in {data}: {_names(unknown)}.")
        keep = set(wanted)
        indices = [i for i in indices if names[i] in keep]
    if limit is not None:
        indices = indices[: max(limit, 0)]
    bank = None
    if masks.startswith("bank:"):
        from mural_inpaint.data.damage import MaskBank

        bank = MaskBank.from_folder(masks.removeprefix("bank:"))
    cases = []
    for index in indices:
        reference, mask = load(index)
        # One generator per case, from (seed, index in the full listing): order- and subset-independent.
        if bank is not None:
            mask = bank.sample(*reference.shape[:2], np.random.default_rng([seed, index]))
        elif masks == "large":
            from mural_inpaint.data.damage import synthesize_damage

            mask = synthesize_damage(*reference.shape[:2], "large", np.random.default_rng([seed, index]))
        cases.append(make_case(names[index], reference, mask))
        cases[-1].protocol = masks.split(":")[0]
    if not cases:
        raise InputError(f"{data}: no cases left to benchmark (check --holdout and --limit).")
    return cases
