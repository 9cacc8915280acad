"""The picture inside window chrome: a screenshot of a photo viewer, a web page or an app.

Bands peeled from the edges (`image.content_box`) cannot take away chrome that is not a band: a
toolbar above a side panel, a status bar and a caption beside the picture. Chrome is made of
plain areas, lines and marks (text, icons) in a few exact colours; a picture is busy (texture,
gradients, noise). So the busy pixels are gathered into connected regions, and the largest one,
grown by every region that reaches into its box (a subject's outline, the details of a picture
with plain parts), is the picture when its box is outlined by edges (a rectangle shown in a window,
not a subject on its background) and what lies outside it is chrome: nearly all in a few exact
grey levels, with marks on it or in more than one plain colour. A plain background alone (an
object photographed on white) is part of its picture, not chrome.

The inner picture is an extra view of a file (its hash finds the original a screenshot shows)
and ranks a screenshot by the picture it shows; it never changes what is compared.
"""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[float, float, float, float]

BUSY = 8  # grey levels a 3x3 neighbourhood must span to be part of a picture (JPEG ringing spans less)
MIN_SHARE, MAX_SHARE = 0.2, 0.9  # of the content the inner picture covers: less is an icon, more no chrome
OUTLINE = 0.5  # share of its outline where a picture meets the chrome in a visible edge
CHROME_LEVELS = 0.8  # share of the outside in its 6 most common grey levels: plain, exact colours
MARKS = 0.002  # share of the outside in marks (text, icons), or...
PLAIN = 0.05  # ...two or more plain colours each covering this share of the outside...
SAME_COLOUR = 8  # ...and more grey levels apart than this (compression splits one colour in near levels)


def inner_box(gray: np.ndarray) -> Box | None:
    """The picture inside chrome, as fractions (x0, y0, x1, y1) of `gray`, or None when there is
    no chrome around a picture."""
    h, w = gray.shape
    if min(h, w) < 16:
        return None
    if np.sort(np.bincount(gray.ravel(), minlength=256))[-6:].sum() < (1 - MAX_SHARE) * CHROME_LEVELS * h * w:
        return None  # too little of it in a few exact grey levels for chrome around anything (most photos)
    kernel = np.ones((3, 3), np.uint8)
    busy = ((cv2.dilate(gray, kernel).astype(np.int16) - cv2.erode(gray, kernel)) > BUSY).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(busy, connectivity=8)
    if n < 2:
        return None
    regions = stats[1:]
    x0, y0, x1, y1 = _grown(regions, int(np.argmax(regions[:, cv2.CC_STAT_AREA])))
    # the busy neighbourhood reaches one pixel out, except at the content's own edges
    x0, y0, x1, y1 = x0 + (x0 > 0), y0 + (y0 > 0), x1 - (x1 < w), y1 - (y1 < h)
    if not MIN_SHARE <= (x1 - x0) * (y1 - y0) / (w * h) <= MAX_SHARE:
        return None
    if _outlined(busy.astype(bool), x0, y0, x1, y1) < OUTLINE:
        return None  # no straight edges around it: a subject on its background, not a picture in a window
    inside = np.zeros((h, w), dtype=bool)
    inside[y0:y1, x0:x1] = True
    outside = gray[~inside]
    levels = np.bincount(outside, minlength=256) / len(outside)
    if np.sort(levels)[-6:].sum() < CHROME_LEVELS:
        return None  # the outside is a picture too (a photo's plain sky, a gradient)
    rx0, ry0 = regions[:, cv2.CC_STAT_LEFT], regions[:, cv2.CC_STAT_TOP]
    rx1, ry1 = rx0 + regions[:, cv2.CC_STAT_WIDTH], ry0 + regions[:, cv2.CC_STAT_HEIGHT]
    apart = (rx1 <= x0) | (rx0 >= x1) | (ry1 <= y0) | (ry0 >= y1)
    marks = regions[apart, cv2.CC_STAT_AREA].sum() / len(outside)
    plain = np.flatnonzero(levels >= PLAIN)  # grey levels of plain areas; neighbours are one colour
    colours = 1 + np.count_nonzero(np.diff(plain) > SAME_COLOUR) if len(plain) else 0
    if marks < MARKS and colours < 2:
        return None  # a plain background: part of the picture
    return x0 / w, y0 / h, x1 / w, y1 / h


def _outlined(busy: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> float:
    """How much of the box's outline is an edge (busy within a pixel of it), on average over its sides."""
    sides = (
        busy[max(0, y0 - 1) : y0 + 2, x0:x1].any(axis=0),
        busy[max(0, y1 - 2) : y1 + 1, x0:x1].any(axis=0),
        busy[y0:y1, max(0, x0 - 1) : x0 + 2].any(axis=1),
        busy[y0:y1, max(0, x1 - 2) : x1 + 1].any(axis=1),
    )
    return float(np.mean([side.mean() if len(side) else 0.0 for side in sides]))


def _grown(regions: np.ndarray, first: int) -> tuple[int, int, int, int]:
    """The box of region `first`, grown by every region that reaches into it, until none does."""
    left, top = regions[:, cv2.CC_STAT_LEFT], regions[:, cv2.CC_STAT_TOP]
    right, bottom = left + regions[:, cv2.CC_STAT_WIDTH], top + regions[:, cv2.CC_STAT_HEIGHT]
    box = (int(left[first]), int(top[first]), int(right[first]), int(bottom[first]))
    while True:
        x0, y0, x1, y1 = box
        reach = (left <= x1) & (right >= x0) & (top <= y1) & (bottom >= y0)
        grown = (int(left[reach].min()), int(top[reach].min()), int(right[reach].max()), int(bottom[reach].max()))
        if grown == box:
            return box
        box = grown
