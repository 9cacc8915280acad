"""The scan pipeline: discover -> exact -> fingerprint -> match -> group (-> rank), cached in the catalog."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .catalog import Cached, Catalog
from .compare import LEVELS
from .decode import DEFAULT_MAX_PIXELS
from .discover import Walker
from .exact import ContentHashes, content_hashes
from .fingerprint import ImageFingerprint
from .group import build_groups
from .match import candidate_pairs, connect
from .progress import QUIET, Reporter
from .records import FileStat, Group, Kind, ScanResult, ScanSummary, Skipped
from .verify import Verifier, verdict_version
from .workers import Workers, default_jobs, fingerprint_many

STORE_EVERY = 256


@dataclass(frozen=True)
class ScanOptions:
    level: str = "normal"
    exact_only: bool = False
    jobs: int = 0  # 0: all cores
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False
    hidden: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS


def scan(
    paths: Sequence[str | os.PathLike],
    *,
    level: str = "normal",
    exact_only: bool = False,
    jobs: int = 0,
    catalog: str | os.PathLike | None = None,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    follow_symlinks: bool = False,
    hidden: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool | Reporter = False,
) -> ScanResult:
    """Find groups of duplicate images (and byte-identical videos) under `paths`.

    Nothing under `paths` is ever modified. Fingerprints are cached in the catalog (`catalog`,
    default: the user cache folder), so a rescan of unchanged files decodes nothing.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    options = ScanOptions(
        level, exact_only, jobs or default_jobs(), tuple(include), tuple(exclude), follow_symlinks, hidden, max_pixels
    )
    reporter = progress if isinstance(progress, Reporter) else (Reporter(None) if progress else QUIET)
    with Catalog(os.fspath(catalog) if catalog else None) as cat:
        return Scanner(options, cat, reporter).run([os.fspath(p) for p in paths])


