"""A first look in the main process, before any candidate pair travels to a worker.

Look-alikes (skies, fog, smooth colour fields, flat graphics) bring each picture dozens of
candidates, and pictures with too few keypoints can only be verified on their thumbnails, at a few
milliseconds a pair. So while candidates are found, each picture keeps a sketch in memory: its
thumbnail's luminance at SKETCH x SKETCH and its COLOUR_GRID x COLOUR_GRID mean colours. Each
candidate comes with the views that proposed it (a turn of one picture over the other, a window of
one over the other, the same window of both), and a pair of pictures that keypoints cannot check
is looked at in those views only:
- their luminance must correlate at screen.FLOOR or more (the worker's first look asks that of
  the best of hundreds of alignments; the one its hashes proposed rarely reaches it by chance);
- two colourful pictures must agree in colour place by place after one colour mapping, as a
  copy in the same framing must (compare.colours_agree): at most PLACE_OUTLIERS of the places more
  than PLACE_MISFIT away (a grade, a filter or a white balance is one mapping; a sticker or a
  caption changes a part; different colour fields disagree almost everywhere);
- proposed by the same window of both (a copy in the same framing or none), two colourful
  pictures must agree so over the whole picture too, as verification asks of such a copy.
A pair is kept when any view that proposed it passes; the rest of the verification is unchanged.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from threadpoolctl import threadpool_limits

from ..fingerprint import phash
from ..fingerprint.image import COLOUR_GRID, SHARED_WINDOWS, THUMB, WINDOWS
from .compare import PLACE_MISFIT, PLACE_OUTLIERS
from .screen import FLOOR, unit

SKETCH = THUMB // 4  # pixels per side of the luminance each picture keeps while candidates are found
VIEW = COLOUR_GRID  # pixels per side of a view (luminance and colours alike)
TURNED = len(phash.DIHEDRAL)  # view codes: 0-7 the whole picture turned (phash.DIHEDRAL), TURNED + w window w
ANY_VIEW = -1  # a view the sketches do not check (the pair is kept)
BATCH = 1 << 12  # pictures or pairs looked at at once (bounds memory: about 25 MB a thread)
SKETCH_BATCH = 1 << 12  # thumbnails sketched at once


@lru_cache(maxsize=2)
def _resamplers(source: int) -> tuple[np.ndarray, np.ndarray]:
    """For each view code: the matrix taking a `source`-pixel square, flattened, to the view
    (area averages of the box, the turn's order), and where a view-sized square's pixels go in
    the view (flat indices: the turn alone)."""
    boxes = [(0.0, 0.0, 1.0, 1.0)] * TURNED + list(WINDOWS)
    plain = np.arange(VIEW * VIEW).reshape(VIEW, VIEW)
    order = np.stack([d.apply(plain).ravel() for d in phash.DIHEDRAL] + [plain.ravel()] * len(WINDOWS))
    maps = np.empty((len(boxes), source * source, VIEW * VIEW), dtype=np.float32)
    for code, (x0, y0, x1, y1) in enumerate(boxes):
        rows = phash.area_weights(y0 * source, y1 * source, source, VIEW)  # (VIEW, source)
        cols = phash.area_weights(x0 * source, x1 * source, source, VIEW)
        maps[code] = np.einsum("ip,jq->pqij", rows, cols).reshape(source * source, VIEW * VIEW)[:, order[code]]
    return maps, order


def sketch(thumbs: np.ndarray) -> np.ndarray:
    """Thumbnails' luminance (..., THUMB, THUMB) averaged to (..., SKETCH, SKETCH)."""
    step = THUMB // SKETCH
    cells = thumbs.reshape(*thumbs.shape[:-2], SKETCH, step, SKETCH, step).sum(axis=(-3, -1), dtype=np.int32)
    return np.rint(cells / step**2).astype(np.uint8)


def _view(pixels: np.ndarray, code: int) -> np.ndarray:
    """View `code` of square pictures (n, side, side[, channels]): (n, VIEW * VIEW[, channels]) float32."""
    n, side = pixels.shape[:2]
    channels = pixels.shape[3] if pixels.ndim == 4 else 1
    maps, order = _resamplers(side)
    x = pixels.reshape(n, side * side, channels).astype(np.float32)
    if code < TURNED and side == VIEW:  # the whole at the view's size: only turned
        return x[:, order[code]].reshape(n, VIEW * VIEW, *pixels.shape[3:])
    if pixels.ndim == 4:  # channels last: each resampled alike, in one product
        out = (x.transpose(0, 2, 1).reshape(n * channels, side * side) @ maps[code]).reshape(n, channels, VIEW * VIEW)
        return out.transpose(0, 2, 1)
    return x.reshape(n, side * side) @ maps[code]


def _colours_agree(a: np.ndarray, b: np.ndarray, either: np.ndarray | None = None) -> np.ndarray:
    """For colour views (n, places, 3): whether b's colours are a's after one affine colour
    mapping but in at most PLACE_OUTLIERS of the places (compare.colours_agree's rule); where
    `either[k]`, a's may be b's instead."""
    agree = _mapped(a, b)
    if either is not None:
        again = np.flatnonzero(either & ~agree)
        agree[again] = _mapped(b[again], a[again])
    return agree


def _mapped(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether b's colours are a's after one affine colour mapping, but in a few places."""
    from .colourfit import mapped  # (compiled: loaded with the candidate search)

    return mapped(a, b, PLACE_MISFIT, PLACE_OUTLIERS)


@dataclass
class Sketches:
    """The sketches of the pictures that keypoints cannot check: picture k's is row slot[k] of
    `luma` (SKETCH x SKETCH uint8), `colours` (COLOUR_GRID x COLOUR_GRID x 3 uint8) and
    `colourful` (whether colour must agree: colourful, not monochrome). slot[k] is -1 for a
    picture with keypoints enough: its pairs go to the workers (photos need no sketch). The
    pairs are looked at in `threads` threads (NumPy and the compiled colour fit let go of the interpreter)."""

    slot: np.ndarray
    luma: np.ndarray
    colours: np.ndarray
    colourful: np.ndarray
    threads: int = 1

    @classmethod
    def empty(cls, featureless: np.ndarray, threads: int = 1) -> Sketches:
        """Room for the sketches of the pictures marked `featureless` (N,) bool."""
        n = int(featureless.sum())
        slot = np.where(featureless, np.cumsum(featureless) - 1, -1)
        return cls(slot, np.zeros((n, SKETCH, SKETCH), np.uint8), np.zeros((n, COLOUR_GRID, COLOUR_GRID, 3), np.uint8),
                   np.zeros(n, bool), threads)  # fmt: skip

    def set(self, k: np.ndarray, thumbs: np.ndarray, colours: np.ndarray, colourful: np.ndarray) -> None:
        """The sketches of picture k (or pictures: an array), from thumbnails and mean colours."""
        rows = self.slot[k]
        self.luma[rows], self.colours[rows], self.colourful[rows] = sketch(thumbs), colours, colourful

    @cached_property
    def whole(self) -> np.ndarray:
        """Each picture's whole view (turns reorder it)."""
        return self._made(np.arange(len(self.luma)), 0)

    def _made(self, pictures: np.ndarray, code: int) -> np.ndarray:
        """Luminance views of one code, of zero mean and unit length."""
        views = np.empty((len(pictures), VIEW * VIEW), dtype=np.float32)
        for start in range(0, len(pictures), BATCH):
            views[start : start + BATCH] = _view(self.luma[pictures[start : start + BATCH]], code)
        return unit(views, VIEW)

    def _luma(self, pictures: np.ndarray, code: int) -> np.ndarray:
        if code < TURNED:
            return self.whole[pictures][:, _resamplers(SKETCH)[1][code]]
        each, where = np.unique(pictures, return_inverse=True)  # a picture comes in many pairs
        return self._made(each, code)[where]

    def _look(self, a: np.ndarray, b: np.ndarray, code_a: int, code_b: int, either: np.ndarray) -> np.ndarray:
        """Whether view code_a of each sketch a[k] may show view code_b of b[k]: luminance alike,
        and for two colourful pictures, colours that agree place by place (where `either[k]`,
        mapped either way: the look of b[k] over a[k] too)."""
        alike = np.einsum("ij,ij->i", self._luma(a, code_a), self._luma(b, code_b)) >= FLOOR
        # the same window of both: a copy in the same framing or none, whose colours agree place by
        # place over the whole picture too (compare.colours_agree)
        views = [(code_a, code_b), *([(0, 0)] if code_a == code_b >= TURNED else [])]
        for view_a, view_b in views:
            both = np.flatnonzero(alike & self.colourful[a] & self.colourful[b])
            if len(both):
                alike[both] = _colours_agree(_view(self.colours[a[both]], view_a), _view(self.colours[b[both]], view_b),
                                             either[both])  # fmt: skip
        return alike

    def reachable(self, a: np.ndarray, b: np.ndarray, view_a: np.ndarray, view_b: np.ndarray,
                  either: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """For each pair (a[k], b[k]) proposed by view view_a[k] of a over view view_b[k] of b:
        whether it may be a copy (always, unless both are featureless and the views known). Two
        pictures proposed as a whole may still be a crop of one another: those failing as a whole
        get a second look with the middle and corner windows of either over the other. `either[k]`:
        the pair was proposed from b's side too, in the same views (view_a[k] == view_b[k]): it
        passes if either look does (they differ only in the colour mapping's direction)."""
        keep = (self.slot[a] < 0) | (self.slot[b] < 0) | (view_a == ANY_VIEW) | (view_b == ANY_VIEW)
        look = np.flatnonzero(~keep)
        a, b = self.slot[a], self.slot[b]
        either = np.zeros(len(keep), dtype=bool) if either is None else either
        look = look[np.lexsort((a[look], view_b[look], view_a[look]))]  # runs of one alignment, by picture
        starts = np.flatnonzero(np.diff(view_a[look], prepend=-2) | np.diff(view_b[look], prepend=-2))
        batches = [look[first : min(stop, first + BATCH)]
                   for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), len(look)])
                   for first in range(start, stop, BATCH)]  # fmt: skip

        def decide(k: np.ndarray) -> None:
            """keep[k] for a batch of pairs in one alignment (batches set apart rows)."""
            code_a, code_b = int(view_a[k[0]]), int(view_b[k[0]])
            keep[k] = self._look(a[k], b[k], code_a, code_b, either[k])
            if code_a == code_b == 0:
                for w in SHARED_WINDOWS:
                    for part_a, part_b in ((TURNED + w, 0), (0, TURNED + w)):
                        again = k[~keep[k]]
                        if len(again):
                            keep[again] = self._look(a[again], b[again], part_a, part_b, either[again])

        if self.threads > 1 and len(batches) > 1:
            _ = self.whole  # (made once, before the threads ask for it)
            with threadpool_limits(1, user_api="blas"):  # (BLAS's own threads on top of these: a crowd)
                pool = ThreadPoolExecutor(self.threads)
                try:
                    list(pool.map(decide, batches))
                finally:  # (Ctrl-C: the batches not begun are dropped, those running end under the limit)
                    pool.shutdown(cancel_futures=True)
        else:
            for k in batches:
                decide(k)
        return keep
