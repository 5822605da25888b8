"""Colour correction of the restored region against the intact paint around it."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mural_inpaint.models.config import ColourConfig


def ring_mask(mask: torch.Tensor, width: int) -> torch.Tensor:
    """``[B, 1, H, W]``: 1 on the intact pixels within ``width`` px (a square) of the hole ``mask`` (1 = damage)."""
    # a square dilation as two 1-D max-pools: the same result, a fraction of the cost at large widths
    grown = F.max_pool2d(mask, (2 * width + 1, 1), stride=1, padding=(width, 0))
    grown = F.max_pool2d(grown, (1, 2 * width + 1), stride=1, padding=(0, width))
    return grown * (1 - mask)


def ring_statistics(image: torch.Tensor, mask: torch.Tensor, width: int) -> torch.Tensor:
    """Mean and std per channel of the intact ring of ``width`` px around the hole: ``[B, 6]``.

    ``image`` ``[B, 3, H, W]`` in ``[0, 1]``, ``mask`` ``[B, 1, H, W]`` (1 = damage).  Falls back to all intact pixels
    when the ring is empty.
    """
    ring = ring_mask(mask, width)
    weights = torch.where(ring.sum((2, 3), keepdim=True) > 0, ring, 1 - mask)
    total = weights.sum((2, 3)).clamp_min(1.0)
    mean = (image * weights).sum((2, 3)) / total
    var = ((image - mean[:, :, None, None]) ** 2 * weights).sum((2, 3)) / total
    return torch.cat([mean, var.clamp_min(0).sqrt()], dim=1)


def gain_offset_net(in_channels: int, config: ColourConfig) -> tuple[nn.Sequential, nn.Conv2d]:
    """(body, head): a dilated CNN and a 1x1 head predicting a per-pixel gain and offset ``[B, 6, H, W]``.

    The head starts at zero, so ``x * (1 + gain) + offset`` starts as the identity.
    """
    c = config.channels
    layers: list[nn.Module] = [nn.Conv2d(in_channels, c, 3, padding=1), nn.LeakyReLU(0.2)]
    for dilation in config.dilations:
        layers += [nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation), nn.LeakyReLU(0.2)]
    head = nn.Conv2d(c, 6, 1)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return nn.Sequential(*layers), head


class ColourCorrectionNet(nn.Module):
    """Predicts a per-pixel gain and offset for the restored region: ``out = x * (1 + g) + b`` inside the hole.

    Input: the generator's composited output ``[B, 3, H, W]`` in ``[0, 1]``, ``mask`` ``[B, 1, H, W]``; the ring's
    colour statistics are broadcast as six more channels so the net sees what the surrounding paint looks like.
    The head starts at zero: an untrained net is the identity.  Pixels outside the mask are returned unchanged.
    """

    def __init__(self, config: ColourConfig):
        super().__init__()
        self.config = config
        self.body, self.head = gain_offset_net(3 + 1 + 6, config)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        stats = ring_statistics(image, mask, self.config.ring_width)
        context = stats[:, :, None, None].expand(-1, -1, *image.shape[-2:])
        gain, offset = self.head(self.body(torch.cat([image, mask, context], dim=1))).chunk(2, dim=1)
        corrected = (image * (1 + gain) + offset).clamp(0, 1)
        return image * (1 - mask) + corrected * mask


def masked_statistics(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean and std per channel of ``image`` ``[B, 3, H, W]`` where ``mask`` ``[B, 1, H, W]`` is 1: ``[B, 6]``."""
    total = mask.sum((2, 3)).clamp_min(1.0)
    mean = (image * mask).sum((2, 3)) / total
    var = ((image - mean[:, :, None, None]) ** 2 * mask).sum((2, 3)) / total
    return torch.cat([mean, var.clamp_min(0).sqrt()], dim=1)


#: a named pigment holding this share of the intact ring around a loss agrees with the surroundings (see
#: :meth:`PigmentSteering.already_named`)
AGREEING_RING_SHARE = 0.25