class Scanner:
    def __init__(self, options: ScanOptions, catalog: Catalog, reporter: Reporter):
        self.options = options
        self.catalog = catalog
        self.reporter = reporter
        self.level = LEVELS[options.level]
        self.summary = ScanSummary()
        self.skipped: list[Skipped] = []
        self.ids: dict[str, int] = {}

    def run(self, roots: list[str]) -> ScanResult:
        started = time.time()
        if self.catalog.notice:
            self.reporter.console.print(self.catalog.notice, style="yellow")
        files = self._discover(roots)
        cached = self.catalog.refresh(files)
        self.ids = {p: c.id for p, c in cached.items()}
        with Workers(self.options.jobs) as workers:
            content = self._exact(files, cached)
            stats = {f.path: f for f in files}
            fingerprints: dict[str, ImageFingerprint] = {}
            if not self.options.exact_only:
                images = [f for f in files if f.kind is Kind.IMAGE]
                fingerprints = self._fingerprint(images, cached, content, workers)
            groups = self._group(stats, content, fingerprints, workers)
        self.summary.seconds = round(time.time() - started, 3)
        self.catalog.save_scan(roots, vars(self.options), self.summary, groups, started)
        self.skipped.sort(key=lambda s: s.path)
        return ScanResult(groups, self.skipped, self.summary, roots)

    def _discover(self, roots: list[str]) -> list[FileStat]:
        catalog_files = {os.path.abspath(self.catalog.path) + suffix for suffix in ("", "-wal", "-shm", "-journal")}
        walker = Walker(self.options.include, self.options.exclude, self.options.follow_symlinks, self.options.hidden)
        with self.reporter.stage("discovering"):
            found = walker.walk(roots)
        self.skipped.extend(found.skipped)
        files = []
        for f in found.files:
            if f.path in catalog_files:
                continue
            if f.size == 0:
                self.skipped.append(Skipped(f.path, "empty file (0 bytes)"))
                continue
            files.append(f)
        s = self.summary
        s.images = sum(f.kind is Kind.IMAGE for f in files)
        s.videos = sum(f.kind is Kind.VIDEO for f in files)
        s.other, s.hardlinks = found.other, found.hardlinks
        s.files_seen = len(found.files) + found.other + found.hardlinks
        return files

    def _exact(self, files: list[FileStat], cached: dict[str, Cached]) -> dict[str, str]:
        """Content hashes of files with a possible byte-identical twin; unreadable files are dropped."""
        known = ContentHashes(
            {p: c.content_hash for p, c in cached.items() if c.content_hash},
            {p: c.partial_hash for p, c in cached.items() if c.partial_hash},
        )
        with self.reporter.stage("hashing") as bar:
            found = content_hashes(files, known, self.skipped, self.options.jobs, bar.set)
        fresh_full = {self.ids[p]: h for p, h in found.full.items() if p not in known.full}
        fresh_partial = {self.ids[p]: h for p, h in found.partial.items() if p not in known.partial}
        self.catalog.set_content_hashes(fresh_full, fresh_partial)
        self.summary.hashed = len(fresh_full) + len(fresh_partial)
        unreadable = {s.path for s in self.skipped}
        files[:] = [f for f in files if f.path not in unreadable]
        return found.full

    def _fingerprint(
        self, images: list[FileStat], cached: dict[str, Cached], content: dict[str, str], workers: Workers
    ) -> dict[str, ImageFingerprint]:
        """Fingerprints of every usable image: from the catalog, or decoded once per distinct content."""
        done = {f.path for f in images if cached[f.path].fingerprinted}
        for f in images:
            if f.path in done and cached[f.path].error:
                self.skipped.append(Skipped(f.path, cached[f.path].error or ""))
        by_content: dict[str, str] = {}  # content hash -> a path whose fingerprint serves all twins
        for f in images:
            if f.path in done and not cached[f.path].error and f.path in content:
                by_content.setdefault(content[f.path], f.path)
        todo, twins = [], []
        for f in images:
            if f.path in done:
                continue
            digest = content.get(f.path)
            if digest and digest in by_content:
                twins.append(f.path)
            else:
                todo.append(f)
                if digest:
                    by_content[digest] = f.path
        decoded: dict[str, ImageFingerprint] = {}
        batch: list = []
        with self.reporter.stage("fingerprinting", len(todo)) as bar:
            expected = {f.path: (f.size, f.mtime_ns) for f in todo}
            for path, fp, error in fingerprint_many(expected, workers, self.options.max_pixels):
                if fp is not None and _changed(path, expected[path]):
                    fp, error = None, "changed during the scan"
                if error:
                    self.skipped.append(Skipped(path, error))
                else:
                    decoded[path] = fp
                batch.append((self.ids[path], fp, error))
                if len(batch) >= STORE_EVERY:
                    self.catalog.store_fingerprints(batch)
                    batch = []
                bar.advance()
            self.catalog.store_fingerprints(batch)
        self.summary.fingerprinted = len(decoded)
        wanted = [f.path for f in images if f.path in done and not cached[f.path].error]
        wanted += [by_content[content[p]] for p in twins if by_content[content[p]] not in decoded]
        path_of = {self.ids[p]: p for p in wanted}
        fingerprints = {path_of[i]: fp for i, fp in self.catalog.fingerprints(path_of)}
        fingerprints.update(decoded)
        shared = [(p, fingerprints.get(by_content[content[p]])) for p in twins]
        self.catalog.store_fingerprints(
            [(self.ids[p], fp, None if fp else "identical copy could not be decoded") for p, fp in shared]
        )
        for p, fp in shared:
            if fp is None:
                self.skipped.append(Skipped(p, "not a readable image (an identical copy failed to decode)"))
            else:
                fingerprints[p] = fp
        self.summary.from_cache = len(wanted)
        return fingerprints

    def _group(
        self,
        stats: dict[str, FileStat],
        content: dict[str, str],
        fingerprints: dict[str, ImageFingerprint],
        workers: Workers,
    ) -> list[Group]:
        version = verdict_version()
        verifier = Verifier(
            fingerprints, self.ids, self.level, self.catalog.verdicts(self.level.name, version), workers
        )
        # one representative per distinct content: byte-identical twins are matched once
        reps: dict[str, str] = {}
        for path in sorted(fingerprints):
            reps.setdefault(content.get(path, path), path)
        rep_paths = sorted(reps.values())
        with self.reporter.stage("matching") as bar:
            hashes = np.stack([fingerprints[p].hashes for p in rep_paths]) if rep_paths else np.zeros((0, 2))
            pairs = candidate_pairs(hashes.astype(np.uint64), self.level)

            def verify(batch: list[tuple[int, int]]) -> list[bool]:
                return verifier.matches([(rep_paths[i], rep_paths[j]) for i, j in batch])

            edges = connect(pairs, verify, bar.set)
        live = {p: h for p, h in content.items() if p in stats}
        infos = {p: fp.info for p, fp in fingerprints.items()}
        with self.reporter.stage("grouping"):
            groups = build_groups(stats, live, infos, [(rep_paths[i], rep_paths[j]) for i, j in edges], verifier.many)
        self.catalog.store_verdicts(self.level.name, version, verifier.new)
        self.summary.compared = verifier.compared
        return groups


def _changed(path: str, expected: tuple[int, int]) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return True
    return (st.st_size, st.st_mtime_ns) != expected
