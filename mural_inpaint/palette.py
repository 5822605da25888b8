"""The Dunhuang palette: named historical pigments with aged sRGB anchors, and nearest-pigment classification.

Anchors are approximate colours of each pigment as it looks on the walls today (faded, soiled, under old varnish),
not fresh pigment swatches; several anchors per pigment cover its common aged states.  Classification is by
nearest anchor in CIELAB with the CIEDE2000 difference, which follows perceived colour closely.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Pigment:
    name: str
    anchors_srgb: tuple[tuple[int, int, int], ...]


DUNHUANG_PALETTE: tuple[Pigment, ...] = (
    Pigment("cinnabar / vermilion red", ((188, 62, 46), (164, 52, 42), (205, 95, 75))),
    Pigment("red ochre", ((156, 88, 62), (134, 72, 52), (176, 110, 80))),
    Pigment("malachite green", ((92, 148, 118), (70, 118, 94), (126, 166, 136), (60, 100, 85))),
    Pigment("azurite / lapis blue", ((66, 100, 150), (92, 126, 162), (42, 66, 112))),
    Pigment("orpiment yellow", ((214, 180, 92), (196, 160, 72))),
    Pigment("lead / kaolin white", ((226, 216, 196), (240, 234, 220), (206, 198, 182))),
    Pigment("carbon black", ((40, 36, 33), (66, 60, 56))),
    Pigment("darkened lead brown-black", ((98, 70, 56), (82, 60, 50))),
    Pigment("earthen clay ground", ((186, 152, 112), (200, 172, 134), (168, 136, 100))),
)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 ``[..., 3]`` sRGB -> float ``[..., 3]`` CIELAB (D65)."""
    from skimage.color import rgb2lab

    flat = rgb.reshape(-1, 1, 3).astype(np.float64) / 255.0
    return rgb2lab(flat).reshape((*rgb.shape[:-1], 3))


@lru_cache(maxsize=1)
def _anchor_table() -> tuple[np.ndarray, np.ndarray]:
    anchors, owners = [], []
    for index, pigment in enumerate(DUNHUANG_PALETTE):
        for rgb in pigment.anchors_srgb:
            anchors.append(rgb)
            owners.append(index)
    return srgb_to_lab(np.array(anchors, np.uint8)), np.array(owners)


@lru_cache(maxsize=1)
def _nearest_by_colour() -> np.ndarray:
    """Nearest pigment per 24-bit colour, filled in as colours are met (255 = not classified yet).

    Classification stays exact; the table only spares repeating CIEDE2000 for colours seen before (16 MB a process).
    """
    return np.full(1 << 24, 255, np.uint8)


def _classify_exactly(pixels: np.ndarray) -> np.ndarray:
    from skimage.color import deltaE_ciede2000

    anchors_lab, owners = _anchor_table()
    lab = srgb_to_lab(pixels.reshape(-1, 3))
    distances = deltaE_ciede2000(lab[:, None, :], anchors_lab[None, :, :])
    return owners[np.argmin(distances, axis=1)]


def classify_pigments(pixels: np.ndarray) -> np.ndarray:
    """uint8 ``[N, 3]`` sRGB pixels -> int ``[N]`` index into :data:`DUNHUANG_PALETTE` (nearest by CIEDE2000)."""
    nearest = _nearest_by_colour()
    rgb = pixels.reshape(-1, 3).astype(np.int64)
    codes = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    new = np.unique(codes[nearest[codes] == 255])
    if len(new):
        colours = np.stack([new >> 16, (new >> 8) & 255, new & 255], axis=1).astype(np.uint8)
        nearest[new] = _classify_exactly(colours)
    return nearest[codes].astype(np.int64)


def pigment_shares(pixels: np.ndarray, max_samples: int = 8000, seed: int = 0) -> list[tuple[str, float]]:
    """Fractions of ``pixels`` (uint8 ``[N, 3]``) nearest to each pigment, largest first (fractions sum to 1)."""
    if len(pixels) == 0:
        return []
    if len(pixels) > max_samples:  # a fixed-seed subsample keeps descriptions deterministic and fast
        pixels = pixels[np.random.default_rng(seed).choice(len(pixels), max_samples, replace=False)]
    counts = np.bincount(classify_pigments(pixels), minlength=len(DUNHUANG_PALETTE))
    shares = counts / counts.sum()
    order = np.argsort(-shares, kind="stable")
    return [(DUNHUANG_PALETTE[i].name, float(shares[i])) for i in order if shares[i] > 0]


def mean_colour_lab(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """CIELAB ``[3]`` of the mean sRGB colour of ``image`` (uint8 ``[H, W, 3]``) under ``mask`` (bool ``[H, W]``):
    the colour the eye averages at viewing distance."""
    mean_rgb = np.clip(np.rint(image[mask].astype(np.float64).mean(axis=0)), 0, 255).astype(np.uint8)
    return srgb_to_lab(mean_rgb)


def mean_colour_difference(first: np.ndarray, second: np.ndarray, mask: np.ndarray) -> float:
    """CIEDE2000 between the mean colours of two images under ``mask``; about 2 is a just visible difference."""
    from skimage.color import deltaE_ciede2000

    return float(deltaE_ciede2000(mean_colour_lab(first, mask), mean_colour_lab(second, mask)))


def dominant_pigment(clean: np.ndarray, mask: np.ndarray) -> int:
    """The palette pigment most of the region under ``mask`` is nearest to."""
    pixels = clean[mask][:: max(1, int(mask.sum()) // 4000)]
    return int(np.argmax(np.bincount(classify_pigments(pixels), minlength=len(DUNHUANG_PALETTE))))
