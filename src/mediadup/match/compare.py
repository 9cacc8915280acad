"""Verify that two images show the same picture, and how one was turned into the other.

Hashes only propose candidates. Verification aligns the two luminance thumbnails (trying the
rotations/mirrors the hashes suggest) and measures how alike the aligned pixels are: the mean
squared error of normalised thumbnails, so brightness, contrast and grayscale do not matter,
with the worst few percent of pixels left out, so a watermark or caption does not either.
When the frames differ, a crop search finds one picture inside the other: normalised
cross-correlation over the scales that the two aspect ratios allow. Colour histograms that
disagree demand stronger agreement of the pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from ..fingerprint import phash
from ..fingerprint.image import FIRST_WINDOW, INNER, THUMB, ImageFingerprint
from ..records import ImageInfo, Relation
from .geometry import MIN_CELLS, OVERLAP, Geometry, cells, checkable, disagree, fit

VERSION = 26  # bump when a change can turn a verdict: remembered verdicts are then recomputed
GRID = 32  # pixels compared per side
MIN_DETAIL = 0.7  # similarity of fine detail that crops and unhashed turns need
MIN_STRUCTURE = 0.12  # ...and the fraction of the picture that must show edges or texture
EDGE = 4.0  # luminance step between neighbouring grid pixels that counts as an edge
COLOURFUL = 12.0  # mean chroma above which a picture counts as in colour
MAX_RMSE = 8.0  # smooth pictures the hashes cannot tell apart must agree pixel for pixel (gray levels)
BLOCK = 8  # grid pixels per side of a block of local evidence (4 x 4 blocks)
BLOCK_DETAIL = 1.5  # detail (spread of the high-pass, gray levels) that makes a block evidence
BLOCK_AGREE = 0.5  # correlation of a block's detail on both sides that counts as agreeing
MIN_BLOCKS = 3  # fewer blocks of evidence than this: too little to be sure
MIN_AGREEMENT = 0.6  # most blocks of evidence must agree
MIDDLE = [5, 6, 9, 10]  # the blocks in the middle of the 4 x 4 (where a picture's subject is)
THIN_DETAIL = 0.3  # fine detail agreeing less than this on the whole is no evidence of a copy
SAME_PIXELS = 12.0  # with too little evidence, a sure copy differs by at most this much (gray levels, 99th pct)
INNER_SIDE = 0.3  # the picture inside a screenshot's chrome, refined, keeps this fraction of each side (or its own)
MAX_STRETCH = 1.4  # a copy in the same framing keeps its shape within this factor (a squeezed thumbnail)
GEOMETRY_BLOCKS = 6  # laid over each other by keypoints, at least this many places with detail...
GEOMETRY_AGREEMENT = 0.75  # ...of which this share must agree
GRADE_MISFIT = 10.0  # colour levels a place may stray from the one mapping of a colour grade...
GRADE_OUTLIERS = 0.05  # ...at most this share of places
PLACE_MISFIT = 30.0  # colour levels a place may stray from the best mapping when the palettes agree...
PLACE_OUTLIERS = 0.3  # ...at most this share of places (a sticker, a caption, a vignette's corners)
REFINED = 2  # crop scales whose best position is refined
MIN_NCC = 0.8  # coarse cross-correlation below which a crop scale is not worth refining (refining gains
# little: a crop is accepted from a similarity of 0.90-0.96 on, and a true crop correlates at 0.86+ coarsely)
TIME_ZONE_STEP = 900  # seconds: time zones differ by whole quarter hours
TRIM = 0.05  # fraction of the most different pixels left out (watermarks, captions, logos)
_BINOMIAL = np.array([1, 4, 6, 4, 1], dtype=np.float32) / 16
Box = tuple[float, float, float, float]
FULL: Box = (0.0, 0.0, float(THUMB), float(THUMB))


@dataclass(frozen=True)
class Level:
    """How similar two images must be to count as duplicates."""

    name: str
    radius: int  # Hamming radius for the picture's own hash
    view_radius: int  # for rotated/mirrored variants, the whole frame, and windows shared by both
    window_radius: int  # for crop windows (many per picture: the costliest search)
    min_similarity: float  # aligned thumbnails, same framing
    min_crop_similarity: float  # aligned thumbnails after a crop search
    min_colour: float  # colour histograms less alike than this demand `min_recolour_similarity`
    min_recolour_similarity: float
    min_crop_side: float  # smallest kept fraction of width and height for a crop


LEVELS = {
    "strict": Level("strict", 6, 4, 4, 0.95, 0.96, 0.70, 0.985, 0.85),
    "normal": Level("normal", 8, 6, 6, 0.90, 0.93, 0.50, 0.970, 0.70),
    "loose": Level("loose", 10, 8, 6, 0.85, 0.90, 0.30, 0.950, 0.60),
}


@dataclass(frozen=True)
class Match:
    relation: Relation
    score: float  # similarity of the aligned thumbnails, 0..1
    evidence: dict


def _zscore(x: np.ndarray) -> np.ndarray | None:
    """Zero mean, unit deviation; None for nearly uniform pixels (nothing to compare)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    mean, spread = (float(v[0, 0]) for v in cv2.meanStdDev(x))
    return None if spread < 2.0 else (x - mean) / spread


