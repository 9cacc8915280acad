"""The catalog ("media data file"): one SQLite database of files, fingerprints and the last scan."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from platformdirs import user_cache_dir

from ..records import MediadupError
from .decisions import Decisions
from .files import Files
from .journal import Journal
from .scans import Scans

APPLICATION_ID = 0x4D444450  # "MDDP": marks a SQLite file as a mediadup catalog
SCHEMA_VERSION = 7
MIGRATED = (5, 6)  # older schemas upgraded in place (new tables and columns); others are rebuilt
KEPT_ON_REBUILD = ("applies", "journal", "ignored", "choices")  # the user's history and decisions; the rest is a cache

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,         -- one version of one file: a changed file gets a new id
    path BLOB NOT NULL UNIQUE,      -- os.fsencode(path): any byte sequence the OS allows
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, device INTEGER NOT NULL, inode INTEGER NOT NULL,
    kind TEXT NOT NULL,
    content_hash TEXT,              -- xxh3-128 of the bytes, when it was needed
    partial_hash TEXT,              -- hash of the first and last 64 KiB, when it was needed
    fp_version INTEGER,             -- fingerprint version, when fingerprinted or failed
    error TEXT                      -- why the file could not be fingerprinted
);
CREATE INDEX IF NOT EXISTS files_content ON files(content_hash) WHERE content_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS files_inode ON files(inode, size);  -- a moved file is found again
CREATE TABLE IF NOT EXISTS image_fingerprints (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    phash INTEGER NOT NULL, hashes BLOB NOT NULL, thumb BLOB NOT NULL, histogram BLOB NOT NULL, info TEXT NOT NULL,
    usable INTEGER,                 -- 0 for a near-uniform picture: light loads skip the thumbnail
    features BLOB                   -- keypoints of the content (fingerprint.features)
);
CREATE TABLE IF NOT EXISTS video_fingerprints (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    times BLOB NOT NULL, hashes BLOB NOT NULL, thumbs BLOB NOT NULL, histograms BLOB NOT NULL, info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS verdicts (  -- how a pair compared: rescans verify nothing twice
    a INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    b INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    level TEXT NOT NULL, version INTEGER NOT NULL,
    match TEXT,                     -- JSON of the match, NULL when they are different pictures (or
                                    -- match.verify.FRAMED: no copy in the same framing, no part searched)
    PRIMARY KEY (a, b, level)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS verdicts_b ON verdicts(b);
CREATE TABLE IF NOT EXISTS applies (
    id INTEGER PRIMARY KEY, op TEXT NOT NULL, started REAL NOT NULL, finished REAL, undone REAL
);
CREATE TABLE IF NOT EXISTS journal (  -- written before each action, completed after it
    id INTEGER PRIMARY KEY, apply_id INTEGER NOT NULL REFERENCES applies(id),
    op TEXT NOT NULL, path BLOB NOT NULL, keeper BLOB NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER,
    target BLOB,                    -- where the file went (move, trash)
    state TEXT NOT NULL,            -- planned, done, failed, restored, untouched
    error TEXT, at REAL NOT NULL,
    after TEXT                      -- the content hash a merge left in the keeper
);
CREATE TABLE IF NOT EXISTS ignored (  -- pairs the user said are not duplicates, by content
    a TEXT NOT NULL, b TEXT NOT NULL,  -- xxh3-128 of each file's bytes, a < b
    at REAL NOT NULL, a_path BLOB, b_path BLOB,  -- when, and where the two files were then
    PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS choices (  -- what the user chose in `mediadup review`, for files as they were then
    path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    choice TEXT NOT NULL,           -- keep, leave (out of applies) or differs (not a duplicate)
    at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL, roots TEXT NOT NULL,
    options TEXT NOT NULL, summary TEXT
);
CREATE TABLE IF NOT EXISTS scan_groups (
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE, group_no INTEGER NOT NULL,
    path BLOB NOT NULL, role TEXT NOT NULL, relation TEXT NOT NULL, score REAL NOT NULL,
    evidence TEXT NOT NULL, reason TEXT, size INTEGER NOT NULL,
    companion BLOB                  -- a Live Photo's motion clip, which follows the file
);
CREATE INDEX IF NOT EXISTS scan_groups_scan ON scan_groups(scan_id, group_no);
"""


_CHOOSE = "choose another with --catalog FILE"


def default_path() -> str:
    return os.path.join(user_cache_dir("mediadup", appauthor=False), "catalog.sqlite")


class CatalogError(MediadupError):
    """The catalog cannot be opened or used; the message says why."""


class Catalog(Files, Scans, Decisions, Journal):
    """The catalog at `path` (the default one without it); `create=False` refuses one that does
    not exist yet (a mistyped --catalog must not start an empty one)."""

    def __init__(self, path: str | None = None, create: bool = True):
        self.path = path or default_path()
        folder = os.path.dirname(os.path.abspath(self.path))
        if not create and not os.path.isfile(self.path):
            raise CatalogError(f"no catalog at {self.path}: run `mediadup scan` first, or give the --catalog it used")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise CatalogError(f"cannot make the catalog's folder {folder}: {e.strerror or e}; {_CHOOSE}") from e
        try:
            tempfile.TemporaryFile(dir=folder).close()  # SQLite needs to write its own files beside it
        except OSError as e:
            raise CatalogError(f"the catalog's folder {folder} is not writable ({e.strerror or e}); {_CHOOSE}") from e
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self._migrate()
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.DatabaseError, OSError) as e:
            raise CatalogError(f"cannot open catalog {self.path}: {e}") from e

    @contextmanager
    def exclusive(self, what: str) -> Iterator[None]:
        """Hold the catalog's lock while files are changed (apply, undo): one at a time. Another
        holder makes this raise CatalogError at once, naming what it is doing."""
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another mediadup"
                raise CatalogError(f"{holder} is changing files with this catalog; wait until it ends, "
                                   f"then run {what} again") from None  # fmt: skip
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"mediadup {what} (process {os.getpid()})".encode(), 0)
            yield
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing releases the lock

    def _migrate(self) -> None:
        """Create the schema; the caches of an older schema are rebuilt, the journal is kept.
        A database that is not a mediadup catalog is never touched."""
        self.notice: str | None = None
        app = self.db.execute("PRAGMA application_id").fetchone()[0]
        tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app != APPLICATION_ID and tables:
            raise CatalogError(f"{self.path} is a database, but not a mediadup catalog: choose another --catalog")
        with self.db:
            self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() if has_meta else None
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise CatalogError(
                    f"catalog {self.path} was written by a newer mediadup (schema {row[0]}); "
                    "upgrade mediadup or use another --catalog"
                )
            if row is not None and int(row[0]) in MIGRATED:
                self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
            elif row is not None and int(row[0]) < SCHEMA_VERSION:
                tables = [r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                for table in tables:
                    if table not in KEPT_ON_REBUILD:
                        self.db.execute(f'DROP TABLE IF EXISTS "{table}"')
                self.notice = (
                    f"catalog {self.path} had schema {row[0]}, older than {SCHEMA_VERSION}: "
                    "rebuilt; fingerprints are computed again once"
                )
            self.db.executescript(_SCHEMA)
            added = (("journal", "mtime_ns", "INTEGER"), ("image_fingerprints", "usable", "INTEGER"),
                     ("scan_groups", "companion", "BLOB"), ("journal", "after", "TEXT"),
                     ("image_fingerprints", "features", "BLOB"))  # fmt: skip
            for table, column, kind in added:  # tables kept from older schemas
                if column not in {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}:
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
