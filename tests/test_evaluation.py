"""The benchmark, its case loader and the text ablation, on tiny synthetic data (no real data needed)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from evaluation import ablation, benchmark
from evaluation.benchmark import COLUMNS, METRICS, aggregate, bucket_of
from evaluation.cases import load_cases
from mural_inpaint.errors import InputError
from mural_inpaint.imaging import HOLE_GREY, save_png
from mural_inpaint.masks import synthesize_damage
from mural_inpaint.metrics import MetricValue
from mural_inpaint.visuals import GRID_CELL
from tests.conftest import synthetic_mural

SIZE = 48
#: name -> (top, left, side) of a square hole: 4.3 %, 11.1 % and 25 % of a 48 x 48 image.
HOLES = {"a": (4, 4, 10), "b": (20, 8, 16), "c": (10, 20, 24)}
BUCKET_OF_CASE = {"a": "0-10%", "b": "10-20%", "c": "20-40%"}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors run as fast on one thread, which also keeps the tests quick when other work shares the CPUs."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def hole_mask(name: str) -> np.ndarray:
    top, left, side = HOLES[name]
    mask = np.zeros((SIZE, SIZE), bool)
    mask[top : top + side, left : left + side] = True
    return mask


@pytest.fixture
def data(tmp_path):
    """A gt/ + mask/ folder with three tiny murals."""
    root = tmp_path / "data"
    for index, name in enumerate(HOLES):
        save_png(synthetic_mural(SIZE, SIZE, seed=index), root / "gt" / f"{name}.png")
        save_png(hole_mask(name), root / "mask" / f"{name}.png")
    return root


@pytest.fixture
def bank(tmp_path):
    """A stand-in for the real-damage mask bank: two masks of other sizes than the images."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "bank"
    save_png(synthesize_damage(90, 120, "mixed", rng), folder / "one.png")
    save_png(synthesize_damage(140, 100, "flake", rng), folder / "sub" / "two.png")
    return folder


def read_csv(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# --- cases ----------------------------------------------------------------------------------------------------------


def test_gt_mask_folders_give_damaged_images_that_hide_the_hole(data):
    cases = load_cases(data)
    assert [case.name for case in cases] == ["a", "b", "c"]
    for index, case in enumerate(cases):
        assert case.mask.dtype == np.bool_ and np.array_equal(case.mask, hole_mask(case.name))
        assert np.array_equal(case.reference, synthetic_mural(SIZE, SIZE, seed=index))
        assert (case.image[case.mask] == HOLE_GREY).all()
        assert np.array_equal(case.image[~case.mask], case.reference[~case.mask])
    assert cases[2].hole_percent == pytest.approx(25.0)


def test_muraldh_images_and_labels_with_class_maps(tmp_path):
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[5:15, 5:20] = 1  # crack class
    labels[30:40, 30:44] = 3  # flaking class
    (tmp_path / "labels").mkdir()
    for name, label_name in (("x", "x_mask"), ("y", "y")):  # MuralDH-style label names, class indices 0..3
        save_png(synthetic_mural(SIZE, SIZE), tmp_path / "images" / f"{name}.png")
        Image.fromarray(labels).save(tmp_path / "labels" / f"{label_name}.png")
    cases = load_cases(tmp_path)
    assert [case.name for case in cases] == ["x", "y"]
    assert all(np.array_equal(case.mask, labels > 0) for case in cases)


def test_datasets_folder_with_configurable_columns(tmp_path):
    import datasets

    images = [Image.fromarray(synthetic_mural(SIZE, SIZE, seed=i)) for i in range(2)]
    masks = [Image.fromarray(hole_mask(name).astype(np.uint8) * 255) for name in ("a", "c")]
    table = datasets.Dataset.from_dict({"picture": images, "damage": masks, "name": ["first", "second"]})
    table.cast_column("picture", datasets.Image()).cast_column("damage", datasets.Image()).save_to_disk(tmp_path / "d")
    cases = load_cases(tmp_path / "d", image_column="picture", mask_column="damage")
    assert [case.name for case in cases] == ["first", "second"]
    assert np.array_equal(cases[1].mask, hole_mask("c"))
    assert np.array_equal(cases[0].reference, synthetic_mural(SIZE, SIZE, seed=0))
    with pytest.raises(InputError, match="no mask column 'mask' \\(columns: picture, damage, name\\)"):
        load_cases(tmp_path / "d", image_column="picture")


def test_clear_errors(tmp_path, data):
    (tmp_path / "empty" / "gt").mkdir(parents=True)
    with pytest.raises(InputError, match="no images"):
        load_cases(tmp_path / "empty")
    (data / "mask" / "b.png").unlink()
    with pytest.raises(InputError, match="no mask for b "):
        load_cases(data)
    with pytest.raises(InputError, match="no such data folder"):
        load_cases(tmp_path / "missing")
    with pytest.raises(InputError, match="not a benchmark folder"):
        load_cases(tmp_path / "empty" / "gt")
    with pytest.raises(InputError, match="Unknown mask protocol"):
        load_cases(data, masks="random")
    save_png(np.zeros((SIZE, SIZE), bool), data / "mask" / "b.png")
    with pytest.raises(InputError, match="b: the mask marks no damage"):
        load_cases(data)
    holdout = tmp_path / "holdout.txt"
    holdout.write_text("a\nzz\n")
    with pytest.raises(InputError, match="not in .*: zz"):
        load_cases(data, holdout=holdout)


def test_holdout_list_and_limit(data, tmp_path):
    holdout = tmp_path / "holdout.txt"
    holdout.write_text("c  # validation\n\na.png\n")
    assert [case.name for case in load_cases(data, holdout=holdout)] == ["a", "c"]
    assert [case.name for case in load_cases(data, holdout=holdout, limit=1)] == ["a"]


def test_bank_masks_are_deterministic_and_independent_of_the_other_cases(data, bank, tmp_path):
    cases = load_cases(data, masks=f"bank:{bank}", seed=3)
    again = load_cases(data, masks=f"bank:{bank}", seed=3)
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(cases, again))
    holdout = tmp_path / "holdout.txt"
    holdout.write_text("c\n")
    (only_c,) = load_cases(data, masks=f"bank:{bank}", seed=3, holdout=holdout)
    assert np.array_equal(only_c.mask, cases[2].mask)
    other_seed = load_cases(data, masks=f"bank:{bank}", seed=4)
    assert any(not np.array_equal(x.mask, y.mask) for x, y in zip(cases, other_seed))
    for case in cases:
        assert case.mask.shape == (SIZE, SIZE) and case.mask.any()
        assert not np.array_equal(case.mask, hole_mask(case.name))
        assert (case.image[case.mask] == HOLE_GREY).all()
    # with the bank protocol, images need no masks of their own
    (data / "mask" / "a.png").unlink()
    assert len(load_cases(data, masks=f"bank:{bank}")) == 3


