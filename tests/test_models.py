"""MuralXGAN models: generator, colour net, discriminator, checkpoints (folders and an offline HF cache), restorer.

Every model here is tiny so the whole file runs in seconds on a CPU; no test needs the network.
"""

from __future__ import annotations

import json
import time

import huggingface_hub.constants
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils import parametrize

import mural_inpaint.restorers.gan as gan
from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.hub import resolve_model_dir
from mural_inpaint.models import (
    ColourConfig,
    ColourCorrectionNet,
    DiscriminatorConfig,
    GeneratorConfig,
    MuralXGAN,
    MuralXGANConfig,
    PatchDiscriminator,
    TextGuidedGenerator,
    load_muralxgan,
)
from mural_inpaint.models.colour import ring_statistics
from mural_inpaint.models.layers import FiLM, SpectralBlock
from mural_inpaint.restorers.base import RESTORERS
from mural_inpaint.restorers.texture import depth_into_damage
from mural_inpaint.text.encoders import TextEncoderSpec
from tests.helpers import synthetic_mural

TEXT_DIM = 384
COMMIT = "0123456789abcdef0123456789abcdef01234567"
CLIP_ENCODER = {"name": "clip", "model": "ViT-B-32", "pretrained": "laion2b_s34b_b79k", "revision": None, "dim": 512}


def tiny_config(**overrides) -> MuralXGANConfig:
    generator = overrides.pop("generator", {})
    options = dict(
        generator=GeneratorConfig(**{"channels": 8, "dilations": (2, 4), **generator}),
        colour=ColourConfig(channels=4, dilations=(1, 2), ring_width=3),
        working_size=64,
    )
    options.update(overrides)
    return MuralXGANConfig(**options)


