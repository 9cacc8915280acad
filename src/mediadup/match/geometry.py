"""Checked geometry: how one picture lies over another, from matched keypoints.

Keypoints of the two contents are matched (Hamming distance, Lowe's ratio test) and a
homography is fitted with RANSAC. The fit is believed only when it is close to a similarity
(turn, scale, shift: a tilt, a crop, a rotated crop; a keystone of a few percent), its inliers
are many and spread over the overlap, and one picture lies wholly inside the other. Two shots
that only overlap (a burst, panorama neighbours) or parts that do not meet are no copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ..fingerprint.features import Features

MIN_KEYPOINTS = 12  # fewer keypoints on either side: no geometry can be checked
RATIO = 0.8  # Lowe's ratio test: the best match clearly better than the second best
MIN_INLIERS = 15  # matches the fitted transform must explain
CONFIRMING = 8  # matches placed alike that confirm a placement: twice the 4 that determine a homography
MIN_INLIER_SHARE = 0.25  # ...of the matches that passed the ratio test
CONSISTENT = 0.5  # share of many matches one geometry must explain, or the keypoints speak against a copy
THRESHOLD = 0.015  # RANSAC reprojection error, as a fraction of the picture's height
MIN_CELLS = 5  # inliers in at least this many cells of a 3 x 3 grid over the contained picture
LAID_SLACK = 2 * THRESHOLD  # a copy has a keypoint this near where the thumbnails lay the other's (of a side)
MAX_WARP = 0.12  # largest distance of a mapped corner from the best similarity, as a fraction of its size
SLACK = 0.04  # a contained picture may reach this far (fraction of the other's side) outside it
MIN_SCALE, MAX_SCALE = 0.2, 5.0  # relative size of the two pictures' contents
OVERLAP = "overlap"  # Geometry.inside when neither picture lies inside the other


@dataclass(frozen=True)
class Geometry:
    """How `b` lies over `a`: `to_a` maps b's content (x in [0, b's aspect], y in [0, 1]) onto
    a's; `inside` says which picture lies wholly inside the other ("b", "a", "" when each covers
    the other: the same framing, or OVERLAP when neither does: two shots, not copies)."""

    to_a: np.ndarray  # 3 x 3 homography
    inliers: int
    matches: int
    inside: str
    angle: float  # degrees b is turned to lie over a
    kept: float  # area of the contained picture as a fraction of the other's
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # its bounds there (fractions of the content)

    @property
    def evidence(self) -> str:
        return f"{self.inliers} of {self.matches} keypoint matches agree"

    def onto(self, size: int, a_aspect: float, b_aspect: float) -> np.ndarray:
        """The homography from b's pixels to a's in `size` x `size` thumbnails of the contents."""

        def thumb(aspect: float) -> np.ndarray:
            return np.diag([size / aspect, float(size), 1.0])

        return thumb(a_aspect) @ self.to_a @ np.linalg.inv(thumb(b_aspect))


def _frame(f: Features) -> np.ndarray:
    """Keypoints in a frame whose height is 1 and width the aspect ratio (true angles)."""
    return f.points * np.array([f.aspect, 1.0], dtype=np.float32)


def _corners(aspect: float) -> np.ndarray:
    return np.array([[0, 0], [aspect, 0], [aspect, 1], [0, 1]], dtype=np.float64)


def _map(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    p = np.c_[points, np.ones(len(points))] @ h.T
    return p[:, :2] / p[:, 2:3]


def _warp(corners: np.ndarray, mapped: np.ndarray) -> float:
    """How far `mapped` is from the best similarity image of `corners`, relative to its size."""
    src = corners - corners.mean(axis=0)
    dst = mapped - mapped.mean(axis=0)
    zs, zd = src[:, 0] + 1j * src[:, 1], dst[:, 0] + 1j * dst[:, 1]
    s = (np.conj(zs) @ zd) / (np.conj(zs) @ zs)  # least-squares turn and scale
    size = np.abs(zd).mean()
    return float(np.abs(zd - s * zs).max() / size) if size > 0 else np.inf


def _inside(corners_mapped: np.ndarray, aspect: float) -> bool:
    x, y = corners_mapped[:, 0], corners_mapped[:, 1]
    sx, sy = SLACK * aspect, SLACK
    return bool((x >= -sx).all() and (x <= aspect + sx).all() and (y >= -sy).all() and (y <= 1 + sy).all())


def cells(points: np.ndarray, aspect: float) -> int:
    """Cells of a 3 x 3 grid over a picture (height 1, width `aspect`) holding at least one point."""
    cx = np.clip((points[:, 0] / aspect * 3).astype(int), 0, 2)
    cy = np.clip((points[:, 1] * 3).astype(int), 0, 2)
    return len(set(zip(cx.tolist(), cy.tolist())))


def _area(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def checkable(a: Features | None, b: Features | None) -> bool:
    """Whether the two have keypoints enough for their geometry to be checked."""
    return a is not None and b is not None and min(len(a), len(b)) >= MIN_KEYPOINTS


def _matched(a: Features, b: Features) -> tuple[np.ndarray, np.ndarray]:
    """The places (b's, a's, in their frames) of the keypoints that pass Lowe's ratio test."""
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(b.descriptors, a.descriptors, k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < RATIO * m[1].distance]
    return _frame(b)[[m.queryIdx for m in good]], _frame(a)[[m.trainIdx for m in good]]


