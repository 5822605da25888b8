"""Validation during training: the benchmark's cases, captions and scoring loop, on the validation stems.

Cases are built by :func:`mural_inpaint.data.cases.load_cases` (one :class:`~mural_inpaint.data.cases.Case` type
everywhere), once per mask protocol; restorations go through :class:`RestorationPipeline` and are scored by
:func:`evaluation.benchmark.evaluate`, so a validation figure and a benchmark figure mean the same thing.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from evaluation.benchmark import evaluate, expert_captions
from mural_inpaint.data.cases import Case, load_cases
from mural_inpaint.pipeline import RestorationPipeline
from train.grids import save_sample_grid


def validation_cases(folder: str | Path | None, stems: str | Path | None, limit: int | None = None,
                     masks: list[str] | tuple[str, ...] = ("own",), seed: int = 0) -> list[Case]:
    """The ``gt/``+``mask/`` pairs of ``folder`` named in the ``stems`` file (every pair when None), once per mask
    protocol in ``masks`` (``own``, ``bank:DIR``, ``large``); with several protocols a case's name ends in
    ``-<protocol>`` and its :attr:`Case.protocol` says which."""
    if not folder:
        return []
    cases = []
    for protocol in masks:
        for case in load_cases(folder, masks=protocol, seed=seed, limit=limit, holdout=stems):
            if len(masks) > 1:
                case.name = f"{case.name}-{case.protocol}"
            cases.append(case)
    return cases


def restore_and_score(restorer, cases: list[Case], captions: list[str], box_lpips: bool = True
                      ) -> tuple[list[np.ndarray], dict[str, float]]:
    """Restore ``cases`` through the pipeline and score them as the benchmark does -> (images, mean scores).

    Scores: ``hole_psnr``; with ``box_lpips`` also the mean hole-box LPIPS and the ``balanced`` selection score
    (hole PSNR + hole-box LPIPS in dB: ``-10 log10 LPIPS``, see :attr:`train.config.TrainConfig.select_on`).
    """
    pipeline = RestorationPipeline(restorer, captioner="describer")
    names = [case.name for case in cases]
    rows, kept = evaluate(pipeline, cases, captions, label="validation", lpips=box_lpips, keep=names)
    scores = {"hole_psnr": float(np.mean([row["hole_psnr"] for row in rows]))}
    if box_lpips:
        scores["box_lpips"] = float(np.mean([row["box_lpips"] for row in rows]))
        scores["balanced"] = scores["hole_psnr"] - 10.0 * math.log10(max(scores["box_lpips"], 1e-6))
    return [kept[name] for name in names], scores


def validate(model, cases: list[Case], captions: list[str], samples_path: Path | None = None,
             box_lpips: bool = True) -> dict[str, float]:
    """Scores of ``model`` (a :class:`MuralXGAN`, left in eval) on ``cases`` with their expert ``captions``;
    optionally a sample grid with cases of every mask protocol."""
    from mural_inpaint.restorers.gan import MuralXGANRestorer

    restored, scores = restore_and_score(MuralXGANRestorer(model, "training", None, channels_last=False), cases,
                                         captions, box_lpips=box_lpips)
    if samples_path is not None:
        shown = one_per_protocol(cases, 4)
        save_sample_grid(samples_path, [cases[i] for i in shown], [restored[i] for i in shown])
    return scores


def classical_scores(cases: list[Case], name: str) -> dict[str, float]:
    """What a classical restorer scores on the validation cases (no text): the bar a run must clear."""
    return restore_and_score(name, cases, [""] * len(cases))[1]


def one_per_protocol(cases: list[Case], count: int) -> list[int]:
    """Indices of ``count`` cases taken round-robin over the mask protocols."""
    by_protocol: dict[str, list[int]] = {}
    for index, case in enumerate(cases):
        by_protocol.setdefault(case.protocol, []).append(index)
    order = [i for group in zip(*by_protocol.values()) for i in group] if by_protocol else []
    return (order or list(range(len(cases))))[:count]


__all__ = ["classical_scores", "expert_captions", "one_per_protocol", "restore_and_score", "validate",
           "validation_cases"]
