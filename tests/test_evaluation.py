"""The benchmark, its case loader and the text ablation, on tiny synthetic data (no real data needed)."""

from __future__ import annotations

import csv
import json
import time

import numpy as np
import pytest
from PIL import Image

from evaluation import ablation, benchmark
from evaluation.benchmark import COLUMNS, METRICS, aggregate, bucket_of, comparisons, paired, score
from mural_inpaint.data.cases import Case, load_cases
from mural_inpaint.data.damage import synthesize_damage
from mural_inpaint.errors import InputError
from mural_inpaint.imaging import HOLE_GREY, save_png
from mural_inpaint.metrics import MetricValue, lpips_distance
from mural_inpaint.restorers import RESTORERS
from mural_inpaint.visuals import GRID_CELL
from tests.helpers import synthetic_mural, tiny_gan

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


@pytest.fixture
def murals(tmp_path):
    """A gt/ folder of five 64 px murals without masks of their own (for the large-loss protocol)."""
    root = tmp_path / "murals"
    for index in range(5):
        save_png(synthetic_mural(64, 64, seed=index), root / "gt" / f"m{index}.png")
    return root


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


def test_large_protocol_is_one_sizeable_loss_reproducible_and_independent_of_the_subset(murals, tmp_path):
    from scipy import ndimage

    cases = load_cases(murals, masks="large", seed=0)
    assert [case.name for case in cases] == [f"m{i}" for i in range(5)]
    for index, case in enumerate(cases):
        assert np.array_equal(case.mask, synthesize_damage(64, 64, "large", np.random.default_rng([0, index])))
        assert 8.0 <= case.hole_percent <= 20.0
        assert ndimage.label(case.mask)[1] == 1  # one contiguous loss
        assert (case.image[case.mask] == HOLE_GREY).all()
    assert len({case.mask.tobytes() for case in cases}) == 5  # a mask of its own per case
    again = load_cases(murals, masks="large", seed=0)
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(cases, again, strict=True))
    limited = load_cases(murals, masks="large", seed=0, limit=2)
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(limited, cases[:2], strict=True))
    holdout = tmp_path / "stems.txt"
    holdout.write_text("m3\nm1\n")
    subset = load_cases(murals, masks="large", seed=0, holdout=holdout)
    assert [case.name for case in subset] == ["m1", "m3"]
    assert np.array_equal(subset[0].mask, cases[1].mask) and np.array_equal(subset[1].mask, cases[3].mask)
    other_seed = load_cases(murals, masks="large", seed=1)
    assert all(not np.array_equal(x.mask, y.mask) for x, y in zip(cases, other_seed, strict=True))


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


def test_box_lpips_is_zero_for_a_perfect_restoration_and_hole_metrics_skip_empty_holes():
    reference = synthetic_mural(128, 128, seed=1)
    mask = np.pad(hole_mask("b"), ((0, 80), (0, 80)))  # a 16 px hole: its box is 64 px of the 128 px image
    case = Case("x", reference.copy(), mask, reference)
    perfect = score(reference, case, "", clip=None)
    assert perfect["box_lpips"] == pytest.approx(0.0, abs=1e-6) and perfect["lpips"] == pytest.approx(0.0, abs=1e-6)
    blurred = reference.copy()
    blurred[mask] = reference[mask].mean(axis=0).astype(np.uint8)  # a flat fill
    flat = score(blurred, case, "", clip=None)
    assert flat["box_lpips"] > 0.01 and flat["box_lpips"] > 2 * flat["lpips"], flat  # the box is not diluted
    assert score(blurred, case, "", lpips=False)["box_lpips"] is None
    empty = score(reference, Case("e", reference, np.zeros((128, 128), bool), reference), "", lpips=False)
    assert all(empty[m] is None for m in ("hole_psnr", "hole_ssim", "hole_ciede2000", "box_lpips"))
    assert empty["psnr"] == 100.0
    rows = [{"restorer": "r", "hole_percent": 0.0, **empty},
            {"restorer": "r", "hole_percent": 10.0, **score(blurred, case, "", lpips=False)}]
    means = aggregate(rows)["r"]["overall"]  # the empty hole is left out of the hole means, not counted as perfect
    assert means["hole_psnr"] == pytest.approx(rows[1]["hole_psnr"]) and means["box_lpips"] is None


