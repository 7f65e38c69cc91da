// The duty officer's console. Plain JavaScript (uPlot is the one library, for the 24 h chart).
// Changes arrive by server push (GET /api/v1/stream, Server-Sent Events read through fetch so the
// same credentials go with it); each push names what changed and the page fetches that list.
// A slow refresh (elevators, and everything as a safety net) covers what is not pushed.
// Credentials: a session cookie from POST /api/v1/login (+ X-CSRF-Token on changes), or an API
// token kept in sessionStorage (this tab only).
"use strict";

const t = (key, values) => i18n.t(key, values);
const SLOW_REFRESH_MS = 10000;   // elevators (floor, door, last seen) and a safety net for the rest
const REPORTS_REFRESH_MS = 30000;
const REGISTRY_REFRESH_MS = 60000; // maintenance and statistics change slowly and cost more to compute
const STREAM_SILENT_MS = 35000;  // two missed heartbeats (15 s): the link is dead, reconnect
const ALERT_REPEAT_MS = 4000;    // beep again while a new entrapment waits for someone to respond
const NOTIFY_REPEAT_MS = 30000;  // and notify again
const STEPS = {                  // rescue case status -> the steps a person can take now
  "01": ["respond"], "02": ["arrive"], "04": ["complete"],
};
const CLOSED = new Set(["00", "05", "06"]);

const $ = (id) => document.getElementById(id);
const state = {
  elevators: [], alarms: [], cases: [], closedCases: [], registry: new Map(), deliveries: null,
  settings: { time_zone: "Asia/Shanghai", response_limit_s: 45, arrival_limit_s: 1800, stale_after_s: 60 },
  platformOk: null, lastOk: null, reportsAt: 0, role: null, user: null, company: null, accounts: false, live: null,
  stream: { connected: false, lastData: 0, abort: null, retryMs: 1000 },
  alerted: new Map(),  // device -> {beepAt, notifyAt}: entrapments that still wait for a response
};

// --- credentials --------------------------------------------------------------------------------
function token() { return sessionStorage.getItem("console.token") || ""; }
function csrf() { return sessionStorage.getItem("console.csrf") || ""; }
function signedIn() { return Boolean(token() || csrf()); }
function platformBase() { return (localStorage.getItem("console.platform") || "").replace(/\/+$/, ""); }
function actor() { return ($("actor").value || "").trim(); }
function canAct() { return state.role !== "regulator"; }
// Merging two cases of one car is the duty room's call (the API admits duty officers and admins).
function canMerge() { return state.role === null || ["duty_officer", "admin"].includes(state.role); }

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function headers(json) {
  const h = { Accept: "application/json" };
  if (token()) h.Authorization = "Bearer " + token();
  if (csrf()) h["X-CSRF-Token"] = csrf();
  if (json) h["Content-Type"] = "application/json";
  return h;
}

