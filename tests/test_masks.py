import numpy as np
import pytest
from scipy import ndimage

from mural_inpaint.data.damage import PRESETS, MaskBank, crack_mask, flake_mask, synthesize_damage
from mural_inpaint.errors import InputError
from mural_inpaint.imaging import save_png
from tests.helpers import SHARED_DATA, requires_shared_data


@pytest.mark.parametrize("preset", list(PRESETS))
def test_presets_land_in_their_damage_range(preset):
    rng = np.random.default_rng(1)
    spec = PRESETS[preset]
    fractions = [synthesize_damage(128, 160, preset, rng).mean() for _ in range(12)]
    inside = [spec.min_fraction <= f <= spec.max_fraction for f in fractions]
    assert sum(inside) >= 10, (preset, fractions)


def test_generators_are_reproducible_for_a_seed():
    first = synthesize_damage(96, 96, "mixed", np.random.default_rng(7))
    second = synthesize_damage(96, 96, "mixed", np.random.default_rng(7))
    assert first.dtype == np.bool_ and first.shape == (96, 96)
    assert np.array_equal(first, second)


def test_cracks_are_thin_and_flakes_are_compact():
    rng = np.random.default_rng(3)
    crack = crack_mask(256, 256, rng, cracks=1)
    # A crack is thin: eroding it twice removes nearly all of it.
    assert ndimage.binary_erosion(crack, iterations=2).sum() < 0.2 * crack.sum()
    flakes = flake_mask(256, 256, rng, clusters=1)
    assert ndimage.binary_erosion(flakes, iterations=2).sum() > 0.3 * flakes.sum()


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(InputError, match="Unknown damage preset 'cracks'. Available: crack"):
        synthesize_damage(10, 10, "cracks", np.random.default_rng())


def test_mask_bank_samples_crops_of_real_masks(tmp_path):
    source = np.zeros((300, 400), bool)
    source[100:200, 50:350] = True
    save_png(source, tmp_path / "a" / "loss.png")
    bank = MaskBank.from_folder(tmp_path, min_fraction=0.05, max_fraction=0.9)
    assert len(bank) == 1 and bank.names == ["a/loss.png"]
    rng = np.random.default_rng(0)
    crops = [bank.sample(64, 80, rng) for _ in range(10)]
    assert all(c.shape == (64, 80) and c.dtype == np.bool_ for c in crops)
    assert all(0.05 <= c.mean() <= 0.9 for c in crops)


def test_mask_bank_errors_name_the_folder(tmp_path):
    with pytest.raises(InputError, match="Mask bank folder not found"):
        MaskBank.from_folder(tmp_path / "none")
    with pytest.raises(InputError, match="holds no mask images"):
        MaskBank.from_folder(tmp_path)


@requires_shared_data
def test_real_damage_bank_loads():
    bank = MaskBank.from_folder(SHARED_DATA / "real-damage-masks")
    assert len(bank) >= 60
    crop = bank.sample(256, 256, np.random.default_rng(0))
    assert 0.01 <= crop.mean() <= 0.45


def test_large_loss_preset_is_one_contiguous_loss_of_8_to_20_percent():
    for seed in range(40):
        mask = synthesize_damage(256, 256, "large", np.random.default_rng(seed))
        assert ndimage.label(mask)[1] == 1, seed
        assert 0.08 <= mask.mean() <= 0.20, (seed, mask.mean())
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= 64  # sizeable: the box alone is 64-100 px
    again = synthesize_damage(256, 256, "large", np.random.default_rng(3))
    assert np.array_equal(again, synthesize_damage(256, 256, "large", np.random.default_rng(3)))
