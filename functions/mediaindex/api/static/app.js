// The web gallery as a photo app: a timeline by date taken (months, days, justified rows, a scrubber, loaded as it
// scrolls), a viewer (keys, swipe, zoom, people on their faces), people, places and a map drawn from country
// outlines served here. Plain DOM, no framework and no build step. Text from the index is only set with textContent.
"use strict";

const $ = (sel) => document.querySelector(sel);
let config = { writes: false };

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

// ---- small helpers -------------------------------------------------------------------------------------------------
function seconds(t) {
  const m = Math.floor(t / 60), s = Math.floor(t % 60);
  return `${m}:${String(s).padStart(2, "0")}`;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : (many || one + "s")}`;
const narrow = () => window.matchMedia("(max-width: 720px)").matches;
const docHash = (id) => `#/doc/${id}`;
const thumbUrl = (id) => `/api/documents/${id}/thumbnail`;
const faceUrl = (id, n) => `/api/documents/${id}/faces/${n}`;

// A date taken has no zone (the camera's clock): shown as written. An indexing time is UTC, shown in the viewer's zone.
function parseDate(iso) {
  if (!iso) return null;
  const date = new Date(/T\d/.test(iso) && !/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

function readableDate(iso, withTime) {
  const date = parseDate(iso);
  if (!date) return iso || null;
  const options = { day: "numeric", month: "short", year: "numeric" };
  if (withTime !== false && /T\d/.test(iso)) Object.assign(options, { hour: "2-digit", minute: "2-digit" });
  return date.toLocaleString(undefined, options);
}

// "Saturday 14 June 2025 at 18:30": the date in words, as the viewer says it
function dateInWords(iso) {
  const date = parseDate(iso);
  if (!date) return null;
  const day = date.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  if (!/T\d/.test(iso)) return day;
  return `${day}, ${date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })}`;
}

function monthName(month) {  // "2025-06" -> "June 2025"
  if (month === "none") return "No date taken";
  const [y, m] = month.split("-").map(Number);
  return new Date(y, m - 1, 1).toLocaleString(undefined, { month: "long", year: "numeric" });
}

function shortMonth(month) {
  const [y, m] = month.split("-").map(Number);
  return new Date(y, m - 1, 1).toLocaleString(undefined, { month: "short" });
}

function shortDay(day) {  // "2025-06-14" -> "14 Jun"
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

function dayName(day) {  // "2025-06-14" -> "Sat, 14 Jun"
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d).toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
}

function show(view) {
  for (const name of ["gallery", "detail", "people", "places", "map", "duplicates"]) $(`#${name}-view`).hidden = name !== view;
  const current = view === "detail" ? null : view;
  for (const name of ["gallery", "people", "places", "map", "duplicates"]) {
    if (name === current) $(`#nav-${name}`).setAttribute("aria-current", "page");
    else $(`#nav-${name}`).removeAttribute("aria-current");
  }
  document.body.dataset.view = view;
}

// ---- edit mode: exists only when the server allows writes ------------------------------------------------------
const EDIT_KEY = "mediaindex.edit";
const editing = () => config.writes && sessionStorage.getItem(EDIT_KEY) === "1";

function setupEditToggle() {
  const button = $("#edit-toggle");
  button.hidden = !config.writes;
  if (!config.writes) { sessionStorage.removeItem(EDIT_KEY); return; }
  const sync = () => {
    button.setAttribute("aria-pressed", String(editing()));
    button.textContent = editing() ? "Done editing" : "Edit";
    document.body.classList.toggle("editing", editing());
  };
  button.addEventListener("click", () => {
    sessionStorage.setItem(EDIT_KEY, editing() ? "0" : "1");
    sync();
    route(true);
  });
  sync();
}

// ---- routing: #/?q=..&person=..  #/doc/ID  #/people  #/places  #/map  #/duplicates----------------------------------------
function route(force) {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  if (path !== "/" && !path.startsWith("/doc/")) galleryState.scroll = null;
  if (path.startsWith("/doc/")) return showDetail(path.slice(5));
  if (path === "/people") return showPeople();
  if (path === "/places") return showPlaces();
  if (path === "/map") return showMap(params);
  if (path === "/duplicates") return showDuplicates();
  return showGallery(params, force);
}

function searchHash(params) {
  const text = params.toString();
  return "#/" + (text ? "?" + text : "");
}

// ---- the gallery: a timeline by date taken, or a search's best matches first -------------------------------------
const FILTER_PARAMS = ["q", "label", "person", "emotion", "place", "type", "kind", "taken"];
const PAGE = 100;
const MONTH_PAGE = 200;
const galleryState = { key: null, scroll: null, order: [], observer: null };
let searchSeq = 0;

function filterQuery(params) {
  const query = new URLSearchParams();
  for (const name of FILTER_PARAMS) for (const v of params.getAll(name)) query.append(name, v);
  return query;
}

// a timeline unless words are searched for (then the best matches come first), or a sort is asked for
const isTimeline = (params) => !(params.get("q") || "").trim() && !params.get("sort");

function rowHeight() {
  return narrow() ? 92 : 200;
}

async function showGallery(params, force) {
  show("gallery");
  $("#q").value = params.get("q") || "";
  const key = searchHash(params);
  if (!force && key === galleryState.key && $("#photos").childElementCount) {  // back from the viewer: as it was
    if (galleryState.scroll !== null) window.scrollTo(0, galleryState.scroll);
    return;
  }
  galleryState.key = key;
  galleryState.order = [];
  if (galleryState.observer) galleryState.observer.disconnect();
  const seq = ++searchSeq;
  status("Loading…");
  const query = filterQuery(params);
  const timelineMode = isTimeline(params);
  $("#photos").replaceChildren();
  $("#scrubber").hidden = true;
  let first, months;
  try {
    const search = new URLSearchParams(query);
    if (params.get("sort")) search.set("sort", params.get("sort"));
    search.set("limit", timelineMode ? "0" : String(PAGE));
    if (params.has("failed")) search.set("failed", "true");
    [first, months] = await Promise.all([api("/api/search?" + search), api("/api/timeline?" + withoutTaken(query))]);
    if (seq !== searchSeq) return;
  } catch (e) {
    if (seq !== searchSeq || e.signIn) return;
    status(e.body && e.body.position !== undefined
      ? `${e.message}\n${e.body.query}\n${" ".repeat(e.body.position)}^` : e.message, true);
    $("#summary").textContent = "";
    return;
  }
  status("");
  renderFacets(first, months, params);
  renderSummary(first, params, timelineMode);
  if (first.total === 0) return;
  if (timelineMode) renderTimeline(months, query, seq, params.get("taken"));
  else renderResults(first, params, seq);
}

function withoutTaken(query) {
  const q = new URLSearchParams(query);
  q.delete("taken");
  return q.toString();
}

function renderSummary(result, params, timelineMode) {
  const summary = $("#summary");
  if (result.total === 0) { summary.replaceChildren(emptyState(result, params)); return; }
  const filtered = FILTER_PARAMS.some((p) => params.has(p));
  let text = timelineMode ? (filtered ? plural(result.total, "photo or video", "photos and videos") : "") :
    plural(result.total, "match", "matches") + (result.relaxed ? ": none has every word, these have some of them, the most first" : ", best first");
  if ((result.not_understood || []).length) text += ` (left out, not found in any file: ${result.not_understood.join(", ")})`;
  summary.textContent = text;
  summary.hidden = !text;
}

// Nothing found: say what would find something, rather than only "no".
function emptyState(result, params) {
  const box = el("span", {});
  const filtered = [...params.keys()].some((k) => k !== "sort");
  if (!filtered) {
    box.append("No photos yet. Once the library is indexed, they appear here, newest first.");
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

// The timeline: one section per month (its height estimated from its count until it loads), loaded as it nears
// the screen, days under it, each a run of justified rows.
function renderTimeline(timeline, query, seq, taken) {
  const photos = $("#photos");
  let months = timeline.months.slice();
  if (timeline.undated) months.push({ month: "none", count: timeline.undated });
  if (taken) months = months.filter((m) => taken === "none" ? m.month === "none" : m.month.startsWith(taken.slice(0, 7)));
  const width = photos.clientWidth || window.innerWidth;
  const sections = months.map((m) => {
    const rows = Math.ceil((m.count * rowHeight() * 1.3) / Math.max(200, width));
    const section = el("section", { class: "month", "data-month": m.month, "data-count": m.count,
      "aria-labelledby": `month-${m.month}`, id: `m-${m.month}` },
      el("h2", { class: "month-title", id: `month-${m.month}`, text: monthName(m.month) }),
      el("div", { class: "days" }));
    section.style.minHeight = `${rows * (rowHeight() + 4) + 40}px`;
    section.loaded = 0;
    return section;
  });
  photos.replaceChildren(...sections);
  renderScrubber(months);
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) if (entry.isIntersecting) loadMonth(entry.target, query, seq);
  }, { rootMargin: "1500px 0px" });
  galleryState.observer = observer;
  sections.forEach((s) => observer.observe(s));
  const current = new IntersectionObserver((entries) => {
    for (const entry of entries) if (entry.isIntersecting) markScrubber(entry.target.dataset.month);
  }, { rootMargin: "0px 0px -70% 0px" });
  sections.forEach((s) => current.observe(s));
}

async function loadMonth(section, query, seq) {
  if (section.loading || section.loaded >= Number(section.dataset.count)) return;
  section.loading = true;
  const search = new URLSearchParams(query);
  search.set("taken", section.dataset.month);
  search.set("sort", "-taken_at");
  search.set("limit", String(MONTH_PAGE));
  search.set("offset", String(section.loaded));
  let result;
  try {
    result = await api("/api/search?" + search);
  } catch (e) {
    section.loading = false;
    if (!e.signIn) status(e.message, true);
    return;
  }
  if (seq !== searchSeq) return;
  section.hits = (section.hits || []).concat(result.hits);
  section.loaded = section.hits.length;
  section.loading = false;
  layoutMonth(section);
  section.style.minHeight = "";
  section.dataset.loaded = "true";
  rebuildOrder();
  if (section.loaded < Math.min(result.total, Number(section.dataset.count))) {  // a big month: more as it scrolls
    const more = el("div", { class: "sentinel" });
    section.append(more);
    const watch = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) { watch.disconnect(); more.remove(); loadMonth(section, query, seq); }
    }, { rootMargin: "1200px 0px" });
    watch.observe(more);
  }
}

