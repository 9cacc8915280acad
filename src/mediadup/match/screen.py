"""A cheap first look at candidate pictures that keypoints cannot check.

Look-alikes (skies, fog, flat graphics, smooth colour fields) crowd the hash indexes: each
picture has many candidates and almost none is a copy. Pictures with too few keypoints can only
be verified by their thumbnails, and a thumbnail verdict needs the two to be alike as a whole or
as a part of one another. So the two are first compared as 16 x 16 views — each picture whole,
turned, and cut to the windows its hashes were taken from — and a pair whose views all
correlate less than FLOOR is no copy, without the full alignment and crop search; and the crop
search looks for one picture inside the other only when a window of the other is in reach. The floor
lies below what copies reach: copies of smooth pictures correlate at 0.98 or more, a flat
drawing cropped between two window sizes at 0.79 or more (a verdict needs 0.85 after alignment
at the loosest level); among smooth look-alikes it turns away about two pairs in three. The
smallest window keeps 75 % of a side: at `loose`, which accepts crops down to 60 %, a featureless
picture cropped to less than about 70 % of a side is out of reach.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..fingerprint import phash
from ..fingerprint.image import SHARED_WINDOWS, THUMB, WINDOWS, ImageFingerprint
from . import geometry

VIEW = 16  # pixels per side of a view
SOURCE = THUMB // 2  # views are taken from the thumbnail halved (a quarter of the arithmetic)
FLOOR = 0.75  # best correlation of any two views below which a pair is no copy


@lru_cache(maxsize=1)
def _resamplers() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Area-averaging matrices from the halved thumbnail: whole, and each window, to VIEW x VIEW:
    the rows of each distinct span of rows (windows share them: each is applied once, the windows'
    stacked so that one product does them all), which span each window has, and its columns."""
    whole = phash.area_weights(0, SOURCE, SOURCE, VIEW).astype(np.float32)
    spans, span = phash.row_spans(WINDOWS)
    rows = np.concatenate([phash.area_weights(y0 * SOURCE, y1 * SOURCE, SOURCE, VIEW) for y0, y1 in spans])
    cols = np.stack([phash.area_weights(x0 * SOURCE, x1 * SOURCE, SOURCE, VIEW) for x0, _, x1, _ in WINDOWS])
    return whole, rows.astype(np.float32), span, cols.transpose(0, 2, 1).astype(np.float32)


@lru_cache(maxsize=1)
def _turns() -> np.ndarray:
    """For each of the 8 turns, where its pixels come from in the unturned view (flat indices)."""
    return np.stack([d.apply(np.arange(VIEW * VIEW).reshape(VIEW, VIEW)).ravel() for d in phash.DIHEDRAL])


def unit(views: np.ndarray, side: int = VIEW) -> np.ndarray:
    """Each view with zero mean and unit length (a nearly uniform one: zeros, alike to nothing)."""
    if not len(views):
        return np.zeros((0, side * side), dtype=np.float32)
    flat = views.reshape(len(views), -1)
    centred = flat - flat.mean(axis=1, keepdims=True)
    norm = np.sqrt(np.einsum("ij,ij->i", centred, centred))
    return centred * np.where(norm > 2.0 * side, 1.0 / np.maximum(norm, 1e-6), 0.0).astype(np.float32)[:, None]


def views(f: ImageFingerprint) -> tuple[np.ndarray, np.ndarray]:
    """The picture's views: its 8 turns (identity first), and its windows (in WINDOWS order)."""
    assert f.thumb is not None
    whole, rows, span, cols = _resamplers()
    half = cv2.resize(f.thumb.astype(np.float32), (SOURCE, SOURCE), interpolation=cv2.INTER_AREA)
    small = (whole @ half @ whole.T).ravel()
    windows = (rows @ half).reshape(-1, VIEW, SOURCE)[span] @ cols
    return unit(small[_turns()]), unit(windows)


def checkable(a: ImageFingerprint, b: ImageFingerprint) -> bool:
    """Whether keypoints can check the pair's geometry (then the screen does not apply)."""
    return geometry.checkable(a.features, b.features)


def within_reach(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> str | None:
    """Whether any alignment the thumbnails could verify is in reach — a turn of one over the
    other, a window of either (turned or not) over the other, or the same window of both — and
    which picture may be a part of the other: "b" (of a), "a" (of b), both or neither ("").
    None: nothing is in reach, no copy."""
    (turns_a, windows_a), (turns_b, windows_b) = a, b
    shared = list(SHARED_WINDOWS)
    whole = max(
        float((turns_a @ turns_b[0]).max()),  # the same framing, turned
        float((windows_a[shared] * windows_b[shared]).sum(axis=1).max()),  # alike but for a local edit
    )
    parts = "".join(
        side
        for side, windows, turns in (("b", windows_a, turns_b), ("a", windows_b, turns_a))
        if float((windows @ turns.T).max()) >= FLOOR  # a window of one over the other, either turned
    )
    return parts if parts or whole >= FLOOR else None
