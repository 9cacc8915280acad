"""How a scan's memory is kept: many objects made to last, and freed memory given back.

- `lasting_objects()`: a scan makes a record for every file and a fingerprint for every picture,
  hundreds of thousands of objects that live to its end and form no cycles. Python's cyclic
  garbage collector would walk all of them again and again while they are made (a quarter of a
  rescan's time on 200,000 files), so it is paused meanwhile; and once made they are frozen
  (`gc.freeze`), so that its later collections (each full one walked them all again: a tenth of
  a rescan's time, freeing nothing) skip them. `thawed()` around a scan gives them back to the
  collector when it ends.
- `release()`: glibc's malloc keeps a process's freed small blocks for its own reuse, so a scan
  that lets go of many at once (the catalog's rows once the hashes are gathered, the transients
  of the candidate search) would hold their pages to its end; `release` hands the free pages back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache


@contextmanager
def lasting_objects() -> Iterator[None]:
    """Around code that makes many lasting, acyclic objects: no cyclic collection meanwhile, and
    none walks them afterwards (frozen with every older object, until `thawed` ends)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


@contextmanager
def thawed() -> Iterator[None]:
    """Around a scan: what `lasting_objects` froze is the collector's again when it ends."""
    try:
        yield
    finally:
        gc.unfreeze()


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