function layoutMonth(section) {
  const days = section.querySelector(".days");
  const byDay = new Map();
  for (const hit of section.hits) {
    const day = hit.taken_at ? hit.taken_at.slice(0, 10) : "none";
    (byDay.get(day) || byDay.set(day, []).get(day)).push(hit);
  }
  const width = days.clientWidth || section.clientWidth;
  if (narrow()) {  // a phone: the month in one run of rows, each day's first photo marked, so a screen holds ~20
    days.replaceChildren(el("div", { class: "day" }, justified(section.hits, width, true)));
    return;
  }
  days.replaceChildren(...[...byDay].map(([day, hits]) => el("div", { class: "day" },
    day === "none" ? null : el("h3", { class: "day-title", text: dayName(day) }),
    justified(hits, width))));
}

// Rows of photos as wide as the page, each photo at its own aspect ratio, every row about the same height.
function justified(hits, width, markDays) {
  const gap = narrow() ? 2 : 4, target = rowHeight();
  let lastDay = null;
  const list = el("ul", { class: "rows" });
  let row = [], sum = 0;
  const flush = (last) => {
    if (!row.length) return;
    const height = last ? Math.min(target, (width - gap * (row.length - 1)) / sum) : (width - gap * (row.length - 1)) / sum;
    for (const [hit, ratio] of row) {
      const t = tile(hit);
      const day = hit.taken_at ? hit.taken_at.slice(0, 10) : null;
      if (markDays && day && day !== lastDay) {
        t.querySelector("a").append(el("span", { class: "day-chip", "aria-hidden": "true", text: shortDay(day) }));
        t.classList.add("first-of-day");
      }
      lastDay = day;
      t.style.width = `${Math.floor(ratio * height)}px`;
      t.style.height = `${Math.floor(height)}px`;
      list.append(t);
    }
    list.append(el("li", { class: "break", "aria-hidden": "true" }));
    row = []; sum = 0;
  };
  for (const hit of hits) {
    const ratio = hit.width && hit.height ? Math.min(3, Math.max(0.4, hit.width / hit.height)) : (hit.media_type === "video" ? 16 / 9 : 1.33);
    row.push([hit, ratio]);
    sum += ratio;
    if (sum * target + gap * (row.length - 1) >= width) flush(false);
  }
  flush(true);
  return list;
}

function describe(hit) {
  const bits = [];
  if (hit.media_type === "video") bits.push("Video");
  if (hit.people.length) bits.push(hit.people.join(", "));
  if (hit.labels.length) bits.push(hit.labels.slice(0, 3).join(", "));
  if (hit.place) bits.push(hit.place);
  if (hit.taken_at) bits.push(readableDate(hit.taken_at, false));
  return bits.join("; ") || hit.name;
}

function thumbImage(hit, alt) {
  const img = el("img", { alt: alt === undefined ? describe(hit) : alt, loading: "lazy", decoding: "async" });
  img.addEventListener("load", () => img.classList.add("loaded"));
  img.addEventListener("error", () => img.replaceWith(el("span", { class: "icon", role: "img",
    "aria-label": img.alt || hit.name, text: hit.media_type === "video" ? "▶" : "▧" })));
  setImage(img, thumbUrl(hit.id));
  return img;
}

function tile(hit) {
  // exact copies show once: the other paths of the same bytes are named on the tile
  const copies = hit.copies && hit.copies.length ? ` (also at ${hit.copies.join(", ")})` : "";
  const label = [hit.name, ...hit.labels.slice(0, 3)].join(" · ") + copies;
  return el("li", { class: "tile" + (hit.media_type === "video" ? " video" : "") },
    el("a", { href: docHash(hit.id), title: label, "data-name": hit.name, "data-id": hit.id },
      thumbImage(hit),
      hit.media_type === "video" ? el("span", { class: "badge", "aria-hidden": "true",
        text: "▶ " + (hit.duration ? seconds(hit.duration) : "") }) : null,
      hit.status === "failed" ? el("span", { class: "badge", text: "failed" }) : null,
      copies ? el("span", { class: "badge copies", text: `×${hit.copies.length + 1}`,
        title: `The same file ${hit.copies.length + 1} times` }) : null,
      onlyByName(hit) ? el("span", { class: "why", text: `matched by its ${onlyByName(hit)}` }) : null));
}

// a plain word found in the file name or text only: facets (labels, people) do not count it, so say so
function onlyByName(hit) {
  const m = hit.matched || [];
  if (!m.length || m.some((r) => !["text", "file name"].includes(r))) return null;
  return m.join(" and ");
}

// the order the viewer's previous and next follow: the photos as laid out
function rebuildOrder() {
  galleryState.order = [...document.querySelectorAll("#photos .tile a")].map((a) => a.dataset.id);
}

