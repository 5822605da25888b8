import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.restorers import RESTORERS, plan_boxes, restore_regions
from mural_inpaint.restorers.base import Restorer
from mural_inpaint.restorers.regions import Box, restore_box
from tests.helpers import synthetic_mural, tiny_gan

CLASSICAL = ["telea", "navier-stokes", "biharmonic", "fsr"]
FAST_CLASSICAL = ["telea", "navier-stokes", "biharmonic"]  # fsr takes ~1-2 s a crop: tested on fixed cases below


@st.composite
def image_and_mask(draw):
    height = draw(st.integers(8, 90))
    width = draw(st.integers(8, 90))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    density = draw(st.floats(0.01, 0.6))
    mask = rng.random((height, width)) < density * rng.random()
    if mask.all():
        mask[0, 0] = False
    return image, mask


@pytest.fixture(scope="module")
def restorers():
    """The fast classical restorers and a tiny GAN, built once for the module (not at import)."""
    return [RESTORERS.create(name) for name in FAST_CLASSICAL] + [tiny_gan()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=image_and_mask(), which=st.integers(0, len(FAST_CLASSICAL)))  # the last one is the GAN
def test_known_pixels_are_byte_identical(restorers, case, which):
    image, mask = case
    restorer = restorers[which]
    out = restore_regions(restorer, image, mask)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.array_equal(out[~mask], image[~mask]), restorer.name


@pytest.mark.parametrize("name", CLASSICAL)
def test_classical_restorers_fill_smooth_regions_well(name):
    image = synthetic_mural(64, 64, seed=2)
    mask = np.zeros((64, 64), bool)
    mask[28:36, 20:44] = True
    out = restore_regions(RESTORERS.create(name), image, mask)
    error = np.abs(out[mask].astype(int) - image[mask].astype(int)).mean()
    grey_error = np.abs(128 - image[mask].astype(int)).mean()
    assert error < 0.6 * grey_error  # clearly better than a flat grey fill


def gradient(height: int = 64, width: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 3, y * 3, (x + y) * 1.5], axis=-1).astype(np.uint8)


def test_fsr_is_registered_and_restores_a_smooth_gradient_closely():
    assert "fsr" in RESTORERS.names()
    entry = next(e for e in RESTORERS.entries() if e.name == "fsr")
    assert "Frequency Selective Reconstruction" in entry.summary and "slow" in entry.summary
    image = gradient()
    mask = np.zeros((64, 64), bool)
    mask[24:40, 20:44] = True
    restorer = RESTORERS.create("fsr")
    assert restorer.provenance() == {"restorer": "fsr", "variant": "fast"}
    out = restore_regions(restorer, image, mask)
    assert np.array_equal(out[~mask], image[~mask])
    error = np.abs(out[mask].astype(int) - image[mask].astype(int))
    grey_error = np.abs(128 - image[mask].astype(int)).mean()
    assert error.mean() < 3 and error.mean() < 0.1 * grey_error and error.max() < 20
    # xphoto's mask is inverted (non-zero = known): had ours been passed through, the hole would keep its grey
    damaged = image.copy()
    damaged[mask] = 128
    direct = restorer.restore_crop(damaged, mask)
    assert np.abs(direct[mask].astype(int) - image[mask].astype(int)).mean() < 3


@pytest.mark.parametrize("shape, density", [((8, 9), 0.3), ((37, 53), 0.1), ((5, 40), 0.5)])
def test_fsr_keeps_known_pixels_byte_identical(shape, density):
    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    mask = rng.random(shape) < density
    out = restore_regions(RESTORERS.create("fsr"), image, mask)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert np.array_equal(out[~mask], image[~mask])


def test_fsr_without_opencv_contrib_is_a_clear_error(monkeypatch):
    import cv2

    monkeypatch.delattr(cv2, "xphoto")
    with pytest.raises(ModelUnavailableError, match="opencv-contrib-python-headless"):
        RESTORERS.create("fsr")


def test_boxes_merge_overlaps_and_cover_every_damaged_pixel():
    mask = np.zeros((200, 300), bool)
    mask[10:20, 10:20] = True
    mask[22:30, 22:30] = True  # close to the first: boxes overlap and merge
    mask[150:160, 250:290] = True  # far away: its own box
    boxes = plan_boxes(mask)
    assert len(boxes) == 2
    covered = np.zeros_like(mask)
    for box in boxes:
        covered[box.slices] = True
    assert covered[mask].all()
    for i, a in enumerate(boxes):
        assert not any(a.overlaps(b) for b in boxes[i + 1:])


def test_boxes_grow_to_the_working_size_for_context():
    mask = np.zeros((500, 500), bool)
    mask[240:250, 240:250] = True
    (box,) = plan_boxes(mask, min_side=128)
    assert box.bottom - box.top == 128 and box.right - box.left == 128
    (edge,) = plan_boxes(np.pad(np.ones((4, 4), bool), ((0, 96), (0, 96))), min_side=64)
    assert edge == Box(0, 64, 0, 64)


class RecordingRestorer(Restorer):
    """Stands in for a learned restorer: records crop sizes, fills with the crop's mean colour."""

    name = "recording"

    def __init__(self, max_side, tile_side=None):
        self.max_side, self.tile_side = max_side, tile_side
        self.sizes = []

    def restore_crop(self, image, mask, text=None):
        self.sizes.append(mask.shape)
        return np.broadcast_to(image[~mask].mean(0).astype(np.uint8), image.shape).copy()


def test_thin_damage_on_a_large_crop_is_tiled_at_native_resolution():
    image = synthetic_mural(300, 500)
    mask = np.zeros((300, 500), bool)
    mask[150, 10:490] = True  # a long, 1-px crack
    recorder = RecordingRestorer(max_side=128)
    out = restore_box(recorder, image, mask, None)
    assert out.shape == image.shape
    assert all(max(size) <= 128 for size in recorder.sizes) and len(recorder.sizes) >= 4


def test_tile_size_follows_how_dense_the_damage_is():
    image = synthetic_mural(256, 256)
    dense = np.zeros((256, 256), bool)
    dense[::12, :] = True  # cracks everywhere: one 256 tile instead of nine overlapping 128 ones
    sparse = np.zeros((256, 256), bool)
    sparse[100, 10:60] = True  # one short crack: one 128 tile
    sizes = {}
    for name, mask in (("dense", dense), ("sparse", sparse)):
        recorder = RecordingRestorer(max_side=128, tile_side=256)
        out = restore_box(recorder, image, mask, None)
        assert np.array_equal(out[~mask], image[~mask]) and all(max(size) <= 256 for size in recorder.sizes)
        sizes[name] = {max(size) for size in recorder.sizes}
    assert sizes == {"dense": {256}, "sparse": {128}}


def test_thick_damage_falls_back_to_resizing():
    image = synthetic_mural(400, 400)
    mask = np.zeros((400, 400), bool)
    mask[50:350, 50:350] = True  # a 300-px loss: too thick to see across in a 64-px window
    recorder = RecordingRestorer(max_side=64)
    out = restore_box(recorder, image, mask, None)
    assert out.shape == image.shape
    assert max(max(size) for size in recorder.sizes) <= 64
    assert len(recorder.sizes) <= 9  # downscaled first, not hundreds of native tiles


def test_gan_restorer_handles_sizes_not_divisible_by_four():
    restorer = tiny_gan(working_size=64)
    image = synthetic_mural(37, 53)
    mask = np.zeros((37, 53), bool)
    mask[10:20, 5:30] = True
    out = restorer.restore_crop(image, mask, torch.zeros(384))
    assert out.shape == image.shape and out.dtype == np.uint8
