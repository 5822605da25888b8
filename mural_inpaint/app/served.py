"""Images sent to the browser, each as a fresh file under a random name.

Two reasons: a name must never say which system made an image (blind rating), and Gradio caches what it sends under
``<content hash>/<file name>``: with a fresh name per response, concurrent requests for the same picture never write
and read the same cache file at once (seen under load as truncated downloads when numpy arrays were returned).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from mural_inpaint.imaging import save_png

_SERVED = Path(tempfile.mkdtemp(prefix="muralxgan-served-"))


_SERVED_MAX_AGE_S = 3600.0
_served_count = 0


def prune_served() -> None:
    """Drop served copies older than an hour (Gradio keeps its own copy of what it sent)."""
    cutoff = time.time() - _SERVED_MAX_AGE_S
    for old in _SERVED.glob("*.png"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


def serve_copy(image: np.ndarray | str) -> str:
    """A copy of an image under a fresh random name (what the browser sees)."""
    global _served_count
    _served_count += 1
    if _served_count % 300 == 0:
        prune_served()
    path = _SERVED / f"{secrets.token_urlsafe(12)}.png"
    if isinstance(image, str):
        shutil.copyfile(image, path)
    else:
        save_png(image, path)
    return str(path)
