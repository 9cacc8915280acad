"""Removal actions, one class each, in one registry (`REMOVALS`): what each does to a duplicate
and how `undo` puts it back. A new action is one class here."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from contextlib import suppress
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import unquote_to_bytes

from send2trash import send2trash

from ..find.exact import full_hash
from ..records import Relation, display_path
from ..store.journal import JournalEntry

FICLONE = 0x40049409  # Linux ioctl: share the blocks of another file (Btrfs, XFS, ...)


@dataclass(frozen=True)
class Action:
    """Remove `path` (a duplicate of `keeper`) by `op`; `target` is where a move puts it."""

    op: str
    path: str
    size: int
    mtime_ns: int
    keeper: str
    keeper_size: int
    keeper_mtime_ns: int
    relation: Relation
    content_hash: str | None = None  # for identical copies: the keeper must still have it
    target: str | None = None


def same_entry(a: str, b: str) -> bool:
    """Whether two paths name one directory entry (not merely one file: hard links are two)."""

    def entry(p: str) -> tuple[str, str]:
        p = os.path.abspath(p)
        return os.path.realpath(os.path.dirname(p)), os.path.basename(p)

    return entry(a) == entry(b)


class NotRestored(Exception):
    """Undo cannot put the file back; the message says why."""


class Removal:
    """One way to remove a duplicate."""

    name: ClassVar[str]
    done: ClassVar[str]  # what the summary says happened
    undoable: ClassVar[bool] = True
    identical_only: ClassVar[bool] = False  # only for copies with the keeper's bytes (links)
    frees: ClassVar[str] = "freed"  # when the space comes back

    def carry_out(self, a: Action) -> str | None:
        """Remove `a.path`; where it went (None: nowhere)."""
        raise NotImplementedError

    def undo(self, e: JournalEntry) -> str:
        """Put the file of a journal entry back; the entry's new state ("restored", or
        "untouched" for an action interrupted before it changed anything). Raises NotRestored."""
        raise NotImplementedError


class _Relocation(Removal):
    """The file goes somewhere it can come back from."""

    def source(self, e: JournalEntry) -> str | None:
        """Where the file is now."""
        return e.target

    def undo(self, e: JournalEntry) -> str:
        source = self.source(e)
        if os.path.lexists(e.path):
            if e.state == "planned":  # interrupted before the original went: drop a half-made copy
                if source and os.path.lexists(source) and _second_name(e.path, source):
                    os.unlink(source)
                return "untouched"
            if not _is_back(e, source):
                raise NotRestored("another file is at that path now")
            if source and os.path.lexists(source) and not same_entry(e.path, source):
                os.unlink(source)  # an undo interrupted after the file came back: its other copy
        else:
            if not source or not os.path.lexists(source):
                raise NotRestored(self.gone(source))
            try:
                move(source, e.path)
            except OSError as err:
                raise NotRestored(str(err.strerror or err)) from err
        self.forget(source)
        return "restored"

    def gone(self, source: str | None) -> str:
        return f"it is no longer at {source}"

    def forget(self, source: str | None) -> None:
        """Clean what is left where the file was kept."""


class Move(_Relocation):
    name, done, frees = "move", "moved", "still on disk"

    def carry_out(self, a: Action) -> str | None:
        assert a.target
        move(a.path, a.target)
        return a.target


class Trash(_Relocation):
    name, done, frees = "trash", "trashed", "freed when the trash is emptied"

    def carry_out(self, a: Action) -> str | None:
        send2trash(a.path)
        try:  # the file is in the trash now: where exactly is only a hint for undo, which looks again
            return trashed_location(a.path)
        except OSError:
            return None

    def source(self, e: JournalEntry) -> str | None:
        return e.target or trashed_location(e.path)

    def gone(self, source: str | None) -> str:
        return "it is no longer in the trash"

    def forget(self, source: str | None) -> None:
        if source:
            info = os.path.join(os.path.dirname(os.path.dirname(source)), "info", os.path.basename(source))
            with suppress(OSError):
                os.unlink(info + ".trashinfo")


class Delete(Removal):
    name, done, undoable = "delete", "deleted", False

    def carry_out(self, a: Action) -> str | None:
        os.unlink(a.path)
        return None

    def undo(self, e: JournalEntry) -> str:
        if e.state == "planned" and os.path.lexists(e.path):
            return "untouched"
        raise NotRestored("it was deleted permanently")


class _Link(Removal):
    """The copy becomes a link to its keeper: made under a temporary name beside it and renamed
    over it, so the path always holds either the old file or the link."""

    identical_only = True

    def carry_out(self, a: Action) -> str | None:
        temporary = f"{a.path}.mediadup-link-{os.getpid()}"  # made with O_EXCL semantics: never another file
        try:
            self.link(a.keeper, temporary, a.path)
            os.replace(temporary, a.path)
        except OSError:
            with suppress(OSError):
                os.unlink(temporary)
            raise
        return None

    def link(self, keeper: str, temporary: str, path: str) -> None:
        raise NotImplementedError

    def undo(self, e: JournalEntry) -> str:
        """The path gets its own copy of the (identical) bytes again, with its old mtime."""
        if not os.path.lexists(e.path):
            raise NotRestored("the link is gone")
        if not os.path.exists(e.keeper):
            raise NotRestored("its keeper, whose bytes it had, is gone")
        if not (os.path.islink(e.path) or os.path.samefile(e.path, e.keeper) or _same_bytes(e.path, e.keeper)):
            raise NotRestored("another file is at that path now")
        temporary = e.path + ".mediadup-restore"
        try:
            shutil.copyfile(e.keeper, temporary)
            os.utime(temporary, ns=(e.mtime_ns or 0, e.mtime_ns or 0))
            os.replace(temporary, e.path)
        except OSError:
            with suppress(OSError):
                os.unlink(temporary)  # the link stays, and undo can try again
            raise
        return "restored"


class HardLink(_Link):
    name, done = "hardlink", "replaced by hard links"

    def link(self, keeper: str, temporary: str, path: str) -> None:
        os.link(keeper, temporary)


class SymLink(_Link):
    name, done = "symlink", "replaced by symbolic links"

    def link(self, keeper: str, temporary: str, path: str) -> None:
        os.symlink(os.path.abspath(keeper), temporary)


class RefLink(_Link):
    name, done = "reflink", "replaced by reflinks"

    def link(self, keeper: str, temporary: str, path: str) -> None:
        with open(keeper, "rb") as src, open(temporary, "wb") as dst:
            try:
                fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
            except OSError as e:
                raise OSError(e.errno, "this file system cannot share blocks (reflink)") from e
        shutil.copystat(path, temporary)


REMOVALS: dict[str, Removal] = {r.name: r for r in (Trash(), Move(), Delete(), HardLink(), SymLink(), RefLink())}


def move(source: str, target: str) -> None:
    """Move without ever overwriting: by a hard link on one device, else through a copy that is
    complete before the original goes. If the original cannot go, the new name goes instead; a
    target that is the file's own name is refused."""
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


