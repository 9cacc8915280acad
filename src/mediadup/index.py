"""A sub-quadratic Hamming-radius index over 64-bit hashes: multi-index hashing (Norouzi et al.).

The 64 bits are split into m chunks of about log2(N) bits. If two hashes differ in at most r bits,
then by the pigeonhole principle some chunk differs in at most r // m bits, so probing each chunk's
table with every key within that many bit flips finds all of them: exact, not approximate.
"""

from __future__ import annotations

from itertools import combinations, pairwise
from math import comb

import numpy as np

MAX_CHUNK_BITS = 24  # tables hold 2**bits offsets
PROBES_PER_BATCH = 1_000_000  # bounds the temporary arrays of one search step (~100 MB)


def _flip_masks(bits: int, flips: int) -> np.ndarray:
    masks = [0]
    for k in range(1, flips + 1):
        masks.extend(sum(1 << i for i in c) for c in combinations(range(bits), k))
    return np.array(masks, dtype=np.int64)


def best_chunks(n: int, radius: int) -> int:
    """The chunk count with the least expected work per query: probes times (1 + bucket size)."""

    def cost(m: int) -> float:
        bits = 64 // m
        probes = sum(comb(bits, k) for k in range(radius // m + 1))
        return m * probes * (1 + n / 2**bits)

    return min(range(3, 9), key=cost)


class HammingIndex:
    """Exact Hamming-radius search; `radius` (the one searches will mostly use) tunes the chunks."""

    def __init__(self, codes: np.ndarray, radius: int = 8, chunks: int | None = None):
        self.codes = np.ascontiguousarray(codes, dtype=np.uint64)
        m = chunks or best_chunks(max(len(self.codes), 2), radius)
        bounds = np.linspace(0, 64, m + 1).round().astype(int)
        self.tables: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        for lo, hi in pairwise(bounds):
            bits, shift = int(hi - lo), int(64 - hi)
            if bits > MAX_CHUNK_BITS:
                raise ValueError("too few chunks for a 64-bit hash")
            keys = self._keys(self.codes, shift, bits)
            order = np.argsort(keys, kind="stable")
            offsets = np.zeros((1 << bits) + 1, dtype=np.int64)
            np.cumsum(np.bincount(keys, minlength=1 << bits), out=offsets[1:])
            self.tables.append((shift, bits, order, offsets))

    @staticmethod
    def _keys(codes: np.ndarray, shift: int, bits: int) -> np.ndarray:
        return ((codes >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int64)

    def search(self, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (query index, code index, distance) with Hamming distance <= radius, each once."""
        queries = np.ascontiguousarray(queries, dtype=np.uint64)
        flips = radius // len(self.tables)
        found_q, found_i, found_d = [], [], []
        for shift, bits, order, offsets in self.tables:
            masks = _flip_masks(bits, flips)
            batch = max(1, PROBES_PER_BATCH // len(masks))
            for start in range(0, len(queries), batch):
                q = queries[start : start + batch]
                probes = (self._keys(q, shift, bits)[:, None] ^ masks[None, :]).ravel()
                lo = offsets[probes]
                counts = offsets[probes + 1] - lo
                total = int(counts.sum())
                if not total:
                    continue
                probe_of = np.repeat(np.arange(len(probes)), counts)
                first = np.cumsum(counts) - counts
                ids = order[lo[probe_of] + np.arange(total) - first[probe_of]]
                qi = probe_of // len(masks) + start
                dist = np.bitwise_count(queries[qi] ^ self.codes[ids])
                keep = dist <= radius
                found_q.append(qi[keep])
                found_i.append(ids[keep])
                found_d.append(dist[keep])
        if not found_q:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty.astype(np.uint8)
        q, i, d = np.concatenate(found_q), np.concatenate(found_i), np.concatenate(found_d)
        _, first = np.unique(q * len(self.codes) + i, return_index=True)
        return q[first], i[first], d[first]
