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
    """Playwright drives Debian's Chromium: no script errors, the right groups, pages, a screenshot."""
    from playwright.sync_api import sync_playwright

    groups = 60  # more than one page of 50
    page_file = review(tmp_path, groups)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS[1:])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(page_file.as_uri())
        assert page.locator(".group").count() == 50
        assert page.locator(".file.keep").count() == 50
        assert page.locator("#where").text_content() == "page 1 of 2"
        assert "60 groups" in page.title()
        page.screenshot(path=str(page_file.parent / "review.png"))
        page.click("#next")
        assert page.locator(".group").count() == groups - 50
        assert page.locator("#where").text_content() == "page 2 of 2"
        browser.close()
    assert errors == []
    assert (page_file.parent / "review.png").stat().st_size > 10_000
