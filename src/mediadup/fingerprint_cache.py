"""The fingerprint cache: each file's fingerprint from the catalog when the file is unchanged,
from a byte-identical file the catalog knows under another name, or else decoded once per
distinct content by the workers and stored in batches (an interrupted scan keeps its work)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

from .find.exact import full_hash_or_none
from .fingerprint.decode import too_large
from .fingerprint.workers import Workers, fingerprint_many
from .heap import lasting_objects
from .match.verify import Fingerprint
from .progress import Reporter
from .records import FileStat, Kind, ScanSummary, Skipped
from .store.catalog import Catalog
from .store.files import Cached

STORE_EVERY = 256
STORE_SECONDS = 2.0
READING = "reading the catalog"  # the stage of looking files up in the catalog and loading what it knows
MAX_PIXELS_KEY = "fingerprinted under max_pixels"  # catalog meta: the highest limit any scan used


class FingerprintCache:
    """Fingerprints for one scan. What it learns on the way is kept for the rest of the scan:
    `stored` (path -> catalog id of the row holding its fingerprint), `digests` (content hashes
    read while decoding); files that cannot be used go to `skipped`, counts to `summary`."""

    def __init__(self, catalog: Catalog, cached: dict[str, Cached], max_pixels: int, jobs: int, reporter: Reporter,
                 summary: ScanSummary, skipped: list[Skipped]):  # fmt: skip
        self.catalog, self.cached, self.max_pixels, self.jobs = catalog, cached, max_pixels, jobs
        self.reporter, self.summary, self.skipped = reporter, summary, skipped
        self.ids = {p: c.id for p, c in cached.items()}
        self.stored: dict[str, int] = {}
        self.digests: dict[str, str] = {}

    def fingerprints(
        self, chosen: list[FileStat], content: dict[str, str], workers: Workers, kind: Kind
    ) -> dict[str, Fingerprint]:
        """Fingerprints of every usable image (or video): from the catalog, or decoded once per distinct content."""
        same: dict[str, list[FileStat]] = {}  # byte-identical files share one fingerprint
        for f in chosen:
            same.setdefault(content.get(f.path, f.path), []).append(f)
        found: dict[str, Fingerprint] = {}
        errors: dict[str, str] = {}
        to_load: dict[int, str] = {}
        for key, files in same.items():
            known = next((f for f in files if self.cached[f.path].fingerprinted), None)
            if known and self.cached[known.path].error:
                errors[key] = self.cached[known.path].error or ""
            elif known:
                to_load[self.ids[known.path]] = key
        # kept light (no thumbnails): comparisons load what they need again, so memory stays bounded
        with lasting_objects(), self.reporter.stage(READING):
            found.update((to_load[i], fp) for i, fp in self.catalog.fingerprints(to_load, kind, light=True))
        stored = {key: i for i, key in to_load.items()}  # where each content's fingerprint is in the catalog
        self.summary.from_cache += sum(len(same[k]) for k in found)
        todo = {files[0].path: key for key, files in same.items() if key not in found and key not in errors}
        for path, i in self._copies_of_known(todo, same, content, kind).items():  # no need to decode them
            key = todo.pop(path)
            found[key] = next(fp for _, fp in self.catalog.fingerprints([i], kind, light=True))
            stored[key] = i
            self.summary.from_cache += len(same[key])
        stage = "fingerprinting videos" if kind is Kind.VIDEO else "fingerprinting"
        with self.reporter.stage(stage, len(todo)) as bar, _Batches(self.catalog) as store:
            expected = {p: (same[k][0].size, same[k][0].mtime_ns) for p, k in todo.items()}
            for path, fp, error, lasting, digest in fingerprint_many(todo, workers, self.max_pixels, kind):
                key = todo[path]
                if fp is not None and _changed(path, expected[path]):
                    fp, error, lasting = None, "changed during the scan", False
                if fp is not None:
                    found[key] = fp.light()
                    stored[key] = self.ids[same[key][0].path]
                    self.summary.fingerprinted += 1
                else:
                    errors[key] = error or ""
                if digest:
                    self.digests.update((f.path, digest) for f in same[key])
                if fp is not None or lasting:  # a passing trouble (too large, permissions) is tried again
                    fresh = [f for f in same[key] if not self.cached[f.path].fingerprinted]
                    store.add([(self.ids[f.path], kind, fp, error, digest) for f in fresh])
                bar.advance()
        if kind is Kind.IMAGE:  # cached fingerprints obey today's --max-pixels too
            oversized = self.catalog.oversized(self.max_pixels) if self._limit_lowered() else {}
            for key in [k for k in found if stored[k] in oversized]:
                errors[key] = too_large(*oversized[stored[key]], self.max_pixels) or ""
                del found[key]
        fingerprints = {}
        for key, files in same.items():
            for f in files:
                if key in found:
                    fingerprints[f.path] = found[key]
                    self.stored[f.path] = stored[key]
                else:
                    self.skipped.append(Skipped(f.path, errors.get(key, "not fingerprinted")))
        return fingerprints

    def _limit_lowered(self) -> bool:
        """Whether --max-pixels is below a limit pictures were ever fingerprinted under (only then
        can a stored fingerprint be too large), remembering the highest (unknown: checked once)."""
        known = self.catalog.meta(MAX_PIXELS_KEY)
        if known is None or self.max_pixels > int(known):
            self.catalog.set_meta(MAX_PIXELS_KEY, str(max(self.max_pixels, int(known or 0))))
        return known is None or self.max_pixels < int(known)

    def _copies_of_known(
        self, todo: dict[str, str], same: dict[str, list[FileStat]], content: dict[str, str], kind: Kind
    ) -> dict[str, int]:
        """New images whose bytes the catalog knows under another name (a copied tree, another
        drive): path -> catalog id of the file (now given that fingerprint). Only files of a size
        the catalog knows are read; videos are not (reading one whole costs more than its fingerprint)."""
        if kind is not Kind.IMAGE or not todo:
            return {}
        sizes = self.catalog.fingerprinted_sizes(kind)
        maybe = [p for p in todo if same[todo[p]][0].size in sizes]
        if not maybe:
            return {}
        with ThreadPoolExecutor(self.jobs) as pool:
            digests = dict(zip(maybe, pool.map(lambda p: content.get(p) or full_hash_or_none(p), maybe)))
        known = self.catalog.fingerprinted_contents((d for d in digests.values() if d), kind)
        out = {}
        for path, digest in digests.items():
            if digest in known:
                ids = [self.ids[f.path] for f in same[todo[path]]]
                self.catalog.copy_image_fingerprint(known[digest], ids, digest)
                out[path] = ids[0]
        return out


class _Batches:
    """Fingerprints stored in batches, at least every few seconds, and whatever is left at the end
    (also after Ctrl-C): an interrupted scan keeps its finished work."""

    def __init__(self, catalog: Catalog):
        self.catalog, self.rows, self.last = catalog, [], time.monotonic()

    def add(self, rows: list) -> None:
        self.rows.extend(rows)
        if len(self.rows) >= STORE_EVERY or time.monotonic() - self.last > STORE_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.catalog.store_fingerprints(self.rows)
        self.rows, self.last = [], time.monotonic()

    def __enter__(self) -> _Batches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


def _changed(path: str, expected: tuple[int, int]) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return True
    return (st.st_size, st.st_mtime_ns) != expected
