"""Guided patch detail: the surface of the intact paint around a loss, copied into the generator's smooth fill.

For every pixel to texture, PatchMatch (Barnes et al. 2009: random search plus propagation of good matches from
neighbours) finds the intact patch whose *low frequencies* best match the generator's fill around that pixel, and
the pixel takes that patch centre's *high frequencies* (the original minus its Gaussian blur). The generator keeps
deciding colour and broad forms; the copied detail is grain, brush marks and plaster from the same photo, so it
matches the surroundings where a classical fill extrapolates streaks. Copying one centre pixel per match (rather
than averaging overlapping patches) keeps the detail's full strength; averaging blurred it back towards the smudge
on the validation crops. Detail stronger than ``clamp`` times the surrounding ring's spread is clipped, since a
match straddling a strong edge otherwise drops bright fragments into flat paint.
"""

from __future__ import annotations

import cv2
import numpy as np

#: fewer intact patch centres than this and no texture is copied (nothing representative to copy from)
MIN_SOURCES = 64
#: how far around a deep loss intact patches are searched, in pixels
SEARCH_MARGIN = 64
#: most feature values held at once (float32): 64 M, 256 MB
FEATURE_BUDGET = 64 * 2**20
#: width of the ring of intact paint whose detail spread bounds the copied detail
RING = 8


def patch_offsets(patch_size: int) -> np.ndarray:
    """int ``[K, 2]`` (dy, dx) of the pixels compared in a ``patch_size`` patch: every second pixel, so a 9 px
    patch compares 25 pixels, and its corners."""
    radius = patch_size // 2
    steps = np.arange(-radius, radius + 1, 2)
    if steps[-1] != radius:
        steps = np.append(steps, radius)
    return np.stack(np.meshgrid(steps, steps, indexing="ij"), -1).reshape(-1, 2)


