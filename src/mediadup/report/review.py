"""A self-contained HTML review page of the last scan: every group side by side, with thumbnails.

The page embeds its data (groups and small JPEG thumbnails) as JSON and renders one page of
groups at a time, so it stays quick with thousands of groups.
"""

from __future__ import annotations

import base64
import html
import io
import json

from PIL import Image

from ..fingerprint.decode import DecodeError, decode
from ..fingerprint.video import poster, timestamp
from ..records import Relation, display_path
from ..store.catalog import Catalog
from .text import human_size

# JSON inside <script>: no character of a name may end the script or start a comment there
_SCRIPT_SAFE = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}
THUMBNAIL = 160  # longest side, pixels
PAGE = 50  # groups per page


def thumbnail(path: str, is_video: bool = False) -> str | None:
    """A small JPEG of the picture (a video's middle frame) as a data URI, or None when it cannot be read now."""
    try:
        image = poster(path) if is_video else decode(path).image
    except DecodeError:
        return None
    image.thumbnail((THUMBNAIL, THUMBNAIL), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=75)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def last_scan_groups(catalog: Catalog) -> list[dict]:
    """The last scan's groups as plain data for the page."""
    scan_id = catalog.last_scan_id()
    if scan_id is None:
        return []
    groups: dict[int, dict] = {}
    for f in catalog.scan_files(scan_id):
        meta = f.info
        dims = f"{meta['width']}x{meta['height']} {meta['format']}" if meta else ""
        if f.is_video:
            dims += f" {timestamp(meta['duration'])} {meta['fps']:g} fps {meta['codec']}"
        group = groups.setdefault(f.group, {"files": [], "reason": None, "reclaimable": 0})
        if f.role == "keep":
            group["reason"] = f.reason
        elif Relation(f.relation).removable:  # sub-clips, frames and similar shots stay unless asked
            group["reclaimable"] += f.size
        group["files"].append({
            "path": display_path(f.path), "role": f.role, "relation": f.relation, "score": round(f.score, 3),
            "evidence": f.evidence, "size": human_size(f.size),
            "dims": dims, "thumb": thumbnail(f.path, f.is_video),
        })  # fmt: skip
    return list(groups.values())


def render(groups: list[dict]) -> str:
    total = sum(g["reclaimable"] for g in groups)
    data = json.dumps({"groups": groups, "page": PAGE}).translate(_SCRIPT_SAFE)
    title = f"mediadup review: {len(groups)} groups, {human_size(total)} reclaimable"
    return _PAGE.replace("{{title}}", html.escape(title)).replace("{{data}}", data)


def write_review(catalog: Catalog, out: str) -> int:
    """Write the review page of the last scan to `out`; the number of groups."""
    groups = last_scan_groups(catalog)
    with open(out, "w", encoding="utf-8") as f:
        f.write(render(groups))
    return len(groups)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
.group { border: 1px solid #ccc; border-radius: 6px; margin: 1em 0; padding: .6em; }
.group h2 { font-size: 15px; margin: 0 0 .5em; }
.files { display: flex; flex-wrap: wrap; gap: .8em; }
.file { width: 190px; font-size: 12px; overflow-wrap: anywhere; }
.file img { max-width: 160px; max-height: 160px; display: block; background: #eee; }
.keep { outline: 3px solid #2a2; outline-offset: 2px; }
.role { font-weight: bold; }
.keep .role { color: #2a2; }
nav button { margin-right: .5em; }
</style></head>
<body>
<h1 id="title">{{title}}</h1>
<nav><button id="prev">previous</button><button id="next">next</button> <span id="where"></span></nav>
<main id="groups"></main>
<script id="data" type="application/json">{{data}}</script>
<script>
const data = JSON.parse(document.getElementById("data").textContent);
let page = 0;
const pages = Math.max(1, Math.ceil(data.groups.length / data.page));
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  Object.assign(e, attrs || {});
  if (text !== undefined) e.textContent = text;
  return e;
}
function show() {
  const main = document.getElementById("groups");
  main.replaceChildren();
  const first = page * data.page;
  data.groups.slice(first, first + data.page).forEach((g, i) => {
    const box = el("section", {className: "group"});
    box.append(el("h2", {}, `Group ${first + i + 1}: ${g.files.length} files, keep because: ${g.reason}`));
    const files = el("div", {className: "files"});
    for (const f of g.files) {
      const card = el("div", {className: "file" + (f.role === "keep" ? " keep" : "")});
      if (f.thumb) card.append(el("img", {src: f.thumb, alt: f.path, loading: "lazy"}));
      card.append(el("div", {className: "role"}, f.role === "keep" ? "KEEP" : f.relation));
      card.append(el("div", {}, f.path));
      card.append(el("div", {}, `${f.dims} ${f.size}`));
      if (f.evidence && f.evidence.crop) card.append(el("div", {}, f.evidence.crop));
      const part = ["trimmed", "contained"].includes(f.relation);
      if (part && f.evidence.range) card.append(el("div", {}, `matched ${f.evidence.range} of the keeper`));
      if (f.evidence && f.evidence.at) card.append(el("div", {}, `frame at ${f.evidence.at} of ${f.evidence.video}`));
      files.append(card);
    }
    box.append(files);
    main.append(box);
  });
  document.getElementById("where").textContent = `page ${page + 1} of ${pages}`;
}
document.getElementById("prev").onclick = () => { if (page > 0) { page--; show(); } };
document.getElementById("next").onclick = () => { if (page < pages - 1) { page++; show(); } };
show();
</script></body></html>
"""
