import json
from types import SimpleNamespace

import numpy as np
import pytest

from evaluation.speed import SpeedCase, app_startup, app_startups, damage_at, gan_cost, main, markdown, run, time_case
from tests.helpers import synthetic_mural, tiny_gan


def test_damage_reaches_the_target_fraction():
    mask = damage_at(128, 128, 15, np.random.default_rng(0))
    assert 15 <= 100 * mask.mean() <= 15 * 1.25


def test_gan_cost_counts_parameters_and_macs():
    model = tiny_gan().model
    cost = gan_cost(model, size=32)
    assert cost["parameters"] == sum(p.numel() for p in model.parameters())
    first = model.generator.stem[0].conv  # a stride-2 3x3 conv: out pixels = 1/4 of the input's
    assert cost["macs_per_pixel"] > first.out_channels * first.in_channels * 9 / 4


def test_run_reports_ratios_against_telea(tmp_path):
    image = synthetic_mural(64, 64)
    mask = np.zeros((64, 64), bool)
    mask[20:30, 20:40] = True
    results = run(["telea", "navier-stokes"], [SpeedCase("tiny", "crops", image, mask)], repeats=2)
    timing = results["restorers"]["navier-stokes"]["timings"]["tiny"]
    telea = results["restorers"]["telea"]["timings"]["tiny"]
    assert 0 < timing["restore_median_s"] <= timing["median_s"] <= timing["p95_s"]
    assert timing["vs_telea"] == pytest.approx(timing["median_s"] / telea["median_s"]) and telea["vs_telea"] == 1.0
    assert "| tiny |" in markdown(results)


def test_time_case_leaves_out_the_warm_up_and_takes_median_and_p95_of_the_repeats():
    class Timed:  # a pipeline whose runs take the given times
        def __init__(self, totals):
            self.totals = iter(totals)

        def restore(self, image, mask, caption=None, seed=0):
            total = next(self.totals)
            return SimpleNamespace(provenance={"timings": {"total_s": total, "restore_s": total / 2}})

    case = SpeedCase("tiny", "crops", synthetic_mural(8, 8), np.ones((8, 8), bool))
    timing = time_case(Timed([9.0, 0.4, 0.1, 0.3, 0.2, 1.0]), case, repeats=5)  # 9.0: the warm-up
    assert timing == {"median_s": pytest.approx(0.3), "p95_s": pytest.approx(0.88), "restore_median_s": 0.15}


@pytest.mark.slow  # a full-size mural and its larger canvases (the real one from ../shared/data when present)
def test_command_line_writes_the_table(tmp_path):
    assert main(["--out", str(tmp_path), "--restorers", "telea", "--sizes", "64", "--damage", "10",
                 "--repeats", "1", "--no-app"]) == 0
    data = json.loads((tmp_path / "speed.json").read_text())
    assert "64px 10%" in data["cases"] and (tmp_path / "speed.md").read_text().startswith("| case |")


@pytest.mark.slow  # a fresh `python app.py` process up to its first restore
def test_app_startup_measures_a_real_first_restore():
    image = synthetic_mural(64, 64)
    mask = np.zeros((64, 64), bool)
    mask[20:30, 20:40] = True
    startup = app_startup(SpeedCase("tiny", "crops", image, mask))
    assert 0 < startup["page_s"] < startup["first_restore_s"] and startup["case"] == "tiny"


def test_app_startups_report_the_median_and_p95_of_fresh_starts(monkeypatch):
    import evaluation.speed as speed

    starts = iter([{"page_s": 4.0, "first_restore_s": 8.0}, {"page_s": 3.0, "first_restore_s": 7.0},
                   {"page_s": 5.0, "first_restore_s": 9.5}])
    monkeypatch.setattr(speed, "app_startup", lambda case: next(starts) | {"case": case.name})
    summary = app_startups(SpeedCase("tiny", "crops", synthetic_mural(8, 8), np.ones((8, 8), bool)), 3)
    assert (summary["page_s"], summary["first_restore_s"]) == (4.0, 8.0) and len(summary["runs"]) == 3
    assert summary["first_restore_p95_s"] == pytest.approx(9.35)  # numpy's linear interpolation: 8 + 0.9 * 1.5
    line = markdown({"cases": {}, "restorers": {}, "app_startup": summary}).splitlines()[-1]
    assert line.endswith("to page: 4.0 s; to the first restore of the tiny case, model loading included: 8.0 s "
                         "(median of 3 starts; p95 4.9 s and 9.3 s).")


def test_canvas_curve_is_relative_to_the_mural():
    image = synthetic_mural(48, 48)
    mask = np.zeros((48, 48), bool)
    mask[10:20, 10:20] = True
    big = np.zeros((96, 96, 3), np.uint8)
    big[:48, :48] = image
    same = np.zeros((96, 96), bool)
    same[:48, :48] = mask
    cases = [SpeedCase("mural 48x48", "mural", image, mask), SpeedCase("4x canvas, same damage 96x96", "canvas", big,
                                                                        same)]
    table = markdown(run(["telea"], cases, repeats=1))
    assert "| restorer | 4x canvas |" in table and "| telea | " in table.split("Same damage, larger canvas")[1]


@pytest.mark.slow  # two fresh `muralxgan restore` processes
def test_photos_with_real_damage_are_timed_in_the_process_and_as_a_whole_cli_run():
    image = synthetic_mural(64, 80)
    mask = np.zeros((64, 80), bool)
    mask[20:30, 20:40] = True
    results = run(["muralxgan"], [SpeedCase("cave 80x64", "real", image, mask)], repeats=2)
    timing = results["restorers"]["muralxgan"]["timings"]["cave 80x64"]
    assert 0 < timing["median_s"] < timing["cli_median_s"] <= timing["cli_p95_s"]  # the process adds its start-up
    table = markdown(results)
    assert "whole process median / p95 (s)" in table and "| cave 80x64 | 3.9% |" in table
    assert "| median of the photos |" in table


def test_scattered_damage_gets_its_own_photo_table():
    cases = {"cave 80x64": {"group": "real", "damaged_percent": 10.0},
             "cave scattered 80x64": {"group": "sparse", "damaged_percent": 0.5}}
    timings = {"cave 80x64": {"median_s": 2.0, "p95_s": 2.1, "cli_median_s": 6.0, "cli_p95_s": 6.2},
               "cave scattered 80x64": {"median_s": 1.0, "p95_s": 1.1}}
    table = markdown({"cases": cases, "restorers": {"muralxgan": {"timings": timings}}})
    real, scattered = table.split("muralxgan on photos with")[1:]
    assert "| cave 80x64 | 10.0% | 2.00 / 2.10 | 6.00 / 6.20 |" in real and "scattered" not in real.split("|")[0]
    assert scattered.startswith(" scattered damage (the sparsest real traced masks, 0.3-1.5 % at their own size)")
    assert "| cave scattered 80x64 | 0.5% | 1.00 / 1.10 | - |" in scattered
    assert "| median of the photos | | 1.00 | - |" in scattered
