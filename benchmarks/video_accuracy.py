"""Video benchmark: footage rendered from pictures, transformed copies, traps, and scoring.

Each original is a few scenes (camera pans and zooms over pictures, cut one after the other);
its copies are re-encoded, rescaled, re-muxed, slowed in frame rate, trimmed, letterboxed,
watermarked, grayscale, cut to a sub-clip, mirrored, cropped, played faster or slower, or placed
inside a compilation. Negatives must not be grouped as copies: a distinct video made from the
same pictures in another order, two episodes that share only their intro, and two compilations
that share only their two long filler clips (they may be shown as `overlaps`). `--phone N` builds
apart the everyday copy: N single-shot phone clips (1080p, landscape or portrait, 5-8 s at 30 fps,
x264's defaults: one key frame) and the copy a messenger sends of each (half size, 450 kb/s).

The pictures come from this project's own image benchmark sources (`image_bench.py`: Debian
packages, never the shared bench), split in the same two halves: tune on one, report the other
(`--sources shared` uses the shared bench's photographs instead). Prints pair precision, the
traps grouped as copies, and per kind and class the recall against the original, with the cost
per video and per minute of footage.

    python benchmarks/video_accuracy.py [--half report|tune|both] [--videos 15] [--levels normal] [--phone 8]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import time
from collections import defaultdict
from itertools import combinations
from multiprocessing import Pool
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageOps

from mediadup import scan
from mediadup.match.components import UnionFind
from mediadup.measure.footage import reencode, render, transcode
from mediadup.records import Relation

DEFAULT_WORK = "/tmp/mediadup-bench2/work"  # image_bench.py's downloaded sources
SIZE = (480, 270)
FPS = 30
CLASSES = {
    "container-mkv": "easy", "container-webm": "easy", "low-bitrate": "easy", "scale-50": "easy", "fps-30-15": "easy",
    "codec-mpeg4": "easy",
    "trim-10": "medium", "letterbox": "medium", "watermark": "medium", "grayscale": "medium", "mirror": "medium",
    "crop-15": "medium",
    "sub-clip": "hard", "compilation": "hard", "speed-1.25": "hard", "speed-0.8": "hard",
    "messenger": "easy",
}  # fmt: skip
TRAPS = ("reordered", "shared-intro", "shared-fillers")  # must not be grouped as copies


def letterbox(im: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (im.width, round(im.width * 9 / 16 * 1.33)))
    canvas.paste(im, (0, (canvas.height - im.height) // 2))
    return canvas


def watermark(im: Image.Image) -> Image.Image:
    im = im.copy()
    d = ImageDraw.Draw(im)
    w, h = im.size
    d.rectangle((w - w // 4, h - h // 8, w - 8, h - 8), fill=(255, 255, 255))
    d.text((12, 10), "(c) mediadup benchmark 2026", fill=(255, 255, 0))
    return im


def crop15(im: Image.Image) -> Image.Image:
    w, h = im.size
    return im.crop((round(w * 0.075), round(h * 0.075), round(w * 0.925), round(h * 0.925)))


def gray(im: Image.Image) -> Image.Image:
    return ImageOps.grayscale(im).convert("RGB")


def transforms(rng: random.Random) -> dict[str, tuple[str, dict]]:
    start = rng.uniform(0.05, 0.45)
    part = rng.uniform(0.3, 0.5)
    return {
        "low-bitrate": (".mp4", {"bitrate": 120_000}),
        "scale-50": (".mp4", {"scale": 0.5}),
        "container-mkv": (".mkv", {}),
        "container-webm": (".webm", {}),
        "codec-mpeg4": (".mp4", {"codec": "mpeg4"}),  # MPEG-4 part 2, as old cameras and converters write
        "fps-30-15": (".mp4", {"fps": 15}),
        "trim-10": (".mp4", {"start": 0.1, "end": 0.9}),
        "letterbox": (".mp4", {"frame_fn": letterbox}),
        "watermark": (".mp4", {"frame_fn": watermark}),
        "grayscale": (".mp4", {"frame_fn": gray}),
        "sub-clip": (".mp4", {"start": start, "end": min(1.0, start + part)}),
        "mirror": (".mp4", {"frame_fn": ImageOps.mirror}),
        "crop-15": (".mp4", {"frame_fn": crop15}),
        "speed-1.25": (".mp4", {"speed": 1.25}),
        "speed-0.8": (".mp4", {"speed": 0.8}),
    }


def pictures(bench: str, limit: int) -> list[str]:
    with open(os.path.join(bench, "truth.json")) as f:
        truth = json.load(f)
    found = sorted(os.path.join(bench, p) for p, v in truth.items() if v["transform"] == "original")
    return found[:limit]


def _load(path: str) -> Image.Image:
    im = Image.open(path)
    im.draft("RGB", (960, 960))
    im = im.convert("RGB")
    return im.resize((960, round(960 * im.height / im.width))) if im.width > 960 else im


def make_one(task: tuple[int, list[str], list[str], str]) -> list[tuple[str, str, str]]:
    """Render one original, its copies and its negative; returns (file, group, transform) rows."""
    n, chosen, filler, out = task
    rng = random.Random(n)
    group = f"v{n:03d}"
    folder = os.path.join(out, group)
    os.makedirs(folder, exist_ok=True)
    scenes = [_load(p) for p in chosen]
    seconds = [rng.uniform(2.5, 4.0) for _ in scenes]
    gop = rng.choice([None, 30, 60])  # x264's default (long, key frames on cuts), 1 s, 2 s
    original = os.path.join(folder, "original.mp4")
    render(original, scenes, size=SIZE, fps=FPS, seconds=seconds, gop=gop, seed=n)
    rows = [(original, group, "original")]
    for name, (ext, kw) in transforms(rng).items():
        path = os.path.join(folder, name + ext)
        transcode(original, path, gop=rng.choice([None, 30, 60]), **kw)
        rows.append((path, group, name))
    clips = {}  # other footage, not part of the library: around the clip, and for the traps
    for k, name in enumerate(("before", "after", "intro", "x", "y", "f1", "f2")):
        clips[name] = os.path.join(folder, f".{name}.mp4")
        length = 5.0 if name in ("f1", "f2") else 3.0
        render(clips[name], [_load(filler[k])], size=SIZE, fps=FPS, seconds=length, seed=n * 7 + k)
    compilation = os.path.join(folder, "compilation.mp4")
    transcode([clips["before"], original, clips["after"]], compilation)
    rows.append((compilation, group, "compilation"))
    negatives = os.path.join(out, "negatives")
    os.makedirs(negatives, exist_ok=True)
    for trap, parts in (("shared-intro", (["intro", "x"], ["intro", "y"])),
                        ("shared-fillers", (["x", "f1", "f2"], ["y", "f1", "f2"]))):  # fmt: skip
        for side, names in zip("ab", parts):
            path = os.path.join(negatives, f"{group}-{trap}-{side}.mp4")
            transcode([clips[c] for c in names], path)
            rows.append((path, f"neg-{group}-{trap}-{side}", trap))
    for p in clips.values():
        os.remove(p)
    negative = os.path.join(out, "negatives", f"{group}-reordered.mp4")
    os.makedirs(os.path.dirname(negative), exist_ok=True)
    order = scenes[::-1] if len(scenes) > 2 else scenes
    render(negative, order, size=SIZE, fps=FPS, seconds=seconds[::-1], gop=gop, seed=n + 5000)
    rows.append((negative, f"neg-{group}", "reordered"))
    return rows


def own_pictures(half: str, out: str) -> list[str]:
    """This project's own benchmark sources of one half (image_bench.py), saved as files once."""
    import image_bench

    folder = os.path.join(out, "_pictures", half)
    if not os.path.isdir(folder):
        os.makedirs(folder)
        chosen = [im for name, im in image_bench.collect(Path(DEFAULT_WORK)) if image_bench.half_of(name) == half]
        for k, im in enumerate(chosen):
            im.convert("RGB").save(os.path.join(folder, f"{k:04d}.jpg"), quality=92)
    return sorted(os.path.join(folder, f) for f in os.listdir(folder))