def hand_rows() -> list[dict]:
    """Per-crop scores of three restorers on four crops, made by hand."""
    table = {  # restorer: [(hole_psnr, hole_ciede2000, box_lpips) per crop c0..c3]
        "telea": [(20.0, 8.0, 0.30), (18.0, 9.0, 0.40), (22.0, 6.0, 0.20), (19.0, 7.0, 0.30)],
        "biharmonic": [(21.0, 7.5, 0.32), (18.5, 9.5, 0.38), (22.5, 6.5, 0.22), (19.0, 7.0, 0.28)],
        "gan": [(23.0, 7.0, 0.20), (19.0, 8.0, 0.30), (22.0, 7.0, 0.25), (21.0, 6.0, None)],
    }
    return [{"case": f"c{i}", "restorer": name, "hole_percent": 10.0, "hole_psnr": p, "hole_ciede2000": e,
             "box_lpips": b} for name, values in table.items() for i, (p, e, b) in enumerate(values)]


def test_paired_statistics_equal_hand_computed_values():
    rows = hand_rows()
    # gan - biharmonic, hole PSNR: +2.0, +0.5, -0.5, +2.0 -> mean 1.0, sample std sqrt(1.5), SE sqrt(1.5) / 2
    stats = paired(rows, "hole_psnr", "gan", "biharmonic")
    assert stats["n"] == 4 and stats["mean_diff"] == pytest.approx(1.0)
    assert stats["se"] == pytest.approx(np.sqrt(1.5) / 2)
    assert (stats["wins"], stats["ties"], stats["losses"]) == (3, 0, 1)
    assert stats["mean"] == pytest.approx(21.25) and stats["other_mean"] == pytest.approx(20.25)
    # ΔE00, lower is better: -0.5, -1.5, +0.5, -1.0 -> mean -0.625, sample var 0.72917, 3 wins
    stats = paired(rows, "hole_ciede2000", "gan", "biharmonic")
    assert stats["mean_diff"] == pytest.approx(-0.625)
    assert stats["se"] == pytest.approx(np.sqrt(np.var([-0.5, -1.5, 0.5, -1.0], ddof=1) / 4))
    assert stats["wins"] == 3
    # box LPIPS: gan has no value on c3, so 3 crops: -0.12, -0.08, +0.03; ratio of means 0.25 / 0.30667
    stats = paired(rows, "box_lpips", "gan", "biharmonic")
    assert stats["n"] == 3 and stats["mean_diff"] == pytest.approx(-0.17 / 3)
    assert stats["se"] == pytest.approx(np.std([-0.12, -0.08, 0.03], ddof=1) / np.sqrt(3))
    assert stats["wins"] == 2 and stats["ratio_of_means"] == pytest.approx(0.25 / (0.92 / 3))
    # equal values are ties, not wins; a single crop has no standard error
    stats = paired(rows, "hole_psnr", "biharmonic", "telea")
    assert (stats["wins"], stats["ties"], stats["losses"]) == (3, 1, 0) and stats["mean_diff"] == pytest.approx(0.5)
    assert paired(rows[:1] + rows[4:5], "hole_psnr", "biharmonic", "telea")["se"] is None

    compared = comparisons(rows)
    # best classical per metric: biharmonic on hole PSNR (20.25 vs 19.75), telea on ΔE00 (7.5 vs 7.625) and on
    # box LPIPS (0.30 vs 0.30: equal means, the first listed wins the tie); gan is not classical
    assert compared["best_classical"] == {"hole_psnr": "biharmonic", "hole_ciede2000": "telea", "box_lpips": "telea"}
    assert compared["classical"] == ["telea", "biharmonic"]
    assert compared["vs_best_classical"]["gan"]["hole_psnr"] == {"against": "biharmonic",
                                                               **paired(rows, "hole_psnr", "gan", "biharmonic")}
    assert "hole_psnr" not in compared["vs_best_classical"]["biharmonic"]  # not compared with itself
    assert compared["vs_best_classical"]["biharmonic"]["hole_ciede2000"]["against"] == "telea"
    assert set(compared["pairs"]["gan"]) == {"telea", "biharmonic"} and set(compared["pairs"]) == {
        "telea", "biharmonic", "gan"}
    assert compared["pairs"]["telea"]["gan"]["hole_psnr"]["mean_diff"] == pytest.approx(-1.5)


