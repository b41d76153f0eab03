// pilegate console: plain JavaScript over the admin API, no framework, no build step.
// Pages are hash routes (#/piles, #/bill/ID, ...); live events come from /events (SSE over
// fetch, so the token travels in the Authorization header, never in a URL).
"use strict";

const state = { token: sessionStorage.getItem("pg-token") || "", who: sessionStorage.getItem("pg-who") || "operator", codes: {}, listeners: new Set(), liveAbort: null };
const $ = (sel, root = document) => root.querySelector(sel);

// --- DOM helpers ----------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const svgNS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

const pad = (n) => String(n).padStart(2, "0");
function time(ms) {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
const yuan = (fen) => (fen === null || fen === undefined ? "" : (fen / 100).toFixed(2));
const kwh = (dwh) => (dwh === null || dwh === undefined ? "" : (dwh / 10000).toFixed(4));
const short = (id) => (id ? String(id).slice(0, 8) : "");
const badge = (text, cls) => h("span", { class: `badge ${cls || text}` }, text);
function codeBadges(codes) {
  return String(codes || "").split(",").filter(Boolean).map((c) =>
    h("span", { class: "badge code", title: state.codes[c] || "", "data-code": c }, `${c} ${state.codes[c] || ""}`));
}
function table(columns, rows, rowAttrs) {
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : "" }, c.label)))),
    h("tbody", {}, rows.map((r) => h("tr", rowAttrs ? rowAttrs(r) : {},
      columns.map((c) => h("td", { class: c.num ? "num" : "" }, c.value(r)))))));
}
function toast(text, bad) {
  const t = h("div", { class: bad ? "toast bad" : "toast" }, text);
  $("#toasts").append(t);
  setTimeout(() => t.remove(), bad ? 8000 : 4000);
}
function field(label, input) { return h("label", {}, label, input); }

// --- API ------------------------------------------------------------------------------------

class ApiError extends Error {}

