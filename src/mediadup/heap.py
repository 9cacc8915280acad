"""Freed memory given back to the system.

glibc's malloc keeps a process's freed small blocks for its own reuse, so a scan that lets go of
many at once (the catalog's rows once the hashes are gathered, the transients of the candidate
search) would hold their pages to its end. `release` hands the free pages back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: its allocator returns memory its own way
        return None


def release() -> None:
    """Return the heap's free pages to the system (glibc's malloc_trim; elsewhere nothing)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
