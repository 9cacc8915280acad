"""Perceptual hashes: the 64-bit pHash, its 8 rotations/mirrors, and hashes of sub-windows.

The pHash follows imagehash's definition: the 32x32 luminance image, its 2-D DCT-II, the 8x8
lowest frequencies, one bit per coefficient above their median, packed row-major, most
significant bit first. Rotating or mirroring an image only transposes the DCT block and flips
the signs of odd frequencies, so the 8 dihedral variants come from one DCT for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

HASH_SIZE = 8
SAMPLE = 32
_n = np.arange(SAMPLE)
_k = np.arange(HASH_SIZE)
FLAT = 0  # the hash of a view with next to no content (no other is 0: half of a hash's bits are set)
FLAT_SPREAD = 1.0  # gray levels: a view whose low frequencies vary less than this shows nothing to match
_DCT = np.cos(np.pi * _k[:, None] * (2 * _n[None, :] + 1) / (2 * SAMPLE))  # 8 x 32, DCT-II rows
_ODD = np.where(_k % 2 == 1, -1.0, 1.0)
# a row of _DCT has a squared length of SAMPLE / 2 (SAMPLE for the first): a 32x32 view's 8x8
# block holds about (SAMPLE / 2)**2 * SAMPLE**2 times its low frequencies' variance
_FLAT_ENERGY = (SAMPLE // 2) ** 2 * SAMPLE**2 * FLAT_SPREAD**2
_POWERS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


@dataclass(frozen=True)
class Dihedral:
    """One of the 8 rotations/mirrors of a picture: transpose first, then flips."""

    transpose: bool
    flip_x: bool
    flip_y: bool

    @property
    def is_mirror(self) -> bool:
        return (self.transpose + self.flip_x + self.flip_y) % 2 == 1

    @property
    def name(self) -> str:
        return {
            (False, False, False): "identity",
            (False, True, True): "rotate-180",
            (True, True, False): "rotate-90cw",
            (True, False, True): "rotate-90ccw",
            (False, True, False): "mirror-horizontal",
            (False, False, True): "mirror-vertical",
            (True, False, False): "transpose",
            (True, True, True): "transverse",
        }[(self.transpose, self.flip_x, self.flip_y)]

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """The same transformation applied to a 2-D pixel array."""
        out = pixels.T if self.transpose else pixels
        if self.flip_x:
            out = out[:, ::-1]
        if self.flip_y:
            out = out[::-1, :]
        return out

    def apply_points(self, points: np.ndarray) -> np.ndarray:
        """Where points (x, y as fractions of the width and height) are after the transformation."""
        x, y = (points[:, 1], points[:, 0]) if self.transpose else (points[:, 0], points[:, 1])
        return np.column_stack([1 - x if self.flip_x else x, 1 - y if self.flip_y else y])

    def apply_dct(self, block: np.ndarray) -> np.ndarray:
        out = block.T if self.transpose else block
        if self.flip_x:
            out = out * _ODD[None, :]
        if self.flip_y:
            out = out * _ODD[:, None]
        return out


DIHEDRAL = tuple(Dihedral(t, x, y) for t in (False, True) for x in (False, True) for y in (False, True))
_CORNERS = np.arange(4).reshape(2, 2)
UNDO = tuple(  # UNDO[k]: the turn that takes DIHEDRAL[k]'s result back
    next(j for j, u in enumerate(DIHEDRAL) if np.array_equal(u.apply(d.apply(_CORNERS)), _CORNERS)) for d in DIHEDRAL
)


def pack_bits(bits: np.ndarray) -> int:
    """64 booleans, row-major, to an unsigned 64-bit integer (first bit most significant)."""
    return int(np.dot(bits.ravel().astype(np.uint64), _POWERS))


def dct_block(luma32: np.ndarray) -> np.ndarray:
    """The 8x8 lowest-frequency DCT-II coefficients of a 32x32 luminance array."""
    return _DCT @ luma32.astype(np.float64) @ _DCT.T


def median(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """`np.median` along `axis` (the same values, as float64), without its wrapper's cost (several
    times the work on the short lines and blocks hashing and band search take medians of)."""
    n = values.shape[axis]
    middle = np.partition(values, ((n - 1) // 2, n // 2), axis=axis)
    low, high = np.take(middle, (n - 1) // 2, axis=axis), np.take(middle, n // 2, axis=axis)
    return (low.astype(np.float64) + high) / 2


def hash_block(block: np.ndarray) -> int:
    return pack_bits(block > median(block.ravel()))


def hash_blocks(blocks: np.ndarray) -> list[int]:
    """hash_block of each of (n, 8, 8) blocks, all at once."""
    flat = blocks.reshape(len(blocks), -1)
    bits = flat > median(flat, axis=1)[:, None]
    return np.packbits(bits, axis=1).view(">u8").ravel().tolist()  # (8 bytes a row, first bit highest)


def phash(image: Image.Image, box: tuple[float, float, float, float] | None = None) -> int:
    """The 64-bit pHash of an image (or of a box of it, in pixel coordinates)."""
    luma = image.convert("L").resize((SAMPLE, SAMPLE), Image.Resampling.LANCZOS, box=box)
    return hash_block(dct_block(np.asarray(luma)))


def average_hash(luma: Image.Image) -> int:
    """64-bit average hash of a luminance image: 8x8 cell means above their mean."""
    cells = np.asarray(luma.resize((HASH_SIZE, HASH_SIZE), Image.Resampling.BOX), dtype=np.float32)
    return pack_bits(cells > cells.mean())


def area_weights(start: float, stop: float, size: int, cells: int = SAMPLE) -> np.ndarray:
    """(cells x size) weights averaging [start, stop) of `size` pixels into `cells` equal cells."""
    edges = np.linspace(start, stop, cells + 1)
    pixels = np.arange(size)
    overlap = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
    w = np.clip(overlap, 0, None)
    return w / w.sum(axis=1, keepdims=True)


@lru_cache(maxsize=8)
def _window_transforms(windows: tuple[tuple[float, float, float, float], ...], size: int) -> tuple[np.ndarray, ...]:
    """The matrices taking a size x size array straight to each window's 8x8 DCT block: one per
    distinct row span (windows share them: each is applied once), which span each window has,
    and one per window for its columns."""
    spans, span = row_spans(windows)
    rows = np.concatenate([_DCT @ area_weights(y0 * size, y1 * size, size) for y0, y1 in spans])  # one product
    cols = np.stack([_DCT @ area_weights(x0 * size, x1 * size, size) for x0, _, x1, _ in windows])
    return rows, span, cols.transpose(0, 2, 1)


def row_spans(boxes: tuple[tuple[float, float, float, float], ...]) -> tuple[list[tuple[float, float]], np.ndarray]:
    """The distinct spans of rows (y0, y1) of boxes (x0, y0, x1, y1), and which one each box has:
    boxes that share a span are resampled along it once."""
    spans = sorted({(y0, y1) for _, y0, _, y1 in boxes})
    return spans, np.array([spans.index((y0, y1)) for _, y0, _, y1 in boxes])


def window_hashes(luma: np.ndarray, windows: tuple[tuple[float, float, float, float], ...]) -> list[int]:
    """pHashes of boxes of a square luminance array (as fractions), all at once: each box is
    area-resampled to 32x32 and DCT-transformed by precomputed matrix products. A box with next
    to no content hashes to FLAT."""
    rows, span, cols = _window_transforms(windows, luma.shape[0])
    blocks = (rows @ luma.astype(np.float64)).reshape(-1, HASH_SIZE, luma.shape[1])[span] @ cols
    plain = (blocks**2).sum(axis=(1, 2)) - blocks[:, 0, 0] ** 2 < _FLAT_ENERGY  # the low frequencies but DC
    return [FLAT if p else h for h, p in zip(hash_blocks(blocks), plain.tolist())]


def dihedral_hashes(luma32: np.ndarray) -> list[int]:
    """pHashes of the 8 rotations/mirrors of a picture, in DIHEDRAL order (identity first)."""
    block = dct_block(luma32)
    return hash_blocks(np.stack([d.apply_dct(block) for d in DIHEDRAL]))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()
