// mediadup review: the page over the last scan. Every request carries this run's token; every
// change is a POST with the token in a header. No data is ever inserted as HTML.
"use strict";

const TOKEN = document.querySelector('meta[name="mediadup-token"]').content;
const state = { tab: "duplicates", page: 0, relation: "", folder: "", kind: "", min_size: "0", sort: "reclaimable",
                group: null };
let data = null;          // the last page from the server
let selected = null;      // the selected file's id
let rules = null;         // keep rules, in the user's order: [name, on, words]

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "dataset") Object.assign(e.dataset, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
const url = (path) => `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(TOKEN)}`;

async function call(path, body) {
  const options = { headers: { "X-Mediadup-Token": TOKEN } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const result = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(result.error || `HTTP ${response.status}`);
  return result;
}

function say(text, bad) {
  const log = document.getElementById("log");
  log.prepend(el("p", { className: bad ? "bad" : "" }, `${new Date().toLocaleTimeString()} ${text}`));
}

// ---- position in the URL (survives a reload) ----
function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  for (const k of Object.keys(state)) if (h.has(k)) state[k] = k === "page" ? Number(h.get(k)) || 0 : h.get(k);
}
function writeHash() {
  const h = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) if (v !== null && v !== "") h.set(k, v);
  history.replaceState(null, "", `${location.pathname}${location.search}#${h}`);
}

// ---- the groups ----
async function load() {
  const q = new URLSearchParams({ tab: state.tab, page: state.page, relation: state.relation, folder: state.folder,
                                  kind: state.kind, min_size: state.min_size, sort: state.sort });
  try {
    data = await call(`/api/groups?${q}`);
  } catch (e) {
    say(`cannot load the groups: ${e.message}`, true);
    return;
  }
  state.page = data.page;
  writeHash();
  if (!rules) setUpPanel();
  show();
  showJob(data.job);
}

function show() {
  for (const b of document.querySelectorAll("#tabs button")) {
    b.setAttribute("aria-selected", String(b.dataset.tab === state.tab));
    b.querySelector(".count").textContent = `(${data.counts[b.dataset.tab]})`;
  }
  const total = Object.values(data.counts).reduce((a, b) => a + b, 0);
  document.getElementById("summary").textContent =
    `${total} groups in the last scan; ${data.matching} shown here`;
  document.getElementById("where").textContent = `page ${data.page + 1} of ${data.pages}`;
  document.getElementById("previous").disabled = data.page === 0;
  document.getElementById("next").disabled = data.page >= data.pages - 1;
  const main = document.getElementById("groups");
  main.replaceChildren(...data.groups.map(groupElement));
  if (!data.groups.length) main.append(el("p", { className: "muted" }, "No groups here."));
  const current = state.group && main.querySelector(`[data-group="${CSS.escape(state.group)}"]`);
  if (current) focusGroup(current, false);
  refreshPlan();
}

function groupElement(g) {
  const keeper = g.files.find((f) => f.keeper);
  const box = el("section", { className: "group" + (keeper ? "" : " alone"), tabIndex: -1,
                              dataset: { group: String(g.number) } });
  const freed = g.reclaimable ? `, ${size(g.reclaimable)} to free` : "";
  box.append(el("h3", {}, el("strong", {}, `Group ${g.number}`),
                `: ${g.files.length} files${freed} · keep because: ${g.reason}`));
  box.append(el("div", { className: "files" }, ...g.files.map((f, n) => fileElement(g, f, n))));
  box.addEventListener("click", () => { state.group = String(g.number); markCurrent(box); writeHash(); });
  return box;
}

