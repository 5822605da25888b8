"""Generator, colour-correction net, discriminator, and the checkpoint bundle (torch is imported here)."""

from mural_inpaint.models.colour import ColourCorrectionNet
from mural_inpaint.models.config import ColourConfig, DiscriminatorConfig, GeneratorConfig, MuralXGANConfig
from mural_inpaint.models.discriminator import PatchDiscriminator
from mural_inpaint.models.generator import TextGuidedGenerator
from mural_inpaint.models.muralxgan import MuralXGAN, load_muralxgan

__all__ = [
    "ColourConfig", "ColourCorrectionNet", "DiscriminatorConfig", "GeneratorConfig", "MuralXGAN", "MuralXGANConfig",
    "PatchDiscriminator", "TextGuidedGenerator", "load_muralxgan",
]
