"""The restorer's network run by ONNX Runtime on the CPU, where it is faster than PyTorch's eager kernels.

The generator, the composite with the known pixels and the colour-correction net form one graph (``model.onnx``),
with the crop's height and width free.  The pigment-steering branch stays in PyTorch: it runs only for descriptions
naming the lost paint, and its "does any row name a pigment?" is control flow a static graph does not hold.

Where the graph comes from, in order: ``model.onnx`` in the checkpoint folder (written by training's export), then a
cache folder (``MURALXGAN_CACHE_DIR``, default ``~/.cache/muralxgan/onnx``), then an export made now and cached (a
few seconds, once per checkpoint; needs the ``onnxscript`` package).  Each graph records the digest of the weights
it was made from; a graph of other weights is never used.  ``MURALXGAN_ENGINE`` chooses: ``auto`` (default: ONNX
Runtime when it is installed and a graph can be had, else PyTorch), ``onnx`` (the same, saying why not when it
cannot) or ``torch``.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

ENGINES = ("auto", "onnx", "torch")
GRAPH_FILE = "model.onnx"
DIGEST_KEY = "muralxgan_weights_sha256"
INPUTS = ("image", "mask", "text", "coarse")


def weights_digest(model: nn.Module) -> str:
    """sha256 over the restorer's parameter names, shapes and values (what a graph must have been made from)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class _Graph(nn.Module):
    """What is exported: generator -> composite -> colour net (no steering), on ``[1, 3, H, W]`` in ``[0, 1]``."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image, mask, text, coarse):
        raw = self.model.generator(image, mask, text, coarse)
        out = image * (1 - mask) + raw * mask
        return self.model.colour(out, mask) if self.model.colour is not None else out


def export_graph(model, path: Path) -> Path:
    """Write ``model``'s generator + colour net as an ONNX graph with free height and width."""
    import onnx

    model = model.eval()
    size = 64
    example = (torch.rand(1, 3, size, size), (torch.rand(1, 1, size, size) > 0.7).float(),
               torch.zeros(1, model.config.generator.text_dim), torch.rand(1, 3, size, size))
    height, width = torch.export.Dim("height", min=8, max=8192), torch.export.Dim("width", min=8, max=8192)
    spatial = {2: height, 3: width}  # the restorer pads crops to multiples of 4 (the U-Net halves twice)
    shapes = {"image": spatial, "mask": spatial, "text": None, "coarse": spatial}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        exported = Path(scratch) / GRAPH_FILE  # the exporter may write the weights beside it: one file is kept
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on axis names and deprecations, not the user's
            torch.onnx.export(_Graph(model), example, str(exported), input_names=list(INPUTS),
                              output_names=["restored"], dynamic_shapes=shapes, dynamo=True, verbose=False)
        graph = onnx.load(str(exported))  # external weights, if any, are read back in
        pad_conv_inputs(graph)
        entry = graph.metadata_props.add()
        entry.key, entry.value = DIGEST_KEY, weights_digest(model)
        partial = Path(scratch) / "whole.onnx"
        onnx.save(graph, str(partial))
        partial.replace(path)  # never a half-written graph under the real name
    return path


#: ONNX Runtime's blocked (NCHWc) convolutions on AVX2 CPUs take input channels in blocks of this many
CHANNEL_BLOCK = 8


