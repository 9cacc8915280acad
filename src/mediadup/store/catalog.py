"""The catalog ("media data file"): one SQLite database of files, fingerprints and the last scan."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from platformdirs import user_cache_dir

from ..fingerprint.image import VERSION as IMAGE_VERSION
from ..fingerprint.image import ImageFingerprint
from ..fingerprint.video import VERSION as VIDEO_VERSION
from ..fingerprint.video import VideoFingerprint
from ..records import FileStat, Group, Kind, ScanSummary

Fingerprint = ImageFingerprint | VideoFingerprint
FINGERPRINT_VERSIONS = {Kind.IMAGE: IMAGE_VERSION, Kind.VIDEO: 1000 + VIDEO_VERSION}  # stored in files.fp_version

APPLICATION_ID = 0x4D444450  # "MDDP": marks a SQLite file as a mediadup catalog
SCHEMA_VERSION = 7
MIGRATED = (5, 6)  # older schemas upgraded in place (new tables and columns); others are rebuilt
KEPT_ON_REBUILD = ("applies", "journal", "ignored")  # the user's history and decisions; the rest is a cache
BATCH = 500

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
    usable INTEGER                  -- 0 for a near-uniform picture: light loads skip the thumbnail
);
CREATE TABLE IF NOT EXISTS video_fingerprints (
    file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    times BLOB NOT NULL, hashes BLOB NOT NULL, thumbs BLOB NOT NULL, histograms BLOB NOT NULL, info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS verdicts (  -- how a pair compared: rescans verify nothing twice
    a INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    b INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    level TEXT NOT NULL, version INTEGER NOT NULL,
    match TEXT,                     -- JSON of the match, NULL when they are different pictures
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


def _chunks(items: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_CHOOSE = "choose another with --catalog FILE"


def default_path() -> str:
    return os.path.join(user_cache_dir("mediadup", appauthor=False), "catalog.sqlite")


class CatalogError(Exception):
    """The catalog cannot be opened or used; the message says why."""


@dataclass
class Cached:
    """What the catalog knows about an unchanged file."""

    id: int
    content_hash: str | None
    partial_hash: str | None
    fingerprinted: bool  # an up-to-date fingerprint (or error) is stored
    error: str | None


@dataclass(frozen=True)
class JournalEntry:
    """One action of an apply as the journal recorded it."""

    id: int
    op: str
    path: str
    keeper: str
    size: int  # the file's size and mtime when the action was planned
    mtime_ns: int | None
    target: str | None  # where the file went (move, trash, a merge's backup)
    state: str  # planned, done, failed, restored, untouched
    after: str | None  # the content hash a merge left in the keeper


class Catalog:
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
                     ("scan_groups", "companion", "BLOB"), ("journal", "after", "TEXT"))  # fmt: skip
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

    # --- files ---------------------------------------------------------------------------
    def refresh(self, files: Iterable[FileStat]) -> dict[str, Cached]:
        """Record the files seen (a changed file gets a new id and loses what was known about it)."""
        files = list(files)
        known: dict[bytes, tuple] = {}
        paths = [os.fsencode(f.path) for f in files]
        for chunk in _chunks(paths):
            q = f"SELECT path, size, mtime_ns, device, inode, id, content_hash, partial_hash, fp_version, error \
                FROM files \
                WHERE path IN ({','.join('?' * len(chunk))})"
            for row in self.db.execute(q, chunk):
                known[row[0]] = row[1:]
        cached: dict[str, Cached] = {}
        changed = []
        for f, p in zip(files, paths):
            row = known.get(p)
            if row is not None and tuple(row[:4]) == f.key:
                cached[f.path] = Cached(row[4], row[5], row[6], row[7] == FINGERPRINT_VERSIONS.get(f.kind), row[8])
            else:
                changed.append((f, p))
        with self.db:
            self.db.executemany("DELETE FROM files WHERE path = ?", [(p,) for _, p in changed])
            claimed: set[int] = set()
            for f, p in changed:
                moved = self._moved_here(f, claimed)
                if moved is not None:  # the catalog row follows the file, with all it knows
                    self.db.execute("UPDATE files SET path = ?, device = ? WHERE id = ?", (p, f.device, moved[0]))
                    claimed.add(moved[0])
                    known_version = moved[3] == FINGERPRINT_VERSIONS.get(f.kind)
                    cached[f.path] = Cached(moved[0], moved[1], moved[2], known_version, moved[4])
                    continue
                cur = self.db.execute(
                    "INSERT INTO files (path, size, mtime_ns, device, inode, kind) VALUES (?,?,?,?,?,?)",
                    (p, f.size, f.mtime_ns, f.device, f.inode, f.kind.value),
                )
                cached[f.path] = Cached(int(cur.lastrowid or 0), None, None, False, None)
        return cached

    def _moved_here(self, f: FileStat, claimed: set[int]) -> tuple | None:
        """The row of a file that was renamed or moved to `f` (or whose drive is mounted elsewhere):
        same inode, size and modification time, and its old path is gone."""
        q = "SELECT id, content_hash, partial_hash, fp_version, error, path FROM files \
            WHERE inode = ? AND size = ? AND mtime_ns = ?"
        for row in self.db.execute(q, (f.inode, f.size, f.mtime_ns)).fetchall():
            if row[0] not in claimed and not os.path.lexists(row[5]):
                return row
        return None

    def forget_missing(self, roots: Iterable[str], seen: Iterable[str]) -> int:
        """Forget files under the scanned folders `roots` that this scan did not see and that are
        gone from disk (with their fingerprints and verdicts). Files left out by the scan's options
        but still there are kept. Returns how many were forgotten."""
        seen_paths = {os.fsencode(p) for p in seen}
        gone = []
        for root in roots:
            if not os.path.isdir(root):
                continue
            prefix = os.fsencode(os.path.join(os.path.abspath(root), ""))
            end = prefix[:-1] + bytes([prefix[-1] + 1])  # just after every path that starts with prefix
            q = "SELECT id, path FROM files WHERE path >= ? AND path < ?"
            gone += [i for i, p in self.db.execute(q, (prefix, end)) if p not in seen_paths and not os.path.lexists(p)]
        with self.db:
            self.db.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in gone])
        return len(gone)

    def set_content_hashes(self, full: dict[int, str], partial: dict[int, str]) -> None:
        with self.db:
            self.db.executemany("UPDATE files SET content_hash = ? WHERE id = ?", [(h, i) for i, h in full.items()])
            self.db.executemany("UPDATE files SET partial_hash = ? WHERE id = ?", [(h, i) for i, h in partial.items()])

    def store_fingerprints(self, rows: Iterable[tuple[int, Kind, Fingerprint | None, str | None, str | None]]) -> None:
        """Store fingerprints (or the reason a file has none) and content hashes, when known, by
        file id, in one transaction."""
        with self.db:
            for file_id, kind, fp, error, digest in rows:
                self.db.execute(
                    "UPDATE files SET fp_version = ?, error = ?, content_hash = coalesce(?, content_hash) WHERE id = ?",
                    (FINGERPRINT_VERSIONS[kind], error, digest, file_id),
                )
                if isinstance(fp, ImageFingerprint):
                    self.db.execute(
                        "INSERT OR REPLACE INTO image_fingerprints VALUES (?,?,?,?,?,?,?)",
                        (file_id, int(fp.hashes[0].astype("int64")), *fp.to_blob(), int(fp.comparable)),
                    )
                elif isinstance(fp, VideoFingerprint):
                    q = "INSERT OR REPLACE INTO video_fingerprints VALUES (?,?,?,?,?,?)"
                    self.db.execute(q, (file_id, *fp.to_blob()))

    def fingerprinted_sizes(self, kind: Kind) -> set[int]:
        """Sizes of the files with an up-to-date fingerprint and a known content hash."""
        q = "SELECT DISTINCT size FROM files WHERE kind = ? AND fp_version = ? AND error IS NULL \
            AND content_hash IS NOT NULL"
        return {size for (size,) in self.db.execute(q, (kind.value, FINGERPRINT_VERSIONS[kind]))}

    def fingerprinted_contents(self, digests: Iterable[str], kind: Kind) -> dict[str, int]:
        """content hash -> id of a file with those bytes and an up-to-date fingerprint."""
        found: dict[str, int] = {}
        for chunk in _chunks(list(set(digests))):
            q = f"SELECT content_hash, id FROM files WHERE kind = ? AND fp_version = ? AND error IS NULL \
                AND content_hash IN ({','.join('?' * len(chunk))})"
            found.update(self.db.execute(q, (kind.value, FINGERPRINT_VERSIONS[kind], *chunk)))
        return found

    def copy_image_fingerprint(self, source: int, targets: Iterable[int], digest: str) -> None:
        """Give files with the same bytes as file `source` its fingerprint (a copy: each keeps its own)."""
        with self.db:
            for target in targets:
                self.db.execute(
                    "INSERT OR REPLACE INTO image_fingerprints SELECT ?, phash, hashes, thumb, histogram, info, usable \
                    FROM image_fingerprints WHERE file_id = ?",
                    (target, source),
                )
                self.db.execute(
                    "UPDATE files SET fp_version = ?, error = NULL, content_hash = ? WHERE id = ?",
                    (FINGERPRINT_VERSIONS[Kind.IMAGE], digest, target),
                )

    def fingerprints(
        self, ids: Iterable[int], kind: Kind = Kind.IMAGE, light: bool = False
    ) -> Iterator[tuple[int, Fingerprint]]:
        """Stored fingerprints by file id; `light` ones without thumbnails (not even read)."""
        if kind is Kind.VIDEO:
            table, cls = "video_fingerprints", VideoFingerprint
            columns = "times, hashes, NULL, NULL, info" if light else "times, hashes, thumbs, histograms, info"
        else:  # a light picture's thumbnail is read only when whether it is usable was not stored
            table, cls = "image_fingerprints", ImageFingerprint
            thumb = "CASE WHEN usable IS NULL THEN thumb END" if light else "thumb"
            columns = f"hashes, {thumb}, histogram, info, usable"
        learnt: list[tuple[int, int]] = []  # usable, file id: for rows stored before it was kept
        for chunk in _chunks(list(ids)):
            q = f"SELECT file_id, {columns} FROM {table} WHERE file_id IN ({','.join('?' * len(chunk))})"
            for file_id, *blobs in self.db.execute(q, chunk).fetchall():
                fp = cls.from_blob(*blobs)
                if isinstance(fp, ImageFingerprint) and blobs[-1] is None:
                    learnt.append((int(fp.comparable), file_id))
                yield file_id, fp.light() if light else fp
        if learnt:
            with self.db:
                self.db.executemany("UPDATE image_fingerprints SET usable = ? WHERE file_id = ?", learnt)

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def verdicts(self, level: str, version: int) -> dict[tuple[int, int], str | None]:
        """Known comparisons: (a, b) -> the match as JSON, or None for different pictures."""
        q = "SELECT a, b, match FROM verdicts WHERE level = ? AND version = ?"
        return {(a, b): m for a, b, m in self.db.execute(q, (level, version))}

    def store_verdicts(self, level: str, version: int, rows: Iterable[tuple[int, int, str | None]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?)", [(a, b, level, version, m) for a, b, m in rows]
            )

    # --- "not duplicates" decisions ------------------------------------------------------
    def ignore(self, pairs: Iterable[tuple[tuple[str, str], tuple[str, str]]]) -> int:
        """Remember pairs ((hash, path), (hash, path)) as not duplicates; returns how many are new."""
        rows = []
        for (ha, pa), (hb, pb) in pairs:
            if ha != hb:
                (ha, pa), (hb, pb) = sorted([(ha, pa), (hb, pb)])
                rows.append((ha, hb, time.time(), os.fsencode(pa), os.fsencode(pb)))
        with self.db:
            before = self.db.total_changes
            self.db.executemany("INSERT OR IGNORE INTO ignored VALUES (?,?,?,?,?)", rows)
            return self.db.total_changes - before

    def ignored(self) -> set[tuple[str, str]]:
        """Every remembered pair of content hashes (a, b), a < b."""
        return set(self.db.execute("SELECT a, b FROM ignored"))

    def ignored_rows(self) -> list[tuple[str, str, float, str, str]]:
        """(a, b, when, a's path then, b's path then), oldest first."""
        rows = self.db.execute("SELECT a, b, at, a_path, b_path FROM ignored ORDER BY at, a, b")
        return [(a, b, at, os.fsdecode(pa), os.fsdecode(pb)) for a, b, at, pa, pb in rows]

    def forget_ignored(self, digests: Sequence[str]) -> int:
        """Forget the decisions between these contents (with one: every decision about it)."""
        with self.db:
            if len(digests) == 1:
                q = "DELETE FROM ignored WHERE a = ? OR b = ?"
                return self.db.execute(q, (digests[0], digests[0])).rowcount
            pairs = [tuple(sorted(p)) for p in itertools.combinations(set(digests), 2)]
            before = self.db.total_changes
            self.db.executemany("DELETE FROM ignored WHERE a = ? AND b = ?", pairs)
            return self.db.total_changes - before

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
                            os.fsencode(m.companion.path) if m.companion else None,
                        )
                    )
            self.db.executemany("INSERT INTO scan_groups VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
            self.db.execute("DELETE FROM scans WHERE id NOT IN (SELECT id FROM scans ORDER BY id DESC LIMIT 5)")
        return scan_id

    # --- the journal -----------------------------------------------------------------------
    def start_apply(self, op: str) -> int:
        with self.db:
            return int(
                self.db.execute("INSERT INTO applies (op, started) VALUES (?, ?)", (op, time.time())).lastrowid or 0
            )

    def finish_apply(self, apply_id: int) -> None:
        with self.db:
            self.db.execute("UPDATE applies SET finished = ? WHERE id = ?", (time.time(), apply_id))

    def finish_undo(self, apply_id: int, when: float) -> None:
        with self.db:
            self.db.execute("UPDATE applies SET undone = ? WHERE id = ?", (when, apply_id))

    def applies_to_undo(self, everything: bool = False) -> list[int]:
        """Applies not undone yet, newest first: all of them, or the last one together with the
        interrupted ones just before it (a crashed apply and the apply that finished its work)."""
        rows = self.db.execute("SELECT id, finished FROM applies WHERE undone IS NULL ORDER BY id DESC").fetchall()
        if everything or not rows:
            return [r[0] for r in rows]
        chosen = [rows[0][0]]
        for apply_id, finished in rows[1:]:
            if finished is not None:
                break
            chosen.append(apply_id)
        return chosen

    def journal_planned(self, apply_id: int, action) -> int:
        """Record an action before it happens (committed at once)."""
        with self.db:
            cur = self.db.execute(
                "INSERT INTO journal (apply_id, op, path, keeper, size, mtime_ns, target, state, at) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (apply_id, action.op, os.fsencode(action.path), os.fsencode(action.keeper), action.size,
                 action.mtime_ns, os.fsencode(action.target) if action.target else None, "planned", time.time()),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def journal_finish(
        self, entry: int, state: str, target: str | None = None, error: str | None = None, after: str | None = None
    ) -> None:
        """Record how an action ended; `after`: the content hash it left (a merged keeper)."""
        with self.db:
            self.db.execute(
                "UPDATE journal SET state = ?, target = coalesce(?, target), error = ?, at = ?, "
                "after = coalesce(?, after) WHERE id = ?",
                (state, os.fsencode(target) if target else None, error, time.time(), after, entry),
            )

    def applies(self) -> list[tuple]:
        """(id, action, files acted on, started, state) of every apply, oldest first."""
        rows = self.db.execute(
            "SELECT a.id, a.op, (SELECT count(*) FROM journal j WHERE j.apply_id = a.id AND j.state = 'done' "
            "AND j.op != 'merge-metadata'), "
            "datetime(a.started, 'unixepoch', 'localtime'), "
            "CASE WHEN a.undone IS NOT NULL THEN 'undone' WHEN a.finished IS NULL THEN 'interrupted' ELSE 'done' END "
            "FROM applies a ORDER BY a.id"
        )
        return rows.fetchall()

    def journal(self, apply_id: int) -> list[JournalEntry]:
        """The entries of one apply, newest first."""
        rows = self.db.execute(
            "SELECT id, op, path, keeper, size, mtime_ns, target, state, after FROM journal WHERE apply_id = ? "
            "ORDER BY id DESC",
            (apply_id,),
        )
        return [
            JournalEntry(i, op, os.fsdecode(p), os.fsdecode(k), size, mtime, t and os.fsdecode(t), state, after)
            for i, op, p, k, size, mtime, t, state, after in rows
        ]

    def apply_undone(self, apply_id: int) -> bool | None:
        """Whether the apply was undone; None when there is no such apply."""
        row = self.db.execute("SELECT undone FROM applies WHERE id = ?", (apply_id,)).fetchone()
        return None if row is None else row[0] is not None

    def scan_files(self, scan_id: int, columns: str) -> Iterator[tuple]:
        """`columns` (of scan_groups g and files f) of each file of a scan's groups, keeper first,
        then its stored quality signals (a dict, empty when unknown) and whether it is a video."""
        rows = self.db.execute(
            f"SELECT {columns}, coalesce(p.info, v.info), v.file_id IS NOT NULL FROM scan_groups g "
            "LEFT JOIN files f ON f.path = g.path LEFT JOIN image_fingerprints p ON p.file_id = f.id "
            "LEFT JOIN video_fingerprints v ON v.file_id = f.id "
            "WHERE g.scan_id = ? ORDER BY g.group_no, g.role != 'keep'",
            (scan_id,),
        )
        for *values, info, is_video in rows:
            meta = json.loads(info) if info else {}
            yield (*values, meta["info"] if is_video else meta, bool(is_video))  # videos: {"info", "step"}

    def grouped_paths(self) -> set[bytes]:
        """Every file (and motion clip) that a stored scan put in a group: all a plan may act on."""
        rows = self.db.execute("SELECT path FROM scan_groups UNION SELECT companion FROM scan_groups")
        return {r[0] for r in rows if r[0] is not None}

    def recorded(self, path: str) -> tuple[int, int, str | None] | None:
        """Size, mtime and content hash of a file as last scanned; None when it is not in the catalog."""
        row = self.db.execute(
            "SELECT size, mtime_ns, content_hash FROM files WHERE path = ?", (os.fsencode(path),)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def last_scan_roots(self) -> list[str]:
        row = self.db.execute("SELECT roots FROM scans WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else []

    def last_scan_id(self) -> int | None:
        row = self.db.execute("SELECT max(id) FROM scans WHERE finished IS NOT NULL").fetchone()
        return row[0] if row else None
