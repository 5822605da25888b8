"""Building blocks: gated convolutions (learned soft masks for free-form holes) and zero-initialised FiLM."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class GatedConv(nn.Module):
    """``act(conv_f(x)) * sigmoid(conv_g(x))`` computed by one convolution with twice the outputs.

    The gate lets each pixel learn how much to trust its input, which plain convolutions cannot do across the
    boundary between valid paint and the hole (Yu et al., "Free-Form Image Inpainting with Gated Convolution").
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1, dilation: int = 1):
        super().__init__()
        padding = dilation * (kernel - 1) // 2
        self.conv = nn.Conv2d(in_channels, 2 * out_channels, kernel, stride, padding, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        return F.elu(features) * torch.sigmoid(gate)


class FiLM(nn.Module):
    """Feature-wise linear modulation by a text embedding: ``x * (1 + gamma) + beta``.

    The projection (text_dim -> 2 * channels) has no bias and starts at zero, so at initialisation, and for an
    all-zero embedding ("no text"), the layer is exactly the identity: text starts neutral and the network learns
    how much to listen to it.
    """

    def __init__(self, text_dim: int, channels: int):
        super().__init__()
        self.project = nn.Linear(text_dim, 2 * channels, bias=False)
        nn.init.zeros_(self.project.weight)

    def forward(self, x: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.project(text)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + gamma) + beta


class DilatedGatedBlock(nn.Module):
    """Residual pair of gated 3x3 convolutions, the first dilated (wide receptive field at low cost)."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.first = GatedConv(channels, channels, 3, dilation=dilation)
        self.second = GatedConv(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.second(self.first(x))


class SpectralBlock(nn.Module):
    """Residual Fourier block (as in LaMa's fast Fourier convolutions): a 1x1 convolution applied to the feature
    map's 2-D spectrum, so every output position sees the whole crop in one layer.

    Dilated 3x3 stacks see a few dozen pixels at 1/4 resolution; a 100 px loss needs context from its far side and
    from the repeating pattern of the whole crop, which a convolution in the frequency domain gives at the cost of
    two FFTs.  The output projection starts at zero, so adding the block to a trained generator leaves its output
    unchanged until fine-tuning teaches it something (``x`` ``[B, C, H, W]`` -> same shape).
    """

    def __init__(self, channels: int):
        super().__init__()
        hidden = max(1, channels // 2)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.spectral = nn.Conv2d(2 * hidden, 2 * hidden, 1)  # real and imaginary parts mixed together
        self.expand = nn.Conv2d(hidden, channels, 1)
        nn.init.zeros_(self.expand.weight)
        nn.init.zeros_(self.expand.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        local = F.elu(self.reduce(x))
        height, width = local.shape[-2:]
        spectrum = torch.fft.rfft2(local.float(), norm="ortho")
        mixed = F.elu(self.spectral(torch.cat([spectrum.real, spectrum.imag], dim=1)))
        real, imag = mixed.chunk(2, dim=1)
        glob = torch.fft.irfft2(torch.complex(real, imag), s=(height, width), norm="ortho").to(local.dtype)
        return x + self.expand(local + glob)
