"""The app's configuration, read once from environment variables (the README's configuration table lists them).

| variable | meaning | default |
|---|---|---|
| ``MURALXGAN_DB`` | SQLite database path | ``muralxgan-data/muralxgan.db`` |
| ``MURALXGAN_FILES`` | folder for stored murals, masks and rated restorations | ``<db name>-files`` beside the db |
| ``MURALXGAN_REVIEW_DATA`` | comma-separated folders or Hub dataset ids to review and rate | none |
| ``MURALXGAN_REVIEW_LIMIT`` | at most this many murals taken from each of those | ``100`` |
| ``MURALXGAN_BLIND_SYSTEMS`` | restorers compared blind, comma-separated | both muralxgan ones + classical |
| ``MURALXGAN_LOGINS`` | local logins, ``name:password`` pairs separated by commas | none |
| ``MURALXGAN_LOGINS_FILE`` | file of ``name:password`` lines (``name:sha256:HEX`` for hashed passwords) | none |
| ``MURALXGAN_ADMINS`` | comma-separated names allowed to export votes | none |
| ``MURALXGAN_SECRET`` | key that signs login cookies (set it so logins survive restarts) | random per start |
| ``MURALXGAN_BACKUP_REPO`` | Hub dataset repo that receives study backups (database + files) | none |
| ``MURALXGAN_BACKUP_DIR`` | a folder that receives the same backups | none |
| ``MURALXGAN_BACKUP_MINUTES`` | minutes between backups | ``10`` |
| ``MURALXGAN_CAPTIONS_REPO`` | Hub dataset repo for reviewed-caption exports (needs ``HF_TOKEN``) | none |
| ``MURALXGAN_RESTORES_JOIN`` | whose restores join the study: ``signed-in``, ``admins``, ``off`` | ``signed-in`` |
| ``MURALXGAN_MIN_VOTES`` | votes a system needs before the leaderboard rates it | ``20`` |
| ``MURALXGAN_REFERENCE_SYSTEM`` | the system ratings are measured from (at 1000) | the most-voted |
| ``MURALXGAN_REVEAL`` | ``after-vote``: raters see the systems after a vote; ``never``: admins only | ``after-vote`` |
| ``MURALXGAN_SKIP_LIMIT`` | pairs a rater may skip (with a reason) in the whole study; ``0``: none | ``20`` |
| ``MURALXGAN_SESSION_DAYS`` | days a login lasts (sign-out ends it at once) | ``14`` |
| ``MURALXGAN_LOGIN_ATTEMPTS`` | failed logins per name (x4 per client address) before HTTP 429 | ``5`` |
| ``MURALXGAN_LOGIN_WINDOW_MINUTES`` | the window those failed logins are counted over | ``15`` |
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mural_inpaint.errors import InputError
from mural_inpaint.review.store import DEFAULT_DB, default_db_path

CLASSICAL_SYSTEMS = ("telea", "navier-stokes", "biharmonic")
# Everything the app writes by default (database, stored murals, the Hub backup's local copy) is under one folder,
# ``muralxgan-data/`` in the working folder (ignored by git): the store's DEFAULT_DB, the one definition of it, with
# the rest named after it; ``MURALXGAN_DB`` / ``MURALXGAN_FILES`` move them.
RESTORES_JOIN = ("signed-in", "admins", "off")
#: when raters learn which systems made a pair: after each vote, or never (only admins, on the leaderboard)
REVEAL = ("after-vote", "never")


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def parse_logins(entries: list[str], origin: str) -> dict[str, str]:
    """``name:password`` entries -> {name: stored secret}; blank entries and ``#`` comment lines skipped."""
    logins = {}
    for number, entry in enumerate(entries, 1):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, secret = entry.partition(":")
        if not sep or not name.strip() or not secret:
            raise InputError(f"{origin}, entry {number}: a login is written name:password.")
        logins[name.strip()] = secret
    return logins


def password_matches(stored: str, given: str) -> bool:
    """Compare in constant time; ``sha256:HEX`` stores the hex SHA-256 of the password instead of the password."""
    if stored.startswith("sha256:"):
        given_digest = hashlib.sha256(given.encode()).hexdigest()
        return hmac.compare_digest(stored[len("sha256:"):].lower(), given_digest)
    return hmac.compare_digest(stored.encode(), given.encode())


