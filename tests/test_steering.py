"""Text that steers (issue 17): pigment words, the pigment-aware encoder, counterfactual samples, widening a trained
model's text input, and the steering measurement."""

import numpy as np
import pytest
import torch

from mural_inpaint.palette import DUNHUANG_PALETTE, classify_pigments
from mural_inpaint.text.pigment_words import PIGMENT_COUNT, lost_pigments
from tests.helpers import synthetic_mural, tiny_run_config

GREEN = [p.name for p in DUNHUANG_PALETTE].index("malachite green")
RED = [p.name for p in DUNHUANG_PALETTE].index("cinnabar / vermilion red")
WHITE = [p.name for p in DUNHUANG_PALETTE].index("lead / kaolin white")
BROWN = [p.name for p in DUNHUANG_PALETTE].index("darkened lead brown-black")


def test_lost_pigments_reads_what_the_loss_held_and_ignores_the_surroundings():
    assert lost_pigments("The lost paint in the damaged area was malachite green.")[GREEN] == 1.0
    described = ("Damage covers 3.0% of the mural in 1 region, mostly in the centre: large losses. The surrounding "
                 "paint is lead / kaolin white (60%). The lost area held cinnabar / vermilion red (70%), with some "
                 "darkened lead brown-black (30%), fine line work.")
    weights = lost_pigments(described)
    assert weights[RED] == pytest.approx(0.7) and weights[BROWN] == pytest.approx(0.3)
    assert weights[WHITE] == 0  # the surroundings are the pixels' business, not the text's
    assert lost_pigments("Originally vermilion here; the robe was green.")[[RED, GREEN]].tolist() == [0.5, 0.5]
    assert not lost_pigments("Scene: a bodhisattva in a green robe. Damage covers 2%.").any()
    assert not lost_pigments("The restored area was covered.").any()  # "red" inside "covered" is not a pigment
    assert lost_pigments("").shape == (PIGMENT_COUNT,)


def test_pigment_aware_encoder_appends_the_named_pigments_and_must_match_the_checkpoint():
    from mural_inpaint.errors import ModelUnavailableError
    from mural_inpaint.text.encoders import TextEncoderSpec, check_compatible, get_text_encoder

    spec = TextEncoderSpec(dim=384 + PIGMENT_COUNT, pigment_words=True)
    encoded = get_text_encoder(spec).encode(["The loss held malachite green.", "The loss held cinnabar."])
    assert encoded.shape == (2, 384 + PIGMENT_COUNT)
    assert encoded[0, 384 + GREEN] == 1 and encoded[1, 384 + RED] == 1
    assert torch.allclose(encoded[:, :384].norm(dim=1), torch.ones(2), atol=1e-5)
    assert spec.sentence_spec() == TextEncoderSpec()
    with pytest.raises(ModelUnavailableError, match="pigment words"):
        check_compatible(spec, TextEncoderSpec())


def test_widening_the_text_input_of_a_trained_model_keeps_what_it_restores():
    from mural_inpaint.models import ColourConfig, GeneratorConfig, MuralXGAN, MuralXGANConfig
    from train.train import extended_model

    torch.manual_seed(0)
    parent = MuralXGAN(MuralXGANConfig(generator=GeneratorConfig(channels=8, dilations=(2,), text_dim=16),
                                       colour=ColourConfig(channels=4, dilations=(1,)),
                                       text_encoder={"name": "minilm", "dim": 16}))
    for film in parent.generator.block_film:
        torch.nn.init.normal_(film.project.weight)  # a trained model listens to its text
    child = extended_model(parent, {"text_encoder": {"pigment_words": True, "dim": 16 + PIGMENT_COUNT},
                                    "generator": {"text_dim": 16 + PIGMENT_COUNT}}).eval()
    parent.eval()
    image, mask = torch.rand(1, 3, 32, 32), (torch.rand(1, 1, 32, 32) > 0.7).float()
    text, pigments = torch.randn(1, 16), torch.rand(1, PIGMENT_COUNT)
    with torch.no_grad():
        before = parent(image, mask, text, image)
        after = child(image, mask, torch.cat([text, pigments], dim=1), image)
    assert torch.allclose(before, after, atol=1e-6)  # the new pigment inputs start with zero weight
    assert child.text_encoder_spec.pigment_words
    with pytest.raises(ValueError, match="shrink"):
        extended_model(child, {"generator": {"text_dim": 8}})


