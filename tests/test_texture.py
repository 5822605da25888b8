"""The texture stage for sizeable losses: detail from matching intact patches or a classical fill, added where the
damage is deep."""

import dataclasses
from dataclasses import asdict

import cv2
import numpy as np
import pytest

from mural_inpaint.imaging import hide_damage
from mural_inpaint.models.config import MuralXGANConfig, TextureConfig
from mural_inpaint.restorers.base import Restorer
from mural_inpaint.restorers.patch_detail import guided_patch_detail, patch_features, patch_offsets, patchmatch
from mural_inpaint.restorers.texture import add_texture, depth_weights, detail
from tests.helpers import synthetic_mural


class StripedFill(Restorer):
    """Fills holes with vertical stripes (pure detail around mid-grey) and records the crops it was given."""

    name = "striped"

    def __init__(self):
        self.shapes = []

    def restore_crop(self, image, mask, text=None):
        self.shapes.append(mask.shape)
        out = image.copy()
        stripes = np.where(np.arange(mask.shape[1]) % 4 < 2, 160, 96).astype(np.uint8)
        out[mask] = np.broadcast_to(stripes[None, :, None], out.shape)[mask]
        return out


def test_depth_weights_ramp_from_the_rim_of_the_loss_inwards():
    mask = np.zeros((64, 64), bool)
    mask[8:56, 8:56] = True
    weights = depth_weights(mask, TextureConfig(method="fsr", depth_from=4, depth_full=12))
    assert weights[~mask].max() == 0 and weights[10, 32] == 0  # outside, and 2 px into the loss
    assert weights[32, 32] == 1  # 24 px deep
    assert 0 < weights[8 + 8, 32] < 1  # 8 px deep: halfway up the ramp
    crack = np.zeros((64, 64), bool)
    crack[30:35, :] = True  # 5 px wide: at most 3 px from paint
    assert not depth_weights(crack, TextureConfig(method="fsr")).any()


def test_texture_is_added_only_in_deep_damage_and_the_fill_runs_only_around_it():
    image = synthetic_mural(128, 128)
    mask = np.zeros((128, 128), bool)
    mask[40:90, 30:80] = True  # a sizeable loss
    mask[5:8, :] = True  # and a thin crack far from it
    smooth = image.copy()
    smooth[mask] = 128
    source = StripedFill()
    config = TextureConfig(method="striped", sigma=2.0, depth_from=4, depth_full=12)
    textured = add_texture(smooth, image, mask, source, config)
    assert np.array_equal(textured[~mask], smooth[~mask])
    assert np.array_equal(textured[5:8], smooth[5:8])  # the crack keeps the generator's pixels
    deep = depth_weights(mask, config) == 1
    assert textured[deep].astype(float).std() > 10  # stripes came through where the loss is deep
    assert abs(textured[deep].astype(float).mean() - 128) < 3  # detail only: the generator's colour stays
    height, width = source.shapes[0]
    assert height < 128 and width < 128  # the classical fill ran on the box around the deep part only
    assert add_texture(smooth, image, np.zeros_like(mask), source, config) is smooth


def test_a_checkpoint_carries_its_texture_stage_and_the_restorer_uses_it(tmp_path, monkeypatch):
    import torch

    from mural_inpaint.models import ColourConfig, GeneratorConfig, MuralXGAN
    from mural_inpaint.models.muralxgan import load_muralxgan
    from mural_inpaint.restorers.gan import MuralXGANRestorer

    config = MuralXGANConfig(generator=GeneratorConfig(channels=8, dilations=(2,)),
                             colour=ColourConfig(channels=4, dilations=(1,)), working_size=64,
                             texture=TextureConfig(method="fsr", sigma=1.5))
    torch.manual_seed(0)
    MuralXGAN(config).save_pretrained(tmp_path / "ckpt")
    model, _ = load_muralxgan(tmp_path / "ckpt")
    assert model.config.texture == TextureConfig(method="fsr", sigma=1.5)
    restorer = MuralXGANRestorer(model, "local", None)
    assert restorer.provenance()["texture"]["method"] == "fsr"
    calls = []
    monkeypatch.setattr(restorer.texture_source, "restore_crop", lambda image, mask, text=None:
                        calls.append(mask.shape) or image)
    image = synthetic_mural(64, 64)
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    restorer.restore_crop(image, mask)
    assert len(calls) == 1
    assert MuralXGANConfig.from_dict({}).texture.method == "none"  # older checkpoints: no texture stage


