// Fault rules: the list in force (with remove buttons) and a small form to add one.

import { act, api } from "./api.js";
import { h, keyed, setOptions, setText } from "./dom.js";

/** The fields that matter for each kind of fault (the others are hidden and not sent). */
const FIELDS = { error: ["status"], latency: ["latency_ms"], rate_limit: ["retry_after"], drop: [] };

export function describeFault(rule) {
  const what = {
    error: `error ${rule.status ?? 500}`,
    latency: `latency ${rule.latency_ms} ms` + (rule.jitter_ms ? ` ± ${rule.jitter_ms} ms` : ""),
    rate_limit: `429 rate limit, Retry-After ${rule.retry_after} s`,
    drop: "dropped connection",
  }[rule.kind];
  const scope = [rule.operation ?? "every operation", rule.tenant ? `tenant ${rule.tenant}` : "any tenant"];
  if (rule.agent) scope.push(`agent ${rule.agent}`);
  const left = rule.times === null ? "always" : `${Math.max(rule.times - rule.fired, 0)} of ${rule.times} left`;
  const chance = rule.probability < 1 ? ` · p=${rule.probability}` : "";
  return { what, scope: scope.join(" · "), left: `${left}${chance} · fired ${rule.fired}` };
}

export class Faults {
  constructor() {
    this.list = document.getElementById("fault-list");
    this.form = document.getElementById("fault-form");
    this.kind = document.getElementById("fault-kind");
    this.tenant = document.getElementById("fault-tenant");
    this.signature = "";
    this.kind.addEventListener("change", () => this.showFields());
    this.showFields();
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(
        this.form.querySelector("button[type=submit]"),
        () => api("POST", "/faults", this.rule()),
        (rule) => `Fault #${rule.id} added: ${describeFault(rule).what} on ${describeFault(rule).scope}.`,
        () => this.refresh(),
      );
    });
    const clear = document.getElementById("faults-clear");
    clear.addEventListener("click", () =>
      act(
        clear,
        () => api("DELETE", "/faults"),
        (r) => `Removed ${r.dropped} fault rules.`,
        () => this.refresh(),
      ),
    );
  }

  showFields() {
    const wanted = new Set(FIELDS[this.kind.value]);
    for (const field of this.form.querySelectorAll("[data-field]")) {
      const on = wanted.has(field.dataset.field);
      field.hidden = !on;
      field.querySelector("input").disabled = !on;
    }
  }

  rule() {
    const data = new FormData(this.form);
    const rule = { kind: data.get("kind") };
    for (const name of ["operation", "tenant"]) {
      const value = String(data.get(name) ?? "").trim();
      if (value) rule[name] = value;
    }
    for (const name of ["status", "latency_ms", "retry_after", "times"]) {
      const value = data.get(name); // disabled fields are absent
      if (value !== null && value !== "") rule[name] = Number(value);
    }
    return rule;
  }

  async refresh() {
    this.render(await api("GET", "/faults"));
  }

  setTenants(ids) {
    setOptions(this.tenant, [["", "any tenant"], ...ids.map((id) => [id, id])]);
  }

  render(rules) {
    const signature = JSON.stringify(rules);
    if (signature === this.signature) return;
    this.signature = signature;
    document.getElementById("faults-empty").hidden = rules.length > 0;
    document.getElementById("faults-clear").hidden = rules.length === 0;
    keyed(
      this.list,
      rules,
      (r) => r.id,
      (r) => {
        const remove = h("button", { class: "small", "aria-label": `Remove fault ${r.id}` }, "Remove");
        const li = h(
          "li",
          { class: "fault-rule" },
          h(
            "div",
            {},
            h("strong", { class: "what" }),
            h("div", { class: "scope mono" }),
            h("div", { class: "left muted" }),
          ),
          remove,
        );
        remove.addEventListener("click", () => {
          // The row goes away with its button: keep keyboard focus nearby, not lost on <body>.
          const sibling = li.nextElementSibling ?? li.previousElementSibling;
          const next = sibling?.querySelector("button") ?? this.kind;
          act(
            remove,
            () => api("DELETE", `/faults/${r.id}`),
            `Fault #${r.id} removed.`,
            async () => {
              await this.refresh();
              if (!li.isConnected && (document.activeElement === document.body || !document.activeElement))
                next.focus();
            },
          );
        });
        return li;
      },
      (el, r) => {
        const text = describeFault(r);
        setText(el.querySelector(".what"), `#${r.id} ⚡ ${text.what}`);
        setText(el.querySelector(".scope"), text.scope);
        setText(el.querySelector(".left"), text.left);
      },
    );
  }
}
