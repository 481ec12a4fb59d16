"use strict";
// The review page. The token comes once in the URL; it is kept in memory only, dropped
// from the address bar, and sent in a header with every request (no cookies).
const TOKEN = new URLSearchParams(location.search).get("token") || "";
history.replaceState(null, "", "/");

const $ = (id) => document.getElementById(id);
const state = {
  files: [], current: null, info: null, frame: 0, selected: null,
  playing: false, urls: {}, busy: false, version: -1, rows: new Map(), merge: new Set(),
  timeline: null,
};
const DONE = new Set(["verified", "failed", "rendered", "error"]);

async function api(method, path, body) {
  const opts = { method, headers: { "X-Veil-Token": TOKEN }, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  if (!res.ok) {
    let msg = res.status + " " + res.statusText;
    try { msg = (await res.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}
const getJSON = async (path) => (await api("GET", path)).json();

async function blobURL(slot, path) {
  const blob = await (await api("GET", path)).blob();
  if (state.urls[slot]) URL.revokeObjectURL(state.urls[slot]);
  state.urls[slot] = URL.createObjectURL(blob);
  return state.urls[slot];
}

function status(text, isError) {
  $("status").textContent = text || "";
  $("status").className = isError ? "error" : "";
}

async function guarded(fn) {
  try { await fn(); } catch (e) { status(e.message, true); }
}

// ------------------------------------------------------------------ file list

function describeCounts(c) {
  const parts = [];
  for (const [k, label] of [["detected", "detected"], ["interpolated", "filled"], ["extended", "extended"],
                            ["manual", "manual"], ["released", "kept visible"], ["deleted", "deleted"]]) {
    if (c[k]) parts.push(c[k] + " " + label);
  }
  return parts.join(", ") || "no regions";
}

function describeVerdict(v) {
  if (!v) return "";
  if (!v.ok) return "failed: " + (v.error || "");
  if (!v.verified) return "rendered: " + v.output;
  if (v.passed) return "verified ✓ " + v.output + (v.repaired ? " (+" + v.repaired + " repaired)" : "");
  return "verification failed: " + ((v.reasons || [])[0] || v.error || "") + " → " + v.output;
}

function fillRow(li, f) {
  li.dataset.id = f.id;
  li.dataset.state = f.state;
  li.className = state.current === f.id ? "current" : "";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = f.name;
  const st = document.createElement("span");
  st.className = "state " + f.state;
  let label = f.state;
  if (f.progress && f.progress[1]) label += " " + Math.round(100 * f.progress[0] / f.progress[1]) + "%";
  st.textContent = label;
  const counts = document.createElement("span");
  counts.className = "counts";
  counts.textContent = f.kind + " · " + (f.error ? f.error : describeCounts(f.counts));
  const verdict = document.createElement("span");
  verdict.className = "verdict";
  verdict.textContent = describeVerdict(f.verdict);
  li.replaceChildren(name, st, counts, verdict);
}

function renderTotals() {
  let verified = 0;
  for (const f of state.files) if (f.state === "verified") verified++;
  $("totals").textContent = state.files.length + " files · " + verified + " verified";
}

// the rows are made once; afterwards only the rows that changed are filled again
function renderList(changed) {
  const ul = $("files");
  if (!changed) {
    ul.textContent = "";
    state.rows.clear();
    const frag = document.createDocumentFragment();
    for (const f of state.files) {
      const li = document.createElement("li");
      fillRow(li, f);
      li.addEventListener("click", () => guarded(() => openFile(f.id)));
      state.rows.set(f.id, li);
      frag.append(li);
    }
    ul.append(frag);
  } else {
    for (const f of changed) {
      const li = state.rows.get(f.id);
      if (li) fillRow(li, f);
    }
  }
  renderTotals();
}

function markCurrent(before, now) {
  const a = state.rows.get(before), b = state.rows.get(now);
  if (a) a.className = "";
  if (b) b.className = "current";
}

// polled every second: only the rows changed since the last version seen come back
async function refreshList() {
  const first = state.version < 0;
  const data = await getJSON("/api/files" + (first ? "" : "?since=" + state.version));
  const before = state.files.find((f) => f.id === state.current);
  const beforeState = before ? before.state : null;
  state.version = data.version;
  $("open-report").disabled = !data.report;
  if (first) {
    state.files = data.files;
    $("refused").textContent = data.refused.map((r) => r.name + ": " + r.error).join("; ");
    renderList();
  } else if (data.files.length) {
    for (const f of data.files) state.files[f.id] = f;
    renderList(data.files);
  }
  const now = state.files.find((f) => f.id === state.current);
  if (before && now && beforeState !== now.state) {
    if (state.info && state.info.pending && !["waiting", "scanning"].includes(now.state)) await loadFile();
    if (DONE.has(now.state) && beforeState === "rendering") {
      status(describeVerdict(now.verdict), now.state !== "verified");
      state.busy = false;
    }
  }
}

// ------------------------------------------------------------------ one file

async function openFile(id) {
  for (const p of thumbs.values()) p.then((u) => URL.revokeObjectURL(u)).catch(() => {});
  thumbs.clear();
  markCurrent(state.current, id);
  state.current = id;
  state.frame = 0;
  state.selected = null;
  state.playing = false;
  state.merge.clear();
  state.timeline = null;
  status("");
  await loadFile();
}

function framePath(which) {
  const f = state.files.find((x) => x.id === state.current);
  if (f && f.kind === "video") return "/api/files/" + state.current + "/frames/" + state.frame + "/" + which + ".jpg";
  return "/api/files/" + state.current + "/" + which + ".jpg";
}

async function loadFile() {
  if (state.current === null) return;
  const id = state.current, frame = state.frame;
  // the track list is asked for only when the page does not hold this file's latest
  const held = state.timeline && state.timeline.id === id ? state.timeline : null;
  const info = await getJSON("/api/files/" + id + "?frame=" + frame + (held ? "&have=" + held.version : ""));
  if (id !== state.current || frame !== state.frame) return;  // the user moved on
  if (held && info.tracks === undefined) info.tracks = held.tracks;
  state.info = info;
  if (info.pending) {
    $("overlay").textContent = "";
    $("picture").removeAttribute("src");
    $("video").hidden = true;
    status("scanning " + info.name + "… (it is next in line)");
    document.body.dataset.loaded = id + ":pending";
    return;
  }
  // as large as fits: the page's width, 960 px, or 70% of the window's height
  $("stage").style.width = "min(100%, 960px, " + (70 * info.width / info.height).toFixed(2) + "vh)";
  const url = await blobURL("picture", framePath($("preview").checked ? "preview" : "original"));
  if (id !== state.current || frame !== state.frame) return;
  const img = $("picture");
  await new Promise((resolve) => { img.onload = resolve; img.onerror = resolve; img.src = url; });
  drawRegions();
  const video = info.kind === "video";
  $("video").hidden = !video;
  if (video) {
    $("seek").max = Math.max(0, info.frame_count - 1);
    $("seek").value = frame;
    $("frame-label").textContent = "frame " + frame + " / " + (info.frame_count - 1);
    // the timeline is made again only when the file changed (an edit: a new version);
    // from frame to frame only its playheads move (a long video may have many tracks)
    if (held && held.version === info.version) movePlayheads();
    else { drawTimeline(); state.timeline = { id: id, version: info.version, tracks: info.tracks }; }
  }
  document.body.dataset.loaded = id + ":" + frame + ":" + ($("preview").checked ? "preview" : "original");
}

function drawRegions() {
  const overlay = $("overlay");
  overlay.textContent = "";
  const info = state.info;
  if (!info || $("preview").checked) return;
  for (const r of info.regions) {
    if (r.provenance === "deleted") {  // a record of what a person removed: shown, not masked
      const d = document.createElement("div");
      d.className = "region-deleted";
      d.title = "deleted " + (r.edited_at || "") + (r.reason ? ": " + r.reason : "");
      place(d, r.box);
      overlay.append(d);
      continue;
    }
    const d = document.createElement("div");
    d.className = "region prov-" + r.provenance + (r.released ? " released" : "");
    if (state.selected === r.index) d.classList.add("selected");
    d.dataset.index = r.index;
    d.dataset.provenance = r.provenance;
    d.dataset.released = r.released ? "1" : "0";
    if (r.track !== undefined) d.dataset.track = r.track;
    place(d, r.box);
    const label = document.createElement("span");
    label.className = "label";
    const why = r.released ? (r.reason || "") : "";
    label.textContent = (r.released ? "kept visible" : r.provenance) + (r.track !== undefined ? " #" + r.track : "") + (why ? ": " + why : "");
    const handle = document.createElement("div");
    handle.className = "handle";
    d.append(label, handle);
    overlay.append(d);
  }
}

function place(el, box) {
  const W = state.info.width, H = state.info.height;
  el.style.left = (100 * box[0] / W) + "%";
  el.style.top = (100 * box[1] / H) + "%";
  el.style.width = (100 * (box[2] - box[0]) / W) + "%";
  el.style.height = (100 * (box[3] - box[1]) / H) + "%";
}

function toPicture(ev) {
  const rect = $("overlay").getBoundingClientRect();
  const x = (ev.clientX - rect.left) * state.info.width / rect.width;
  const y = (ev.clientY - rect.top) * state.info.height / rect.height;
  return [Math.max(0, Math.min(state.info.width, x)), Math.max(0, Math.min(state.info.height, y))];
}

function selectedRegion() {
  if (!state.info || state.selected === null) return null;
  return state.info.regions.find((r) => r.index === state.selected) || null;
}

// dragging: move a region, resize it by its corner, or draw a new one
$("overlay").addEventListener("mousedown", (ev) => {
  if (!state.info || ev.button !== 0) return;
  ev.preventDefault();  // no text selection or image drag; so move the focus by hand
  if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
  const target = ev.target.closest(".region");
  const start = toPicture(ev);
  let mode, region = null, el;
  if (target) {
    region = state.info.regions.find((r) => r.index === Number(target.dataset.index));
    state.selected = region.index;
    for (const x of document.querySelectorAll(".region.selected")) x.classList.remove("selected");
    target.classList.add("selected");
    mode = ev.target.classList.contains("handle") ? "resize" : "move";
    el = target;
  } else {
    mode = "draw";
    state.selected = null;
    drawRegions();
    el = document.createElement("div");
    el.className = "region drawing";
    $("overlay").append(el);
  }
  let box = region ? region.box.slice() : [start[0], start[1], start[0], start[1]];
  const onMove = (e) => {
    const p = toPicture(e);
    const dx = p[0] - start[0], dy = p[1] - start[1];
    if (mode === "move") box = [region.box[0] + dx, region.box[1] + dy, region.box[2] + dx, region.box[3] + dy];
    else if (mode === "resize") box = [region.box[0], region.box[1], Math.max(region.box[0] + 2, region.box[2] + dx), Math.max(region.box[1] + 2, region.box[3] + dy)];
    else box = [Math.min(start[0], p[0]), Math.min(start[1], p[1]), Math.max(start[0], p[0]), Math.max(start[1], p[1])];
    place(el, box);
  };
  const onUp = () => {
    window.removeEventListener("mousemove", onMove);
    window.removeEventListener("mouseup", onUp);
    const moved = !region || box.some((v, i) => Math.abs(v - region.box[i]) > 0.5);
    if (!moved) return;
    if (mode === "draw") {
      if (box[2] - box[0] < 4 || box[3] - box[1] < 4) { el.remove(); return; }
      guarded(() => addRegion(box));
    } else {
      guarded(() => edit("PATCH", regionPath(region), { box }));
    }
  };
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
});

function regionPath(r) {
  return "/api/files/" + state.current + "/regions/" + state.frame + "/" + r.index;
}

async function edit(method, path, body, message) {
  await api(method, path, body);
  status(message || "saved");
  await loadFile();
  await refreshList();
  // how many edits this page has saved and shown (tests wait on it)
  document.body.dataset.edits = String(Number(document.body.dataset.edits || 0) + 1);
}

async function addRegion(box) {
  const box2 = box.map((v) => Math.round(v * 100) / 100);
  if (state.info.kind === "video") {
    status("following the face from frame " + state.frame + "…");
    const res = await (await api("POST", "/api/files/" + state.current + "/follow", { frame: state.frame, box: box2 })).json();
    await edit("GET", "/api/files/" + state.current, undefined, "track #" + res.track + " added: it follows the face from frame " + state.frame);
  } else {
    await edit("POST", "/api/files/" + state.current + "/regions", { frame: 0, box: box2 }, "region added");
  }
}

function fromFrame() {
  return state.info && state.info.kind === "video" && $("from-here").checked ? state.frame : 0;
}

function trackPath(track, withFrom) {
  const from = fromFrame();
  return "/api/files/" + state.current + "/tracks/" + track + (withFrom && from ? "?from=" + from : "");
}

async function keepVisible(wholeTrack) {
  const r = selectedRegion();
  if (!r) { status("select a region first", true); return; }
  const reason = $("reason").value;
  if (wholeTrack && r.track !== undefined) {
    await edit("PATCH", trackPath(r.track, false), { released: !r.released, reason, from_frame: fromFrame() },
      r.released ? "track masked again" : "track kept visible");
  } else {
    await edit("PATCH", regionPath(r), { released: !r.released, reason },
      r.released ? "region masked again" : "region kept visible");
  }
}

async function deleteSelected(wholeTrack) {
  const r = selectedRegion();
  if (!r) { status("select a region first", true); return; }
  state.selected = null;
  if (wholeTrack && r.track !== undefined) {
    await edit("DELETE", trackPath(r.track, true), undefined, "track deleted");
  } else {
    await edit("DELETE", regionPath(r), undefined, "region deleted");
  }
}

async function render() {
  if (state.current === null || state.busy) return;
  state.busy = true;
  status("rendering and verifying…");
  try {
    await api("POST", "/api/files/" + state.current + "/render");
  } catch (e) {
    state.busy = false;
    throw e;
  }
  await refreshList();
}

// ------------------------------------------------------------------ video

// thumbnails of tracks, fetched once per file, track and span (kept in memory only)
const thumbs = new Map();
function thumbnail(t) {
  const key = [state.current, t.track, t.thumb_frame, t.first, t.last].join(":");
  if (!thumbs.has(key)) {
    thumbs.set(key, api("GET", "/api/files/" + state.current + "/tracks/" + t.track + "/thumb.jpg")
      .then((res) => res.blob()).then((b) => URL.createObjectURL(b)));
  }
  return thumbs.get(key);
}

function movePlayheads() {
  const n = Math.max(1, state.info.frame_count);
  for (const head of $("timeline").querySelectorAll(".playhead")) head.style.left = (100 * state.frame / n) + "%";
}

// a track's thumbnail is asked for when its row scrolls into the timeline's view: a long
// video may have a thousand tracks, and each thumbnail is a frame to decode
const thumbsInView = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    thumbsInView.unobserve(e.target);
    thumbnail(e.target.track).then((u) => { e.target.src = u; }).catch(() => {});
  }
}, { root: $("timeline"), rootMargin: "100px" });

function drawTimeline() {
  const tl = $("timeline");
  thumbsInView.disconnect();
  tl.textContent = "";
  const n = Math.max(1, state.info.frame_count);
  for (const t of state.info.tracks || []) {
    const row = document.createElement("div");
    row.className = "track" + (t.all_released ? " released" : "");
    row.dataset.track = t.track;
    const img = document.createElement("img");
    img.alt = "track " + t.track;
    img.track = t;
    thumbsInView.observe(img);
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = "#" + t.track + " · frames " + t.first + "–" + t.last + (t.released ? " · " + t.released + " kept visible" : "");
    const bar = document.createElement("div");
    bar.className = "bar";
    for (const [a, b, prov] of t.runs) {
      const run = document.createElement("div");
      run.className = "run prov-" + prov;
      run.style.left = (100 * a / n) + "%";
      run.style.width = Math.max(0.3, 100 * (b - a + 1) / n) + "%";
      run.title = prov + " " + a + "–" + b;
      bar.append(run);
    }
    const head = document.createElement("div");
    head.className = "playhead";
    head.style.left = (100 * state.frame / n) + "%";
    bar.append(head);
    bar.addEventListener("click", (ev) => {
      const rect = bar.getBoundingClientRect();
      guarded(() => seek(Math.floor(n * (ev.clientX - rect.left) / rect.width)));
    });
    const keep = document.createElement("button");
    keep.type = "button";
    keep.textContent = t.all_released ? "Mask again" : "Keep visible";
    keep.addEventListener("click", () => guarded(() => edit("PATCH", trackPath(t.track, false),
      { released: !t.all_released, reason: $("reason").value, from_frame: fromFrame() },
      t.all_released ? "track masked again" : "track kept visible")));
    const del = document.createElement("button");
    del.type = "button";
    del.textContent = "Delete";
    del.className = "delete-track";
    del.addEventListener("click", () => guarded(() => edit("DELETE", trackPath(t.track, true), undefined, "track deleted")));
    const cut = document.createElement("button");
    cut.type = "button";
    cut.textContent = "Cut here";
    cut.className = "cut-track";
    cut.title = "End this track at the current frame (C with one of its regions selected)";
    cut.addEventListener("click", () => guarded(() => trackAction(t.track, "cut")));
    const split = document.createElement("button");
    split.type = "button";
    split.textContent = "Split here";
    split.className = "split-track";
    split.title = "Split this track in two at the current frame (S with one of its regions selected)";
    split.addEventListener("click", () => guarded(() => trackAction(t.track, "split")));
    const pick = document.createElement("label");
    pick.className = "merge-pick";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = state.merge.has(t.track);
    box.addEventListener("change", () => {
      if (box.checked) state.merge.add(t.track); else state.merge.delete(t.track);
      $("merge").disabled = state.merge.size !== 2;
    });
    pick.append(box, " merge");
    row.append(img, meta, bar, keep, del, cut, split, pick);
    tl.append(row);
  }
  for (const k of [...state.merge]) if (!(state.info.tracks || []).some((t) => t.track === k)) state.merge.delete(k);
  $("merge").disabled = state.merge.size !== 2;
  if (!(state.info.tracks || []).length) tl.textContent = "no tracks";
}

async function trackAction(track, action) {
  const res = await api("POST", "/api/files/" + state.current + "/tracks/" + track + "/" + action, { frame: state.frame });
  const data = await res.json();
  await edit("GET", "/api/files/" + state.current, undefined, action === "cut"
    ? "track #" + track + " ends at frame " + state.frame
    : "track #" + track + " split: frames from " + state.frame + " on are track #" + data.track);
}

async function mergeTracks() {
  const [a, b] = [...state.merge];
  if (state.merge.size !== 2) { status("tick two tracks to merge", true); return; }
  const res = await api("POST", "/api/files/" + state.current + "/tracks/" + a + "/merge", { with: b });
  const data = await res.json();
  state.merge.clear();
  await edit("GET", "/api/files/" + state.current, undefined, "tracks #" + a + " and #" + b + " merged into #" + data.track);
}

function selectedTrackAction(action) {
  const r = selectedRegion();
  if (!r || r.track === undefined) { status("select a region of a track first", true); return; }
  return trackAction(r.track, action);
}

async function seek(frame) {
  if (!state.info || state.info.kind !== "video") return;
  state.frame = Math.max(0, Math.min(state.info.frame_count - 1, frame));
  state.selected = null;
  await loadFile();
}

async function play() {
  state.playing = !state.playing;
  $("play").textContent = state.playing ? "Pause" : "Play";
  const fps = (state.info && state.info.fps) || 25;
  while (state.playing && state.info && state.frame < state.info.frame_count - 1) {
    const t0 = performance.now();
    await seek(state.frame + 1);
    const wait = 1000 / fps - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  state.playing = false;
  $("play").textContent = "Play";
}

$("prev").addEventListener("click", () => guarded(() => seek(state.frame - 1)));
$("next").addEventListener("click", () => guarded(() => seek(state.frame + 1)));
$("play").addEventListener("click", () => guarded(play));
$("seek").addEventListener("change", () => guarded(() => seek(Number($("seek").value))));

// ------------------------------------------------------------------ buttons and keys

$("keep").addEventListener("click", () => guarded(() => keepVisible(false)));
$("delete").addEventListener("click", () => guarded(() => deleteSelected(false)));
$("render").addEventListener("click", () => guarded(render));
$("merge").addEventListener("click", () => guarded(mergeTracks));
$("preview").addEventListener("change", () => guarded(loadFile));
$("open-report").addEventListener("click", () => guarded(async () => {
  window.open(await blobURL("report", "/api/report"), "_blank", "noopener");
}));

function moveFile(step) {
  if (!state.files.length) return;
  const i = state.current === null ? 0 : Math.max(0, Math.min(state.files.length - 1, state.current + step));
  return openFile(state.files[i].id);
}

document.addEventListener("keydown", (ev) => {
  if (ev.target.tagName === "INPUT" && ev.target.type === "text") {
    if (ev.key === "Enter" || ev.key === "Escape") ev.target.blur();
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const k = ev.key;
  let action = null;
  if (k === "k" || k === "K") action = () => keepVisible(ev.shiftKey);
  else if (k === "Delete" || k === "Backspace") action = () => deleteSelected(ev.shiftKey);
  else if (k === "m" || k === "M") { $("preview").checked = !$("preview").checked; action = loadFile; }
  else if (k === "r" || k === "R") action = render;
  else if (k === "c" || k === "C") action = () => selectedTrackAction("cut");
  else if (k === "s" || k === "S") action = () => selectedTrackAction("split");
  else if (k === "Escape") { state.selected = null; drawRegions(); return; }
  else if (k === "j" || k === "J" || k === "ArrowUp") action = () => moveFile(-1);
  else if (k === "l" || k === "L" || k === "ArrowDown") action = () => moveFile(1);
  else if (k === "ArrowLeft") action = () => seek(state.frame - 1);
  else if (k === "ArrowRight") action = () => seek(state.frame + 1);
  else if (k === " ") action = play;
  if (action) {
    ev.preventDefault();
    guarded(action);
  }
});

// ------------------------------------------------------------------ start

(async () => {
  await guarded(refreshList);
  if (state.files.length) await guarded(() => openFile(state.files[0].id));
  setInterval(() => guarded(refreshList), 1000);
})();
