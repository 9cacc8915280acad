"""The catalog's "not duplicates" decisions, by content hash: they hold through renames and moves."""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence


class Decisions:
    """Pairs the user said are not duplicates (part of `Catalog`)."""

    db: sqlite3.Connection

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
