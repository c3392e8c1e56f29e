// liftwatch dashboard: sign-in, then the firm's or the regulator's view,
// built from the JSON API (docs/api.md) with the token kept in session
// storage. Data from the API is only ever inserted as text (never as
// markup). Every KPI value carries data-kpi, data-project and data-value
// (the API's number) so that tests and other tools can read the page.

import { LANGS, T } from "/assets/i18n.js";

const TOKEN_KEY = "liftwatch.token";
const LANG_KEY = "liftwatch.lang";
const ACTIONS = ["disqualify", "exit", "stop", "rectify", "notice"];
// City-wide targets (MISSION.md): by the end of each year; the last applies after.
const TARGETS = [
  { year: 2020, elevators: 1000, insured: 0.5, residential: 0.6 },
  { year: 2021, elevators: 1500, insured: 0.6, residential: 0.7 },
  { year: 2022, elevators: 2000, insured: 0.7, residential: 0.8 },
];
const KPIS = [
  { field: "fault_rate_per_10k", label: "kpi_fault_rate", unit: "kpi_fault_rate_unit", meets: "fault_rate", commit: "fault_rate_per_10k", digits: 2 },
  { field: "downtime.mean_minutes", label: "kpi_downtime", unit: "minutes", meets: "downtime", commit: "downtime_minutes", digits: 1 },
  { field: "rescue.mean_minutes", label: "kpi_rescue", unit: "minutes", meets: "rescue", commit: "rescue_minutes", digits: 1 },
];

const S = { lang: LANGS.includes(localStorage.getItem(LANG_KEY)) ? localStorage.getItem(LANG_KEY) : "zh", who: null, data: null, sort: {}, charts: [] };

const $ = (sel) => document.querySelector(sel);
const t = (key, vars = {}) => (T[S.lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));

/** An element with attributes and children (strings become text nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A value at a dotted path (`downtime.mean_minutes`). */
const at = (obj, path) => path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
const locale = () => (S.lang === "zh" ? "zh-CN" : "en-GB");
const num = (v, digits = 1) => (v == null ? "—" : Number(v).toLocaleString(locale(), { maximumFractionDigits: digits }));
const pct = (v) => (v == null ? "—" : `${num(v * 100, 1)} %`);
const when = (iso) => (iso ? new Date(iso).toLocaleString(locale(), { dateStyle: "short", timeStyle: "short" }) : "—");

/** Age from an RFC 3339 time to now, as "2 d 3 h" / "45 min". */
function age(iso) {
  if (!iso) return "—";
  const mins = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 60000));
  const d = Math.floor(mins / 1440), hr = Math.floor((mins % 1440) / 60), m = mins % 60;
  if (d > 0) return `${d} ${t("d")} ${hr} ${t("h")}`;
  if (hr > 0) return `${hr} ${t("h")} ${m} ${t("min")}`;
  return `${m} ${t("min")}`;
}

// ---------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------

class Unauthorized extends Error {}