def pad_conv_inputs(graph, block: int = CHANNEL_BLOCK) -> int:
    """Give every convolution fed by a concatenation a multiple of ``block`` input channels; returns how many it
    changed.  Same function: the added channels are zeros (a slice of the first input times 0) and their weights are
    zero.

    Why: ONNX Runtime runs a convolution in its blocked layout only when the input channels are a multiple of the
    CPU's block (or fewer than one block).  The generator's last full-resolution convolution (39 channels: decoder
    features and the inputs) and the colour net's first (10) fell back to the plain kernel, 2-3 % of a restore.
    """
    from onnx import helper, numpy_helper

    weights = {tensor.name: tensor for tensor in graph.graph.initializer}
    producer = {output: node for node in graph.graph.node for output in node.output}
    consumers: dict[str, int] = {}
    for node in graph.graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    added_nodes: dict[str, list] = {}  # concatenation output -> [the nodes making its zeros..., channels added]
    changed, replaced = 0, set()
    for node in graph.graph.node:
        source = producer.get(node.input[0])
        if node.op_type != "Conv" or node.input[1] not in weights or source is None or source.op_type != "Concat":
            continue
        kernel = numpy_helper.to_array(weights[node.input[1]])
        missing = (-kernel.shape[1]) % block
        if kernel.shape[1] < block or not missing or consumers[node.input[0]] != 1:
            continue
        axis = next(attribute.i for attribute in source.attribute if attribute.name == "axis")
        if axis != 1 or any(attribute.name == "group" and attribute.i != 1 for attribute in node.attribute):
            continue
        stem = f"{node.name}_channel_padding"
        graph.graph.initializer.extend([
            numpy_helper.from_array(np.array([0], np.int64), f"{stem}_start"),
            numpy_helper.from_array(np.array([1], np.int64), f"{stem}_end"),
            numpy_helper.from_array(np.array([1], np.int64), f"{stem}_axis"),
            numpy_helper.from_array(np.zeros((), np.float32), f"{stem}_zero"),
            numpy_helper.from_array(np.concatenate(
                [kernel, np.zeros((kernel.shape[0], missing, *kernel.shape[2:]), kernel.dtype)], axis=1),
                f"{stem}_weight")])
        added_nodes[source.output[0]] = [
            helper.make_node("Slice", [source.input[0], f"{stem}_start", f"{stem}_end", f"{stem}_axis"],
                             [f"{stem}_one"], name=f"{stem}_slice"),
            helper.make_node("Mul", [f"{stem}_one", f"{stem}_zero"], [f"{stem}_zeros"], name=f"{stem}_mul"),
            missing]
        source.input.extend([f"{stem}_zeros"] * missing)
        replaced.add(node.input[1])
        node.input[1] = f"{stem}_weight"
        changed += 1
    still_used = {name for node in graph.graph.node for name in node.input}
    unused = [tensor for tensor in graph.graph.initializer if tensor.name in replaced - still_used]
    for tensor in unused:  # ONNX Runtime warns on every load about an initializer nothing reads
        graph.graph.initializer.remove(tensor)
    ordered = []
    for node in graph.graph.node:  # each pair just before its concatenation: the graph stays topologically sorted
        ordered += added_nodes.get(node.output[0], [None])[:-1]
        ordered.append(copy.deepcopy(node))  # copies: the originals go with the cleared field
    del graph.graph.node[:]
    graph.graph.node.extend(ordered)
    for value in graph.graph.value_info:  # the concatenations' recorded channel counts are stale now
        if value.name in added_nodes:
            value.type.tensor_type.shape.dim[1].dim_value += added_nodes[value.name][-1]
    return changed


INT8_KEY = "muralxgan_int8"
#: the generator's quarter-resolution trunk: the last downsampling convolution and the dilated residual blocks
INT8_MODULES = ("model.generator.down.1.", "model.generator.blocks.")


