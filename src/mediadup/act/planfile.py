"""The plan file, both ways: a scan's groups as JSON (`scan --json`), which a user may edit, and
the groups read back from it (`apply --from`).

Each path is written for people (`path`: bytes that are not UTF-8 shown as \\xNN, control
characters escaped) and, when that form is not the name itself, losslessly too (`path_bytes`:
the raw name in base64). Reading back trusts no path: a file is acted on only when a stored scan
put it in a group and it is still the file that scan saw (size and mtime); anything else is
skipped with its reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import IO, Any

from ..records import Group, GroupMember, Relation, ScanResult, VideoInfo, display_path
from ..store.catalog import Catalog
from .plan import Copy, PlanError, motion_clip

VERSION = 2  # 2: path_bytes and mtime_ns


def _names(path: str, key: str = "path") -> dict[str, str]:
    shown = display_path(path)
    if os.fsencode(shown) == os.fsencode(path):
        return {key: shown}
    return {key: shown, f"{key}_bytes": base64.b64encode(os.fsencode(path)).decode("ascii")}


def _member(m: GroupMember, role: str, reason: str | None) -> dict[str, Any]:
    info = m.info
    video = info if isinstance(info, VideoInfo) else None
    return {
        **_names(m.path),
        "role": role,
        "relation": m.relation.value,
        "score": round(m.score, 4),
        "width": info.width if info else None,
        "height": info.height if info else None,
        "format": info.format if info else None,
        "duration": video.duration if video else None,
        "fps": video.fps if video else None,
        "codec": video.codec if video else None,
        "bitrate": video.bitrate if video else None,
        "range": m.evidence.get("range"),
        "size": m.stat.size,
        "mtime_ns": m.stat.mtime_ns,
        **(_names(m.companion.path, "companion") if m.companion else {"companion": None}),
        "reason": reason,
        "evidence": m.evidence,
    }


def group_records(g: Group) -> list[dict[str, Any]]:
    """The group's files as plain records, keeper first."""
    others = [_member(d, "similar" if d.relation is Relation.SIMILAR else "duplicate", None) for d in g.duplicates]
    return [_member(g.keeper, "keep", g.reason), *others]


def _group_dict(g: Group) -> dict[str, Any]:
    return {"reclaimable": g.reclaimable, "reason": g.reason, "files": group_records(g)}


def to_dict(result: ScanResult) -> dict[str, Any]:
    return {
        "version": VERSION,
        "roots": [display_path(r) for r in result.roots],
        "groups": [_group_dict(g) for g in result.groups],
        "similar": [_group_dict(g) for g in result.similar],
        "skipped": [{**_names(s.path), "reason": s.reason} for s in result.skipped],
        "summary": {**vars(result.summary), "groups": len(result.groups), "reclaimable": result.reclaimable},
    }


def write_json(result: ScanResult, out: IO[str]) -> None:
    json.dump(to_dict(result), out, indent=1)
    out.write("\n")


def _path(record: dict, key: str = "path") -> str:
    """The real name of a file of the plan: the lossless form when there is one."""
    raw = record.get(f"{key}_bytes")
    if raw is None:
        return str(record[key])
    try:
        return os.fsdecode(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError) as e:
        raise PlanError(f"{key}_bytes of {record.get(key)!r} is not base64") from e


def read_plan(path: str, catalog: Catalog) -> tuple[list[list[Copy]], list[tuple[str, str]]]:
    """The groups of a plan file the user may have edited (deleted groups or files, switched
    keepers), each file as the scan recorded it; and the files left out, with the reason. A group
    whose keeper is left out is left out whole."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        groups, left_out = [], []
        recorded = catalog.grouped()
        for g in data["groups"] + data.get("similar", []):
            if sum(f.get("role") == "keep" for f in g["files"]) != 1:
                raise PlanError(f"{path}: every group needs exactly one file with role 'keep'")
            copies = []
            for f in sorted(g["files"], key=lambda f: f.get("role") != "keep"):
                copy, why = _copy(f, catalog, recorded)
                if why:
                    left_out.append((_path(f), why))
                    if f.get("role") == "keep":
                        left_out.extend((_path(o), "its keeper is left out") for o in g["files"] if o is not f)
                        copies = []
                        break
                else:
                    copies.append(copy)
            if len(copies) > 1:
                groups.append(copies)
        return groups, left_out
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise PlanError(f"cannot read the plan {path}: {e}") from e


def _copy(f: dict, catalog: Catalog, recorded: dict[bytes, tuple[str, bytes | None]]) -> tuple[Copy | None, str | None]:
    """A file of the plan as the scan recorded it (its relation and motion clip too: an edited
    plan chooses keepers and leaves files out, it does not make a copy surer), or why it is left out."""
    path = _path(f)
    scanned = recorded.get(os.fsencode(path))
    if scanned is None:
        return None, "no scan recorded this file in a group (plans act only on scanned duplicates)"
    size, mtime_ns, digest = catalog.recorded(path) or (None, None, None)
    if size is None:
        return None, "the catalog no longer knows this file"
    if f.get("size") not in (None, size) or f.get("mtime_ns") not in (None, mtime_ns):
        return None, "it changed since the scan that wrote this plan"
    relation_name, clip = scanned
    motion = motion_clip(catalog, os.fsdecode(clip)) if clip is not None else None
    pixels = (f.get("width") or 0) * (f.get("height") or 0)
    relation = Relation.KEEPER if f.get("role") == "keep" else Relation(relation_name)
    if relation is Relation.KEEPER and f.get("role") != "keep":
        relation = Relation.NEAR_DUPLICATE  # the scan's keeper, now a duplicate of the chosen one
    return Copy(path, size, mtime_ns, relation, digest, pixels, f.get("duration") or 0.0, motion), None
