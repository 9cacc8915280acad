"""Carry out a plan, journaled, and undo it.

Every action is written to the journal (in the catalog) before it happens and marked done after,
so an interrupted apply leaves each file untouched or recoverable. Before each action the file
and its keeper are checked again: still there, same size and mtime as scanned, and for identical
copies the same content; anything else skips the file with the reason.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any

from ..find.exact import full_hash
from ..records import MediadupError, Relation, display_path
from ..store.catalog import Catalog
from ..store.journal import JournalEntry
from .actions import REMOVALS, Action, NotRestored
from .metadata import MERGE, Merge, merge, unmerge


@dataclass
class Outcome:
    done: list[Action] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    merged: list[Merge] = field(default_factory=list)  # metadata copied into keepers
    interrupted: bool = False  # Ctrl-C: the action in progress was finished, the rest not begun

    @property
    def reclaimed(self) -> int:
        return sum(a.size for a in self.done)


def recheck(
    path: str, size: int, mtime_ns: int, keeper: str, keeper_size: int, keeper_mtime_ns: int, digest: str | None = None
) -> str | None:
    """Why a file must not be acted on now for its keeper's sake, or None when it is safe: both
    as scanned, the keeper readable, and (`digest`) both with those bytes. Never raises: a file
    that cannot be read is a reason."""
    try:
        for p, expected, who in ((path, (size, mtime_ns), "file"), (keeper, (keeper_size, keeper_mtime_ns), "keeper")):
            try:
                st = os.stat(p)
            except FileNotFoundError:
                return f"the {who} is gone"
            if (st.st_size, st.st_mtime_ns) != expected:
                return f"the {who} changed since the scan"
        if os.path.samefile(path, keeper):
            return "the file and its keeper are the same file"
        with open(keeper, "rb"):  # a keeper that cannot be read cannot be trusted to hold the picture
            pass
        if digest and not (full_hash(path) == digest == full_hash(keeper)):
            return "the bytes no longer match the keeper's"
    except OSError as e:
        return f"cannot check {display_path(e.filename or path)}: {e.strerror or e}"
    return None


def apply_plan(
    actions: Sequence[Action | Merge], catalog: Catalog, progress: Callable[[int, int], None] | None = None
) -> Outcome:
    """Carry out the actions, each journaled before and after. A duplicate whose metadata could
    not be merged into its keeper (when the plan asked for it) stays, and so does the motion clip
    of a photo that stays. Ctrl-C lets the action in progress finish, then stops (`interrupted`).
    `progress(actions ended, actions)` is told after each action."""
    outcome = Outcome()
    journal = _Journal(catalog, next((x.op for x in actions if isinstance(x, Action)), "trash"))
    not_merged: dict[str, str] = {}  # duplicate -> why its metadata is not in the keeper
    resized: dict[str, int] = {}  # keeper -> its size after a merge (its mtime is kept)
    photo_stays = False  # the file acted on last stays: its motion clip (the next action) stays too
    with Interruption() as interruption:
        for n, a in enumerate(actions):
            if progress:
                progress(n, len(actions))
            if interruption.asked:
                outcome.interrupted = True
                break
            if a.keeper in resized:
                a = replace(a, keeper_size=resized[a.keeper])
            if isinstance(a, Merge):
                if reason := recheck(a.source, a.source_size, a.source_mtime_ns, a.keeper, a.keeper_size,
                                     a.keeper_mtime_ns) or _merge_journaled(a, journal):  # fmt: skip
                    not_merged[a.source] = reason  # said with the duplicate, which stays
                else:
                    outcome.merged.append(a)
                    with suppress(OSError):  # a keeper gone now fails its removals' re-check anyway
                        resized[a.keeper] = os.stat(a.keeper).st_size
                continue
            if a.path in resized:
                a = replace(a, size=resized[a.path])
            if a.relation is Relation.MOTION and photo_stays:
                reason: str | None = "its photo stays"
            elif a.path in not_merged:
                reason = f"its metadata could not be copied into the keeper: {not_merged[a.path]}"
            else:
                reason = recheck(a.path, a.size, a.mtime_ns, a.keeper, a.keeper_size, a.keeper_mtime_ns,
                                 a.content_hash) or _remove_journaled(a, journal)  # fmt: skip
            if reason:
                outcome.skipped.append((a.path, reason))
            else:
                outcome.done.append(a)
            if a.relation is not Relation.MOTION:
                photo_stays = reason is not None
    journal.close()
    if progress:
        progress(len(actions), len(actions))
    return outcome


class _Journal:
    """An apply's journal, started with its first action (an apply that acts on nothing leaves no trace)."""

    def __init__(self, catalog: Catalog, op: str):
        self.catalog, self.op, self.apply_id = catalog, op, None

    def planned(self, op: str, path: str, keeper: str, size: int, mtime_ns: int, target: str | None) -> int:
        self.apply_id = self.apply_id or self.catalog.start_apply(self.op)
        return self.catalog.journal_planned(self.apply_id, op, path, keeper, size, mtime_ns, target)

    def close(self) -> None:
        if self.apply_id:
            self.catalog.finish_apply(self.apply_id)


