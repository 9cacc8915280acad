"""Video fingerprinting cost against decoding every frame, on 1080p H.264 footage.

Renders 1080p clips from real photographs (camera pans, scene cuts) with a key frame every
second (as phones and cameras write them), every two seconds, and x264's default (key frames at
scene cuts, at most every 250 frames), then times, on the same files, in the same run:
- mediadup's fingerprint (probe, sampling, hashing), one process;
- decoding every frame with PyAV, one thread, and with FFmpeg's own threads (the fastest a
  full decode gets on this machine).

    python benchmarks/video_speed.py [--seconds 60] [--out /tmp/mediadup-video-speed]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import av

from mediadup.fingerprint.video import fingerprint_video
from mediadup.measure.footage import render

GOPS = {"key frame every 1 s": 30, "key frame every 2 s": 60, "x264 default (250, cuts)": None}


def full_decode(path: str, threads: str) -> int:
    with av.open(path) as c:
        s = c.streams.video[0]
        s.thread_type = threads
        return sum(1 for _ in c.decode(s))


def best(repeat: int, fn, *args) -> float:
    """The fastest of a few runs (the machine's noise only ever adds time)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return min(times)


def photos(bench: str, n: int) -> list:
    from PIL import Image

    with open(os.path.join(bench, "truth.json")) as f:
        truth = json.load(f)
    paths = sorted(os.path.join(bench, p) for p, v in truth.items() if v["transform"] == "original")[:n]
    out = []
    for p in paths:
        im = Image.open(p)
        im.draft("RGB", (2400, 2400))
        out.append(im.convert("RGB"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.environ.get("MEDIADUP_BENCH", "/tmp/mediadup-bench/dev"))
    ap.add_argument("--out", default="/tmp/mediadup-video-speed")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    scenes = None
    print(f"{args.seconds:.0f} s of 1920x1080 H.264 at 30 fps per file")
    print(f"{'file':28} {'frames':>6} {'fingerprint':>11} {'samples':>7} {'full 1 thread':>13} {'full threads':>12}"
          f" {'ratio':>6} {'s/min':>6}")  # fmt: skip
    for name, gop in GOPS.items():
        path = os.path.join(args.out, f"1080p-gop{gop or 'default'}-{args.seconds:.0f}s.mp4")
        if not os.path.exists(path):
            scenes = scenes or photos(args.bench, max(2, int(args.seconds / 6)))
            render(path, scenes, size=(1920, 1080), fps=30, seconds=args.seconds / len(scenes), gop=gop, seed=3)
        fp = fingerprint_video(path)
        fingerprint = best(args.repeat, fingerprint_video, path)
        frames = full_decode(path, "SLICE")
        single = best(args.repeat, full_decode, path, "SLICE")
        threaded = best(args.repeat, full_decode, path, "AUTO")
        per_minute = fingerprint / (fp.info.duration / 60)
        print(f"{name:28} {frames:6d} {fingerprint:10.2f}s {len(fp.times):7d} {single:12.2f}s {threaded:11.2f}s"
              f" {fingerprint / single:6.3f} {per_minute:6.2f}")  # fmt: skip
    print("ratio: fingerprint time / one-thread full decode; s/min: fingerprint seconds per minute of footage")


if __name__ == "__main__":
    main()
