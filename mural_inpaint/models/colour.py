"""Colour correction of the restored region against the intact paint around it."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mural_inpaint.models.config import ColourConfig


def ring_statistics(image: torch.Tensor, mask: torch.Tensor, width: int) -> torch.Tensor:
    """Mean and std per channel of the intact ring of ``width`` px around the hole: ``[B, 6]``.

    ``image`` ``[B, 3, H, W]`` in ``[0, 1]``, ``mask`` ``[B, 1, H, W]`` (1 = damage).  Falls back to all intact pixels
    when the ring is empty.
    """
    # a square dilation as two 1-D max-pools: the same result, a fraction of the cost at large widths
    grown = F.max_pool2d(mask, (2 * width + 1, 1), stride=1, padding=(width, 0))
    grown = F.max_pool2d(grown, (1, 2 * width + 1), stride=1, padding=(0, width))
    ring = grown * (1 - mask)
    weights = torch.where(ring.sum((2, 3), keepdim=True) > 0, ring, 1 - mask)
    total = weights.sum((2, 3)).clamp_min(1.0)
    mean = (image * weights).sum((2, 3)) / total
    var = ((image - mean[:, :, None, None]) ** 2 * weights).sum((2, 3)) / total
    return torch.cat([mean, var.clamp_min(0).sqrt()], dim=1)


class ColourCorrectionNet(nn.Module):
    """Predicts a per-pixel gain and offset for the restored region: ``out = x * (1 + g) + b`` inside the hole.

    Input: the generator's composited output ``[B, 3, H, W]`` in ``[0, 1]``, ``mask`` ``[B, 1, H, W]``; the ring's
    colour statistics are broadcast as six more channels so the net sees what the surrounding paint looks like.
    The head starts at zero: an untrained net is the identity.  Pixels outside the mask are returned unchanged.
    """

    def __init__(self, config: ColourConfig):
        super().__init__()
        self.config = config
        c = config.channels
        layers: list[nn.Module] = [nn.Conv2d(3 + 1 + 6, c, 3, padding=1), nn.LeakyReLU(0.2)]
        for dilation in config.dilations:
            layers += [nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(c, 6, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        stats = ring_statistics(image, mask, self.config.ring_width)
        context = stats[:, :, None, None].expand(-1, -1, *image.shape[-2:])
        gain, offset = self.head(self.body(torch.cat([image, mask, context], dim=1))).chunk(2, dim=1)
        corrected = (image * (1 + gain) + offset).clamp(0, 1)
        return image * (1 - mask) + corrected * mask
