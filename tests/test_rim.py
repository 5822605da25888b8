"""The rim stage: the band of a fill next to intact paint blended towards the biharmonic surface."""

import json

import numpy as np
import pytest

from mural_inpaint.models.config import MuralXGANConfig
from mural_inpaint.restorers.rim import BiharmonicBand, smooth_rim
from mural_inpaint.restorers.texture import depth_into_damage
from tests.helpers import synthetic_mural, tiny_gan


def quadratic_surface(height: int = 40, width: int = 48) -> np.ndarray:
    """float ``[H, W, 3]`` with ``Δ²u = 0`` exactly on the 5-point stencil (every second difference is constant)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([0.05 * xx**2 + 0.03 * yy**2, 0.02 * xx * yy + 10, 100 + 0.7 * xx - 0.4 * yy], axis=-1)


def test_the_band_solve_recovers_a_biharmonic_surface_exactly():
    surface = quadratic_surface()
    band = np.zeros(surface.shape[:2], bool)
    band[10:30, 12:20] = True  # a loss away from the crop's border
    band[15:18, 20:36] = True
    scrambled = surface.copy()
    scrambled[band] = np.random.default_rng(0).uniform(0, 255, (int(band.sum()), 3))
    solved = BiharmonicBand(band).solve(scrambled)  # the band's pixels in row-major order
    np.testing.assert_allclose(solved, surface[band], atol=1e-6)


def test_depth_counts_from_intact_paint_and_not_from_the_crop_border():
    mask = np.zeros((20, 20), bool)
    mask[:, :6] = True  # a loss running off the left edge of a window
    depth = depth_into_damage(mask)
    assert depth[10, 5] == pytest.approx(1.0)
    assert depth[10, 0] > 5.5  # the window's edge is not paint to meet
    assert (depth[~mask] == 0).all()


def test_smooth_rim_fixes_an_offset_at_the_rim_and_leaves_the_rest_alone():
    image = np.full((64, 64, 3), 120, np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[20:44, 20:44] = True  # a 24 px loss: rim 3 px, interior deeper
    restored = image.copy()
    restored[mask] = 150  # a fill 30 levels too light everywhere
    smoothed = smooth_rim(restored, image, mask, band=3.0)
    depth = depth_into_damage(mask)
    assert np.array_equal(smoothed[~mask], image[~mask])
    deep = depth >= 3
    assert np.array_equal(smoothed[deep], restored[deep])  # the network's interior kept
    edge = mask & (depth == 1)
    # at 1 px deep a third is the fill's (30 too light) and two thirds the surface, itself near the paint there
    assert 120 < smoothed[edge].astype(float).mean() < 140
    rim = mask & (depth < 3)
    error_before = np.abs(restored[rim].astype(int) - 120).mean()
    error_after = np.abs(smoothed[rim].astype(int) - 120).mean()
    assert error_after < 0.75 * error_before  # the surface climbs from the paint to the fill across the band
    assert smooth_rim(restored, image, mask, band=0.0) is restored


def test_a_thin_crack_through_a_gradient_becomes_the_smooth_continuation():
    yy, xx = np.mgrid[0:48, 0:48]
    image = np.stack([60 + 3 * xx, 80 + 2 * yy, np.full_like(xx, 140)], -1).astype(np.uint8)
    mask = np.zeros((48, 48), bool)
    mask[10:38, 23:25] = True  # a 2 px crack: all of it rim
    restored = image.copy()
    restored[mask] = (200, 30, 30)  # a wild fill
    smoothed = smooth_rim(restored, image, mask, band=3.0)
    # every pixel is 1 px deep: a third of the fill, two thirds the surface, which continues the gradient exactly
    expected = (restored[mask].astype(float) + 2 * image[mask].astype(float)) / 3
    assert np.abs(smoothed[mask] - expected).max() <= 1.0


def test_a_checkpoint_records_its_rim_band_and_older_ones_restore_as_before(tmp_path):
    from mural_inpaint.models.muralxgan import load_muralxgan

    restorer = tiny_gan(64)
    assert restorer.model.config.rim_band == 3.0  # new configs get the chosen setting
    restorer.model.save_pretrained(tmp_path / "new")
    config = json.loads((tmp_path / "new" / "config.json").read_text())
    assert config["rim_band"] == 3.0
    del config["rim_band"]  # as written before the rim stage existed
    (tmp_path / "new" / "config.json").write_text(json.dumps(config))
    older, _ = load_muralxgan(tmp_path / "new")
    assert older.config.rim_band == 0.0
    assert MuralXGANConfig.from_dict(MuralXGANConfig(rim_band=2.0).to_dict()).rim_band == 2.0


def test_the_restorer_smooths_the_rim_and_keeps_known_pixels():
    restorer = tiny_gan(64)
    image = synthetic_mural(64, 64)
    mask = np.zeros((64, 64), bool)
    mask[12:52, 30:33] = True  # a crack
    mask[20:40, 8:24] = True  # and a loss
    with_rim = restorer.restore_crop(image, mask)
    assert restorer.provenance()["rim_band"] == 3.0
    restorer.model.config.rim_band = 0.0
    without = restorer.restore_crop(image, mask)
    assert np.array_equal(with_rim[~mask], image[~mask])
    deep = depth_into_damage(mask) >= 3
    assert np.array_equal(with_rim[deep], without[deep])
    assert not np.array_equal(with_rim[mask & ~deep], without[mask & ~deep])
