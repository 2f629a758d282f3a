// The audit log, newest first, filtered by person, event and reason, a page at a time. "Older"
// carries on from where the last page stopped (a filtered page reads a bounded stretch of the
// log, so it may stop before it is full); "Newer" goes back through the pages already seen.
const LOG_PAGE = 25;
const trail = [];  // the `before` of each page shown before this one
let before = null;

function logQuery() {
  const query = new URLSearchParams({limit: LOG_PAGE});
  const person = $("log-person").value.trim(), event = $("log-event").value;
  const reason = $("log-reason").value.trim();
  if (person) query.set("person", person);
  if (event) query.set("event", event);
  if (reason) query.set("reason", reason);
  if (before) query.set("before", before);
  return query;
}

async function log() {
  // Only the newest page follows the log as it grows; an older page stays as it was read.
  if (trail.length && arguments.length === 0 && log.shown) return;
  const page = await api(`/events?${logQuery()}`);
  log.shown = true;
  $("log-rows").replaceChildren(...page.events.map((e) => el("tr", {},
    cell("When", time(Number(e.at) / 1000)), cell("Event", e.event), cell("Person", e.user || "–"),
    cell("Licence", e.licence || "–"), cell("Reason", e.reason || ""),
    cell("In use", e.in_use ? `${number(Number(e.in_use))} of ${number(Number(e.capacity))}` : ""))));
  log.next = page.next_before;
  $("log-older").disabled = !page.next_before;
  $("log-newer").disabled = trail.length === 0;
  const filtered = logQuery().has("person") || logQuery().has("event") || logQuery().has("reason");
  let note = page.events.length ? "" : "No events.";
  if (filtered && page.events.length < LOG_PAGE && page.next_before) {
    note = `Searched ${number(page.scanned)} events; "Older" searches further back.`;
  }
  $("log-note").textContent = note;
}

function startLog() {
  const again = () => { trail.length = 0; before = null; refresh(() => log(true)); };
  let typing;
  for (const id of ["log-person", "log-reason"]) {
    $(id).addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(again, 300); });
  }
  $("log-event").addEventListener("change", again);
  $("log-older").addEventListener("click", () => {
    trail.push(before);
    before = log.next;
    refresh(() => log(true));
  });
  $("log-newer").addEventListener("click", () => {
    before = trail.pop() ?? null;
    refresh(() => log(true));
  });
}
