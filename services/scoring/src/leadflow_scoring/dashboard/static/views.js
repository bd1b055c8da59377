// The dashboard's four pages. Each view fetches what it shows and returns one DOM node.
import { lineChart, stackedBars } from "./charts.js";
import { STAGE_LABELS, api, errorBox, fmt, h, handover, personName, quantile, stageBadge } from "./dom.js";

const FUNNEL = ["lead", "mql", "sql", "sal", "customer"];

// ------------------------------------------------------------------------------------------ funnel

export async function funnelView(params, config) {
  const query = new URLSearchParams({ by: "week" }); // weeks read better than 90 daily points; the form switches
  for (const key of ["from", "to", "by"]) if (params.get(key)) query.set(key, params.get(key));
  const data = await api(`/v1/funnel?${query}`);
  const labels = data.periods.map((p) => (data.by === "week" ? `wk ${fmt.day(p.start)}` : fmt.day(p.start)));

  const range = h("form", { class: "range", onsubmit: (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    window.location.hash = `#/funnel?${new URLSearchParams([...form.entries()].filter(([, v]) => v))}`;
  } },
  h("label", {}, "From (UTC)", h("input", { type: "date", name: "from", value: data.from })),
  h("label", {}, "To (UTC)", h("input", { type: "date", name: "to", value: data.to })),
  h("label", {}, "Per", h("select", { name: "by" },
    ["day", "week"].map((b) => h("option", { value: b, selected: b === data.by }, b)))),
  h("button", { type: "submit" }, "Show"));

  const cards = h("section", { class: "cards", "aria-label": "Stage entries in the range" });
  FUNNEL.forEach((stage, i) => {
    if (i > 0) {
      const conv = data.conversion[i - 1];
      cards.append(h("div", { class: "arrow", title: `Of ${fmt.int(conv.from_count)} leads created in the range that reached ${STAGE_LABELS[conv.from_stage]}, ${fmt.int(conv.to_count)} reached ${STAGE_LABELS[conv.to_stage]}` },
        h("span", { class: "rate", dataset: { testid: `conversion-${conv.from_stage}-${conv.to_stage}` } }, fmt.pct(conv.rate)), "→"));
    }
    cards.append(h("div", { class: `card stage-${stage}` },
      h("div", { class: "label" }, `${STAGE_LABELS[stage]} entered`),
      h("div", { class: "value", dataset: { testid: `entered-${stage}` } }, fmt.int(data.totals.entered[stage])),
      h("div", { class: "small muted" }, `first time: ${fmt.int(data.totals.first_entered[stage])}`)));
  });

  const rates = lineChart({
    title: "Conversion rate per cohort",
    labels,
    series: FUNNEL.slice(1).map((to, i) => ({
      name: `${STAGE_LABELS[FUNNEL[i]]} → ${STAGE_LABELS[to]}`, cls: `s-${to}`,
      values: data.periods.map((p) => p.conversion[i].rate),
    })),
  });
  const entries = stackedBars({
    title: "Stage entries per period",
    labels,
    series: FUNNEL.map((stage) => ({ name: STAGE_LABELS[stage], cls: `s-${stage}`, values: data.periods.map((p) => p.entered[stage]) })),
  });

  const maxFlow = Math.max(1, ...data.flow.map((f) => f.count));
  const flow = h("table", { dataset: { testid: "flow" } },
    h("thead", {}, h("tr", {}, h("th", {}, "From"), h("th", {}, "To"), h("th", { class: "num" }, "Changes"), h("th", {}, ""))),
    h("tbody", {}, data.flow.length ? data.flow.map((f) => {
      const bar = h("div", { class: `flowbar stage-${f.to_stage}` });
      bar.style.width = `${Math.max(1, (100 * f.count) / maxFlow)}%`;
      return h("tr", {}, h("td", {}, stageBadge(f.from_stage)), h("td", {}, stageBadge(f.to_stage)),
        h("td", { class: "num" }, fmt.int(f.count)), h("td", { class: "barcell" }, bar));
    }) : h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No stage changes in this range."))));

  const timed = ["mql", "sql", "sal", "customer"].filter((stage) => data.time_to_stage[stage]);
  const ho = data.handover;
  const reasons = data.rejections.length
    ? data.rejections.map((r) => `${r.reason.replace(/_/g, " ")} ${fmt.int(r.count)}`).join(" · ")
    : "none in this range";
  const speed = h("div", {},
    ...timed.map((stage) => {
      const t = data.time_to_stage[stage];
      return h("div", { class: "stat" }, h("span", {}, `Creation → ${STAGE_LABELS[stage]} (${fmt.int(t.leads)} leads)`),
        h("span", { class: "v", dataset: { testid: `time-to-${stage}` } }, `median ${fmt.duration(t.median_seconds)} · p90 ${fmt.duration(t.p90_seconds)}`));
    }),
    h("div", { class: "stat", dataset: { testid: "sql-to-delivery" } }, h("span", {}, "SQL → first delivery"), h("span", { class: "v" }, "loading…")),
    h("div", { class: "stat" }, h("span", {}, `SQL → accepted by sales (${fmt.int(ho.time_to_acceptance.leads)} leads)`),
      h("span", { class: "v", dataset: { testid: "time-to-acceptance" } },
        `median ${fmt.duration(ho.time_to_acceptance.median_seconds)} · p90 ${fmt.duration(ho.time_to_acceptance.p90_seconds)}`)),
    h("div", { class: "stat" }, h("span", {}, `Acceptance rate (${fmt.int(ho.accepted)} accepted, ${fmt.int(ho.rejected)} rejected)`),
      h("span", { class: "v", dataset: { testid: "acceptance-rate" } }, fmt.pct(ho.acceptance_rate))),
    h("div", { class: "stat" }, h("span", {}, "Missed acceptance deadlines"),
      h("span", { class: "v", dataset: { testid: "sla-breaches" } }, fmt.int(ho.sla_breaches))),
    h("div", { class: "stat" }, h("span", {}, "Rejection reasons"), h("span", { class: "v", dataset: { testid: "rejection-reasons" } }, reasons)));
  fillDeliveryTimes(config, speed.querySelector("[data-testid=sql-to-delivery] .v"), data);

  return h("div", { dataset: { page: "funnel" } },
    h("h1", {}, "Funnel"),
    h("section", { class: "panel" }, range),
    cards,
    h("div", { class: "grid2" },
      h("section", { class: "panel" }, h("h2", {}, "Conversion rates over time"),
        h("p", { class: "small muted" }, "Per cohort: of the leads created in each period, the share that has reached the next stage by now."), rates),
      h("section", { class: "panel" }, h("h2", {}, "Stage entries per period"), entries)),
    h("div", { class: "grid2" },
      h("section", { class: "panel" }, h("h2", {}, "Stage flow"), flow),
      h("section", { class: "panel" }, h("h2", {}, "Speed"), speed)),
    h("section", { class: "panel" }, h("h2", {}, "What these numbers mean"), h("ul", { class: "notes" }, data.notes.map((n) => h("li", {}, n)))));
}

async function fillDeliveryTimes(config, target, data) {
  try {
    const deliveries = await handover(config, "/v1/deliveries?limit=1000");
    const from = Date.parse(`${data.from}T00:00:00Z`);
    const to = Date.parse(`${data.to}T00:00:00Z`) + 86400e3;
    const firstByLead = new Map();
    for (const d of deliveries) {
      const qualified = Date.parse(d.qualified_at);
      if (!d.delivered_at || qualified < from || qualified >= to) continue;
      const took = (Date.parse(d.delivered_at) - qualified) / 1000;
      if (!firstByLead.has(d.lead_id) || took < firstByLead.get(d.lead_id)) firstByLead.set(d.lead_id, took);
    }
    const times = [...firstByLead.values()];
    target.textContent = times.length
      ? `median ${fmt.duration(quantile(times, 0.5))} · p90 ${fmt.duration(quantile(times, 0.9))} (${times.length} leads, latest 1,000 deliveries)`
      : "no deliveries in this range";
  } catch (error) {
    target.textContent = error.message;
    target.classList.add("neg");
  }
}

// ------------------------------------------------------------------------------------------ leads

const FILTERS = ["q", "stage", "grade", "score_min", "score_max", "source", "team", "rep", "updated_since", "sort", "order"];

function leadQuery(params) {
  const query = new URLSearchParams({ limit: "50" });
  for (const key of FILTERS) {
    const value = params.get(key);
    if (!value) continue;
    query.set(key, key === "updated_since" ? `${value}T00:00:00Z` : value);
  }
  return query;
}

// "anna · enterprise-dach": who in sales has the lead (handover's latest assignment), or null.
function assignee(assignment) {
  if (!assignment) return null;
  return [assignment.member || "nobody available", assignment.team].filter(Boolean).join(" · ");
}

// Team names and member ids from handover's routing, as suggestions for the filters; none when handover has none.
async function teamSuggestions(config) {
  let teams = [];
  try {
    teams = await handover(config, "/v1/teams");
  } catch {
    teams = [];
  }
  const members = new Map();
  for (const team of teams) for (const m of team.members) members.set(m.id, m.name ? `${m.name} (${team.name})` : team.name);
  return [
    h("datalist", { id: "teams" }, teams.map((team) => h("option", { value: team.name }))),
    h("datalist", { id: "reps" }, [...members].map(([id, label]) => h("option", { value: id, label }))),
  ];
}

function leadRow(lead) {
  const open = () => { window.location.hash = `#/leads/${lead.lead_id}`; };
  return h("tr", { class: "clickable", dataset: { testid: "lead-row", leadId: lead.lead_id }, onclick: open },
    h("td", {}, h("a", { href: `#/leads/${lead.lead_id}` }, personName(lead))),
    h("td", {}, (lead.profile && lead.profile.company) || ""),
    h("td", {}, lead.email || h("span", { class: "muted" }, lead.anonymous_id ? `anonymous ${lead.anonymous_id}` : "")),
    h("td", {}, stageBadge(lead.stage)),
    h("td", { class: "num" }, fmt.int(lead.score)),
    h("td", {}, lead.grade),
    h("td", { class: "small", dataset: { testid: "assignee" } }, assignee(lead.assignment) || h("span", { class: "muted" }, "–")),
    h("td", { class: "small" }, fmt.when(lead.updated_at)));
}

export async function leadsView(params, config) {
  const query = leadQuery(params);
  const suggestions = teamSuggestions(config);
  const select = (name, options, label) => h("label", {}, label, h("select", { name },
    options.map(([value, text]) => h("option", { value, selected: (params.get(name) || "") === value }, text))));
  const input = (name, label, attrs = {}) => h("label", {}, label, h("input", { name, value: params.get(name) || "", ...attrs }));
  const grades = ["A", "B", "C", "D"].flatMap((g) => [[g, `${g} (any)`], ...["1", "2", "3"].map((l) => [g + l, g + l])]);
  const form = h("form", { class: "filters", onsubmit: (event) => {
    event.preventDefault();
    const entries = [...new FormData(event.target).entries()].filter(([, v]) => v);
    window.location.hash = `#/leads?${new URLSearchParams(entries)}`;
  } },
  input("q", "Name, e-mail or company", { type: "search", placeholder: "3+ characters" }),
  select("stage", [["", "any"], ...Object.entries(STAGE_LABELS)], "Stage"),
  select("grade", [["", "any"], ...grades], "Grade"),
  input("score_min", "Score from", { type: "number" }),
  input("score_max", "to", { type: "number" }),
  input("source", "Source id"),
  input("team", "Team", { list: "teams", size: 12 }),
  input("rep", "Rep", { list: "reps", size: 10, placeholder: "member id" }),
  input("updated_since", "Active since", { type: "date" }),
  select("sort", [["updated_at", "last activity"], ["score", "score"], ["created_at", "created"]], "Sort by"),
  select("order", [["desc", "descending"], ["asc", "ascending"]], "Order"),
  h("button", { type: "submit" }, "Filter"),
  h("a", { href: "#/leads", class: "small" }, "reset"));

  const body = h("tbody", {});
  const table = h("table", { dataset: { testid: "lead-table" } },
    h("thead", {}, h("tr", {}, ["Name", "Company", "E-mail", "Stage"].map((t) => h("th", {}, t)),
      h("th", { class: "num" }, "Score"), h("th", {}, "Grade"), h("th", {}, "Assigned to"), h("th", {}, "Last activity"))), body);
  const status = h("p", { class: "small muted" });
  const more = h("button", { class: "secondary more", type: "button" }, "Load more");
  let cursor = null;
  let shown = 0;
  const load = async () => {
    if (cursor) query.set("cursor", cursor);
    more.disabled = true;
    const page = await api(`/v1/leads?${query}`);
    for (const lead of page.items) body.append(leadRow(lead));
    shown += page.items.length;
    cursor = page.next_cursor;
    more.hidden = !cursor;
    more.disabled = false;
    status.textContent = `${fmt.int(shown)} lead${shown === 1 ? "" : "s"} shown${cursor ? "; more match" : ""}.`;
    if (!shown) body.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No lead matches these filters.")));
  };
  more.addEventListener("click", () => load().catch((error) => more.replaceWith(errorBox(error))));
  await load();
  return h("div", { dataset: { page: "leads" } },
    h("h1", {}, "Leads"),
    h("section", { class: "panel" }, form, await suggestions,
      h("p", { class: "small muted" }, "Team and rep: who in sales has the lead, as the handover service assigned it when the lead became SQL (or reassigned it after a missed deadline).")),
    h("section", { class: "panel" }, status, table, more));
}

// ------------------------------------------------------------------------------------------ one lead

function gradeGrid(config, grade) {
  const fit = [...config.grades.fit, ["D", 0]];
  const engagement = [...config.grades.engagement, ["3", 0]];
  return h("table", { class: "gradegrid", dataset: { testid: "grade-grid" } },
    h("thead", {}, h("tr", {}, h("th", {}, "fit ↓ / engagement →"),
      engagement.map(([level, low]) => h("th", {}, `${level} (≥ ${low})`)))),
    h("tbody", {}, fit.map(([letter, low]) => h("tr", {}, h("th", {}, `${letter} (≥ ${low})`),
      engagement.map(([level]) => h("td", { class: letter + level === grade ? "here" : null }, letter + level))))));
}

function ledgerTable(score) {
  const rows = score.ledger.map((line) => h("tr", { dataset: { testid: "ledger-line", rule: line.rule_id } },
    h("td", {}, line.kind),
    h("td", {}, h("code", {}, line.rule_id), line.group && line.group !== line.kind ? h("div", { class: "small muted" }, line.group) : null),
    h("td", {}, line.reason, line.occurred_at ? h("div", { class: "small muted" }, fmt.when(line.occurred_at)) : null),
    h("td", { class: "num" }, fmt.points(line.raw_points)),
    h("td", { class: `num ${line.decayed_by ? "neg" : ""}` }, line.decayed_by ? `−${line.decayed_by}` : "0"),
    h("td", { class: "num" }, fmt.points(line.value_now))));
  const sum = score.ledger.reduce((total, line) => total + line.value_now, 0);
  return h("table", { dataset: { testid: "ledger" } },
    h("thead", {}, h("tr", {}, h("th", {}, "Kind"), h("th", {}, "Rule"), h("th", {}, "Reason"),
      h("th", { class: "num" }, "Points"), h("th", { class: "num", title: "Lost to decay (half-life of the rule's group) or to a group cap" }, "Decay"),
      h("th", { class: "num" }, "Now"))),
    h("tbody", {}, rows, h("tr", { class: "total" }, h("td", { colspan: 5 }, "Score"),
      h("td", { class: "num", dataset: { testid: "ledger-sum" } }, fmt.int(sum)))));
}

function timeline(detail, deliveries) {
  const items = [];
  for (const tp of detail.touchpoints) {
    const props = Object.entries(tp.properties || {}).slice(0, 3).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
    items.push({ at: tp.occurred_at, kind: "touchpoint", body: [h("strong", {}, tp.type.replaceAll("_", " ")),
      tp.source_id ? h("span", { class: "muted" }, ` · source ${tp.source_id}`) : null,
      props.length ? h("div", { class: "small muted" }, props.join(" · ")) : null] });
  }
  for (const change of detail.stage_history) {
    items.push({ at: change.occurred_at, kind: "stage", body: [stageBadge(change.from_stage), " → ", stageBadge(change.to_stage),
      h("span", { class: "muted" }, ` · ${change.cause.replaceAll("_", " ")} · score ${change.score}`),
      h("div", { class: "small" }, change.reason)] });
  }
  for (const d of deliveries || []) {
    const outcome = d.status === "succeeded" ? `delivered ${fmt.when(d.delivered_at)}` : d.last_error || (d.last_status_code ? `HTTP ${d.last_status_code}` : "");
    items.push({ at: d.created_at, kind: "handover", body: [h("strong", {}, `Handover to ${d.destination}`), " ",
      h("span", { class: `badge status-${d.status}` }, d.status),
      h("div", { class: "small muted" }, `${d.attempts} attempt${d.attempts === 1 ? "" : "s"}${outcome ? ` · ${outcome}` : ""}`)] });
  }
  items.forEach((item, i) => { item.seq = i; }); // same instant: the later-recorded change first
  items.sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.seq - a.seq);
  return h("ol", { class: "timeline", dataset: { testid: "timeline" } }, items.map((item) =>
    h("li", { dataset: { testid: "timeline-item", kind: item.kind } },
      h("span", { class: "when" }, fmt.when(item.at)), h("span", { class: `kind ${item.kind}` }, item.kind), h("div", {}, item.body))));
}

export async function leadView(leadId, config) {
  const [detail, score] = await Promise.all([api(`/v1/leads/${leadId}`), api(`/v1/leads/${leadId}/score`)]);
  let deliveries = [];
  let deliveryError = null;
  try {
    deliveries = await handover(config, `/v1/deliveries?lead_id=${encodeURIComponent(leadId)}`);
  } catch (error) {
    deliveryError = error;
  }
  const p = detail.profile || {};
  const facts = [
    ["E-mail", detail.email || "–"], ["Company", p.company || "–"], ["Role", p.job_title || "–"],
    ["Fit / engagement", `${score.fit} / ${score.engagement}`], ["Created", fmt.when(detail.created_at)],
    ["Last activity", fmt.when(detail.updated_at)], ["In stage since", fmt.when(detail.stage_changed_at)],
    ["Decay review", detail.review_at ? fmt.when(detail.review_at) : "–"], ["Model", `${score.model_id} (${score.model_hash})`],
    ["Assigned to", h("span", { dataset: { testid: "lead-assignee" } },
      detail.assignment ? `${assignee(detail.assignment)}, since ${fmt.when(detail.assignment.assigned_at)}` : "–")],
  ];
  if (score.disqualified_reason) facts.push(["Disqualified", score.disqualified_reason]);
  const decayed = score.ledger.reduce((total, line) => total + line.decayed_by, 0);
  return h("div", { dataset: { page: "lead" } },
    h("p", {}, h("a", { href: "#/leads" }, "← all leads")),
    h("div", { class: "lead-head" },
      h("h1", {}, personName(detail)), stageBadge(detail.stage),
      h("span", { class: "score", dataset: { testid: "lead-score" } }, fmt.int(score.score)), h("span", { class: "muted" }, "points"),
      h("span", { class: "badge", title: "Fit letter A-D, engagement level 1-3" }, `grade ${score.grade}`)),
    h("div", { class: "grid-lead" },
      h("section", { class: "panel" }, h("h2", {}, "Why the score is what it is"),
        h("p", { class: "small muted" }, `Every line is one rule that hit; "Now" is what it is worth at ${fmt.when(score.at)}. `,
          decayed ? `Decay has taken ${decayed} point${decayed === 1 ? "" : "s"} so far.` : "Nothing has decayed yet."),
        ledgerTable(score)),
      h("div", {},
        h("section", { class: "panel" }, h("h2", {}, "Grade"), gradeGrid(config, score.grade),
          h("p", { class: "small muted" }, `MQL at ${config.model.thresholds.mql ?? "?"} points, SQL at ${config.model.thresholds.sql ?? "?"}.`)),
        h("section", { class: "panel" }, h("h2", {}, "Profile"), h("dl", { class: "kv" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))))),
    h("section", { class: "panel" }, h("h2", {}, "Timeline"),
      deliveryError ? h("p", { class: "notice" }, `Handovers not shown: ${deliveryError.message}`) : null,
      timeline(detail, deliveries)));
}

// ------------------------------------------------------------------------------------------ handover

async function replayAvailable(config) {
  try {
    const spec = await handover(config, "/openapi.json");
    return Object.entries(spec.paths || {}).some(([path, ops]) => /^\/v1\/deliveries\/\{[^}]+\}\/replay$/.test(path) && ops.post);
  } catch {
    return false;
  }
}

