"""Spectral-norm PatchGAN discriminator (training only)."""

from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from mural_inpaint.models.config import DiscriminatorConfig


class PatchDiscriminator(nn.Module, PyTorchModelHubMixin, library_name="muralxgan", tags=["inpainting", "murals"]):
    """Scores overlapping patches of ``image`` ``[B, 3, H, W]`` in ``[0, 1]`` given ``mask`` ``[B, 1, H, W]``.

    ``forward`` returns ``(logits [B, 1, H/2^layers - 2 .., ...], features)``; ``features`` are the activations of
    every layer, for the generator's feature-matching loss.  Every convolution is spectrally normalised, which keeps
    the hinge-loss game stable without gradient penalties.
    """

    def __init__(self, config: DiscriminatorConfig | dict | None = None):
        super().__init__()
        config = DiscriminatorConfig(**config) if isinstance(config, dict) else (config or DiscriminatorConfig())
        self.config = config
        self._hub_mixin_config = config
        layers, channels, width = [], 4, config.channels
        for index in range(config.layers):
            stride = 2 if index < config.layers - 1 else 1
            layers.append(nn.Sequential(spectral_norm(nn.Conv2d(channels, width, 4, stride, 1)), nn.LeakyReLU(0.2)))
            channels, width = width, min(width * 2, 8 * config.channels)
        self.layers = nn.ModuleList(layers)
        self.head = spectral_norm(nn.Conv2d(channels, 1, 4, 1, 1))

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = torch.cat([image * 2 - 1, mask], dim=1)
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return self.head(x), features
