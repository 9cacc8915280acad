"""Verify that two images show the same picture, and how one was turned into the other.

Hashes only propose an alignment (a rotation/mirror, or a crop window). Verification aligns the
two luminance thumbnails, refines a crop box by a small pattern search, and requires a high
correlation of the aligned pixels (mean squared error of normalised thumbnails, robust to
brightness, contrast and grayscale) plus, for colour pictures, similar colour histograms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import phash
from .fingerprint import FIRST_WINDOW, THUMB, WINDOWS, ImageFingerprint
from .records import Relation

GRID = 32  # pixels compared per side
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Level:
    """How similar two images must be to count as duplicates."""

    name: str
    radius: int  # Hamming radius for the picture's own hash
    view_radius: int  # for rotated/mirrored variants and crop windows
    min_correlation: float  # aligned thumbnails, same framing
    min_crop_correlation: float  # aligned thumbnails after a crop-box search
    min_histogram: float  # colour histogram intersection, when both are in colour
    min_crop_side: float  # smallest kept fraction of width and height for a crop


LEVELS = {
    "strict": Level("strict", 6, 4, 0.95, 0.96, 0.60, 0.85),
    "normal": Level("normal", 8, 6, 0.90, 0.93, 0.45, 0.70),
    "loose": Level("loose", 10, 8, 0.85, 0.90, 0.30, 0.60),
}


@dataclass(frozen=True)
class Match:
    relation: Relation
    score: float  # correlation of the aligned thumbnails, 0..1
    evidence: dict


def _zscore(x: np.ndarray) -> np.ndarray | None:
    x = x.astype(np.float32)
    s = float(x.std())
    return None if s < 2.0 else (x - x.mean()) / s


def _grid(pixels: np.ndarray, box: Box | None = None) -> np.ndarray:
    im = Image.fromarray(np.ascontiguousarray(pixels))
    return np.asarray(im.resize((GRID, GRID), Image.Resampling.BILINEAR, box=box), dtype=np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two pixel arrays; 0 when either is nearly uniform."""
    za, zb = _zscore(a), _zscore(b)
    return 0.0 if za is None or zb is None else float((za * zb).mean())


def refine_box(big: np.ndarray, small_grid: np.ndarray, box: Box, min_side: float) -> tuple[float, Box]:
    """Pattern search for the box of `big` that best matches `small_grid`."""
    size = big.shape[0]

    def score(b: Box) -> float:
        x0, y0, x1, y1 = b
        if x0 < 0 or y0 < 0 or x1 > size or y1 > size:
            return -1.0
        if x1 - x0 < min_side * size or y1 - y0 < min_side * size:
            return -1.0
        return correlation(_grid(big, b), small_grid)

    best = score(box)
    for step in (4.0, 2.0, 1.0, 0.5):
        improved = True
        while improved:
            improved = False
            x0, y0, x1, y1 = box
            for cand in (
                (x0 + step, y0, x1 + step, y1), (x0 - step, y0, x1 - step, y1),
                (x0, y0 + step, x1, y1 + step), (x0, y0 - step, x1, y1 - step),
                (x0 + step, y0 + step, x1 - step, y1 - step), (x0 - step, y0 - step, x1 + step, y1 + step),
                (x0 + step, y0, x1 - step, y1), (x0, y0 + step, x1, y1 - step),
                (x0 - step, y0, x1 + step, y1), (x0, y0 - step, x1, y1 + step),
            ):  # fmt: skip
                s = score(cand)
                if s > best + 1e-4:
                    best, box, improved = s, cand, True
    return best, box


def histogram_similarity(a: ImageFingerprint, b: ImageFingerprint) -> float:
    return float(np.minimum(a.histogram, b.histogram).sum())


def _hypotheses(a: ImageFingerprint, b: ImageFingerprint) -> list[tuple[int, int, str, Box]]:
    """(hash distance, dihedral index, which side is cropped, box) alignments, most likely first."""
    full: Box = (0.0, 0.0, float(THUMB), float(THUMB))
    out = [(phash.hamming(int(a.hashes[k]), int(b.hashes[0])), k, "", full) for k in range(len(phash.DIHEDRAL))]
    for j, (x0, y0, x1, y1) in enumerate(WINDOWS):
        box = (x0 * THUMB, y0 * THUMB, x1 * THUMB, y1 * THUMB)
        out.append((phash.hamming(int(a.hashes[FIRST_WINDOW + j]), int(b.hashes[0])), 0, "b", box))
        out.append((phash.hamming(int(b.hashes[FIRST_WINDOW + j]), int(a.hashes[0])), 0, "a", box))
    out.sort(key=lambda h: h[0])
    return out


def compare(a: ImageFingerprint, b: ImageFingerprint, level: Level, tries: int = 3) -> Match | None:
    """A verified match of `b` (a candidate duplicate) against `a` (its keeper), or None."""
    if _zscore(a.thumb) is None or _zscore(b.thumb) is None:
        return None  # blank or nearly uniform pictures: only identical bytes can tell them apart
    hist = histogram_similarity(a, b)
    if min(a.chroma, b.chroma) > 12.0 and hist < level.min_histogram:
        return None  # both in colour, and the colours differ
    best = (-1.0, 0, "", (0.0, 0.0, float(THUMB), float(THUMB)), 64)
    for dist, k, side, box in _hypotheses(a, b)[:tries]:
        turned = phash.DIHEDRAL[k].apply(a.thumb)
        sides = [side] if side else ["", "b", "a"]  # same framing, else b inside a, else a inside b
        for s in sides:
            big, small = (b.thumb, turned) if s == "a" else (turned, b.thumb)
            small_grid = _grid(small)
            found = box
            rho = correlation(_grid(big, box if s else None), small_grid)
            if s and rho < level.min_correlation:
                rho, found = refine_box(big, small_grid, box, level.min_crop_side)
            if rho > best[0]:
                best = (rho, k, s, found, dist)
            if rho >= level.min_correlation:
                break
    rho, k, side, box, dist = best
    x0, y0, x1, y1 = box
    kept = min((x1 - x0) / THUMB, (y1 - y0) / THUMB)
    cropped = bool(side) and kept < 0.97
    if rho < (level.min_crop_correlation if cropped else level.min_correlation):
        return None
    dihedral = phash.DIHEDRAL[k]
    if cropped:
        relation = Relation.CROPPED
    elif dihedral.name != "identity":
        relation = Relation.MIRRORED if dihedral.is_mirror else Relation.ROTATED
    else:
        relation = Relation.NEAR_DUPLICATE
    evidence: dict = {"phash_distance": int(dist), "correlation": round(rho, 4), "histogram": round(hist, 4)}
    if dihedral.name != "identity":
        evidence["transform"] = dihedral.name
    if cropped:
        whose = "duplicate shows" if side == "b" else "keeper shows"
        evidence["crop"] = f"{whose} {kept:.0%} of the other's width or height"
    return Match(relation, rho, evidence)
