"""A large library: discovery, cataloguing and the rescan of an unchanged tree, with peak memory.

Generates a tree of N small files (default 200,000) in 100 files per folder: tiny distinct PNG
and JPEG pictures (60 %), some byte-identical copies among them, and other files (notes, JSON,
sidecars). Then scans it three times in a fresh process each time (first scan, rescan of the
unchanged tree, rescan after renaming the tree's folder), and prints files/s, seconds and the
peak resident memory of the scan (its own process and its workers): their proportional set size
(PSS: a page the processes share, such as the libraries' code, divided among them) and their RSS
summed (such a page counted once in each).

    python benchmarks/library_speed.py [--files 200000] [--out /tmp/mediadup-library] [--jobs 2] [--smooth]

`--smooth` makes the pictures look alike, as skies, fog and product shots do: 75 % of the files
are random 4x4 colour cells smoothly upscaled to 32x32 PNG, one in 50 also saved again at 48x48
(a true copy); the rest are text files. Their hashes crowd into small Hamming balls, which is
what bounds the candidate search (see the summary's candidate counts).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image


def build(root: str, files: int, smooth: bool = False) -> None:
    marker = os.path.join(root, ".complete")
    label = f"{files} {'smooth' if smooth else 'blocky'}"
    if os.path.exists(marker) and Path(marker).read_text() in (label, str(files) if not smooth else ""):
        return
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    pick = random.Random(0)
    started = time.time()
    previous: bytes | None = None
    for n in range(files):
        folder = os.path.join(root, f"{n // 10000:02d}", f"{n // 100 % 100:02d}")
        if n % 100 == 0:
            os.makedirs(folder, exist_ok=True)
        kind = pick.random()
        if smooth and kind < 0.75:
            cells = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            image = Image.fromarray(cells).resize((32, 32), Image.Resampling.BICUBIC)
            image.save(os.path.join(folder, f"f{n:07d}.png"))
            if pick.random() < 0.02:
                image.resize((48, 48), Image.Resampling.BICUBIC).save(os.path.join(folder, f"f{n:07d}-copy.png"))
            continue
        if kind < 0.6 and not smooth:
            if previous is not None and pick.random() < 0.05:  # a byte-identical copy
                data, ext = previous, ".png"
            else:
                cells = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # blocky: distinct hashes, like photos
                image = Image.fromarray(cells).resize((32, 32), Image.Resampling.NEAREST)
                buffer = io.BytesIO()
                ext = ".png" if kind < 0.4 else ".jpg"
                image.save(buffer, "PNG" if ext == ".png" else "JPEG", quality=90)
                data = buffer.getvalue()
                previous = data if ext == ".png" else previous
        else:
            ext = pick.choice([".txt", ".json", ".xmp"])
            data = f"note {n} {pick.random()}\n".encode() * pick.randint(1, 20)
        with open(os.path.join(folder, f"f{n:07d}{ext}"), "wb") as f:
            f.write(data)
    with open(os.path.join(root, ".complete"), "w") as f:
        f.write(label)
    print(f"built {files} files in {time.time() - started:.0f} s")


def _session_memory(sid: int) -> tuple[int, int]:
    """Resident kB of every process in a session (the scan, its forkserver and its workers): their
    RSS summed (a page shared by several, such as a library's code, counted in each) and their
    PSS summed (a shared page divided among those sharing it: what the machine gives them)."""
    rss = pss = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[3]) != sid:  # field 6 of stat: session id (after pid and comm)
                continue
            with open(f"/proc/{pid}/smaps_rollup") as f:
                kb = {line.split(":")[0]: int(line.split()[1]) for line in f if line.startswith(("Rss:", "Pss:"))}
            rss, pss = rss + kb.get("Rss", 0), pss + kb.get("Pss", 0)
        except (OSError, IndexError, ValueError):
            continue
    return rss, pss


def run_scan(root: str, catalog: str, jobs: int) -> tuple[float, tuple[float, float], str]:
    """Seconds, the peak memory in MB of the scan and its workers together (summed RSS, summed PSS;
    sampled every 0.2 s), and the summary line."""
    cmd = [sys.executable, "-c", _CHILD, root, catalog, str(jobs)]
    started = time.time()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
    peak_rss = peak_pss = 0
    while child.poll() is None:
        rss, pss = _session_memory(child.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.2)
    seconds = time.time() - started
    out = child.stdout.read() if child.stdout else ""
    if child.returncode:
        raise SystemExit(f"scan failed with status {child.returncode}")
    return seconds, (peak_rss / 1024, peak_pss / 1024), out.strip()


_CHILD = """
import resource, sys, time
import mediadup
t = time.time()
r = mediadup.scan(sys.argv[1], catalog=sys.argv[2], jobs=int(sys.argv[3]))
s = r.summary
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"  {s.files_seen} files, {s.images} images, {s.fingerprinted} fingerprinted, {s.from_cache} cached, "
      f"{len(r.groups)} groups, {len(r.skipped)} skipped, {s.compared} pairs compared, {s.turned_away} turned away "
      f"at a first look, {s.left_out} left out by the limit ({s.crowded} crowded pictures); "
      f"scan {time.time() - t:.1f} s ("
      + ", ".join(f"{name} {seconds:.1f}" for name, seconds in s.stages.items() if seconds >= 0.05)
      + f"); peak RSS of the main process {own:.0f} MB")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--out", default="/tmp/mediadup-library")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--smooth", action="store_true", help="pictures that look alike (see above)")
    args = ap.parse_args()
    build(args.out, args.files, args.smooth)
    catalog = args.out + ".sqlite"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(catalog + suffix):
            os.remove(catalog + suffix)
    moved = args.out + "-moved"
    for label in ("first scan", "rescan (unchanged)", "moved tree"):
        root = args.out
        if label == "moved tree":  # the same files under another name: found again by inode
            os.rename(args.out, moved)
            root = moved
        try:
            seconds, peak, summary = run_scan(root, catalog, args.jobs)
        finally:
            if root == moved:
                os.rename(moved, args.out)
        print(f"{label:20} {seconds:7.1f} s  {args.files / seconds:9.0f} files/s (with Python's start); "
              f"peak memory of the scan and its workers together: {peak[1]:.0f} MB PSS ({peak[0]:.0f} MB RSS summed, "
              f"shared pages counted in each process)")  # fmt: skip
        print(summary)
    print(f"catalog {os.path.getsize(catalog) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