def make_phone(task: tuple[int, str, str]) -> list[tuple[str, str, str]]:
    """One phone clip (a single shot, one key frame) and the copy a messenger sends of it."""
    n, picture, out = task
    rng = random.Random(n)
    group = f"p{n:03d}"
    size = (1920, 1080) if n % 2 == 0 else (1080, 1920)
    original = os.path.join(out, f"VID_{n:04d}.mp4")
    render(original, [_load(picture)], size=size, fps=FPS, seconds=rng.uniform(5.0, 8.0), seed=n)
    sent = os.path.join(out, "sent", f"VID-2026-WA{n:04d}.mp4")
    reencode(original, sent, scale=0.5, bitrate=450_000)
    return [(original, group, "original"), (sent, group, "messenger")]


def build(pics: list[str], out: str, videos: int, jobs: int, phone: bool = False) -> dict[str, tuple[str, str]]:
    truth_file = os.path.join(out, "truth.json")
    if os.path.exists(truth_file):
        with open(truth_file) as f:
            return {k: tuple(v) for k, v in json.load(f).items()}
    for entry in os.listdir(out) if os.path.isdir(out) else []:
        if entry != "_pictures":
            shutil.rmtree(os.path.join(out, entry), ignore_errors=True)
    rng = random.Random(0)
    tasks: list = []
    if phone:
        os.makedirs(os.path.join(out, "sent"), exist_ok=True)
        tasks = [(n, p, out) for n, p in enumerate(rng.sample(pics, videos))]
    for n in range(0 if phone else videos):
        chosen = rng.sample(pics, rng.randint(3, 5))
        filler = rng.sample([p for p in pics if p not in chosen], 7)
        tasks.append((n, chosen, filler, out))
    started = time.time()
    with Pool(jobs) as pool:
        rows = [r for rs in pool.imap_unordered(make_phone if phone else make_one, tasks) for r in rs]
    truth = {os.path.relpath(p, out): (g, t) for p, g, t in rows}
    with open(truth_file, "w") as f:
        json.dump(truth, f, indent=1)
    print(f"built {len(truth)} videos in {time.time() - started:.0f} s")
    return truth


