"""Whether a lossless picture (PNG, TIFF, ...) was a JPEG once, and at which quality.

A JPEG stores each 8x8 block's DCT coefficients as multiples of the steps of a quantisation
table. Decoding and saving the pixels losslessly keeps that trace: the coefficients of the
picture's blocks, on JPEG's grid, still sit next to multiples of the steps (off by the rounding
of the pixels only). The trace is measured against the standard tables of every quality (what
cameras, phones and libjpeg write): the phases of the coefficients on each table's steps agree
far beyond chance only for the table the picture went through. Drawn graphics, gradients and
pictures that never were a JPEG have no such table; a file resized or cropped off the grid after
the JPEG has lost the trace (it is then a lesser copy anyway).
"""

from __future__ import annotations

import numpy as np

BLOCK = 8
BLOCKS = 1024  # blocks sampled (at random, the same for every run) from the picture
MIN_STEP = 3  # steps smaller than this are lost in the rounding of the pixels
MIN_VALUES = 100  # coefficients that must reach beyond a step for the measure to mean anything
MIN_AGREEMENT = 0.3  # mean cosine of the coefficients' phases on the steps...
MIN_SIGNIFICANCE = 12.0  # ...and how many standard deviations of chance that is (chance: 0 +- 1/sqrt(2n))
# the IJG standard luminance table at quality 50, in natural order; other qualities scale it
STANDARD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.float64)  # fmt: skip
QUALITIES = np.arange(10, 98)  # above 97 every step is too small to leave a trace
_STEPS = np.stack([np.maximum(np.floor((STANDARD_LUMA * (5000 / q if q < 50 else 200 - 2 * q) + 50) / 100), 1)
                   for q in QUALITIES])  # fmt: skip
_n = np.arange(BLOCK)
_DCT = np.sqrt(2 / BLOCK) * np.cos(np.pi * _n[:, None] * (2 * _n[None, :] + 1) / (2 * BLOCK))
_DCT[0] /= np.sqrt(2)  # orthonormal: JPEG's own scaling
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # JPEG's Y from RGB


def _coefficients(pixels: np.ndarray) -> np.ndarray:
    """The 64 DCT coefficients of the luminance of up to BLOCKS blocks on JPEG's grid: (blocks, 64)."""
    h, w = pixels.shape[:2]
    rows, cols = h // BLOCK, w // BLOCK
    pick = np.random.default_rng(0).choice(rows * cols, size=min(BLOCKS, rows * cols), replace=False)
    ys = (pick // cols * BLOCK)[:, None, None] + _n[None, :, None]
    xs = (pick % cols * BLOCK)[:, None, None] + _n[None, None, :]
    blocks = pixels[ys, xs].astype(np.float32)
    luma = (blocks @ _LUMA if blocks.ndim == 4 else blocks) - 128
    return (_DCT @ luma @ _DCT.T).reshape(len(luma), BLOCK * BLOCK)


def traced_quality(pixels: np.ndarray) -> int | None:
    """The quality of the JPEG that a lossless picture's 8-bit pixels (H x W or H x W x 3) were
    decoded from, or None when they carry no JPEG's trace."""
    if pixels.shape[0] < 8 * BLOCK or pixels.shape[1] < 8 * BLOCK:
        return None
    coefficients = _coefficients(pixels)
    agree, counted = np.zeros(len(QUALITIES)), np.zeros(len(QUALITIES))
    for k in range(1, BLOCK * BLOCK):  # the AC coefficients, each position with its own steps
        values = np.unique(np.round(coefficients[:, k], 1))  # repeated blocks (flat, patterns) once
        steps = _STEPS[:, k, None]
        used = (np.abs(values)[None, :] > 0.6 * steps) & (steps >= MIN_STEP)  # off zero: on a multiple
        agree += (np.cos(2 * np.pi * values[None, :] / steps) * used).sum(axis=1)
        counted += used.sum(axis=1)
    mean = np.where(counted >= MIN_VALUES, agree / np.maximum(counted, 1), -1.0)
    best = int(np.argmax(mean))
    significance = mean[best] * np.sqrt(2 * counted[best])
    return int(QUALITIES[best]) if mean[best] >= MIN_AGREEMENT and significance >= MIN_SIGNIFICANCE else None
