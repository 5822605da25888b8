import csv
import json

import numpy as np
import pytest
import torch

from mural_inpaint.errors import InputError
from mural_inpaint.imaging import save_png
from mural_inpaint.review.exports import export_captions_dataset, export_captions_jsonl, export_votes
from mural_inpaint.review.store import Store
from tests.helpers import synthetic_mural
from train.config import DataConfig
from train.data import DamageSynthesisDataset, load_training_dataset


@pytest.fixture
def reviewed(tmp_path):
    store = Store(tmp_path / "t.db")
    for index, decision in enumerate(("approved", "rejected", "approved")):
        mural_id = f"m{index}"
        mask = np.zeros((48, 48), bool)
        mask[10:30, 10:30] = True
        image_path = save_png(synthetic_mural(48, 48, seed=index), tmp_path / "img" / f"{mural_id}.png")
        mask_path = save_png(mask, tmp_path / "mask" / f"{mural_id}.png")
        store.add_mural(mural_id, mural_id, 48, 48, str(image_path), str(mask_path))
        store.add_caption(mural_id, "describer", f"draft {index}")
        store.review_caption(mural_id, "ana", f"expert text {index}", decision)
    return store


def test_jsonl_holds_approved_final_texts(reviewed, tmp_path):
    lines = export_captions_jsonl(reviewed, tmp_path / "out" / "captions.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["caption"] for r in rows] == ["expert text 0", "expert text 2"]
    assert rows[0]["draft"] == "draft 0" and rows[0]["reviewer"] == "ana"


def test_dataset_export_trains_with_expert_damage_captions(reviewed, tmp_path):
    export_captions_dataset(reviewed, tmp_path / "ds")
    config = DataConfig(sources=[str(tmp_path / "ds")], caption_mode="damage", crop_size=48, min_scale=1.0,
                        text_dropout=0.0, mask_sources={"own": 1.0})
    dataset = load_training_dataset(config)
    assert len(dataset) == 2
    torch.manual_seed(0)
    sample = DamageSynthesisDataset(dataset, config, "telea")[0]
    assert sample["caption"] in {"expert text 0", "expert text 2"}
    assert sample["mask"].sum() == 400  # its own mask, so the expert's text applies


def test_export_with_nothing_reviewed_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="No reviewed captions"):
        export_captions_dataset(Store(tmp_path / "e.db"), tmp_path / "ds")


def test_votes_export(tmp_path):
    store = Store(tmp_path / "v.db")
    store.add_mural("m", "m", 8, 8, "i", "k")
    for system in ("telea", "muralxgan"):
        store.add_candidate("m", system, f"{system}.png", {})
    pair = store.issue_pair("ana", np.random.default_rng(0))
    store.record_vote(pair.pair_id, "ana", "tie", comment="close")
    csv_path, jsonl_path = export_votes(store, tmp_path / "export")
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 1 and rows[0]["outcome"] == "tie" and rows[0]["comment"] == "close"
    assert {rows[0]["left_system"], rows[0]["right_system"]} == {"telea", "muralxgan"}
    assert json.loads(jsonl_path.read_text())["rater"] == "ana"
