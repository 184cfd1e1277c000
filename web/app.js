// otto's web console: one page, no build step. It talks to ottod's REST API
// (docs/api.md) with the operator's token, held in sessionStorage (this tab
// only), and polls what it shows every 2 s with ETags (a 304 costs the
// server nothing to send). Pages: overview, fleet, firmware, jobs, a job,
// a new job. A viewer token is shown no button that would fail.

const POLL_MS = 2000;
const PAGE = 50;
const $ = (sel, root = document) => root.querySelector(sel);

// ---- the API ----------------------------------------------------------------

const session = {
  get token() { return sessionStorage.getItem("otto.token") || ""; },
  set token(t) { t ? sessionStorage.setItem("otto.token", t) : sessionStorage.removeItem("otto.token"); },
  role: "", name: "",
};
const canOperate = () => session.role === "operator" || session.role === "admin";

const etags = new Map(); // url -> {etag, data}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error && body.error.code;
  }
}

async function api(path, { method = "GET", body, form } = {}) {
  const headers = { Authorization: `Bearer ${session.token}` };
  const cached = method === "GET" ? etags.get(path) : null;
  if (cached) headers["If-None-Match"] = cached.etag;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, cache: "no-store",
    body: form || (body !== undefined ? JSON.stringify(body) : undefined),
  });
  if (res.status === 304 && cached) return cached.data;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (res.status === 401) { signOut("Your token is no longer accepted; sign in again."); throw new ApiError(401, data); }
  if (!res.ok) throw new ApiError(res.status, data);
  const etag = res.headers.get("ETag");
  if (method === "GET" && etag) etags.set(path, { etag, data });
  return data;
}

// ---- small helpers ------------------------------------------------------------

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined && kid !== false)
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  return el;
}

