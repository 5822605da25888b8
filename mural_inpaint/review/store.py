"""The app's SQLite store (through sqlite-utils): murals, captions and every review decision, restorations,
blind-rating pairs, votes and raters.

Rules the schema enforces:
- review decisions are append-only rows: nothing earlier is ever overwritten;
- a vote is accepted only for a pair the server issued to that rater, and only once (atomic claim of the pair);
- a rater has at most one open pair: until it is answered (a vote, or a skip with a reason, capped per rater) every
  request for a pair gets that same pair back, so nobody can cycle through pairs to pick the ones they like;
- a rater is shown each restoration (candidate) once: after a vote has named its system, the rater would recognise
  its pixels when shown it again (by eye, or by hashing them) and know a side before voting;
- logins are server-side session records: logout and expiry end them, whatever copies of the cookie exist;
- WAL mode and a busy timeout, so many raters voting at once lose nothing.

Schema versions: the file records its version (``meta.schema_version``); an older file is migrated one version at a
time (:data:`MIGRATIONS`, a copy of it kept as ``<name>.schema<N>.bak`` first); a file that cannot be opened, of
another schema or of a newer version raises :class:`StoreError` (one line naming the file and what to do) before
anything is written to it.

Database path: ``MURALXGAN_DB``, else :data:`DEFAULT_DB` (``muralxgan-data/muralxgan.db`` in the working folder; the
app's settings take it from here).  Each thread gets its own connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from mural_inpaint.errors import InputError, MuralXGANError

#: The schema this code writes; older files are migrated (:data:`MIGRATIONS`), newer ones refused.
SCHEMA_VERSION = 3  # 1: the study; 2: pairs.skipped_at, skips, sessions; 3: items -> murals
OUTCOMES = ("left", "right", "tie", "both_bad")
DECISIONS = ("approved", "rejected")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


#: The database when ``MURALXGAN_DB`` is not set: under ``muralxgan-data/``, the one git-ignored folder everything the
#: app writes by default goes to (the files folder and the Hub backup's local copy are named after it, beside it).
DEFAULT_DB = Path("muralxgan-data") / "muralxgan.db"


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """``MURALXGAN_DB`` of ``environ`` (default: this process's environment) when set, else :data:`DEFAULT_DB`."""
    env = os.environ if environ is None else environ
    return Path(env["MURALXGAN_DB"]) if env.get("MURALXGAN_DB") else DEFAULT_DB


@dataclass(frozen=True)
class IssuedPair:
    """What a rater is shown: a random pair id and two candidate ids, never the systems."""

    pair_id: str
    mural_id: str
    left_id: str
    right_id: str
    reissued: bool = False  # the rater's open pair, shown again


class StoreError(MuralXGANError):
    """The database file cannot be used (unreadable, another schema, a newer version): one line naming the file and
    what to do; the app stops with it instead of a traceback."""


#: Columns of every table at each schema version: what a file claiming that version must hold.
_V1_TABLES = {
    "meta": {"key", "value"},
    "raters": {"name", "first_seen", "is_admin"},
    "items": {"id", "name", "width", "height", "image_path", "mask_path", "source", "created_at"},
    "captions": {"id", "item_id", "captioner", "text", "created_at"},
    "caption_reviews": {"id", "item_id", "caption_id", "reviewer", "draft", "final_text", "decision", "created_at"},
    "candidates": {"id", "item_id", "system", "image_path", "provenance", "created_at"},
    "pairs": {"id", "item_id", "left_id", "right_id", "rater", "issued_at", "voted_at"},
    "votes": {"id", "pair_id", "rater", "item_id", "left_system", "right_system", "outcome", "left_score",
              "right_score", "comment", "created_at"},
}
SCHEMA_TABLES = {
    1: _V1_TABLES,
    2: _V1_TABLES | {"pairs": _V1_TABLES["pairs"] | {"skipped_at"},
                     "skips": {"id", "pair_id", "rater", "item_id", "reason", "detail", "created_at"},
                     "sessions": {"id", "name", "created_at", "expires_at", "revoked_at"}},
}
#: tables whose ``item_id`` column became ``mural_id`` at version 3
_MURAL_COLUMN_TABLES = ("captions", "caption_reviews", "candidates", "pairs", "votes", "skips")
SCHEMA_TABLES[3] = {("murals" if table == "items" else table):
                    {("mural_id" if column == "item_id" else column) for column in columns}
                    for table, columns in SCHEMA_TABLES[2].items()}


def _schema_1(db: Database) -> None:
    """The first schema: murals, captions, append-only reviews, candidates, pairs, votes, raters."""
    db["raters"].create({"name": str, "first_seen": str, "is_admin": int}, pk="name", if_not_exists=True)
    db["items"].create({"id": str, "name": str, "width": int, "height": int, "image_path": str,
                        "mask_path": str, "source": str, "created_at": str}, pk="id", if_not_exists=True)
    db["captions"].create({"id": int, "item_id": str, "captioner": str, "text": str, "created_at": str},
                          pk="id", foreign_keys=[("item_id", "items", "id")], if_not_exists=True)
    db["caption_reviews"].create(
        {"id": int, "item_id": str, "caption_id": int, "reviewer": str, "draft": str, "final_text": str,
         "decision": str, "created_at": str},
        pk="id", foreign_keys=[("item_id", "items", "id"), ("caption_id", "captions", "id")], if_not_exists=True)
    db["candidates"].create({"id": str, "item_id": str, "system": str, "image_path": str, "provenance": str,
                             "created_at": str}, pk="id", foreign_keys=[("item_id", "items", "id")],
                            if_not_exists=True)
    db["pairs"].create({"id": str, "item_id": str, "left_id": str, "right_id": str, "rater": str,
                        "issued_at": str, "voted_at": str},
                       pk="id", foreign_keys=[("item_id", "items", "id")], if_not_exists=True)
    db["votes"].create(
        {"id": int, "pair_id": str, "rater": str, "item_id": str, "left_system": str, "right_system": str,
         "outcome": str, "left_score": int, "right_score": int, "comment": str, "created_at": str},
        pk="id", foreign_keys=[("pair_id", "pairs", "id")], if_not_exists=True)
    db["candidates"].create_index(["item_id", "system"], unique=True, if_not_exists=True)
    db["votes"].create_index(["pair_id"], unique=True, if_not_exists=True)
    db["caption_reviews"].create_index(["item_id", "created_at"], if_not_exists=True)


def _schema_2(db: Database) -> None:
    """Pairs answered by a vote or a capped skip; server-side login sessions."""
    if "skipped_at" not in db["pairs"].columns_dict:
        db["pairs"].add_column("skipped_at", str)
    db["skips"].create({"id": int, "pair_id": str, "rater": str, "item_id": str, "reason": str, "detail": str,
                        "created_at": str}, pk="id", foreign_keys=[("pair_id", "pairs", "id")], if_not_exists=True)
    db["sessions"].create({"id": str, "name": str, "created_at": str, "expires_at": float, "revoked_at": str},
                          pk="id", if_not_exists=True)
    db["pairs"].create_index(["rater"], if_not_exists=True)
    db["skips"].create_index(["rater"], if_not_exists=True)
    db["skips"].create_index(["pair_id"], unique=True, if_not_exists=True)


def _schema_3(db: Database) -> None:
    """One word per concept: the table of murals is ``murals`` and every reference to one ``mural_id``, as on the
    page (SQLite carries the foreign keys and indexes along with a rename)."""
    db.execute("ALTER TABLE items RENAME TO murals")
    for table in _MURAL_COLUMN_TABLES:
        db.execute(f"ALTER TABLE {table} RENAME COLUMN item_id TO mural_id")  # fixed names
    for table, columns, unique in (("candidates", ["mural_id", "system"], True),
                                   ("caption_reviews", ["mural_id", "created_at"], False)):
        db.execute(f"DROP INDEX IF EXISTS idx_{table}_item_id_{columns[1]}")  # the indexes keep their old names
        db[table].create_index(columns, unique=unique, if_not_exists=True)


#: Migration to each version from the one before; a file is brought up one step at a time, each step one transaction.
MIGRATIONS = {1: _schema_1, 2: _schema_2, 3: _schema_3}
assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1)) == sorted(SCHEMA_TABLES)