// A search's matches, best first, loaded page after page as the end nears.
function renderResults(first, params, seq) {
  const photos = $("#photos");
  const hits = first.hits.slice();
  const container = el("div", { class: "day results-rows" });
  photos.replaceChildren(container);
  const draw = () => {
    container.replaceChildren(justified(hits, container.clientWidth || photos.clientWidth));
    rebuildOrder();
  };
  draw();
  photos.relayout = draw;
  let loading = false;
  const observer = new IntersectionObserver(async (entries) => {
    if (!entries.some((e) => e.isIntersecting) || loading || hits.length >= first.total) return;
    loading = true;
    const search = filterQuery(params);
    if (params.get("sort")) search.set("sort", params.get("sort"));
    search.set("limit", String(PAGE));
    search.set("offset", String(hits.length));
    try {
      const more = await api("/api/search?" + search);
      if (seq !== searchSeq) return;
      hits.push(...more.hits);
      draw();
    } catch (e) {
      if (!e.signIn) status(e.message, true);
    }
    loading = false;
  }, { rootMargin: "1200px 0px" });
  galleryState.observer = observer;
  observer.observe($("#sentinel"));
}

// the year/month scrubber beside the timeline: jump to any month
function renderScrubber(months) {
  const nav = $("#scrubber");
  const years = new Map();
  for (const m of months) {
    const year = m.month === "none" ? "none" : m.month.slice(0, 4);
    (years.get(year) || years.set(year, []).get(year)).push(m);
  }
  const jump = (month) => {
    const section = document.getElementById(`m-${month}`);
    if (!section) return;
    section.scrollIntoView({ block: "start" });
    markScrubber(month);
    const title = section.querySelector(".month-title");
    title.setAttribute("tabindex", "-1");
    title.focus({ preventScroll: true });
  };
  nav.replaceChildren(el("ol", {}, [...years].map(([year, list]) => el("li", { class: "year" },
    el("button", { type: "button", class: "scrub-year", "data-month": list[0].month,
      "aria-label": year === "none" ? "No date taken" : `${year}: ${plural(list.reduce((n, m) => n + m.count, 0), "photo")}`,
      text: year === "none" ? "No date" : year, onclick: () => jump(list[0].month) }),
    year === "none" ? null : el("ol", { class: "months" }, list.map((m) => el("li", {},
      el("button", { type: "button", class: "scrub-month", "data-month": m.month,
        "aria-label": `${monthName(m.month)}: ${plural(m.count, "photo")}`, text: shortMonth(m.month),
        onclick: () => jump(m.month) }))))))));
  nav.hidden = months.length < 2;
}

function markScrubber(month) {
  for (const b of document.querySelectorAll("#scrubber button")) {
    if (b.dataset.month === month && b.classList.contains("scrub-month") || (b.classList.contains("scrub-year") && month.startsWith(b.textContent) )) b.classList.add("current");
    else b.classList.remove("current");
  }
}

// ---- filters: people, places, years, kinds, things -----------------------------------------------------------
function renderFacets(result, timeline, params) {
  const box = $("#facets");
  box.replaceChildren();
  const groups = [];
  const facet = (name, title, param, values, shown) => {
    const chosen = params.getAll(param);
    values = values.slice();
    for (const value of chosen) if (!values.some((v) => String(v.value).toLowerCase() === value.toLowerCase())) values.push({ value, count: 0 });
    if (!values.length) return;
    const set = el("fieldset", { "data-facet": name }, el("legend", { text: title }));
    values.forEach((v, i) => {
      const id = `facet-${name}-${i}`;
      const value = String(v.value);
      const checked = chosen.some((c) => c.toLowerCase() === value.toLowerCase());
      const input = el("input", { type: "checkbox", id, value, checked });
      input.addEventListener("change", () => {
        const next = new URLSearchParams(params);
        next.delete(param);
        const keep = chosen.filter((c) => c.toLowerCase() !== value.toLowerCase());
        const single = param === "taken";  // one year at a time
        for (const c of input.checked ? (single ? [value] : keep.concat([value])) : keep) next.append(param, c);
        location.hash = searchHash(next);
      });
      set.append(el("label", { for: id }, input, el("span", { text: shown ? shown(value) : value }),
        el("span", { class: "count", text: String(v.count) })));
    });
    groups.push(set);
  };
  const facets = result.facets || {};
  facet("people", "People", "person", (facets.people || []).slice(0, 12));
  facet("places", "Places", "place", (facets.places || []).slice(0, 12));
  const years = new Map();
  for (const m of timeline.months || []) years.set(m.month.slice(0, 4), (years.get(m.month.slice(0, 4)) || 0) + m.count);
  facet("years", "Years", "taken", [...years].map(([value, count]) => ({ value, count })));
  const kindNames = { photo: "Photos", video: "Videos", screenshot: "Screenshots" };
  facet("kinds", "Kinds", "kind", Object.entries(timeline.kinds || {}).map(([value, count]) => ({ value, count })),
    (v) => kindNames[v] || v);
  facet("labels", "Things", "label", result.things || []);
  box.replaceChildren(...groups);
  const on = FILTER_PARAMS.filter((p) => p !== "q").reduce((n, p) => n + params.getAll(p).length, 0);
  $("#filters-summary").textContent = on ? `Filters (${on} on)` : "Filters";
  if (!narrow()) $("#filters").open = true;
  $("#filters").hidden = !groups.length;
}

// ---- the viewer ------------------------------------------------------------------------------------------------
function boxStyle(node, box) {
  node.style.left = `${box.left * 100}%`;
  node.style.top = `${box.top * 100}%`;
  node.style.width = `${box.width * 100}%`;
  node.style.height = `${box.height * 100}%`;
  return node;
}

const viewer = { zoom: 1, x: 0, y: 0, id: null };

function neighbours(id) {
  const order = galleryState.order;
  const at = order.indexOf(id);
  return { previous: at > 0 ? order[at - 1] : null, next: at >= 0 && at < order.length - 1 ? order[at + 1] : null };
}

function go(id) {
  if (id) location.replace(docHash(id));  // stepping through photos is one place in the history: Back leaves the viewer
}

function leaveViewer() {
  if (history.length > 1 && galleryState.key) history.back();
  else location.hash = galleryState.key || "#/";
}

function applyZoom(inner) {
  inner.style.transform = viewer.zoom === 1 ? "" : `translate(${viewer.x}px, ${viewer.y}px) scale(${viewer.zoom})`;
  inner.parentElement.classList.toggle("zoomed", viewer.zoom > 1);
  const label = $("#zoom-level");
  if (label) label.textContent = `${Math.round(viewer.zoom * 100)} %`;
}

function zoomBy(inner, factor) {
  viewer.zoom = Math.min(6, Math.max(1, viewer.zoom * factor));
  if (viewer.zoom === 1) { viewer.x = 0; viewer.y = 0; }
  applyZoom(inner);
}

