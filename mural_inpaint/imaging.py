"""Loading, validating and converting images and masks: the package's conventions live here and nowhere else.

Conventions
-----------
- Image: ``numpy.uint8`` array ``[H, W, 3]``, RGB, sRGB.  Anything else that comes in (RGBA, grayscale, palette,
  16-bit, CMYK, EXIF-rotated JPEGs, float arrays in ``[0, 1]``) is converted to that once, here.
  Transparent pixels are flattened onto white, the colour of a blank sheet behind a cut-out photo.
- Mask: ``numpy.bool_`` array ``[H, W]``; ``True`` = damaged / missing (stored in files as 1 or 255), ``False`` = keep.
  Masks are binarised here: when no value reaches 128 (0/1 masks, class-index label maps) any non-zero value is
  damage, otherwise ``>= 128`` is (0/255 masks, anti-aliased or JPEG-compressed).
  For masks with a transparency channel that is actually used (painted layers), opaque paint is damage.
- Tensors (inside models): float ``[B, 3, H, W]`` in ``[0, 1]``; masks float ``[B, 1, H, W]`` in ``{0, 1}``.

Every loading problem raises :class:`~mural_inpaint.errors.InputError` with one line naming the file.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mural_inpaint.errors import InputError

if TYPE_CHECKING:
    import torch

ImageSource = str | os.PathLike | bytes | bytearray | io.IOBase | Image.Image | np.ndarray

#: Largest image accepted, in pixels; 80 MP covers a 10k x 8k photo of a whole wall.
DEFAULT_MAX_PIXELS = 80_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")


def max_pixels_setting() -> int:
    """The pixel limit: ``MURALXGAN_MAX_PIXELS`` when set, else :data:`DEFAULT_MAX_PIXELS`."""
    raw = os.environ.get("MURALXGAN_MAX_PIXELS", "")
    try:
        return int(float(raw)) if raw.strip() else DEFAULT_MAX_PIXELS
    except ValueError:
        raise InputError(f"MURALXGAN_MAX_PIXELS must be a number of pixels, not {raw!r}.") from None


def describe_source(source: ImageSource, name: str | None = None) -> str:
    """A short human name for an input, used at the start of error messages."""
    if name:
        return name
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name or str(source)
    if isinstance(source, (bytes, bytearray, io.IOBase)):
        return "uploaded file"
    if isinstance(source, Image.Image):
        return "image"
    return "array"


def _too_large(label: str, width: int, height: int, limit: int) -> InputError:
    return InputError(
        f"{label}: the image is {width}x{height} pixels ({width * height / 1e6:.1f} megapixels), above the limit of "
        f"{limit / 1e6:.1f} megapixels; downscale it or raise MURALXGAN_MAX_PIXELS."
    )


def open_pil(source: ImageSource, *, name: str | None = None, max_pixels: int | None = None) -> Image.Image:
    """Open any supported source as a fully decoded, upright PIL image (mode unchanged), guarding size and format."""
    label = describe_source(source, name)
    limit = max_pixels if max_pixels is not None else max_pixels_setting()
    if isinstance(source, Image.Image):
        if source.width * source.height > limit:
            raise _too_large(label, source.width, source.height, limit)
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise InputError(f"{label}: file not found ({path}).")
        if path.is_dir():
            raise InputError(f"{label}: is a folder, not an image file.")
        if path.stat().st_size == 0:
            raise InputError(f"{label}: the file is empty.")
        fp: io.IOBase | Path = path
    elif isinstance(source, (bytes, bytearray)):
        if not source:
            raise InputError(f"{label}: the file is empty.")
        fp = io.BytesIO(bytes(source))
    elif isinstance(source, io.IOBase):
        fp = source
    else:
        kind = type(source).__name__
        raise InputError(f"{label}: expected an image file, bytes, a PIL image or an array, got {kind}.")
    try:
        with warnings.catch_warnings():
            # PIL warns above its own limit; ours below decides, so its warning is noise here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(fp)
            if image.width * image.height > limit:
                raise _too_large(label, image.width, image.height, limit)
            image.load()
    except Image.DecompressionBombError:
        raise InputError(
            f"{label}: the image declares an enormous size (a possible decompression bomb) and was refused."
        ) from None
    except UnidentifiedImageError:
        raise InputError(
            f"{label}: not an image file that can be read (use PNG, JPEG, TIFF, WebP or BMP)."
        ) from None
    except InputError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InputError(f"{label}: the image file is damaged or incomplete ({_first_line(exc)}).") from None
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not lose the picture itself
        return image


_PATH = re.compile(r"""(?:[A-Za-z]:)?[\\/][^\s'"]*[\\/][^\s'"]*""")