async function api(method, path, body, raw) {
  const headers = { Authorization: `Bearer ${state.token}` };
  let payload;
  if (raw !== undefined) { payload = raw; headers["Content-Type"] = "text/plain"; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
  const resp = await fetch(path, { method, headers, body: payload });
  if (resp.status === 401) { showLogin("The token was refused."); throw new ApiError("unauthorised"); }
  const data = resp.headers.get("content-type")?.includes("json") ? await resp.json() : await resp.text();
  if (!resp.ok) {
    let detail = data && data.detail !== undefined ? data.detail : data;
    if (detail && detail.errors) detail = detail.errors.join("; ");
    if (Array.isArray(detail)) detail = detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    throw new ApiError(`${resp.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
  return data;
}
const get = (path) => api("GET", path);
function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : "";
}
// `stored`: a configuration change (enable, disable, tariff, idle fee) for a pile that is not
// connected; the gateway sends it when the pile next logs in. Not a failure.
const STORED = "stored; reaches the pile at its next login";
function outcomeText(result) {
  if (result.outcome === "stored") return STORED;
  return `${result.outcome}${result.reason ? ` (${result.reason})` : ""}`;
}
function commandToast(name, result) {
  const ok = result.outcome === "accepted" || result.outcome === "stored";
  toast(`${name}: ${outcomeText(result)}`, !ok);
  return ok;
}
// A change for every pile of a scope (default or station rules): stored, and sent to each
// connected pile it applies to; `piles` has their answers (none connected: stored).
function fanoutToast(name, result) {
  const piles = Object.entries(result.piles || {});
  if (!piles.length) { toast(`${name}: stored; reaches each pile at its next login`); return true; }
  const bad = piles.filter(([, r]) => r.outcome !== "accepted" && r.outcome !== "stored");
  toast(`${name}: sent to ${piles.length} connected pile${piles.length > 1 ? "s" : ""}` +
    (bad.length ? `, ${bad.map(([p, r]) => `${p} ${outcomeText(r)}`).join(", ")}` : ": accepted"), bad.length > 0);
  return !bad.length;
}
// A pile id as the gateway keeps it: 20 digits, a 16-digit id left-padded with zeros
// (protocol.normalize_pile_id); anything else is left for the API to refuse with its reason.
const pileIdOf = (text) => (/^\d{16}$/.test(text.trim()) ? `0000${text.trim()}` : text.trim());

// --- dialog ---------------------------------------------------------------------------------

function ask(title, fields, submit) {
  const dlg = $("#dialog");
  $("#dialog-title").textContent = title;
  $("#dialog-error").textContent = "";
  const body = $("#dialog-body");
  body.replaceChildren(...fields.map(([label, input]) => field(label, input)));
  const ok = $("#dialog-ok");
  const onClose = async (ev) => {
    ev.preventDefault();
    if (ev.submitter && ev.submitter.value === "cancel") { dlg.close(); cleanup(); return; }
    ok.disabled = true;
    try { await submit(); dlg.close(); cleanup(); }
    catch (err) { $("#dialog-error").textContent = err.message; }
    finally { ok.disabled = false; }
  };
  const form = $("#dialog-form");
  const cleanup = () => form.removeEventListener("submit", onClose);
  form.addEventListener("submit", onClose);
  dlg.showModal();
  const first = body.querySelector("input, select, textarea");
  if (first) first.focus();
}

// --- live events ----------------------------------------------------------------------------

function onLive(fn) { state.listeners.add(fn); return fn; }
function setLive(on) {
  const el = $("#live");
  el.textContent = on ? "live" : "offline";
  el.classList.toggle("on", on);
}
async function connectLive() {
  if (state.liveAbort) state.liveAbort.abort();
  const abort = state.liveAbort = new AbortController();
  while (!abort.signal.aborted) {
    try {
      const resp = await fetch("/events", { headers: { Authorization: `Bearer ${state.token}` }, signal: abort.signal });
      if (resp.status === 401) { showLogin("The token was refused."); return; }
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let name = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) name = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (!data) continue;
          const event = JSON.parse(data);
          if (name === "hello") setLive(true);
          else if (name === "resync") route();
          else for (const fn of state.listeners) fn(event);
        }
      }
    } catch (err) {
      if (abort.signal.aborted) return;
    }
    setLive(false);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// --- login and routing ----------------------------------------------------------------------

function showLogin(message) {
  if (state.liveAbort) state.liveAbort.abort();
  setLive(false);
  $("#main").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  $("#login-token").focus();
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  state.token = $("#login-token").value.trim();
  state.who = $("#login-who").value.trim() || "operator";
  try {
    state.codes = await get("/anomaly_codes");
  } catch (err) {
    if (!(err instanceof ApiError) || err.message !== "unauthorised") $("#login-error").textContent = err.message;
    return;
  }
  sessionStorage.setItem("pg-token", state.token);
  sessionStorage.setItem("pg-who", state.who);
  start();
});
$("#logout").addEventListener("click", () => {
  sessionStorage.removeItem("pg-token");
  state.token = "";
  showLogin();
});

async function whoami() {
  // An operator token (gateway/admin/access.py) carries its own name and role.
  const me = await get("/whoami");
  if (me.name) state.who = me.name;
  $("#whoami").textContent = me.role === "admin" ? `${state.who} (admin token)` : `${me.name} (${me.role === "read" ? "read-only" : me.role})`;
  document.body.classList.toggle("readonly", me.role === "read");
}

function start() {
  whoami().catch(() => {});
  $("#login").hidden = true;
  $("#main").hidden = false;
  connectLive();
  if (!location.hash) location.hash = "#/piles";
  else route();
}

const pages = {};
let pageSeq = 0;
async function route() {
  const [path, query] = location.hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  const name = parts[0] || "piles";
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  for (const a of document.querySelectorAll("#nav a[data-page]")) {
    const page = a.dataset.page;
    a.classList.toggle("active", page === name || (page === "bills" && name === "bill") || (page === "sessions" && name === "session"));
  }
  state.listeners.clear();
  const seq = ++pageSeq;
  const main = $("#main");
  delete main.dataset.route;
  main.replaceChildren(h("p", { class: "muted" }, "loading..."));
  try {
    const view = await (pages[name] || pages.piles)(parts.slice(1), params, () => seq !== pageSeq);
    if (seq === pageSeq) main.replaceChildren(view);
  } catch (err) {
    if (seq === pageSeq) main.replaceChildren(h("p", { class: "error" }, err.message));
  }
  if (seq === pageSeq) main.dataset.route = location.hash; // the page shown is complete
}
window.addEventListener("hashchange", route);

// --- piles ----------------------------------------------------------------------------------

function gunView(pile, gun, g) {
  const sess = g.session;
  const busy = !!sess;
  return h("div", { class: "gun", "data-gun": gun },
    h("span", { class: "muted" }, `gun ${gun}`),
    badge(g.availability, g.availability),
    sess ? badge(sess.phase, sess.phase) : null,
    sess ? h("a", { href: `#/sessions?pile=${pile.pile_id}`, class: "mono", title: sess.transaction_id }, `${sess.account} · ${short(sess.transaction_id)}`) : null,
    pile.online && !busy ? h("button", { class: "small secondary", "data-action": "start", onclick: () => startDialog(pile.pile_id, gun) }, "Start") : null,
    busy ? h("button", { class: "small danger", "data-action": "stop", onclick: () => stopGun(pile.pile_id, gun) }, "Stop") : null,
  );
}

function pileRow(p) {
  const guns = Object.entries(p.guns || {});
  return h("tr", { "data-pile": p.pile_id },
    h("td", {}, h("span", { class: `dot ${p.online ? "on" : ""}`, title: p.online ? "online" : "offline" }), " ",
      h("span", { class: "mono" }, p.pile_id)),
    h("td", {}, p.station_name || p.station_id || h("span", { class: "muted" }, "none")),
    h("td", { "data-col": "online" }, p.online ? "online" : badge("offline")),
    h("td", {}, p.enabled === false ? badge("disabled") : "enabled"),
    h("td", { class: "mono" }, p.firmware || ""),
    h("td", { "data-col": "guns" }, guns.length ? guns.map(([n, g]) => gunView(p, n, g)) : h("span", { class: "muted" }, `${p.gun_count || 0} guns, never seen`)),
    h("td", {},
      p.enabled === false
        ? h("button", { class: "small secondary", "data-action": "enable", onclick: () => pileCommand(p.pile_id, "enable") }, "Enable")
        : h("button", { class: "small danger", "data-action": "disable", onclick: () => pileCommand(p.pile_id, "disable") }, "Disable"),
      " ", h("button", { class: "small secondary", "data-action": "query_bills", onclick: () => pileCommand(p.pile_id, "query_bills", { gun: 0 }) }, "Query bills"),
      " ", h("a", { href: `#/frames?pile=${p.pile_id}` }, "frames"),
      " ", h("a", { href: `#/tariffs?pile=${p.pile_id}` }, "tariff"),
      " ", h("a", { href: `#/bills?pile=${p.pile_id}` }, "bills")),
  );
}

async function pileCommand(pileId, name, body) {
  try { commandToast(`${name} ${pileId}`, await api("POST", `/piles/${pileId}/${name}`, body)); }
  catch (err) { toast(err.message, true); }
  refreshPile(pileId);
}
async function stopGun(pileId, gun) {
  try { commandToast(`stop gun ${gun}`, await api("POST", `/piles/${pileId}/stop`, { gun: Number(gun) })); }
  catch (err) { toast(err.message, true); }
}
function startDialog(pileId, gun) {
  const account = h("input", { id: "start-account", required: true, placeholder: "13800000000" });
  const channel = h("select", { id: "start-channel" }, ["operator", "own_app", "partner_app", "card", "password"].map((c) => h("option", {}, c)));
  ask(`Start a charge on ${pileId} gun ${gun}`, [["Account", account], ["Channel", channel]], async () => {
    const result = await api("POST", `/piles/${pileId}/start`, { gun: Number(gun), account: account.value.trim(), channel: channel.value });
    if (!commandToast(`start gun ${gun}`, result)) throw new Error(`${result.outcome}${result.reason ? `: ${result.reason}` : ""}`);
  });
}

// Events for one pile often come in bursts (status, transition, alarm): one read per burst.
const pending = new Map();
const pileCache = new Map(); // pile id -> the pile as last read, for the grid's filters
function refreshPile(pileId) {
  if (pending.has(pileId)) return;
  pending.set(pileId, setTimeout(async () => {
    pending.delete(pileId);
    try {
      const p = await get(`/piles/${pileId}`);
      if (pileCache.has(pileId)) pileCache.set(pileId, p);
      const row = document.querySelector(`tr[data-pile="${pileId}"]`);
      if (!row) return;
      const fresh = pileRow(p);
      fresh.classList.add("flash");
      row.replaceWith(fresh);
    } catch (err) { /* the next event retries */ }
  }, 150));
}

pages.piles = async (_, params) => {
  pileCache.clear();
  for (const p of await get("/piles")) pileCache.set(p.pile_id, p);
  const piles = () => [...pileCache.values()];
  const stations = [...new Set(piles().map((p) => p.station_id).filter(Boolean))].sort();
  const search = h("input", { id: "pile-search", placeholder: "pile id", value: params.q || "" });
  const station = h("select", { id: "pile-station" }, h("option", { value: "" }, "all stations"), stations.map((x) => h("option", { value: x, selected: x === params.station }, x)));
  const onlyOnline = h("select", { id: "pile-online" }, h("option", { value: "" }, "online and offline"), h("option", { value: "1" }, "online only"), h("option", { value: "0" }, "offline only"));
  const body = h("tbody", {});
  const render = () => {
    const q = search.value.trim();
    body.replaceChildren(...piles().filter((p) =>
      (!q || p.pile_id.includes(q)) && (!station.value || p.station_id === station.value) &&
      (!onlyOnline.value || String(Number(!!p.online)) === onlyOnline.value)).map(pileRow));
  };
  for (const el of [search, station, onlyOnline]) el.addEventListener("input", render);
  render();
  const count = h("span", { class: "muted", id: "pile-count" });
  const recount = () => { count.textContent = `${piles().filter((p) => p.online).length} online of ${pileCache.size}`; };
  recount();
  onLive((e) => {
    if (!e.pile_id) return;
    if (!pileCache.has(e.pile_id) && e.kind === "login") { route(); return; } // a new pile
    const p = pileCache.get(e.pile_id);
    if (p && (e.kind === "login" || e.kind === "offline")) { p.online = e.kind === "login"; recount(); }
    refreshPile(e.pile_id);
  });
  return h("div", {},
    h("h1", {}, "Piles ", count),
    h("div", { class: "toolbar" }, field("Search", search), field("Station", station), field("Connection", onlyOnline)),
    h("table", { id: "piles" },
      h("thead", {}, h("tr", {}, ["Pile", "Station", "Connection", "Enabled", "Firmware", "Guns (status, session)", "Actions"].map((t) => h("th", {}, t)))),
      body));
};

// --- sessions -------------------------------------------------------------------------------

pages.sessions = async (_, params) => {
  const pile = h("input", { id: "session-pile", placeholder: "pile id", value: params.pile || "" });
  const st = h("input", { id: "session-state", placeholder: "state, e.g. settled", value: params.state || "" });
  const account = h("input", { placeholder: "account", value: params.account || "" });
  const liveBox = h("div", { id: "live-sessions" });
  const pastBox = h("div", { id: "past-sessions" });
  let cursor = null;
  const liveCols = [
    { label: "Pile", value: (r) => h("span", { class: "mono" }, r.pile_id) },
    { label: "Gun", value: (r) => r.gun },
    { label: "Phase", value: (r) => badge(r.phase, r.phase) },
    { label: "Account", value: (r) => r.account },
    { label: "Transaction", value: (r) => h("span", { class: "mono" }, short(r.transaction_id)) },
    { label: "Since", value: (r) => time(r.since_ms) },
  ];
  const pastCols = [
    { label: "Updated", value: (r) => time(r.updated_ms) },
    { label: "Pile", value: (r) => h("span", { class: "mono" }, r.pile_id) },
    { label: "Gun", value: (r) => r.gun },
    { label: "State", value: (r) => badge(r.state, r.state) },
    { label: "Account", value: (r) => r.account },
    { label: "Channel", value: (r) => r.channel },
    { label: "Charge", value: (r) => `${time(r.charge_start_ms)} → ${time(r.charge_end_ms)}` },
    { label: "Flags", value: (r) => (r.flags || []).map((f) => badge(f, "code")) },
    { label: "", value: (r) => h("a", { href: `#/session/${r.id}` }, "transitions") },
  ];
  const loadLive = async () => liveBox.replaceChildren(table(liveCols, await get("/sessions/live")));
  const loadPast = async (more) => {
    const page = await get(`/sessions${qs({ pile: pile.value.trim(), state: st.value.trim(), account: account.value.trim(), limit: 50, cursor: more ? cursor : "" })}`);
    cursor = page.next_cursor;
    const t = table(pastCols, page.items);
    if (more) pastBox.querySelector("tbody").append(...t.querySelector("tbody").children);
    else pastBox.replaceChildren(t);
    moreBtn.hidden = !cursor;
  };
  const moreBtn = h("button", { class: "secondary", onclick: () => loadPast(true) }, "Older");
  await Promise.all([loadLive(), loadPast(false)]);
  let timer = null;
  onLive((e) => {
    if (!String(e.kind).startsWith("session_")) return;
    clearTimeout(timer);
    timer = setTimeout(() => { loadLive(); loadPast(false); }, 200);
  });
  return h("div", {},
    h("h1", {}, "Sessions"),
    h("h2", {}, "Live"), liveBox,
    h("h2", {}, "Stored"),
    h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); loadPast(false); } },
      field("Pile", pile), field("State", st), field("Account", account), h("button", {}, "Filter")),
    pastBox, moreBtn);
};

