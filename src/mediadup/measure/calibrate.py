"""Measure precision and recall of each --level on the user's own media.

A sample of their pictures and videos is linked into a temporary folder beside transformed copies
of each (recompressed, resized, converted, cropped, rotated, mirrored, watermarked, grayscale,
brightened; videos re-encoded smaller, trimmed, mirrored); the folder is scanned at each level.
A copy grouped with its own original counts for recall; two different files of the sample in one
group count against precision (unless byte-identical: then the user's library holds copies)."""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from ..find.discover import Walker
from ..find.exact import full_hash_or_none
from ..fingerprint.decode import register_plugins
from ..match.compare import LEVELS
from ..pipeline import scan
from ..records import Kind
from .footage import reencode

WORK_SIDE = 2048  # copies are made from the picture at most this large (camera files decode faster)
MAX_VIDEO_BYTES = 300_000_000  # larger videos are not sampled: their copies would take long to make


def _watermark(im: Image.Image) -> Image.Image:
    out = im.copy()
    draw = ImageDraw.Draw(out, "RGBA")
    w, h = out.size
    box = (int(w * 0.62), int(h * 0.86), int(w * 0.97), int(h * 0.96))
    draw.rectangle(box, fill=(255, 255, 255, 150))
    draw.text((box[0] + 6, box[1] + 4), "(c) mediadup calibration", fill=(0, 0, 0, 255))
    return out


def _crop(im: Image.Image) -> Image.Image:
    w, h = im.size
    return im.crop((int(w * 0.04), int(h * 0.06), int(w * 0.92), int(h * 0.94)))


# name -> (how the copy is made, file extension, Pillow save options)
IMAGE_COPIES: dict[str, tuple[Callable[[Image.Image], Image.Image], str, dict]] = {
    "recompressed": (lambda im: im, ".jpg", {"quality": 50}),
    "resized": (lambda im: im.resize((max(1, im.width // 2), max(1, im.height // 2)), Image.Resampling.LANCZOS),
                ".jpg", {"quality": 90}),
    "converted": (lambda im: im, ".webp", {"quality": 80}),
    "cropped": (_crop, ".jpg", {"quality": 90}),
    "rotated": (lambda im: im.transpose(Image.Transpose.ROTATE_90), ".jpg", {"quality": 90}),
    "mirrored": (lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), ".jpg", {"quality": 90}),
    "watermarked": (_watermark, ".jpg", {"quality": 90}),
    "grayscale": (lambda im: ImageOps.grayscale(im).convert("RGB"), ".jpg", {"quality": 90}),
    "brightened": (lambda im: ImageEnhance.Brightness(im).enhance(1.2), ".jpg", {"quality": 90}),
}  # fmt: skip
VIDEO_COPIES: dict[str, dict] = {
    "video re-encoded": {"scale": 0.5, "bitrate": 400_000},
    "video trimmed": {"start": 0.1, "end": 0.9},
    "video mirrored": {"frame_fn": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)},
}


@dataclass
class LevelScore:
    found: Counter = field(default_factory=Counter)  # kind of copy -> copies grouped with their original
    true_pairs: int = 0
    false_pairs: list[tuple[str, str]] = field(default_factory=list)  # two different files of the user
    own_pairs: set[tuple[str, str]] = field(default_factory=set)  # the user's own files grouped as they are

    @property
    def precision(self) -> float:
        return self.true_pairs / max(1, self.true_pairs + len(self.false_pairs))


@dataclass
class Calibration:
    pictures: int
    videos: int
    made: Counter  # kind of copy -> copies made
    distinct_pairs: int  # pairs of files made from different files of the user: chances of a false pair
    levels: dict[str, LevelScore]
    same_bytes: int  # sampled files with a byte-identical twin in the sample (not counted either way)
    seconds: float

    def recall(self, level: str) -> float:
        return sum(self.levels[level].found.values()) / max(1, sum(self.made.values()))

    @property
    def why_suggested(self) -> str:
        """Why `suggested` is the level to use, in the user's words."""
        if any(not score.false_pairs for score in self.levels.values()):
            return f"the most copies found with no false pair among {self.distinct_pairs} pairs of different files"
        return "every level grouped copies of different files of yours: look at the pairs above"

    @property
    def suggested(self) -> str:
        """The strictest level that finds the most copies without a false pair (strict when every
        level has one): a looser level only when it finds more."""
        clean = [name for name in LEVELS if name in self.levels and not self.levels[name].false_pairs]
        return max(clean, key=lambda name: (self.recall(name), -clean.index(name))) if clean else "strict"


def sample(roots: Sequence[str], pictures: int, videos: int, seed: int) -> tuple[list[str], list[str]]:
    found = Walker().walk(roots).files
    images = sorted(f.path for f in found if f.kind is Kind.IMAGE and f.size > 0)
    clips = sorted(f.path for f in found if f.kind is Kind.VIDEO and 0 < f.size <= MAX_VIDEO_BYTES)
    rng = random.Random(seed)
    return rng.sample(images, min(pictures, len(images))), rng.sample(clips, min(videos, len(clips)))


def _picture(path: str) -> Image.Image | None:
    register_plugins()
    try:
        with Image.open(path) as im:
            im.draft("RGB", (WORK_SIDE, WORK_SIDE))
            im = ImageOps.exif_transpose(im).convert("RGB")
            im.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.LANCZOS)
            return im
    except Exception:  # an unreadable file is left out of the sample
        return None


