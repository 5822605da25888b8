"""The texture stage for sizeable losses (see :class:`mural_inpaint.models.config.TextureConfig`).

Runs after the generator on each crop it restores: the classical fill is computed only over the box around the deep
part of the damage (its cost follows the large losses, not the crop), and its high frequencies are added to the
generator's output there, weighted by depth into the loss.
"""

from __future__ import annotations

import cv2
import numpy as np

from mural_inpaint.models.config import TextureConfig
from mural_inpaint.restorers.base import Restorer


def depth_weights(mask: np.ndarray, config: TextureConfig) -> np.ndarray:
    """float32 ``[H, W]`` in ``[0, 1]``: 0 within ``depth_from`` px of intact paint, 1 from ``depth_full`` px on."""
    depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    span = max(config.depth_full - config.depth_from, 1e-6)
    return np.clip((depth - config.depth_from) / span, 0.0, 1.0).astype(np.float32)


def detail(image: np.ndarray, sigma: float) -> np.ndarray:
    """float32 ``[H, W, 3]``: ``image`` minus its Gaussian blur (what a smooth fill lacks)."""
    pixels = image.astype(np.float32)
    return pixels - cv2.GaussianBlur(pixels, (0, 0), sigma)


def add_texture(restored: np.ndarray, image: np.ndarray, mask: np.ndarray, source: Restorer,
                config: TextureConfig) -> np.ndarray:
    """``restored`` uint8 ``[H, W, 3]`` (the generator's fill of ``image``'s ``mask``) with ``source``'s detail added
    in the deep part of the damage; unchanged where the damage is thin or absent."""
    weights = depth_weights(mask, config)
    if not weights.any():
        return restored
    rows, cols = np.flatnonzero(weights.any(axis=1)), np.flatnonzero(weights.any(axis=0))
    margin = round(config.depth_full + 4 * config.sigma) + 8  # context for the fill and the blur
    top, bottom = max(0, rows[0] - margin), min(mask.shape[0], rows[-1] + 1 + margin)
    left, right = max(0, cols[0] - margin), min(mask.shape[1], cols[-1] + 1 + margin)
    box = (slice(top, bottom), slice(left, right))
    fill = source.restore_crop(np.ascontiguousarray(image[box]), np.ascontiguousarray(mask[box]))
    textured = restored.astype(np.float32)
    textured[box] += config.strength * weights[box][..., None] * detail(fill, config.sigma)
    return np.clip(np.rint(textured), 0, 255).astype(np.uint8)