async function api(path, options = {}, base = "") {
  let response;
  try {
    response = await fetch(base + path, {
      ...options, headers: headers(Boolean(options.body)), credentials: "same-origin", cache: "no-store",
      signal: AbortSignal.timeout(8000),
    });
  } catch (err) {
    throw new ApiError(0, "cannot reach " + (base || location.host) + " (" + err.message + ")");
  }
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const why = body && (body.error || body.reason) ? (body.error || body.reason) : response.status + " " + response.statusText;
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
function duration(s) {
  if (s == null || isNaN(s)) return "";
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  return (h ? h + ":" + two(m) : String(m)) + ":" + two(sec);
}
function sinceS(iso) { return iso ? (Date.now() - Date.parse(iso)) / 1000 : null; }
function ago(iso) {
  const s = sinceS(iso);
  if (s == null) return t("never");
  if (s < 60) return t("ago_s", { n: Math.max(0, Math.round(s)) });
  if (s < 3600) return t("ago_m", { n: Math.floor(s / 60) });
  if (s < 86400) return t("ago_h", { n: Math.floor(s / 3600) });
  return t("ago_d", { n: Math.floor(s / 86400) });
}
// Times in the platform's zone (the API is UTC): the duty room reads its own clock.
function clock(iso, withDate) {
  if (!iso) return "";
  const d = new Date(iso);
  const zone = state.settings.time_zone;
  const dayOf = (x) => x.toLocaleDateString("en-CA", { timeZone: zone });
  const opts = { timeZone: zone, hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" };
  if (withDate || dayOf(d) !== dayOf(new Date())) Object.assign(opts, { year: "numeric", month: "2-digit", day: "2-digit" });
  return d.toLocaleString(i18n.lang(), opts);
}
function percent(x) { return x == null ? "" : (x * 100).toFixed(1) + " %"; }
function statusName(code) { return t("st_" + code); }
function fillBody(table, rows) { $(table).querySelector("tbody").replaceChildren(...rows); }
function timer(fromIso) { return el("span", { class: "timer", "data-since": fromIso || "" }, duration(sinceS(fromIso))); }
function countdown(deadlineMs, doneText) {
  if (doneText) return el("span", { class: "countdown done" }, doneText);
  return el("span", { class: "countdown", "data-deadline": String(deadlineMs) }, countdownText(deadlineMs));
}
function countdownText(deadlineMs) {
  const left = (deadlineMs - Date.now()) / 1000;
  return left >= 0 ? duration(left) : t("overdue_by", { d: duration(-left) });
}
function ident(dev) { return state.registry.get(dev) || {}; }

// --- who is trapped right now -------------------------------------------------------------------
// An open rescue case; an active entrapment alarm before the platform has opened one; and an
// active entrapment alarm whose case was closed (the officer must see it and reopen or open anew).
function trappedDevices() {
  const out = new Map();
  for (const a of state.alarms) {
    if (a.type !== "entrapment" || a.cleared_at) continue;
    const closed = state.closedCases.find((c) => c.alarm_id === a.id && c.device_id === a.device_id);
    out.set(a.device_id, { since: a.raised_at, floor: a.floor, alarmId: a.id, closedCase: closed || null });
  }
  for (const c of state.cases) {
    if (!c.closed) out.set(c.device_id, { since: c.occurred_at, floor: c.floor, case: c });
  }
  return out;
}

function escalationTold(c) {
  // Who was told of this case's escalation: the webhook deliveries the platform made for it.
  if (!state.deliveries) return t("told_unknown");
  const rows = state.deliveries.filter((d) => d.body && d.body.event === "rescue.escalation" && d.body.case && d.body.case.case_id === c.case_id);
  if (!rows.length) return t("told_unknown");
  const name = (target) => target === "rescue_centre" ? t("rescue_centre") : target.replace(/^company:/, "");
  const sent = rows.filter((d) => d.sent_at).map((d) => name(d.target));
  const failed = rows.filter((d) => d.failed_at).map((d) => name(d.target));
  const pending = rows.filter((d) => !d.sent_at && !d.failed_at).map((d) => name(d.target));
  const parts = [];
  if (sent.length) parts.push(t("told", { w: [...new Set(sent)].join("、") }));
  if (pending.length) parts.push(t("told_pending", { w: [...new Set(pending)].join("、") }));
  if (failed.length) parts.push(t("told_failed", { w: [...new Set(failed)].join("、") }));
  return parts.join("；");
}

function renderBanner() {
  const trapped = trappedDevices();
  const banner = $("banner");
  if (!trapped.size) { banner.hidden = true; banner.replaceChildren(); banner.className = ""; return; }
  let anyEscalated = false;
  const cards = [];
  for (const [dev, tr] of trapped) {
    const c = tr.case;
    const id = ident(dev);
    const address = (c && c.address) || id.address;
    const code = (c && c.rescue_code) || id.rescue_code;
    const company = (c && c.maintenance_company) || id.maintenance_company;
    const phone = (c && c.maintenance_phone) || id.maintenance_phone;
    const head = el("div", { class: "banner-head" },
      el("strong", {}, t("trapped") + "：" + (address || dev)),
      address ? el("span", { class: "dev" }, dev) : "",
      tr.floor != null ? el("span", {}, t("near_floor", { f: tr.floor })) : "",
      el("span", { class: "since" }, t("since_alarm") + " ", el("span", { class: "elapsed timer", "data-since": tr.since || "" }, duration(sinceS(tr.since)))));
    const facts = el("div", { class: "banner-facts" },
      code ? el("span", { class: "rescue-code" }, t("rescue_code") + " " + code) : "",
      company ? el("span", { class: "company" }, t("company") + "：" + company + (phone ? " · " + t("phone") + " " + phone : "")) : "");
    const card = el("div", { class: "banner-card", "data-device": dev }, head, facts);
    if (c) {
      const occurred = Date.parse(c.occurred_at);
      const respDue = occurred + state.settings.response_limit_s * 1000;
      const arrDue = occurred + state.settings.arrival_limit_s * 1000;
      const escalations = c.escalations || [];
      const escalated = escalations.length > 0;
      anyEscalated = anyEscalated || escalated;
      if (escalated) card.classList.add("escalated");
      card.append(el("div", { class: "banner-case" },
        el("span", { class: "case-state" }, t("case_label", { c: c.case_id, s: statusName(c.status) })),
        el("span", {}, t("response_due") + " ", countdown(respDue, c.response_s != null ? t("responded_in", { d: duration(c.response_s) }) : null)),
        el("span", {}, t("arrival_due") + " ", countdown(arrDue, c.arrival_s != null ? t("arrived_in", { d: duration(c.arrival_s) }) : null))));
      if (escalated) {
        const kinds = escalations.map((e) => t("esc_" + e.kind)).join("、");
        card.append(el("div", { class: "banner-escalation" }, t("escalated", { k: kinds }) + " — " + escalationTold(c)));
      }
      if (c.status === "01" && canAct()) card.append(el("div", { class: "hint-line" }, t("silence_hint")));
    } else if (tr.closedCase) {
      card.classList.add("closed-active");
      const cc = tr.closedCase;
      const buttons = canAct() ? [
        el("button", { type: "button", class: "step", "data-case": cc.case_id, "data-action": "reopen" }, t("reopen")),
        el("button", { type: "button", class: "step secondary", "data-new-case": dev }, t("new_case")),
      ] : [];
      card.append(el("div", { class: "banner-case" },
        el("span", { class: "case-state" }, t("closed_but_active", { c: cc.case_id, s: statusName(cc.status) })), ...buttons));
    } else {
      card.append(el("div", { class: "banner-case" }, el("span", { class: "case-state" }, t("no_case_yet"))));
    }
    cards.push(card);
  }
  banner.replaceChildren(...cards);
  banner.className = anyEscalated ? "escalated" : "";
  banner.hidden = false;
}

// --- alert: sound and notification until someone responds ---------------------------------------
let audio = null;
function unlockAudio() {
  // Browsers start audio only after a user gesture: the sign-in click is one.
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!audio && Ctx) { try { audio = new Ctx(); } catch (_) { audio = null; } }
  if (audio && audio.state === "suspended" && audio.resume) audio.resume();
  if (window.Notification && Notification.permission === "default") {
    try { Notification.requestPermission(); } catch (_) { /* old browsers: callback form only */ }
  }
}
function beep() {
  if (!audio) unlockAudio();
  if (!audio) return;
  const now = audio.currentTime;
  for (const [i, freq] of [[0, 988], [1, 740], [2, 988]]) {   // a three-tone call, 0.18 s each
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.type = "square"; osc.frequency.value = freq;
    gain.gain.value = 0.12;
    osc.connect(gain); gain.connect(audio.destination);
    osc.start(now + i * 0.22); osc.stop(now + i * 0.22 + 0.18);
  }
}
function notify(dev, tr) {
  if (!window.Notification || Notification.permission !== "granted") return;
  const id = ident(dev);
  try {
    new Notification(t("notify_title", { d: id.address || dev }), {
      body: (id.rescue_code ? t("rescue_code") + " " + id.rescue_code + " · " : "") + (tr.case ? tr.case.case_id : t("no_case_yet")),
      tag: "entrapment-" + dev, renotify: true, requireInteraction: true,
    });
  } catch (_) { /* a browser that refuses notifications still beeps */ }
}
function alertTick() {
  const trapped = trappedDevices();
  const waiting = new Map();
  for (const [dev, tr] of trapped) {
    const unanswered = tr.case ? tr.case.status === "01" : true;
    if (unanswered) waiting.set(dev, tr);
  }
  for (const dev of [...state.alerted.keys()]) if (!waiting.has(dev)) state.alerted.delete(dev);
  if (!canAct() && state.role) return;  // a regulator watches; the duty room is alerted
  const now = Date.now();
  let beepNow = false;
  for (const [dev, tr] of waiting) {
    const a = state.alerted.get(dev) || { beepAt: 0, notifyAt: 0 };
    if (now - a.beepAt >= ALERT_REPEAT_MS) { beepNow = true; a.beepAt = now; }
    if (now - a.notifyAt >= NOTIFY_REPEAT_MS) { notify(dev, tr); a.notifyAt = now; }
    state.alerted.set(dev, a);
  }
  if (beepNow) beep();
}

// --- lists --------------------------------------------------------------------------------------
function isStale(e) {
  const s = sinceS(e.last_seen);
  return s == null || s > state.settings.stale_after_s;
}
function motionOf(e, trapped) {
  const s = e.state;
  if (trapped.has(e.device_id)) return t("trapped_state");
  if (!s) return t("no_data");
  if (s.running) return s.direction > 0 ? t("running_up") : s.direction < 0 ? t("running_down") : t("running");
  return t("stopped");
}

function renderElevators() {
  const trapped = trappedDevices();
  const q = ($("search").value || "").trim().toLowerCase();
  const filter = $("filter").value, sort = $("sort").value;
  let list = state.elevators.filter((e) => {
    const id = ident(e.device_id);
    if (q && ![e.device_id, id.address, id.rescue_code, id.maintenance_company, id.registration_code]
      .some((v) => v && String(v).toLowerCase().includes(q))) return false;
    if (filter === "alarm") return (e.active_alarms || []).length > 0 || trapped.has(e.device_id);
    if (filter === "offline") return !e.online;
    if (filter === "stale") return isStale(e);
    return true;
  });
  const by = {
    id: (a, b) => a.device_id.localeCompare(b.device_id),
    address: (a, b) => (ident(a.device_id).address || "~").localeCompare(ident(b.device_id).address || "~", "zh-CN"),
    last_seen: (a, b) => (Date.parse(b.last_seen || 0) || 0) - (Date.parse(a.last_seen || 0) || 0),
    alarms: (a, b) => (Number(trapped.has(b.device_id)) - Number(trapped.has(a.device_id)))
      || ((b.active_alarms || []).length - (a.active_alarms || []).length) || a.device_id.localeCompare(b.device_id),
  };
  list = list.slice().sort(by[sort] || by.alarms);
  const rows = list.map((e) => {
    const s = e.state || {};
    const alarms = e.active_alarms || [];
    const id = ident(e.device_id);
    let cls = "";
    if (trapped.has(e.device_id)) cls = "trapped";
    else if (!e.online) cls = "offline";
    else if (alarms.length) cls = "fault";
    const stale = isStale(e);
    const link = e.online ? el("span", { class: "pill online" }, t("online")) : el("span", { class: "pill offline-pill" }, t("offline"));
    const seen = el("span", { class: "ago" + (stale ? " stale" : ""), "data-ago": e.last_seen || "" }, ago(e.last_seen));
    return el("tr", { class: cls + (stale ? " stale-row" : ""), "data-device": e.device_id },
      el("td", {}, el("a", { href: "#/elevator/" + encodeURIComponent(e.device_id) }, e.device_id)),
      el("td", { class: "wide" }, id.address || ""), el("td", {}, id.rescue_code || ""), el("td", {}, link),
      el("td", {}, motionOf(e, trapped)), el("td", {}, s.floor ?? ""),
      el("td", { class: "wide" }, s.door ? t("door_" + s.door) : ""), el("td", { class: "wide" }, s.mode ? t("mode_" + s.mode) : ""),
      el("td", {}, alarms.map((a) => i18n.event(a)).join("、")), el("td", {}, seen, stale ? el("span", { class: "pill stale-pill" }, t("stale")) : ""));
  });
  fillBody("elevators", rows);
  $("elevators-count").textContent = t("elevators_count", { n: state.elevators.length, o: state.elevators.filter((e) => e.online).length });
  $("shown").textContent = t("shown_of", { n: rows.length, t: state.elevators.length });
  const stale = state.elevators.filter(isStale).length;
  $("stale-warning").hidden = stale === 0;
  $("stale-warning").textContent = t("stale_warning", { n: stale, s: state.settings.stale_after_s });
}

function ackCell(a) {
  // Who has seen the alarm and who takes it (POST /api/v1/alarms/{id}/ack); a later ack reassigns.
  const done = a.acknowledged_by ? [el("span", { class: "acked" }, t("acked", { a: a.acknowledged_by, t: clock(a.acknowledged_at) })),
    a.assigned_to ? el("span", { class: "assigned" }, " · " + t("assigned", { w: a.assigned_to })) : ""] : [];
  if (!canAct()) return el("td", {}, ...done);
  return el("td", {}, ...done, el("span", { class: "ack-form" },
    el("input", { class: "assign", placeholder: t("assign_ph"), "data-alarm": String(a.id), value: a.assigned_to || "" }),
    el("button", { type: "button", class: "step secondary", "data-ack": String(a.id) }, t("ack"))));
}

async function ackAlarm(id, button) {
  const input = document.querySelector("input.assign[data-alarm='" + id + "']");
  const assign = input ? input.value.trim() : "";
  button.disabled = true;
  try {
    await api("/api/v1/alarms/" + encodeURIComponent(id) + "/ack", { method: "POST", body: JSON.stringify(assign ? { assign_to: assign } : {}) });
    await refresh(["alarms"]);
  } catch (err) {
    $("action-error").textContent = err.message;
    button.disabled = false;
  }
}

function renderAlarms() {
  // Keep what the officer is typing into an assignee box across a redraw.
  const typing = document.activeElement && document.activeElement.matches("input.assign") ? document.activeElement.dataset.alarm : null;
  const typed = typing ? document.activeElement.value : null;
  const rows = state.alarms.map((a) => el("tr", { class: a.type === "entrapment" ? "trapped" : i18n.severity(a.type), "data-alarm": a.id },
    el("td", {}, el("a", { href: "#/elevator/" + encodeURIComponent(a.device_id) }, a.device_id)),
    el("td", {}, t("severity_" + i18n.severity(a.type))),
    el("td", {}, i18n.event(a.type, true) + (a.fault_code ? " (E" + a.fault_code + ")" : "")),
    el("td", {}, a.floor ?? ""), el("td", {}, clock(a.raised_at)), el("td", {}, timer(a.raised_at)), ackCell(a)));
  fillBody("alarms", rows);
  if (typing) {
    const again = document.querySelector("input.assign[data-alarm='" + typing + "']");
    if (again) { again.value = typed; again.focus(); }
  }
  $("alarms-empty").hidden = rows.length > 0;
  $("alarms-count").textContent = rows.length ? "(" + rows.length + ")" : "";
}

function stepButtons(c) {
  if (!canAct()) return [];
  const buttons = (STEPS[c.status] || []).map((action) =>
    el("button", { type: "button", class: "step", "data-case": c.case_id, "data-action": action }, t("act_" + action)));
  if (!CLOSED.has(c.status)) {
    buttons.push(el("button", { type: "button", class: "step secondary", "data-case": c.case_id, "data-action": "false_alarm" }, t("act_false_alarm")));
  }
  // One car, one case: another open case of the same car is offered as the one to merge this into.
  if (!CLOSED.has(c.status) && canMerge()) {
    for (const other of state.cases) {
      if (other.closed || other.case_id === c.case_id || other.device_id !== c.device_id) continue;
      buttons.push(el("button", { type: "button", class: "step secondary", "data-merge": c.case_id, "data-into": other.case_id }, t("merge_into", { c: other.case_id })));
    }
  }
  return buttons;
}

function renderCases() {
  const open = state.cases.filter((c) => !c.closed);
  const rows = open.map((c) => {
    const at = (code) => (c.steps || []).find((s) => s.status === code);
    const stepCell = (code, secs) => { const s = at(code); return s ? t("by", { d: duration(secs), a: s.actor }) : ""; };
    return el("tr", { class: "trapped" + ((c.escalations || []).length ? " escalated" : ""), "data-case": c.case_id, "data-status": c.status },
      el("td", {}, c.case_id), el("td", {}, el("a", { href: "#/elevator/" + encodeURIComponent(c.device_id) }, c.device_id), c.address ? " — " + c.address : ""),
      el("td", {}, c.floor ?? ""), el("td", { class: "case-status" }, c.status + " " + statusName(c.status)),
      el("td", {}, timer(c.occurred_at)),
      el("td", {}, stepCell("02", c.response_s)), el("td", {}, stepCell("04", c.arrival_s)),
      el("td", {}, ...stepButtons(c)));
  });
  fillBody("cases", rows);
  $("cases-empty").hidden = rows.length > 0;
  $("cases-count").textContent = rows.length ? t("cases_open", { n: rows.length }) : "";
}

function renderCompliance(rows) {
  fillBody("compliance", rows.map((r) => el("tr", {},
    el("td", {}, r.maintenance_company), el("td", {}, r.elevators), el("td", {}, r.overdue),
    el("td", {}, r.sessions), el("td", {}, r.short_sessions),
    el("td", {}, r.mean_session_s == null ? "" : t("minutes", { n: Math.round(r.mean_session_s / 60) })),
    el("td", {}, percent(r.compliance_rate)))));
}

function renderOverdue(rows) {
  fillBody("overdue", rows.map((r) => el("tr", { class: "fault" },
    el("td", {}, r.device_id), el("td", {}, r.maintenance_company ?? ""),
    el("td", {}, r.last_maintenance_at ? clock(r.last_maintenance_at, true) : t("never")),
    el("td", {}, t("days", { n: r.overdue_days })))));
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
  if (!items.length) add("text", { x: 4, y: 15 }, "–");
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
  const label = (f) => f.district || f.key || t("no_district");
  barChart("chart-faults", districts.map((f) => ({ label: label(f), value: f.faults_total })), "#5b6f8a");
  barChart("chart-entrapments", districts.map((f) => ({ label: label(f), value: f.entrapments })), "#b3261e");
  barChart("chart-response", districts.map((f) => ({ label: label(f), value: f.response_mean_s })), "#8a5a00");
  barChart("chart-arrival", districts.map((f) => ({ label: label(f), value: f.arrival_mean_s })), "#1e6b35");
  const rows = figures.filter((f) => f.scope === "district" || f.scope === "all").map((f) => el("tr", { class: f.scope === "all" ? "total" : "" },
    el("td", {}, f.scope === "all" ? t("all_districts") : label(f)), el("td", {}, f.elevators), el("td", {}, f.faults_total),
    el("td", {}, f.entrapments), el("td", {}, f.rescue_cases), el("td", {}, f.false_alarms),
    el("td", {}, f.response_p90_s == null ? "" : duration(f.response_p90_s)),
    el("td", {}, f.arrival_p90_s == null ? "" : duration(f.arrival_p90_s)),
    el("td", {}, percent(f.arrival_within_limit_share)), el("td", {}, percent(f.online_rate))));
  fillBody("statistics", rows);
}

// --- the page of one elevator -------------------------------------------------------------------
let chart = null;
function renderFacts(dev) {
  const id = ident(dev);
  const e = state.elevators.find((x) => x.device_id === dev);
  const s = e && e.state;
  const facts = [
    [t("col_address"), id.address || t("not_registered")], [t("rescue_code"), id.rescue_code],
    [t("registration_code"), id.registration_code], [t("company"), id.maintenance_company],
    [t("using_unit"), id.using_unit], [t("district"), id.district || id.area_code],
    [t("col_link"), e ? (e.online ? t("online") : t("offline")) : ""], [t("col_last_seen"), e ? ago(e.last_seen) : ""],
    [t("col_floor"), s ? s.floor : ""], [t("col_state"), e ? motionOf(e, trappedDevices()) : ""],
    [t("col_door"), s && s.door ? t("door_" + s.door) : ""], [t("col_mode"), s && s.mode ? t("mode_" + s.mode) : ""],
  ].filter(([, v]) => v != null && v !== "");
  $("elevator-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

async function showElevator(dev) {
  $("elevator-title").textContent = t("elevator_page", { d: dev });
  renderFacts(dev);
  $("open-case").hidden = !canAct();
  $("live-view").hidden = !(state.role === null || ["duty_officer", "admin"].includes(state.role));
  $("live-view").dataset.device = dev;
  liveTick();
  $("open-case").dataset.device = dev;
  $("open-case-result").textContent = "";
  const since = new Date(Date.now() - 86400000).toISOString();
  let events = [], cases = [], alarms = [], history = [];
  try {
    [events, cases, alarms, history] = await Promise.all([
      api("/api/v1/events?device_id=" + encodeURIComponent(dev) + "&since=" + encodeURIComponent(since) + "&limit=5000"),
      platformApi("/api/v1/rescue-cases?device_id=" + encodeURIComponent(dev) + "&limit=50").catch(() => []),
      api("/api/v1/alarms?device_id=" + encodeURIComponent(dev) + "&limit=500").catch(() => []),
      platformApi("/api/v1/registry/" + encodeURIComponent(dev) + "/history").catch(() => []),
    ]);
  } catch (err) {
    $("action-error").textContent = err.message;
  }
  if (currentRoute().device !== dev) return;  // the officer moved on while we waited
  const items = events.slice().reverse().map((ev) => el("li", { class: "ev " + i18n.severity(ev.type) + " " + ev.action, "data-type": ev.type },
    el("time", {}, clock(ev.at, true)), el("span", { class: "ev-name" }, i18n.event(ev.type, true)),
    el("span", { class: "ev-action" }, t(ev.action)), ev.floor != null ? el("span", {}, t("near_floor", { f: ev.floor })) : ""));
  $("timeline").replaceChildren(...items);
  $("timeline-empty").hidden = items.length > 0;
  fillBody("elevator-cases", cases.map((c) => el("tr", { "data-case": c.case_id, class: c.closed ? "" : "trapped" },
    el("td", {}, c.case_id), el("td", {}, statusName(c.status)), el("td", {}, clock(c.occurred_at, true)),
    el("td", {}, c.response_s == null ? "" : duration(c.response_s)), el("td", {}, c.arrival_s == null ? "" : duration(c.arrival_s)))));
  renderAdvisories(alarms);
  renderRegistryHistory(history);
  drawChart(events);
}

function renderRegistryHistory(history) {
  // docs/registry.md: newest version first; statistics follow the company of each period.
  const rows = history.slice().reverse().map((v) => el("tr", { "data-version": v.version, class: v.valid_until ? "" : "current" },
    el("td", {}, String(v.version)), el("td", {}, clock(v.valid_from, true)), el("td", {}, v.valid_until ? clock(v.valid_until, true) : ""),
    el("td", {}, v.maintenance_company), el("td", {}, v.using_unit), el("td", {}, v.address)));
  fillBody("registry-history", rows);
  $("registry-history-empty").hidden = rows.length > 0;
}

function renderAdvisories(alarms) {
  // Trend watch (docs/trend-watch.md): the active ones first, then the 20 most recent cleared.
  const adv = alarms.filter((a) => i18n.severity(a.type) === "advisory");
  const shown = adv.filter((a) => a.active).concat(adv.filter((a) => !a.active).slice(0, 20));
  fillBody("elevator-advisories", shown.map((a) => el("tr", { class: "advisory " + (a.active ? "active" : "cleared"), "data-alarm": a.id, "data-type": a.type },
    el("td", {}, i18n.event(a.type)), el("td", {}, t(a.active ? "advisory_active" : "advisory_cleared")),
    el("td", {}, clock(a.raised_at, true)), el("td", {}, a.cleared_at ? clock(a.cleared_at, true) : ""))));
  $("advisories-empty").hidden = shown.length > 0;
}

function drawChart(events) {
  // 24 one-hour buckets ending now: raised alarms (people at risk) and faults, stacked bars.
  const hour = 3600000, end = Math.ceil(Date.now() / hour) * hour;
  const xs = [], alarms = [], faults = [];
  for (let i = 23; i >= 0; i--) { xs.push((end - (i + 1) * hour) / 1000); alarms.push(0); faults.push(0); }
  for (const ev of events) {
    if (ev.action !== "raise") continue;
    const i = Math.floor((Date.parse(ev.at) - (end - 24 * hour)) / hour);
    if (i < 0 || i > 23) continue;
    const severity = i18n.severity(ev.type);
    if (severity === "advisory") continue;  // a drifting figure is neither an alarm nor a fault
    if (severity === "alarm") alarms[i]++; else faults[i]++;
  }
  const target = $("chart-24h");
  const width = Math.max(280, Math.min(900, target.clientWidth || 600));
  if (chart) { chart.destroy(); chart = null; }
  target.replaceChildren();
  if (typeof uPlot !== "function") return;
  // Two bars per hour side by side: alarms (people at risk) left, faults right.
  const bars = (align) => (uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.42, 24], align }) : undefined);
  const zone = state.settings.time_zone;
  const hourOf = (ts) => new Date(ts * 1000).toLocaleTimeString(i18n.lang(), { timeZone: zone, hour12: false, hour: "2-digit", minute: "2-digit" });
  chart = new uPlot({
    width, height: 220,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
    scales: { x: { time: true, range: (u, min, max) => [min - 1800, max + 1800] }, y: { range: (u, min, max) => [0, Math.max(2, max + 1)] } },
    series: [{ label: t("col_time"), value: (u, v) => (v == null ? "--" : hourOf(v)) },
      { label: t("severity_alarm"), stroke: "#b3261e", fill: "rgba(179,38,30,.55)", paths: bars(-1), points: { show: false } },
      { label: t("severity_fault"), stroke: "#8a5a00", fill: "rgba(138,90,0,.45)", paths: bars(1), points: { show: false } }],
    axes: [{ values: (u, splits) => splits.map(hourOf), space: 50 },
      { values: (u, vals) => vals.map((v) => (Number.isInteger(v) ? v : "")) }],
}, [xs, alarms, faults], target);
}