def quantize_trunk(source: Path, destination: Path, calibration: list[dict[str, np.ndarray]]) -> Path:
    """Write ``source``'s graph to ``destination`` with the convolutions of :data:`INT8_MODULES` in int8.

    Static quantisation (ONNX Runtime, QDQ): weights per output channel, activations with ranges from the
    ``calibration`` feeds (the graph's four inputs, as the restorer builds them) at their 0.001-99.999 percentiles.
    Why only the trunk: there it saved 9-11 % of a restore for 0.005-0.010 dB hole PSNR on the validation crops,
    where the whole network in int8 cost 0.37-0.67 dB (docs/performance.md).  The weights digest is kept and the
    quantised part recorded (:attr:`OnnxRestorerGraph.int8`).
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    graph = onnx.load(str(source))
    nodes = [node.name for node in graph.graph.node
             if node.op_type == "Conv" and node.input[1].startswith(INT8_MODULES)]
    if not nodes:
        raise ValueError(f"{source}: no convolutions of {', '.join(INT8_MODULES)} to quantise")

    class Feeds(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter(calibration)

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory(dir=Path(destination).parent) as scratch:
        partial = Path(scratch) / GRAPH_FILE
        quantize_static(str(source), str(partial), Feeds(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_quantize=nodes,
                        calibrate_method=CalibrationMethod.Percentile)
        quantized = onnx.load(str(partial))
        del quantized.metadata_props[:]
        for entry in graph.metadata_props:
            if entry.key != INT8_KEY:
                quantized.metadata_props.add().CopyFrom(entry)
        quantized.metadata_props.add().CopyFrom(onnx.StringStringEntryProto(
            key=INT8_KEY, value=f"int8 quarter-resolution trunk ({len(nodes)} convolutions)"))
        onnx.save(quantized, str(partial))
        partial.replace(destination)
    return Path(destination)


def cache_dir() -> Path:
    configured = os.environ.get("MURALXGAN_CACHE_DIR", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "muralxgan" / "onnx"


def cpu_threads() -> int:
    """Threads for inference: the cores this process may use (a container's limit, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class OnnxRestorerGraph:
    """An ONNX Runtime session of :class:`_Graph`; call with float32 arrays ``[1, C, H, W]`` -> ``[1, 3, H, W]``."""

    session: object
    path: Path

    @property
    def digest(self) -> str | None:
        """The weights digest the graph was exported with."""
        return self.session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)

    @property
    def int8(self) -> str | None:
        """What of the graph runs in int8 (:func:`quantize_trunk`), None when all of it is float32."""
        return self.session.get_modelmeta().custom_metadata_map.get(INT8_KEY)

    @classmethod
    def open(cls, path: Path, threads: int | None = None) -> OnnxRestorerGraph | None:
        """A session on ``path``; None for a file ONNX Runtime cannot read (corrupt, foreign, truncated)."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception:  # onnxruntime raises its own unexported exception types)
            return None
        return cls(session, path)

    def __call__(self, image: np.ndarray, mask: np.ndarray, text: np.ndarray, coarse: np.ndarray) -> np.ndarray:
        feeds = {"image": image, "mask": mask, "text": text, "coarse": coarse}
        return self.session.run(None, feeds)[0]


def choose_engine(model, checkpoint_dir: Path | None, engine: str | None = None
                  ) -> tuple[OnnxRestorerGraph | None, str]:
    """(ONNX graph or None for PyTorch, one line saying which engine runs and why) for ``model``.

    ``engine``: ``auto`` / ``onnx`` / ``torch``; None reads ``MURALXGAN_ENGINE`` (default ``auto``).
    """
    engine = (engine or os.environ.get("MURALXGAN_ENGINE", "") or "auto").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"MURALXGAN_ENGINE must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "torch":
        return None, "pytorch (MURALXGAN_ENGINE=torch)"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None, "pytorch (onnxruntime is not installed)"
    digest = weights_digest(model)
    candidates = [checkpoint_dir / GRAPH_FILE] if checkpoint_dir is not None else []
    candidates.append(cache_dir() / f"{digest[:32]}.onnx")
    for path in candidates:
        graph = OnnxRestorerGraph.open(path) if path.is_file() else None
        if graph is not None and graph.digest == digest:
            return graph, f"onnxruntime ({path.name}{', ' + graph.int8 if graph.int8 else ''})"
    try:
        path = export_graph(model, candidates[-1])
    except Exception as error:  # no exporter, a read-only cache, an operator ONNX lacks
        reason = f"pytorch (no ONNX graph for these weights and none could be made: {type(error).__name__})"
        log.info("%s: %s", reason, error)
        return None, reason
    graph = OnnxRestorerGraph.open(path)
    if graph is None:
        return None, "pytorch (the ONNX graph just exported could not be opened)"
    return graph, f"onnxruntime ({path.name}, exported now)"
