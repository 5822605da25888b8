"""Training package: data layouts, damage synthesis, losses, and short real runs (one and two processes)."""

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from mural_inpaint.data.sources import local_records
from mural_inpaint.errors import InputError
from mural_inpaint.imaging import save_png
from mural_inpaint.models import load_muralxgan
from tests.helpers import FIXTURES, ROOT, synthetic_mural, tiny_run_config, write_pairs
from train import losses
from train.config import DataConfig, TrainConfig
from train.data import DamageSynthesisDataset, load_training_dataset
from train.train import learning_rate_factor
from train.validation import validation_cases


def test_layouts_are_recognised(tmp_path):
    assert local_records(write_pairs(tmp_path / "a", ["x", "y"]))["stem"] == ["x", "y"]
    muraldh = local_records(write_pairs(tmp_path / "b", ["p"], "images", "labels"))
    assert muraldh["mask"][0].endswith("labels/p.png")
    plain = tmp_path / "c"
    save_png(synthetic_mural(), plain / "sub" / "face.jpg.png")
    assert local_records(plain)["mask"] == [None]
    folder = tmp_path / "d"
    save_png(synthetic_mural(), folder / "m.png")
    (folder / "metadata.jsonl").write_text(json.dumps({"file_name": "m.png", "caption": "a bodhisattva"}) + "\n")
    assert local_records(folder)["caption"] == ["a bodhisattva"]


def test_mismatched_and_empty_datasets_say_which_files(tmp_path):
    folder = write_pairs(tmp_path / "a", ["x", "y"])
    (folder / "mask" / "y.png").unlink()
    with pytest.raises(InputError, match=r"images without a mask in mask/: y"):
        local_records(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="No training images found"):
        load_training_dataset(DataConfig(sources=[str(tmp_path / "empty")]))
    with pytest.raises(InputError, match="Dataset folder not found"):
        local_records(tmp_path / "nope")


def test_saved_datasets_with_other_column_names_join_local_folders(tmp_path):
    import datasets

    from mural_inpaint.imaging import load_image

    folder = write_pairs(tmp_path / "pairs", ["a"])
    saved = datasets.Dataset.from_dict({"picture": [str(folder / "gt" / "a.png")], "text": ["a flying apsara"]})
    saved.cast_column("picture", datasets.Image()).save_to_disk(str(tmp_path / "saved"))
    config = DataConfig(sources=[str(folder), str(tmp_path / "saved")], image_column="picture",
                        caption_column="text", crop_size=32, text_dropout=0.0)
    dataset = load_training_dataset(config)
    assert len(dataset) == 2 and dataset["caption"] == [None, "a flying apsara"]
    samples = DamageSynthesisDataset(dataset, config, "telea")
    assert samples[1]["caption"].startswith("Scene: a flying apsara. Damage covers")
    assert load_image(dataset[1]["image"]["bytes"]).shape == (48, 48, 3)
    bad = DataConfig(sources=[str(tmp_path / "saved")], image_column="photo")
    with pytest.raises(InputError, match="no image column 'photo'"):
        load_training_dataset(bad)


def test_holdout_stems_never_reach_training(tmp_path):
    folder = write_pairs(tmp_path / "a", ["k0", "k1", "v0"])
    holdout = tmp_path / "holdout.txt"
    holdout.write_text("# validation\nv0\n")
    dataset = load_training_dataset(DataConfig(sources=[str(folder)], holdout=str(holdout)))
    assert sorted(dataset["stem"]) == ["k0", "k1"]
    assert [c.name for c in validation_cases(folder, holdout)] == ["v0"]


def test_images_per_source_keeps_the_first_images_of_each_source(tmp_path):
    first = write_pairs(tmp_path / "a", ["c", "a", "b"])
    second = write_pairs(tmp_path / "b", ["z", "y"])
    config = DataConfig(sources=[str(first), str(second)], images_per_source=2)
    assert load_training_dataset(config)["stem"] == ["a", "b", "y", "z"]


