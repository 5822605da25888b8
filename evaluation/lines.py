"""Does a conservator's "an outline crossed the lost area" produce one, and is it where the lost line was?

    python -m evaluation.lines --data ../shared/data/muraldh-sample --holdout train/validation-muraldh.txt \
        --out outputs/lines [--checkpoint PATH_OR_ID] [--masks large] [--sentence "..."]

Each case (the large-loss protocol by default) is restored twice through the one pipeline: with the machine's own
description, and with that description plus the conservator's sentence (default "An outline crossed the lost area.").
The pixels where the two differ by more than 20 grey levels are the line the words drew. Per case:

- ``contrast_with`` / ``contrast_without``: the mean dark-stroke contrast (grey levels darker than a closing, see
  :func:`mural_inpaint.restorers.lines.dark_strokes`) over those pixels in each restoration: does a line appear;
- ``on_reference_line``: the share of those pixels within 2 px of a dark stroke of the clean reference: is it where
  a line was (``chance_on_reference_line``: the same share for every pixel of the hole, what a line drawn anywhere
  would score);
- ``recall_with`` / ``recall_without``: the share of the reference's dark-stroke pixels inside the loss that are dark
  strokes (half the contrast) within 2 px in each restoration;
- hole PSNR and hole-box LPIPS of both.

A sentence is only true for some crops; this measures what it does on all of them, where it is right and where not.
Writes ``summary.json``, ``summary.md`` and ``grid.png`` (damaged | without | with | reference, cases with a line).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from evaluation.benchmark import (
    add_data_arguments,
    build_pipeline,
    cases_from_args,
    environment,
    run_cli,
    show_hole,
)
from mural_inpaint.metrics import hole_box_lpips, psnr

SENTENCE = "An outline crossed the lost area."
CHANGED = 20  # grey levels: what the words changed


def _near(mask: np.ndarray, pixels: int = 2) -> np.ndarray:
    import cv2

    side = 2 * pixels + 1
    return cv2.dilate(mask.astype(np.uint8), np.ones((side, side), np.uint8)) > 0


def measure(case, without: np.ndarray, with_words: np.ndarray) -> dict:
    """The figures of one case (see the module docstring)."""
    from mural_inpaint.restorers.lines import MIN_CONTRAST, dark_strokes

    drawn = (np.abs(with_words.astype(int) - without.astype(int)).max(axis=2) > CHANGED) & case.mask
    reference_strokes = dark_strokes(case.reference) >= MIN_CONTRAST
    lost_strokes = reference_strokes & case.mask
    contrast = {"without": dark_strokes(without), "with": dark_strokes(with_words)}
    row = {"case": case.name, "drawn_pixels": int(drawn.sum()), "reference_line_pixels": int(lost_strokes.sum()),
           "hole_psnr_without": psnr(without, case.reference, case.mask),
           "hole_psnr_with": psnr(with_words, case.reference, case.mask),
           "box_lpips_without": hole_box_lpips(without, case.reference, case.mask),
           "box_lpips_with": hole_box_lpips(with_words, case.reference, case.mask)}
    if drawn.any():
        near_reference = _near(reference_strokes)
        row["contrast_without"] = float(contrast["without"][drawn].mean())
        row["contrast_with"] = float(contrast["with"][drawn].mean())
        row["on_reference_line"] = float(near_reference[drawn].mean())
        row["chance_on_reference_line"] = float(near_reference[case.mask].mean())  # any hole pixel
    if lost_strokes.any():
        for label, strokes in contrast.items():
            row[f"recall_{label}"] = float(_near(strokes >= MIN_CONTRAST / 2)[lost_strokes].mean())
    return row


def summarise(rows: list[dict]) -> dict:
    def mean_se(values):
        values = np.asarray(values, float)
        if not len(values):
            return None
        return {"mean": float(values.mean()), "se": float(values.std(ddof=1) / np.sqrt(len(values)))
                if len(values) > 1 else None, "n": len(values)}

    drawn = [r for r in rows if r["drawn_pixels"]]
    with_lines = [r for r in rows if "recall_with" in r]
    return {
        "cases": len(rows), "cases_drawn": len(drawn),
        "contrast_without": mean_se([r["contrast_without"] for r in drawn]),
        "contrast_with": mean_se([r["contrast_with"] for r in drawn]),
        "on_reference_line": mean_se([r["on_reference_line"] for r in drawn]),
        "chance_on_reference_line": mean_se([r["chance_on_reference_line"] for r in drawn]),
        "recall_without": mean_se([r["recall_without"] for r in with_lines]),
        "recall_with": mean_se([r["recall_with"] for r in with_lines]),
        "hole_psnr_change": mean_se([r["hole_psnr_with"] - r["hole_psnr_without"] for r in rows]),
        "hole_psnr_change_drawn": mean_se([r["hole_psnr_with"] - r["hole_psnr_without"] for r in drawn]),
        "box_lpips_change_drawn": mean_se([r["box_lpips_with"] - r["box_lpips_without"] for r in drawn]),
    }


def _cell(stat: dict | None, digits: int = 2, signed: bool = False) -> str:
    if not stat:
        return "n/a"
    se = f" ± {stat['se']:.{digits}f}" if stat["se"] is not None else ""
    return f"{stat['mean']:{'+' if signed else ''}.{digits}f}{se} (n={stat['n']})"


def markdown(summary: dict) -> str:
    result = summary["result"]
    return "\n".join([
        "# Line steering", "",
        f"- data: {summary['data']}; masks: `{summary['masks']}`; stems: {summary['holdout']}; sentence added to the "
        f"machine's description: \"{summary['sentence']}\"; restorer: {summary['restorer'].get('restorer')}",
        f"- a line drawn in **{result['cases_drawn']} of {result['cases']}** cases",
        f"- dark-stroke contrast over the drawn pixels: {_cell(result['contrast_without'], 1)} without the words, "
        f"**{_cell(result['contrast_with'], 1)}** with them (grey levels)",
        f"- drawn pixels within 2 px of a line of the clean reference: {_cell(result['on_reference_line'])} (any "
        f"pixel of those holes: {_cell(result['chance_on_reference_line'])})",
        f"- the reference's lost line pixels recovered: {_cell(result['recall_without'])} without, "
        f"{_cell(result['recall_with'])} with the words",
        f"- hole PSNR, with minus without: {_cell(result['hole_psnr_change'], signed=True)} dB over all cases, "
        f"{_cell(result['hole_psnr_change_drawn'], signed=True)} dB where a line was drawn; hole-box LPIPS there "
        f"{_cell(result['box_lpips_change_drawn'], 4, signed=True)}", ""])


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mural_inpaint.visuals import make_grid

    cases = cases_from_args(args)
    pipeline = build_pipeline("muralxgan", args.checkpoint, args.revision, captioner="describer")
    rows, without_all, with_all = [], {}, {}
    for case in tqdm(cases, desc="lines", unit="case"):
        machine = pipeline.captioner.caption(case.image, case.mask).text
        without = pipeline.restore(case.image, case.mask, caption=machine, seed=args.seed).image
        with_words = pipeline.restore(case.image, case.mask, caption=f"{machine} {args.sentence}",
                                      seed=args.seed).image
        rows.append(measure(case, without, with_words))
        without_all[case.name], with_all[case.name] = without, with_words
    summary = {"benchmark": "lines", "data": str(args.data), "masks": args.masks, "seed": args.seed,
               "holdout": str(args.holdout) if args.holdout else None, "sentence": args.sentence,
               "restorer": pipeline.restorer.provenance(), "result": summarise(rows), "per_case": rows,
               "environment": environment()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (args.out / "summary.md").write_text(markdown(summary))
    shown = [case for case, row in zip(cases, rows) if row["drawn_pixels"]][:6]
    if shown:
        by_name = {row["case"]: row for row in rows}
        make_grid([[show_hole(case), without_all[case.name], with_all[case.name], case.reference] for case in shown],
                  ["damaged (hole magenta)", "machine's description", "+ the conservator's sentence", "reference"],
                  [f"{case.name}: {by_name[case.name]['hole_psnr_without']:.2f} -> "
                   f"{by_name[case.name]['hole_psnr_with']:.2f} dB" for case in shown],
                  title=f"line steering: \"{args.sentence}\"").save(args.out / "grid.png")
    print(markdown(summary))
    print(f"wrote {args.out}/summary.json, summary.md" + (", grid.png" if shown else ""))
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evaluation.lines", description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.set_defaults(masks="large")
    parser.add_argument("--checkpoint", default=None, help="MuralXGAN checkpoint folder or Hub id")
    parser.add_argument("--sentence", default=SENTENCE, help="the conservator's words added to the description")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
