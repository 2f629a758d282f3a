// The console's live part: polls the JSON API, draws the figures and the tables, and sends the
// console's forms in the background, answering beside the control that was used. Everything is
// built with textContent and DOM calls, never from HTML strings, so no value can inject markup.
const API = {{ api | tojson }};
const CSRF = {{ csrf_token | tojson }};
const CONSOLE = {{ console | tojson }};
const CURRENCY = {{ currency | tojson }};
const COOLDOWN_HOURS = {{ (cooldown / 3600) | round(1) | tojson }};
const HARVESTING = {{ (harvest_idle > 0) | tojson }};
const PAGE = 25;
const $ = (id) => document.getElementById(id);
const number = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString());
const money = (n) => `${Number(n).toLocaleString(undefined, {maximumFractionDigits: 0})} ${CURRENCY}`;
const time = (s) => new Date(s * 1000).toLocaleString(undefined,
  {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});
const plural = (n, word) => `${number(n)} ${word}${n === 1 ? "" : "s"}`;
let latest = {usage: null, line: null};

function say(target, text, bad) {
  target.textContent = text;
  target.className = `feedback ${bad ? "bad" : "good"}`;
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

function cell(label, ...children) { return el("td", {"data-label": label}, ...children); }

// A form for one action on one row. `confirm` (a question) makes the first press ask it beside
// the button; only the second sends the form. `feedback`: where the answer is said.
function actionForm(action, fields, label, title, feedback, confirm) {
  const form = el("form", {method: "post", action: `${CONSOLE}/${action}`, class: "act"});
  form.append(el("input", {type: "hidden", name: "csrf_token", value: CSRF}));
  for (const [name, value] of Object.entries(fields)) {
    form.append(el("input", {type: "hidden", name, value}));
  }
  form.append(el("button", {type: "submit", class: "secondary", "aria-label": title}, label));
  form.feedback = feedback;
  if (confirm) form.dataset.confirm = confirm;
  return form;
}

// While a question waits for an answer, the table it is in is not redrawn under it.
const asking = (tbody) => tbody.querySelector("form.armed") !== null;

function arm(form, question, yes) {
  form.classList.add("armed");
  const button = form.querySelector("button[type=submit]");
  form.dataset.label = button.textContent;
  form.dataset.title = button.getAttribute("aria-label") || "";
  button.textContent = yes;
  button.setAttribute("aria-label", yes);
  const cancel = el("button", {type: "button", class: "secondary"}, "Cancel");
  cancel.addEventListener("click", () => disarm(form));
  form.prepend(el("span", {class: "ask"}, question + " "));
  button.after(cancel);
  button.focus();
}

function disarm(form) {
  form.classList.remove("armed");
  form.querySelector(".ask")?.remove();
  form.querySelector("button[type=button]")?.remove();
  const button = form.querySelector("button[type=submit]");
  if (form.dataset.label) button.textContent = form.dataset.label;
  if (form.dataset.title) button.setAttribute("aria-label", form.dataset.title);
  else if (form.dataset.title === "") button.removeAttribute("aria-label");
}

// Figures, the groups and the capacity form
function waited(seconds) {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

async function usage() {
  const u = latest.usage = await api("/usage");
  const c = u.concurrent, n = u.named;
  $("c-in-use").textContent = number(c.in_use);
  $("c-seats").textContent = number(c.seats);
  $("c-peak").textContent = number(c.peak_24h);
  $("c-denials").textContent = number(c.denials_24h);
  // Harvests are shown while harvesting is on, and after it is turned off while any counts.
  $("c-harvested").textContent = number(c.harvested_24h);
  for (const node of document.querySelectorAll(".harvested")) {
    node.hidden = !HARVESTING && !c.harvested_24h;
  }
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
  showCurrent({f_concurrent: c.seats, f_named: n.seats, f_reserve: reserve.join(","), f_cap: cap.join(",")});
  drawGroups();
}

// The capacity form shows the values in force as its values. A field the administrator has
// edited keeps the edit; the others follow the store.
function showCurrent(values) {
  for (const [key, value] of Object.entries(values)) {
    const input = $(key.replace("_", "-"));
    const now = String(value);
    if (input.dataset.current === undefined) input.dataset.current = input.value;
    const edited = input.value !== input.dataset.current;
    if (!edited && document.activeElement !== input) input.value = now;
    input.dataset.current = now;
  }
}

function drawGroups() {
  const groups = Object.entries((latest.usage && latest.usage.groups) || {});
  const waiting = (latest.line && latest.line.groups) || {};
  $("g-table").hidden = groups.length === 0;
  $("g-empty").hidden = groups.length > 0;
  $("g-rows").replaceChildren(...groups.map(([name, g]) => el("tr", {},
    cell("Group", name), cell("Reserved", number(g.reserved)),
    cell("Cap", g.cap === null ? "none" : number(g.cap)), cell("In use", number(g.in_use)),
    cell("In reserve", number(g.in_reserve)), cell("In shared", number(g.in_shared)),
    cell("Denied, 24 h", number(g.denials_24h)), cell("Waiting", number(waiting[name] || 0)))));
}

// People with a licence
const people = {offset: 0, total: 0};

async function licences() {
  if (asking($("l-rows"))) return;
  const search = encodeURIComponent($("l-search").value.trim());
  const found = await api(`/licences?limit=${PAGE}&offset=${people.offset}&search=${search}`);
  if (found.total && people.offset >= found.total) {
    people.offset = Math.max(0, found.total - PAGE);
    return licences();
  }
  if (asking($("l-rows"))) return;  // asked while the page was on its way
  people.total = found.total;
  const feedback = $("l-feedback");
  const rows = found.licences.map((h) => el("tr", {},
    cell("Person", h.person), cell("Licence", h.licence), cell("Group", h.group || "–"),
    cell("Since", time(h.since)), cell("Last active", time(h.last_activity)),
    cell("Sessions", el("ul", {class: "sessions"}, ...h.sessions.map((s) => el("li", {},
      el("span", {}, `${s.device}${s.address ? " · " + s.address : ""} · seen ${time(s.last_seen)}`),
      actionForm("end", {session_id: s.session_id, person: h.person}, "End session",
        `End the session of ${h.person} on ${s.device}`, feedback))))),
    cell("Action", actionForm("end_licence", {person: h.person}, "End licence",
      `End the licence of ${h.person}`, feedback,
      `End ${h.person}'s licence, signing out ${plural(h.sessions.length, "session")}?`))));
  $("l-rows").replaceChildren(...rows);
  const shown = found.licences.length;
  $("l-count").textContent = `(${number(found.total)})`;
  $("l-range").textContent = shown ? `${number(people.offset + 1)}–${number(people.offset + shown)} of ${number(found.total)}` : "nobody";
  $("l-prev").disabled = people.offset === 0;
  $("l-next").disabled = people.offset + shown >= found.total;
}

// The waiting line (its first page: the people whom the next free slots serve)
async function line() {
  const found = latest.line = await api(`/queue?limit=${PAGE}`);
  drawGroups();
  if (asking($("q-rows"))) return;
  $("q-count").textContent = found.length ? `(${number(found.length)})` : "";
  $("q-table").hidden = found.length === 0;
  $("q-empty").hidden = found.length > 0;
  $("q-rows").replaceChildren(...found.waiting.map((w) => el("tr", {},
    cell("Place", number(w.position)), cell("Person", w.person), cell("Group", w.group || "–"),
    cell("Waiting since", time(w.since)),
    cell("Slot offered until", w.offer_until ? time(w.offer_until) : "–"),
    cell("Action", actionForm("dequeue", {person: w.person}, "Remove from line",
      `Remove ${w.person} from the line`, $("q-feedback"),
      `Remove ${w.person} from the line? They will have to sign in again.`)))));
}

// Named seats
async function named() {
  if (asking($("n-people"))) return;
  const seats = await api("/named");
  if (asking($("n-people"))) return;
  $("n-people").replaceChildren(...seats.assigned.map((h) => el("li", {},
    el("span", {}, h.person + (h.active ? " · signed in" : "")),
    actionForm("unassign", {person: h.person}, "Unassign", `Take the seat back from ${h.person}`,
      $("n-feedback"), `Take the seat back from ${h.person}? It cools down for ${COOLDOWN_HOURS} h.`))));
  $("n-cooling").replaceChildren(...seats.quarantined.map((q) => el("li", {},
    el("span", {}, `Seat of ${q.person} cools down until ${time(q.until)}`))));
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
  ];
  const h = r.harvesting;
  if (h) {
    const off = h.enabled ? "" : " It is off: HALO_GATE_HARVEST_IDLE turns it on.";
    shown.push(["Harvesting", `${h.sentence[0].toUpperCase()}${h.sentence.slice(1)}.${off}`]);
  }
  shown.push(
    ["People to name", names || "nobody"],
    ["From", `${r.sessions} sessions of ${r.people} people over ${r.days_recorded} days`],
  );
  if (p.annual_cost_lower_bound !== undefined) {
    shown.push(["Optimum", `at most ${money(p.annual_cost - p.annual_cost_lower_bound)} cheaper ` +
      "(the search stopped at its time limit)"]);
  }
  lines($("plan"), shown);
}

async function refresh(...parts) {
  try {
    await Promise.all(parts.map((part) => part()));
    if ($("status").dataset.failed) { $("status").textContent = ""; delete $("status").dataset.failed; }
  } catch (error) {
    $("status").textContent = `Could not update: ${error.message}`;
    $("status").className = "bad";
    $("status").dataset.failed = "1";
  }
}

// The capacity form sends only what was changed, and asks before shrinking the pool below use.
function capacityBody(form) {
  const body = new URLSearchParams({csrf_token: CSRF});
  for (const input of form.querySelectorAll("input[id^=f-]")) {
    if (input.value.trim() !== (input.dataset.current ?? "")) {
      body.set(input.name, input.value.trim() === "" && input.name.startsWith("pool") ? "none" : input.value.trim());
    }
  }
  return body;
}

function capacityQuestion(body) {
  const slots = body.get("concurrent_seats");
  const inUse = latest.usage ? latest.usage.concurrent.in_use : 0;
  if (slots !== null && /^[0-9]+$/.test(slots) && Number(slots) < inUse) {
    return `Shrink the pool to ${number(Number(slots))} while ${number(inUse)} are in use? ` +
      "Nobody's session ends; new admissions wait until use falls below it.";
  }
  return null;
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.classList.contains("act")) return;
  event.preventDefault();
  const feedback = form.feedback || form.querySelector(".feedback");
  const capacity = form.id === "capacity";
  const body = capacity ? capacityBody(form) : new URLSearchParams(new FormData(form));
  if (capacity && [...body.keys()].length === 1) {
    say(feedback, "Nothing to save: change a value first.", true);
    return;
  }
  const question = form.dataset.confirm || (capacity && capacityQuestion(body));
  if (question && !form.classList.contains("armed")) {
    arm(form, question, capacity ? "Shrink it" : `Yes, ${form.querySelector("button").textContent.toLowerCase()}`);
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const response = await fetch(form.action, {method: "POST", headers: {accept: "application/json"}, body});
    const answer = await response.json();
    say(feedback, answer.message, !response.ok);
    if (response.ok && form.action.endsWith("/assign")) form.reset();
    if (response.ok && capacity) {
      for (const input of form.querySelectorAll("input[id^=f-]")) input.value = input.dataset.current;
    }
  } catch (error) {
    say(feedback, `The action failed: ${error.message}`, true);
  } finally {
    button.disabled = false;
    disarm(form);
  }
  refresh(usage, licences, line, named, history, log);
});

function start() {
  let typing;
  $("l-search").addEventListener("input", () => {
    clearTimeout(typing);
    people.offset = 0;
    typing = setTimeout(() => refresh(licences), 250);
  });
  $("l-prev").addEventListener("click", () => { people.offset = Math.max(0, people.offset - PAGE); refresh(licences); });
  $("l-next").addEventListener("click", () => { people.offset += PAGE; refresh(licences); });
  startChart();
  startLog();
  refresh(usage, licences, line, named, history, log, recommendation);
  setInterval(() => refresh(usage, licences, line, named), 3000);
  setInterval(() => refresh(history, log), 10000);
  setInterval(() => refresh(recommendation), 120000);
}
