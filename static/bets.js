// The bet slip and the trader's bets with their CLV: the only panel that places money.
import { american, el, line, money, time } from "./dom.js";

const $ = (id) => document.getElementById(id);

export class BetsPanel {
  constructor(conn) {
    this.conn = conn;
    this.bets = new Map();
    this.clv = null;
    this.slip = null;
    $("slip").addEventListener("submit", (event) => this.place(event));
    $("slip-cancel").addEventListener("click", () => { $("slip").hidden = true; this.slip = null; });
  }

  async load() {
    const reply = await this.conn.request("get_bets", { limit: 100 });
    if (reply.type !== "bets") return;
    this.bets = new Map(reply.bets.map((b) => [b.id, b]));
    this.clv = reply.clv;
    this.render();
  }

  updated(bet) {
    this.bets.set(bet.id, bet);
    this.render();
  }

  clear() {
    this.bets.clear();
    this.render();
  }

  render() {
    const list = [...this.bets.values()].sort((a, b) => b.placedAt - a.placedAt);
    $("my-bets").replaceChildren(...list.map((b) => el("tr", { dataset: { bet: b.id } },
      el("td", { text: time(b.placedAt) }),
      el("td", { text: `${b.selectionId} · ${b.marketId}` }),
      el("td", { text: b.bookmaker }),
      el("td", { text: money(b.stake) }),
      el("td", { text: american(b.odds) }),
      el("td", { text: money(b.payout ?? b.potentialPayout) }),
      el("td", { class: `status s-${b.status}`, text: b.status }),
      el("td", { class: "clv", text: b.clv === null || b.clv === undefined ? "–" : b.clv.toFixed(2) }))));
    const clv = this.clv;
    $("clv-avg").textContent = clv && clv.average !== null ? `${clv.average.toFixed(2)}%` : "–";
    $("clv-n").textContent = clv ? `over ${clv.bets} bets with a closing line` : "";
  }

  open({ market, selection, book, odds, stake, side = "back" }) {
    this.slip = { marketId: market.marketId || market.id, selectionId: selection.id, bookmaker: book, side };
    const verb = side === "lay" ? "Lay " : "";
    $("slip-desc").textContent = `${verb}${market.eventDescription} · ${market.marketType} ${line(market.line)} · ${selection.name} ${line(selection.line)} @ ${book}`;
    $("slip").dataset.side = side;
    this.exposure(this.slip.marketId);
    $("slip-odds").value = odds;
    if (stake) $("slip-stake").value = money(stake);
    const msg = $("slip-msg");
    msg.textContent = "";
    msg.className = "msg";
    $("slip").hidden = false;
    $("slip-stake").focus();
  }

  // What the trader wins or loses in the slip's market whichever selection wins, from their open bets.
  async exposure(marketId) {
    const box = $("slip-exposure");
    box.replaceChildren();
    if (!this.conn.token) return;
    const reply = await this.conn.request("get_exposure", { marketId });
    if (reply.type !== "exposure" || !reply.bets) return;
    box.replaceChildren(el("span", { text: "exposure: " }), ...reply.selections.map((s) => el("span", {
      class: s.ifWins < 0 ? "neg" : "pos", dataset: { selection: s.selection },
      text: `${s.selectionName} ${s.ifWins >= 0 ? "+" : ""}${money(s.ifWins)}` })));
  }

  async place(event) {
    event.preventDefault();
    const msg = $("slip-msg");
    if (!this.slip) return;
    const payload = {
      ...this.slip,
      stake: Number($("slip-stake").value),
      odds: Number($("slip-odds").value),
      side: this.slip.side,
      clientRef: crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`,
    };
    const reply = await this.conn.request("place_bet", payload);
    if (reply.type === "bet_placed") {
      this.updated(reply.bet);
      this.exposure(reply.bet.marketId);
      msg.className = "msg ok";
      msg.textContent = `Placed ${reply.bet.id} at ${american(reply.bet.odds)}, pays ${money(reply.bet.potentialPayout)}`;
      return;
    }
    msg.className = "msg err";
    if (reply.code === "NX-409" && reply.currentOdds !== undefined) {
      $("slip-odds").value = reply.currentOdds;
      msg.textContent = `Odds moved to ${american(reply.currentOdds)}: place again to accept`;
    } else if (reply.code === "NX-401") {
      msg.textContent = "Sign in with an API token to bet";
    } else {
      msg.textContent = reply.message || "Bet failed";
    }
  }
}
