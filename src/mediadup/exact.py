"""Byte-identical files: narrow by size, then head+tail hash, then a full-content hash.

Only files whose size occurs at least twice are ever read, and only survivors of the cheap
head/tail filter are read in full (the shape of fclones' filter chain).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import xxhash

from .records import FileStat, Skipped

EDGE = 64 * 1024
BLOCK = 1024 * 1024


def partial_hash(path: str, size: int) -> str:
    """Hash of the first and last 64 KiB (the whole file when it is small)."""
    h = xxhash.xxh3_64()
    with open(path, "rb") as f:
        h.update(f.read(EDGE))
        if size > 2 * EDGE:
            f.seek(-EDGE, os.SEEK_END)
            h.update(f.read(EDGE))
        elif size > EDGE:
            h.update(f.read())
    return h.hexdigest()


def full_hash(path: str) -> str:
    """xxh3-128 of the whole content."""
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
    return h.hexdigest()


def _narrow(
    groups: Iterable[list[FileStat]],
    fn: Callable[[FileStat], str],
    skipped: list[Skipped],
    pool: ThreadPoolExecutor,
    on_done: Callable[[int], None],
) -> tuple[list[list[FileStat]], dict[str, str]]:
    """Split each group by fn(file); keep only sub-groups with two or more files."""
    groups = list(groups)
    files = [f for g in groups for f in g]

    def safe(f: FileStat) -> str | None:
        try:
            return fn(f)
        except OSError as e:
            skipped.append(Skipped(f.path, f"cannot read: {e.strerror or e}"))
            return None
        finally:
            on_done(1)

    values = dict(zip((f.path for f in files), pool.map(safe, files)))
    out = []
    for g in groups:
        by_value: dict[str, list[FileStat]] = defaultdict(list)
        for f in g:
            if values[f.path] is not None:
                by_value[values[f.path]].append(f)
        out.extend(sub for sub in by_value.values() if len(sub) > 1)
    return out, {p: v for p, v in values.items() if v is not None}


def content_hashes(
    files: Iterable[FileStat],
    cached: dict[str, str],
    skipped: list[Skipped],
    jobs: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, str]:
    """Full-content hashes of every file that has a byte-identical twin candidate.

    `cached` maps paths of unchanged files to known hashes; they are not read again.
    `progress(done, total)` is told how many files were read so far.
    """
    by_size: dict[int, list[FileStat]] = defaultdict(list)
    for f in files:
        if f.size > 0:
            by_size[f.size].append(f)
    candidates = [g for g in by_size.values() if len(g) > 1]
    result = {f.path: cached[f.path] for g in candidates for f in g if f.path in cached}
    todo = [[f for f in g if f.path not in result] for g in candidates]
    # a file with a cached hash still needs a fresh partner to compare with; only fresh files are read
    todo = [g for g in todo if g]
    total = sum(len(g) for g in todo)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        # files sharing a size with cached files must be fully hashed to be compared with them
        known_sizes = {f.size for g in candidates for f in g if f.path in result}
        direct = [f for g in todo for f in g if f.size in known_sizes]
        narrow_first = [[f for f in g if f.size not in known_sizes] for g in todo]
        narrow_first = [g for g in narrow_first if len(g) > 1]
        total = len(direct) + sum(len(g) for g in narrow_first) * 2
        survivors, _ = _narrow(narrow_first, lambda f: partial_hash(f.path, f.size), skipped, pool, tick)
        tick(sum(len(g) for g in narrow_first) - sum(len(g) for g in survivors))
        _, hashes = _narrow([[f] for f in direct] + survivors, lambda f: full_hash(f.path), skipped, pool, tick)
    result.update(hashes)
    return result