def _first_line(exc: BaseException) -> str:
    """The first line of a decoder's message, with any file path in it left out (uploads live in server folders)."""
    text = str(exc).strip().splitlines()
    return _PATH.sub("<file>", text[0]) if text else type(exc).__name__


def _scale_high_bit_depth(values: np.ndarray) -> np.ndarray:
    """16-bit / 32-bit integer or float pixel values -> uint8 (0..255), keeping relative brightness."""
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * 255
    if np.issubdtype(values.dtype, np.floating):
        finite = np.nan_to_num(values.astype(np.float64), nan=0.0)
        peak = float(finite.max()) if finite.size else 0.0
        scale = 255.0 if peak <= 1.0 else (1.0 if peak <= 255.0 else 255.0 / 65535.0)
        return np.clip(np.rint(finite * scale), 0, 255).astype(np.uint8)
    if np.issubdtype(values.dtype, np.integer):
        peak = int(values.max()) if values.size else 0
        if peak <= 255 and values.dtype.itemsize > 1 and values.dtype != np.uint16:
            return np.clip(values, 0, 255).astype(np.uint8)
        # 16-bit data (PNG/TIFF 'I;16' or 'I'): 65535 maps to 255.
        return np.clip(np.rint(values.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)
    raise InputError(f"unsupported pixel type {values.dtype}.")


def _flatten_alpha(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    weight = alpha.astype(np.float32)[..., None] / 255.0
    return np.rint(rgb.astype(np.float32) * weight + 255.0 * (1.0 - weight)).astype(np.uint8)


def pil_to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any PIL mode -> uint8 ``[H, W, 3]`` RGB (transparency flattened onto white, 16-bit scaled to 8-bit)."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        gray = _scale_high_bit_depth(np.asarray(image))
        return np.repeat(gray[..., None], 3, axis=2)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = np.asarray(image.convert("RGBA"))
        return _flatten_alpha(rgba[..., :3], rgba[..., 3])
    if mode != "RGB":
        image = image.convert("RGB")
    return np.array(image, dtype=np.uint8)  # a writable copy, detached from PIL's buffer


def array_to_rgb(array: np.ndarray, label: str = "array") -> np.ndarray:
    """Numpy ``[H, W]``, ``[H, W, 1|3|4]`` of uint8/uint16/float/bool -> uint8 ``[H, W, 3]``."""
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape[:2]:
        raise InputError(f"{label}: expected an image array shaped [H, W], [H, W, 3] or [H, W, 4], got {array.shape}.")
    values = _scale_high_bit_depth(array)
    if values.shape[2] == 1:
        values = np.repeat(values, 3, axis=2)
    elif values.shape[2] == 4:
        values = _flatten_alpha(values[..., :3], values[..., 3])
    return np.ascontiguousarray(values)


def load_image(source: ImageSource, *, name: str | None = None, max_pixels: int | None = None) -> np.ndarray:
    """Load a mural photo from a path, bytes, file object, PIL image or array.

    Returns uint8 ``[H, W, 3]`` RGB. Raises :class:`InputError` (one line naming the file) for missing, corrupt,
    non-image, or too-large inputs.
    """
    label = describe_source(source, name)
    if isinstance(source, np.ndarray):
        limit = max_pixels if max_pixels is not None else max_pixels_setting()
        if source.ndim >= 2 and source.shape[0] * source.shape[1] > limit:
            raise _too_large(label, source.shape[1], source.shape[0], limit)
        return array_to_rgb(source, label)
    return pil_to_rgb_array(open_pil(source, name=name, max_pixels=max_pixels))


def binarise_mask(values: np.ndarray) -> np.ndarray:
    """Numeric mask values -> bool (True = damage): small-valued masks by ``> 0``, 0..255 masks by ``>= 128``."""
    if values.dtype == np.bool_:
        return values
    if values.ndim == 3:
        values = values.max(axis=2)  # any channel marked counts as damage
    values = _scale_high_bit_depth(values) if values.dtype != np.uint8 and values.size and values.max() > 1 else values
    if values.size and float(values.max()) < 128:  # 0/1 masks and class-index label maps: any non-zero is damage
        return values > 0
    return values >= 128


def pil_to_mask(image: Image.Image) -> np.ndarray:
    """PIL mask (L, 1, RGB, RGBA, 16-bit, palette) -> bool ``[H, W]``, True = damage."""
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        values = np.asarray(image)
        alpha = values[..., -1]
        if alpha.min() < 255:  # a painted layer: opaque paint marks damage
            return alpha >= 128
        values = values[..., :-1]
        return binarise_mask(values if values.shape[2] > 1 else values[..., 0])
    if image.mode == "1":
        return np.asarray(image, dtype=bool)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return binarise_mask(np.asarray(image))
    return binarise_mask(np.asarray(image.convert("L")))


def load_mask(
    source: ImageSource,
    *,
    name: str | None = None,
    expected_size: tuple[int, int] | None = None,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Load a damage mask (1 or 255 = damage) as bool ``[H, W]``.

    ``expected_size`` is the image's ``(height, width)``; a different mask size raises :class:`InputError`.
    """
    label = describe_source(source, name)
    if isinstance(source, np.ndarray):
        if source.ndim not in (2, 3) or 0 in source.shape[:2]:
            raise InputError(f"{label}: a mask must be a 2-D array of 0/1 or 0/255 values, got shape {source.shape}.")
        mask = binarise_mask(source)
    else:
        mask = pil_to_mask(open_pil(source, name=name, max_pixels=max_pixels))
    if expected_size is not None:
        check_mask_size(mask, expected_size, label)
    return np.ascontiguousarray(mask)


def check_mask_size(mask: np.ndarray, image_size: tuple[int, int], label: str = "mask") -> None:
    """Raise :class:`InputError` unless ``mask`` is ``[H, W]`` with ``(H, W) == image_size``."""
    if tuple(mask.shape[:2]) != tuple(image_size):
        mh, mw = mask.shape[:2]
        ih, iw = image_size
        raise InputError(
            f"{label}: the mask is {mw}x{mh} pixels but the image is {iw}x{ih}; "
            "the mask must mark damage on this exact photo, at the same size."
        )


def save_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write uint8 RGB ``[H, W, 3]`` or a bool mask ``[H, W]`` (saved as 0/255 L) to a lossless PNG.

    Written beside ``path`` and renamed into place, so a reader (another rater's request for the same mural's view)
    sees the old file or the whole new one, never a half-written PNG.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.dtype == np.bool_:
        picture = Image.fromarray(image.astype(np.uint8) * 255, mode="L")
    else:
        picture = Image.fromarray(image)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(6)}.partial")
    try:
        picture.save(partial, format="PNG")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


#: Output formats by file suffix: (Pillow format, save options). All lossless but JPEG.
OUTPUT_FORMATS = {
    ".png": ("PNG", {}),
    ".tif": ("TIFF", {"compression": "tiff_deflate"}),
    ".tiff": ("TIFF", {"compression": "tiff_deflate"}),
    ".webp": ("WEBP", {"lossless": True, "quality": 100, "method": 4}),
    ".jpg": ("JPEG", {"quality": 95, "subsampling": 0}),
    ".jpeg": ("JPEG", {"quality": 95, "subsampling": 0}),
}
LOSSY_SUFFIXES = (".jpg", ".jpeg")


def save_image(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write uint8 RGB ``[H, W, 3]`` in the format its suffix names (:data:`OUTPUT_FORMATS`); one-line
    :class:`InputError` for an unknown suffix or a place that cannot be written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(f"{path}: cannot write {suffix or 'a file without a suffix'}; use "
                         f"{', '.join(OUTPUT_FORMATS)}.")
    image_format, options = OUTPUT_FORMATS[suffix]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path, format=image_format, **options)
    except OSError as error:
        raise InputError(f"Cannot write {path}: {error.strerror or error}.") from None
    return path


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 ``[H, W, 3]`` -> float ``[1, 3, H, W]`` in ``[0, 1]``."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def mask_to_tensor(mask: np.ndarray) -> torch.Tensor:
    """bool ``[H, W]`` -> float ``[1, 1, H, W]`` in ``{0, 1}`` (1 = damage)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(mask)).to(torch.float32)[None, None]


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """float ``[1, 3, H, W]`` or ``[3, H, W]`` in ``[0, 1]`` -> uint8 ``[H, W, 3]`` (rounded, clipped)."""
    if tensor.ndim == 4:
        tensor = tensor[0]
    values = tensor.detach().float().clamp(0, 1).mul(255.0).round().to("cpu").permute(1, 2, 0)
    return np.ascontiguousarray(values.numpy().astype(np.uint8))


#: The value hidden (damaged) pixels get in benchmark and training inputs: no restorer may see what was lost.
HOLE_GREY = 128


def hide_damage(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Copy of uint8 ``[H, W, 3]`` ``image`` with the pixels under ``mask`` set to :data:`HOLE_GREY`."""
    hidden = image.copy()
    hidden[mask] = HOLE_GREY
    return hidden


def composite(original: np.ndarray, restored: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Known pixels from ``original`` byte for byte, damaged pixels (``mask`` True) from ``restored``."""
    return np.where(mask[..., None], restored, original)


def list_images(folder: str | os.PathLike) -> dict[str, Path]:
    """Image files directly inside ``folder``, keyed by file stem (for matching images with their masks)."""
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return {p.stem: p for p in files}
