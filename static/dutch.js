// The dutching calculator: pick selections of one market and a total stake; the server (get_dutch) splits it
// at the best prices now so each pick returns the same. Nothing is placed.
import { american, el, line, money } from "./dom.js";

const $ = (id) => document.getElementById(id);
const OUTRIGHT_PICKS = 3;

export class DutchPanel {
  constructor(conn, markets) {
    this.conn = conn;
    this.markets = markets;
    this.market = null;
    $("dutch-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.split();
    });
  }

  open(market) {
    this.market = this.markets.get(market.id) || market;
    const m = this.market;
    $("dutch-title").textContent = `${m.eventDescription} · ${m.marketType} ${line(m.line)}`.trim();
    // An outright's runners come shortest price first, the first OUTRIGHT_PICKS of them picked.
    const outright = m.marketType === "outright";
    const best = (sel) => m.bestOdds[sel.id]?.decimal ?? Infinity;
    const selections = outright ? [...m.selections].sort((a, b) => best(a) - best(b)) : m.selections;
    $("dutch-picks").replaceChildren(...selections.map((sel, i) => el("label", {},
      el("input", { type: "checkbox", name: "dutch-pick", value: sel.id, checked: !outright || i < OUTRIGHT_PICKS }),
      ` ${sel.name} ${line(sel.line)}`.trim())));
    $("dutch-form").hidden = false;
    $("dutch-legs").replaceChildren();
    $("dutch-summary").textContent = "";
    $("dutch-msg").textContent = "";
  }

  async split() {
    if (!this.market) return;
    const selections = [...document.querySelectorAll('input[name="dutch-pick"]:checked')].map((box) => box.value);
    const reply = await this.conn.request("get_dutch", {
      marketId: this.market.id, selections, stake: Number($("dutch-stake").value) });
    if (reply.type !== "dutch") {
      $("dutch-msg").textContent = reply.message || "could not split the stake";
      $("dutch-legs").replaceChildren();
      $("dutch-summary").textContent = "";
      return;
    }
    $("dutch-msg").textContent = "";
    $("dutch-legs").replaceChildren(...reply.selections.map((leg) => el("tr", { dataset: { selection: leg.selection } },
      el("td", { text: leg.selectionName }), el("td", { text: leg.bookmaker }),
      el("td", { class: "num", text: `${american(leg.odds)} (${leg.decimal})` }),
      el("td", { class: "num stake", text: money(leg.stake) }), el("td", { class: "num", text: money(leg.returns) }))));
    $("dutch-summary").textContent = `returns ${money(reply.returns)} whichever wins, profit ${money(reply.profit)}`;
  }
}
