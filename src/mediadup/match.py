"""Propose candidate pairs from the hash index, never enumerating all pairs, then verify them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .compare import Level, Match, compare
from .fingerprint import ImageFingerprint
from .index import HammingIndex


def candidate_pairs(hashes: np.ndarray, level: Level) -> np.ndarray:
    """(i, j) pairs, i < j, whose picture hashes or view hashes (rotations, mirrors, crop windows)
    lie within the level's Hamming radius. `hashes` is (N, views) uint64, column 0 the picture."""
    n, views = hashes.shape
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    index = HammingIndex(hashes[:, 0])
    q, i, _ = index.search(hashes[:, 0], level.radius)
    vq, vi, _ = index.search(hashes[:, 1:].ravel(), level.view_radius)
    a = np.concatenate([q, vq // (views - 1)])
    b = np.concatenate([i, vi])
    keep = a != b
    pairs = np.sort(np.stack([a[keep], b[keep]], axis=1), axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else pairs


def verified_edges(
    fingerprints: Sequence[ImageFingerprint],
    level: Level,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[int, int, Match]]:
    """Candidate pairs that pass verification, with how they match."""
    hashes = np.stack([fp.hashes for fp in fingerprints]) if fingerprints else np.zeros((0, 2), np.uint64)
    pairs = candidate_pairs(hashes, level)
    edges = []
    for n, (i, j) in enumerate(pairs.tolist()):
        if m := compare(fingerprints[i], fingerprints[j], level):
            edges.append((i, j, m))
        if progress and n % 64 == 0:
            progress(n, len(pairs))
    return edges
