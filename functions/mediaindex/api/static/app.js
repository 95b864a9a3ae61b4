// The web gallery: search with facets, a detail view with face boxes, a people page, video timelines.
// Plain DOM, no framework and no build step. Text from the index is only ever set with textContent.
"use strict";

const $ = (sel) => document.querySelector(sel);
const FACET_TITLES = { media_type: "Media type", labels: "Labels", people: "People", emotions: "Emotions", places: "Places" };
const FACET_PARAMS = { media_type: "type", labels: "label", people: "person", emotions: "emotion", places: "place" };
const FACET_ORDER = ["media_type", "people", "places", "labels", "emotions"];
const PAGE = 60;
let config = { writes: false };
let lastHits = [];
let lastSearch = "#/"; // the gallery the detail view came from: its hits give previous and next
let searchSeq = 0; // answers to superseded searches are dropped

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function status(message, isError) {
  const s = $("#status");
  s.textContent = message || "";
  s.classList.toggle("error", !!isError);
}

// Behind API Gateway's JWT authorizer the page carries a bearer token, kept for this tab only. It arrives in the
// hash of the sign-in redirect (#id_token=...&access_token=...), which is then cleared.
const TOKEN_KEY = "mediaindex.token";
function takeTokenFromRedirect() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("access_token") || params.get("id_token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", location.pathname + "#/");
  }
}
const token = () => sessionStorage.getItem(TOKEN_KEY);

function withAuth(options) {
  const t = token();
  if (!t) return options || {};
  return { ...(options || {}), headers: { ...((options || {}).headers || {}), Authorization: `Bearer ${t}` } };
}

function signInNeeded() {
  sessionStorage.removeItem(TOKEN_KEY);
  const s = $("#status");
  s.replaceChildren("Please sign in. ");
  if (config.login_url) s.append(el("a", { href: config.login_url, text: "Sign in" }));
  s.classList.add("error");
}

// <img> cannot send a header: with a token, images are fetched and shown from a blob URL
async function setImage(img, url) {
  if (!token()) { img.src = url; return; }
  try {
    const response = await fetch(url, withAuth());
    if (!response.ok) throw new Error(String(response.status));
    img.src = URL.createObjectURL(await response.blob());
  } catch (e) {
    img.dispatchEvent(new Event("error"));
  }
}

async function api(path, options) {
  const response = await fetch(path, withAuth(options));
  if (response.status === 401) {
    signInNeeded();
    throw Object.assign(new Error("Please sign in."), { signIn: true });
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || `${response.status} ${response.statusText}`);
    error.body = body;
    throw error;
  }
  return body;
}

function seconds(t) {
  const m = Math.floor(t / 60), s = Math.floor(t % 60);
  return `${m}:${String(s).padStart(2, "0")}`;
}

function show(view, byDate) {
  for (const name of ["gallery", "detail", "people"]) $(`#${name}-view`).hidden = name !== view;
  const current = view === "gallery" ? (byDate ? "dates" : "gallery") : view;
  for (const name of ["gallery", "dates", "people"]) {
    if (name === current) $(`#nav-${name}`).setAttribute("aria-current", "page");
    else $(`#nav-${name}`).removeAttribute("aria-current");
  }
}

// Dates as people read them, in the browser's language: "14 Jul 2024, 12:30". A taken date has no zone (the
// camera's clock): it is shown as written; an indexing time is UTC and is shown in the viewer's zone.
function readableDate(iso, withTime) {
  if (!iso) return null;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const options = { day: "numeric", month: "short", year: "numeric" };
  if (withTime !== false && /T\d/.test(iso)) Object.assign(options, { hour: "2-digit", minute: "2-digit" });
  return date.toLocaleString(undefined, options);
}

function monthOf(iso) {
  if (!iso) return "No date taken";
  const date = new Date(iso.length === 7 ? iso + "-01" : iso);
  return Number.isNaN(date.getTime()) ? "No date taken" :
    date.toLocaleString(undefined, { month: "long", year: "numeric" });
}

const narrow = () => window.matchMedia("(max-width: 720px)").matches;

// ---- routing: #/?q=..&label=..  #/doc/ID  #/people --------------------------------------------------------------
function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  if (path.startsWith("/doc/")) return showDetail(path.slice(5));
  if (path === "/people") return showPeople();
  return showGallery(params);
}

