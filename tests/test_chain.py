"""The training chain of the shipped checkpoint: stages started from either output of the previous one, what is
shipped, the lineage every run records, and the data locations named once in data.yaml."""

import json

import pytest
import yaml

from mural_inpaint.models import load_muralxgan
from tests.helpers import ROOT, tiny_run_config
from train.chain import main as chain_main
from train.chain import read_chain_file, ship_command
from train.config import TrainConfig
from train.ship import benchmark_figures, lineage

CHAIN = ROOT / "train" / "configs" / "chain-default.yaml"


def test_chain_default_runs_the_shipped_defaults_whole_lineage():
    stages, shipping = read_chain_file(CHAIN)
    names = [stage.name for stage in stages]
    assert names == ["cpu-2h", "cpu-finetune-murals", "cpu-finetune-pool-ema", "cpu-finetune-mse-256",
                     "cpu-finetune-mse-256-round2", "cpu-finetune-mse-256-round3", "cpu-finetune-mse-256-round4",
                     "cpu-steering-branch", "cpu-steering-restraint"]
    parents = [stage.config.init_from for stage in stages]
    assert parents[0] is None
    assert parents[1:8] == [f"runs/{name}/best" for name in names[:7]]
    assert parents[8] == "runs/cpu-steering-branch/model"  # as the restraint run started (the shipped record)
    shipped = load_muralxgan(ROOT / "mural_inpaint" / "checkpoints" / "muralxgan-default")[0].config.training
    assert shipped["shipped"]["from"] == str(stages[-1].out / shipping.start_from)
    assert shipped["init_from"] == parents[-1]
    assert shipping.changes == ["rim_band=3"] and shipped["shipped"]["changes"] == {"rim_band": 3}  # the rim stage
    assert shipping.int8 == shipped["shipped"]["int8"] and shipping.int8["exclude"] == [  # no benchmark crop
        "train/validation-muraldh.txt", "train/holdout-muraldh.txt"]
    assert "--int8 ../shared/data/muraldh-sample --int8-masks own,large,bank:" in ship_command(stages, ROOT, shipping)
    assert shipped["recipe"] == f"python -m train.train --config train/configs/{names[-1]}.yaml"
    assert shipped["lineage"][0]["recipe"] == f"python -m train.train --config train/configs/{names[-2]}.yaml"
    # no stage fine-tunes the default folder, which holds the shipped checkpoint itself
    for stage in stages:
        assert "checkpoints" not in (TrainConfig.from_yaml(stage.preset).init_from or "")


def test_chain_starts_a_stage_from_the_previous_model_and_ships_its_model_with_the_full_lineage(tmp_path):
    first = tiny_run_config(tmp_path, steps=2)
    for name in ("second", "third"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(
            {"base": first.name, "output_dir": str(tmp_path / name), "init_from": "somewhere/else"}))
    chain = tmp_path / "chain.yaml"
    chain.write_text(yaml.safe_dump({
        "stages": [first.name, "second.yaml", {"config": "third.yaml", "from": "model"}],
        "ship": {"from": "model", "set": ["texture.method=fsr"], "note": "why it shipped"}}))
    stages, _ = read_chain_file(chain)
    assert [stage.config.init_from for stage in stages] == [None, str(tmp_path / "run" / "best"),
                                                            str(tmp_path / "second" / "model")]
    shipped = tmp_path / "shipped"
    assert chain_main([str(chain), "--to", str(shipped), "--set", "loss.adversarial_start=100"]) == 0
    record = load_muralxgan(shipped)[0].config.training
    assert record["shipped"]["from"] == str(tmp_path / "third" / "model")
    assert record["shipped"]["changes"] == {"texture": {"method": "fsr"}}
    assert record["shipped"]["note"].startswith("why it shipped; trained by python -m train.chain")
    assert [entry["checkpoint"] for entry in record["lineage"]] == [str(tmp_path / "second" / "model"),
                                                                    str(tmp_path / "run" / "best")]
    assert "init_from" not in record["lineage"][-1] and "tiny.yaml" in record["lineage"][-1]["recipe"]  # scratch
    card = (shipped / "README.md").read_text()
    assert all(f"recipe: python -m train.train --config {tmp_path / name}.yaml" in card
               for name in ("tiny", "second", "third"))

    for bad, message in (({"stages": [{"config": first.name, "from": "model"}]}, "no previous stage"),
                         ({"stages": [first.name, {"config": "second.yaml", "from": "last"}]}, "names no output"),
                         ({"stages": [first.name], "ship": {"form": "model"}}, "unknown ship settings"),
                         ({"stages": [first.name], "ship": {"int8": {"masks": ["own"]}}}, "int8:. takes data")):
        chain.write_text(yaml.safe_dump(bad))
        with pytest.raises(ValueError, match=message):
            read_chain_file(chain)


def test_lineage_falls_back_to_what_is_known(tmp_path):
    assert lineage(None) == [] and lineage("hub/id") == [{"checkpoint": "hub/id"}]
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"training": {"recipe": "r", "init_from": "gone", "steps": 3}}))
    assert lineage(str(old)) == [{"checkpoint": str(old), "recipe": "r", "init_from": "gone", "steps": 3},
                                 {"checkpoint": "gone"}]


def test_benchmark_figures_leave_out_an_empty_comparison_with_classical_methods(tmp_path):
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"masks": "own", "results": {"m": {"overall": {"n": 2, "hole_psnr": 20.0}}},
                                   "paired": {"vs_best_classical": {"m": {}}}}))
    assert "against_best_classical" not in benchmark_figures(summary, "m")


def test_data_locations_are_named_once_in_data_yaml(tmp_path):
    presets = sorted((ROOT / "train" / "configs").glob("*.yaml"))
    data_yaml = ROOT / "train" / "configs" / "data.yaml"
    for preset in [*presets, ROOT / "evaluation" / "speed.py"]:
        if preset != data_yaml:
            assert "shared/data" not in preset.read_text(), f"{preset.name} names a data folder"
    locations = yaml.safe_load(data_yaml.read_text())["locations"]
    override = 'data.validation_masks=["bank:${damage}"]'  # a --set may name them too
    config = TrainConfig.from_yaml(ROOT / "train" / "configs" / "cpu-2h.yaml", [override])
    assert config.data.sources == [locations["muraldh"], locations["faces"]]
    assert config.data.validation_masks == [f"bank:{locations['damage']}"]
    (tmp_path / "bad.yaml").write_text('base: ' + str(data_yaml) + '\ndata: {validation: "${nowhere}"}\n')
    with pytest.raises(ValueError, match=r"unknown data location \$\{nowhere\}"):
        TrainConfig.from_yaml(tmp_path / "bad.yaml")
