"""Make a trained checkpoint the shipped default (or any named folder), its record written from what the runs and
the benchmark saved, never by hand.

    python -m train.ship runs/cpu-texture-fourier/best --to mural_inpaint/checkpoints/muralxgan-default \\
        --set texture.method=fsr --note "texture stage chosen on the validation stems" \\
        --benchmark outputs/bench-own/summary.json --benchmark outputs/bench-large/summary.json

``--set`` changes inference settings of the model config (e.g. the texture stage) without touching the weights; the
record keeps the run's own training record with its lineage (the records of the checkpoints it was fine-tuned from,
back to the run from scratch: each run records it, :func:`lineage`), adds the changes made when shipping, and the
benchmark's headline figures for this checkpoint (the restorer ``muralxgan@SOURCE`` in each summary).  The model
card is regenerated from that record.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import yaml

from mural_inpaint.models import load_muralxgan

LINEAGE_KEYS = ("recipe", "command", "date", "steps", "init_from", "model_changes", "shipped")


def lineage(parent: str | None) -> list[dict]:
    """The records of the checkpoints a run was fine-tuned from, nearest first, back to the run from scratch (only
    the keys that say what ran).

    Every run writes this into its record when it exports (:func:`train.train.export`), so the parent's record
    holds the rest of the chain as it was when the parent was trained.  Falling back to what is known: a parent
    without a record (a Hub id, a folder since removed) is listed by name, and an older record without its own
    lineage ends with the name of the checkpoint it started from (``init_from``) rather than that folder's record
    today, which may since hold other weights (e.g. the shipped default's folder)."""
    if not parent:
        return []
    if not (Path(parent) / "config.json").is_file():
        return [{"checkpoint": str(parent)}]
    record = json.loads((Path(parent) / "config.json").read_text()).get("training", {})
    own = {key: record[key] for key in LINEAGE_KEYS if key in record}
    if "lineage" in record:
        earlier = record["lineage"]
    else:
        earlier = [{"checkpoint": str(record["init_from"])}] if record.get("init_from") else []
    return [{"checkpoint": str(parent), **own}, *earlier]


def benchmark_figures(summary_path: str | Path, label: str) -> dict:
    """Headline figures of restorer ``label`` in a benchmark summary: its means and, when the summary has classical
    methods, its per-crop comparison with the best classical method per metric (left out otherwise: a benchmark of
    the candidate against today's default alone has none)."""
    summary = json.loads(Path(summary_path).read_text())
    overall = summary["results"][label]["overall"]
    paired = summary.get("paired", {}).get("vs_best_classical", {}).get(label, {})
    keep = ("n", "hole_psnr", "hole_ssim", "hole_ciede2000", "box_lpips", "psnr", "ssim", "lpips")
    stems = summary.get("stems") or {}
    return {"masks": summary.get("masks"), "stems": f"{stems.get('role')}: {stems.get('list')}",
            "means": {key: round(overall[key], 4) for key in keep if overall.get(key) is not None},
            **({"against_best_classical": paired} if paired else {}),
            "commit": summary.get("environment", {}).get("git_commit")}


def ship(source: str | Path, destination: str | Path, changes: dict, note: str | None = None,
         benchmarks: list[str] | None = None, label: str | None = None, int8: dict | None = None) -> Path:
    """Copy checkpoint ``source`` to ``destination`` with ``changes`` to its config and a generated record, and
    its ONNX graph (``model.onnx``, :mod:`mural_inpaint.models.engine`).

    ``int8``: the graph's quarter-resolution trunk in int8, calibrated as :func:`train.quantize.quantize_checkpoint`
    with these arguments (``data``, and optionally ``masks`` and ``exclude``)."""
    from train.train import extended_model

    model, _ = load_muralxgan(source, allow_download=False)
    record = dict(model.config.training)
    if changes:
        model = extended_model(model, changes).eval()
    label = label or f"muralxgan@{source}"
    model.config.training = {
        **record,
        "lineage": record.get("lineage") or lineage(record.get("init_from")),  # the run's own (train.train.export)
        "shipped": {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "from": str(source),
                    **({"changes": changes} if changes else {}), **({"note": note} if note else {}),
                    **({"int8": int8} if int8 else {})},
        **({"benchmark": [benchmark_figures(path, label) for path in benchmarks]} if benchmarks else {}),
    }
    destination = Path(destination)
    if destination.exists():
        shutil.rmtree(destination)
    model.save_pretrained(destination)
    model.generate_model_card().save(destination / "README.md")
    if (Path(source) / "train_config.json").is_file():
        shutil.copy(Path(source) / "train_config.json", destination / "train_config.json")
    from mural_inpaint.models.engine import GRAPH_FILE, export_graph

    export_graph(model, destination / GRAPH_FILE)  # the CPU engine's graph: no export on the users' machines
    if int8:
        from train.quantize import quantize_checkpoint

        quantize_checkpoint(destination, int8["data"], tuple(int8.get("masks") or ("own", "large")),
                            tuple(int8.get("exclude") or ()))
    return destination


def parse_changes(pairs: list[str]) -> dict:
    """``["texture.method=fsr", "texture.sigma=2"]`` -> ``{"texture": {"method": "fsr", "sigma": 2}}``."""
    changes: dict = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        target = changes
        *parents, leaf = key.strip().split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = yaml.safe_load(raw)
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.ship", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="checkpoint folder of a run, e.g. runs/NAME/best")
    parser.add_argument("--to", required=True, help="destination folder (replaced)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="model config change, e.g. texture.method=fsr")
    parser.add_argument("--note", default=None, help="why the changes were made, and on which crops")
    parser.add_argument("--benchmark", action="append", default=[], help="benchmark summary.json to quote")
    parser.add_argument("--label", default=None, help="the checkpoint's restorer label in those summaries")
    parser.add_argument("--int8", default=None, metavar="DATA",
                        help="run the graph's quarter-resolution trunk in int8, calibrated on these crops")
    parser.add_argument("--int8-masks", default="own,large", help="mask protocols to calibrate with")
    parser.add_argument("--int8-exclude", action="append", default=[], help="a stems list kept out of calibration")
    args = parser.parse_args(argv)
    int8 = ({"data": args.int8, "masks": args.int8_masks.split(","), "exclude": args.int8_exclude}
            if args.int8 else None)
    print(ship(args.source, args.to, parse_changes(args.set), args.note, args.benchmark, args.label, int8))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
