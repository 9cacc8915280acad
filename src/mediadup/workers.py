"""Fingerprint files in parallel worker processes."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator

from .decode import DEFAULT_MAX_PIXELS, DecodeError, register_plugins
from .fingerprint import ImageFingerprint, fingerprint_file

Result = tuple[str, ImageFingerprint | None, str | None]


def fingerprint_one(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Result:
    """(path, fingerprint, None), or (path, None, reason) when the file cannot be used."""
    try:
        return path, fingerprint_file(path, max_pixels), None
    except DecodeError as e:
        return path, None, str(e)
    except Exception as e:  # a decoder bug must cost one file, never the scan
        return path, None, f"cannot decode ({type(e).__name__}: {e})"


def _work(args: tuple[str, int]) -> Result:
    return fingerprint_one(*args)


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def fingerprint_many(paths: Iterable[str], jobs: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Iterator[Result]:
    """Fingerprints in completion order; one process per job, in-process when jobs == 1."""
    tasks = [(p, max_pixels) for p in paths]
    if jobs <= 1 or len(tasks) < 2:
        register_plugins()
        yield from map(_work, tasks)
        return
    # forkserver: workers never inherit the progress bar's thread or the catalog's connection
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["mediadup.fingerprint"])
    with ctx.Pool(min(jobs, len(tasks)), initializer=register_plugins) as pool:
        yield from pool.imap_unordered(_work, tasks, chunksize=max(1, min(16, len(tasks) // (jobs * 8))))
