"""The scan pipeline: discover -> exact -> fingerprint -> match -> group (-> rank), cached in the catalog."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import islice

import numpy as np

from .find.discover import Walker
from .find.exact import ContentHashes, content_hashes, full_hash_or_none
from .fingerprint.cluster import Cluster
from .fingerprint.decode import DEFAULT_MAX_PIXELS
from .fingerprint.image import ImageFingerprint
from .fingerprint.video import VideoFingerprint
from .fingerprint.workers import Workers, default_jobs
from .fingerprint_cache import READING, FingerprintCache
from .group.build import attach_frames, attach_overlaps, build_groups
from .group.companions import find_companions
from .group.similar import similar_groups
from .heap import lasting_objects, release, thawed
from .match.candidates import candidate_pairs, connect, frame_candidates, orientation, video_candidate_pairs
from .match.compare import LEVELS, colour_counts
from .match.geometry import MIN_KEYPOINTS
from .match.sketches import SKETCH_BATCH, Sketches
from .match.verify import Fingerprint, Verifier, verdict_version
from .match.video_compare import frame_of, frame_radius
from .progress import Reporter
from .records import FileStat, Group, ImageInfo, Kind, ScanResult, ScanSummary, Skipped, VideoInfo
from .store.catalog import Catalog
from .store.files import Cached


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
    images: bool = True
    videos: bool = True
    dask: str | None = None  # scheduler address, or "local"
    similar: bool = False  # also find similar but distinct shots


def scan(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
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
    images: bool = True,
    videos: bool = True,
    dask: str | None = None,
    similar: bool = False,
    progress: bool | Reporter = False,
) -> ScanResult:
    """Find groups of duplicate images and videos under `paths` (`images`/`videos`: which kinds).

    `dask`: fingerprint on a Dask cluster (a scheduler address such as "tcp://host:8786", or
    "local" for a LocalCluster on this machine); the workers must read the same paths.
    `similar`: also group similar but distinct pictures (bursts, editions) in `result.similar`.
    Nothing under `paths` is ever modified. Fingerprints are cached in the catalog (`catalog`,
    default: the user cache folder), so a rescan of unchanged files decodes nothing.
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]  # one folder, not its characters
    options = ScanOptions(
        level,
        exact_only,
        jobs or default_jobs(),
        tuple(include),
        tuple(exclude),
        follow_symlinks,
        hidden,
        max_pixels,
        images or not videos,  # asking for neither kind means both
        videos or not images,
        dask or None,
        similar,
    )
    reporter = progress if isinstance(progress, Reporter) else Reporter(None if progress else False)
    with thawed(), Catalog(os.fspath(catalog) if catalog else None) as cat:
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
        self.cached: dict[str, Cached] = {}

    def run(self, roots: list[str]) -> ScanResult:
        started = time.time()
        self.reporter.seconds.clear()  # (a reporter may serve several scans)
        if self.catalog.notice:
            self.reporter.console.print(self.catalog.notice, style="yellow")
        with lasting_objects():  # a record of every file, and of what the catalog knows of it
            files = self._discover(roots)
            with self.reporter.stage(READING):
                cached = self.catalog.refresh(files)
            self.cached = cached
            self.cache = FingerprintCache(self.catalog, cached, self.options.max_pixels, self.options.jobs,
                                          self.reporter, self.summary, self.skipped)  # fmt: skip
            self.ids = self.cache.ids  # (one mapping of every file to its catalog row, shared)
        with _cluster(self.options) as cluster, Workers(self.options.jobs, cluster) as workers:
            with lasting_objects():
                content = self._exact(files, cached)
                stats = {f.path: f for f in files}
            fingerprints: dict[str, Fingerprint] = {}
            if not self.options.exact_only:
                with lasting_objects():  # a fingerprint for every picture and video
                    for kind in (Kind.IMAGE, Kind.VIDEO):
                        chosen = [f for f in files if f.kind is kind]
                        fingerprints.update(self.cache.fingerprints(chosen, content, workers, kind))
            workers.close()  # idle while candidates are searched, their memory given back (verifying starts them again)
            unusable = {s.path for s in self.skipped}
            stats = {p: f for p, f in stats.items() if p not in unusable}
            durations = {p: fp.info.duration for p, fp in fingerprints.items() if isinstance(fp, VideoFingerprint)}
            companions = find_companions(stats.values(), durations)
            motion = set(companions.values())  # clips follow their photos: they are not items of their own
            items = {p: f for p, f in stats.items() if p not in motion}
            groups, similar = self._group(
                items, content, {p: fp for p, fp in fingerprints.items() if p not in motion}, workers
            )
            for m in (m for g in groups + similar for m in g.members if m.path in companions):
                m.companion = stats[companions[m.path]]
            self.summary.companions = len(companions)
            self.summary.similar = len(similar)
        self.summary.forgotten = self.catalog.forget_missing(roots, (f.path for f in files))
        self.summary.seconds = round(time.time() - started, 3)
        self.summary.stages = {name: round(t, 3) for name, t in self.reporter.seconds.items()}
        self.catalog.save_scan(roots, vars(self.options), self.summary, groups + similar, started)
        self.skipped.sort(key=lambda s: s.path)
        return ScanResult(groups, self.skipped, self.summary, roots, similar)

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
            if (f.kind is Kind.IMAGE and not self.options.images) or (f.kind is Kind.VIDEO and not self.options.videos):
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
        for c in cached.values():  # no stage after this one asks for them (17 MB on 150,000 files)
            c.partial_hash = None
        return found.full

    def _group(
        self,
        stats: dict[str, FileStat],
        content: dict[str, str],
        fingerprints: dict[str, Fingerprint],
        workers: Workers,
    ) -> tuple[list[Group], list[Group]]:
        """Duplicate groups, and (with --similar) groups of similar shots."""
        version = verdict_version()
        with lasting_objects():
            known = self.catalog.verdicts(self.level.name, version)
        verifier = Verifier(fingerprints, self.ids, self.level, known, workers, self._load)
        # one representative per distinct content: byte-identical twins are matched once
        reps: dict[str, str] = {}
        for path in sorted(fingerprints):
            if fingerprints[path].comparable:  # near-uniform pictures group only by identical bytes
                reps.setdefault(content.get(path, path), path)
        images = sorted(p for p in reps.values() if isinstance(fingerprints[p], ImageFingerprint))
        videos = sorted(p for p in reps.values() if isinstance(fingerprints[p], VideoFingerprint))
        live = {p: h for p, h in content.items() if p in stats}
        infos = _Infos(fingerprints)
        edges: list[tuple[str, str]] = []

        def verifies(paths: list[str]):
            """Verdicts of rows (i, j[, whether a crop may be the relation]) of `paths`."""
            return lambda rows: verifier.matches([(paths[r[0]], paths[r[1]]) for r in rows],
                                                 [len(r) < 3 or bool(r[2]) for r in rows])  # fmt: skip

        # the same files as the last scan at this level: its verified pairs are in the catalog, and
        # a new candidate search would find no others
        same_key = f"matched:{self.level.name}:{version}"
        same = hashlib.sha256(np.array(sorted(self.ids[p] for p in reps.values()), dtype=np.int64)).hexdigest()
        with _Verdicts(self.catalog, self.level.name, version, verifier):
            if self.catalog.meta(same_key) == same:
                edges = verifier.known_matches(list(reps.values()))
            else:
                from .match import colourfit, index, nearest, pattern  # (numba: only when there is something to match)

                kernels = (index, nearest, pattern, colourfit)
                first = "" if all(k.compiled() for k in kernels) else " (compiling the search, once)"
                with self.reporter.stage("matching" + first) as bar:
                    sketches = self._sketches(images, fingerprints)
                    sizes = np.array([(fingerprints[p].info.content_width, fingerprints[p].info.content_height)
                                      for p in images])  # fmt: skip
                    shapes = orientation(*sizes.reshape(-1, 2).T)
                    searched = [self.cache.stored[p] for p in images]
                    with self.catalog.image_hashes(searched) as hashes:  # (never all held)
                        candidates = candidate_pairs(hashes, self.level, sketches.reachable, shapes)
                    release()  # the search's transients, before the workers verify
                    self.summary.crowded, self.summary.left_out = candidates.crowded, candidates.left_out
                    self.summary.turned_away = candidates.turned_away
                    rows = np.column_stack([candidates.pairs, candidates.may_crop])
                    found = connect(rows, verifies(images), bar.set)
                    edges += [(images[i], images[j]) for i, j in found]
                if videos:
                    with self.reporter.stage("matching videos") as bar:
                        frames = [fingerprints[p].hashes for p in videos]
                        found = connect(video_candidate_pairs(frames, self.level.radius), verifies(videos), bar.set)
                        edges += [(videos[i], videos[j]) for i, j in found]
            apart = self._decisions(edges, live)
            if apart:
                edges = [(a, b) for a, b in edges if not apart(a, b)]
            with self.reporter.stage("grouping"):
                groups = build_groups(stats, live, infos, edges, verifier.many, apart)
        self.catalog.set_meta(same_key, same)  # only once matching has finished
        if videos:
            shared = [(a, b, m) for a, b, m in verifier.overlaps(videos) if not (apart and apart(a, b))]
            groups = attach_overlaps(groups, shared, stats, infos)
        if videos and images:
            groups = self._frames_of_videos(groups, images, videos, fingerprints, stats, infos, apart)
        self.summary.compared = verifier.compared
        similar = self._similar(groups, images, fingerprints, stats, apart) if self.options.similar else []
        return groups, similar

    def _similar(self, groups, images, fingerprints, stats, apart) -> list[Group]:
        """Similar shots among the pictures that are not a copy of a better one: duplicate groups
        take part through their keepers."""
        copies = {m.path for g in groups for m in g.duplicates}
        shots = sorted({g.keeper.path for g in groups if g.keeper.path in fingerprints} | set(images) - copies)
        shots = [p for p in shots if isinstance(fingerprints[p], ImageFingerprint) and fingerprints[p].comparable]
        load = partial(self._load, fingerprints=fingerprints)
        return similar_groups(shots, fingerprints, stats, load, self.level.name, apart)

    def _decisions(self, edges: list[tuple[str, str]], content: dict[str, str]) -> Callable[[str, str], bool] | None:
        """`apart(a, b)`: did the user say these two files are not duplicates? (None: no decisions.)
        Decisions are by full-content hash; the files of matched pairs are hashed (once: the
        catalog keeps the hashes), others when asked about."""
        decisions = self.catalog.ignored()
        if not decisions:
            return None
        digests = {**self.cache.digests, **content}
        todo = sorted({p for e in edges for p in e if p not in digests})
        digests.update((p, self.cached[p].content_hash) for p in todo if self.cached[p].content_hash)
        todo = [p for p in todo if p not in digests]
        with ThreadPoolExecutor(self.options.jobs) as pool:
            digests.update((p, h) for p, h in zip(todo, pool.map(full_hash_or_none, todo)) if h)
        self.catalog.set_content_hashes({self.ids[p]: digests[p] for p in todo if p in digests}, {})

        def digest(path: str) -> str | None:
            if path not in digests:
                digests[path] = full_hash_or_none(path) or ""
            return digests[path] or None

        def apart(a: str, b: str) -> bool:
            da, db = digest(a), digest(b)
            return bool(da and db) and (min(da, db), max(da, db)) in decisions  # type: ignore[type-var]

        return apart

    def _load(self, paths: list[str], fingerprints: dict[str, Fingerprint]) -> dict[str, Fingerprint]:
        """Whole fingerprints (thumbnails included) of a few files, from the catalog."""
        out: dict[str, Fingerprint] = {}
        for kind in (Kind.IMAGE, Kind.VIDEO):
            wanted: dict[int, list[str]] = {}
            for p in paths:
                if isinstance(fingerprints[p], VideoFingerprint) == (kind is Kind.VIDEO):
                    wanted.setdefault(self.cache.stored[p], []).append(p)
            for i, fp in self.catalog.fingerprints(wanted, kind):
                out.update((p, fp) for p in wanted[i])
        return out

    def _sketches(self, images: list[str], fingerprints: dict[str, Fingerprint]) -> Sketches:
        """Sketches of the pictures too featureless for keypoints, for a first look at their
        candidates (see match/sketches.py)."""
        at: dict[int, list[int]] = {}  # catalog row -> the pictures whose fingerprint it holds
        for k, p in enumerate(images):
            at.setdefault(self.cache.stored[p], []).append(k)
        featureless = {i for i, n in self.catalog.keypoint_counts(at).items() if n < MIN_KEYPOINTS}
        sketches = Sketches.empty(np.array([self.cache.stored[p] in featureless for p in images], dtype=bool),
                                  self.options.jobs)  # fmt: skip
        rows = ((k, thumb, colours) for i, thumb, colours in self.catalog.thumbnails(featureless) for k in at[i])
        while batch := list(islice(rows, SKETCH_BATCH)):  # sketched together: bounded memory
            k, thumbs, colours = (np.array(c) for c in zip(*batch))
            sketches.set(k, thumbs, colours, [colour_counts(fingerprints[images[j]].info) for j in k.tolist()])
        return sketches

    def _frames_of_videos(self, groups, images, videos, fingerprints, stats, infos, apart) -> list[Group]:
        """Images not in any group that are frames of a video join that video's group as `frame-of`
        (unless the user said they are not)."""
        grouped = {m.path for g in groups for m in g.members}
        free = [p for p in images if p not in grouped]
        pictures = np.array([fingerprints[p].hashes[0] for p in free], dtype=np.uint64)
        frames = [fingerprints[p].hashes for p in videos]
        keepers = {g.keeper.path for g in groups}
        found: dict = {}  # image -> (video, match): a group's keeper first, then the closest frame
        candidates = frame_candidates(pictures, frames, frame_radius(self.level)).tolist()
        if apart:
            candidates = [(i, v) for i, v in candidates if not apart(free[i], videos[v])]
        whole = self._load(sorted({free[i] for i, _ in candidates} | {videos[v] for _, v in candidates}), fingerprints)
        for i, v in candidates:
            m = frame_of(whole[free[i]], whole[videos[v]], self.level)
            rank = (videos[v] in keepers, m.score) if m else None
            if m and (free[i] not in found or rank > found[free[i]][2]):
                found[free[i]] = (videos[v], m, rank)
        return attach_frames(groups, {p: (v, m) for p, (v, m, _) in found.items()}, stats, infos)


