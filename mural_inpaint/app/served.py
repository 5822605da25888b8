"""Images sent to the browser: every showing is a fresh file that nothing links to another showing or to a system.

Gradio copies what a handler returns into its cache under ``<hash of the file's bytes>/<file name>`` and the page
fetches it from ``/gradio_api/file=<that path>``.  So a file name and its bytes are what a rater reading the page
source sees, and both must be fresh for every showing:

- the name is random (never derived from the content or from the stored candidate);
- the bytes carry a random nonce in a private ancillary PNG chunk (``mxPd``; decoders skip it), so the content hash,
  and with it the cache folder, differs at every showing, even of the same image;
- the images of one blind pair are re-encoded by one encoder and padded (in that same chunk) to one byte size, the
  same for every pair of a mural: the larger file no longer gives the shipped model away;
- the files of one showing share one modification time, so ``Last-Modified`` and ``ETag`` say nothing either.

Decoded pixels are unchanged.  What stays observable is the image itself: a rater who hashes decoded pixels can
recognise a candidate shown again, as one with a good memory can.
"""

from __future__ import annotations

import io
import os
import secrets
import struct
import tempfile
import time
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

_SERVED = Path(tempfile.mkdtemp(prefix="muralxgan-served-"))
_SERVED_MAX_AGE_S = 3600.0
_served_count = 0

PAD_CHUNK = b"mxPd"  # ancillary (m), private (x), reserved bit clear (P), safe to copy (d)
NONCE_BYTES = 16
_CHUNK_OVERHEAD = 12  # length, type, CRC
SIZE_STEP = 1024  # padded sizes are rounded up to this


def prune_served() -> None:
    """Drop served copies older than an hour (Gradio keeps its own copy of what it sent)."""
    cutoff = time.time() - _SERVED_MAX_AGE_S
    for old in _SERVED.glob("*.png"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


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
    global _served_count
    _served_count += len(contents)
    if _served_count % 300 < len(contents):
        prune_served()
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
