"""The restorer checkpoint: generator + colour-correction net + the text encoder they were trained with.

Saved and loaded through ``huggingface_hub.PyTorchModelHubMixin``: ``model.safetensors`` + ``config.json`` (the
full :class:`MuralXGANConfig`) + a model card, in a local folder or a Hub repo (any revision).  Loading is strict:
a checkpoint whose tensors do not match its config is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.hub import ResolvedModel, resolve_model_dir
from mural_inpaint.models.colour import ColourCorrectionNet, PigmentSteering
from mural_inpaint.models.config import MuralXGANConfig
from mural_inpaint.models.generator import TextGuidedGenerator
from mural_inpaint.text.encoders import TextEncoderSpec

MODEL_CARD = """---
{{ card_data }}
---

# MuralXGAN restorer

Text-guided inpainting for damaged Dunhuang murals: a gated-convolution generator whose features are modulated
(FiLM) by a damage description encoded with `{{ text_encoder }}`, followed by a colour-correction network.
Load it with the MuralXGAN package (`python -m mural_inpaint restore IMAGE --mask MASK --checkpoint REPO_OR_FOLDER`).

- Working size: {{ working_size }} px crops; classical starting fill: `{{ coarse_fill }}`.
- Texture stage for sizeable losses: {{ texture }}.
- Pigment steering: {{ steering }}.
- Rim of each fill: {{ rim }}.

## Training

{{ training }}

## Limits

Restorations are proposals for conservators to judge, not reconstructions of lost evidence: the network invents
plausible paint from the surroundings and the description. Trained on small crops of a limited collection, it
blurs large losses and fine line work it has not seen.
"""


def training_summary(training: dict) -> str:
    """Markdown list of a checkpoint's training record (data, recipe, metrics, hardware)."""
    if not training:
        return "Not recorded (an untrained or hand-made checkpoint)."
    lines = []
    for key, value in training.items():
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            lines.append(f"- {key.replace('_', ' ')}:")
            lines += [f"  - {_inline(item)}" for item in value]
        elif isinstance(value, dict):
            lines.append(f"- {key.replace('_', ' ')}: {_inline(value)}")
        else:
            lines.append(f"- {key.replace('_', ' ')}: {value}")
    return "\n".join(lines)


def _inline(record: dict) -> str:
    return "; ".join(f"{k.replace('_', ' ')}: {_inline(v) if isinstance(v, dict) else v}" for k, v in record.items())


