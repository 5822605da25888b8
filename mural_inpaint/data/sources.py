"""Mural collections on disk or on the Hub, read as one ``datasets.Dataset`` with columns stem / image / mask / caption.

Used by training, the app's review queue and its blind comparisons, so every part of the project understands the
same layouts:

- ``gt/`` + ``mask/``: paired images and damage masks, matched by file stem (``muraldh-sample``);
- ``images/`` + ``labels/``: MuralDH's own layout, matched by stem;
- an imagefolder with ``metadata.jsonl`` (``file_name`` + optional ``caption`` / ``mask``);
- a plain folder of images (no masks);
- a folder written by ``datasets.Dataset.save_to_disk``, or a Hub dataset id (column names configurable).

Image and mask cells are left undecoded (``{"path", "bytes"}``); :func:`cell_to_array` decodes one with our loaders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mural_inpaint.errors import InputError
from mural_inpaint.imaging import IMAGE_SUFFIXES, list_images

PAIRED_LAYOUTS = (("gt", "mask"), ("images", "labels"))


@dataclass(frozen=True)
class Columns:
    """Column names of a Hub or ``save_to_disk`` dataset, and the split to read."""

    image: str = "image"
    mask: str = "mask"
    caption: str = "caption"
    split: str = "train"


def _paired(folder: Path, image_dir: str, mask_dir: str) -> dict[str, list]:
    images, masks = list_images(folder / image_dir), list_images(folder / mask_dir)
    lonely_images, lonely_masks = sorted(set(images) - set(masks)), sorted(set(masks) - set(images))
    if lonely_images or lonely_masks:
        parts = []
        if lonely_images:
            parts.append(f"images without a mask in {mask_dir}/: {', '.join(lonely_images[:5])}")
        if lonely_masks:
            parts.append(f"masks without an image in {image_dir}/: {', '.join(lonely_masks[:5])}")
        raise InputError(f"{folder}: mismatched dataset ({'; '.join(parts)}).")
    stems = sorted(images)
    return {"stem": stems, "image": [str(images[s]) for s in stems], "mask": [str(masks[s]) for s in stems],
            "caption": [None] * len(stems)}


def _imagefolder(folder: Path) -> dict[str, list]:
    rows = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines() if line.strip()]
    missing = [r.get("file_name", "?") for r in rows if not (folder / r.get("file_name", "")).is_file()]
    if missing:
        raise InputError(f"{folder}: metadata.jsonl names files that do not exist: {', '.join(missing[:5])}.")
    return {"stem": [Path(r["file_name"]).stem for r in rows],
            "image": [str(folder / r["file_name"]) for r in rows],
            "mask": [str(folder / r["mask"]) if r.get("mask") else None for r in rows],
            "caption": [r.get("caption") for r in rows]}


def local_records(folder: str | Path) -> dict[str, list]:
    """Column dict (stem, image path, mask path or None, caption or None) for one local folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Dataset folder not found: {folder}.")
    for image_dir, mask_dir in PAIRED_LAYOUTS:
        if (folder / image_dir).is_dir() and (folder / mask_dir).is_dir():
            return _paired(folder, image_dir, mask_dir)
    if (folder / "metadata.jsonl").is_file():
        return _imagefolder(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return {"stem": [p.stem for p in files], "image": [str(p) for p in files], "mask": [None] * len(files),
            "caption": [None] * len(files)}


def load_collection(source: str | Path, columns: Columns = Columns()):
    """One source (local folder, ``save_to_disk`` folder or Hub dataset id) -> ``datasets.Dataset``.

    Columns: stem, image, mask (None where the collection has none), caption (None where absent); images and masks
    undecoded.  Raises :class:`InputError` for a missing folder, a mismatched paired layout or a missing column.
    """
    import datasets

    path = Path(source)
    if (path / "dataset_info.json").is_file() or (path / "state.json").is_file():
        return _normalise_columns(datasets.load_from_disk(str(path)), columns, str(source))
    if path.exists():
        part = datasets.Dataset.from_dict(local_records(path))
        return part.cast_column("image", datasets.Image(decode=False)).cast_column("mask", datasets.Image(decode=False))
    if str(source).startswith((".", "/", "~")):  # clearly a path, not a Hub id
        raise InputError(f"Dataset folder not found: {source}.")
    return _normalise_columns(datasets.load_dataset(str(source), split=columns.split), columns, str(source))


def cell_to_array(value, loader):
    """A datasets cell (path, ``{'path', 'bytes'}`` dict, or PIL image) -> numpy through ``loader``."""
    if isinstance(value, dict):
        return loader(value.get("bytes") or value["path"])
    return loader(value)


def _normalise_columns(dataset, columns: Columns, source: str):
    """A ``datasets.Dataset`` with configurable column names -> columns stem / image / mask / caption."""
    import datasets

    rename = {columns.image: "image", columns.mask: "mask", columns.caption: "caption"}
    dataset = dataset.rename_columns({k: v for k, v in rename.items() if k in dataset.column_names and k != v})
    if "image" not in dataset.column_names:
        raise InputError(f"{source}: no image column {columns.image!r} (columns: {dataset.column_names}).")
    if "mask" not in dataset.column_names:
        dataset = dataset.add_column("mask", [None] * len(dataset)).cast_column("mask", datasets.Image())
    if "caption" not in dataset.column_names:
        dataset = dataset.add_column("caption", [None] * len(dataset))
    if "stem" not in dataset.column_names:
        dataset = dataset.add_column("stem", [f"{source}:{i}" for i in range(len(dataset))])
    dataset = dataset.select_columns(["stem", "image", "mask", "caption"])
    return dataset.cast_column("image", datasets.Image(decode=False)).cast_column("mask", datasets.Image(decode=False))
