"""High-resolution strategy: the cost follows the damage, not the image size.

1. Each damaged region gets a context box (its bounding box plus a margin; for learned restorers grown to the
   working size, since context is free up to there); overlapping boxes are merged until none overlap, so every
   region lies wholly inside one box and no box edge cuts through a hole.
2. Each box is restored separately.  For a learned restorer with a working size, a box whose damage is too thick to
   see across at native resolution is downscaled (resize fallback) so the thickest damage spans at most half the
   working size; a box still larger than the working size is then processed in overlapping tiles, so thin cracks
   across a whole wall are restored at full resolution.
   Tiles are the working size or the restorer's larger ``tile_side``, or the whole box as one window (up to the
   restorer's ``whole_box_pixels``), whichever touches fewer pixels: dense damage is cheaper in one window or large
   tiles (no or less overlap), sparse damage in small ones (tiles without damage are skipped).
3. Results are pasted back under the mask only: known pixels stay byte-identical.

Why tiles are cross-faded: tiles of a network disagree, and a tile's fill is worst at its inner edges, where the
window cuts through a hole and hides the context beyond.  Pasting each tile over the last left a straight seam
through large losses (issue 13).  Each tile still sees what earlier tiles filled beside it as known paint
(consistency: it continues their content), but where tiles overlap their fills are cross-faded with smooth weights
that fall to zero towards each tile's inner edges, so no straight line appears inside a fill.  Tiles are kept only
where they own damage, so blending costs no extra tiles.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _rise(width: int) -> np.ndarray:
    """Raised cosine from 0 to 1 over ``width`` pixels, sampled at pixel centres (never exactly 0 or 1)."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(width) + 0.5) / width)).astype(np.float32)


