// The value panel: +EV bets best EV first, each with a Kelly stake for the bankroll the trader enters.
import { american, el, line, money } from "./dom.js";

const $ = (id) => document.getElementById(id);

export class ValuePanel {
  constructor({ onPrice }) {
    this.onPrice = onPrice;
    this.items = new Map();
    $("bankroll").addEventListener("input", () => this.render());
  }

  pushed() {
    this.render();
  }

  render() {
    const bankroll = Number($("bankroll").value) || 0;
    const list = [...this.items.values()].sort((a, b) => b.ev - a.ev);
    $("value-count").textContent = String(list.length);
    $("value-list").replaceChildren(...list.map((v) => el("tr", { class: v.suspect ? "suspect" : "", dataset: { value: v.id } },
      el("td", { text: `${v.eventDescription}` }),
      el("td", { text: `${v.selectionName} ${line(v.line)} · ${v.marketType}`.trim() }),
      el("td", { text: v.bookmaker }),
      el("td", {}, el("button", { type: "button", class: "price", text: american(v.odds),
        onclick: () => this.onPrice({ market: v, selection: { id: v.selection, name: v.selectionName, line: v.line }, book: v.bookmaker, odds: v.odds, stake: v.stakeFraction * bankroll }) })),
      el("td", { text: v.fairOdds.american === null ? "–" : american(v.fairOdds.american), title: `fair ${(v.fairProbability * 100).toFixed(2)}% · ${v.fairOdds.decimal}` }),
      el("td", { class: "ev", text: v.ev.toFixed(2) }),
      el("td", { class: "stake", text: money(v.stakeFraction * bankroll) }),
      el("td", { text: `${v.sharp.bookmakers.join("+")} · ${v.sharp.age.toFixed(0)}s`, title: `${v.sharp.method}, hold ${v.sharp.hold.toFixed(2)}%` }))));
  }
}