function searchHash(params) {
  const text = params.toString();
  return "#/" + (text ? "?" + text : "");
}

// ---- gallery -----------------------------------------------------------------------------------------------------
async function showGallery(params, append) {
  const byDate = /taken/.test(params.get("sort") || "");
  show("gallery", byDate);
  $("#q").value = params.get("q") || "";
  const query = new URLSearchParams(params);
  query.set("limit", PAGE);
  query.set("offset", append ? lastHits.length : 0);
  status("Searching…");
  const seq = ++searchSeq;
  let result;
  try {
    result = await api("/api/search?" + query.toString());
    if (seq !== searchSeq) return;
  } catch (e) {
    if (seq !== searchSeq || e.signIn) return;
    status(e.body && e.body.position !== undefined
      ? `${e.message}\n${e.body.query}\n${" ".repeat(e.body.position)}^` : e.message, true);
    $("#grid").replaceChildren();
    $("#summary").textContent = "";
    return;
  }
  status("");
  lastHits = append ? lastHits.concat(result.hits) : result.hits;
  lastSearch = searchHash(params);
  renderFacets(result.facets, params);
  const grid = $("#grid");
  if (byDate) {  // the photo app's core view: newest first, under a heading per month
    grid.replaceChildren();
    let month = null;
    for (const hit of lastHits) {
      const m = monthOf(hit.taken_at);
      if (m !== month) grid.append(el("li", { class: "month", role: "presentation" }, el("h2", { class: "month", text: m })));
      month = m;
      grid.append(tile(hit));
    }
  } else {
    if (!append) grid.replaceChildren();
    grid.append(...result.hits.map(tile));
  }
  const summary = $("#summary");
  summary.replaceChildren(result.total === 0 ? emptyState(result, params) :
    `${result.total} file${result.total === 1 ? "" : "s"}` + (result.total > lastHits.length ? `, showing ${lastHits.length}` : "") +
    (byDate ? ", by date taken" : "") +
    (result.relaxed ? ": none has every word, these have some of them, the most first" : "") +
    ((result.not_understood || []).length ? ` (left out, not found in any file: ${result.not_understood.join(", ")})` : ""));
  const more = $("#more");
  more.hidden = lastHits.length >= result.total;
  more.onclick = () => showGallery(params, true);
}

// Nothing found: say what would find something, rather than only "no".
function emptyState(result, params) {
  const box = el("span", {});
  const filtered = [...params.keys()].some((k) => k !== "sort");
  if (!filtered) {
    box.append("The index is empty: index a folder first (", el("code", { text: "mediaindex index ~/Pictures" }), ").");
    return box;
  }
  box.append("Nothing matches.");
  const s = result.suggestions || {};
  const links = [...(s.labels || []).map((v) => ["label", v]), ...(s.people || []).map((v) => ["person", v])];
  if (links.length) {
    box.append(el("span", { class: "suggest", id: "suggestions" }, " Closest: ", links.map(([kind, v]) =>
      el("a", { href: searchHash(new URLSearchParams([[kind, v]])), text: kind === "person" ? v : `${v} (label)` }))));
  } else {
    box.append(" Try fewer words or filters.");
  }
  return box;
}

function thumbImage(hit) {
  const alt = `${hit.name}` + (hit.labels.length ? `: ${hit.labels.slice(0, 3).join(", ")}` : "") +
    (hit.people.length ? `; ${hit.people.join(", ")}` : "");
  const img = el("img", { alt, loading: "lazy", decoding: "async" });
  img.addEventListener("error", () => img.replaceWith(el("span", { class: "icon", role: "img", "aria-label": alt,
    text: hit.media_type === "video" ? "▶" : "▧" })));
  setImage(img, `/api/documents/${hit.id}/thumbnail`);
  return img;
}