const fmtBytes = (n) => n >= 1048576 ? `${(n / 1048576).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
const fmtTime = (t) => t ? new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "never";
function ago(t) {
  if (!t) return "never";
  const s = Math.max(0, Math.round(Date.now() / 1000 - t));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
const statusBadge = (s) => h("span", { class: `badge s-${String(s).toLowerCase()}` }, s);

let sayTimer;
function say(msg, isError = false) {
  const f = $("#status");
  f.textContent = msg;
  f.className = isError ? "error" : "";
  clearTimeout(sayTimer);
  if (msg && !isError) sayTimer = setTimeout(() => { f.textContent = ""; }, 4000);
}

// ---- pages and polling ----------------------------------------------------------

let poller = null, generation = 0;
function startPoll(fn, gen) {
  clearInterval(poller);
  const run = () => gen === generation && fn().catch((e) => { if (e.status !== 401) say(e.message, true); });
  run();
  poller = setInterval(run, POLL_MS);
}
// A page's own poll: ignored once another page is shown (a filter's late
// timer must not take over the next page's polling).
function pagePoll() {
  const gen = generation;
  return (fn) => { if (gen === generation) startPoll(fn, gen); };
}

const pages = {};
async function route() {
  clearInterval(poller);
  generation++;
  if (!session.token) return showLogin();
  const [, name = "overview", id] = location.hash.match(/^#\/([a-z]+)\/?(.*)$/) || [];
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("on", a.dataset.page === name));
  const page = $("#page");
  page.replaceChildren();
  say("");
  const render = name === "jobs" && id === "new" ? pages.newJob : name === "jobs" && id ? pages.job : pages[name];
  if (!render) return (location.hash = "#/overview");
  await render(page, decodeURIComponent(id || ""));
}

// ---- sign in ----------------------------------------------------------------------

function showLogin(msg = "") {
  $("#top").hidden = true;
  $("#page").replaceChildren();
  $("#login").hidden = false;
  $("#login-error").textContent = msg;
  $("#token").focus();
}

function signOut(msg = "") {
  session.token = "";
  etags.clear();
  clearInterval(poller);
  generation++;
  showLogin(msg);
}

async function signIn(token) {
  session.token = token;
  try {
    const me = await api("/api/v1/whoami");
    session.role = me.role;
    session.name = me.name;
  } catch (e) {
    session.token = "";
    throw e;
  }
  $("#login").hidden = true;
  $("#top").hidden = false;
  $("#who").textContent = `${session.name} (${session.role})`;
  document.body.dataset.role = session.role;
}

// ---- overview ------------------------------------------------------------------------

pages.overview = async (page) => {
  const poll = pagePoll();
  const cards = h("div", { class: "cards" });
  const versions = h("div", { class: "card" }, h("h2", {}, "Versions across the fleet"), h("div", { class: "bars", id: "versions" }));
  const running = h("div", { class: "card" }, h("h2", {}, "Jobs running"), h("div", { id: "running" }));
  const failures = h("div", { class: "card" }, h("h2", {}, "Failures in the last 24 hours, by reason"), h("div", { id: "failures" }));
  page.append(h("h1", {}, "Overview"), cards, h("div", { class: "grid2" }, versions, running), failures);
  poll(async () => {
    const [st, jobs] = await Promise.all([api("/api/v1/stats"), api("/api/v1/jobs?maxResults=100")]);
    const live = jobs.jobs.filter((j) => j.status === "IN_PROGRESS" || j.status === "SCHEDULED");
    const failed = st.failures.reduce((a, f) => a + f.count, 0);
    cards.replaceChildren(
      card("Devices", st.devices), card("Connected", st.online, `${st.devices ? Math.round(100 * st.online / st.devices) : 0} %`),
      card("Jobs running", live.length), card("Failures, 24 h", failed));
    const max = Math.max(1, ...st.versions.map((v) => v.devices));
    $("#versions").replaceChildren(...(st.versions.length ? st.versions.map((v) => h("div", { class: "bar" },
      h("span", { class: "label" }, `${v.otaType} ${v.version}`),
      h("span", { class: "track" }, h("span", { class: "fill", style: `width:${(100 * v.devices / max).toFixed(1)}%` })),
      h("span", { class: "num" }, v.devices))) : [h("p", { class: "muted" }, "No device has said what it runs yet.")]));
    $("#running").replaceChildren(...(live.length ? live.map(jobRow) : [h("p", { class: "muted" }, "No job is running.")]));
    $("#failures").replaceChildren(st.failures.length ? table(["Reason", "Executions"],
      st.failures.map((f) => [f.reason, f.count])) : h("p", { class: "muted" }, "None."));
  });
};

const card = (label, value, sub) => h("div", { class: "card stat" }, h("div", { class: "label" }, label),
  h("div", { class: "value" }, String(value)), sub ? h("div", { class: "muted" }, sub) : null);

function table(heads, rows, attrs = {}) {
  return h("table", attrs, h("thead", {}, h("tr", {}, heads.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

// counts: executions by status, and "total" (GET /api/v1/jobs).
function progress(counts) {
  const total = counts.total || 1;
  const order = ["SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "IN_PROGRESS", "QUEUED", "CANCELED", "REMOVED"];
  return h("span", { class: "progress", title: order.filter((s) => counts[s]).map((s) => `${s} ${counts[s]}`).join(", ") },
    order.filter((s) => counts[s]).map((s) => h("span", { class: `seg s-${s.toLowerCase()}`, style: `width:${100 * counts[s] / total}%` })));
}

function jobRow(j) {
  const c = j.counts || {};
  return h("div", { class: "jobrow" }, h("a", { href: `#/jobs/${encodeURIComponent(j.jobId)}` }, j.jobId), " ",
    statusBadge(j.status), progress(c),
    h("span", { class: "muted" }, `${c.SUCCEEDED || 0} of ${c.total || 0} succeeded`));
}

// ---- fleet -------------------------------------------------------------------------------

