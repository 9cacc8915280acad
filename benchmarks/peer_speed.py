"""First scan and rescan of one folder, mediadup against czkawka's image finder (its PyPI bindings).

Each run is a fresh process; the two tools run in turn (A B A B ...), and the ratio is taken pair
by pair, so a drifting machine does not tilt the comparison. A first scan starts from nothing
(mediadup: a new catalog; czkawka: a new cache folder); a rescan reuses what the first scan left.
mediadup's candidate search is compiled (numba) once per installation: that is timed apart,
before the runs, and not counted in each first scan. Also timed: the floor of any first scan in
Python that looks at every picture (start Python, import Pillow, decode each picture at the
smallest size its format allows, on as many processes as jobs).

    pip install czkawka
    python benchmarks/peer_speed.py [FOLDER] [--runs 3] [--jobs 2]

FOLDER defaults to the report half of the image benchmark (`python benchmarks/image_bench.py build`).
czkawka runs at its similarity 10 (its "high" preset); mediadup at its default level.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEDIADUP = """
import sys, mediadup
r = mediadup.scan(sys.argv[1], catalog=sys.argv[2], jobs=int(sys.argv[3]))
print(len(r.groups), "groups")
"""
CZKAWKA = """
import sys
from czkawka import ImageSimilarity
finder = ImageSimilarity()
finder.set_directories([sys.argv[1]])
finder.set_similarity(10)
print(len(finder.find_similar()), "groups")
"""
# the floor of any first scan in Python that looks at every picture: start, import Pillow, and
# decode each picture at the smallest size its format allows (JPEG at 1/8 scale) on `jobs` processes
FLOOR = """
import os, sys
from multiprocessing import Pool
from PIL import Image
def decode(path):
    with Image.open(path) as im:
        im.draft("RGB", (64, 64))
        im.load()
if __name__ == "__main__":
    paths = [os.path.join(d, f) for d, _, names in os.walk(sys.argv[1]) for f in names]
    with Pool(int(sys.argv[2])) as pool:
        pool.map(decode, [p for p in paths if p.lower().endswith((".jpg", ".jpeg", ".png", ".webp"))], chunksize=8)
"""


def timed(code: str, args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - started, out.stdout.strip()


def timed_file(script: Path, args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, str(script), *args], capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", default="/tmp/mediadup-bench2/report")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    files = sum(len(names) for _, _, names in os.walk(args.folder))
    print(f"{args.folder}: {files} files, {args.jobs} jobs, {args.runs} runs of each, in turn")
    rows: dict[str, list[tuple[float, float]]] = {"first scan": [], "rescan": []}
    # mediadup's search is compiled once per installation (numba's cache): timed apart, on an
    # empty folder, so that each first scan below is a first scan of the folder, not of the install
    compiled = tempfile.TemporaryDirectory()
    empty = Path(compiled.name, "two")
    empty.mkdir()
    for n, picture in enumerate(sorted(Path(args.folder).rglob("*.jpg"))[:2]):  # two: a candidate search
        shutil.copy(picture, empty / f"{n}.jpg")
    numba = {"NUMBA_CACHE_DIR": str(Path(compiled.name, "numba"))}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **numba, "XDG_CACHE_HOME": tmp}
        once, _ = timed(MEDIADUP, [str(empty), str(Path(tmp, "c.sqlite")), str(args.jobs)], env)
        warm, _ = timed(MEDIADUP, [str(empty), str(Path(tmp, "d.sqlite")), str(args.jobs)], env)
    print(
        f"  compiling mediadup's search, once per installation: {once - warm:.1f} s "
        f"(a two-picture scan: {once:.1f} s on a fresh install, {warm:.1f} s after)"
    )
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            catalog = str(Path(tmp, "catalog.sqlite"))
            env = {**os.environ, **numba, "XDG_CACHE_HOME": str(Path(tmp, "cache"))}
            for label in rows:
                ours, said = timed(MEDIADUP, [args.folder, catalog, str(args.jobs)], env)
                theirs, they_said = timed(CZKAWKA, [args.folder], env)
                rows[label].append((ours, theirs))
                line = f"mediadup {ours:6.2f} s ({said}), czkawka {theirs:6.2f} s ({they_said})"
                print(f"  run {run + 1} {label:10} {line}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp, "floor.py")  # (a file: the pool's workers import its `decode`)
        script.write_text(FLOOR)
        floors = [timed_file(script, [args.folder, str(args.jobs)]) for _ in range(args.runs)]
    low, high = min(floors), max(floors)
    print(f"  decoding alone (Python, Pillow, each picture at its smallest size, {args.jobs} processes): "
          f"{statistics.median(floors):.2f} s median of {args.runs} (min {low:.2f}, max {high:.2f})")  # fmt: skip
    print(f"{'':12} {'mediadup s':>11} {'czkawka s':>10} {'czkawka / mediadup, pair by pair':>34}")
    for label, pairs in rows.items():
        ratios = [theirs / ours for ours, theirs in pairs]
        ours, theirs = statistics.median(o for o, _ in pairs), statistics.median(t for _, t in pairs)
        print(f"{label:12} {ours:11.2f} {theirs:10.2f} "
              f"{statistics.median(ratios):14.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