async function showDetail(id) {
  if (document.body.dataset.view === "gallery") galleryState.scroll = window.scrollY;
  show("detail");
  window.scrollTo(0, 0);
  const view = $("#detail-view");
  if (viewer.id !== id) view.replaceChildren(el("p", { class: "loading", text: "Loading…" }));
  viewer.id = id;
  let doc;
  try {
    doc = await api(`/api/documents/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e.signIn) return;
    const missing = e.body && e.body.status === 404;
    view.replaceChildren(el("div", { class: "viewer-bar" }, el("h1", { id: "detail-title",
      text: missing ? "This file is not in the index" : "This file cannot be shown" })),
      el("p", { class: "status error", id: "detail-missing", text: missing
        ? "It may have been removed or moved since this link was made, or it was never indexed."
        : e.message }),
      el("p", {}, el("a", { href: galleryState.key || "#/", text: "← Back to the photos" })));
    return;
  }
  if (viewer.id !== id) return;
  viewer.zoom = 1; viewer.x = 0; viewer.y = 0;
  const near = neighbours(doc.id);
  const isVideo = doc.media_type === "video";
  let src = `/api/documents/${doc.id}/media`;
  if (doc.status === "indexed" && isVideo) {
    // same origin locally; a short-lived presigned S3 URL on AWS (no header needed to load it)
    try { src = (await api(`/api/documents/${doc.id}/media-url`)).url; } catch (e) { if (!e.signIn) status(e.message, true); }
  }
  const inner = el("div", { class: "stage-inner" });
  const stage = el("div", { class: "stage", id: "stage" }, inner);
  let video = null;
  let standIn = null;
  if (isVideo) {
    video = el("video", { src, controls: true, preload: "metadata", "aria-label": `Video ${doc.name}` });
    inner.append(video);
  } else {
    // the photo at display size as JPEG: every format shows (HEIC, TIFF), and a 12 MP photo is not megabytes
    const img = el("img", { alt: describeDoc(doc), id: "photo" });
    img.addEventListener("load", () => fitPhoto(img));
    inner.append(img);
    if (doc.status === "indexed") {
      // A photo's preview is made the first time it is asked for (a 12 MP HEIC's takes about half a second). Until
      // it comes, the gallery's thumbnail (kept by indexing, likely in the browser's cache already) stands in,
      // stretched over the photo's place: the photo shows at once and sharpens when the preview has loaded.
      standIn = previewSize(doc) && el("img", { class: "stand-in", id: "photo-stand-in", alt: "", "aria-hidden": "true" });
      if (standIn) {
        inner.prepend(standIn);
        setImage(standIn, thumbUrl(doc.id));
        img.addEventListener("load", () => standIn.remove(), { once: true });
        standIn.addEventListener("error", () => standIn.remove(), { once: true });  // no thumbnail: wait for the preview
      }
      img.addEventListener("load", () => prefetchPreviews(img, near), { once: true });
    }
    setImage(img, doc.status === "indexed" ? `/api/documents/${doc.id}/preview` : src);
    (doc.labels || []).forEach((label) => (label.instances || []).forEach((inst) => {
      if (inst.box) inner.append(boxStyle(el("div", { class: "box label", "aria-hidden": "true" },
        el("span", { class: "tag", text: label.name })), inst.box));
    }));
    (doc.faces || []).forEach((face, i) => {
      if (!face.box) return;
      const name = face.person || `face ${i + 1}`;
      inner.append(boxStyle(el("div", { class: "box face" + (face.person ? "" : " unknown"), "data-face": i,
        role: "img", "aria-label": `Face: ${name}` }, el("span", { class: "tag", text: name })), face.box));
    });
    setupGestures(stage, inner, near);
  }
  const button = (attrs, text) => el("button", { type: "button", class: "round", ...attrs }, text);
  const bar = el("div", { class: "viewer-bar" },
    button({ id: "close", "aria-label": "Back to the photos", onclick: leaveViewer }, "←"),
    el("h1", { id: "detail-title", text: doc.name }),
    isVideo ? null : el("div", { class: "zoom", role: "group", "aria-label": "Zoom" },
      button({ id: "zoom-out", "aria-label": "Zoom out", onclick: () => zoomBy(inner, 1 / 1.5) }, "−"),
      el("span", { id: "zoom-level", class: "zoom-level", "aria-live": "polite", text: "100 %" }),
      button({ id: "zoom-in", "aria-label": "Zoom in", onclick: () => zoomBy(inner, 1.5) }, "+")),
    doc.status === "indexed" && !token() ? el("a", { href: `/api/documents/${doc.id}/media`, download: doc.name,
      id: "download", class: "plain-link", text: "Download" }) : null);
  const pager = [
    near.previous ? button({ id: "previous", class: "round side previous", "aria-label": "Previous photo",
      onclick: () => go(near.previous) }, "‹") : null,
    near.next ? button({ id: "next", class: "round side next", "aria-label": "Next photo",
      onclick: () => go(near.next) }, "›") : null,
  ];
  const picture = el("div", { class: "picture" }, stage, ...pager);
  const parts = [bar, picture, detailPanel(doc)];
  view.replaceChildren(...parts);
  if (standIn && !$("#photo").naturalWidth) {  // the photo's place, laid out now, before its preview has come
    const size = previewSize(doc);
    fitPhoto($("#photo"), size.width, size.height);
  }
  if (isVideo && doc.video) view.append(timeline(doc, video));
  $("#close").focus({ preventScroll: true });
  if (doc.status === "indexed") {
    // The photo first: the look-alike search (whose first call loads the vectors) would share the server's cores
    // with the photo's preview; measured, it made a 60 ms preview take 380.
    const photo = $("#photo");
    const strip = () => similarStrip(doc, view);
    if (photo && photo.getAttribute("src") && !photo.complete) {
      photo.addEventListener("load", strip, { once: true });
      photo.addEventListener("error", strip, { once: true });
    } else {
      strip();
    }
  }
}

// ---- look-alikes: "Similar photos" under the viewer, and the duplicates page ---------------------------------------
async function similarStrip(doc, view) {
  let data;
  try {
    data = await api(`/api/documents/${doc.id}/similar?limit=12`);
  } catch (e) {
    return;  // no look vector (too small, a Rekognition index): no strip
  }
  if (viewer.id !== doc.id || !data.hits.length) return;
  view.append(el("section", { class: "similar", id: "similar", "aria-labelledby": "similar-title" },
    el("h2", { id: "similar-title", text: "Similar photos" }),
    el("ul", { class: "similar-strip" }, data.hits.map((hit) => el("li", {},
      el("a", { href: docHash(hit.id), title: hit.name, "data-id": hit.id, "data-name": hit.name },
        thumbImage(hit, `${describe(hit)} (${Math.round(hit.similarity * 100)} % alike)`)))))));
}

function bytes(n) {
  if (n < 1000) return `${n} bytes`;
  const units = ["KB", "MB", "GB"];
  let value = n / 1000, unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  return `${value.toFixed(1)} ${units[unit]}`;
}

// A page that shows what one API call answers: its title and "Loading…" at once, then {view, title, data}; when the
// call fails, the error in the page's place and null.
async function loadPage(name, heading, url) {
  show(name);
  const view = $(`#${name}-view`);
  const title = el("h1", { id: `${name}-title`, text: heading });
  view.replaceChildren(title, el("p", { class: "loading", text: "Loading…" }));
  try {
    return { view, title, data: await api(url) };
  } catch (e) {
    view.replaceChildren(title, el("p", { class: "status error", text: e.message }));
    return null;
  }
}

async function showDuplicates() {
  const page = await loadPage("duplicates", "Duplicates", "/api/duplicates");
  if (!page) return;
  const { view, title, data } = page;
  const parts = [title];
  if (!data.groups.length) {
    parts.push(el("p", { class: "note", id: "duplicates-summary", text: data.look_alikes
      ? "No copies found: every photo is one of a kind."
      : "No files with the same bytes. Resized or edited copies are found with the local analyzer only." }));
  } else {
    parts.push(el("p", { class: "summary", id: "duplicates-summary", text:
      `${plural(data.groups.length, "group")} of copies; ${bytes(data.reclaimable_bytes)} to free by keeping one of each.` }));
    parts.push(el("ol", { class: "dup-groups", id: "dup-groups" }, data.groups.map((g, n) => duplicateGroup(g, n, data.trash))));
  }
  if (data.trash) parts.push(await trashBatches());
  view.replaceChildren(...parts.filter(Boolean));
}

function duplicateGroup(group, n, canMove) {
  const headingId = `dup-group-${n + 1}`;
  const files = el("ul", { class: "dup-files" }, group.files.map((f) => el("li", { class: "dup-file" + (f.keep ? " keep" : "") },
    el("a", { href: docHash(f.id), "data-id": f.id, title: f.key },
      thumbImage({ id: f.id, name: f.name, media_type: f.media_type || "image" },
        `${f.name}${f.keep ? ", the one to keep" : ""}`)),
    el("p", { class: "dup-name", text: f.name }),
    el("p", { class: "dup-why" + (f.keep ? " keeper" : ""), text: f.keep ? "Suggested keep" : (f.reason || "copy") }),
    el("p", { class: "note", text: `${bytes(f.size)}${f.pixels ? " · " + (f.pixels / 1e6).toFixed(f.pixels < 1e6 ? 2 : 1) + " MP" : ""}` }))));
  const card = el("li", { class: "dup-group panel", "data-keep": group.keep },
    el("h2", { id: headingId, text: `Group ${n + 1}: ${bytes(group.reclaimable_bytes)} to free` }), files);
  if (!canMove) return card;
  const others = group.files.filter((f) => !f.keep);
  const actions = el("div", { class: "dup-actions" });
  const ask = el("button", { type: "button", class: "secondary move", text: "Move the others to trash" });
  ask.addEventListener("click", () => {
    const yes = el("button", { type: "button", class: "confirm-move", text: `Move ${plural(others.length, "file")}` });
    const no = el("button", { type: "button", class: "secondary", text: "Cancel" });
    no.addEventListener("click", () => { actions.replaceChildren(ask); ask.focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        const result = await api("/api/duplicates/trash", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ ids: others.map((f) => f.id) }) });
        status(`Moved ${plural(result.moved, "file")} (${bytes(result.bytes)}) to the trash.`);
        card.classList.add("moved");
        const undo = el("button", { type: "button", class: "secondary undo", text: "Undo" });
        undo.addEventListener("click", () => restoreBatch(result.batch, undo));
        actions.replaceChildren(el("span", { class: "note", text: `${plural(result.moved, "file")} moved to the trash. ` }), undo);
        undo.focus();
      } catch (e) {
        status(e.message, true);
        yes.disabled = false;
      }
    });
    actions.replaceChildren(el("span", { text: `Move ${plural(others.length, "file")} (${bytes(group.reclaimable_bytes)}) to the trash folder? You can undo this. ` }), yes, no);
    yes.focus();
  });
  actions.append(ask);
  card.append(actions);
  return card;
}