// --- fetching -----------------------------------------------------------------------------------
async function refreshAlarms() {
  state.alarms = await api("/api/v1/alarms?active=true");
}
async function refreshElevators() {
  state.elevators = await api("/api/v1/elevators");
}
async function refreshCases() {
  try {
    const [open, closed] = await Promise.all([platformApi("/api/v1/rescue-cases?open=true"),
      platformApi("/api/v1/rescue-cases?open=false&limit=50")]);
    state.cases = open; state.closedCases = closed;
    setPlatform(true);
  } catch (err) {
    if (err.status === 401) throw err;
    state.cases = []; state.closedCases = [];
    setPlatform(false, err);
    return;
  }
  if (state.cases.some((c) => (c.escalations || []).length)) {
    try { state.deliveries = await platformApi("/api/v1/webhooks?limit=500"); } catch (_) { state.deliveries = null; }
  }
}
async function refreshRegistry() {
  try {
    const rows = await platformApi("/api/v1/registry");
    state.registry = new Map(rows.map((r) => [r.device_id, r]));
  } catch (err) {
    if (err.status === 401) throw err;
  }
}
async function refreshReports() {
  if (!state.platformOk) return;
  state.reportsAt = Date.now();
  const [compliance, overdue, stats] = await Promise.all([
    platformApi("/api/v1/maintenance/compliance"), platformApi("/api/v1/maintenance/overdue"),
    platformApi("/api/v1/statistics?scope=district,all")]);
  renderCompliance(compliance); renderOverdue(overdue); renderStatistics(stats.figures || []);
}

