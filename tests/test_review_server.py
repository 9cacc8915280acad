"""`mediadup review`: the real server (uvicorn) in its own process, driven by Playwright in Debian's
Chromium and by plain HTTP requests for the security rules."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import mediadup, photo, save, tree_state
from mediadup import scan
from mediadup.review.groups import PAGE, Review

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
KEEPER, CURRENT = re.compile(r"\bkeeper\b"), re.compile(r"\bcurrent\b")
EVIL = '<img src=x onerror="document.title=1">&amp; "q".jpg'


class Server:
    """A running `mediadup review --no-browser --port 0`, and its URL as printed."""

    def __init__(self, catalog: str, env: dict[str, str], *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mediadup", "review", "--catalog", catalog, "--no-browser", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **env},
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise AssertionError(f"no URL printed: {self.url!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        parts = urlsplit(self.url)
        self.host, self.port, self.token = parts.hostname, parts.port, parts.query.removeprefix("token=")

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = "header",
                host: str | None = None) -> tuple[int, bytes]:  # fmt: skip
        """One HTTP request; `token`: "header" sends this run's token in the header, "query" in
        the URL, None not at all, any other string as the header."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Host": host or f"{self.host}:{self.port}"}
        if token == "header":
            headers["X-Mediadup-Token"] = self.token
        elif token == "query":
            path += ("&" if "?" in path else "?") + "token=" + self.token
        elif token is not None:
            headers["X-Mediadup-Token"] = token
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        out = response.status, response.read()
        conn.close()
        return out

    def json(self, path: str, body: dict | None = None) -> dict:
        status, data = self.request("POST" if body is not None else "GET", path, body)
        assert status == 200, data
        return json.loads(data)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def library(root: Path, groups: int) -> None:
    """`groups` pictures, each with a smaller JPEG copy; group 0 also with a crop; one with HTML in its name."""
    for n in range(groups):
        a = photo(500 + n, (320, 240))
        save(a, root / "lib" / f"{n:03d}.png")
        save(a.resize((160, 120)), root / "lib" / "copies" / (EVIL if n == 1 else f"{n:03d} small.jpg"), quality=80)
    save(photo(500, (320, 240)).crop((0, 0, 240, 180)), root / "lib" / "copies" / "000 crop.jpg", quality=90)
    save(photo(999, (320, 240)), root / "lib" / "alone.png")  # in the catalog, in no group


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, str, dict]]:
    library(tmp_path, 3)
    catalog = str(tmp_path / "c.sqlite")
    assert len(scan([tmp_path / "lib"], catalog=catalog).groups) == 3
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}  # the desktop trash, inside the test's folder
    server = Server(catalog, env)
    yield server, catalog, env
    server.stop()