async function api(path, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const r = await fetch(path, { ...init, headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
  const body = await r.json().catch(() => null);
  if (r.status === 401) throw new Unauthorized(body?.message ?? "unauthorized");
  if (!r.ok) throw new Error(`${path}: ${body?.message ?? r.status}`);
  return body;
}

/** Every page of a list endpoint. */
async function all(path) {
  const out = [];
  const sep = path.includes("?") ? "&" : "?";
  for (let offset = 0; ; offset += 1000) {
    const page = await api(`${path}${sep}limit=1000&offset=${offset}`);
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

/** `f` over `items`, at most `n` at a time, in order. */
async function pool(items, n, f) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

const enc = encodeURIComponent;

async function loadFirm(firmId) {
  const [firm, projects, findings] = await Promise.all([
    api(`/api/v1/firms/${enc(firmId)}`),
    all("/api/v1/projects"),
    all("/api/v1/findings?state=open"),
  ]);
  const details = await pool(projects, 4, async (p) => {
    const kpis = await api(`/api/v1/projects/${enc(p.id)}/kpis?per_elevator=true`);
    const [series, corrections] = await Promise.all([
      api(`/api/v1/projects/${enc(p.id)}/series?from=${kpis.window.from}&to=${kpis.window.to}`),
      loadCorrections(p, kpis.window.from),
    ]);
    return { project: p, kpis, series, corrections };
  });
  return { firm, projects: details, findings };
}

/** Elevators whose faults are read for the correction history (one call each). */
const CORRECTION_ELEVATORS = 100;

/**
 * The faults of a project's elevators whose cause was corrected, newest
 * first: of its first CORRECTION_ELEVATORS elevators (`partial` says when
 * there are more).
 */
async function loadCorrections(project, from) {
  const elevators = project.elevators.slice(0, CORRECTION_ELEVATORS);
  const lists = await pool(elevators, 4, (e) =>
    api(`/api/v1/elevators/${enc(e.device_code)}/faults?from=${from}&limit=1000`).catch(() => []),
  );
  const faults = lists.flat().filter((f) => f.corrections.length > 0).sort((a, b) => (a.started_at < b.started_at ? 1 : -1));
  return { faults, partial: project.elevators.length > elevators.length };
}

async function loadRegulator() {
  const [firms, projects, findings, deadLetters, silent] = await Promise.all([
    all("/api/v1/firms"),
    all("/api/v1/projects"),
    all("/api/v1/findings?state=open"),
    api("/api/v1/dead-letters?limit=50"),
    api("/api/v1/telemetry/silent?limit=100"),
  ]);
  const kpis = await pool(projects, 6, (p) => api(`/api/v1/projects/${enc(p.id)}/kpis`));
  return {
    firms,
    projects: projects.map((p, i) => ({ project: p, kpis: kpis[i] })),
    findings,
    deadLetters,
    silent,
  };
}

// ---------------------------------------------------------------------------
// Pieces shared by both views
// ---------------------------------------------------------------------------

/** A KPI value with the attributes of issue 12. */
function kpiValue(projectId, field, value, digits, extra = {}) {
  const v = value === undefined ? null : value;
  return h("span", { class: "kpi-value", "data-kpi": field, "data-project": projectId, "data-value": v === null ? "null" : String(v), ...extra }, num(v, digits));
}

function metBadge(met) {
  if (met === true) return h("span", { class: "badge met", "data-met": "true" }, `✓ ${t("met")}`);
  if (met === false) return h("span", { class: "badge missed", "data-met": "false" }, `✗ ${t("missed")}`);
  return h("span", { class: "badge na", "data-met": "null" }, t("not_measured"));
}

const missedCount = (k) => Object.values(k.meets_commitment ?? {}).filter((m) => m === false).length;

/** A table whose columns sort on a click; `key` names its sort state. */
function sortable(key, columns, rows, initial) {
  const state = S.sort[key] ?? initial;
  const col = columns.find((c) => c.id === state.by) ?? columns[0];
  const val = (r) => col.sort(r);
  const sorted = [...rows].sort((a, b) => {
    const x = val(a), y = val(b);
    if (x == null && y == null) return 0;
    if (x == null) return 1; // unknowns last, whatever the direction
    if (y == null) return -1;
    return (x < y ? -1 : x > y ? 1 : 0) * (state.desc ? -1 : 1);
  });
  const head = columns.map((c) =>
    h("th", {
      scope: "col",
      "data-col": c.id,
      "aria-sort": c.id === col.id ? (state.desc ? "descending" : "ascending") : "none",
      onclick: () => {
        S.sort[key] = { by: c.id, desc: c.id === col.id ? !state.desc : true };
        render();
      },
    }, t(c.label)),
  );
  return h("div", { class: "table-wrap" },
    h("table", { class: "sortable", "data-table": key },
      h("thead", {}, h("tr", {}, head)),
      h("tbody", {}, sorted.map((r) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : "" }, c.cell(r))))))));
}

