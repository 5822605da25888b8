"""The high-resolution region strategy: tiles that disagree must not leave a straight seam inside a fill."""

import numpy as np
import pytest

from mural_inpaint.restorers.base import Restorer
from mural_inpaint.restorers.regions import restore_box, restore_regions


class PlaneFitRestorer(Restorer):
    """Fills a crop's damage with the least-squares plane (per channel) through the crop's known pixels.

    Smooth inside one fill, but it depends on the crop: overlapping tiles of a curved image fit different planes,
    as overlapping tiles of a real network fill differently.
    """

    name = "plane-fit"

    def __init__(self, max_side, tile_side=None):
        self.max_side, self.tile_side = max_side, tile_side
        self.sizes = []

    def restore_crop(self, image, mask, text=None):
        self.sizes.append(mask.shape)
        height, width = mask.shape
        yy, xx = np.mgrid[0:height, 0:width]
        design = np.stack([np.ones(height * width), yy.ravel(), xx.ravel()], axis=1)
        known = ~mask.ravel()
        coef, *_ = np.linalg.lstsq(design[known], image.reshape(-1, 3)[known].astype(float), rcond=None)
        return np.clip(np.rint(design @ coef), 0, 255).astype(np.uint8).reshape(height, width, 3)


class ConstantRestorer(Restorer):
    """Fills every damaged pixel with one colour: whatever the tiling, the result must be exactly that colour."""

    name = "constant"

    def __init__(self, max_side, tile_side=None, value=200):
        self.max_side, self.tile_side, self.value = max_side, tile_side, value
        self.holes = []

    def restore_crop(self, image, mask, text=None):
        self.holes.append(mask.copy())
        return np.full_like(image, self.value)


def smooth_image(height: int, width: int) -> np.ndarray:
    """A gentle, curved colour field (low-frequency sinusoids): plane fits over different windows disagree."""
    yy, xx = np.mgrid[0:height, 0:width].astype(float)
    channels = [128 + 70 * np.sin(2 * np.pi * xx / 260 + phase) + 40 * np.cos(2 * np.pi * yy / 230 + 2 * phase)
                for phase in (0.0, 1.0, 2.0)]
    return np.clip(np.rint(np.stack(channels, axis=-1)), 0, 255).astype(np.uint8)


