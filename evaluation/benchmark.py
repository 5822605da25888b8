"""Quality benchmark: every case through :class:`RestorationPipeline` (the app's path) for each restorer.

    python -m evaluation.benchmark --data ../shared/data/muraldh-sample --restorers telea,navier-stokes,biharmonic \
        --out /tmp/bench-own [--masks own|bank:DIR] [--checkpoint PATH_OR_ID] [--caption expert|auto] [--seed 0]

Writes ``per_image.csv`` (one row per case and restorer), ``summary.json`` / ``summary.md`` (means per restorer,
overall and by hole ratio, with the protocol, provenance and timings) and ``grid.png`` (input, restorers, truth).
Metric columns are identical on a rerun with the same seed; only the timings change.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from evaluation.cases import Case, load_cases
from mural_inpaint.errors import InputError, MuralXGANError
from mural_inpaint.pipeline import RestorationPipeline
from mural_inpaint.visuals import make_grid, with_hole_shown

METRICS = ("psnr", "ssim", "hole_psnr", "hole_ssim", "hole_ciede2000", "lpips", "clip_score")
TIMINGS = ("restore_s", "total_s")
COLUMNS = ("case", "restorer", "hole_percent", "bucket", *METRICS, *TIMINGS, "caption")
#: Hole-ratio buckets in percent of the image, lower bound included.
BUCKETS = (("0-10%", 0.0, 10.0), ("10-20%", 10.0, 20.0), ("20-40%", 20.0, 40.0), (">40%", 40.0, math.inf))
LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "hole_psnr": "hole PSNR (dB)", "hole_ssim": "hole SSIM",
          "hole_ciede2000": "hole ΔE00", "lpips": "LPIPS", "clip_score": "CLIP Score", "restore_s": "s / image"}
GRID_ROWS = 8


def bucket_of(hole_percent: float) -> str:
    return next(label for label, low, high in BUCKETS if low <= hole_percent < high)


class ClipScorer:
    """CLIP Score (restored image vs caption), tried once: if unavailable, None for every image and ``reason`` set."""

    def __init__(self, enabled: bool = True):
        self.reason: str | None = None if enabled else "switched off (--no-clip)"

    def __call__(self, image: np.ndarray, text: str) -> float | None:
        if self.reason is not None:
            return None
        from mural_inpaint.metrics import clip_score

        value = clip_score(image, text)
        if value.value is None:
            self.reason = value.reason
        return value.value


def score(restored: np.ndarray, case: Case, caption: str, *, lpips: bool = True,
          clip: ClipScorer | None = None) -> dict[str, float | None]:
    """All metrics of one restoration; whole-image ones on the composite, ``hole_*`` on the hole pixels only."""
    from mural_inpaint.metrics import ciede2000, lpips_distance, psnr, ssim

    ref, mask = case.reference, case.mask
    return {
        "psnr": psnr(restored, ref), "ssim": ssim(restored, ref),
        "hole_psnr": psnr(restored, ref, mask), "hole_ssim": ssim(restored, ref, mask),
        "hole_ciede2000": ciede2000(restored, ref, mask),
        "lpips": lpips_distance(restored, ref) if lpips else None,
        "clip_score": clip(restored, caption) if clip is not None and caption.strip() else None,
    }


def expert_captions(cases: list[Case]) -> list[str]:
    """The describer's caption with the clean reference: what a conservator who knows the lost area would write."""
    from mural_inpaint.text.describer import describe_damage

    return [describe_damage(case.image, case.mask, reference=case.reference).text for case in cases]