def _axis_weights(starts: list[int], tile: int, length: int) -> list[np.ndarray]:
    """One weight per pixel of each tile's span along one axis; the weights of all tiles sum to 1 everywhere.

    Consecutive tiles cross over by a raised cosine in the last pixels of the earlier tile (half the usual overlap);
    before the cross-over the later tile's weight is 0: there it takes the earlier tiles' fill as known paint.
    """
    ends = [min(start + tile, length) for start in starts]
    ramp = max(1, (tile - max(1, tile * 3 // 4)) // 2)
    bands, previous_end = [], 0
    for index in range(len(starts) - 1):  # the cross-over between tile index and index + 1, disjoint from the last
        width = max(0, min(ramp, ends[index] - starts[index + 1], ends[index] - previous_end))
        bands.append((ends[index] - width, ends[index]))
        previous_end = ends[index]
    weights = []
    for index, (start, end) in enumerate(zip(starts, ends)):
        weight = np.ones(end - start, np.float32)
        if index > 0:
            begin, stop = bands[index - 1]
            weight[:begin - start] = 0.0
            weight[begin - start:stop - start] = _rise(stop - begin)
        if index < len(starts) - 1:
            begin, stop = bands[index]
            weight[begin - start:stop - start] = 1.0 - _rise(stop - begin)
        weights.append(weight)
    return weights


Window = tuple[tuple[slice, slice], np.ndarray, np.ndarray]  # (rows, columns), float32 row and column weights


def _windows(mask: np.ndarray, tile: int) -> list[Window]:
    """The ``tile`` x ``tile`` windows (overlapping by a quarter) that own damage, with their weights (a window's
    weight is the outer product of its row and column weights).

    A window owns the pixels where its weight is at least a half on both axes (the owned cells tile the crop); one
    without damage of its own is skipped.  The owner of a damaged pixel is always kept, so the weights of the windows
    kept sum to at least a quarter there and their weighted mean stays continuous.
    """
    step = max(1, tile * 3 // 4)
    height, width = mask.shape
    row_starts, column_starts = _tile_starts(height, tile, step), _tile_starts(width, tile, step)
    row_weights = _axis_weights(row_starts, tile, height)
    column_weights = _axis_weights(column_starts, tile, width)
    windows = []
    for top, row_weight in zip(row_starts, row_weights):
        rows = top + np.flatnonzero(row_weight >= 0.5)
        for left, column_weight in zip(column_starts, column_weights):
            columns = left + np.flatnonzero(column_weight >= 0.5)
            if mask[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1].any():
                window = slice(top, top + len(row_weight)), slice(left, left + len(column_weight))
                windows.append((window, row_weight, column_weight))
    return windows


def _cheapest_windows(mask: np.ndarray, tiles: tuple[int, ...]) -> list[Window]:
    """Windows of whichever tile size touches the fewest pixels (larger tiles win ties: more context).

    Dense damage is cheaper in large windows (less overlap); sparse damage in small ones (empty windows are skipped).
    """
    plans = [_windows(mask, tile) for tile in sorted(set(tiles), reverse=True)]
    cost = [sum(len(rows) * len(columns) for _, rows, columns in plan) for plan in plans]
    return plans[int(np.argmin(cost))]


def _restore_tiled(restorer: Restorer, image: np.ndarray, mask: np.ndarray, text, tiles: tuple[int, ...]
                   ) -> np.ndarray:
    """Restore ``image`` at its size in overlapping windows whose fills are cross-faded where they overlap.

    A window restores the damage where its weight is positive (and any not filled yet) and takes the rest, which
    earlier windows filled, as known paint; each damaged pixel ends as the weighted mean of the windows that have
    weight there.
    """
    windows = _cheapest_windows(mask, tiles)
    if len(windows) == 1 and windows[0][0] == (slice(0, mask.shape[0]), slice(0, mask.shape[1])):
        # one window over the whole crop (weight 1 everywhere): its fill is the result, as the loop below would give
        return composite(image, restorer.restore_crop(image, mask, text), mask)
    work = image.copy()
    total = np.zeros(image.shape, np.float32)
    weights = np.zeros(mask.shape, np.float32)  # 0: not filled yet
    for window, row_weight, column_weight in windows:
        weight = np.outer(row_weight, column_weight)
        hole = mask[window] & ((weight > 0) | (weights[window] == 0))
        filled = restorer.restore_crop(work[window], hole, text)
        mine = hole & (weight > 0)
        total[window][mine] += weight[mine][:, None] * filled[mine]
        weights[window][mine] += weight[mine]
        work[window][mine] = np.rint(total[window][mine] / weights[window][mine][:, None]).astype(np.uint8)
    return work


def _tile_sides(restorer: Restorer, shape: tuple[int, int]) -> tuple[int, ...]:
    """The window sides :func:`_cheapest_windows` chooses from for a crop of ``shape``: the working size, the
    restorer's larger tile and, for a crop within :attr:`Restorer.whole_box_pixels`, the whole crop at once."""
    sides = (restorer.max_side, restorer.tile_side or restorer.max_side)
    whole = restorer.whole_box_pixels
    return (*sides, max(shape)) if whole is not None and shape[0] * shape[1] <= whole else sides


def restore_box(restorer: Restorer, image: np.ndarray, mask: np.ndarray, text: torch.Tensor | None) -> np.ndarray:
    """Restore one crop (uint8 ``[h, w, 3]``, bool ``[h, w]``) with scaling and tiling as the restorer needs."""
    if restorer.max_side is None:
        return restorer.restore_crop(image, mask, text)
    size = restorer.max_side
    thickness = 2.0 * float(cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 3).max())
    scale = min(1.0, 0.5 * size / max(thickness, 1.0))
    if scale >= 1.0:
        return _restore_tiled(restorer, image, mask, text, _tile_sides(restorer, mask.shape))
    height, width = mask.shape
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small_image = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.float32), small_size, interpolation=cv2.INTER_AREA) > 0
    restored = _restore_tiled(restorer, small_image, small_mask, text, _tile_sides(restorer, small_mask.shape))
    return cv2.resize(restored, (width, height), interpolation=cv2.INTER_CUBIC)


def restore_regions(restorer: Restorer, image: np.ndarray, mask: np.ndarray, text: torch.Tensor | None = None,
                    boxes: list[Box] | None = None, on_region: Callable[[int, int], None] | None = None
                    ) -> np.ndarray:
    """Restore every damaged region of ``image`` (uint8 ``[H, W, 3]``) under bool ``mask`` ``[H, W]``.

    Returns uint8 ``[H, W, 3]`` equal to ``image`` wherever ``mask`` is False.  ``on_region(k, n)`` is called
    before the k-th of n context boxes is restored (progress reports).
    """
    out = image.copy()
    planned = boxes if boxes is not None else plan_boxes(mask, min_side=restorer.max_side or 0)
    for number, box in enumerate(planned, 1):
        if on_region is not None:
            on_region(number, len(planned))
        crop_mask = mask[box.slices]
        restored = restore_box(restorer, image[box.slices], crop_mask, text)
        out[box.slices] = composite(out[box.slices], restored, crop_mask)
    return out
