"""Training data: mural collections through Hugging Face ``datasets``, and per-sample damage synthesis.

Local layouts understood (column names of Hub datasets are configurable):

- ``gt/`` + ``mask/``: paired clean images and damage masks, matched by file stem (``muraldh-sample``);
- ``images/`` + ``labels/``: MuralDH's own layout, matched by stem;
- an imagefolder with ``metadata.jsonl`` (``file_name`` + optional ``caption`` / ``mask``);
- a plain folder of clean images (damage is then always synthesised).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from mural_inpaint.errors import InputError
from mural_inpaint.imaging import IMAGE_SUFFIXES, hide_damage, list_images, load_image, load_mask
from mural_inpaint.masks import MaskBank, synthesize_damage
from mural_inpaint.restorers import RESTORERS
from mural_inpaint.text.captioners import join_scene_and_damage
from mural_inpaint.text.describer import describe_damage
from train.config import DataConfig

PAIRED_LAYOUTS = (("gt", "mask"), ("images", "labels"))


def read_holdout(path: str | Path | None) -> set[str]:
    """Stems listed one per line (``#`` comments allowed); empty set for no file."""
    if not path:
        return set()
    lines = Path(path).read_text().splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}


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


def load_training_dataset(config: DataConfig):
    """All ``config.sources`` as one ``datasets.Dataset`` with columns stem / image / mask / caption.

    Holdout stems are removed.  Hub ids are loaded with ``datasets.load_dataset(id, split=config.split)``.
    """
    import datasets

    holdout = read_holdout(config.holdout)
    parts = []
    for source in config.sources:
        path = Path(source)
        if (path / "dataset_info.json").is_file() or (path / "state.json").is_file():
            part = _normalise_columns(datasets.load_from_disk(str(path)), config, source)  # save_to_disk output
        elif path.exists():
            part = datasets.Dataset.from_dict(local_records(path))
            part = part.cast_column("image", datasets.Image(decode=False))
            part = part.cast_column("mask", datasets.Image(decode=False))
        else:
            part = _normalise_columns(datasets.load_dataset(source, split=config.split), config, source)
        if holdout:
            part = part.filter(lambda row: row["stem"] not in holdout)
        parts.append(part)
    dataset = datasets.concatenate_datasets(parts) if len(parts) > 1 else (parts[0] if parts else None)
    if dataset is None or len(dataset) == 0:
        raise InputError(f"No training images found in {', '.join(config.sources) or 'the configured sources'}.")
    return dataset


def _normalise_columns(dataset, config: DataConfig, source: str):
    """A ``datasets.Dataset`` with configurable column names -> columns stem / image / mask / caption."""
    import datasets

    rename = {config.image_column: "image", config.mask_column: "mask", config.caption_column: "caption"}
    dataset = dataset.rename_columns({k: v for k, v in rename.items() if k in dataset.column_names and k != v})
    if "image" not in dataset.column_names:
        raise InputError(f"{source}: no image column {config.image_column!r} (columns: {dataset.column_names}).")
    if "mask" not in dataset.column_names:
        dataset = dataset.add_column("mask", [None] * len(dataset)).cast_column("mask", datasets.Image())
    if "caption" not in dataset.column_names:
        dataset = dataset.add_column("caption", [None] * len(dataset))
    if "stem" not in dataset.column_names:
        dataset = dataset.add_column("stem", [f"{source}:{i}" for i in range(len(dataset))])
    dataset = dataset.select_columns(["stem", "image", "mask", "caption"])
    return dataset.cast_column("image", datasets.Image(decode=False)).cast_column("mask", datasets.Image(decode=False))


def _as_array(value, loader):
    """A datasets cell (path, or {'path', 'bytes'} dict, or PIL) -> numpy via our loaders."""
    if isinstance(value, dict):
        return loader(value.get("bytes") or value["path"])
    return loader(value)


@dataclass
class SampleRecipe:
    crop_size: int
    min_scale: float
    text_dropout: float


