"""The HTML review page, rendered by a real headless Chromium (Debian's package)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import photo, save
from mediadup import scan

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def review(tmp_path: Path, groups: int) -> Path:
    for n in range(groups):
        a = photo(300 + n, (160, 120))
        save(a, tmp_path / "lib" / f"{n}.png")
        save(a.resize((80, 60)), tmp_path / "lib" / f"{n} small.jpg", quality=80)
    catalog = str(tmp_path / "c.sqlite")
    assert len(scan([tmp_path / "lib"], catalog=catalog).groups) == groups
    page = tmp_path / "out" / "review.html"
    page.parent.mkdir()
    run = subprocess.run([sys.executable, "-m", "mediadup", "report", "--html", str(page), "--catalog", catalog],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0 and f"{groups} groups" in run.stdout, run.stderr
    return page


def test_page_embeds_every_group_with_thumbnails(tmp_path: Path) -> None:
    page = review(tmp_path, 3).read_text()
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert len(data["groups"]) == 3
    for group in data["groups"]:
        assert [f["role"] for f in group["files"]] == ["keep", "duplicate"]
        assert all(f["thumb"].startswith("data:image/jpeg;base64,") for f in group["files"])
        assert group["reason"]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    groups = 60  # more than one page of 50
    page = review(tmp_path, groups)
    profile = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    assert rendered.count('class="group"') == 50  # the first page, rendered by the page's script
    assert f"page 1 of {-(-groups // 50)}" in rendered
    assert rendered.count('class="file keep"') == 50
    shot = page.parent / "review.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--window-size=1200,900",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=180)  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 10_000