pages.fleet = async (page) => {
  const poll = pagePoll();
  const q = h("input", { type: "search", placeholder: "Search by name", "aria-label": "search" });
  const group = h("select", { "aria-label": "group" }, h("option", { value: "" }, "All groups"));
  const version = h("select", { "aria-label": "version" }, h("option", { value: "" }, "Any version"));
  const status = h("select", { "aria-label": "status" }, h("option", { value: "" }, "Online or not"),
    h("option", { value: "online" }, "Online"), h("option", { value: "offline" }, "Offline"));
  const body = h("div", { id: "fleet-table" });
  const count = h("span", { class: "muted", id: "fleet-count" });
  const prev = h("button", { class: "quiet" }, "Previous page"), next = h("button", { class: "quiet" }, "Next page");
  page.append(h("h1", {}, "Fleet"), h("div", { class: "filters" }, q, group, version, status, count), body,
    h("div", { class: "pager" }, prev, next));
  // The filters' choices come after the first page is drawn, not before.
  const choices = () => Promise.all([api("/api/v1/groups"), api("/api/v1/stats")]).then(([groups, st]) => {
    groups.forEach((g) => group.append(h("option", { value: g.group }, `${g.group} (${g.devices})`)));
    [...new Set(st.versions.map((v) => v.version))].sort().forEach((v) => version.append(h("option", { value: v }, v)));
  }).catch((e) => say(e.message, true));
  let chosen = false;
  const tokens = [""]; // the nextToken that starts each page seen so far
  let at = 0, more = "";
  const url = () => {
    const p = new URLSearchParams({ maxResults: PAGE, withCount: "1" });
    if (q.value) p.set("q", q.value);
    if (group.value) p.set("group", group.value);
    if (version.value) p.set("version", version.value);
    if (status.value) p.set("status", status.value);
    if (tokens[at]) p.set("nextToken", tokens[at]);
    return `/api/v1/devices?${p}`;
  };
  const refresh = async () => {
    const r = await api(url());
    more = r.nextToken || "";
    count.textContent = `${r.total} device${r.total === 1 ? "" : "s"} match; page ${at + 1}`;
    prev.disabled = at === 0;
    next.disabled = !more;
    body.replaceChildren(r.devices.length ? table(["Device", "Product", "Groups", "Module", "MCU", "Connection", "Last job"],
      r.devices.map((d) => [h("code", {}, d.thing), d.product || "—", d.groups.join(", ") || "—",
        d.versions.esp32 || "—", d.versions.stm32 || "—",
        d.online ? h("span", { class: "online" }, "online") : h("span", { class: "muted", title: fmtTime(d.lastSeen) }, `last seen ${ago(d.lastSeen)}`),
        d.lastJob ? h("span", {}, h("a", { href: `#/jobs/${encodeURIComponent(d.lastJob.jobId)}` }, d.lastJob.jobId), " ", statusBadge(d.lastJob.status)) : "—"]),
      { class: "wide", id: "devices" }) : h("p", { class: "muted" }, "No device matches."));
    if (!chosen) { chosen = true; choices(); }
  };
  let typing;
  const restart = () => { tokens.length = 1; at = 0; poll(refresh); };
  q.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(restart, 250); });
  [group, version, status].forEach((s) => s.addEventListener("change", restart));
  next.addEventListener("click", () => { if (!more) return; tokens[++at] = more; poll(refresh); });
  prev.addEventListener("click", () => { if (at) { at--; poll(refresh); } });
  poll(refresh);
};

// ---- firmware ---------------------------------------------------------------------------

pages.firmware = async (page) => {
  const poll = pagePoll();
  const list = h("div", { id: "fw-list" });
  let seen = null, seenAt = 0, deltas = []; // the list the patches were last asked for, and when
  page.append(h("h1", {}, "Firmware"));
  if (canOperate()) page.append(uploadForm());
  page.append(list);
  poll(async () => {
    const fws = await api("/api/v1/firmware"); // an array, newest last; the same object while unchanged (304)
    if (fws === seen && Date.now() - seenAt < 15000) return; // patches are made in the background: asked again now and then
    deltas = await Promise.all(fws.map((f) => api(`/api/v1/firmware/${encodeURIComponent(f.id)}/deltas`).catch(() => ({ deltas: [] }))));
    seen = fws;
    seenAt = Date.now();
    list.replaceChildren(fws.length ? table(["Id", "Product", "Version", "Type", "Size", "Signature", "Delta patches", "Uploaded"],
      fws.map((f, i) => [h("code", {}, f.id), f.product, f.version || "—", f.ota_type, fmtBytes(f.size),
        f.extra && f.extra["sig-sha256-ecdsa"] ? h("span", { class: "ok" }, "signed") : h("span", { class: "warn" }, "unsigned"),
        deltaText(f, deltas[i].deltas), fmtTime(f.createdAt)]), { class: "wide", id: "firmware" })
      : h("p", { class: "muted" }, "No firmware yet."));
  });
};

// The patches made to this firmware: from which base, how big.
function deltaText(f, ds) {
  const to = ds.filter((d) => d.target === f.id);
  return to.length ? to.map((d) => `from ${d.base}: ${fmtBytes(d.size)}`).join("; ") : "—";
}

