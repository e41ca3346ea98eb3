// The dashboard: wires the panels to the control plane. The feed is pushed (Server-Sent Events);
// the rest is polled (the journal with `since`, the world every two seconds), and a panel is only
// re-rendered when what it shows changed.

import { act, api, notify } from "./api.js";
import { setText } from "./dom.js";
import { Chaos, Coverage } from "./chaos.js";
import { Faults } from "./faults.js";
import { Feed } from "./feed.js";
import { Journal } from "./journal.js";
import { Agora, BitHuman, Tenants } from "./world.js";

const FAST_MS = 1000; // journal, clock, Agora agents
const SLOW_MS = 2000; // tenants, accounts, customers, faults

const agora = new Agora();
const feed = new Feed((event) => agora.noteEvent(event));
const journal = new Journal();
const bithuman = new BitHuman();
const faults = new Faults();
const chaos = new Chaos();
const coverage = new Coverage();
const tenants = new Tenants((id) => {
  const select = document.getElementById("feed-tenant");
  select.value = id;
  select.dispatchEvent(new Event("change"));
  notify(`The live feed shows ${id} only; choose “all tenants” to see everything.`);
});

// -- the clock and the world-wide controls -------------------------------------------------------

const clockNow = document.getElementById("clock-now");
const clockMode = document.getElementById("clock-mode");
const freezeButton = document.getElementById("clock-freeze");
let clock = null;

function showClock(value) {
  clock = value;
  setText(clockNow, value.iso.slice(0, 19).replace("T", " ") + " UTC");
  setText(clockMode, value.frozen ? "frozen" : value.speed === 1 ? "running" : `running ×${value.speed}`);
  clockMode.dataset.frozen = String(value.frozen);
  setText(freezeButton, value.frozen ? "Resume" : "Freeze");
}

document.getElementById("advance-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("advance-seconds");
  const seconds = Number(input.value);
  act(
    event.target.querySelector("button"),
    () => api("POST", "/clock/advance", { seconds }),
    (value) => {
      showClock(value);
      return `Mock clock moved ${seconds} s forward.`;
    },
    fast,
  );
});

freezeButton.addEventListener("click", () =>
  act(
    freezeButton,
    () => api("POST", clock?.frozen ? "/clock/resume" : "/clock/freeze", {}),
    (value) => {
      showClock(value);
      return value.frozen ? "Mock clock frozen." : "Mock clock running.";
    },
  ),
);

const resetButton = document.getElementById("reset");
resetButton.addEventListener("click", () =>
  act(
    resetButton,
    async () => {
      await api("POST", "/reset", {});
      feed.reset();
      agora.reset();
    },
    "World reset to its start-up fixtures; inbox, request log and faults cleared.",
    async () => {
      await journal.reset();
      await Promise.all([slow(), fast()]);
    },
  ),
);

// -- polling ---------------------------------------------------------------------------------------

async function fast() {
  const [value] = await Promise.all([api("GET", "/clock"), journal.poll(), agora.poll()]);
  showClock(value);
}

let uptime = 0;

async function slow() {
  const [health, tenantList, accounts, customers, rules] = await Promise.all([
    api("GET", "/health"),
    api("GET", "/tenants"),
    api("GET", "/bithuman/accounts"),
    api("GET", "/agora/customers"),
    api("GET", "/faults"),
  ]);
  // A restarted mock numbers its events and requests from 1 again: start the page afresh.
  if (health.uptime_seconds < uptime) location.reload();
  uptime = health.uptime_seconds;
  setText(document.getElementById("version"), `v${health.version}`);
  tenants.render(tenantList);
  const ids = tenantList.map((t) => t.id);
  feed.setTenants(ids);
  faults.setTenants(ids);
  bithuman.render(accounts);
  agora.renderCustomers(customers);
  faults.render(rules);
  await Promise.all([chaos.refresh(), coverage.refresh()]);
}

let unreachable = false;

/** Run `task` every `ms`, one at a time (a slow answer delays the next poll instead of piling up). */
function every(ms, task) {
  const run = async () => {
    if (!document.hidden) {
      try {
        await task();
        if (unreachable) notify("The mock server answers again.");
        unreachable = false;
      } catch (error) {
        if (!unreachable) notify(`cannot reach the mock server (${error.message})`, true);
        unreachable = true;
      }
    }
    setTimeout(run, ms);
  };
  run();
}

// An id shown cut short ("1NT29XQU…") is copied whole: one click selects it (user-select: all),
// and the copy puts the full id on the clipboard instead of the shortened text.
document.addEventListener("copy", (event) => {
  const node = document.getSelection()?.anchorNode;
  const holder = (node instanceof Element ? node : node?.parentElement)?.closest("[data-full]");
  if (!holder) return;
  event.clipboardData.setData("text/plain", holder.dataset.full);
  event.preventDefault();
});

// The hint names this page's own origin: the mock may listen anywhere, not only on localhost:8080.
const hint = document.getElementById("feed-hint");
setText(hint, hint.textContent.replace("curl -X POST /", `curl -X POST ${location.origin}/`));

// Learn the control token (if the mock wants one) before the stream, which cannot ask for it; then
// render the whole first state before the stream connects, so the page never shows "No agents yet"
// beside an agent (the empty-state hints stay hidden until then: see body:not([data-ready])).
try {
  await api("GET", "/health");
  await Promise.all([slow(), fast()]);
} catch {
  // unreachable: the polls below say so
}
document.body.dataset.ready = "true";
feed.connect();
setTimeout(() => every(SLOW_MS, slow), SLOW_MS);
setTimeout(() => every(FAST_MS, fast), FAST_MS);
