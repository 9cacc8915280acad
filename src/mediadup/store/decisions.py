"""The user's decisions in the catalog: pairs that are not duplicates, by content hash (they hold
through renames and moves), and the choices made in `mediadup review` (for files as they were)."""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence

CHOICES = ("keep", "leave", "differs")


class Decisions:
    """Pairs the user said are not duplicates, and review choices (part of `Catalog`)."""

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

    def choose(self, path: str, size: int, mtime_ns: int, choice: str | None) -> None:
        """Remember a choice for one file as it is now (None forgets it): keep it, leave it out of
        applies, or it differs from its group (not a duplicate)."""
        assert choice is None or choice in CHOICES
        with self.db:
            self.db.execute("DELETE FROM choices WHERE path = ?", (os.fsencode(path),))
            if choice:
                self.db.execute("INSERT INTO choices VALUES (?,?,?,?,?)",
                                (os.fsencode(path), size, mtime_ns, choice, time.time()))  # fmt: skip

    def choices(self) -> dict[str, tuple[int, int, str]]:
        """path -> (size, mtime_ns, choice) of every remembered choice."""
        rows = self.db.execute("SELECT path, size, mtime_ns, choice FROM choices")
        return {os.fsdecode(p): (size, mtime, choice) for p, size, mtime, choice in rows}

    def forget_choices(self) -> int:
        with self.db:
            return self.db.execute("DELETE FROM choices").rowcount