def until(check, seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _ids(server: Server) -> dict[str, int]:
    groups = server.json("/api/groups")["groups"]
    return {f["path"]: f["id"] for g in groups for f in g["files"]}


def test_every_request_needs_the_token_the_right_host_and_a_file_of_the_scan(served, tmp_path: Path) -> None:
    server, _, _ = served
    ids = _ids(server)
    some = next(iter(ids.values()))
    for path in ("/", f"/thumb/{some}", f"/file/{some}", "/static/review.js", "/api/groups", "/api/plan"):
        assert server.request("GET", path, token=None)[0] == 403, path
        assert server.request("GET", path, token="wrong")[0] == 403, path
    assert server.request("GET", "/", token="query")[0] == 200
    assert server.request("GET", f"/thumb/{some}", token="query")[0] == 200
    # changes need the token in a header: a page elsewhere can put it in no URL of a form it posts
    assert server.request("POST", "/api/choose", {"group": 1, "id": some, "choice": "leave"}, token="query")[0] == 403
    assert server.request("GET", "/api/groups", token="query")[0] == 403
    # a page of another site reached through a rebound DNS name
    assert server.request("GET", "/", token="query", host="attacker.example:80")[0] == 400
    # only files of the scan, by id; never a path
    status, data = server.request("GET", "/api/groups")
    alone = str(tmp_path / "lib" / "alone.png")
    assert alone.encode() not in data
    for path in ("/file/999999", "/thumb/-1", "/file/..%2F..%2Fetc%2Fpasswd", "/file//etc/passwd",
                 "/thumb/" + alone.replace("/", "%2F")):  # fmt: skip
        status, data = server.request("GET", path, token="query")
        assert status in (400, 404), (path, status)
        assert b"root:" not in data
    status, data = server.request("GET", f"/file/{some}?path=/etc/passwd", token="query")
    assert status == 200 and b"root:" not in data  # the file of that id; a path in the request is never read
    assert server.request("POST", "/api/choose", {"group": 1, "id": "/etc/passwd", "choice": "keep"})[0] == 400
    assert server.request("POST", "/api/choose", {"group": 1, "id": 999999, "choice": "keep"})[0] == 400
    assert server.request("POST", "/api/choose", {"path": alone, "choice": "keep"})[0] == 400
    assert server.request("POST", "/api/open", {"id": 999999})[0] == 400
    # the page can never delete for good
    assert server.request("POST", "/api/apply", {"action": "delete"})[0] == 400
    assert server.request("DELETE", "/api/groups")[0] == 405


def test_a_page_of_groups_filters_sorts_and_pages(tmp_path: Path) -> None:
    library(tmp_path, PAGE + 5)
    catalog = str(tmp_path / "c.sqlite")
    scan([tmp_path / "lib"], catalog=catalog)
    review = Review(catalog)
    first = review.page()
    assert first["counts"]["duplicates"] == PAGE + 5 and first["pages"] == 2 and len(first["groups"]) == PAGE
    assert review.page(page=1)["groups"] and len(review.page(page=1)["groups"]) == 5
    reclaim = [g["reclaimable"] for g in first["groups"]]
    assert reclaim == sorted(reclaim, reverse=True)
    cropped = review.page(relation="cropped")
    assert cropped["matching"] == 1 and any(f["relation"] == "cropped" for f in cropped["groups"][0]["files"])
    assert review.page(folder="007")["matching"] == 1
    assert review.page(kind="video")["matching"] == 0
    assert review.page(tab="similar")["matching"] == 0
    assert review.page(min_size=10**9)["matching"] == 0
    assert review.page(page=99)["page"] == 1  # past the end: the last page


def test_choices_in_the_page_are_what_apply_does_and_last(served, tmp_path: Path) -> None:
    """Keep a smaller copy, leave a file out, say another is not a duplicate; the command line's
    apply follows the choices, and a new server shows them."""
    server, catalog, env = served
    groups = server.json("/api/groups")["groups"]
    by_name = {os.path.basename(f["path"]): {"group": g["number"], "id": f["id"]} for g in groups for f in g["files"]}
    server.json("/api/choose", {**by_name["000 small.jpg"], "choice": "keep"})
    server.json("/api/choose", {**by_name["000 crop.jpg"], "choice": "leave"})
    differs = server.json("/api/choose", {**by_name[EVIL], "choice": "differs"})
    assert [f["choice"] for f in differs["files"] if f["path"].endswith(EVIL)] == ["differs"]
    plan = mediadup("apply", "--catalog", catalog, env=env)
    assert plan.returncode == 0, plan.stderr
    assert "3 choices made in `mediadup review` followed" in plan.stdout
    acted = [line for line in plan.stdout.splitlines() if line.startswith("trash")]
    assert len(acted) == 2  # 000.png (the keeper is now its smaller copy) and 002 small.jpg
    assert any("lib/000.png" in line and "000 small.jpg" in line for line in acted)
    assert any("002 small.jpg" in line for line in acted)
    # not a duplicate: remembered by content, as `mediadup ignore` does
    listed = mediadup("ignore", "--list", "--catalog", catalog)
    assert "1 pair remembered" in listed.stdout and EVIL in listed.stdout
    server.stop()
    again = Server(catalog, env)
    try:
        files = {os.path.basename(f["path"]): f for g in again.json("/api/groups")["groups"] for f in g["files"]}
        assert files["000 small.jpg"]["keeper"] and files["000 small.jpg"]["choice"] == "keep"
        assert files["000 crop.jpg"]["choice"] == "leave"
        # the rules for every group: most pixels first puts the PNG back as keeper; my keeper choice goes
        result = again.json("/api/rules", {"rules": ["resolution"]})
        assert result["changed"] == 0
        files = {os.path.basename(f["path"]): f for g in again.json("/api/groups")["groups"] for f in g["files"]}
        assert files["000.png"]["keeper"] and files["000 small.jpg"]["choice"] is None
        result = again.json("/api/rules", {"rules": ["shortest-path", "quality"]})
        assert result["changed"] == 0
        assert again.json("/api/reset", {})["message"] == "2 choices forgotten"
    finally:
        again.stop()
        served[0].proc = again.proc  # stopped already: the fixture's stop is harmless


def test_the_keep_rules_of_the_command_line(tmp_path: Path) -> None:
    """`--keep` takes rules in order; the next breaks the ties of the one before."""
    library(tmp_path, 2)
    catalog = str(tmp_path / "c.sqlite")
    scan([tmp_path / "lib"], catalog=catalog)
    newest = tmp_path / "lib" / "copies" / "000 small.jpg"
    os.utime(newest, (time.time() + 100, time.time() + 100))
    scan([tmp_path / "lib"], catalog=catalog)
    plan = mediadup("apply", "--catalog", catalog, "--keep", "format,newest")
    # lossless PNG wins the format rule in every group: the newest JPEG does not matter
    assert plan.returncode == 0 and "000 small.jpg  (" in plan.stdout and "000.png  (" not in plan.stdout
    plan = mediadup("apply", "--catalog", catalog, "--keep", "newest,format")
    assert plan.returncode == 0 and "000.png  (" in plan.stdout and "000 small.jpg  (" not in plan.stdout
    bad = mediadup("apply", "--catalog", catalog, "--keep", "resolution,prettiest")
    assert bad.returncode == 2 and "unknown keep rule 'prettiest'" in bad.stderr


@needs_chromium
def test_review_in_a_browser_keep_not_a_duplicate_apply_and_undo(served, tmp_path: Path) -> None:
    """The whole flow as a user does it, checked on disk byte by byte."""
    from playwright.sync_api import expect, sync_playwright

    server, _, _ = served
    before = tree_state(tmp_path / "lib")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: d.accept())
        page.goto(server.url)
        expect(page.locator("[data-group]")).to_have_count(3)
        lib = tmp_path / "lib"
        small = page.locator(f'[data-path="{lib / "copies" / "000 small.jpg"}"]')
        small.get_by_role("button", name="Keep").click()
        expect(small).to_have_class(KEEPER)
        evil = page.locator("[data-path]").filter(has_text=EVIL)
        expect(evil).to_have_count(1)
        assert evil.get_attribute("data-path") == str(lib / "copies" / EVIL)  # the name is text, never markup
        evil.get_by_role("button", name="Not a duplicate").click()
        expect(evil.locator(".role")).to_have_text("2. not a duplicate")
        # the comparison: both pictures at full resolution, the crop drawn on the keeper
        crop = page.locator(f'[data-path="{lib / "copies" / "000 crop.jpg"}"]')
        crop.get_by_role("button", name="Compare").click()
        expect(page.locator("#panes img")).to_have_count(2)
        loaded = "() => [...document.querySelectorAll('#panes img')].every(i => i.naturalWidth > 0)"
        until(lambda: page.evaluate(loaded))  # (the page's policy forbids wait_for_function's eval)
        expect(page.locator("#panes .box")).to_have_count(1)
        page.get_by_role("button", name="Difference").click()
        assert page.locator("#difference").is_visible()
        page.get_by_role("button", name="Close").click()
        # position and choices survive a reload
        page.locator('[data-group="3"]').click()
        page.reload()
        expect(page.locator('[data-group="3"]')).to_have_class(re.compile(r"\bcurrent\b"))
        expect(page.locator(f'[data-path="{lib / "copies" / "000 small.jpg"}"]')).to_have_class(KEEPER)
        shots = Path(os.environ.get("MEDIADUP_ARTIFACTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "review-server.png"), full_page=True)
        expect(page.locator("#plan")).to_contain_text("The plan: 3 files")
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("#log")).to_contain_text("trashed: 3 files", timeout=30_000)
        assert not (lib / "000.png").exists() and not (lib / "002 small.jpg").exists()
        assert not (lib / "copies" / "000 crop.jpg").exists()
        assert (lib / "copies" / "000 small.jpg").exists() and (lib / "copies" / EVIL).exists()
        page.get_by_role("button", name="Undo").click()
        expect(page.locator("#log")).to_contain_text("restored 3 files", timeout=30_000)
        browser.close()
    assert tree_state(tmp_path / "lib") == before  # every byte, size and time back
    assert errors == []
    assert (shots / "review-server.png").stat().st_size > 20_000


@needs_chromium
def test_keys_move_between_groups_and_choose(served, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    server, _, _ = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(server.url)
        expect(page.locator("[data-group]")).to_have_count(3)
        first = page.locator("[data-group]").first.get_attribute("data-group")
        second = page.locator("[data-group]").nth(1).get_attribute("data-group")
        page.locator(f'[data-group="{first}"] h3').click()
        page.keyboard.press("j")
        expect(page.locator(f'[data-group="{second}"]')).to_have_class(CURRENT)
        page.keyboard.press("2")  # keep the second file of that group
        expect(page.locator(f'[data-group="{second}"] .file').nth(1)).to_have_class(KEEPER)
        page.keyboard.press("x")  # leave the selected file out (the first one that is not the keeper)
        expect(page.locator(f'[data-group="{second}"] .file.out')).to_have_count(1)
        page.keyboard.press("x")  # and in again
        expect(page.locator(f'[data-group="{second}"] .file.out')).to_have_count(0)
        page.keyboard.press("k")
        expect(page.locator(f'[data-group="{first}"]')).to_have_class(CURRENT)
        browser.close()


def test_videos_are_served_with_a_strip_of_frames_and_ranges(tmp_path: Path) -> None:
    """A video group: the page gets the video itself (seekable: byte ranges), a strip of its
    frames, and a thumbnail; a HEIC-like picture no browser shows would be converted."""
    from mediadup.measure.footage import render, transcode

    lib = tmp_path / "lib"
    lib.mkdir()
    render(str(lib / "clip.mp4"), [photo(40 + n, (480, 360)) for n in range(2)], size=(256, 144), fps=15, seconds=2.0)
    transcode(str(lib / "clip.mp4"), str(lib / "clip small.mp4"), scale=0.5)
    catalog = str(tmp_path / "c.sqlite")
    assert len(scan([lib], catalog=catalog).groups) == 1
    server = Server(catalog, {})
    try:
        files = server.json("/api/groups")["groups"][0]["files"]
        assert all(f["is_video"] and f["duration"] == "00:04" for f in files)
        some = files[0]["id"]
        status, strip = server.request("GET", f"/frames/{some}", token="query")
        assert status == 200 and strip[:2] == b"\xff\xd8"
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        conn.request("GET", f"/file/{some}?token={server.token}", headers={"Range": "bytes=0-99"})
        response = conn.getresponse()
        assert response.status == 206 and len(response.read()) == 100
        assert response.getheader("Content-Type") == "video/mp4"
        conn.close()
        assert server.request("GET", f"/thumb/{some}", token="query")[0] == 200
    finally:
        server.stop()


def test_listening_beyond_loopback_warns_and_still_needs_the_token(served, tmp_path: Path) -> None:
    _, catalog, env = served
    server = Server(catalog, env, "--host", "0.0.0.0")
    try:
        assert server.host == "127.0.0.1"  # the address printed reaches this machine
        assert server.request("GET", "/api/groups", token=None)[0] == 403
        assert server.request("GET", "/api/groups", host="nas.local:8750")[0] == 200  # any name, with the token
    finally:
        server.stop()
    assert "warning: listening on 0.0.0.0" in (server.proc.stderr.read() if server.proc.stderr else "")
