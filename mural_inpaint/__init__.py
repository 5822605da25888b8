"""MuralXGAN: text-guided inpainting for damaged Dunhuang murals.

The one restoration path lives in :mod:`mural_inpaint.pipeline`:

    image + mask -> damage description -> text embedding -> restorer -> composite

Conventions, fixed once for the whole package (see :mod:`mural_inpaint.imaging`):

- images at the edges are ``uint8`` RGB arrays ``[H, W, 3]`` (or PIL images);
- masks are ``bool`` arrays ``[H, W]`` where ``True`` (stored as 1 or 255) marks damaged / missing pixels;
- inside the models, images are float tensors ``[B, 3, H, W]`` in ``[0, 1]`` and masks ``[B, 1, H, W]`` in ``{0, 1}``.

Importing this package is cheap: torch models, transformers, open_clip, lpips and gradio are imported only by the
functions that need them.
"""

__version__ = "0.1.0"

from mural_inpaint.errors import InputError, ModelUnavailableError, MuralXGANError

__all__ = ["InputError", "ModelUnavailableError", "MuralXGANError", "__version__"]
