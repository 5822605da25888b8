"""Losses; their weights live in :class:`train.config.LossConfig`."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over the pixels where ``weight`` ``[B, 1, H, W]`` is 1 (all channels)."""
    return _masked_mean((prediction - target).abs(), weight)


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the pixels where ``weight`` ``[B, 1, H, W]`` is 1 (all channels).

    PSNR is a function of this; L1 pulls towards the median of the plausible fills, this towards their mean.
    """
    return _masked_mean((prediction - target).square(), weight)


def _masked_mean(error: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``error`` ``[B, C, H, W]`` over the pixels where ``weight`` ``[B, 1, H, W]`` is 1 (0 if none)."""
    total = weight.sum() * error.shape[1]
    return (error * weight).sum() / total.clamp_min(1.0)


class PerceptualLoss(nn.Module):
    """L1 between ImageNet-backbone activations (after each ReLU) of prediction and target.

    The backbone's weights come from :func:`mural_inpaint.pretrained.imagenet_features` (offline); frozen.
    """

    def __init__(self, backbone: str = "vgg16", layers: int = 9):
        super().__init__()
        from mural_inpaint.pretrained import imagenet_features

        self.features = imagenet_features(backbone)[:layers].eval()
        for parameter in self.features.parameters():
            parameter.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN)[None, :, None, None])
        self.register_buffer("std", torch.tensor(IMAGENET_STD)[None, :, None, None])

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = (prediction - self.mean) / self.std
        y = (target - self.mean) / self.std
        loss = prediction.new_zeros(())
        for layer in self.features:
            x, y = layer(x), layer(y)
            if isinstance(layer, nn.ReLU):
                loss = loss + F.l1_loss(x, y)
        return loss


def rgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """Differentiable sRGB ``[B, 3, H, W]`` in ``[0, 1]`` -> CIELAB (D65), L in ``[0, 100]``."""
    linear = torch.where(image > 0.04045, ((image + 0.055) / 1.055).clamp_min(1e-8) ** 2.4, image / 12.92)
    matrix = image.new_tensor([[0.4124564, 0.3575761, 0.1804375],
                               [0.2126729, 0.7151522, 0.0721750],
                               [0.0193339, 0.1191920, 0.9503041]])
    xyz = torch.einsum("ij,bjhw->bihw", matrix, linear)
    xyz = xyz / image.new_tensor([0.95047, 1.0, 1.08883])[None, :, None, None]
    f = torch.where(xyz > 216 / 24389, xyz.clamp_min(1e-8) ** (1 / 3), (24389 / 27 * xyz + 16) / 116)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def colour_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, ring: int) -> torch.Tensor:
    """Lab L1 (scaled by 1/100) over the hole and a ``ring``-pixel band around it."""
    region = F.max_pool2d(mask, 2 * ring + 1, stride=1, padding=ring)
    return masked_l1(rgb_to_lab(prediction) / 100.0, rgb_to_lab(target) / 100.0, region)


def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def feature_matching_loss(fake_features: list[torch.Tensor], real_features: list[torch.Tensor]) -> torch.Tensor:
    return sum(F.l1_loss(fake, real.detach()) for fake, real in zip(fake_features, real_features)) / len(fake_features)