def test_recolouring_changes_only_the_loss_and_lands_on_the_pigment():
    from train.counterfactual import dominant_pigment, other_pigment, recolour_region

    clean = synthetic_mural(64, 64)
    mask = np.zeros((64, 64), bool)
    mask[16:48, 20:52] = True
    rng = np.random.default_rng(0)
    for pigment in range(len(DUNHUANG_PALETTE)):
        recoloured = recolour_region(clean, mask, pigment, rng)
        assert np.array_equal(recoloured[~mask], clean[~mask])
        assert dominant_pigment(recoloured, mask) == pigment
        shares = np.bincount(classify_pigments(recoloured[mask]), minlength=len(DUNHUANG_PALETTE))
        assert shares[pigment] / mask.sum() > 0.3  # outlines keep their darkness, so not every pixel
    lightness = recolour_region(clean, mask, GREEN, rng)[mask].astype(float).mean(axis=1)
    assert lightness.std() > 3  # the region keeps its texture, it is not a flat swatch
    assert all(other_pigment(clean, mask, np.random.default_rng(s)) != dominant_pigment(clean, mask)
               for s in range(20))


def test_counterfactual_samples_name_the_pigment_their_target_holds(tmp_path):
    from mural_inpaint.imaging import save_png
    from train.config import DataConfig
    from train.counterfactual import dominant_pigment
    from train.data import DamageSynthesisDataset, load_training_dataset

    save_png(synthetic_mural(96, 96), tmp_path / "images" / "a.png")
    config = DataConfig(sources=[str(tmp_path / "images")], crop_size=64, mask_sources={"large": 1.0},
                        text_dropout=0.0, counterfactual=1.0, conservator_captions=1.0)
    samples = DamageSynthesisDataset(load_training_dataset(config), config, "telea")
    held = set()
    for _ in range(6):
        sample = samples[0]
        target = (sample["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        mask = sample["mask"][0].numpy() > 0
        named = int(np.argmax(lost_pigments(sample["caption"])))
        assert dominant_pigment(target, mask) == named, sample["caption"]
        held.add(named)
    assert len(held) > 1  # different samples are recoloured to different pigments


def test_steering_measurement_on_a_tiny_model():
    from evaluation.steering import pigment_distances, steering
    from mural_inpaint.data.cases import make_case
    from mural_inpaint.data.damage import synthesize_damage
    from mural_inpaint.palette import srgb_to_lab
    from mural_inpaint.pipeline import RestorationPipeline
    from tests.helpers import tiny_gan

    for index, pigment in enumerate(DUNHUANG_PALETTE):  # each anchor is at distance 0 from its own pigment
        assert pigment_distances(srgb_to_lab(np.array(pigment.anchors_srgb[0], np.uint8)))[index] == pytest.approx(0)
    cases = [make_case(f"c{i}", synthetic_mural(64, 64, seed=i),
                       synthesize_damage(64, 64, "large", np.random.default_rng(i))) for i in range(2)]
    result = steering(RestorationPipeline(tiny_gan(), captioner="describer"), cases)
    matrix = np.array(result["matrix"])
    assert matrix.shape == (PIGMENT_COUNT, PIGMENT_COUNT) and np.allclose(matrix.sum(axis=1), 1.0)
    assert result["green_vs_red"]["cases"] == 2 and len(result["per_case"]) == 2


def tiny_steering_model(seed=0):
    from mural_inpaint.models import ColourConfig, GeneratorConfig, MuralXGAN, MuralXGANConfig

    torch.manual_seed(seed)
    return MuralXGAN(MuralXGANConfig(
        generator=GeneratorConfig(channels=8, dilations=(2,), text_dim=16 + PIGMENT_COUNT),
        colour=ColourConfig(channels=4, dilations=(1,)), pigment_steering=True,
        text_encoder={"name": "minilm", "dim": 16 + PIGMENT_COUNT, "pigment_words": True})).eval()


def test_pigment_steering_moves_only_named_rows_and_only_inside_the_hole():
    model = tiny_steering_model()
    # warm reddish paint with texture: neither the fill nor the ring around it is malachite green already
    image = torch.rand(2, 3, 32, 32) * 0.3 + torch.tensor([0.6, 0.35, 0.25])[None, :, None, None]
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 8:24, 8:24] = 1
    pigments = torch.zeros(2, PIGMENT_COUNT)
    pigments[1, GREEN] = 1.0  # row 0 names nothing (an automatic description), row 1 names malachite green
    text = torch.cat([torch.randn(2, 16), pigments], dim=1)
    with torch.no_grad():
        untrained = model(image, mask, text, image)
        without_branch = model.colour(image * (1 - mask) + model.generator(image, mask, text, image) * mask, mask)
        assert torch.equal(untrained, without_branch)  # the head starts at zero: the identity
        torch.nn.init.constant_(model.steering.head.bias, 0.5)  # half way towards the named colour
        steered = model(image, mask, text, image)
    assert torch.equal(steered[0], untrained[0])  # no pigment named: bit for bit as before
    assert not torch.equal(steered[1], untrained[1])
    assert torch.equal(steered[1] * (1 - mask[1]), untrained[1] * (1 - mask[1]))  # known pixels untouched
    hole = mask[1, 0] > 0
    green = torch.tensor(DUNHUANG_PALETTE[GREEN].anchors_srgb, dtype=torch.float32).mean(0) / 255
    before, after = untrained[1][:, hole].mean(1), steered[1][:, hole].mean(1)
    # half way to malachite green's colour, and the fill's own detail kept (clipping aside)
    assert torch.allclose(after, before + 0.5 * (green - before), atol=0.02)
    assert steered[1][:, hole].std(1).min() > 0.5 * untrained[1][:, hole].std(1).min()
    with torch.no_grad():
        assert torch.equal(model(image, mask, text * 0, image), model(image, mask, text * 0, image))


def test_pigment_steering_needs_the_pigment_vector():
    from mural_inpaint.models import MuralXGANConfig

    with pytest.raises(ValueError, match="pigment_words"):
        MuralXGANConfig(pigment_steering=True)


def test_train_only_freezes_everything_else_and_names_unknown_parts():
    from train.train import freeze_all_but

    model = tiny_steering_model()
    learning = freeze_all_but(model, ["steering"])
    assert learning and all(p.requires_grad for p in model.steering.parameters())
    assert not any(p.requires_grad for p in model.generator.parameters())
    assert not any(p.requires_grad for p in model.colour.parameters())
    assert len(learning) == len(list(model.steering.parameters()))
    with pytest.raises(ValueError, match="train_only names stearing.*it has colour, generator, steering"):
        freeze_all_but(model, ["stearing"])
    assert len(freeze_all_but(tiny_steering_model(), [])) == len(list(tiny_steering_model().parameters()))


def test_a_steering_fine_tune_changes_only_the_branch(tmp_path):
    """A three-step run with train_only: [steering] on counterfactual samples: every parent weight comes back
    unchanged, the branch learns, and the export restores as the parent when no pigment is named."""
    from mural_inpaint.models import load_muralxgan
    from train.train import main

    config = tiny_run_config(tmp_path, steps=2)
    assert main(["--config", str(config), "--set", "loss.adversarial_start=100"]) == 0
    parent_dir = tmp_path / "run" / "model"
    changes = ("model_changes={text_encoder: {pigment_words: true, dim: 393}, generator: {text_dim: 393}, "
               "pigment_steering: true}")
    assert main(["--config", str(config), "--set", f"init_from={parent_dir}", "--set", changes,
                 "--set", "train_only=[steering]", "--set", f"output_dir={tmp_path / 'ft'}", "--set", "steps=3",
                 "--set", "lr=0.01", "--set", "data.counterfactual=1.0", "--set", "data.conservator_captions=1.0",
                 "--set", "data.text_dropout=0.0", "--set", "data.mask_sources={large: 1.0}"]) == 0
    parent, child = load_muralxgan(parent_dir)[0], load_muralxgan(tmp_path / "ft" / "model")[0]
    assert child.config.training["train_only"] == ["steering"]
    child_state = child.state_dict()
    for name, value in parent.state_dict().items():
        assert torch.equal(child_state[name][tuple(slice(0, n) for n in value.shape)], value), name
    assert child.steering.head.weight.abs().sum() > 0  # the branch learnt
    image, mask = torch.rand(1, 3, 32, 32), (torch.rand(1, 1, 32, 32) > 0.7).float()
    text = torch.randn(1, 384)
    with torch.no_grad():  # the widened text input adds zero-weight columns: equal up to float summation order
        assert torch.allclose(parent(image, mask, text, image),
                              child(image, mask, torch.cat([text, torch.zeros(1, PIGMENT_COUNT)], 1), image),
                              atol=1e-6)


def test_recoloured_losses_and_true_ones_can_be_captioned_differently(tmp_path):
    from mural_inpaint.imaging import save_png
    from train.config import DataConfig
    from train.counterfactual import dominant_pigment
    from train.data import DamageSynthesisDataset, load_training_dataset

    save_png(synthetic_mural(96, 96), tmp_path / "images" / "a.png")
    config = DataConfig(sources=[str(tmp_path / "images")], crop_size=64, mask_sources={"large": 1.0},
                        text_dropout=0.0, counterfactual=0.5, conservator_captions=0.0,
                        counterfactual_conservator_captions=1.0)
    samples = DamageSynthesisDataset(load_training_dataset(config), config, "telea")
    kinds = set()
    for _ in range(12):
        sample = samples[0]
        conservator = not sample["caption"].startswith("Damage covers")
        if conservator:  # only recoloured losses get a conservator's sentence, naming the new pigment
            target = (sample["image"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            assert dominant_pigment(target, sample["mask"][0].numpy() > 0) == int(np.argmax(lost_pigments(
                sample["caption"])))
        else:
            assert "The lost area held" in sample["caption"]  # the describer's privileged caption
        kinds.add(conservator)
    assert kinds == {True, False}


def test_restoring_leaves_a_fill_that_already_holds_the_named_pigment():
    """Words that agree with what the surroundings gave the fill move nothing when restoring (they only cost the
    shade of the paint around it); in training every named row is steered, so the branch still learns how far."""
    model = tiny_steering_model().eval()
    green = torch.tensor(DUNHUANG_PALETTE[GREEN].anchors_srgb, dtype=torch.float32).mean(0) / 255
    image, mask = torch.rand(2, 3, 32, 32) * 0.1, torch.zeros(2, 1, 32, 32)
    mask[:, :, 8:24, 8:24] = 1
    image[0] = image[0] + green[:, None, None] - 0.05  # row 0: the fill is malachite green already
    image[1] = image[1] + torch.tensor([0.75, 0.25, 0.2])[:, None, None]  # row 1: a red fill
    pigments = torch.zeros(2, PIGMENT_COUNT)
    pigments[:, GREEN] = 1.0  # both named malachite green
    torch.nn.init.constant_(model.steering.head.bias, 0.5)
    with torch.no_grad():
        agree = model.steering.already_named(image, mask, pigments)
        assert agree.tolist() == [True, False]
        restored = model.steering(image, mask, pigments)
        assert torch.equal(restored[0], image[0]) and not torch.equal(restored[1], image[1])
        model.steering.train()
        trained_view = model.steering(image, mask, pigments)
    assert not torch.equal(trained_view[0], image[0])



def test_restoring_leaves_a_fill_whose_surroundings_hold_the_named_pigment():
    model = tiny_steering_model().eval()
    green = torch.tensor(DUNHUANG_PALETTE[GREEN].anchors_srgb, dtype=torch.float32).mean(0) / 255
    image = torch.rand(1, 3, 32, 32) * 0.1 + torch.tensor([0.7, 0.25, 0.2])[None, :, None, None]  # red paint
    mask = torch.zeros(1, 1, 32, 32)
    mask[:, :, 10:22, 10:22] = 1
    pigments = torch.zeros(1, PIGMENT_COUNT)
    pigments[0, GREEN] = 1.0
    assert model.steering.already_named(image, mask, pigments).tolist() == [False]  # red all round: steer
    image[:, :, 4:28, 4:16] = green[None, :, None, None]  # the left half of the surroundings is green paint
    image[:, :, 10:22, 10:22] = torch.tensor([0.7, 0.25, 0.2])[None, :, None, None]  # the fill stays red
    assert model.steering.already_named(image, mask, pigments).tolist() == [True]  # the words agree with them
