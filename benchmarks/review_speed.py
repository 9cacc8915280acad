"""How quickly `mediadup review` serves a large scan, and its memory.

Makes a library of N groups (byte-identical pairs of small distinct pictures, scanned with
--exact-only so that the scan is quick), starts `mediadup review --no-browser --port 0`, and
times: start to listening, the first page (HTML, script, groups), the next page, a re-sorted and
a filtered page, the 50 thumbnails of a page, and (with Chromium) a browser showing the first
page. Prints the server's peak memory.

    python benchmarks/review_speed.py [--groups 10000] [--runs 5] [--browser]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image


def make_library(root: Path, groups: int) -> None:
    rng = np.random.default_rng(0)
    for n in range(groups):
        folder = root / f"{n // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        cells = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        Image.fromarray(cells).resize((64, 48), Image.Resampling.BICUBIC).save(folder / f"{n:05d}.png")
        shutil.copyfile(folder / f"{n:05d}.png", folder / f"{n:05d} copy.png")


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--browser", action="store_true", help="also time Chromium (Debian's) showing the first page")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, catalog = Path(tmp) / "lib", str(Path(tmp) / "c.sqlite")
        t = time.perf_counter()
        make_library(root, args.groups)
        made = time.perf_counter() - t
        t = time.perf_counter()
        command = ["scan", str(root), "--exact-only", "-q", "--catalog", catalog]
        subprocess.run([sys.executable, "-m", "mediadup", *command], check=True, stdout=subprocess.DEVNULL)
        print(f"{args.groups} groups: library made in {made:.1f} s, scanned (--exact-only) in "
              f"{time.perf_counter() - t:.1f} s")  # fmt: skip
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "mediadup", "review", "--catalog", catalog, "--no-browser"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        listening = time.perf_counter() - t
        parts = urlsplit(url)
        token = parts.query.removeprefix("token=")

        def get(path: str) -> bytes:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            conn.request("GET", path, headers={"X-Mediadup-Token": token})
            response = conn.getresponse()
            data = response.read()
            conn.close()
            assert response.status == 200, (path, response.status, data[:200])
            return data

        def timed(label: str, paths: list[str]) -> None:
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                for p in paths:
                    get(p)
                times.append(time.perf_counter() - t)
            print(f"{label:<40} median {statistics.median(times) * 1000:8.1f} ms  (min {min(times) * 1000:.1f}, "
                  f"{args.runs} runs)")  # fmt: skip

        try:
            t = time.perf_counter()
            get(f"/?token={token}")
            get(f"/static/review.js?token={token}")
            first = get("/api/groups")
            print(f"{'start to listening':<40} {listening * 1000:15.1f} ms")
            print(f"{'first page, first time (groups loaded)':<40} {(time.perf_counter() - t) * 1000:15.1f} ms")
            timed("first page (HTML, script, 50 groups)", [f"/?token={token}", f"/static/review.js?token={token}",
                                                          "/api/groups"])  # fmt: skip
            timed("next page", ["/api/groups?page=1"])
            timed("a page far on", [f"/api/groups?page={args.groups // 100}"])
            timed("sorted by similarity", ["/api/groups?sort=similarity"])
            timed("filtered by folder", ["/api/groups?folder=/03/"])
            import json

            ids = [f["id"] for g in json.loads(first)["groups"] for f in g["files"]]
            timed("50 groups' thumbnails (first: made)", [f"/thumb/{i}?token={token}" for i in ids])
            if args.browser:
                from playwright.sync_api import sync_playwright

                chromium = shutil.which("chromium") or shutil.which("chromium-browser")
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
                    page = browser.new_page()
                    times = []
                    for _ in range(args.runs):
                        t = time.perf_counter()
                        page.goto(url)
                        page.locator("[data-group]").nth(49).wait_for()
                        times.append(time.perf_counter() - t)
                    browser.close()
                print(f"{'browser: URL to 50 groups on screen':<40} median {statistics.median(times) * 1000:8.1f} ms")
            print(f"server peak memory: {peak_kb(proc.pid) / 1024:.0f} MB (VmHWM)")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    os.environ.setdefault("MEDIADUP_DEBUG", "")
    main()