class DamageSynthesisDataset(torch.utils.data.Dataset):
    """Clean crops with synthesised damage, expert captions and the classical coarse fill.

    Each item: ``image`` float ``[3, S, S]`` in ``[0, 1]`` (the clean target), ``mask`` ``[1, S, S]`` (1 = damage),
    ``coarse`` ``[3, S, S]`` (classical fill of the damaged crop), ``caption`` str ("" when text is dropped).
    Randomness comes from a generator seeded by the worker's torch seed, the index and a call counter, so a run is
    reproducible for a seed.
    """

    def __init__(self, dataset, config: DataConfig, coarse_fill: str, mask_bank: MaskBank | None = None):
        self.dataset = dataset
        self.config = config
        self.coarse = RESTORERS.create(coarse_fill)
        self.mask_bank = mask_bank
        self._calls = 0

    def __len__(self) -> int:
        return len(self.dataset)

    def _damage(self, rng, size: int, own: np.ndarray | None) -> tuple[np.ndarray, str]:
        """(mask, which source drew it: own / bank / synthetic)."""
        weights = dict(self.config.mask_sources)
        if own is None or not own.any():
            weights.pop("own", None)
        if self.mask_bank is None:
            weights.pop("bank", None)
        names = list(weights)
        probabilities = np.array([weights[n] for n in names], float)
        choice = names[rng.choice(len(names), p=probabilities / probabilities.sum())]
        if choice == "own":
            mask = own
        elif choice == "bank":
            mask = self.mask_bank.sample(size, size, rng)
        else:
            mask = synthesize_damage(size, size, self.config.presets[rng.integers(len(self.config.presets))], rng)
        if mask.mean() < 0.003 or mask.all():
            mask, choice = synthesize_damage(size, size, "mixed", rng), "synthetic"
        return mask, choice

    def __getitem__(self, index: int) -> dict:
        self._calls += 1
        rng = np.random.default_rng([torch.initial_seed() % 2**32, index, self._calls])
        row = self.dataset[int(index)]
        clean = _as_array(row["image"], load_image)
        own = _as_array(row["mask"], load_mask) if row.get("mask") is not None else None
        size = self.config.crop_size
        scale = rng.uniform(self.config.min_scale, 1.0) * max(1.0, size / min(clean.shape[:2]))
        scale = max(scale, size / min(clean.shape[:2]))
        if abs(scale - 1.0) > 1e-3:
            new_size = (max(size, round(clean.shape[1] * scale)), max(size, round(clean.shape[0] * scale)))
            clean = cv2.resize(clean, new_size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            if own is not None:
                own = cv2.resize(own.astype(np.uint8), new_size, interpolation=cv2.INTER_NEAREST).astype(bool)
        top = int(rng.integers(0, clean.shape[0] - size + 1))
        left = int(rng.integers(0, clean.shape[1] - size + 1))
        clean = clean[top : top + size, left : left + size]
        own = own[top : top + size, left : left + size] if own is not None else None
        if rng.random() < 0.5:
            clean = clean[:, ::-1]
            own = own[:, ::-1] if own is not None else None
        clean = np.ascontiguousarray(clean)
        mask, source = self._damage(rng, size, own)
        mask = np.ascontiguousarray(mask)
        caption = ""
        if rng.random() >= self.config.text_dropout:
            given = row.get("caption") or ""
            if self.config.caption_mode == "damage":  # an expert's description of the mural's own damage
                caption = given if (given and source == "own") else describe_damage(clean, mask, reference=clean).text
            else:
                caption = join_scene_and_damage(given, describe_damage(clean, mask, reference=clean).text)
        coarse = self.coarse.restore_crop(hide_damage(clean, mask), mask)
        return {
            "image": torch.from_numpy(clean).permute(2, 0, 1).float() / 255.0,
            "mask": torch.from_numpy(mask)[None].float(),
            "coarse": torch.from_numpy(coarse).permute(2, 0, 1).float() / 255.0,
            "caption": caption,
        }


@dataclass
class ValidationCase:
    name: str
    clean: np.ndarray  # uint8 [H, W, 3]
    mask: np.ndarray  # bool [H, W]
    caption: str  # expert caption: the describer with the clean reference


def validation_cases(folder: str | Path | None, holdout: str | Path | None, limit: int | None = None
                     ) -> list[ValidationCase]:
    """The held-out ``gt/``+``mask/`` pairs of ``folder`` (every pair when no holdout list is given)."""
    if not folder:
        return []
    records = local_records(folder)
    keep = read_holdout(holdout)
    cases = []
    for stem, image, mask in zip(records["stem"], records["image"], records["mask"]):
        if mask is None or (keep and stem not in keep):
            continue
        clean, damage = load_image(image), load_mask(mask)
        cases.append(ValidationCase(stem, clean, damage, describe_damage(clean, damage, reference=clean).text))
    return cases[:limit] if limit else cases
