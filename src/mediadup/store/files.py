"""The catalog's files: what is known of each file (stat, content hashes), its fingerprint, and
how pairs compared (verdicts), so that a rescan decodes and compares nothing twice."""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np

from ..fingerprint.features import Features
from ..fingerprint.image import COLOUR_GRID, THUMB, ImageFingerprint, Stored
from ..fingerprint.image import VERSION as IMAGE_VERSION
from ..fingerprint.video import VERSION as VIDEO_VERSION
from ..fingerprint.video import VideoFingerprint
from ..records import FileStat, Kind, MediadupError

Fingerprint = ImageFingerprint | VideoFingerprint
FINGERPRINT_VERSIONS = {Kind.IMAGE: IMAGE_VERSION, Kind.VIDEO: 1000 + VIDEO_VERSION}  # stored in files.fp_version
BATCH = 500
COPY_ROWS = 20_000  # rows copied from the catalog at once
READ_BATCH = 5000  # file ids a read of many rows asks for at once (SQLite 3.32 on allows 32,766)


def chunks(items: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(slots=True)
class Cached:
    """What the catalog knows about an unchanged file."""

    id: int
    content_hash: str | None
    partial_hash: str | None
    fingerprinted: bool  # an up-to-date fingerprint (or error) is stored
    error: str | None


class Files:
    """Files, fingerprints and verdicts (part of `Catalog`)."""

    db: sqlite3.Connection
    path: str

    def refresh(self, files: Iterable[FileStat]) -> dict[str, Cached]:
        """Record the files seen (a changed file gets a new id and loses what was known about it)."""
        files = list(files)
        known: dict[bytes, tuple] = {}
        paths = [os.fsencode(f.path) for f in files]
        for chunk in chunks(paths):
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

    def store_fingerprints(
        self, rows: Iterable[tuple[int, Kind, Stored | VideoFingerprint | None, str | None, str | None]]
    ) -> None:
        """Store fingerprints (pictures' as `Stored`, or the reason a file has none) and content
        hashes, when known, by file id, in one transaction."""
        rows = list(rows)
        pictures = [(i, fp.phash, *fp[:5], int(fp.usable)) for i, _, fp, _, _ in rows if isinstance(fp, Stored)]
        with self.db:
            self.db.executemany(
                "UPDATE files SET fp_version = ?, error = ?, content_hash = coalesce(?, content_hash) WHERE id = ?",
                [(FINGERPRINT_VERSIONS[kind], error, digest, i) for i, kind, _, error, digest in rows],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO image_fingerprints (file_id, phash, hashes, thumb, histogram, info, "
                "features, usable) VALUES (?,?,?,?,?,?,?,?)",
                pictures,
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO video_fingerprints VALUES (?,?,?,?,?,?)",
                [(i, *fp.to_blob()) for i, _, fp, _, _ in rows if isinstance(fp, VideoFingerprint)],
            )

    def fingerprinted_sizes(self, kind: Kind) -> set[int]:
        """Sizes of the files with an up-to-date fingerprint and a known content hash."""
        q = "SELECT DISTINCT size FROM files WHERE kind = ? AND fp_version = ? AND error IS NULL \
            AND content_hash IS NOT NULL"
        return {size for (size,) in self.db.execute(q, (kind.value, FINGERPRINT_VERSIONS[kind]))}

    def fingerprinted_contents(self, digests: Iterable[str], kind: Kind) -> dict[str, int]:
        """content hash -> id of a file with those bytes and an up-to-date fingerprint."""
        found: dict[str, int] = {}
        for chunk in chunks(list(set(digests))):
            q = f"SELECT content_hash, id FROM files WHERE kind = ? AND fp_version = ? AND error IS NULL \
                AND content_hash IN ({','.join('?' * len(chunk))})"
            found.update(self.db.execute(q, (kind.value, FINGERPRINT_VERSIONS[kind], *chunk)))
        return found

    def copy_image_fingerprint(self, source: int, targets: Iterable[int], digest: str) -> None:
        """Give files with the same bytes as file `source` its fingerprint (a copy: each keeps its own)."""
        with self.db:
            for target in targets:
                self.db.execute(
                    "INSERT OR REPLACE INTO image_fingerprints (file_id, phash, hashes, thumb, histogram, info, \
                    usable, features) SELECT ?, phash, hashes, thumb, histogram, info, usable, features \
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
            rest = "NULL, info, usable, NULL" if light else "histogram, info, usable, features"
            columns = f"{'substr(hashes, 1, 8)' if light else 'hashes'}, {thumb}, {rest}"
        learnt: list[tuple[int, int]] = []  # usable, file id: for rows stored before it was kept
        for chunk in chunks(list(ids)):
            q = f"SELECT file_id, {columns} FROM {table} WHERE file_id IN ({','.join('?' * len(chunk))})"
            for file_id, *blobs in self.db.execute(q, chunk).fetchall():
                fp = cls.from_blob(*blobs)
                if isinstance(fp, ImageFingerprint) and blobs[4] is None:
                    learnt.append((int(fp.comparable), file_id))
                yield file_id, fp.light() if light else fp
        if learnt:
            with self.db:
                self.db.executemany("UPDATE image_fingerprints SET usable = ? WHERE file_id = ?", learnt)

    def image_hashes(self, ids: list[int]) -> StoredHashes:
        """The stored pictures' hashes (ImageFingerprint.hashes), a row for each of `ids` in turn,
        read when asked for (see StoredHashes; its copy lies beside the catalog)."""
        return StoredHashes(self.db, ids, os.path.dirname(os.path.abspath(self.path)))

    def oversized(self, max_pixels: int) -> dict[int, tuple[int, int]]:
        """Stored pictures of more than `max_pixels` pixels: file id -> (width, height)."""
        q = "SELECT file_id, w, h FROM (SELECT file_id, json_extract(info, '$.width') AS w, \
            json_extract(info, '$.height') AS h FROM image_fingerprints) WHERE w * h > ?"
        return {i: (w, h) for i, w, h in self.db.execute(q, (max_pixels,))}

    def keypoint_counts(self, ids: Iterable[int]) -> dict[int, int]:
        """How many keypoints each stored picture has, by file id."""
        counts: dict[int, int] = {}
        for chunk in chunks(list(ids)):
            q = f"SELECT file_id, length(features) FROM image_fingerprints \
                WHERE file_id IN ({','.join('?' * len(chunk))})"
            counts.update((i, Features.stored_count(size)) for i, size in self.db.execute(q, chunk))
        return counts

    def thumbnails(self, ids: Iterable[int]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Stored pictures' thumbnails (THUMB x THUMB uint8) and mean colours (COLOUR_GRID x
        COLOUR_GRID x 3 uint8), by file id."""
        size, grid = THUMB * THUMB, COLOUR_GRID * COLOUR_GRID * 3
        for chunk in chunks(list(ids)):
            q = f"SELECT file_id, substr(thumb, 1, {size + grid}) FROM image_fingerprints \
                WHERE file_id IN ({','.join('?' * len(chunk))})"
            for file_id, blob in self.db.execute(q, chunk).fetchall():
                pixels = np.frombuffer(blob, dtype=np.uint8)
                yield file_id, pixels[:size].reshape(THUMB, THUMB), pixels[size:].reshape(COLOUR_GRID, COLOUR_GRID, 3)

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def verdicts(self, level: str, version: int) -> dict[tuple[int, int], str | None]:
        """Known comparisons: (a, b) -> the match as JSON, or None for different pictures (see
        match.verify: a verdict may also say that only the same framing was compared)."""
        q = "SELECT a, b, match FROM verdicts WHERE level = ? AND version = ?"
        return {(a, b): m for a, b, m in self.db.execute(q, (level, version))}

    def store_verdicts(self, level: str, version: int, rows: Iterable[tuple[int, int, str | None]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?)", [(a, b, level, version, m) for a, b, m in rows]
            )

    def recorded(self, path: str) -> tuple[int, int, str | None] | None:
        """Size, mtime and content hash of a file as last scanned; None when it is not in the catalog."""
        row = self.db.execute(
            "SELECT size, mtime_ns, content_hash FROM files WHERE path = ?", (os.fsencode(path),)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None


class StoredHashes:
    """The stored pictures' hashes (ImageFingerprint.hashes) as an (N, views) matrix whose row k is
    file ids[k]'s: `hashes[rows]` (a slice or row numbers) gives those rows. The matrix is never
    held (776 bytes a picture: three quarters of a gigabyte for a million): the first read copies
    it from the catalog a slice at a time into a temporary file in `folder` (deleted when closed),
    from which every read then reads its rows."""

    def __init__(self, db: sqlite3.Connection, ids: Iterable[int], folder: str):
        self.db, self.ids, self.folder = db, np.fromiter(ids, dtype=np.int64), folder
        q = "SELECT length(hashes) FROM image_fingerprints WHERE file_id = ?"
        first = self.db.execute(q, (int(self.ids[0]),)).fetchone() if len(self.ids) else (16,)
        if first is None:
            raise _left(1)
        self.shape = (len(self.ids), first[0] // 8)
        self.copy: IO[bytes] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray:
        n, width = self.shape
        picked = np.arange(*rows.indices(n)) if isinstance(rows, slice) else np.asarray(rows)
        picked = np.flatnonzero(picked) if picked.dtype == bool else picked.astype(np.int64, copy=False)
        if len(picked) and (picked.min() < -n or picked.max() >= n):
            raise IndexError(f"rows out of range for {n} pictures")
        picked = np.where(picked < 0, picked + n, picked)
        matrix = np.empty((len(picked), width), dtype=np.uint64)
        if not len(picked):
            return matrix
        copy = self._copied() if self.copy is None else self.copy
        into, size = memoryview(matrix.reshape(-1)).cast("B"), matrix.itemsize * width
        # each run of consecutive rows read at once (read, not mapped: mapped pages count as the process's)
        cuts = [0, *(np.flatnonzero(np.diff(picked) != 1) + 1).tolist(), len(picked)]
        for start, end in itertools.pairwise(cuts):
            copy.seek(int(picked[start]) * size)
            if copy.readinto(into[start * size : end * size]) != (end - start) * size:
                raise MediadupError(f"the copy of the catalog's hashes in {self.folder} was cut short: scan again")
        return matrix

    def _copied(self) -> IO[bytes]:
        """The catalog's rows copied, in turn, into a temporary file (kept only once whole)."""
        copy = None
        try:
            copy = tempfile.TemporaryFile(dir=self.folder)  # noqa: SIM115 (closed here or by `close`)
            for start in range(0, len(self.ids), COPY_ROWS):
                copy.write(self._read(self.ids[start : start + COPY_ROWS]).data)
            copy.flush()
        except BaseException as e:
            if copy is not None:
                copy.close()
            if isinstance(e, OSError):  # (a full disk, a folder not writable)
                raise MediadupError(f"cannot copy the catalog's hashes into {self.folder}: {e.strerror or e}") from e
            raise
        self.copy = copy
        return copy

    def _read(self, asked: np.ndarray) -> np.ndarray:
        """The rows of the file ids `asked`, from the catalog."""
        ascending = bool(np.all(asked[1:] > asked[:-1]))  # (file ids in turn: the rows read in place)
        wanted = asked if ascending else np.unique(asked)
        matrix = np.empty((len(wanted), self.shape[1]), dtype=np.uint64)
        for start in range(0, len(wanted), READ_BATCH):
            chunk = wanted[start : start + READ_BATCH]
            q = f"SELECT file_id, hashes FROM image_fingerprints WHERE file_id IN ({','.join('?' * len(chunk))})"
            read = self.db.execute(q, chunk.tolist()).fetchall()
            if len(read) < len(chunk):  # (rows of garbage would look alike)
                raise _left(len(chunk) - len(read))
            ids, blobs = zip(*read)
            if any(len(blob) != 8 * self.shape[1] for blob in blobs):
                raise MediadupError("the catalog's hashes are not all of one length: scan with a new --catalog")
            block = np.frombuffer(b"".join(blobs), dtype=np.uint64).reshape(len(read), -1)
            matrix[start + np.searchsorted(chunk, ids)] = block
        return matrix if ascending else matrix[np.searchsorted(wanted, asked)]

    def close(self) -> None:
        if self.copy is not None:
            self.copy.close()

    def __enter__(self) -> StoredHashes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _left(missing: int) -> MediadupError:
    return MediadupError(f"{missing} fingerprints left the catalog during the scan: scan again")
