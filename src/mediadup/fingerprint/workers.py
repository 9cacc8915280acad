"""Worker processes for the CPU-bound stages (fingerprinting, verification)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.pool import Pool
from typing import Any

from threadpoolctl import threadpool_limits

from ..find.exact import full_hash_or_none
from ..records import Kind
from .cluster import Cluster
from .decode import DEFAULT_MAX_PIXELS, DecodeError, register_plugins
from .image import Stored, fingerprint_file
from .video import VideoFingerprint, fingerprint_video

Result = tuple[str, Stored | VideoFingerprint | None, str | None, bool, str | None]


def fingerprint_one(task: tuple[str, int, Kind]) -> Result:
    """(path, fingerprint, None, _, content hash), or (path, None, reason, lasting, _) when the
    file cannot be used; a picture's fingerprint as the catalog stores it. An image's content
    hash comes along (its bytes are read to decode it anyway): a copy of it elsewhere is then
    known without decoding. Videos are not read whole."""
    path, max_pixels, kind = task
    digest = full_hash_or_none(path) if kind is Kind.IMAGE else None
    try:
        if kind is Kind.VIDEO:
            return path, fingerprint_video(path, max_pixels), None, True, digest
        return path, fingerprint_file(path, max_pixels).stored(), None, True, digest
    except DecodeError as e:
        return path, None, str(e), e.lasting, digest
    except Exception as e:  # a decoder bug must cost one file, never the scan
        return path, None, f"cannot decode ({type(e).__name__}: {e})", False, digest


def _quiet_worker() -> None:
    """Workers leave Ctrl-C to the main process, which stops them. Their errors come back as
    results; what they would print is only the pool's own noise (a broken pipe once the main
    process was killed), so it goes nowhere unless MEDIADUP_DEBUG is set. Each worker is one
    thread: the workers fill the cores, and a BLAS library that also spreads its small products
    over every core keeps them spinning against one another (verification ran 2.6 times slower)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threadpool_limits(1)
    if not os.environ.get("MEDIADUP_DEBUG"):
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the worker's whole life
    register_plugins()


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Workers:
    """A lazily started process pool; with one job everything runs in this process. With a Dask
    `cluster`, fingerprinting runs there instead."""

    def __init__(self, jobs: int, cluster: Cluster | None = None):
        self.jobs = max(1, jobs)
        self.cluster = cluster
        self._pool: Pool | None = None

    def _get(self) -> Pool:
        if self._pool is None:
            # forkserver: workers never inherit the progress bar's thread or the catalog's connection
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            ctx = multiprocessing.get_context(method)
            if method == "forkserver":
                ctx.set_forkserver_preload(
                    [
                        "mediadup.fingerprint.image",
                        "mediadup.match.compare",
                        "mediadup.match.pattern",
                        "mediadup.fingerprint.video",
                    ]
                )
            self._pool = ctx.Pool(self.jobs, initializer=_quiet_worker)
        return self._pool

    def imap_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any], chunksize: int = 4) -> Iterator[Any]:
        items = list(items)
        if self.jobs == 1 or len(items) < 2:
            register_plugins()
            return map(fn, items)
        return self._get().imap_unordered(fn, items, chunksize=chunksize)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], chunksize: int = 8) -> list[Any]:
        items = list(items)
        if self.jobs == 1 or len(items) < 2 * chunksize:
            return list(map(fn, items))
        return self._get().map(fn, items, chunksize=chunksize)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def fingerprint_many(
    paths: Iterable[str], workers: Workers, max_pixels: int = DEFAULT_MAX_PIXELS, kind: Kind = Kind.IMAGE
) -> Iterator[Result]:
    """Fingerprints in completion order."""
    tasks = [(p, max_pixels, kind) for p in paths]
    if workers.cluster is not None:
        return workers.cluster.map_unordered(fingerprint_one, tasks)
    chunk = max(1, min(16, len(tasks) // (workers.jobs * 8)))
    return workers.imap_unordered(fingerprint_one, tasks, chunksize=chunk)