function fileElement(g, f, n) {
  const classes = ["file"];
  if (f.keeper) classes.push("keeper");
  if (f.choice === "leave" || f.choice === "differs") classes.push("out");
  if (f.gone) classes.push("gone");
  if (f.id === selected) classes.push("selected");
  const card = el("article", { className: classes.join(" "), dataset: { path: f.path, id: String(f.id) } });
  const img = el("img", { className: "thumb", src: url(`/thumb/${f.id}`), alt: f.name, loading: "lazy" });
  img.addEventListener("click", (e) => { e.stopPropagation(); compare(g, f); });
  card.append(img);
  const relation = f.scan_keeper ? "the scan's keeper" : f.relation;
  const role = f.gone ? "gone (removed or changed)" : f.keeper ? (f.choice === "keep" ? "KEEP (your choice)" : "KEEP")
    : f.choice === "differs" ? "not a duplicate" : f.choice === "leave" ? `${relation}: left out` : relation;
  card.append(el("div", { className: "role" }, `${n + 1}. ${role}`));
  card.append(el("div", { title: f.path }, f.name));
  card.append(el("div", { className: "muted" }, f.folder));
  const dims = [f.dims, f.content && `content ${f.content}`, f.format, f.duration, f.size_text].filter(Boolean);
  card.append(el("div", {}, dims.join(" · ")));
  const when = [f.captured && `taken ${f.captured}`, `modified ${date(f.mtime)}`, f.camera].filter(Boolean);
  card.append(el("div", { className: "muted" }, when.join(" · ")));
  if (!f.keeper && !f.scan_keeper && f.score) card.append(el("div", {}, `similarity ${f.score}`));
  const ev = f.evidence || {};
  if (f.scanned_relation === "overlaps") {
    card.append(el("div", {}, `shares ${ev.range} of the keeper (${ev.other_range} of this one): not a copy`));
  } else if (ev.range) {
    card.append(el("div", {}, `matched ${ev.range} of the keeper`));
  }
  if (ev.speed) card.append(el("div", {}, `played at ${ev.speed}`));
  for (const k of ["crop", "transform", "uncertain", "geometry"]) if (ev[k]) card.append(el("div", {}, ev[k]));
  const buttons = el("div", { className: "buttons" });
  const keep = el("button", { type: "button" }, "Keep");
  keep.setAttribute("aria-pressed", String(f.keeper));
  keep.addEventListener("click", (e) => { e.stopPropagation(); choose(g.number, f.id, "keep"); });
  const differs = el("button", { type: "button" }, "Not a duplicate");
  differs.addEventListener("click", (e) => { e.stopPropagation(); choose(g.number, f.id, "differs"); });
  const out = f.choice === "leave";
  const leave = el("button", { type: "button" }, out ? "Include" : "Leave out");
  leave.addEventListener("click", (e) => { e.stopPropagation(); choose(g.number, f.id, out ? "include" : "leave"); });
  const cmp = el("button", { type: "button" }, "Compare");
  cmp.addEventListener("click", (e) => { e.stopPropagation(); compare(g, f); });
  for (const b of [keep, differs, leave, cmp]) b.disabled = f.gone;
  buttons.append(keep, differs, leave, cmp);
  card.append(buttons);
  card.addEventListener("click", () => { selected = f.id; markSelected(card); });
  return card;
}

async function choose(number, id, choice) {
  try {
    const group = await call("/api/choose", { group: number, id, choice });
    const i = data.groups.findIndex((g) => g.number === group.number);
    if (i >= 0) data.groups[i] = group;
    const old = document.querySelector(`[data-group="${group.number}"]`);
    const fresh = groupElement(group);
    old.replaceWith(fresh);
    focusGroup(fresh, false);
    refreshPlan();
  } catch (e) {
    say(e.message, true);
  }
}

