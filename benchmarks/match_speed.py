"""Speed, peak memory and recall of candidate matching on synthetic 64-bit fingerprints.

For each N it builds an (N, views) uint64 matrix laid out like ImageFingerprint.hashes (random
pictures, plus planted near-duplicates: copies with k <= radius flipped bits; planted rotated
copies: the copy's dihedral hashes are the original's, permuted as the rotation composes, with a
few flipped bits; and planted crops: the copy's picture hash is one of the original's crop-window
hashes with a few flipped bits), then measures, each in a fresh subprocess so that peak RSS does
not accumulate:

- `group`:  the whole grouping as a scan runs it, the hashes stored in a catalog first (by another
  subprocess: hashes only, no thumbnails) and read from it by the search a slice at a time:
  mediadup.match.candidates.candidate_pairs(catalog.image_hashes(ids), level, shapes=...)
  (picture hashes, 8 turns, 86 crop windows, the windows against quarter-turned pictures of the other
  orientation, shared windows, average hashes; a camera-and-phone mix of shapes: 60 % wider than
  tall, 30 % taller than wide, 10 % nearly square), then match.connect with a stand-in
  verifier (no thumbnails here: a pair is accepted when its closest views are within the radius)
  and the groups; recall of the three kinds of planted pairs (is the copy in its original's group?);
- `search`: HammingIndex(col0).search(col0, radius), recall of planted near-duplicates and, for
  N <= --check-max, exact agreement with a brute-force NumPy Hamming scan over sampled queries.
"base MB" is the peak RSS once the data is built (for `group`, the catalog opened: the data stay in it),
"peak MB" the peak RSS after the measured call.

Run:  /tmp/venv/bin/python benchmarks/match_speed.py [--sizes 10000 100000 1000000] [--level normal]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from mediadup.fingerprint.image import FIRST_WINDOW, INNER, N_DIHEDRAL, NO_INNER, WINDOWS, Stored
from mediadup.fingerprint.phash import DIHEDRAL
from mediadup.match.candidates import candidate_pairs, connect
from mediadup.match.compare import LEVELS, Level
from mediadup.match.components import UnionFind
from mediadup.match.index import HammingIndex
from mediadup.records import FileStat, Kind
from mediadup.store.catalog import Catalog

VIEWS = INNER + 1
SCREENSHOTS = 0.01  # items with a picture inside window chrome (an inner view)


def compose_table() -> np.ndarray:
    """table[u, v] = w: applying DIHEDRAL[v], then DIHEDRAL[u], is DIHEDRAL[w]."""
    probe = np.arange(12).reshape(3, 4)
    shapes = [d.apply(probe) for d in DIHEDRAL]
    table = np.zeros((N_DIHEDRAL, N_DIHEDRAL), dtype=np.int64)
    for u, du in enumerate(DIHEDRAL):
        for v, dv in enumerate(DIHEDRAL):
            moved = du.apply(dv.apply(probe))
            table[u, v] = next(w for w, s in enumerate(shapes) if s.shape == moved.shape and (s == moved).all())
    return table


def flip(rng: np.random.Generator, codes: np.ndarray, max_flips: int) -> np.ndarray:
    """Each code with k distinct random bits flipped, k uniform in 0..max_flips."""
    k = rng.integers(0, max_flips + 1, size=codes.shape)
    masks = np.zeros(codes.shape, dtype=np.uint64)
    while (short := np.bitwise_count(masks) < k).any():  # add random bits until k distinct are set
        masks[short] |= np.uint64(1) << rng.integers(0, 64, int(short.sum()), dtype=np.uint64)
    return codes ^ masks


def synthetic(n: int, near: float, rotated: float, cropped: float, level: Level, seed: int):
    """(hashes, planted near pairs, rotated pairs, cropped pairs); pairs are (original, copy) rows."""
    rng = np.random.default_rng(seed)
    radius, view_radius = level.radius, level.view_radius
    n_near, n_rot, n_crop = int(n * near), int(n * rotated), int(n * cropped)
    n_orig = n - n_near - n_rot - n_crop
    hashes = rng.integers(0, 2**64, size=(n, VIEWS), dtype=np.uint64, endpoint=False)
    near_src = rng.choice(n_orig, n_near, replace=False)
    near_dst = np.arange(n_orig, n_orig + n_near)
    hashes[near_dst] = flip(rng, hashes[near_src], radius)  # every view a little changed
    rot_src = rng.choice(n_orig, n_rot, replace=False)
    rot_dst = np.arange(n_orig + n_near, n_orig + n_near + n_rot)
    turn = rng.integers(1, N_DIHEDRAL, size=n_rot)  # the copy is DIHEDRAL[turn] of its original
    table = compose_table()
    for u in range(N_DIHEDRAL):  # copy's view u = original's view (u after turn)
        hashes[rot_dst, u] = flip(rng, hashes[rot_src, table[u, turn]], view_radius)
    crop_src = rng.choice(n_orig, n_crop, replace=False)
    crop_dst = np.arange(n - n_crop, n)
    window = FIRST_WINDOW + rng.integers(0, len(WINDOWS), size=n_crop)  # the copy shows that window
    hashes[crop_dst, 0] = flip(rng, hashes[crop_src, window], level.window_radius)
    hashes[rng.random(n) >= SCREENSHOTS, INNER] = NO_INNER  # the others have no picture inside window chrome
    pairs = (np.stack(p, 1) for p in ((near_src, near_dst), (rot_src, rot_dst), (crop_src, crop_dst)))
    return hashes, *pairs


def recall(found: np.ndarray, planted: np.ndarray, n: int) -> float:
    if not len(planted):
        return float("nan")
    key = np.sort(planted, axis=1)
    return float(np.isin(key[:, 0] * n + key[:, 1], found[:, 0] * n + found[:, 1]).mean())


def group_recall(group_of: dict[int, int], planted: np.ndarray) -> float:
    """Fraction of planted (original, copy) pairs that ended in one group."""
    if not len(planted):
        return float("nan")
    return float(np.mean([group_of.get(a, -1) == group_of.get(b, -2) for a, b in planted.tolist()]))


def stand_in_verifier(hashes: np.ndarray, level: Level):
    """Accept a pair when the closest of one's views to the other's picture hash (either way) is
    within the window radius: what the thumbnail comparison decides on real pictures."""

    def verify(pairs: list[tuple[int, int]]) -> list[bool]:
        if not pairs:
            return []
        a, b = np.array(pairs).T
        views_a, views_b = hashes[a], hashes[b]
        ab = np.bitwise_count(views_a ^ views_b[:, :1]).min(axis=1)
        ba = np.bitwise_count(views_b ^ views_a[:, :1]).min(axis=1)
        return (np.minimum(ab, ba) <= max(level.radius, level.window_radius)).tolist()

    return verify


def brute_force_agrees(col0: np.ndarray, q: np.ndarray, i: np.ndarray, d: np.ndarray, radius: int, sample: int) -> bool:
    """Do the index's hits for `sample` random queries equal a full Hamming scan's?"""
    rng = np.random.default_rng(1)
    for query in rng.choice(len(col0), min(sample, len(col0)), replace=False):
        dist = np.bitwise_count(col0 ^ col0[query])
        want = {(int(j), int(dist[j])) for j in np.flatnonzero(dist <= radius)}
        mine = q == query
        if want != set(zip(i[mine].tolist(), d[mine].tolist())):
            return False
    return True


def store(hashes: np.ndarray, path: str) -> list[int]:
    """The fingerprints stored in a catalog at `path` as a scan stores them (hashes only): their ids."""
    ids: list[int] = []
    with Catalog(path) as catalog:
        for start in range(0, len(hashes), 50_000):
            rows = range(start, min(start + 50_000, len(hashes)))
            files = [FileStat(f"/synthetic/{k}.jpg", 1, 0, 1, k + 1, Kind.IMAGE) for k in rows]
            known = catalog.refresh(files)
            ids += [known[f.path].id for f in files]
            empty = (Stored(hashes[k].tobytes(), b"", b"", "{}", b"", True) for k in rows)
            catalog.store_fingerprints((i, Kind.IMAGE, fp, None, None) for i, fp in zip(ids[start:], empty))
    return ids


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def prepare(n: int, args: argparse.Namespace) -> None:
    """The synthetic fingerprints of N items stored in a catalog in args.data, with the planted pairs."""
    hashes, near, rot, crop = synthetic(n, args.near, args.rotated, args.cropped, LEVELS[args.level], args.seed)
    ids = store(hashes, os.path.join(args.data, "catalog.sqlite"))
    np.savez(os.path.join(args.data, "planted.npz"), ids=ids, near=near, rot=rot, crop=crop)


def run_one(n: int, op: str, args: argparse.Namespace) -> dict:
    level = LEVELS[args.level]
    out: dict = {"n": n, "op": op, "check": "", "rotated": None, "cropped": None}
    if op == "group":
        planted = np.load(os.path.join(args.data, "planted.npz"))
        near, rot, crop = planted["near"], planted["rot"], planted["crop"]
        with (
            Catalog(os.path.join(args.data, "catalog.sqlite")) as catalog,
            catalog.image_hashes(planted["ids"].tolist()) as hashes,
        ):
            out["base_mb"] = rss_mb()
            t = time.perf_counter()
            shapes = np.random.default_rng(args.seed).choice(np.array([1, -1, 0], np.int8), n, p=[0.6, 0.3, 0.1])
            pairs = candidate_pairs(hashes, level, shapes=shapes).pairs
            out["search"] = time.perf_counter() - t
            clusters = UnionFind()
            for i, j in connect(pairs, stand_in_verifier(hashes, level)):
                clusters.union(i, j)
            groups = clusters.components()
            out["seconds"] = time.perf_counter() - t
        group_of = {x: g for g, members in enumerate(groups) for x in members}
        out.update(found=len(groups), near=group_recall(group_of, near))
        out.update(rotated=group_recall(group_of, rot), cropped=group_recall(group_of, crop))
    else:
        hashes, near, rot, crop = synthetic(n, args.near, args.rotated, args.cropped, level, args.seed)
        out["base_mb"] = rss_mb()
        col0 = np.ascontiguousarray(hashes[:, 0])
        t = time.perf_counter()
        q, i, d = HammingIndex(col0, level.radius).search(col0, level.radius)
        out["seconds"] = time.perf_counter() - t
        keep = q < i
        out.update(found=int(keep.sum()), near=recall(np.stack([q[keep], i[keep]], 1), near, n))
        if n <= args.check_max:
            out["check"] = "agree" if brute_force_agrees(col0, q, i, d, level.radius, args.sample) else "DIFFER"
    out["peak_mb"] = rss_mb()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--ops", nargs="+", choices=["search", "group"], default=["search", "group"])
    p.add_argument("--level", choices=list(LEVELS), default="normal")
    p.add_argument("--near", type=float, default=0.05, help="fraction of items that are near-duplicate copies")
    p.add_argument("--rotated", type=float, default=0.01, help="fraction of items that are rotated copies")
    p.add_argument("--cropped", type=float, default=0.01, help="fraction of items that are cropped copies")
    p.add_argument("--check-max", type=int, default=100_000, help="brute-force check of the index up to this N")
    p.add_argument("--sample", type=int, default=300, help="queries checked by brute force")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one N in this process
    p.add_argument("--prepare", type=int, help=argparse.SUPPRESS)  # internal: store N items' fingerprints
    p.add_argument("--data", help=argparse.SUPPRESS)  # internal: where they are stored
    args = p.parse_args()
    if args.prepare:
        prepare(args.prepare, args)
        return
    if args.one:
        print(json.dumps(run_one(args.one, args.ops[0], args)))
        return

    forwarded = sys.argv[1:]
    level = LEVELS[args.level]
    print(f"level {args.level}: radius {level.radius}, view radius {level.view_radius}; {VIEWS} views per item")
    head = f"{'N':>9} {'op':>6} {'seconds':>9} {'search':>7} {'x prev':>7} {'base MB':>8} {'peak MB':>8} {'x prev':>7}"
    print(f"{head} {'found':>9} {'near rec':>8} {'rot rec':>8} {'crop rec':>8} {'brute':>6}")
    print("(found: close pairs for `search`, groups for `group`; search: seconds of the candidate search)")
    prev: dict[str, dict] = {}
    for n in args.sizes:
        for op in args.ops:
            with tempfile.TemporaryDirectory() as data:
                cmd = [sys.executable, __file__, *forwarded, "--ops", op, "--data", data]
                if op == "group":
                    subprocess.run([*cmd, "--prepare", str(n)], check=True)
                measured = subprocess.run([*cmd, "--one", str(n)], check=True, capture_output=True, text=True)
                r = json.loads(measured.stdout)
            last = prev.get(op)
            grow_t = f"{r['seconds'] / last['seconds']:.1f}" if last else "-"
            grow_m = f"{r['peak_mb'] / last['peak_mb']:.1f}" if last else "-"
            rot, crop = ("-" if r[k] is None else f"{r[k]:.4f}" for k in ("rotated", "cropped"))
            search = f"{r['search']:.2f}" if "search" in r else "-"
            print(
                f"{n:>9} {op:>6} {r['seconds']:>9.2f} {search:>7} {grow_t:>7} {r['base_mb']:>8.0f} "
                f"{r['peak_mb']:>8.0f} {grow_m:>7} {r['found']:>9} {r['near']:>8.4f} {rot:>8} {crop:>8} "
                f"{r['check'] or '-':>6}",
                flush=True,
            )
            prev[op] = r


if __name__ == "__main__":
    main()
