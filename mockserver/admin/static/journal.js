// The request log: the journal of vendor requests, polled with `since`, newest first.

import { act, api, notify } from "./api.js";
import { clockTime, h, setText } from "./dom.js";

const SHOW = 300; // requests on screen (each may have an expanded detail row)
const FIRST = 100; // how many to fetch on the first poll

const REASONS = {
  0: "Dropped",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable",
  429: "Too Many Requests",
  500: "Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Unavailable",
  504: "Gateway Timeout",
};

/** A status class in words and a symbol, so the log reads the same without colour. */
export function statusClass(status) {
  if (status === 0) return { tone: "drop", icon: "✕", word: "dropped connection" };
  if (status < 300) return { tone: "ok", icon: "✓", word: "success" };
  if (status < 400) return { tone: "info", icon: "→", word: "redirect" };
  if (status < 500) return { tone: "client", icon: "⚠", word: "client error" };
  return { tone: "server", icon: "✕", word: "server error" };
}

let rowIds = 0;

export class Journal {
  constructor() {
    this.body = document.getElementById("journal-rows");
    this.empty = document.getElementById("journal-empty");
    this.count = document.getElementById("journal-count");
    this.table = document.getElementById("journal-table");
    this.since = null;
    this.total = 0;
    this.polling = false;
    this.search = document.getElementById("journal-search");
    this.search.addEventListener("input", () => this.filter());
    const errorsOnly = document.getElementById("journal-errors");
    errorsOnly.addEventListener("change", () => this.table.classList.toggle("errors-only", errorsOnly.checked));
    const clear = document.getElementById("journal-clear");
    clear.addEventListener("click", () =>
      act(
        clear,
        () => api("DELETE", "/journal"),
        (r) => `Request log cleared (${r.dropped} requests).`,
        () => this.reset(),
      ),
    );
  }

  async poll() {
    if (this.polling) return;
    this.polling = true;
    try {
      const query = this.since === null ? `limit=${FIRST}` : `since=${this.since}&limit=${SHOW}`;
      const page = await api("GET", `/journal?${query}`);
      if (page.total < this.total) {
        // Cleared elsewhere (another tab, a test, a reset): start again from the latest requests.
        this.clearRows();
        this.since = null;
        this.total = page.total;
        return;
      }
      this.total = page.total;
      if (page.entries.length) {
        this.since = page.last_id;
        this.body.prepend(
          ...page.entries
            .slice()
            .reverse()
            .flatMap((entry) => this.rows(entry)),
        );
        while (this.body.childElementCount > SHOW * 2) this.body.lastElementChild.remove();
      } else if (this.since === null) {
        this.since = 0;
      }
      this.filter();
      this.empty.hidden = this.body.childElementCount > 0;
      setText(this.count, `${this.total.toLocaleString("en")} since the last clear`);
    } finally {
      this.polling = false;
    }
  }