function size(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
const date = (seconds) => new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");

function markCurrent(box) {
  for (const g of document.querySelectorAll(".group.current")) g.classList.remove("current");
  box.classList.add("current");
}
function markSelected(card) {
  for (const c of document.querySelectorAll(".file.selected")) c.classList.remove("selected");
  card.classList.add("selected");
}
function focusGroup(box, scroll = true) {
  state.group = box.dataset.group;
  markCurrent(box);
  if (scroll) box.scrollIntoView({ block: "start", behavior: "smooth" });
  box.focus({ preventScroll: true });
  if (!box.querySelector(".file.selected")) {
    const first = box.querySelector(".file:not(.keeper)") || box.querySelector(".file");
    if (first) { selected = Number(first.dataset.id); markSelected(first); }
  }
  writeHash();
}
function currentGroup() {
  return document.querySelector(".group.current") || document.querySelector(".group");
}

// ---- compare: side by side, synchronised zoom and pan, flicker, difference ----
const view = { scale: 1, x: 0, y: 0, mode: "side", flicker: null, pair: null, group: null };

function compare(g, f) {
  // the keeper and this file at first; any two members of the group can be chosen
  const keeper = g.files.find((x) => x.keeper) || g.files[0];
  const other = f.id === keeper.id ? (g.files.find((x) => x.id !== keeper.id)) : f;
  view.group = g;
  for (const [id, chosen] of [["left", keeper], ["right", other]]) {
    const select = document.getElementById(id);
    select.replaceChildren(...g.files.map((x, n) => el("option", { value: String(x.id), selected: x.id === chosen.id },
                                                        `${n + 1}. ${x.keeper ? "keeper" : x.relation}: ${x.name}`)));
  }
  showPair(keeper, other);
  const dialog = document.getElementById("compare");
  if (!dialog.open) dialog.showModal();
  setMode("side");
}

function showPair(left, right) {
  view.pair = [left, right];
  document.getElementById("compare-title").textContent = `Group ${view.group.number}`;
  const panes = document.getElementById("panes");
  const dup = left.keeper ? right : right.keeper ? left : right;
  panes.replaceChildren(...view.pair.map((x) => paneElement(x, x.keeper ? "keeper" : x.relation,
                                                            left.keeper || right.keeper ? dup : {})));
  document.getElementById("facts").replaceChildren(...view.pair.map((x) => facts(x)));
}

function pickPair() {
  const find = (id) => view.group.files.find((x) => String(x.id) === document.getElementById(id).value);
  showPair(find("left"), find("right"));
  setMode(view.mode);
}

function paneElement(f, label, dup) {
  const pane = el("div", { className: "pane" }, el("span", { className: "label" }, `${label}: ${f.name}`));
  const stage = el("div", { className: "stage" });
  const media = f.is_video ? el("video", { src: url(`/file/${f.id}`), controls: true, muted: true, preload: "metadata" })
    : el("img", { src: url(`/file/${f.id}`), alt: f.name, draggable: false });
  media.addEventListener(f.is_video ? "loadedmetadata" : "load", () => {
    stage.dataset.w = f.is_video ? media.videoWidth : media.naturalWidth;
    stage.dataset.h = f.is_video ? media.videoHeight : media.naturalHeight;
    if (stage === document.querySelector(".pane .stage")) fit();
  });
  stage.append(media);
  // the part of this picture the other shows (a crop): drawn on the picture that holds it
  const box = dup.evidence && dup.evidence.box;
  const holder = dup.evidence && dup.evidence.crop && dup.evidence.crop.startsWith("duplicate shows") ? "keeper" : "dup";
  if (box && ((label === "keeper") === (holder === "keeper"))) {
    const [x0, y0, x1, y1] = box;
    const mark = el("div", { className: "box" });
    Object.assign(mark.style, { left: `${x0 * 100}%`, top: `${y0 * 100}%`, width: `${(x1 - x0) * 100}%`,
                                height: `${(y1 - y0) * 100}%` });
    stage.append(mark);
  }
  pane.append(stage);
  panZoom(pane);
  return pane;
}

function facts(f) {
  const rows = [["path", f.path], ["size", f.size_text], ["dimensions", f.dims], ["content", f.content],
                ["format", f.format], ["JPEG quality", f.jpeg_quality && f.format !== "JPEG" ? `${f.jpeg_quality} (a JPEG once)` : f.jpeg_quality], ["duration", f.duration],
                ["frame rate", f.fps && `${f.fps} fps`], ["codec", f.codec], ["modified", date(f.mtime)],
                ["camera", f.camera], ["taken", f.captured], ["relation", f.relation],
                ["similarity", f.keeper ? "" : f.score]];
  for (const [k, v] of Object.entries(f.evidence || {})) if (k !== "box") rows.push([k, String(v)]);
  const dl = el("dl");
  for (const [k, v] of rows) if (v !== null && v !== undefined && v !== "") dl.append(el("dt", {}, k), el("dd", {}, String(v)));
  const open = el("button", { type: "button" }, "Open folder");
  open.addEventListener("click", () => call("/api/open", { id: f.id }).then((r) => say(r.message), (e) => say(e.message, true)));
  const box = el("div", {}, dl, open);
  if (f.is_video) box.append(el("img", { className: "strip", src: url(`/frames/${f.id}`), alt: `frames of ${f.name}` }));
  return box;
}

function applyView() {
  for (const stage of document.querySelectorAll("#panes .stage")) {
    // each picture at the same zoom of its own frame: copies of other sizes stay in register
    const first = document.querySelector("#panes .stage");
    const ratio = (Number(first.dataset.w) || 1) / (Number(stage.dataset.w) || 1);
    stage.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale * ratio})`;
  }
}
function fit() {
  const pane = document.querySelector("#panes .pane");
  const stage = pane && pane.querySelector(".stage");
  if (!stage || !stage.dataset.w) return;
  const w = Number(stage.dataset.w), h = Number(stage.dataset.h);
  view.scale = Math.min(pane.clientWidth / w, pane.clientHeight / h);
  view.x = (pane.clientWidth - w * view.scale) / 2;
  view.y = (pane.clientHeight - h * view.scale) / 2;
  applyView();
}
function actual() {
  view.scale = 1; view.x = 0; view.y = 0; applyView();
}
function panZoom(pane) {
  pane.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = pane.getBoundingClientRect();
    const px = e.clientX - r.left, py = e.clientY - r.top;
    const k = Math.exp(-e.deltaY * 0.0015);
    view.x = px - (px - view.x) * k;
    view.y = py - (py - view.y) * k;
    view.scale *= k;
    applyView();
  }, { passive: false });
  let drag = null;
  pane.addEventListener("pointerdown", (e) => { drag = [e.clientX - view.x, e.clientY - view.y]; pane.setPointerCapture(e.pointerId); });
  pane.addEventListener("pointermove", (e) => { if (drag) { view.x = e.clientX - drag[0]; view.y = e.clientY - drag[1]; applyView(); } });
  pane.addEventListener("pointerup", () => { drag = null; });
}

function setMode(mode) {
  view.mode = mode;
  clearInterval(view.flicker);
  for (const b of document.querySelectorAll("[data-mode]")) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
  const panes = [...document.querySelectorAll("#panes .pane")];
  const canvas = document.getElementById("difference");
  canvas.hidden = mode !== "difference";
  document.getElementById("panes").hidden = mode === "difference";
  panes.forEach((p) => { p.hidden = false; });
  if (mode === "flicker" && panes.length === 2) {
    // one pane, the two pictures in turn at the same place
    const [a, b] = panes;
    b.hidden = true;
    view.flicker = setInterval(() => { a.hidden = !a.hidden; b.hidden = !b.hidden; applyView(); }, 600);
  }
  if (mode === "difference") difference(canvas);
}

function difference(canvas) {
  const imgs = [...document.querySelectorAll("#panes img")];
  if (imgs.length !== 2) { canvas.hidden = true; say("the difference view is for two pictures"); return; }
  const [a, b] = imgs;
  const w = Math.min(a.naturalWidth, 1600), h = Math.round(w * a.naturalHeight / a.naturalWidth) || 1;
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  ctx.globalCompositeOperation = "source-over";
  ctx.drawImage(a, 0, 0, w, h);
  ctx.globalCompositeOperation = "difference";
  ctx.drawImage(b, 0, 0, w, h);
}

// ---- the panel: keep rules, plan, apply, undo ----
function setUpPanel() {
  const select = document.getElementById("action");
  select.replaceChildren(...data.actions.map((a) => el("option", { value: a }, a)));
  rules = data.rules.map(([name, words]) => [name, name === "quality", words]);
  showRules();
}

function showRules() {
  const list = document.getElementById("rule-list");
  list.replaceChildren(...rules.map((r, i) => {
    const on = el("input", { type: "checkbox", checked: r[1] });
    on.addEventListener("change", () => { r[1] = on.checked; });
    const up = el("button", { type: "button", title: "earlier", ariaLabel: `move ${r[0]} up` }, "↑");
    up.addEventListener("click", () => { if (i) { [rules[i - 1], rules[i]] = [rules[i], rules[i - 1]]; showRules(); } });
    const down = el("button", { type: "button", title: "later", ariaLabel: `move ${r[0]} down` }, "↓");
    down.addEventListener("click", () => { if (i < rules.length - 1) { [rules[i + 1], rules[i]] = [rules[i], rules[i + 1]]; showRules(); } });
    return el("li", {}, el("label", { title: r[2] }, on, ` ${r[0]} `), up, down);
  }));
}

function planQuery() {
  const q = new URLSearchParams({ action: document.getElementById("action").value, to: document.getElementById("to").value,
                                  uncertain: document.getElementById("uncertain").checked ? "1" : "",
                                  similar: document.getElementById("similar").checked ? "1" : "" });
  return q;
}

async function refreshPlan() {
  const action = document.getElementById("action").value;
  document.getElementById("to-label").hidden = action !== "move";
  const line = document.getElementById("plan");
  try {
    const plan = await call(`/api/plan?${planQuery()}`);
    line.textContent = `The plan: ${plan.summary} to ${action}.` + (plan.notes.length ? ` ${plan.notes.join(" ")}` : "");
  } catch (e) {
    line.textContent = e.message;
  }
}

async function apply() {
  const q = planQuery();
  let plan;
  try { plan = await call(`/api/plan?${q}`); } catch (e) { say(e.message, true); return; }
  if (!plan.files) { say("nothing to do: no file in the plan"); return; }
  if (!confirm(`${q.get("action")} ${plan.summary}? Each action is journaled: Undo puts them back.`)) return;
  try {
    const r = await call("/api/apply", Object.fromEntries(q));
    follow(r.job);
  } catch (e) { say(e.message, true); }
}

async function undo() {
  if (!confirm("Undo the last apply: put every file it removed back?")) return;
  try {
    const r = await call("/api/undo", {});
    follow(r.job);
  } catch (e) { say(e.message, true); }
}

function follow(job) {
  follow.number = job.number;  // the job to report when it ends (it may have ended already)
  watch(job);
}

function watch(job) {
  showJob(job);
  if (job.running) {
    setTimeout(async () => {
      try { watch((await call("/api/job")).job); } catch (e) { say(e.message, true); }
    }, 300);
  }
}

function showJob(job) {
  const bar = document.getElementById("progress");
  bar.hidden = !job.running;
  if (job.running) { bar.max = job.total || 1; bar.value = job.ended; return; }
  if (job.number === follow.number) {
    follow.number = null;  // reported once, whichever answer saw the end first
    const r = job.result || {};
    if (r.error) say(`${job.what}: ${r.error}`, true);
    else say(r.message);
    for (const note of r.notes || []) say(`note: ${note}`);
    for (const [path, why] of r.skipped || []) say(`skipped ${path}: ${why}`, true);
    for (const [path, why] of r.not_restored || []) say(`not restored ${path}: ${why}`, true);
    load();
  }
}

// ---- wiring ----
function setUp() {
  readHash();
  const form = document.getElementById("filters");
  for (const [k, v] of Object.entries(state)) if (form.elements[k]) form.elements[k].value = v;
  form.addEventListener("input", (e) => {
    state[e.target.name] = e.target.value; state.page = 0; state.group = null;
    clearTimeout(setUp.typing); setUp.typing = setTimeout(load, e.target.type === "search" ? 300 : 0);
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  for (const b of document.querySelectorAll("#tabs button")) {
    b.addEventListener("click", () => { state.tab = b.dataset.tab; state.page = 0; state.group = null; load(); });
  }
  document.getElementById("previous").addEventListener("click", () => page(-1));
  document.getElementById("next").addEventListener("click", () => page(1));
  for (const id of ["action", "to", "uncertain", "similar"]) document.getElementById(id).addEventListener("change", refreshPlan);
  document.getElementById("apply").addEventListener("click", apply);
  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("use-rules").addEventListener("click", async () => {
    try {
      const r = await call("/api/rules", { rules: rules.filter((x) => x[1]).map((x) => x[0]) });
      say(r.message); load();
    } catch (e) { say(e.message, true); }
  });
  document.getElementById("reset").addEventListener("click", async () => {
    if (!confirm("Forget every keeper you chose and every file you left out?")) return;
    try { say((await call("/api/reset", {})).message); load(); } catch (e) { say(e.message, true); }
  });
  for (const b of document.querySelectorAll("[data-mode]")) b.addEventListener("click", () => setMode(b.dataset.mode));
  document.getElementById("fit").addEventListener("click", fit);
  for (const id of ["left", "right"]) document.getElementById(id).addEventListener("change", pickPair);
  document.getElementById("actual").addEventListener("click", actual);
  document.getElementById("close").addEventListener("click", () => document.getElementById("compare").close());
  document.getElementById("compare").addEventListener("close", () => clearInterval(view.flicker));
  document.addEventListener("keydown", keys);
  load();
}

function page(step) {
  state.page = Math.max(0, Math.min(data.pages - 1, state.page + step));
  state.group = null;
  load().then(() => window.scrollTo(0, 0));
}

function keys(e) {
  if (e.target.matches("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
  if (document.getElementById("compare").open) return;  // the dialog has its own keys (Esc closes)
  const box = currentGroup();
  if (!box) return;
  const cards = [...box.querySelectorAll(".file")];
  const chosen = box.querySelector(".file.selected") || cards.find((c) => !c.classList.contains("keeper"));
  const group = data.groups.find((g) => String(g.number) === box.dataset.group);
  if (e.key === "j" || e.key === "ArrowDown") {
    const next = box.nextElementSibling;
    if (next && next.matches(".group")) { focusGroup(next); e.preventDefault(); }
  } else if (e.key === "k" || e.key === "ArrowUp") {
    const previous = box.previousElementSibling;
    if (previous && previous.matches(".group")) { focusGroup(previous); e.preventDefault(); }
  } else if (/^[1-9]$/.test(e.key) && cards[Number(e.key) - 1]) {
    choose(Number(box.dataset.group), Number(cards[Number(e.key) - 1].dataset.id), "keep");
  } else if (e.key === "n" && chosen) {
    choose(Number(box.dataset.group), Number(chosen.dataset.id), "differs");
  } else if (e.key === "x" && chosen) {
    choose(Number(box.dataset.group), Number(chosen.dataset.id), chosen.classList.contains("out") ? "include" : "leave");
  } else if (e.key === "c" && chosen && group) {
    compare(group, group.files.find((f) => String(f.id) === chosen.dataset.id));
  } else if (e.key === "]") {
    page(1);
  } else if (e.key === "[") {
    page(-1);
  }
}

setUp();
