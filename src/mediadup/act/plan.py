"""Removal plans: what to do with each duplicate, as plain values that can be printed or carried out.

A plan is built from a scan's groups (the catalog's last scan, or an edited `--json` file),
a keep policy and reference folders. Safety rules that hold for every plan:
- every group keeps at least one file (its keeper is never acted on);
- files under a reference folder are never acted on, and elsewhere only duplicates of a
  reference file are removed when reference folders are given.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..records import MediadupError, Relation
from ..store.catalog import Catalog
from .actions import REMOVALS, Action, same_entry

POLICIES = ("quality", "largest", "highest-resolution", "longest", "oldest", "newest", "shortest-path")


class PlanError(MediadupError):
    """The plan cannot be made; the message says why."""


@dataclass(frozen=True)
class Copy:
    """One file of a group as the scan saw it."""

    path: str
    size: int
    mtime_ns: int
    relation: Relation
    content_hash: str | None = None
    pixels: int = 0  # width x height, when known
    duration: float = 0.0  # seconds, for videos
    companion: Copy | None = None  # a Live Photo's motion clip: removed with the photo, kept with it


def groups_from_catalog(catalog: Catalog) -> list[list[Copy]]:
    """The last scan's groups, keeper first, with each file's size and mtime as scanned."""
    scan_id = catalog.last_scan_id()
    if scan_id is None:
        raise PlanError("no scan in the catalog yet: run `mediadup scan PATH` first")
    groups: dict[int, list[Copy]] = {}
    for f in catalog.scan_files(scan_id):
        if f.current is None:
            continue  # the file left the catalog since: it will not be touched
        size, mtime_ns, digest = f.current
        pixels = f.info.get("width", 0) * f.info.get("height", 0)
        relation = Relation.KEEPER if f.role == "keep" else Relation(f.relation)
        motion = motion_clip(catalog, f.companion) if f.companion else None
        copy = Copy(f.path, size, mtime_ns, relation, digest, pixels, f.info.get("duration", 0.0), motion)
        groups.setdefault(f.group, []).append(copy)
    return [g for g in groups.values() if len(g) > 1]


def motion_clip(catalog: Catalog, path: str) -> Copy | None:
    """A motion clip as scanned (None when the catalog lost it: its photo is then acted on alone)."""
    known = catalog.recorded(path)
    return Copy(path, known[0], known[1], Relation.MOTION, known[2]) if known else None


def under(path: str, folders: Sequence[str]) -> bool:
    """Whether `path` lies in one of `folders` (links resolved)."""
    real = os.path.realpath(path)
    return any(os.path.commonpath([real, os.path.realpath(d)]) == os.path.realpath(d) for d in folders)


def check_policy(policy: str) -> None:
    """Refuse an unknown keep policy, or prefer:DIR naming no folder."""
    if policy.startswith("prefer:"):
        folder = policy[len("prefer:") :]
        if not os.path.isdir(folder):
            raise PlanError(f"prefer:{folder}: no such folder")
    elif policy not in POLICIES:
        raise PlanError(f"unknown keep policy {policy!r}: use one of {', '.join(POLICIES)} or prefer:DIR")


def not_linkable(groups: Iterable[Sequence[Copy]]) -> int:
    """Removable copies that a link action leaves alone: those not byte-identical to their keeper."""
    return sum(1 for g in groups for c in g[1:] if c.relation.removable and c.relation is not Relation.IDENTICAL)


def choose_keeper(group: Sequence[Copy], policy: str) -> Copy:
    """The copy a keep policy keeps (`quality`: the scan's keeper, always first in the group)."""
    if policy == "quality":
        return group[0]
    if policy == "largest":
        return max(group, key=lambda c: c.size)
    if policy == "highest-resolution":
        return max(group, key=lambda c: c.pixels)
    if policy == "longest":  # videos; among images (no duration) the scan's keeper
        return max(group, key=lambda c: (c.duration, c is group[0]))
    if policy == "oldest":
        return min(group, key=lambda c: c.mtime_ns)
    if policy == "newest":
        return max(group, key=lambda c: c.mtime_ns)
    if policy == "shortest-path":
        return min(group, key=lambda c: (len(c.path), c.path))
    if policy.startswith("prefer:"):
        preferred = [c for c in group if under(c.path, [policy[len("prefer:") :]])]
        return preferred[0] if preferred else group[0]
    raise PlanError(f"unknown keep policy {policy!r}: use one of {', '.join(POLICIES)} or prefer:DIR")


def make_plan(
    groups: Iterable[Sequence[Copy]],
    op: str = "trash",
    keep: str = "quality",
    references: Sequence[str] = (),
    to: str | None = None,
    include_subclips: bool = False,
    include_similar: bool = False,
    include_uncertain: bool = False,
) -> list[Action]:
    """Actions removing every duplicate, group by group; keepers and reference files stay, and so
    do frames of videos, clips contained in a longer video unless `include_subclips`, and similar
    shots unless `include_similar`, and possible duplicates with too little evidence unless
    `include_uncertain`."""
    if op not in REMOVALS:
        raise PlanError(f"unknown action {op!r}: use one of {', '.join(REMOVALS)}")
    identical_only = REMOVALS[op].identical_only
    if op == "move" and not to:
        raise PlanError("--action move needs --to DIR")
    groups = [list(g) for g in groups]
    keepers = {}  # group index -> its keeper
    for n, group in enumerate(groups):
        in_reference = [c for c in group if under(c.path, references)]
        if references and not in_reference:
            continue  # with reference folders, only duplicates of a reference file go
        chosen = choose_keeper(group, keep)
        keepers[n] = chosen if not in_reference or under(chosen.path, references) else in_reference[0]
    kept = {k.path for k in keepers.values()}  # a keeper anywhere (an edited plan may repeat files) stays
    actions, acted = [], set()
    photo_of: dict[str, str] = {}  # motion clip -> the photo it goes with
    for n, keeper in keepers.items():
        for c in groups[n]:
            if c.path in kept or c.path in acted or under(c.path, references):
                continue
            if not (
                c.relation.removable
                or (c.relation is Relation.CONTAINED and include_subclips)
                or (c.relation is Relation.SIMILAR and include_similar)
                or (c.relation is Relation.UNCERTAIN and include_uncertain)
            ):
                continue
            identical = c.relation is Relation.IDENTICAL and c.content_hash and c.content_hash == keeper.content_hash
            if identical_only and not identical:
                continue  # a link shows the keeper's bytes: only byte-identical copies may become one
            target = _move_target(c.path, to) if op == "move" and to else None
            if target and same_entry(c.path, target):
                raise PlanError(f"--to {to} would move {c.path} onto itself: choose a folder outside the files' own")
            digest = c.content_hash if identical else None
            actions.append(
                Action(op, c.path, c.size, c.mtime_ns, keeper.path, keeper.size, keeper.mtime_ns, c.relation,
                       digest, target)
            )  # fmt: skip
            acted.add(c.path)
            clip = c.companion
            if clip and not identical_only and clip.path not in kept and not under(clip.path, references):
                # a removed photo takes its motion clip along (never a keeper, never a reference file)
                m = c.companion
                target = _move_target(m.path, to) if op == "move" and to else None
                actions.append(
                    Action(op, m.path, m.size, m.mtime_ns, keeper.path, keeper.size, keeper.mtime_ns, Relation.MOTION,
                           None, target)
                )  # fmt: skip
                photo_of[m.path] = c.path
    for group in groups:  # overlapping groups of an edited plan: still, no group loses every copy
        if all(c.path in acted for c in group):
            acted.discard(choose_keeper(group, keep).path)
    return [a for a in actions if photo_of.get(a.path, a.path) in acted]


def _move_target(path: str, folder: str) -> str:
    """Where a move puts `path`: under `folder`, keeping the whole original folder structure."""
    return os.path.join(os.path.abspath(folder), os.path.abspath(path).lstrip(os.sep))