pages.session = async ([id]) => {
  const s0 = await get(`/sessions/${id}`);
  const facts = [
    ["Pile", s0.pile_id], ["Gun", s0.gun], ["Transaction", s0.transaction_id], ["Account", s0.account],
    ["Channel", s0.channel], ["State", s0.state], ["Authorised", time(s0.authorised_ms)],
    ["Charge", `${time(s0.charge_start_ms)} → ${time(s0.charge_end_ms)}`],
    ["Service end (pile / gateway)", `${time(s0.service_end_ms)} / ${time(s0.gateway_service_end_ms)}`],
    ["Energy seen by the gateway", `${kwh(s0.observed_energy_dwh)} kWh`], ["Flags", (s0.flags || []).join(", ")],
  ];
  return h("div", {},
    h("h1", {}, "Session ", h("span", { class: "mono" }, short(s0.id))),
    table([{ label: "", value: (r) => r[0] }, { label: "", value: (r) => r[1] }], facts),
    h("p", {},
      s0.bill_id ? h("a", { href: `#/bill/${s0.bill_id}` }, "its bill") : h("span", { class: "muted" }, "no bill yet"), " · ",
      h("a", { href: `#/frames?transaction=${s0.transaction_id}` }, "its frames")),
    h("h2", {}, "Transitions"),
    h("div", { id: "transitions" }, table([
      { label: "At", value: (r) => time(r.at_ms) },
      { label: "From", value: (r) => r.from_state || "" },
      { label: "To", value: (r) => badge(r.to_state, r.to_state) },
      { label: "Reason", value: (r) => r.reason },
    ], s0.transitions)));
};

// --- bills ----------------------------------------------------------------------------------

const billCols = [
  { label: "Received", value: (r) => time(r.received_ms) },
  { label: "Pile", value: (r) => h("span", { class: "mono" }, r.pile_id) },
  { label: "Gun", value: (r) => r.gun },
  { label: "Account", value: (r) => r.account },
  { label: "Channel", value: (r) => r.channel },
  { label: "kWh", num: true, value: (r) => kwh(r.energy_dwh) },
  { label: "Pile ¥", num: true, value: (r) => yuan(r.total_amount_fen) },
  { label: "pilegate ¥", num: true, value: (r) => yuan(r.our_total_fen) },
  { label: "Diff ¥", num: true, value: (r) => h("span", { class: r.difference_fen ? "diff" : "" }, yuan(r.difference_fen)) },
  { label: "Anomalies", value: (r) => codeBadges(r.anomaly_codes) },
  { label: "Status", value: (r) => badge(r.status, r.status === "stored" ? "available" : "finishing") },
  { label: "", value: (r) => h("a", { href: `#/bill/${r.id}`, "data-bill": r.id }, "open") },
];