function tile(hit) {
  const meta = hit.people.length ? hit.people.join(", ") : hit.labels.slice(0, 3).join(", ");
  return el("li", { class: "tile" },
    el("a", { href: `#/doc/${hit.id}`, title: hit.key },
      el("div", { class: "thumb" }, thumbImage(hit),
        hit.media_type === "video" ? el("span", { class: "badge", text: "▶ " + (hit.duration ? seconds(hit.duration) : "video") }) : null,
        hit.status === "failed" ? el("span", { class: "badge", text: "failed" }) : null),
      el("div", { class: "caption" },
        el("div", { class: "name", text: hit.name }),
        el("div", { class: "meta", text: hit.status === "failed" ? (hit.error || "failed") : (meta || " ") }),
        onlyByName(hit) ? el("div", { class: "meta why", text: `matched by its ${onlyByName(hit)}` }) : null)));
}

// a plain word found in the file name or text only: facets (labels, people) do not count it, so say so
function onlyByName(hit) {
  const m = hit.matched || [];
  if (!m.length || m.some((r) => !["text", "file name"].includes(r))) return null;
  return m.join(" and ");
}

function renderFacets(facets, params) {
  const aside = $("#facets");
  aside.replaceChildren();
  const on = Object.values(FACET_PARAMS).reduce((n, p) => n + params.getAll(p).length, 0);
  $("#filters-summary").textContent = on ? `Filters (${on} on)` : "Filters";
  if (!narrow()) $("#filters").open = true;
  for (const name of FACET_ORDER) {
    const values = (facets[name] || []).slice();
    const param = FACET_PARAMS[name];
    const chosen = params.getAll(param);
    for (const value of chosen) if (!values.some((v) => v.value.toLowerCase() === value.toLowerCase())) values.push({ value, count: 0 });
    if (!values.length) continue;
    const set = el("fieldset", { "data-facet": name }, el("legend", { text: FACET_TITLES[name] }));
    values.forEach((v, i) => {
      const id = `facet-${name}-${i}`;
      const checked = chosen.some((c) => c.toLowerCase() === v.value.toLowerCase());
      const box = el("input", { type: "checkbox", id, value: v.value, checked });
      box.addEventListener("change", () => {
        const next = new URLSearchParams(params);
        next.delete(param);
        const keep = chosen.filter((c) => c.toLowerCase() !== v.value.toLowerCase());
        for (const c of box.checked ? keep.concat([v.value]) : keep) next.append(param, c);
        location.hash = searchHash(next);
      });
      const shown = name === "emotions" ? v.value.toLowerCase() : v.value;
      set.append(el("label", { for: id }, box, el("span", { text: shown }), el("span", { class: "count", text: String(v.count) })));
    });
    aside.append(set);
  }
}

// ---- detail ------------------------------------------------------------------------------------------------------
function boxStyle(node, box) {
  node.style.left = `${box.left * 100}%`;
  node.style.top = `${box.top * 100}%`;
  node.style.width = `${box.width * 100}%`;
  node.style.height = `${box.height * 100}%`;
  return node;
}

