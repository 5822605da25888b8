"""Counterfactual samples: the lost paint recoloured to another pigment of the palette, the caption changed to match.

Where the surroundings say what a loss held, a network can ignore the text and still be right; then it never learns
to listen.  Recolouring what lies under the mask in the *target* (the input never shows it) makes the description the
only source of the right colour, so training on such samples teaches the generator to follow named pigments.
The recolouring keeps the region's luminance texture (brush marks, outlines, grain) and moves its mean lightness and
its chroma to an aged anchor colour of the new pigment, so the target still looks like painted plaster.
"""

from __future__ import annotations

import numpy as np

from mural_inpaint.palette import DUNHUANG_PALETTE, dominant_pigment, srgb_to_lab

#: how much of the region's own lightness and chroma variation survives the recolouring
KEEP_LIGHTNESS_DETAIL = 0.9
KEEP_CHROMA_DETAIL = 0.35


def recolour_region(clean: np.ndarray, mask: np.ndarray, pigment: int, rng: np.random.Generator) -> np.ndarray:
    """``clean`` uint8 ``[H, W, 3]`` with the pixels under ``mask`` (bool ``[H, W]``) recoloured to ``pigment``
    (index into :data:`DUNHUANG_PALETTE`, one of its anchors drawn by ``rng``); pixels outside stay identical."""
    from skimage.color import lab2rgb

    anchors = DUNHUANG_PALETTE[pigment].anchors_srgb
    anchor = srgb_to_lab(np.array(anchors[int(rng.integers(len(anchors)))], np.uint8))
    lab = srgb_to_lab(clean[mask])  # [N, 3]
    mean = lab.mean(axis=0)
    new = np.empty_like(lab)
    new[:, 0] = anchor[0] + KEEP_LIGHTNESS_DETAIL * (lab[:, 0] - mean[0])
    new[:, 1:] = anchor[1:] + KEEP_CHROMA_DETAIL * (lab[:, 1:] - mean[1:])
    new[:, 0] = np.clip(new[:, 0], 0, 100)
    rgb = lab2rgb(new.reshape(-1, 1, 3)).reshape(-1, 3)
    out = clean.copy()
    out[mask] = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    return out


def other_pigment(clean: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> int:
    """A palette pigment that is not the one the region mostly holds (drawn uniformly among the others)."""
    held = dominant_pigment(clean, mask)
    choices = [index for index in range(len(DUNHUANG_PALETTE)) if index != held]
    return int(choices[int(rng.integers(len(choices)))])


def conservator_sentence(pigment: int, rng: np.random.Generator) -> str:
    """A short sentence such as a conservator writes about what a loss held, naming ``pigment``."""
    name = DUNHUANG_PALETTE[pigment].name
    templates = ("The lost paint in the damaged area was {}.", "The missing area was painted in {}.",
                 "Originally {} here.", "The loss held {}.")
    return templates[int(rng.integers(len(templates)))].format(name)
