"""The catalog's scans: each scan's groups as it found them, for plans, reports and the review page."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from ..records import Group, ScanSummary


@dataclass(frozen=True)
class ScannedFile:
    """One file of a stored scan's groups, with what the catalog knows of it now."""

    group: int
    path: str
    role: str  # "keep", "duplicate" or "similar"
    relation: str
    score: float
    evidence: dict
    reason: str | None  # the keeper's
    size: int  # as scanned
    companion: str | None  # a Live Photo's motion clip
    current: tuple[int, int, str | None] | None  # size, mtime and content hash in the catalog; None when gone
    info: dict  # the stored quality signals (empty when unknown)
    is_video: bool
    file_id: int | None  # the catalog's id of the file as it is now (None when gone)


class Scans:
    """Scans and their groups (part of `Catalog`)."""

    db: sqlite3.Connection

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

    def scan_files(self, scan_id: int) -> Iterator[ScannedFile]:
        """Every file of a scan's groups, group by group, keeper first."""
        rows = self.db.execute(
            "SELECT g.group_no, g.path, g.role, g.relation, g.score, g.evidence, g.reason, g.size, g.companion, "
            "f.size, f.mtime_ns, f.content_hash, coalesce(p.info, v.info), v.file_id IS NOT NULL, f.id "
            "FROM scan_groups g "
            "LEFT JOIN files f ON f.path = g.path LEFT JOIN image_fingerprints p ON p.file_id = f.id "
            "LEFT JOIN video_fingerprints v ON v.file_id = f.id "
            "WHERE g.scan_id = ? ORDER BY g.group_no, g.role != 'keep'",
            (scan_id,),
        )
        for row in rows:
            group, path, role, relation, score, evidence, reason, size, companion, *now, info, is_video, file_id = row
            meta = json.loads(info) if info else {}
            yield ScannedFile(
                group, os.fsdecode(path), role, relation, score, json.loads(evidence), reason, size,
                os.fsdecode(companion) if companion else None, tuple(now) if now[0] is not None else None,
                meta["info"] if is_video else meta, bool(is_video), file_id,
            )  # fmt: skip

    def grouped(self) -> dict[bytes, tuple[str, bytes | None]]:
        """Every file (and motion clip) a stored scan put in a group, with its relation to its
        keeper and its motion clip, as the newest such scan saw them: all a plan may act on."""
        out: dict[bytes, tuple[str, bytes | None]] = {}
        for path, relation, companion in self.db.execute(
            "SELECT path, relation, companion FROM scan_groups ORDER BY scan_id, group_no"
        ):
            out[path] = (relation, companion)
            if companion is not None:
                out[companion] = ("motion", None)
        return out

    def last_scan_roots(self) -> list[str]:
        row = self.db.execute("SELECT roots FROM scans WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else []

    def last_scan_id(self) -> int | None:
        row = self.db.execute("SELECT max(id) FROM scans WHERE finished IS NOT NULL").fetchone()
        return row[0] if row else None