@pytest.mark.parametrize("method", ["none", "fsr", "patch"])
def test_texture_config_round_trips_through_the_config_dict(method):
    config = MuralXGANConfig(texture=TextureConfig.chosen(method))
    assert MuralXGANConfig.from_dict(config.to_dict()).texture == config.texture


def test_older_texture_configs_load_with_the_new_fields_at_their_defaults():
    older = {"method": "fsr", "sigma": 2.0, "depth_from": 3.0, "depth_full": 10.0, "strength": 1.0}
    assert MuralXGANConfig.from_dict({"texture": older}).texture == TextureConfig(method="fsr")


def test_the_texture_stage_can_be_switched_on_for_any_checkpoint(tmp_path):
    import torch

    from mural_inpaint.models import ColourConfig, GeneratorConfig, MuralXGAN
    from mural_inpaint.restorers.base import RESTORERS

    config = MuralXGANConfig(generator=GeneratorConfig(channels=8, dilations=(2,)),
                             colour=ColourConfig(channels=4, dilations=(1,)), working_size=64)
    torch.manual_seed(0)
    MuralXGAN(config).save_pretrained(tmp_path / "ckpt")
    plain = RESTORERS.create("muralxgan", checkpoint=str(tmp_path / "ckpt"))
    textured = RESTORERS.create("muralxgan", checkpoint=str(tmp_path / "ckpt"), texture="fsr")
    assert plain.texture_source is None and textured.texture_source is not None
    assert textured.provenance()["texture"] == {"method": "fsr", "sigma": 2.0, "depth_from": 3.0,
                                                 "depth_full": 10.0, "strength": 1.0, "patch_size": 9,
                                                 "clamp": 1.5, "seed": 0}
    patched = RESTORERS.create("muralxgan", checkpoint=str(tmp_path / "ckpt"), texture="patch")
    assert patched.texture_source is None  # copies from the photo itself, no classical restorer needed
    assert patched.provenance()["texture"] == asdict(TextureConfig.chosen("patch"))
    image = synthetic_mural(96, 96)
    mask = np.zeros((96, 96), bool)
    mask[24:72, 30:70] = True
    restored = patched.restore_crop(image, mask)
    assert np.array_equal(restored[~mask], image[~mask])
    assert not np.array_equal(restored, plain.restore_crop(image, mask))  # the stage ran


