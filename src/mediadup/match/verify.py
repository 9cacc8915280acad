"""Compare candidate pairs in parallel, remembering every verdict in the catalog."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from ..fingerprint import video
from ..fingerprint.image import VERSION as FINGERPRINT_VERSION
from ..fingerprint.image import ImageFingerprint
from ..fingerprint.video import VideoFingerprint
from ..fingerprint.workers import Workers
from ..records import Relation
from . import screen, video_compare
from .compare import VERSION, Level, Match, compare

Fingerprint = ImageFingerprint | VideoFingerprint


STREAM = 5000  # new verdicts kept in memory before they are written to the catalog
BATCH = 48  # pairs a worker compares at once: their fingerprints travel and are looked at once


def _compare(a: Fingerprint, b: Fingerprint, level: Level, may_crop: bool,
             first_look: Callable[[], str | None]) -> Match | None:  # fmt: skip
    if isinstance(a, VideoFingerprint) and isinstance(b, VideoFingerprint):
        return video_compare.compare_videos(a, b, level)
    if isinstance(a, ImageFingerprint) and isinstance(b, ImageFingerprint):
        if screen.checkable(a, b):
            return compare(a, b, level)
        if not may_crop:  # alike but for a local edit: a copy in the same framing (unturned), or none
            return compare(a, b, level, parts="", turned=False)
        parts = first_look()
        return None if parts is None else compare(a, b, level, parts)
    return None  # an image and a video are never copies of each other (see frame_of)


def _compare_batch(task: tuple[list[Fingerprint], list[tuple[int, int, bool]], Level]) -> list[Match | None]:
    """Verdicts for pairs (i, j, may_crop) of the batch's fingerprints (`may_crop`: whether one
    may be a part of the other); pictures that keypoints cannot check get the screen's cheap
    first look before a crop search (each picture's views made once)."""
    fingerprints, pairs, level = task
    views: dict[int, tuple] = {}

    def seen(i: int) -> tuple:
        if i not in views:
            views[i] = screen.views(fingerprints[i])
        return views[i]

    return [_compare(fingerprints[i], fingerprints[j], level, crop,
                     lambda i=i, j=j: screen.within_reach(seen(i), seen(j))) for i, j, crop in pairs]  # fmt: skip


UNCERTAIN = json.dumps([Relation.UNCERTAIN.value])[:-1]  # how a stored "may be duplicates" verdict starts
OVERLAPS = json.dumps([Relation.OVERLAPS.value])[:-1]  # ... and one of two videos that share a part
LOOSE = (UNCERTAIN, OVERLAPS)  # verdicts that connect nothing: shown beside groups, never grouping
# no copy in the same framing, the only relation looked for (no crop search): asked with a crop
# in reach, the pair is compared again
FRAMED = json.dumps("no copy in the same framing; no part searched")


def to_json(m: Match | None) -> str | None:
    return None if m is None else json.dumps([m.relation.value, m.score, m.evidence])


def from_json(text: str | None) -> Match | None:
    if text is None or text == FRAMED:
        return None
    relation, score, evidence = json.loads(text)
    return Match(Relation(relation), score, evidence)


class Verifier:
    """Verdicts for pairs of files, by path: from the catalog when known, else compared now."""

    def __init__(
        self,
        fingerprints: dict[str, Fingerprint],
        ids: dict[str, int],
        level: Level,
        known: dict[tuple[int, int], str | None],
        workers: Workers,
        load: Callable[[list[str], dict[str, Fingerprint]], dict[str, Fingerprint]] | None = None,
    ):
        """`fingerprints` may be light (no thumbnails): `load(paths, fingerprints)` then gives the
        whole ones for the pairs that must be compared."""
        self.fingerprints, self.ids, self.level, self.workers = fingerprints, ids, level, workers
        self.load = load
        self.known = known
        self.new: list[tuple[int, int, str | None]] = []
        self.store: Callable[[list[tuple[int, int, str | None]]], None] | None = None  # where new verdicts go
        self.compared = 0

    def many(self, pairs: Sequence[tuple[str, str]]) -> list[Match | None]:
        """Verdicts of b against a, for each (a, b)."""
        return [from_json(text) for text in self._verdicts(pairs)]

    def known_matches(self, paths: Sequence[str]) -> list[tuple[str, str]]:
        """Pairs among `paths` already verified as surely matching (by an earlier scan)."""
        by_id = {self.ids[p]: p for p in paths}
        return [(by_id[a], by_id[b]) for (a, b), text in self.known.items()
                if _sure(text) and a in by_id and b in by_id]  # fmt: skip

    def matches(self, pairs: Sequence[tuple[str, str]], may_crop: Sequence[bool] | None = None) -> list[bool]:
        """Whether b surely matches a, for each (a, b). A pair that may be duplicates (too little
        evidence) connects nothing: it is shown only beside a group that sure matches made.
        `may_crop[k]`: whether pair k may be a crop (by default, yes); when not, pictures that
        keypoints cannot check are compared in the same framing only (the crop search is most
        of their cost)."""
        return [_sure(text) for text in self._verdicts(pairs, may_crop)]

    def overlaps(self, paths: Sequence[str]) -> list[tuple[str, str, Match]]:
        """Pairs among `paths` verified (now or before) as two videos that share a part: (a, b, b against a)."""
        by_id = {self.ids[p]: p for p in paths}
        return [(by_id[a], by_id[b], from_json(text)) for (a, b), text in sorted(self.known.items())
                if text and text.startswith(OVERLAPS) and a in by_id and b in by_id]  # fmt: skip

    def _verdicts(self, pairs: Sequence[tuple[str, str]], may_crop: Sequence[bool] | None = None) -> list[str | None]:
        keys = [(self.ids[a], self.ids[b]) for a, b in pairs]
        asked: dict[tuple[int, int], tuple[str, str, bool]] = {}  # each pair once: a crop in reach if any asker has one
        for k, pair, crop in zip(keys, pairs, [True] * len(pairs) if may_crop is None else may_crop):
            asked[k] = (*pair, crop or (k in asked and asked[k][2]))
        stale = {k for k, (_, _, crop) in asked.items() if crop and self.known.get(k) == FRAMED}  # a part not searched
        todo = sorted(k for k in asked if k not in self.known or k in stale)
        needed = sorted({p for k in todo for p in asked[k][:2]})
        whole = self.load(needed, self.fingerprints) if self.load and needed else self.fingerprints
        tasks = []
        for start in range(0, len(todo), BATCH):
            names: dict[str, int] = {}
            batch = [(names.setdefault(a, len(names)), names.setdefault(b, len(names)), crop)
                     for a, b, crop in (asked[k] for k in todo[start : start + BATCH])]  # fmt: skip
            tasks.append(([whole[p] for p in names], batch, self.level))
        verdicts = [m for found in self.workers.map(_compare_batch, tasks, chunksize=1) for m in found]
        for k, match in zip(todo, verdicts):
            text = to_json(match) if match or asked[k][2] else FRAMED
            if self.known.get(k, "") != text:
                self.new.append((*k, text))
            self.known[k] = text
        self.compared += len(todo)
        if self.store and len(self.new) >= STREAM:  # to the catalog as they come: bounded memory, a killed scan resumes
            self.store(self.new)
            self.new = []
        return [self.known[k] for k in keys]


def _sure(text: str | None) -> bool:
    """Whether a stored verdict is a sure match (not "may be duplicates", not a shared part)."""
    return text is not None and text != FRAMED and not text.startswith(LOOSE)


def verdict_version() -> int:
    """Verdicts hold while both the fingerprints and the comparisons are unchanged."""
    return ((FINGERPRINT_VERSION * 100 + VERSION) * 100 + video.VERSION) * 100 + video_compare.VERSION