function simpleTable(key, columns, rows, note = null) {
  if (rows.length === 0) return h("p", { class: "empty", "data-table": key }, t("no_rows"));
  return h("div", { class: "table-wrap" }, note,
    h("table", { "data-table": key },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, t(c.label))))),
      h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", { class: c.num ? "num" : "" }, c.cell(r))))))));
}

function findingItem(f, withAck) {
  const summary = S.lang === "zh" ? f.summary_zh || f.summary : f.summary;
  const acked = f.acknowledged_at
    ? h("span", { class: "badge met" }, `${t("acknowledged")} ${when(f.acknowledged_at)}`)
    : withAck
      ? h("button", { type: "button", class: "ack", "data-ack": f.id, onclick: () => acknowledge(f.id) }, t("acknowledge"))
      : null;
  return h("li", { class: `finding sev-${f.severity}`, "data-finding": f.id },
    h("span", { class: `badge action-${f.action}` }, t(`action_${f.action}`)), " ",
    h("strong", {}, summary), " ",
    h("span", { class: "muted" }, `${f.project ?? ""} · ${f.clause} · ${t("opened")} ${when(f.opened_at)}`), " ",
    acked);
}

function findingList(findings, withAck) {
  if (findings.length === 0) return h("p", { class: "empty" }, t("no_findings"));
  return h("ul", { class: "findings" }, findings.map((f) => findingItem(f, withAck)));
}

// ---------------------------------------------------------------------------
// Charts (uPlot)
// ---------------------------------------------------------------------------

/** Every day of the window as `YYYY-MM-DD` and Unix seconds (local midnight). */
function days(w) {
  const out = [];
  for (let d = new Date(`${w.from}T00:00:00`); d <= new Date(`${w.to}T00:00:00`); d.setDate(d.getDate() + 1)) {
    const key = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    out.push({ key, x: d.getTime() / 1000 });
  }
  return out;
}

/** Days over which the charts' figures roll: one day's figure is too noisy to read. */
const ROLL_DAYS = 30;

/**
 * A rolling ratio over the window's days: Σ num / Σ den over the last
 * ROLL_DAYS days (null where Σ den is 0), times `scale`. `parts` gives a
 * day's (num, den) from the API's row.
 */
function rolling(w, series, parts, scale = 1) {
  const byDay = new Map(series.map((d) => [d.day, d]));
  const all = days(w).map((d) => ({ x: d.x, p: byDay.has(d.key) ? parts(byDay.get(d.key)) : [0, 0] }));
  let num = 0, den = 0;
  return all.map((d, i) => {
    num += d.p[0];
    den += d.p[1];
    if (i >= ROLL_DAYS) {
      num -= all[i - ROLL_DAYS].p[0];
      den -= all[i - ROLL_DAYS].p[1];
    }
    return [d.x, den > 0 ? (num / den) * scale : null];
  });
}

function chart(title, points, commitment) {
  const box = h("figure", { class: "chart" }, h("figcaption", {}, title));
  const xs = points.map((p) => p[0]);
  const data = [xs, points.map((p) => p[1])];
  const lines = [{}, { label: title, stroke: "#0969da", width: 2, points: { show: false } }];
  if (commitment != null) {
    data.push(xs.map(() => commitment));
    lines.push({ label: t("commitment"), stroke: "#d1242f", width: 1, dash: [6, 4], points: { show: false } });
  }
  S.charts.push({ box, opts: { height: 160, series: lines, legend: { show: false }, scales: { x: { time: true } } }, data });
  return box;
}

