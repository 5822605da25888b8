"""The texture stage for sizeable losses (see :class:`mural_inpaint.models.config.TextureConfig`).

Runs after the generator on each crop it restores, only around the deep part of the damage (its cost follows the
large losses, not the crop), and adds high frequencies to the generator's output there, weighted by depth into the
loss. They come either from intact patches of the same photo matched to the generator's fill (``method: patch``,
:mod:`mural_inpaint.restorers.patch_detail`) or from a classical restorer's fill (``method``: its registry name).
"""

from __future__ import annotations

import cv2
import numpy as np

from mural_inpaint.models.config import TextureConfig
from mural_inpaint.restorers.base import Restorer


def depth_into_damage(mask: np.ndarray) -> np.ndarray:
    """float32 ``[H, W]``: distance in px from each damaged pixel of bool ``mask`` to the nearest intact one (0 on
    intact paint).  The crop's border is not intact paint: a window's edge can cut through a loss."""
    return cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)


def depth_weights(mask: np.ndarray, config: TextureConfig) -> np.ndarray:
    """float32 ``[H, W]`` in ``[0, 1]``: 0 within ``depth_from`` px of intact paint, 1 from ``depth_full`` px on."""
    depth = depth_into_damage(mask)
    span = max(config.depth_full - config.depth_from, 1e-6)
    return np.clip((depth - config.depth_from) / span, 0.0, 1.0).astype(np.float32)


def detail(image: np.ndarray, sigma: float) -> np.ndarray:
    """float32 ``[H, W, 3]``: ``image`` minus its Gaussian blur (what a smooth fill lacks)."""
    pixels = image.astype(np.float32)
    return pixels - cv2.GaussianBlur(pixels, (0, 0), sigma)


def add_texture(restored: np.ndarray, image: np.ndarray, mask: np.ndarray, source: Restorer | None,
                config: TextureConfig) -> np.ndarray:
    """``restored`` uint8 ``[H, W, 3]`` (the generator's fill of ``image``'s ``mask``, bool ``[H, W]``) with detail
    added in the deep part of the damage; unchanged where the damage is thin or absent. ``source``: the classical
    restorer whose fill lends its detail (None for ``method: patch``, which copies from the photo itself)."""
    weights = depth_weights(mask, config)
    if not weights.any():
        return restored
    if config.method == "patch":
        from mural_inpaint.restorers.patch_detail import guided_patch_detail

        added = guided_patch_detail(restored, mask, weights > 0, sigma=config.sigma, patch_size=config.patch_size,
                                    clamp=config.clamp, seed=config.seed)
        return _added(restored, weights[..., None] * (config.strength * added))
    rows, cols = np.flatnonzero(weights.any(axis=1)), np.flatnonzero(weights.any(axis=0))
    margin = round(config.depth_full + 4 * config.sigma) + 8  # context for the fill and the blur
    top, bottom = max(0, rows[0] - margin), min(mask.shape[0], rows[-1] + 1 + margin)
    left, right = max(0, cols[0] - margin), min(mask.shape[1], cols[-1] + 1 + margin)
    box = (slice(top, bottom), slice(left, right))
    fill = source.restore_crop(np.ascontiguousarray(image[box]), np.ascontiguousarray(mask[box]))
    added = np.zeros(restored.shape, np.float32)
    added[box] = config.strength * weights[box][..., None] * detail(fill, config.sigma)
    return _added(restored, added)


def _added(restored: np.ndarray, added: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(restored.astype(np.float32) + added), 0, 255).astype(np.uint8)