def test_samples_have_damage_captions_and_a_coarse_fill(tmp_path):
    folder = write_pairs(tmp_path / "a", ["x", "y"])
    config = DataConfig(sources=[str(folder)], crop_size=32, text_dropout=0.0)
    samples = DamageSynthesisDataset(load_training_dataset(config), config, "telea")
    torch.manual_seed(0)
    sample = samples[0]
    assert sample["image"].shape == (3, 32, 32) and sample["mask"].shape == (1, 32, 32)
    hole = sample["mask"][0] > 0
    assert 0 < hole.float().mean() < 1
    assert torch.equal(sample["coarse"][:, ~hole], sample["image"][:, ~hole])  # known pixels untouched by the fill
    assert sample["caption"].startswith("Damage covers") and "The lost area held" in sample["caption"]
    dropped = DamageSynthesisDataset(load_training_dataset(config), DataConfig(sources=[], crop_size=32,
                                                                               text_dropout=1.0), "telea")
    assert dropped[1]["caption"] == ""


def test_mask_pool_puts_training_masks_on_sources_without_masks(tmp_path):
    from train.data import own_mask_pool

    with_masks = write_pairs(tmp_path / "a", ["x", "y", "z"])
    plain = tmp_path / "plain"
    save_png(synthetic_mural(48, 48, seed=7), plain / "clean.png")
    (tmp_path / "holdout.txt").write_text("z\n")
    config = DataConfig(sources=[str(with_masks), str(plain)], holdout=str(tmp_path / "holdout.txt"), crop_size=48,
                        min_scale=1.0, mask_sources={"pool": 1.0})
    dataset = load_training_dataset(config)
    pool = own_mask_pool(dataset)
    held_out = np.zeros((48, 48), bool)
    held_out[10:20, 7:27] = True  # z's mask (write_pairs shifts each stem's box)
    assert len(pool) == 2 and not any(np.array_equal(m, held_out) for m in pool.masks)
    samples = DamageSynthesisDataset(dataset, config, "telea", mask_pool=pool)
    plain_row = dataset["source"].index(1)
    torch.manual_seed(0)
    masks = [samples[plain_row]["mask"][0].numpy() > 0 for _ in range(6)]
    assert all(0.01 <= m.mean() <= 0.45 for m in masks)
    # crops of the two training boxes: every damaged row is one contiguous run, unlike synthetic cracks and blobs
    for mask in masks:
        for row in mask[mask.any(axis=1)]:
            assert np.diff(np.flatnonzero(row)).max(initial=1) == 1
    # no pool (no row has a mask): damage is synthesised instead of failing
    no_pool = DamageSynthesisDataset(load_training_dataset(DataConfig(sources=[str(plain)])), config, "telea")
    assert own_mask_pool(no_pool.dataset) is None and no_pool[0]["mask"].sum() > 0
    with pytest.raises(ValueError, match="unknown data.mask_sources pol"):
        DataConfig(mask_sources={"pol": 1.0})


def test_losses_reference_values():
    a = torch.zeros(1, 3, 4, 4)
    b = torch.ones(1, 3, 4, 4)
    weight = torch.zeros(1, 1, 4, 4)
    weight[..., :2, :] = 1
    assert losses.masked_l1(a, b, weight).item() == pytest.approx(1.0)
    b[..., 0, :] = 3  # errors 3 and 1 on the weighted rows: mean |e| 2, mean e^2 5
    assert losses.masked_l1(a, b, weight).item() == pytest.approx(2.0)
    assert losses.masked_mse(a, b, weight).item() == pytest.approx(5.0)
    white = torch.ones(1, 3, 1, 1)
    lab = losses.rgb_to_lab(white)[0, :, 0, 0]
    assert lab.tolist() == pytest.approx([100.0, 0.0, 0.0], abs=0.05)
    red = torch.tensor([1.0, 0, 0])[None, :, None, None]
    assert losses.rgb_to_lab(red)[0, :, 0, 0].tolist() == pytest.approx([53.24, 80.09, 67.20], abs=0.1)
    assert losses.hinge_discriminator_loss(torch.full((2,), 2.0), torch.full((2,), -2.0)).item() == 0.0
    perceptual = losses.PerceptualLoss("alexnet", layers=2)
    x = torch.rand(1, 3, 32, 32)
    assert perceptual(x, x).item() == 0.0 and perceptual(x, x.flip(-1)).item() > 0


def test_schedule_warms_up_then_decays():
    config = TrainConfig(steps=1000, warmup_steps=100)
    assert learning_rate_factor(0, config) == pytest.approx(0.01)
    assert learning_rate_factor(100, config) == pytest.approx(1.0)
    assert learning_rate_factor(1000, config) == pytest.approx(0.1)