def evaluate(pipeline: RestorationPipeline, cases: list[Case], captions: list[str | None], *, label: str,
             seed: int = 0, lpips: bool = True, clip: ClipScorer | None = None, progress=None,
             keep: Iterable[str] = (), caption_source: str = "expert") -> tuple[list[dict], dict[str, np.ndarray]]:
    """Restore and score every case with one pipeline -> (CSV rows, restored images of the cases named in ``keep``).

    ``captions[i]`` None lets the pipeline's captioner write the caption; ``""`` restores without text.
    """
    rows, kept, keep = [], {}, set(keep)
    for case, caption in zip(cases, captions, strict=True):
        start = time.perf_counter()
        result = pipeline.restore(case.image, case.mask, caption=caption, seed=seed, caption_source=caption_source)
        total = time.perf_counter() - start
        rows.append({"case": case.name, "restorer": label, "hole_percent": case.hole_percent,
                     "bucket": bucket_of(case.hole_percent),
                     **score(result.image, case, result.caption, lpips=lpips, clip=clip),
                     "restore_s": result.provenance["timings"].get("restore_s", 0.0), "total_s": total,
                     "caption": result.caption})
        if case.name in keep:
            kept[case.name] = result.image
        if progress is not None:
            progress.update(1)
    return rows, kept


def _mean(values: list) -> float | None:
    present = [float(v) for v in values if v is not None]
    return float(np.mean(present)) if present else None


def aggregate(rows: list[dict], columns: Iterable[str] = (*METRICS, *TIMINGS)) -> dict:
    """Means per restorer, overall and per hole-ratio bucket (all buckets listed, ``n`` = case count).

    ``None`` values (an unavailable metric) are left out of a mean; a mean of nothing is ``None``.
    Returns ``{restorer: {"overall": {"n": int, column: mean, ...}, "buckets": {label: {...}}}}``.
    """
    columns = tuple(columns)

    def means(subset: list[dict]) -> dict:
        return {"n": len(subset), **{c: _mean([row.get(c) for row in subset]) for c in columns}}

    result = {}
    for restorer in dict.fromkeys(row["restorer"] for row in rows):
        mine = [row for row in rows if row["restorer"] == restorer]
        result[restorer] = {"overall": means(mine), "buckets": {
            label: means([row for row in mine if bucket_of(row["hole_percent"]) == label]) for label, _, _ in BUCKETS
        }}
    return result


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}" if math.isfinite(value) else str(value)
    return str(value)


def write_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows([_cell(row.get(column)) for column in COLUMNS] for row in rows)


def fmt(value: float | None, digits: int = 2, signed: bool = False) -> str:
    """A table cell: ``n/a`` for a missing value, else fixed decimals (with a sign when ``signed``)."""
    return "n/a" if value is None else f"{value:{'+' if signed else ''}.{digits}f}"


DIGITS = {"ssim": 4, "hole_ssim": 4, "lpips": 4, "restore_s": 3}