function renderAll() {
  renderCases(); renderAlarms(); renderElevators(); renderBanner(); alertTick();
}

// One refresh at a time per kind; a request that arrives while one runs is done once it ends.
const running = {};
async function refresh(kinds) {
  if (!signedIn()) return;
  const todo = kinds.filter((k) => !running[k]);
  for (const k of kinds) if (running[k]) running[k].again = true;
  if (!todo.length) return;
  for (const k of todo) running[k] = { again: false };
  const jobs = { alarms: refreshAlarms, elevators: refreshElevators, cases: refreshCases, registry: refreshRegistry };
  try {
    await Promise.all(todo.map((k) => jobs[k]()));
    state.lastOk = Date.now();
    renderAll();
  } catch (err) {
    if (err.status === 401) { signOut(t("refused_token", { m: err.message })); return; }
    $("action-error").textContent = err.message;
  } finally {
    const again = todo.filter((k) => running[k] && running[k].again);
    for (const k of todo) delete running[k];
    tickTimers();
    if (again.length) refresh(again);
  }
}

function setPlatform(ok, err) {
  state.platformOk = ok;
  const note = $("platform-missing");
  for (const id of ["cases-section", "maintenance-section", "statistics-section"]) $(id).hidden = !ok;
  note.hidden = ok;
  if (!ok) note.textContent = t("platform_missing", { h: platformBase() || location.host, m: err ? err.message : "" });
}