pages.bills = async (_, params) => {
  const pile = h("input", { id: "bill-pile", placeholder: "pile id", value: params.pile || "" });
  const code = h("select", { id: "bill-code" }, h("option", { value: "" }, "any"), Object.entries(state.codes).map(([c, m]) => h("option", { value: c }, `${c} ${m}`)));
  const status = h("select", { id: "bill-status" }, ["", "stored", "flagged", "corrected"].map((x) => h("option", { value: x }, x || "any")));
  const since = h("input", { type: "date" });
  const until = h("input", { type: "date" });
  const box = h("div", { id: "bills" });
  let cursor = null;
  const load = async (more) => {
    const page = await get(`/bills${qs({ pile: pile.value.trim(), anomaly: code.value, status: status.value, since: since.value, until: until.value, limit: 50, cursor: more ? cursor : "" })}`);
    cursor = page.next_cursor;
    const t = table(billCols, page.items, (r) => ({ "data-bill-row": r.id }));
    if (more) box.querySelector("tbody").append(...t.querySelector("tbody").children);
    else box.replaceChildren(t);
    moreBtn.hidden = !cursor;
  };
  const moreBtn = h("button", { class: "secondary", onclick: () => load(true) }, "Older");
  await load(false);
  onLive(async (e) => {
    if (e.kind !== "bill" && e.kind !== "bill_corrected") return;
    await load(false);
    const row = document.querySelector(`tr[data-bill-row="${e.bill_id}"]`);
    if (row) row.classList.add("flash");
  });
  const ask_ = h("form", { class: "toolbar", onsubmit: async (ev) => {
    ev.preventDefault();
    const id = pileIdOf(qpile.value);
    if (id) await pileCommand(id, "query_bills", { gun: Number(qgun.value) || 0 });
  } });
  const qpile = h("input", { id: "query-pile", placeholder: "pile id", value: params.pile || "" });
  const qgun = h("input", { type: "number", min: 0, max: 255, value: 0, style: "width:5rem" });
  ask_.append(field("Pile", qpile), field("Gun (0: all)", qgun), h("button", { id: "query-bills" }, "Ask the pile for its unsent bills"));
  return h("div", {},
    h("h1", {}, "Bills"),
    h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); load(false); } },
      field("Pile", pile), field("Anomaly code", code), field("Status", status), field("Received from", since), field("until", until),
      h("button", {}, "Filter"),
      h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); exportCsv(pile.value.trim(), since.value, until.value); } }, "export CSV")),
    box, moreBtn,
    h("h2", {}, "Query bills"), ask_);
};

async function exportCsv(pile, from, to) {
  if (!from || !to) { toast("choose a date range to export", true); return; }
  const resp = await fetch(`/export/bills.csv${qs({ from, to, pile })}`, { headers: { Authorization: `Bearer ${state.token}` } });
  const blob = await resp.blob();
  const a = h("a", { href: URL.createObjectURL(blob), download: `bills-${from}-${to}.csv` });
  a.click();
}

pages.bill = async ([id]) => {
  const [b, anomalies] = await Promise.all([get(`/bills/${id}`), get(`/anomalies${qs({ bill: id, limit: 100 })}`)]);
  const line = (label, pileV, ours) => ({ label, pile: pileV, ours });
  const rows = [
    line("Energy kWh", kwh(b.energy_dwh), kwh(b.our_energy_dwh)),
    line("Energy amount ¥", yuan(b.energy_amount_fen), yuan(b.our_energy_amount_fen)),
    line("Service amount ¥", yuan(b.service_amount_fen), yuan(b.our_service_amount_fen)),
    line("Idle fee ¥", yuan(b.idle_fee_fen), yuan(b.our_idle_fee_fen)),
    line("Total ¥", yuan(b.total_amount_fen), yuan(b.our_total_fen)),
  ];
  const energy = h("input", { id: "correct-energy", placeholder: "kWh, e.g. 12.5", required: true });
  const reason = h("input", { id: "correct-reason", placeholder: "why", required: true, size: 40 });
  const form = h("form", { class: "toolbar", id: "correct-form", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const c = await api("POST", `/bills/${id}/corrections`, { energy_kwh: energy.value.trim(), reason: reason.value.trim(), who: state.who });
      toast(`corrected: ${yuan(c.original_total_fen)} → ${yuan(c.corrected_total_fen)} ¥, refund ${yuan(c.refund_fen)} ¥`);
      route();
    } catch (err) { toast(err.message, true); }
  } }, field("Corrected energy (kWh)", energy), field("Reason", reason), h("button", {}, "Correct the bill"));
  return h("div", {},
    h("h1", {}, "Bill ", h("span", { class: "mono" }, b.id), " ", badge(b.status, b.status === "stored" ? "available" : "finishing")),
    h("p", {}, `Pile ${b.pile_id} gun ${b.gun} · account ${b.account} (${b.channel}) · transaction `, h("span", { class: "mono" }, b.transaction_id),
      " · ", h("a", { href: `#/frames?bill=${b.id}` }, "frame journal"),
      b.session_id ? [" · ", h("a", { href: `#/session/${b.session_id}` }, "session")] : null),
    h("div", { class: "side" },
      h("div", {}, h("h2", {}, "The pile's amounts beside pilegate's"),
        h("table", { id: "bill-compare" },
          h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", { class: "num" }, "pile"), h("th", { class: "num" }, "pilegate"))),
          h("tbody", {}, rows.map((r) => h("tr", {}, h("td", {}, r.label), h("td", { class: "num" }, r.pile),
            h("td", { class: `num ${r.pile !== r.ours ? "diff" : ""}` }, r.ours))))),
        h("p", { class: "muted" }, `tariff ${b.tariff_id}; difference (pile − pilegate) ${yuan(b.difference_fen)} ¥; idle ${Math.round(b.idle_ms / 60000)} min, ${b.idle_billable_minutes} billable${b.idle_waived ? `, waived: ${b.idle_waived}` : ""}`)),
      h("div", {}, h("h2", {}, "Times"),
        table([{ label: "", value: (r) => r[0] }, { label: "", value: (r) => r[1] }], [
          ["Authorised", time(b.authorised_ms)], ["Charge start", time(b.charge_start_ms)], ["Charge end", time(b.charge_end_ms)],
          ["Service end", time(b.service_end_ms)], ["Received", time(b.received_ms)], ["Flags", (b.flags || []).join(", ")]]))),
    h("h2", {}, "Anomaly codes"),
    h("div", { id: "bill-codes" }, b.anomaly_codes ? codeBadges(b.anomaly_codes) : h("span", { class: "muted" }, "none")),
    anomalies.items.length ? table([
      { label: "Opened", value: (r) => time(r.created_ms) },
      { label: "Kind", value: (r) => r.kind },
      { label: "Code", value: (r) => (r.code ? codeBadges(String(r.code)) : "") },
      { label: "Reason", value: (r) => r.reason },
      { label: "Status", value: (r) => r.status },
    ], anomalies.items) : null,
    h("h2", {}, "Corrections (audit)"),
    h("div", { id: "corrections" }, b.corrections.length ? table([
      { label: "At", value: (r) => time(r.at_ms) },
      { label: "By", value: (r) => r.who },
      { label: "Reason", value: (r) => r.reason },
      { label: "Energy kWh", num: true, value: (r) => `${kwh(r.original_energy_dwh)} → ${kwh(r.corrected_energy_dwh)}` },
      { label: "Total ¥", num: true, value: (r) => `${yuan(r.original_total_fen)} → ${yuan(r.corrected_total_fen)}` },
      { label: "Refund ¥", num: true, value: (r) => yuan(r.refund_fen) },
    ], b.corrections) : h("p", { class: "muted" }, "none")),
    form);
};

