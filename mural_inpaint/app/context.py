"""Everything the tabs share: settings, the one store, the one captioner, pipelines per restorer, the catalogue
worker and the backup scheduler.  Built once per server by :func:`create_context`."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from mural_inpaint.app.backup import FolderBackups, FolderSource, HubSource, restore_study, start_backups
from mural_inpaint.app.catalogue import CatalogueWorker
from mural_inpaint.app.settings import AppSettings
from mural_inpaint.pipeline import RestorationPipeline
from mural_inpaint.review.store import Store
from mural_inpaint.text.captioners import CAPTIONERS, Captioner

#: Votes and reviews are short SQLite transactions: many may run at once (WAL + BEGIN IMMEDIATE queue the writers).
#: Restoring is CPU-bound and keeps Gradio's default of one at a time per event.
DATABASE_EVENT_CONCURRENCY = 32


@lru_cache(maxsize=1)
def shared_captioner() -> Captioner:
    """One captioner per process, so BLIP-2 is looked for (and loaded) once."""
    return CAPTIONERS.create("auto")


_LOADING = threading.Lock()  # the warm-up thread and a first request must not load the same model twice


def pipeline_for(restorer: str) -> RestorationPipeline:
    """One pipeline (and so one loaded model) per restorer name, shared by every tab and the catalogue worker."""
    with _LOADING:
        return _pipeline(restorer)


@lru_cache(maxsize=8)
def _pipeline(restorer: str) -> RestorationPipeline:
    return RestorationPipeline(restorer, captioner=shared_captioner())


def warm_up(restorer: str) -> float | None:
    """Load ``restorer``'s pipeline, its text encoder and the describer's tables by restoring a small grey square,
    so the first conservator does not wait for them -> seconds taken, or None when it failed (the first request
    then loads and reports the problem in the conservator's words)."""
    import logging
    import time

    import numpy as np

    start = time.perf_counter()
    image, mask = np.full((64, 64, 3), 128, np.uint8), np.zeros((64, 64), bool)
    mask[24:40, 24:40] = True
    try:
        pipeline_for(restorer).restore(image, mask)
    except Exception as error:  # a warm-up must never stop the server
        logging.getLogger(__name__).info("warm-up of %s failed: %s", restorer, error)
        return None
    return time.perf_counter() - start


@dataclass
class AppContext:
    settings: AppSettings
    store: Store
    systems: tuple[str, ...]
    worker: CatalogueWorker | None = None
    backups: object | None = None  # the Hub scheduler
    backup_folder: FolderBackups | None = None
    janitor: object | None = None  # the cache cleaner of the served app (served.CacheJanitor)
    notes: list[str] = field(default_factory=list)

    def is_admin(self, user: str) -> bool:
        return bool(user) and user in self.settings.admins

    def status_notes(self) -> list[str]:
        return self.notes + (self.worker.notes if self.worker else [])

    def close(self) -> None:
        if self.janitor is not None:
            self.janitor.stop()
        if self.worker:
            self.worker.stop()
        if self.backups is not None:
            self.backups.stop()
        if self.backup_folder is not None:
            self.backup_folder.stop()  # one last backup of what changed


def create_context(settings: AppSettings | None = None, start_worker: bool = True, hf_api=None) -> AppContext:
    """Restore what is missing from the backups (database, files), open the store, start the catalogue worker and
    the backups.  ``hf_api`` replaces the Hub client (tests)."""
    settings = settings or AppSettings.from_env()
    notes = []
    if settings.backup_dir:
        notes.append(restore_study(FolderSource(settings.backup_dir), settings.db_path, settings.files))
    if settings.backup_repo:
        try:
            source = HubSource(settings.backup_repo, os.environ.get("HF_TOKEN"), hf_api=hf_api)
        except Exception as error:  # (huggingface_hub refusing a malformed id, say)
            notes.append(f"no backup restored from {settings.backup_repo} ({error})")
        else:
            notes.append(restore_study(source, settings.db_path, settings.files))
    store = Store(settings.db_path)
    for admin in settings.admins:
        store.touch_rater(admin, is_admin=True)
    context = AppContext(settings, store, settings.systems(), notes=notes)
    if start_worker:
        context.worker = CatalogueWorker(store, settings.files, settings.review_sources, settings.review_limit,
                                         context.systems, shared_captioner(), pipeline_for).start()
    if settings.backup_dir:
        context.backup_folder = FolderBackups(store, settings.files, settings.backup_dir,
                                              settings.backup_minutes).start()
    if settings.backup_repo:
        context.backups = start_backups(store, settings.backup_repo, settings.backup_minutes,
                                        settings.hub_backup_folder, settings.files, hf_api=hf_api)
        if context.backups is None:
            notes.append(f"study backups to {settings.backup_repo} are off (see the server log)")
    return context