def patch_features(image: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """float32 ``[H, W, K*C]``: for each pixel the values of ``image`` ``[H, W, C]`` at ``offsets`` (edges
    replicated)."""
    radius = int(np.abs(offsets).max())
    height, width, channels = image.shape
    padded = np.pad(image, ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    features = np.empty((height, width, len(offsets) * channels), np.float32)
    for k, (dy, dx) in enumerate(offsets):
        features[..., k * channels:(k + 1) * channels] = padded[radius + dy:radius + dy + height,
                                                                radius + dx:radius + dx + width]
    return features


def patchmatch(features: np.ndarray, targets: np.ndarray, sources: np.ndarray, rng: np.random.Generator,
               iterations: int = 6) -> np.ndarray:
    """Approximate nearest intact patch for each target pixel.

    ``features`` float32 ``[H, W, D]``; ``targets`` int ``[N, 2]`` (row, col); ``sources`` bool ``[H, W]`` where a
    patch may be taken from. Returns int ``[N, 2]``: the chosen source pixel of each target, always in ``sources``.
    Each iteration propagates the neighbours' matches (shifted by one pixel, which is what makes the copied detail
    coherent) and then tries random candidates in windows halving from the whole image down to one pixel.
    """
    height, width = sources.shape
    pool = np.argwhere(sources)
    matches = pool[rng.integers(0, len(pool), len(targets))]
    target_features = features[targets[:, 0], targets[:, 1]]
    index = np.full((height, width), -1, np.int64)
    index[targets[:, 0], targets[:, 1]] = np.arange(len(targets))

    def try_candidates(candidates: np.ndarray) -> None:
        """Keep each candidate that is a better match; only candidates that are new and inside ``sources`` are
        scored (a repeat of the current match, or a source outside, could never win: the same result, less work)."""
        rows, cols = candidates[:, 0], candidates[:, 1]
        fresh = (rows != matches[:, 0]) | (cols != matches[:, 1])
        fresh &= (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        fresh[fresh] = sources[rows[fresh], cols[fresh]]
        which = np.flatnonzero(fresh)
        if not len(which):
            return
        distance = np.square(features[rows[which], cols[which]] - target_features[which]).sum(axis=1)
        better = distance < best[which]
        chosen = which[better]
        matches[chosen], best[chosen] = candidates[chosen], distance[better]

    best = np.square(features[matches[:, 0], matches[:, 1]] - target_features).sum(axis=1)
    for _ in range(iterations):
        for step in ((0, -1), (-1, 0), (0, 1), (1, 0)):
            rows, cols = targets[:, 0] + step[0], targets[:, 1] + step[1]
            inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
            neighbour = np.where(inside, index[rows.clip(0, height - 1), cols.clip(0, width - 1)], -1)
            has = neighbour >= 0
            candidates = matches.copy()
            candidates[has] = matches[neighbour[has]] - step
            try_candidates(candidates)
        radius = max(height, width)
        while radius >= 1:
            try_candidates(matches + rng.integers(-radius, radius + 1, matches.shape))
            radius //= 2
    return matches


def guided_patch_detail(restored: np.ndarray, mask: np.ndarray, where: np.ndarray, *, sigma: float,
                        patch_size: int, clamp: float, seed: int = 0) -> np.ndarray:
    """float32 ``[H, W, 3]`` detail to add to ``restored`` at the pixels of ``where`` (0 elsewhere).

    ``restored`` uint8 ``[H, W, 3]``: the generator's restoration (known pixels are the photo's); ``mask`` bool
    ``[H, W]``, True = damage (no patch overlapping it is a source); ``where`` bool ``[H, W]`` within ``mask``.
    Each connected deep loss is matched within :data:`SEARCH_MARGIN` px of itself, so the cost follows the losses,
    not the image. Deterministic for a given ``seed``.
    """
    pixels = restored.astype(np.float32)
    low = cv2.GaussianBlur(pixels, (0, 0), sigma)
    high = pixels - low
    out = np.zeros_like(pixels)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(where.astype(np.uint8), connectivity=8)
    if count < 2:
        return out
    offsets = patch_offsets(patch_size)
    radius = patch_size // 2
    near_damage = cv2.dilate(mask.astype(np.uint8), np.ones((patch_size, patch_size), np.uint8)) > 0
    rng = np.random.default_rng(seed)
    height, width = mask.shape
    boxes = [(slice(max(0, top - SEARCH_MARGIN), min(height, top + box_h + SEARCH_MARGIN)),
              slice(max(0, left - SEARCH_MARGIN), min(width, left + box_w + SEARCH_MARGIN)))
             for left, top, box_w, box_h in stats[1:, :4]]
    # many small losses (cracks) share one feature array: the same values as per-box arrays, since no source lies
    # within a patch of a box's edge and every target is SEARCH_MARGIN inside it (or at the image's own edge)
    union = (slice(min(b[0].start for b in boxes), max(b[0].stop for b in boxes)),
             slice(min(b[1].start for b in boxes), max(b[1].stop for b in boxes)))
    shared = None
    union_pixels = (union[0].stop - union[0].start) * (union[1].stop - union[1].start)
    if union_pixels * len(offsets) * 3 <= FEATURE_BUDGET:
        shared = patch_features(low[union], offsets)
    for label, box in enumerate(boxes, start=1):
        sources = ~near_damage[box]
        sources[:radius], sources[len(sources) - radius:] = False, False
        sources[:, :radius], sources[:, sources.shape[1] - radius:] = False, False
        if sources.sum() < MIN_SOURCES:
            continue
        targets = np.argwhere(labels[box] == label)
        if shared is None:
            features = patch_features(low[box], offsets)
        else:
            features = shared[box[0].start - union[0].start:box[0].stop - union[0].start,
                              box[1].start - union[1].start:box[1].stop - union[1].start]
        matches = patchmatch(features, targets, sources, rng)
        copied = high[box][matches[:, 0], matches[:, 1]]
        limit = clamp * _ring_spread(high[box], mask[box])
        out[box][targets[:, 0], targets[:, 1]] = np.clip(copied, -limit, limit)
    return out


def _ring_spread(high: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-channel standard deviation of the detail ``high`` in the intact ring around ``mask``."""
    ring = (cv2.dilate(mask.astype(np.uint8), np.ones((2 * RING + 1, 2 * RING + 1), np.uint8)) > 0) & ~mask
    if not ring.any():
        ring = ~mask
    return high[ring].std(axis=0)