// --- alarms ---------------------------------------------------------------------------------

pages.alarms = async (_, params) => {
  const status = h("select", { id: "alarm-status" }, ["open", "resolved", ""].map((x) => h("option", { value: x, selected: x === (params.status ?? "open") }, x || "any")));
  const pile = h("input", { placeholder: "pile id", value: params.pile || "" });
  const box = h("div", { id: "alarms" });
  const cols = [
    { label: "At", value: (r) => time(r.created_ms) },
    { label: "Pile", value: (r) => h("span", { class: "mono" }, r.pile_id || "") },
    { label: "Alarm", value: (r) => badge(r.kind.replace(/^alarm:/, ""), "code") },
    { label: "Detail", value: (r) => r.reason },
    { label: "Status", value: (r) => r.status },
    { label: "", value: (r) => (r.status === "open" ? h("button", { class: "small secondary", onclick: () => resolve(r.id) }, "Resolve") : r.resolved_by || "") },
  ];
  const load = async () => {
    const page = await get(`/alarms${qs({ status: status.value, pile: pile.value.trim(), limit: 200 })}`);
    box.replaceChildren(page.items.length ? table(cols, page.items, (r) => ({ "data-alarm": r.id })) : h("p", { class: "muted" }, "no alarms"));
  };
  const resolve = (anomalyId) => {
    const note = h("input", { id: "resolve-note" });
    ask("Resolve the alarm", [["Note", note]], async () => {
      await api("POST", `/anomalies/${anomalyId}/resolve`, { note: note.value.trim() || null, who: state.who });
      load();
    });
  };
  await load();
  const recent = h("ul", { id: "alarm-feed" });
  onLive((e) => {
    if (e.kind !== "alarm") return;
    recent.prepend(h("li", { class: "flash" }, `${time(e.at_ms)} · ${e.pile_id} gun ${e.gun} · `, badge(e.alarm, "code"), ` ${e.detail}`));
    setTimeout(load, 300); // the alarm's row is written by the group-commit writer
  });
  return h("div", {},
    h("h1", {}, "Alarms"),
    h("h2", {}, "Arriving now"), recent,
    h("h2", {}, "Stored"),
    h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); load(); } }, field("Status", status), field("Pile", pile), h("button", {}, "Filter")),
    box);
};

// --- frames ---------------------------------------------------------------------------------

pages.frames = async (_, params) => {
  const pile = h("input", { id: "frames-pile", placeholder: "pile id", value: params.pile || "" });
  const bill = h("input", { id: "frames-bill", placeholder: "bill id", value: params.bill || "" });
  const tx = h("input", { placeholder: "transaction id", value: params.transaction || "" });
  const from = h("input", { type: "date", value: params.from || "" });
  const hb = h("input", { type: "checkbox" });
  const box = h("div", { id: "frames" });
  const load = async () => {
    if (!pile.value.trim() && !bill.value.trim() && !tx.value.trim() && !from.value) {
      box.replaceChildren(h("p", { class: "muted" }, "Give a pile, a bill, a transaction or a start date."));
      return;
    }
    const data = await get(`/frames${qs({ pile: pile.value.trim(), bill: bill.value.trim(), transaction: tx.value.trim(), from: from.value, heartbeats: hb.checked, limit: 2000 })}`);
    const summary = data.summary ? h("p", { class: "card" },
      `login ${time(data.summary.login_ms) || "not in the journal"} · logout ${data.summary.logout_ms ? time(data.summary.logout_ms) : "none"} · bill ${time(data.summary.bill_ms) || "not in the journal"} · bill ack ${time(data.summary.bill_ack_ms) || "none sent"}`) : null;
    box.replaceChildren(...[summary, table([
      { label: "At", value: (r) => time(r.at_ms) },
      { label: "", value: (r) => (r.direction === "in" ? "→ in" : "← out") },
      { label: "Seq", num: true, value: (r) => r.seq },
      { label: "Type", value: (r) => h("strong", {}, r.type) },
      { label: "Gun", value: (r) => r.gun ?? "" },
      { label: "Transaction", value: (r) => h("span", { class: "mono" }, short(r.transaction_id)) },
      { label: "Meaning", value: (r) => r.meaning },
      { label: "Fields", value: (r) => h("details", {}, h("summary", {}, "fields"), h("pre", { class: "mono" }, JSON.stringify(r.fields, null, 1))) },
    ], data.items), data.truncated ? h("p", { class: "muted" }, "truncated: narrow the range") : null].filter(Boolean));
  };
  await load();
  return h("div", {},
    h("h1", {}, "Frame journal"),
    h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); load().catch((err) => toast(err.message, true)); } },
      field("Pile", pile), field("Bill", bill), field("Transaction", tx), field("From", from), field("Heartbeats", hb), h("button", {}, "Show")),
    box);
};

// --- tariffs and idle fees ------------------------------------------------------------------

const PERIODS = ["sharp", "peak", "flat", "valley"];
const e4 = (v) => (v / 10000).toFixed(4);
const minute = (m) => `${pad(Math.floor(m / 60))}:${pad(m % 60)}`;

function scopeText(kind, id) {
  return kind === "default" ? "default" : `${kind} ${id}`;
}

function tariffView(t, current) {
  return h("div", { class: "card", "data-tariff": t.tariff_id },
    h("strong", {}, t.tariff_id), current ? [" ", badge("in force", "available")] : null,
    h("span", { class: "muted" }, ` assigned to ${scopeText(t.scope_kind, t.scope_id)} · from ${t.effective_from_ms ? time(t.effective_from_ms) : "always"}${t.set_ms ? ` · set ${time(t.set_ms)}` : ""} · UTC${t.utc_offset_minutes >= 0 ? "+" : ""}${t.utc_offset_minutes / 60}`),
    table([
      { label: "Period", value: (r) => r },
      { label: "Energy ¥/kWh", num: true, value: (r) => (t.prices[r] ? e4(t.prices[r].energy_e4) : "") },
      { label: "Service ¥/kWh", num: true, value: (r) => (t.prices[r] ? e4(t.prices[r].service_e4) : "") },
    ], PERIODS.filter((p) => t.prices[p])),
    h("p", { class: "mono" }, t.segments.map(([m, k]) => `${minute(m)} ${k}`).join(" · ")));
}

