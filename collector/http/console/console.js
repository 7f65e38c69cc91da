// The duty officer's console. Plain JavaScript, no libraries: polls the collector's JSON API and
// redraws. The token lives in sessionStorage (this tab only); the officer's name in localStorage.
"use strict";

const POLL_MS = 1500;        // elevators, alarms, rescue cases
const SLOW_POLL_MS = 15000;  // maintenance and statistics change slowly and cost more to compute
const STEPS = {               // rescue case status -> the buttons that move it along
  "01": [["respond", "Responded"]],
  "02": [["arrive", "On site"]],
  "04": [["complete", "Done: passengers out"]],
};
const STATUS_NAME = { "01": "occurred", "02": "responded", "04": "on site", "00": "done", "05": "false alarm" };

const $ = (id) => document.getElementById(id);
const state = { elevators: [], alarms: [], cases: [], platformOk: null, lastOk: null, slowAt: 0, busy: false };

function token() { return sessionStorage.getItem("console.token") || ""; }
function platformBase() { return (localStorage.getItem("console.platform") || "").replace(/\/+$/, ""); }
function actor() { return ($("actor").value || "").trim(); }

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}, base = "") {
  const headers = { Authorization: "Bearer " + token(), Accept: "application/json" };
  if (options.body) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(base + path, { ...options, headers, cache: "no-store", signal: AbortSignal.timeout(8000) });
  } catch (err) {
    throw new ApiError(0, "cannot reach " + (base || location.host) + " (" + err.message + ")");
  }
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const why = body && body.error ? body.error : response.status + " " + response.statusText;
    throw new ApiError(response.status, why);
  }
  return body;
}
const platformApi = (path, options) => api(path, options, platformBase());

// --- formatting ---------------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return node;
}
function elapsed(fromIso) {
  if (!fromIso) return "";
  return duration((Date.now() - Date.parse(fromIso)) / 1000);
}
function duration(s) {
  if (s == null || isNaN(s)) return "";
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return (h ? h + ":" + two(m) : String(m)) + ":" + two(sec);
}
function clock(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}
function percent(x) { return x == null ? "" : (x * 100).toFixed(1) + " %"; }
function words(type) { return String(type || "").replace(/_/g, " "); }
function fillBody(table, rows) {
  const tbody = $(table).querySelector("tbody");
  tbody.replaceChildren(...rows);
}
function timer(fromIso) { return el("span", { class: "timer", "data-since": fromIso || "" }, elapsed(fromIso)); }

// --- what is dangerous right now ----------------------------------------------------------------
function trappedDevices() {
  // An open rescue case, or an active entrapment alarm (before the platform has opened a case).
  const out = new Map();
  for (const a of state.alarms) if (a.type === "entrapment" && !a.cleared_at) out.set(a.device_id, { since: a.raised_at, floor: a.floor });
  for (const c of state.cases) if (!c.closed) out.set(c.device_id, { since: c.occurred_at, floor: c.floor, caseId: c.case_id, status: c.status });
  return out;
}

function renderBanner() {
  const trapped = trappedDevices();
  const banner = $("banner");
  if (!trapped.size) { banner.hidden = true; banner.replaceChildren(); return; }
  const lines = [];
  for (const [dev, t] of trapped) {
    const where = t.floor != null ? " near floor " + t.floor : "";
    const step = t.status ? " — case " + t.caseId + " " + STATUS_NAME[t.status] : " — no rescue case yet";
    lines.push(el("div", { "data-device": dev }, "PASSENGERS TRAPPED: " + dev + where + step,
      el("span", { class: "elapsed timer", "data-since": t.since || "" }, elapsed(t.since))));
  }
  banner.replaceChildren(...lines);
  banner.hidden = false;
}

function renderElevators() {
  const trapped = trappedDevices();
  const rows = state.elevators.map((e) => {
    const s = e.state || {};
    const alarms = e.active_alarms || [];
    let cls = "";
    if (trapped.has(e.device_id)) cls = "trapped";
    else if (!e.online) cls = "offline";
    else if (alarms.length) cls = "fault";
    const motion = s.running ? (s.direction > 0 ? "running up" : s.direction < 0 ? "running down" : "running") : (e.state ? "stopped" : "no data");
    const link = e.online ? el("span", { class: "pill online" }, "online") : el("span", { class: "pill offline-pill" }, "offline");
    return el("tr", { class: cls, "data-device": e.device_id },
      el("td", {}, e.device_id), el("td", {}, link),
      el("td", {}, trapped.has(e.device_id) ? "TRAPPED" : motion),
      el("td", {}, s.floor ?? ""), el("td", {}, s.door ?? ""), el("td", {}, words(s.mode ?? "")),
      el("td", {}, alarms.map(words).join(", ")), el("td", {}, clock(e.last_seen)));
  });
  fillBody("elevators", rows);
  $("elevators-count").textContent = "(" + state.elevators.length + ", " + state.elevators.filter((e) => e.online).length + " online)";
}