def test_overrides_and_unknown_settings(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"steps": 5, "data": {"crop_size": 64}}))
    config = TrainConfig.from_yaml(path, ["data.crop_size=32", "loss.l1_hole=2.5"])
    assert config.steps == 5 and config.data.crop_size == 32 and config.loss.l1_hole == 2.5
    with pytest.raises(ValueError, match="unknown DataConfig settings: crop"):
        TrainConfig.from_dict({"data": {"crop": 1}})


def test_preset_with_a_base_changes_only_what_it_names(tmp_path):
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(
        {"steps": 5, "lr": 0.01, "data": {"crop_size": 64, "workers": 2}, "loss": {"l1_hole": 3.0}}))
    (tmp_path / "variants").mkdir()
    variant = tmp_path / "variants" / "again.yaml"  # the base is found relative to the file that names it
    variant.write_text(yaml.safe_dump({"base": "../recipe.yaml", "steps": 9, "data": {"workers": 0}}))
    config = TrainConfig.from_yaml(variant, ["loss.colour=7"])
    assert (config.steps, config.lr, config.data.crop_size, config.data.workers) == (9, 0.01, 64, 0)
    assert (config.loss.l1_hole, config.loss.colour) == (3.0, 7.0)


def test_single_process_run_logs_validates_exports_and_resumes(tmp_path):
    from train.train import main

    config = tiny_run_config(tmp_path)
    assert main(["--config", str(config)]) == 0
    run = tmp_path / "run"
    rows = (run / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,elapsed_s") and len(rows) == 3
    header = rows[0].split(",")
    last = dict(zip(header, rows[-1].split(",")))
    assert last["val_hole_psnr"] != "" and last["val_hole_psnr_raw"] == ""  # validated at the end; no average
    assert float(last["mse_hole"]) > 0
    assert (run / "samples" / "step-000004.png").is_file() and any((run / "tensorboard").iterdir())
    model, _ = load_muralxgan(run / "model")
    assert model.config.training["steps"] == 4 and "val_hole_psnr" in model.config.training["metrics"]
    with (run / "log.csv").open("a") as log:  # a row logged after the last saved state, by a run that then died
        log.write("5" + "," * (len(header) - 1) + "\n")
    assert main(["--config", str(config), "--resume", "--set", "steps=6"]) == 0
    assert json.loads((run / "state" / "trainer.json").read_text())["step"] == 6
    assert len((run / "log.csv").read_text().splitlines()) == 4  # appended, not restarted


def test_fine_tuning_starts_from_the_checkpoint_and_keeps_its_architecture(tmp_path):
    from train.train import main

    config = tiny_run_config(tmp_path, steps=2)
    assert main(["--config", str(config), "--set", "loss.adversarial_start=100"]) == 0
    parent = tmp_path / "run" / "model"
    # the preset asks for another architecture: the checkpoint's wins, and step 0 restores like the parent
    assert main(["--config", str(config), "--set", f"init_from={parent}", "--set", f"output_dir={tmp_path / 'ft'}",
                 "--set", "model.generator.channels=16", "--set", "steps=2", "--set", "lr=0.0"]) == 0
    child, _ = load_muralxgan(tmp_path / "ft" / "model")
    assert child.config.generator.channels == 8 and child.config.training["init_from"] == str(parent)
    parent_state = load_muralxgan(parent)[0].state_dict()
    generator = [k for k in parent_state if k.startswith("generator.")]
    assert all(torch.equal(parent_state[k], child.state_dict()[k]) for k in generator)  # lr 0: unchanged
    saved = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert saved["model"]["generator"]["channels"] == 8


def test_ema_weights_are_validated_exported_and_resumed(tmp_path):
    """With ema_decay 1.0 the average stays at the weights after step 1, so the export must differ from the
    raw weights of the last step and equal the export of a one-step run."""
    import safetensors.torch

    from train.train import main

    config = tiny_run_config(tmp_path, steps=1)
    ema = ["--set", "ema_decay=1.0", "--set", "loss.adversarial_start=100"]
    assert main(["--config", str(config), *ema, "--set", f"output_dir={tmp_path / 'one'}"]) == 0
    assert main(["--config", str(config), *ema, "--set", "steps=3"]) == 0
    run = tmp_path / "run"
    after_one = load_muralxgan(tmp_path / "one" / "model")[0].state_dict()
    exported = load_muralxgan(run / "model")[0].state_dict()
    raw = safetensors.torch.load_file(run / "state" / "model.safetensors")
    name = "generator.stem.0.conv.weight"
    assert torch.equal(exported[name], after_one[name]) and not torch.equal(exported[name], raw[name])
    header, *rows = (run / "log.csv").read_text().splitlines()
    last = dict(zip(header.split(","), rows[-1].split(",")))
    assert last["val_hole_psnr"] != "" and last["val_hole_psnr_raw"] != ""
    assert main(["--config", str(config), *ema, "--set", "steps=4", "--resume"]) == 0  # the average is restored
    assert torch.equal(load_muralxgan(run / "model")[0].state_dict()[name], after_one[name])


def test_source_weights_give_each_source_its_share(tmp_path):
    from train.data import sampling_weights

    small = write_pairs(tmp_path / "a", ["a0", "a1"])
    large = write_pairs(tmp_path / "b", [f"b{i}" for i in range(8)])
    config = DataConfig(sources=[str(small), str(large)], source_weights=[0.5, 0.5])
    dataset = load_training_dataset(config)
    weights = np.array(sampling_weights(dataset, config))
    sources = np.array(dataset["source"])
    assert weights[sources == 0].sum() == pytest.approx(weights[sources == 1].sum())
    assert sampling_weights(dataset, DataConfig(sources=config.sources)) is None
    with pytest.raises(InputError, match="2 weights for 1 sources"):
        load_training_dataset(DataConfig(sources=[str(small)], source_weights=[1, 2]))


@pytest.mark.slow  # about 30 s: two processes
def test_two_processes_under_accelerate_launch(tmp_path):
    config = tiny_run_config(tmp_path, steps=2)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                           "-m", "train.train", "--config", str(config)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "run"
    assert json.loads((run / "state" / "trainer.json").read_text())["step"] == 2
    assert load_muralxgan(run / "model")[0].config.training["hardware"].startswith("2 x cpu")


PRESETS = sorted(p for p in (ROOT / "train" / "configs").glob("*.yaml") if not p.stem.startswith("chain-"))


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_shipped_presets_parse_and_build(preset):
    from mural_inpaint.models import MuralXGAN

    config = TrainConfig.from_yaml(preset)
    assert config.data.holdout and config.steps > 0
    MuralXGAN(config.model)  # the architecture the preset names can be built


def test_fine_tuning_can_add_fourier_blocks_that_start_as_the_identity(tmp_path):
    from train.train import main

    config = tiny_run_config(tmp_path, steps=2)
    assert main(["--config", str(config), "--set", "loss.adversarial_start=100"]) == 0
    parent_dir = tmp_path / "run" / "model"
    assert main(["--config", str(config), "--set", f"init_from={parent_dir}", "--set", f"output_dir={tmp_path / 'ft'}",
                 "--set", "model_changes={generator: {spectral_blocks: 1}}", "--set", "steps=2",
                 "--set", "lr=0.0"]) == 0
    parent, child = load_muralxgan(parent_dir)[0], load_muralxgan(tmp_path / "ft" / "model")[0]
    assert child.config.generator.spectral_blocks == 1 and len(child.generator.spectral) == 1
    assert child.config.training["model_changes"] == {"generator": {"spectral_blocks": 1}}
    image, mask = torch.rand(1, 3, 32, 32), (torch.rand(1, 1, 32, 32) > 0.7).float()
    text, coarse = torch.randn(1, child.config.generator.text_dim), torch.rand(1, 3, 32, 32)
    with torch.no_grad():  # lr 0: the added block is still the identity, so the child restores as the parent
        assert torch.equal(parent(image, mask, text, coarse), child(image, mask, text, coarse))


def test_validation_uses_every_mask_protocol_and_the_balanced_score_picks_best(tmp_path):
    from train.train import main

    data = write_pairs(tmp_path / "data", [f"m{i}" for i in range(6)], size=64)
    stems = tmp_path / "validation.txt"
    stems.write_text("m4\nm5\n")
    cases = validation_cases(data, stems, masks=["own", "large"])
    assert [c.name for c in cases] == ["m4-own", "m5-own", "m4-large", "m5-large"]
    assert [c.protocol for c in cases] == ["own", "own", "large", "large"]
    own = validation_cases(data, stems)
    assert np.array_equal(cases[0].mask, own[0].mask) and not np.array_equal(cases[2].mask, own[0].mask)
    assert 0.08 <= cases[2].mask.mean() <= 0.20  # the benchmark's large-loss protocol, one loss per crop

    config = tiny_run_config(tmp_path, steps=2)
    overrides = ["--set", "select_on=balanced", "--set", f"data.validation_stems={stems}",
                 "--set", "data.validation_masks=[own, large]", "--set", f"data.holdout=[{stems}]"]
    assert main(["--config", str(config), *overrides]) == 0
    header, *rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    last = dict(zip(header.split(","), rows[-1].split(",")))
    expected = float(last["val_hole_psnr"]) - 10 * np.log10(float(last["val_box_lpips"]))
    # the log keeps LPIPS to 4 decimals: allow for that rounding (in dB) beside the score's own 3 decimals
    rounding = 10 / np.log(10) * 0.00005 / float(last["val_box_lpips"])
    assert float(last["val_score"]) == pytest.approx(expected, abs=0.001 + rounding)
    record = load_muralxgan(tmp_path / "run" / "best")[0].config.training["metrics"]
    assert record["select_on"] == "balanced" and record["validation"]["cases"] == 4
    with pytest.raises(ValueError, match="unknown select_on"):
        TrainConfig(select_on="psnr")


def test_large_mask_source_gives_one_sizeable_loss(tmp_path):
    folder = write_pairs(tmp_path / "a", ["a0"], size=96)
    config = DataConfig(sources=[str(folder)], crop_size=64, mask_sources={"large": 1.0})
    samples = DamageSynthesisDataset(load_training_dataset(config), config, "telea")
    from scipy import ndimage

    for _ in range(3):
        mask = samples[0]["mask"][0].numpy() > 0
        assert ndimage.label(mask)[1] == 1 and 0.08 <= mask.mean() <= 0.20


def test_shipping_writes_the_record_from_the_runs_and_changes_only_inference_settings(tmp_path):
    from train.ship import main as ship_main
    from train.train import main

    config = tiny_run_config(tmp_path, steps=2)
    assert main(["--config", str(config), "--set", "loss.adversarial_start=100"]) == 0
    parent = tmp_path / "run" / "model"
    assert main(["--config", str(config), "--set", f"init_from={parent}", "--set", f"output_dir={tmp_path / 'ft'}",
                 "--set", "steps=2"]) == 0
    summary = tmp_path / "summary.json"
    label = f"muralxgan@{tmp_path / 'ft' / 'best'}"
    summary.write_text(json.dumps({
        "masks": "large", "stems": {"role": "benchmark", "list": "b.txt"},
        "results": {label: {"overall": {"n": 3, "hole_psnr": 21.5, "box_lpips": 0.3}}},
        "paired": {"vs_best_classical": {label: {"hole_psnr": {"against": "fsr", "mean_difference": 1.1}}}}}))
    destination = tmp_path / "shipped"
    assert ship_main([str(tmp_path / "ft" / "best"), "--to", str(destination), "--set", "texture.method=fsr",
                      "--note", "chosen on validation", "--benchmark", str(summary)]) == 0
    shipped, _ = load_muralxgan(destination)
    source, _ = load_muralxgan(tmp_path / "ft" / "best")
    assert shipped.config.texture.method == "fsr" and source.config.texture.method == "none"
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in shipped.state_dict().items())
    record = shipped.config.training
    assert record["recipe"].startswith(f"python -m train.train --config {config}")
    assert record["lineage"][0]["checkpoint"] == str(parent) and "recipe" in record["lineage"][0]
    assert record["shipped"]["changes"] == {"texture": {"method": "fsr"}}
    assert record["benchmark"][0]["means"]["hole_psnr"] == 21.5
    assert record["benchmark"][0]["against_best_classical"]["hole_psnr"]["against"] == "fsr"
    card = (destination / "README.md").read_text()
    assert "chosen on validation" in card and (destination / "train_config.json").is_file()


