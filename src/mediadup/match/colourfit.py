"""Whether one picture's colours are another's after one affine colour mapping, but in a few
places: a least-squares fit of each pair's mapping and the places it leaves far off, compiled
(the first look asks it of millions of pairs of look-alikes; NumPy's batched small solves cost
several times more)."""

from __future__ import annotations

import numba
import numpy as np

from ..kernels import CACHE, cached


def compiled() -> bool:
    """Whether the fit is already compiled in the cache."""
    return cached(_mapped, "colourfit._mapped")


def mapped(a: np.ndarray, b: np.ndarray, misfit: float, outliers: float) -> np.ndarray:
    """For colours (n, places, 3): whether b[k]'s are a[k]'s after one affine mapping (the least
    squares one), but in at most `outliers` of the places farther than `misfit` (the root mean
    square over the channels) from it."""
    a, b = (np.ascontiguousarray(x, dtype=np.float32) for x in (a, b))  # (one compiled layout)
    return _mapped(a, b, float(misfit), float(outliers))


@numba.njit(cache=CACHE, nogil=True)
def _mapped(a, b, misfit, outliers):
    n, places = a.shape[0], a.shape[1]
    agree = np.zeros(n, dtype=np.bool_)
    normal = np.empty((4, 4))
    rhs = np.empty((4, 3))
    for k in range(n):
        s00 = s01 = s02 = s11 = s12 = s22 = s0 = s1 = s2 = 0.0  # the normal equations of y = [a, 1] @ beta,
        t00 = t01 = t02 = t10 = t11 = t12 = t20 = t21 = t22 = u0 = u1 = u2 = 0.0  # summed in registers
        for p in range(places):
            x0, x1, x2 = np.float64(a[k, p, 0]), np.float64(a[k, p, 1]), np.float64(a[k, p, 2])
            y0, y1, y2 = np.float64(b[k, p, 0]), np.float64(b[k, p, 1]), np.float64(b[k, p, 2])
            s00 += x0 * x0
            s01 += x0 * x1
            s02 += x0 * x2
            s11 += x1 * x1
            s12 += x1 * x2
            s22 += x2 * x2
            s0 += x0
            s1 += x1
            s2 += x2
            t00 += x0 * y0
            t01 += x0 * y1
            t02 += x0 * y2
            t10 += x1 * y0
            t11 += x1 * y1
            t12 += x1 * y2
            t20 += x2 * y0
            t21 += x2 * y1
            t22 += x2 * y2
            u0 += y0
            u1 += y1
            u2 += y2
        normal[0, 0], normal[0, 1], normal[0, 2], normal[0, 3] = s00, s01, s02, s0
        normal[1, 0], normal[1, 1], normal[1, 2], normal[1, 3] = s01, s11, s12, s1
        normal[2, 0], normal[2, 1], normal[2, 2], normal[2, 3] = s02, s12, s22, s2
        normal[3, 0], normal[3, 1], normal[3, 2], normal[3, 3] = s0, s1, s2, places
        rhs[0, 0], rhs[0, 1], rhs[0, 2] = t00, t01, t02
        rhs[1, 0], rhs[1, 1], rhs[1, 2] = t10, t11, t12
        rhs[2, 0], rhs[2, 1], rhs[2, 2] = t20, t21, t22
        rhs[3, 0], rhs[3, 1], rhs[3, 2] = u0, u1, u2
        ridge = 1e-9 * (normal[0, 0] + normal[1, 1] + normal[2, 2] + normal[3, 3])  # solvable for a plain field
        for i in range(4):
            normal[i, i] += ridge
        for col in range(4):  # Gaussian elimination with partial pivoting; rhs becomes beta
            pivot = col
            for i in range(col + 1, 4):
                if abs(normal[i, col]) > abs(normal[pivot, col]):
                    pivot = i
            if pivot != col:
                for j in range(4):
                    normal[col, j], normal[pivot, j] = normal[pivot, j], normal[col, j]
                for c in range(3):
                    rhs[col, c], rhs[pivot, c] = rhs[pivot, c], rhs[col, c]
            for i in range(col + 1, 4):
                f = normal[i, col] / normal[col, col]
                for j in range(col, 4):
                    normal[i, j] -= f * normal[col, j]
                for c in range(3):
                    rhs[i, c] -= f * rhs[col, c]
        for i in range(3, -1, -1):
            for c in range(3):
                s = rhs[i, c]
                for j in range(i + 1, 4):
                    s -= normal[i, j] * rhs[j, c]
                rhs[i, c] = s / normal[i, i]
        far = 0
        for p in range(places):
            square = 0.0
            for c in range(3):
                r = a[k, p, 0] * rhs[0, c] + a[k, p, 1] * rhs[1, c] + a[k, p, 2] * rhs[2, c] + rhs[3, c] - b[k, p, c]
                square += r * r
            if np.sqrt(square / 3) > misfit:
                far += 1
                if far / places > outliers:
                    break
        agree[k] = far / places <= outliers
    return agree
