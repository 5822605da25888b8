"""The one restoration path shared by the app, the CLI, training validation and the benchmarks.

    image + mask -> damage description -> text embedding -> restorer (region strategy)
        -> outlines the description says crossed a loss (restorers/lines.py) -> composite -> provenance

Known pixels come back byte-identical to the input, for every restorer and image size.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import mural_inpaint
from mural_inpaint.errors import InputError, ModelUnavailableError
from mural_inpaint.imaging import ImageSource, composite, load_image, load_mask
from mural_inpaint.restorers.base import RESTORERS, Restorer
from mural_inpaint.restorers.lines import draw_named_lines, named_lines
from mural_inpaint.restorers.regions import restore_regions
from mural_inpaint.text.captioners import CAPTIONERS, Caption, Captioner

#: ``progress(stage, fraction)``: a stage of :meth:`RestorationPipeline.restore` starts (fraction of the work done).
Progress = Callable[[str, float], None]

#: The best classical method on MuralDH-style crops (hole PSNR 19.57 dB vs 19.51 Navier-Stokes, 19.46 Telea).
BEST_CLASSICAL = "biharmonic"


def default_restorer_name() -> str:
    """``muralxgan`` when a checkpoint is configured or shipped, else the best classical method."""
    from mural_inpaint.restorers.gan import default_checkpoint

    return "muralxgan" if default_checkpoint()[0] else BEST_CLASSICAL


@dataclass
class RestorationResult:
    """``image``: uint8 ``[H, W, 3]`` restored; ``mask``: bool ``[H, W]`` used; ``provenance``: JSON-ready dict."""

    image: np.ndarray
    mask: np.ndarray
    caption: str
    provenance: dict = field(default_factory=dict)

    def provenance_json(self) -> str:
        return json.dumps(self.provenance, indent=2, default=str)


def load_inputs(image: ImageSource, mask: ImageSource) -> tuple[np.ndarray, np.ndarray]:
    """Validate at the edge: uint8 RGB ``[H, W, 3]`` image and bool ``[H, W]`` mask of the same size."""
    pixels = load_image(image, name="image" if isinstance(image, np.ndarray) else None)
    damage = load_mask(mask, name="mask" if isinstance(mask, np.ndarray) else None, expected_size=pixels.shape[:2])
    return pixels, damage


def describe(image: ImageSource, mask: ImageSource, captioner: str | Captioner = "auto") -> Caption:
    """The damage description step of the path on its own."""
    pixels, damage = load_inputs(image, mask)
    return (CAPTIONERS.create(captioner) if isinstance(captioner, str) else captioner).caption(pixels, damage)


class RestorationPipeline:
    """Build once (models load here), call :meth:`restore` many times.

    Args:
        restorer: a registry name (default: :func:`default_restorer_name`) or a :class:`Restorer` instance.
        restorer_options: keyword options for the restorer's factory (e.g. ``checkpoint``, ``revision``).
        captioner: a registry name (``auto``, ``describer``, ``blip2``) or a :class:`Captioner` instance.
    """

    def __init__(self, restorer: str | Restorer | None = None, restorer_options: dict | None = None,
                 captioner: str | Captioner = "auto"):
        if isinstance(restorer, Restorer):
            self.restorer = restorer
        else:
            self.restorer = RESTORERS.create(restorer or default_restorer_name(), **(restorer_options or {}))
        self.captioner = CAPTIONERS.create(captioner) if isinstance(captioner, str) else captioner
        self._encoder = None

    @property
    def text_encoder(self):
        """The encoder the restorer was trained with (loaded on first use); None for text-free restorers."""
        if self._encoder is None and self.restorer.uses_text:
            from mural_inpaint.text.encoders import get_text_encoder

            self._encoder = get_text_encoder(self.restorer.text_encoder_spec)
        return self._encoder

    def describe(self, image: ImageSource, mask: ImageSource) -> Caption:
        return describe(image, mask, self.captioner)

    def restore(self, image: ImageSource, mask: ImageSource, caption: str | None = None,
                seed: int = 0, caption_source: str = "expert", progress: Progress | None = None) -> RestorationResult:
        """Restore the damaged pixels of ``image`` marked by ``mask`` (1/255 = damage), guided by ``caption``.

        ``caption_source`` names who wrote a given ``caption`` (recorded in the provenance as the captioner).
        ``progress(stage, fraction)`` hears each stage as it starts: "describing the damage", "encoding the
        text", "restoring region k of n", "compositing" (``fraction`` of the work done, 0-1).

        ``caption`` None: the captioner writes one.  An empty mask returns the image unchanged; a mask covering
        the whole image is refused (:class:`InputError`), since nothing is left to restore from.
        """
        import torch

        timings: dict[str, float] = {}
        start = time.perf_counter()
        pixels, damage = load_inputs(image, mask)
        timings["load_s"] = time.perf_counter() - start
        if damage.all():
            raise InputError("The mask covers the whole image: nothing is left to restore from. "
                             "Mark only the damaged areas.")
        notes: list[str] = []
        captioner_name = caption_source if caption is not None else None
        report = progress or (lambda stage, fraction: None)
        if caption is None and damage.any():
            report("describing the damage", 0.05)
            tick = time.perf_counter()
            written = self.captioner.caption(pixels, damage)
            caption, captioner_name, notes = written.text, written.captioner, written.notes
            timings["caption_s"] = time.perf_counter() - tick
        caption = caption or ""
        restored = pixels.copy()
        if damage.any():
            torch.manual_seed(seed)
            embedding = None
            if self.restorer.uses_text and caption.strip():
                report("encoding the text", 0.15)
                tick = time.perf_counter()
                try:
                    embedding = self.text_encoder.encode([caption])[0]
                except ModelUnavailableError as error:
                    notes.append(f"restored without text guidance: {error}")
                timings["text_embedding_s"] = time.perf_counter() - tick
            tick = time.perf_counter()
            regions = restore_regions(self.restorer, pixels, damage, embedding, on_region=lambda k, n: report(
                f"restoring region {k} of {n}", 0.2 + 0.7 * (k - 1) / n))
            named = named_lines(caption)
            if named is not None:  # only a description saying an outline crossed the loss draws one
                regions, drawn = draw_named_lines(regions, damage, named)
                notes.append(f"joined {drawn} outline{'' if drawn == 1 else 's'} across the damage, as the "
                             "description says" if drawn else "the description names an outline crossing the "
                             "damage, but no two strokes meeting a loss face each other: none drawn")
            report("compositing", 0.95)
            restored = composite(pixels, regions, damage)
            timings["restore_s"] = time.perf_counter() - tick
        timings["total_s"] = time.perf_counter() - start
        provenance = {
            "muralxgan_version": mural_inpaint.__version__,
            **self.restorer.provenance(),
            "caption": caption,
            "captioner": captioner_name,
            "notes": notes,
            "seed": seed,
            "image_size": [int(pixels.shape[1]), int(pixels.shape[0])],
            "damaged_percent": round(100.0 * float(damage.mean()), 3),
            "timings": {k: round(v, 4) for k, v in timings.items()},
            "python": platform.python_version(),
        }
        return RestorationResult(restored, damage, caption, provenance)