function trendCharts(k, series) {
  const mean = (n, m) => (r) => [(r[m] ?? 0) * r[n], r[n]];
  return h("div", { class: "charts" },
    chart(t("chart_fault_rate"), rolling(k.window, series, (r) => [r.equipment_faults, r.runs], 10000), k.commitment?.fault_rate_per_10k),
    chart(t("chart_downtime"), rolling(k.window, series, mean("stoppages", "downtime_mean_minutes")), k.commitment?.downtime_minutes),
    chart(t("chart_rescue"), rolling(k.window, series, mean("rescues", "rescue_mean_minutes")), k.commitment?.rescue_minutes));
}

/** Draws the charts queued by the last render, once their boxes have a width. */
function drawCharts() {
  if (typeof uPlot === "undefined") return;
  for (const c of S.charts) {
    const width = Math.max(240, c.box.clientWidth - 4);
    c.plot = new uPlot({ ...c.opts, width }, c.data, c.box);
  }
}

window.addEventListener("resize", () => {
  for (const c of S.charts) c.plot?.setSize({ width: Math.max(240, c.box.clientWidth - 4), height: 160 });
});

// ---------------------------------------------------------------------------
// The firm's view
// ---------------------------------------------------------------------------

function kpiCards(p, k) {
  return h("div", { class: "kpis" }, KPIS.map((spec) => {
    const commit = k.commitment?.[spec.commit];
    return h("div", { class: "kpi" },
      h("div", { class: "kpi-label" }, t(spec.label)),
      h("div", {}, kpiValue(p.id, spec.field, at(k, spec.field), spec.digits), " ", h("span", { class: "unit" }, t(spec.unit))),
      h("div", { class: "kpi-commit" }, `${t("commitment")} ≤ ${num(commit, spec.digits)} `, metBadge(k.meets_commitment?.[spec.meets])));
  }));
}

function completenessLine(c) {
  const detail = c.runs_share == null
    ? t("completeness_none")
    : t("completeness_detail", { pairs: c.counter_pairs, reported: num(c.runs_reported, 0), expected: num(c.runs_by_odometer, 0) });
  return h("p", { class: "completeness", "data-completeness": c.runs_share == null ? "null" : String(c.runs_share) },
    h("strong", {}, `${t("completeness")}: ${pct(c.runs_share)}`), " ", h("span", { class: "muted" }, detail));
}

function openNow(k) {
  const row = (label, count, since, cls) =>
    h("li", { class: count > 0 ? `alert ${cls}` : "" },
      `${t(label)}: `, h("strong", { "data-open": cls }, String(count)),
      count > 0 && since ? ` — ${t("oldest")} ${age(since)}` : "");
  return h("ul", { class: "open-now" },
    row("open_stoppages", k.downtime.open, k.downtime.oldest_open_since, "stoppages"),
    row("awaiting_rescue", k.rescue.awaiting_arrival, k.rescue.oldest_awaiting_since, "entrapments"));
}

function correctionsTable({ faults, partial }) {
  const rows = faults.flatMap((f) => f.corrections.map((c) => ({ f, c })));
  const note = partial ? h("p", { class: "muted" }, t("corrections_partial", { n: CORRECTION_ELEVATORS })) : null;
  if (rows.length === 0) return h("div", {}, h("p", { class: "empty" }, t("no_corrections")), note);
  const cause = (c) => t(`cause_${c}`);
  return simpleTable("corrections", [
    { label: "device_code", cell: (r) => r.f.device_code },
    { label: "fault", cell: (r) => `${r.f.code} · ${when(r.f.started_at)}` },
    { label: "when", cell: (r) => when(r.c.at) },
    { label: "by", cell: (r) => r.c.by },
    { label: "from_to", cell: (r) => `${cause(r.c.from)} → ${cause(r.c.to)}` },
    { label: "reason", cell: (r) => r.c.reason },
  ], rows, note);
}

