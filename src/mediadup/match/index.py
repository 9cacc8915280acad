"""A sub-quadratic Hamming-radius index over 64-bit hashes: multi-index hashing (Norouzi et al.).

The 64 bits are split into chunks, each with a table. If two hashes differ in at most r bits and
each chunk t is probed with every key within f_t bit flips of the query's, the pair is found when
the f_t + 1 sum to more than r: otherwise every chunk would differ in at least f_t + 1 bits (the
pigeonhole principle, with a share for each chunk). Exact, not approximate. The shares need not be
equal, and the cheapest are chosen (`HammingIndex.flips`): for r = 6 over four 16-bit chunks, one
chunk probed exactly and three within one flip (1 + 2 + 2 + 2 > 6) probe 52 buckets a query, not
the 68 of one flip in each; for r = 8, flips (1, 1, 1, 2) probe 188 buckets, not 548.

Each chunk's table holds the codes in the order of their chunk key, so a probe is one look-up of a
bucket's bounds and a sequential scan of its codes. The scan is compiled (numba) and runs on as many
threads as there are cores, each on its own slice of the queries.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from itertools import combinations
from math import comb
from typing import NamedTuple

import numba
import numpy as np

from ..arrays import unique
from ..kernels import CACHE, cached

MAX_CHUNK_BITS = 24  # a table holds 2**bits offsets
QUERY_SLICE = 16_384  # queries per compiled call: threads share the work in slices of this size
# Costs in comparisons of a query with one code (a vectorised loop, ~0.13 ns), fitted to searches
# of 0.5-8 million queries over a million codes: a probe (a bucket's bounds and its codes gathered,
# shared by the queries of one key) ~3 ns, ~30 ns once the codes outgrow the core's cache; a
# query's turn at a table (its place in the table's key order, the loop) ~29 ns
PROBE_COST, FAR_PROBE_COST, GATHER_COST, TABLE_COST = 25.0, 230.0, 3.0, 225.0
CACHE_BYTES = 2**21  # a core's own cache (L2)


def compiled() -> bool:
    """Whether the search kernel is already compiled in the cache."""
    return cached(_scan, "index._scan") and cached(_counting_sort, "index._counting_sort")


def _flip_masks(bits: int, flips: int) -> np.ndarray:
    masks = [0]
    for k in range(1, flips + 1):
        masks.extend(sum(1 << i for i in c) for c in combinations(range(bits), k))
    return np.array(masks, dtype=np.int64)


@lru_cache(maxsize=64)
def _probes(widths: tuple[int, ...], flips: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Each table's masks of at most its flips (-1: none), a row each (padded), and how many."""
    masks = [_flip_masks(bits, f) if f >= 0 else np.zeros(0, dtype=np.int64) for bits, f in zip(widths, flips)]
    counts = np.array([len(m) for m in masks])
    padded = np.zeros((len(masks), max(counts.max(), 1)), dtype=np.int64)
    for t, m in enumerate(masks):
        padded[t, : len(m)] = m
    return padded, counts


def _table_cost(bits: int, flips: int, n: int, queries: int) -> float:
    """Expected work of one query at a table of 2**bits keys over n codes, probed within `flips`."""
    probes = sum(comb(bits, k) for k in range(flips + 1))
    bucket = n / 2**bits
    shared = min(1.0, 2**bits / max(queries, 1))  # queries come sorted: a run of one key shares its probes
    probe = PROBE_COST if 8 * n <= CACHE_BYTES else FAR_PROBE_COST
    return TABLE_COST + probes * (shared * (probe + GATHER_COST * bucket) + bucket)


@lru_cache(maxsize=256)
def _plan(widths: tuple[int, ...], n: int, radius: int, queries: int) -> tuple[float, tuple[int, ...]]:
    """The expected work and each table's flips (-1: not probed) of the cheapest search at `radius`
    whose flips + 1 sum to more than it: a knapsack over the tables and the share of the radius covered."""
    need = radius + 1
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}  # by share covered
    for bits in widths:
        after: dict[int, tuple[float, tuple[int, ...]]] = {}
        for covered, (spent, flips) in best.items():
            for f in range(-1, max(0, min(bits, need - covered - 1)) + 1):
                key = min(need, covered + f + 1)
                total = spent + (_table_cost(bits, f, n, queries) if f >= 0 else 0.0)
                if key not in after or total < after[key][0]:
                    after[key] = (total, (*flips, f))
        best = after
    return best[need]  # (always reached: every chunk probed with all its flips covers 64 + tables bits)


