"""What visitors upload, read the way the command line reads files: one loader, bounded, with the package's messages.

The Restore tab's photo reaches the handler as the uploaded file itself (:func:`~mural_inpaint.app.photo_editor.
photo_editor` never lets Gradio decode it), so the app and ``muralxgan restore`` share :mod:`mural_inpaint.imaging`:
EXIF orientation applied (a painted or uploaded mask lines up with the photo as it is displayed), 16-bit scaled to
8-bit (not clipped), greyscale, palette and transparency converted once, the pixel limit checked from the header
before any pixel is decoded, and every problem one line that names the upload, never a server path.

Upload size: ``MURALXGAN_MAX_UPLOAD_MB`` (default :data:`DEFAULT_MAX_UPLOAD_MB`) bounds each file; Gradio refuses
larger uploads at its upload route, and the handlers check again with a message for people.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from mural_inpaint.errors import InputError
from mural_inpaint.imaging import check_mask_size, load_image, load_mask, open_pil

DEFAULT_MAX_UPLOAD_MB = 20.0
PHOTO = "uploaded photo"
PAINTED = "painted damage"

Upload = str | os.PathLike | bytes | bytearray | np.ndarray


def max_upload_mb() -> float:
    """The upload limit in megabytes (``MURALXGAN_MAX_UPLOAD_MB``; default :data:`DEFAULT_MAX_UPLOAD_MB`)."""
    from mural_inpaint.app.settings import positive_number

    return positive_number("MURALXGAN_MAX_UPLOAD_MB", DEFAULT_MAX_UPLOAD_MB, "megabytes")


def max_upload_bytes() -> int:
    return int(max_upload_mb() * 1_000_000)


def check_upload_size(source: Upload, label: str, limit: int | None = None) -> None:
    """Refuse an upload above the limit with a message for people (before it is opened)."""
    if isinstance(source, np.ndarray):
        return
    size = len(source) if isinstance(source, (bytes, bytearray)) else Path(source).stat().st_size
    limit = max_upload_bytes() if limit is None else limit
    if size > limit:
        raise InputError(f"{label}: the file is {size / 1e6:.3g} MB, above this server's upload limit of "
                         f"{limit / 1e6:g} MB; send a smaller copy (a high-quality JPEG, or the photo downscaled).")


def _exists(source: Upload, label: str) -> Upload:
    if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
        raise InputError(f"{label}: the upload did not arrive; upload the file again.")  # no server path shown
    return source


def load_photo(source: Upload | None, limit: int | None = None) -> np.ndarray:
    """The uploaded photo as uint8 ``[H, W, 3]``, through the CLI's loader."""
    if source is None:
        raise InputError("Upload a mural photo first.")
    _exists(source, PHOTO)
    check_upload_size(source, PHOTO, limit)
    return load_image(bytes(source) if isinstance(source, (bytes, bytearray)) else source, name=PHOTO)


def load_uploaded_mask(source: Upload, image_size: tuple[int, int], limit: int | None = None) -> np.ndarray:
    """An uploaded damage mask, which must match the photo as displayed (EXIF orientation applied to both)."""
    label = "uploaded mask"
    _exists(source, label)
    check_upload_size(source, label, limit)
    return load_mask(source, name=label, expected_size=image_size)


def painted_mask(layers: list[Upload] | None, image_size: tuple[int, int]) -> np.ndarray:
    """Damage painted on the editor's layers (opaque pixels) -> bool ``[H, W]`` over the photo.

    A layer the canvas drew smaller (a scaled canvas) is mapped back to the full-size photo; a layer of another
    shape (say, drawn on the photo before its EXIF rotation) is refused rather than stretched onto wrong pixels.
    """
    mask = np.zeros(image_size, bool)
    for layer in layers or []:
        if isinstance(layer, np.ndarray):
            values = layer
        else:
            _exists(layer, PAINTED)
            check_upload_size(layer, PAINTED)
            source = io.BytesIO(bytes(layer)) if isinstance(layer, (bytes, bytearray)) else layer
            opened = open_pil(source, name=PAINTED)
            if "A" not in opened.getbands():
                continue  # only transparent layers carry strokes
            values = np.asarray(opened.convert("RGBA"))
        if values.ndim != 3 or values.shape[2] != 4:
            continue
        painted = values[..., 3] > 0
        if painted.shape != mask.shape:
            (lh, lw), (ih, iw) = painted.shape, mask.shape
            if abs(lw / lh - iw / ih) > 0.02 * (iw / ih):
                check_mask_size(painted, mask.shape, PAINTED)  # raises: "the mask is WxH but the image is ..."
            import cv2

            painted = cv2.resize(painted.astype(np.uint8), (iw, ih), interpolation=cv2.INTER_NEAREST) > 0
        mask |= painted
    return mask
