"""The CPU inference engine (issue 18): the restorer's network exported to ONNX and run by ONNX Runtime must restore
what PyTorch restores, only ever from a graph of its own weights, and say which engine ran."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mural_inpaint.models.engine import GRAPH_FILE, OnnxRestorerGraph, choose_engine, export_graph, weights_digest
from tests.helpers import synthetic_mural, tiny_gan


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MURALXGAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MURALXGAN_ENGINE", raising=False)
    return tmp_path / "cache"


def steering_model():
    from mural_inpaint.models import ColourConfig, GeneratorConfig, MuralXGAN, MuralXGANConfig
    from mural_inpaint.text.pigment_words import PIGMENT_COUNT

    torch.manual_seed(1)
    model = MuralXGAN(MuralXGANConfig(
        generator=GeneratorConfig(channels=8, dilations=(2,), text_dim=16 + PIGMENT_COUNT),
        colour=ColourConfig(channels=4, dilations=(1,)), pigment_steering=True, working_size=32,
        text_encoder={"name": "minilm", "dim": 16 + PIGMENT_COUNT, "pigment_words": True}))
    with torch.no_grad():
        for head in (model.generator.head[-1], model.colour.head, model.steering.head):
            head.weight.normal_(0, 0.1)
        for film in model.generator.block_film:
            film.project.weight.normal_(0, 0.1)
    return model.eval()


def test_the_graph_restores_what_pytorch_restores_at_any_size(cache):
    model = tiny_gan().model
    graph = OnnxRestorerGraph.open(export_graph(model, cache / "tiny.onnx"))
    assert graph.digest == weights_digest(model)
    for height, width in ((32, 32), (48, 80)):  # height and width are free in the graph
        image, coarse = torch.rand(1, 3, height, width), torch.rand(1, 3, height, width)
        mask, text = (torch.rand(1, 1, height, width) > 0.6).float(), torch.randn(1, 384)
        with torch.no_grad():
            expected = model(image, mask, text, coarse).numpy()
        got = graph(image.numpy(), mask.numpy(), text.numpy(), coarse.numpy())
        assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-5


def test_the_restorer_gives_the_same_pixels_on_both_engines_and_steers_after_the_graph(cache):
    from mural_inpaint.restorers.gan import MuralXGANRestorer
    from mural_inpaint.text.pigment_words import PIGMENT_COUNT

    model = steering_model()
    on_onnx = MuralXGANRestorer(model, "test", None, engine="onnx")
    on_torch = MuralXGANRestorer(model, "test", None, engine="torch")
    assert on_onnx.engine.startswith("onnxruntime") and "exported now" in on_onnx.engine
    assert on_torch.engine == "pytorch (MURALXGAN_ENGINE=torch)" and on_torch.graph is None
    assert on_onnx.provenance()["engine"] == on_onnx.engine
    image = synthetic_mural(40, 52)
    mask = np.zeros((40, 52), bool)
    mask[8:30, 10:40] = True
    green = torch.zeros(16 + PIGMENT_COUNT)
    green[16 + 2] = 1.0  # malachite green named: the steering branch runs after the graph
    for text in (None, torch.randn(16 + PIGMENT_COUNT) * (torch.arange(16 + PIGMENT_COUNT) < 16), green):
        a, b = on_onnx.restore_crop(image, mask, text), on_torch.restore_crop(image, mask, text)
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # float rounding may move a value by one level
    assert not np.array_equal(on_onnx.restore_crop(image, mask, green), on_onnx.restore_crop(image, mask, None))


def test_convolutions_fed_by_a_concatenation_get_whole_channel_blocks_and_compute_the_same(cache, monkeypatch):
    import onnx
    from onnx import numpy_helper

    from mural_inpaint.models import engine

    model = tiny_gan().model
    padded_path = export_graph(model, cache / "padded.onnx")
    graph = onnx.load(str(padded_path))
    weights = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.graph.initializer}
    convolutions = [node for node in graph.graph.node if node.op_type == "Conv"]
    assert all(weights[node.input[1]].shape[1] < 8 or weights[node.input[1]].shape[1] % 8 == 0
               for node in convolutions)
    padded = [weights[node.input[1]] for node in convolutions if node.input[1].endswith("_channel_padding_weight")]
    # the generator's last convolution (8 decoder + 7 input channels) and the colour net's first (10)
    assert sorted(kernel.shape[1] for kernel in padded) == [16, 16]
    assert all(not kernel[:, -1].any() for kernel in padded)  # the added channels weigh nothing
    used = {name for node in graph.graph.node for name in node.input}
    assert all(tensor.name in used for tensor in graph.graph.initializer)  # no replaced weights left behind
    assert engine.pad_conv_inputs(graph) == 0  # nothing left to pad

    monkeypatch.setattr(engine, "pad_conv_inputs", lambda graph: 0)
    plain = OnnxRestorerGraph.open(export_graph(model, cache / "plain.onnx"))
    padded_graph = OnnxRestorerGraph.open(padded_path)
    image, coarse = np.random.rand(1, 3, 36, 44).astype(np.float32), np.random.rand(1, 3, 36, 44).astype(np.float32)
    mask, text = (np.random.rand(1, 1, 36, 44) > 0.6).astype(np.float32), np.random.randn(1, 384).astype(np.float32)
    assert np.abs(padded_graph(image, mask, text, coarse) - plain(image, mask, text, coarse)).max() < 1e-6


def test_only_a_graph_of_the_same_weights_is_used(cache, tmp_path):
    model = tiny_gan().model
    folder = tmp_path / "checkpoint"
    export_graph(model, folder / GRAPH_FILE)
    graph, note = choose_engine(model, folder, "auto")
    assert note == f"onnxruntime ({GRAPH_FILE})" and not cache.exists()  # the checkpoint's own graph, no export
    with torch.no_grad():
        model.colour.head.bias.add_(0.01)  # other weights: the folder's graph no longer fits
    graph, note = choose_engine(model, folder, "auto")
    assert "exported now" in note and graph.digest == weights_digest(model)
    assert choose_engine(model, folder, "auto")[1] == f"onnxruntime ({weights_digest(model)[:32]}.onnx)"  # cached
    (folder / GRAPH_FILE).write_bytes(b"not a graph")  # a corrupt file is passed over, not a crash
    assert choose_engine(model, folder, "auto")[0] is not None
    with pytest.raises(ValueError, match="MURALXGAN_ENGINE must be one of auto, onnx, torch, not 'tensorrt'"):
        choose_engine(model, folder, "tensorrt")


def test_without_onnx_runtime_or_an_exporter_pytorch_runs(cache, monkeypatch):
    import builtins

    model = tiny_gan().model
    monkeypatch.setenv("MURALXGAN_ENGINE", "torch")
    assert choose_engine(model, None) == (None, "pytorch (MURALXGAN_ENGINE=torch)")
    monkeypatch.setenv("MURALXGAN_ENGINE", "auto")
    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name in ("onnxscript", "onnx"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)
    graph, note = choose_engine(model, None)
    assert graph is None and note.startswith("pytorch (no ONNX graph for these weights and none could be made")


def test_the_shipped_checkpoint_carries_the_graph_of_its_weights(cache):
    from mural_inpaint.restorers import RESTORERS

    restorer = RESTORERS.create("muralxgan", engine="auto")
    # no export on a user's machine; the quarter-resolution trunk in int8 (train.quantize), said in the provenance
    assert restorer.engine == f"onnxruntime ({GRAPH_FILE}, int8 quarter-resolution trunk (9 convolutions))"
    assert not cache.exists()


def test_the_quarter_resolution_trunk_runs_in_int8_and_the_rest_in_float32(cache, tmp_path, monkeypatch):
    import onnx

    from mural_inpaint.models.engine import INT8_MODULES, quantize_trunk
    from tests.helpers import write_pairs
    from train.quantize import quantize_checkpoint

    model = tiny_gan().model
    folder = tmp_path / "checkpoint"
    model.save_pretrained(folder)
    export_graph(model, folder / GRAPH_FILE)
    plain = OnnxRestorerGraph.open(folder / GRAPH_FILE)
    data = write_pairs(tmp_path / "data", ["a", "b", "c", "d"])
    (tmp_path / "kept-out.txt").write_text("b\n")
    quantize_checkpoint(folder, data, masks=("own", "large"), exclude=(tmp_path / "kept-out.txt",), crops=2)
    graph = onnx.load(str(folder / GRAPH_FILE))
    dequantized = {node.output[0]: node.input[0] for node in graph.graph.node if node.op_type == "DequantizeLinear"}
    int8_weights = sorted(dequantized[node.input[1]].removesuffix("_quantized") for node in graph.graph.node
                          if node.op_type == "Conv" and node.input[1] in dequantized)
    convolutions = [node for node in graph.graph.node if node.op_type == "Conv"]
    assert int8_weights and all(name.startswith(INT8_MODULES) for name in int8_weights)
    assert len(int8_weights) == sum(1 for node in convolutions if node.input[1] in dequantized) < len(convolutions)
    quantized, note = choose_engine(model, folder, "auto")
    assert quantized.digest == weights_digest(model)  # still the graph of these weights: used, not re-exported
    assert note == f"onnxruntime ({GRAPH_FILE}, int8 quarter-resolution trunk ({len(int8_weights)} convolutions))"
    assert not cache.exists()

    image, coarse = np.random.rand(1, 3, 48, 48).astype(np.float32), np.random.rand(1, 3, 48, 48).astype(np.float32)
    mask, text = (np.random.rand(1, 1, 48, 48) > 0.7).astype(np.float32), np.random.randn(1, 384).astype(np.float32)
    difference = np.abs(quantized(image, mask, text, coarse) - plain(image, mask, text, coarse))
    assert 0 < difference.max() < 0.1  # int8 moves values, a little

    with pytest.raises(ValueError, match="quantised already"):
        quantize_checkpoint(folder, data, masks=("own",), crops=1)
    monkeypatch.setattr("mural_inpaint.models.engine.INT8_MODULES", ("model.nothing.",))
    with pytest.raises(ValueError, match=r"no convolutions of model\.nothing\. to quantise"):
        quantize_trunk(export_graph(model, tmp_path / "again.onnx"), tmp_path / "int8.onnx", [])


def test_calibration_feeds_leave_out_the_excluded_crops(tmp_path):
    from tests.helpers import write_pairs
    from train.quantize import calibration_feeds

    model = tiny_gan(working_size=48).model  # one window per crop
    model.save_pretrained(tmp_path / "checkpoint")
    export_graph(model, tmp_path / "checkpoint" / GRAPH_FILE)
    data = write_pairs(tmp_path / "data", ["a", "b", "c"])
    (tmp_path / "kept-out.txt").write_text("a\nc\n")
    feeds = calibration_feeds(tmp_path / "checkpoint", data, masks=("own", "large"),
                              exclude=(tmp_path / "kept-out.txt",))
    assert len(feeds) == 2  # crop b with each mask protocol
    assert {key: value.shape for key, value in feeds[0].items()} == {
        "image": (1, 3, 48, 48), "mask": (1, 1, 48, 48), "text": (1, 384), "coarse": (1, 3, 48, 48)}
    assert feeds[0]["mask"].sum() == 200  # b's own mask: 10 rows x 20 columns
