"""Carry out a plan, journaled, and undo it.

Every action is written to the journal (in the catalog) before it happens and marked done after,
so an interrupted apply leaves each file untouched or recoverable. Before each action the file
and its keeper are checked again: still there, same size and mtime as scanned, and for identical
copies the same content; anything else skips the file with the reason.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote_to_bytes

from send2trash import send2trash

from ..find.exact import full_hash
from ..records import display_path
from ..store.catalog import Catalog, JournalEntry
from .metadata import MERGE, merge, unmerge
from .plan import LINKS, Action, same_entry


@dataclass
class Outcome:
    done: list[Action] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    merged: list[Action] = field(default_factory=list)  # metadata copied into keepers
    interrupted: bool = False  # Ctrl-C: the action in progress was finished, the rest not begun

    @property
    def reclaimed(self) -> int:
        return sum(a.size for a in self.done)


def recheck(a: Action) -> str | None:
    """Why the action must not happen now, or None when it is safe (never raises: a file that
    cannot be read is a reason)."""
    try:
        return _recheck(a)
    except OSError as e:
        return f"cannot check {display_path(e.filename or a.path)}: {e.strerror or e}"


def _recheck(a: Action) -> str | None:
    for path, size, mtime, who in ((a.path, a.size, a.mtime_ns, "file"), (a.keeper, a.keeper_size,
                                   a.keeper_mtime_ns, "keeper")):  # fmt: skip
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return f"the {who} is gone"
        if (st.st_size, st.st_mtime_ns) != (size, mtime):
            return f"the {who} changed since the scan"
    if os.path.samefile(a.path, a.keeper):
        return "the file and its keeper are the same file"
    with open(a.keeper, "rb"):  # a keeper that cannot be read cannot be trusted to hold the picture
        pass
    if a.content_hash and not (full_hash(a.path) == a.content_hash == full_hash(a.keeper)):
        return "the bytes no longer match the keeper's"
    return None


def _undo_link(catalog: Catalog, e: JournalEntry, result: Restored) -> None:
    path, keeper = e.path, e.keeper
    if not os.path.lexists(path):
        result.not_restored.append((path, "the link is gone"))
    elif not os.path.exists(keeper):
        result.not_restored.append((path, "its keeper, whose bytes it had, is gone"))
    elif os.path.islink(path) or os.path.samefile(path, keeper) or op_was_reflink(path, keeper):
        _unlink_copy(keeper, path, e.mtime_ns or 0)
        catalog.journal_finish(e.id, "restored")
        result.restored.append(path)
    else:
        result.not_restored.append((path, "another file is at that path now"))


def op_was_reflink(path: str, keeper: str) -> bool:
    """A reflinked copy is a separate file with the keeper's bytes."""
    return os.path.getsize(path) == os.path.getsize(keeper) and full_hash(path) == full_hash(keeper)


def trashed_location(path: str) -> str | None:
    """Where the desktop trash (freedesktop.org layout) put `path`, from its .trashinfo files."""
    wanted = os.fsencode(os.path.abspath(path))
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    mount = os.path.dirname(os.path.abspath(path))
    while not os.path.ismount(mount):
        mount = os.path.dirname(mount)
    trashes = [os.path.join(data_home, "Trash"), os.path.join(mount, f".Trash-{os.getuid()}"),
               os.path.join(mount, ".Trash", str(os.getuid()))]  # fmt: skip
    best: tuple[float, str] | None = None
    for trash in trashes:
        info_dir = os.path.join(trash, "info")
        try:
            names = os.listdir(info_dir)
        except OSError:
            continue
        for name in names:
            info = os.path.join(info_dir, name)
            try:
                with open(info, "rb") as f:
                    lines = f.read().splitlines()
            except OSError:
                continue
            for line in lines:
                if line.startswith(b"Path="):
                    original = unquote_to_bytes(line[5:])
                    if not original.startswith(b"/"):
                        original = os.path.join(os.fsencode(mount), original)
                    if original == wanted:
                        mtime = os.stat(info).st_mtime
                        if best is None or mtime > best[0]:
                            best = (mtime, os.path.join(trash, "files", name[: -len(".trashinfo")]))
    return best[1] if best else None