// --- server push --------------------------------------------------------------------------------
async function openStream() {
  if (!signedIn() || state.stream.abort) return;
  const abort = new AbortController();
  state.stream.abort = abort;
  try {
    const response = await fetch("/api/v1/stream", { headers: headers(false), credentials: "same-origin", cache: "no-store", signal: abort.signal });
    if (response.status === 401) { signOut(t("refused_token", { m: "401" })); return; }
    if (!response.ok || !response.body) throw new Error("stream: " + response.status);
    state.stream.connected = true;
    state.stream.retryMs = 1000;
    state.stream.lastData = Date.now();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      state.stream.lastData = Date.now();
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const ev = (block.split("\n").find((l) => l.startsWith("event:")) || "").slice(6).trim();
        if (ev === "ready") refresh(["alarms", "cases", "elevators"]);
        else if (ev === "alarms") refresh(["alarms", "elevators", "cases"]);
        else if (ev === "cases") refresh(["cases"]);
      }
    }
  } catch (err) {
    if (err.name !== "AbortError") console.warn("console stream:", err.message);
  } finally {
    state.stream.connected = false;
    if (state.stream.abort === abort) state.stream.abort = null;
  }
  if (signedIn()) {
    setTimeout(openStream, state.stream.retryMs);
    state.stream.retryMs = Math.min(30000, state.stream.retryMs * 2);
  }
}
function watchStream() {
  if (state.stream.abort && Date.now() - state.stream.lastData > STREAM_SILENT_MS) state.stream.abort.abort();
}

