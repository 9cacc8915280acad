"""Pictures that look alike (skies, fog, smooth colour fields): the candidate search stays bounded,
the copies among them are still found, and two different smooth pictures are never sure copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from conftest import mediadup
from mediadup import scan


def smooth_library(root: Path, pictures: int = 400, copies: int = 5) -> None:
    """Random 2x2 colour cells smoothly upscaled: their hashes crowd into small Hamming balls."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for n in range(pictures):
        cells = rng.integers(0, 256, (2, 2, 3), dtype=np.uint8)
        im = Image.fromarray(cells).resize((32, 32), Image.Resampling.BICUBIC)
        im.save(root / f"sky{n:03}.png")
        if n < copies:
            im.resize((48, 48), Image.Resampling.BICUBIC).save(root / f"sky{n:03}-copy.png")


def test_look_alikes_are_compared_with_their_nearest_only_and_copies_are_still_found(tmp_path: Path) -> None:
    """And no two different fields are grouped: sharing a luminance pattern by chance (turned,
    mirrored) with other colours, or with no fine detail that agrees, is no evidence of a copy."""
    smooth_library(tmp_path / "lib")
    result = scan(tmp_path / "lib", catalog=str(tmp_path / "c.sqlite"))
    groups = sorted(sorted(Path(m.path).name for m in g.members) for g in result.groups)
    assert groups == [[f"sky{n:03}-copy.png", f"sky{n:03}.png"] for n in range(5)], groups
    assert result.summary.crowded > 0 and result.summary.left_out > 0
    assert result.summary.compared < 24 * 10 * 405  # bounded per picture, far below all pairs


def test_the_summary_says_when_the_candidate_limit_left_pairs_out(tmp_path: Path) -> None:
    smooth_library(tmp_path / "lib", pictures=300, copies=1)
    out = mediadup("scan", str(tmp_path / "lib"), "--catalog", str(tmp_path / "c.sqlite"))
    assert out.returncode == 0, out.stderr
    assert "had more look-alikes than the candidate limit: only the nearest were compared" in out.stdout