def markdown_table(aggregated: dict, columns: Iterable[str], buckets: bool = False) -> str:
    """A Markdown table of means (rows: restorer, or restorer x bucket)."""
    columns = tuple(columns)
    head = ["restorer", *(["hole ratio"] if buckets else []), "n", *(LABELS.get(c, c) for c in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for restorer, groups in aggregated.items():
        for label, values in (groups["buckets"].items() if buckets else [(None, groups["overall"])]):
            cells = [restorer, *([label] if buckets else []), str(values["n"])]
            cells += [fmt(values[c], DIGITS.get(c, 2)) for c in columns]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def environment() -> dict:
    """Machine, versions and project commit, for the summary."""
    import cv2
    import skimage
    import torch

    import mural_inpaint

    try:
        root = Path(__file__).resolve().parents[1]
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True,
                                    timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "opencv": cv2.__version__, "scikit_image": skimage.__version__,
            "muralxgan": mural_inpaint.__version__, "git_commit": commit, "git_dirty": dirty}


def data_record(args: argparse.Namespace, cases: list[Case]) -> dict:
    """What was benchmarked: the source, the protocol and a digest of the exact pixels and masks."""
    digest = hashlib.sha256()
    for case in cases:
        digest.update(case.name.encode())
        digest.update(case.reference.tobytes())
        digest.update(np.packbits(case.mask).tobytes())
    return {"data": str(args.data), "data_resolved": str(Path(args.data).resolve()) if Path(args.data).exists()
            else None, "masks": args.masks, "seed": args.seed, "holdout": args.holdout, "limit": args.limit,
            "cases": len(cases), "case_names": [case.name for case in cases], "cases_sha256": digest.hexdigest()}


def data_line(record: dict) -> str:
    """One line naming the data, the mask protocol, the seed and any subset, from :func:`data_record`."""
    return (f"data: `{record['data']}` ({record['cases']} cases, sha256 {record['cases_sha256'][:12]}); masks: "
            f"`{record['masks']}`; seed {record['seed']}"
            + (f"; holdout `{record['holdout']}`" if record["holdout"] else "")
            + (f"; limit {record['limit']}" if record["limit"] is not None else ""))


def grid_indices(cases: list[Case], rows: int = GRID_ROWS) -> list[int]:
    """Up to ``rows`` cases spread evenly over the range of hole ratios (smallest to largest)."""
    order = sorted(range(len(cases)), key=lambda i: (cases[i].hole_percent, cases[i].name))
    if len(order) <= rows:
        return order
    return [order[round(k * (len(order) - 1) / (rows - 1))] for k in range(rows)]


def show_hole(case: Case) -> np.ndarray:
    return with_hole_shown(case.image, case.mask)


def warm_up(case: Case, lpips: bool, clip: ClipScorer) -> str:
    """Load LPIPS and try CLIP once before anything is timed; returns what LPIPS is (for the summary)."""
    clip(case.reference, "warm-up")
    if not lpips:
        return "switched off (--no-lpips)"
    from mural_inpaint.metrics import lpips_distance, lpips_model

    lpips_distance(case.reference, case.reference)
    return f"AlexNet v0.1, ImageNet weights from {lpips_model().weights_source}"


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by the benchmark and the ablation."""
    parser.add_argument("--data", required=True, help="gt/+mask/ or images/+labels/ folder, datasets folder or Hub id")
    parser.add_argument("--masks", default="own", help="own (each case's mask) or bank:DIR (real-mask crops)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N cases only")
    parser.add_argument("--holdout", default=None, help="text file of case stems to use (one per line)")
    parser.add_argument("--revision", default=None, help="Hub revision of --checkpoint")
    parser.add_argument("--split", default=None, help="dataset split (Hugging Face data)")
    parser.add_argument("--image-column", default="image")
    parser.add_argument("--mask-column", default="mask")
    parser.add_argument("--name-column", default="name")


def cases_from_args(args: argparse.Namespace) -> list[Case]:
    return load_cases(args.data, masks=args.masks, seed=args.seed, limit=args.limit, holdout=args.holdout,
                      split=args.split, image_column=args.image_column, mask_column=args.mask_column,
                      name_column=args.name_column)


def build_pipeline(name: str, checkpoint: str | None = None, revision: str | None = None,
                   captioner="auto") -> RestorationPipeline:
    options = {"checkpoint": checkpoint, "revision": revision} if name == "muralxgan" and checkpoint else {}
    return RestorationPipeline(name, restorer_options=options, captioner=captioner)


def run_cli(main: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser, argv=None) -> int:
    """Parse, run, and turn a :class:`MuralXGANError` into one line on stderr and exit code 2."""
    args = parser.parse_args(argv)
    try:
        return main(args)
    except MuralXGANError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evaluation.benchmark", description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--restorers", default="telea,navier-stokes,biharmonic", help="comma-separated names")
    parser.add_argument("--checkpoint", default=None, help="MuralXGAN checkpoint folder or Hub id")
    parser.add_argument("--caption", choices=("expert", "auto"), default="expert",
                        help="expert: describer with the clean reference; auto: the pipeline's captioner")
    parser.add_argument("--no-lpips", action="store_true")
    parser.add_argument("--no-clip", action="store_true")
    return parser


def benchmark(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mural_inpaint.text.captioners import CAPTIONERS

    started, env = time.perf_counter(), environment()
    names = [name.strip() for name in args.restorers.split(",") if name.strip()]
    if not names:
        raise InputError("--restorers names no restorer.")
    if args.checkpoint and "muralxgan" not in names:
        raise InputError("--checkpoint is for the muralxgan restorer; add it to --restorers.")
    cases = cases_from_args(args)
    load_s = time.perf_counter() - started
    captioner = CAPTIONERS.create("auto")  # shared, so BLIP-2 is tried once
    pipelines = {name: build_pipeline(name, args.checkpoint, args.revision, captioner) for name in names}
    captions = expert_captions(cases) if args.caption == "expert" else [None] * len(cases)
    clip = ClipScorer(enabled=not args.no_clip)
    lpips_note = warm_up(cases[0], lpips=not args.no_lpips, clip=clip)  # model loads stay out of the timings
    shown = [cases[i].name for i in grid_indices(cases)]
    rows, restored, seconds = [], {}, {}
    with tqdm(total=len(cases) * len(pipelines), desc="benchmark", unit="restoration") as progress:
        for name, pipeline in pipelines.items():
            tick = time.perf_counter()
            mine, restored[name] = evaluate(pipeline, cases, captions, label=name, seed=args.seed,
                                            lpips=not args.no_lpips, clip=clip, progress=progress, keep=shown)
            rows += mine
            seconds[name] = round(time.perf_counter() - tick, 3)

    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, args.out / "per_image.csv")
    by_name = {case.name: case for case in cases}
    grid = [[show_hole(by_name[n]), *(restored[r][n] for r in names), by_name[n].reference] for n in shown]
    make_grid(grid, ["input (hole magenta)", *names, "ground truth"],
              [f"{n} ({by_name[n].hole_percent:.1f}%)" for n in shown]).save(args.out / "grid.png")
    summary = {
        "benchmark": "quality", **data_record(args, cases), "caption_mode": args.caption,
        "restorers": {name: pipeline.restorer.provenance() for name, pipeline in pipelines.items()},
        "metrics": {"lpips": lpips_note, "clip_score": {"available": clip.reason is None, "reason": clip.reason}},
        "results": aggregate(rows),
        "timings": {"load_cases_s": round(load_s, 3), "restorers_s": seconds,
                    "restore_s": {name: round(sum(row["total_s"] for row in rows if row["restorer"] == name), 3)
                                  for name in names},
                    "total_s": round(time.perf_counter() - started, 3)},
        "environment": env,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (args.out / "summary.md").write_text(summary_markdown(summary))
    print(summary_markdown(summary))
    print(f"wrote {args.out}/per_image.csv, summary.json, summary.md, grid.png")
    return 0


def summary_markdown(summary: dict) -> str:
    env, results = summary["environment"], summary["results"]
    clip = summary["metrics"]["clip_score"]
    columns = [c for c in (*METRICS, "restore_s")
               if any(r["overall"][c] is not None for r in results.values())]
    lines = [
        "# Quality benchmark", "",
        f"- {data_line(summary)}; captions: {summary['caption_mode']}",
        "- restorers: " + "; ".join(f"{name} {json.dumps(prov, default=str)}"
                                    for name, prov in summary["restorers"].items()),
        f"- LPIPS: {summary['metrics']['lpips']}",
        f"- CLIP Score: {'available' if clip['available'] else 'unavailable: ' + str(clip['reason'])}",
        f"- {env['date']}, {env['machine']}, {env['cpu_count']} CPUs, Python {env['python']}, torch {env['torch']}, "
        f"commit {env['git_commit'] or 'unknown'}{' (uncommitted changes)' if env['git_dirty'] else ''}",
        "- whole-image metrics on the composite (known pixels pasted back); hole metrics over hole pixels only", "",
        "## Overall (mean per image)", "", markdown_table(results, columns), "",
        "## By hole ratio", "", markdown_table(results, columns, buckets=True), "",
        "## Timings", "",
        "| restorer | restoring, all cases (s) | restoring + scoring (s) |", "|---|---|---|",
        *(f"| {name} | {summary['timings']['restore_s'][name]:.2f} | {s:.2f} |"
          for name, s in summary["timings"]["restorers_s"].items()), "",
        f"Loading cases {summary['timings']['load_cases_s']:.2f} s; whole run {summary['timings']['total_s']:.2f} s "
        f"(load average {env['load_average']} at the start; other work on the machine slows the timings).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run_cli(benchmark, parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
