"""Per-image fingerprints: hashes for finding candidates, a thumbnail and colours for verifying them."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, fields
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from ..records import ImageInfo
from . import phash
from .decode import DEFAULT_MAX_PIXELS, Decoded, decode
from .features import Features, features
from .inner import inner_box

VERSION = 19  # bump when anything below changes what is stored: cached fingerprints are then recomputed
THUMB = 64
COLOUR_GRID = 8  # the content's mean colours on a COLOUR_GRID x COLOUR_GRID grid, stored with the thumbnail
WINDOW_SOURCE = 128  # window hashes are taken from the content resized to this square
HUE_BINS = 24
_HUE_BIN = np.arange(256) * HUE_BINS // 256  # the bin of each 8-bit hue
BAND_TOLERANCE = 6.0  # luminance steps from a band's colour that still count as the band (blurred pixels)
UNIFORM_SHARE = 0.97  # a plain line of a band: nearly all of it the band's colour
EDGE_SHARE = 0.4  # a line of the picture after a band: mostly not the band's colour
EDGE_LINES = 3  # the picture's first line is within this many lines of the band's last (blur)
BAND_SHARE = 0.7  # a band with its marks: mostly its colour
MIN_BORDER = 0.02  # borders thinner than this fraction are ignored
BLUR_REACH = 2  # lines the blur carries the picture into a band (the box blur's radius)

# Sub-windows (x0, y0, x1, y1 as fractions of the content) whose hashes find cropped copies:
# a copy cropped to one of them hashes like that window of the original.
# (width, height, positions per side): the smaller the window, the denser its grid, since a pHash
# tolerates a shift of only about 3 % of the window (at 5 positions of the 0.75 window, 6 % of the
# picture apart, half of the shared bench's 25 % crops were not found; at 7, 4 % apart, 0.82 were).
_SIZES = ((0.75, 0.75, 7), (0.85, 0.85, 4), (1.0, 0.8, 3), (0.8, 1.0, 3), (0.92, 0.92, 3), (1.0, 0.9, 3), (0.9, 1.0, 3))
WINDOWS: tuple[tuple[float, float, float, float], ...] = tuple(
    (float(x0), float(y0), float(x0 + w), float(y0 + h))
    for w, h, n in _SIZES
    for y0 in np.unique(np.linspace(0, 1 - h, n))
    for x0 in np.unique(np.linspace(0, 1 - w, n))
)
# windows also indexed on their own: two copies that agree on one of them share most of the picture
SHARED_WINDOWS = tuple(
    i
    for i, w in enumerate(WINDOWS)
    if w
    in ((0, 0, 0.75, 0.75), (0.25, 0.25, 1, 1), (0.125, 0.125, 0.875, 0.875), (0.25, 0, 1, 0.75), (0, 0.25, 0.75, 1))
)
# columns of ImageFingerprint.hashes
N_DIHEDRAL = len(phash.DIHEDRAL)  # 0: the picture's pHash, 1-7: its rotations and mirrors
FULL_VIEW = N_DIHEDRAL  # pHash of the whole frame, borders included
AVERAGE = N_DIHEDRAL + 1  # 8x8 average hash: each bit is one region, so a local edit flips few bits
FIRST_WINDOW = N_DIHEDRAL + 2  # pHashes of WINDOWS
INNER = FIRST_WINDOW + len(WINDOWS)  # pHash of the picture inside window chrome (inner.py); NO_INNER when none
NO_INNER = phash.FLAT  # no picture inside a screenshot's chrome (a flat one is none)


_SHARED_NAMES = ("format", "mode", "camera")  # ImageInfo fields that few values fill


@dataclass(slots=True)
class ImageFingerprint:
    hashes: np.ndarray  # uint64 columns: see N_DIHEDRAL, FULL_VIEW, AVERAGE, FIRST_WINDOW, INNER; light: the first only
    thumb: np.ndarray | None  # THUMB x THUMB uint8 luminance of the content (borders trimmed); None when light
    histogram: np.ndarray | None  # hue histogram of the content, float32, sums to 1 (0 for grayscale); None when light
    _info: ImageInfo | str  # see `info`: the JSON stored in the catalog until first read
    usable: bool | None = None  # see `comparable`
    features: Features | None = None  # keypoints of the content, for checking geometry; None when light
    colours: np.ndarray | None = None  # COLOUR_GRID x COLOUR_GRID x 3 uint8 mean colours; None when light

    @property
    def info(self) -> ImageInfo:
        """Size, format and quality signals; decoded from the catalog's JSON when first read (a
        rescan of an unchanged library reads those of the grouped pictures only)."""
        if isinstance(self._info, str):
            info = json.loads(self._info)
            for name in _SHARED_NAMES:  # one string for all the pictures that share it, not one each
                if isinstance(info.get(name), str):
                    info[name] = sys.intern(info[name])
            self._info = ImageInfo(**info)
        return self._info

    @property
    def chroma(self) -> float:
        return self.info.chroma

    @property
    def comparable(self) -> bool:
        """False for near-uniform pictures (blank, black): their hashes and shapes say nothing."""
        if self.usable is None and self.thumb is not None:
            x = self.thumb.ravel().astype(np.float32)  # std >= 2, cheaply: rescans check every picture
            self.usable = float(x.dot(x)) / len(x) - (float(x.sum()) / len(x)) ** 2 >= 4.0
        return bool(self.usable)

    def light(self) -> ImageFingerprint:
        """The picture hash, quality signals and whether it is usable: a fraction of the memory.
        The candidate search reads every hash from the catalog (a rescan that matches nothing
        reads none), comparisons load the whole fingerprint again."""
        if self.thumb is None and self.histogram is None and len(self.hashes) == 1:
            return self  # (light already: read light from the catalog)
        return ImageFingerprint(self.hashes[:1].copy(), None, None, self._info, self.comparable)

    def stored(self) -> Stored:
        """As the catalog stores it (and a worker sends it: bytes travel at a fraction of the cost)."""
        assert self.thumb is not None and self.features is not None and self.colours is not None, "light"
        assert self.histogram is not None, "light"
        return Stored(
            self.hashes.astype(np.uint64).tobytes(),
            self.thumb.astype(np.uint8).tobytes() + self.colours.astype(np.uint8).tobytes(),
            self.histogram.astype(np.float32).tobytes(),
            json.dumps({f.name: getattr(self.info, f.name) for f in fields(self.info)}),  # (asdict deep-copies)
            self.features.to_bytes(),
            self.comparable,
        )

    @classmethod
    def from_blob(
        cls,
        hashes: bytes,
        thumb: bytes | None,
        histogram: bytes | None,
        info: str,
        usable: int | None = None,
        keypoints: bytes | None = None,
    ) -> ImageFingerprint:
        """A stored fingerprint; without `thumb` and `histogram`, a light one (then `usable` must be known)."""
        pixels = None if thumb is None else np.frombuffer(thumb, dtype=np.uint8)
        return cls(
            np.frombuffer(hashes, dtype=np.uint64),
            None if pixels is None else pixels[: THUMB * THUMB].reshape(THUMB, THUMB),
            None if histogram is None else np.frombuffer(histogram, dtype=np.float32),
            info,
            None if usable is None else bool(usable),
            None if keypoints is None else Features.from_bytes(keypoints),
            None if pixels is None else pixels[THUMB * THUMB :].reshape(COLOUR_GRID, COLOUR_GRID, 3),
        )


class Stored(NamedTuple):
    """An image fingerprint as the catalog's columns hold it (see ImageFingerprint.from_blob)."""

    hashes: bytes
    thumb: bytes  # the thumbnail, then the mean colours
    histogram: bytes
    info: str
    features: bytes
    usable: bool

    @property
    def phash(self) -> int:
        """The picture's pHash as SQLite's signed integer (the catalog's index of it)."""
        return int(np.frombuffer(self.hashes, dtype=np.int64, count=1)[0])

    def light(self) -> ImageFingerprint:
        return ImageFingerprint.from_blob(self.hashes[:8], None, None, self.info, self.usable)


