"""Accuracy of mediadup.scan on the development benchmark, for each level.

For each level it scans the benchmark folder (built by /work/shared/bench/prepare.sh), writes the
result as the CLI's --json does (mediadup.act.planfile.write_json) and scores it with the bench's
evaluate.py (run with the bench's own venv python when present). One catalog in a temporary
folder serves all levels, so only the first scan decodes images.
Prints precision, recall, false pairs and recall-vs-original per class, per level.

Run:  /tmp/venv/bin/python benchmarks/accuracy.py [--bench /tmp/mediadup-bench/dev] [--levels strict normal loose]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mediadup
from mediadup.act.planfile import write_json
from mediadup.match.compare import LEVELS

SHARED_BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"  # /work/shared/bench
BENCH_PYTHON = Path("/tmp/mediadup-bench/venv/bin/python")
CLASSES = ("exact", "easy", "medium", "hard")


def evaluate(bench: Path, result: Path, evaluator: Path) -> dict:
    python = str(BENCH_PYTHON) if BENCH_PYTHON.exists() else sys.executable
    out = subprocess.run([python, str(evaluator), str(bench), str(result), "--json"], check=True, capture_output=True)
    return json.loads(out.stdout)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", type=Path, default=Path("/tmp/mediadup-bench/dev"), help="benchmark folder")
    p.add_argument("--evaluator", type=Path, default=SHARED_BENCH / "evaluate.py")
    p.add_argument("--levels", nargs="+", choices=list(LEVELS), default=list(LEVELS))
    p.add_argument("--jobs", type=int, default=0, help="worker processes (0: all cores)")
    args = p.parse_args()
    if not (args.bench / "truth.json").exists():
        sys.exit(f"no benchmark at {args.bench}: run {SHARED_BENCH / 'prepare.sh'} first")

    head = f"{'level':<7} {'precision':>9} {'recall':>7} {'F1':>6} {'pred':>6} {'false':>6} {'sibling':>7}"
    print(f"{head} {' '.join(f'{c:>6}' for c in CLASSES)} {'scan s':>7} {'decoded':>7} {'cached':>6} {'compared':>8}")
    with tempfile.TemporaryDirectory(prefix="mediadup-accuracy-") as tmp:
        for level in args.levels:
            start = time.perf_counter()
            result = mediadup.scan([args.bench], level=level, jobs=args.jobs, catalog=Path(tmp, "catalog.sqlite"))
            seconds = time.perf_counter() - start
            out = Path(tmp, f"{level}.json")
            with out.open("w", encoding="utf-8") as f:
                write_json(result, f)
            r = evaluate(args.bench, out, args.evaluator)
            per_class = " ".join(f"{r['recall_vs_original'].get(c, float('nan')):>6.3f}" for c in CLASSES)
            s = result.summary
            print(
                f"{level:<7} {r['precision']:>9.4f} {r['recall']:>7.4f} {r['f1']:>6.4f} {r['pred_pairs']:>6} "
                f"{r['false_pairs']:>6} {r['sibling_pairs']:>7} {per_class} {seconds:>7.1f} {s.fingerprinted:>7} "
                f"{s.from_cache:>6} {s.compared:>8}",
                flush=True,
            )
    print("exact..hard: recall vs original (is each copy grouped with its original?); compared: pairs verified")


if __name__ == "__main__":
    main()