async function showDetail(id) {
  show("detail");
  const view = $("#detail-view");
  view.replaceChildren(el("p", { text: "Loading…" }));
  let doc;
  try {
    doc = await api(`/api/documents/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e.signIn) return;
    const missing = e.body && e.body.status === 404;
    view.replaceChildren(el("div", { class: "detail-head" }, el("h1", { id: "detail-title",
      text: missing ? "This file is not in the index" : "This file cannot be shown" })),
      el("p", { class: "status error", id: "detail-missing", text: missing
        ? "It may have been removed or moved since this link was made, or it was never indexed."
        : e.message }),
      el("p", {}, el("a", { href: lastSearch, text: "← Back to the gallery" })));
    return;
  }
  const back = el("button", { type: "button", class: "secondary", text: "← Back to results",
    onclick: () => (history.length > 1 ? history.back() : (location.hash = "#/")) });
  const at = lastHits.findIndex((h) => h.id === doc.id);
  const pager = el("nav", { class: "pager", "aria-label": "Previous and next" },
    at > 0 ? el("a", { href: `#/doc/${lastHits[at - 1].id}`, id: "previous", rel: "prev", text: "← Previous" }) : null,
    at >= 0 && at < lastHits.length - 1 ? el("a", { href: `#/doc/${lastHits[at + 1].id}`, id: "next", rel: "next", text: "Next →" }) : null,
    doc.status === "indexed" && !token() ? el("a", { href: `/api/documents/${doc.id}/media`, download: doc.name, id: "download",
      text: "Download" }) : null);
  const head = el("div", { class: "detail-head" }, back, el("h1", { id: "detail-title", text: doc.name }), pager);
  const stage = el("div", { class: "stage" });
  const isVideo = doc.media_type === "video";
  let video = null;
  let src = `/api/documents/${doc.id}/media`;
  if (doc.status === "indexed") {
    // same origin locally; a short-lived presigned S3 URL on AWS (no header needed to load it)
    try { src = (await api(`/api/documents/${doc.id}/media-url`)).url; } catch (e) { if (!e.signIn) status(e.message, true); }
  }
  if (isVideo) {
    video = el("video", { src, controls: true, preload: "metadata", "aria-label": `Video ${doc.name}` });
    stage.append(video);
  } else {
    const labels = (doc.labels || []).map((l) => l.name).slice(0, 5).join(", ");
    stage.append(el("img", { src, alt: `${doc.name}${labels ? ": " + labels : ""}` }));
    (doc.labels || []).forEach((label) => (label.instances || []).forEach((inst) => {
      if (inst.box) stage.append(boxStyle(el("div", { class: "box label", "aria-hidden": "true" },
        el("span", { class: "tag", text: label.name })), inst.box));
    }));
    (doc.faces || []).forEach((face, i) => {
      if (!face.box) return;
      const name = face.person || `face ${i + 1}`;
      stage.append(boxStyle(el("div", { class: "box face" + (face.person ? "" : " unknown"), "data-face": i,
        role: "img", "aria-label": `Face: ${name}` }, el("span", { class: "tag", text: name })), face.box));
    });
  }
  const left = el("div", {}, stage);
  if (!isVideo && (doc.labels || []).some((l) => (l.instances || []).length)) {
    const toggle = el("input", { type: "checkbox", id: "show-labels", checked: true });
    toggle.addEventListener("change", () => stage.classList.toggle("hide-labels", !toggle.checked));
    left.append(el("p", {}, el("label", { for: "show-labels" }, toggle, " Show object boxes")));
  }
  view.replaceChildren(head, left, detailPanel(doc));
  if (isVideo && doc.video) view.append(timeline(doc, video));
}

function chipLink(text, param, value, extra) {
  return el("li", {}, el("a", { href: searchHash(new URLSearchParams([[param, value]])) }, text,
    extra ? el("span", { class: "conf", text: " " + extra }) : null));
}

function detailPanel(doc) {
  const panel = el("div", { class: "panel" });
  if (doc.status === "failed") panel.append(el("p", { class: "status error", text: `Not analysed: ${doc.error}` }));
  if ((doc.people || []).length) {
    panel.append(el("h2", { text: "People" }), el("ul", { class: "chips", id: "people-chips" },
      doc.people.map((p) => chipLink(p, "person", p))));
  }
  const faces = doc.faces || [];
  if (faces.length) {
    panel.append(el("h2", { text: `Faces (${faces.length})` }), el("ul", { class: "chips" }, faces.map((f, i) => {
      const bits = [f.person || `face ${i + 1}`];
      if (f.age_low != null) bits.push(`${f.age_low}–${f.age_high}`);
      if (f.gender) bits.push(f.gender.toLowerCase());
      if (f.emotion) bits.push(f.emotion.toLowerCase());
      return el("li", {}, el("span", { text: bits.join(", ") }));
    })));
    const unnamed = faces.map((f, i) => [f, i]).filter(([f]) => !f.person && f.box);
    if (unnamed.length && doc.media_type === "image" && doc.status === "indexed") panel.append(nameFaceForm(doc, unnamed));
    const boxed = faces.map((f, i) => [f, i]).filter(([f]) => f.box);
    if (boxed.length && doc.status === "indexed") panel.append(hideFaceForm(doc, boxed));
  }
  if ((doc.labels || []).length) {
    panel.append(el("h2", { text: "Labels" }), el("ul", { class: "chips" },
      doc.labels.slice().sort((a, b) => b.confidence - a.confidence).map((l) =>
        chipLink(l.name, "label", l.name, `${Math.round(l.confidence)} %`))));
  }
  if (doc.text) panel.append(el("h2", { text: "Text" }), el("p", { text: doc.text }));
  const facts = [["File", doc.key], ["Type", doc.content_type || doc.media_type],
    ["Size", doc.width ? `${doc.width} × ${doc.height}` : null], ["Taken", readableDate(doc.taken_at)],
    ["Place", doc.place ? (doc.place.label || [doc.place.city, doc.place.region, doc.place.country].filter(Boolean).join(", ")) : null],
    ["Camera", doc.camera],
    ["Duration", doc.video && doc.video.duration ? seconds(doc.video.duration) : null], ["Indexed", readableDate(doc.indexed_at)]];
  panel.append(el("h2", { text: "File" }), el("dl", { class: "facts" },
    facts.filter(([, v]) => v).map(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })])));
  return panel;
}

