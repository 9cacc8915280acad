"""Local features of a picture's content: ORB keypoints (OpenCV), for checking geometry.

Hashes and thumbnails see a picture as a whole; keypoints see its parts. Matched between two
pictures and fitted with RANSAC they say how one lies over the other (turned by any angle,
scaled, cropped, in perspective) and whether one wholly contains the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_KEYPOINTS = 160  # the strongest, spread over the picture: ~5.8 KB stored per picture
DESCRIPTOR = 32  # bytes of an ORB descriptor
_SCALE = 65535.0  # positions are stored as fractions of the content's width and height, in uint16

cv2.setNumThreads(1)  # workers are processes already


@dataclass(frozen=True)
class Features:
    """Keypoints of a picture's content: positions as fractions of its width and height (x, y),
    and their binary descriptors. `aspect` is the content's width / height."""

    points: np.ndarray  # (n, 2) float32 in [0, 1]
    descriptors: np.ndarray  # (n, DESCRIPTOR) uint8
    aspect: float

    def __len__(self) -> int:
        return len(self.points)

    def to_bytes(self) -> bytes:
        head = np.array([self.aspect], dtype=np.float32).tobytes()
        points = np.round(self.points * _SCALE).astype(np.uint16).tobytes()
        return head + points + self.descriptors.astype(np.uint8).tobytes()

    @staticmethod
    def stored_count(size: int | None) -> int:
        """How many keypoints a stored blob of `size` bytes holds (none: 0)."""
        return 0 if not size else (size - 4) // (4 + DESCRIPTOR)

    @classmethod
    def from_bytes(cls, blob: bytes) -> Features:
        aspect = float(np.frombuffer(blob[:4], dtype=np.float32)[0])
        n = cls.stored_count(len(blob))
        points = np.frombuffer(blob[4 : 4 + 4 * n], dtype=np.uint16).reshape(n, 2).astype(np.float32) / _SCALE
        descriptors = np.frombuffer(blob[4 + 4 * n :], dtype=np.uint8).reshape(n, DESCRIPTOR)
        return cls(points, descriptors, aspect)


def features(gray: np.ndarray) -> Features:
    """ORB keypoints of a uint8 grayscale picture (the content of the working copy)."""
    h, w = gray.shape
    orb = cv2.ORB_create(nfeatures=3 * MAX_KEYPOINTS, scaleFactor=1.3, nlevels=5, edgeThreshold=15, patchSize=15)
    found, desc = orb.detectAndCompute(np.ascontiguousarray(gray), None)
    if desc is None or not found:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR), np.uint8), w / max(h, 1))
    places = cv2.KeyPoint_convert(found)
    keep = _spread([k.response for k in found], places, w, h)
    points = places[keep] / np.array([w, h], dtype=np.float32)
    return Features(points.clip(0, 1), desc[keep], w / max(h, 1))


def _spread(responses: list[float], points: np.ndarray, w: int, h: int) -> np.ndarray:
    """The MAX_KEYPOINTS strongest keypoints, taken in turns from the cells of a 4 x 4 grid, so a
    busy corner does not take them all: each turn the next strongest of every cell, the cells in
    the order their strongest comes."""
    strongest = np.argsort(-np.asarray(responses, dtype=np.float64), kind="stable")
    x, y = points[strongest].astype(np.float64).T
    cell = np.minimum(3, (4 * x / w).astype(np.int64)) * 4 + np.minimum(3, (4 * y / h).astype(np.int64))
    _, first, inverse, counts = np.unique(cell, return_index=True, return_inverse=True, return_counts=True)
    by_cell = np.argsort(inverse, kind="stable")  # each cell's keypoints, strongest first
    rank = np.empty(len(cell), dtype=np.int64)
    rank[by_cell] = np.arange(len(cell)) - np.repeat(np.cumsum(counts) - counts, counts)
    turn_order = np.lexsort((np.argsort(np.argsort(first))[inverse], rank))
    return strongest[turn_order[:MAX_KEYPOINTS]]
