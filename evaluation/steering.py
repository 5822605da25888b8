"""Does the text steer?  Restore each large loss once per palette pigment named by a conservator's sentence and
measure where the fill's colour lands.

    python -m evaluation.steering --data ../shared/data/muraldh-sample --holdout train/validation-muraldh.txt \
        --out outputs/steering [--checkpoint PATH_OR_ID] [--masks large] [--seed 0]

For each case (the large-loss protocol by default: one contiguous 64-100 px loss per 256 px crop, where the
surroundings no longer say what was lost) and each pigment of :data:`mural_inpaint.palette.DUNHUANG_PALETTE`, the
caption is "The lost paint in the damaged area was <pigment>."; a restoration with no text is the reference.

Writes ``summary.json`` / ``summary.md`` and ``steering.png``: the steering matrix (rows: pigment named; columns:
pigment nearest to the fill's mean colour, by CIEDE2000 to the pigment's aged anchors; cells: share of cases), and
the malachite-green vs cinnabar-red test of issue 17: the CIEDE2000 between the two fills' mean hole colours, and in
how many cases each fill is nearer to the pigment it was asked for than to the other one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from evaluation.benchmark import add_data_arguments, build_pipeline, cases_from_args, environment, run_cli
from mural_inpaint.palette import DUNHUANG_PALETTE, mean_colour_lab, srgb_to_lab

SENTENCE = "The lost paint in the damaged area was {}."
GREEN, RED = "malachite green", "cinnabar / vermilion red"


def pigment_distances(lab: np.ndarray) -> np.ndarray:
    """CIEDE2000 ``[P]`` from a Lab colour to each pigment (its nearest aged anchor)."""
    from skimage.color import deltaE_ciede2000

    out = []
    for pigment in DUNHUANG_PALETTE:
        anchors = srgb_to_lab(np.array(pigment.anchors_srgb, np.uint8))
        out.append(float(np.min(deltaE_ciede2000(np.broadcast_to(lab, anchors.shape), anchors))))
    return np.array(out)


def delta_e(lab_a: np.ndarray, lab_b: np.ndarray) -> float:
    from skimage.color import deltaE_ciede2000

    return float(deltaE_ciede2000(lab_a, lab_b))


def steering(pipeline, cases, seed: int = 0, progress=None) -> dict:
    """Fill colours per case and named pigment -> the steering matrix and the green-vs-red test."""
    names = [pigment.name for pigment in DUNHUANG_PALETTE]
    count = len(names)
    matrix = np.zeros((count, count))
    hits = np.zeros(count, int)
    per_case = []
    for case in cases:
        fills = {}
        for name in [None, *names]:
            caption = SENTENCE.format(name) if name else ""
            restored = pipeline.restore(case.image, case.mask, caption=caption, seed=seed).image
            fills[name] = mean_colour_lab(restored, case.mask)
            if progress is not None:
                progress.update(1)
        row = {"case": case.name, "no_text_lab": fills[None].round(2).tolist()}
        for index, name in enumerate(names):
            nearest = int(np.argmin(pigment_distances(fills[name])))
            matrix[index, nearest] += 1
            hits[index] += nearest == index
        green, red = fills[GREEN], fills[RED]
        to_green, to_red = pigment_distances(green), pigment_distances(red)
        g, r = names.index(GREEN), names.index(RED)
        row |= {"green_vs_red_delta_e": round(delta_e(green, red), 3),
                "green_fill_nearer_green": bool(to_green[g] < to_green[r]),
                "red_fill_nearer_red": bool(to_red[r] < to_red[g]),
                "shift_from_no_text": {name: round(delta_e(fills[name], fills[None]), 3) for name in names}}
        per_case.append(row)
    n = len(cases)
    gaps = [row["green_vs_red_delta_e"] for row in per_case]
    both = sum(row["green_fill_nearer_green"] and row["red_fill_nearer_red"] for row in per_case)
    return {
        "pigments": names,
        "matrix": (matrix / max(n, 1)).round(3).tolist(),
        "named_is_nearest": {name: int(h) for name, h in zip(names, hits)},
        "diagonal_share": round(float(hits.sum()) / max(n * count, 1), 3),
        "green_vs_red": {"mean_delta_e": round(float(np.mean(gaps)), 3),
                         "se": round(float(np.std(gaps, ddof=1) / np.sqrt(n)), 3) if n > 1 else None,
                         "cases_both_nearer_named": int(both), "cases": n},
        "mean_shift_from_no_text": {name: round(float(np.mean([row["shift_from_no_text"][name] for row in per_case])),
                                                3) for name in names},
        "per_case": per_case,
    }


def matrix_figure(result: dict, path: Path, title: str) -> None:
    """The steering matrix as a picture: each cell shaded by its share and edged in the column pigment's colour."""
    from PIL import Image, ImageDraw

    from mural_inpaint.visuals import _font

    names, matrix = result["pigments"], np.array(result["matrix"])
    cell, left, top = 56, 190, 180
    size = (left + cell * len(names) + 90, top + cell * len(names) + 40)
    sheet = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = _font(12)
    draw.text((10, 10), title, fill=(0, 0, 0), font=_font(14))
    draw.text((10, 32), "rows: pigment named in the caption; columns: pigment nearest to the fill (share of cases)",
              fill=(60, 60, 60), font=font)
    for j, name in enumerate(names):
        x = left + j * cell + cell // 2
        swatch = DUNHUANG_PALETTE[j].anchors_srgb[0]
        draw.rectangle((x - 10, top - 22, x + 10, top - 6), fill=swatch, outline=(0, 0, 0))
        label = Image.new("RGB", (110, 14), (255, 255, 255))
        ImageDraw.Draw(label).text((0, 0), name.split(" /")[0], fill=(0, 0, 0), font=font)
        sheet.paste(label.rotate(60, expand=True, fillcolor=(255, 255, 255)), (x - 8, top - 125))
    for i, name in enumerate(names):
        y = top + i * cell
        draw.rectangle((left - 24, y + cell // 2 - 8, left - 8, y + cell // 2 + 8),
                       fill=DUNHUANG_PALETTE[i].anchors_srgb[0], outline=(0, 0, 0))
        draw.text((10, y + cell // 2), name, fill=(0, 0, 0), font=font, anchor="lm")
        for j in range(len(names)):
            share = float(matrix[i, j])
            shade = int(255 - 200 * share)
            box = (left + j * cell, y, left + (j + 1) * cell - 2, y + cell - 2)
            draw.rectangle(box, fill=(shade, shade, 255) if i != j else (shade, 255, shade),
                           outline=(0, 0, 0) if i == j else (200, 200, 200))
            if share > 0:
                draw.text(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2), f"{share:.2f}", anchor="mm",
                          fill=(0, 0, 0), font=font)
    sheet.save(path)


def markdown(summary: dict) -> str:
    result, gvr = summary["result"], summary["result"]["green_vs_red"]
    names = result["pigments"]
    lines = ["# Text steering", "", f"- data: {summary['data']}; masks: `{summary['masks']}`; seed {summary['seed']}; "
             f"checkpoint: {summary['restorer'].get('checkpoint')}",
             f"- malachite green vs cinnabar red: mean hole colours differ by **{gvr['mean_delta_e']:.2f}** ± "
             f"{gvr['se'] or 0:.2f} CIEDE2000; both fills nearer the pigment asked for in "
             f"**{gvr['cases_both_nearer_named']} of {gvr['cases']}** cases",
             f"- the fill's nearest pigment is the one named in {result['diagonal_share']:.0%} of (case, pigment) "
             "restorations", "",
             "| pigment named | nearest to fill (cases) | mean shift from the no-text fill (ΔE00) |", "|---|---|---|"]
    for name in names:
        lines.append(f"| {name} | {result['named_is_nearest'][name]} / {gvr['cases']} | "
                     f"{result['mean_shift_from_no_text'][name]:.2f} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    cases = cases_from_args(args)
    pipeline = build_pipeline("muralxgan", args.checkpoint, args.revision, captioner="describer")
    with tqdm(total=len(cases) * (len(DUNHUANG_PALETTE) + 1), desc="steering", unit="restoration") as progress:
        result = steering(pipeline, cases, seed=args.seed, progress=progress)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"benchmark": "steering", "data": str(args.data), "masks": args.masks, "seed": args.seed,
               "holdout": str(args.holdout) if args.holdout else None,
               "restorer": pipeline.restorer.provenance(), "result": result, "environment": environment()}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (args.out / "summary.md").write_text(markdown(summary))
    matrix_figure(result, args.out / "steering.png",
                  f"Text steering, {len(cases)} cases, masks {args.masks}, {Path(str(args.holdout or 'all')).name}")
    print(markdown(summary))
    print(f"wrote {args.out}/summary.json, summary.md, steering.png")
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evaluation.steering", description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.set_defaults(masks="large")
    parser.add_argument("--checkpoint", default=None, help="MuralXGAN checkpoint folder or Hub id")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
