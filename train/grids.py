"""Training sample grids: damaged input (hole in magenta) | restored | ground truth, one row per validation mural."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mural_inpaint.visuals import make_grid, with_hole_shown


def save_sample_grid(path: Path, cases, restored: list[np.ndarray]) -> Path:
    """``cases``: :class:`mural_inpaint.data.cases.Case` (``name``, ``reference`` uint8 ``[H, W, 3]``, ``mask``
    bool)."""
    rows = [[with_hole_shown(case.reference, case.mask), output, case.reference]
            for case, output in zip(cases, restored)]
    path.parent.mkdir(parents=True, exist_ok=True)
    make_grid(rows, ["input (hole magenta)", "restored", "ground truth"], [case.name for case in cases]).save(path)
    return path