function elevatorTable(p, k) {
  const cols = [
    { id: "device", label: "device_code", sort: (e) => e.device_code, cell: (e) => e.device_code },
    { id: "rate", label: "kpi_fault_rate", num: true, sort: (e) => e.fault_rate_per_10k,
      cell: (e) => kpiValue(p.id, "fault_rate_per_10k", e.fault_rate_per_10k, 2, { "data-elevator": e.device_code }) },
    { id: "faults", label: "equipment_faults", num: true, sort: (e) => e.equipment_faults, cell: (e) => num(e.equipment_faults, 0) },
    { id: "runs", label: "runs", num: true, sort: (e) => e.runs, cell: (e) => num(e.runs, 0) },
    { id: "complete", label: "completeness", num: true, sort: (e) => e.completeness.runs_share, cell: (e) => pct(e.completeness.runs_share) },
  ];
  return sortable(`elevators-${p.id}`, cols, k.per_elevator ?? [], { by: "rate", desc: true });
}

function projectCard(d, findings) {
  const { project: p, kpis: k, series, corrections } = d;
  const mine = findings.filter((f) => f.project === p.id);
  return h("article", { class: "project", "data-project": p.id },
    h("h3", {}, p.name, " ", h("span", { class: `badge status-${p.status}` }, t(`status_${p.status}`)),
      " ", h("span", { class: "muted" }, `${p.id} · ${t(`mode_${p.mode}`)} · ${t("elevators")} ${k.elevators} · ${t("window")} ${k.window.from} – ${k.window.to}`)),
    kpiCards(p, k),
    completenessLine(k.completeness),
    h("h4", {}, t("open_now")), openNow(k),
    h("h4", {}, t("trends")),
    trendCharts(k, series), h("p", { class: "muted" }, t("trend_note")),
    h("h4", {}, t("findings_to_fix")), findingList(mine, false),
    h("h4", {}, t("corrections")), correctionsTable(corrections),
    h("h4", {}, t("per_elevator")), elevatorTable(p, k));
}

function firmView(data) {
  const d = data;
  return h("section", { class: "firm-view" },
    h("h2", {}, `${t("firm_view")}: ${d.firm.name}`, " ", h("span", { class: "muted" }, `${d.firm.id} · ${t("grade")} ${d.firm.grade}`)),
    d.projects.length === 0 ? h("p", { class: "empty" }, t("no_projects")) : d.projects.map((x) => projectCard(x, d.findings)));
}

// ---------------------------------------------------------------------------
// The regulator's view
// ---------------------------------------------------------------------------

/** Pilot size and insurance coverage from the projects still in the pilot. */
function pilotFigures(projects) {
  const today = new Date().toISOString().slice(0, 10);
  const seen = new Map();
  for (const { project: p } of projects) {
    if (p.status === "exited") continue;
    for (const e of p.elevators) {
      const until = e.insured_until ?? p.insured_until;
      seen.set(e.device_code, until != null && until >= today);
    }
  }
  const total = seen.size;
  const insured = [...seen.values()].filter(Boolean).length;
  return { total, insured, share: total > 0 ? insured / total : null };
}

function targetsSection(projects) {
  const f = pilotFigures(projects);
  const year = new Date().getFullYear();
  const target = [...TARGETS].reverse().find((x) => x.year <= year) ?? TARGETS[0];
  const verdict = (ok) => h("span", { class: `badge ${ok ? "met" : "missed"}`, "data-met": String(ok) }, ok ? t("on_track") : t("behind"));
  return h("section", { class: "targets" },
    h("h3", {}, t("targets")), h("p", { class: "muted" }, t("targets_note")),
    h("div", { class: "kpis" },
      h("div", { class: "kpi" }, h("div", { class: "kpi-label" }, t("pilot_elevators")),
        h("div", { class: "kpi-value", "data-target": "pilot_elevators", "data-value": String(f.total) }, num(f.total, 0)),
        h("div", { class: "kpi-commit" }, `${t("target_year", { year: target.year })} ≥ ${num(target.elevators, 0)} `, verdict(f.total >= target.elevators))),
      h("div", { class: "kpi" }, h("div", { class: "kpi-label" }, t("insured_share")),
        h("div", { class: "kpi-value", "data-target": "insured_share", "data-value": f.share == null ? "null" : String(f.share) }, pct(f.share)),
        h("div", { class: "kpi-commit" }, `${t("target_year", { year: target.year })} ≥ ${pct(target.insured)} `, verdict(f.share != null && f.share >= target.insured))),
      h("div", { class: "kpi" }, h("div", { class: "kpi-label" }, t("insured_residential")),
        h("div", { class: "kpi-value" }, "—"),
        h("div", { class: "kpi-commit" }, `${t("target_year", { year: target.year })} ≥ ${pct(target.residential)} · ${t("not_recorded")}`))));
}

