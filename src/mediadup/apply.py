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
import time
from contextlib import suppress
from dataclasses import dataclass, field, replace
from urllib.parse import unquote_to_bytes

from send2trash import send2trash

from .catalog import Catalog
from .exact import full_hash
from .metadata import MERGE, merge, unmerge
from .plan import LINKS, Action


@dataclass
class Outcome:
    done: list[Action] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    merged: list[Action] = field(default_factory=list)  # metadata copied into keepers

    @property
    def reclaimed(self) -> int:
        return sum(a.size for a in self.done)


def recheck(a: Action) -> str | None:
    """Why the action must not happen now, or None when it is safe."""
    for path, size, mtime, who in ((a.path, a.size, a.mtime_ns, "file"), (a.keeper, a.keeper_size,
                                   a.keeper_mtime_ns, "keeper")):  # fmt: skip
        try:
            st = os.stat(path)
        except OSError:
            return f"the {who} is gone" if who == "keeper" else "the file is gone"
        if (st.st_size, st.st_mtime_ns) != (size, mtime):
            return f"the {who} changed since the scan"
    if os.path.samefile(a.path, a.keeper):
        return "the file and its keeper are the same file"
    if a.content_hash and not (full_hash(a.path) == a.content_hash == full_hash(a.keeper)):
        return "the bytes no longer match the keeper's"
    return None


def _undo_link(catalog: Catalog, entry: int, path: str, result: Restored) -> None:
    keeper, mtime_ns = catalog.journal_keeper(entry)
    if not os.path.lexists(path):
        result.not_restored.append((path, "the link is gone"))
    elif not os.path.exists(keeper):
        result.not_restored.append((path, "its keeper, whose bytes it had, is gone"))
    elif os.path.islink(path) or os.path.samefile(path, keeper) or op_was_reflink(path, keeper):
        _unlink_copy(keeper, path, mtime_ns)
        catalog.journal_finish(entry, "restored")
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
    of a photo that stays."""
    outcome = Outcome()
    apply_id = None  # an apply that acts on nothing leaves no trace in the journal
    not_merged: dict[str, str] = {}  # duplicate -> why its metadata is not in the keeper
    resized: dict[str, int] = {}  # keeper -> its size after a merge (its mtime is kept)
    photo_stays = False  # the file acted on last stays: its motion clip (the next action) stays too
    for a in actions:
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
            apply_id = apply_id or catalog.start_apply(next(x.op for x in actions if x.op != MERGE))
            entry = catalog.journal_planned(apply_id, a)
            try:
                target = _carry_out(a)
            except OSError as e:
                catalog.journal_finish(entry, "failed", error=str(e.strerror or e))
                reason = f"{a.op} failed: {e.strerror or e}"
            else:
                after = full_hash(a.path) if a.op == MERGE else None
                catalog.journal_finish(entry, "done", target=target, after=after)
                if a.op == MERGE:
                    outcome.merged.append(a)
                    resized[a.path] = os.stat(a.path).st_size
                else:
                    outcome.done.append(a)
        if a.op == MERGE:
            if reason:
                not_merged[a.keeper] = reason  # said with the duplicate, which stays
            continue
        if reason:
            outcome.skipped.append((a.path, reason))
        if a.relation != "motion":
            photo_stays = reason is not None
    if apply_id:
        catalog.finish_apply(apply_id)
    return outcome


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


def undo(catalog: Catalog, everything: bool = False, apply_id: int | None = None) -> Restored:
    """Put back what the last apply removed (with any interrupted apply before it), what every
    apply removed, or what one apply (by id) removed; newest action first."""
    result = Restored()
    for one in [apply_id] if apply_id else catalog.applies_to_undo(everything):
        _undo_one(catalog, one, result)
    return result


def _undo_one(catalog: Catalog, apply_id: int, result: Restored) -> None:
    for entry, op, path, target, state in catalog.journal_entries(apply_id):
        if state not in ("done", "planned"):
            continue
        if op in LINKS:
            _undo_link(catalog, entry, path, result)
            continue
        if op == MERGE:  # the keeper gets its original bytes back (also after an interrupted merge)
            if state == "planned" and not (target and os.path.exists(target)):
                catalog.journal_finish(entry, "untouched")
            elif why := unmerge(path, target, *catalog.journal_result(entry)):
                result.not_restored.append((path, f"its metadata merge is not undone: {why}"))
            else:
                catalog.journal_finish(entry, "restored")
                result.restored.append(path)
            continue
        if os.path.lexists(path):
            if state == "planned":  # interrupted before the original went: drop a half-made copy
                if target and os.path.lexists(target) and os.path.samefile(path, target):
                    os.unlink(target)
                catalog.journal_finish(entry, "untouched")
                continue
            result.not_restored.append((path, "a file is back at that path already"))
            continue
        if op == "delete":
            result.not_restored.append((path, "it was deleted permanently"))
            continue
        source = target or (trashed_location(path) if op == "trash" else None)
        if not source or not os.path.lexists(source):
            result.not_restored.append((path, "it is no longer in the trash" if op == "trash" else
                                        f"it is no longer at {source}"))  # fmt: skip
            continue
        try:
            _move(source, path)
        except OSError as e:
            result.not_restored.append((path, str(e.strerror or e)))
            continue
        if op == "trash":
            info = os.path.join(os.path.dirname(os.path.dirname(source)), "info", os.path.basename(source))
            with suppress(OSError):
                os.unlink(info + ".trashinfo")
        catalog.journal_finish(entry, "restored")
        result.restored.append(path)
    catalog.finish_undo(apply_id, time.time())
    return result
