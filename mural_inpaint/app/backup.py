"""Database backups to a Hub dataset repo, for Spaces, whose disk is wiped at every restart.

Every ``MURALXGAN_BACKUP_MINUTES`` a :class:`huggingface_hub.CommitScheduler` commits a consistent snapshot of the
SQLite file (online backup API, never a copy of a file being written) when anything changed.  At start, when the
database file does not exist yet, the latest snapshot is downloaded first, so votes survive a Space restart.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from mural_inpaint.store import Store

logger = logging.getLogger(__name__)
SNAPSHOT_NAME = "muralxgan.db"


def restore_latest_snapshot(repo_id: str, db_path: Path, token: str | None = None) -> str:
    """Download the latest snapshot to ``db_path`` when that file does not exist; returns what happened."""
    if db_path.exists():
        return f"using the existing database {db_path}"
    from huggingface_hub import hf_hub_download

    try:
        downloaded = hf_hub_download(repo_id, SNAPSHOT_NAME, repo_type="dataset", token=token)
    except Exception as error:  # (no network, no repo yet, no snapshot yet: start empty)
        return f"no snapshot restored from {repo_id} ({type(error).__name__}); starting with an empty database"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(downloaded, db_path)
    return f"restored the database from the latest snapshot in {repo_id}"


def start_backups(store: Store, repo_id: str, every_minutes: float, folder: Path, hf_api=None):
    """Start snapshotting ``store`` to the dataset repo ``repo_id``; returns the scheduler, or None with a warning."""
    from huggingface_hub import CommitScheduler

    class SnapshotScheduler(CommitScheduler):
        last_signature: tuple | None = None

        def push_to_hub(self):
            signature = store.change_signature()
            if signature == self.last_signature:
                return None  # nothing new since the last snapshot
            store.snapshot(Path(self.folder_path) / SNAPSHOT_NAME)
            info = super().push_to_hub()
            self.last_signature = signature
            return info

    folder.mkdir(parents=True, exist_ok=True)
    try:
        return SnapshotScheduler(repo_id=repo_id, repo_type="dataset", folder_path=folder, every=every_minutes,
                                 private=True, hf_api=hf_api)
    except Exception as error:  # (offline or no token: the app still runs, without backups)
        logger.warning("Database backups to %s are off: %s", repo_id, error)
        return None
