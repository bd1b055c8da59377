// Two small SVG charts drawn by hand (no chart library): lines for rates, stacked bars for counts.
// Every point and bar carries a <title>, which the browser shows as a tooltip.
import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";
const W = 620;
const H = 230;
const M = { left: 46, right: 12, top: 10, bottom: 26 };

function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function frame(labels, yMax, yFormat, title) {
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  const plotH = H - M.top - M.bottom;
  for (let i = 0; i <= 4; i += 1) {
    const v = (yMax * i) / 4;
    const y = M.top + plotH - (plotH * i) / 4;
    svg.append(s("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y, y2: y }));
    svg.append(s("text", { class: "axis", x: M.left - 6, y: y + 4, "text-anchor": "end" }, yFormat(v)));
  }
  const step = Math.max(1, Math.ceil(labels.length / 8));
  const x = xScale(labels.length);
  labels.forEach((label, i) => {
    if (i % step === 0) svg.append(s("text", { class: "axis", x: x(i), y: H - 8, "text-anchor": "middle" }, label));
  });
  return svg;
}

function xScale(n) {
  const plotW = W - M.left - M.right;
  return (i) => M.left + (n <= 1 ? plotW / 2 : (plotW * (i + 0.5)) / n);
}

function legend(series) {
  return h("div", { class: "legend" }, series.map((x) => h("span", { class: x.cls }, h("span", { class: `swatch ${x.cls}` }), x.name)));
}

function swatchColours(node, series) {
  // legend swatches take their colour from the stage classes, which set --c
  for (const el of node.querySelectorAll(".swatch")) {
    const cls = [...el.classList].find((c) => c.startsWith("s-"));
    if (cls) el.classList.add(`stage-${cls.slice(2)}`);
  }
  return node;
}

/** series: [{name, cls, values: [number|null]}]; values are rates 0..1. */
export function lineChart({ labels, series, title }) {
  const yMax = Math.max(0.25, Math.min(1, Math.ceil(Math.max(0, ...series.flatMap((x) => x.values.filter((v) => v !== null))) * 4) / 4));
  const yFormat = (v) => `${Math.round(v * 100)}%`;
  const svg = frame(labels, yMax, yFormat, title);
  const x = xScale(labels.length);
  const plotH = H - M.top - M.bottom;
  const y = (v) => M.top + plotH - (plotH * v) / yMax;
  for (const line of series) {
    let d = "";
    line.values.forEach((v, i) => {
      if (v === null) return;
      const previous = i > 0 ? line.values[i - 1] : null;
      d += `${previous === null ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
    });
    if (d) svg.append(s("path", { class: `line ${line.cls}`, d }));
    line.values.forEach((v, i) => {
      if (v === null) return;
      svg.append(s("circle", { class: line.cls, cx: x(i), cy: y(v), r: 2.6 }, s("title", {}, `${labels[i]} · ${line.name}: ${(v * 100).toFixed(1)} %`)));
    });
  }
  return swatchColours(h("figure", { class: "figure" }, svg, legend(series)), series);
}

/** The smallest of 1, 2, 5 x 10^n that is at least ``raw`` (whole numbers only: these are counts). */
function niceStep(raw) {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((x) => x >= raw);
  return Math.max(1, step);
}

/** series: [{name, cls, values: [count]}], stacked per label. */
export function stackedBars({ labels, series, title }) {
  const totals = labels.map((_, i) => series.reduce((sum, x) => sum + (x.values[i] || 0), 0));
  const yMax = 4 * niceStep(Math.max(1, ...totals) / 4);
  const svg = frame(labels, yMax, (v) => (v >= 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)}k` : String(Math.round(v))), title);
  const x = xScale(labels.length);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const bw = Math.max(2, Math.min(28, (plotW / Math.max(1, labels.length)) * 0.7));
  labels.forEach((label, i) => {
    let base = 0;
    for (const bar of series) {
      const v = bar.values[i] || 0;
      if (!v) continue;
      const hgt = (plotH * v) / yMax;
      const yTop = M.top + plotH - (plotH * (base + v)) / yMax;
      svg.append(s("rect", { class: bar.cls, x: x(i) - bw / 2, y: yTop, width: bw, height: Math.max(hgt, 0.5) },
        s("title", {}, `${label} · ${bar.name}: ${v.toLocaleString("en-US")}`)));
      base += v;
    }
  });
  return swatchColours(h("figure", { class: "figure" }, svg, legend(series)), series);
}