def make_copies(
    pictures: Sequence[str], videos: Sequence[str], folder: str, progress: Callable[[str], None]
) -> tuple[dict[str, tuple[str, str]], Counter]:
    """The sample linked into `folder` with its copies: path -> (the original, kind of copy)."""
    made: dict[str, tuple[str, str]] = {}
    for n, path in enumerate(pictures):
        progress(path)
        im = _picture(path)
        if im is None:
            continue
        here = os.path.join(folder, f"p{n:04d}")
        os.makedirs(here)
        original = os.path.join(here, "original" + os.path.splitext(path)[1])
        os.symlink(os.path.abspath(path), original)
        made[original] = (path, "original")
        for name, (change, ext, options) in IMAGE_COPIES.items():
            copy = os.path.join(here, name + ext)
            try:
                change(im).save(copy, **options)
            except (OSError, ValueError):  # a format this Pillow cannot write: that copy is left out
                continue
            made[copy] = (path, name)
    for n, path in enumerate(videos):
        progress(path)
        here = os.path.join(folder, f"v{n:04d}")
        os.makedirs(here)
        original = os.path.join(here, "original" + os.path.splitext(path)[1])
        os.symlink(os.path.abspath(path), original)
        made[original] = (path, "original")
        for name, options in VIDEO_COPIES.items():
            copy = os.path.join(here, name.split()[1] + ".mp4")
            try:
                reencode(path, copy, **options)
            except Exception:  # a video PyAV cannot re-encode is left out
                continue
            if os.path.exists(copy):
                made[copy] = (path, name)
    return made, Counter(t for _, t in made.values() if t != "original")


def score(groups: Sequence[Sequence[str]], made: dict[str, tuple[str, str]], twins: dict[str, str]) -> LevelScore:
    """Copies found with their original, and pairs of the same or of different files of the user
    (`twins`: the user's files with the same bytes as another, by content hash: not counted). Two
    of the user's files grouped as they are (`own_pairs`) may be duplicates in the library itself:
    they count as false pairs, and are named so that the user can look."""
    s = LevelScore()
    originals = {src: p for p, (src, t) in made.items() if t == "original"}
    for paths in groups:  # two of the user's files grouped as they are: perhaps duplicates in the library
        sources = sorted(made[p][0] for p in paths if made[p][1] == "original")
        s.own_pairs.update(combinations(sources, 2))
    for paths in groups:
        for a, b in combinations(sorted(paths), 2):
            (sa, _), (sb, _) = made[a], made[b]
            if sa == sb:
                s.true_pairs += 1
            elif not (sa in twins and twins[sa] == twins.get(sb)):
                s.false_pairs.append((sa, sb))
        inside = set(paths)
        for p in inside:
            src, t = made[p]
            if t != "original" and originals[src] in inside:
                s.found[t] += 1
    return s


def calibrate(
    roots: Sequence[str],
    pictures: int = 40,
    videos: int = 3,
    levels: Sequence[str] = tuple(LEVELS),
    seed: int = 0,
    jobs: int = 0,
    progress: Callable[[str], None] = lambda _: None,
) -> Calibration:
    """Sample the user's media, make copies, scan at each level, and score."""
    started = time.time()
    chosen_pictures, chosen_videos = sample(roots, pictures, videos, seed)
    digest = {p: full_hash_or_none(p) for p in chosen_pictures + chosen_videos}
    counts = Counter(d for d in digest.values() if d)
    twins = {p: d for p, d in digest.items() if d and counts[d] > 1}
    with tempfile.TemporaryDirectory(prefix="mediadup-calibrate-") as tmp:
        folder = os.path.join(tmp, "media")
        made, counts = make_copies(chosen_pictures, chosen_videos, folder, progress)
        results = {}
        for level in levels:
            progress(f"scanning at {level}")
            r = scan(folder, level=level, jobs=jobs, catalog=os.path.join(tmp, "catalog.sqlite"),
                     follow_symlinks=True)  # fmt: skip
            groups = [[m.path for m in g.members if m.path in made] for g in r.groups]
            results[level] = score(groups, made, twins)
    n_pictures = sum(1 for p in made if made[p][1] == "original" and made[p][0] in chosen_pictures)
    n_videos = sum(1 for p in made if made[p][1] == "original" and made[p][0] in chosen_videos)
    per_source = Counter(src for src, _ in made.values())
    total = sum(per_source.values())
    distinct = (total * total - sum(n * n for n in per_source.values())) // 2
    return Calibration(n_pictures, n_videos, counts, distinct, results, len(twins), round(time.time() - started, 1))