class _Infos(Mapping[str, ImageInfo | VideoInfo]):
    """Each file's info, read from its fingerprint when asked for (a rescan of an unchanged
    library asks for the grouped files' only)."""

    def __init__(self, fingerprints: dict[str, Fingerprint]):
        self.fingerprints = fingerprints

    def __getitem__(self, path: str) -> ImageInfo | VideoInfo:
        return self.fingerprints[path].info

    def __iter__(self) -> Iterator[str]:
        return iter(self.fingerprints)

    def __len__(self) -> int:
        return len(self.fingerprints)


class _Verdicts:
    """Verdicts reach the catalog as they come (in batches) and when matching is interrupted."""

    def __init__(self, catalog: Catalog, level: str, version: int, verifier: Verifier):
        self.catalog, self.level, self.version, self.verifier = catalog, level, version, verifier

    def __enter__(self) -> _Verdicts:
        self.verifier.store = lambda rows: self.catalog.store_verdicts(self.level, self.version, rows)
        return self

    def __exit__(self, *exc: object) -> None:
        self.catalog.store_verdicts(self.level, self.version, self.verifier.new)
        self.verifier.new = []


def _cluster(options: ScanOptions) -> contextlib.AbstractContextManager[Cluster | None]:
    return Cluster(options.dask, options.jobs) if options.dask else contextlib.nullcontext()
