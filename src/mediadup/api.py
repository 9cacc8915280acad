"""The Python API: the one door for the command line, the review page and programs.

    scan(paths)              find the groups (and keep them in the catalog)
    plan(...)                what removing the duplicates would do: actions, files left out, notes
    apply(plan)              carry it out, journaled, under the catalog's lock
    undo()                   put back what the last apply (or any, by id) removed
    ignore(paths)            remember that files are not duplicates (forget, ignored)
    write_review(out)        the HTML review page of the last scan
    review()                 serve the review application in the browser (choices, apply, undo)
    calibrate(paths)         precision and recall of each level on the user's own media

Every function takes `catalog` (a path; the user cache folder's catalog when None). Errors the
user can act on are `MediadupError`s with a message that says what to do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .act.actions import REMOVALS, Action
from .act.apply import NothingToUndo, Outcome, Restored, apply_plan
from .act.apply import undo as undo_applies
from .act.decisions import contents, pairs_among, taken_out
from .act.metadata import Merge, lacking, needs, with_merges, writer
from .act.plan import (
    POLICIES,
    RULES,
    Copy,
    check_policy,
    groups_from_catalog,
    make_plan,
    not_linkable,
    under,
    with_choices,
)
from .act.planfile import read_plan, write_json
from .find.discover import kind_of_extension
from .find.exact import full_hash_or_none
from .fingerprint.cluster import ENV as DASK_ENV
from .fingerprint.decode import DEFAULT_MAX_PIXELS
from .match.compare import LEVELS
from .measure.calibrate import Calibration
from .measure.calibrate import calibrate as _calibrate
from .pipeline import scan
from .records import MediadupError, display_path, plural
from .report.review import write_review as _write_review
from .store.catalog import Catalog, default_path

__all__ = [
    "ACTIONS",
    "DASK_ENV",
    "DEFAULT_MAX_PIXELS",
    "LEVELS",
    "POLICIES",
    "REMOVALS",
    "RULES",
    "Calibration",
    "MediadupError",
    "NothingToUndo",
    "OutputError",
    "Plan",
    "Remembered",
    "applies",
    "apply",
    "calibrate",
    "check_outputs",
    "check_policy",
    "forget",
    "ignore",
    "ignored",
    "link_notes",
    "plan",
    "remember_taken_out",
    "review",
    "scan",
    "undo",
    "write_json",
    "write_review",
]

ACTIONS = tuple(REMOVALS)


def _open(catalog: str | os.PathLike | None) -> Catalog:
    """The catalog of an earlier scan: one that does not exist is refused, never created."""
    return Catalog(os.fspath(catalog) if catalog else None, create=False)


@dataclass
class Plan:
    """What an apply would do: the actions in order, the files of an edited plan file that are
    left out (path, why), and notes for the user."""

    action: str
    actions: list[Action | Merge]
    groups: list[list[Copy]]
    left_out: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def removals(self) -> list[Action]:
        return [a for a in self.actions if isinstance(a, Action)]

    @property
    def merges(self) -> list[Merge]:
        return [a for a in self.actions if isinstance(a, Merge)]


def plan(
    catalog: str | os.PathLike | None = None,
    *,
    action: str = "trash",
    to: str | None = None,
    keep: str = "quality",
    reference: Sequence[str] = (),
    include_subclips: bool = False,
    include_similar: bool = False,
    include_uncertain: bool = False,
    merge_metadata: bool = False,
    plan_file: str | None = None,
) -> Plan:
    """Plan the removal of every duplicate of the last scan (or of an edited `plan_file`)."""
    with _open(catalog) as cat:
        left_out: list[tuple[str, str]] = []
        notes = []
        if plan_file:
            groups, left_out = read_plan(plan_file, cat)
        else:
            groups, used = with_choices(groups_from_catalog(cat), cat.choices())
            if used:
                notes.append(f"{plural(used, 'choice')} made in `mediadup review` followed (keepers chosen, files left "
                             "out or not duplicates)")  # fmt: skip
        actions = make_plan(groups, action, keep, reference, to, include_subclips, include_similar, include_uncertain)
        notes += link_notes(groups, action)
        if action == "move" and to and (roots := [r for r in cat.last_scan_roots() if under(to, [r])]):
            notes.append(f"{display_path(to)} is inside the scanned folder {display_path(roots[0])}: later scans will "
                         "see the moved files unless you add --exclude")  # fmt: skip
        missing = lacking(actions)
        for n, kinds in missing.items():
            a = actions[n]
            notes.append(f"{display_path(a.path)} has {', '.join(kinds)} that its keeper {display_path(a.keeper)} "
                         f"lacks" + _merge_hint(a.keeper, merge_metadata))  # fmt: skip
        if merge_metadata:
            backups = os.path.join(os.path.dirname(os.path.abspath(cat.path)), "merged-originals")
            actions = with_merges(actions, missing, backups)
    return Plan(action, actions, groups, left_out, notes)


def link_notes(groups: list[list[Copy]], action: str) -> list[str]:
    """What a link action leaves: copies that are not byte-identical."""
    if REMOVALS[action].identical_only and (n := not_linkable(groups)):
        return [f"{plural(n, 'copy', 'copies')} that are not byte-identical stay: a link only replaces an identical "
                "copy (trash or move removes them)"]  # fmt: skip
    return []


def _merge_hint(keeper: str, merging: bool) -> str:
    if writer(keeper) is None:
        return f" (writing metadata into the keeper needs {needs(keeper)}; or keep the duplicate)"
    return "" if merging else " (--merge-metadata copies it into the keeper)"


def apply(plan: Plan, catalog: str | os.PathLike | None = None, progress: Callable[[int, int], None] | None = None
          ) -> Outcome:  # fmt: skip
    """Carry out a plan; every action journaled, one apply or undo at a time per catalog;
    `progress(actions ended, actions)` after each."""
    with _open(catalog) as cat, cat.exclusive("apply"):
        return apply_plan(plan.actions, cat, progress)


def undo(
    catalog: str | os.PathLike | None = None, *, everything: bool = False, apply_id: int | None = None
) -> Restored:
    """Put back what the last apply removed (every apply with `everything`, or one by id)."""
    with _open(catalog) as cat, cat.exclusive("undo"):
        return undo_applies(cat, everything, apply_id)


def applies(catalog: str | os.PathLike | None = None) -> list[tuple]:
    """(id, action, files acted on, started, state) of every apply in the journal, oldest first."""
    with _open(catalog) as cat:
        return cat.applies()


def ignore(paths: Sequence[str], catalog: str | os.PathLike | None = None) -> int:
    """Remember that these files are not duplicates of one another (by content: the decision
    holds when they are renamed or moved); how many new pairs. The catalog may be new."""
    items = contents(paths)
    with Catalog(os.fspath(catalog) if catalog else None) as cat:
        return cat.ignore(pairs_among(items))


def forget(paths: Sequence[str], catalog: str | os.PathLike | None = None) -> int:
    """Forget the decisions between these files (one file: every decision about it)."""
    with _open(catalog) as cat:
        return cat.forget_ignored([h for h, _ in contents(paths)])


def ignored(catalog: str | os.PathLike | None = None) -> list[tuple[str, str, float, str, str]]:
    """(hash, hash, when, path, path) of every pair remembered as not duplicates."""
    with _open(catalog) as cat:
        return cat.ignored_rows()


@dataclass
class Remembered:
    pairs: int  # pairs remembered (or that would be, without `store`)
    unreadable: list[str]  # files whose bytes could not be read: nothing remembered about them


def remember_taken_out(plan: Plan, catalog: str | os.PathLike | None = None, store: bool = False) -> Remembered:
    """The pairs an edited plan took out of the last scan's groups are not duplicates: count them,
    and with `store` remember them."""
    with _open(catalog) as cat:
        hashes: dict[str, str | None] = {}
        decided, unreadable = [], []
        for a, b in taken_out(groups_from_catalog(cat), plan.groups):
            for c in (a, b):
                if c.path not in hashes:
                    hashes[c.path] = c.content_hash or full_hash_or_none(c.path)
            if hashes[a.path] and hashes[b.path]:
                decided.append(((hashes[a.path], a.path), (hashes[b.path], b.path)))
            else:
                unreadable.append(a.path if not hashes[a.path] else b.path)
        return Remembered(cat.ignore(decided) if store else len(decided), unreadable)


def write_review(out: str, catalog: str | os.PathLike | None = None) -> int:
    """Write the HTML review page of the last scan to `out`; how many groups it shows."""
    check_outputs((out,), catalog)
    with _open(catalog) as cat:
        return _write_review(cat, out)


def review(catalog: str | os.PathLike | None = None, host: str = "127.0.0.1", port: int = 0,
           announce: Callable[[str], None] = print) -> None:  # fmt: skip
    """Serve the review page of the last scan until interrupted; `announce(url)` once it listens."""
    from .review.server import serve

    path = _open(catalog).path  # refuses a catalog that does not exist
    serve(path, host, port, announce)


def calibrate(paths: Sequence[str], pictures: int = 40, videos: int = 3, levels: Sequence[str] = tuple(LEVELS),
              seed: int = 0, jobs: int = 0, progress=lambda _: None) -> Calibration:  # fmt: skip
    """Sample the user's media, make copies of it, scan at each level and score (only reads the user's files)."""
    return _calibrate(paths, pictures, videos, levels, seed, jobs, progress)


def check_outputs(targets: Sequence[str | None], catalog: str | os.PathLike | None = None) -> None:
    """Refuse an output that cannot be written, that two options share, or that would overwrite a
    picture, a video, the catalog or any other SQLite database ('-' is standard output)."""
    real = [os.path.realpath(t) for t in targets if t and t != "-"]
    if len(set(real)) < len(real):
        raise OutputError("two outputs name the same file: give each its own")
    own = os.path.realpath(os.fspath(catalog) if catalog else default_path())
    for target in (t for t in targets if t and t != "-"):
        if os.path.realpath(target) in {own + suffix for suffix in ("", "-wal", "-shm", "-journal", ".lock")}:
            raise OutputError(f"refusing to write over {target}: it is the catalog")
        if os.path.exists(target) and (kind_of_extension(target) is not None or _is_database(target)):
            raise OutputError(f"refusing to write over {target}: it looks like a picture, a video or a database")
        folder = os.path.dirname(os.path.abspath(target))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise OutputError(f"cannot write {target}: no writable folder {folder}")


class OutputError(MediadupError):
    """An output file that must not or cannot be written."""


def _is_database(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\0"
    except OSError:
        return False