function uploadForm() {
  const file = h("input", { type: "file", id: "fw-file", "aria-label": "firmware file" });
  const sig = h("input", { type: "file", id: "fw-sig", "aria-label": "signature file" });
  const product = h("input", { id: "fw-product", placeholder: "product, e.g. lamp", required: true });
  const type = h("select", { id: "fw-type" }, h("option", { value: "esp32" }, "esp32 (the module)"), h("option", { value: "stm32" }, "stm32 (the MCU)"));
  const version = h("input", { id: "fw-version", placeholder: "version (read from an esp32 image)" });
  const drop = h("div", { class: "drop", id: "drop", tabindex: "0" }, "Drop a firmware file here, or choose one below");
  const out = h("p", { class: "muted", id: "upload-result", role: "status" });
  const send = h("button", { type: "submit" }, "Upload");
  let chosen = null;
  const pick = (f) => { chosen = f; drop.textContent = `${f.name}, ${fmtBytes(f.size)}`; drop.classList.add("has"); };
  file.addEventListener("change", () => file.files[0] && pick(file.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) pick(e.dataTransfer.files[0]); });
  const form = h("form", { class: "card", id: "upload" }, h("h2", {}, "Upload firmware"), drop,
    h("div", { class: "row" }, h("label", {}, "File ", file), h("label", {}, "Signature (DER, optional) ", sig)),
    h("div", { class: "row" }, product, type, version, send), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!chosen) { out.textContent = "Choose a file first."; return; }
    const entry = { ota_type: type.value };
    if (version.value) entry.version = version.value;
    const fd = new FormData();
    fd.append("descriptor", JSON.stringify({ product: product.value, firmware: [entry] }));
    fd.append("file", chosen, chosen.name);
    if (sig.files[0]) fd.append("signature", sig.files[0], sig.files[0].name);
    send.disabled = true;
    out.textContent = "Uploading…";
    try {
      const r = await api("/api/v1/firmware", { method: "POST", form: fd });
      out.textContent = `Uploaded as ${r.id} (${r.version || "no version"}, ${fmtBytes(r.size)}).`;
    } catch (err) {
      out.textContent = `Refused: ${err.message}`;
    } finally { send.disabled = false; }
  });
  return form;
}

// ---- jobs ------------------------------------------------------------------------------

pages.jobs = async (page) => {
  const poll = pagePoll();
  const list = h("div", { id: "jobs-list" });
  page.append(h("div", { class: "titlebar" }, h("h1", {}, "Jobs"),
    canOperate() ? h("a", { class: "button", href: "#/jobs/new", id: "new-job" }, "New job") : null), list);
  poll(async () => {
    const r = await api("/api/v1/jobs?maxResults=100");
    list.replaceChildren(r.jobs.length ? table(["Job", "Status", "Progress", "Product", "Created", "Description"],
      r.jobs.map((j) => [h("a", { href: `#/jobs/${encodeURIComponent(j.jobId)}` }, j.jobId), statusBadge(j.status),
        progress(j.counts || {}), j.product, fmtTime(j.createdAt), j.description || ""]), { class: "wide" })
      : h("p", { class: "muted" }, "No job yet."));
  });
};