def score(truth: dict[str, tuple[str, str]], groups: list[list[str]]) -> None:
    predicted = {frozenset(p) for g in groups for p in combinations(sorted(g), 2)}
    true_pairs = sum(1 for p in predicted if len({truth[x][0] for x in p}) == 1)
    precision = true_pairs / len(predicted) if predicted else 1.0
    # a clip inside a compilation is shown with the keeper of its own group: files linked
    # through groups that share a file count as found together
    links = UnionFind()
    for g in groups:
        for x in g[1:]:
            links.union(g[0], x)
    together = {x: set(c) for c in links.components() for x in c}
    print(f"pairs predicted {len(predicted)}, true {true_pairs}, false {len(predicted) - true_pairs}")
    print(f"precision {precision:.4f}")
    by_kind: dict[str, list[bool]] = defaultdict(list)
    originals = {g: p for p, (g, t) in truth.items() if t == "original"}
    for p, (g, t) in truth.items():
        if t == "original":
            continue
        if t in TRAPS:
            by_kind[f"{t} (must not match)"].append(not together.get(p, {p}) - {p})
        else:
            by_kind[t].append(originals[g] in together.get(p, set()))
    for t, hits in sorted(by_kind.items()):
        print(f"  {t:32} {sum(hits) / len(hits):.3f}  ({sum(hits)}/{len(hits)})")
    for level in ("easy", "medium", "hard"):
        hits = [h for t, hs in by_kind.items() if CLASSES.get(t) == level for h in hs]
        if hits:
            print(f"  class {level:26} {sum(hits) / len(hits):.3f}  ({sum(hits)}/{len(hits)})")


def run(out: str, truth: dict[str, tuple[str, str]], levels: list[str], jobs: int, label: str) -> None:
    catalog = os.path.join(out, "..", f"{os.path.basename(out)}.sqlite")
    if os.path.exists(catalog):
        os.remove(catalog)
    for level in levels:  # one catalog: only the first scan decodes
        started = time.time()
        result = scan(out, level=level, catalog=catalog, jobs=jobs, exclude=["_pictures"])
        first = time.time() - started
        started = time.time()
        scan(out, level=level, catalog=catalog, jobs=jobs, exclude=["_pictures"])
        again = time.time() - started
        minutes = sum(_seconds(os.path.join(out, p)) for p in truth) / 60
        print(f"{label}: {len(truth)} videos ({minutes:.1f} min of footage), level {level}: scan {first:.1f} s "
              f"({first / len(truth):.3f} s a video, {first / max(minutes, 1e-9):.2f} s a minute of footage, "
              f"{jobs} jobs), rescan {again:.2f} s")  # fmt: skip
        if result.skipped:
            print(f"skipped: {[(s.path, s.reason) for s in result.skipped][:5]}")
        # videos that only share a part with a group's keeper are shown, not claimed as copies
        groups = [[os.path.relpath(m.path, out) for m in g.members if m.relation is not Relation.OVERLAPS]
                  for g in result.groups]  # fmt: skip
        shared = sum(m.relation is Relation.OVERLAPS for g in result.groups for m in g.members)
        print(f"videos shown as sharing a part with another (not copies): {shared}")
        score(truth, groups)


def _seconds(path: str) -> float:
    with av.open(path) as container:
        return (container.duration or 0) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", choices=["own", "shared"], default="own")
    ap.add_argument("--half", choices=["report", "tune", "both"], default="report", help="with --sources own")
    ap.add_argument("--bench", default=os.environ.get("MEDIADUP_BENCH", "/tmp/mediadup-bench/dev"),
                    help="with --sources shared: the shared bench's folder")  # fmt: skip
    ap.add_argument("--out", default="/tmp/mediadup-video-bench")
    ap.add_argument("--videos", type=int, default=15, help="originals per half (or in all, with --sources shared)")
    ap.add_argument("--levels", nargs="+", default=["normal"], choices=["strict", "normal", "loose"])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--phone", type=int, default=0, metavar="N",
                    help="instead: N phone clips per half and the copies a messenger sent")  # fmt: skip
    args = ap.parse_args()
    if args.sources == "shared":
        out = args.out + "-shared"
        truth = build(pictures(args.bench, 10_000), out, args.videos, args.jobs)
        run(out, truth, args.levels, args.jobs, "shared bench's photographs")
        return
    for half in ("tune", "report") if args.half == "both" else (args.half,):
        out = f"{args.out}-{half}"
        pictures_of_half = own_pictures(half, out)
        if args.phone:
            out = f"{args.out}-phone-{half}"
            truth = build(pictures_of_half, out, args.phone, args.jobs, phone=True)
            run(out, truth, args.levels, args.jobs, f"{half} half, phone clips")
            continue
        truth = build(pictures_of_half, out, args.videos, args.jobs)
        run(out, truth, args.levels, args.jobs, f"{half} half")


if __name__ == "__main__":
    main()
