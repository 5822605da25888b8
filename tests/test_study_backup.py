"""Backups that restore the whole study (issue 14, point 4): the database and every file it points to, to a folder
or a Hub dataset (faked here: the Hub cannot be reached), brought back at start when the files folder is gone."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from mural_inpaint.app.blind_logic import cast_vote, next_pair
from mural_inpaint.app.catalogue import fill_candidates, import_collection
from mural_inpaint.app.context import create_context, pipeline_for, shared_captioner
from mural_inpaint.app.review_logic import decide, review_view
from mural_inpaint.app.settings import AppSettings
from mural_inpaint.errors import InputError
from mural_inpaint.imaging import load_image
from tests.app_fixtures import LOGINS, write_collection
from tests.helpers import back_to_schema_1

SYSTEMS = ("telea", "biharmonic")


def study_settings(root: Path, **backup) -> AppSettings:
    return AppSettings(db_path=root / "server" / "study.db", logins=LOGINS, admins=frozenset({"alice"}),
                       blind_systems=SYSTEMS, **backup)


def run_a_study(settings: AppSettings, murals: Path, hf_api=None):
    """A study with murals, candidates, one review decision and three votes; returns (context, votes cast)."""
    context = create_context(settings, start_worker=False, hf_api=hf_api)
    import_collection(context.store, settings.files, str(write_collection(murals)), 10, shared_captioner())
    for mural in context.store.murals():
        fill_candidates(context.store, settings.files, mural["id"], SYSTEMS, pipeline_for)
    decide(context, "alice", context.store.murals()[0]["id"], "Flaking in the robe.", "approved")
    rng = np.random.default_rng(0)
    for rater in ("alice", "bob", "alice"):
        cast_vote(context, rater, next_pair(context, rater, rng).pair_id, "left")
    return context


def test_restart_from_a_folder_backup_with_the_files_folder_gone(tmp_path):
    settings = study_settings(tmp_path, backup_dir=tmp_path / "other-disk" / "backup", backup_minutes=60)
    context = run_a_study(settings, tmp_path / "murals")
    summary = context.backup_folder.push()
    assert summary["files"] == 3 * 2 + 3 * len(SYSTEMS) and summary["new_files"] == summary["files"]
    assert summary["missing"] == []
    assert context.backup_folder.push() is None  # nothing changed: no second backup
    votes = [(v["pair_id"], v["outcome"]) for v in context.store.votes()]
    context.close()

    shutil.rmtree(settings.files)  # the files folder is lost; the database is still there
    broken = create_context(study_settings(tmp_path), start_worker=False)  # (no backup configured)
    with pytest.raises(InputError, match="could not be loaded") as raised:
        next_pair(broken, "bob", np.random.default_rng(1))
    assert str(tmp_path) not in str(raised.value)
    with pytest.raises(InputError, match="missing or unreadable on the server; an admin can bring them back") as raised:
        review_view(broken, 0)
    assert str(tmp_path) not in str(raised.value) and ".png" not in str(raised.value)
    broken.close()

    restarted = create_context(settings, start_worker=False)
    assert any(note.startswith(f"restored {summary['files']} files from ") for note in restarted.notes)
    assert [(v["pair_id"], v["outcome"]) for v in restarted.store.votes()] == votes
    view = review_view(restarted, 0)  # Caption review is back
    assert view.total == 3 and load_image(view.image).shape == (64, 80, 3)
    shown = next_pair(restarted, "bob", np.random.default_rng(2))  # and Blind A/B
    assert all(load_image(path).shape == (64, 80, 3) for path in (shown.damaged, shown.left, shown.right))
    assert "A was **" in cast_vote(restarted, "bob", shown.pair_id, "tie")
    restarted.close()  # the final backup takes the new vote along

    shutil.rmtree(settings.files)  # a Space restart: nothing on disk at all
    settings.db_path.unlink()
    for leftover in settings.db_path.parent.glob("study.db*"):
        leftover.unlink()
    fresh = create_context(settings, start_worker=False)
    assert any(note.startswith("restored the database and ") for note in fresh.notes), fresh.notes
    assert len(fresh.store.votes()) == len(votes) + 1
    assert all(Path(mural["image_path"]).is_file() and Path(mural["image_path"]).is_relative_to(settings.files)
               for mural in fresh.store.murals())
    assert fresh.store.latest_approved_text(fresh.store.murals()[0]["id"]) == "Flaking in the robe."
    next_pair(fresh, "carol", np.random.default_rng(3))
    fresh.close()


def test_a_backup_file_that_does_not_match_its_manifest_is_not_restored(tmp_path):
    backup = tmp_path / "backup"
    settings = study_settings(tmp_path, backup_dir=backup, backup_minutes=60)
    context = run_a_study(settings, tmp_path / "murals")
    context.close()
    candidate = next(iter((backup / "files" / "candidates").iterdir()))
    candidate.unlink()
    candidate.write_bytes(b"tampered")
    shutil.rmtree(settings.files)
    restarted = create_context(settings, start_worker=False)
    assert any(f"1 files the database points to are not in the backup (candidates/{candidate.name})" in note
               for note in restarted.notes), restarted.notes
    restarted.close()



def test_a_backup_written_before_the_murals_table_was_renamed_still_restores(tmp_path):
    """A snapshot of schema 1 (the murals' table called ``items``): its files are found and restored, and the store
    migrates the database once it opens it."""
    import json

    from mural_inpaint.app.backup import MANIFEST_NAME, SNAPSHOT_NAME, sha256_of

    backup = tmp_path / "backup"
    settings = study_settings(tmp_path, backup_dir=backup, backup_minutes=60)
    context = run_a_study(settings, tmp_path / "murals")
    votes = len(context.store.votes())
    context.close()
    snapshot = backup / SNAPSHOT_NAME
    with sqlite3.connect(snapshot) as old:
        old.executescript(back_to_schema_1())
    old.close()
    manifest = json.loads((backup / MANIFEST_NAME).read_text())
    manifest["database_sha256"] = sha256_of(snapshot)
    (backup / MANIFEST_NAME).write_text(json.dumps(manifest))
    shutil.rmtree(settings.files)  # a wiped server
    for leftover in settings.db_path.parent.glob("study.db*"):
        leftover.unlink()
    fresh = create_context(settings, start_worker=False)
    assert any(note.startswith("restored the database and 12 files") for note in fresh.notes), fresh.notes
    assert len(fresh.store.votes()) == votes and len(fresh.store.murals()) == 3
    assert all(Path(mural["image_path"]).is_file() for mural in fresh.store.murals())
    next_pair(fresh, "carol", np.random.default_rng(3))
    fresh.close()

class FakeHub:
    """The Hub API as far as the backups use it: commits land in a folder, downloads come from it."""

    def __init__(self, root: Path, reachable: bool = True):
        self.root, self.reachable, self.commits = root, reachable, []

    def create_repo(self, **kwargs):
        if not self.reachable:
            raise ConnectionError("the Hub cannot be reached")
        return type("Url", (), {"repo_id": kwargs["repo_id"]})()

    def run_as_future(self, fn):
        from concurrent.futures import Future

        future = Future()
        future.set_result(None)  # the tests push themselves
        return future

    def create_commit(self, **kwargs):
        paths = []
        for operation in kwargs["operations"]:
            target = self.root / operation.path_in_repo
            target.parent.mkdir(parents=True, exist_ok=True)
            with operation.as_file() as handle:
                target.write_bytes(handle.read())
            paths.append(operation.path_in_repo)
        self.commits.append(sorted(paths))

    def hf_hub_download(self, repo_id, filename, repo_type=None):
        from huggingface_hub.errors import EntryNotFoundError

        if not self.reachable:
            raise ConnectionError("the Hub cannot be reached")
        path = self.root / filename
        if not path.is_file():
            raise EntryNotFoundError(f"{filename} is not in {repo_id}")
        return str(path)


def test_hub_backups_commit_each_file_once_and_restore_a_wiped_space(tmp_path):
    hub = FakeHub(tmp_path / "hub")
    settings = study_settings(tmp_path, backup_repo="lab/mural-study", backup_minutes=60)
    context = run_a_study(settings, tmp_path / "murals", hf_api=hub)
    assert any(note.startswith("no backup found in the Hub dataset lab/mural-study") for note in context.notes)
    context.backups.push_to_hub()
    context.backups.push_to_hub()  # nothing changed: no commit
    context.store.touch_rater("carol")
    context.backups.push_to_hub()
    first, second = hub.commits
    assert {"muralxgan.db", "manifest.json"} <= set(first)
    assert len([p for p in first if p.startswith("files/")]) == 3 * 2 + 3 * len(SYSTEMS)
    assert second == ["manifest.json", "muralxgan.db"]  # files already backed up are not sent again
    snapshot = sqlite3.connect(hub.root / "muralxgan.db")
    assert snapshot.execute("SELECT COUNT(*) FROM raters WHERE name = 'carol'").fetchone()[0] == 1
    assert all(not Path(p).is_absolute() for (p,) in snapshot.execute("SELECT image_path FROM candidates"))
    context.close()

    shutil.rmtree(settings.db_path.parent)  # the Space's disk is wiped
    restarted = create_context(settings, start_worker=False, hf_api=hub)
    assert any(note.startswith("restored the database and 12 files from the Hub dataset") for note in
               restarted.notes), restarted.notes
    assert len(restarted.store.votes()) == 3
    shown = next_pair(restarted, "bob", np.random.default_rng(5))
    assert load_image(shown.left).shape == (64, 80, 3) and review_view(restarted, 2).total == 3
    restarted.close()


def test_an_unreachable_hub_leaves_an_empty_study_that_still_runs(tmp_path):
    settings = study_settings(tmp_path, backup_repo="lab/mural-study")
    context = create_context(settings, start_worker=False, hf_api=FakeHub(tmp_path / "hub", reachable=False))
    assert any("no backup restored from the Hub dataset lab/mural-study (ConnectionError); starting with an "
               "empty database" in note for note in context.notes), context.notes
    assert any("study backups to lab/mural-study are off" in note for note in context.notes)
    assert context.store.murals() == []
    context.close()