def layout(n: int, radius: int, queries: int | None = None) -> tuple[int, ...]:
    """The widths of 3 to 8 near-equal chunks with the least expected work for searches at
    `radius` of about `queries` queries over n codes (by default a self-join's)."""
    n, queries = _rounded(n), _rounded(queries or n)
    return min((_widths(m) for m in range(3, 9)), key=lambda widths: _plan(widths, n, radius, queries)[0])


def _widths(chunks: int) -> tuple[int, ...]:
    return tuple(np.diff(np.linspace(0, 64, chunks + 1).round().astype(int)).tolist())


def _rounded(count: int) -> int:
    return 1 << max(count, 1).bit_length()  # (powers of two: a few plans, each made once)


@numba.njit(cache=CACHE, inline="always")
def _popcount(x: np.uint64) -> np.uint64:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@numba.njit(cache=CACHE, nogil=True)
def _scan(queries, ids, radius, only_after, limit, t, shifts, bits, flips, masks, n_masks, rows, sorted_codes, offsets):
    """Hits (query id, code row, distance) of the queries numbered `ids` (queries[k] the code of
    ids[k], in the order of their chunk-t key: read in sequence, not gathered) in chunk table t, which
    holds the codes in the order of their chunk-t key: sorted_codes[t], their rows rows[t], and
    offsets[t][key] .. offsets[t][key + 1] the positions of each key; the keys probed are the
    query's key ^ masks[t, :n_masks[t]] (within flips[t] bits). A hit whose chunk in an earlier
    table is within that table's flips was reported there, so each pair comes once. With
    `only_after`, queries are the codes themselves and report only later rows. With a `limit`, a
    query reports at most that many hits here besides itself, the nearest, at one distance the lower rows (so
    the tables' hits together hold its `limit` nearest, whatever the layout); also returned: the
    ids of the queries that had more, and how many hits they left out."""
    cap = max(1024, 2 * len(ids))
    out_q = np.empty(cap, dtype=np.int64)
    out_i = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap, dtype=np.uint8)
    found = 0
    cut_ids = np.empty(16, dtype=np.int64)
    n_cut, left_out = 0, 0
    counts = np.zeros(65, dtype=np.int64)
    r = np.uint64(radius)
    codes, table, offset = sorted_codes[t], rows[t], offsets[t]
    shift, width = np.uint64(shifts[t]), np.uint64((1 << bits[t]) - 1)
    buf = np.empty(4096, dtype=np.uint64)
    buf_pos = np.empty(4096, dtype=np.int64)
    start = 0
    while start < len(ids):  # queries come sorted by key: a run of equal keys shares its probes
        key = np.int64((queries[start] >> shift) & width)
        end = start + 1
        while end < len(ids) and np.int64((queries[end] >> shift) & width) == key:
            end += 1
        n_buf = 0  # the codes of all buckets this run probes, gathered for one dense loop per query
        for m in range(n_masks[t]):
            probe = key ^ masks[t, m]
            lo, hi = offset[probe], offset[probe + 1]
            if n_buf + hi - lo > len(buf):
                buf, buf_pos = _grow(buf, 2 * (n_buf + hi - lo)), _grow(buf_pos, 2 * (n_buf + hi - lo))
            for pos in range(lo, hi):
                buf[n_buf], buf_pos[n_buf] = codes[pos], pos
                n_buf += 1
        for k in range(start, end):
            query = queries[k]
            hits = 0
            for j in range(n_buf):  # the common case, no hit: a loop the compiler vectorises
                hits += _popcount(query ^ buf[j]) <= r
            if hits <= only_after:  # a code always hits itself
                continue
            nearest, last = 65, np.int64(-1)  # report every hit nearer than `nearest`, and those at it up to row `last`
            places = limit + only_after  # (in a self-join the query's own row is one of its hits)
            if limit and hits > places:  # a crowded neighbourhood: only the nearest `limit`, the lower rows first
                counts[:] = 0
                for j in range(n_buf):
                    counts[_popcount(query ^ buf[j])] += 1
                below = 0
                for nearest in range(65):
                    if below + counts[nearest] >= places:
                        break
                    below += counts[nearest]
                ties = np.empty(counts[nearest], dtype=np.int64)
                n_ties = 0
                for j in range(n_buf):
                    if _popcount(query ^ buf[j]) == nearest:
                        ties[n_ties] = table[buf_pos[j]]
                        n_ties += 1
                ties.sort()
                last = ties[places - below - 1]
                left_out += hits - places
                if n_cut == len(cut_ids):
                    cut_ids = _grow(cut_ids, 2 * n_cut)
                cut_ids[n_cut] = ids[k]
                n_cut += 1
            for j in range(n_buf):
                x = query ^ buf[j]
                d = _popcount(x)
                if d > r or d > nearest:
                    continue
                i = table[buf_pos[j]]
                if d == nearest and i > last:
                    continue
                if only_after and i <= ids[k]:
                    continue
                earlier = False
                for u in range(t):
                    chunk = (x >> np.uint64(shifts[u])) & np.uint64((1 << bits[u]) - 1)
                    if flips[u] >= 0 and np.int64(_popcount(chunk)) <= flips[u]:
                        earlier = True
                        break
                if earlier:
                    continue
                if found == cap:
                    cap *= 2
                    out_q, out_i, out_d = _grow(out_q, cap), _grow(out_i, cap), _grow(out_d, cap)
                out_q[found], out_i[found], out_d[found] = ids[k], i, d
                found += 1
        start = end
    return out_q[:found].copy(), out_i[:found].copy(), out_d[:found].copy(), cut_ids[:n_cut].copy(), left_out