def test_fsr_is_a_listed_restorer():
    assert {"telea", "navier-stokes", "biharmonic", "fsr"} <= set(RESTORERS.names())
    assert set(benchmark.CLASSICAL) == {"telea", "navier-stokes", "biharmonic", "fsr"}


# --- the benchmark command ------------------------------------------------------------------------------------------


def test_benchmark_writes_everything_and_reruns_identically(data, tmp_path):
    out = tmp_path / "bench"
    argv = ["--data", str(data), "--restorers", "telea,biharmonic", "--no-lpips", "--no-clip", "--seed", "5"]
    started = time.perf_counter()
    assert benchmark.main([*argv, "--out", str(out)]) == 0
    wall_s = time.perf_counter() - started
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
    timings = summary["timings"]  # each part inside the whole, the whole inside the test's own clock (1 ms rounding)
    assert set(timings["restorers_s"]) == set(timings["restore_s"]) == {"telea", "biharmonic"}
    for restorer in ("telea", "biharmonic"):
        per_crop = [float(row["total_s"]) for row in rows if row["restorer"] == restorer]
        assert timings["restore_s"][restorer] == pytest.approx(sum(per_crop), abs=1e-3)
        assert 0 < timings["restore_s"][restorer] <= timings["restorers_s"][restorer] + 1e-3  # + scoring
    assert timings["load_cases_s"] + sum(timings["restorers_s"].values()) <= timings["total_s"] + 3e-3
    assert timings["total_s"] <= wall_s + 1e-3
    markdown = (out / "summary.md").read_text()
    assert "| biharmonic | 20-40% | 1 |" in markdown and "seed 5" in markdown

    # LPIPS switched off (--no-lpips): no empty hole-box LPIPS column, in the means or the paired tables
    assert "| hole-box LPIPS" not in markdown and "Δ hole-box LPIPS" not in markdown
    assert summary["stems"] == {"list": None, "role": "all", "note": "every case of the data (no --holdout list)"}
    assert "crops: all cases (no stems list)" in markdown
    with Image.open(out / "grid.png") as grid:  # 3 rows; input, 2 restorers, ground truth; a title line
        assert grid.size == (4 * (GRID_CELL + 4) + 4, 46 + 3 * (GRID_CELL + 4) + 4)

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
    lpips_per_crop = [float(row["lpips"]) for row in rows]
    assert summary["results"]["navier-stokes"]["overall"]["lpips"] == pytest.approx(np.mean(lpips_per_crop), abs=1e-3)
    cases = {case.name: case for case in load_cases(data, limit=2)}
    assert all(lpips_distance(case.reference, case.reference) == pytest.approx(0, abs=1e-6) for case in cases.values())
    damaged = [lpips_distance(cases[row["case"]].image, cases[row["case"]].reference) for row in rows]
    # each restoration is nearer the clean mural than its grey-holed input, yet not identical to it; the 4 % hole
    # costs less than the 11 % one, before and after restoring
    assert all(0 < restored < hole for restored, hole in zip(lpips_per_crop, damaged, strict=True))
    assert damaged[0] < damaged[1] and lpips_per_crop[0] < lpips_per_crop[1]
    assert summary["results"]["navier-stokes"]["overall"]["clip_score"] is None
    assert "unavailable: no CLIP weights here" in (out / "summary.md").read_text()