// What a job's rollout options mean, in words, before it starts.
export function summarize(o) {
  const parts = [];
  const t = o.targets || {};
  const who = [...(t.groups || []).map((g) => `group ${g}`), ...(t.devices || []).map((d) => d)];
  parts.push(`Update ${who.length ? who.join(", ") : "nobody yet (choose targets)"}`);
  const ro = o.jobExecutionsRolloutConfig;
  if (ro && ro.exponentialRate) {
    const e = ro.exponentialRate, c = e.rateIncreaseCriteria || {};
    const factor = e.incrementFactor === 2 ? "doubling" : `times ${e.incrementFactor}`;
    const every = c.numberOfSucceededThings ? `${c.numberOfSucceededThings} successes` : `${c.numberOfNotifiedThings} devices notified`;
    parts.push(`${e.baseRatePerMinute} devices a minute, ${factor} every ${every}${ro.maximumPerMinute ? `, at most ${ro.maximumPerMinute} a minute` : ""}`);
  } else if (ro && ro.maximumPerMinute) {
    parts.push(`${ro.maximumPerMinute} devices a minute`);
  } else {
    parts.push("every device at once");
  }
  const w = o.rolloutWaves;
  if (w) {
    const ws = w.waves.map((x) => x.count ? `${x.count} devices` : x.percentage ? `${x.percentage} % of the rest` : `group ${x.group}`);
    parts.push(`in waves: ${ws.join(", then ")}, then the rest; each waits for ${w.successThresholdPercentage ?? 100} % success`
      + (w.errorThresholdPercentage ? ` and pauses at ${w.errorThresholdPercentage} % errors` : ""));
  }
  const ab = o.abortConfig && o.abortConfig.criteriaList && o.abortConfig.criteriaList[0];
  if (ab) parts.push(`stop if ${ab.thresholdPercentage} % ${ab.failureType === "ALL" ? "fail, are rejected or time out" : ab.failureType === "FAILED" ? "fail" : `end ${ab.failureType}`} after ${ab.minNumberOfExecutedThings}`);
  const re = o.jobExecutionsRetryConfig && o.jobExecutionsRetryConfig.criteriaList[0];
  if (re && re.numberOfRetries) parts.push(`retry a failed device ${re.numberOfRetries} time${re.numberOfRetries > 1 ? "s" : ""}`);
  const mw = o.schedulingConfig && o.schedulingConfig.maintenanceWindows && o.schedulingConfig.maintenanceWindows[0];
  if (mw) parts.push(`only while ${mw.startTime} (UTC) opens a ${mw.durationInMinutes}-minute window`);
  return parts.join("; ") + ".";
}

function parseWaves(text) {
  return text.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
    if (/^\d+(\.\d+)?%$/.test(s)) return { percentage: parseFloat(s) };
    if (/^group:.+$/.test(s)) return { group: s.slice(6) };
    if (/^\d+$/.test(s)) return { count: parseInt(s, 10) };
    throw new Error(`wave "${s}": a count (10), a percentage (25%) or group:NAME`);
  });
}