function projectRanking(rows, findings) {
  const open = (id) => findings.filter((f) => f.project === id).length;
  const cols = [
    { id: "project", label: "project", sort: (r) => r.project.name, cell: (r) => `${r.project.name} (${r.project.id})` },
    { id: "firm", label: "firm", sort: (r) => r.project.firm_id, cell: (r) => r.project.firm_id },
    { id: "status", label: "status", sort: (r) => r.project.status, cell: (r) => t(`status_${r.project.status}`) },
    { id: "elevators", label: "elevators", num: true, sort: (r) => r.kpis.elevators, cell: (r) => num(r.kpis.elevators, 0) },
    ...KPIS.map((spec) => ({ id: spec.field, label: spec.label, num: true, sort: (r) => at(r.kpis, spec.field),
      cell: (r) => h("span", {}, kpiValue(r.project.id, spec.field, at(r.kpis, spec.field), spec.digits), " ", metBadge(r.kpis.meets_commitment?.[spec.meets])) })),
    { id: "complete", label: "completeness", num: true, sort: (r) => r.kpis.completeness.runs_share, cell: (r) => pct(r.kpis.completeness.runs_share) },
    { id: "missed", label: "missed_kpis", num: true, sort: (r) => missedCount(r.kpis) * 1000 + open(r.project.id), cell: (r) => num(missedCount(r.kpis), 0) },
    { id: "findings", label: "open_findings", num: true, sort: (r) => open(r.project.id), cell: (r) => num(open(r.project.id), 0) },
  ];
  return sortable("projects", cols, rows, { by: "missed", desc: true });
}

function firmRanking(firms, rows, findings) {
  const stats = firms.map((f) => {
    const mine = rows.filter((r) => r.project.firm_id === f.id);
    return {
      firm: f,
      projects: mine.length,
      elevators: mine.reduce((s, r) => s + r.kpis.elevators, 0),
      missed: mine.reduce((s, r) => s + missedCount(r.kpis), 0),
      findings: findings.filter((x) => x.firm === f.id).length,
    };
  });
  const cols = [
    { id: "firm", label: "firm", sort: (r) => r.firm.name, cell: (r) => `${r.firm.name} (${r.firm.id})` },
    { id: "grade", label: "grade", sort: (r) => r.firm.grade, cell: (r) => r.firm.grade },
    { id: "projects", label: "projects", num: true, sort: (r) => r.projects, cell: (r) => num(r.projects, 0) },
    { id: "elevators", label: "elevators", num: true, sort: (r) => r.elevators, cell: (r) => num(r.elevators, 0) },
    { id: "missed", label: "missed_kpis", num: true, sort: (r) => r.missed * 1000 + r.findings, cell: (r) => num(r.missed, 0) },
    { id: "findings", label: "open_findings", num: true, sort: (r) => r.findings, cell: (r) => num(r.findings, 0) },
  ];
  return sortable("firms", cols, stats, { by: "missed", desc: true });
}

function findingsByAction(findings) {
  return h("div", { class: "by-action" }, ACTIONS.map((a) => {
    const these = findings.filter((f) => f.action === a);
    if (these.length === 0) return null;
    return h("div", { "data-action": a }, h("h4", {}, `${t(`action_${a}`)} (${these.length})`), findingList(these, true));
  }), findings.length === 0 ? h("p", { class: "empty" }, t("no_findings")) : null);
}

