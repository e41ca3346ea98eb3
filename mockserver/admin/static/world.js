// The world panel: tenants, bitHuman agents and rooms, Agora agents and their live state, with
// the controls that change them.

import { act, api, seg } from "./api.js";
import { fill, h, keyed, setOptions, setText, shortId } from "./dom.js";

const FINAL = new Set(["STOPPED", "FAILED"]);
const AGORA_SHOWN = 30; // agent cards on screen (and polled)
const AGORA_KEPT = 300; // agents remembered

/** Tenants, as buttons that filter the feed to one of them. */
export class Tenants {
  constructor(onPick) {
    this.list = document.getElementById("tenant-list");
    this.onPick = onPick;
    this.signature = "";
  }

  render(tenants) {
    const signature = JSON.stringify(tenants);
    if (signature === this.signature) return;
    this.signature = signature;
    keyed(
      this.list,
      tenants,
      (t) => t.id,
      (t) =>
        h(
          "li",
          {},
          h(
            "button",
            { class: "chip", onclick: () => this.onPick(t.id), title: `Show only ${t.id} in the live feed` },
            h("span", { class: `vendor-tag ${t.vendor}` }, t.vendor === "agora" ? "Agora" : "bitHuman"),
            " ",
            t.id,
          ),
        ),
      () => {},
    );
    document.getElementById("tenants-empty").hidden = tenants.length > 0;
  }
}

/** bitHuman accounts, their agents and rooms; open, close and reopen rooms. */
export class BitHuman {
  constructor() {
    this.list = document.getElementById("bithuman-list");
    this.agentSelect = document.getElementById("room-agent");
    this.signature = "";
    const form = document.getElementById("open-room-form");
    const roomInput = document.getElementById("room-id");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const [account, code] = JSON.parse(this.agentSelect.value || "[]");
      if (!account) return;
      const roomId = roomInput.value.trim();
      act(
        form.querySelector("button"),
        () => this.open(account, code, roomId || undefined),
        (room) => `Room ${room.id} of ${code} is open.`,
        () => this.refresh(),
      ).then((room) => {
        if (room) roomInput.value = "";
      });
    });
  }

  open(account, code, roomId) {
    return api(
      "POST",
      `/bithuman/accounts/${seg(account)}/agents/${seg(code)}/rooms`,
      roomId ? { room_id: roomId } : {},
    );
  }

  close(account, code, roomId) {
    return api("POST", `/bithuman/accounts/${seg(account)}/agents/${seg(code)}/rooms/${seg(roomId)}/close`);
  }

  async refresh() {
    this.render(await api("GET", "/bithuman/accounts"));
  }

  render(accounts) {
    const signature = JSON.stringify(accounts);
    if (signature === this.signature) return;
    this.signature = signature;
    const agents = accounts.flatMap((a) => a.agents.map((agent) => ({ account: a.id, ...agent })));
    setOptions(
      this.agentSelect,
      agents.map((a) => [JSON.stringify([a.account, a.code]), `${a.code} · ${a.account}`]),
    );
    document.getElementById("bithuman-empty").hidden = agents.length > 0;
    // One card per agent, folded except the first (the summary line still counts the rooms);
    // cards are kept across refreshes, so what the user unfolded stays unfolded.
    const first = !this.list.childElementCount;
    keyed(
      this.list,
      agents,
      (a) => `${a.account}/${a.code}`,
      () =>
        h(
          "li",
          { class: "card" },
          h(
            "details",
            { open: first && !this.list.childElementCount },
            h(
              "summary",
              {},
              h("span", { class: "code mono" }),
              " ",
              h("span", { class: "tenant" }),
              " ",
              h("span", { class: "muted count" }),
            ),
            h("ul", { class: "rooms" }),
          ),
        ),
      (el, a) => {
        setText(el.querySelector(".code"), a.code);
        setText(el.querySelector(".tenant"), a.account);
        const active = a.rooms.filter((r) => r.active).length;
        setText(el.querySelector(".count"), `${active} of ${a.rooms.length} active`);
        el.querySelector("ul").setAttribute("aria-label", `rooms of ${a.code} (${a.account})`);
        keyed(
          el.querySelector("ul"),
          a.rooms,
          (r) => r.id,
          () =>
            h(
              "li",
              { class: "room-chip" },
              h("span", { class: "state", "aria-hidden": "true" }),
              h("span", { class: "name mono" }),
              h("span", { class: "visually-hidden word" }),
              h("button", { class: "small" }),
            ),
          (li, room) => this.updateRoom(li, a, room),
        );
      },
    );
  }

  updateRoom(li, agent, room) {
    li.classList.toggle("closed", !room.active);
    setText(li.querySelector(".state"), room.active ? "●" : "○");
    setText(li.querySelector(".word"), room.active ? ", active" : ", closed");
    setText(li.querySelector(".name"), room.id);
    li.querySelector(".name").title = `${room.id}: ${room.active ? "active" : "closed"}`;
    const button = li.querySelector("button");
    setText(button, room.active ? "Close" : "Reopen");
    button.setAttribute("aria-label", `${room.active ? "Close" : "Reopen"} room ${room.id} of ${agent.code}`);
    button.onclick = () =>
      act(
        button,
        () =>
          room.active ? this.close(agent.account, agent.code, room.id) : this.open(agent.account, agent.code, room.id),
        (r) => `Room ${r.id} of ${agent.code} is ${r.active ? "open" : "closed"}.`,
        () => this.refresh(),
      );
  }
}

