"""Synthetic and real damage masks for training, tests and benchmarks.

All generators return bool ``[H, W]`` masks (True = damage) and take a ``numpy.random.Generator`` so results are
reproducible for a seed.  The shapes imitate what conservators see on Dunhuang walls:

- ``crack``: thin branching fissures whose width tapers along their length;
- ``flake``: clustered, ragged-edged losses where the paint layer peels off the ground;
- ``stroke``: free-form brush strokes (the usual inpainting benchmark masks);
- ``box``: rectangular losses (cut-outs, missing panels).

:class:`MaskBank` samples crops of real traced damage masks (e.g. ``../shared/data/real-damage-masks``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mural_inpaint.errors import InputError
from mural_inpaint.imaging import IMAGE_SUFFIXES, load_mask

MaskGenerator = Callable[[int, int, np.random.Generator], np.ndarray]


def crack_mask(height: int, width: int, rng: np.random.Generator, *, cracks: int | None = None) -> np.ndarray:
    """Thin branching cracks: random walks with slowly turning direction, tapering from ~0.8 % of the side to 1 px."""
    canvas = np.zeros((height, width), np.uint8)
    side = min(height, width)
    cracks = cracks if cracks is not None else int(rng.integers(1, 4))
    todo = []
    for _ in range(cracks):
        start = np.array([rng.uniform(0, width), rng.uniform(0, height)])
        todo.append((start, rng.uniform(0, 2 * math.pi), max(2.0, side * rng.uniform(0.006, 0.012)), 0))
    while todo:
        point, angle, thickness, depth = todo.pop()
        steps = int(rng.integers(20, 45))
        step = side * rng.uniform(0.012, 0.025)
        for i in range(steps):
            angle += rng.normal(0, 0.35)
            nxt = point + step * np.array([math.cos(angle), math.sin(angle)])
            width_now = max(1, round(thickness * (1 - i / steps)))
            cv2.line(canvas, tuple(int(v) for v in point), tuple(int(v) for v in nxt), 1, width_now, cv2.LINE_8)
            point = nxt
            if depth < 2 and rng.random() < 0.06:  # a side branch, thinner than its parent
                turn = rng.choice([-1, 1]) * rng.uniform(0.5, 1.2)
                todo.append((point.copy(), angle + turn, width_now * 0.7, depth + 1))
            if not (-0.1 * width < point[0] < 1.1 * width and -0.1 * height < point[1] < 1.1 * height):
                break
    return canvas.astype(bool)


def _ragged_blob(size: int, rng: np.random.Generator) -> np.ndarray:
    """One irregular flake: an ellipse whose edge is roughened by smoothed noise."""
    size = max(size, 4)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = (size - 1) / 2
    ax, ay = centre * rng.uniform(0.6, 1.0), centre * rng.uniform(0.4, 1.0)
    theta = rng.uniform(0, math.pi)
    dx, dy = xx - centre, yy - centre
    rx = (dx * math.cos(theta) + dy * math.sin(theta)) / max(ax, 1)
    ry = (-dx * math.sin(theta) + dy * math.cos(theta)) / max(ay, 1)
    noise = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), max(1.0, size / 10))
    noise /= noise.std() + 1e-6
    return (rx**2 + ry**2) < (0.75 + 0.25 * noise)


def flake_mask(height: int, width: int, rng: np.random.Generator, *, clusters: int | None = None) -> np.ndarray:
    """Flaking / peeling: 1-3 clusters of ragged blobs of mixed sizes."""
    mask = np.zeros((height, width), bool)
    side = min(height, width)
    for _ in range(clusters if clusters is not None else int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        spread = side * rng.uniform(0.05, 0.18)
        for _ in range(int(rng.integers(3, 12))):
            size = int(side * rng.uniform(0.02, 0.12))
            y = int(cy + rng.normal(0, spread)) - size // 2
            x = int(cx + rng.normal(0, spread)) - size // 2
            blob = _ragged_blob(size, rng)
            y0, x0 = max(y, 0), max(x, 0)
            y1, x1 = min(y + blob.shape[0], height), min(x + blob.shape[1], width)
            if y1 > y0 and x1 > x0:
                mask[y0:y1, x0:x1] |= blob[y0 - y : y1 - y, x0 - x : x1 - x]
    return mask


def stroke_mask(height: int, width: int, rng: np.random.Generator, *, strokes: int | None = None) -> np.ndarray:
    """Free-form brush strokes: thick polylines with round joints."""
    canvas = np.zeros((height, width), np.uint8)
    side = min(height, width)
    for _ in range(strokes if strokes is not None else int(rng.integers(1, 4))):
        point = np.array([rng.uniform(0, width), rng.uniform(0, height)])
        brush = max(2, int(side * rng.uniform(0.02, 0.06)))
        angle = rng.uniform(0, 2 * math.pi)
        for _ in range(int(rng.integers(3, 9))):
            angle += rng.normal(0, 0.9)
            length = side * rng.uniform(0.05, 0.2)
            nxt = np.clip(point + length * np.array([math.cos(angle), math.sin(angle)]), 0, [width - 1, height - 1])
            cv2.line(canvas, tuple(int(v) for v in point), tuple(int(v) for v in nxt), 1, brush)
            cv2.circle(canvas, tuple(int(v) for v in nxt), brush // 2, 1, -1)
            point = nxt
    return canvas.astype(bool)


def box_mask(height: int, width: int, rng: np.random.Generator, *, boxes: int | None = None) -> np.ndarray:
    """Rectangular losses, each 8-35 % of the side."""
    mask = np.zeros((height, width), bool)
    for _ in range(boxes if boxes is not None else int(rng.integers(1, 3))):
        bh, bw = int(height * rng.uniform(0.08, 0.35)), int(width * rng.uniform(0.08, 0.35))
        y, x = int(rng.integers(0, max(height - bh, 1))), int(rng.integers(0, max(width - bw, 1)))
        mask[y : y + bh, x : x + bw] = True
    return mask


def large_loss_mask(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """One contiguous sizeable loss: a box of 25-39 % of the shorter side (64-100 px on a 256 px crop) and a ragged
    blob overlapping one of its corners, as when a panel of paint falls away with the plaster around it.

    This is the benchmark's large-loss protocol (8-20 % of a 256 px crop, see the ``large`` preset): the losses where
    the surroundings no longer say what was there.
    """
    side = min(height, width)
    mask = np.zeros((height, width), bool)
    bh, bw = (max(2, round(side * rng.uniform(0.25, 0.39))) for _ in range(2))
    y, x = int(rng.integers(0, max(height - bh, 1))), int(rng.integers(0, max(width - bw, 1)))
    mask[y : y + bh, x : x + bw] = True
    size = max(4, round(min(bh, bw) * rng.uniform(0.5, 0.9)))
    blob = _ragged_blob(size, rng)
    cy = y + (bh if rng.random() < 0.5 else 0) - size // 2  # centred on a corner, so the two always overlap
    cx = x + (bw if rng.random() < 0.5 else 0) - size // 2
    y0, x0 = max(cy, 0), max(cx, 0)
    y1, x1 = min(cy + size, height), min(cx + size, width)
    if y1 > y0 and x1 > x0:
        mask[y0:y1, x0:x1] |= blob[y0 - cy : y1 - cy, x0 - cx : x1 - cx]
    # a ragged blob can leave a speck apart from the box: keep only the piece the box belongs to
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    return labels == labels[y, x]


GENERATORS: dict[str, MaskGenerator] = {
    "crack": crack_mask,
    "flake": flake_mask,
    "stroke": stroke_mask,
    "box": box_mask,
    "large": large_loss_mask,
}


@dataclass(frozen=True)
class DamagePreset:
    """A named recipe: which generators to combine and the damaged-area fraction to land in."""

    kinds: tuple[str, ...]
    min_fraction: float
    max_fraction: float


PRESETS: dict[str, DamagePreset] = {
    "crack": DamagePreset(("crack",), 0.005, 0.08),
    "flake": DamagePreset(("flake",), 0.02, 0.30),
    "stroke": DamagePreset(("stroke",), 0.03, 0.30),
    "box": DamagePreset(("box",), 0.02, 0.30),
    "light": DamagePreset(("crack", "flake"), 0.01, 0.10),
    "mixed": DamagePreset(("crack", "flake", "stroke"), 0.05, 0.30),
    "heavy": DamagePreset(("flake", "stroke", "box"), 0.25, 0.50),
    "large": DamagePreset(("large",), 0.08, 0.20),  # exactly one contiguous loss: never layered (see below)
}


def synthesize_damage(height: int, width: int, preset: str, rng: np.random.Generator, attempts: int = 20) -> np.ndarray:
    """A bool ``[H, W]`` mask from a named preset whose damaged fraction lies in the preset's range.

    Generators of the preset are layered until the fraction reaches the minimum; a draw that overshoots the maximum
    is retried (up to ``attempts``), after which the closest draw is returned.
    """
    if preset not in PRESETS:
        raise InputError(f"Unknown damage preset {preset!r}. Available: {', '.join(PRESETS)}.")
    spec = PRESETS[preset]
    best, best_gap = None, math.inf
    for _ in range(attempts):
        mask = np.zeros((height, width), bool)
        for _ in range(1 if spec.kinds == ("large",) else 8):
            mask |= GENERATORS[spec.kinds[int(rng.integers(len(spec.kinds)))]](height, width, rng)
            if mask.mean() >= spec.min_fraction:
                break
        fraction = float(mask.mean())
        if spec.min_fraction <= fraction <= spec.max_fraction:
            return mask
        gap = spec.min_fraction - fraction if fraction < spec.min_fraction else fraction - spec.max_fraction
        if gap < best_gap:
            best, best_gap = mask, gap
    return best


@dataclass
class MaskBank:
    """Real traced damage masks, sampled as random crops at a requested size.

    ``masks`` are bool arrays of any size.  :meth:`sample` takes a random crop covering between ``min_zoom`` and
    100 % of the mask's shorter side, resizes it (nearest neighbour, so edges stay binary) to the requested size,
    flips / rotates it, and keeps it if its damaged fraction lies in ``[min_fraction, max_fraction]``.
    """

    masks: list[np.ndarray]
    names: list[str] = field(default_factory=list)
    min_fraction: float = 0.01
    max_fraction: float = 0.45
    min_zoom: float = 0.3

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, **options) -> MaskBank:
        """Every image file below ``folder`` (recursively), white / 255 = damage."""
        root = Path(folder)
        if not root.is_dir():
            raise InputError(f"Mask bank folder not found: {root}.")
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"Mask bank folder {root} holds no mask images.")
        masks = [load_mask(p) for p in files]
        return cls(masks=masks, names=[str(p.relative_to(root)) for p in files], **options)

    def __len__(self) -> int:
        return len(self.masks)

    def sample(self, height: int, width: int, rng: np.random.Generator, attempts: int = 30) -> np.ndarray:
        """A bool ``[height, width]`` crop of a random real mask."""
        best, best_gap = None, math.inf
        for _ in range(attempts):
            source = self.masks[int(rng.integers(len(self.masks)))]
            sh, sw = source.shape
            zoom = rng.uniform(self.min_zoom, 1.0)
            ch = max(1, min(sh, round(min(sh, sw) * zoom * height / max(height, width))))
            cw = max(1, min(sw, round(min(sh, sw) * zoom * width / max(height, width))))
            y, x = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
            crop = source[y : y + ch, x : x + cw].astype(np.uint8)
            crop = cv2.resize(crop, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            if rng.random() < 0.5:
                crop = crop[::-1, :]
            fraction = float(crop.mean())
            if self.min_fraction <= fraction <= self.max_fraction:
                return np.ascontiguousarray(crop)
            gap = self.min_fraction - fraction if fraction < self.min_fraction else fraction - self.max_fraction
            if gap < best_gap:
                best, best_gap = np.ascontiguousarray(crop), gap
        return best
