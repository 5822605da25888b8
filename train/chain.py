"""Run a chain of training stages, each fine-tuning the previous stage's best checkpoint, then ship the last one.

    python -m train.chain train/configs/chain-default.yaml               # the shipped checkpoint, from scratch
    python -m train.chain CHAIN.yaml --dry-run                           # each stage's command, output and parent
    python -m train.chain CHAIN.yaml --set steps=2 --to runs/try/shipped # overrides for every stage

The chain file lists the stages in order (presets relative to the chain file), each with the ``--set`` overrides and
``stop_at`` step its original run had::

    stages:
      - {config: cpu-2h.yaml, stop_at: 4500}
      - {config: cpu-finetune-mse-256.yaml, set: [data.workers=0]}

Every stage after the first starts from the previous stage's ``OUTPUT/best`` (its ``init_from`` is set so when the
preset names another).  A stage whose run folder has a saved state is resumed; one that already finished (its
state reached the last step or its time limit, and ``best/`` exists) is skipped.  The last stage's ``best/`` is then
shipped with :func:`train.ship.ship` to ``--to`` (default ``runs/CHAIN_NAME/shipped``).
"""

from __future__ import annotations

import argparse
import gc
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from train.config import TrainConfig


@dataclass
class Stage:
    """One ``python -m train.train`` run of the chain."""

    name: str
    preset: Path
    overrides: list[str] = field(default_factory=list)
    stop_at: int | None = None
    config: TrainConfig | None = None  # resolved, overrides applied

    @property
    def out(self) -> Path:
        return Path(self.config.output_dir)

    def argv(self, resume: bool = False) -> list[str]:
        argv = ["--config", str(self.preset)]
        for override in self.overrides:
            argv += ["--set", override]
        if self.stop_at is not None:
            argv += ["--stop-at", str(self.stop_at)]
        return argv + (["--resume"] if resume else [])

    def command(self, resume: bool = False) -> str:
        return shlex.join(["python", "-m", "train.train", *self.argv(resume)])

    def status(self) -> str:
        """``finished`` (skip), ``resume`` (a saved state short of the end) or ``new``."""
        trainer = self.out / "state" / "trainer.json"
        saved = json.loads(trainer.read_text()) if trainer.is_file() else None
        if saved is None:
            return "finished" if (self.out / "best").is_dir() else "new"
        last_step = min(self.config.steps, self.stop_at or self.config.steps)
        max_minutes = self.config.max_minutes
        ended = saved["step"] >= last_step or (max_minutes is not None and saved["elapsed_s"] > 60 * max_minutes)
        return "finished" if ended and (self.out / "best").is_dir() else "resume"


def read_chain(path: str | Path, overrides: list[str] | None = None) -> list[Stage]:
    """The stages of chain file ``path``, resolved with ``overrides`` (for every stage) and each stage's parent."""
    path = Path(path)
    spec = yaml.safe_load(path.read_text()) or {}
    unknown = set(spec) - {"stages"}
    if unknown or not spec.get("stages"):
        raise ValueError(f"{path}: a chain file holds `stages:` (a list), not {', '.join(sorted(unknown)) or '-'}")
    stages: list[Stage] = []
    for entry in spec["stages"]:
        entry = {"config": entry} if isinstance(entry, str) else dict(entry)
        extra = set(entry) - {"config", "set", "stop_at"}
        if extra:
            raise ValueError(f"{path}: unknown stage settings {', '.join(sorted(extra))} (config, set, stop_at)")
        preset = path.parent / entry["config"]
        stage = Stage(preset.stem, preset, [*entry.get("set", []), *(overrides or [])], entry.get("stop_at"))
        stage.config = TrainConfig.from_yaml(preset, stage.overrides)
        if stages:
            parent = str(stages[-1].out / "best")
            if stage.config.init_from != parent:  # the chain's order decides the lineage
                stage.overrides.append(f"init_from={parent}")
                stage.config = TrainConfig.from_yaml(preset, stage.overrides)
        stages.append(stage)
    return stages


def ship_command(stages: list[Stage], destination: Path) -> str:
    return shlex.join(["python", "-m", "train.ship", str(stages[-1].out / "best"), "--to", str(destination)])


def run_chain(chain: str | Path, destination: str | Path | None = None, overrides: list[str] | None = None,
              dry_run: bool = False) -> Path | None:
    """Train every stage of ``chain`` that has not finished, then ship the last stage's best checkpoint."""
    from train.ship import ship
    from train.train import main as train_main

    stages = read_chain(chain, overrides)
    destination = Path(destination) if destination else Path("runs") / Path(chain).stem / "shipped"
    for number, stage in enumerate(stages, 1):
        status = stage.status()
        head = f"[{number}/{len(stages)}] {stage.name}"
        if dry_run:
            print(f"{head}: {stage.command(resume=status == 'resume')}\n"
                  f"    output {stage.out}, init_from {stage.config.init_from or '- (from scratch)'}, {status}")
            continue
        if status == "finished":
            print(f"{head}: finished ({stage.out / 'best'} exists), skipped")
            continue
        print(f"{head}: {stage.command(resume=status == 'resume')}", flush=True)
        if train_main(stage.argv(resume=status == "resume")) != 0:
            raise RuntimeError(f"stage {stage.name} failed")
        gc.collect()  # the finished stage's models and data workers
        if not (stage.out / "best").is_dir():
            raise RuntimeError(f"stage {stage.name} wrote no {stage.out / 'best'} (no validation cases?)")
    print(f"ship: {ship_command(stages, destination)}")
    if dry_run:
        return None
    note = f"trained by {shlex.join(['python', '-m', 'train.chain', str(chain), *_set_args(overrides)])}"
    return ship(stages[-1].out / "best", destination, {}, note=note)


def _set_args(overrides: list[str] | None) -> list[str]:
    return [arg for override in overrides or [] for arg in ("--set", override)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.chain", description=__doc__.split("\n\n")[0])
    parser.add_argument("chain", help="chain file, e.g. train/configs/chain-default.yaml")
    parser.add_argument("--to", default=None, help="where the last stage's best checkpoint is shipped "
                                                    "(replaced; default runs/CHAIN_NAME/shipped)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting in every stage, e.g. --set steps=2")
    parser.add_argument("--dry-run", action="store_true", help="print each stage's command, output and parent")
    args = parser.parse_args(argv)
    shipped = run_chain(args.chain, args.to, args.set, args.dry_run)
    if shipped is not None:
        print(shipped)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
