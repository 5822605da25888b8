"""Run the quarter-resolution trunk of a checkpoint's ONNX graph in int8, calibrated on training crops.

    python -m train.quantize mural_inpaint/checkpoints/muralxgan-default --data ../shared/data/muraldh-sample \\
        --masks own,large,bank:../shared/data/real-damage-masks \\
        --exclude train/validation-muraldh.txt --exclude train/holdout-muraldh.txt

The checkpoint's float32 ``model.onnx`` is replaced by one whose quarter-resolution convolutions run in int8
(:func:`mural_inpaint.models.engine.quantize_trunk`); its weights digest stays, so the restorer keeps using it.  The
calibration inputs are what the restorer itself feeds the graph (description, text embedding, Telea coarse fill) on
the first ``--crops`` crops of each mask protocol that no ``--exclude`` list names: validation and benchmark crops
take no part.  ``train.ship --int8 DATA`` does the same when shipping.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DEFAULT_MASKS = ("own", "large")
DEFAULT_CROPS = 12  # per mask protocol: 36 inputs with three protocols (percentile ranges; 90 ran out of memory)


class RecordingGraph:
    """Stands in for the restorer's ONNX graph: keeps every feed, then runs the graph."""

    def __init__(self, graph):
        self.graph, self.feeds = graph, []

    def __call__(self, image, mask, text, coarse):
        self.feeds.append({"image": image, "mask": mask, "text": text, "coarse": coarse})
        return self.graph(image, mask, text, coarse)


def calibration_feeds(checkpoint: str | Path, data: str | Path, masks: tuple[str, ...] = DEFAULT_MASKS,
                      exclude: tuple[str | Path, ...] = (), crops: int = DEFAULT_CROPS) -> list[dict[str, np.ndarray]]:
    """The float32 arrays the restorer of ``checkpoint`` feeds its graph while restoring the first ``crops`` crops
    of ``data`` per mask protocol in ``masks`` (``own``, ``large``, ``bank:DIR``), leaving out the stems listed in
    the ``exclude`` files."""
    from evaluation.benchmark import expert_captions
    from mural_inpaint.data.cases import load_cases, read_holdout
    from mural_inpaint.pipeline import RestorationPipeline
    from mural_inpaint.restorers.gan import muralxgan

    left_out = {stem for path in exclude for stem in read_holdout(path)}
    restorer = muralxgan(str(checkpoint), allow_download=False, engine="onnx")
    if restorer.graph is None:
        raise RuntimeError(f"{checkpoint}: no ONNX graph to calibrate ({restorer.engine})")
    recorder = RecordingGraph(restorer.graph)
    restorer.graph = recorder
    pipeline = RestorationPipeline(restorer, captioner="describer")
    for protocol in masks:
        cases = [case for case in load_cases(data, masks=protocol) if case.name not in left_out][:crops]
        for case, caption in zip(cases, expert_captions(cases)):
            pipeline.restore(case.image, case.mask, caption=caption)
    return recorder.feeds


def quantize_checkpoint(checkpoint: str | Path, data: str | Path, masks: tuple[str, ...] = DEFAULT_MASKS,
                        exclude: tuple[str | Path, ...] = (), crops: int = DEFAULT_CROPS) -> Path:
    """Replace ``checkpoint``'s ``model.onnx`` by its int8-trunk version (see the module docstring)."""
    import onnx

    from mural_inpaint.models.engine import GRAPH_FILE, INT8_KEY, quantize_trunk

    graph = Path(checkpoint) / GRAPH_FILE
    if any(entry.key == INT8_KEY for entry in onnx.load(str(graph), load_external_data=False).metadata_props):
        raise ValueError(f"{graph} is quantised already: export the float32 graph again first (train.ship)")
    feeds = calibration_feeds(checkpoint, data, masks, exclude, crops)
    return quantize_trunk(graph, graph, feeds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.quantize", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="checkpoint folder holding a float32 model.onnx")
    parser.add_argument("--data", required=True, help="crops to calibrate on (a folder or dataset, as the benchmark)")
    parser.add_argument("--masks", default=",".join(DEFAULT_MASKS), help="mask protocols, comma-separated")
    parser.add_argument("--exclude", action="append", default=[], help="a stems list kept out of calibration")
    parser.add_argument("--crops", type=int, default=DEFAULT_CROPS, help="crops per mask protocol")
    args = parser.parse_args(argv)
    print(quantize_checkpoint(args.checkpoint, args.data, tuple(args.masks.split(",")), tuple(args.exclude),
                              args.crops))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
