"""Images sent to the browser: every showing is a fresh file that nothing links to another showing or to a system.

Gradio copies what a handler returns into its cache under ``<hash of the file's bytes>/<file name>`` and the page
fetches it from ``/gradio_api/file=<that path>``.  So a file name and its bytes are what a rater reading the page
source sees, and both must be fresh for every showing:

- the name is random (never derived from the content or from the stored candidate);
- the bytes carry a random nonce in a private ancillary PNG chunk (``mxPd``; decoders skip it), so the content hash,
  and with it the cache folder, differs at every showing, even of the same image;
- the images of one blind pair are re-encoded by one encoder and padded (in that same chunk) to one byte size, the
  same for every pair of a mural: the larger file no longer gives the shipped model away;
- the files of one showing share one modification time, and Gradio touches each copy as it hands it out, so
  ``Last-Modified`` and ``ETag`` are the moment of the showing, nothing of the stored file.

Decoded pixels are unchanged.  What stays observable is the image itself: a rater who hashes decoded pixels (or has a
good memory) would recognise a candidate shown again, so no rater is ever shown a candidate twice
(:meth:`~mural_inpaint.review.store.Store.issue_pair`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import secrets
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)
_SERVED = Path(tempfile.mkdtemp(prefix="muralxgan-served-"))
_SCRATCH = Path(tempfile.mkdtemp(prefix="muralxgan-scratch-"))
_PRUNE_EVERY_S = 60.0
_last_prune = 0.0

PAD_CHUNK = b"mxPd"  # ancillary (m), private (x), reserved bit clear (P), safe to copy (d)
NONCE_BYTES = 16
_CHUNK_OVERHEAD = 12  # length, type, CRC
SIZE_STEP = 1024  # padded sizes are rounded up to this
DEFAULT_CACHE_MINUTES = 60.0


def cache_minutes() -> float:
    """How long files sent to browsers and downloads are kept (``MURALXGAN_CACHE_MINUTES``, default 60)."""
    from mural_inpaint.app.settings import positive_number

    return positive_number("MURALXGAN_CACHE_MINUTES", DEFAULT_CACHE_MINUTES, "minutes")


def delete_cache_setting() -> tuple[int, int]:
    """``gr.Blocks(delete_cache=(every, age))`` in seconds: Gradio's copies of what was sent are deleted once older
    than the cache time, checked six times per cache time (at most every 10 minutes, at least every second)."""
    age = max(1, round(cache_minutes() * 60))
    return max(1, min(600, age // 6)), age


def prune_served(now: float | None = None) -> int:
    """Drop served copies (Gradio keeps its own copy of what it sent) and scratch folders (restorations to download,
    exports) older than the cache time; returns how many were removed."""
    import shutil

    cutoff = (time.time() if now is None else now) - cache_minutes() * 60
    removed = 0
    for old in _SERVED.glob("*.png"):
        with contextlib.suppress(FileNotFoundError):
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
                removed += 1
    for old in _SCRATCH.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
                removed += 1
    return removed


def _prune_now_and_then() -> None:
    global _last_prune
    if time.monotonic() - _last_prune >= _PRUNE_EVERY_S:
        _last_prune = time.monotonic()
        prune_served()


def scratch_folder(prefix: str) -> Path:
    """A fresh folder for files handed to one visitor (downloads, exports), removed after the cache time."""
    _prune_now_and_then()
    return Path(tempfile.mkdtemp(prefix=prefix, dir=_SCRATCH))


def disk_usage() -> dict[str, int]:
    """Bytes and files now held in the served-copies and scratch folders (for storage figures)."""
    files = [p for root in (_SERVED, _SCRATCH) for p in root.rglob("*") if p.is_file()]
    return {"bytes": sum(p.stat().st_size for p in files), "files": len(files)}


def encode_png(image: np.ndarray | str | os.PathLike) -> bytes:
    """One encoding for everything shown blind: 8-bit RGB PNG with only its critical chunks, no metadata.

    A stored 8-bit RGB PNG (what :func:`~mural_inpaint.imaging.save_png` writes for every mural and candidate) keeps
    its pixel data as it is, only ancillary chunks dropped, so nothing is decoded or compressed again; anything else
    is decoded and written by PIL's PNG encoder with its defaults.
    """
    if not isinstance(image, np.ndarray):
        data = Path(image).read_bytes()
        stripped = _critical_chunks(data)
        if stripped is not None:
            return stripped
        with Image.open(io.BytesIO(data)) as opened:
            image = np.asarray(opened.convert("RGB"))
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def _critical_chunks(data: bytes) -> bytes | None:
    """IHDR + IDAT... + IEND of a non-interlaced 8-bit RGB PNG; None for any other file."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or data[24:27] != b"\x08\x02\x00" or data[28] != 0:
        return None  # (bit depth 8, colour type 2 = RGB, standard compression and filters; byte 28: interlace)
    kept, at = [data[:8]], 8
    while at + 12 <= len(data):
        length = struct.unpack(">I", data[at:at + 4])[0]
        kind = data[at + 4:at + 8]
        end = at + 12 + length
        if end > len(data):
            return None
        if kind in (b"IHDR", b"IDAT", b"IEND"):
            kept.append(data[at:end])
        if kind == b"IEND":
            return b"".join(kept)
        at = end
    return None


