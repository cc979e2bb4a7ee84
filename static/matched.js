// The matched-betting panel: for a stake and a bet type, every selection an exchange lays with its best bookmaker
// back, the lay stake, the liability and the result either way (the server's get_matched), best rating first.
import { el, money } from "./dom.js";

const $ = (id) => document.getElementById(id);

export class MatchedPanel {
  constructor(conn) {
    this.conn = conn;
    $("matched-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.find();
    });
  }

  async find() {
    const reply = await this.conn.request("get_matched", {
      stake: Number($("matched-stake").value), type: $("matched-type").value, limit: 50 });
    if (reply.type !== "matched") {
      $("matched-msg").textContent = reply.message || "could not work it out";
      $("matched-list").replaceChildren();
      return;
    }
    $("matched-msg").textContent = reply.total ? "" : "no selection is laid at an exchange now";
    $("matched-list").replaceChildren(...reply.selections.map((m) => el("tr", { dataset: { market: m.marketId, selection: m.selection } },
      el("td", { text: `${m.selectionName} · ${m.eventDescription}` }),
      el("td", { text: `${m.back.bookmaker} ${m.back.decimal}` }),
      el("td", { text: `${m.lay.exchange} ${m.lay.decimal}` }),
      el("td", { class: "lay-stake", text: money(m.layStake) }),
      el("td", { class: "liability", text: money(m.liability) }),
      el("td", { class: "result", text: money(Math.min(m.ifBackWins, m.ifLayWins)) }),
      el("td", { class: "rating", text: m.rating.toFixed(2) }))));
  }
}
