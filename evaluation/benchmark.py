"""Quality benchmark: every case through :class:`RestorationPipeline` (the app's path) for each restorer.

    python -m evaluation.benchmark --data ../shared/data/muraldh-sample --restorers telea,navier-stokes,biharmonic \
        --out /tmp/bench-own [--masks own|large|bank:DIR] [--holdout STEMS.txt [--stems-role validation|benchmark]]
        [--checkpoint PATH_OR_ID] [--caption expert|auto] [--seed 0]

Mask protocols (see :mod:`mural_inpaint.data.cases`): ``own`` (each crop's own mask), ``large`` (one contiguous loss of
8-20 % per crop: :func:`mural_inpaint.data.damage.synthesize_damage` with the ``large`` preset, seeded by
``(seed, index in the full listing)`` so a crop's mask does not depend on ``--limit`` or ``--holdout``) and
``bank:DIR`` (random crops of real traced damage masks, seeded the same way).

Writes ``per_image.csv`` (one row per case and restorer), ``summary.json`` / ``summary.md`` and ``grid.png``
(input, every restorer, truth, on a few crops, each restored cell labelled with its hole PSNR and ΔE00). The
summaries hold the means per restorer (overall and by hole ratio), per-crop paired comparisons of every restorer
with every other one and with the best classical method per metric (mean difference ± standard error, wins), the
protocol, which stems list chose the crops (validation or benchmark), provenance and timings.

Metrics: whole-image PSNR / SSIM / LPIPS on the composite (known pixels pasted back); hole PSNR / ΔE00 over the hole
pixels only; hole SSIM: the SSIM map computed on the whole image, averaged over the hole pixels; hole-box LPIPS over
the hole's bounding box padded 16 px (at least 64 px a side,
:func:`mural_inpaint.metrics.hole_box_lpips`), where whole-image LPIPS is diluted by the known pixels every
restorer keeps. Metric columns are identical on a rerun with the same seed; only the timings change.
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

from mural_inpaint.data.cases import Case, load_cases
from mural_inpaint.errors import InputError, MuralXGANError
from mural_inpaint.metrics import HOLE_SSIM_DEFINITION
from mural_inpaint.pipeline import RestorationPipeline
from mural_inpaint.visuals import make_grid, with_hole_shown

METRICS = ("psnr", "ssim", "hole_psnr", "hole_ssim", "hole_ciede2000", "box_lpips", "lpips", "clip_score")
TIMINGS = ("restore_s", "total_s")
COLUMNS = ("case", "restorer", "hole_percent", "bucket", *METRICS, *TIMINGS, "caption")
#: Hole-ratio buckets in percent of the image, lower bound included.
BUCKETS = (("0-10%", 0.0, 10.0), ("10-20%", 10.0, 20.0), ("20-40%", 20.0, 40.0), (">40%", 40.0, math.inf))
LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "hole_psnr": "hole PSNR (dB)", "hole_ssim": "hole SSIM",
          "hole_ciede2000": "hole ΔE00", "box_lpips": "hole-box LPIPS", "lpips": "LPIPS", "clip_score": "CLIP Score",
          "restore_s": "s / image"}
GRID_ROWS = 6
#: Metrics compared crop by crop between restorers -> True when higher is better.
PAIRED = {"hole_psnr": True, "hole_ciede2000": False, "box_lpips": False}
#: Metrics whose paired comparison also reports the ratio of the two means (restorer's / other's).
RATIO_METRICS = ("box_lpips",)
#: The classical baselines: "best classical" is the one of these with the best mean, per protocol and metric.
CLASSICAL = ("telea", "navier-stokes", "biharmonic", "fsr")


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
    """All metrics of one restoration; whole-image ones on the composite, ``hole_*`` on the hole pixels only,
    ``box_lpips`` on the hole's padded bounding box.

    A case without a hole (which :func:`mural_inpaint.data.cases.make_case` refuses) gets ``None`` hole metrics, not the
    perfect scores an empty hole would give, so it cannot flatter a mean.
    """
    from mural_inpaint.metrics import ciede2000, hole_box_lpips, lpips_distance, psnr, ssim

    ref, mask = case.reference, case.mask
    hole = bool(mask.any())
    return {
        "psnr": psnr(restored, ref), "ssim": ssim(restored, ref),
        "hole_psnr": psnr(restored, ref, mask) if hole else None,
        "hole_ssim": ssim(restored, ref, mask) if hole else None,
        "hole_ciede2000": ciede2000(restored, ref, mask) if hole else None,
        "box_lpips": hole_box_lpips(restored, ref, mask) if lpips and hole else None,
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


def paired(rows: list[dict], metric: str, restorer: str, other: str, higher_is_better: bool | None = None) -> dict:
    """``restorer`` against ``other`` crop by crop on ``metric``, over the cases where both have a value.

    Returns ``n``, the two means, ``mean_diff`` (mean of restorer - other per crop), ``se`` (its standard error,
    sample std with ddof=1 over sqrt(n); None below 2 crops), ``wins`` / ``ties`` / ``losses`` (crops where the
    restorer is strictly better / equal / worse; better = higher when ``higher_is_better``) and, for
    :data:`RATIO_METRICS`, ``ratio_of_means`` (restorer's mean / other's mean).
    """
    higher = PAIRED[metric] if higher_is_better is None else higher_is_better
    mine = {row["case"]: row.get(metric) for row in rows if row["restorer"] == restorer}
    theirs = {row["case"]: row.get(metric) for row in rows if row["restorer"] == other}
    cases = [case for case, value in mine.items() if value is not None and theirs.get(case) is not None]
    a = np.array([mine[case] for case in cases], np.float64)
    b = np.array([theirs[case] for case in cases], np.float64)
    diff, n = a - b, len(cases)
    better = diff > 0 if higher else diff < 0
    wins, ties = int(better.sum()), int((diff == 0).sum())
    result = {"n": n, "mean": float(a.mean()) if n else None, "other_mean": float(b.mean()) if n else None,
              "mean_diff": float(diff.mean()) if n else None,
              "se": float(diff.std(ddof=1) / math.sqrt(n)) if n > 1 else None,
              "wins": wins, "ties": ties, "losses": n - wins - ties}
    if metric in RATIO_METRICS:
        result["ratio_of_means"] = float(a.mean() / b.mean()) if n and b.mean() != 0 else None
    return result


def best_classical(aggregated: dict, metric: str) -> str | None:
    """The classical restorer (:data:`CLASSICAL`) in ``aggregated`` with the best overall mean on ``metric``."""
    means = {name: groups["overall"].get(metric) for name, groups in aggregated.items() if name in CLASSICAL}
    means = {name: value for name, value in means.items() if value is not None}
    if not means:
        return None
    return (max if PAIRED[metric] else min)(means, key=means.get)


def comparisons(rows: list[dict], aggregated: dict | None = None) -> dict:
    """Per-crop paired comparisons on the :data:`PAIRED` metrics.

    ``pairs[restorer][other][metric]``: :func:`paired` for every ordered pair of restorers;
    ``best_classical[metric]``: the classical restorer with the best mean; ``vs_best_classical[restorer][metric]``:
    the restorer against it (``against`` names it; every restorer but the best classical one itself).
    """
    aggregated = aggregate(rows) if aggregated is None else aggregated
    names = list(dict.fromkeys(row["restorer"] for row in rows))
    pairs = {name: {other: {metric: paired(rows, metric, name, other) for metric in PAIRED}
                    for other in names if other != name} for name in names}
    best = {metric: best_classical(aggregated, metric) for metric in PAIRED}
    versus = {name: {metric: {"against": best[metric], **pairs[name][best[metric]][metric]}
                     for metric in PAIRED if best[metric] is not None and best[metric] != name}
              for name in names}
    return {"metrics": {metric: "higher is better" if up else "lower is better" for metric, up in PAIRED.items()},
            "classical": [name for name in names if name in CLASSICAL], "best_classical": best,
            "vs_best_classical": versus, "pairs": pairs}


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


DIGITS = {"ssim": 4, "hole_ssim": 4, "box_lpips": 4, "lpips": 4, "restore_s": 3}


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


def paired_cell(stats: dict, metric: str, wins: bool = True) -> str:
    """``+1.59 ± 0.21, 19/20`` (mean difference ± SE, wins of n), with the ratio of means for ratio metrics."""
    if not stats["n"]:
        return "n/a"
    digits = DIGITS.get(metric, 2)
    text = fmt(stats["mean_diff"], digits, signed=True) + (f" ± {fmt(stats['se'], digits)}" if stats["se"] is not None
                                                          else "")
    if "ratio_of_means" in stats and stats["ratio_of_means"] is not None:
        text += f" (×{stats['ratio_of_means']:.3f})"
    if wins:
        text += f", {stats['wins']}/{stats['n']}" + (f" ({stats['ties']} tied)" if stats["ties"] else "")
    return text


def paired_markdown(compared: dict) -> str:
    """The two paired tables: every restorer vs the best classical method per metric, then every ordered pair."""
    metrics = [m for m in PAIRED if any(stats[m]["n"] for others in compared["pairs"].values()
                                        for stats in others.values())]
    if not metrics or not compared["pairs"]:
        return "No paired comparison: a single restorer, or no metric with values for two restorers."
    better = "; ".join(f"{LABELS[m]} {'higher' if PAIRED[m] else 'lower'}" for m in metrics)
    lines = [f"Cells: mean per-crop difference (row restorer - other) ± standard error (sample std, ddof 1, over "
             f"sqrt(n)), then wins: crops where the row restorer is better, of n ({better} is better). Hole-box "
             "LPIPS also gives the ratio of the two means (×).", ""]
    best = compared["best_classical"]
    if any(best[m] for m in metrics):
        lines += ["### Against the best classical method per metric (best mean among "
                  + ", ".join(compared["classical"]) + ")", ""]
        head = ["restorer", *(f"{LABELS[m]} vs {best[m]}" if best[m] else LABELS[m] for m in metrics)]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for name, versus in compared["vs_best_classical"].items():
            cells = [name] + [paired_cell(versus[m], m) if m in versus else ("best" if best[m] == name else "n/a")
                              for m in metrics]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### Every pair", ""]
    head = ["restorer", "vs", "n", *(f"Δ {LABELS[m]}" for m in metrics)]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, others in compared["pairs"].items():
        for other, stats in others.items():
            n = max(stats[m]["n"] for m in metrics)
            lines.append("| " + " | ".join([name, other, str(n), *(paired_cell(stats[m], m) for m in metrics)]) + " |")
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


STEMS_ROLES = ("validation", "benchmark", "other")


def stems_record(holdout: str | None, role: str | None = None) -> dict:
    """Which stems list chose the crops, and what it is for.

    ``role``: ``validation`` (crops that choices such as step and recipe are made on), ``benchmark`` (crops never
    used for a choice) or ``other``; when not given it is read from the file name (``validation`` in it ->
    validation, ``holdout`` or ``benchmark`` -> benchmark). Without a list every crop of the data was used.
    """
    if holdout is None:
        return {"list": None, "role": role or "all", "note": "every case of the data (no --holdout list)"}
    from mural_inpaint.data.cases import read_holdout

    stems = read_holdout(holdout)
    name = Path(holdout).name.lower()
    if role is None:
        role = ("validation" if "validation" in name else "benchmark" if "holdout" in name or "benchmark" in name
                else "other")
    comment = next((line.lstrip("#").strip() for line in Path(holdout).read_text().splitlines()
                    if line.startswith("#")), None)
    return {"list": str(holdout), "role": role, "note": comment, "stems": stems,
            "stems_sha256": hashlib.sha256("\n".join(stems).encode()).hexdigest()}


def data_record(args: argparse.Namespace, cases: list[Case]) -> dict:
    """What was benchmarked: the source, the protocol, the stems list and a digest of the exact pixels and masks."""
    digest = hashlib.sha256()
    for case in cases:
        digest.update(case.name.encode())
        digest.update(case.reference.tobytes())
        digest.update(np.packbits(case.mask).tobytes())
    return {"data": str(args.data), "data_resolved": str(Path(args.data).resolve()) if Path(args.data).exists()
            else None, "masks": args.masks, "seed": args.seed, "holdout": args.holdout,
            "stems": stems_record(args.holdout, getattr(args, "stems_role", None)), "limit": args.limit,
            "cases": len(cases), "case_names": [case.name for case in cases], "cases_sha256": digest.hexdigest()}


def data_line(record: dict) -> str:
    """One line naming the data, the mask protocol, the seed, the stems list and any subset (:func:`data_record`)."""
    stems = record.get("stems") or stems_record(record["holdout"])
    chosen = (f"{stems['role']} stems `{stems['list']}` ({len(stems['stems'])} listed)" if stems["list"]
              else "all cases (no stems list)")
    return (f"data: `{record['data']}` ({record['cases']} cases, sha256 {record['cases_sha256'][:12]}); masks: "
            f"`{record['masks']}`; seed {record['seed']}; crops: {chosen}"
            + (f"; limit {record['limit']}" if record["limit"] is not None else ""))


def grid_indices(cases: list[Case], rows: int = GRID_ROWS) -> list[int]:
    """Up to ``rows`` cases spread evenly over the range of hole ratios (smallest to largest)."""
    order = sorted(range(len(cases)), key=lambda i: (cases[i].hole_percent, cases[i].name))
    if len(order) <= rows:
        return order
    return [order[round(k * (len(order) - 1) / (rows - 1))] for k in range(rows)]


def show_hole(case: Case) -> np.ndarray:
    return with_hole_shown(case.image, case.mask)


def write_grid(path: Path, shown: list[Case], names: list[str], restored: dict[str, dict[str, np.ndarray]],
               rows: list[dict], title: str | None = None) -> None:
    """damaged | every restorer | reference for the ``shown`` cases (a few, spread over the hole ratios); each restored
    cell captioned with its hole PSNR, hole ΔE00 and hole-box LPIPS."""
    by_key = {(row["case"], row["restorer"]): row for row in rows}

    def caption(case: Case, name: str) -> str:
        row = by_key[case.name, name]
        parts = [f"{fmt(row['hole_psnr'])} dB", f"dE00 {fmt(row['hole_ciede2000'], 1)}"]  # the font has no Δ
        if row.get("box_lpips") is not None:
            parts.append(f"box LPIPS {row['box_lpips']:.3f}")
        return " · ".join(parts)

    grid = [[show_hole(case), *(restored[name][case.name] for name in names), case.reference] for case in shown]
    cells = [[None, *(caption(case, name) for name in names), None] for case in shown]
    make_grid(grid, ["damaged (hole magenta)", *names, "reference"],
              [f"{case.name}: hole {case.hole_percent:.1f}%" for case in shown], cell_labels=cells,
              title=title).save(path)


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
    parser.add_argument("--masks", default="own",
                        help="own (each case's mask), large (one contiguous 8-20 %% loss per case, seeded) or "
                             "bank:DIR (real-mask crops)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N cases only")
    parser.add_argument("--holdout", default=None, help="text file of case stems to use (one per line)")
    parser.add_argument("--stems-role", choices=STEMS_ROLES, default=None,
                        help="what the --holdout list is for, recorded in the summary (default: from its file name)")
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
    """``name`` is a registry name, or ``muralxgan@CHECKPOINT`` for a second checkpoint beside ``--checkpoint``
    (candidates and today's default side by side, paired per crop)."""
    name, _, own_checkpoint = name.partition("@")
    checkpoint = own_checkpoint or checkpoint
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
    parser.add_argument("--restorers", default="telea,navier-stokes,biharmonic",
                        help="comma-separated names; muralxgan@CHECKPOINT adds another MuralXGAN checkpoint")
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
    if any("@" in name and not name.startswith("muralxgan@") for name in names):
        raise InputError("Only the muralxgan restorer takes a checkpoint (muralxgan@FOLDER_OR_HUB_ID).")
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
    results = aggregate(rows)
    record = data_record(args, cases)
    write_grid(args.out / "grid.png", [by_name[n] for n in shown], names, restored, rows,
               title=f"masks: {args.masks}; seed {args.seed}; hole PSNR, hole dE00 and hole-box LPIPS per crop; " + (
                   f"{record['stems']['role']} stems ({Path(args.holdout).name})" if args.holdout else "all cases"))
    summary = {
        "benchmark": "quality", **record, "caption_mode": args.caption,
        "restorers": {name: pipeline.restorer.provenance() for name, pipeline in pipelines.items()},
        "metrics": {"lpips": lpips_note, "clip_score": {"available": clip.reason is None, "reason": clip.reason}},
        "results": results,
        "paired": comparisons(rows, results),
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
        "- whole-image metrics on the composite (known pixels pasted back); hole PSNR and ΔE00 over the hole pixels "
        f"only; {HOLE_SSIM_DEFINITION.rstrip('.')}; hole-box LPIPS over the hole's bounding box padded 16 px (at least "
        "64 px a side)", "",
        "## Overall (mean per image)", "", markdown_table(results, columns), "",
        "## Paired per crop", "", paired_markdown(summary["paired"]), "",
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
