"""Training sample grids: damaged input (hole in magenta) | restored | ground truth, one row per validation mural."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mural_inpaint.visuals import make_grid, with_hole_shown


def save_sample_grid(path: Path, cases, restored: list[np.ndarray]) -> Path:
    """``cases``: objects with ``name``, ``clean`` uint8 ``[H, W, 3]`` and ``mask`` bool ``[H, W]``."""
    rows = [[with_hole_shown(case.clean, case.mask), output, case.clean] for case, output in zip(cases, restored)]
    path.parent.mkdir(parents=True, exist_ok=True)
    make_grid(rows, ["input (hole magenta)", "restored", "ground truth"], [case.name for case in cases]).save(path)
    return path