function tickTimers() {
  for (const n of document.querySelectorAll(".timer[data-since]")) n.textContent = duration(sinceS(n.dataset.since));
  for (const n of document.querySelectorAll(".countdown[data-deadline]")) {
    const deadline = Number(n.dataset.deadline);
    n.textContent = countdownText(deadline);
    n.classList.toggle("late", Date.now() > deadline);
  }
  for (const n of document.querySelectorAll(".ago[data-ago]")) n.textContent = ago(n.dataset.ago || null);
  const line = $("status-line");
  if (!signedIn()) { line.textContent = t("not_signed_in"); return; }
  if (!state.lastOk) { line.textContent = t("connecting"); return; }
  const silent = Math.round((Date.now() - state.stream.lastData) / 1000);
  if (state.stream.connected) line.textContent = t("live", { t: clock(new Date(state.lastOk).toISOString()) });
  else line.textContent = t("reconnecting", { s: silent });
  line.classList.toggle("warn", !state.stream.connected);
}

// --- acting -------------------------------------------------------------------------------------
function confirmDialog(text, yes) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yes || t("confirm_yes");
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

function actorForToken() {
  // With accounts the server records who is signed in (or the token's name); before them, the typed name.
  if (!token() || state.accounts) return {};
  const who = actor();
  if (!who) { $("action-error").textContent = t("enter_name_first"); $("actor").focus(); return null; }
  return { actor: who };
}

