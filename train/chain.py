"""Run a chain of training stages, each fine-tuning the previous stage's checkpoint, then ship the last one.

    python -m train.chain train/configs/chain-default.yaml               # the shipped checkpoint, from scratch
    python -m train.chain CHAIN.yaml --dry-run                           # each stage's command, output and parent
    python -m train.chain CHAIN.yaml --set steps=2 --to runs/try/shipped # overrides for every stage

The chain file lists the stages in order (presets relative to the chain file), each with the ``--set`` overrides and
``stop_at`` step its original run had, and optionally what is shipped::

    stages:
      - {config: cpu-2h.yaml, stop_at: 4500}
      - {config: cpu-finetune-mse-256.yaml, set: [data.workers=0]}
      - {config: cpu-steering-restraint.yaml, from: model}
    ship: {from: model, set: [texture.method=fsr], note: "why"}

Every stage after the first starts from the previous stage's ``OUTPUT/best``, or its last exported checkpoint
``OUTPUT/model`` with ``from: model`` (its ``init_from`` is set so when the preset names another: inside a chain the
chain decides the lineage, whatever checkpoint the preset fine-tunes when run alone).  A stage whose run folder has
a saved state is resumed; one that already finished (its state reached the last step or its time limit, and
``best/`` exists) is skipped.  The last stage's ``best/`` (or ``model/`` with ``ship: {from: model}``) is then
shipped with :func:`train.ship.ship` to ``--to`` (default ``runs/CHAIN_NAME/shipped``), with the ``ship:`` section's
inference settings (``set``, as ``python -m train.ship --set``) and ``note``.
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
    start_from: str = "best"  # which output of the previous stage it fine-tunes (chain file: `from`)
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


OUTPUTS = ("best", "model")  # a run's exported checkpoints: the best validated one, the last saved one
STAGE_KEYS = ("config", "set", "stop_at", "from")
SHIP_KEYS = ("from", "set", "note", "int8")


@dataclass
class Shipping:
    """What the chain ships: which output of the last stage, with which inference settings and note."""

    start_from: str = "best"
    changes: list[str] = field(default_factory=list)  # KEY=VALUE, as ``python -m train.ship --set``
    note: str | None = None
    int8: dict | None = None  # {data, masks, exclude}, as ``python -m train.ship --int8``


def read_chain(path: str | Path, overrides: list[str] | None = None) -> list[Stage]:
    """The stages of chain file ``path``, resolved with ``overrides`` (for every stage) and each stage's parent."""
    return read_chain_file(path, overrides)[0]


def read_chain_file(path: str | Path, overrides: list[str] | None = None) -> tuple[list[Stage], Shipping]:
    """The stages of chain file ``path`` (resolved with ``overrides`` for every stage, each stage's parent set) and
    what is shipped."""
    path = Path(path)
    spec = yaml.safe_load(path.read_text()) or {}
    unknown = set(spec) - {"stages", "ship"}
    if unknown or not spec.get("stages"):
        raise ValueError(f"{path}: a chain file holds `stages:` (a list) and optionally `ship:`, "
                         f"not {', '.join(sorted(unknown)) or '-'}")
    stages: list[Stage] = []
    for entry in spec["stages"]:
        entry = {"config": entry} if isinstance(entry, str) else dict(entry)
        _check_keys(path, entry, STAGE_KEYS, "stage")
        preset = path.parent / entry["config"]
        stage = Stage(preset.stem, preset, [*entry.get("set", []), *(overrides or [])], entry.get("stop_at"),
                      _output(path, entry.get("from", "best")))
        if not stages and "from" in entry:
            raise ValueError(f"{path}: the first stage ({stage.name}) has no previous stage to start `from`")
        stage.config = TrainConfig.from_yaml(preset, stage.overrides)
        if stages:
            parent = str(stages[-1].out / stage.start_from)
            if stage.config.init_from != parent:  # the chain's order decides the lineage
                stage.overrides.append(f"init_from={parent}")
                stage.config = TrainConfig.from_yaml(preset, stage.overrides)
        stages.append(stage)
    ship = dict(spec.get("ship") or {})
    _check_keys(path, ship, SHIP_KEYS, "ship")
    int8 = ship.get("int8")
    if isinstance(int8, dict):  # data folders as ${NAME} of data.yaml's locations, as in the presets
        from train.config import _with_locations

        data_yaml = Path(__file__).resolve().parent / "configs" / "data.yaml"
        int8 = _with_locations(int8, yaml.safe_load(data_yaml.read_text()).get("locations") or {})
    if int8 is not None and not (isinstance(int8, dict) and int8.get("data")
                                 and set(int8) <= {"data", "masks", "exclude"}):
        raise ValueError(f"{path}: `int8:` takes data (crops to calibrate on) and optionally masks and exclude")
    return stages, Shipping(_output(path, ship.get("from", "best")), list(ship.get("set", [])), ship.get("note"),
                            int8)


def _check_keys(path: Path, entry: dict, allowed: tuple[str, ...], what: str) -> None:
    extra = set(entry) - set(allowed)
    if extra:
        raise ValueError(f"{path}: unknown {what} settings {', '.join(sorted(extra))} ({', '.join(allowed)})")


def _output(path: Path, name: str) -> str:
    if name not in OUTPUTS:
        raise ValueError(f"{path}: `from: {name}` names no output of a run ({', '.join(OUTPUTS)})")
    return name


def ship_source(stages: list[Stage], shipping: Shipping | None = None) -> Path:
    return stages[-1].out / (shipping or Shipping()).start_from


def ship_command(stages: list[Stage], destination: Path, shipping: Shipping | None = None) -> str:
    shipping = shipping or Shipping()
    int8 = shipping.int8 or {}
    int8_args = []
    if int8:
        int8_args = ["--int8", str(int8["data"]), *(["--int8-masks", ",".join(int8["masks"])] if int8.get("masks")
                                                    else [])]
        int8_args += [arg for stems in int8.get("exclude") or [] for arg in ("--int8-exclude", str(stems))]
    return shlex.join(["python", "-m", "train.ship", str(ship_source(stages, shipping)), "--to", str(destination),
                       *_set_args(shipping.changes), *(["--note", shipping.note] if shipping.note else []),
                       *int8_args])


def run_chain(chain: str | Path, destination: str | Path | None = None, overrides: list[str] | None = None,
              dry_run: bool = False) -> Path | None:
    """Train every stage of ``chain`` that has not finished, then ship the last stage's best checkpoint."""
    from train.ship import parse_changes, ship
    from train.train import main as train_main

    stages, shipping = read_chain_file(chain, overrides)
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
    print(f"ship: {ship_command(stages, destination, shipping)}")
    if dry_run:
        return None
    note = f"trained by {shlex.join(['python', '-m', 'train.chain', str(chain), *_set_args(overrides)])}"
    note = f"{shipping.note}; {note}" if shipping.note else note
    return ship(ship_source(stages, shipping), destination, parse_changes(shipping.changes), note=note,
                int8=shipping.int8)


def _set_args(overrides: list[str] | None) -> list[str]:
    return [arg for override in overrides or [] for arg in ("--set", override)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.chain", description=__doc__.split("\n\n")[0])
    parser.add_argument("chain", help="chain file, e.g. train/configs/chain-default.yaml")
    parser.add_argument("--to", default=None, help="where the last stage's checkpoint is shipped "
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