def inputs(batch: int = 2, height: int = 48, width: int = 40, seed: int = 0):
    """image [B,3,H,W], mask [B,1,H,W] (a rectangle per sample), coarse [B,3,H,W] in [0.2, 0.8]."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, height, width, generator=generator)
    mask = torch.zeros(batch, 1, height, width)
    for index in range(batch):
        mask[index, :, 10 + 2 * index:30, 8:24 + 3 * index] = 1
    coarse = 0.2 + 0.6 * torch.rand(batch, 3, height, width, generator=generator)
    return image, mask, coarse


def unit_texts(count: int, seed: int = 1, dim: int = TEXT_DIM) -> torch.Tensor:
    texts = torch.randn(count, dim, generator=torch.Generator().manual_seed(seed))
    return texts / texts.norm(dim=1, keepdim=True)


def film_layers(model: torch.nn.Module) -> list[FiLM]:
    return [module for module in model.modules() if isinstance(module, FiLM)]


def perturb(model: torch.nn.Module, std: float = 0.2, seed: int = 0) -> None:
    """Give every zero-initialised head (generator, colour net) and every FiLM non-zero weights."""
    torch.manual_seed(seed)
    with torch.no_grad():
        heads = [model.generator.head[-1]] if isinstance(model, MuralXGAN) else [model.head[-1]]
        if isinstance(model, MuralXGAN) and model.colour is not None:
            heads.append(model.colour.head)
        for head in heads:
            head.weight.normal_(0, std)
            head.bias.normal_(0, std)
        for film in film_layers(model):
            film.project.weight.normal_(0, std)


# --- generator and the full model -------------------------------------------------------------------------------


@pytest.mark.parametrize("use_coarse_fill", [True, False])
def test_generator_output_shape_and_range(use_coarse_fill):
    torch.manual_seed(0)
    generator = TextGuidedGenerator(GeneratorConfig(channels=8, dilations=(2, 4), use_coarse_fill=use_coarse_fill))
    with torch.no_grad():
        generator.head[-1].weight.normal_(0, 5.0)  # large residuals: the output must still be clamped/squashed
    residuals = []
    generator.head.register_forward_hook(lambda module, args, output: residuals.append(output))
    image, mask, coarse = inputs()
    other_image = inputs(seed=5)[0]
    with torch.no_grad():
        out = generator(image, mask, unit_texts(2), coarse if use_coarse_fill else None)
        other = generator(other_image, mask, unit_texts(2), coarse if use_coarse_fill else None)
    assert out.shape == (2, 3, 48, 40)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    # before the squash the prediction leaves [0, 1] on both sides, so the range check above is not vacuous; the
    # output is exactly that prediction clamped (coarse fill + residual) or squashed (sigmoid of the residual)
    raw = coarse + residuals[0] if use_coarse_fill else residuals[0]
    assert raw.min() < 0 and raw.max() > 1
    torch.testing.assert_close(out, raw.clamp(0, 1) if use_coarse_fill else torch.sigmoid(raw))
    assert not torch.allclose(out, other, atol=1e-3)  # the prediction depends on the visible pixels


def test_generator_ignores_the_pixels_under_the_mask():
    torch.manual_seed(0)
    model = MuralXGAN(tiny_config())
    perturb(model)
    image, mask, coarse = inputs()
    scribbled = torch.where(mask.bool().expand_as(image), torch.rand_like(image), image)
    with torch.no_grad():
        assert torch.equal(model(image, mask, None, coarse), model(scribbled, mask, None, coarse))


def test_coarse_fill_generator_requires_coarse_and_plain_generator_does_not():
    image, mask, _ = inputs(batch=1, height=32, width=32)
    with_fill = MuralXGAN(tiny_config())
    with pytest.raises(ValueError, match="coarse"):
        with_fill(image, mask)
    plain = MuralXGAN(tiny_config(generator={"use_coarse_fill": False}))
    assert plain.generator.stem[0].conv.in_channels == 4  # image + mask only
    with torch.no_grad():
        out = plain(image, mask)
    assert out.shape == (1, 3, 32, 32)
    assert out.min() >= 0 and out.max() <= 1
    known = mask.expand_as(image) == 0
    assert torch.equal(out[known], image[known])
    # without the coarse fill the head is not zero-initialised: the hole gets the network's own prediction
    assert not torch.allclose(out[~known], image[~known])


@pytest.mark.parametrize("use_colour_net", [True, False])
def test_known_pixels_are_kept_exactly(use_colour_net):
    torch.manual_seed(0)
    model = MuralXGAN(tiny_config(use_colour_net=use_colour_net))
    perturb(model, std=1.0)
    image, mask, coarse = inputs()
    with torch.no_grad():
        out = model(image, mask, unit_texts(2), coarse)
    assert out.shape == image.shape
    known = mask.expand_as(image) == 0
    assert torch.equal(out[known], image[known])
    assert not torch.allclose(out[~known], coarse[~known], atol=1e-3)  # the perturbed model does change the hole
    assert out.min() >= 0 and out.max() <= 1


def test_untrained_model_returns_the_coarse_fill_and_the_colour_net_is_the_identity():
    model = MuralXGAN(tiny_config())
    image, mask, coarse = inputs()
    with torch.no_grad():
        out = model(image, mask, unit_texts(2), coarse)
        without_colour = model(image, mask, unit_texts(2), coarse, use_colour_net=False)
        raw = model.generator(image, mask, unit_texts(2), coarse)
        colour_only = model.colour(image, mask)
    hole = mask.expand_as(image) == 1
    assert torch.equal(out[hole], coarse[hole])
    assert torch.equal(out[~hole], image[~hole])
    assert torch.equal(out, without_colour)
    assert torch.equal(raw, coarse)
    assert torch.equal(colour_only, image)


def test_colour_net_changes_only_the_hole_once_trained():
    torch.manual_seed(0)
    net = ColourCorrectionNet(ColourConfig(channels=4, dilations=(1, 2)))
    with torch.no_grad():
        net.head.weight.normal_(0, 0.5)
        net.head.bias.normal_(0, 0.5)
    image, mask, _ = inputs()
    with torch.no_grad():
        out = net(image, mask)
    hole = mask.expand_as(image) == 1
    assert torch.equal(out[~hole], image[~hole])
    assert not torch.allclose(out[hole], image[hole])
    assert out.min() >= 0 and out.max() <= 1


def test_film_layer_is_the_identity_without_text_and_an_affine_map_with_it():
    torch.manual_seed(0)
    film = FiLM(16, 4)
    x = torch.randn(2, 4, 5, 6)
    text = torch.randn(2, 16)
    assert torch.equal(film(x, text), x)  # zero-initialised projection
    with torch.no_grad():
        film.project.weight.normal_()
        assert torch.equal(film(x, torch.zeros(2, 16)), x)  # no bias: "no text" is neutral even when trained
        gamma, beta = (text @ film.project.weight.T).chunk(2, dim=1)
        expected = x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
        torch.testing.assert_close(film(x, text), expected)
        assert not torch.allclose(film(x, text), x)


def test_film_is_neutral_at_initialisation():
    torch.manual_seed(0)
    model = MuralXGAN(tiny_config())
    with torch.no_grad():  # output depends on the features (not just the coarse fill), FiLM stays at its init
        model.generator.head[-1].weight.normal_(0, 0.2)
    assert len(film_layers(model)) == 3  # one per dilated block + the decoder
    assert all(torch.count_nonzero(film.project.weight) == 0 for film in film_layers(model))
    image, mask, coarse = inputs()
    with torch.no_grad():
        reference = model(image, mask, None, coarse)
        assert torch.equal(model(image, mask, torch.zeros(2, TEXT_DIM), coarse), reference)
        assert torch.equal(model(image, mask, unit_texts(2, seed=3), coarse), reference)
        assert torch.equal(model(image, mask, 10 * unit_texts(2, seed=4), coarse), reference)
        # the check above can fail: with non-zero FiLM weights the text does change the output ...
        for film in film_layers(model):
            film.project.weight.normal_(0, 0.2)
        assert not torch.allclose(model(image, mask, unit_texts(2, seed=3), coarse), reference)
        # ... but an all-zero embedding ("no text") stays neutral (FiLM has no bias)
        assert torch.equal(model(image, mask, torch.zeros(2, TEXT_DIM), coarse), model(image, mask, None, coarse))


def text_dependent_loss(model, image, mask, coarse, text_a, text_b):
    """Hole pixels should become bright for ``text_a`` and dark for ``text_b``."""
    bright = ((model(image, mask, text_a, coarse) - 0.8) ** 2 * mask).mean()
    dark = ((model(image, mask, text_b, coarse) - 0.2) ** 2 * mask).mean()
    return bright + dark


@pytest.mark.parametrize("use_coarse_fill", [True, False])
def test_film_learns_from_text(use_coarse_fill):
    torch.manual_seed(0)
    model = MuralXGAN(tiny_config(generator={"use_coarse_fill": use_coarse_fill}))
    image, mask, coarse = inputs(batch=1, height=32, width=32)
    coarse = coarse if use_coarse_fill else None
    text_a, text_b = unit_texts(2, seed=5).split(1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    text_dependent_loss(model, image, mask, coarse, text_a, text_b).backward()
    if not use_coarse_fill:  # no zero-initialised head in the way: the text gets a gradient right away
        assert all(film.project.weight.grad.abs().sum() > 0 for film in film_layers(model))
    optimizer.step()
    optimizer.zero_grad()

    text_dependent_loss(model, image, mask, coarse, text_a, text_b).backward()
    for film in film_layers(model):
        assert film.project.weight.grad is not None
        assert film.project.weight.grad.abs().sum() > 0
    optimizer.step()

    assert all(torch.count_nonzero(film.project.weight) > 0 for film in film_layers(model))
    with torch.no_grad():
        out_a, out_b = model(image, mask, text_a, coarse), model(image, mask, text_b, coarse)
        out_none = model(image, mask, None, coarse)
    hole = mask.expand_as(image) == 1
    assert (out_a - out_b)[hole].abs().max() > 1e-5
    assert (out_a - out_none)[hole].abs().max() > 1e-5
    assert torch.equal(out_a[~hole], out_b[~hole])


# --- ring statistics ------------------------------------------------------------------------------------------------


def test_ring_statistics_on_a_hand_made_example():
    image = torch.full((1, 3, 7, 7), 0.9)  # paint far from the hole: must be ignored
    mask = torch.zeros(1, 1, 7, 7)
    mask[0, 0, 3, 3] = 1
    image[0, :, 3, 3] = torch.tensor([100.0, -50.0, 7.0])  # the hole itself: must be ignored
    ring = [(2, 2), (2, 3), (2, 4), (3, 2), (3, 4), (4, 2), (4, 3), (4, 4)]
    red = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]  # mean 0.5, std 0.5
    green = [0.2] * 8  # mean 0.2, std 0
    blue = [0.1, 0.3] * 4  # mean 0.2, std 0.1
    for (y, x), r, g, b in zip(ring, red, green, blue):
        image[0, :, y, x] = torch.tensor([r, g, b])
    stats = ring_statistics(image, mask, width=1)
    assert stats.shape == (1, 6)
    torch.testing.assert_close(stats[0], torch.tensor([0.5, 0.2, 0.2, 0.5, 0.0, 0.1]), atol=1e-6, rtol=0)

    # a wider ring reaches the 0.9 paint: 24 ring pixels, 16 of them at 0.9
    wide = ring_statistics(image, mask, width=2)
    torch.testing.assert_close(wide[0, 0], torch.tensor((0.9 * 16 + 4.0) / 24), atol=1e-6, rtol=0)


def test_ring_statistics_falls_back_to_all_intact_pixels_and_is_per_sample():
    image = torch.zeros(2, 3, 6, 6)
    image[0, :, :, :3] = 1.0  # half white, half black
    image[1] = 0.25
    mask = torch.zeros(2, 1, 6, 6)  # sample 0: no hole at all, so no ring
    mask[1, 0, 0, 0] = 1
    image[1, :, 0, 0] = 1.0  # under the hole
    stats = ring_statistics(image, mask, width=1)
    torch.testing.assert_close(stats[0], torch.tensor([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]))
    torch.testing.assert_close(stats[1], torch.tensor([0.25, 0.25, 0.25, 0.0, 0.0, 0.0]))


def ring_statistics_reference(image: np.ndarray, mask: np.ndarray, width: int) -> np.ndarray:
    """Naive version for one sample: ``image`` [3,H,W], ``mask`` [H,W] bool."""
    ring = np.zeros_like(mask)
    for y, x in zip(*np.nonzero(mask)):
        ring[max(0, y - width):y + width + 1, max(0, x - width):x + width + 1] = True
    ring &= ~mask
    if not ring.any():
        ring = ~mask
    values = image[:, ring]
    if values.shape[1] == 0:
        return np.zeros(6)
    return np.concatenate([values.mean(axis=1), values.std(axis=1)])


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    width=st.integers(1, 4),
    size=st.tuples(st.integers(4, 14), st.integers(4, 14)),
    density=st.floats(0.0, 0.6),
)
def test_ring_statistics_matches_a_naive_reference(seed, width, size, density):
    rng = np.random.default_rng(seed)
    image = rng.random((3, *size)).astype(np.float32)
    mask = rng.random(size) < density
    stats = ring_statistics(torch.from_numpy(image)[None], torch.from_numpy(mask).float()[None, None], width)
    np.testing.assert_allclose(stats[0].numpy(), ring_statistics_reference(image, mask, width), atol=1e-5)


# --- discriminator --------------------------------------------------------------------------------------------------


def test_patch_discriminator_shapes_and_features():
    torch.manual_seed(0)
    discriminator = PatchDiscriminator(DiscriminatorConfig(channels=8, layers=3))
    image, mask, _ = inputs(batch=2, height=32, width=32)
    logits, features = discriminator(image, mask)
    # 32 -> 16 -> 8 (stride 2), -> 7 (stride 1, kernel 4), head -> 6
    assert logits.shape == (2, 1, 6, 6)
    assert [tuple(f.shape) for f in features] == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 7, 7)]
    logits.mean().backward()
    assert all(p.grad is not None for p in discriminator.parameters() if p.requires_grad)


def test_patch_discriminator_channels_are_capped():
    discriminator = PatchDiscriminator({"channels": 2, "layers": 6})
    assert isinstance(discriminator.config, DiscriminatorConfig)
    widths = [layer[0].out_channels for layer in discriminator.layers]
    assert widths == [2, 4, 8, 16, 16, 16]


def test_patch_discriminator_is_spectrally_normalised():
    torch.manual_seed(0)
    discriminator = PatchDiscriminator(DiscriminatorConfig(channels=8, layers=3))
    convs = [layer[0] for layer in discriminator.layers] + [discriminator.head]
    assert len(convs) == 4
    image, mask, _ = inputs(batch=1, height=32, width=32)
    for _ in range(10):  # a few power iterations
        discriminator(image, mask)
    for conv in convs:
        assert parametrize.is_parametrized(conv, "weight")
        assert any("SpectralNorm" in type(p).__name__ for p in conv.parametrizations.weight)
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert abs(sigma.item() - 1.0) < 0.05
        raw_sigma = torch.linalg.matrix_norm(conv.parametrizations.weight.original.detach().flatten(1), ord=2)
        assert abs(raw_sigma.item() - 1.0) > 0.05  # the normalisation is doing something


def test_patch_discriminator_round_trip(tmp_path):
    torch.manual_seed(0)
    discriminator = PatchDiscriminator(DiscriminatorConfig(channels=8, layers=3))
    image, mask, _ = inputs(batch=1, height=32, width=32)
    discriminator(image, mask)  # move the power-iteration vectors away from their initial values
    discriminator.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"channels": 8, "layers": 3}
    loaded = PatchDiscriminator.from_pretrained(tmp_path)
    assert loaded.config == DiscriminatorConfig(channels=8, layers=3)
    assert isinstance(loaded.config, DiscriminatorConfig)
    discriminator.eval()
    loaded.eval()
    with torch.no_grad():
        logits, features = discriminator(image, mask)
        loaded_logits, loaded_features = loaded(image, mask)
    assert torch.equal(logits, loaded_logits)
    assert all(torch.equal(a, b) for a, b in zip(features, loaded_features))


# --- checkpoints ----------------------------------------------------------------------------------------------------


def custom_config() -> MuralXGANConfig:
    return tiny_config(
        generator={"text_dim": 512, "film_stages": ("decoder",)},
        text_encoder=dict(CLIP_ENCODER),
        coarse_fill="navier-stokes",
        training={"steps": 1200, "data": "muraldh-sample", "lambdas": {"l1": 1.0, "adv": 0.1}},
    )


def save_tiny(folder, config: MuralXGANConfig | None = None, seed: int = 0) -> MuralXGAN:
    torch.manual_seed(seed)
    model = MuralXGAN(config or tiny_config())
    perturb(model, seed=seed)
    model.save_pretrained(folder)
    return model.eval()


def assert_same_outputs(model_a: MuralXGAN, model_b: MuralXGAN) -> None:
    dim = model_a.config.generator.text_dim
    image, mask, coarse = inputs()
    text = unit_texts(2, dim=dim)
    with torch.no_grad():
        assert torch.equal(model_a(image, mask, text, coarse), model_b(image, mask, text, coarse))


def test_checkpoint_round_trip(tmp_path):
    config = custom_config()
    model = save_tiny(tmp_path, config)
    assert {"model.safetensors", "config.json", "README.md"} <= {p.name for p in tmp_path.iterdir()}
    card = (tmp_path / "README.md").read_text()
    assert "clip: ViT-B-32 (laion2b_s34b_b79k)" in card
    assert "navier-stokes" in card and "64 px" in card and "muraldh-sample" in card
    assert "library_name: muralxgan" in card
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["generator"]["channels"] == 8 and stored["working_size"] == 64

    loaded, resolved = load_muralxgan(tmp_path)
    assert resolved.revision is None
    assert resolved.path == tmp_path.resolve()
    assert not loaded.training  # eval mode
    assert loaded.config == config
    assert isinstance(loaded.config.generator, GeneratorConfig)
    assert isinstance(loaded.config.colour, ColourConfig)
    assert loaded.config.generator.dilations == (2, 4)
    assert loaded.config.generator.film_stages == ("decoder",)
    assert loaded.config.colour.dilations == (1, 2)
    assert loaded.config.training == config.training
    assert loaded.text_encoder_spec == TextEncoderSpec(**CLIP_ENCODER)
    assert loaded.colour.config.ring_width == 3
    assert_same_outputs(model, loaded)
    assert loaded.state_dict().keys() == model.state_dict().keys()


def test_default_config_round_trips_through_a_dict():
    config = MuralXGANConfig()
    assert MuralXGANConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert MuralXGAN(config.to_dict()).config == config
    assert MuralXGAN().text_encoder_spec == TextEncoderSpec()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c["generator"].update(channels=16), "size mismatch"),
        (lambda c: c.update(use_colour_net=False), "Unexpected key"),
        (lambda c: c["generator"].update(dilations=[2, 4, 8]), "Missing key"),
        (lambda c: c["generator"].update(film_stages=["bottleneck"]), "Unexpected key"),
    ],
    ids=["wider", "extra-tensors", "missing-tensors", "fewer-film"],
)
def test_checkpoint_that_does_not_match_its_config_is_refused(tmp_path, edit, expected):
    save_tiny(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    edit(config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelUnavailableError, match="does not match its config.json") as error:
        load_muralxgan(tmp_path)
    message = str(error.value)
    assert expected in message
    assert str(tmp_path) in message
    assert "\n" not in message and len(message) < 500


def test_checkpoint_folder_without_config_or_weights(tmp_path):
    save_tiny(tmp_path)
    (tmp_path / "config.json").unlink()
    with pytest.raises(ModelUnavailableError, match="no config.json"):
        load_muralxgan(tmp_path)
    other = tmp_path / "other"
    save_tiny(other)
    (other / "model.safetensors").unlink()
    with pytest.raises(ModelUnavailableError, match="No model.safetensors"):
        load_muralxgan(other)


@pytest.mark.parametrize("identifier", ["./missing/ckpt", "missing/deeper/ckpt", "~/no-such-muralxgan-ckpt"])
def test_missing_checkpoint_folder(tmp_path, monkeypatch, identifier):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelUnavailableError, match="does not exist") as error:
        load_muralxgan(identifier)
    assert identifier in str(error.value)
    assert "MuralXGAN checkpoint" in str(error.value)


def test_a_file_is_not_a_checkpoint_folder(tmp_path):
    file = tmp_path / "model.safetensors"
    file.write_bytes(b"")
    with pytest.raises(ModelUnavailableError, match="not a folder"):
        load_muralxgan(file)


# --- the Hugging Face cache, offline --------------------------------------------------------------------------------


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture
def hf_cache(tmp_path):
    """A hand-made HF cache holding ``org/name`` at :data:`COMMIT` (refs ``main`` and tag ``v1``)."""
    cache = tmp_path / "hf-cache"
    repo = cache / "models--org--name"
    model = save_tiny(repo / "snapshots" / COMMIT, seed=7)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    (repo / "refs" / "v1").write_text(COMMIT)
    return cache, model


@pytest.mark.parametrize("revision", [None, "main", "v1", COMMIT])
def test_load_from_the_hf_cache_offline(hf_cache, offline, revision):
    cache, model = hf_cache
    loaded, resolved = load_muralxgan("org/name", revision=revision, cache_dir=cache)
    assert resolved.revision == COMMIT
    assert resolved.source == "org/name"
    assert resolved.path == (cache / "models--org--name" / "snapshots" / COMMIT).resolve()
    assert loaded.config == model.config
    assert_same_outputs(model, loaded)


def test_uncached_repo_offline_fails_fast_with_advice(hf_cache, offline):
    cache, _ = hf_cache
    start = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as error:
        load_muralxgan("org/other", cache_dir=cache)
    assert time.perf_counter() - start < 5
    message = str(error.value)
    assert "org/other" in message
    assert "local Hugging Face cache" in message
    assert "HF_HUB_OFFLINE" in message
    with pytest.raises(ModelUnavailableError, match=r"revision v2"):
        load_muralxgan("org/name", revision="v2", cache_dir=cache)


def test_resolve_uncached_without_download_needs_no_network(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    start = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as error:
        resolve_model_dir("org/not-cached", allow_download=False, cache_dir=tmp_path, what="test model")
    assert time.perf_counter() - start < 5
    message = str(error.value)
    assert "test model org/not-cached" in message
    assert "local Hugging Face cache" in message
    assert "downloading is switched off" in message


def test_resolve_rejects_invalid_repo_ids(tmp_path, offline):
    with pytest.raises(ModelUnavailableError, match="neither an existing folder nor a valid Hub repo id"):
        resolve_model_dir("bad id with spaces", cache_dir=tmp_path)


# --- the restorer ---------------------------------------------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path):
    folder = tmp_path / "ckpt"
    save_tiny(folder)
    return folder


def test_restorer_from_a_checkpoint_folder(checkpoint):
    restorer = RESTORERS.create("muralxgan", checkpoint=str(checkpoint))
    assert restorer.name == "muralxgan"
    assert restorer.max_side == 64
    assert restorer.uses_text
    assert restorer.text_encoder_spec == TextEncoderSpec()
    assert restorer.text_encoder_spec == restorer.model.text_encoder_spec
    provenance = restorer.provenance()
    assert provenance["checkpoint"] == str(checkpoint)
    assert "revision" in provenance and provenance["revision"] is None
    assert provenance["working_size"] == 64
    assert provenance["text_encoder"] == TextEncoderSpec().to_dict()

    image = synthetic_mural(30, 42, seed=2)
    mask = np.zeros((30, 42), bool)
    mask[8:20, 10:33] = True
    for text in (None, unit_texts(1)[0]):
        restored = restorer.restore_crop(image, mask, text)
        assert restored.dtype == np.uint8
        assert restored.shape == (30, 42, 3)
        np.testing.assert_array_equal(restored[~mask], image[~mask])
    # the same spec the checkpoint was trained with is accepted
    RESTORERS.create("muralxgan", checkpoint=str(checkpoint), text_encoder_spec=TextEncoderSpec())


def test_untrained_restorer_returns_the_classical_fill(tmp_path):
    torch.manual_seed(0)
    MuralXGAN(tiny_config()).save_pretrained(tmp_path)
    restorer = RESTORERS.create("muralxgan", checkpoint=str(tmp_path))
    image = synthetic_mural(30, 42, seed=3)
    mask = np.zeros((30, 42), bool)
    mask[5:17, 20:40] = True
    expected = RESTORERS.create("telea").restore_crop(image, mask)
    restored = restorer.restore_crop(image, mask)
    np.testing.assert_array_equal(restored[~mask], image[~mask])
    deep = depth_into_damage(mask) >= restorer.model.config.rim_band  # the rim stage reshapes the first 3 px
    np.testing.assert_array_equal(restored[deep], expected[deep])
    restorer.model.config.rim_band = 0.0
    np.testing.assert_array_equal(restorer.restore_crop(image, mask)[mask], expected[mask])


def test_restorer_refuses_another_text_encoder(checkpoint):
    clip = TextEncoderSpec(name="clip", model="ViT-B-32", pretrained="x", dim=512)
    with pytest.raises(ModelUnavailableError) as error:
        RESTORERS.create("muralxgan", checkpoint=str(checkpoint), text_encoder_spec=clip)
    message = str(error.value)
    assert "minilm: sentence-transformers/all-MiniLM-L6-v2" in message
    assert "clip: ViT-B-32 (x)" in message


def test_restorer_from_the_hf_cache_records_the_commit(hf_cache, offline, monkeypatch):
    cache, _ = hf_cache
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("MURALXGAN_CHECKPOINT", "org/name")
    monkeypatch.setenv("MURALXGAN_CHECKPOINT_REVISION", "v1")
    restorer = RESTORERS.create("muralxgan")
    assert restorer.provenance()["checkpoint"] == "org/name"
    assert restorer.provenance()["revision"] == COMMIT


def test_restorer_uses_the_shipped_checkpoint(checkpoint, monkeypatch):
    monkeypatch.delenv("MURALXGAN_CHECKPOINT", raising=False)
    monkeypatch.setattr(gan, "SHIPPED_CHECKPOINT", checkpoint)
    restorer = RESTORERS.create("muralxgan")
    assert restorer.provenance()["checkpoint"] == str(checkpoint)


def test_restorer_without_any_checkpoint_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("MURALXGAN_CHECKPOINT", raising=False)
    monkeypatch.setattr(gan, "SHIPPED_CHECKPOINT", tmp_path / "missing")
    with pytest.raises(ModelUnavailableError, match="set MURALXGAN_CHECKPOINT"):
        RESTORERS.create("muralxgan")


def test_spectral_block_starts_as_the_identity_and_then_sees_the_whole_map():
    torch.manual_seed(0)
    block = SpectralBlock(8)
    x = torch.randn(2, 8, 16, 20)
    assert torch.equal(block(x), x)  # zero-initialised output: adding it to a trained generator changes nothing
    torch.nn.init.normal_(block.expand.weight)
    probe = torch.zeros(1, 8, 16, 20, requires_grad=True)
    block(probe)[0, :, 0, 0].sum().backward()  # one output pixel in a corner...
    reach = probe.grad.abs().sum(1)[0]
    assert reach[15, 19] > 0 and (reach > 0).float().mean() > 0.9  # ...depends on the far corner: global reach
    assert block(torch.randn(3, 8, 12, 12)).shape == (3, 8, 12, 12)


def test_generator_with_fourier_blocks_keeps_shapes_and_known_pixels():
    config = MuralXGANConfig(generator=GeneratorConfig(channels=8, dilations=(2,), spectral_blocks=2))
    model = MuralXGAN(config).eval()
    assert len(model.generator.spectral) == 2 and len(model.generator.spectral_film) == 2
    image, mask = torch.rand(1, 3, 32, 48), (torch.rand(1, 1, 32, 48) > 0.6).float()
    with torch.no_grad():
        out = model(image, mask, torch.randn(1, config.generator.text_dim), image)
    assert out.shape == image.shape and torch.equal(out * (1 - mask), image * (1 - mask))
