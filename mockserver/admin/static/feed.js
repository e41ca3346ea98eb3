// The live feed: the inbox over Server-Sent Events, newest first, filtered in the page.

import { BASE, act, api, withToken } from "./api.js";
import { clockTime, fill, h, setOptions, setText, shortId } from "./dom.js";

const KEEP = 1000; // events kept in memory for re-filtering
const SHOW = 200; // rows on screen
const FLUSH_MS = 100; // render at most 10 times a second, however fast events come

export const KINDS = [
  ["speech", "speech"],
  ["context", "context (bitHuman)"],
  ["user_speech", "user speech"],
  ["think", "think"],
  ["interrupt", "interrupt"],
  ["lifecycle", "lifecycle"],
  ["presence", "presence"],
  ["update", "update"],
  ["call", "call"],
];

const SPEECH_SOURCE = { greeting: "Greets", reply: "Replies", speak: "Told to say" };

/** What happened, in words: the row's label (never colour alone). */
function label(event) {
  switch (event.kind) {
    case "speech":
      if (event.vendor === "bithuman" || event.operation === "speak_agent") return "Told to say";
      return SPEECH_SOURCE[event.data?.source] ?? "Speech";
    case "context":
      return "Given context";
    case "user_speech":
      return "User says";
    case "think":
      return "Told to think";
    case "interrupt":
      return "Interrupt";
    case "lifecycle":
      return "Status";
    case "presence":
      return "User presence";
    case "update":
      return "Updated";
    case "call":
      return "Call";
    default:
      return event.kind;
  }
}

const QUIET_TEXT = new Set(["lifecycle", "presence", "update"]); // their text repeats the outcome

export class Feed {
  /** `onEvent` sees every event as it arrives (the Agora panel learns agents from it). */
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.list = document.getElementById("feed-list");
    this.empty = document.getElementById("feed-empty");
    this.count = document.getElementById("feed-count");
    this.conn = document.getElementById("conn");
    this.filters = {
      tenant: document.getElementById("feed-tenant"),
      agent: document.getElementById("feed-agent"),
      kind: document.getElementById("feed-kind"),
    };
    this.pauseButton = document.getElementById("feed-pause");
    this.buffer = [];
    this.fresh = [];
    this.received = 0;
    this.lastId = null;
    this.paused = false;
    this.unseen = 0;
    this.timer = 0;
    this.agents = new Map(); // agent key -> label for the filter
    this.names = new Map(); // Agora agent id -> name (from its STARTING event)
    this.tenants = new Set();