def _move(source: str, target: str) -> None:
    """Move without ever overwriting: by a hard link on one device, else through a copy that is
    complete before the original goes. If the original cannot go, the new name goes instead."""
    if same_entry(source, target):
        raise OSError(errno.EINVAL, f"{display_path(target)} is the file itself")
    if os.path.lexists(target):
        if os.path.samefile(source, target):  # an interrupted move got as far as linking: finish it
            os.unlink(source)
            return
        raise FileExistsError(errno.EEXIST, f"{target} already exists")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.link(source, target)  # atomic, and fails instead of overwriting
    except OSError as e:
        if e.errno == errno.EEXIST:
            raise
        partial = target + ".mediadup-partial"  # another device, or no hard links there
        try:
            shutil.copy2(source, partial)
            os.replace(partial, target)
        except OSError:
            with suppress(OSError):
                os.unlink(partial)  # a full disk or a refused folder leaves no half copy behind
            raise
    try:
        os.unlink(source)
    except OSError:
        os.unlink(target)  # the original stays where it was, and only there
        raise


def apply_plan(actions: list[Action], catalog: Catalog) -> Outcome:
    """Carry out the actions, each journaled before and after. A duplicate whose metadata could
    not be merged into its keeper (when the plan asked for it) stays, and so does the motion clip
    of a photo that stays. Ctrl-C lets the action in progress finish, then stops (`interrupted`)."""
    outcome = Outcome()
    journal = _Journal(catalog, next((x.op for x in actions if x.op != MERGE), "trash"))
    not_merged: dict[str, str] = {}  # duplicate -> why its metadata is not in the keeper
    resized: dict[str, int] = {}  # keeper -> its size after a merge (its mtime is kept)
    photo_stays = False  # the file acted on last stays: its motion clip (the next action) stays too
    with Interruption() as interruption:
        for a in actions:
            if interruption.asked:
                outcome.interrupted = True
                break
            if a.keeper in resized:
                a = replace(a, keeper_size=resized[a.keeper])
            if a.path in resized:
                a = replace(a, size=resized[a.path])
            if a.relation == "motion" and photo_stays:
                reason: str | None = "its photo stays"
            elif a.path in not_merged:
                reason = f"its metadata could not be copied into the keeper: {not_merged[a.path]}"
            else:
                reason = recheck(_from_duplicate(a) if a.op == MERGE else a)
            if reason is None:
                reason = _carry_out_journaled(a, journal, outcome, resized)
            if a.op == MERGE:
                if reason:
                    not_merged[a.keeper] = reason  # said with the duplicate, which stays
                continue
            if reason:
                outcome.skipped.append((a.path, reason))
            if a.relation != "motion":
                photo_stays = reason is not None
    journal.close()
    return outcome


class _Journal:
    """An apply's journal, started with its first action (an apply that acts on nothing leaves no trace)."""

    def __init__(self, catalog: Catalog, op: str):
        self.catalog, self.op, self.apply_id = catalog, op, None

    def planned(self, a: Action) -> int:
        self.apply_id = self.apply_id or self.catalog.start_apply(self.op)
        return self.catalog.journal_planned(self.apply_id, a)

    def close(self) -> None:
        if self.apply_id:
            self.catalog.finish_apply(self.apply_id)


def _carry_out_journaled(a: Action, journal: _Journal, outcome: Outcome, resized: dict[str, int]) -> str | None:
    """Do one action between its two journal entries; why it failed, or None."""
    entry = journal.planned(a)
    try:
        target = _carry_out(a)
    except OSError as e:
        journal.catalog.journal_finish(entry, "failed", error=str(e.strerror or e))
        return f"{a.op} failed: {e.strerror or e}"
    after = full_hash(a.path) if a.op == MERGE else None
    journal.catalog.journal_finish(entry, "done", target=target, after=after)
    if a.op == MERGE:
        outcome.merged.append(a)
        resized[a.path] = os.stat(a.path).st_size
    else:
        outcome.done.append(a)
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


def _from_duplicate(merge: Action) -> Action:
    """A merge seen as the removal it prepares, for `recheck`: the duplicate and its keeper."""
    return replace(merge, path=merge.keeper, size=merge.keeper_size, mtime_ns=merge.keeper_mtime_ns,
                   keeper=merge.path, keeper_size=merge.size, keeper_mtime_ns=merge.mtime_ns)  # fmt: skip


def _carry_out(a: Action) -> str | None:
    if a.op == MERGE:
        merge(a)
        return a.target
    if a.op == "move":
        assert a.target
        _move(a.path, a.target)
        return a.target
    if a.op == "trash":
        send2trash(a.path)
        return trashed_location(a.path)
    if a.op in LINKS:
        _replace_by_link(a.op, a.keeper, a.path)
        return None
    os.unlink(a.path)
    return None