async function act(caseId, action, button) {
  const who = actorForToken();
  if (who === null) return;
  if (action === "false_alarm" && !(await confirmDialog(t("confirm_false_alarm", { c: caseId })))) return;
  $("action-error").textContent = "";
  button.disabled = true;
  try {
    await platformApi("/api/v1/rescue-cases/" + encodeURIComponent(caseId) + "/actions",
      { method: "POST", body: JSON.stringify({ action, ...who }) });
    state.reportsAt = 0;
    await refresh(["cases"]);
  } catch (err) {
    $("action-error").textContent = t("action_failed", { c: caseId, m: err.message });
    button.disabled = false;
  }
}

async function mergeCase(caseId, into, button) {
  if (!(await confirmDialog(t("confirm_merge", { c: caseId, into }), t("merge_yes")))) return;
  $("action-error").textContent = "";
  button.disabled = true;
  try {
    await platformApi("/api/v1/rescue-cases/" + encodeURIComponent(caseId) + "/merge",
      { method: "POST", body: JSON.stringify({ into }) });
    state.reportsAt = 0;
    await refresh(["cases"]);
  } catch (err) {
    $("action-error").textContent = t("action_failed", { c: caseId, m: err.message });
    button.disabled = false;
  }
}

async function openCase(dev, button) {
  const who = actorForToken();
  if (who === null) return;
  button.disabled = true;
  try {
    const c = await platformApi("/api/v1/rescue-cases", { method: "POST", body: JSON.stringify({ device_id: dev, note: "96333", ...who }) });
    $("open-case-result").textContent = t("case_opened", { c: c.case_id });
    await refresh(["cases"]);
  } catch (err) {
    $("action-error").textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

async function exportCsv(event) {
  event.preventDefault();
  const response = await fetch(platformBase() + "/api/v1/statistics?scope=district,company,all&format=csv", { headers: headers(false), credentials: "same-origin" });
  if (!response.ok) { $("action-error").textContent = "CSV: " + response.status; return; }
  const blob = await response.blob();
  const a = el("a", { href: URL.createObjectURL(blob), download: "statistics.csv" });
  document.body.append(a); a.click(); a.remove();
}

// --- live view: full-rate status from one agent for a bounded time (POST .../live) --------------
async function startLive(dev, button) {
  button.disabled = true;
  try {
    const answer = await api("/api/v1/elevators/" + encodeURIComponent(dev) + "/live", { method: "POST", body: JSON.stringify({ seconds: 120 }) });
    state.live = { device: dev, until: Date.parse(answer.until) || Date.now() + 120000, error: "" };
  } catch (err) {
    state.live = { device: dev, until: 0, error: t("live_failed", { m: err.message }) };
  } finally {
    liveTick();
    button.disabled = false;
  }
}
function liveTick() {
  // While the live view runs and its elevator's page is open, the page follows the car each second.
  const live = state.live, route = currentRoute();
  const on = live && Date.now() < live.until && route.view === "elevator" && route.device === live.device;
  const here = live && route.view === "elevator" && route.device === live.device;
  $("live-state").textContent = on ? t("live_on", { d: duration((live.until - Date.now()) / 1000) }) : here ? live.error : "";
  if (on) refresh(["elevators"]).then(() => renderFacts(live.device));
}

// --- the audit trail ----------------------------------------------------------------------------
async function showAudit() {
  const q = new URLSearchParams({ limit: "500" });
  const actorQ = $("audit-actor").value.trim(), deviceQ = $("audit-device").value.trim(), kindQ = $("audit-kind").value;
  if (actorQ) q.set("actor", actorQ);
  if (deviceQ) q.set("device_id", deviceQ);
  if (kindQ) q.set("kind", kindQ);
  let rows = [];
  try {
    rows = await api("/api/v1/audit?" + q.toString());
  } catch (err) {
    $("action-error").textContent = err.message;
  }
  const detail = (d) => (d && typeof d === "object" ? Object.entries(d).map(([k, v]) => k + "=" + JSON.stringify(v)).join(" ") : "");
  fillBody("audit", rows.map((r) => el("tr", { "data-audit": r.id, "data-action": r.action },
    el("td", {}, clock(r.at, true)), el("td", {}, r.actor), el("td", {}, r.role ? t("role_" + r.role) : ""),
    el("td", {}, r.kind), el("td", {}, r.action), el("td", {}, r.device_id || ""),
    el("td", { class: "wide" }, r.target || ""), el("td", { class: "wide detail" }, detail(r.detail)))));
  $("audit-empty").hidden = rows.length > 0;
}

// --- views --------------------------------------------------------------------------------------
function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  if (hash.startsWith("elevator/")) return { view: "elevator", device: decodeURIComponent(hash.slice(9)) };
  if (hash === "elevators") return { view: "elevators" };
  if (hash === "reports") return { view: "reports" };
  if (hash === "audit") return { view: "audit" };
  return { view: "overview" };
}
function showView() {
  const route = currentRoute();
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "view-" + route.view;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === route.view);
  if (route.view === "elevator") showElevator(route.device);
  if (route.view === "audit") showAudit();
  if (route.view === "reports" && Date.now() - state.reportsAt > 5000) refreshReports().catch((err) => { $("action-error").textContent = err.message; });
}

// --- sign in / out ------------------------------------------------------------------------------
function showSignIn(tokenForm) {
  $("login-form").hidden = tokenForm; $("sign-in-form").hidden = !tokenForm;
  (tokenForm ? $("token") : $("username")).focus();
}

function signOut(message) {
  if (csrf()) fetch("/api/v1/logout", { method: "POST", headers: headers(false), credentials: "same-origin" }).catch(() => {});
  sessionStorage.removeItem("console.token");
  sessionStorage.removeItem("console.csrf");
  sessionStorage.removeItem("console.user");
  if (state.stream.abort) state.stream.abort.abort();
  state.role = null; state.user = null;
  $("console").hidden = true; $("nav").hidden = true; $("banner").hidden = true;
  $("sign-in").hidden = false;
  $("sign-out").hidden = true; $("actor-label").hidden = true; $("who").textContent = "";
  $("sign-in-error").textContent = message || "";
  $("platform").value = platformBase();
  showSignIn(localStorage.getItem("console.signin") === "token");
}