async function restoreBatch(batch, button) {
  if (button) button.disabled = true;
  try {
    const result = await api("/api/duplicates/restore", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ batch }) });
    status(`Restored ${plural(result.restored, "file")}.`);
    showDuplicates();
  } catch (e) {
    status(e.message, true);
    if (button) button.disabled = false;
  }
}

async function trashBatches() {
  let data;
  try { data = await api("/api/duplicates/trash"); } catch (e) { return null; }
  const waiting = data.batches.filter((b) => !b.restored_at);
  if (!waiting.length) return null;
  return el("section", { class: "trash-batches", "aria-labelledby": "trash-title" },
    el("h2", { id: "trash-title", text: "In the trash" }),
    el("ul", {}, waiting.map((b) => {
      const restore = el("button", { type: "button", class: "secondary", text: "Restore" });
      restore.addEventListener("click", () => restoreBatch(b.batch, restore));
      return el("li", {}, el("span", { text: `${plural(b.files.length, "file")}, moved ${readableDate(b.created_at, true)} ` }), restore);
    })));
}

// The photo as large as the stage allows, small ones enlarged (up to 4 times): its size in pixels, so that the face
// boxes, placed in percentages over it, stay on the faces.
function fitPhoto(img, width = img.naturalWidth, height = img.naturalHeight) {
  if (!width || !height || !img.isConnected) return;
  const picture = img.closest(".picture");
  const maxW = picture.clientWidth;
  const maxH = Math.max(200, window.innerHeight * (narrow() ? 0.7 : 1) - (narrow() ? 0 : 130));
  const scale = Math.min(maxW / width, maxH / height, 4);
  img.style.width = `${Math.floor(width * scale)}px`;
  img.style.height = `${Math.floor(height * scale)}px`;
}

// The size of a photo's preview, known before it loads: the photo's own (upright, as the document records it),
// shrunk to PREVIEW_SIDE (media/thumbnails.py) on its long side. The server may make it a little smaller (down to
// 1,920 px, where the decoder gets there cheaply): the shape is what places the photo. Null when there is no size.
const PREVIEW_SIDE = 2048;
function previewSize(doc) {
  if (!doc.width || !doc.height) return null;
  const scale = Math.min(1, PREVIEW_SIDE / Math.max(doc.width, doc.height));
  return { width: Math.round(doc.width * scale), height: Math.round(doc.height * scale) };
}

// The photos either side are what a step shows next: their previews are asked for as soon as this one has loaded,
// so that the server has made them and the browser holds them (kept five minutes) by then. Videos have none, and
// with a sign-in token the page fetches images itself into blob URLs: not done there.
function prefetchPreviews(img, near) {
  if (token()) return;
  const ahead = [near.next, near.previous].filter((id) => {
    const link = id && document.querySelector(`#photos .tile a[data-id="${CSS.escape(id)}"]`);
    return link && !link.closest(".tile").classList.contains("video");
  });
  ahead.forEach((id) => { new Image().src = `/api/documents/${id}/preview`; });
  img.dataset.ahead = ahead.join(" ");
}

function describeDoc(doc) {
  const labels = (doc.labels || []).slice().sort((a, b) => b.confidence - a.confidence).map((l) => l.name).slice(0, 4);
  const bits = [];
  if ((doc.people || []).length) bits.push(doc.people.join(", "));
  if (labels.length) bits.push(labels.join(", "));
  if (doc.place && doc.place.label) bits.push(doc.place.label);
  return bits.length ? `${doc.name}: ${bits.join("; ")}` : doc.name;
}

// Swipe left or right on a touch screen for the next or previous photo; drag to look around a zoomed photo;
// double-click (or double-tap) zooms in and out.
function setupGestures(stage, inner, near) {
  let start = null;
  stage.addEventListener("pointerdown", (e) => {
    start = { x: e.clientX, y: e.clientY, vx: viewer.x, vy: viewer.y, type: e.pointerType };
    if (viewer.zoom > 1) stage.setPointerCapture(e.pointerId);
  });
  stage.addEventListener("pointermove", (e) => {
    if (!start || viewer.zoom === 1) return;
    viewer.x = start.vx + (e.clientX - start.x);
    viewer.y = start.vy + (e.clientY - start.y);
    applyZoom(inner);
  });
  stage.addEventListener("pointerup", (e) => {
    if (!start) return;
    const dx = e.clientX - start.x, dy = e.clientY - start.y;
    const swipe = viewer.zoom === 1 && Math.abs(dx) > 50 && Math.abs(dx) > 2 * Math.abs(dy);
    start = null;
    if (swipe) go(dx < 0 ? near.next : near.previous);
  });
  stage.addEventListener("pointercancel", () => { start = null; });
  stage.addEventListener("dblclick", () => zoomBy(inner, viewer.zoom > 1 ? 1 / viewer.zoom : 2.5));
  stage.addEventListener("wheel", (e) => {
    if (!e.ctrlKey && viewer.zoom === 1 && e.deltaY > 0) return;  // plain scrolling down the page stays scrolling
    e.preventDefault();
    zoomBy(inner, e.deltaY < 0 ? 1.25 : 1 / 1.25);
  }, { passive: false });
}

