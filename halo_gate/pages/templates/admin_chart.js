// The chart of use over time: peak in use, capacity as it was at each time (its changes marked),
// the waiting line's length, and denials in a strip below, on one time axis. It is drawn at the
// width it is given, so on a phone both axes stay in view.
const SVG = "http://www.w3.org/2000/svg";
let range = "24h";
const SPANS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days"};
const STEPS = {"24h": "per minute", "7d": "per hour", "30d": "per 4 hours"};

// A y scale of 1-2-5 steps keeps labels readable for a pool of 5 and of 5,000.
function niceStep(max) {
  const rough = Math.max(max, 1) / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
  return Math.max(1, step);
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function label(at, h) {
  const d = new Date(at * 1000);
  if (h.range === "24h") return d.toLocaleTimeString(undefined, {hour: "2-digit", minute: "2-digit"});
  return d.toLocaleDateString(undefined, {month: "short", day: "numeric"});
}

// The capacity in force at each point: the last change at or before its end.
function capacities(h) {
  const changes = h.capacity_changes.length ? h.capacity_changes : [{at: 0, concurrent: h.capacity}];
  let i = 0;
  return h.points.map((p) => {
    while (i + 1 < changes.length && changes[i + 1].at < p.at + h.step) i += 1;
    return changes[i].concurrent;
  });
}

function drawHistory(h) {
  const box = $("chart-box");
  const W = Math.max(300, Math.round(box.clientWidth || 720)), H = 240;
  const L = 44, R = 8, T = 10, B = 44, strip = 22;
  const plotH = H - T - B - strip;
  // A point without admissions has no recorded peak: the level is held from the last one,
  // and the current count ends the line.
  let level = 0;
  const peaks = h.points.map((p, i) => {
    if (p.peak !== null) level = p.peak;
    if (i === h.points.length - 1) level = Math.max(level, h.in_use);
    return level;
  });
  const caps = capacities(h);
  const queue = h.points.map((p, i) => (i === h.points.length - 1 ? Math.max(p.queue, h.queue) : p.queue));
  const most = Math.max(1, ...peaks, ...caps, ...queue);
  const step = niceStep(most);
  const top = step * Math.ceil(most / step);
  const n = h.points.length;
  const x = (i) => L + (i + 0.5) * (W - L - R) / n;
  const y = (v) => T + plotH - (v / top) * plotH;
  const nodes = [svg("rect", {x: 0, y: 0, width: W, height: H, fill: "none"})];
  for (let v = 0; v <= top; v += step) {
    nodes.push(svg("line", {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#8884"}));
    nodes.push(svg("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end"}, number(v)));
  }
  const path = (values, attrs) => svg("path", {fill: "none", ...attrs,
    d: values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("")});
  nodes.push(path(caps, {stroke: "#e59400", "stroke-width": 2, "stroke-dasharray": "6 4", class: "capacity"}));
  nodes.push(path(queue, {stroke: "#7b3fa0", "stroke-width": 1.5, class: "queue"}));
  nodes.push(path(peaks, {stroke: "#1f4e8c", "stroke-width": 1.5, class: "peak"}));
  // Each capacity change inside the range, marked where it happened.
  const first = h.points[0].at, span = n * h.step;
  for (const c of h.capacity_changes) {
    if (c.at < first) continue;
    const cx = L + ((c.at - first) / span) * (W - L - R);
    nodes.push(svg("line", {x1: cx, x2: cx, y1: T, y2: T + plotH, stroke: "#e59400", "stroke-dasharray": "2 3", class: "change"}));
    const anchor = cx > W - R - 30 ? "end" : cx < L + 30 ? "start" : "middle";
    nodes.push(svg("text", {x: cx, y: T + 9, "text-anchor": anchor, fill: "#e59400"}, `▼ ${number(c.concurrent)}`));
  }
  const denied = Math.max(1, ...h.points.map((p) => p.denials));
  const base = H - B + 4;
  const width = Math.max(1, (W - L - R) / n - 1);
  h.points.forEach((p, i) => {
    if (p.denials > 0) {
      const bar = Math.max(2, (p.denials / denied) * strip);
      nodes.push(svg("rect", {x: x(i) - width / 2, y: base - bar, width, height: bar, fill: "#b3261e"}));
    }
  });
  if (h.points.some((p) => p.denials)) {
    nodes.push(svg("text", {x: L - 6, y: base, "text-anchor": "end", fill: "#b3261e"}, number(denied)));
  }
  // Time labels at round points (the hour; a day's start), every k-th so they stay ~70 px apart,
  // counted from the latest.
  const pxPer = (W - L - R) / n;
  const ticks = [];
  h.points.forEach((p, i) => {
    const d = new Date(p.at * 1000);
    if (h.range === "24h" ? d.getMinutes() === 0 : d.getHours() < h.step / 3600) ticks.push(i);
  });
  const gap = ticks.length > 1 ? (ticks[1] - ticks[0]) * pxPer : W;
  const k = [1, 2, 3, 4, 6, 12, 24].find((m) => m * gap >= 70) || 24;
  ticks.filter((_, j) => (ticks.length - 1 - j) % k === 0).forEach((i) => {
    nodes.push(svg("text", {x: x(i), y: H - 20, "text-anchor": "middle"}, label(h.points[i].at, h)));
  });
  nodes.push(svg("text", {x: W - R, y: H - 4, "text-anchor": "end"},
    STEPS[h.range]));
  const chart = $("chart");
  chart.setAttribute("viewBox", `0 0 ${W} ${H}`);
  chart.replaceChildren(...nodes);
  const refused = h.points.reduce((sum, p) => sum + p.denials, 0);
  chart.setAttribute("aria-label", `Over the last ${SPANS[h.range]}: ` +
    `peak ${Math.max(...peaks)} in use, capacity ${h.capacity} now, ${refused} denied, ` +
    `at most ${Math.max(...queue)} waiting.`);
}

let drawn = null;

async function history() {
  drawn = await api(`/history?range=${range}`);
  drawHistory(drawn);
}

function startChart() {
  for (const button of document.querySelectorAll(".ranges button")) {
    button.addEventListener("click", () => {
      range = button.dataset.range;
      for (const other of document.querySelectorAll(".ranges button")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      refresh(history);
    });
  }
  let resizing;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => drawn && drawHistory(drawn), 150);
  });
}
