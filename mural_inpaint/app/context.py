"""Everything the tabs share: settings, the one store, the one captioner, pipelines per restorer, the catalogue
worker and the backup scheduler.  Built once per server by :func:`create_context`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from mural_inpaint.app.backup import restore_latest_snapshot, start_backups
from mural_inpaint.app.catalogue import CatalogueWorker
from mural_inpaint.app.settings import AppSettings
from mural_inpaint.pipeline import RestorationPipeline
from mural_inpaint.store import Store
from mural_inpaint.text.captioners import CAPTIONERS, Captioner

#: Votes and reviews are short SQLite transactions: many may run at once (WAL + BEGIN IMMEDIATE queue the writers).
#: Restoring is CPU-bound and keeps Gradio's default of one at a time per event.
DATABASE_EVENT_CONCURRENCY = 32


@lru_cache(maxsize=1)
def shared_captioner() -> Captioner:
    """One captioner per process, so BLIP-2 is looked for (and loaded) once."""
    return CAPTIONERS.create("auto")


@lru_cache(maxsize=8)
def pipeline_for(restorer: str) -> RestorationPipeline:
    """One pipeline (and so one loaded model) per restorer name, shared by every tab and the catalogue worker."""
    return RestorationPipeline(restorer, captioner=shared_captioner())


@dataclass
class AppContext:
    settings: AppSettings
    store: Store
    systems: tuple[str, ...]
    worker: CatalogueWorker | None = None
    backups: object | None = None
    notes: list[str] = field(default_factory=list)

    def is_admin(self, user: str) -> bool:
        return bool(user) and user in self.settings.admins

    def status_notes(self) -> list[str]:
        return self.notes + (self.worker.notes if self.worker else [])

    def close(self) -> None:
        if self.worker:
            self.worker.stop()
        if self.backups is not None:
            self.backups.stop()


def create_context(settings: AppSettings | None = None, start_worker: bool = True) -> AppContext:
    settings = settings or AppSettings.from_env()
    notes = []
    if settings.backup_repo:
        notes.append(restore_latest_snapshot(settings.backup_repo, settings.db_path, os.environ.get("HF_TOKEN")))
    store = Store(settings.db_path)
    for admin in settings.admins:
        store.touch_rater(admin, is_admin=True)
    context = AppContext(settings, store, settings.systems(), notes=notes)
    if start_worker:
        context.worker = CatalogueWorker(store, settings.files, settings.review_sources, settings.review_limit,
                                         context.systems, shared_captioner(), pipeline_for).start()
    if settings.backup_repo:
        context.backups = start_backups(store, settings.backup_repo, settings.backup_minutes,
                                        settings.files / "snapshots")
        if context.backups is None:
            notes.append(f"database backups to {settings.backup_repo} are off (see the server log)")
    return context
