// DOM building, formatting and API calls shared by the dashboard's pages. Text always goes in as text
// (never as HTML), so lead data cannot inject markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const fmt = {
  int: (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US")),
  pct: (r) => (r === null || r === undefined ? "–" : `${(r * 100).toFixed(1)} %`),
  points: (n) => (n > 0 ? `+${n}` : String(n)),
  when: (iso) => (iso ? new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" }) : "–"),
  day: (iso) => (iso ? new Date(`${iso}T00:00:00Z`).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" }) : "–"),
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;  // speed to sales is often under a second
    if (seconds < 10) return `${seconds.toFixed(1)} s`;
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
    if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
    return `${(seconds / 86400).toFixed(1)} days`;
  },
};

export const STAGE_LABELS = { lead: "Lead", mql: "MQL", sql: "SQL", sal: "SAL", customer: "Customer", lost: "Lost", disqualified: "Disqualified" };

export function stageBadge(stage) {
  return stage ? h("span", { class: `badge stage-${stage}` }, STAGE_LABELS[stage] || stage) : h("span", { class: "muted" }, "new");
}

export function personName(lead) {
  const p = lead.profile || {};
  const name = [p.first_name, p.last_name].filter(Boolean).join(" ");
  return name || lead.email || lead.anonymous_id || lead.lead_id;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function parse(response, where) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, `${where}: ${(body && (body.detail || body.title)) || response.statusText}`);
  return body;
}

// The scoring API, same origin: the session cookie goes along by itself.
export async function api(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (response.status === 401) {
    window.location.assign("/dashboard/login");
    throw new ApiError(401, "Your session has ended; log in again.");
  }
  return parse(response, path);
}

// The handover API lives on another origin (CORS); it has no session of ours.
export async function handover(config, path, init = {}) {
  let response;
  try {
    response = await fetch(config.handover_url + path, { mode: "cors", credentials: "omit", ...init });
  } catch (error) {
    throw new ApiError(0, `The handover service at ${config.handover_url} did not answer (${error.message}). ` +
      "Is it running, and does it allow this dashboard's origin (LEADFLOW_HANDOVER_DASHBOARD_ORIGINS)?");
  }
  return parse(response, `handover ${path}`);
}

export function errorBox(error) {
  return h("p", { class: "error", role: "alert" }, error && error.message ? error.message : String(error));
}

export function quantile(values, q) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}
