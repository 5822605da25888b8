"""Training data: mural collections (layouts in :mod:`mural_inpaint.data.sources`) and per-sample damage synthesis.

A plain folder of clean images has no masks: its damage is always synthesised.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from mural_inpaint.data.damage import MaskBank, synthesize_damage
from mural_inpaint.data.sources import Columns, cell_to_array, load_collection
from mural_inpaint.errors import InputError
from mural_inpaint.imaging import hide_damage, load_image, load_mask
from mural_inpaint.restorers import RESTORERS
from mural_inpaint.text.captioners import join_scene_and_damage
from mural_inpaint.text.describer import describe_damage
from train.config import DataConfig
from train.counterfactual import conservator_sentence, dominant_pigment, other_pigment, recolour_region


def held_out_stems(paths: str | Path | list | None) -> set[str]:
    """The stems listed in one holdout file or several (see :func:`mural_inpaint.data.cases.read_holdout`)."""
    from mural_inpaint.data.cases import read_holdout

    if not paths:
        return set()
    return set().union(*(read_holdout(path) for path in ([paths] if isinstance(paths, str | Path) else paths)))


def load_training_dataset(config: DataConfig):
    """All ``config.sources`` as one ``datasets.Dataset`` with columns stem / image / mask / caption.

    Holdout stems are removed.  Hub ids are loaded with ``datasets.load_dataset(id, split=config.split)``.
    """
    import datasets

    holdout = held_out_stems(config.holdout)
    columns = Columns(config.image_column, config.mask_column, config.caption_column, config.split)
    if config.source_weights is not None and len(config.source_weights) != len(config.sources):
        raise InputError(f"data.source_weights has {len(config.source_weights)} weights for "
                         f"{len(config.sources)} sources; give one weight per source.")
    parts = []
    for index, source in enumerate(config.sources):
        part = load_collection(source, columns)
        if holdout:
            part = part.filter(lambda row: row["stem"] not in holdout)
        if config.images_per_source is not None:
            part = part.select(range(min(config.images_per_source, len(part))))
        parts.append(part.add_column("source", [index] * len(part)))
    dataset = datasets.concatenate_datasets(parts) if len(parts) > 1 else (parts[0] if parts else None)
    if dataset is None or len(dataset) == 0:
        raise InputError(f"No training images found in {', '.join(config.sources) or 'the configured sources'}.")
    return dataset


def sampling_weights(dataset, config: DataConfig) -> list[float] | None:
    """Per-row weights that give each source its ``config.source_weights`` share of the samples (None: uniform)."""
    if config.source_weights is None:
        return None
    sources = dataset["source"]
    counts = np.bincount(sources, minlength=len(config.sources))
    return [config.source_weights[s] / counts[s] for s in sources]


def own_mask_pool(dataset, limit: int = 2000) -> MaskBank | None:
    """The training rows' own damage masks as a bank (None when no row has one).

    Drawn by the ``pool`` mask source, they put a collection's kind of damage on every source, e.g. MuralDH's
    boxes and blotches on mural photos that come without masks.  Only training rows are read: held-out stems were
    removed by :func:`load_training_dataset`.
    """
    if "mask" not in dataset.column_names:
        return None
    masks = []
    for cell in dataset["mask"]:
        mask = cell_to_array(cell, load_mask) if cell is not None else None
        if mask is not None and mask.any() and not mask.all():
            masks.append(mask)
            if len(masks) == limit:
                break
    return MaskBank(masks=masks) if masks else None


class DamageSynthesisDataset(torch.utils.data.Dataset):
    """Clean crops with synthesised damage, expert captions and the classical coarse fill.

    Each item: ``image`` float ``[3, S, S]`` in ``[0, 1]`` (the clean target), ``mask`` ``[1, S, S]`` (1 = damage),
    ``coarse`` ``[3, S, S]`` (classical fill of the damaged crop), ``caption`` str ("" when text is dropped).
    Randomness comes from a generator seeded by the worker's torch seed, the index and a call counter, so a run is
    reproducible for a seed.
    """

    def __init__(self, dataset, config: DataConfig, coarse_fill: str, mask_bank: MaskBank | None = None,
                 mask_pool: MaskBank | None = None):
        self.dataset = dataset
        self.config = config
        self.coarse = RESTORERS.create(coarse_fill)
        self.mask_bank = mask_bank
        self.mask_pool = mask_pool
        self._calls = 0

    def __len__(self) -> int:
        return len(self.dataset)

    def _damage(self, rng, size: int, own: np.ndarray | None) -> tuple[np.ndarray, str]:
        """(mask, which source drew it: own / bank / pool / synthetic / large)."""
        banks = {"bank": self.mask_bank, "pool": self.mask_pool}
        weights = dict(self.config.mask_sources)
        if own is None or not own.any():
            weights.pop("own", None)
        for name, bank in banks.items():
            if bank is None:
                weights.pop(name, None)
        if not weights:  # e.g. only "pool" asked for and no training row has a mask
            weights = {"synthetic": 1.0}
        names = list(weights)
        probabilities = np.array([weights[n] for n in names], float)
        choice = names[rng.choice(len(names), p=probabilities / probabilities.sum())]
        if choice == "own":
            mask = own
        elif choice == "large":
            mask = synthesize_damage(size, size, "large", rng)
        elif choice in banks:
            mask = banks[choice].sample(size, size, rng)
        else:
            mask = synthesize_damage(size, size, self.config.presets[rng.integers(len(self.config.presets))], rng)
        if mask.mean() < 0.003 or mask.all():
            mask, choice = synthesize_damage(size, size, "mixed", rng), "synthetic"
        return mask, choice

    def __getitem__(self, index: int) -> dict:
        self._calls += 1
        rng = np.random.default_rng([torch.initial_seed() % 2**32, index, self._calls])
        row = self.dataset[int(index)]
        clean = cell_to_array(row["image"], load_image)
        own = cell_to_array(row["mask"], load_mask) if row.get("mask") is not None else None
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
            counterfactual = rng.random() < self.config.counterfactual
            if counterfactual:
                pigment = other_pigment(clean, mask, rng)
                clean = recolour_region(clean, mask, pigment, rng)
            share = self.config.conservator_captions
            if counterfactual and self.config.counterfactual_conservator_captions is not None:
                share = self.config.counterfactual_conservator_captions
            if rng.random() < share:
                held = pigment if counterfactual else dominant_pigment(clean, mask)
                caption = conservator_sentence(held, rng)
            elif self.config.caption_mode == "damage" and row.get("caption") and source == "own" and not counterfactual:
                caption = row["caption"]  # an expert's description of the mural's own damage
            else:
                scene = (row.get("caption") or "") if self.config.caption_mode == "scene" else ""
                caption = join_scene_and_damage(scene, describe_damage(clean, mask, reference=clean).text)
        coarse = self.coarse.restore_crop(hide_damage(clean, mask), mask)
        return {
            "image": torch.from_numpy(clean).permute(2, 0, 1).float() / 255.0,
            "mask": torch.from_numpy(mask)[None].float(),
            "coarse": torch.from_numpy(coarse).permute(2, 0, 1).float() / 255.0,
            "caption": caption,
        }