def _similar_z(za: np.ndarray | None, zb: np.ndarray | None) -> float:
    if za is None or zb is None:
        return 0.0
    return float(_trimmed_similarity(za.ravel(), zb.ravel()))


def _trimmed_similarity(za: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """1 - half the mean squared difference of normalised rows (along the last axis), the most
    different TRIM of each left out."""
    d = (za - zb) ** 2
    keep = int(d.shape[-1] * (1 - TRIM))
    return 1.0 - np.partition(d, keep, axis=-1)[..., :keep].mean(axis=-1) / 2


def _grid(pixels: np.ndarray | Image.Image, box: Box | None = None) -> np.ndarray:
    """`box` of the pixels (all of them by default) resampled to GRID x GRID."""
    im = pixels if isinstance(pixels, Image.Image) else Image.fromarray(np.ascontiguousarray(pixels))
    return np.asarray(im.resize((GRID, GRID), Image.Resampling.BILINEAR, box=box), dtype=np.float32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """1 - half the trimmed mean squared error of two normalised pixel arrays (1: same, ~0: unrelated)."""
    return _similar_z(_zscore(a), _zscore(b))


def similarities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`similarity` of each pair a[n], b[n] of two stacks of pixel arrays, at once."""
    if not len(a):
        return np.zeros(0)
    (za, sa), (zb, sb) = (_normalised(v.reshape(len(v), -1).astype(np.float32)) for v in (a, b))
    return np.where((sa >= 2.0) & (sb >= 2.0), _trimmed_similarity(za, zb), 0.0)


def _highpass(grid: np.ndarray) -> np.ndarray:
    """Fine detail: the picture minus its blur (edges and texture, not gradients): a separable
    binomial blur [1 4 6 4 1] / 16, edges repeated."""
    grid = np.asarray(grid, dtype=np.float32)
    return grid - cv2.sepFilter2D(grid, -1, _BINOMIAL, _BINOMIAL, borderType=cv2.BORDER_REPLICATE)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean squared difference of raw pixel values (brightness and contrast included), the
    most different few percent left out like in `similarity`."""
    d = ((a - b) ** 2).ravel()
    keep = int(len(d) * (1 - TRIM))
    return float(np.sqrt(np.partition(d, keep)[:keep].mean()))


class BlockEvidence(NamedTuple):
    count: int  # blocks with detail on both sides
    agreement: float  # share of them whose detail agrees
    other_middle: bool  # the middle shows other content
    agreeing_cells: int  # cells of a 3 x 3 grid over the picture holding agreeing detail (as `geometry.cells`)


def block_evidence(ha: np.ndarray, hb: np.ndarray) -> BlockEvidence:
    """Local evidence of two aligned grids' fine detail (`_highpass`): the blocks with detail on
    both sides (edges, texture: flat and smoothly shaded blocks say nothing either way), and the
    share of those whose detail agrees, each block normalised on its own (so one region's
    brightness or a caption elsewhere does not weigh on another's) and allowed to lie a pixel off
    (a slight tilt or warp moves detail a little from place to place). Also: whether the middle
    shows other content, no block of it agreeing and three or four differing (detail that disagrees,
    or detail on one side over a flat place on the other): one frame, band or window chrome around
    two different pictures agrees everywhere else. And over how much of the picture the agreeing
    detail lies (a mark or a logo: one part)."""
    za, sa = _normalised(_blocks(ha))
    padded = np.pad(hb, 1, mode="edge")
    shifted = np.stack([padded[dy : dy + GRID, dx : dx + GRID] for dy in (0, 1, 2) for dx in (0, 1, 2)])
    zb, sb = _normalised(_blocks(shifted))  # (9 shifts, blocks, pixels)
    best = (za[None] * zb).mean(axis=2).max(axis=0)
    informative = (sa >= BLOCK_DETAIL) & (sb[4] >= BLOCK_DETAIL)  # detail where each lies (no shift)
    count = int(informative.sum())
    agree = (best >= BLOCK_AGREE) & informative
    one_sided = (np.maximum(sa, sb[4]) >= 2 * BLOCK_DETAIL) & (np.minimum(sa, sb[4]) < BLOCK_DETAIL / 2)
    differ = (informative & ~agree) | one_sided
    other_middle = not agree[MIDDLE].any() and int(differ[MIDDLE].sum()) >= 3  # a mark, a sticker: one row at most
    n = GRID // BLOCK
    row, column = np.divmod(np.flatnonzero(agree), n)
    agreeing_cells = cells(np.c_[column + 0.5, row + 0.5] / n, 1.0)  # (block centres)
    return BlockEvidence(count, float(agree.sum() / count) if count else 0.0, other_middle, agreeing_cells)


def _blocks(grids: np.ndarray) -> np.ndarray:
    """The BLOCK x BLOCK blocks of a GRID x GRID array (or of a stack of them), one per row."""
    n = GRID // BLOCK
    lead = grids.shape[:-2]
    blocks = grids.reshape(*lead, n, BLOCK, n, BLOCK)
    return np.moveaxis(blocks, -3, -2).reshape(*lead, n * n, BLOCK * BLOCK)


def _normalised(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row (along the last axis) with zero mean and unit spread, and the spreads."""
    spread = rows.std(axis=-1)
    return (rows - rows.mean(axis=-1, keepdims=True)) / np.maximum(spread, 1e-6)[..., None], spread


def structure(grid: np.ndarray) -> float:
    """Fraction of the picture with visible edges or texture (flat graphics: little)."""
    gx = np.abs(np.diff(grid, axis=1))[:-1, :]
    gy = np.abs(np.diff(grid, axis=0))[:, :-1]
    return float((np.hypot(gx, gy) > EDGE).mean())


def histogram_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """How alike two hue histograms are: their intersection, 0 to 1."""
    return float(np.minimum(a, b).sum())


def _aspect(fp: ImageFingerprint, transpose: bool) -> float:
    w, h = max(1, fp.info.content_width), max(1, fp.info.content_height)
    return h / w if transpose else w / h


def _ncc(big: np.ndarray, small: np.ndarray) -> tuple[float, int, int]:
    """Best normalised cross-correlation of `small` slid over `big`: (score, x, y)."""
    if float(cv2.meanStdDev(small)[1][0, 0]) < 1e-3:
        return -1.0, 0, 0
    score = cv2.matchTemplate(big, small, cv2.TM_CCOEFF_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(score)
    return float(best), int(x), int(y)


def crop_search(big: np.ndarray, small: np.ndarray, ratio: float, min_side: float) -> tuple[float, Box]:
    """Find `small` inside `big` (both THUMB-square thumbnails of differently framed pictures).

    `ratio` is (small's aspect) / (big's aspect): a crop keeping fractions sx, sy of the big
    picture's width and height has sx / sy = ratio, so one scale parameter is searched.
    Returns the best similarity and the box in big's thumbnail.
    """
    coarse = THUMB // 2
    big_c = cv2.resize(big.astype(np.float32), (coarse, coarse), interpolation=cv2.INTER_AREA)
    small_f = small.astype(np.float32)
    boxes = []
    for sx in np.linspace(min(1.0, ratio), min_side, 9):
        sy = sx / ratio
        if min(sx, sy) < min_side or sy > 1.0001 or min(sx, sy) > 0.97:
            continue
        w, h = max(4, round(coarse * min(sx, 1.0))), max(4, round(coarse * min(sy, 1.0)))
        ncc, x, y = _ncc(big_c, cv2.resize(small_f, (w, h), interpolation=cv2.INTER_AREA))
        f = THUMB / coarse
        boxes.append((ncc, (x * f, y * f, (x + w) * f, (y + h) * f)))
    best: tuple[float, Box] = (-1.0, FULL)
    for ncc, box in sorted(boxes, reverse=True)[:REFINED]:
        if ncc < MIN_NCC:
            break
        score, box = refine_box(big, _grid(small), box, min_side)
        if score > best[0]:
            best = (score, box)
    return best


def refine_box(big: np.ndarray, small_grid: np.ndarray, box: Box, min_side: float) -> tuple[float, Box]:
    """The best box of `big` for `small_grid`, searched from `box` (`pattern.search`: shift and
    scale, steps halving to half a pixel), and its similarity on Pillow's grid; the box searched
    from when that is more alike."""
    target = _zscore(small_grid)
    picture = Image.fromarray(np.ascontiguousarray(big))

    def score(b: Box) -> float:
        x0, y0, x1, y1 = b
        inside = x0 >= 0 and y0 >= 0 and x1 <= big.shape[1] and y1 <= big.shape[0]
        if not inside or min(x1 - x0, y1 - y0) < min_side * big.shape[0]:
            return -1.0
        return _similar_z(_zscore(_grid(picture, b)), target)

    if target is None:
        return score(box), box
    from . import pattern  # (compiled with numba: loaded when first needed, not by a rescan that compares nothing)

    found = pattern.search(big, target, box, min_side, TRIM)
    return max((score(found), found), (score(box), box), key=lambda scored: scored[0])


@dataclass(frozen=True)
class Alignment:
    """The best way found to lay `b` over `a`, and how alike they then are."""

    dihedral: int  # index into phash.DIHEDRAL: how a is turned
    side: str  # "": same framing; "b": b is a part of a; "a": a is a part of b
    box: Box  # the part, in the bigger picture's thumbnail
    similarity: float  # of the aligned luminance (normalised, trimmed)
    detail: float  # of the aligned fine detail
    structure: float  # fraction of the aligned picture with edges (the less textured of the two)
    rmse: float  # raw pixel difference (brightness and contrast included)
    phash_distance: int
    colour: float  # hue histogram intersection
    recoloured: bool  # the colours disagree (a grayscale, sepia or recoloured copy, or another picture)
    blocks: int = 0  # blocks with detail on both sides (local evidence)
    agreement: float = 0.0  # share of them whose detail agrees
    other_middle: bool = False  # the middle shows other content (see block_evidence)
    agreeing_cells: int = 0  # cells of a 3 x 3 grid holding agreeing detail (see block_evidence)
    worst: float = 0.0  # 99th percentile of the raw pixel difference (gray levels)
    shown: bool = False  # the part is the picture inside the bigger one's window chrome (a screenshot)

    @property
    def kept(self) -> float:
        return min((self.box[2] - self.box[0]) / THUMB, (self.box[3] - self.box[1]) / THUMB)

    @property
    def cropped(self) -> bool:
        return bool(self.side) and self.kept < 0.97


def align(a: ImageFingerprint, b: ImageFingerprint, level: Level, parts: str = "ab", give_up: float = -1.0,
          variants: int = 2) -> Alignment | None:  # fmt: skip
    """Find how `b` lies over `a` (turned, cropped or as is); None when either is nearly uniform,
    or when the best alignment is less alike than `give_up`. The crop search looks for the
    pictures named in `parts` inside the other ("b": b is a part of a; "a": a is a part of b)."""
    if _zscore(a.thumb) is None or _zscore(b.thumb) is None:
        return None
    hist = histogram_similarity(a.histogram, b.histogram)
    recoloured = max(a.chroma, b.chroma) > COLOURFUL and hist < level.min_colour
    need = level.min_recolour_similarity if recoloured else level.min_similarity
    distances = [phash.hamming(int(h), int(b.hashes[0])) for h in a.hashes[: len(phash.DIHEDRAL)]]
    order = sorted(range(len(phash.DIHEDRAL)), key=lambda k: (distances[k], k))
    tried = [0, *[k for k in order if k != 0][: variants - 1]]
    turns: dict[int, np.ndarray] = {}

    def turn(k: int) -> np.ndarray:
        """a's thumbnail turned by dihedral k (each turn made once)."""
        if k not in turns:
            turns[k] = np.ascontiguousarray(phash.DIHEDRAL[k].apply(a.thumb))
        return turns[k]

    b_grid = _grid(b.thumb)
    best = (-1.0, 0, "", FULL)
    shown = False  # the best is the picture inside a screenshot's window chrome
    for k in tried:
        stretch = _aspect(b, False) / _aspect(a, phash.DIHEDRAL[k].transpose)
        if max(stretch, 1 / stretch) > MAX_STRETCH:
            continue  # other shapes: not one picture resized (one design redrawn for another screen)
        sim = similarity(_grid(turn(k)), b_grid)
        if sim > best[0]:
            best = (sim, k, "", FULL)
    if best[0] < need:  # not the same framing: is one a crop of the other?
        # as it is (or the turn alike on the whole), and the turn a crop window points to when it
        # points elsewhere (a crop set on its side)
        crops = _crop_distances(a, b)
        usual = best[1] if best[0] >= 0.5 else 0
        pointed = int(np.argmin(crops))
        for k in dict.fromkeys([usual, *([pointed] if crops[pointed] < crops[usual] else [])]):
            turned = turn(k)
            ratio = _aspect(b, False) / _aspect(a, phash.DIHEDRAL[k].transpose)
            for side, big, small, r in (("b", turned, b.thumb, ratio), ("a", b.thumb, turned, 1 / ratio)):
                if side not in parts:
                    continue
                sim, box = crop_search(big, small, r, level.min_crop_side)
                if sim > best[0]:
                    best = (sim, k, side, box)
        for side, holder in (("b", a), ("a", b)):
            if holder.info.inner and side in parts:  # a screenshot: the picture inside its window chrome
                start = tuple(v * THUMB for v in holder.info.inner)
                least = min(INNER_SIDE, (start[2] - start[0]) / THUMB, (start[3] - start[1]) / THUMB)
                shown_grid = b_grid if side == "b" else _grid(a.thumb)
                sim, box = refine_box(holder.thumb, shown_grid, start, least)  # type: ignore[arg-type]
                if sim > best[0]:
                    best, shown = (sim, 0, side, box), True
    sim, k, side, box = best
    if sim < give_up:
        return None
    big, small = (b.thumb, turn(k)) if side == "a" else (turn(k), b.thumb)
    region, other = _grid(big, box if side else None), _grid(small)
    detail_a, detail_b = _highpass(region), _highpass(other)
    evidence = block_evidence(detail_a, detail_b)
    return Alignment(
        dihedral=k,
        side=side,
        box=box,
        similarity=sim,
        detail=similarity(detail_a, detail_b),
        structure=min(structure(region), structure(other)),
        rmse=rmse(region, other),
        phash_distance=distances[k],
        colour=hist,
        recoloured=recoloured,
        blocks=evidence.count,
        agreement=evidence.agreement,
        other_middle=evidence.other_middle,
        agreeing_cells=evidence.agreeing_cells,
        worst=float(np.percentile(np.abs(region - other), 99)),
        shown=shown,
    )


def _crop_distances(a: ImageFingerprint, b: ImageFingerprint) -> np.ndarray:
    """For each turn k of a: how near a crop window of the turned a comes to b, or a crop window
    of b to the turned a (a window of a turned is a's window turned: it meets b turned back)."""
    windows_a, windows_b = a.hashes[FIRST_WINDOW:INNER], b.hashes[FIRST_WINDOW:INNER]
    b_back = b.hashes[list(phash.UNDO)]
    inside_a = np.bitwise_count(windows_a[:, None] ^ b_back[None, :]).min(axis=0)
    inside_b = np.bitwise_count(windows_b[:, None] ^ a.hashes[None, : len(phash.DIHEDRAL)]).min(axis=0)
    return np.minimum(inside_a, inside_b)


def _turned_colours(f: ImageFingerprint, dihedral: int) -> np.ndarray:
    turn = phash.DIHEDRAL[dihedral]
    assert f.colours is not None
    return np.stack([turn.apply(f.colours[..., c]) for c in range(3)], axis=-1).astype(np.float32)


def same_pixels(a: ImageFingerprint, b: ImageFingerprint, al: Alignment) -> bool:
    """Nearly the same pixels: luminance within SAME_PIXELS at the 99th percentile and, for two
    colourful pictures in the same framing, the same colours place by place (two smooth fields
    of different colours can share their luminance)."""
    if al.worst > SAME_PIXELS:
        return False
    if al.side or a.colours is None or b.colours is None or min(a.chroma, b.chroma) <= COLOURFUL:
        return True
    return float(np.abs(_turned_colours(a, al.dihedral) - b.colours).max()) <= 2 * SAME_PIXELS


def _grade_misfit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """How far each place's colour strays from the one colour mapping (an affine map of RGB: a
    grade, a filter, a white balance) that best turns the source's colours into the target's."""
    x = np.c_[source.reshape(-1, 3).astype(np.float64), np.ones(source.size // 3)]
    y = target.reshape(-1, 3).astype(np.float64)
    mapping, *_ = np.linalg.lstsq(x, y, rcond=None)
    return np.sqrt(((x @ mapping - y) ** 2).mean(axis=1))


def _other_colours(a: ImageFingerprint, b: ImageFingerprint, level: Level) -> bool:
    """Two colourful pictures whose palettes differ: a copy only in the same framing, regraded."""
    colourful = colour_counts(a.info) and colour_counts(b.info)
    return colourful and histogram_similarity(a.histogram, b.histogram) < level.min_colour


def colour_counts(info: ImageInfo) -> bool:
    """Whether a picture's colours must agree with a copy's: colourful, and not gray, sepia or tinted."""
    return info.chroma > COLOURFUL and not info.monochrome


def colours_agree(a: ImageFingerprint, b: ImageFingerprint, al: Alignment) -> bool:
    """Whether two pictures' colours allow a copy. A gray, sepia or tinted side says little. Two
    colourful pictures in the same framing must agree place by place after one colour mapping:
    nearly everywhere when their palettes differ (a grade, not a repainted edition), and over
    most of the picture when they share a palette (a sticker, a caption or a vignette changes a
    part; two different pictures in the same colours disagree almost everywhere). Of a part, only
    the palette is compared (a part of a regraded picture is not believed)."""
    if not (colour_counts(a.info) and colour_counts(b.info)):
        return True
    if al.side or a.colours is None or b.colours is None:
        return not al.recoloured
    misfit = _grade_misfit(_turned_colours(a, al.dihedral), b.colours)
    if al.recoloured:
        return float(np.mean(misfit > GRADE_MISFIT)) <= GRADE_OUTLIERS
    return float(np.mean(misfit > PLACE_MISFIT)) <= PLACE_OUTLIERS


def distinct_shots(a: ImageInfo, b: ImageInfo) -> bool:
    """Whether a camera took the two at different moments (a burst, the same scene again): a copy
    keeps the capture time or loses it. Only for pictures that name their camera (software that
    writes a picture may put its own date there); times a whole number of quarter hours apart are
    a clock or time-zone correction of one copy, not another shot."""
    if not (a.camera and b.camera):
        return False
    ta, tb = a.taken, b.taken
    return ta is not None and tb is not None and ta != tb and (ta - tb) % TIME_ZONE_STEP != 0


def compare(a: ImageFingerprint, b: ImageFingerprint, level: Level, parts: str = "ab",
            turned: bool = True) -> Match | None:  # fmt: skip
    """A verified match of `b` (a candidate duplicate) against `a` (its keeper), or None.

    Thumbnails first (same framing, a turn by quarters unless not `turned`, a crop found by
    cross-correlation, for the pictures named in `parts` inside the other: see `align`); then
    keypoint geometry, for what thumbnails cannot align (tilts, rotated crops, perspective, a
    picture inside a screenshot) and to check a crop: two shots that only overlap are no copies."""
    if distinct_shots(a.info, b.info):
        return None  # similar shots at most (scan --similar)
    # without keypoints the thumbnails decide alone: a pair less alike than any verdict accepts
    # needs no more evidence (look-alikes stop here)
    keypoints = checkable(a.features, b.features)
    give_up = -1.0 if keypoints else min(level.min_similarity, level.min_recolour_similarity)
    if not keypoints and _other_colours(a, b, level):
        parts = ""  # a part in other colours is never believed (colours_agree): no crop search
    al = align(a, b, level, parts, give_up, variants=2 if turned else 1)
    if al is None:
        return None  # blank or nearly uniform pictures, or nothing alike enough
    if not colours_agree(a, b, al):
        return None  # other colours, place by place: another picture or a colour edition, not a copy
    match = _by_thumbnails(a, b, al, level, keypoints)
    # the thumbnails agree in one small area (a logo on a gradient): the keypoints are asked
    # whether they lie where the thumbnails lay them (dark editions of different designs)
    certain = match is not None and match.relation is not Relation.UNCERTAIN
    sure = keypoints and certain
    # little detail, or detail agreeing in one part of the picture: the keypoints are asked too
    few = al.blocks < GEOMETRY_BLOCKS or al.agreeing_cells < MIN_CELLS
    thin = sure and few and not phash.DIHEDRAL[al.dihedral].is_mirror
    if match is not None and not al.cropped:
        if thin and not same_pixels(a, b, al) and disagree(a.features, b.features, _laid(al)):  # type: ignore[arg-type]
            return _doubted(match, "the thumbnails agree in one small area, and the keypoints speak against it")
        return match
    geometry = fit(a.features, b.features) if a.features is not None and b.features is not None else None
    if geometry is not None and geometry.inside == OVERLAP:
        return None  # one shot moved against the other (a burst, panorama neighbours): no copy
    if geometry is None:
        # a crop the thumbnails searched for (a picture inside a screenshot's chrome was placed by
        # the chrome instead)
        if certain and al.cropped and not al.shown:
            if sure and disagree(a.features, b.features):  # type: ignore[arg-type]
                # two dark editions of different designs align as crops
                return _doubted(match, "the thumbnails align as a crop, but the keypoints speak against it")  # type: ignore[arg-type]
            if thin and disagree(a.features, b.features, _laid(al), searched=True):  # type: ignore[arg-type]
                return _doubted(match, "the thumbnails agree in one small area, and the keypoints speak against it")  # type: ignore[arg-type]
            if al.agreeing_cells < MIN_CELLS and not same_pixels(a, b, al):
                # the spread a keypoint fit must show: a search of size and place lays one mark
                # over another's (a logo and its word, different designs sharing one layout)
                return _doubted(match, "the crop agrees in one part of the picture only")  # type: ignore[arg-type]
        return match
    if match is not None:  # a crop the keypoints confirm: say how it lies
        match.evidence.update(_geometry_words(geometry))
        if "box" in match.evidence and geometry.inside in ("a", "b"):
            match.evidence["box"] = list(geometry.box)
        return match
    return _by_geometry(a, b, geometry, al, level)


def _laid(al: Alignment) -> Callable[[np.ndarray], np.ndarray]:
    """Where the thumbnails lay a's places (fractions of its content) in b's content."""
    turn = phash.DIHEDRAL[al.dihedral]
    x0, y0, x1, y1 = (v / THUMB for v in al.box)
    origin, size = np.array([x0, y0]), np.array([x1 - x0, y1 - y0])
    if al.side == "b":  # b is a part of a turned: the box is in a's turned thumbnail
        return lambda points: (turn.apply_points(points) - origin) / size
    if al.side == "a":  # a turned is a part of b
        return lambda points: origin + turn.apply_points(points) * size
    return turn.apply_points


def _doubted(match: Match, why: str) -> Match:
    """A match the evidence does not settle: "may be duplicates", and why."""
    return Match(Relation.UNCERTAIN, match.score, {**match.evidence, "uncertain": why})


def _geometry_words(g: Geometry) -> dict:
    words = {"geometry": g.evidence}
    if abs(g.angle) >= 1.0:
        words["transform"] = f"turned {g.angle:+.1f}°"
    return words


def _by_thumbnails(a: ImageFingerprint, b: ImageFingerprint, al: Alignment, level: Level,
                   keypoints: bool = True) -> Match | None:  # fmt: skip
    """The verdict of the aligned thumbnails (`keypoints`: whether keypoints can check the pair)."""
    need = level.min_recolour_similarity if al.recoloured else level.min_similarity
    if al.similarity < (max(need, level.min_crop_similarity) if al.cropped else need):
        return None
    supported = al.phash_distance <= (level.view_radius if al.dihedral else 2 * level.radius)
    if al.cropped or not supported:
        # Smooth pictures (gradients, sky) and flat graphics align with anything. A crop, or a match
        # the hashes do not support, needs fine detail that agrees, spread over the picture; failing
        # that, the same pixel values (no brightness or contrast change), and some edges for a crop.
        textured = al.detail >= MIN_DETAIL and al.structure >= MIN_STRUCTURE
        same_values = al.rmse <= MAX_RMSE and (not al.cropped or al.structure >= MIN_STRUCTURE / 2)
        if not (textured or same_values):
            return None
    dihedral = phash.DIHEDRAL[al.dihedral]
    if al.blocks >= MIN_BLOCKS and al.agreement < MIN_AGREEMENT:
        return None  # alike on the whole, but most places with detail disagree: another picture
    if al.other_middle:
        return None  # alike around the edges, another picture in the middle: one template
    # without keypoints the thumbnails are all the evidence: as many places with detail as a
    # keypoint fit must show (among thousands of featureless look-alikes, two colour fields agree
    # in a few places by chance, more so at the best of a crop search's placements)
    least = MIN_BLOCKS if keypoints else GEOMETRY_BLOCKS
    if (al.blocks < least or al.detail < THIN_DETAIL) and not same_pixels(a, b, al):
        # flat graphics, gradients, shapes, smooth colour fields: alike, with too little detail (in
        # few places, or none that agrees on the whole) to tell a copy from another drawing in the
        # same style (editions, one design at other sizes, two skies): the user decides
        relation = Relation.UNCERTAIN
    elif al.cropped:
        relation = Relation.CROPPED
    elif al.dihedral:
        relation = Relation.MIRRORED if dihedral.is_mirror else Relation.ROTATED
    else:
        relation = Relation.NEAR_DUPLICATE
    evidence: dict = {
        "phash_distance": al.phash_distance,
        "similarity": round(al.similarity, 4),
        "colour": round(al.colour, 4),
        "detail": round(al.detail, 4),
        "agreement": f"{round(al.agreement * al.blocks)}/{al.blocks}",
    }
    if al.dihedral:
        evidence["transform"] = dihedral.name
    if relation is Relation.UNCERTAIN:
        evidence["uncertain"] = f"too little detail to be sure ({al.blocks} of 16 places), and not the same pixels"
    if al.cropped:
        evidence["crop"] = _crop_words(al.side, al.kept)
        evidence["box"] = [round(v / THUMB, 3) for v in al.box]
    if al.shown:
        holder = "the duplicate" if al.side == "a" else "the keeper"
        evidence["screenshot"] = f"{holder} shows the picture inside window chrome"
    return Match(relation, al.similarity, evidence)


def _crop_words(side: str, kept: float) -> str:
    return f"{'duplicate shows' if side == 'b' else 'keeper shows'} {kept:.0%} of the other"


def _by_geometry(a: ImageFingerprint, b: ImageFingerprint, g: Geometry, al: Alignment,
                 level: Level) -> Match | None:  # fmt: skip
    """The verdict of the pixels laid over each other as the keypoints say: the contained picture
    against the part of the other it shows. The geometry is evidence already; most places with
    detail must agree as well, and there must be such places. When the colours disagree (one side
    gray or tinted, else no copy), the luminance is what a recoloured copy keeps: it must be as
    alike as the thumbnails need of one (one drawing over other shading is another edition)."""
    assert a.thumb is not None and b.thumb is not None and a.features is not None and b.features is not None
    onto_a = g.onto(THUMB, a.features.aspect, b.features.aspect)
    # the bigger picture seen in the contained one's frame: b in a's when a is the part, else a in b's
    seen, mapping, frame = (b.thumb, np.linalg.inv(onto_a), a.thumb) if g.inside == "a" else (a.thumb, onto_a, b.thumb)
    shown = cv2.warpPerspective(seen, mapping, (THUMB, THUMB), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    region, other = _grid(shown), _grid(frame)
    detail_a, detail_b = _highpass(region), _highpass(other)
    blocks, agreement, other_middle, _ = block_evidence(detail_a, detail_b)
    if blocks < GEOMETRY_BLOCKS or agreement < GEOMETRY_AGREEMENT or other_middle:
        return None
    cropped = g.inside in ("a", "b") and g.kept < 0.97
    quarter = round(g.angle / 90) % 4
    relation = Relation.CROPPED if cropped else Relation.ROTATED if quarter else Relation.NEAR_DUPLICATE
    sim = similarity(region, other)
    if al.recoloured and sim < level.min_recolour_similarity:
        return None
    evidence: dict = {
        "similarity": round(sim, 4),
        "colour": round(al.colour, 4),
        "detail": round(similarity(detail_a, detail_b), 4),
        "agreement": f"{round(agreement * blocks)}/{blocks}",
        **_geometry_words(g),
    }
    if cropped:
        evidence["crop"] = _crop_words(g.inside, g.kept)
        evidence["box"] = list(g.box)
    return Match(relation, sim, evidence)