def trashed_location(path: str) -> str | None:
    """Where the desktop trash (freedesktop.org layout) put `path`, from its .trashinfo files."""
    wanted = {
        os.fsencode(os.path.abspath(path)),
        os.fsencode(os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.basename(path))),
    }  # as given, and through any linked folder
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    mount = os.path.realpath(os.path.dirname(os.path.abspath(path)))  # the trash is on the real file system
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
                    if original in wanted:
                        try:
                            mtime = os.stat(info).st_mtime
                        except OSError:  # emptied meanwhile
                            continue
                        if best is None or mtime > best[0]:
                            best = (mtime, os.path.join(trash, "files", name[: -len(".trashinfo")]))
    return best[1] if best else None


def _second_name(path: str, other: str) -> bool:
    """Whether `other` is another directory entry of the file at `path`."""
    return not same_entry(path, other) and os.path.samefile(path, other)


def _same_bytes(a: str, b: str) -> bool:
    return os.path.getsize(a) == os.path.getsize(b) and full_hash(a) == full_hash(b)


def _is_back(e: JournalEntry, source: str | None) -> bool:
    """Whether the file at the entry's path is the one the action took away: the same file as
    where it went (left by an interrupted undo), or its recorded size and mtime with nothing
    left where it went."""
    try:
        st = os.stat(e.path)
        if source and os.path.lexists(source):  # a hard link, or a whole copy from another device
            return os.path.samefile(e.path, source) or (
                (st.st_size, st.st_mtime_ns) == (e.size, e.mtime_ns) and _same_bytes(e.path, source)
            )
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) == (e.size, e.mtime_ns)
