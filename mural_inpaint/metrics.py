"""Image-quality metrics for restorations: whole image and hole only.

All functions take uint8 ``[H, W, 3]`` RGB arrays (``restored``, ``reference``) and an optional bool ``[H, W]``
``mask`` (True = hole).  Higher is better for PSNR, SSIM and CLIP Score; lower for LPIPS and CIEDE2000.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mural_inpaint.errors import ModelUnavailableError

PSNR_CAP = 100.0


#: How hole SSIM is defined, to be stated wherever it is reported.
HOLE_SSIM_DEFINITION = ("hole SSIM: the SSIM map (7x7 windows, scikit-image defaults) computed on the whole image, "
                        "averaged over the hole pixels (windows at the hole's edge include known pixels)")


def _empty_hole(mask: np.ndarray | None) -> bool:
    return mask is not None and not mask.any()


def psnr(restored: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB over all pixels, or over the hole pixels (all channels) when masked.

    Capped at :data:`PSNR_CAP` dB, so a perfect restoration does not make a mean over images infinite.  An empty
    hole has no score: NaN, never the perfect score that would flatter a mean.
    """
    if _empty_hole(mask):
        return float("nan")
    diff = restored.astype(np.float64) - reference.astype(np.float64)
    if mask is not None:
        diff = diff[mask]
    mse = float(np.mean(diff**2)) if diff.size else 0.0
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10.0 * np.log10(255.0**2 / mse))


def ssim(restored: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Structural similarity (Gaussian-free 7x7 windows, scikit-image defaults) of the whole image; with a mask,
    :data:`HOLE_SSIM_DEFINITION` (NaN for an empty hole)."""
    from skimage.metrics import structural_similarity

    if _empty_hole(mask):
        return float("nan")
    value, ssim_map = structural_similarity(restored, reference, channel_axis=2, data_range=255, full=True)
    if mask is None:
        return float(value)
    return float(ssim_map.mean(axis=2)[mask].mean())


def ciede2000(restored: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean CIEDE2000 colour difference (1 is about the smallest difference an eye sees); hole only when masked
    (NaN for an empty hole)."""
    from skimage.color import deltaE_ciede2000

    from mural_inpaint.palette import srgb_to_lab

    if _empty_hole(mask):
        return float("nan")
    if mask is not None:
        restored, reference = restored[mask], reference[mask]
    return float(np.mean(deltaE_ciede2000(srgb_to_lab(restored), srgb_to_lab(reference))))


@lru_cache(maxsize=1)
def lpips_model():
    """Canonical LPIPS v0.1 (AlexNet backbone with ImageNet weights, the authors' linear layers)."""
    import lpips
    import torch

    from mural_inpaint.pretrained import imagenet_features

    with warnings.catch_warnings():  # lpips calls torchvision's deprecated `pretrained=` argument
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    features = imagenet_features("alexnet")
    with torch.no_grad():
        for slice_ in (model.net.slice1, model.net.slice2, model.net.slice3, model.net.slice4, model.net.slice5):
            for name, module in slice_.named_children():
                module.load_state_dict(features[int(name)].state_dict())
    model.weights_source = features.weights_source
    return model.eval()


def lpips_distance(restored: np.ndarray, reference: np.ndarray) -> float:
    """LPIPS (AlexNet, v0.1) between two uint8 ``[H, W, 3]`` images; 0 = identical."""
    import torch

    from mural_inpaint.imaging import image_to_tensor

    with torch.inference_mode():
        value = lpips_model()(image_to_tensor(restored) * 2 - 1, image_to_tensor(reference) * 2 - 1)
    return float(value.item())


def hole_box(mask: np.ndarray, pad: int = 16, min_side: int = 64) -> tuple[slice, slice]:
    """The hole's bounding box, padded by ``pad`` pixels and grown (centred, inside the image) to at least
    ``min_side`` a side: where a restoration's texture is judged without the known pixels diluting it."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return slice(0, mask.shape[0]), slice(0, mask.shape[1])

    def span(low: int, high: int, limit: int) -> slice:
        low, high = max(0, low - pad), min(limit, high + 1 + pad)
        missing = min(min_side, limit) - (high - low)
        if missing > 0:
            low = max(0, low - missing // 2)
            high = min(limit, low + max(min_side, high - low))
            low = max(0, high - min(min_side, limit)) if high - low < min_side else low
        return slice(low, high)

    return span(int(rows[0]), int(rows[-1]), mask.shape[0]), span(int(cols[0]), int(cols[-1]), mask.shape[1])


def hole_box_lpips(restored: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
    """LPIPS (AlexNet, v0.1) over :func:`hole_box` of ``mask``: whole-image LPIPS is diluted by the known pixels,
    which every restorer keeps exactly, so it barely separates a smudge from texture."""
    box = hole_box(mask)
    return lpips_distance(np.ascontiguousarray(restored[box]), np.ascontiguousarray(reference[box]))


@dataclass
class MetricValue:
    """A metric that may be unavailable: ``value`` None and ``reason`` saying why."""

    value: float | None
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.value:.2f}" if self.value is not None else f"unavailable ({self.reason})"


def clip_score(image: np.ndarray, text: str, spec=None) -> MetricValue:
    """CLIP Score ``max(100 * cos(image, text), 0)`` with open_clip; unavailable (with reason) without weights."""
    import torch
    from PIL import Image

    from mural_inpaint.text.clip import DEFAULT_CLIP, load_clip

    try:
        clip = load_clip(spec or DEFAULT_CLIP)
    except ModelUnavailableError as error:
        return MetricValue(None, str(error))
    with torch.inference_mode():
        image_features = clip.model.encode_image(clip.preprocess(Image.fromarray(image)).unsqueeze(0))
        text_features = clip.model.encode_text(clip.tokenizer([text]))
        cosine = torch.nn.functional.cosine_similarity(image_features.float(), text_features.float()).item()
    return MetricValue(max(100.0 * cosine, 0.0))