// A tariff id is one definition (prices and segments) shared by every scope it is assigned
// to: assigning a known id gives that scope the same prices; other prices under a known id
// are refused (409 tariff_conflict), so new prices need a new id.
function tariffForm(pileId, base) {
  const id = h("input", { id: "tariff-id", value: base ? `${base.tariff_id}-new` : "", required: true });
  const scope = h("select", { id: "tariff-scope" },
    [["pile", "this pile"], ["station", "the pile's station"], ["default", "default (piles with no tariff of their own or their station's)"]]
      .map(([v, label]) => h("option", { value: v }, label)));
  const prices = {};
  const grid = h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Period"), h("th", {}, "Energy ¥/kWh"), h("th", {}, "Service ¥/kWh"))),
    h("tbody", {}, PERIODS.map((p) => {
      const price = base?.prices[p];
      prices[p] = [h("input", { "data-price": `${p}-energy`, value: price ? e4(price.energy_e4) : "", size: 8 }), h("input", { "data-price": `${p}-service`, value: price ? e4(price.service_e4) : "", size: 8 })];
      return h("tr", {}, h("td", {}, p), h("td", {}, prices[p][0]), h("td", {}, prices[p][1]));
    })));
  const segments = h("input", { id: "tariff-segments", size: 60, value: base ? base.segments.map(([m, k]) => `${minute(m)}=${k}`).join(" ") : "00:00=flat" });
  const error = h("p", { class: "error", id: "tariff-error" });
  const toE4 = (text) => Math.round(Number(text) * 10000);
  return h("form", { class: "card", id: "tariff-form", onsubmit: async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const body = { tariff_id: id.value.trim(), scope_kind: scope.value, prices: {}, segments: [] };
    for (const p of PERIODS) {
      const [en, sv] = prices[p];
      if (en.value.trim() !== "") body.prices[p] = { energy_e4: toE4(en.value), service_e4: toE4(sv.value || "0") };
    }
    for (const part of segments.value.trim().split(/[\s,]+/)) {
      const [hm, kind] = part.split("=");
      const [hh, mm] = hm.split(":").map(Number);
      body.segments.push([hh * 60 + (mm || 0), kind]);
    }
    try {
      if (body.scope_kind === "default") {
        fanoutToast(`default tariff ${body.tariff_id}`, await api("PUT", "/tariffs/default", body));
      } else {
        commandToast(`tariff ${body.tariff_id} sent`, await api("PUT", `/piles/${pileId}/tariff`, body));
      }
      route();
    } catch (err) {
      if (err.message.startsWith("409")) {
        error.textContent = `Tariff id ${body.tariff_id} already names other prices; nothing was stored or sent. ` +
          "A tariff id is one definition shared by every pile and station using it: give new prices a new id, " +
          `or the same prices to assign it. (${err.message})`;
      }
      toast(err.message, true);
    }
  } },
  h("h2", {}, "Set a tariff"),
  h("p", { class: "muted" }, "A tariff id names one set of prices: reusing an id assigns the same tariff; new prices need a new id."),
  h("div", { class: "toolbar" }, field("Tariff id", id), field("Assign to", scope)), grid,
  field("Segments of the local day (HH:MM=period ...)", segments),
  error,
  h("p", {}, h("button", { id: "tariff-send" }, "Store and send to the piles it applies to")));
}

const IDLE_PATH = { default: () => "/idle-fee/default", station: (id) => `/idle-fee/stations/${id}`, pile: (id) => `/idle-fee/piles/${id}` };
const ruleCells = [
  { label: "Grace min", num: true, value: (r) => (r.rule ? r.rule.grace_minutes : h("span", { class: "muted" }, r.fallback)) },
  { label: "¥ per min", num: true, value: (r) => (r.rule ? yuan(r.rule.rate_fen_per_minute) : "") },
  { label: "Cap ¥", num: true, value: (r) => (r.rule ? (r.rule.cap_fen === null ? "none" : yuan(r.rule.cap_fen)) : "") },
];
const idleButton = (r) => h("button", { class: "small secondary", "data-idle": `${r.kind}/${r.id}`, onclick: () => idleDialog(r) }, r.rule ? "Edit" : "Set");

pages.tariffs = async (_, params) => {
  const pileInput = h("input", { id: "tariff-pile", placeholder: "pile id", size: 22, value: params.pile || "" });
  const parts = [h("h1", {}, "Tariffs & idle-fee rules"),
    h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); location.hash = `#/tariffs?pile=${pileIdOf(pileInput.value)}`; } },
      field("Pile", pileInput), h("button", {}, "Show"))];
  if (params.pile) {
    const [t, idle] = await Promise.all([get(`/piles/${params.pile}/tariff`), get(`/piles/${params.pile}/idle-fee`)]);
    const pileId = t.pile_id;
    const from = idle.builtin ? "the built-in default (none stored)" : `the ${scopeText(idle.scope_kind, idle.scope_id)} rule`;
    parts.push(h("h2", {}, `In force on ${pileId} now`), tariffView(t.current, true),
      h("p", { id: "pile-idle-fee" }, `Idle fee: ${idle.grace_minutes} min free, then ${yuan(idle.rate_fen_per_minute)} ¥/min` +
        `${idle.cap_fen === null ? ", no cap" : `, at most ${yuan(idle.cap_fen)} ¥`} — ${from}.`),
      h("h2", {}, "Tariffs of the pile, its station and the default"), ...t.tariffs.map((x) => tariffView(x, false)),
      tariffForm(pileId, t.current));
  }
  const [stations, rules] = await Promise.all([get("/stations"), get("/idle-fee")]);
  const ruleOf = (kind, id) => rules.find((r) => r.scope_kind === kind && r.scope_id === id) || null;
  const def = { kind: "default", id: "", label: "Default", rule: ruleOf("default", ""), fallback: "built-in" };
  const rows = [def,
    ...stations.map((st) => ({ kind: "station", id: st.id, label: `Station ${st.id}${st.name !== st.id ? ` (${st.name})` : ""} · ${st.piles} piles`, rule: ruleOf("station", st.id), fallback: "default" })),
    ...rules.filter((r) => r.scope_kind === "pile").map((r) => ({ kind: "pile", id: r.scope_id, label: `Pile ${r.scope_id}`, rule: r, fallback: "" }))];
  if (params.pile && !ruleOf("pile", pileIdOf(params.pile))) {
    rows.push({ kind: "pile", id: pileIdOf(params.pile), label: `Pile ${pileIdOf(params.pile)}`, rule: null, fallback: "its station's or the default" });
  }
  parts.push(h("h2", {}, "Idle-fee rules"),
    h("p", { class: "muted" }, "A pile's own rule beats its station's, which beats the default. A change is stored and sent to the connected piles it applies to; the others get it at their next login."),
    h("div", { id: "idle-fees" }, table([
      { label: "Applies to", value: (r) => r.label },
      ...ruleCells,
      { label: "", value: idleButton },
    ], rows)));
  return h("div", {}, ...parts);
};

