"""Which rows of a candidate search are among their picture's nearest: one sort of packed keys
(picture, distance, row) and one compiled pass over it, holding 9 bytes a row (a sort by picture
and a rank within each run of NumPy's would hold five arrays of 8)."""

from __future__ import annotations

import numba
import numpy as np

from ..kernels import CACHE, cached

ROW_BITS, DISTANCE_BITS = 32, 7  # (a distance is at most 64)
PICTURE_BITS = 64 - ROW_BITS - DISTANCE_BITS


def compiled() -> bool:
    """Whether the pass is already compiled in the cache."""
    return cached(_first_of_each_run, "nearest._first_of_each_run")


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
