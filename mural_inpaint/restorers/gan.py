"""The MuralXGAN restorer: text-guided generator + colour-correction net from a checkpoint.

The checkpoint is a local folder or a Hub repo id (+ revision); see :func:`mural_inpaint.models.load_muralxgan`.
Default: ``MURALXGAN_CHECKPOINT`` / ``MURALXGAN_CHECKPOINT_REVISION``, else the folder shipped inside the package
(``mural_inpaint/checkpoints/muralxgan-default``, package data).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from pathlib import Path

import numpy as np

from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.imaging import image_to_tensor, mask_to_tensor, tensor_to_image
from mural_inpaint.restorers.base import RESTORERS, Restorer

# package data: travels in the wheel, found from the installed package wherever the command runs
SHIPPED_CHECKPOINT = Path(str(files("mural_inpaint") / "checkpoints" / "muralxgan-default"))


def default_checkpoint() -> tuple[str | None, str | None]:
    """(checkpoint id or folder, revision) from the environment, else the shipped folder if present."""
    configured = os.environ.get("MURALXGAN_CHECKPOINT", "").strip()
    if configured:
        return configured, os.environ.get("MURALXGAN_CHECKPOINT_REVISION") or None
    if (SHIPPED_CHECKPOINT / "model.safetensors").is_file():
        return str(SHIPPED_CHECKPOINT), None
    return None, None


@functools.cache
def _background() -> ThreadPoolExecutor:
    """One worker thread for work that overlaps the network (SciPy's factorisation releases the GIL)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="muralxgan-rim")


class MuralXGANRestorer(Restorer):
    name = "muralxgan"

    def __init__(self, model, source, revision: str | None, text_encoder_spec=None, channels_last: bool = True,
                 engine: str = "torch", checkpoint_dir: Path | None = None):
        """``engine``: ``torch``, ``onnx`` or ``auto`` (:func:`mural_inpaint.models.engine.choose_engine`; None reads
        ``MURALXGAN_ENGINE``).  A model being trained keeps ``torch``: its weights change between calls."""
        import torch

        from mural_inpaint.models.engine import choose_engine
        from mural_inpaint.text.encoders import check_compatible

        # channels-last runs oneDNN's faster convolution kernels on CPU (about 15 % here); off for a model that is
        # being trained (validation wraps it), whose parameters must keep their layout
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.eval().to(memory_format=self.memory_format) if channels_last else model.eval()
        self.source, self.revision = source, revision
        trained_with = model.text_encoder_spec
        if text_encoder_spec is not None:
            check_compatible(trained_with, text_encoder_spec)
        self.text_encoder_spec = trained_with
        self.max_side = int(model.config.working_size)
        # fully convolutional: thin damage is restored in windows twice the working size, which saves most of the
        # overlap between windows (2.25x fewer pixels for a 512 px crop) and scored higher on held-out crops
        self.tile_side = 2 * self.max_side
        # a whole photo's box in one window: 30 % fewer pixels than overlapping tiles on the seven 1.2-1.6k px photos
        # with real traced damage, hole PSNR 19.76 against 19.78 dB (evaluation/speed.py cases); at most about
        # 2 GB of activations
        self.whole_box_pixels = 2048 * 2048
        self.coarse = RESTORERS.create(model.config.coarse_fill)
        texture = model.config.texture
        # the patch method needs no restorer: it copies detail from the photo itself
        self.texture_source = None if texture.method in ("none", "patch") else RESTORERS.create(texture.method)
        self.use_colour_net = True
        self._torch = torch
        self.graph, self.engine = choose_engine(self.model, checkpoint_dir, engine)

    def restore_crop(self, image, mask, text=None):
        torch = self._torch
        height, width = mask.shape
        pad_h, pad_w = (-height) % 4, (-width) % 4  # the U-Net halves twice
        rim = None
        if self.model.config.rim_band > 0:
            from mural_inpaint.restorers.rim import RimStage

            # the rim's factorisation needs the mask only: built beside the classical fill and the network (the
            # mask is not changed meanwhile: the result is awaited below, before this returns)
            rim = _background().submit(RimStage, mask, self.model.config.rim_band)
        coarse = self.coarse.restore_crop(image, mask)
        if pad_h or pad_w:
            pads = ((0, pad_h), (0, pad_w), (0, 0))
            image, coarse = np.pad(image, pads, mode="reflect"), np.pad(coarse, pads, mode="reflect")
            mask = np.pad(mask, pads[:2], mode="constant")
        device = next(self.model.parameters()).device  # a model being trained on a GPU validates there
        embedding = None if text is None else text.reshape(1, -1).float().to(device)

        def laid_out(tensor):
            return tensor.to(device).contiguous(memory_format=self.memory_format)

        with torch.inference_mode():
            if self.graph is not None and self.use_colour_net:
                out = self._run_graph(image, mask, embedding, coarse)
            else:
                out = self.model(laid_out(image_to_tensor(image)), laid_out(mask_to_tensor(mask)), embedding,
                                 laid_out(image_to_tensor(coarse)), use_colour_net=self.use_colour_net)
        restored = tensor_to_image(out)[:height, :width]
        image, mask = image[:height, :width], mask[:height, :width]
        config = self.model.config
        if config.texture.method != "none":
            from mural_inpaint.restorers.texture import add_texture

            restored = add_texture(restored, image, mask, self.texture_source, config.texture)
        if rim is not None:
            restored = rim.result().apply(restored, image)
        return restored

    def _run_graph(self, image, mask, embedding, coarse):
        """The ONNX graph (generator + colour net), then the steering branch in PyTorch when the model has one."""
        torch = self._torch
        image_t, mask_t, coarse_t = image_to_tensor(image), mask_to_tensor(mask), image_to_tensor(coarse)
        text = embedding if embedding is not None else torch.zeros(1, self.model.config.generator.text_dim)
        arrays = [np.ascontiguousarray(t.numpy()) for t in (image_t, mask_t, text.float(), coarse_t)]
        return self.model.steer(torch.from_numpy(self.graph(*arrays)), mask_t, embedding)

    def provenance(self) -> dict:
        from dataclasses import asdict

        return {"restorer": self.name, "checkpoint": self.source, "revision": self.revision,
                "text_encoder": self.text_encoder_spec.to_dict(), "working_size": self.max_side,
                "colour_correction": self.use_colour_net, "texture": asdict(self.model.config.texture),
                "rim_band": self.model.config.rim_band,
                "engine": self.engine}


@RESTORERS.register("muralxgan", "text-guided GAN generator + colour correction (the shipped checkpoint, or any "
                                 "trained one)")
def muralxgan(checkpoint: str | None = None, revision: str | None = None, text_encoder_spec=None,
              allow_download: bool = True, texture: str | None = None, engine: str | None = None) -> Restorer:
    """``texture``: override the checkpoint's texture stage (``"patch"`` or ``"fsr"`` with the settings chosen for it
    on the validation crops, :meth:`TextureConfig.chosen`, or ``"none"``); None keeps the checkpoint's.  ``engine``:
    ``auto`` / ``onnx`` / ``torch`` (None: ``MURALXGAN_ENGINE``, default ``auto``)."""
    from mural_inpaint.models.config import TextureConfig
    from mural_inpaint.models.muralxgan import load_muralxgan

    if checkpoint is None:
        checkpoint, revision = default_checkpoint()
    if checkpoint is None:
        raise ModelUnavailableError(
            "No MuralXGAN checkpoint is available yet: set MURALXGAN_CHECKPOINT to a checkpoint folder or Hub repo id, "
            "or pass --checkpoint; the classical restorers work without one."
        )
    model, resolved = load_muralxgan(checkpoint, revision=revision, allow_download=allow_download)
    if texture is not None:
        model.config.texture = TextureConfig.chosen(texture)
    return MuralXGANRestorer(model, resolved.source, resolved.revision, text_encoder_spec, engine=engine,
                             checkpoint_dir=resolved.path)


@RESTORERS.register("muralxgan-texture", "MuralXGAN with the grain of matching intact paint copied into large losses "
                    "(sharper to the eye, about 0.1-0.35 dB lower hole PSNR)")
def muralxgan_texture(checkpoint: str | None = None, revision: str | None = None, text_encoder_spec=None,
                      allow_download: bool = True, engine: str | None = None) -> Restorer:
    """``muralxgan`` with the patch texture stage (:meth:`TextureConfig.chosen`), whatever the checkpoint says: a
    name of its own so the app offers it and the blind study can set it against the smooth fills."""
    return muralxgan(checkpoint, revision, text_encoder_spec, allow_download, texture="patch", engine=engine)