class PigmentSteering(nn.Module):
    """Moves the restored region towards the palette pigments a description names for the lost paint.

    ``forward(image, mask, pigments)``: ``image`` ``[B, 3, H, W]`` in ``[0, 1]`` (the colour-corrected restoration),
    ``mask`` ``[B, 1, H, W]`` (1 = damage), ``pigments`` ``[B, P]`` the shares of
    :data:`mural_inpaint.palette.DUNHUANG_PALETTE` named for the lost paint (summing to 1, or all zero when none is
    named; :func:`mural_inpaint.text.pigment_words.lost_pigments`).

    Inside the hole each pixel moves towards the named colour (the share-weighted mean of the pigments' aged
    anchors) by the fill's own offset from it: ``out = x + a * (named - fill mean)``, so the brushwork and the
    outlines of the fill travel with it.  How far (``a`` in ``[0, 1]`` per pixel and channel) is what the branch
    learns, from the pixel, the mask, the colour statistics of the fill and of the intact ring, the named colour and
    the shares: far where the words contradict the surroundings, not at all where the fill already agrees.

    Why a branch of its own: where the surroundings say what a loss held, a generator learns to ignore the text;
    a conservator's "the robe was malachite green" then changes nothing.  This branch sees only what the words name,
    and rows that name no pigment come back bit for bit unchanged, so an automatic description restores exactly as
    without it.  The head starts at zero: an untrained branch is the identity.  (A first version predicted a free
    gain and offset, like the colour net; trained the same way it learnt to change lightness only: malachite green
    and cinnabar red darkened a fill alike.)
    """

    def __init__(self, config: ColourConfig):
        super().__init__()
        from mural_inpaint.palette import DUNHUANG_PALETTE

        self.config = config
        anchors = [torch.tensor(p.anchors_srgb, dtype=torch.float32).mean(0) / 255.0 for p in DUNHUANG_PALETTE]
        # derived from the palette, not learned: kept out of the checkpoint
        self.register_buffer("pigment_colours", torch.stack(anchors), persistent=False)  # [P, 3]
        self.body, _ = gain_offset_net(3 + 1 + 6 + 6 + 3 + len(anchors), config)  # its own head, below
        self.head = nn.Conv2d(config.channels, 3, 1)  # how far towards the named colour, per channel
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, pigments: torch.Tensor) -> torch.Tensor:
        named = pigments.sum(1) > 0
        if not self.training and bool(named.any()):
            named = named & ~self.already_named(image, mask, pigments)
        if not bool(named.any()):
            return image
        named_colour = pigments @ self.pigment_colours  # [B, 3]
        fill = masked_statistics(image, mask)
        context = torch.cat([ring_statistics(image, mask, self.config.ring_width), fill, named_colour, pigments], dim=1)
        context = context[:, :, None, None].expand(-1, -1, *image.shape[-2:])
        raw = self.head(self.body(torch.cat([image, mask, context], dim=1)))
        # clamped to [0, 1] going forward, the gradient passed straight through: the head starts at exactly 0 (the
        # identity), where a plain clamp would pass no gradient and the branch would never start to learn
        share = raw + (raw.clamp(0, 1) - raw).detach()
        towards = (named_colour - fill[:, :3])[:, :, None, None]
        steered = image * (1 - mask) + (image + share * towards).clamp(0, 1) * mask
        return torch.where(named[:, None, None, None], steered, image)

    def already_named(self, image: torch.Tensor, mask: torch.Tensor, pigments: torch.Tensor) -> torch.Tensor:
        """bool ``[B]``: rows where the words agree with what the pixels already say: the fill is mostly (by pixel
        count, nearest pigment by CIEDE2000) one of the pigments named, or a named pigment holds at least
        :data:`AGREEING_RING_SHARE` of the intact ring around the loss. Restoring, those are left as they are:
        moving the fill to the pigment's generic aged colour only loses the shade of the paint around it.
        Training keeps every row, to learn how far to move."""
        from mural_inpaint.palette import classify_pigments, dominant_pigment

        ring = ring_mask(mask, self.config.ring_width)
        agree = []
        for row in range(image.shape[0]):
            hole = mask[row, 0].detach().cpu().numpy() > 0.5
            named = pigments[row].detach().cpu().numpy() > 0
            if not hole.any() or not named.any():
                agree.append(False)
                continue
            pixels = (image[row].detach().permute(1, 2, 0).cpu().numpy() * 255).round().clip(0, 255).astype("uint8")
            around = pixels[ring[row, 0].detach().cpu().numpy() > 0.5]
            ring_shares = (np.bincount(classify_pigments(around), minlength=len(named)) / max(1, len(around))
                           if len(around) else np.zeros(len(named)))
            agree.append(bool(named[dominant_pigment(pixels, hole)]) or
                         bool((ring_shares[named] >= AGREEING_RING_SHARE).any()))
        return torch.tensor(agree, device=image.device)
