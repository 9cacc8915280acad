"""Video benchmark: footage rendered from real photographs, transformed copies, and scoring.

Each original is a few scenes (camera pans and zooms over photographs, cut one after the other);
its copies are re-encoded, rescaled, re-muxed, slowed in frame rate, trimmed, letterboxed,
watermarked, grayscale, cut to a sub-clip, mirrored, cropped, or placed inside a compilation.
Negatives are distinct videos made from the same photographs in another order: they must not
match. Prints pair precision and, per transform, the recall against the original.

    python benchmarks/video_accuracy.py [--bench /tmp/mediadup-bench/dev] [--videos 30] [--levels strict normal loose]
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

from PIL import Image, ImageDraw, ImageOps

from mediadup import scan
from mediadup.match.components import UnionFind
from mediadup.measure.footage import render, transcode

SIZE = (480, 270)
FPS = 30


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
        "fps-30-15": (".mp4", {"fps": 15}),
        "trim-10": (".mp4", {"start": 0.1, "end": 0.9}),
        "letterbox": (".mp4", {"frame_fn": letterbox}),
        "watermark": (".mp4", {"frame_fn": watermark}),
        "grayscale": (".mp4", {"frame_fn": gray}),
        "sub-clip": (".mp4", {"start": start, "end": min(1.0, start + part)}),
        "mirror": (".mp4", {"frame_fn": ImageOps.mirror}),
        "crop-15": (".mp4", {"frame_fn": crop15}),
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
    tmp = [os.path.join(folder, f".filler{k}.mp4") for k in range(2)]
    for k, p in enumerate(tmp):  # other footage around the clip, not part of the library
        render(p, [_load(q) for q in filler[2 * k : 2 * k + 2]], size=SIZE, fps=FPS, seconds=3.0, seed=n * 7 + k)
    compilation = os.path.join(folder, "compilation.mp4")
    transcode([tmp[0], original, tmp[1]], compilation)
    rows.append((compilation, group, "compilation"))
    for p in tmp:
        os.remove(p)
    negative = os.path.join(out, "negatives", f"{group}-reordered.mp4")
    os.makedirs(os.path.dirname(negative), exist_ok=True)
    order = scenes[::-1] if len(scenes) > 2 else scenes
    render(negative, order, size=SIZE, fps=FPS, seconds=seconds[::-1], gop=gop, seed=n + 5000)
    rows.append((negative, f"neg-{group}", "reordered"))
    return rows


def build(bench: str, out: str, videos: int, jobs: int) -> dict[str, tuple[str, str]]:
    truth_file = os.path.join(out, "truth.json")
    if os.path.exists(truth_file):
        with open(truth_file) as f:
            return {k: tuple(v) for k, v in json.load(f).items()}
    shutil.rmtree(out, ignore_errors=True)
    pics = pictures(bench, 10_000)
    rng = random.Random(0)
    tasks = []
    for n in range(videos):
        chosen = rng.sample(pics, rng.randint(3, 5))
        filler = rng.sample([p for p in pics if p not in chosen], 4)
        tasks.append((n, chosen, filler, out))
    started = time.time()
    with Pool(jobs) as pool:
        rows = [r for rs in pool.imap_unordered(make_one, tasks) for r in rs]
    truth = {os.path.relpath(p, out): (g, t) for p, g, t in rows}
    with open(truth_file, "w") as f:
        json.dump(truth, f, indent=1)
    print(f"built {len(truth)} videos in {time.time() - started:.0f} s")
    return truth


def score(out: str, truth: dict[str, tuple[str, str]], groups: list[list[str]]) -> None:
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
    by_transform: dict[str, list[bool]] = defaultdict(list)
    originals = {g: p for p, (g, t) in truth.items() if t == "original"}
    for p, (g, t) in truth.items():
        if t == "original":
            continue
        if t == "reordered":
            by_transform["reordered (must not match)"].append(not together.get(p, {p}) - {p})
        else:
            by_transform[t].append(originals[g] in together.get(p, set()))
    for t, hits in sorted(by_transform.items()):
        print(f"  {t:28} {sum(hits) / len(hits):.3f}  ({sum(hits)}/{len(hits)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.environ.get("MEDIADUP_BENCH", "/tmp/mediadup-bench/dev"))
    ap.add_argument("--out", default="/tmp/mediadup-video-bench")
    ap.add_argument("--videos", type=int, default=30)
    ap.add_argument("--levels", nargs="+", default=["normal"], choices=["strict", "normal", "loose"])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    truth = build(args.bench, args.out, args.videos, args.jobs)
    catalog = os.path.join(args.out, "..", "mediadup-video-bench.sqlite")
    if os.path.exists(catalog):
        os.remove(catalog)
    for level in args.levels:  # one catalog: only the first scan decodes
        started = time.time()
        result = scan(args.out, level=level, catalog=catalog, jobs=args.jobs)
        first = time.time() - started
        started = time.time()
        scan(args.out, level=level, catalog=catalog, jobs=args.jobs)
        again = time.time() - started
        print(f"{len(truth)} videos, level {level}: scan {first:.1f} s, rescan {again:.2f} s")
        if result.skipped:
            print(f"skipped: {[(s.path, s.reason) for s in result.skipped][:5]}")
        groups = [[os.path.relpath(m.path, args.out) for m in g.members] for g in result.groups]
        score(args.out, truth, groups)


if __name__ == "__main__":
    main()
