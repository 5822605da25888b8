"""Exports from the store: reviewed captions (JSONL and a ``datasets`` dataset the training package reads) and
votes and skips (CSV and JSONL).

CSV cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return, as in a vote comment ``=HYPERLINK(...)``) are written with a leading apostrophe; JSONL keeps the
text exactly.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from mural_inpaint.errors import InputError
from mural_inpaint.review.store import Store

CAPTION_FIELDS = ("mural_id", "name", "image_path", "mask_path", "caption", "draft", "decision", "reviewer",
                  "reviewed_at")


def reviewed_caption_rows(store: Store, approved_only: bool = True) -> list[dict]:
    """The latest decision per mural: the expert's final text as ``caption``, the machine's draft beside it."""
    rows = []
    for review in store.reviewed_captions():
        if approved_only and review["decision"] != "approved":
            continue
        rows.append({"mural_id": review["mural_id"], "name": review["name"], "image_path": review["image_path"],
                     "mask_path": review["mask_path"], "caption": review["final_text"], "draft": review["draft"],
                     "decision": review["decision"], "reviewer": review["reviewer"],
                     "reviewed_at": review["created_at"]})
    return rows


def export_captions_jsonl(store: Store, path: str | os.PathLike, approved_only: bool = True) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in reviewed_caption_rows(store, approved_only):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def export_captions_dataset(store: Store, folder: str | os.PathLike, push_to_hub: str | None = None,
                            token: str | None = None, approved_only: bool = True):
    """A ``datasets.Dataset`` (image, mask, caption + review columns) saved to ``folder`` and optionally pushed.

    Train on it with ``data.sources: [FOLDER]`` and ``data.caption_mode: damage`` (the captions describe each
    mural's own damage).
    """
    import datasets

    rows = reviewed_caption_rows(store, approved_only)
    if not rows:
        raise InputError("No reviewed captions to export yet.")
    columns = {field: [row[field] for row in rows] for field in CAPTION_FIELDS if field not in ("image_path",
                                                                                                "mask_path")}
    columns["image"] = [row["image_path"] for row in rows]
    columns["mask"] = [row["mask_path"] for row in rows]
    dataset = datasets.Dataset.from_dict(columns).cast_column("image", datasets.Image())
    dataset = dataset.cast_column("mask", datasets.Image())
    dataset.save_to_disk(str(folder))
    if push_to_hub:
        dataset.push_to_hub(push_to_hub, token=token)
    return dataset


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
VOTE_FIELDS = ["id", "pair_id", "rater", "mural_id", "left_system", "right_system", "outcome", "left_score",
               "right_score", "comment", "created_at"]
SKIP_FIELDS = ["id", "pair_id", "rater", "mural_id", "reason", "detail", "created_at"]


def csv_safe(value):
    """A text cell a spreadsheet would run as a formula, prefixed with an apostrophe; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows({k: csv_safe(row[k]) for k in fields} for row in rows)
    return path


def write_jsonl(path: Path, fields: list[str], rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps({k: row[k] for k in fields}, ensure_ascii=False) + "\n")
    return path


def export_votes(store: Store, folder: str | os.PathLike) -> tuple[Path, Path]:
    """All votes, with the systems revealed, as ``votes.csv`` and ``votes.jsonl`` (for admins)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    votes = store.votes()
    return write_csv(folder / "votes.csv", VOTE_FIELDS, votes), write_jsonl(folder / "votes.jsonl", VOTE_FIELDS, votes)


def export_skips(store: Store, folder: str | os.PathLike) -> Path:
    """Every skipped pair (who, which mural, the reason) as ``skips.csv`` (for admins)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return write_csv(folder / "skips.csv", SKIP_FIELDS, store.skips())
