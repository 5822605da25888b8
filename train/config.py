"""Training configuration: dataclasses with defaults, loaded from YAML, saved inside every checkpoint."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from mural_inpaint.models.config import DiscriminatorConfig, MuralXGANConfig


def _build(cls, data: dict | None):
    data = dict(data or {})
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} settings: {', '.join(sorted(unknown))}")
    return cls(**data)


MASK_SOURCES = {"own", "bank", "pool", "synthetic", "large"}


@dataclass
class DataConfig:
    """Where samples come from and how damage is synthesised.

    ``sources``: local folders (``gt/``+``mask/``, ``images/``+``labels/``, an imagefolder with ``metadata.jsonl``,
    or a plain folder of clean images) or Hub dataset ids.  ``holdout``: text files of stems kept out of training
    (the validation stems and the benchmark's).  ``validation_stems``: the stems of ``validation`` that are
    validated on (None: those of ``holdout``); ``validation_masks``: the mask protocols each is validated with, as the
    benchmark names them (``own``, ``bank:DIR``, ``large``).  ``mask_sources``: relative weights of the dataset's own
    mask (``own``), the real-mask bank (``bank``), any training row's own mask put on this sample (``pool``), the
    synthetic presets (``synthetic``) and one sizeable contiguous loss (``large``, the benchmark's large-loss kind).
    ``source_weights``: the share of samples drawn from each source (drawn with replacement), so that a few large
    in-domain photos are not drowned by thousands of small crops; None = every image equally.
    """

    sources: list[str] = field(default_factory=list)
    validation: str | None = None  # folder of gt/ + mask/ pairs, restricted to the validation stems
    holdout: str | list[str] | None = None
    validation_stems: str | None = None
    validation_masks: list[str] = field(default_factory=lambda: ["own"])
    image_column: str = "image"
    mask_column: str = "mask"
    caption_column: str = "caption"
    caption_mode: str = "scene"  # "scene": captions describe the picture; "damage": they describe its own mask
    split: str = "train"
    mask_bank: str | None = None
    mask_sources: dict = field(default_factory=lambda: {"own": 0.3, "bank": 0.35, "synthetic": 0.35})
    presets: list[str] = field(default_factory=lambda: ["crack", "flake", "stroke", "box", "mixed", "light"])
    crop_size: int = 128
    min_scale: float = 0.6  # random rescale of the source before cropping (more variety of detail size)
    text_dropout: float = 0.2  # fraction of samples trained without text
    counterfactual: float = 0.0  # fraction of captioned samples whose lost paint is recoloured to another pigment
    # (train/counterfactual.py), the caption naming it: the text is then the only source of the right colour
    conservator_captions: float = 0.0  # fraction of captioned samples described by a conservator's short sentence
    # naming the lost pigment ("The lost paint in the damaged area was malachite green.") instead of the describer's
    counterfactual_conservator_captions: float | None = None  # the same fraction for counterfactual samples (None:
    # conservator_captions): 1.0 with 0.0 above gives recoloured losses a conservator's sentence and true ones the
    # describer's privileged caption, so a net can tell words that contradict the surroundings from words that agree
    workers: int = 1
    images_per_source: int | None = None  # use only the first N images of each source (sorted by name)
    source_weights: list[float] | None = None

    def __post_init__(self):
        unknown = set(self.mask_sources) - MASK_SOURCES
        if unknown:
            raise ValueError(f"unknown data.mask_sources {', '.join(sorted(unknown))}; "
                             f"choose from {', '.join(sorted(MASK_SOURCES))}")


@dataclass
class LossConfig:
    """Loss weights (every term lives here, not in code)."""

    l1_hole: float = 6.0
    l1_valid: float = 1.0
    mse_hole: float = 0.0  # squared error in the hole on the final (colour-corrected) output, the one people see
    perceptual: float = 0.05
    perceptual_backbone: str = "vgg16"
    perceptual_layers: int = 9  # modules of torchvision's features used: 9 = up to relu2_2
    adversarial: float = 0.01
    feature_matching: float = 1.0
    adversarial_start: int = 2000  # L1 warm-up steps before the discriminator joins
    colour: float = 1.0  # Lab L1 over hole + ring on the colour-corrected output
    colour_ring: int = 8


SELECTION_SCORES = ("hole_psnr", "balanced")


@dataclass
class TrainConfig:
    model: MuralXGANConfig = field(default_factory=MuralXGANConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    output_dir: str = "runs/muralxgan"
    recipe: str | None = None  # the command that ran this config (set from the YAML path and overrides)
    seed: int = 0
    batch_size: int = 8
    steps: int = 10000
    max_minutes: float | None = None  # stop (and save) after this much wall time
    lr: float = 1e-3
    lr_discriminator: float = 2e-3
    adam_beta1: float = 0.5  # 0.9 learns the L1 warm-up faster; 0.5 is the usual choice once the GAN game starts
    warmup_steps: int = 200
    mixed_precision: str = "no"  # "bf16" / "fp16" on GPUs
    log_every: int = 25
    validate_every: int = 500
    save_every: int = 500
    threads: int | None = None  # torch CPU threads per process (None = torch default)
    init_from: str | None = None  # checkpoint folder or Hub id to fine-tune; its architecture replaces `model`
    model_changes: dict = field(default_factory=dict)  # with init_from: architecture added to the parent's, e.g.
    # {generator: {spectral_blocks: 2}}; new layers start as the identity, every parent weight is loaded
    select_on: str = "hole_psnr"  # which validation score picks best/: "hole_psnr", or "balanced" = hole PSNR plus
    # hole-box LPIPS in decibels (-10 log10 LPIPS), so a 10 % lower LPIPS counts as much as +0.46 dB
    train_only: list[str] = field(default_factory=list)  # names of the restorer's parts that learn (e.g.
    # ["steering"]); the rest stay frozen, so a fine-tune adding a branch cannot change what the parent did without it
    ema_decay: float | None = None  # exponential moving average of the restorer's weights (e.g. 0.998): validated,
    # exported and published instead of the weights of the last step, which jump around with the GAN game

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = MuralXGANConfig.from_dict(self.model)
        if isinstance(self.discriminator, dict):
            self.discriminator = _build(DiscriminatorConfig, self.discriminator)
        if isinstance(self.data, dict):
            self.data = _build(DataConfig, self.data)
        if isinstance(self.loss, dict):
            self.loss = _build(LossConfig, self.loss)
        if self.select_on not in SELECTION_SCORES:
            raise ValueError(f"unknown select_on {self.select_on!r}; choose from {', '.join(SELECTION_SCORES)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        return _build(cls, data)

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
        """Load YAML, then apply ``key.sub=value`` overrides (values parsed as YAML).

        ``base: OTHER.yaml`` (relative to the file) loads that preset first; this file's settings replace its
        settings key by key, nested sections included, so a variant of a recipe names only what it changes.
        ``base: [A.yaml, B.yaml]`` loads several, each merged over the ones before it (e.g. a recipe, then the data
        it runs on).  ``locations: {NAME: PATH}`` (data.yaml's) names each data folder once; ``${NAME}`` in any
        setting or override stands for its path.
        """
        import yaml

        data = _read_preset(Path(path))
        for override in overrides or []:
            key, _, raw = override.partition("=")
            target = data
            *parents, leaf = key.strip().split(".")
            for parent in parents:
                target = target.setdefault(parent, {})
            target[leaf] = yaml.safe_load(raw)
        data = _with_locations(data, data.pop("locations", None) or {})
        data["recipe"] = " ".join(["python -m train.train --config", str(path),
                                   *(f"--set {override}" for override in overrides or [])])
        return cls.from_dict(data)


def _read_preset(path: Path) -> dict:
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    bases = data.pop("base", None) or []
    merged: dict = {}
    for base in [bases] if isinstance(bases, str) else bases:
        merged = _merged(merged, _read_preset(path.parent / base))
    return _merged(merged, data)


def _merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` applied key by key; nested dicts merge, anything else replaces."""
    merged = dict(base)
    for key, value in changes.items():
        both_dicts = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both_dicts else value
    return merged


def _with_locations(value, locations: dict):
    """``value`` with every ``${NAME}`` in its strings replaced by ``locations[NAME]`` (data.yaml's data folders)."""
    if isinstance(value, dict):
        return {key: _with_locations(item, locations) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_locations(item, locations) for item in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def path_of(match: re.Match) -> str:
        if match.group(1) not in locations:
            known = ", ".join(sorted(locations)) or "none: build on data.yaml (`base:`)"
            raise ValueError(f"unknown data location ${{{match.group(1)}}} (locations: {known})")
        return str(locations[match.group(1)])

    return re.sub(r"\$\{([^}]*)\}", path_of, value)
