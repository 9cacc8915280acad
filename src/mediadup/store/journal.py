"""The catalog's journal: every apply, and each of its actions written before it happens and
completed after, so that an interrupted apply loses nothing and `undo` knows what to put back."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass


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


class Journal:
    """Applies and their actions (part of `Catalog`)."""

    db: sqlite3.Connection

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

    def journal_planned(
        self, apply_id: int, op: str, path: str, keeper: str, size: int, mtime_ns: int, target: str | None
    ) -> int:
        """Record an action before it happens (committed at once): `op` on `path` for `keeper`'s
        sake, the file's size and mtime then, and where it will go (`target`)."""
        with self.db:
            cur = self.db.execute(
                "INSERT INTO journal (apply_id, op, path, keeper, size, mtime_ns, target, state, at) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (apply_id, op, os.fsencode(path), os.fsencode(keeper), size, mtime_ns,
                 os.fsencode(target) if target else None, "planned", time.time()),
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
