"""The crop search's refinement, compiled: a pattern search for the box of a thumbnail that best
shows a smaller picture.

The search moves a box (shift and scale, steps halving from two pixels to half a pixel) while the
moved box's grid is more alike the small picture's: the similarity of `compare` (normalised
luminance, the most different few percent left out). Each move is scored on a bilinear sample of
the thumbnail blurred to the spread of Pillow's resampling (within about a grey level of it on
thumbnails, at a few microseconds a move instead of fifty); the caller scores the box found on
Pillow's grid, as every verdict is.
"""

from __future__ import annotations

import cv2
import numba
import numpy as np

from ..kernels import CACHE, cached

Box = tuple[float, float, float, float]
STEPS = np.array([2.0, 1.0, 0.5])  # pixels a box moves by, in turn
MARGIN = 1e-4  # a move must gain more than this
# right, left, down, up, smaller, bigger: each move adds step times its row to (x0, y0, x1, y1)
MOVES = np.array([(1, 0, 1, 0), (-1, 0, -1, 0), (0, 1, 0, 1), (0, -1, 0, -1), (1, 1, -1, -1), (-1, -1, 1, 1)],
                 dtype=np.float64)  # fmt: skip


def compiled() -> bool:
    """Whether the search is already compiled in the cache."""
    return cached(_search, "pattern._search")


def _low_passed(big: np.ndarray, box: Box, grid: int) -> np.ndarray:
    """`big` blurred so that sampling it bilinearly at a `grid`-square grid of `box` spreads each
    sample as far as Pillow's triangle filter does (variances add: the filter's s^2/6 at a scale
    s, less the bilinear sample's 1/6)."""
    sigmas = [np.sqrt(max(0.0, (max(1.0, side / grid) ** 2 - 1) / 6)) for side in (box[2] - box[0], box[3] - box[1])]
    pixels = big.astype(np.float32)
    if max(sigmas) < 0.05:
        return pixels
    return cv2.GaussianBlur(pixels, (0, 0), sigmaX=max(sigmas[0], 0.01), sigmaY=max(sigmas[1], 0.01),
                            borderType=cv2.BORDER_REPLICATE)  # fmt: skip


def search(big: np.ndarray, goal: np.ndarray, box: Box, min_side: float, trim: float) -> Box:
    """The box of `big` (a square thumbnail) whose grid is most alike `goal` (a normalised square
    grid), searched from `box`, never narrower than `min_side` of a side; `trim`: the share of the
    most different pixels left out."""
    grid = goal.shape[0]
    source = _low_passed(big, box, grid)
    keep = int(grid * grid * (1 - trim))
    found = _search(source, goal.astype(np.float32).ravel(), np.array(box, dtype=np.float64),
                    min_side * big.shape[0], keep, grid, STEPS, MOVES, MARGIN)  # fmt: skip
    return tuple(float(v) for v in found)  # type: ignore[return-value]


@numba.njit(cache=CACHE)
def _taps(start, stop, grid, size):  # pragma: no cover - compiled
    """For each of `grid` samples of [start, stop): the two neighbouring pixels and the second's weight."""
    first, second, weight = np.empty(grid, np.int64), np.empty(grid, np.int64), np.empty(grid)
    for i in range(grid):
        at = min(max(start + (i + 0.5) * (stop - start) / grid - 0.5, 0.0), size - 1.0)  # pixel centres: whole numbers
        first[i] = int(at)
        second[i], weight[i] = min(first[i] + 1, size - 1), at - first[i]
    return first, second, weight


@numba.njit(cache=CACHE)
def _trimmed_mean(d, keep):  # pragma: no cover - compiled
    """Mean of the `keep` smallest values of `d` (reordered in place: a quickselect)."""
    low, high = 0, len(d) - 1
    while low < high:
        pivot = d[(low + high) // 2]
        i, j = low, high
        while i <= j:
            while d[i] < pivot:
                i += 1
            while d[j] > pivot:
                j -= 1
            if i <= j:
                d[i], d[j] = d[j], d[i]
                i += 1
                j -= 1
        if keep <= j:
            high = j
        elif keep >= i:
            low = i
        else:
            break
    return d[:keep].mean()


@numba.njit(cache=CACHE)
def _score(source, goal, box, least, keep, grid, sample):  # pragma: no cover - compiled
    """Similarity of the grid of `box` in `source` to `goal`; -1 for a box outside or too small."""
    height, width = source.shape
    x0, y0, x1, y1 = box[0], box[1], box[2], box[3]
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height or x1 - x0 < least or y1 - y0 < least:
        return -1.0
    left, right, fx = _taps(x0, x1, grid, width)
    top, below, fy = _taps(y0, y1, grid, height)
    total = 0.0
    for i in range(grid):
        for j in range(grid):
            upper = source[top[i], left[j]] * (1 - fx[j]) + source[top[i], right[j]] * fx[j]
            lower = source[below[i], left[j]] * (1 - fx[j]) + source[below[i], right[j]] * fx[j]
            sample[i * grid + j] = v = upper * (1 - fy[i]) + lower * fy[i]
            total += v
    mean = total / sample.size
    spread = np.sqrt(((sample - mean) ** 2).mean())
    if spread < 2.0:
        return 0.0
    for k in range(sample.size):
        sample[k] = ((sample[k] - mean) / spread - goal[k]) ** 2
    return 1.0 - _trimmed_mean(sample, keep) / 2


@numba.njit(cache=CACHE)
def _search(source, goal, box, least, keep, grid, steps, moves, margin):  # pragma: no cover - compiled
    sample = np.empty(grid * grid, dtype=np.float64)
    best = _score(source, goal, box, least, keep, grid, sample)
    for step in steps:
        back = -1  # the move back to where the last move came from: less alike, not scored again
        improved = True
        while improved:
            improved = False
            start, taken = box, -1  # moves make new arrays: box is never changed in place
            for m in range(moves.shape[0]):  # each move that beats the best so far is taken: the last wins
                if m == back:
                    continue
                moved = start + step * moves[m]
                s = _score(source, goal, moved, least, keep, grid, sample)
                if s > best + margin:
                    best, box, taken, improved = s, moved, m, True
            back = taken ^ 1  # moves come in opposite pairs: 0-1, 2-3, 4-5
    return box