// Name a face of this photo: it is enrolled from its crop, and every indexed file with that face follows.
function nameFaceForm(doc, unnamed) {
  const select = el("select", { id: "face-choice", disabled: !config.writes },
    unnamed.map(([, i]) => el("option", { value: String(i), text: `face ${i + 1}` })));
  const input = el("input", { id: "face-name", name: "name", required: true, autocomplete: "off", placeholder: "Full name",
    disabled: !config.writes });
  const form = el("form", { id: "name-face", class: "name-face" },
    el("label", { for: "face-choice", text: "Name" }), select,
    el("label", { for: "face-name", class: "visually-hidden", text: "Their name" }), input,
    el("button", { type: "submit", disabled: !config.writes, text: "Save" }));
  if (!config.writes) {
    form.append(el("p", { class: "note", id: "name-face-note",
      text: "Read-only: start the server with `mediaindex serve --allow-writes` to name faces here." }));
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    status(`Naming face ${Number(select.value) + 1}…`);
    try {
      const result = await api("/api/people/enroll", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name, document_id: doc.id, face_index: Number(select.value) }) });
      status(`Named ${name}: ${result.documents_updated} file(s) updated.`);
      showDetail(doc.id);
    } catch (e) {
      status(e.message, true);
    }
  });
  return el("div", {}, el("h2", { text: "Name a face" }), form);
}

// "Not a face": the face leaves this file (and every copy of it) and stays hidden when it is indexed again.
function hideFaceForm(doc, boxed) {
  const select = el("select", { id: "hide-choice", disabled: !config.writes },
    boxed.map(([f, i]) => el("option", { value: String(i), text: f.person ? `face ${i + 1} (${f.person})` : `face ${i + 1}` })));
  const form = el("form", { id: "hide-face", class: "name-face" },
    el("label", { for: "hide-choice", text: "Which face" }), select,
    el("button", { type: "submit", class: "secondary", disabled: !config.writes, text: "Hide it" }));
  if (!config.writes) {
    form.append(el("p", { class: "note", id: "hide-face-note",
      text: "Read-only: start the server with `mediaindex serve --allow-writes`, or use `mediaindex faces hide`." }));
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const n = Number(select.value);
    status(`Hiding face ${n + 1}…`);
    try {
      const result = await api(`/api/documents/${encodeURIComponent(doc.id)}/faces/${n}/hide`, { method: "POST",
        headers: { "Content-Type": "application/json" }, body: "{}" });
      status(`Face ${n + 1} hidden: ${result.documents_updated} file(s) updated.`);
      showDetail(doc.id);
    } catch (e) {
      status(e.message, true);
    }
  });
  return el("div", {}, el("h2", { text: "Not a face?" }), form);
}