@numba.njit(cache=CACHE, inline="always")
def _grow(a, cap):
    b = np.empty(cap, dtype=a.dtype)
    b[: len(a)] = a
    return b


class Cut(NamedTuple):
    """What a limited search left out: the queries that had more hits than the limit, and how many."""

    queries: np.ndarray
    left_out: int


class HammingIndex:
    """Exact Hamming-radius search; `radius` (the one searches will mostly use) tunes the chunks.
    After each search, `cut` says what its limit left out."""

    def __init__(self, codes: np.ndarray, radius: int = 8, chunks: int | Sequence[int] | None = None,
                 queries: int | None = None):  # fmt: skip
        """`chunks`: the tables' widths in bits (summing to 64), or how many (near-equal widths), or
        None: the `layout` with the least work for searches at `radius` of about `queries` queries
        (by default the self-join's), which also choose each table's flips (`flips`)."""
        self.codes = np.ascontiguousarray(codes, dtype=np.uint64)
        self.queries = queries or len(self.codes)
        if chunks is None:
            chunks = layout(max(len(self.codes), 2), radius, queries)
        elif isinstance(chunks, int):
            chunks = _widths(chunks)
        self.bits = np.array(chunks, dtype=np.int64)
        self.shifts = 64 - np.cumsum(self.bits)
        if self.bits.sum() != 64 or not 1 <= self.bits.min() <= self.bits.max() <= MAX_CHUNK_BITS:
            raise ValueError(f"chunks of 1 to {MAX_CHUNK_BITS} bits must cover the 64-bit hash: {chunks}")
        m = len(self.bits)
        n = len(self.codes)
        small = np.int32 if n < 2**31 else np.int64
        self.rows = np.empty((m, n), dtype=small)
        self.sorted_codes = np.empty((m, n), dtype=np.uint64)
        self.offsets = np.zeros((m, (1 << int(self.bits.max())) + 1), dtype=small)
        for t, (shift, bits) in enumerate(zip(self.shifts, self.bits)):
            keys = _chunk(self.codes, shift, bits)
            self.rows[t], self.sorted_codes[t] = _by_key(self.codes, shift, bits)
            np.cumsum(np.bincount(keys, minlength=self.offsets.shape[1] - 1), out=self.offsets[t, 1:])
        self.cut = Cut(np.zeros(0, dtype=np.int64), 0)

    def search(self, queries: np.ndarray, radius: int, limit: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (query index, code index, distance) with Hamming distance <= radius, each once;
        with a `limit`, about that many per query at most, the nearest (see `cut`)."""
        return _joined(self.parts(np.ascontiguousarray(queries, dtype=np.uint64), radius, limit))

    def pairs(self, radius: int, limit: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The index's own close pairs (i, j, distance), i < j, each once (`limit`: as in search)."""
        return _joined(self.parts(None, radius, limit))

    def parts(self, queries: np.ndarray | None, radius: int, limit: int = 0) -> Iterator[Hits]:
        """`search` (or with no queries, `pairs`) in parts as they are found, a slice of the queries
        in one table each: who takes them as they come holds one part at a time, not all hits."""
        only_after = queries is None
        queries = self.codes if queries is None else queries
        flips = self.flips(radius)
        masks, counts = _probes(tuple(self.bits.tolist()), tuple(flips.tolist()))
        tables = (self.shifts, self.bits, flips, masks, counts, self.rows, self.sorted_codes, self.offsets)
        probed = np.flatnonzero(flips >= 0)
        threads = os.cpu_count() or 1
        cut: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
        left_out = 0
        with ThreadPoolExecutor(threads) as pool:
            for first in range(0, len(probed), threads):  # as many tables at a time as threads (memory)
                # the queries in the order of each table's key: neighbours probe the same buckets
                tables_now = probed[first : first + threads]
                ordered = pool.map(lambda t: (t, *_by_key(queries, self.shifts[t], self.bits[t])), tables_now)
                work = [(t, c[s : s + QUERY_SLICE], o[s : s + QUERY_SLICE])
                        for t, o, c in ordered for s in range(0, len(o), QUERY_SLICE)]  # fmt: skip
                running: deque = deque()
                for k, (t, codes, ids) in enumerate(work):
                    running.append(pool.submit(_scan, codes, ids, radius, only_after, limit, t, *tables))
                    while len(running) > (threads if k < len(work) - 1 else 0):  # a few run ahead, not all
                        q, i, d, cut_ids, left = running.popleft().result()
                        cut.append(cut_ids)
                        left_out += left
                        yield Hits(q, i, d)
        self.cut = Cut(unique(np.concatenate(cut)), left_out)

    def flips(self, radius: int) -> np.ndarray:
        """Each table's bit flips for searches at `radius` (-1: not probed), the cheapest whose
        flips + 1 sum to more than the radius: the same for every search of the index (a limit
        keeps the nearest hits of each table, so its results must not depend on a search's size)."""
        _, flips = _plan(tuple(self.bits.tolist()), _rounded(len(self.codes)), radius, _rounded(self.queries))
        return np.array(flips, dtype=np.int64)


class Hits(NamedTuple):
    """Close pairs: query (or code) indexes, code indexes, their Hamming distances."""

    queries: np.ndarray
    codes: np.ndarray
    distances: np.ndarray


def _joined(parts: Iterator[Hits]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    found = list(parts)
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty.astype(np.uint8)
    return tuple(np.concatenate(column) for column in zip(*found))  # type: ignore[return-value]


def _chunk(codes: np.ndarray, shift: int, bits: int) -> np.ndarray:
    return ((codes >> np.uint64(shift)) & np.uint64((1 << int(bits)) - 1)).astype(np.int64)


def _by_key(codes: np.ndarray, shift: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The positions of `codes` in the order of their chunk key (stable), and the codes in that
    order: a counting sort, compiled (a seventh of `np.argsort`'s time, and no gather after it,
    which costs as much again), unless the keys are wide and many more than the codes."""
    order = np.empty(len(codes), dtype=np.int32 if len(codes) < 2**31 else np.int64)  # half the memory
    if bits > 16 and 1 << int(bits) > 4 * len(codes):
        order[:] = np.argsort(_chunk(codes, shift, bits), kind="stable")
        return order, codes[order]
    ordered = np.empty(len(codes), dtype=np.uint64)
    _counting_sort(codes, np.uint64(shift), int(bits), order, ordered)
    return order, ordered


@numba.njit(cache=CACHE, nogil=True)
def _counting_sort(codes, shift, bits, order, ordered):
    """Fills `order` with the positions of `codes` in the order of their chunk key, stably, and
    `ordered` with the codes in that order."""
    width = np.uint64((1 << bits) - 1)
    starts = np.zeros((1 << bits) + 1, dtype=np.int64)
    for code in codes:
        starts[np.int64((code >> shift) & width) + 1] += 1
    for key in range(1, len(starts)):
        starts[key] += starts[key - 1]
    for i in range(len(codes)):
        key = np.int64((codes[i] >> shift) & width)
        order[starts[key]], ordered[starts[key]] = i, codes[i]
        starts[key] += 1
