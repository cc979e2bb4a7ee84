// The alerts panel: rules (create, mute, delete), webhooks for them, and recent alerts. REST with the token.
import { el, time } from "./dom.js";

const MUTE_MS = 60 * 60 * 1000;

export class AlertsPanel {
  constructor(root, token) {
    this.root = root;
    this.token = token;
    this.rules = [];
    this.recent = [];
    root.querySelector("form").addEventListener("submit", (event) => this.create(event));
    root.querySelector("select[name=kind]").addEventListener("change", () => this.showMinimum());
    this.showMinimum();
  }

  async api(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = resp.status === 204 ? {} : await resp.json();
    if (!resp.ok) throw new Error(data.message || `HTTP ${resp.status}`);
    return data;
  }

  showMinimum() {
    const kind = this.root.querySelector("select[name=kind]").value;
    const label = this.root.querySelector(".minimum");
    label.hidden = kind === "steam";
    label.querySelector("span").textContent = kind === "arbitrage" ? "Min edge %" : "Min EV %";
  }

  async load() {
    if (!this.token()) return this.render();
    const data = await this.api("GET", "/api/alerts");
    this.rules = data.rules;
    this.recent = data.recent;
    return this.render();
  }

  received(alert) {
    this.recent = [alert, ...this.recent.filter((a) => a.id !== alert.id)].slice(0, 50);
    this.render();
  }

  async create(event) {
    event.preventDefault();
    const form = event.target;
    const msg = this.root.querySelector(".msg");
    const list = (name) => form.elements[name].value.split(",").map((s) => s.trim()).filter(Boolean);
    const kind = form.elements.kind.value;
    const rule = { kind, sports: list("sports"), bookmakers: list("bookmakers") };
    const minimum = form.elements.minimum.value.trim();
    if (minimum !== "" && kind !== "steam") rule[kind === "arbitrage" ? "minEdge" : "minEv"] = Number(minimum);
    try {
      const url = form.elements.url.value.trim();
      if (url) {
        const hook = await this.api("POST", "/api/webhooks", { url, secret: form.elements.secret.value });
        rule.webhook = hook.webhook.id;
      }
      await this.api("POST", "/api/alerts", rule);
      msg.className = "msg ok";
      msg.textContent = "Rule created";
      form.reset();
      this.showMinimum();
      await this.load();
    } catch (err) {
      msg.className = "msg err";
      msg.textContent = err.message;
    }
  }

  async mute(rule) {
    const until = rule.mutedUntil && rule.mutedUntil > Date.now() ? null : Date.now() + MUTE_MS;
    await this.api("PATCH", `/api/alerts/${encodeURIComponent(rule.id)}`, { mutedUntil: until });
    await this.load();
  }

  async remove(rule) {
    await this.api("DELETE", `/api/alerts/${encodeURIComponent(rule.id)}`);
    await this.load();
  }

  render() {
    const signedIn = Boolean(this.token());
    this.root.querySelector("form").hidden = !signedIn;
    this.root.querySelector(".signed-out").hidden = signedIn;
    this.root.querySelector(".rules").replaceChildren(...this.rules.map((rule) => {
      const muted = rule.mutedUntil && rule.mutedUntil > Date.now();
      const limits = [rule.minEdge !== null ? `edge ≥ ${rule.minEdge}%` : null, rule.minEv !== null ? `EV ≥ ${rule.minEv}%` : null,
        rule.sports.length ? rule.sports.join("/") : null, rule.bookmakers.length ? rule.bookmakers.join("/") : null,
        rule.webhook ? "webhook" : null].filter(Boolean).join(" · ");
      return el("li", { class: `rule${muted ? " muted" : ""}`, dataset: { rule: rule.id } },
        el("strong", { text: rule.kind }), ` ${limits}`,
        muted ? el("small", { text: ` muted until ${time(rule.mutedUntil)}` }) : null,
        el("button", { type: "button", class: "mute", text: muted ? "Unmute" : "Mute 1 h", onclick: () => this.mute(rule) }),
        el("button", { type: "button", class: "delete", text: "Delete", onclick: () => this.remove(rule) }));
    }));
    this.root.querySelector(".recent").replaceChildren(...this.recent.map((alert) => {
      const item = alert.item || {};
      const what = item.eventDescription || item.marketId || item.id;
      const figure = item.edge !== undefined ? `edge ${item.edge.toFixed(2)}%` : item.ev !== undefined && item.ev !== null
        ? `EV ${item.ev.toFixed(2)}%` : item.direction || "";
      return el("li", { dataset: { alert: alert.id } }, el("small", { text: time(alert.createdAt) }), " ",
        el("strong", { text: alert.kind }), ` ${what} ${figure}`);
    }));
  }
}