function timeline(doc, video) {
  const duration = doc.video.duration || Math.max(1, ...[...(doc.video.segments?.people || []),
    ...(doc.video.segments?.labels || [])].map((s) => s.end));
  const section = el("section", { class: "timeline panel", "aria-labelledby": "timeline-title" },
    el("h2", { id: "timeline-title", text: "Timeline" }));
  const heads = [];
  const addRows = (spans, kind) => {
    const byName = new Map();
    for (const s of spans || []) (byName.get(s.name) || byName.set(s.name, []).get(s.name)).push(s);
    for (const [name, list] of byName) {
      const track = el("div", { class: `track ${kind}` });
      for (const s of list) {
        const seg = el("button", { type: "button", class: "seg", "data-start": s.start,
          "aria-label": `${name}: ${seconds(s.start)} to ${seconds(s.end)}, play from here`,
          title: `${name} ${seconds(s.start)}–${seconds(s.end)}` });
        seg.style.left = `${(s.start / duration) * 100}%`;
        seg.style.width = `${Math.max(0.5, ((s.end - s.start) / duration) * 100)}%`;
        seg.addEventListener("click", () => { video.currentTime = s.start; video.play().catch(() => {}); });
        track.append(seg);
      }
      const head = el("div", { class: "playhead" });
      heads.push(head);
      track.append(head);
      section.append(el("div", { class: "row" }, el("span", { class: `who ${kind}`, text: name }), track));
    }
  };
  addRows(doc.video.segments?.people, "person");
  addRows(doc.video.segments?.labels, "label");
  const axis = el("div", { class: "axis", "aria-hidden": "true" });
  const step = duration > 600 ? 120 : duration > 120 ? 30 : duration > 30 ? 10 : 2;
  for (let t = 0; t <= duration; t += step) {
    const tick = el("span", { text: seconds(t) });
    tick.style.left = `${(t / duration) * 100}%`;
    axis.append(tick);
  }
  section.append(el("div", { class: "row" }, el("span", { class: "who", "aria-hidden": "true" }), axis));
  if (section.querySelectorAll(".row").length === 0) section.append(el("p", { class: "note", text: "No people or labels were placed in time." }));
  video.addEventListener("timeupdate", () => {
    for (const h of heads) h.style.left = `${(video.currentTime / duration) * 100}%`;
  });
  return section;
}

// ---- people ------------------------------------------------------------------------------------------------------
async function showPeople() {
  show("people");
  const view = $("#people-view");
  view.replaceChildren(el("p", { text: "Loading…" }));
  let data;
  try {
    data = await api("/api/people");
  } catch (e) {
    view.replaceChildren(el("p", { class: "status error", text: e.message }));
    return;
  }
  const people = el("ul", { class: "people-list", id: "people-list" }, data.people.map((p) => {
    let face = null;
    if (p.face) {
      face = el("img", { alt: `${p.name}'s face`, loading: "lazy", class: "person-face" });
      face.addEventListener("error", () => face.remove());
      setImage(face, `/api/documents/${p.face.id}/faces/${p.face.face_index}`);
    }
    return el("li", {}, el("span", { class: "who" }, face,
      el("a", { href: searchHash(new URLSearchParams([["person", p.name]])), text: p.name })),
      el("span", { class: "note", text: `${p.files} file${p.files === 1 ? "" : "s"}` }));
  }));
  const parts = [el("h1", { id: "people-title", text: "People" })];
  if (!data.available) parts.push(el("p", { class: "note", text: data.reason }));
  parts.push(data.people.length ? people : el("p", { class: "note", text: "Nobody is named yet." }));
  const enrolled = data.people.filter((p) => p.faces);
  if (data.available && enrolled.length >= 2) parts.push(mergeForm(enrolled, data.writes));
  parts.push(el("h2", { text: "Faces nobody has named" }));
  if (!data.writes) parts.push(el("p", { class: "note", id: "read-only-note",
    text: "This server is read-only, so nobody can be named here. To name people, start it with " +
      "`mediaindex serve --allow-writes` (on AWS: MEDIAINDEX_API_WRITES=1), or use `mediaindex people add NAME PHOTO`." }));
  if (data.clusters_reason) parts.push(el("p", { class: "note", text: data.clusters_reason }));
  else if (!data.clusters.length) parts.push(el("p", { class: "note", text: "No unnamed groups of faces." }));
  parts.push(el("ul", { class: "clusters" }, data.clusters.map((c) => clusterCard(c, data.writes))));
  view.replaceChildren(...parts);
}

