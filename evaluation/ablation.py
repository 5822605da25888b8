"""Text ablation of MuralXGAN: how much do the caption and the colour-correction net matter?

    python -m evaluation.ablation --data DIR --checkpoint PATH_OR_ID --out DIR [--masks own|bank:DIR] [--seed 0]

One restorer (muralxgan), the same cases, one run per mode:

- ``expert``: the describer's caption with the clean reference (what training captions look like);
- ``conservator``: a conservator's sentence naming the pigment the lost area mostly held ("The lost paint in the
  damaged area was malachite green."), what the pigment-steering branch is made to follow;
- ``auto``: the describer's caption from the damaged image only (what the app writes without BLIP-2);
- ``generic``: one fixed prompt for every case;
- ``shuffled``: the expert captions rotated by one case (each case gets another case's caption);
- ``none``: an empty caption, so the pipeline passes no text embedding;
- ``colour-net off``: expert captions, colour-correction net switched off.

Writes ``ablation.md`` / ``ablation.json`` (mean hole PSNR and hole CIEDE2000 per mode, and each mode against
``expert`` crop by crop: mean difference ± standard error and wins, :func:`evaluation.benchmark.paired`) and
``per_image.csv``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from evaluation.benchmark import (
    LABELS,
    add_data_arguments,
    aggregate,
    build_pipeline,
    cases_from_args,
    data_line,
    data_record,
    environment,
    evaluate,
    expert_captions,
    fmt,
    paired,
    paired_cell,
    run_cli,
    write_csv,
)
from mural_inpaint.data.cases import Case

GENERIC_PROMPT = "a damaged Dunhuang mural"
MODES = {
    "expert": "describer with the clean reference",
    "conservator": "a conservator's sentence naming the pigment the loss mostly held",
    "auto": "describer from the damaged image only",
    "generic": f"the fixed prompt {GENERIC_PROMPT!r}",
    "shuffled": "expert captions rotated by one case",
    "none": "empty caption: no text embedding",
    "colour-net off": "expert captions, colour-correction net switched off",
}
REPORTED = ("hole_psnr", "hole_ciede2000", "box_lpips")


def mode_captions(mode: str, cases: list[Case], expert: list[str]) -> list[str | None]:
    """The caption per case for a mode (None: the pipeline's describer writes it from the damaged image)."""
    if mode == "conservator":
        from evaluation.steering import SENTENCE
        from mural_inpaint.palette import DUNHUANG_PALETTE, dominant_pigment

        return [SENTENCE.format(DUNHUANG_PALETTE[dominant_pigment(case.reference, case.mask)].name)
                for case in cases]
    return {
        "expert": expert,
        "auto": [None] * len(cases),
        "generic": [GENERIC_PROMPT] * len(cases),
        "shuffled": expert[1:] + expert[:1],
        "none": [""] * len(cases),
        "colour-net off": expert,
    }[mode]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evaluation.ablation", description=__doc__.split("\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--checkpoint", required=True, help="MuralXGAN checkpoint folder or Hub id")
    parser.add_argument("--no-lpips", action="store_true", help="leave out hole-box LPIPS (faster)")
    return parser


def ablation(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    started, env = time.perf_counter(), environment()
    cases = cases_from_args(args)
    pipeline = build_pipeline("muralxgan", args.checkpoint, args.revision, captioner="describer")
    restorer = pipeline.restorer
    expert = expert_captions(cases)
    rows, seconds = [], {}
    with tqdm(total=len(cases) * len(MODES), desc="ablation", unit="restoration") as progress:
        for mode in MODES:
            tick = time.perf_counter()
            restorer.use_colour_net = mode != "colour-net off"
            mine, _ = evaluate(pipeline, cases, mode_captions(mode, cases, expert), label=mode, seed=args.seed,
                               lpips=not args.no_lpips, progress=progress, caption_source=f"ablation: {mode}")
            rows += mine
            seconds[mode] = round(time.perf_counter() - tick, 3)
    restorer.use_colour_net = True
    results = aggregate(rows)
    report = {
        "ablation": "text", **data_record(args, cases), "restorer": restorer.provenance(), "modes": MODES,
        "results": {mode: results[mode]["overall"] for mode in MODES},
        "paired_vs_expert": {mode: {c: paired(rows, c, mode, "expert") for c in REPORTED} for mode in MODES
                             if mode != "expert"},
        "timings": {"modes_s": seconds, "total_s": round(time.perf_counter() - started, 3)},
        "environment": env,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, args.out / "per_image.csv")
    (args.out / "ablation.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / "ablation.md").write_text(ablation_markdown(report))
    print(ablation_markdown(report))
    print(f"wrote {args.out}/ablation.md, ablation.json, per_image.csv")
    return 0


def ablation_markdown(report: dict) -> str:
    results = report["results"]
    head = ["mode", "captions", "n", *(LABELS[c] for c in REPORTED),
            *(f"Δ {LABELS[c]} vs expert per crop, wins" for c in REPORTED)]
    lines = [
        "# Text ablation (MuralXGAN)", "",
        f"- checkpoint: `{report['restorer'].get('checkpoint')}` revision `{report['restorer'].get('revision')}`; "
        f"text encoder {report['restorer'].get('text_encoder', {}).get('model')}",
        f"- {data_line(report)}",
        f"- {report['environment']['date']}, torch {report['environment']['torch']}, "
        f"whole run {report['timings']['total_s']:.1f} s", "",
        "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
    ]
    versus = report.get("paired_vs_expert", {})
    for mode, values in results.items():
        deltas = [paired_cell(versus[mode][c], c) if mode in versus else "" for c in REPORTED]
        cells = [mode, MODES[mode], str(values["n"]), *(fmt(values[c]) for c in REPORTED), *deltas]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Higher hole PSNR, lower hole ΔE00 (CIEDE2000) and lower hole-box LPIPS are better. Δ: mean "
              "per-crop difference (mode - expert) ± standard error, then the crops where the mode is better, of n.",
              ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run_cli(ablation, parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