pages.newJob = async (page) => {
  if (!canOperate()) { page.append(h("p", {}, "A viewer token cannot create jobs.")); return; }
  const [fw, groups] = await Promise.all([api("/api/v1/firmware"), api("/api/v1/groups")]);
  const num = (id, ph) => h("input", { id, type: "number", min: "0", step: "any", placeholder: ph });
  const f = {
    fw: h("select", { id: "job-fw", multiple: true, size: Math.min(6, Math.max(2, fw.length)) },
      fw.map((x) => h("option", { value: x.id }, `${x.product} ${x.ota_type} ${x.version || ""} (${x.id})`))),
    groups: h("select", { id: "job-groups", multiple: true, size: Math.min(6, Math.max(2, groups.length)) },
      groups.map((g) => h("option", { value: g.group }, `${g.group} (${g.devices})`))),
    devices: h("input", { id: "job-devices", placeholder: "devices, comma-separated" }),
    rate: num("job-rate", "e.g. 50"), base: num("job-base", "start at"), factor: num("job-factor", "e.g. 2"),
    every: num("job-every", "every N"), criterion: h("select", { id: "job-criterion" },
      h("option", { value: "numberOfSucceededThings" }, "successes"), h("option", { value: "numberOfNotifiedThings" }, "devices notified")),
    abortPct: num("job-abort-pct", "e.g. 10"), abortMin: num("job-abort-min", "after N"),
    abortType: h("select", { id: "job-abort-type" }, ["FAILED", "ALL", "REJECTED", "TIMED_OUT"].map((x) => h("option", { value: x }, x))),
    retries: num("job-retries", "0–10"), waves: h("input", { id: "job-waves", placeholder: "e.g. 10,25%,group:eu" }),
    window: h("input", { id: "job-window", placeholder: "cron(0 2 ? * SAT *)" }), windowMin: num("job-window-min", "minutes"),
    description: h("input", { id: "job-desc", placeholder: "what this release is" }),
  };
  const summary = h("p", { class: "summary", id: "job-summary" });
  const err = h("p", { class: "error", id: "job-error", role: "alert" });
  const build = () => {
    const o = { targets: {}, firmware: [...f.fw.selectedOptions].map((x) => x.value) };
    const g = [...f.groups.selectedOptions].map((x) => x.value);
    const d = f.devices.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (g.length) o.targets.groups = g;
    if (d.length) o.targets.devices = d;
    if (f.description.value) o.description = f.description.value;
    const n = (el) => el.value === "" ? null : Number(el.value);
    if (n(f.base) !== null) {
      o.jobExecutionsRolloutConfig = { exponentialRate: { baseRatePerMinute: n(f.base), incrementFactor: n(f.factor) || 2,
        rateIncreaseCriteria: { [f.criterion.value]: n(f.every) || 100 } } };
      if (n(f.rate) !== null) o.jobExecutionsRolloutConfig.maximumPerMinute = n(f.rate);
    } else if (n(f.rate) !== null) {
      o.jobExecutionsRolloutConfig = { maximumPerMinute: n(f.rate) };
    }
    if (n(f.abortPct) !== null)
      o.abortConfig = { criteriaList: [{ failureType: f.abortType.value, action: "CANCEL", thresholdPercentage: n(f.abortPct),
        minNumberOfExecutedThings: n(f.abortMin) || 1 }] };
    if (n(f.retries)) o.jobExecutionsRetryConfig = { criteriaList: [{ failureType: "FAILED", numberOfRetries: n(f.retries) }] };
    if (f.waves.value.trim()) o.rolloutWaves = { waves: parseWaves(f.waves.value) };
    if (f.window.value.trim())
      o.schedulingConfig = { maintenanceWindows: [{ startTime: f.window.value.trim(), durationInMinutes: n(f.windowMin) || 60 }] };
    return o;
  };
  const update = () => {
    try { summary.textContent = summarize(build()); err.textContent = ""; } catch (e) { err.textContent = e.message; }
  };
  const create = h("button", { type: "submit", id: "job-create" }, "Start the job");
  const form = h("form", { class: "card", id: "new-job-form" },
    h("h1", {}, "New job"),
    h("fieldset", {}, h("legend", {}, "What and who"),
      h("label", {}, "Firmware (one per type) ", f.fw), h("label", {}, "Groups ", f.groups), h("label", {}, "Devices ", f.devices),
      h("label", {}, "Description ", f.description)),
    h("fieldset", {}, h("legend", {}, "Rate"),
      h("label", {}, "Devices a minute (at most) ", f.rate),
      h("label", {}, "Or start at ", f.base, " a minute, times ", f.factor, " every ", f.every, " ", f.criterion)),
    h("fieldset", {}, h("legend", {}, "Stop and retry"),
      h("label", {}, "Stop if ", f.abortPct, " % ", f.abortType, " after ", f.abortMin, " devices"),
      h("label", {}, "Retries of a failed device ", f.retries)),
    h("fieldset", {}, h("legend", {}, "Waves and windows"),
      h("label", {}, "Waves ", f.waves), h("label", {}, "Maintenance window ", f.window, " for ", f.windowMin, " minutes")),
    h("h2", {}, "What will happen"), summary, err, create);
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let body;
    try { body = build(); } catch (x) { err.textContent = x.message; return; }
    create.disabled = true;
    try {
      const r = await api("/api/v1/jobs", { method: "POST", body });
      location.hash = `#/jobs/${encodeURIComponent(r.jobId)}`;
    } catch (x) {
      err.textContent = `Refused: ${x.message}`;
    } finally { create.disabled = false; }
  });
  page.append(form);
  update();
};

// ---- one job -----------------------------------------------------------------------------

const SERIES = ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED"];
const COLORS = { QUEUED: "#8b949e", IN_PROGRESS: "#1f6feb", SUCCEEDED: "#2da44e", FAILED: "#cf222e", REJECTED: "#bf8700", TIMED_OUT: "#8250df", CANCELED: "#57606a" };

