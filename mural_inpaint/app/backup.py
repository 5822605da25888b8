"""Study backups: the database and every file it points to, so that a server that lost its disk (a Space restart, a
deleted files folder) comes back with its review queue, its blind pairs and its votes.

A backup is a folder (``MURALXGAN_BACKUP_DIR``, say on another disk) or a Hub dataset repo (``MURALXGAN_BACKUP_REPO``,
committed by :class:`huggingface_hub.CommitScheduler`) holding::

    muralxgan.db       a consistent snapshot (SQLite online backup), its file paths relative to the files folder
    files/<relative>   every mural photo, mask and candidate the database points to, each written once (their names
                       are content hashes or random and never reused, so a file already backed up never changes)
    manifest.json      {"files": {relative: {"size", "sha256"}}, "database_sha256", "created_at", "schema_version"}

Every ``MURALXGAN_BACKUP_MINUTES``, when anything changed, the files are copied first (hard links where the backup is
on the same disk), then the manifest, then the database: a backup never names a file it does not hold.

At start, before the store opens, :func:`restore_study` brings back what is missing: the database when its file does
not exist (paths pointed at this server's files folder), and every file it points to that is not on disk (checked
against the manifest's SHA-256).  Derived files (the magenta damage views) are made again when first shown.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from mural_inpaint.review.store import Store, now

logger = logging.getLogger(__name__)
SNAPSHOT_NAME = "muralxgan.db"
MANIFEST_NAME = "manifest.json"
FILES = "files"
#: (table, column) of every file path the database holds; the murals' table was ``items`` before schema 3, and a
#: backup may be older than this code (the store migrates it once it opens the file)
PATH_COLUMNS = (("murals", "image_path"), ("murals", "mask_path"), ("candidates", "image_path"))


def _path_columns(connection: sqlite3.Connection) -> list[tuple[str, str]]:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    murals = "murals" if "murals" in tables else "items"
    return [(murals if table == "murals" else table, column) for table, column in PATH_COLUMNS]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def relative_name(path: str, files_dir: Path) -> str:
    """Where a stored file lives inside a backup: its path under the files folder, else ``external/<hash>-<name>``."""
    absolute = Path(path) if Path(path).is_absolute() else Path.cwd() / path
    with contextlib.suppress(ValueError):
        return absolute.resolve().relative_to(files_dir.resolve()).as_posix()
    return f"external/{hashlib.sha256(str(absolute).encode()).hexdigest()[:16]}-{absolute.name}"


def _referenced(connection: sqlite3.Connection) -> list[str]:
    return sorted({row[0] for table, column in _path_columns(connection)
                   for row in connection.execute(f"SELECT {column} FROM {table}")  # fixed names
                   if row[0]})


def _rewrite_paths(database: Path, rename: Callable[[str], str]) -> list[str]:
    """Rewrite every stored path of ``database`` with ``rename`` (one transaction, row by row); returns the new
    paths.  The file is left in rollback-journal mode, a single self-contained file."""
    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA journal_mode = DELETE")
        with connection:
            for table, column in _path_columns(connection):
                rows = connection.execute(f"SELECT rowid, {column} FROM {table}").fetchall()  # fixed names
                connection.executemany(f"UPDATE {table} SET {column} = ? WHERE rowid = ?",
                                       [(rename(old), rowid) for rowid, old in rows if old])
        return _referenced(connection)
    finally:
        connection.close()


def _place(source: Path, target: Path) -> None:
    """Put a copy of ``source`` at ``target`` (hard link when the disk allows), never leaving a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copy2(source, partial)
    partial.replace(target)