def _homography(pb: np.ndarray, pa: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """The homography RANSAC fits from b's places to a's, and which matches it explains."""
    if len(pb) < 4:
        return None, np.zeros(len(pb), dtype=bool)
    h, mask = cv2.findHomography(pb, pa, cv2.RANSAC, THRESHOLD, maxIters=2000, confidence=0.995)
    return h, (mask.ravel().astype(bool) if mask is not None else np.zeros(len(pb), dtype=bool))


def disagree(a: Features, b: Features, laid: Callable[[np.ndarray], np.ndarray] | None = None,
             searched: bool = False) -> bool:  # fmt: skip
    """Whether the keypoints speak against one picture lying in the other.

    Alone: many distinctive matches (twice what a fit needs), most of which no single geometry
    explains (two editions of a design whose logo moved; a copy's matches agree: 60-95 % of them
    in the shared bench's crops). With `laid`, where the thumbnails lay a's places (fractions of
    its content) in b's content: keypoints enough on both sides for a copy to show agreeing
    matches, yet few matches where `laid` puts them (3 % of a side), and no copy's geometry (close
    to a similarity, explaining most matches) placing them elsewhere (dark editions of different
    designs, their logos at one place). Unless `searched` (a crop search's placement meets some
    matches by design), a placement is also confirmed by CONFIRMING matches exactly there, or by
    a copy's geometry explaining CONFIRMING or more, each near there (a picture framed a little
    otherwise). ORB's descriptors do not survive a mirror: a mirrored placement is not for the
    keypoints to judge."""
    if not checkable(a, b):
        return False
    pb, pa = _matched(a, b)
    if laid is None:
        return len(pb) >= 2 * MIN_INLIERS and _homography(pb, pa)[1].mean() < CONSISTENT
    there = laid(pa / np.array([a.aspect, 1.0], dtype=np.float32))
    off = np.hypot(*(there - pb / np.array([b.aspect, 1.0], dtype=np.float32)).T)  # from where they are laid
    agreeing = int((off < LAID_SLACK).sum())
    if agreeing >= MIN_INLIERS or (len(pb) and agreeing >= CONSISTENT * len(pb)):
        return False
    if not searched and (off < THRESHOLD).sum() >= CONFIRMING:
        return False  # matches exactly where the thumbnails lay them (as a fit places its inliers)
    if min(len(a), len(b)) < 2 * MIN_INLIERS:
        return False  # too few keypoints for missing matches to say anything
    h, inlier = _homography(pb, pa)
    if h is None or inlier.mean() < CONSISTENT or _warp(_corners(b.aspect), _map(h, _corners(b.aspect))) > MAX_WARP:
        return True  # most matches fit no copy's geometry
    if inlier.sum() >= MIN_INLIERS:
        return False  # a copy's geometry, placing them elsewhere
    # fewer agreeing matches, all near where the thumbnails lay them: the same picture framed a
    # little otherwise (a few percent cut off each side hide in the thumbnails' same framing)
    return searched or not (inlier.sum() >= CONFIRMING and bool((off[inlier] < 2 * LAID_SLACK).all()))


def fit(a: Features, b: Features) -> Geometry | None:
    """How `b` lies over `a`, when keypoints show it surely (see the module's rules); else None."""
    if not checkable(a, b):
        return None
    pb, pa = _matched(a, b)
    if len(pb) < MIN_INLIERS:
        return None
    h, inlier = _homography(pb, pa)
    if h is None:
        return None
    count = int(inlier.sum())
    if count < MIN_INLIERS or count < MIN_INLIER_SHARE * len(pb):
        return None
    try:
        back = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return None
    b_on_a = _map(h, _corners(b.aspect))
    a_on_b = _map(back, _corners(a.aspect))
    if _warp(_corners(b.aspect), b_on_a) > MAX_WARP:
        return None  # a wild homography: not a copy's geometry
    scale = np.sqrt(_area(b_on_a) / b.aspect)
    if not MIN_SCALE <= scale <= MAX_SCALE:
        return None
    b_in_a, a_in_b = _inside(b_on_a, a.aspect), _inside(a_on_b, b.aspect)
    inside = "" if b_in_a and a_in_b else "b" if b_in_a else "a" if a_in_b else OVERLAP
    spread = cells(pb[inlier], b.aspect) if inside != "a" else cells(pa[inlier], a.aspect)
    if spread < MIN_CELLS:
        return None  # the agreeing keypoints sit in one corner: too little of the picture is checked
    kept = _area(b_on_a) / a.aspect if inside == "b" else _area(a_on_b) / b.aspect if inside == "a" else 1.0
    if inside == OVERLAP:
        kept = min(_area(b_on_a) / a.aspect, _area(a_on_b) / b.aspect)
    angle = float(np.degrees(np.arctan2(h[1, 0], h[0, 0])))
    outline, aspect = (b_on_a, a.aspect) if inside == "b" else (a_on_b, b.aspect) if inside == "a" else (None, 1.0)
    box = (0.0, 0.0, 1.0, 1.0)
    if outline is not None:
        low, high = (
            np.clip(outline.min(axis=0) / (aspect, 1.0), 0, 1),
            np.clip(outline.max(axis=0) / (aspect, 1.0), 0, 1),
        )
        box = (round(float(low[0]), 3), round(float(low[1]), 3), round(float(high[0]), 3), round(float(high[1]), 3))
    return Geometry(h, count, len(pb), inside, angle, min(1.0, kept), box)