function idleDialog(row) {
  const rule = row.rule || { grace_minutes: 0, rate_fen_per_minute: 0, cap_fen: null };
  const grace = h("input", { id: "idle-grace", type: "number", min: 0, value: rule.grace_minutes });
  const rate = h("input", { id: "idle-rate", value: yuan(rule.rate_fen_per_minute) });
  const cap = h("input", { id: "idle-cap", value: rule.cap_fen === null ? "" : yuan(rule.cap_fen), placeholder: "none" });
  const name = row.kind === "default" ? "the default idle fee" : `idle fee of ${row.kind} ${row.id}`;
  ask(`Set ${name}`, [["Grace minutes", grace], ["¥ per minute after the grace", rate], ["Cap ¥ per service (empty: none)", cap]], async () => {
    const result = await api("PUT", IDLE_PATH[row.kind](row.id), {
      grace_minutes: Number(grace.value), rate_fen_per_minute: Math.round(Number(rate.value) * 100),
      cap_fen: cap.value.trim() === "" ? null : Math.round(Number(cap.value) * 100) });
    if (row.kind === "pile") commandToast(name, result);
    else fanoutToast(name, result);
    route();
  });
}

// --- reports --------------------------------------------------------------------------------

const COLORS = ["#0b6bcb", "#c62828", "#b35900", "#1a7f37", "#6f42c1", "#00838f", "#8d6e63", "#ad1457", "#558b2f", "#4527a0", "#ef6c00"];

// Grouped bars: one group per label, one bar per series. Drawn as plain SVG.
function barChart(labels, series, { width = 900, height = 260 } = {}) {
  const max = Math.ceil(Math.max(1, ...series.flatMap((x) => x.values)) / 4) * 4; // whole ticks
  const left = 40, bottom = 50, top = 10;
  const plotW = width - left - 10, plotH = height - top - bottom;
  const groupW = plotW / Math.max(1, labels.length);
  const barW = Math.max(2, Math.min(28, (groupW - 8) / series.length));
  const svg = s("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  for (let i = 0; i <= 4; i++) {
    const y = top + plotH - (plotH * i) / 4;
    svg.append(s("line", { x1: left, x2: width - 10, y1: y, y2: y, stroke: "#e3e7eb" }),
      s("text", { x: left - 4, y: y + 4, "text-anchor": "end" }, Math.round((max * i) / 4)));
  }
  labels.forEach((label, g) => {
    if (g) svg.append(s("line", { x1: left + g * groupW, x2: left + g * groupW, y1: top, y2: top + plotH, stroke: "#e3e7eb" }));
    const x0 = left + g * groupW + (groupW - barW * series.length) / 2;
    series.forEach((ser, k) => {
      const v = ser.values[g] || 0;
      const hgt = (plotH * v) / max;
      svg.append(s("rect", { x: x0 + k * barW, y: top + plotH - hgt, width: barW - 1, height: hgt, fill: ser.color },
        s("title", {}, `${label} · ${ser.name}: ${v}`)));
    });
    const text = String(label).length > 14 ? `${String(label).slice(0, 13)}…` : label;
    svg.append(s("text", { x: left + g * groupW + groupW / 2, y: height - bottom + 14, "text-anchor": "middle" }, text));
  });
  const legend = h("div", { class: "legend" }, series.map((x) => h("span", {}, h("i", { style: `background:${x.color}` }), x.name)));
  return h("div", {}, svg, legend);
}

function isoDay(d) { return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; }

pages.reports = async (_, params) => {
  const now = new Date();
  const from = h("input", { id: "report-from", type: "date", value: params.from || isoDay(new Date(now.getFullYear(), now.getMonth() - 5, 1)) });
  const to = h("input", { id: "report-to", type: "date", value: params.to || isoDay(now) });
  const by = h("select", { id: "report-by" }, ["channel", "firmware", "station", "pile", "month"].map((x) => h("option", { value: x, selected: x === (params.by || "channel") }, x)));
  const box = h("div", { id: "anomaly-report" });
  const codes = Object.keys(state.codes);
  const load = async () => {
    let rows, key;
    if (by.value === "month") {
      rows = (await get(`/reports/anomalies_by_month${qs({ from: from.value, to: to.value })}`)).rows;
      key = "month";
    } else {
      const r = await get(`/reports/anomalies${qs({ from: from.value, to: to.value, by: by.value })}`);
      rows = [...r.rows, r.total];
      key = by.value;
    }
    const chartRows = rows.filter((r) => r[key] !== "TOTAL");
    const used = codes.filter((c) => rows.some((r) => r[c]));
    const series = [
      { name: "bills", color: "#90a4ae", values: chartRows.map((r) => r.bills) },
      { name: "with anomalies", color: COLORS[2], values: chartRows.map((r) => r.with_anomalies) },
      { name: "lost", color: COLORS[1], values: chartRows.map((r) => r.lost) },
      ...used.map((c, i) => ({ name: `code ${c}`, color: COLORS[(i + 3) % COLORS.length], values: chartRows.map((r) => r[c]) })),
    ];
    const extra = Object.keys(rows[0] || {}).filter((k) => k.includes("+"));
    box.replaceChildren(
      chartRows.length ? barChart(chartRows.map((r) => r[key]), series) : h("p", { class: "muted" }, "no bills in this range"),
      table([
        { label: key, value: (r) => r[key] },
        { label: "bills", num: true, value: (r) => r.bills },
        { label: "lost", num: true, value: (r) => r.lost },
        { label: "lost %", num: true, value: (r) => r.lost_pct },
        { label: "with anomalies", num: true, value: (r) => r.with_anomalies },
        ...used.map((c) => ({ label: h("span", { title: state.codes[c] }, c), num: true, value: (r) => r[c] })),
        ...extra.map((c) => ({ label: c, num: true, value: (r) => r[c] || 0 })),
      ], rows));
  };
  const expected = h("input", { id: "firmware-expected", placeholder: "expected version", value: params.expected || "" });
  const fstation = h("input", { placeholder: "station (all)" });
  const fbox = h("div", { id: "firmware-report" });
  const loadFirmware = async () => {
    if (!expected.value.trim()) { fbox.replaceChildren(h("p", { class: "muted" }, "Give the version every pile should run.")); return; }
    const r = await get(`/reports/firmware${qs({ expected: expected.value.trim(), station: fstation.value.trim(), list: true })}`);
    const stations = [...new Set(r.rows.map((x) => x.station))];
    const versions = [...new Set(r.rows.map((x) => x.firmware))];
    fbox.replaceChildren(
      h("p", {}, `${r.not_on_expected} of ${r.piles} piles are not on ${r.expected} (${r.on_expected} are).`),
      stations.length ? barChart(stations, versions.map((v, i) => ({ name: v || "(unknown)", color: COLORS[i % COLORS.length], values: stations.map((st) => r.rows.filter((x) => x.station === st && x.firmware === v).reduce((a, x) => a + x.piles, 0)) }))) : null,
      table([
        { label: "Firmware", value: (x) => x.firmware || "(none reported)" },
        { label: "Station", value: (x) => x.station },
        { label: "Piles", num: true, value: (x) => x.piles },
        { label: "Online", num: true, value: (x) => x.online },
        { label: "Pile ids", value: (x) => h("span", { class: "mono" }, (x.pile_ids || []).join(" ")) },
      ], r.rows));
  };
  await Promise.all([load(), loadFirmware()]);
  return h("div", {},
    h("h1", {}, "Reports"),
    h("h2", {}, "Anomalies"),
    h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); load().catch((err) => toast(err.message, true)); } },
      field("From", from), field("To", to), field("By", by), h("button", { id: "report-run" }, "Run")),
    box,
    h("h2", {}, "Firmware"),
    h("form", { class: "toolbar", onsubmit: (ev) => { ev.preventDefault(); loadFirmware().catch((err) => toast(err.message, true)); } },
      field("Expected version", expected), field("Station", fstation), h("button", { id: "firmware-run" }, "Run")),
    fbox);
};

