"""The restorer interface and registry.

A restorer fills the damaged pixels of one crop.  It does not need to care about image size, context boxes or
keeping known pixels: :func:`mural_inpaint.restorers.regions.restore_regions` feeds it crops and composites.
Adding a restorer is one small module registering a factory in :data:`RESTORERS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np

from mural_inpaint.registry import Registry

if TYPE_CHECKING:
    import torch

    from mural_inpaint.text.encoders import TextEncoderSpec


class Restorer(ABC):
    """Fills damaged pixels.

    Attributes:
        name: registry name.
        max_side: longest crop side the restorer works at (a learned model's working size); ``None`` = any size at
            native resolution (classical methods).
        tile_side: side of the windows thin damage is restored in at native resolution (``None``: ``max_side``);
            a fully convolutional model can take larger windows than its working size, which saves the overlap.
        whole_box_pixels: a box of at most this many pixels may be restored as one window when that touches fewer
            pixels than tiles (no overlaps to pay for, no seams); ``None``: always tiles of the sizes above.
        text_encoder_spec: the encoder whose embeddings :meth:`restore_crop` expects; ``None`` = ignores text.
        engine: for a learned restorer, what runs its network and why (recorded in the provenance).
    """

    name: str = ""
    max_side: int | None = None
    tile_side: int | None = None  # native-resolution tiles (None: max_side); fully convolutional models go larger
    whole_box_pixels: int | None = None
    engine: str | None = None  # what runs a learned restorer's network ("onnxruntime (model.onnx)", "pytorch ...")
    text_encoder_spec: TextEncoderSpec | None = None

    @property
    def uses_text(self) -> bool:
        return self.text_encoder_spec is not None

    @abstractmethod
    def restore_crop(self, image: np.ndarray, mask: np.ndarray, text: torch.Tensor | None = None) -> np.ndarray:
        """uint8 ``[h, w, 3]`` + bool ``[h, w]`` (True = damage) + optional ``[D]`` embedding -> uint8 ``[h, w, 3]``.

        Only pixels under the mask are used by the caller.
        """

    def provenance(self) -> dict:
        """What exactly restored the image: recorded in every result."""
        return {"restorer": self.name}


RESTORERS: Registry[Restorer] = Registry(
    "restorer", modules=("mural_inpaint.restorers.classical", "mural_inpaint.restorers.gan")
)

#: the restorers that run a MuralXGAN checkpoint (they need one, and take ``checkpoint`` / ``revision``)
GAN_RESTORERS = ("muralxgan", "muralxgan-texture")
