"""Where numba keeps the compiled kernels (the candidate search, the crop search's refinement),
and whether a kernel is compiled yet: the first use compiles it, some seconds, once."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numba
from platformdirs import user_cache_dir


def _compile_cache() -> str | None:
    """A folder this user can write for numba's compiled code (the package's may be read-only)."""
    user = str(os.getuid()) if hasattr(os, "getuid") else ""
    for folder in (
        numba.config.CACHE_DIR,
        os.path.join(user_cache_dir("mediadup", appauthor=False), "numba"),
        os.path.join(tempfile.gettempdir(), f"mediadup-numba-{user}"),
    ):
        try:
            os.makedirs(folder, exist_ok=True)
            if os.access(folder, os.W_OK):
                return folder
        except (OSError, TypeError):
            continue
    return None


numba.config.CACHE_DIR = _compile_cache() or ""
CACHE = bool(numba.config.CACHE_DIR)  # without a writable folder, compile in every process


def cached(kernel: Any, name: str) -> bool:
    """Whether `kernel` (a numba function, `name` as numba files it: module.function) is in the cache."""
    try:
        folder = kernel._cache.cache_path
        return any(file.startswith(f"{name}-") and file.endswith(".nbi") for file in os.listdir(folder))
    except (AttributeError, OSError):
        return False