def second_differences(image: np.ndarray, mask: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """|second difference| along ``axis`` (max over channels) and where it lies wholly inside the fill."""
    values = image.astype(int)
    before, centre, after = (np.take(values, range(k, values.shape[axis] - 2 + k), axis=axis) for k in range(3))
    d2 = np.abs(before - 2 * centre + after).max(axis=-1)
    inside = np.ones(d2.shape, bool)
    for k in range(3):
        inside &= np.take(mask, range(k, mask.shape[axis] - 2 + k), axis=axis)
    return d2, inside


def test_a_fill_across_tile_boundaries_has_no_seam():
    # 224 px with 128 px tiles: windows start at 0 and 96 on both axes, so the tiles overlap in [96, 128); a cross
    # of 40 px bars runs through both boundaries and the corner where four tiles meet (thin enough for native tiles)
    image = smooth_image(224, 224)
    mask = np.zeros((224, 224), bool)
    mask[92:132, 30:194] = True
    mask[30:194, 92:132] = True
    restorer = PlaneFitRestorer(max_side=128)
    out = restore_box(restorer, image, mask, None)
    assert np.array_equal(out[~mask], image[~mask])
    assert len(restorer.sizes) >= 4 and all(max(size) <= 128 for size in restorer.sizes)
    for axis in (0, 1):
        d2, inside = second_differences(out, mask, axis)
        position = np.arange(d2.shape[axis]) + 1  # pixel index of each second difference's centre
        near = (position >= 94) & (position <= 130)  # the tiles' overlap, plus 2 px either side
        near = near[:, None] if axis == 0 else near[None, :]
        across = d2[inside & near].max()
        elsewhere = d2[inside & ~near].max()
        # rounding a smooth fill to bytes adds up to 2 to a second difference; a cross-fade of two planes adds a
        # little curvature, while tiles pasted over each other leave a step of the planes' disagreement (about 40)
        assert elsewhere <= 3, (axis, elsewhere)
        assert across <= max(elsewhere, 2) + 2, (axis, across, elsewhere)


def test_a_large_crop_with_a_seam_free_fill_in_restore_regions():
    # the same through restore_regions on a wide image: one box (the damage's context box) tiled along its width
    image = smooth_image(120, 400)
    mask = np.zeros((120, 400), bool)
    mask[40:76, 20:380] = True  # a 36 px band: thin enough for native tiles, longer than three
    restorer = PlaneFitRestorer(max_side=128)
    out = restore_regions(restorer, image, mask)
    assert np.array_equal(out[~mask], image[~mask])
    assert len(restorer.sizes) >= 3
    d2, inside = second_differences(out, mask, axis=1)
    assert d2[inside].max() <= 3


def test_the_resize_fallback_has_no_seam_either():
    # a 120 px thick loss is downscaled for 64 px tiles, and the small crop is still tiled: its seams would be
    # enlarged with it
    image = smooth_image(200, 640)
    mask = np.zeros((200, 640), bool)
    mask[40:160, 20:620] = True
    restorer = PlaneFitRestorer(max_side=64)
    out = restore_box(restorer, image, mask, None)
    assert len(restorer.sizes) >= 3 and all(max(size) <= 64 for size in restorer.sizes)
    d2, inside = second_differences(out, mask, axis=1)
    interior = d2[46:154, 24:614][inside[46:154, 24:614]]  # 6 px inside the loss: upscaling blends its rim
    assert interior.max() <= 3


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tiles", [(16, None), (16, 32), (24, 40)])
def test_every_damaged_pixel_gets_the_tiles_fill_exactly(seed, tiles):
    # weights of overlapping tiles form a weighted mean: identical fills give that value exactly, on every damaged
    # pixel, whichever tiles were skipped for holding no damage of their own
    rng = np.random.default_rng(seed)
    height, width = rng.integers(20, 110, size=2)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = rng.random((height, width)) < rng.choice([0.002, 0.02, 0.2])
    mask[rng.integers(height), :] |= rng.random(width) < 0.5  # part of a crack along a row
    restorer = ConstantRestorer(*tiles)
    out = restore_box(restorer, image, mask, None)
    assert np.array_equal(out[~mask], image[~mask])
    assert (out[mask] == 200).all()
    assert all(max(hole.shape) <= max(t for t in tiles if t) for hole in restorer.holes)


def test_later_tiles_see_earlier_fills_as_known_paint():
    # the sequential scheme stays: a tile restores only what it blends in; the earlier tiles' fill beside it is context
    image = smooth_image(64, 160)
    mask = np.zeros((64, 160), bool)
    mask[20:40, 10:150] = True
    restorer = ConstantRestorer(max_side=64)
    restore_box(restorer, image, mask, None)
    first, second = restorer.holes[:2]
    assert first[20:40, 10:64].all()
    assert not second[20:40, 0].any() and second[20:40, -1].all()  # its left edge lies in the first tile's fill


def test_a_box_within_the_limit_is_restored_in_one_window_when_that_is_cheaper():
    """Dense damage over a box a little larger than the tiles: one window touches fewer pixels than overlapping
    tiles (and has no seam at all); past the restorer's limit, or for sparse damage, tiles are used."""
    image = smooth_image(300, 420)
    mask = np.zeros((300, 420), bool)
    mask[20:280:6, 10:410] = True  # cracks all over: every tile would hold damage
    one_window = PlaneFitRestorer(max_side=128, tile_side=256)
    one_window.whole_box_pixels = 300 * 420
    out = restore_box(one_window, image, mask, None)
    assert one_window.sizes == [(300, 420)] and np.array_equal(out[~mask], image[~mask])
    tiled = PlaneFitRestorer(max_side=128, tile_side=256)
    tiled.whole_box_pixels = 300 * 420 - 1  # just too large
    restore_box(tiled, image, mask, None)
    assert len(tiled.sizes) > 1 and all(max(size) <= 256 for size in tiled.sizes)
    sparse = np.zeros((300, 420), bool)
    sparse[10:14, 10:20] = True  # one speck in a corner: one small tile is cheaper than the whole box
    specks = PlaneFitRestorer(max_side=128, tile_side=256)
    specks.whole_box_pixels = 300 * 420
    restore_box(specks, image, sparse, None)
    assert specks.sizes == [(128, 128)]
