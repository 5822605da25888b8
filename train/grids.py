"""Sample grids: damaged input (hole in magenta) | restored | ground truth, one row per validation mural."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mural_inpaint.imaging import save_png

MAGENTA = np.array([255, 0, 255], np.uint8)


def save_sample_grid(path: Path, cases, restored: list[np.ndarray]) -> Path:
    """``cases``: objects with ``clean`` uint8 ``[H, W, 3]`` and ``mask`` bool ``[H, W]``; rows share one size."""
    rows = []
    for case, output in zip(cases, restored):
        damaged = case.clean.copy()
        damaged[case.mask] = MAGENTA
        rows.append(np.concatenate([damaged, output, case.clean], axis=1))
    return save_png(np.concatenate(rows, axis=0), path)
