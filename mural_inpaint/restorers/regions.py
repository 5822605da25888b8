"""High-resolution strategy: the cost follows the damage, not the image size.

1. Each damaged region gets a context box (its bounding box plus a margin; for learned restorers grown to the
   working size, since context is free up to there); overlapping boxes are merged until none overlap.
2. Each box is restored separately.  For a learned restorer with a working size, a box whose damage is too thick to
   see across at native resolution is downscaled (resize fallback) so the thickest damage spans at most half the
   working size; a box still larger than the working size is then processed in overlapping tiles, each tile treating
   what earlier tiles filled as known paint, so thin cracks across a whole wall are restored at full resolution.
   Tiles are the working size or the restorer's larger ``tile_side``, whichever touches fewer pixels: dense damage
   is cheaper in large tiles (less overlap), sparse damage in small ones (tiles without damage are skipped).
3. Results are pasted back under the mask only: known pixels stay byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from mural_inpaint.imaging import composite

if TYPE_CHECKING:
    import torch

    from mural_inpaint.restorers.base import Restorer


@dataclass(frozen=True)
class Box:
    """Half-open pixel box ``[top, bottom) x [left, right)``."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def overlaps(self, other: Box) -> bool:
        vertical = self.top < other.bottom and other.top < self.bottom
        return vertical and self.left < other.right and other.left < self.right

    def union(self, other: Box) -> Box:
        return Box(min(self.top, other.top), max(self.bottom, other.bottom), min(self.left, other.left),
                   max(self.right, other.right))


def _grow(top: int, bottom: int, size: int, limit: int) -> tuple[int, int]:
    """Grow ``[top, bottom)`` symmetrically to at least ``size`` within ``[0, limit)``."""
    missing = size - (bottom - top)
    if missing <= 0:
        return top, bottom
    top = max(0, top - missing // 2)
    bottom = min(limit, top + size)
    return max(0, bottom - size), bottom


def plan_boxes(mask: np.ndarray, min_side: int = 0, context: float = 0.25, min_context: int = 8) -> list[Box]:
    """Non-overlapping context boxes covering every damaged pixel of bool ``[H, W]`` ``mask``.

    Margin per region: ``max(min_context, context * longest side)``; boxes are grown to ``min_side`` when possible.
    """
    height, width = mask.shape
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    boxes = []
    for x, y, w, h, _ in stats[1:count]:
        margin = max(min_context, int(context * max(w, h)))
        top, bottom = _grow(max(0, y - margin), min(height, y + h + margin), min_side, height)
        left, right = _grow(max(0, x - margin), min(width, x + w + margin), min_side, width)
        boxes.append(Box(top, bottom, left, right))
    merged = True
    while merged:  # union overlapping boxes until stable (few boxes in practice)
        merged = False
        result: list[Box] = []
        for box in boxes:
            for index, other in enumerate(result):
                if box.overlaps(other):
                    result[index] = other.union(box)
                    merged = True
                    break
            else:
                result.append(box)
        boxes = result
    return sorted(boxes, key=lambda b: (b.top, b.left))


def _tile_starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def _windows(mask: np.ndarray, tile: int) -> list[tuple[slice, slice]]:
    """The ``tile`` x ``tile`` windows (overlapping by a quarter) that still hold damage when their turn comes."""
    remaining = mask.copy()
    step = max(1, tile * 3 // 4)
    windows = []
    for top in _tile_starts(mask.shape[0], tile, step):
        for left in _tile_starts(mask.shape[1], tile, step):
            window = slice(top, top + tile), slice(left, left + tile)
            if remaining[window].any():
                windows.append(window)
                remaining[window] = False
    return windows


def _cheapest_windows(mask: np.ndarray, tiles: tuple[int, ...]) -> list[tuple[slice, slice]]:
    """Windows of whichever tile size touches the fewest pixels (larger tiles win ties: more context).

    Dense damage is cheaper in large windows (less overlap); sparse damage in small ones (empty windows are skipped).
    """
    plans = [_windows(mask, tile) for tile in sorted(set(tiles), reverse=True)]
    cost = [sum((w[0].stop - w[0].start) * (w[1].stop - w[1].start) for w in plan) for plan in plans]
    return plans[int(np.argmin(cost))]


def _restore_tiled(restorer: Restorer, image: np.ndarray, mask: np.ndarray, text, tiles: tuple[int, ...]
                   ) -> np.ndarray:
    """Restore ``image`` at its size in overlapping windows, each treating what earlier ones filled as known."""
    work, remaining = image.copy(), mask.copy()
    for window in _cheapest_windows(mask, tiles):
        hole = remaining[window]
        filled = restorer.restore_crop(work[window], hole, text)
        work[window][hole] = filled[hole]
        remaining[window] = False
    return work


def restore_box(restorer: Restorer, image: np.ndarray, mask: np.ndarray, text: torch.Tensor | None) -> np.ndarray:
    """Restore one crop (uint8 ``[h, w, 3]``, bool ``[h, w]``) with scaling and tiling as the restorer needs."""
    if restorer.max_side is None:
        return restorer.restore_crop(image, mask, text)
    size = restorer.max_side
    thickness = 2.0 * float(cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3).max())
    scale = min(1.0, 0.5 * size / max(thickness, 1.0))
    tiles = (size, restorer.tile_side or size)
    if scale >= 1.0:
        return _restore_tiled(restorer, image, mask, text, tiles)
    height, width = mask.shape
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small_image = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.float32), small_size, interpolation=cv2.INTER_AREA) > 0
    restored = _restore_tiled(restorer, small_image, small_mask, text, tiles)
    return cv2.resize(restored, (width, height), interpolation=cv2.INTER_CUBIC)


def restore_regions(restorer: Restorer, image: np.ndarray, mask: np.ndarray, text: torch.Tensor | None = None,
                    boxes: list[Box] | None = None) -> np.ndarray:
    """Restore every damaged region of ``image`` (uint8 ``[H, W, 3]``) under bool ``mask`` ``[H, W]``.

    Returns uint8 ``[H, W, 3]`` equal to ``image`` wherever ``mask`` is False.
    """
    out = image.copy()
    for box in boxes if boxes is not None else plan_boxes(mask, min_side=restorer.max_side or 0):
        crop_mask = mask[box.slices]
        restored = restore_box(restorer, image[box.slices], crop_mask, text)
        out[box.slices] = composite(out[box.slices], restored, crop_mask)
    return out
