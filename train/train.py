"""Train the text-guided generator, colour-correction net and discriminator.

    python -m train.train --config train/configs/cpu-2h.yaml [--set key.sub=value ...] [--resume]
    accelerate launch --num_processes 2 -m train.train --config ...        # data-parallel, CPU or GPUs

Runs on ``accelerate`` (one or many processes, CPU or GPU, mixed precision from the config), logs CSV and
TensorBoard, validates hole PSNR on held-out murals through the same restoration pipeline the app uses, writes
sample grids, saves a resumable state and an exported checkpoint (``model/``, the best one in ``best/``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from mural_inpaint.imaging import hide_damage
from mural_inpaint.masks import MaskBank
from mural_inpaint.metrics import psnr
from mural_inpaint.models import MuralXGAN, PatchDiscriminator
from mural_inpaint.models.config import MuralXGANConfig
from mural_inpaint.pipeline import RestorationPipeline
from mural_inpaint.restorers.gan import MuralXGANRestorer
from mural_inpaint.text.encoders import get_text_encoder
from train import losses
from train.config import TrainConfig
from train.data import (
    DamageSynthesisDataset,
    ValidationCase,
    load_training_dataset,
    own_mask_pool,
    sampling_weights,
    validation_cases,
)
from train.grids import save_sample_grid

LOG_COLUMNS = ["step", "elapsed_s", "images_per_s", "lr", "loss_g", "l1_hole", "l1_valid", "mse_hole", "perceptual",
               "colour", "adversarial", "feature_matching", "loss_d", "val_hole_psnr", "val_box_lpips", "val_score",
               "val_hole_psnr_raw"]


def restore_cases(restorer, cases: list[ValidationCase], with_text: bool, box_lpips: bool = False
                  ) -> tuple[list[np.ndarray], dict[str, float]]:
    """Restore the hidden holes of ``cases`` through :class:`RestorationPipeline` -> (images, scores).

    Scores: ``hole_psnr`` (mean over cases), and with ``box_lpips`` the mean hole-box LPIPS and the ``balanced``
    selection score (hole PSNR + hole-box LPIPS in dB, see :attr:`TrainConfig.select_on`).
    """
    pipeline = RestorationPipeline(restorer, captioner="describer")
    restored = [pipeline.restore(hide_damage(c.clean, c.mask), c.mask, caption=c.caption if with_text else "").image
                for c in cases]
    scores = {"hole_psnr": float(np.mean([psnr(r, c.clean, c.mask) for r, c in zip(restored, cases)]))}
    if box_lpips:
        from mural_inpaint.metrics import hole_box_lpips

        scores["box_lpips"] = float(np.mean([hole_box_lpips(r, c.clean, c.mask) for r, c in zip(restored, cases)]))
        scores["balanced"] = scores["hole_psnr"] - 10.0 * math.log10(max(scores["box_lpips"], 1e-6))
    return restored, scores


def validate(model: MuralXGAN, cases: list[ValidationCase], samples_path: Path | None = None,
             box_lpips: bool = True) -> dict[str, float]:
    """Validation scores on ``cases`` with expert captions (model left in eval); optionally a sample grid with one
    case of each mask protocol."""
    restored, scores = restore_cases(MuralXGANRestorer(model, "training", None, channels_last=False), cases,
                                     with_text=True, box_lpips=box_lpips)
    if samples_path is not None:
        shown = _one_per_protocol(cases, 4)
        save_sample_grid(samples_path, [cases[i] for i in shown], [restored[i] for i in shown])
    return scores


def _one_per_protocol(cases: list[ValidationCase], count: int) -> list[int]:
    """Indices of ``count`` cases taken round-robin over the mask protocols."""
    by_protocol: dict[str, list[int]] = {}
    for index, case in enumerate(cases):
        by_protocol.setdefault(case.protocol, []).append(index)
    order = [i for group in zip(*by_protocol.values()) for i in group] if by_protocol else []
    return (order or list(range(len(cases))))[:count]


def classical_baseline(cases: list[ValidationCase], name: str) -> dict[str, float]:
    return restore_cases(name, cases, with_text=False, box_lpips=True)[1]


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
    model.config.training = {
        "steps": step,
        **({"init_from": config.init_from} if config.init_from else {}),
        **({"model_changes": config.model_changes} if config.model_changes else {}),
        **({"ema_decay": config.ema_decay} if config.ema_decay else {}),
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


def train(config: TrainConfig, resume: bool = False, push_to_hub: str | None = None) -> dict:
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    # Without CUDA, data-parallel processes (torchrun / `accelerate launch --multi_gpu`) talk over gloo on the CPU.
    accelerator = Accelerator(mixed_precision=config.mixed_precision, cpu=not torch.cuda.is_available())
    if config.threads:
        torch.set_num_threads(config.threads)
    set_seed(config.seed, device_specific=True)  # each process draws different damage
    out = Path(config.output_dir)
    main = accelerator.is_main_process
    if config.init_from:  # fine-tuning: the checkpoint's weights and architecture, a fresh optimiser and schedule
        from mural_inpaint.models.muralxgan import load_muralxgan

        model = load_muralxgan(config.init_from)[0].train()
        if config.model_changes:
            model = extended_model(model, config.model_changes)
        config.model = model.config
        model.config.training = {}  # the parent's record stays in its own folder; export names it (init_from)
        accelerator.print(f"fine-tuning {config.init_from}")
    else:
        model = MuralXGAN(config.model)
    if main:
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
                                         sampler=sampler, drop_last=True,
                                         num_workers=config.data.workers,
                                         persistent_workers=config.data.workers > 0)
    betas = (config.adam_beta1, 0.99)
    optimizer_g = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=betas, weight_decay=0.0)
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
    shipped = trained if ema is None else ema.module  # what is validated, exported and published

    state_dir, trainer_file = out / "state", out / "state" / "trainer.json"
    step, best, elapsed_before = 0, -math.inf, 0.0
    if resume and trainer_file.is_file():
        accelerator.load_state(str(state_dir))
        saved = json.loads(trainer_file.read_text())
        step, elapsed_before = saved["step"], saved["elapsed_s"]
        best = saved.get("best_val_score", saved.get("best_val_hole_psnr", -math.inf))
        for optimizer in (optimizer_g, optimizer_d):  # a resumed run may change the recipe's betas
            for group in optimizer.param_groups:
                group["betas"] = betas
        accelerator.print(f"resumed from {state_dir} at step {step}")

    stems = config.data.validation_stems or config.data.holdout
    cases = validation_cases(config.data.validation, stems, masks=config.data.validation_masks) if main else []
    metrics: dict = {"hardware": f"{accelerator.num_processes} x {accelerator.device.type} "
                                 f"({platform.processor() or platform.machine()}), torch {torch.__version__}"}
    if main and cases:
        metrics["validation"] = {"stems": stems, "masks": config.data.validation_masks, "cases": len(cases)}
        metrics["baseline"] = {n: {k: round(v, 4) for k, v in classical_baseline(cases, n).items()}
                               for n in ("telea", "biharmonic")}
        accelerator.print(f"{len(cases)} validation cases; classical scores {metrics['baseline']}")
    log_file = out / "log.csv"
    writer = board = log_handle = None
    if main and resume and log_file.exists():
        _drop_rows_after(log_file, step)  # rows a stopped run logged after its last saved state
    if main:
        new_log = not log_file.exists() or not resume
        log_handle = log_file.open("w" if new_log else "a", newline="")
        writer = csv.DictWriter(log_handle, LOG_COLUMNS)
        if new_log:
            writer.writeheader()
        from torch.utils.tensorboard import SummaryWriter

        board = SummaryWriter(str(out / "tensorboard"))

    start, seen, window_start = time.time(), 0, time.time()
    sums: dict[str, float] = {}
    progress = tqdm(total=config.steps, initial=step, disable=not main, desc="training", unit="step")
    stop = False
    model.train()
    while not stop:
        for batch in loader:
            image, mask, coarse = batch["image"], batch["mask"], batch["coarse"]
            with torch.no_grad():
                text = encoder.encode(batch["caption"])
                text[torch.tensor([c == "" for c in batch["caption"]], device=text.device)] = 0
            final, raw = model(image, mask, text, coarse, return_generator_output=True)
            terms = {
                "l1_hole": config.loss.l1_hole * losses.masked_l1(raw, image, mask),
                "l1_valid": config.loss.l1_valid * losses.masked_l1(raw, image, 1 - mask),
                "colour": config.loss.colour * losses.colour_loss(final, image, mask, config.loss.colour_ring),
            }
            if config.loss.mse_hole > 0:
                terms["mse_hole"] = config.loss.mse_hole * losses.masked_mse(final, image, mask)
            if perceptual is not None:
                terms["perceptual"] = config.loss.perceptual * perceptual(final, image)
            adversarial_on = step >= config.loss.adversarial_start and config.loss.adversarial > 0
            if adversarial_on:
                logits, features = discriminator(torch.cat([final, image]), torch.cat([mask, mask]))
                half = image.shape[0]
                terms["adversarial"] = config.loss.adversarial * losses.hinge_generator_loss(logits[:half])
                terms["feature_matching"] = config.loss.feature_matching * losses.feature_matching_loss(
                    [f[:half] for f in features], [f[half:] for f in features])
            loss_g = sum(terms.values())
            optimizer_g.zero_grad(set_to_none=True)
            accelerator.backward(loss_g)
            optimizer_g.step()
            schedule_g.step()
            if ema is not None:
                ema.update_parameters(trained)
            if adversarial_on:
                logits, _ = discriminator(torch.cat([image, final.detach()]), torch.cat([mask, mask]))
                loss_d = losses.hinge_discriminator_loss(logits[:half], logits[half:])
                optimizer_d.zero_grad(set_to_none=True)
                accelerator.backward(loss_d)
                optimizer_d.step()
                terms["loss_d"] = loss_d
            terms["loss_g"] = loss_g
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            step += 1
            seen += image.shape[0] * accelerator.num_processes
            progress.update(1)

            if step % config.log_every == 0 or step >= config.steps:
                elapsed = elapsed_before + time.time() - start
                row = {k: round(v / config.log_every, 5) for k, v in sums.items()}
                row |= {"step": step, "elapsed_s": round(elapsed, 1), "lr": schedule_g.get_last_lr()[0],
                        "images_per_s": round(seen / (time.time() - window_start), 2)}
                sums, seen, window_start = {}, 0, time.time()
                validate_now = step % config.validate_every == 0 or step >= config.steps
                over_time = config.max_minutes is not None and elapsed > 60 * config.max_minutes
                flag = accelerator.reduce(torch.tensor([float(over_time)], device=accelerator.device), "max")
                stop = step >= config.steps or bool(flag.item())
                if main and (validate_now or stop) and cases:
                    scores = validate(shipped, cases, out / "samples" / f"step-{step:06d}.png")
                    row |= {"val_hole_psnr": round(scores["hole_psnr"], 3),
                            "val_box_lpips": round(scores["box_lpips"], 4),
                            "val_score": round(scores[config.select_on], 3)}
                    if ema is not None:  # how much the average adds over the weights of this step
                        row["val_hole_psnr_raw"] = round(validate(trained, cases, box_lpips=False)["hole_psnr"], 3)
                    trained.train()
                    metrics |= {k: row[k] for k in ("val_hole_psnr", "val_box_lpips", "val_score")}
                    if row["val_score"] > best:
                        best = row["val_score"]
                        metrics["best_val_score"], metrics["best_step"] = best, step
                        metrics["select_on"] = config.select_on
                        export(shipped, out / "best", config, step, dict(metrics))
                if main:
                    writer.writerow({k: row.get(k, "") for k in LOG_COLUMNS})
                    log_handle.flush()
                    for key, value in row.items():
                        if key != "step":
                            board.add_scalar(key, value, step)
                    progress.set_postfix(loss=row.get("loss_g"), val=row.get("val_hole_psnr", ""))
                if step % config.save_every == 0 or stop:
                    accelerator.wait_for_everyone()
                    accelerator.save_state(str(state_dir))
                    if main:
                        trainer_file.write_text(json.dumps({"step": step, "best_val_score": best,
                                                            "elapsed_s": elapsed}))
                        export(shipped, out / "model", config, step, dict(metrics))
            if stop:
                break
    progress.close()
    accelerator.wait_for_everyone()
    if main:
        board.close()
        log_handle.close()
        if push_to_hub:
            from train.publish import publish

            publish(out / ("best" if (out / "best").is_dir() else "model"), push_to_hub)
    return metrics if main else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="YAML preset, e.g. train/configs/cpu-2h.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting, e.g. --set steps=200 --set data.crop_size=96")
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/state when it exists")
    parser.add_argument("--push-to-hub", default=None, metavar="REPO_ID", help="publish the best checkpoint")
    args = parser.parse_args(argv)
    overrides = args.set + ([f"output_dir={args.output_dir}"] if args.output_dir else [])
    config = TrainConfig.from_yaml(args.config, overrides)
    metrics = train(config, resume=args.resume, push_to_hub=args.push_to_hub)
    if metrics:
        print(json.dumps({k: v for k, v in metrics.items() if k != "hardware"}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
