"""mediadup calibrate: precision and recall per level on the user's own media, which it only reads."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from conftest import photo, save, tree_state
from mediadup.measure.calibrate import Calibration, LevelScore, score
from mediadup.measure.footage import render

CLI = [sys.executable, "-m", "mediadup"]


def test_calibrate_measures_the_users_own_media_and_changes_nothing(tmp_path: Path) -> None:
    library = tmp_path / "library"
    for seed in range(5):
        save(photo(seed, (480, 360)), library / f"IMG_{seed}.jpg", quality=90)
    save(photo(9, (400, 300)), library / "drawing.png")
    render(str(library / "clip.mp4"), [photo(11), photo(12)], size=(192, 108), fps=15, seconds=1.5)
    before = tree_state(library)
    run = subprocess.run([*CLI, "calibrate", str(library), "--images", "6", "--videos", "1", "--level", "normal",
                          "-j", "1"], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {line.split()[0]: line.split()[1:] for line in run.stdout.splitlines() if line.strip()}
    assert "6 pictures and 1 video sampled" in run.stdout
    for kind in ("recompressed", "resized", "converted", "rotated", "mirrored", "grayscale"):
        assert rows[kind] == ["6", "1.000"], run.stdout
    assert sum(line.startswith("video ") for line in run.stdout.splitlines()) == 3
    assert "pair precision" in run.stdout and "1.0000" in run.stdout.split("pair precision")[1].splitlines()[0]
    assert "suggested level: normal" in run.stdout
    assert tree_state(library) == before


def test_nothing_to_sample_is_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no pictures here")
    run = subprocess.run([*CLI, "calibrate", str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 2 and "no readable pictures or videos" in run.stderr and "Traceback" not in run.stderr


def test_scores_count_false_pairs_but_not_the_users_own_copies() -> None:
    made = {
        "p0/original.jpg": ("/lib/a.jpg", "original"),
        "p0/resized.jpg": ("/lib/a.jpg", "resized"),
        "p1/original.jpg": ("/lib/b.jpg", "original"),
        "p2/original.jpg": ("/lib/c.jpg", "original"),
        "p2/cropped.jpg": ("/lib/c.jpg", "cropped"),
        "p3/original.jpg": ("/lib/a-copy.jpg", "original"),
    }
    groups = [["p0/original.jpg", "p0/resized.jpg", "p1/original.jpg"], ["p2/cropped.jpg", "p3/original.jpg"]]
    s = score(groups, made, twins={"/lib/a.jpg": "h1", "/lib/a-copy.jpg": "h1"})
    assert s.found == Counter({"resized": 1})  # the crop is not with its own original
    assert s.true_pairs == 1  # every pair of files counts: the resized copy and its original with b.jpg
    assert sorted(s.false_pairs) == [("/lib/a.jpg", "/lib/b.jpg")] * 2 + [("/lib/c.jpg", "/lib/a-copy.jpg")]
    clean, dirty = LevelScore(Counter({"resized": 2}), 5), LevelScore(Counter({"resized": 2}), 5, [("a", "b")])
    more = LevelScore(Counter({"resized": 3}), 6)

    def suggested(levels: dict[str, LevelScore]) -> str:
        return Calibration(3, 0, Counter({"resized": 3}), 3, levels, 0, 1).suggested

    assert suggested({"strict": clean, "normal": clean, "loose": dirty}) == "strict"  # no gain: the stricter
    assert suggested({"strict": clean, "normal": more, "loose": more}) == "normal"
    assert suggested({"strict": dirty, "normal": dirty}) == "strict"


def test_the_suggestion_says_so_when_every_level_had_false_pairs() -> None:
    from mediadup.measure.calibrate import Calibration

    dirty = LevelScore(Counter({"resized": 2}), 5, [("a", "b")])
    result = Calibration(2, 0, Counter({"resized": 2}), 10, {"strict": dirty, "normal": dirty}, 0, 1.0)
    assert result.suggested == "strict" and "every level grouped copies of different files" in result.why_suggested
    clean = LevelScore(Counter({"resized": 2}), 5)
    result = Calibration(2, 0, Counter({"resized": 2}), 10, {"strict": clean, "normal": dirty}, 0, 1.0)
    assert result.suggested == "strict" and "no false pair among 10 pairs" in result.why_suggested