function renderAlarms() {
  const rows = state.alarms.map((a) => el("tr", { class: a.type === "entrapment" ? "trapped" : "fault", "data-alarm": a.id },
    el("td", {}, a.device_id), el("td", {}, words(a.type) + (a.fault_code ? " (E" + a.fault_code + ")" : "")),
    el("td", {}, a.floor ?? ""), el("td", {}, clock(a.raised_at)), el("td", {}, timer(a.raised_at))));
  fillBody("alarms", rows);
  $("alarms-empty").hidden = rows.length > 0;
  $("alarms-count").textContent = rows.length ? "(" + rows.length + ")" : "";
}

function renderCases() {
  const open = state.cases.filter((c) => !c.closed);
  const rows = open.map((c) => {
    const buttons = (STEPS[c.status] || []).map(([action, label]) =>
      el("button", { type: "button", class: "step", "data-case": c.case_id, "data-action": action }, label));
    buttons.push(el("button", { type: "button", class: "step secondary", "data-case": c.case_id, "data-action": "false_alarm" }, "False alarm"));
    const at = (code) => (c.steps || []).find((s) => s.status === code);
    const stepCell = (code, secs) => { const s = at(code); return s ? duration(secs) + " by " + s.actor : ""; };
    return el("tr", { class: "trapped", "data-case": c.case_id, "data-status": c.status },
      el("td", {}, c.case_id), el("td", {}, c.device_id + (c.address ? " — " + c.address : "")),
      el("td", {}, c.floor ?? ""), el("td", { class: "case-status" }, c.status + " " + (c.status_name || STATUS_NAME[c.status])),
      el("td", {}, timer(c.occurred_at)),
      el("td", {}, stepCell("02", c.response_s)), el("td", {}, stepCell("04", c.arrival_s)),
      el("td", {}, ...buttons));
  });
  fillBody("cases", rows);
  $("cases-empty").hidden = rows.length > 0;
  $("cases-count").textContent = rows.length ? "(" + rows.length + " open)" : "";
}

function renderCompliance(rows) {
  fillBody("compliance", rows.map((r) => el("tr", {},
    el("td", {}, r.maintenance_company), el("td", {}, r.elevators), el("td", {}, r.overdue),
    el("td", {}, r.sessions), el("td", {}, r.short_sessions),
    el("td", {}, r.mean_session_s == null ? "" : Math.round(r.mean_session_s / 60) + " min"),
    el("td", {}, percent(r.compliance_rate)))));
}

function renderOverdue(rows) {
  fillBody("overdue", rows.map((r) => el("tr", { class: "fault" },
    el("td", {}, r.device_id), el("td", {}, r.maintenance_company ?? ""),
    el("td", {}, r.last_maintenance_at ? clock(r.last_maintenance_at) : "never"),
    el("td", {}, r.overdue_days + " days"))));
  $("overdue-empty").hidden = rows.length > 0;
}

// A horizontal bar chart in inline SVG: one bar per district, the value written next to it.
function barChart(target, items, colour) {
  const width = 320, rowH = 22, left = 120, right = 48;
  const height = Math.max(1, items.length) * rowH + 4;
  const max = Math.max(1, ...items.map((i) => i.value || 0));
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  svg.setAttribute("width", "100%");
  svg.setAttribute("role", "img");
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text != null) n.textContent = text;
    svg.append(n);
  };
  if (!items.length) add("text", { x: 4, y: 15 }, "no data yet");
  items.forEach((item, i) => {
    const y = i * rowH + 2;
    const w = item.value == null ? 0 : ((width - left - right) * item.value) / max;
    add("text", { x: left - 6, y: y + 14, "text-anchor": "end" }, item.label);
    add("rect", { x: left, y: y + 3, width: Math.max(w, item.value ? 2 : 0), height: rowH - 8, rx: 2, fill: colour });
    add("text", { x: left + w + 4, y: y + 14 }, item.value == null ? "–" : String(item.value));
  });
  $(target).replaceChildren(svg);
}

function renderStatistics(figures) {
  const districts = figures.filter((f) => f.scope === "district");
  const label = (f) => f.key || "(no district)";
  barChart("chart-faults", districts.map((f) => ({ label: label(f), value: f.faults_total })), "#5b6f8a");
  barChart("chart-entrapments", districts.map((f) => ({ label: label(f), value: f.entrapments })), "#b3261e");
  barChart("chart-response", districts.map((f) => ({ label: label(f), value: f.response_mean_s })), "#8a5a00");
  barChart("chart-arrival", districts.map((f) => ({ label: label(f), value: f.arrival_mean_s })), "#1e6b35");
  const rows = figures.filter((f) => f.scope === "district" || f.scope === "all").map((f) => el("tr", { class: f.scope === "all" ? "total" : "" },
    el("td", {}, f.scope === "all" ? "All districts" : label(f)), el("td", {}, f.elevators), el("td", {}, f.faults_total),
    el("td", {}, f.entrapments), el("td", {}, f.rescue_cases), el("td", {}, f.false_alarms),
    el("td", {}, f.response_p90_s == null ? "" : duration(f.response_p90_s)),
    el("td", {}, f.arrival_p90_s == null ? "" : duration(f.arrival_p90_s)),
    el("td", {}, percent(f.arrival_within_limit_share)), el("td", {}, percent(f.online_rate))));
  fillBody("statistics", rows);
}

