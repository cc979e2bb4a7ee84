// The middles panel: best EV first, each with its window, hit chance and both outcomes.
import { american, el, line, money } from "./dom.js";

const $ = (id) => document.getElementById(id);

export class MiddlesPanel {
  constructor() {
    this.items = new Map();
  }

  pushed() {
    this.render();
  }

  render() {
    const list = [...this.items.values()].sort((a, b) => (b.ev ?? -1e9) - (a.ev ?? -1e9));
    $("middles-count").textContent = String(list.length);
    $("middles-list").replaceChildren(...list.map((m) => el("li", { class: "middle", dataset: { middle: m.id } },
      el("div", { class: "arb-h" },
        el("strong", { text: m.eventDescription }),
        el("span", { text: `${m.marketType} window ${m.window.low} to ${m.window.high}` }),
        el("span", { class: m.ev !== null && m.ev > 0 ? "ev" : "ev-neg", text: m.ev === null ? "EV –" : `EV ${m.ev.toFixed(2)}%` }),
        el("span", { text: m.hitProbability === null ? "hit –" : `hit ${(m.hitProbability * 100).toFixed(1)}%` })),
      el("table", { class: "grid legs" },
        el("tbody", {}, m.legs.map((leg) => el("tr", {},
          el("td", { text: leg.bookmaker }),
          el("td", { text: `${leg.selectionName} ${line(leg.line)}`.trim() }),
          el("td", { text: american(leg.odds) }),
          el("td", { class: "stake", text: money(leg.stake) }))))),
      el("div", {}, `Miss ${money(m.missProfit)} · hit ${money(m.hitProfit)} on ${money(m.totalStake)}`))));
  }
}
