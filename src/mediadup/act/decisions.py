"""Decisions that files are "not duplicates": pairs the user said differ, kept by full-content hash so
that they survive renames, moves and rescans (the catalog's `ignored` table)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable

from ..find.exact import full_hash
from ..records import MediadupError
from .plan import Copy

Item = tuple[str, str]  # (content hash, path)


class DecisionError(MediadupError):
    """A decision cannot be made; the message says why."""


def contents(paths: Iterable[str]) -> list[Item]:
    """(content hash, path) of each file; a missing or unreadable one is an error that names it."""
    items = []
    for path in paths:
        if not os.path.isfile(path):
            raise DecisionError(f"not a file (moved or deleted?): {path}")
        try:
            items.append((full_hash(path), os.path.abspath(path)))
        except OSError as e:
            raise DecisionError(f"cannot read {path}: {e.strerror or e}") from e
    return items


def pairs_among(items: list[Item]) -> list[tuple[Item, Item]]:
    """Every pair of distinct contents among the items; byte-identical files cannot differ."""
    distinct = list({h: (h, p) for h, p in items}.values())
    if len(items) >= 2 and len(distinct) < 2:
        raise DecisionError("these files are byte-identical: they are duplicates whatever one decides")
    return list(itertools.combinations(distinct, 2))


def taken_out(scanned: list[list[Copy]], planned: list[list[Copy]]) -> list[tuple[Copy, Copy]]:
    """The pairs an edited plan says are not duplicates: a group left out entirely (all its pairs),
    or files taken out of a group (each against the files left in it)."""
    kept = {c.path for g in planned for c in g}
    pairs = []
    for group in scanned:
        gone = [c for c in group if c.path not in kept]
        left = [c for c in group if c.path in kept]
        pairs += itertools.combinations(gone, 2) if not left else [(g, c) for g in gone for c in left]
    return pairs