pages.job = async (page, id) => {
  const poll = pagePoll();
  const head = h("div", { class: "titlebar" }, h("h1", {}, "Job ", h("code", {}, id)), h("span", { id: "job-status" }));
  const actions = h("div", { class: "actions", id: "job-actions" });
  const info = h("div", { class: "card", id: "job-info" });
  const chartBox = h("div", { class: "card" }, h("h2", {}, "Executions by status over time"), h("div", { id: "job-chart" }));
  const devices = h("div", { class: "card" }, h("h2", {}, "Devices"), h("div", { id: "job-devices" }));
  page.append(head, actions, info, chartBox, devices);
  const hist = [[], ...SERIES.map(() => [])];
  let plot = null;
  const act = (label, path, confirmText) => h("button", {
    id: `job-${label.toLowerCase()}`, class: label === "Cancel" ? "danger" : "",
    onclick: async () => {
      if (confirmText && !confirm(confirmText)) return;
      try { await api(`/api/v1/jobs/${encodeURIComponent(id)}/${path}`, { method: "POST", body: {} }); say(`${label}: done`); }
      catch (e) { say(`${label}: ${e.message}`, true); }
    },
  }, label);
  poll(async () => {
    const j = await api(`/api/v1/jobs/${encodeURIComponent(id)}`);
    $("#job-status").replaceChildren(statusBadge(j.status));
    const ro = j.rollout;
    const running = j.status === "IN_PROGRESS" || j.status === "SCHEDULED";
    actions.replaceChildren(...(canOperate() && running ? [
      ro && !ro.paused ? act("Pause", "pause") : null,
      ro && ro.paused ? act("Resume", "resume") : null,
      act("Cancel", "cancel", `Cancel ${id}? Devices that have not started will not get it.`)].filter(Boolean) : []));
    const c = j.counts || {};
    const lines = [
      ["Firmware", (j.firmware || []).join(", ")],
      ["Devices", `${c.total || 0}: ${SERIES.filter((s) => c[s]).map((s) => `${c[s]} ${s}`).join(", ") || "none yet"}`],
    ];
    if (ro) {
      lines.push(["Rollout", `${ro.released ?? 0} released, ${ro.waiting ?? 0} waiting` + (ro.ratePerMinute ? `; ${ro.ratePerMinute.toFixed(1)} a minute now` : "")]);
      if (ro.waves) lines.push(["Wave", `${ro.wave} of ${ro.waves.length}` + (ro.next ? `; next: ${ro.next}` : "")]);
      if (ro.paused) lines.push(["Paused", ro.pauseReason || "by an operator"]);
      if (ro.windowOpen !== undefined) lines.push(["Window", ro.windowOpen ? "open" : "closed"]);
    }
    if (j.reason) lines.push(["Reason", j.reason]);
    if (j.description) lines.push(["Description", j.description]);
    info.replaceChildren(h("dl", {}, lines.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
    hist[0].push(Date.now() / 1000);
    SERIES.forEach((s, i) => hist[i + 1].push(c[s] || 0));
    if (window.uPlot) {
      if (!plot) {
        plot = new uPlot({ width: Math.min(900, $("#job-chart").clientWidth || 800), height: 220,
          series: [{}, ...SERIES.map((s) => ({ label: s, stroke: COLORS[s], width: 2 }))],
          axes: [{}, { label: "devices" }], scales: { x: { time: true } },
          legend: { live: false } }, hist, $("#job-chart")); // a key to the colours, not values under a cursor
      } else plot.setData(hist);
    } else if (!$("#job-chart").textContent) {
      $("#job-chart").textContent = "(charts need the console's libraries: rebuild with npm)";
    }
    $("#job-devices").replaceChildren(table(["Device", "Status", "Reason", "Detail", "Version", "Patch"],
      (j.executions || []).map((e) => {
        const d = e.statusDetails || {};
        return [h("code", {}, e.thingName), statusBadge(e.status), d.reason || "", d.detail || "", d.version || "",
          d.delta_bytes ? `${fmtBytes(+d.delta_bytes)} of ${fmtBytes(+d.size)}` : d.delta === "fallback" ? "fell back" : ""];
      }), { class: "wide", id: "executions" }));
    if (!running) clearInterval(poller); // finished: nothing more will change
  });
};

// ---- start -------------------------------------------------------------------------------

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await signIn($("#token").value.trim());
    $("#token").value = "";
    if (!location.hash || location.hash === "#/") location.hash = "#/overview";
    else route();
  } catch (err) {
    $("#login-error").textContent = err.status === 401 ? "That token is not accepted." : `Cannot sign in: ${err.message}`;
  }
});
$("#signout").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);

(async () => {
  if (session.token) {
    try { await signIn(session.token); } catch { return showLogin(); }
  }
  route();
})();