function viewerKeys(event) {
  if ($("#detail-view").hidden || event.altKey || event.ctrlKey || event.metaKey) return false;
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (typing) return false;
  const inner = document.querySelector("#detail-view .stage-inner");
  const near = neighbours(viewer.id);
  const onVideo = document.activeElement.tagName === "VIDEO";
  switch (event.key) {
    case "ArrowRight": if (onVideo) return false; go(near.next); return true;
    case "j": go(near.next); return true;
    case "ArrowLeft": if (onVideo) return false; go(near.previous); return true;
    case "k": go(near.previous); return true;
    case "Escape": leaveViewer(); return true;
    case "+": case "=": if (inner && !document.querySelector("#detail-view video")) zoomBy(inner, 1.5); return true;
    case "-": if (inner) zoomBy(inner, 1 / 1.5); return true;
    case "0": if (inner) { viewer.zoom = 1; viewer.x = 0; viewer.y = 0; applyZoom(inner); } return true;
    default: return false;
  }
}

function chipLink(text, param, value, extra) {
  return el("li", {}, el("a", { href: searchHash(new URLSearchParams([[param, value]])) }, text,
    extra ? el("span", { class: "conf", text: " " + extra }) : null));
}

function detailPanel(doc) {
  const panel = el("aside", { class: "panel info", "aria-label": "About this photo" });
  if (doc.status === "failed") panel.append(el("p", { class: "status error", text: `Not analysed: ${doc.error}` }));
  const when = dateInWords(doc.taken_at);
  const place = doc.place ? (doc.place.label || [doc.place.city, doc.place.region, doc.place.country].filter(Boolean).join(", ")) : null;
  if (when || place) {
    panel.append(el("div", { class: "when-where" },
      when ? el("p", { class: "when", id: "when", text: when }) : null,
      place ? el("p", { class: "where", id: "where" }, el("a", {
        href: searchHash(new URLSearchParams([["place", doc.place.metro || doc.place.city || doc.place.country || place]])),
        text: place })) : null));
  }
  if ((doc.people || []).length) {
    panel.append(el("h2", { text: "People" }), el("ul", { class: "chips", id: "people-chips" },
      doc.people.map((p) => chipLink(p, "person", p))));
  }
  const faces = doc.faces || [];
  const unnamed = faces.filter((f) => !f.person).length;
  if (unnamed && !editing()) panel.append(el("p", { class: "note", text: `${plural(unnamed, "face")} nobody has named` }));
  if ((doc.labels || []).length) {
    panel.append(el("h2", { text: "Things" }), el("ul", { class: "chips", id: "label-chips" },
      doc.labels.slice().sort((a, b) => b.confidence - a.confidence).map((l) =>
        chipLink(l.name, "label", l.name, `${Math.round(l.confidence)} %`))));
  }
  if (editing() && faces.length && doc.status === "indexed") {
    const edits = el("section", { class: "edits", "aria-label": "Edit faces" });
    const unnamedFaces = faces.map((f, i) => [f, i]).filter(([f]) => !f.person && f.box);
    if (unnamedFaces.length && doc.media_type === "image") edits.append(nameFaceForm(doc, unnamedFaces));
    const boxed = faces.map((f, i) => [f, i]).filter(([f]) => f.box);
    if (boxed.length) edits.append(hideFaceForm(doc, boxed));
    panel.append(edits);
  }
  if (doc.text) panel.append(el("h2", { text: "Text" }), el("p", { class: "text", text: doc.text }));
  const facts = [["File", doc.key], ["Type", doc.content_type || doc.media_type],
    ["Size", doc.width ? `${doc.width} × ${doc.height}` : null], ["Taken", readableDate(doc.taken_at)],
    ["Camera", doc.camera],
    ["Duration", doc.video && doc.video.duration ? seconds(doc.video.duration) : null], ["Indexed", readableDate(doc.indexed_at)]];
  panel.append(el("details", { class: "file-facts" }, el("summary", { text: "Details" }), el("dl", { class: "facts" },
    facts.filter(([, v]) => v).map(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]))));
  return panel;
}

// Name a face of this photo: it is enrolled from its crop, and every indexed file with that face follows.
function nameFaceForm(doc, unnamed) {
  const select = el("select", { id: "face-choice" },
    unnamed.map(([, i]) => el("option", { value: String(i), text: `face ${i + 1}` })));
  const input = el("input", { id: "face-name", name: "name", required: true, autocomplete: "off", placeholder: "Full name" });
  const form = el("form", { id: "name-face", class: "name-face" },
    el("label", { for: "face-choice", text: "Name" }), select,
    el("label", { for: "face-name", class: "visually-hidden", text: "Their name" }), input,
    el("button", { type: "submit", text: "Save" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    status(`Naming face ${Number(select.value) + 1}…`);
    try {
      const result = await api("/api/people/enroll", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name, document_id: doc.id, face_index: Number(select.value) }) });
      status(`Named ${name}: ${result.documents_updated} file(s) updated.`);
      viewer.id = null;
      showDetail(doc.id);
    } catch (e) {
      status(e.message, true);
    }
  });
  return el("div", {}, el("h2", { text: "Name a face" }), form);
}