// One person under two names: the first one's faces become the second's, and every file follows.
function mergeForm(enrolled, writes) {
  const options = () => enrolled.map((p) => el("option", { value: p.name, text: p.name }));
  const from = el("select", { id: "merge-from", disabled: !writes }, options());
  const into = el("select", { id: "merge-into", disabled: !writes }, options());
  into.selectedIndex = 1;
  const form = el("form", { id: "merge-people", class: "name-face" },
    el("label", { for: "merge-from", text: "Merge" }), from,
    el("label", { for: "merge-into", text: "into" }), into,
    el("button", { type: "submit", disabled: !writes, text: "Merge" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (from.value === into.value) { status("Choose two different people to merge.", true); return; }
    status(`Merging ${from.value} into ${into.value}…`);
    try {
      const result = await api("/api/people/merge", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ from: from.value, into: into.value }) });
      status(`${result.from} is now ${result.into}: ${result.documents_updated} file(s) updated.`);
      showPeople();
    } catch (e) {
      status(e.message, true);
    }
  });
  return el("div", {}, el("h2", { text: "The same person twice?" }), form);
}

function clusterCard(cluster, writes) {
  const inputId = `name-${cluster.cluster}`;
  const input = el("input", { id: inputId, name: "name", required: true, autocomplete: "off", disabled: !writes,
    placeholder: "Full name" });
  const form = el("form", { "data-cluster": cluster.cluster },
    el("label", { for: inputId, text: "Name this person" }), input,
    el("button", { type: "submit", disabled: !writes, text: "Save name" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    status(`Naming ${cluster.cluster}…`);
    try {
      const result = await api(`/api/people/clusters/${encodeURIComponent(cluster.cluster)}/name`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name }) });
      status(`Named ${result.name}: ${result.documents_updated} file(s) updated.`);
      showPeople();
    } catch (e) {
      status(e.message, true);
    }
  });
  const picks = [];
  const faces = el("div", { class: "faces" }, cluster.files.map((f, n) => {
    const img = el("img", { alt: `Unnamed face in ${f.key.split("/").pop()}`, loading: "lazy" });
    setImage(img, `/api/documents/${f.id}/faces/${f.face_index}`);
    const pickId = `pick-${cluster.cluster}-${n}`;
    const pick = el("input", { type: "checkbox", id: pickId, class: "pick", disabled: !writes,
      "data-id": f.id, "data-face": String(f.face_index) });
    picks.push(pick);
    return el("span", { class: "face-pick" }, el("a", { href: `#/doc/${f.id}`, title: f.key }, img),
      el("label", { for: pickId, class: "visually-hidden", text: `Choose the face in ${f.key.split("/").pop()}` }), pick);
  }));
  // Two people in one group: the faces ticked go to a group of their own, which later clustering keeps apart.
  const split = el("button", { type: "button", class: "secondary split", disabled: !writes,
    text: "Split off the faces ticked" });
  split.addEventListener("click", async () => {
    const chosen = picks.filter((p) => p.checked).map((p) => ({ id: p.dataset.id, face_index: Number(p.dataset.face) }));
    if (!chosen.length) { status("Tick the faces that are someone else, then split.", true); return; }
    status(`Splitting ${cluster.cluster}…`);
    try {
      const result = await api(`/api/people/clusters/${encodeURIComponent(cluster.cluster)}/split`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ faces: chosen }) });
      status(`${result.faces_moved} face(s) moved to ${result.moved_to}.`);
      showPeople();
    } catch (e) {
      status(e.message, true);
    }
  });
  return el("li", { class: "cluster", "data-cluster": cluster.cluster },
    el("div", { text: `${cluster.file_count} file${cluster.file_count === 1 ? "" : "s"}, ${cluster.faces} face${cluster.faces === 1 ? "" : "s"}` }),
    faces, form, split);
}

// ---- start -------------------------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", async () => {
  takeTokenFromRedirect();
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = $("#q").value.trim();
    location.hash = searchHash(new URLSearchParams(q ? [["q", q]] : []));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#detail-view").hidden) history.back();
    if (event.key === "/" && document.activeElement.tagName !== "INPUT") { event.preventDefault(); $("#q").focus(); }
  });
  window.addEventListener("hashchange", route);
  if (narrow()) $("#filters").open = false;  // on a phone the photos come first; the filters are one tap away
  // a search submitted before this script ran arrives as /?q=...: carry it over to the hash
  if (location.search && (!location.hash || location.hash === "#/")) {
    history.replaceState(null, "", "/" + searchHash(new URLSearchParams(location.search)));
  }
  try { config = await api("/api/config"); } catch (e) { if (!e.signIn) status(e.message, true); }
  route();
});