    setOptions(this.filters.kind, [["", "all kinds"], ...KINDS]);
    for (const select of Object.values(this.filters)) select.addEventListener("change", () => this.rerender());
    this.pauseButton.addEventListener("click", () => this.togglePause());
    const clear = document.getElementById("feed-clear");
    clear.addEventListener("click", () =>
      act(
        clear,
        () => api("DELETE", "/inbox"),
        (r) => `Inbox cleared (${r.dropped} events).`,
        () => this.reset(),
      ),
    );
    this.updateFilters();
  }

  connect(lastId = null) {
    const url = `${BASE}/events/stream` + (lastId === null ? "" : `?last_event_id=${lastId}`);
    const source = new EventSource(withToken(url));
    this.source = source;
    this.status("Connecting…", "wait");
    source.onopen = () => this.status("Live", "ok");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) this.status("Disconnected — reload the page", "bad");
      else this.status("Reconnecting…", "wait");
    };
    source.addEventListener("inbox", (message) => this.receive(JSON.parse(message.data)));
    // The server ends a stream whose client fell more than 1,000 events behind; resume at once
    // from the last event seen instead of waiting for EventSource's retry delay.
    source.addEventListener("overflow", () => {
      source.close();
      this.status("Catching up…", "wait");
      this.connect(this.lastId ?? 0);
    });
  }

  status(text, tone) {
    setText(this.conn, `Stream: ${text}`);
    this.conn.dataset.tone = tone;
  }

  receive(event) {
    this.received += 1;
    this.lastId = event.id;
    if (event.kind === "lifecycle" && event.data?.name) this.names.set(event.agent, event.data.name);
    this.noteFilters(event);
    this.onEvent(event);
    this.buffer.push(event);
    if (this.buffer.length > KEEP + 100) this.buffer.splice(0, this.buffer.length - KEEP);
    this.fresh.push(event);
    if (this.fresh.length > KEEP) this.fresh.splice(0, this.fresh.length - KEEP);
    if (!this.timer) this.timer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  matches(event) {
    const { tenant, agent, kind } = this.filters;
    return (
      (!tenant.value || event.tenant === tenant.value) &&
      (!agent.value || `${event.vendor}:${event.agent}` === agent.value) &&
      (!kind.value || event.kind === kind.value)
    );
  }

  flush() {
    this.timer = 0;
    const batch = this.fresh.filter((e) => this.matches(e));
    this.fresh = [];
    this.list.dataset.lastId = this.lastId ?? "";
    setText(this.count, `${this.received.toLocaleString("en")} received`);
    this.updateFilters();
    if (this.paused) {
      this.unseen += batch.length;
      setText(this.pauseButton, `Resume (${this.unseen} new)`);
      return;
    }
    if (!batch.length) return;
    const rows = batch
      .slice(-SHOW)
      .reverse()
      .map((e) => this.row(e));
    this.list.prepend(...rows);
    while (this.list.childElementCount > SHOW) this.list.lastElementChild.remove();
    this.empty.hidden = true;
  }

  rerender() {
    const shown = this.buffer
      .filter((e) => this.matches(e))
      .slice(-SHOW)
      .reverse();
    fill(
      this.list,
      shown.map((e) => this.row(e)),
    );
    this.empty.hidden = shown.length > 0;
  }

  togglePause() {
    this.paused = !this.paused;
    this.pauseButton.setAttribute("aria-pressed", String(this.paused));
    this.unseen = 0;
    setText(this.pauseButton, this.paused ? "Resume" : "Pause");
    if (!this.paused) this.rerender();
  }

  /** Forget what the page holds (after a reset or a cleared inbox); the stream goes on. */
  reset() {
    this.buffer = [];
    this.fresh = [];
    this.agents.clear();
    this.names.clear();
    this.tenants.clear();
    this.updateFilters();
    this.rerender();
  }

  /** Tenants known from the control plane; events add the rest. */
  setTenants(ids) {
    for (const id of ids) this.tenants.add(id);
    this.updateFilters();
  }

  noteFilters(event) {
    this.tenants.add(event.tenant);
    const key = `${event.vendor}:${event.agent}`;
    const name = this.names.get(event.agent);
    const text =
      event.vendor === "agora" ? `${name ? `${name} · ` : ""}${shortId(event.agent, 8)} (Agora)` : event.agent;
    if (this.agents.get(key) !== text) this.agents.set(key, text);
  }

  updateFilters() {
    setOptions(this.filters.tenant, [["", "all tenants"], ...[...this.tenants].sort().map((t) => [t, t])]);
    setOptions(this.filters.agent, [["", "all agents"], ...[...this.agents].map(([key, text]) => [key, text])]);
  }

  row(event) {
    const name = this.names.get(event.agent);
    const who =
      event.vendor === "agora"
        ? h(
            "span",
            { class: "agent", title: event.agent },
            name ?? shortId(event.agent),
            name ? h("span", { class: "muted id", dataset: { full: event.agent } }, ` ${shortId(event.agent, 8)}`) : null,
          )
        : h("span", { class: "agent" }, event.agent);
    const showText = event.text && !(QUIET_TEXT.has(event.kind) && event.text === event.outcome);
    const detail = [];
    if (event.data?.priority) detail.push(`priority ${event.data.priority}`);
    if (event.data?.action) detail.push(`action ${event.data.action}`);
    if (event.data?.fields) detail.push(`changed ${event.data.fields.join(", ")}`);
    if (event.data?.caused_by) detail.push(`by ${event.data.caused_by}`);
    if (event.data?.reason) detail.push(`reason ${event.data.reason}`);
    return h(
      "li",
      { class: `ev kind-${event.kind} vendor-${event.vendor}`, dataset: { id: event.id } },
      h(
        "div",
        { class: "ev-head" },
        h("time", { datetime: event.at, title: event.at }, clockTime(event.time)),
        h("span", { class: "ev-kind" }, label(event)),
        h("span", { class: `pill outcome-${event.outcome}` }, event.outcome),
        h("span", { class: `vendor-tag ${event.vendor}` }, event.vendor === "agora" ? "Agora" : "bitHuman"),
        who,
        event.room ? h("span", { class: "room", title: "room / channel" }, `# ${event.room}`) : null,
        detail.length ? h("span", { class: "muted" }, detail.join(" · ")) : null,
        h("span", { class: "tenant" }, event.tenant),
      ),
      showText ? h("p", { class: "ev-text" }, event.text) : null,
      // Every field of the event as the control plane serves it (GET /_mock/inbox), whole ids included.
      h(
        "details",
        { class: "ev-more" },
        h("summary", {}, "Details"),
        h("pre", { class: "ev-json" }, JSON.stringify(event, null, 2)),
      ),
    );
  }
}
