"""Classical inpainting baselines: OpenCV Telea and Navier-Stokes, scikit-image biharmonic."""

from __future__ import annotations

import cv2
import numpy as np

from mural_inpaint.restorers.base import RESTORERS, Restorer


class OpenCVRestorer(Restorer):
    """``cv2.inpaint`` with the fast-marching (Telea) or Navier-Stokes method, radius in pixels."""

    def __init__(self, name: str, flag: int, radius: int = 3):
        self.name, self.flag, self.radius = name, flag, radius

    def restore_crop(self, image, mask, text=None):
        return cv2.inpaint(image, mask.astype(np.uint8), self.radius, self.flag)

    def provenance(self) -> dict:
        return {"restorer": self.name, "radius": self.radius}


class BiharmonicRestorer(Restorer):
    """scikit-image's biharmonic inpainting (smooth, slow on large holes)."""

    name = "biharmonic"

    def restore_crop(self, image, mask, text=None):
        from skimage.restoration import inpaint_biharmonic

        filled = inpaint_biharmonic(image.astype(np.float64) / 255.0, mask, channel_axis=-1)
        return np.clip(np.rint(filled * 255.0), 0, 255).astype(np.uint8)


@RESTORERS.register("telea", "OpenCV fast-marching inpainting (Telea 2004), radius 3")
def telea(radius: int = 3) -> Restorer:
    return OpenCVRestorer("telea", cv2.INPAINT_TELEA, radius)


@RESTORERS.register("navier-stokes", "OpenCV Navier-Stokes inpainting (Bertalmio 2001), radius 3")
def navier_stokes(radius: int = 3) -> Restorer:
    return OpenCVRestorer("navier-stokes", cv2.INPAINT_NS, radius)


@RESTORERS.register("biharmonic", "scikit-image biharmonic inpainting")
def biharmonic() -> Restorer:
    return BiharmonicRestorer()
