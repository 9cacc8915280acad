"""Which rows of a candidate search are among their picture's nearest: one sort of packed keys
(picture, distance, row) and one compiled pass over it, holding 9 bytes a row (a sort by picture
and a rank within each run of NumPy's would hold five arrays of 8); with partners, a sort of
packed (picture, partner, distance, row) keys and a compiled pass first leave each pair's nearest row."""

from __future__ import annotations

import numba
import numpy as np

from ..kernels import CACHE, cached

ROW_BITS, DISTANCE_BITS = 32, 7  # (a distance is at most 64)
PICTURE_BITS = 64 - ROW_BITS - DISTANCE_BITS


def compiled() -> bool:
    """Whether the pass is already compiled in the cache."""
    kernels = (_first_of_each_run, _packed, _first_of_each_pair)
    return all(cached(kernel, f"nearest.{kernel.__name__}") for kernel in kernels)


def nearest(a: np.ndarray, distance: np.ndarray, limit: int) -> np.ndarray:
    """Which rows are among the `limit` nearest rows of their picture a[k] (at one distance, the
    earlier rows first)."""
    if len(a) >= 2**ROW_BITS or (len(a) and int(a.max()) >= 2**PICTURE_BITS):
        order = np.lexsort((distance, a))  # (beyond the packed key: as it, in more memory)
        run = a[order]
        near = np.empty(len(a), dtype=bool)
        near[order] = np.arange(len(a)) - np.searchsorted(run, run) < limit
        return near
    key = a.astype(np.uint64) << np.uint64(ROW_BITS + DISTANCE_BITS)
    key |= distance.astype(np.uint64) << np.uint64(ROW_BITS)
    key |= np.arange(len(a), dtype=np.uint64)
    key.sort()
    return _first_of_each_run(key, limit)


def nearest_partners(
    a: np.ndarray, partner: np.ndarray, distance: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are of each picture a[k]'s `limit` nearest partners, and which of the partners
    left out: one row each pair (its nearest, then the earliest); at one distance the lower
    partner first. A partner seen through several views takes one place, and what is kept does
    not depend on the order the rows came in."""
    kept, left = np.zeros(len(a), dtype=bool), np.zeros(len(a), dtype=bool)
    if len(a):
        a, partner = a.astype(np.int64, copy=False), partner.astype(np.int64, copy=False)  # (one compiled signature)
        rows = _each_pair(a, partner, distance)  # (in the order of picture, then partner)
        near = nearest(a[rows], distance[rows], limit)
        kept[rows[near]], left[rows[~near]] = True, True
    return kept, left


@numba.njit(cache=CACHE, nogil=True)
def _first_of_each_run(key: np.ndarray, limit: int) -> np.ndarray:
    """For sorted packed keys: whether each row is among the first `limit` of its picture's run."""
    near = np.zeros(len(key), dtype=np.bool_)
    shift, mask = np.uint64(ROW_BITS + DISTANCE_BITS), np.uint64(2**ROW_BITS - 1)
    picture, rank = np.uint64(0), 0
    for k in range(len(key)):
        p = key[k] >> shift
        if k == 0 or p != picture:
            picture, rank = p, 0
        if rank < limit:
            near[key[k] & mask] = True
        rank += 1
    return near


def _each_pair(a: np.ndarray, partner: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """The nearest row of each pair (a[k], partner[k]) (at one distance, the earliest), in the order
    of (a, partner): one sort of packed keys (picture, partner, distance, row) where they fit."""
    low_a, low_partner = int(a.min()), int(partner.min())  # (keys from the lowest: fewer bits)
    widths = [(int(x.max()) - low).bit_length() for x, low in ((a, low_a), (partner, low_partner))]
    widths += [int(distance.max()).bit_length(), (len(a) - 1).bit_length()]
    if sum(widths) <= 63:  # (a shift of 64 bits is undefined)
        row_bits, pair_shift = widths[3], widths[2] + widths[3]
        key = _packed(a, low_a, partner, low_partner, distance, pair_shift + widths[1], pair_shift, row_bits)
        key.sort()
        return _first_of_each_pair(key, pair_shift, row_bits)
    order = np.lexsort((distance, partner, a))  # (beyond the packed key: as it, in more memory)
    a, partner = a[order], partner[order]
    return order[np.r_[True, (a[1:] != a[:-1]) | (partner[1:] != partner[:-1])]]


@numba.njit(cache=CACHE, nogil=True)
def _packed(a, low_a, partner, low_partner, distance, a_shift, partner_shift, row_bits):
    """Keys (a - low_a, partner - low_partner, distance, row), packed at those shifts."""
    key = np.empty(len(a), dtype=np.uint64)
    for k in range(len(a)):
        key[k] = (
            (np.uint64(a[k] - low_a) << np.uint64(a_shift))
            | (np.uint64(partner[k] - low_partner) << np.uint64(partner_shift))
            | (np.uint64(distance[k]) << np.uint64(row_bits))
            | np.uint64(k)
        )
    return key


@numba.njit(cache=CACHE, nogil=True)
def _first_of_each_pair(key, pair_shift, row_bits):
    """The rows of sorted packed keys that come first in their pair's run."""
    rows = np.empty(len(key), dtype=np.int64)
    found = 0
    shift, mask = np.uint64(pair_shift), np.uint64((1 << row_bits) - 1)
    for k in range(len(key)):
        if k == 0 or key[k] >> shift != key[k - 1] >> shift:
            rows[found] = np.int64(key[k] & mask)
            found += 1
    return rows[:found].copy()