PINNED = json.loads((FIXTURES / "presets-resolved.json").read_text())


@pytest.mark.parametrize("name", sorted(PINNED))
def test_preset_resolves_to_the_settings_its_runs_used(name):
    """Every preset resolves (bases merged) to the settings pinned when they were rewritten on data.yaml and
    ``base:``; regenerate the fixture only for a deliberate change of a recipe."""
    path = ROOT / "train" / "configs" / f"{name}.yaml"
    resolved = TrainConfig.from_yaml(path).to_dict()
    assert resolved.pop("recipe") == f"python -m train.train --config {path}"
    assert json.loads(json.dumps(resolved)) == PINNED[name]
    if name != "data":
        assert "base" in yaml.safe_load(path.read_text())  # data locations live in data.yaml only


def test_preset_with_several_bases_merges_them_in_order(tmp_path):
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump({"steps": 5, "data": {"sources": ["a"], "workers": 2}}))
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({"data": {"sources": ["a", "b"], "holdout": "h.txt"}}))
    (tmp_path / "both.yaml").write_text(yaml.safe_dump({"base": ["recipe.yaml", "data.yaml"], "steps": 7}))
    config = TrainConfig.from_yaml(tmp_path / "both.yaml")
    assert (config.steps, config.data.sources, config.data.holdout, config.data.workers) == (7, ["a", "b"], "h.txt", 2)