// Handovers with their acceptance deadlines; none from a handover service without GET /v1/handovers.
async function handoverRecords(config) {
  try {
    return await handover(config, "/v1/handovers?limit=1000");
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

function slaPanel(handovers) {
  if (handovers === null) {
    return h("section", { class: "panel" }, h("h2", {}, "Acceptance deadlines"),
      h("p", { class: "muted" }, "This handover service records no handovers (no GET /v1/handovers)."));
  }
  const now = Date.now();
  const counts = { pending: 0, accepted: 0, rejected: 0, won: 0, lost: 0 };
  for (const ho of handovers) if (ho.status in counts) counts[ho.status] += 1;
  const overdue = (ho) => ho.status === "pending" && ho.respond_by !== null && Date.parse(ho.respond_by) < now;
  const missed = handovers.filter((ho) => ho.escalations.length > 0).length;
  const open = handovers.filter((ho) => ho.status === "pending")
    .sort((a, b) => (a.respond_by ? Date.parse(a.respond_by) : Infinity) - (b.respond_by ? Date.parse(b.respond_by) : Infinity));
  const deadline = (ho) => {
    if (ho.respond_by === null) return h("span", { class: "muted" }, ho.escalations.length ? "escalated" : "no deadline");
    return overdue(ho) ? h("span", { class: "badge status-failed" }, `overdue since ${fmt.when(ho.respond_by)}`)
      : h("span", { class: "badge status-succeeded" }, `by ${fmt.when(ho.respond_by)}`);
  };
  const row = (ho) => h("tr", { dataset: { testid: "open-handover", overdue: String(overdue(ho)) } },
    h("td", {}, h("a", { href: `#/leads/${ho.lead_id}` }, ho.lead_id.slice(0, 8))),
    h("td", {}, ho.team || h("span", { class: "muted" }, "–")),
    h("td", {}, ho.member || h("span", { class: "muted" }, "nobody")),
    h("td", { class: "small" }, fmt.when(ho.handed_over_at)),
    h("td", { class: "small" }, deadline(ho)),
    h("td", { class: "num" }, fmt.int(ho.escalations.length)));
  return h("section", { class: "panel" }, h("h2", {}, "Acceptance deadlines"),
    h("section", { class: "cards" }, Object.entries(counts).map(([status, n]) => h("div", { class: "card" },
      h("div", { class: "label" }, status), h("div", { class: "value", dataset: { testid: `handovers-${status}` } }, fmt.int(n)))),
      h("div", { class: "card" }, h("div", { class: "label" }, "missed a deadline"),
        h("div", { class: "value", dataset: { testid: "handovers-missed" } }, fmt.int(missed)))),
    h("p", { class: "small muted" }, `Waiting for sales (${open.length}), the nearest deadline first; a missed deadline is escalated `
      + "and may hand the lead to the next rep."),
    open.length ? h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Lead", "Team", "Rep", "Handed over", "Deadline"].map((t) => h("th", {}, t)),
        h("th", { class: "num" }, "Escalations"))),
      h("tbody", {}, open.slice(0, 200).map(row)))) : h("p", { class: "muted" }, "None waiting."));
}

