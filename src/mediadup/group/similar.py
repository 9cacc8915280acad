"""Similar but distinct shots: bursts, the same scene seconds apart, stereo pairs, light and dark
editions. Found among pictures that are not duplicates of a better copy (a duplicate group takes
part through its keeper), grouped around a suggested best shot, and never removed unless asked."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from ..arrays import unique
from ..fingerprint.image import THUMB, ImageFingerprint
from ..match.compare import COLOURFUL, histogram_similarity, similarities, structure
from ..match.components import UnionFind
from ..records import FileStat, Group, GroupMember, Relation
from .build import around_keepers
from .rank import SHOT_CRITERIA, rank

RADIUS = 12  # pHash distance searched across the whole library (editions, stereo pairs, repeated scenes)
NEIGHBOURS = 4  # each picture is also compared with the next few in capture time and in its folder...
NEAR = 24  # ...when their pHashes are this close (a burst moves the camera or the subject a little)
BURST_SECONDS = 120.0  # neighbours in time: the same camera, at most this far apart
GRID = 16  # pixels per side compared: coarse, so a small shift or a moved subject still agrees
MIN_SIMILARITY = {"strict": 0.85, "normal": 0.78, "loose": 0.70}  # for pHashes at most CLOSE apart
CLOSE = 8
PER_BIT = 0.015  # farther pHashes need this much more similarity per bit: distinct scenes can look alike
MIN_COLOUR = 0.5  # two colourful shots with palettes less alike than this are different scenes
MIN_STRUCTURE = 0.1  # smooth pictures (gradients, skies) look alike whatever they show
LOAD_BATCH = 2000


def candidates(paths: Sequence[str], fingerprints: dict[str, ImageFingerprint]) -> np.ndarray:
    """(i, j) pairs, i < j, worth comparing: pHashes within RADIUS anywhere, or within NEAR for
    pictures next to each other in capture time (same camera) or by name in one folder."""
    from ..match.index import HammingIndex

    n = len(paths)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    hashes = np.array([fingerprints[p].hashes[0] for p in paths], dtype=np.uint64)
    q, i, _ = HammingIndex(hashes, RADIUS).pairs(RADIUS)
    found = [np.minimum(q, i).astype(np.int64) * n + np.maximum(q, i)]
    times = {k: t for k, p in enumerate(paths) if (t := fingerprints[p].info.taken) is not None}
    by_time = sorted(times, key=lambda k: (fingerprints[paths[k]].info.camera or "", times[k]))
    by_name = sorted(range(n), key=lambda k: os.path.split(paths[k]))
    for order, same_run in (
        (by_time, lambda a, b: fingerprints[paths[a]].info.camera == fingerprints[paths[b]].info.camera
            and abs(times[a] - times[b]) <= BURST_SECONDS),
        (by_name, lambda a, b: os.path.dirname(paths[a]) == os.path.dirname(paths[b])),
    ):  # fmt: skip
        idx = np.array(order, dtype=np.int64)
        for step in range(1, NEIGHBOURS + 1):
            a, b = idx[:-step], idx[step:]
            close = np.bitwise_count(hashes[a] ^ hashes[b]) <= NEAR
            pairs = [(x, y) for x, y in zip(a[close].tolist(), b[close].tolist()) if same_run(x, y)]
            if pairs:
                x, y = np.array(pairs, dtype=np.int64).T
                found.append(np.minimum(x, y) * n + np.maximum(x, y))
    keys = unique(np.concatenate(found))
    return np.stack([keys // n, keys % n], axis=1)


def grid(thumb: np.ndarray) -> np.ndarray:
    """The GRID x GRID block means of a thumbnail."""
    k = THUMB // GRID
    return thumb.reshape(GRID, k, GRID, k).astype(np.float32).mean(axis=(1, 3))


class Shots:
    """Coarse grids and colour histograms of the pictures being compared, loaded from the catalog
    in batches, and which of them show enough texture to be compared at all."""

    def __init__(self, paths: Sequence[str], load: Callable[[list[str]], dict[str, ImageFingerprint]]):
        self.grids: dict[str, np.ndarray] = {}
        self.histograms: dict[str, np.ndarray] = {}
        wanted = list(paths)
        for start in range(0, len(wanted), LOAD_BATCH):
            for p, fp in load(wanted[start : start + LOAD_BATCH]).items():
                if fp.thumb is not None and fp.histogram is not None:
                    self.grids[p], self.histograms[p] = grid(fp.thumb), fp.histogram
        self.textured = {p for p, g in self.grids.items() if structure(g) >= MIN_STRUCTURE}

    def similar(
        self, pairs: Sequence[tuple[str, str]], fingerprints: dict[str, ImageFingerprint], level: str
    ) -> list[float | None]:
        """For each pair, the similarity of the two shots, or None when they are different pictures."""
        out: list[float | None] = [None] * len(pairs)
        known = [k for k, (a, b) in enumerate(pairs) if a in self.textured and b in self.textured]
        if not known:
            return out
        a_grids = np.stack([self.grids[pairs[k][0]] for k in known])
        sims = similarities(a_grids, np.stack([self.grids[pairs[k][1]] for k in known]))
        for k, s in zip(known, sims.tolist()):
            a, b = pairs[k]
            fa, fb = fingerprints[a], fingerprints[b]
            colourful = fa.chroma >= COLOURFUL and fb.chroma >= COLOURFUL
            distance = int(np.bitwise_count(fa.hashes[0] ^ fb.hashes[0]))
            if s >= MIN_SIMILARITY[level] + PER_BIT * max(0, distance - CLOSE) and (
                not colourful or histogram_similarity(self.histograms[a], self.histograms[b]) >= MIN_COLOUR
            ):
                out[k] = round(s, 4)
        return out


def similar_groups(
    paths: Sequence[str],
    fingerprints: dict[str, ImageFingerprint],
    stats: dict[str, FileStat],
    load: Callable[[list[str]], dict[str, ImageFingerprint]],
    level: str = "normal",
    apart: Callable[[str, str], bool] | None = None,
) -> list[Group]:
    """Groups of similar shots among `paths` (distinct pictures), each around its best shot.

    `load(paths)`: whole fingerprints (with thumbnails). Every shot in a group is similar to the
    best shot itself (no chains), and `apart(a, b)` pairs never share a group."""
    pairs = candidates(paths, fingerprints)
    if not len(pairs):
        return []
    involved = sorted({paths[k] for k in np.unique(pairs)})
    shots = Shots(involved, load)
    named = [(paths[i], paths[j]) for i, j in pairs.tolist()]
    if apart:
        named = [(a, b) for a, b in named if not apart(a, b)]
    uf, neighbours = UnionFind(), defaultdict[str, set[str]](set)
    for (a, b), s in zip(named, shots.similar(named, fingerprints, level)):
        if s is not None:
            uf.union(a, b)
            neighbours[a].add(b)
            neighbours[b].add(a)
    components = [c for c in uf.components() if len(c) > 1]

    def member(p: str, relation: Relation, score: float = 1.0, evidence: dict | None = None) -> GroupMember:
        return GroupMember(stats[p], relation, score, evidence or {}, fingerprints[p].info)

    def best(paths: list[str]) -> str:
        return rank([member(p, Relation.KEEPER) for p in paths], SHOT_CRITERIA)[0][0].path

    def shots_like(asked: list[tuple[str, list[str]]]) -> list[list[GroupMember]]:
        """Each best shot's similar shots among its others, their pairs compared together."""
        pairs = [(best, p) for best, others in asked for p in others]
        similarity = dict(zip(pairs, shots.similar(pairs, fingerprints, level)))
        out = []
        for best, others in asked:
            members: list[GroupMember] = []
            for p in others:
                s = similarity[best, p]
                if s is None or (apart and any(apart(p, q) for q in [best, *(m.path for m in members)])):
                    continue
                distance = int(np.bitwise_count(fingerprints[best].hashes[0] ^ fingerprints[p].hashes[0]))
                members.append(member(p, Relation.SIMILAR, s, {"similarity": s, "phash_distance": distance}))
            out.append(members)
        return out

    groups = []
    for keeper, members in around_keepers(components, best, shots_like, lambda p, _: neighbours[p]):
        _, reason = rank([member(keeper, Relation.KEEPER), *members], SHOT_CRITERIA)
        members.sort(key=lambda m: (-m.score, m.path))
        groups.append(Group(member(keeper, Relation.KEEPER), members, f"suggested best shot: {reason}"))
    groups.sort(key=lambda g: (-len(g.duplicates), g.keeper.path))
    return groups