// "Not a face": the face leaves this file (and every copy of it) and stays hidden when it is indexed again.
function hideFaceForm(doc, boxed) {
  const select = el("select", { id: "hide-choice" },
    boxed.map(([f, i]) => el("option", { value: String(i), text: f.person ? `face ${i + 1} (${f.person})` : `face ${i + 1}` })));
  const form = el("form", { id: "hide-face", class: "name-face" },
    el("label", { for: "hide-choice", text: "Which face" }), select,
    el("button", { type: "submit", class: "secondary", text: "Hide it" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const n = Number(select.value);
    status(`Hiding face ${n + 1}…`);
    try {
      const result = await api(`/api/documents/${encodeURIComponent(doc.id)}/faces/${n}/hide`, { method: "POST",
        headers: { "Content-Type": "application/json" }, body: "{}" });
      status(`Face ${n + 1} hidden: ${result.documents_updated} file(s) updated.`);
      viewer.id = null;
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
function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

function avatar(person) {
  if (!person.face) return el("span", { class: "avatar initials", "aria-hidden": "true", text: initials(person.name) });
  const img = el("img", { class: "avatar person-face", alt: "", loading: "lazy" });
  img.addEventListener("load", () => img.classList.add("loaded"));
  img.addEventListener("error", () => img.replaceWith(el("span", { class: "avatar initials", "aria-hidden": "true",
    text: initials(person.name) })));
  setImage(img, faceUrl(person.face.id, person.face.face_index));
  return img;
}

// a face of an unnamed group: its crop from the photo, or from the video frame it was seen in (the video's poster
// frame where that frame cannot be read here, e.g. a video in S3)
function faceImage(file) {
  const name = file.key.split("/").pop();
  const video = file.media_type === "video";
  const img = el("img", { alt: video ? `A face seen in the video ${name}` : `A face in ${name}`, loading: "lazy",
    class: video ? "video-face" : "" });
  let fallback = video ? thumbUrl(file.id) : null;
  img.addEventListener("load", () => img.classList.add("loaded"));
  img.addEventListener("error", () => {
    if (fallback) {
      const next = fallback;
      fallback = null;
      setImage(img, next);
      return;
    }
    img.replaceWith(el("span", { class: "avatar initials", role: "img", "aria-label": img.alt, text: "?" }));
  });
  setImage(img, faceUrl(file.id, file.face_index));
  return img;
}

async function showPeople() {
  const page = await loadPage("people", "People", "/api/people");
  if (!page) return;
  const { view, title, data } = page;
  const edit = editing();
  const named = data.people.slice().sort((a, b) => b.files - a.files || a.name.localeCompare(b.name));
  const people = el("ul", { class: "people-list", id: "people-list" }, named.map((p) =>
    el("li", {}, el("a", { href: searchHash(new URLSearchParams([["person", p.name]])), class: "person" },
      avatar(p), el("span", { class: "who-name", text: p.name }),
      el("span", { class: "note", text: plural(p.files, "photo") })))));
  const parts = [title];
  if (named.length) parts.push(people);
  else parts.push(el("p", { class: "note", text: "Nobody is named yet." }));
  const enrolled = data.people.filter((p) => p.faces);
  if (edit && data.available && enrolled.length >= 2) parts.push(mergeForm(enrolled));
  if (data.clusters.length) {
    parts.push(el("h2", { text: "Not named yet" }));
    if (!edit && data.writes) parts.push(el("p", { class: "note", text: "Choose Edit to name them." }));
    parts.push(el("ul", { class: "clusters" + (edit ? " editing" : ""), id: "clusters" },
      data.clusters.map((c) => clusterCard(c, edit))));
  }
  view.replaceChildren(...parts);
}

// One person under two names: the first one's faces become the second's, and every file follows.
function mergeForm(enrolled) {
  const options = () => enrolled.map((p) => el("option", { value: p.name, text: p.name }));
  const from = el("select", { id: "merge-from" }, options());
  const into = el("select", { id: "merge-into" }, options());
  into.selectedIndex = 1;
  const form = el("form", { id: "merge-people", class: "name-face" },
    el("label", { for: "merge-from", text: "Merge" }), from,
    el("label", { for: "merge-into", text: "into" }), into,
    el("button", { type: "submit", text: "Merge" }));
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
  return el("div", { class: "panel merge" }, el("h2", { text: "The same person twice?" }), form);
}

function clusterCard(cluster, edit) {
  const shown = edit ? cluster.files : cluster.files.slice(0, 1);
  const picks = [];
  const faces = el("div", { class: "faces" }, shown.map((f, n) => {
    const link = el("a", { href: docHash(f.id), title: f.key }, faceImage(f));
    if (!edit) return link;
    const pickId = `pick-${cluster.cluster}-${n}`;
    const pick = el("input", { type: "checkbox", id: pickId, class: "pick", "data-id": f.id, "data-face": String(f.face_index) });
    picks.push(pick);
    return el("span", { class: "face-pick" }, link,
      el("label", { for: pickId, class: "visually-hidden", text: `Choose the face in ${f.key.split("/").pop()}` }), pick);
  }));
  const card = el("li", { class: "cluster", "data-cluster": cluster.cluster }, faces,
    el("p", { class: "count", text: plural(cluster.file_count, "photo") }));
  if (!edit) return card;
  const inputId = `name-${cluster.cluster}`;
  const input = el("input", { id: inputId, name: "name", required: true, autocomplete: "off", placeholder: "Full name" });
  const form = el("form", { "data-cluster": cluster.cluster, class: "name-face" },
    el("label", { for: inputId, text: "Name this person" }), input,
    el("button", { type: "submit", text: "Save name" }));
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
  // Two people in one group: the faces ticked go to a group of their own, which later clustering keeps apart.
  const split = el("button", { type: "button", class: "secondary split", text: "Split off the faces ticked" });
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
  card.append(form, split);
  return card;
}

// ---- places ------------------------------------------------------------------------------------------------------
function coverImage(id, alt) {
  if (!id) return el("span", { class: "cover-empty", "aria-hidden": "true" });
  return thumbImage({ id, media_type: "image", name: alt }, "");
}

async function showPlaces() {
  const page = await loadPage("places", "Places", "/api/places");
  if (!page) return;
  const { view, title, data } = page;
  if (!data.countries.length) {
    view.replaceChildren(title, el("p", { class: "note", text: "No photo has a place yet: photos taken with the phone's location on show up here." }));
    return;
  }
  const card = (name, count, cover, extra) => el("li", { class: "place-card" + (extra ? " " + extra : "") },
    el("a", { href: searchHash(new URLSearchParams([["place", name]])) }, coverImage(cover, name),
      el("span", { class: "place-name", text: name }), el("span", { class: "note", text: plural(count, "photo") })));
  view.replaceChildren(title, el("p", {}, el("a", { href: "#/map", text: "See them on the map" })),
    ...data.countries.map((c) => el("section", { class: "country", "aria-labelledby": `country-${c.code || c.name}` },
      el("h2", { id: `country-${c.code || c.name}` }, el("a", { href: searchHash(new URLSearchParams([["place", c.name]])),
        text: c.name }), el("span", { class: "note", text: " · " + plural(c.count, "photo") })),
      el("ul", { class: "places" }, c.places.length ? c.places.map((p) => card(p.name, p.count, p.cover))
        : [card(c.name, c.count, c.cover)]))));
}

// ---- the map: country outlines from this server, the photos as clusters you can open ----------------------------
const TILE = 256;
const mapState = { zoom: 1, cx: 0.5, cy: 0.42, points: [], world: null, svg: null, drawn: false };

function project(lat, lon) {  // Web Mercator, 0..1 both ways
  const clamped = Math.max(-85, Math.min(85, lat));
  const s = Math.sin((clamped * Math.PI) / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}

function ringPath(ring) {
  let d = "";
  ring.forEach(([lon, lat], i) => {
    const [x, y] = project(lat, lon);
    d += `${i ? "L" : "M"}${(x * TILE).toFixed(2)} ${(y * TILE).toFixed(2)}`;
  });
  return d + "Z";
}

async function showMap(params) {
  show("map");
  const view = $("#map-view");
  if (!mapState.drawn) {
    const svgNS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("class", "map-svg");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("preserveAspectRatio", "xMidYMid slice");
    const land = document.createElementNS(svgNS, "g");
    land.setAttribute("class", "land");
    svg.append(land);
    mapState.svg = svg;
    const surface = el("div", { class: "map-surface", id: "map", tabindex: "0", role: "region",
      "aria-label": "Map of the photos. Arrow keys move it, plus and minus zoom.", "aria-describedby": "map-help" },
      svg, el("div", { class: "clusters-layer", id: "map-clusters" }));
    const controls = el("div", { class: "map-controls", role: "group", "aria-label": "Map zoom" },
      el("button", { type: "button", class: "round", id: "map-zoom-in", "aria-label": "Zoom in", onclick: () => zoomMap(2) }, "+"),
      el("button", { type: "button", class: "round", id: "map-zoom-out", "aria-label": "Zoom out", onclick: () => zoomMap(0.5) }, "−"),
      el("button", { type: "button", class: "round", id: "map-fit", "aria-label": "Show every photo", onclick: () => { fitMap(); drawMap(); } }, "⤢"));
    view.replaceChildren(el("h1", { id: "map-title", text: "Map" }),
      el("p", { id: "map-summary", class: "summary" }),
      el("div", { class: "map-wrap" }, surface, controls),
      el("p", { id: "map-help", class: "note", text: "Drag or use the arrow keys to move, + and − to zoom; choose a circle to see its photos." }),
      el("section", { id: "cluster-photos", class: "cluster-photos", "aria-live": "polite" }));
    setupMapGestures(surface);
    mapState.drawn = true;
    loadOutlines(land);
  }
  let data;
  try {
    data = await api("/api/map?" + filterQuery(params));
  } catch (e) {
    if (!e.signIn) status(e.message, true);
    return;
  }
  mapState.points = data.points.map((p) => ({ ...p, xy: project(p.lat, p.lon) }));
  $("#map-summary").textContent = data.points.length
    ? `${plural(data.points.length, "photo")} with a place` + (data.total > data.shown ? ` (the newest ${data.shown} of ${data.total})` : "")
    : "No photo has a place yet.";
  fitMap();
  drawMap();
}

async function loadOutlines(land) {
  try {
    const response = await fetch("/api/map/countries", withAuth());
    if (!response.ok) throw new Error(String(response.status));
    const world = await response.json();
    const svgNS = "http://www.w3.org/2000/svg";
    for (const feature of world.features) {
      const g = feature.geometry;
      const polygons = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
      const path = document.createElementNS(svgNS, "path");
      path.setAttribute("d", polygons.map((rings) => rings.map(ringPath).join("")).join(""));
      path.setAttribute("data-country", feature.properties.iso || "");
      land.append(path);
    }
    $("#map").dataset.outlines = String(world.features.length);
  } catch (e) {
    $("#map").dataset.outlines = "0";  // the photos are still placed, on a blank sea
  }
}

function fitMap() {
  const surface = $("#map");
  const w = surface.clientWidth || 800, h = surface.clientHeight || 500;
  const pts = mapState.points;
  if (!pts.length) { mapState.zoom = Math.max(1, w / TILE); mapState.cx = 0.5; mapState.cy = 0.45; return; }
  const xs = pts.map((p) => p.xy[0]), ys = pts.map((p) => p.xy[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const spanX = Math.max(x1 - x0, 0.02), spanY = Math.max(y1 - y0, 0.02);
  mapState.zoom = Math.max(w / TILE / 1.2, Math.min((w * 0.8) / (spanX * TILE), (h * 0.8) / (spanY * TILE), 2 ** 14));
  mapState.cx = (x0 + x1) / 2;
  mapState.cy = (y0 + y1) / 2;
}

function zoomMap(factor) {
  mapState.zoom = Math.min(2 ** 16, Math.max(1, mapState.zoom * factor));
  drawMap();
}

function panMap(dx, dy) {  // in screen pixels
  const scale = TILE * mapState.zoom;
  mapState.cx = Math.min(1, Math.max(0, mapState.cx - dx / scale));
  mapState.cy = Math.min(1, Math.max(0, mapState.cy - dy / scale));
  drawMap();
}

function drawMap() {
  const surface = $("#map");
  if (!surface) return;
  const w = surface.clientWidth, h = surface.clientHeight;
  const scale = TILE * mapState.zoom;
  const vw = (w / scale) * TILE, vh = (h / scale) * TILE;
  mapState.svg.setAttribute("viewBox", `${mapState.cx * TILE - vw / 2} ${mapState.cy * TILE - vh / 2} ${vw} ${vh}`);
  // clusters: each photo joins the first cluster whose centre is within a pin's width on screen, so pins never
  // hide one another; they split as you zoom in
  const reach = 56, margin = 64, clusters = [];
  for (const p of mapState.points) {
    const sx = (p.xy[0] - mapState.cx) * scale + w / 2, sy = (p.xy[1] - mapState.cy) * scale + h / 2;
    if (sx < -margin || sy < -margin || sx > w + margin || sy > h + margin) continue;
    let c = clusters.find((k) => Math.hypot(k.x / k.points.length - sx, k.y / k.points.length - sy) < reach);
    if (!c) clusters.push(c = { points: [], x: 0, y: 0 });
    c.points.push(p); c.x += sx; c.y += sy;
  }
  const cells = new Map(clusters.map((c, i) => [i, c]));
  const layer = $("#map-clusters");
  const focused = document.activeElement && document.activeElement.dataset.cluster;
  layer.replaceChildren(...[...cells.values()].map((c) => {
    const n = c.points.length, first = c.points[0];
    const places = [...new Set(c.points.map((p) => p.place).filter(Boolean))];
    const label = `${plural(n, "photo")}${places.length ? " in " + places.slice(0, 2).join(" and ") : ""}`;
    const img = thumbImage({ id: first.id, media_type: first.media_type, name: first.name }, "");
    const button = el("button", { type: "button", class: "cluster-pin", "aria-label": label, title: label,
      "data-cluster": `${Math.round(c.x / n)},${Math.round(c.y / n)}`, "data-count": n },
      img, el("span", { class: "pin-count", "aria-hidden": "true", text: String(n) }));
    button.style.left = `${c.x / n}px`;
    button.style.top = `${c.y / n}px`;
    button.addEventListener("click", () => openCluster(c.points, label));
    return button;
  }));
  if (focused) { const again = layer.querySelector(`[data-cluster="${focused}"]`); if (again) again.focus(); }
  surface.dataset.zoom = mapState.zoom.toFixed(4);
}

function openCluster(points, label) {
  const box = $("#cluster-photos");
  const hits = points.map((p) => ({ id: p.id, name: p.name, media_type: p.media_type, width: null, height: null,
    labels: [], people: [], place: p.place, taken_at: p.taken_at, status: "indexed" }));
  const heading = el("h2", { id: "cluster-title", tabindex: "-1", text: label });
  const rows = el("div", { class: "day" });
  box.replaceChildren(heading, rows);
  rows.append(justified(hits, rows.clientWidth || box.clientWidth || 600));
  galleryState.order = hits.map((h) => h.id);
  galleryState.key = null;
  heading.focus();
}

function setupMapGestures(surface) {
  let drag = null;
  surface.addEventListener("pointerdown", (e) => {
    if (e.target.closest(".cluster-pin")) return;
    drag = { x: e.clientX, y: e.clientY };
    surface.setPointerCapture(e.pointerId);
  });
  surface.addEventListener("pointermove", (e) => {
    if (!drag) return;
    panMap(e.clientX - drag.x, e.clientY - drag.y);
    drag = { x: e.clientX, y: e.clientY };
  });
  const end = () => { drag = null; };
  surface.addEventListener("pointerup", end);
  surface.addEventListener("pointercancel", end);
  surface.addEventListener("wheel", (e) => { e.preventDefault(); zoomMap(e.deltaY < 0 ? 1.5 : 1 / 1.5); }, { passive: false });
  surface.addEventListener("keydown", (e) => {
    if (e.target !== surface) return;
    const step = 80;
    const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[e.key]) { e.preventDefault(); panMap(...moves[e.key]); }
    else if (e.key === "+" || e.key === "=") { e.preventDefault(); zoomMap(2); }
    else if (e.key === "-") { e.preventDefault(); zoomMap(0.5); }
  });
}

// ---- start -------------------------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", async () => {
  takeTokenFromRedirect();
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = $("#q").value.trim();
    location.hash = searchHash(new URLSearchParams(q ? [["q", q]] : []));
  });
  const tips = $("#syntax-toggle");
  tips.addEventListener("click", () => {
    const open = $("#syntax-help").hidden;
    $("#syntax-help").hidden = !open;
    tips.setAttribute("aria-expanded", String(open));
  });
  document.addEventListener("keydown", (event) => {
    if (viewerKeys(event)) { event.preventDefault(); return; }
    if (event.key === "/" && !["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) {
      event.preventDefault();
      $("#q").focus();
    }
  });
  let width = window.innerWidth;
  window.addEventListener("resize", () => {
    if (Math.abs(window.innerWidth - width) < 40) return;
    width = window.innerWidth;
    requestAnimationFrame(() => {
      for (const section of document.querySelectorAll("#photos .month[data-loaded]")) layoutMonth(section);
      if ($("#photos").relayout) $("#photos").relayout();
      rebuildOrder();
      if (!$("#map-view").hidden) drawMap();
      if ($("#photo")) fitPhoto($("#photo"));
    });
  });
  window.addEventListener("hashchange", () => route());
  if (narrow()) $("#filters").open = false;  // on a phone the photos come first; the filters are one tap away
  // a search submitted before this script ran arrives as /?q=...: carry it over to the hash
  if (location.search && (!location.hash || location.hash === "#/")) {
    history.replaceState(null, "", "/" + searchHash(new URLSearchParams(location.search)));
  }
  try { config = await api("/api/config"); } catch (e) { if (!e.signIn) status(e.message, true); }
  setupEditToggle();
  route();
});
