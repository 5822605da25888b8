"""Train the text-guided generator, colour-correction net and discriminator.

    python -m train.train --config train/configs/cpu-2h.yaml [--set key.sub=value ...] [--resume]
    accelerate launch --num_processes 2 -m train.train --config ...        # data-parallel, CPU or GPUs

Runs on ``accelerate`` (one or many processes, CPU or GPU, mixed precision from the config), logs CSV and
TensorBoard, validates on held-out murals through the same restoration pipeline and scoring as the benchmark
(:mod:`train.validation`), writes sample grids, saves a resumable state and an exported checkpoint (``model/``, the
best one by ``select_on`` in ``best/``).

The loop is four named steps: :func:`setup_run` (models, data, optimisers, resume), :func:`gan_step` (one generator
and discriminator update), :func:`validate_and_export` and :func:`save_progress`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch
from tqdm import tqdm

from mural_inpaint.data.damage import MaskBank
from mural_inpaint.models import MuralXGAN, PatchDiscriminator
from mural_inpaint.models.config import MuralXGANConfig
from mural_inpaint.text.encoders import get_text_encoder
from train import losses
from train.config import TrainConfig
from train.data import DamageSynthesisDataset, load_training_dataset, own_mask_pool, sampling_weights
from train.validation import classical_scores, expert_captions, validate, validation_cases

LOG_COLUMNS = ["step", "elapsed_s", "images_per_s", "lr", "loss_g", "l1_hole", "l1_valid", "mse_hole", "perceptual",
               "colour", "adversarial", "feature_matching", "loss_d", "val_hole_psnr", "val_box_lpips", "val_score",
               "val_hole_psnr_raw"]


def learning_rate_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10 % at ``config.steps``."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def extended_model(parent: MuralXGAN, changes: dict) -> MuralXGAN:
    """``parent`` rebuilt with ``changes`` to its config, every parent weight loaded.

    Changes may add layers (e.g. Fourier blocks) or widen inputs (e.g. the text embedding gains the pigment vector:
    ``{text_encoder: {pigment_words: true, dim: 393}, generator: {text_dim: 393}}``); a widened weight keeps the
    parent's values in its leading slice.  Added layers and inputs start at zero where the model's initialisation
    puts them there (Fourier block outputs, FiLM projections), so the extended model restores as the parent did.
    """
    from train.config import _merged

    config = MuralXGANConfig.from_dict(_merged(parent.config.to_dict(), changes))
    model = MuralXGAN(config)
    state = model.state_dict()
    for name, value in parent.state_dict().items():
        if name not in state:
            raise ValueError(f"model_changes remove the parent's layer {name}; only additions are supported")
        target = state[name]
        if target.shape == value.shape:
            state[name] = value
        elif target.ndim == value.ndim and all(t >= v for t, v in zip(target.shape, value.shape)):
            target[tuple(slice(0, size) for size in value.shape)] = value
        else:
            raise ValueError(f"model_changes shrink {name} from {tuple(value.shape)} to {tuple(target.shape)}")
    model.load_state_dict(state)
    return model.train()


def export(model: MuralXGAN, folder: Path, config: TrainConfig, step: int, metrics: dict) -> None:
    from train.ship import lineage

    model.config.training = {
        **({"recipe": config.recipe} if config.recipe else {}),
        "steps": step,
        **({"init_from": config.init_from} if config.init_from else {}),
        **({"lineage": lineage(config.init_from)} if config.init_from else {}),  # every checkpoint before it
        **({"model_changes": config.model_changes} if config.model_changes else {}),
        **({"ema_decay": config.ema_decay} if config.ema_decay else {}),
        **({"train_only": config.train_only} if config.train_only else {}),
        "data": config.data.sources,
        "holdout": config.data.holdout,
        "crop_size": config.data.crop_size,
        "batch_size": config.batch_size,
        "losses": config.to_dict()["loss"],
        "metrics": metrics,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "hardware": metrics.get("hardware"),
    }
    model.save_pretrained(folder)
    model.generate_model_card().save(folder / "README.md")  # the mixin never overwrites an existing card
    (folder / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2, default=str))


def _drop_rows_after(log_file: Path, step: int) -> None:
    with log_file.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with log_file.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(row for row in rows if int(row["step"]) <= step)


@dataclass
class Run:
    """What one training run holds between steps."""

    config: TrainConfig
    accelerator: object
    out: Path
    model: torch.nn.Module  # as prepared by accelerate (maybe wrapped for data parallelism)
    trained: MuralXGAN  # the module itself
    shipped: MuralXGAN  # what is validated, exported and published: the weight average, or ``trained``
    ema: torch.nn.Module | None
    discriminator: torch.nn.Module
    encoder: object
    perceptual: torch.nn.Module | None
    optimizer_g: torch.optim.Optimizer
    optimizer_d: torch.optim.Optimizer
    schedule_g: torch.optim.lr_scheduler.LRScheduler
    loader: torch.utils.data.DataLoader
    step: int = 0
    best: float = -math.inf
    elapsed_before: float = 0.0
    cases: list = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process


def build_model(config: TrainConfig) -> MuralXGAN:
    """A new model from ``config.model``, or (fine-tuning) the ``init_from`` checkpoint, extended by
    ``model_changes``; its architecture then replaces ``config.model``."""
    if not config.init_from:
        return MuralXGAN(config.model)
    from mural_inpaint.models.muralxgan import load_muralxgan

    model = load_muralxgan(config.init_from)[0].train()
    if config.model_changes:
        model = extended_model(model, config.model_changes)
    config.model = model.config
    model.config.training = {}  # the parent's record stays in its own folder; export names it (init_from)
    return model


def freeze_all_but(model: MuralXGAN, parts: list[str]) -> list[torch.nn.Parameter]:
    """Freeze every parameter outside the named top-level parts (all learn when ``parts`` is empty) -> the learning
    ones.  An unknown part is an error, not a run that silently trains nothing."""
    if not parts:
        return list(model.parameters())
    known = {name for name, _ in model.named_children()}
    unknown = [part for part in parts if part not in known]
    if unknown:
        raise ValueError(f"train_only names {', '.join(unknown)}, which this restorer does not have "
                         f"(it has {', '.join(sorted(known))})")
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.split(".", 1)[0] in parts)
    return [parameter for parameter in model.parameters() if parameter.requires_grad]


def setup_run(config: TrainConfig, resume: bool) -> Run:
    """Models, data, optimisers and validation cases; the saved state when resuming."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    # Without CUDA, data-parallel processes (torchrun / `accelerate launch --multi_gpu`) talk over gloo on the CPU.
    accelerator = Accelerator(mixed_precision=config.mixed_precision, cpu=not torch.cuda.is_available())
    if config.threads:
        torch.set_num_threads(config.threads)
    set_seed(config.seed, device_specific=True)  # each process draws different damage
    out = Path(config.output_dir)
    model = build_model(config)
    if config.init_from:
        accelerator.print(f"fine-tuning {config.init_from}")
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2, default=str))
    discriminator = PatchDiscriminator(config.discriminator)
    encoder = get_text_encoder(model.text_encoder_spec).to(accelerator.device)
    bank = MaskBank.from_folder(config.data.mask_bank) if config.data.mask_bank else None
    dataset = load_training_dataset(config.data)
    pool = own_mask_pool(dataset) if config.data.mask_sources.get("pool") else None
    samples = DamageSynthesisDataset(dataset, config.data, config.model.coarse_fill, bank, pool)
    weights = sampling_weights(dataset, config.data)
    sampler = None if weights is None else torch.utils.data.WeightedRandomSampler(weights, len(weights))
    loader = torch.utils.data.DataLoader(samples, batch_size=config.batch_size, shuffle=sampler is None,
                                         sampler=sampler, drop_last=True, num_workers=config.data.workers,
                                         persistent_workers=config.data.workers > 0)
    betas = (config.adam_beta1, 0.99)
    learning = freeze_all_but(model, config.train_only)
    optimizer_g = torch.optim.AdamW(learning, lr=config.lr, betas=betas, weight_decay=0.0)
    optimizer_d = torch.optim.AdamW(discriminator.parameters(), lr=config.lr_discriminator, betas=betas,
                                    weight_decay=0.0)
    schedule_g = torch.optim.lr_scheduler.LambdaLR(optimizer_g, lambda s: learning_rate_factor(s, config))
    perceptual = losses.PerceptualLoss(config.loss.perceptual_backbone, config.loss.perceptual_layers) \
        if config.loss.perceptual > 0 else None
    model, discriminator, optimizer_g, optimizer_d, loader, schedule_g = accelerator.prepare(
        model, discriminator, optimizer_g, optimizer_d, loader, schedule_g)
    if perceptual is not None:
        perceptual = perceptual.to(accelerator.device)
    trained = accelerator.unwrap_model(model)  # the module itself, whatever wrapper data parallelism added
    ema = None
    if config.ema_decay:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(trained, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        accelerator.register_for_checkpointing(ema)  # resumed runs continue the same average
    run = Run(config, accelerator, out, model, trained, trained if ema is None else ema.module, ema, discriminator,
              encoder, perceptual, optimizer_g, optimizer_d, schedule_g, loader)

    trainer_file = out / "state" / "trainer.json"
    if resume and trainer_file.is_file():
        accelerator.load_state(str(out / "state"))
        saved = json.loads(trainer_file.read_text())
        run.step, run.elapsed_before = saved["step"], saved["elapsed_s"]
        run.best = saved.get("best_val_score", saved.get("best_val_hole_psnr", -math.inf))
        for optimizer in (optimizer_g, optimizer_d):  # a resumed run may change the recipe's betas
            for group in optimizer.param_groups:
                group["betas"] = betas
        accelerator.print(f"resumed from {out / 'state'} at step {run.step}")

    run.metrics = {"hardware": f"{accelerator.num_processes} x {accelerator.device.type} "
                               f"({platform.processor() or platform.machine()}), torch {torch.__version__}"}
    if run.main:
        stems = config.data.validation_stems or config.data.holdout
        run.cases = validation_cases(config.data.validation, stems, masks=config.data.validation_masks)
        run.captions = expert_captions(run.cases)
    if run.main and run.cases:
        run.metrics["validation"] = {"stems": config.data.validation_stems or config.data.holdout,
                                     "masks": config.data.validation_masks, "cases": len(run.cases)}
        run.metrics["baseline"] = {n: {k: round(v, 4) for k, v in classical_scores(run.cases, n).items()}
                                   for n in ("telea", "biharmonic")}
        accelerator.print(f"{len(run.cases)} validation cases; classical scores {run.metrics['baseline']}")
    return run


def gan_step(run: Run, batch: dict) -> dict[str, torch.Tensor]:
    """One generator update (every loss term of ``config.loss``), the weight average, then one discriminator
    update once the adversarial game has started -> the step's loss terms (weighted)."""
    config, model, discriminator = run.config, run.model, run.discriminator
    image, mask, coarse = batch["image"], batch["mask"], batch["coarse"]
    with torch.no_grad():
        text = run.encoder.encode(batch["caption"])
        text[torch.tensor([c == "" for c in batch["caption"]], device=text.device)] = 0
    final, raw = model(image, mask, text, coarse, return_generator_output=True)
    terms = {
        "l1_hole": config.loss.l1_hole * losses.masked_l1(raw, image, mask),
        "l1_valid": config.loss.l1_valid * losses.masked_l1(raw, image, 1 - mask),
        "colour": config.loss.colour * losses.colour_loss(final, image, mask, config.loss.colour_ring),
    }
    if config.loss.mse_hole > 0:
        terms["mse_hole"] = config.loss.mse_hole * losses.masked_mse(final, image, mask)
    if run.perceptual is not None:
        terms["perceptual"] = config.loss.perceptual * run.perceptual(final, image)
    adversarial_on = run.step >= config.loss.adversarial_start and config.loss.adversarial > 0
    half = image.shape[0]
    if adversarial_on:
        logits, features = discriminator(torch.cat([final, image]), torch.cat([mask, mask]))
        terms["adversarial"] = config.loss.adversarial * losses.hinge_generator_loss(logits[:half])
        terms["feature_matching"] = config.loss.feature_matching * losses.feature_matching_loss(
            [f[:half] for f in features], [f[half:] for f in features])
    loss_g = sum(terms.values())
    run.optimizer_g.zero_grad(set_to_none=True)
    run.accelerator.backward(loss_g)
    run.optimizer_g.step()
    run.schedule_g.step()
    if run.ema is not None:
        run.ema.update_parameters(run.trained)
    if adversarial_on:
        logits, _ = discriminator(torch.cat([image, final.detach()]), torch.cat([mask, mask]))
        loss_d = losses.hinge_discriminator_loss(logits[:half], logits[half:])
        run.optimizer_d.zero_grad(set_to_none=True)
        run.accelerator.backward(loss_d)
        run.optimizer_d.step()
        terms["loss_d"] = loss_d
    terms["loss_g"] = loss_g
    return terms


def validate_and_export(run: Run) -> dict[str, float]:
    """Validate the shipped weights (and the raw ones when averaging), export ``best/`` when the selection score
    improves -> the log columns it fills."""
    config = run.config
    scores = validate(run.shipped, run.cases, run.captions, run.out / "samples" / f"step-{run.step:06d}.png")
    row = {"val_hole_psnr": round(scores["hole_psnr"], 3), "val_box_lpips": round(scores["box_lpips"], 4),
           "val_score": round(scores[config.select_on], 3)}
    if run.ema is not None:  # how much the average adds over the weights of this step
        row["val_hole_psnr_raw"] = round(validate(run.trained, run.cases, run.captions, box_lpips=False)["hole_psnr"],
                                         3)
    run.trained.train()
    run.metrics |= row
    if row["val_score"] > run.best:
        run.best = row["val_score"]
        run.metrics |= {"best_val_score": run.best, "best_step": run.step, "select_on": config.select_on}
        export(run.shipped, run.out / "best", config, run.step, dict(run.metrics))
    return row


def save_progress(run: Run, elapsed: float) -> None:
    """The resumable state (every process) and the latest exported checkpoint ``model/`` (main process)."""
    run.accelerator.wait_for_everyone()
    run.accelerator.save_state(str(run.out / "state"))
    if run.main:
        (run.out / "state" / "trainer.json").write_text(json.dumps(
            {"step": run.step, "best_val_score": run.best, "elapsed_s": elapsed}))
        export(run.shipped, run.out / "model", run.config, run.step, dict(run.metrics))


class TrainingLog:
    """``log.csv`` (appended on resume, rows past the saved state dropped) and TensorBoard, main process only."""

    def __init__(self, run: Run, resume: bool):
        from torch.utils.tensorboard import SummaryWriter

        log_file = run.out / "log.csv"
        if resume and log_file.exists():
            _drop_rows_after(log_file, run.step)  # rows a stopped run logged after its last saved state
        new_log = not log_file.exists() or not resume
        self.handle = log_file.open("w" if new_log else "a", newline="")
        self.writer = csv.DictWriter(self.handle, LOG_COLUMNS)
        if new_log:
            self.writer.writeheader()
        self.board = SummaryWriter(str(run.out / "tensorboard"))

    def write(self, row: dict) -> None:
        self.writer.writerow({k: row.get(k, "") for k in LOG_COLUMNS})
        self.handle.flush()
        for key, value in row.items():
            if key != "step":
                self.board.add_scalar(key, value, row["step"])

    def close(self) -> None:
        self.board.close()
        self.handle.close()


def train(config: TrainConfig, resume: bool = False, push_to_hub: str | None = None,
          stop_at: int | None = None) -> dict:
    """Run ``config`` to ``config.steps`` (or ``max_minutes``); ``stop_at`` ends the run (validated and saved) at
    that step without changing the schedule, as a run stopped by hand there did."""
    last_step = min(config.steps, stop_at or config.steps)
    run = setup_run(config, resume)
    log = TrainingLog(run, resume) if run.main else None
    start, seen, window_start = time.time(), 0, time.time()
    sums: dict[str, float] = {}
    progress = tqdm(total=config.steps, initial=run.step, disable=not run.main, desc="training", unit="step")
    stop = False
    run.model.train()
    while not stop:
        for batch in run.loader:
            for key, value in gan_step(run, batch).items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            run.step += 1
            seen += batch["image"].shape[0] * run.accelerator.num_processes
            progress.update(1)
            if run.step % config.log_every and run.step < last_step:
                continue
            elapsed = run.elapsed_before + time.time() - start
            row = {k: round(v / config.log_every, 5) for k, v in sums.items()}
            row |= {"step": run.step, "elapsed_s": round(elapsed, 1), "lr": run.schedule_g.get_last_lr()[0],
                    "images_per_s": round(seen / (time.time() - window_start), 2)}
            sums, seen, window_start = {}, 0, time.time()
            over_time = config.max_minutes is not None and elapsed > 60 * config.max_minutes
            flag = run.accelerator.reduce(torch.tensor([float(over_time)], device=run.accelerator.device), "max")
            stop = run.step >= last_step or bool(flag.item())
            if run.main and run.cases and (run.step % config.validate_every == 0 or stop):
                row |= validate_and_export(run)
            if log is not None:
                log.write(row)
                progress.set_postfix(loss=row.get("loss_g"), val=row.get("val_hole_psnr", ""))
            if run.step % config.save_every == 0 or stop:
                save_progress(run, elapsed)
            if stop:
                break
    progress.close()
    run.accelerator.wait_for_everyone()
    if not run.main:
        return {}
    log.close()
    if push_to_hub:
        from train.publish import publish

        publish(run.out / ("best" if (run.out / "best").is_dir() else "model"), push_to_hub)
    return run.metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="YAML preset, e.g. train/configs/cpu-2h.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting, e.g. --set steps=200 --set data.crop_size=96")
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/state when it exists")
    parser.add_argument("--push-to-hub", default=None, metavar="REPO_ID", help="publish the best checkpoint")
    parser.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                        help="end the run at this step, the schedule still that of `steps` (a run stopped by hand)")
    args = parser.parse_args(argv)
    overrides = args.set + ([f"output_dir={args.output_dir}"] if args.output_dir else [])
    config = TrainConfig.from_yaml(args.config, overrides)
    if args.stop_at is not None:
        config.recipe += f" --stop-at {args.stop_at}"
    metrics = train(config, resume=args.resume, push_to_hub=args.push_to_hub, stop_at=args.stop_at)
    if metrics:
        print(json.dumps({k: v for k, v in metrics.items() if k != "hardware"}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