function regulatorView(d) {
  return h("section", { class: "regulator-view" },
    h("h2", {}, t("regulator_view")),
    targetsSection(d.projects),
    h("h3", {}, t("project_ranking")), projectRanking(d.projects, d.findings),
    h("h3", {}, t("firm_ranking")), firmRanking(d.firms, d.projects, d.findings),
    h("h3", {}, t("findings_by_action")), findingsByAction(d.findings),
    h("h3", {}, t("silent_boxes")), h("p", { class: "muted" }, t("silent_note")),
    simpleTable("silent", [
      { label: "device_code", cell: (r) => r.device_code },
      { label: "last_seen", cell: (r) => (r.last_seen ? when(r.last_seen) : t("never")) },
      { label: "silent_for", cell: (r) => (r.last_seen ? age(r.last_seen) : "—") },
    ], d.silent),
    h("h3", {}, t("dead_letters")),
    simpleTable("dead-letters", [
      { label: "received_at", cell: (r) => when(r.last_seen_at) },
      { label: "topic", cell: (r) => r.topic },
      { label: "reason", cell: (r) => r.reason },
    ], d.deadLetters));
}

async function acknowledge(id) {
  try {
    const f = await api(`/api/v1/findings/${enc(id)}/acknowledge`, { method: "POST" });
    S.data.findings = S.data.findings.map((x) => (x.id === f.id ? f : x));
    render();
  } catch (e) {
    failed(e);
  }
}

// ---------------------------------------------------------------------------
// Sign-in, language, rendering
// ---------------------------------------------------------------------------

function applyLanguage() {
  document.documentElement.lang = S.lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  document.title = `liftwatch · ${t("title")}`;
}

function render() {
  applyLanguage();
  const view = $("#view");
  for (const c of S.charts) c.plot?.destroy();
  S.charts = [];
  if (!S.who) return;
  $("#who").textContent = S.who.role === "firm" ? `${t("role_firm")} ${S.who.firm_id}` : t("role_regulator");
  if (!S.data) {
    view.replaceChildren(h("p", { class: "muted" }, t("loading")));
    return;
  }
  view.replaceChildren(S.who.role === "firm" ? firmView(S.data) : regulatorView(S.data));
  drawCharts();
}

function showSignIn(message) {
  S.who = null;
  S.data = null;
  $("#signin").hidden = false;
  $("#signout").hidden = true;
  $("#view").hidden = true;
  $("#view").dataset.state = "signed-out";
  $("#who").textContent = "";
  const err = $("#signin-error");
  err.hidden = !message;
  err.textContent = message ?? "";
}

function failed(e) {
  if (e instanceof Unauthorized) {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(t("bad_token"));
    return;
  }
  $("#view").dataset.state = "error";
  $("#view").replaceChildren(h("p", { class: "error", role: "alert" }, t("load_failed"), e.message));
}

async function start() {
  $("#signin").hidden = true;
  $("#signout").hidden = false;
  const view = $("#view");
  view.hidden = false;
  view.dataset.state = "loading";
  const began = performance.now();
  try {
    S.who = await api("/api/v1/whoami");
    view.dataset.role = S.who.role;
    render();
    S.data = S.who.role === "firm" ? await loadFirm(S.who.firm_id) : await loadRegulator();
    render();
    view.dataset.loadMs = String(Math.round(performance.now() - began));
    view.dataset.state = "ready";
  } catch (e) {
    failed(e);
  }
}

function init() {
  applyLanguage();
  $("#lang").addEventListener("click", () => {
    S.lang = S.lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, S.lang);
    render();
  });
  $("#signout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn(null);
  });
  $("#signin").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = ev.target.elements.token;
    const token = input.value.trim();
    input.value = "";
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    start();
  });
  if (sessionStorage.getItem(TOKEN_KEY)) start();
  else showSignIn(null);
}

init();
