"""Shared fixtures (tiny synthetic murals) and the running app server plugin; helpers live in tests/helpers.py."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from tests.helpers import synthetic_mural

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# ONNX graphs exported for the tests' tiny checkpoints go to a folder of this run, never the user's cache
os.environ.setdefault("MURALXGAN_CACHE_DIR", tempfile.mkdtemp(prefix="muralxgan-test-cache-"))

pytest_plugins = ["tests.app_fixtures"]  # the running app server (API and browser tests)


@pytest.fixture
def mural() -> np.ndarray:
    return synthetic_mural()


@pytest.fixture
def hole(mural) -> np.ndarray:
    mask = np.zeros(mural.shape[:2], bool)
    mask[20:34, 25:45] = True
    return mask