_WHAT_TO_DO = "point MURALXGAN_DB at another file, or move this one away to start an empty study"


def _open_failure(path: Path, error: BaseException) -> StoreError:
    """One line for a database file that cannot be opened or written, naming it and what to do."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    lowered = text.lower()
    if "readonly" in lowered or "read-only" in lowered or isinstance(error, PermissionError):
        return StoreError(f"{path}: the database cannot be written ({text}); give the app write access to the file "
                          "and its folder, or point MURALXGAN_DB at a writable location.")
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return StoreError(f"{path}: not a readable SQLite database ({text}); restore it from a backup "
                          f"(MURALXGAN_BACKUP_REPO or MURALXGAN_BACKUP_DIR), or {_WHAT_TO_DO}.")
    return StoreError(f"{path}: the database cannot be opened ({text}); check that the path is reachable and "
                      "writable, or point MURALXGAN_DB elsewhere.")


class Store:
    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_dir():
                raise StoreError(f"{self.path}: is a folder, not a database file; point MURALXGAN_DB at a file.")
            self.migrate()
        except StoreError:
            self._close()
            raise
        except (sqlite3.Error, OSError) as error:
            self._close()
            raise _open_failure(self.path, error) from None

    def _close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    @property
    def db(self) -> Database:
        """This thread's connection (sqlite3 connections must not be shared across threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA foreign_keys = ON")
            db = self._local.db = Database(conn)
        return db

    @contextlib.contextmanager
    def writing(self) -> Iterator[Database]:
        """A write transaction that takes the write lock up front (``BEGIN IMMEDIATE``).

        A deferred transaction that reads first and then writes cannot wait for a busy writer in WAL mode; it fails
        at once with "database is locked".  Taking the lock first lets the busy timeout queue writers instead.
        """
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def schema_version(self) -> int:
        """The version recorded in the file: 0 for a new (empty) file.

        Raises :class:`StoreError` for a file of another schema: tables but no MuralXGAN version, an unreadable
        version, or tables and columns that version must have missing.
        """
        db = self.db
        tables = set(db.table_names())
        if not tables:
            return 0
        rows = (list(db.query("SELECT value FROM meta WHERE key = 'schema_version'"))
                if "meta" in tables and {"key", "value"} <= set(db["meta"].columns_dict) else [])
        if not rows:
            shown = ", ".join(sorted(tables)[:4]) + (", ..." if len(tables) > 4 else "")
            raise StoreError(f"{self.path}: not a MuralXGAN database (it holds tables {shown} and no MuralXGAN "
                             f"schema version); {_WHAT_TO_DO}.")
        try:
            version = int(rows[0]["value"])
        except (TypeError, ValueError):
            raise StoreError(f"{self.path}: unreadable MuralXGAN schema version {rows[0]['value']!r}; "
                             f"{_WHAT_TO_DO}.") from None
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: written by a newer MuralXGAN (database schema {version}; this version "
                             f"reads schema {SCHEMA_VERSION} and older); upgrade MuralXGAN to open it, or "
                             f"{_WHAT_TO_DO}. The file was left untouched.")
        if version < 1:
            raise StoreError(f"{self.path}: unknown MuralXGAN schema version {version}; {_WHAT_TO_DO}.")
        for table, columns in SCHEMA_TABLES[version].items():
            missing = sorted(columns - set(db[table].columns_dict)) if table in tables else None
            if missing is None or missing:
                what = f"no table {table}" if missing is None else f"table {table} lacks {', '.join(missing)}"
                raise StoreError(f"{self.path}: not the MuralXGAN schema {version} it claims to be ({what}); "
                                 f"restore it from a backup, or {_WHAT_TO_DO}.")
        return version

    def migrate(self) -> int:
        """Check the file's schema and bring it up to :data:`SCHEMA_VERSION`, one migration per transaction;
        returns the version found.

        A file of another schema or of a newer version raises :class:`StoreError` before anything is written.  An
        existing study is copied to ``<name>.schema<N>.bak`` (SQLite online backup) before its first migration.
        """
        found = self.schema_version()  # read-only: nothing is written to a file that is not ours
        db = self.db
        if found and found < SCHEMA_VERSION:
            self.snapshot(self.path.with_name(f"{self.path.name}.schema{found}.bak"))
        if db.journal_mode != "wal":
            db.enable_wal()
        for version in range(found + 1, SCHEMA_VERSION + 1):
            with self.writing():
                if version == 1:
                    db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
                MIGRATIONS[version](db)
                db["meta"].upsert({"key": "schema_version", "value": str(version)}, pk="key")
        with self.writing():  # a read-only file fails here, at start, not at the first vote
            db.execute("UPDATE meta SET value = value WHERE key = 'schema_version'")
        return found

    # ----------------------------------------------------------------------------------------------- raters, murals
    def touch_rater(self, name: str, is_admin: bool = False) -> None:
        with self.writing() as db:
            db.execute("INSERT INTO raters (name, first_seen, is_admin) VALUES (?, ?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET is_admin = excluded.is_admin", [name, now(), int(is_admin)])

    def is_admin(self, name: str) -> bool:
        rows = list(self.db.query("SELECT is_admin FROM raters WHERE name = ?", [name]))
        return bool(rows and rows[0]["is_admin"])

    def add_mural(self, mural_id: str, name: str, width: int, height: int, image_path: str, mask_path: str,
                 source: str = "") -> str:
        with self.writing():
            self.db["murals"].insert({"id": mural_id, "name": name, "width": width, "height": height,
                                     "image_path": image_path, "mask_path": mask_path, "source": source,
                                     "created_at": now()}, ignore=True)
        return mural_id

    def mural(self, mural_id: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM murals WHERE id = ?", [mural_id]))
        return rows[0] if rows else None

    def murals(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM murals ORDER BY created_at, id"))

    def review_queue(self) -> list[dict]:
        """Murals with a machine caption, oldest first, each with its latest caption and latest decision (or None)."""
        return list(self.db.query(
            "SELECT i.id, i.name, i.image_path, i.mask_path, i.source, c.text AS draft, c.captioner, "
            "r.decision, r.final_text, r.reviewer, r.created_at AS reviewed_at FROM murals i "
            "JOIN captions c ON c.id = (SELECT MAX(id) FROM captions WHERE mural_id = i.id) "
            "LEFT JOIN caption_reviews r ON r.id = (SELECT MAX(id) FROM caption_reviews WHERE mural_id = i.id) "
            "ORDER BY i.created_at, i.id"))

    # ---------------------------------------------------------------------------------------------------- captions
    def add_caption(self, mural_id: str, captioner: str, text: str) -> int:
        with self.writing():
            return self.db["captions"].insert({"mural_id": mural_id, "captioner": captioner, "text": text,
                                               "created_at": now()}).last_pk

    def review_caption(self, mural_id: str, reviewer: str, final_text: str, decision: str) -> int:
        """Append a decision on the mural's latest machine caption; earlier decisions stay untouched."""
        if decision not in DECISIONS:
            raise InputError(f"A review decision is one of {', '.join(DECISIONS)}, not {decision!r}.")
        draft = self.latest_caption(mural_id)
        if draft is None:
            raise InputError(f"No caption to review for mural {mural_id!r}.")
        with self.writing():
            return self.db["caption_reviews"].insert({
                "mural_id": mural_id, "caption_id": draft["id"], "reviewer": reviewer, "draft": draft["text"],
                "final_text": final_text, "decision": decision, "created_at": now()}).last_pk

    def latest_caption(self, mural_id: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM captions WHERE mural_id = ? ORDER BY id DESC LIMIT 1", [mural_id]))
        return rows[0] if rows else None

    def latest_approved_text(self, mural_id: str) -> str | None:
        rows = list(self.db.query("SELECT final_text FROM caption_reviews WHERE mural_id = ? AND decision = 'approved' "
                                  "ORDER BY id DESC LIMIT 1", [mural_id]))
        return rows[0]["final_text"] if rows else None

    def review_history(self, mural_id: str) -> list[dict]:
        return list(self.db.query("SELECT * FROM caption_reviews WHERE mural_id = ? ORDER BY id", [mural_id]))

    def review_progress(self) -> tuple[int, int]:
        """(murals with at least one review, murals with a caption)."""
        reviewed = next(self.db.query("SELECT COUNT(DISTINCT mural_id) AS n FROM caption_reviews"))["n"]
        total = next(self.db.query("SELECT COUNT(DISTINCT mural_id) AS n FROM captions"))["n"]
        return reviewed, total

    def reviewed_captions(self) -> list[dict]:
        """The latest decision per mural, joined with the mural (for JSONL / datasets export)."""
        return list(self.db.query(
            "SELECT r.*, i.name, i.image_path, i.mask_path FROM caption_reviews r JOIN murals i ON i.id = r.mural_id "
            "WHERE r.id IN (SELECT MAX(id) FROM caption_reviews GROUP BY mural_id) ORDER BY r.mural_id"))

    # ------------------------------------------------------------------------------------------- blind A/B rating
    def add_candidate(self, mural_id: str, system: str, image_path: str, provenance: dict) -> str:
        """Cache one restoration of a mural; returns its random id (the only name the page ever sees)."""
        with self.writing() as db:  # check and insert under one lock: two workers cannot both add it
            existing = list(db.query("SELECT id FROM candidates WHERE mural_id = ? AND system = ?", [mural_id, system]))
            if existing:
                return existing[0]["id"]
            candidate_id = secrets.token_urlsafe(12)
            db["candidates"].insert({"id": candidate_id, "mural_id": mural_id, "system": system,
                                     "image_path": image_path, "provenance": json.dumps(provenance, default=str),
                                     "created_at": now()})
        return candidate_id

    def issue_pair(self, rater: str, rng, systems: tuple[str, ...] | None = None) -> IssuedPair | None:
        """The rater's open pair when there is one (``reissued``), else a new pair (among ``systems`` when given) of
        two candidates this rater has never been shown, sides by coin flip; None when no such pair is left.

        Never a candidate shown to the rater before (:meth:`shown_candidates`): once a vote has named its system, its
        pixels would tell the rater a side of the next pair it is in.  So each rater judges every restoration at
        most once (with k systems, k // 2 pairs per mural), and only new murals or systems give them more.
        Preference among new pairs, in order: the (mural, system pair) with the fewest votes, then the mural with the
        fewest votes; ties broken at random.
        """
        waiting = self.open_pair(rater)
        if waiting is not None:
            return waiting
        with self.writing() as db:  # chosen under the write lock: no pair of this rater is issued or answered meanwhile
            waiting = self.open_pair(rater)  # (a concurrent request of the same rater may have issued one)
            if waiting is not None:
                return waiting
            pair = self._new_pair(rater, rng, systems)
            if pair is not None:
                db["pairs"].insert({"id": pair.pair_id, "mural_id": pair.mural_id, "left_id": pair.left_id,
                                    "right_id": pair.right_id, "rater": rater, "issued_at": now(), "voted_at": None})
        return pair

    def _new_pair(self, rater: str, rng, systems: tuple[str, ...] | None) -> IssuedPair | None:
        """Draw a pair of candidates unseen by ``rater`` (see :meth:`issue_pair`), or None."""
        seen = self.shown_candidates(rater)
        candidates = [c for c in self.db.query("SELECT id, mural_id, system FROM candidates ORDER BY mural_id, system")
                      if (systems is None or c["system"] in systems) and c["id"] not in seen]
        per_mural, per_pair = {}, {}
        for vote in self.db.query("SELECT mural_id, left_system, right_system FROM votes"):
            per_mural[vote["mural_id"]] = per_mural.get(vote["mural_id"], 0) + 1
            key = (vote["mural_id"], *sorted((vote["left_system"], vote["right_system"])))
            per_pair[key] = per_pair.get(key, 0) + 1
        by_mural: dict[str, list[dict]] = {}
        for candidate in candidates:
            by_mural.setdefault(candidate["mural_id"], []).append(candidate)
        options = []
        for mural_id, group in by_mural.items():
            for i in range(len(group)):
                for j in range(i + 1, len(group)):
                    key = (mural_id, *sorted((group[i]["system"], group[j]["system"])))
                    options.append(((per_pair.get(key, 0), per_mural.get(mural_id, 0)), group[i], group[j]))
        if not options:
            return None
        fewest = min(o[0] for o in options)
        least_voted = [option for option in options if option[0] == fewest]
        _, first, second = least_voted[int(rng.integers(len(least_voted)))]
        left, right = (first, second) if rng.random() < 0.5 else (second, first)
        return IssuedPair(secrets.token_urlsafe(16), first["mural_id"], left["id"], right["id"])

    def shown_candidates(self, rater: str) -> set[str]:
        """Ids of every candidate in a pair issued to ``rater`` (answered or not: a pair that could not be shown is
        withdrawn, so every row was seen).  None of them is shown to this rater again."""
        return {row["id"] for row in self.db.query(
            "SELECT left_id AS id FROM pairs WHERE rater = ? UNION SELECT right_id FROM pairs WHERE rater = ?",
            [rater, rater])}

    _LATEST = "(SELECT id FROM pairs WHERE rater = ? ORDER BY rowid DESC LIMIT 1)"

    def open_pair(self, rater: str) -> IssuedPair | None:
        """The pair last issued to ``rater`` while it is neither voted on nor skipped (older ones never reopen)."""
        rows = list(self.db.query(f"SELECT * FROM pairs WHERE id = {self._LATEST} AND voted_at IS NULL "
                                  "AND skipped_at IS NULL", [rater]))
        if not rows:
            return None
        row = rows[0]
        return IssuedPair(row["id"], row["mural_id"], row["left_id"], row["right_id"], reissued=True)

    def withdraw_pair(self, pair_id: str, rater: str) -> None:
        """Forget an unanswered pair that could not be shown (no row is left for a pair nobody saw)."""
        with self.writing() as db:
            db.execute("DELETE FROM pairs WHERE id = ? AND rater = ? AND voted_at IS NULL AND skipped_at IS NULL",
                       [pair_id, rater])

    def _why_not_open(self, pair_id: str, rater: str) -> InputError:
        known = list(self.db.query("SELECT rater, voted_at, skipped_at FROM pairs WHERE id = ?", [pair_id]))
        if not known or known[0]["rater"] != rater:
            return InputError("This pair was not issued to you; load a new pair.")
        if known[0]["voted_at"] is not None:
            return InputError("You have already voted on this pair.")
        if known[0]["skipped_at"] is not None:
            return InputError("You skipped this pair; load the next one.")
        return InputError("This pair is no longer open; load the pair waiting for you (Next pair).")

    def record_vote(self, pair_id: str, rater: str, outcome: str, left_score: int | None = None,
                    right_score: int | None = None, comment: str = "") -> dict:
        """Accept one vote for the open pair issued to ``rater``; returns the revealed systems.

        Raises :class:`InputError` for an unknown pair, a pair issued to someone else, a second vote, a skipped pair
        or a pair that is not the rater's open pair.
        """
        if outcome not in OUTCOMES:
            raise InputError(f"A vote is one of {', '.join(OUTCOMES)}, not {outcome!r}.")
        for score in (left_score, right_score):
            if score is not None and not 1 <= int(score) <= 5:
                raise InputError("Scores go from 1 to 5.")
        with self.writing() as db:  # the claim and the insert are one step
            claimed = db.execute(f"UPDATE pairs SET voted_at = ? WHERE id = ? AND rater = ? AND voted_at IS NULL "
                                 f"AND skipped_at IS NULL AND id = {self._LATEST}",
                                 [now(), pair_id, rater, rater]).rowcount
            if claimed == 1:
                pair = next(db.query(
                    "SELECT p.mural_id, l.system AS left_system, r.system AS right_system FROM pairs p "
                    "JOIN candidates l ON l.id = p.left_id JOIN candidates r ON r.id = p.right_id WHERE p.id = ?",
                    [pair_id]))
                db.execute("INSERT INTO votes (pair_id, rater, mural_id, left_system, right_system, outcome, "
                           "left_score, right_score, comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [pair_id, rater, pair["mural_id"], pair["left_system"], pair["right_system"], outcome,
                            left_score, right_score, comment, now()])
        if claimed != 1:
            raise self._why_not_open(pair_id, rater)
        return pair

    def skip_pair(self, pair_id: str, rater: str, reason: str, detail: str = "", limit: int | None = None) -> int:
        """Answer the rater's open pair with a skip (no systems revealed); returns the rater's skips so far.

        ``reason`` is required; ``limit`` caps the skips per rater (None: no cap), refused with a message when reached.
        """
        reason = (reason or "").strip()
        if not reason:
            raise InputError("Say why you skip this pair (pick a reason).")
        with self.writing() as db:
            used = next(db.query("SELECT COUNT(*) AS n FROM skips WHERE rater = ?", [rater]))["n"]
            if limit == 0:
                raise InputError("Skipping is off in this study: please judge this pair ('Tie' or 'Both bad' are "
                                 "fine answers when neither restoration is clearly better).")
            if limit is not None and used >= limit:
                raise InputError(
                    f"You have skipped {used} pairs, the most a rater may skip in this study: please judge this "
                    "pair ('Tie' or 'Both bad' are fine answers when neither restoration is clearly better).")
            claimed = db.execute(f"UPDATE pairs SET skipped_at = ? WHERE id = ? AND rater = ? AND voted_at IS NULL "
                                 f"AND skipped_at IS NULL AND id = {self._LATEST}",
                                 [now(), pair_id, rater, rater]).rowcount
            if claimed == 1:
                mural_id = next(db.query("SELECT mural_id FROM pairs WHERE id = ?", [pair_id]))["mural_id"]
                db.execute("INSERT INTO skips (pair_id, rater, mural_id, reason, detail, created_at) "
                           "VALUES (?, ?, ?, ?, ?, ?)", [pair_id, rater, mural_id, reason, (detail or "").strip(),
                                                         now()])
        if claimed != 1:
            raise self._why_not_open(pair_id, rater)
        return used + 1

    def skips(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM skips ORDER BY id"))

    def skip_counts(self) -> dict[str, int]:
        """Skips per rater."""
        return {r["rater"]: r["n"] for r in self.db.query("SELECT rater, COUNT(*) AS n FROM skips GROUP BY rater")}

    def candidate(self, candidate_id: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM candidates WHERE id = ?", [candidate_id]))
        return rows[0] if rows else None

    def candidates_of(self, mural_id: str) -> list[dict]:
        return list(self.db.query("SELECT * FROM candidates WHERE mural_id = ? ORDER BY system", [mural_id]))

    def candidate_systems(self, mural_id: str) -> set[str]:
        return {r["system"] for r in self.db.query("SELECT system FROM candidates WHERE mural_id = ?", [mural_id])}

    def votes(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM votes ORDER BY id"))

    def change_signature(self) -> tuple[int, ...]:
        """Row counts of every table plus votes cast: changes whenever anything is written (rows only ever grow)."""
        tables = ("murals", "captions", "caption_reviews", "candidates", "pairs", "votes", "raters", "skips")
        counts = [next(self.db.query(f"SELECT COUNT(*) AS n FROM [{table}]"))["n"] for table in tables]  # fixed names
        return (*counts, next(self.db.query("SELECT COUNT(voted_at) AS n FROM pairs"))["n"])

    # ---------------------------------------------------------------------------------------------------- sessions
    @staticmethod
    def _session_key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()  # the database never holds a usable cookie

    def create_session(self, name: str, lifetime_s: float, now_s: float | None = None) -> tuple[str, float]:
        """A new login session for ``name`` -> (random token for the cookie, expiry in Unix seconds)."""
        current = time.time() if now_s is None else now_s
        token = secrets.token_urlsafe(32)
        expires = current + lifetime_s
        with self.writing() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", [current])  # expired ones go
            db.execute("INSERT INTO sessions (id, name, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, NULL)",
                       [self._session_key(token), name, now(), expires])
        return token, expires

    def session_user(self, token: str | None, now_s: float | None = None) -> str:
        """The name of a live session, "" for an unknown, revoked or expired one."""
        if not token:
            return ""
        current = time.time() if now_s is None else now_s
        rows = list(self.db.query("SELECT name FROM sessions WHERE id = ? AND revoked_at IS NULL AND expires_at > ?",
                                  [self._session_key(token), current]))
        return rows[0]["name"] if rows else ""

    def revoke_session(self, token: str | None) -> bool:
        """End a session (logout); every copy of its cookie stops working.  Returns whether one was live."""
        if not token:
            return False
        with self.writing() as db:
            return db.execute("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                              [now(), self._session_key(token)]).rowcount == 1

    def snapshot(self, destination: str | os.PathLike) -> Path:
        """A consistent copy of the live database (SQLite online backup), safe while others write."""
        destination = Path(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        target = sqlite3.connect(partial)
        try:
            self.db.conn.backup(target)
        finally:
            target.close()
        partial.replace(destination)  # readers of the folder never see a half-written file
        return destination
