import numpy as np
import pytest

from mural_inpaint.imaging import load_image
from mural_inpaint.metrics import MetricValue, ciede2000, lpips_distance, psnr, ssim
from mural_inpaint.pretrained import NumpyOnlyUnpickler, imagenet_features_state
from tests.helpers import FIXTURES


def test_psnr_reference_values():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255  # MSE = 255^2 / 48 -> PSNR = 10 log10(48)
    assert psnr(b, a) == pytest.approx(10 * np.log10(48))
    mask = np.zeros((4, 4), bool)
    mask[0, :2] = True  # hole: 2 pixels x 3 channels, one wrong -> 10 log10(6)
    assert psnr(b, a, mask) == pytest.approx(10 * np.log10(6))
    assert psnr(a, a) == 100.0  # capped: a perfect hole must not make a mean infinite


def test_ssim_and_colour_difference(mural, hole):
    assert ssim(mural, mural) == pytest.approx(1.0)
    noisy = np.clip(mural.astype(int) + np.random.default_rng(0).normal(0, 20, mural.shape), 0, 255).astype(np.uint8)
    assert ssim(noisy, mural) < 0.95
    assert ssim(noisy, mural, hole) < 0.95
    assert ciede2000(mural, mural, hole) == 0.0
    red, green = np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 3), np.uint8)
    red[..., 0], green[..., 1] = 255, 255
    assert ciede2000(red, green) == pytest.approx(86.6, abs=0.5)  # published CIEDE2000 sRGB red vs green


def test_hole_ssim_is_the_whole_image_map_averaged_over_the_hole_and_empty_holes_score_nothing(mural, hole):
    from skimage.metrics import structural_similarity

    from mural_inpaint.metrics import HOLE_SSIM_DEFINITION

    restored = mural.copy()
    restored[hole] = 128
    _, full_map = structural_similarity(restored, mural, channel_axis=2, data_range=255, full=True)
    assert ssim(restored, mural, hole) == pytest.approx(full_map.mean(axis=2)[hole].mean())
    rows, cols = np.where(hole)
    box = np.s_[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    cropped = structural_similarity(restored[box], mural[box], channel_axis=2, data_range=255)
    assert abs(ssim(restored, mural, hole) - cropped) > 1e-3  # the definition matters, so it is stated
    assert "computed on the whole image, averaged over the hole pixels" in HOLE_SSIM_DEFINITION
    empty = np.zeros_like(hole)
    assert all(np.isnan(metric(restored, mural, empty)) for metric in (psnr, ssim, ciede2000))


def test_lpips_reproduces_the_authors_reference_values():
    ref, p0, p1 = (load_image(FIXTURES / "lpips" / f"ex_{n}.png") for n in ("ref", "p0", "p1"))
    assert lpips_distance(ref, p0) == pytest.approx(0.722, abs=0.0015)
    assert lpips_distance(ref, p1) == pytest.approx(0.138, abs=0.0015)
    assert lpips_distance(ref, ref) == pytest.approx(0.0, abs=1e-6)


def test_imagenet_weights_layout_matches_torchvision():
    import torchvision

    state, source = imagenet_features_state("vgg16")
    features = torchvision.models.vgg16(weights=None).features
    features.load_state_dict(state, strict=True)
    assert source
    assert state["0.weight"].shape == (64, 3, 3, 3)


def test_unpickler_refuses_anything_but_numpy():
    import io
    import os
    import pickle

    payload = pickle.dumps(os.system)
    with pytest.raises(pickle.UnpicklingError, match="only numpy arrays"):
        NumpyOnlyUnpickler(io.BytesIO(payload)).load()
    arrays = pickle.dumps({"k": np.arange(3)})
    assert NumpyOnlyUnpickler(io.BytesIO(arrays)).load()["k"].tolist() == [0, 1, 2]


def test_metric_value_formats_unavailable_reason():
    assert str(MetricValue(None, "no CLIP weights")) == "unavailable (no CLIP weights)"
    assert str(MetricValue(31.234)) == "31.23"