class MuralXGAN(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="muralxgan",
    tags=["image-inpainting", "cultural-heritage", "dunhuang", "murals"],
    model_card_template=MODEL_CARD,
):
    """``forward(image, mask, text, coarse)`` -> restored ``[B, 3, H, W]`` in ``[0, 1]`` with known pixels kept.

    ``image`` ``[B, 3, H, W]`` in ``[0, 1]``; ``mask`` ``[B, 1, H, W]`` (1 = damage); ``text`` ``[B, D]`` unit
    embeddings from :attr:`text_encoder_spec` (or zeros for no text); ``coarse`` the classical fill.
    """

    def __init__(self, config: MuralXGANConfig | dict | None = None):
        super().__init__()
        config = MuralXGANConfig.from_dict(config) if isinstance(config, dict) else (config or MuralXGANConfig())
        self.config = config
        self._hub_mixin_config = config  # config.json always holds the full config, defaults included
        self.generator = TextGuidedGenerator(config.generator)
        self.colour = ColourCorrectionNet(config.colour) if config.use_colour_net else None
        self.steering = PigmentSteering(config.colour) if config.pigment_steering else None

    @property
    def text_encoder_spec(self) -> TextEncoderSpec:
        return TextEncoderSpec.from_dict(self.config.text_encoder)

    def forward(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        text: torch.Tensor | None = None,
        coarse: torch.Tensor | None = None,
        use_colour_net: bool = True,
        return_generator_output: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """With ``return_generator_output`` also the generator's raw prediction (training needs both in one call)."""
        raw = self.generator(image, mask, text, coarse)
        out = image * (1 - mask) + raw * mask
        if self.colour is not None and use_colour_net:
            out = self.colour(out, mask)
        out = self.steer(out, mask, text)
        return (out, raw) if return_generator_output else out

    def steer(self, restored: torch.Tensor, mask: torch.Tensor, text: torch.Tensor | None) -> torch.Tensor:
        """The pigment-steering branch on a restoration, reading the pigment shares at the end of ``text``
        (unchanged without the branch or without text)."""
        if self.steering is None or text is None:
            return restored
        return self.steering(restored, mask, text[:, -self.steering.pigment_colours.shape[0]:])

    def generate_model_card(self, *args, **kwargs):
        kwargs.setdefault("text_encoder", self.text_encoder_spec.label())
        kwargs.setdefault("working_size", self.config.working_size)
        kwargs.setdefault("coarse_fill", self.config.coarse_fill)
        texture = self.config.texture
        source = (f"grain of matching intact {texture.patch_size} px patches of the photo" if texture.method == "patch"
                  else f"detail of the `{texture.method}` fill")
        kwargs.setdefault("texture", "none" if texture.method == "none" else (
            f"{source} (finer than a {texture.sigma:g} px blur) added at strength {texture.strength:g} where the "
            f"damage is over {texture.depth_from:g} px deep, fully from {texture.depth_full:g} px"))
        kwargs.setdefault("steering", "a branch moves the restored region towards the palette pigments a description "
                          "names for the lost paint (\"The lost paint in the damaged area was malachite green.\"); "
                          "descriptions naming none restore as without it, and so do words that agree with the "
                          "pixels (the fill mostly that pigment already, or the paint around the loss holding it)"
                          if self.config.pigment_steering else "none")
        band = self.config.rim_band
        kwargs.setdefault("rim", "as the network painted it" if band <= 0 else (
            f"hole pixels closer than {band:g} px to intact paint blended, by depth, towards the smoothest "
            "(biharmonic) surface between that paint and the network's deeper fill"))
        kwargs.setdefault("training", training_summary(self.config.training))
        return super().generate_model_card(*args, **kwargs)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, map_location: str = "cpu", strict: bool = True, **kwargs):
        """Load from a local folder only (Hub ids are resolved to folders by :func:`load_muralxgan`), strictly."""
        import safetensors.torch

        config = kwargs.get("config")
        if isinstance(config, dict) and "rim_band" not in config:
            config = {**config, "rim_band": 0.0}  # saved before the rim stage existed: restore as it always did
        model = cls(config)
        weights = Path(model_id) / "model.safetensors"
        if not weights.is_file():
            raise ModelUnavailableError(f"No model.safetensors in the checkpoint folder {model_id}.")
        try:
            safetensors.torch.load_model(model, str(weights), strict=strict, device=map_location)
        except RuntimeError as error:
            raise ModelUnavailableError(
                f"The checkpoint in {model_id} does not match its config.json ({_first_mismatch(error)})."
            ) from None
        return model.eval()


def _first_mismatch(error: Exception, limit: int = 240) -> str:
    """The first concrete problem of a state-dict loading error (its first line only names the model class)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    details = [line for line in lines if not line.startswith("Error(s) in loading state_dict")] or lines
    text = details[0].rstrip(".") if details else type(error).__name__
    return (text[:limit] + "...") if len(text) > limit else text


def load_muralxgan(
    identifier: str | os.PathLike,
    *,
    revision: str | None = None,
    allow_download: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[MuralXGAN, ResolvedModel]:
    """Checkpoint folder or Hub repo id (+ revision) -> (model in eval mode, where it came from)."""
    resolved = resolve_model_dir(identifier, revision=revision, what="MuralXGAN checkpoint",
                                 allow_download=allow_download, cache_dir=cache_dir)
    if not (resolved.path / "config.json").is_file():
        raise ModelUnavailableError(f"{resolved.path} is not a MuralXGAN checkpoint (no config.json).")
    model = MuralXGAN.from_pretrained(str(resolved.path), strict=True)
    return model, resolved