@dataclass(frozen=True)
class AppSettings:
    db_path: Path = DEFAULT_DB
    files_dir: Path | None = None  # None: "<db stem>-files" beside the database
    review_sources: tuple[str, ...] = ()
    review_limit: int = 100
    blind_systems: tuple[str, ...] = ()  # empty: the shipped model (when present) + the classical restorers
    logins: Mapping[str, str] = field(default_factory=dict)
    admins: frozenset[str] = frozenset()
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    backup_repo: str | None = None
    backup_dir: Path | None = None
    backup_minutes: float = 10.0
    captions_repo: str | None = None
    on_spaces: bool = False  # Hugging Face login (OAuth) instead of local logins
    restores_join: str = "signed-in"  # whose Restore-tab restorations join the study (RESTORES_JOIN)
    skip_limit: int = 20  # skips per rater in the whole study
    # "never": raters cannot pool reveals (pixels -> system) to recognise restorations they have not yet rated
    reveal: str = "after-vote"
    min_votes: int = 20  # a system with fewer votes is held back from the leaderboard
    reference_system: str | None = None  # ratings are differences from it; None: the most-voted system
    session_days: float = 14.0
    login_attempts: int = 5  # failed logins per name in the window (per client address: 4 x this)
    login_window_minutes: float = 15.0

    def __post_init__(self):
        if self.restores_join not in RESTORES_JOIN:
            raise InputError(f"MURALXGAN_RESTORES_JOIN is one of {', '.join(RESTORES_JOIN)}, "
                             f"not {self.restores_join!r}.")
        if self.reveal not in REVEAL:
            raise InputError(f"MURALXGAN_REVEAL is one of {', '.join(REVEAL)}, not {self.reveal!r}.")
        if self.min_votes < 0:
            raise InputError("MURALXGAN_MIN_VOTES must be 0 or more.")
        if self.skip_limit < 0 or self.login_attempts < 1 or self.session_days <= 0 or self.login_window_minutes <= 0:
            raise InputError("MURALXGAN_SKIP_LIMIT must be 0 or more; MURALXGAN_LOGIN_ATTEMPTS, "
                             "MURALXGAN_SESSION_DAYS and MURALXGAN_LOGIN_WINDOW_MINUTES more than 0.")

    @property
    def files(self) -> Path:
        return self.files_dir or self.db_path.with_name(self.db_path.stem + "-files")

    @property
    def hub_backup_folder(self) -> Path:
        """The local copy of the Hub backup that is committed (outside the files folder)."""
        return self.db_path.with_name(self.db_path.stem + "-backup")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppSettings:
        env = os.environ if environ is None else environ
        logins = parse_logins(env.get("MURALXGAN_LOGINS", "").split(","), "MURALXGAN_LOGINS")
        if env.get("MURALXGAN_LOGINS_FILE"):
            path = Path(env["MURALXGAN_LOGINS_FILE"])
            if not path.is_file():
                raise InputError(f"MURALXGAN_LOGINS_FILE: no such file {path}.")
            logins |= parse_logins(path.read_text().splitlines(), str(path))
        try:
            limit = int(env.get("MURALXGAN_REVIEW_LIMIT", "100"))
            minutes = float(env.get("MURALXGAN_BACKUP_MINUTES", "10"))
            skip_limit = int(env.get("MURALXGAN_SKIP_LIMIT", "20"))
            min_votes = int(env.get("MURALXGAN_MIN_VOTES", "20"))
            session_days = float(env.get("MURALXGAN_SESSION_DAYS", "14"))
            attempts = int(env.get("MURALXGAN_LOGIN_ATTEMPTS", "5"))
            window = float(env.get("MURALXGAN_LOGIN_WINDOW_MINUTES", "15"))
        except ValueError as error:
            raise InputError(f"MURALXGAN_REVIEW_LIMIT, _BACKUP_MINUTES, _SKIP_LIMIT, _MIN_VOTES, _SESSION_DAYS, "
                             f"_LOGIN_ATTEMPTS and _LOGIN_WINDOW_MINUTES must be numbers ({error}).") from None
        secret = env.get("MURALXGAN_SECRET")
        return cls(
            db_path=default_db_path(env),
            files_dir=Path(env["MURALXGAN_FILES"]) if env.get("MURALXGAN_FILES") else None,
            review_sources=_split(env.get("MURALXGAN_REVIEW_DATA")),
            review_limit=limit,
            blind_systems=_split(env.get("MURALXGAN_BLIND_SYSTEMS")),
            logins=logins,
            admins=frozenset(_split(env.get("MURALXGAN_ADMINS"))),
            secret=secret.encode() if secret else secrets.token_bytes(32),
            backup_repo=env.get("MURALXGAN_BACKUP_REPO") or None,
            backup_dir=Path(env["MURALXGAN_BACKUP_DIR"]) if env.get("MURALXGAN_BACKUP_DIR") else None,
            backup_minutes=minutes,
            captions_repo=env.get("MURALXGAN_CAPTIONS_REPO") or None,
            on_spaces=env.get("SYSTEM") == "spaces" and bool(env.get("OAUTH_CLIENT_ID")),  # what gradio checks
            restores_join=env.get("MURALXGAN_RESTORES_JOIN", "signed-in").strip().lower(),
            skip_limit=skip_limit,
            reveal=env.get("MURALXGAN_REVEAL", "after-vote").strip().lower(),
            min_votes=min_votes,
            reference_system=env.get("MURALXGAN_REFERENCE_SYSTEM", "").strip() or None,
            session_days=session_days,
            login_attempts=attempts,
            login_window_minutes=window,
        )

    def systems(self) -> tuple[str, ...]:
        """The restorers rated blind: configured ones, else the shipped model (when present; with and without the
        copied grain, so raters judge that trade) + classical ones."""
        from mural_inpaint.pipeline import default_restorer_name
        from mural_inpaint.restorers import RESTORERS
        from mural_inpaint.restorers.base import GAN_RESTORERS

        systems = self.blind_systems or (
            (GAN_RESTORERS if default_restorer_name() == "muralxgan" else ()) + CLASSICAL_SYSTEMS)
        unknown = [s for s in systems if s not in RESTORERS.names()]
        if unknown:
            raise InputError(f"MURALXGAN_BLIND_SYSTEMS names unknown restorers: {', '.join(unknown)} "
                             f"(known: {', '.join(RESTORERS.names())}).")
        return systems


def positive_number(name: str, default: float, unit: str) -> float:
    """A positive number from the environment variable ``name`` (``default`` when unset); one-line error else."""
    import os

    from mural_inpaint.errors import InputError

    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise InputError(f"{name} must be a number of {unit}, not {raw!r}.") from None
    if value <= 0:
        raise InputError(f"{name} must be more than 0.")
    return value