  /** Free-text search: a request stays when its row or its details contain every word typed. */
  filter() {
    const words = this.search.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const row of this.body.querySelectorAll("tr.req")) {
      const text = row.dataset.text ?? "";
      const hide = words.some((word) => !text.includes(word));
      row.classList.toggle("filtered", hide);
      row.nextElementSibling?.classList.toggle("filtered", hide);
    }
  }

  reset() {
    this.clearRows();
    this.total = 0;
    return this.poll();
  }

  clearRows() {
    this.body.replaceChildren();
    this.empty.hidden = false;
  }

  /** Two rows: the summary, and its details (hidden until the path button is pressed). */
  rows(entry) {
    const status = statusClass(entry.status);
    const detailId = `req-${++rowIds}`;
    const path = entry.path + (entry.query ? `?${entry.query}` : "");
    const toggle = h(
      "button",
      { class: "linkish path", "aria-expanded": "false", "aria-controls": detailId, title: path },
      h("span", { class: "chev", "aria-hidden": "true" }, "▸"),
      shortPath(entry.path),
    );
    const details = h(
      "tr",
      { id: detailId, class: `detail s-${status.tone}`, hidden: true },
      h("td", { colspan: 7 }, this.details(entry)),
    );
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      details.hidden = !open;
    });
    const notes = [];
    if (entry.fault)
      notes.push(h("span", { class: "badge fault", title: "an injected fault answered" }, `⚡ fault: ${entry.fault}`));
    if (entry.near_miss) notes.push(h("span", { class: "badge near" }, "≈ near miss"));
    const summary = h(
      "tr",
      { class: `req s-${status.tone}`, dataset: { id: entry.id, text: searchText(entry) } },
      h("td", { class: "time" }, clockTime(entry.time)),
      h("td", { class: "method" }, entry.method),
      h("td", { class: "path-cell" }, toggle),
      h(
        "td",
        { class: "status-cell" },
        h(
          "span",
          { class: `status s-${status.tone}`, title: status.word },
          `${status.icon} ${entry.status || "—"} ${REASONS[entry.status] ?? status.word}`,
        ),
      ),
      h(
        "td",
        { class: "op" },
        entry.operation ?? h("span", { class: "muted" }, "no operation"),
        notes.length ? " " : null,
        notes,
      ),
      h("td", { class: "tenant copyable", title: entry.tenant ?? "" }, entry.tenant ?? ""),
      h("td", { class: "num" }, entry.duration_ms.toFixed(1)),
    );
    return [summary, details];
  }

  details(entry) {
    const items = [];
    const add = (term, value) => items.push(h("dt", {}, term), h("dd", {}, value));
    const status = statusClass(entry.status);
    add("Request", `${entry.method} ${entry.path}${entry.query ? `?${entry.query}` : ""}`);
    add("Status", `${entry.status} — ${status.word}`);
    if (entry.error) add("Error code", entry.error);
    if (entry.near_miss) add("Near miss", `${entry.near_miss.operation ?? "no operation"}: ${entry.near_miss.reason}`);
    if (entry.fault) add("Fault", entry.fault);
    add("Request headers", h("pre", {}, JSON.stringify(entry.request_headers, null, 2)));
    if (entry.request_body !== null) add("Request body", h("pre", {}, pretty(entry.request_body)));
    if (entry.response_body !== null) add("Response body", h("pre", {}, pretty(entry.response_body)));
    const command = curl(entry);
    const copy = h("button", { type: "button", class: "small copy-curl" }, "Copy as curl");
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(command);
        notify("curl command copied (secrets stay redacted: put yours back in).");
      } catch {
        notify("The browser refused the clipboard: select the command and copy it.", true);
      }
    });
    add("curl", h("div", {}, h("pre", { class: "curl copyable" }, command), copy));
    return h("dl", { class: "kv" }, items);
  }
}

/** The path as shown in the row (the whole one is in the title and the details). */
function shortPath(path) {
  return path
    .replace(/^\/api\/conversational-ai-agent\/v2\/projects\//, "/api/…/")
    .replace(/\/([A-Za-z0-9]{20,})(?=\/|$)/g, (_, id) => `/${id.slice(0, 8)}…`);
}

function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** What the search looks in: the summary and the details of a request, in lower case. */
function searchText(entry) {
  const parts = [entry.method, entry.path, entry.query, entry.status, entry.operation, entry.tenant, entry.error];
  parts.push(JSON.stringify(entry.request_body), JSON.stringify(entry.response_body));
  return parts.filter((p) => p !== null && p !== undefined).join(" ").toLowerCase();
}

/** The request as a curl command, against this page's origin; its headers as the journal shows
 * them, so a secret stays "[redacted]" in the command too. */
export function curl(entry) {
  const quote = (text) => `'${String(text).replaceAll("'", "'\\''")}'`;
  const url = `${location.origin}${entry.path}${entry.query ? `?${entry.query}` : ""}`;
  const words = ["curl", "-X", entry.method, quote(url)];
  const skip = new Set(["host", "content-length", "connection", "accept-encoding", "user-agent", "..."]);
  for (const [name, value] of Object.entries(entry.request_headers ?? {})) {
    if (!skip.has(name.toLowerCase())) words.push("-H", quote(`${name}: ${value}`));
  }
  if (entry.request_body !== null && entry.request_body !== undefined) words.push("-d", quote(pretty(entry.request_body)));
  return words.join(" ");
}
