import json

import numpy as np
import pytest

from mural_inpaint.errors import InputError
from mural_inpaint.imaging import save_png
from mural_inpaint.pipeline import BEST_CLASSICAL, RestorationPipeline, default_restorer_name, describe
from tests.helpers import SHARED_DATA, requires_shared_data, synthetic_mural, tiny_gan


@pytest.fixture(scope="module")
def pipeline():
    return RestorationPipeline("telea", captioner="describer")


def test_restore_keeps_known_pixels_and_records_provenance(pipeline, mural, hole):
    result = pipeline.restore(mural, hole, seed=3)
    assert np.array_equal(result.image[~hole], mural[~hole])
    assert not np.array_equal(result.image[hole], mural[hole] * 0)
    prov = result.provenance
    assert prov["restorer"] == "telea" and prov["seed"] == 3 and prov["captioner"] == "describer"
    assert prov["caption"] == result.caption and result.caption.startswith("Damage covers")
    assert prov["image_size"] == [mural.shape[1], mural.shape[0]]
    assert prov["damaged_percent"] == pytest.approx(100 * hole.mean(), abs=1e-3)
    assert {"load_s", "caption_s", "restore_s", "total_s"} <= set(prov["timings"])
    json.loads(result.provenance_json())


def test_expert_caption_is_used_verbatim(pipeline, mural, hole):
    result = pipeline.restore(mural, hole, caption="Flaking cinnabar on the robe")
    assert result.caption == "Flaking cinnabar on the robe"
    assert result.provenance["captioner"] == "expert"
    generic = pipeline.restore(mural, hole, caption="a damaged mural", caption_source="generic prompt")
    assert generic.provenance["captioner"] == "generic prompt"


def test_empty_mask_returns_the_input_unchanged(pipeline, mural):
    result = pipeline.restore(mural, np.zeros(mural.shape[:2], bool))
    assert np.array_equal(result.image, mural)
    assert result.provenance["damaged_percent"] == 0


def test_full_mask_is_refused(pipeline, mural):
    with pytest.raises(InputError, match="covers the whole image"):
        pipeline.restore(mural, np.ones(mural.shape[:2], bool))


def test_mask_size_mismatch_is_refused(pipeline, mural):
    with pytest.raises(InputError, match="the mask is 10x10 pixels but the image is 80x64"):
        pipeline.restore(mural, np.zeros((10, 10), bool))


def test_files_in_and_the_same_result(tmp_path, pipeline, mural, hole):
    image_path, mask_path = save_png(mural, tmp_path / "m.png"), save_png(hole, tmp_path / "k.png")
    from_files = pipeline.restore(image_path, mask_path).image
    assert np.array_equal(from_files, pipeline.restore(mural, hole).image)


def test_every_classical_restorer_through_the_pipeline_is_deterministic(mural, hole):
    for name in ("telea", "navier-stokes", "biharmonic"):
        pipe = RestorationPipeline(name, captioner="describer")
        assert np.array_equal(pipe.restore(mural, hole).image, pipe.restore(mural, hole).image)


def test_default_restorer_is_the_best_working_one(monkeypatch, tmp_path):
    import mural_inpaint.restorers.gan as gan

    monkeypatch.delenv("MURALXGAN_CHECKPOINT", raising=False)
    monkeypatch.setattr(gan, "SHIPPED_CHECKPOINT", tmp_path / "none")
    assert default_restorer_name() == BEST_CLASSICAL
    monkeypatch.setenv("MURALXGAN_CHECKPOINT", "org/some-checkpoint")
    assert default_restorer_name() == "muralxgan"


def test_describe_step_alone(mural, hole):
    caption = describe(mural, hole, "describer")
    assert caption.captioner == "describer" and "Damage covers" in caption.text


@requires_shared_data
def test_high_resolution_mural_with_real_damage_mask():
    import cv2

    from mural_inpaint.imaging import load_image, load_mask

    image = load_image(SHARED_DATA / "hires-murals" / "220-7.png")
    real = load_mask(sorted((SHARED_DATA / "real-damage-masks" / "muralverse").glob("*.png"))[0])
    mask = cv2.resize(real.astype(np.uint8), image.shape[1::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
    result = RestorationPipeline("navier-stokes", captioner="describer").restore(image, mask)
    assert result.image.shape == image.shape
    assert np.array_equal(result.image[~mask], image[~mask])


def test_synthetic_mural_helper_is_deterministic():
    assert np.array_equal(synthetic_mural(seed=4), synthetic_mural(seed=4))


def test_gan_path_embeds_the_caption_and_text_changes_the_result(mural, hole):
    """Full path with a (tiny, random) GAN: caption -> MiniLM embedding -> FiLM-modulated generator."""
    import torch

    restorer = tiny_gan(working_size=64)
    with torch.no_grad():  # make the text matter (FiLM starts neutral by design)
        for film in restorer.model.generator.block_film:
            film.project.weight.normal_(0, 0.5)
    pipe = RestorationPipeline(restorer, captioner="describer")
    first = pipe.restore(mural, hole, caption="flaking malachite green robe")
    second = pipe.restore(mural, hole, caption="a crack through carbon black outlines")
    assert first.provenance["restorer"] == "muralxgan" and first.provenance["checkpoint"] == "test"
    assert "text_embedding_s" in first.provenance["timings"]
    assert np.array_equal(first.image[~hole], mural[~hole]) and np.array_equal(second.image[~hole], mural[~hole])
    assert not np.array_equal(first.image[hole], second.image[hole])