function acceptanceTimes(handovers) {
  return (handovers || []).filter((ho) => ho.accepted_at)
    .map((ho) => (Date.parse(ho.accepted_at) - Date.parse(ho.qualified_at)) / 1000);
}

export async function handoverView(params, config) {
  const [deliveries, canReplay, handovers] = await Promise.all([
    handover(config, "/v1/deliveries?limit=1000"), replayAvailable(config), handoverRecords(config)]);
  const accepted = acceptanceTimes(handovers);
  const counts = { pending: 0, succeeded: 0, failed: 0, disabled: 0 };
  for (const d of deliveries) counts[d.status] = (counts[d.status] || 0) + 1;
  const firstByLead = new Map();
  for (const d of deliveries) {
    if (!d.delivered_at) continue;
    const took = (Date.parse(d.delivered_at) - Date.parse(d.qualified_at)) / 1000;
    if (!firstByLead.has(d.lead_id) || took < firstByLead.get(d.lead_id)) firstByLead.set(d.lead_id, took);
  }
  const times = [...firstByLead.values()];
  const message = h("p", { class: "small", role: "status" });
  const keyInput = h("input", { type: "password", name: "handover_key", autocomplete: "off", placeholder: "handover admin key",
    dataset: { testid: "handover-key" } });
  const buttons = [];
  const NO_ENDPOINT = "Replay is not available: this handover service has no POST /v1/deliveries/{id}/replay endpoint.";
  const NEED_KEY = "Enter the handover admin key (LEADFLOW_HANDOVER_ADMIN_KEY) above to replay.";
  const REPLAY = "Send this delivery again (same webhook-id, so the receiver can dedupe).";
  const syncButtons = () => {
    for (const [button, wrap] of buttons) {
      button.disabled = !canReplay || !keyInput.value;
      wrap.title = !canReplay ? NO_ENDPOINT : keyInput.value ? REPLAY : NEED_KEY;
    }
  };
  keyInput.addEventListener("input", syncButtons);

  const replayButton = (d) => {
    const button = h("button", { type: "button", class: "secondary", dataset: { testid: "replay", deliveryId: d.id } }, "Replay");
    const wrap = h("span", {}, button); // a disabled button shows no tooltip of its own
    buttons.push([button, wrap]);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await handover(config, `/v1/deliveries/${encodeURIComponent(d.id)}/replay`,
          { method: "POST", headers: { authorization: `Bearer ${keyInput.value}` } });
        message.textContent = `Delivery ${d.id} queued again; reload to see its new attempts.`;
        message.className = "small pos";
      } catch (error) {
        message.textContent = error.message;
        message.className = "small neg";
        button.disabled = false;
      }
    });
    return wrap;
  };

  const row = (d, withReplay) => h("tr", { dataset: { testid: withReplay ? "failed-delivery" : "delivery", status: d.status } },
    h("td", {}, h("a", { href: `#/leads/${d.lead_id}` }, d.lead_id.slice(0, 8))),
    h("td", {}, d.destination),
    h("td", {}, h("span", { class: `badge status-${d.status}` }, d.status)),
    h("td", { class: "num" }, fmt.int(d.attempts)),
    h("td", { class: "small" }, fmt.when(d.qualified_at)),
    h("td", { class: "small" }, d.delivered_at ? fmt.when(d.delivered_at) : "–"),
    h("td", { class: "small" }, d.status === "succeeded" ? "" : d.last_error || (d.last_status_code ? `HTTP ${d.last_status_code}` : "")),
    withReplay ? h("td", {}, replayButton(d)) : null);
  const head = (withReplay) => h("thead", {}, h("tr", {}, ["Lead", "Destination", "Status"].map((t) => h("th", {}, t)),
    h("th", { class: "num" }, "Attempts"), h("th", {}, "Qualified"), h("th", {}, "Delivered"), h("th", {}, "Last error"),
    withReplay ? h("th", {}, "") : null));

  const failed = deliveries.filter((d) => d.status === "failed" || d.status === "disabled");
  const wanted = params.get("status") || "";
  const shown = deliveries.filter((d) => !wanted || d.status === wanted).slice(0, 200);
  const filter = h("select", { name: "status", onchange: (event) => {
    window.location.hash = event.target.value ? `#/handover?status=${event.target.value}` : "#/handover";
  } }, ["", "pending", "succeeded", "failed", "disabled"].map((s) => h("option", { value: s, selected: s === wanted }, s || "all")));

  const page = h("div", { dataset: { page: "handover" } },
    h("h1", {}, "Handover"),
    h("section", { class: "cards" }, Object.entries(counts).map(([status, n]) => h("div", { class: `card status-card-${status}` },
      h("div", { class: "label" }, status), h("div", { class: "value", dataset: { testid: `deliveries-${status}` } }, fmt.int(n))))),
    h("div", { class: "grid2" },
      h("section", { class: "panel" }, h("h2", {}, "Speed to sales"),
        h("div", { class: "stat" }, h("span", {}, `SQL → first delivery (${times.length} leads)`),
          h("span", { class: "v" }, `median ${fmt.duration(quantile(times, 0.5))} · p90 ${fmt.duration(quantile(times, 0.9))}`)),
        h("div", { class: "stat" }, h("span", {}, `SQL → accepted by sales (${accepted.length} leads)`),
          h("span", { class: "v", dataset: { testid: "time-to-acceptance" } }, accepted.length
            ? `median ${fmt.duration(quantile(accepted, 0.5))} · p90 ${fmt.duration(quantile(accepted, 0.9))}`
            : "none accepted yet"))),
      h("section", { class: "panel" }, h("h2", {}, `Failed deliveries (${failed.length})`),
        canReplay ? h("form", { class: "filters", onsubmit: (event) => event.preventDefault() },
          h("label", {}, "Handover admin key (only kept in this page)", keyInput)) : h("p", { class: "small muted" }, NO_ENDPOINT),
        message,
        failed.length ? h("div", { class: "scroll" }, h("table", {}, head(true), h("tbody", {}, failed.map((d) => row(d, true)))))
          : h("p", { class: "muted" }, "None."))),
    slaPanel(handovers),
    h("section", { class: "panel" }, h("h2", {}, "Deliveries"),
      h("p", { class: "small muted" }, `The latest ${fmt.int(deliveries.length)} from ${config.handover_url}; status `, filter),
      h("div", { class: "scroll" }, h("table", {}, head(false), h("tbody", {}, shown.map((d) => row(d, false)))))));
  syncButtons();
  return page;
}