def _remove_journaled(a: Action, journal: _Journal) -> str | None:
    """Remove one duplicate between its two journal entries; why it failed, or None."""
    entry = journal.planned(a.op, a.path, a.keeper, a.size, a.mtime_ns, a.target)
    try:
        target = REMOVALS[a.op].carry_out(a)
    except OSError as e:
        journal.catalog.journal_finish(entry, "failed", error=str(e.strerror or e))
        return f"{a.op} failed: {e.strerror or e}"
    journal.catalog.journal_finish(entry, "done", target=target)
    return None


def _merge_journaled(m: Merge, journal: _Journal) -> str | None:
    """Merge metadata into a keeper between two journal entries (the keeper is the file changed,
    the backup where its original is kept); why it failed, or None."""
    entry = journal.planned(MERGE, m.keeper, m.source, m.keeper_size, m.keeper_mtime_ns, m.backup)
    try:
        merge(m)
        after = full_hash(m.keeper)
    except Exception as e:  # any failure keeps the duplicate (a picture the checks cannot decode, too)
        why = str(getattr(e, "strerror", None) or e)
        journal.catalog.journal_finish(entry, "failed", error=why)
        return f"{MERGE} failed: {why}"
    journal.catalog.journal_finish(entry, "done", after=after)
    return None


class Interruption:
    """While files are changed, Ctrl-C (SIGINT) only asks to stop: the action in progress ends
    whole, and the caller stops before the next one."""

    def __init__(self) -> None:
        self.asked = False
        self._previous: Any = None

    def _ask(self, *_: object) -> None:
        self.asked = True

    def __enter__(self) -> Interruption:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._ask)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@dataclass
class Restored:
    restored: list[str] = field(default_factory=list)
    not_restored: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    interrupted: bool = False  # Ctrl-C: the file in progress was put back whole, the rest not begun


class NothingToUndo(MediadupError):
    """There is no apply to undo; the message says why."""


def undo(catalog: Catalog, everything: bool = False, apply_id: int | None = None) -> Restored:
    """Put back what the last apply removed (with any interrupted apply before it), what every
    apply removed, or what one apply (by id) removed; newest action first."""
    if apply_id is not None:
        undone = catalog.apply_undone(apply_id)
        if undone is None:
            raise NothingToUndo(f"no apply {apply_id} (`mediadup undo --list` lists them)")
        if undone:
            raise NothingToUndo(f"apply {apply_id} was undone already")
    chosen = [apply_id] if apply_id is not None else catalog.applies_to_undo(everything)
    if not chosen:
        raise NothingToUndo("nothing to undo: no apply since the last undo")
    result = Restored()
    with Interruption() as interruption:
        for one in chosen:
            for e in catalog.journal(one):
                if interruption.asked:
                    result.interrupted = True
                    return result
                _undo_entry(catalog, e, result)
            if not any(e.state in ("done", "planned") and (e.op == MERGE or REMOVALS[e.op].undoable)
                       for e in catalog.journal(one)):  # fmt: skip
                catalog.finish_undo(one, time.time())  # else `mediadup undo` tries the rest again
    return result


def _undo_entry(catalog: Catalog, e: JournalEntry, result: Restored) -> None:
    if e.state not in ("done", "planned"):
        return
    if e.op == MERGE:  # the keeper gets its original bytes back (also after an interrupted merge)
        if e.state == "planned" and not (e.target and os.path.exists(e.target)):
            catalog.journal_finish(e.id, "untouched")
        elif why := unmerge(e.path, e.target, e.size, e.after):
            result.not_restored.append((e.path, f"its metadata merge is not undone: {why}"))
        else:
            catalog.journal_finish(e.id, "restored")
            result.restored.append(e.path)
        return
    try:
        state = REMOVALS[e.op].undo(e)
    except NotRestored as why:
        result.not_restored.append((e.path, str(why)))
        return
    except OSError as err:  # a full disk, a folder that refuses: said, and tried again next time
        result.not_restored.append((e.path, str(err.strerror or err)))
        return
    catalog.journal_finish(e.id, state)
    if state == "restored":
        result.restored.append(e.path)