def _read_manifest(folder: Path) -> dict:
    with contextlib.suppress(OSError, ValueError):
        return json.loads((folder / MANIFEST_NAME).read_text())
    return {"files": {}}


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def snapshot_study(store: Store, files_dir: Path, folder: Path) -> dict:
    """Write a complete backup of the study into ``folder`` (files, then manifest, then database); returns a summary
    ``{"files": n, "new_files": k, "missing": [...], "bytes": b}``.  Files already backed up are not copied again."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="muralxgan-backup-") as staging:
        staged = Path(staging) / SNAPSHOT_NAME
        store.snapshot(staged)
        originals = {}

        def relative(path: str) -> str:
            name = relative_name(path, files_dir)
            originals[name] = path
            return name

        _rewrite_paths(staged, relative)
        manifest = _read_manifest(folder)
        known, missing, new = manifest.get("files", {}), [], 0
        for name, path in sorted(originals.items()):
            target = folder / FILES / name
            entry = known.get(name)
            if entry and target.is_file() and target.stat().st_size == entry["size"]:
                continue  # write-once files: already backed up
            source = Path(path)
            if not source.is_file():
                missing.append(name)
                continue
            _place(source, target)
            known[name] = {"size": target.stat().st_size, "sha256": sha256_of(target)}
            new += 1
        manifest = {"created_at": now(), "schema_version": store.schema_version(), "files": known,
                    "database_sha256": sha256_of(staged), "missing": missing}
        _write_atomically(folder / MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True))
        shutil.move(str(staged), folder / (SNAPSHOT_NAME + ".partial"))
        (folder / (SNAPSHOT_NAME + ".partial")).replace(folder / SNAPSHOT_NAME)
    if missing:
        logger.warning("backup: %d files the database points to are missing on disk: %s", len(missing),
                       ", ".join(missing[:5]))
    return {"files": len(originals), "new_files": new, "missing": missing,
            "bytes": sum(entry["size"] for name, entry in known.items() if name in originals)}


# ----------------------------------------------------------------------------------------------------- restoring
class FolderSource:
    """A backup folder (``MURALXGAN_BACKUP_DIR``, or a Hub backup's local copy)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.name = f"the backup folder {self.folder.name}"  # (notes are read on the page: no server path)

    def fetch(self, name: str) -> Path | None:
        path = self.folder / name
        return path if path.is_file() else None


class HubSource:
    """A Hub dataset repo holding backups; files are downloaded one by one, only those needed."""

    def __init__(self, repo_id: str, token: str | None = None, hf_api=None):
        from huggingface_hub import HfApi

        self.repo_id, self.name = repo_id, f"the Hub dataset {repo_id}"
        self.api = hf_api or HfApi(token=token)

    def fetch(self, name: str) -> Path | None:
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

        try:
            return Path(self.api.hf_hub_download(self.repo_id, name, repo_type="dataset"))
        except LocalEntryNotFoundError:
            raise  # (offline and not in the cache: not the same as "not in the backup")
        except EntryNotFoundError:
            return None


def restore_study(source, db_path: Path, files_dir: Path) -> str:
    """Bring back from ``source`` (:class:`FolderSource` / :class:`HubSource`) what this server is missing: the
    database when its file does not exist, and every file the database points to that is not on disk.  Returns a
    note for people (what was restored, what could not be)."""
    try:
        manifest_path = source.fetch(MANIFEST_NAME)
        snapshot = source.fetch(SNAPSHOT_NAME) if not db_path.exists() else None
    except Exception as error:  # (no network, no repo yet: start with what is here)
        kept = "the existing database" if db_path.exists() else "an empty database"
        return f"no backup restored from {source.name} ({type(error).__name__}); starting with {kept}"
    if manifest_path is None:
        kept = "the existing database" if db_path.exists() else "an empty database"
        return f"no backup found in {source.name}; starting with {kept}"
    manifest = json.loads(Path(manifest_path).read_text())
    restored_db = False
    if snapshot is not None:
        if sha256_of(snapshot) != manifest.get("database_sha256"):
            return (f"the backup database in {source.name} does not match its manifest; nothing restored, "
                    "starting with an empty database")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        staged = db_path.with_name(db_path.name + ".restoring")
        shutil.copyfile(snapshot, staged)
        _rewrite_paths(staged, lambda name: str(files_dir / name) if not Path(name).is_absolute() else name)
        staged.replace(db_path)
        restored_db = True
    if not db_path.exists():
        return f"no database in {source.name}; starting with an empty database"
    with contextlib.closing(sqlite3.connect(db_path)) as connection:
        try:
            wanted = _referenced(connection)
        except sqlite3.Error:
            return f"using the existing database {db_path.name}"  # (not ours, or not readable: the store will say)
    back, lost = 0, []
    for path in wanted:
        if Path(path).is_file():
            continue
        name = relative_name(path, files_dir)
        entry = manifest.get("files", {}).get(name)
        try:
            fetched = source.fetch(f"{FILES}/{name}") if entry else None
        except Exception:  # (the network went away halfway: keep what came back, say what did not)
            fetched = None
        if fetched is None or sha256_of(fetched) != entry["sha256"]:
            lost.append(name)
            continue
        _place(Path(fetched), Path(path))
        back += 1
    said = ("restored the database and " if restored_db else "restored ") + f"{back} files from {source.name}"
    if lost:
        said += f"; {len(lost)} files the database points to are not in the backup ({', '.join(lost[:3])})"
    return said


# -------------------------------------------------------------------------------------------------- scheduling
class FolderBackups:
    """Back up into a folder every ``every_minutes`` when anything changed, and once more when stopped."""

    def __init__(self, store: Store, files_dir: Path, folder: Path, every_minutes: float):
        self.store, self.files_dir, self.folder = store, files_dir, Path(folder)
        self.every_s = max(1.0, every_minutes * 60)
        self.last_signature: tuple | None = None
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="muralxgan-backups", daemon=True)

    def start(self) -> FolderBackups:
        self._thread.start()
        return self

    def push(self) -> dict | None:
        """One backup now, when anything changed since the last one; returns its summary or None."""
        with self.lock:
            signature = self.store.change_signature()
            if signature == self.last_signature:
                return None
            summary = snapshot_study(self.store, self.files_dir, self.folder)
            self.last_signature = signature
            return summary

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.push()
            except Exception:  # (a full disk, a folder gone: keep serving, say so in the log)
                logger.exception("backup to %s failed", self.folder)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        try:
            self.push()
        except Exception:
            logger.exception("final backup to %s failed", self.folder)


def start_backups(store: Store, repo_id: str, every_minutes: float, folder: Path, files_dir: Path | None = None,
                  hf_api=None):
    """Back the study up to the Hub dataset ``repo_id`` (``folder``: the local copy that is committed); returns the
    scheduler, or None with a warning when the Hub cannot be reached."""
    from huggingface_hub import CommitScheduler

    files_dir = files_dir if files_dir is not None else store.path.with_name(store.path.stem + "-files")

    class StudyScheduler(CommitScheduler):
        last_signature: tuple | None = None

        def push_to_hub(self):
            signature = store.change_signature()
            if signature == self.last_signature:
                return None  # nothing new since the last backup
            snapshot_study(store, files_dir, Path(self.folder_path))
            info = super().push_to_hub()  # commits only what changed: the database, the manifest, new files
            self.last_signature = signature
            return info

    folder.mkdir(parents=True, exist_ok=True)
    try:
        return StudyScheduler(repo_id=repo_id, repo_type="dataset", folder_path=folder, every=every_minutes,
                              private=True, hf_api=hf_api, ignore_patterns=["*.partial"])
    except Exception as error:  # (offline or no token: the app still runs, without backups)
        logger.warning("Study backups to %s are off: %s", repo_id, error)
        return None