/**
 * Agora projects and agents. Agents are learnt from the event stream (every Agora event names its
 * agent and App ID), then read through the control plane's live view: reading it also lets the
 * simulation play out what fell due (speech ending, the scripted reply), so the feed moves on.
 */
export class Agora {
  constructor() {
    this.list = document.getElementById("agora-list");
    this.projects = document.getElementById("agora-projects");
    this.agents = new Map(); // "appid/agent_id" -> {appid, id, tenant, channel, name, view, order}
    this.order = 0;
    this.customersSignature = "";
  }

  /** Learn agents and their status from the stream. */
  noteEvent(event) {
    if (event.vendor !== "agora" || !event.data?.appid) return;
    const key = `${event.data.appid}/${event.agent}`;
    let agent = this.agents.get(key);
    if (!agent) {
      agent = {
        appid: event.data.appid,
        id: event.agent,
        tenant: event.tenant,
        channel: event.room,
        view: null,
        order: ++this.order,
      };
      this.agents.set(key, agent);
    }
    if (event.kind === "lifecycle") {
      if (event.data.name) agent.name = event.data.name;
      agent.status = event.outcome;
      agent.stale = true;
    }
  }

  renderCustomers(customers) {
    const signature = JSON.stringify(customers.map((c) => [c.id, c.projects.map((p) => [p.appid, p.agents])]));
    if (signature === this.customersSignature) return;
    this.customersSignature = signature;
    const projects = customers.flatMap((c) => c.projects.map((p) => ({ customer: c.id, ...p })));
    fill(
      this.projects,
      projects.map((p) =>
        h(
          "li",
          {},
          h("span", { class: "mono" }, p.appid),
          " ",
          h("span", { class: "tenant" }, p.customer),
          h("span", { class: "muted" }, ` · ${p.agents} agent${p.agents === 1 ? "" : "s"}`),
        ),
      ),
    );
    document.getElementById("agora-empty").hidden = projects.length > 0;
  }

  /** Live agents first, then the newest; only these are shown and polled. */
  shown() {
    const final = (a) => FINAL.has(a.view?.status ?? a.status);
    const agents = [...this.agents.values()].sort((a, b) => final(a) - final(b) || b.order - a.order);
    for (const gone of agents.slice(AGORA_KEPT)) this.agents.delete(`${gone.appid}/${gone.id}`);
    return agents.slice(0, AGORA_SHOWN);
  }

  /** Read the live view of the shown agents that can still change (and of new ones once). */
  async poll() {
    const due = this.shown().filter((a) => a.stale || !a.view || !FINAL.has(a.view.status));
    await Promise.all(due.map((a) => this.read(a)));
    this.render();
  }

