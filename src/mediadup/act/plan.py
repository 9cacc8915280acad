"""Removal plans: what to do with each duplicate, as plain values that can be printed or carried out.

A plan is built from a scan's groups (the catalog's last scan, or an edited `--json` file),
a keep policy and reference folders. Safety rules that hold for every plan:
- every group keeps at least one file (its keeper is never acted on);
- files under a reference folder are never acted on, and elsewhere only duplicates of a
  reference file are removed when reference folders are given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..fingerprint.decode import converted_from_jpeg
from ..records import MediadupError, Relation, inner_pixels
from ..store.catalog import Catalog
from ..store.scans import ScannedFile
from .actions import REMOVALS, Action, same_entry

# keep rules: each names the better copy of two; `--keep a,b` orders them (b breaks a's ties), and the
# scan's own choice (quality) breaks the last tie
RULES = {
    "quality": "the scan's keeper (best quality, with its reason)",
    "resolution": "most pixels",
    "content-resolution": "most pixels of the picture itself (added borders and bands not counted)",
    "format": "best format: RAW, then lossless (not converted from a JPEG), then HEIC/AVIF, JPEG, WebP, GIF",
    "camera-original": "has the camera's EXIF (camera and capture time)",
    "largest": "largest file",
    "longest": "longest video",
    "oldest": "oldest modification time",
    "newest": "newest modification time",
    "shortest-path": "shortest path",
}
ALIASES = {"highest-resolution": "resolution", "size": "largest"}
POLICIES = (*RULES, *ALIASES)
FORMAT_RANK = {"RAW": 6, "TIFF": 5, "PNG": 5, "BMP": 4, "QOI": 4, "PPM": 4, "HEIF": 3, "HEIC": 3, "AVIF": 3,
               "JPEG": 2, "MPO": 2, "WEBP": 1, "GIF": 0}  # fmt: skip


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
    content_pixels: int = 0  # pixels of the picture itself (added borders and bands not counted)
    format: str = ""
    camera_original: bool = False  # has the camera's EXIF (camera and capture time)
    chosen: bool = False  # the user chose it as the keeper (`mediadup review`): no rule overrides that


def groups_from_catalog(catalog: Catalog) -> list[list[Copy]]:
    """The last scan's groups, keeper first, with each file's size and mtime as scanned."""
    scan_id = catalog.last_scan_id()
    if scan_id is None:
        raise PlanError("no scan in the catalog yet: run `mediadup scan PATH` first")
    groups: dict[int, list[Copy]] = {}
    for f in catalog.scan_files(scan_id):
        if f.current is not None:  # a file that left the catalog since will not be touched
            groups.setdefault(f.group, []).append(copy_of(f, catalog))
    return [g for g in groups.values() if len(g) > 1]


def copy_of(f: ScannedFile, catalog: Catalog) -> Copy:
    """A scanned file (still in the catalog) as a plan sees it."""
    assert f.current is not None
    size, mtime_ns, digest = f.current
    info = f.info
    pixels = info.get("width", 0) * info.get("height", 0)
    content = info.get("content_width", 0) * info.get("content_height", 0) or pixels
    content = inner_pixels(info.get("inner"), info.get("content_width", 0), info.get("content_height", 0)) or content
    relation = Relation.KEEPER if f.role == "keep" else Relation(f.relation)
    motion = motion_clip(catalog, f.companion) if f.companion else None
    fmt = str(info.get("format", ""))
    if converted_from_jpeg(fmt, info.get("jpeg_quality")):
        fmt = "JPEG"  # a lossless file decoded from a JPEG is as good as that JPEG, no better
    return Copy(f.path, size, mtime_ns, relation, digest, pixels, info.get("duration", 0.0), motion, content,
                fmt, bool(info.get("camera") and info.get("captured")))  # fmt: skip


def with_choices(groups: list[list[Copy]], chosen: dict[str, tuple[int, int, str]]) -> tuple[list[list[Copy]], int]:
    """The groups as the user decided in `mediadup review` (`chosen`: path -> size, mtime and
    "keep", "leave" or "differs", for files unchanged since): a file chosen to keep leads its group
    and no rule overrides it (only a copy may: never a part, a frame, a similar shot or a possible
    duplicate, whose keeper would then go); a file left out, said not to be a duplicate, or kept in
    another group is not acted on; a group whose keeper is left out stays whole. Also how many
    choices were used."""
    out, used = [], 0

    def choice(c: Copy) -> str | None:
        known = chosen.get(c.path)
        return known[2] if known and known[:2] == (c.size, c.mtime_ns) else None

    for group in groups:
        decided = [choice(c) for c in group]
        used += sum(d is not None for d in decided)
        keep = next((n for n, d in enumerate(decided) if d == "keep" and can_lead(group, n)), 0)
        if decided[keep] in ("leave", "differs"):
            continue
        ordered = [replace(group[keep], chosen=decided[keep] == "keep")]
        ordered += [c for n, (c, d) in enumerate(zip(group, decided)) if n != keep and d is None]
        if len(ordered) > 1:
            out.append(ordered)
    return out, used


def can_lead(group: Sequence[Copy], n: int) -> bool:
    """Whether the group's n-th file may be its keeper: the scan's keeper, or a copy of it (a part,
    a frame, a similar shot or a possible duplicate is no copy: the keeper would go for it)."""
    return n == 0 or group[n].relation.removable


def motion_clip(catalog: Catalog, path: str) -> Copy | None:
    """A motion clip as scanned (None when the catalog lost it: its photo is then acted on alone)."""
    known = catalog.recorded(path)
    return Copy(path, known[0], known[1], Relation.MOTION, known[2]) if known else None


def under(path: str, folders: Sequence[str]) -> bool:
    """Whether `path` lies in one of `folders` (links resolved)."""
    real = os.path.realpath(path)
    return any(os.path.commonpath([real, os.path.realpath(d)]) == os.path.realpath(d) for d in folders)


def check_policy(policy: str) -> None:
    """Refuse an unknown keep rule, or prefer:DIR naming no folder (`policy`: rules joined by commas)."""
    for rule in policy.split(","):
        if rule.startswith("prefer:"):
            folder = os.path.expanduser(rule[len("prefer:") :])
            if not os.path.isdir(folder):
                raise PlanError(f"prefer:{folder}: no such folder")
        elif rule not in POLICIES:
            raise PlanError(f"unknown keep rule {rule!r}: use {', '.join(POLICIES)} or prefer:DIR, "
                            "several joined by commas")  # fmt: skip


def not_linkable(groups: Iterable[Sequence[Copy]]) -> int:
    """Removable copies that a link action leaves alone: those not byte-identical to their keeper."""
    return sum(1 for g in groups for c in g[1:] if c.relation.removable and c.relation is not Relation.IDENTICAL)


def choose_keeper(group: Sequence[Copy], policy: str) -> Copy:
    """The copy the keep rules keep (a copy the user chose first; ties go to the next rule, and
    last to the scan's keeper, which is always first in the group). Only the keeper or its copies
    may be kept: a part, a frame, a similar shot or a possible duplicate never is."""
    chosen = [c for c in group if c.chosen]
    if chosen:
        return chosen[0]
    rules = [_rule(r, group[0]) for r in policy.split(",")]
    eligible = [c for n, c in enumerate(group) if can_lead(group, n)]  # never a part, a frame, a similar shot
    return min(eligible, key=lambda c: (*(rule(c) for rule in rules), group.index(c)))


def _rule(rule: str, first: Copy) -> Callable[[Copy], Any]:
    """A sort key for one keep rule (`first`: the scan's or the plan file's keeper): smaller is better."""
    if rule.startswith("prefer:"):
        folder = os.path.expanduser(rule[len("prefer:") :])
        return lambda c: not under(c.path, [folder])
    keys: dict[str, Callable[[Copy], Any]] = {
        "quality": lambda c: c is not first,
        "resolution": lambda c: -c.pixels,
        "content-resolution": lambda c: -(c.content_pixels or c.pixels),
        "format": lambda c: -FORMAT_RANK.get(c.format.upper(), 2),
        "camera-original": lambda c: not c.camera_original,
        "largest": lambda c: -c.size,
        "longest": lambda c: -c.duration,
        "oldest": lambda c: c.mtime_ns,
        "newest": lambda c: -c.mtime_ns,
        "shortest-path": lambda c: (len(c.path), c.path),
    }
    name = ALIASES.get(rule, rule)
    if name not in keys:
        raise PlanError(f"unknown keep rule {rule!r}: use {', '.join(POLICIES)} or prefer:DIR")
    return keys[name]


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