# --- aggregation ----------------------------------------------------------------------------------------------------


def test_hole_ratio_buckets_include_their_lower_bound():
    assert [bucket_of(p) for p in (0.0, 9.99, 10.0, 19.99, 20.0, 39.99, 40.0, 100.0)] == [
        "0-10%", "0-10%", "10-20%", "10-20%", "20-40%", "20-40%", ">40%", ">40%"]


def test_aggregate_reference_values():
    rows = [
        {"restorer": "x", "hole_percent": 5.0, "hole_psnr": 20.0, "lpips": None},
        {"restorer": "x", "hole_percent": 7.0, "hole_psnr": 22.0, "lpips": 0.2},
        {"restorer": "x", "hole_percent": 25.0, "hole_psnr": 15.0, "lpips": 0.4},
        {"restorer": "y", "hole_percent": 45.0, "hole_psnr": 10.0, "lpips": None},
    ]
    result = aggregate(rows, columns=("hole_psnr", "lpips"))
    assert list(result) == ["x", "y"]
    assert result["x"]["overall"] == {"n": 3, "hole_psnr": pytest.approx(19.0), "lpips": pytest.approx(0.3)}
    buckets = result["x"]["buckets"]
    assert list(buckets) == ["0-10%", "10-20%", "20-40%", ">40%"]
    assert buckets["0-10%"] == {"n": 2, "hole_psnr": pytest.approx(21.0), "lpips": pytest.approx(0.2)}
    assert buckets["10-20%"] == {"n": 0, "hole_psnr": None, "lpips": None}
    assert buckets["20-40%"] == {"n": 1, "hole_psnr": pytest.approx(15.0), "lpips": pytest.approx(0.4)}
    assert result["y"]["overall"] == {"n": 1, "hole_psnr": pytest.approx(10.0), "lpips": None}
    assert result["y"]["buckets"][">40%"]["n"] == 1


# --- the benchmark command ------------------------------------------------------------------------------------------


