"""The texture stage for sizeable losses: detail from a classical fill, added where the damage is deep."""

import numpy as np
import pytest

from mural_inpaint.models.config import MuralXGANConfig, TextureConfig
from mural_inpaint.restorers.base import Restorer
from mural_inpaint.restorers.texture import add_texture, depth_weights
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


@pytest.mark.parametrize("method", ["none", "fsr"])
def test_texture_config_round_trips_through_the_config_dict(method):
    config = MuralXGANConfig(texture=TextureConfig(method=method))
    assert MuralXGANConfig.from_dict(config.to_dict()).texture == config.texture


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
                                                 "depth_full": 10.0, "strength": 1.0}