def grain(height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 [H, W, 3]: mid-grey plaster with fine grain (std about 12) and a slow colour drift."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([130 + 20 * np.sin(xx / 30.0), 120 + 0 * yy, 100 + 15 * np.cos(yy / 25.0)], -1)
    fine = cv2.GaussianBlur(rng.normal(0, 20, (height, width, 3)).astype(np.float32), (0, 0), 0.7)
    return np.clip(base + fine, 0, 255).astype(np.uint8)


def test_patch_detail_gives_a_smooth_fill_the_grain_of_the_surrounding_paint():
    image = grain(128, 128)
    mask = np.zeros((128, 128), bool)
    mask[40:96, 36:92] = True
    smooth = image.copy()
    smooth[mask] = cv2.GaussianBlur(image, (0, 0), 6)[mask]  # a generator's smudge: right colour, no grain
    config = TextureConfig.chosen("patch")
    textured = add_texture(smooth, hide_damage(image, mask), mask, None, config)
    assert np.array_equal(textured[~mask], image[~mask])
    rim = mask & (depth_weights(mask, config) == 0)
    assert rim.any() and np.array_equal(textured[rim], smooth[rim])  # within 2 px of paint: the generator's pixels
    deep = depth_weights(mask, config) == 1
    intact_grain = detail(image, config.sigma)[~mask].std(axis=0)
    copied_grain = detail(textured, config.sigma)[deep].std(axis=0)
    assert np.all(copied_grain > 0.5 * intact_grain)  # the smudge had almost none (the clamp trims the tails)
    assert detail(smooth, config.sigma)[deep].std(axis=0).max() < 0.2 * intact_grain.min()
    shift = textured[deep].astype(float).mean(axis=0) - smooth[deep].astype(float).mean(axis=0)
    assert np.abs(shift).max() < 3  # detail only (a third of its spread at most): the generator's colour stays
    again = add_texture(smooth, hide_damage(image, mask), mask, None, config)
    assert np.array_equal(again, textured)  # repeatable
    other_seed = add_texture(smooth, image, mask, None, dataclasses.replace(config, seed=1))
    assert not np.array_equal(other_seed, textured)


def test_patch_detail_matches_low_frequencies_so_stripes_come_back_in_phase():
    """Vertical stripes whose smooth version survives in the generator's fill: the low-frequency match picks
    patches of the right phase, so the copied detail brings the truth back, not just stripe-like noise."""
    xx = np.arange(120)
    stripes = np.where(xx % 12 < 6, 170, 90).astype(np.float32)
    truth = np.broadcast_to(stripes[None, :, None], (120, 120, 3)).astype(np.uint8).copy()
    mask = np.zeros((120, 120), bool)
    mask[36:84, 36:84] = True
    smooth = truth.copy()
    smooth[mask] = np.rint(cv2.GaussianBlur(truth.astype(np.float32), (0, 0), 2.5))[mask].astype(np.uint8)
    config = TextureConfig.chosen("patch")
    textured = add_texture(smooth, hide_damage(truth, mask), mask, None, config)
    deep = depth_weights(mask, config) == 1
    before = np.abs(smooth[deep].astype(float) - truth[deep]).mean()
    after = np.abs(textured[deep].astype(float) - truth[deep]).mean()
    assert after < 0.5 * before


def test_patch_detail_is_bounded_by_the_spread_of_the_surrounding_grain():
    image = grain(96, 96)
    image[:, :8] = 0  # a strong dark band at the edge of the search area
    image[:, 8:12] = 255
    mask = np.zeros((96, 96), bool)
    mask[30:70, 30:70] = True
    smooth = image.copy()
    smooth[mask] = 120
    config = TextureConfig.chosen("patch")
    added = guided_patch_detail(smooth, mask, depth_weights(mask, config) > 0, sigma=config.sigma,
                                patch_size=config.patch_size, clamp=config.clamp)
    ring = (cv2.dilate(mask.astype(np.uint8), np.ones((17, 17), np.uint8)) > 0) & ~mask
    limit = config.clamp * detail(smooth, config.sigma)[ring].std(axis=0)
    assert np.all(np.abs(added) <= limit + 1e-4)
    assert np.all(added[~mask] == 0)


def test_patch_detail_needs_intact_paint_to_copy_from():
    image = grain(40, 40)
    mask = np.ones((40, 40), bool)
    mask[:3, :] = False  # a sliver of paint: no whole 9 px patch fits in it
    smooth = image.copy()
    smooth[mask] = 128
    assert np.array_equal(add_texture(smooth, image, mask, None, TextureConfig.chosen("patch")), smooth)


def test_patchmatch_finds_exact_copies():
    rng = np.random.default_rng(0)
    picture = cv2.GaussianBlur(rng.uniform(0, 255, (96, 96, 3)).astype(np.float32), (0, 0), 2.0)  # paint-like
    picture[56:88, 56:88] = picture[8:40, 12:44]  # the target block is a copy of an intact block
    sources = np.ones((96, 96), bool)
    sources[48:, 48:] = False
    sources[:4], sources[-4:], sources[:, :4], sources[:, -4:] = False, False, False, False
    targets = np.argwhere(np.pad(np.ones((24, 24), bool), ((60, 12), (60, 12))))  # the copy's inner 24x24
    matches = patchmatch(patch_features(picture, patch_offsets(9)), targets, sources, np.random.default_rng(1))
    assert sources[matches[:, 0], matches[:, 1]].all()
    expected = targets - [48, 44]
    assert (matches == expected).all(axis=1).mean() > 0.9  # approximate search: most, not all, found exactly


def test_patch_offsets_sample_every_second_pixel_and_the_corners():
    offsets = patch_offsets(9)
    assert len(offsets) == 25 and offsets.min() == -4 and offsets.max() == 4
    assert len(patch_offsets(7)) == 16 and {tuple(o) for o in patch_offsets(7)} >= {(-3, -3), (3, 3)}