def test_benchmark_writes_everything_and_reruns_identically(data, tmp_path):
    out = tmp_path / "bench"
    argv = ["--data", str(data), "--restorers", "telea,biharmonic", "--no-lpips", "--no-clip", "--seed", "5"]
    assert benchmark.main([*argv, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"per_image.csv", "summary.json", "summary.md", "grid.png"}

    rows = read_csv(out / "per_image.csv")
    assert tuple(rows[0]) == COLUMNS
    assert sorted((row["case"], row["restorer"]) for row in rows) == sorted(
        (case, restorer) for case in HOLES for restorer in ("telea", "biharmonic"))
    for row in rows:
        assert row["bucket"] == BUCKET_OF_CASE[row["case"]]
        assert float(row["psnr"]) > float(row["hole_psnr"]) > 10  # known pixels are exact
        assert row["lpips"] == "" and row["clip_score"] == ""
        assert "The lost area held" in row["caption"]  # expert captions by default

    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 5 and summary["masks"] == "own" and summary["cases"] == 3
    assert summary["caption_mode"] == "expert"
    assert summary["restorers"]["telea"] == {"restorer": "telea", "radius": 3}
    assert summary["metrics"]["clip_score"] == {"available": False, "reason": "switched off (--no-clip)"}
    for restorer in ("telea", "biharmonic"):
        counts = {label: values["n"] for label, values in summary["results"][restorer]["buckets"].items()}
        assert counts == {"0-10%": 1, "10-20%": 1, "20-40%": 1, ">40%": 0}
    assert summary["environment"]["python"] and summary["environment"]["torch"]
    assert summary["timings"]["total_s"] > 0
    markdown = (out / "summary.md").read_text()
    assert "| biharmonic | 20-40% | 1 |" in markdown and "seed 5" in markdown

    with Image.open(out / "grid.png") as grid:  # 3 rows; input, 2 restorers, ground truth
        assert grid.size == (4 * (GRID_CELL + 4) + 4, 24 + 3 * (GRID_CELL + 4) + 4)

    assert benchmark.main([*argv, "--out", str(tmp_path / "again")]) == 0
    rerun = read_csv(tmp_path / "again" / "per_image.csv")
    keep = ("case", "restorer", "hole_percent", "bucket", *METRICS, "caption")
    assert [[row[c] for c in keep] for row in rows] == [[row[c] for c in keep] for row in rerun]


def test_benchmark_with_lpips_auto_captions_and_clip_unavailable(data, tmp_path, monkeypatch):
    import mural_inpaint.metrics

    calls = []

    def no_clip(image, text, spec=None):
        calls.append(text)
        return MetricValue(None, "no CLIP weights here")

    monkeypatch.setattr(mural_inpaint.metrics, "clip_score", no_clip)
    out = tmp_path / "bench"
    assert benchmark.main(["--data", str(data), "--restorers", "navier-stokes", "--caption", "auto",
                           "--limit", "2", "--out", str(out)]) == 0
    rows = read_csv(out / "per_image.csv")
    assert [row["case"] for row in rows] == ["a", "b"]
    assert all(0 <= float(row["lpips"]) < 1 for row in rows)
    assert all(row["clip_score"] == "" and "The lost area held" not in row["caption"] for row in rows)
    assert len(calls) == 1  # tried once, then reported as unavailable
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["clip_score"] == {"available": False, "reason": "no CLIP weights here"}
    assert "AlexNet" in summary["metrics"]["lpips"]
    assert summary["results"]["navier-stokes"]["overall"]["lpips"] > 0
    assert summary["results"]["navier-stokes"]["overall"]["clip_score"] is None
    assert "unavailable: no CLIP weights here" in (out / "summary.md").read_text()


def test_benchmark_errors_are_one_line_and_exit_code_2(data, tmp_path, capsys):
    assert benchmark.main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert benchmark.main(["--data", str(data), "--restorers", "telea", "--checkpoint", "x",
                           "--out", str(tmp_path / "o")]) == 2
    assert benchmark.main(["--data", str(data), "--restorers", "nope", "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 3 and "no such data folder" in errors[0] and "muralxgan" in errors[1]
    assert "Unknown restorer 'nope'" in errors[2]


# --- the ablation ---------------------------------------------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path):
    """A tiny random MuralXGAN checkpoint whose text (FiLM) and colour net both change the output."""
    import torch

    from tests.test_restorers import tiny_gan

    restorer = tiny_gan(working_size=64)
    with torch.no_grad():
        for film in restorer.model.generator.block_film:
            film.project.weight.normal_(0, 0.5)
    restorer.model.save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def test_ablation_reports_all_modes(data, checkpoint, tmp_path):
    out = tmp_path / "ablation"
    assert ablation.main(["--data", str(data), "--checkpoint", str(checkpoint), "--out", str(out)]) == 0
    report = json.loads((out / "ablation.json").read_text())
    modes = ["expert", "auto", "generic", "shuffled", "none", "colour-net off"]
    assert list(report["results"]) == modes
    assert all(report["results"][mode]["n"] == 3 for mode in modes)
    assert report["restorer"]["checkpoint"] == str(checkpoint)
    markdown = (out / "ablation.md").read_text()
    for mode in modes:
        assert f"| {mode} |" in markdown
    assert "hole PSNR (dB)" in markdown and "hole ΔE00" in markdown

    rows = read_csv(out / "per_image.csv")
    assert len(rows) == 18
    caption = {(row["restorer"], row["case"]): row["caption"] for row in rows}
    assert caption["generic", "a"] == ablation.GENERIC_PROMPT and caption["none", "a"] == ""
    assert caption["shuffled", "a"] == caption["expert", "b"] and caption["shuffled", "c"] == caption["expert", "a"]
    assert caption["colour-net off", "b"] == caption["expert", "b"]
    assert "Damage covers" in caption["auto", "a"] and "The lost area held" not in caption["auto", "a"]
    hole_psnr = {mode: report["results"][mode]["hole_psnr"] for mode in modes}
    assert hole_psnr["none"] != hole_psnr["expert"]  # the text reaches the generator
    assert hole_psnr["colour-net off"] != hole_psnr["expert"]  # and the switch reaches the colour net
