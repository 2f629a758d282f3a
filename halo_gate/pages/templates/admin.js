"use strict";
// The console's live part: polls the JSON API, draws the figures, the charts (inline SVG) and
// the tables, and sends the console's forms in the background. Everything is built with
// textContent and DOM calls, never from HTML strings, so no value can inject markup.
(() => {
  const API = {{ api | tojson }};
  const CSRF = {{ csrf_token | tojson }};
  const CONSOLE = {{ console | tojson }};
  const CURRENCY = {{ currency | tojson }};
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const number = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString());
  const money = (n) => `${Number(n).toLocaleString(undefined, {maximumFractionDigits: 0})} ${CURRENCY}`;
  const time = (s) => new Date(s * 1000).toLocaleString(undefined,
    {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});

  function say(text, bad) {
    $("status").textContent = text;
    $("status").className = bad ? "bad" : "";
  }

  async function api(path) {
    const response = await fetch(API + path, {headers: {accept: "application/json"}});
    if (response.status === 401) { location.reload(); throw new Error("signed out"); }
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const child of children) node.append(child);
    return node;
  }

  function actionForm(action, fields, label, title) {
    const form = el("form", {method: "post", action: `${CONSOLE}/${action}`, class: "act"});
    form.append(el("input", {type: "hidden", name: "csrf_token", value: CSRF}));
    for (const [name, value] of Object.entries(fields)) {
      form.append(el("input", {type: "hidden", name, value}));
    }
    form.append(el("button", {type: "submit", class: "secondary", "aria-label": title}, label));
    return form;
  }

  // Figures
  function waited(seconds) {
    if (seconds < 90) return `${seconds} s`;
    if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
  }

  async function usage() {
    const u = await api("/usage");
    const c = u.concurrent, n = u.named;
    $("c-in-use").textContent = number(c.in_use);
    $("c-seats").textContent = number(c.seats);
    $("c-peak").textContent = number(c.peak_24h);
    $("c-denials").textContent = number(c.denials_24h);
    const line = u.queue || {length: 0, longest_wait: 0};
    $("c-queue").textContent = number(line.length);
    $("c-queue-wait").textContent = line.length ? waited(line.longest_wait) : "–";
    $("n-assigned").textContent = number(n.assigned);
    $("n-seats").textContent = number(n.seats);
    $("n-active").textContent = number(n.active);
    $("n-quarantined").textContent = number(n.quarantined);
    const share = c.seats ? Math.min(1, c.in_use / c.seats) : 1;
    $("c-meter").firstElementChild.style.width = `${share * 100}%`;
    $("c-meter").classList.toggle("full", c.in_use >= c.seats);
    const groups = Object.entries(u.groups || {});
    const reserve = groups.filter(([, g]) => g.reserved > 0).map(([name, g]) => `${name}=${g.reserved}`);
    const cap = groups.filter(([, g]) => g.cap !== null).map(([name, g]) => `${name}=${g.cap}`);
    for (const [id, value] of [["f-concurrent", c.seats], ["f-named", n.seats],
      ["f-reserve", reserve.join(",") || "none"], ["f-cap", cap.join(",") || "none"]]) {
      if (document.activeElement !== $(id)) $(id).placeholder = value;
    }
  }

  // Sessions
  async function sessions() {
    const search = encodeURIComponent($("s-search").value.trim());
    const found = await api(`/sessions?limit=200&search=${search}`);
    const rows = found.sessions.map((s) => el("tr", {},
      el("td", {}, s.user), el("td", {}, s.licence), el("td", {}, time(s.since)),
      el("td", {}, time(s.last_seen)),
      el("td", {}, actionForm("end", {session_id: s.session_id}, "End session",
        `End the session of ${s.user}`))));
    $("s-rows").replaceChildren(...rows);
    const shown = found.sessions.length;
    $("s-count").textContent = shown < found.total ? `(${shown} of ${found.total})` : `(${found.total})`;
  }

  // Named seats
  async function named() {
    const seats = await api("/named");
    $("n-people").replaceChildren(...seats.assigned.map((h) => el("li", {},
      el("span", {}, h.person + (h.active ? " · signed in" : "")),
      actionForm("unassign", {person: h.person}, "Unassign", `Take the seat back from ${h.person}`))));
    $("n-cooling").replaceChildren(...seats.quarantined.map((q) => el("li", {},
      el("span", {}, `Seat of ${q.person} cools down until ${time(q.until)}`))));
  }

  // Charts: a y scale of 1-2-5 steps keeps labels readable for a pool of 5 and of 5,000.
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

  function draw(target, points, capacity, xLabel, bars) {
    const W = 720, H = 220, L = 52, R = 8, T = 10, B = 46, strip = 18;
    const plotH = H - T - B - strip;
    const values = points.map((p) => p.value);
    const step = niceStep(Math.max(capacity, ...values));
    const top = step * Math.ceil(Math.max(capacity, ...values, 1) / step);
    const x = (i) => L + (i + 0.5) * (W - L - R) / points.length;
    const y = (v) => T + plotH - (v / top) * plotH;
    const nodes = [];
    for (let v = 0; v <= top; v += step) {
      nodes.push(svg("line", {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#8884"}));
      nodes.push(svg("text", {x: L - 6, y: y(v) + 4, "text-anchor": "end"}, number(v)));
    }
    if (bars) {
      const width = Math.max(1, (W - L - R) / points.length - 2);
      points.forEach((p, i) => nodes.push(svg("rect", {x: x(i) - width / 2, y: y(p.value),
        width, height: T + plotH - y(p.value), fill: "#1f4e8c"})));
    } else {
      const d = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`);
      nodes.push(svg("path", {d: d.join(""), fill: "none", stroke: "#1f4e8c", "stroke-width": 1.5}));
    }
    nodes.push(svg("line", {x1: L, x2: W - R, y1: y(capacity), y2: y(capacity), stroke: "#e59400",
      "stroke-width": 2, "stroke-dasharray": "6 4"}));
    const most = Math.max(1, ...points.map((p) => p.denials));
    const base = H - B + 2;
    points.forEach((p, i) => {
      if (p.denials > 0) {
        const h = Math.max(2, (p.denials / most) * strip);
        nodes.push(svg("rect", {x: x(i) - 1, y: base - h, width: 2, height: h, fill: "#b3261e"}));
      }
    });
    points.forEach((p, i) => {
      if (p.label) nodes.push(svg("text", {x: x(i), y: H - 22, "text-anchor": "middle"}, p.label));
    });
    nodes.push(svg("text", {x: W - R, y: H - 6, "text-anchor": "end"}, xLabel));
    target.replaceChildren(...nodes);
    // Where the chart scrolls (a phone), the latest time is what is shown first.
    target.parentElement.scrollLeft = target.parentElement.scrollWidth;
  }

  async function history() {
    const h = await api("/history");
    // A minute without admissions has no recorded peak; the level is held from the last one,
    // and the current count ends the line.
    let level = 0;
    const minutes = h.minutes.map((m, i) => {
      if (m.peak !== null) level = m.peak;
      if (i === h.minutes.length - 1) level = Math.max(level, h.in_use);
      const at = new Date(m.at * 1000);
      const label = at.getMinutes() === 0 && at.getHours() % 4 === 0
        ? at.toLocaleTimeString(undefined, {hour: "2-digit", minute: "2-digit"}) : "";
      return {value: level, denials: m.denials, label};
    });
    draw($("chart-day"), minutes, h.capacity, "time of day", false);
    const peak = Math.max(...minutes.map((m) => m.value));
    const denied = h.minutes.reduce((sum, m) => sum + m.denials, 0);
    $("chart-day").setAttribute("aria-label",
      `Peak ${peak} in use of ${h.capacity} slots in the last 24 hours; ${denied} denied.`);
    const days = h.days.map((d, i) => ({value: d.peak, denials: d.denials,
      label: i % 5 === h.days.length % 5 ? new Date(d.at * 1000).toLocaleDateString(undefined,
        {month: "short", day: "numeric"}) : ""}));
    draw($("chart-month"), days, h.capacity, "day", true);
    $("chart-month").setAttribute("aria-label",
      `Daily peaks over ${h.days.length} days: highest ${Math.max(...days.map((d) => d.value))}.`);
  }

  // Cost and the recommended split
  function lines(target, entries) {
    target.replaceChildren(...entries.map(([k, v]) =>
      el("p", {}, el("span", {class: "muted"}, `${k}: `), v)));
  }

  const NOT_YET = {computing: "Computing", failed: "Could not compute", no_prices: "Prices",
    no_planner: "Planner", too_little_data: "Not yet"};
  let planPoll;

  async function recommendation() {
    const r = await api("/recommendation");
    clearTimeout(planPoll);
    // A run takes seconds to minutes on another worker or here: ask again soon meanwhile.
    if (r.status === "computing") planPoll = setTimeout(() => refresh(recommendation), 3000);
    const label = NOT_YET[r.status] || "Status";
    const since = r.started_at ? ` Started ${time(Date.parse(r.started_at) / 1000)}.` : "";
    if (r.cost) {
      lines($("cost"), [
        [`${r.current.named} named + ${r.current.concurrent} concurrent`, money(r.cost.total_annual)],
        [`All ${r.people} people seen as named`, money(r.cost.named_only_annual)],
        ["Saving", `${money(r.cost.saving)} (${r.cost.saving_pct} %)`],
      ]);
    } else {
      lines($("cost"), [[label, r.status === "computing" ? "shown with the recommendation." : r.message]]);
    }
    if (r.status !== "ok") { lines($("plan"), [[label, r.message + since]]); return; }
    const p = r.plan;
    const names = p.named.slice(0, 12).join(", ") + (p.named.length > 12 ? ` and ${p.named.length - 12} more` : "");
    const shown = [
      ["Recommended", `${p.named.length} named + ${p.concurrent_slots} concurrent`],
      ["Cost", money(p.annual_cost)],
      ["Against the current split", p.current ? money(p.current.saving) + " saved" : "–"],
      ["People to name", names || "nobody"],
      ["From", `${r.sessions} sessions of ${r.people} people over ${r.days_recorded} days`],
    ];
    if (p.annual_cost_lower_bound !== undefined) {
      shown.push(["Optimum", `at most ${money(p.annual_cost - p.annual_cost_lower_bound)} cheaper ` +
        "(the search stopped at its time limit)"]);
    }
    lines($("plan"), shown);
  }

  async function refresh(...parts) {
    try { await Promise.all(parts.map((part) => part())); }
    catch (error) { say(`Could not update: ${error.message}`, true); }
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.classList.contains("act")) return;
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch(form.action, {method: "POST",
        headers: {accept: "application/json"}, body: new URLSearchParams(new FormData(form))});
      const answer = await response.json();
      say(answer.message, !response.ok);
      if (response.ok && form.action.endsWith("/assign")) form.reset();
    } catch (error) {
      say(`The action failed: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
    refresh(usage, sessions, named, history);
  });

  let typing;
  $("s-search").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => refresh(sessions), 250);
  });

  refresh(usage, sessions, named, history, recommendation);
  setInterval(() => refresh(usage, sessions, named), 3000);
  setInterval(() => refresh(history), 10000);
  setInterval(() => refresh(recommendation), 120000);
})();