FICLONE = 0x40049409  # Linux ioctl: share the blocks of another file (Btrfs, XFS, ...)


def _replace_by_link(op: str, keeper: str, path: str) -> None:
    """Replace `path` by a link to `keeper` atomically: the link is made under a temporary name
    beside it and renamed over it, so the path always holds either the old file or the link."""
    temporary = path + ".mediadup-link"
    with suppress(FileNotFoundError):
        os.unlink(temporary)
    try:
        if op == "hardlink":
            os.link(keeper, temporary)
        elif op == "symlink":
            os.symlink(os.path.abspath(keeper), temporary)
        else:
            with open(keeper, "rb") as src, open(temporary, "wb") as dst:
                try:
                    fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
                except OSError as e:
                    raise OSError(e.errno, "this file system cannot share blocks (reflink)") from e
            shutil.copystat(path, temporary)
        os.replace(temporary, path)
    except OSError:
        with suppress(OSError):
            os.unlink(temporary)
        raise


def _unlink_copy(keeper: str, path: str, mtime_ns: int) -> None:
    """Undo a link: the path gets its own copy of the (identical) bytes again, with its old mtime."""
    temporary = path + ".mediadup-restore"
    shutil.copyfile(keeper, temporary)
    os.utime(temporary, ns=(mtime_ns, mtime_ns))
    os.replace(temporary, path)


@dataclass
class Restored:
    restored: list[str] = field(default_factory=list)
    not_restored: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    interrupted: bool = False  # Ctrl-C: the file in progress was put back whole, the rest not begun


class NothingToUndo(Exception):
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
            catalog.finish_undo(one, time.time())
    return result


def _undo_entry(catalog: Catalog, e: JournalEntry, result: Restored) -> None:
    path, target = e.path, e.target
    if e.state not in ("done", "planned"):
        return
    if e.op in LINKS:
        _undo_link(catalog, e, result)
        return
    if e.op == MERGE:  # the keeper gets its original bytes back (also after an interrupted merge)
        if e.state == "planned" and not (target and os.path.exists(target)):
            catalog.journal_finish(e.id, "untouched")
        elif why := unmerge(path, target, e.size, e.after):
            result.not_restored.append((path, f"its metadata merge is not undone: {why}"))
        else:
            catalog.journal_finish(e.id, "restored")
            result.restored.append(path)
        return
    source = target or (trashed_location(path) if e.op == "trash" else None)
    if os.path.lexists(path):
        if e.state == "planned":  # interrupted before the original went: drop a half-made copy
            if target and os.path.lexists(target) and not same_entry(path, target) and os.path.samefile(path, target):
                os.unlink(target)
            catalog.journal_finish(e.id, "untouched")
        elif _is_back(e, source):  # an undo interrupted after the file came back: finish it
            if source and os.path.lexists(source) and not same_entry(path, source):
                os.unlink(source)  # the second name of the same file
            _forget_trashed(e.op, source)
            catalog.journal_finish(e.id, "restored")
            result.restored.append(path)
        else:
            result.not_restored.append((path, "another file is at that path now"))
        return
    if e.op == "delete":
        result.not_restored.append((path, "it was deleted permanently"))
        return
    if not source or not os.path.lexists(source):
        result.not_restored.append((path, "it is no longer in the trash" if e.op == "trash" else
                                    f"it is no longer at {source}"))  # fmt: skip
        return
    try:
        _move(source, path)
    except OSError as err:
        result.not_restored.append((path, str(err.strerror or err)))
        return
    _forget_trashed(e.op, source)
    catalog.journal_finish(e.id, "restored")
    result.restored.append(path)


def _is_back(e: JournalEntry, source: str | None) -> bool:
    """Whether the file at the entry's path is the one the action took away: the same file as
    where it went (left by an interrupted undo), or its recorded size and mtime with nothing
    left where it went."""
    try:
        st = os.stat(e.path)
        if source and os.path.lexists(source):  # a hard link, or a whole copy from another device
            return os.path.samefile(e.path, source) or (
                (st.st_size, st.st_mtime_ns) == (e.size, e.mtime_ns) and full_hash(e.path) == full_hash(source)
            )
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (e.size, e.mtime_ns)


def _forget_trashed(op: str, source: str | None) -> None:
    """Remove the trash's note about a file that came back from it."""
    if op == "trash" and source:
        info = os.path.join(os.path.dirname(os.path.dirname(source)), "info", os.path.basename(source))
        with suppress(OSError):
            os.unlink(info + ".trashinfo")