async function loginWithPassword(event) {
  event.preventDefault();
  unlockAudio();
  let response, body = null;
  try {
    response = await fetch("/api/v1/login", {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" }, credentials: "same-origin",
      body: JSON.stringify({ username: $("username").value.trim(), password: $("password").value }),
    });
    try { body = await response.json(); } catch (_) { body = null; }
  } catch (err) {
    $("sign-in-error").textContent = err.message; return;
  }
  $("password").value = "";
  if (response.status === 401) { $("sign-in-error").textContent = t("refused_login"); return; }
  if (response.status === 423 || response.status === 429) {
    $("sign-in-error").textContent = t("locked_out", { m: (body && body.error) || response.status }); return;
  }
  if (!response.ok || !body) { $("sign-in-error").textContent = (body && body.error) || String(response.status); return; }
  sessionStorage.setItem("console.csrf", body.csrf_token || "-");
  sessionStorage.setItem("console.user", JSON.stringify(body));
  localStorage.setItem("console.signin", "password");
  start();
}

async function signIn(event) {
  event.preventDefault();
  unlockAudio();
  sessionStorage.setItem("console.token", $("token").value.trim());
  localStorage.setItem("console.platform", $("platform").value.trim());
  try {
    await api("/api/v1/elevators");
  } catch (err) {
    signOut(err.status === 401 ? t("refused_token", { m: err.message }) : err.message);
    return;
  }
  $("token").value = "";
  localStorage.setItem("console.signin", "token");
  start();
}

function showWho(account) {
  state.user = account ? account.username || null : null;
  state.role = account ? account.role || null : null;
  state.company = account ? account.company || null : null;
  $("who").textContent = state.user ? t("signed_in_as", { u: state.user, r: t("role_" + state.role) }) : "";
  $("read-only").hidden = canAct();
  // District-wide figures are not a company's to see (the server refuses them): no tab for it.
  document.querySelector("#nav a[data-view='reports']").hidden = state.role === "company";
  // The audit trail is for administrators and regulators (GET /api/v1/audit admits those two).
  document.querySelector("#nav a[data-view='audit']").hidden = !["admin", "regulator"].includes(state.role);
}

async function whoAmI() {
  // The server records the credential's name for every step; the typed name is only for a server
  // that has no accounts yet (no /api/v1/session): then it is sent as the step's actor.
  try {
    const me = await api("/api/v1/session");
    sessionStorage.setItem("console.user", JSON.stringify(me));
    if (me.csrf_token && me.via === "session") sessionStorage.setItem("console.csrf", me.csrf_token);
    state.accounts = true;
    showWho(me);
  } catch (err) {
    if (err.status === 401) { signOut(t("refused_token", { m: err.message })); return; }
    state.accounts = err.status !== 404;
  }
  $("actor-label").hidden = !(token() && !state.accounts);
  renderAll();
}

function start() {
  showWho(JSON.parse(sessionStorage.getItem("console.user") || "null"));
  $("actor-label").hidden = true;
  whoAmI();
  $("sign-in").hidden = true;
  $("console").hidden = false; $("nav").hidden = false;
  $("sign-out").hidden = false;
  state.reportsAt = 0;
  refresh(["registry", "alarms", "elevators", "cases"]).then(showView);
  openStream();
}

async function loadSettings() {
  try {
    const response = await fetch("settings.json", { cache: "no-store" });
    if (response.ok) Object.assign(state.settings, await response.json());
  } catch (_) { /* defaults: Asia/Shanghai, 45 s, 30 min */ }
}

function init() {
  i18n.apply();
  const params = new URLSearchParams(location.search);
  if (params.has("platform")) localStorage.setItem("console.platform", params.get("platform"));
  $("actor").value = localStorage.getItem("console.actor") || "";
  $("actor").addEventListener("input", () => localStorage.setItem("console.actor", actor()));
  $("login-form").addEventListener("submit", loginWithPassword);
  $("sign-in-form").addEventListener("submit", signIn);
  $("to-token").addEventListener("click", () => showSignIn(true));
  $("to-login").addEventListener("click", () => showSignIn(false));
  $("sign-out").addEventListener("click", () => signOut(""));
  $("lang").addEventListener("click", () => {
    i18n.setLang(i18n.lang() === "zh-CN" ? "en" : "zh-CN");
    i18n.apply(); renderAll(); tickTimers(); showView();
  });
  document.addEventListener("click", (event) => {
    unlockAudio();
    const b = event.target.closest("button[data-action]");
    if (b) { act(b.dataset.case, b.dataset.action, b); return; }
    const m = event.target.closest("button[data-merge]");
    if (m) { mergeCase(m.dataset.merge, m.dataset.into, m); return; }
    const k = event.target.closest("button[data-ack]");
    if (k) { ackAlarm(k.dataset.ack, k); return; }
    const n = event.target.closest("button[data-new-case]");
    if (n) openCase(n.dataset.newCase, n);
  });
  $("open-case").addEventListener("click", (event) => openCase(event.target.dataset.device, event.target));
  for (const id of ["search", "filter", "sort"]) $(id).addEventListener("input", renderElevators);
  $("stats-csv").addEventListener("click", exportCsv);
  $("audit-refresh").addEventListener("click", showAudit);
  for (const id of ["audit-actor", "audit-device", "audit-kind"]) $(id).addEventListener("change", showAudit);
  window.addEventListener("hashchange", showView);
  setInterval(() => refresh(["elevators", "alarms", "cases"]), SLOW_REFRESH_MS);
  setInterval(() => refresh(["registry"]), REGISTRY_REFRESH_MS);  // addresses and codes change rarely
  setInterval(() => { if (currentRoute().view === "reports" && Date.now() - state.reportsAt > REPORTS_REFRESH_MS) refreshReports().catch(() => {}); }, 5000);
  setInterval(() => { tickTimers(); alertTick(); watchStream(); liveTick(); }, 1000);
  $("live-view").addEventListener("click", (event) => startLive(event.target.dataset.device, event.target));
  loadSettings().then(() => { if (signedIn()) start(); else signOut(""); });
}

init();
