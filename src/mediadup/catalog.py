"""The catalog ("media data file"): one SQLite database of files, fingerprints and the last scan."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

from platformdirs import user_cache_dir

from .fingerprint import VERSION as FINGERPRINT_VERSION
from .fingerprint import ImageFingerprint
from .records import FileStat, Group, ScanSummary

SCHEMA_VERSION = 1
BATCH = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path BLOB PRIMARY KEY,          -- os.fsencode(path): any byte sequence the OS allows
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, device INTEGER NOT NULL, inode INTEGER NOT NULL,
    kind TEXT NOT NULL,
    content_hash TEXT,              -- xxh3-128 of the bytes, when it was needed
    fp_version INTEGER,             -- fingerprint version, when fingerprinted or failed
    error TEXT                      -- why the file could not be fingerprinted
);
CREATE INDEX IF NOT EXISTS files_content ON files(content_hash) WHERE content_hash IS NOT NULL;
CREATE TABLE IF NOT EXISTS image_fingerprints (
    path BLOB PRIMARY KEY REFERENCES files(path) ON DELETE CASCADE,
    phash INTEGER NOT NULL, hashes BLOB NOT NULL, thumb BLOB NOT NULL, histogram BLOB NOT NULL, info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL, roots TEXT NOT NULL,
    options TEXT NOT NULL, summary TEXT
);
CREATE TABLE IF NOT EXISTS scan_groups (
    scan_id INTEGER NOT NULL REFERENCES scans(id) ON DELETE CASCADE, group_no INTEGER NOT NULL,
    path BLOB NOT NULL, role TEXT NOT NULL, relation TEXT NOT NULL, score REAL NOT NULL,
    evidence TEXT NOT NULL, reason TEXT, size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS scan_groups_scan ON scan_groups(scan_id, group_no);
"""


def default_path() -> str:
    return os.path.join(user_cache_dir("mediadup", appauthor=False), "catalog.sqlite")


class CatalogError(Exception):
    """The catalog cannot be opened or used; the message says why."""


@dataclass
class Cached:
    """What the catalog knows about an unchanged file."""

    content_hash: str | None
    fingerprinted: bool  # an up-to-date fingerprint (or error) is stored
    error: str | None


class Catalog:
    def __init__(self, path: str | None = None):
        self.path = path or default_path()
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (sqlite3.DatabaseError, OSError) as e:
            raise CatalogError(f"cannot open catalog {self.path}: {e}") from e

    def _migrate(self) -> None:
        with self.db:
            self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise CatalogError(
                    f"catalog {self.path} was written by a newer mediadup (schema {row[0]}); "
                    "upgrade mediadup or use another --catalog"
                )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- files ---------------------------------------------------------------------------
    def refresh(self, files: Iterable[FileStat]) -> dict[str, Cached]:
        """Record the files seen; forget what was known about changed ones; return the rest."""
        files = list(files)
        known: dict[bytes, tuple] = {}
        paths = [os.fsencode(f.path) for f in files]
        for start in range(0, len(paths), BATCH):
            chunk = paths[start : start + BATCH]
            q = f"SELECT path, size, mtime_ns, device, inode, content_hash, fp_version, error FROM files \
                WHERE path IN ({','.join('?' * len(chunk))})"
            for row in self.db.execute(q, chunk):
                known[row[0]] = row[1:]
        cached: dict[str, Cached] = {}
        changed = []
        for f, p in zip(files, paths):
            row = known.get(p)
            if row is not None and tuple(row[:4]) == f.key:
                cached[f.path] = Cached(row[4], row[5] == FINGERPRINT_VERSION, row[6])
            else:
                changed.append((p, f.size, f.mtime_ns, f.device, f.inode, f.kind.value))
        with self.db:
            self.db.executemany("DELETE FROM files WHERE path = ?", [(c[0],) for c in changed])
            self.db.executemany(
                "INSERT INTO files (path, size, mtime_ns, device, inode, kind) VALUES (?,?,?,?,?,?)", changed
            )
        return cached

    def set_content_hashes(self, hashes: dict[str, str]) -> None:
        with self.db:
            self.db.executemany(
                "UPDATE files SET content_hash = ? WHERE path = ?", [(h, os.fsencode(p)) for p, h in hashes.items()]
            )

    def store_fingerprints(self, rows: Iterable[tuple[str, ImageFingerprint | None, str | None]]) -> None:
        """Store fingerprints (or the reason a file has none), in one transaction."""
        with self.db:
            for path, fp, error in rows:
                p = os.fsencode(path)
                self.db.execute(
                    "UPDATE files SET fp_version = ?, error = ? WHERE path = ?", (FINGERPRINT_VERSION, error, p)
                )
                if fp is not None:
                    self.db.execute(
                        "INSERT OR REPLACE INTO image_fingerprints VALUES (?,?,?,?,?,?)",
                        (p, int(fp.hashes[0].astype("int64")), *fp.to_blob()),
                    )

    def fingerprints(self, paths: Iterable[str]) -> Iterator[tuple[str, ImageFingerprint]]:
        encoded = [os.fsencode(p) for p in paths]
        for start in range(0, len(encoded), BATCH):
            chunk = encoded[start : start + BATCH]
            q = f"SELECT path, hashes, thumb, histogram, info FROM image_fingerprints \
                WHERE path IN ({','.join('?' * len(chunk))})"
            for p, *blobs in self.db.execute(q, chunk):
                yield os.fsdecode(p), ImageFingerprint.from_blob(*blobs)

    # --- scans ---------------------------------------------------------------------------
    def save_scan(
        self, roots: list[str], options: dict, summary: ScanSummary, groups: list[Group], started: float
    ) -> int:
        """Store the scan's groups; only the last few scans are kept."""
        with self.db:
            cur = self.db.execute(
                "INSERT INTO scans (started, finished, roots, options, summary) VALUES (?,?,?,?,?)",
                (started, time.time(), json.dumps(roots), json.dumps(options), json.dumps(asdict(summary))),
            )
            scan_id = int(cur.lastrowid or 0)
            rows = []
            for n, g in enumerate(groups):
                for m in g.members:
                    role = "keep" if m is g.keeper else "duplicate"
                    rows.append(
                        (
                            scan_id,
                            n,
                            os.fsencode(m.path),
                            role,
                            m.relation.value,
                            m.score,
                            json.dumps(m.evidence),
                            g.reason if m is g.keeper else None,
                            m.stat.size,
                        )
                    )
            self.db.executemany("INSERT INTO scan_groups VALUES (?,?,?,?,?,?,?,?,?)", rows)
            self.db.execute("DELETE FROM scans WHERE id NOT IN (SELECT id FROM scans ORDER BY id DESC LIMIT 5)")
        return scan_id

    def last_scan_id(self) -> int | None:
        row = self.db.execute("SELECT max(id) FROM scans WHERE finished IS NOT NULL").fetchone()
        return row[0] if row else None