def test_benchmark_large_protocol_with_fsr_box_lpips_and_paired_tables(murals, tmp_path):
    holdout = tmp_path / "validation-murals.txt"
    holdout.write_text("# crops that choices are made on\nm0\nm2\nm3\nm4\n")
    out = tmp_path / "bench"
    assert benchmark.main(["--data", str(murals), "--masks", "large", "--holdout", str(holdout), "--limit", "3",
                           "--restorers", "telea,fsr", "--no-clip", "--caption", "auto", "--out", str(out)]) == 0
    rows = read_csv(out / "per_image.csv")
    assert [(row["case"], row["restorer"]) for row in rows] == [
        (case, restorer) for restorer in ("telea", "fsr") for case in ("m0", "m2", "m3")]
    assert all(0 < float(row["box_lpips"]) < 1 for row in rows)
    assert all(float(row["lpips"]) <= float(row["box_lpips"]) + 1e-6 for row in rows)  # the box is >= the hole
    assert all(8 <= float(row["hole_percent"]) <= 20 for row in rows)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["masks"] == "large" and summary["restorers"]["fsr"] == {"restorer": "fsr", "variant": "fast"}
    assert summary["stems"]["role"] == "validation" and summary["stems"]["stems"] == ["m0", "m2", "m3", "m4"]
    assert summary["stems"]["note"] == "crops that choices are made on" and summary["stems"]["list"] == str(holdout)
    for restorer in ("telea", "fsr"):
        mine = [float(row["box_lpips"]) for row in rows if row["restorer"] == restorer]
        assert summary["results"][restorer]["overall"]["box_lpips"] == pytest.approx(np.mean(mine), abs=1e-5)
    compared = summary["paired"]
    assert set(compared["best_classical"]) == {"hole_psnr", "hole_ciede2000", "box_lpips"}
    assert set(compared["best_classical"].values()) <= {"telea", "fsr"}
    psnr = {r: [float(row["hole_psnr"]) for row in rows if row["restorer"] == r] for r in ("telea", "fsr")}
    diffs = np.subtract(psnr["fsr"], psnr["telea"])
    stats = compared["pairs"]["fsr"]["telea"]["hole_psnr"]
    assert stats["n"] == 3 and stats["mean_diff"] == pytest.approx(diffs.mean(), abs=1e-5)
    assert stats["se"] == pytest.approx(diffs.std(ddof=1) / np.sqrt(3), abs=1e-5)
    assert stats["wins"] == int((diffs > 0).sum())

    markdown = (out / "summary.md").read_text()
    assert ("| restorer | n | PSNR (dB) | SSIM | hole PSNR (dB) | hole SSIM | hole ΔE00 | hole-box LPIPS | LPIPS |"
            in markdown)
    assert "## Paired per crop" in markdown and "### Against the best classical method per metric" in markdown
    assert f"hole PSNR (dB) vs {compared['best_classical']['hole_psnr']}" in markdown
    assert "| fsr | telea | 3 |" in markdown and "| telea | fsr | 3 |" in markdown
    assert f", {stats['wins']}/3" in markdown
    assert "crops: validation stems" in markdown and "masks: `large`" in markdown
    with Image.open(out / "grid.png") as grid:  # 3 rows; damaged, telea, fsr, reference
        assert grid.size == (4 * (GRID_CELL + 4) + 4, 46 + 3 * (GRID_CELL + 4) + 4)


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
    modes = ["expert", "conservator", "auto", "generic", "shuffled", "none", "colour-net off"]
    assert list(report["results"]) == modes
    assert all(report["results"][mode]["n"] == 3 for mode in modes)
    assert report["restorer"]["checkpoint"] == str(checkpoint)
    markdown = (out / "ablation.md").read_text()
    for mode in modes:
        assert f"| {mode} |" in markdown
    assert "hole PSNR (dB)" in markdown and "hole ΔE00" in markdown and "hole-box LPIPS" in markdown
    assert report["results"]["conservator"]["box_lpips"] is not None

    rows = read_csv(out / "per_image.csv")
    assert len(rows) == 21  # 7 modes x 3 cases
    caption = {(row["restorer"], row["case"]): row["caption"] for row in rows}
    assert caption["generic", "a"] == ablation.GENERIC_PROMPT and caption["none", "a"] == ""
    assert caption["shuffled", "a"] == caption["expert", "b"] and caption["shuffled", "c"] == caption["expert", "a"]
    assert caption["colour-net off", "b"] == caption["expert", "b"]
    assert "Damage covers" in caption["auto", "a"] and "The lost area held" not in caption["auto", "a"]
    hole_psnr = {mode: report["results"][mode]["hole_psnr"] for mode in modes}
    assert hole_psnr["none"] != hole_psnr["expert"]  # the text reaches the generator
    assert hole_psnr["colour-net off"] != hole_psnr["expert"]  # and the switch reaches the colour net
