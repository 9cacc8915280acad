"""Propose candidate pairs from hash indexes, never enumerating all pairs, then verify them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..fingerprint.image import AVERAGE, FIRST_WINDOW, SHARED_WINDOWS
from ..fingerprint.video import N_DIHEDRAL as VIDEO_DIHEDRAL
from ..fingerprint.video import SHARED_WINDOWS as SHARED_VIDEO_WINDOWS
from .compare import Level
from .components import UnionFind

# The index (compiled with numba) is imported where it is used: a rescan that searches nothing
# does not pay for loading the compiler.
QUERY_ROWS = 20_000  # pictures whose rotations or windows are searched at once (bounds memory)


def _keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Distinct pairs (a, b), a != b, as one int64 each: min * n + max."""
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    return np.unique(lo * n + hi)


def candidate_pairs(hashes: np.ndarray, level: Level) -> np.ndarray:
    """(i, j) pairs, i < j, that may show the same picture. `hashes` is (N, views) uint64 as in
    ImageFingerprint.hashes. Three kinds of evidence, each a Hamming-radius search:
    - the pictures' hashes are close (re-encoded, resized, recoloured, ...);
    - a rotation/mirror or a crop window of one is close to the other's picture hash;
    - the same window of both is close (a local edit such as a watermark elsewhere);
    - the average hashes are close, a local edit flipping few of their bits, and the pHashes
      are not far apart (average hashes alone match too many different pictures)."""
    from .index import HammingIndex, best_chunks

    n = len(hashes)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    indexes: dict[int, HammingIndex] = {}  # by chunk count: radii that want the same tables share them

    def picture_index(radius: int) -> HammingIndex:
        chunks = best_chunks(n, radius)
        if chunks not in indexes:
            indexes[chunks] = HammingIndex(hashes[:, 0], chunks=chunks)
        return indexes[chunks]

    q, i, _ = picture_index(level.radius).pairs(level.radius)
    found = [q * n + i]
    for views, radius in ((hashes[:, 1:AVERAGE], level.view_radius), (hashes[:, FIRST_WINDOW:], level.window_radius)):
        index, per = picture_index(radius), views.shape[1]
        for start in range(0, n, QUERY_ROWS):  # in slices: a picture's own windows hit it, and
            vq, vi, _ = index.search(views[start : start + QUERY_ROWS].ravel(), radius)  # must not pile up
            found.append(_keys(vq // per + start, vi, n))
    for w in SHARED_WINDOWS:
        column = hashes[:, FIRST_WINDOW + w]
        wq, wi, _ = HammingIndex(column, level.view_radius).pairs(level.view_radius)
        found.append(wq * n + wi)
    aq, ai, _ = HammingIndex(hashes[:, AVERAGE], level.view_radius).pairs(level.view_radius)
    close = np.bitwise_count(hashes[aq, 0] ^ hashes[ai, 0]) <= 3 * level.radius
    found.append(aq[close] * n + ai[close])
    keys = np.unique(np.concatenate(found))
    return np.stack([keys // n, keys % n], axis=1)


def video_candidate_pairs(frames: list[np.ndarray], radius: int) -> np.ndarray:
    """(i, j) pairs of videos, i < j, with at least two frames whose hashes are close, in any
    column (rotations, mirrors, crop windows) of one against the picture hash of the other.
    `frames[v]` is video v's (frames, columns) hash array; all frames share one index."""
    from .index import HammingIndex

    if len(frames) < 2 or not sum(len(f) for f in frames):
        return np.zeros((0, 2), dtype=np.int64)
    counts, owner, hashes = _frame_table(frames)
    q, i, _ = HammingIndex(hashes[:, 0], radius).search(hashes.ravel(), radius)
    q //= hashes.shape[1]
    a, b = owner[q], owner[i]
    keep = a != b
    found: list[np.ndarray] = [np.stack([q[keep], i[keep]], axis=1)]
    for w in SHARED_VIDEO_WINDOWS:  # the same window of both: a logo or caption outside it
        wq, wi, _ = HammingIndex(hashes[:, VIDEO_DIHEDRAL + w], radius).pairs(radius)
        keep = owner[wq] != owner[wi]
        found.append(np.stack([wq[keep], wi[keep]], axis=1))
    frame_pairs = np.unique(np.sort(np.concatenate(found), axis=1), axis=0)
    pairs, votes = np.unique(np.sort(owner[frame_pairs], axis=1), axis=0, return_counts=True)
    few = np.minimum(counts[pairs[:, 0]], counts[pairs[:, 1]]) < 2
    return pairs[(votes >= 2) | few]


def frame_candidates(pictures: np.ndarray, frames: list[np.ndarray], radius: int) -> np.ndarray:
    """(image, video) pairs where the image's picture hash is close to one of the video's frames."""
    from .index import HammingIndex

    if not len(pictures) or not sum(len(f) for f in frames):
        return np.zeros((0, 2), dtype=np.int64)
    _, owner, hashes = _frame_table(frames)
    q, i, _ = HammingIndex(hashes[:, 0], radius).search(pictures, radius)
    return np.unique(np.stack([q, owner[i]], axis=1), axis=0)


def _frame_table(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All videos' frame hashes in one table: frames per video, the video of each row, the rows."""
    counts = np.array([len(f) for f in frames])
    hashes = np.concatenate([f for f in frames if len(f)]).astype(np.uint64)
    return counts, np.repeat(np.arange(len(frames)), counts), hashes


def connect(
    pairs: np.ndarray,
    verify: Callable[[list[tuple[int, int]]], list[bool]],
    progress: Callable[[int, int], None] | None = None,
    batch: int = 512,
) -> list[tuple[int, int]]:
    """Verified pairs that connect the candidates into clusters.

    A pair whose files are already connected through verified pairs is not verified again:
    grouping verifies every duplicate against its keeper anyway. Pairs are verified in batches
    (in parallel, by `verify`).
    """
    clusters = UnionFind()
    edges: list[tuple[int, int]] = []
    todo = pairs.tolist()
    for start in range(0, len(todo), batch):
        chunk = [(i, j) for i, j in todo[start : start + batch] if clusters.find(i) != clusters.find(j)]
        for (i, j), ok in zip(chunk, verify(chunk)):
            if ok:
                edges.append((i, j))
                clusters.union(i, j)
        if progress:
            progress(min(start + batch, len(todo)), len(todo))
    return edges