function tickTimers() {
  for (const t of document.querySelectorAll(".timer[data-since]")) t.textContent = elapsed(t.dataset.since);
  const ago = state.lastOk ? Math.round((Date.now() - state.lastOk) / 1000) : null;
  const line = $("status-line");
  if (ago == null) line.textContent = token() ? "connecting…" : "not signed in";
  else line.textContent = ago <= 5 ? "live · updated " + new Date(state.lastOk).toLocaleTimeString()
    : "NO UPDATE FOR " + ago + " s — check the network or the collector";
}

// --- polling ------------------------------------------------------------------------------------
async function poll() {
  if (!token() || state.busy) return;
  state.busy = true;
  try {
    const [elevators, alarms] = await Promise.all([api("/api/v1/elevators"), api("/api/v1/alarms?active=true")]);
    state.elevators = elevators;
    state.alarms = alarms;
    try {
      state.cases = await platformApi("/api/v1/rescue-cases?open=true");
      setPlatform(true);
    } catch (err) {
      if (err.status === 401) throw err;
      state.cases = [];
      setPlatform(false, err);
    }
    state.lastOk = Date.now();
    renderCases(); renderAlarms(); renderElevators(); renderBanner();
    if (state.platformOk && Date.now() - state.slowAt > SLOW_POLL_MS) {
      state.slowAt = Date.now();
      const [compliance, overdue, stats] = await Promise.all([
        platformApi("/api/v1/maintenance/compliance"), platformApi("/api/v1/maintenance/overdue"),
        platformApi("/api/v1/statistics?scope=district,all")]);
      renderCompliance(compliance); renderOverdue(overdue); renderStatistics(stats.figures || []);
    }
  } catch (err) {
    if (err.status === 401) { signOut("The token was refused: " + err.message); }
  } finally {
    state.busy = false;
    tickTimers();
  }
}

function setPlatform(ok, err) {
  state.platformOk = ok;
  const note = $("platform-missing");
  for (const id of ["cases-section", "maintenance-section", "statistics-section"]) $(id).hidden = !ok;
  note.hidden = ok;
  if (!ok) note.textContent = "Rescue cases, maintenance and statistics are not available from "
    + (platformBase() || location.host) + " (" + (err ? err.message : "") + "). If the platform runs as its own process, "
    + "sign out and enter its address (e.g. http://127.0.0.1:8081).";
}

async function act(caseId, action, button) {
  const who = actor();
  if (!who) { $("action-error").textContent = "Enter your name at the top first: every step is recorded with it."; $("actor").focus(); return; }
  $("action-error").textContent = "";
  button.disabled = true;
  try {
    const updated = await platformApi("/api/v1/rescue-cases/" + encodeURIComponent(caseId) + "/actions",
      { method: "POST", body: JSON.stringify({ action, actor: who }) });
    state.cases = state.cases.map((c) => (c.case_id === caseId ? updated : c));
    state.slowAt = 0;  // the statistics count this step: refresh them with the next poll
    renderCases(); renderBanner(); renderElevators();
  } catch (err) {
    $("action-error").textContent = "Case " + caseId + ": " + err.message;
    button.disabled = false;
  }
}

// --- sign in / out ------------------------------------------------------------------------------
function signOut(message) {
  sessionStorage.removeItem("console.token");
  $("console").hidden = true;
  $("sign-in").hidden = false;
  $("sign-out").hidden = true;
  $("sign-in-error").textContent = message || "";
  $("platform").value = platformBase();
  $("token").focus();
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem("console.token", $("token").value.trim());
  localStorage.setItem("console.platform", $("platform").value.trim());
  try {
    await api("/api/v1/elevators");
  } catch (err) {
    signOut(err.status === 401 ? "That token was refused." : err.message);
    return;
  }
  $("token").value = "";
  start();
}

function start() {
  $("sign-in").hidden = true;
  $("console").hidden = false;
  $("sign-out").hidden = false;
  state.slowAt = 0;
  poll();
}

function init() {
  const params = new URLSearchParams(location.search);
  if (params.has("platform")) localStorage.setItem("console.platform", params.get("platform"));
  $("actor").value = localStorage.getItem("console.actor") || "";
  $("actor").addEventListener("change", () => localStorage.setItem("console.actor", actor()));
  $("actor").addEventListener("input", () => localStorage.setItem("console.actor", actor()));
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut(""));
  $("cases").addEventListener("click", (event) => {
    const b = event.target.closest("button[data-action]");
    if (b) act(b.dataset.case, b.dataset.action, b);
  });
  setInterval(poll, POLL_MS);
  setInterval(tickTimers, 1000);
  if (token()) start(); else signOut("");
}

init();
