"""Shared fixtures: tiny synthetic murals and the optional real data beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

pytest_plugins = ["tests.app_fixtures"]  # the running app server (API and browser tests)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

requires_shared_data = pytest.mark.skipif(
    not (SHARED_DATA / "muraldh-sample").is_dir(),
    reason=f"real mural data not found at {SHARED_DATA} (it lives beside the project, see ../shared/data/README.md)",
)


def synthetic_mural(height: int = 64, width: int = 80, seed: int = 0) -> np.ndarray:
    """uint8 [H, W, 3]: smooth colour fields plus dark outlines, like a simplified mural."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.stack([
        120 + 80 * np.sin(xx / 9.0 + seed),
        110 + 60 * np.cos(yy / 7.0),
        90 + 50 * np.sin((xx + yy) / 11.0),
    ], axis=-1)
    image[(xx + 2 * yy) % 23 == 0] = 30
    return np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def mural() -> np.ndarray:
    return synthetic_mural()


@pytest.fixture
def hole(mural) -> np.ndarray:
    mask = np.zeros(mural.shape[:2], bool)
    mask[20:34, 25:45] = True
    return mask