  async read(agent) {
    agent.stale = false;
    try {
      agent.view = await api("GET", `/agora/projects/${seg(agent.appid)}/agents/${seg(agent.id)}`);
      agent.name = agent.view.name || agent.name;
    } catch (error) {
      if (error.status === 404)
        this.agents.delete(`${agent.appid}/${agent.id}`); // its customer went away
      else throw error;
    }
  }

  reset() {
    this.agents.clear();
    this.render();
  }

  render() {
    const agents = this.shown().filter((a) => a.view);
    document.getElementById("agora-agents-empty").hidden = agents.length > 0;
    keyed(
      this.list,
      agents,
      (a) => `${a.appid}/${a.id}`,
      (a) => this.card(a),
      (el, a) => this.update(el, a),
    );
  }

  card(agent) {
    const sayInput = h("input", {
      type: "text",
      class: "say-text",
      required: true,
      autocomplete: "off",
      placeholder: "Where is my order?",
    });
    const inputId = `say-${agent.id}`;
    sayInput.id = inputId;
    const form = h(
      "form",
      { class: "say-form" },
      h("label", { for: inputId }, "User says"),
      sayInput,
      h("button", { type: "submit" }, "Say"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = sayInput.value.trim();
      if (!text) return;
      act(
        form.querySelector("button"),
        () => api("POST", `/agora/projects/${seg(agent.appid)}/agents/${seg(agent.id)}/user/say`, { text }),
        (view) => `The user spoke to ${agent.name ?? agent.id}: ${view.outcome}; the agent is ${view.state}.`,
        () => this.read(agent).then(() => this.render()),
      ).then((view) => {
        if (view) sayInput.value = "";
      });
    });
    const presence = h("button", { type: "button", class: "small presence" });
    presence.addEventListener("click", () => {
      const leaving = agent.view?.users_present;
      act(
        presence,
        () =>
          api("POST", `/agora/projects/${seg(agent.appid)}/agents/${seg(agent.id)}/user/${leaving ? "leave" : "join"}`),
        `The user ${leaving ? "left" : "joined"} ${agent.name ?? agent.id}'s channel.`,
        () => this.read(agent).then(() => this.render()),
      );
    });
    return h(
      "li",
      { class: "card agora-agent" },
      h(
        "div",
        { class: "card-head" },
        h(
          "h3",
          {},
          h("span", { class: "name" }),
          " ",
          h("span", { class: "mono muted id", title: agent.id, dataset: { full: agent.id } }, shortId(agent.id, 8)),
        ),
        h("span", { class: "tenant" }, agent.tenant),
      ),
      h(
        "div",
        { class: "agent-state" },
        h("span", { class: "badge status" }),
        h("span", { class: "badge conv" }),
        h("span", { class: "users muted" }),
        presence,
      ),
      h("p", { class: "activity" }),
      h("p", { class: "where muted" }),
      form,
    );
  }

  update(el, agent) {
    const view = agent.view;
    const live = !FINAL.has(view.status);
    el.classList.toggle("final", !live);
    setText(el.querySelector(".name"), agent.name || "agent");
    const status = el.querySelector(".status");
    setText(status, view.status);
    status.dataset.status = view.status;
    const conv = el.querySelector(".conv");
    conv.hidden = view.status !== "RUNNING";
    setText(
      conv,
      { listening: "◌ listening", thinking: "… thinking", speaking: "▶ speaking" }[view.state] ?? view.state,
    );
    conv.dataset.state = view.state;
    setText(el.querySelector(".users"), view.users_present ? "user present" : "no user");
    const current = view.current;
    const activity = el.querySelector(".activity");
    activity.hidden = !current;
    setText(
      activity,
      current
        ? `${current.kind === "thinking" ? "Thinking about" : "Saying"}: “${current.text}”` +
            (view.queue.length ? ` (+${view.queue.length} queued)` : "")
        : "",
    );
    setText(
      el.querySelector(".where"),
      `${agent.appid} · channel ${view.channel ?? agent.channel}` + (view.message ? ` · ${view.message}` : ""),
    );
    el.querySelector(".say-form").hidden = !live;
    const presence = el.querySelector(".presence");
    presence.hidden = !live;
    setText(presence, view.users_present ? "User leaves" : "User joins");
  }
}