def pad_png(png: bytes, size: int | None = None) -> bytes:
    """``png`` with a random-nonce ``mxPd`` chunk before ``IEND``, zero-filled so the file is ``size`` bytes
    (default: the smallest that holds the nonce)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[-12:-8] != b"\x00\x00\x00\x00" or png[-8:-4] != b"IEND":
        raise ValueError("not a PNG ending in IEND")
    smallest = len(png) + _CHUNK_OVERHEAD + NONCE_BYTES
    size = smallest if size is None else size
    if size < smallest:
        raise ValueError(f"cannot pad a {len(png)}-byte PNG to {size} bytes")
    data = secrets.token_bytes(NONCE_BYTES) + bytes(size - smallest)
    chunk = struct.pack(">I", len(data)) + PAD_CHUNK + data + struct.pack(">I", zlib.crc32(PAD_CHUNK + data))
    return png[:-12] + chunk + png[-12:]


def padded_size(largest_png: int) -> int:
    """The size every image of a mural's pairs is padded to, given its largest encoded candidate."""
    smallest = largest_png + _CHUNK_OVERHEAD + NONCE_BYTES
    return -(-smallest // SIZE_STEP) * SIZE_STEP


@lru_cache(maxsize=4096)
def _encoded_size(path: str, stamp: tuple[int, int]) -> int:  # stamp: (mtime_ns, size) of the stored file
    return len(encode_png(path))


def encoded_size(path: str) -> int:
    """Bytes of ``path`` once re-encoded by :func:`encode_png` (computed once per stored file)."""
    stat = os.stat(path)
    return _encoded_size(str(path), (stat.st_mtime_ns, stat.st_size))


def _write_showing(contents: Sequence[bytes]) -> list[str]:
    """Write each content under a fresh random name; all files of one showing get one modification time."""
    _prune_now_and_then()
    stamp = time.time_ns()
    paths = []
    for content in contents:
        path = _SERVED / f"{secrets.token_urlsafe(12)}.png"
        path.write_bytes(content)
        paths.append(path)
    for path in paths:
        os.utime(path, ns=(stamp, stamp))
    return [str(path) for path in paths]


def serve_copy(image: np.ndarray | str) -> str:
    """An image under a fresh random name and with fresh bytes (what the browser sees)."""
    return _write_showing([pad_png(encode_png(image))])[0]


def serve_pair(damaged: np.ndarray | str, left: str, right: str, siblings: Sequence[str] = ()) -> tuple[str, str, str]:
    """One blind showing: the damaged view and the two candidates, the candidates padded to one size.

    ``siblings``: the stored files of every candidate of the mural (those shown included), so that the padded size
    is the same for every pair of the mural, whichever two candidates are shown.
    """
    pictures = [encode_png(left), encode_png(right)]
    largest = max([len(p) for p in pictures] + [encoded_size(path) for path in siblings])
    size = padded_size(largest)
    damaged_view, shown_left, shown_right = _write_showing(
        [pad_png(encode_png(damaged)), *(pad_png(p, size) for p in pictures)])
    return damaged_view, shown_left, shown_right


def clean_gradio_cache(blocks, age_s: float, now: float | None = None) -> int:
    """Delete Gradio's cached copies of what it sent (and of uploads) older than ``age_s``; returns how many.

    Gradio's own cleaner (``delete_cache``) iterates over the live sets of cached files while handlers add to them:
    under load it raises "Set changed size during iteration" and its loop stops for good (Gradio 6.31), so the cache
    grows without bound again.  This does the same work on copies of those sets, and removes the emptied
    content-hash folders too.
    """
    keep: set = set()
    for block in list(blocks.blocks.values()):
        keep |= set(getattr(block, "keep_in_cache", ()))
    cache = Path(blocks.GRADIO_CACHE).resolve()
    cutoff = (time.time() if now is None else now) - age_s
    removed = 0
    for cached in list(blocks.temp_file_sets):
        for file in list(cached):  # (one C call under the GIL: never "changed size during iteration")
            if file in keep:
                continue
            path = Path(file)
            try:
                if path.lstat().st_ctime >= cutoff:
                    continue
                path.unlink()
                removed += 1
            except FileNotFoundError:
                pass
            cached.discard(file)
            with contextlib.suppress(OSError):
                if path.parent.resolve().parent == cache:
                    path.parent.rmdir()  # only when empty
    return removed


class CacheJanitor:
    """Background thread: :func:`clean_gradio_cache` and :func:`prune_served` on the ``delete_cache`` schedule."""

    def __init__(self, blocks):
        self.blocks = blocks
        self.every_s, self.age_s = delete_cache_setting()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="muralxgan-cache", daemon=True)

    def start(self) -> CacheJanitor:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                clean_gradio_cache(self.blocks, self.age_s)
                prune_served()
            except Exception:  # (never let one bad file stop the cleaning for good)
                logger.exception("cleaning the cache failed")

    def stop(self) -> None:
        self._stop.set()