// --- registry (piles and accounts) ----------------------------------------------------------

function importBox(kind, example) {
  const text = h("textarea", { id: `${kind}-import-text`, placeholder: example });
  const file = h("input", { type: "file", accept: ".csv,.json,text/csv,application/json" });
  file.addEventListener("change", async () => { if (file.files[0]) text.value = await file.files[0].text(); });
  return h("form", { class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", `/${kind}/import`, undefined, text.value);
      toast(`${kind}: ${r.created} created, ${r.updated} updated`);
      route();
    } catch (err) { toast(err.message, true); }
  } }, h("p", {}, `Import ${kind} from CSV (a header row) or JSON (a list of objects). Nothing is written if a row is wrong.`),
  file, text, h("p", {}, h("button", { id: `${kind}-import` }, `Import ${kind}`)));
}

pages.registry = async () => {
  const [piles, accounts] = await Promise.all([get("/piles"), get("/accounts")]);
  const addPile = () => {
    const id = h("input", { id: "new-pile-id", required: true, pattern: "[0-9]{16}|[0-9]{20}", title: "16 or 20 digits" });
    const station = h("input", { id: "new-pile-station" });
    const guns = h("input", { id: "new-pile-guns", type: "number", min: 1, max: 255, value: 2 });
    ask("Register a pile", [["Pile id (16 or 20 digits)", id], ["Station id", station], ["Guns", guns]], async () => {
      await api("POST", "/piles", { pile_id: id.value.trim(), station_id: station.value.trim() || null, gun_count: Number(guns.value) });
      route();
    });
  };
  const editPile = (p) => {
    const station = h("input", { value: p.station_id || "" });
    const guns = h("input", { type: "number", min: 1, max: 255, value: p.gun_count || 1 });
    ask(`Edit pile ${p.pile_id}`, [["Station id", station], ["Guns", guns]], async () => {
      await api("PATCH", `/piles/${p.pile_id}`, { station_id: station.value.trim() || null, gun_count: Number(guns.value) });
      route();
    });
  };
  const removePile = async (p) => {
    if (!confirm(`Remove pile ${p.pile_id}? Its bills and journal stay.`)) return;
    try { await api("DELETE", `/piles/${p.pile_id}`); route(); } catch (err) { toast(err.message, true); }
  };
  const addAccount = () => {
    const id = h("input", { required: true });
    const balance = h("input", { value: "0" });
    const card = h("input", {});
    const password = h("input", { type: "password" });
    ask("Create an account", [["Account", id], ["Balance ¥", balance], ["Card token", card], ["Password", password]], async () => {
      await api("POST", "/accounts", { account: id.value.trim(), balance_fen: Math.round(Number(balance.value) * 100), card_token: card.value.trim() || null, password: password.value || null });
      route();
    });
  };
  const editAccount = (a) => {
    const balance = h("input", { value: yuan(a.balance_fen) });
    const enabled = h("select", {}, h("option", { value: "1", selected: a.enabled }, "enabled"), h("option", { value: "0", selected: !a.enabled }, "disabled"));
    ask(`Edit account ${a.id}`, [["Balance ¥", balance], ["State", enabled]], async () => {
      await api("PATCH", `/accounts/${a.id}`, { balance_fen: Math.round(Number(balance.value) * 100), enabled: enabled.value === "1" });
      route();
    });
  };
  const removeAccount = async (a) => {
    if (!confirm(`Remove account ${a.id}?`)) return;
    try { await api("DELETE", `/accounts/${a.id}`); route(); } catch (err) { toast(err.message, true); }
  };
  return h("div", {},
    h("h1", {}, "Registry"),
    h("h2", {}, `Piles (${piles.length}) `, h("button", { class: "small", id: "add-pile", onclick: addPile }, "Register a pile")),
    h("div", { id: "registry-piles" }, table([
      { label: "Pile", value: (p) => h("span", { class: "mono" }, p.pile_id) },
      { label: "Station", value: (p) => p.station_id || "" },
      { label: "Guns", num: true, value: (p) => p.gun_count ?? "" },
      { label: "Vendor / model", value: (p) => `${p.vendor || ""} ${p.model || ""}` },
      { label: "Registered", value: (p) => time(p.registered_at_ms) },
      { label: "", value: (p) => [h("button", { class: "small secondary", onclick: () => editPile(p) }, "Edit"), " ", h("button", { class: "small danger", onclick: () => removePile(p) }, "Remove")] },
    ], piles)),
    importBox("piles", "pile_id,station_id,station_name,guns,vendor,model\n44030600030000200061,S1,Station one,2,ACME,DC120"),
    h("h2", {}, `Accounts (${accounts.length}) `, h("button", { class: "small", id: "add-account", onclick: addAccount }, "Create an account")),
    h("div", { id: "registry-accounts" }, table([
      { label: "Account", value: (a) => a.id },
      { label: "Balance ¥", num: true, value: (a) => yuan(a.balance_fen) },
      { label: "Card", value: (a) => a.card_token || "" },
      { label: "VIN", value: (a) => a.vin || "" },
      { label: "Password", value: (a) => (a.has_password ? "set" : "") },
      { label: "State", value: (a) => (a.enabled ? "enabled" : badge("disabled")) },
      { label: "", value: (a) => [h("button", { class: "small secondary", onclick: () => editAccount(a) }, "Edit"), " ", h("button", { class: "small danger", onclick: () => removeAccount(a) }, "Remove")] },
    ], accounts)),
    importBox("accounts", "account,balance_fen,card,password\n13800000001,50000,D4E5F60718293A4C,"));
};

// --- boot -----------------------------------------------------------------------------------

(async () => {
  $("#login-who").value = state.who;
  if (!state.token) { showLogin(); return; }
  try { state.codes = await get("/anomaly_codes"); } catch (err) { return; }
  start();
})();
