// Conversation-level chaos (rules in force, a form to add one) and the coverage report's summary.

import { act, api } from "./api.js";
import { fill, h, setOptions, setText } from "./dom.js";

export class Chaos {
  constructor() {
    this.list = document.getElementById("chaos-list");
    this.empty = document.getElementById("chaos-empty");
    this.form = document.getElementById("chaos-form");
    this.scenario = document.getElementById("chaos-scenario");
    this.summary = document.getElementById("chaos-summary");
    this.scenarios = [];
    this.signature = "";
    this.scenario.addEventListener("change", () => this.describe());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(
        this.form.querySelector("button[type=submit]"),
        () => api("POST", "/chaos/rules", this.rule()),
        (rule) => `Chaos rule #${rule.id} added: ${rule.scenario} on ${rule.tenant ?? "every tenant"}.`,
        () => this.refresh(),
      );
    });
  }

  rule() {
    const value = (name) => this.form.elements[name].value.trim();
    const rule = { scenario: this.scenario.value };
    for (const name of ["tenant", "agent"]) if (value(name)) rule[name] = value(name);
    const times = value("times");
    rule.times = times === "" ? null : Number(times);
    const when = value("when");
    if (when) rule.params = { when };
    return rule;
  }

  describe() {
    const found = this.scenarios.find((s) => s.name === this.scenario.value);
    setText(this.summary, found ? `${found.vendor}: ${found.summary}` : "");
  }

  async loadScenarios() {
    this.scenarios = await api("GET", "/chaos/scenarios");
    setOptions(this.scenario, this.scenarios.map((s) => [s.name, s.name]));
    this.describe();
  }

  async refresh() {
    if (!this.scenarios.length) await this.loadScenarios();
    this.render(await api("GET", "/chaos/rules"));
  }

  render(rules) {
    const signature = JSON.stringify(rules);
    if (signature === this.signature) return;
    this.signature = signature;
    this.empty.hidden = rules.length > 0;
    fill(
      this.list,
      rules.map((rule) => {
        const remove = h("button", { class: "small", "aria-label": `Remove chaos rule ${rule.id}` }, "Remove");
        remove.addEventListener("click", () =>
          act(remove, () => api("DELETE", `/chaos/rules/${rule.id}`), `Chaos rule #${rule.id} removed.`, () =>
            this.refresh(),
          ),
        );
        const scope = [rule.tenant ?? "every tenant", rule.agent && `agent ${rule.agent}`, rule.channel && `channel ${rule.channel}`];
        const left = rule.times === null ? "for ever" : `${Math.max(rule.times - rule.fired, 0)} of ${rule.times} left`;
        return h(
          "li",
          { "data-key": String(rule.id) },
          h("strong", {}, rule.scenario),
          h("div", { class: "scope mono" }, scope.filter(Boolean).join(" · ")),
          h("div", { class: "left muted" }, `${left} · fired ${rule.fired}`),
          remove,
        );
      }),
    );
  }
}

export class Coverage {
  constructor() {
    this.areas = document.getElementById("coverage-areas");
    this.gaps = document.getElementById("coverage-gaps");
    this.total = document.getElementById("coverage-total");
    this.signature = "";
  }

  async refresh() {
    const report = await api("GET", "/coverage");
    const signature = JSON.stringify([report.covered, report.total, report.areas, report.gaps.slice(0, 8)]);
    if (signature === this.signature) return;
    this.signature = signature;
    setText(this.total, `${report.covered} of ${report.total} (${report.percent}%) exercised by vendor requests`);
    fill(
      this.areas,
      report.areas.map((a) =>
        h("tr", {}, h("td", {}, a.vendor), h("td", {}, a.area), h("td", { class: "num" }, `${a.covered} / ${a.total}`)),
      ),
    );
    fill(this.gaps, report.gaps.slice(0, 8).map((gap) => h("li", { class: "mono" }, gap)));
  }
}
