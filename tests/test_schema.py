"""The database at start (issue 14, point 8): versions and migrations; a file that cannot be opened, of another schema
or of a newer version stops the app with one line naming the file and what to do, and is never rewritten."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from mural_inpaint.review.store import SCHEMA_VERSION, Store, StoreError
from tests.helpers import ROOT, back_to_schema_1


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(error: BaseException, path) -> str:
    text = str(error)
    assert "\n" not in text and str(path) in text and "Traceback" not in text
    return text


def test_a_new_file_gets_every_migration_and_records_the_version(tmp_path):
    store = Store(tmp_path / "new.db")
    assert store.schema_version() == SCHEMA_VERSION
    assert {"skips", "sessions", "votes", "pairs"} <= set(store.db.table_names())
    assert Store(store.path).migrate() == SCHEMA_VERSION  # a second start finds it current and changes nothing


def test_a_schema_1_file_is_migrated_with_its_rows_and_a_copy_kept(tmp_path):
    path = tmp_path / "study.db"
    store = Store(path)
    store.add_mural("m", "m", 8, 8, "i.png", "k.png")
    for system in ("telea", "biharmonic"):
        store.add_candidate("m", system, f"{system}.png", {})
    pair = store.issue_pair("ana", np.random.default_rng(0))
    store.record_vote(pair.pair_id, "ana", "left")
    store.db.conn.close()
    old = sqlite3.connect(path)
    old.executescript(back_to_schema_1())
    old.close()
    upgraded = Store(path)
    assert upgraded.schema_version() == SCHEMA_VERSION == 3 and len(upgraded.votes()) == 1
    tables = set(upgraded.db.table_names())
    assert "murals" in tables and "items" not in tables
    assert upgraded.mural("m")["name"] == "m" and upgraded.candidate_systems("m") == {"telea", "biharmonic"}
    assert upgraded.votes()[0]["mural_id"] == "m"
    assert not list(upgraded.db.query("PRAGMA foreign_key_check"))
    references = {row["table"] for table in ("candidates", "pairs", "captions")
                  for row in upgraded.db.query(f"PRAGMA foreign_key_list({table})")}
    assert references <= {"murals", "captions"}  # the foreign keys followed the rename
    indexes = {row["name"] for row in upgraded.db.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "idx_candidates_mural_id_system" in indexes and not [i for i in indexes if "item_id" in i]
    with pytest.raises(sqlite3.IntegrityError):  # the unique index still holds under its new name
        upgraded.db.execute("INSERT INTO candidates (id, mural_id, system) VALUES ('x', 'm', 'telea')")
    backup = sqlite3.connect(tmp_path / "study.db.schema1.bak")
    assert backup.execute("SELECT value FROM meta").fetchone()[0] == "1"
    assert backup.execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 1


def test_a_newer_version_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "future.db"
    Store(path).db.conn.close()
    future = sqlite3.connect(path)
    future.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    future.execute("CREATE TABLE annotations (id INTEGER PRIMARY KEY)")
    future.commit()
    future.close()
    before = _digest(path)
    with pytest.raises(StoreError) as raised:
        Store(path)
    text = _one_line(raised.value, path)
    assert "newer MuralXGAN" in text and "schema 7" in text and "upgrade MuralXGAN" in text
    assert _digest(path) == before
    assert sqlite3.connect(path).execute("SELECT value FROM meta").fetchone()[0] == "7"


def test_another_schema_is_refused_before_first_use(tmp_path):
    foreign = tmp_path / "shop.db"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    connection.commit()
    connection.close()
    before = _digest(foreign)
    with pytest.raises(StoreError) as raised:
        Store(foreign)
    assert "not a MuralXGAN database" in _one_line(raised.value, foreign) and "customers" in str(raised.value)
    assert _digest(foreign) == before
    # ours in name only: the version recorded but a column the code needs is missing (was "no such column" at use)
    broken = tmp_path / "broken.db"
    Store(broken).db.conn.close()
    connection = sqlite3.connect(broken)
    connection.execute("ALTER TABLE votes DROP COLUMN outcome")
    connection.commit()
    connection.close()
    claimed = rf"not the MuralXGAN schema {SCHEMA_VERSION} it claims to be \(table votes lacks outcome\)"
    with pytest.raises(StoreError, match=claimed):
        Store(broken)


def test_a_file_that_cannot_be_opened_names_itself(tmp_path, monkeypatch):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 2\x00" + bytes(range(256)) * 16)
    with pytest.raises(StoreError) as raised:
        Store(corrupt)
    assert "not a readable SQLite database" in _one_line(raised.value, corrupt)
    assert "restore it from a backup" in str(raised.value)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError) as raised:
        Store(blocker / "study.db")
    assert "cannot be opened" in _one_line(raised.value, blocker / "study.db")
    with pytest.raises(StoreError, match="is a folder, not a database file"):
        Store(tmp_path)

    readonly = tmp_path / "readonly.db"
    Store(readonly).db.conn.close()
    connect = sqlite3.connect

    def read_only(path, *args, **kwargs):  # (the tests run as root, for whom file modes do not stop writes)
        return connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)
    with pytest.raises(StoreError) as raised:
        Store(readonly)
    assert "cannot be written" in _one_line(raised.value, readonly)


def test_the_app_stops_with_one_line_instead_of_a_traceback(tmp_path, monkeypatch, capsys):
    from mural_inpaint.app.server import main

    corrupt = tmp_path / "votes.db"
    corrupt.write_bytes(b"\x00" * 4096 + b"definitely not sqlite")
    monkeypatch.setenv("MURALXGAN_DB", str(corrupt))
    monkeypatch.delenv("MURALXGAN_BACKUP_REPO", raising=False)
    monkeypatch.delenv("MURALXGAN_BACKUP_DIR", raising=False)
    assert main() == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(corrupt) in err and "Traceback" not in err


@pytest.mark.slow  # about 10 s: python app.py in its own process
def test_python_app_py_with_a_newer_database_exits_2_with_one_line(tmp_path):
    path = tmp_path / "future.db"
    Store(path).db.conn.close()
    future = sqlite3.connect(path)
    future.execute(f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}'")
    future.commit()
    future.close()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MURALXGAN_DB": str(path),
           "GRADIO_SERVER_PORT": "0", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "app.py")], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "newer MuralXGAN" in lines[0], done.stderr
