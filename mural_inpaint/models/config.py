"""Model configuration dataclasses; every checkpoint stores them in its ``config.json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

_DEFAULT_TEXT_ENCODER = {"name": "minilm", "model": "sentence-transformers/all-MiniLM-L6-v2", "pretrained": None,
                         "revision": None, "dim": 384}


def _from_dict(cls, data: dict):
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class GeneratorConfig:
    """Text-guided gated-convolution U-Net.

    ``channels``: width at full resolution (doubles at 1/2, quadruples at 1/4); ``dilations``: one residual gated
    block per entry at 1/4 resolution (receptive field grows with them); ``film_stages``: where the text modulates
    features (``bottleneck`` after each dilated block, ``decoder`` at both decoder stages).
    ``use_coarse_fill``: the classical fill is an extra input and the network predicts a residual over it.
    ``spectral_blocks``: residual Fourier blocks at 1/4 resolution after the dilated ones (a receptive field of the
    whole crop, for sizeable losses); each is followed by FiLM when the bottleneck is text-modulated.
    """

    channels: int = 32
    dilations: tuple[int, ...] = (2, 4, 8, 16)
    text_dim: int = 384
    film_stages: tuple[str, ...] = ("bottleneck", "decoder")
    use_coarse_fill: bool = True
    spectral_blocks: int = 0

    def __post_init__(self):
        self.dilations = tuple(self.dilations)
        self.film_stages = tuple(self.film_stages)


@dataclass
class ColourConfig:
    """Colour-correction net: a small dilated CNN predicting per-pixel gain and offset in the hole."""

    channels: int = 16
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    ring_width: int = 8  # pixels of intact paint around the hole whose colour statistics guide the correction

    def __post_init__(self):
        self.dilations = tuple(self.dilations)


@dataclass
class TextureConfig:
    """Texture stage for sizeable losses: detail transferred from a classical texture-extrapolating fill.

    A pixel-loss generator paints the colour and the broad forms of a large loss well but smoothly.  Frequency
    Selective Reconstruction (``method: fsr``) carries the surrounding brushwork, grain and edges into the hole.  The
    stage adds that fill's detail (the fill minus its Gaussian blur of ``sigma`` px) to the generator's output where
    the damage is deep: full ``strength`` at ``depth_full`` px from the nearest intact paint, nothing within
    ``depth_from`` px (thin cracks and the rims of losses keep the generator's pixels).  ``method: none`` turns it off.
    """

    method: str = "none"
    # chosen on the validation crops (stems 30-39; own, real-bank and large-loss masks): the best hole PSNR +
    # hole-box LPIPS in dB at strength 1; stronger detail scored higher there but streaks visibly
    sigma: float = 2.0
    depth_from: float = 3.0
    depth_full: float = 10.0
    strength: float = 1.0


@dataclass
class DiscriminatorConfig:
    """Spectral-norm PatchGAN on image + mask."""

    channels: int = 64
    layers: int = 3


@dataclass
class MuralXGANConfig:
    """Everything needed to rebuild a restorer checkpoint, plus what it was trained on (free-form ``training``)."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    colour: ColourConfig = field(default_factory=ColourConfig)
    use_colour_net: bool = True
    text_encoder: dict = field(default_factory=lambda: dict(_DEFAULT_TEXT_ENCODER))
    coarse_fill: str = "telea"  # classical restorer giving the generator's starting point
    working_size: int = 256  # crops are restored at most this many pixels on their longer side
    texture: TextureConfig = field(default_factory=TextureConfig)
    # the restored region moved towards the pigments a description names for the lost paint (PigmentSteering);
    # needs the text encoder's pigment vector (text_encoder.pigment_words)
    pigment_steering: bool = False
    training: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.generator, dict):
            self.generator = _from_dict(GeneratorConfig, self.generator)
        if isinstance(self.colour, dict):
            self.colour = _from_dict(ColourConfig, self.colour)
        if isinstance(self.texture, dict):
            self.texture = _from_dict(TextureConfig, self.texture)
        if self.pigment_steering and not self.text_encoder.get("pigment_words"):
            raise ValueError("pigment_steering needs a text encoder with pigment_words: the branch reads the "
                             "pigments named for the lost paint from the end of the text embedding")

    @classmethod
    def from_dict(cls, data: dict) -> MuralXGANConfig:
        return _from_dict(cls, data)

    def to_dict(self) -> dict:
        return asdict(self)
