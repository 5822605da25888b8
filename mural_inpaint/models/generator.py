"""The text-guided inpainting generator."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mural_inpaint.models.config import GeneratorConfig
from mural_inpaint.models.layers import DilatedGatedBlock, FiLM, GatedConv, SpectralBlock


class TextGuidedGenerator(nn.Module):
    """Gated-convolution U-Net whose bottleneck and decoder features are modulated by a text embedding.

    Inputs: ``image`` ``[B, 3, H, W]`` in ``[0, 1]`` (pixels under the mask are ignored), ``mask`` ``[B, 1, H, W]``
    (1 = damage), ``text`` ``[B, text_dim]`` (zeros = no text), ``coarse`` ``[B, 3, H, W]``: the classical fill used
    as starting point when ``config.use_coarse_fill``.  ``H`` and ``W`` must be multiples of 4.

    Layout (cost follows the CPU budget: almost all work happens at 1/2 and 1/4 resolution):
    stem 1/2 -> encoder 1/4 -> dilated gated blocks 1/4 (+FiLM) -> Fourier blocks 1/4 (+FiLM) -> decoder 1/2 (+FiLM)
    -> full-resolution head.

    Output: ``[B, 3, H, W]`` in ``[0, 1]``, the network's prediction everywhere (composite outside).  With a coarse
    fill the output head is zero-initialised, so an untrained network returns the classical fill exactly.
    """

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        c = config.channels
        in_channels = 4 + (3 if config.use_coarse_fill else 0)
        self.stem = nn.Sequential(GatedConv(in_channels, c, 3, stride=2), GatedConv(c, c, 3))
        self.down = nn.Sequential(GatedConv(c, 2 * c, 3, stride=2), GatedConv(2 * c, 2 * c, 3))
        self.blocks = nn.ModuleList(DilatedGatedBlock(2 * c, d) for d in config.dilations)
        film = "bottleneck" in config.film_stages
        self.block_film = nn.ModuleList(FiLM(config.text_dim, 2 * c) for _ in config.dilations) if film else None
        self.spectral = nn.ModuleList(SpectralBlock(2 * c) for _ in range(config.spectral_blocks))
        self.spectral_film = nn.ModuleList(FiLM(config.text_dim, 2 * c) for _ in self.spectral) if film else None
        self.up = nn.Sequential(GatedConv(2 * c + c, c, 3), GatedConv(c, c, 3))
        self.up_film = FiLM(config.text_dim, c) if "decoder" in config.film_stages else None
        self.head = nn.Sequential(GatedConv(c + in_channels, c // 2, 3), nn.Conv2d(c // 2, 3, 3, padding=1))
        if config.use_coarse_fill:
            nn.init.zeros_(self.head[-1].weight)
            nn.init.zeros_(self.head[-1].bias)

    def forward(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        text: torch.Tensor | None = None,
        coarse: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if text is None:
            text = image.new_zeros(image.shape[0], self.config.text_dim)
        parts = [image * (1 - mask), mask]
        if self.config.use_coarse_fill:
            if coarse is None:
                raise ValueError("this generator was configured with a classical coarse fill; pass `coarse`")
            parts.append(coarse)
        inputs = torch.cat(parts, dim=1)
        half = self.stem(inputs)
        x = self.down(half)
        for index, block in enumerate(self.blocks):
            x = block(x)
            if self.block_film is not None:
                x = self.block_film[index](x, text)
        for index, block in enumerate(self.spectral):
            x = block(x)
            if self.spectral_film is not None:
                x = self.spectral_film[index](x, text)
        x = self.up(torch.cat([F.interpolate(x, size=half.shape[-2:], mode="nearest"), half], dim=1))
        if self.up_film is not None:
            x = self.up_film(x, text)
        x = F.interpolate(x, size=inputs.shape[-2:], mode="bilinear", align_corners=False)
        residual = self.head(torch.cat([x, inputs], dim=1))
        if self.config.use_coarse_fill:
            return (coarse + residual).clamp(0, 1)
        return torch.sigmoid(residual)