def test_chain_trains_each_stage_from_the_last_one_resumes_skips_and_ships(tmp_path, capsys):
    from train.chain import main as chain_main

    first = tiny_run_config(tmp_path, steps=2)
    (tmp_path / "second.yaml").write_text(yaml.safe_dump(
        {"base": "tiny.yaml", "output_dir": str(tmp_path / "ft"), "seed": 1, "loss": {"adversarial_start": 0}}))
    chain = tmp_path / "chain.yaml"
    chain.write_text(yaml.safe_dump({"stages": [{"config": first.name, "stop_at": 2}, {"config": "second.yaml"}]}))
    shipped = tmp_path / "shipped"
    assert chain_main([str(chain), "--to", str(shipped), "--set", "steps=4", "--set", "loss.adversarial_start=0"]) == 0
    assert json.loads((tmp_path / "run" / "state" / "trainer.json").read_text())["step"] == 2  # stopped at 2 of 4
    child = load_muralxgan(tmp_path / "ft" / "best")[0].config.training
    assert child["init_from"] == str(tmp_path / "run" / "best") and child["steps"] == 4
    assert load_muralxgan(tmp_path / "run" / "best")[0].config.training["recipe"].endswith("--stop-at 2")
    model, _ = load_muralxgan(shipped)
    assert model.config.training["lineage"][0]["checkpoint"] == str(tmp_path / "run" / "best")
    assert "train.chain" in model.config.training["shipped"]["note"]

    state = tmp_path / "ft" / "state" / "trainer.json"  # the second stage as if interrupted at step 2
    state.write_text(json.dumps({**json.loads(state.read_text()), "step": 2}))
    capsys.readouterr()
    assert chain_main([str(chain), "--to", str(shipped), "--set", "steps=4", "--set", "loss.adversarial_start=0"]) == 0
    out = capsys.readouterr().out
    assert "[1/2] tiny: finished" in out and "skipped" in out and "[2/2] second: python -m train.train" in out
    assert "--resume" in out and json.loads(state.read_text())["step"] == 4


def test_chain_default_dry_run_lists_the_shipped_checkpoints_nine_stages(capsys):
    from train.chain import main as chain_main

    assert chain_main([str(ROOT / "train" / "configs" / "chain-default.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    names = ["cpu-2h", "cpu-finetune-murals", "cpu-finetune-pool-ema", "cpu-finetune-mse-256",
             "cpu-finetune-mse-256-round2", "cpu-finetune-mse-256-round3", "cpu-finetune-mse-256-round4",
             "cpu-steering-branch", "cpu-steering-restraint"]
    stages = [line.split(": ", 1) for line in out.splitlines() if line.startswith("[")]
    assert [head.split("] ")[1] for head, _ in stages] == names
    assert stages[0][1].endswith("cpu-2h.yaml --stop-at 4500")
    assert "--set data.workers=0" in stages[3][1]
    for previous, name in itertools.pairwise(names):
        output = "model" if name == "cpu-steering-restraint" else "best"  # it started from the branch's last step
        assert f"init_from runs/{previous}/{output}" in out.split(f"] {name}:")[1].splitlines()[1]
    ship = out.splitlines()[-1]  # what c11de0a shipped
    assert ship.startswith("ship: python -m train.ship runs/cpu-steering-restraint/model --to runs/chain-default/")