def _near(pixels: np.ndarray, colour: np.ndarray, tolerance: float) -> np.ndarray:
    """Of each line of uint8 pixels (grey levels, or colours on the last axis), the share within
    `tolerance` of `colour` in every channel (a red band on green has no luminance step)."""
    low = np.ceil(np.atleast_1d(colour) - tolerance).clip(0, 255)
    high = np.floor(np.atleast_1d(colour) + tolerance).clip(0, 255)
    inside = cv2.inRange(np.ascontiguousarray(pixels), low, high)  # 255 where every channel is in range
    return cv2.reduce(inside, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() / (255.0 * inside.shape[1])


def _blur(pixels: np.ndarray) -> np.ndarray:
    """A 5 x 5 box blur, as Pillow's BoxBlur(2) (one pass per axis, rounded in between), at a
    tenth of its cost: noise is not content."""
    once = cv2.blur(pixels, (5, 1), borderType=cv2.BORDER_REPLICATE)
    return cv2.blur(once, (1, 5), borderType=cv2.BORDER_REPLICATE)


def _band(lines: np.ndarray, limit: float) -> int:
    """How many leading lines (rows, outermost first) form a band added around the picture: one
    colour from line to line, maybe with marks on it (a caption's text, a logo), ending in a
    plain line at a sharp, straight edge with the picture. A sky or a gradient drifts away from
    the band's colour; a subject on a plain background has no straight edge across the picture.
    The first few lines may blend with what was peeled before (the luminance is blurred). A band
    thinner than MIN_BORDER or over `limit` of the lines is none."""
    n = len(lines)
    outer = np.ascontiguousarray(lines[: int(limit * n) + EDGE_LINES + 1])  # (once: `_near` reads it twice)
    blended = 2 * EDGE_LINES  # lines that may blend with what was peeled before
    if len(outer) <= blended + EDGE_LINES:
        return 0
    colour = phash.median(outer[blended])  # a grey level, or a colour
    share = _near(outer, colour, BAND_TOLERANCE)  # of each line, the band's colour
    share[:blended] = np.maximum(share[:blended], share[blended])
    m = len(share) - EDGE_LINES
    ends = np.flatnonzero(share[:m] >= UNIFORM_SHARE) + 1  # after a plain line...
    ends = ends[(ends >= MIN_BORDER * n) & (ends <= limit * n)]
    if not len(ends):
        return 0  # (most pictures: no plain line where a band could end)
    far = 1.0 - _near(outer, colour, 2 * BAND_TOLERANCE)  # clearly not the band's colour
    # the picture starts within a few lines (the luminance is blurred), with a step, not a drift:
    # most of a line clearly away from the band's colour (a sky's gradient only leaves it slowly)
    edge = np.max([far[e : e + EDGE_LINES] for e in ends], axis=1) > 1 - EDGE_SHARE
    mostly = np.cumsum(share[:m])[ends - 1] / ends >= BAND_SHARE  # ...of a band mostly its colour
    ends = ends[edge & mostly]
    return int(ends.max()) if len(ends) else 0


def _unblended(lines: np.ndarray, end: int) -> int:
    """How many lines past a band found on the blurred copy (`end` lines, outermost first) are
    still mostly the band's colour in the unblurred `lines`: the blur carries the picture up to
    BLUR_REACH lines into the band, so the band is found to end that much early."""
    colour = phash.median(lines[end - 1])
    share = _near(lines[end : end + BLUR_REACH], colour, BAND_TOLERANCE)
    return int(np.argmin(np.r_[share, 0.0] >= BAND_SHARE))


def _sides(region: np.ndarray) -> tuple[np.ndarray, ...]:
    """The lines of a region from each side inwards: top, bottom, left, right (the columns
    transposed by a copy: a transposed view is slow to read)."""
    columns = cv2.transpose(np.ascontiguousarray(region))
    return region, region[::-1], columns, columns[::-1]


def content_box(pixels: np.ndarray, sharp: np.ndarray | None = None) -> tuple[int, int, int, int]:
    """The box inside bands added around the picture, of any colour, with or without text on them
    (letterbox, pillarbox, screenshot canvas, meme captions, frames): (x0, y0, x1, y1). `pixels`
    are grey levels (H x W) or colours (H x W x 3), blurred (noise is not content); `sharp`, the
    same unblurred, places each band's end to the line."""
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = 0, 0, w, h
    for _ in range(2):  # bands of several colours (title bar, then canvas) peel in two passes
        region = pixels[y0:y1, x0:x1]
        if region.shape[0] < 8 or region.shape[1] < 8:
            break
        found = [_band(lines, 0.45) for lines in _sides(region)]
        if not any(found):
            break
        if sharp is not None:
            found = [n and n + _unblended(lines, n) for n, lines in zip(found, _sides(sharp[y0:y1, x0:x1]))]
        top, bottom, left, right = found
        x0, y0, x1, y1 = x0 + left, y0 + top, x1 - right, y1 - bottom
    if (x1 - x0) < 0.3 * w or (y1 - y0) < 0.3 * h:
        return 0, 0, w, h  # mostly uniform: not a border but the picture itself
    return x0, y0, x1, y1


def hue_histogram(hsv: np.ndarray) -> np.ndarray:
    """Histogram of hues weighted by saturation: what colours, not how bright (sums to 1, or 0 for
    gray). `hsv`: uint8 rows of hue, saturation, value."""
    weight = np.where(hsv[:, 2] > 24, hsv[:, 1], 0)  # (whole numbers: their sums are exact in any order)
    hist = np.bincount(_HUE_BIN[hsv[:, 0]], weights=weight, minlength=HUE_BINS)
    around = np.concatenate([hist[-1:], hist, hist[:1]])  # hue is circular: soften bin edges
    hist = 0.5 * hist + 0.25 * (around[:-2] + around[2:])
    total = hist.sum()
    return (hist / total if total > 0 else hist).astype(np.float32)


def is_monochrome(hue: np.ndarray, chroma: float) -> bool:
    """Gray, sepia or duotone: little colour, or (almost) all of it within one narrow band of hues."""
    if chroma < 4.0 or hue.sum() <= 0:
        return True
    around = np.concatenate([hue[-2:], hue, hue[:2]])  # hue is circular
    band = hue + around[1:-3] + around[3:-1] + around[:-4] + around[4:]  # (as np.roll by 1, -1, 2, -2)
    return float(band.max()) >= 0.85 * float(hue.sum())


def shot_signals(x: np.ndarray) -> tuple[float, float]:
    """Sharpness (the spread of the Laplacian: blur and camera shake lower it) and the fraction of
    clipped pixels (pure black or white) of a grayscale (uint8) working copy."""
    if min(x.shape) < 3:
        return 0.0, 0.0
    lap = cv2.Laplacian(x, cv2.CV_32F, ksize=1)[1:-1, 1:-1]  # (exact: whole numbers in float32)
    clipped = (x.size - cv2.countNonZero(cv2.inRange(x, 3, 252))) / x.size
    return round(float(lap.std()), 3), round(clipped, 4)


def fingerprint(d: Decoded) -> ImageFingerprint:
    """Hashes, thumbnail, colours and quality signals of a decoded image."""
    gray = d.image.convert("L")
    pixels = np.asarray(d.image)
    x0, y0, x1, y1 = content_box(_blur(pixels), sharp=pixels)
    cw, ch = x1 - x0, y1 - y0
    box = (x0, y0, x1, y1)
    luma32 = np.asarray(gray.resize((phash.SAMPLE, phash.SAMPLE), Image.Resampling.LANCZOS, box=box))
    hashes = phash.dihedral_hashes(luma32)
    hashes.append(hashes[0] if box == (0, 0, *gray.size) else phash.phash(gray))  # the whole frame
    content = gray.resize((WINDOW_SOURCE, WINDOW_SOURCE), Image.Resampling.LANCZOS, box=box)  # windows come from it
    thumbnail = content.resize((THUMB, THUMB), Image.Resampling.LANCZOS)
    thumb = np.asarray(thumbnail)
    hashes.append(phash.average_hash(thumbnail))
    square = np.asarray(content)
    hashes.extend(phash.window_hashes(square, WINDOWS))
    content_gray = np.ascontiguousarray(np.asarray(gray)[y0:y1, x0:x1])
    inner = inner_box(content_gray)
    hashes.append(NO_INNER if inner is None else phash.window_hashes(square, (inner,))[0])
    small = d.image.resize((THUMB, THUMB), Image.Resampling.BILINEAR, box=box)
    colours = np.asarray(small.resize((COLOUR_GRID, COLOUR_GRID), Image.Resampling.BOX))
    rgb = np.asarray(small).reshape(-1, 3)
    r, g, b = rgb.T  # (channel by channel: much faster than reducing along the short axis)
    chroma = float((np.maximum(np.maximum(r, g), b).astype(np.int16) - np.minimum(np.minimum(r, g), b)).mean())
    histogram = hue_histogram(np.asarray(small.convert("HSV")).reshape(-1, 3))
    sx, sy = d.width / d.image.width, d.height / d.image.height
    info = ImageInfo(
        width=d.width,
        height=d.height,
        format=d.format,
        mode=d.mode,
        content_width=round(cw * sx),
        content_height=round(ch * sy),
        jpeg_quality=d.jpeg_quality,
        exif_date=d.exif_date,
        camera=d.camera,
        captured=d.captured,
        bit_depth=d.bit_depth,
        chroma=round(chroma, 2),
        monochrome=is_monochrome(histogram, chroma),
    )
    info.inner = None if inner is None else tuple(round(v, 4) for v in inner)
    info.sharpness, info.clipped = shot_signals(content_gray)
    keypoints = features(content_gray)
    return ImageFingerprint(np.array(hashes, dtype=np.uint64), thumb, histogram, info, None, keypoints, colours)


def fingerprint_file(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageFingerprint:
    """Decode and fingerprint one image file (raises DecodeError with the reason)."""
    return fingerprint(decode(path, max_pixels))
