// The odds screen: sports → events → markets, the best price per selection, moves flashing, alternative
// lines folded, search, and the low-hold filter.  Outrights are drawn by outright.js.
import { dateTime, el, american, line } from "./dom.js";
import { OutrightView } from "./outright.js";

export const SPORTS = ["NBA", "NFL", "MLB", "NHL", "Soccer", "Golf", "Horse Racing", "Greyhound Racing"];
export const TYPES = ["moneyline", "spread", "total", "outright"];
const AUTO_FOLD_EVENTS = 40;
const $ = (id) => document.getElementById(id);

export class Board {
  constructor({ onPrice, onChart, onDutch, valueKeys }) {
    this.onPrice = onPrice;
    this.onChart = onChart;
    this.onDutch = onDutch;
    this.valueKeys = valueKeys;
    this.markets = new Map();
    this.nodes = new Map();
    this.outrights = new Map();
    this.lastPrices = new Map();
    this.folded = new Map();
    $("max-hold").addEventListener("input", () => this.applyHoldFilter());
    $("search").addEventListener("input", () => this.applySearch());
  }

  // What a market push changed (store.applyMarkets): redraw only that.
  show({ reset, changed, removed }) {
    if (reset) this.reset();
    for (const id of removed) this.remove(id);
    for (const market of changed) this.render(market);
    $("market-count").textContent = String(this.markets.size);
    if (this.maxHold() !== null) this.applyHoldFilter();
  }

  reset() {
    this.nodes.clear();
    this.outrights.clear();
    $("board").replaceChildren();
    $("market-count").textContent = "0";
  }

  remove(id) {
    const node = this.nodes.get(id);
    if (!node) return;
    const event = node.closest(".event");
    node.remove();
    this.nodes.delete(id);
    this.outrights.delete(id);
    if (event && !event.querySelector(".market")) event.remove();
  }

  sportSection(sport) {
    const board = $("board");
    let section = board.querySelector(`section[data-sport="${CSS.escape(sport)}"]`);
    if (!section) {
      section = el("section", { dataset: { sport } }, el("h3", { class: "sport", text: sport }));
      const after = [...board.children].find((s) => SPORTS.indexOf(s.dataset.sport) > SPORTS.indexOf(sport));
      board.insertBefore(section, after || null);
    }
    return section;
  }

  eventSection(market) {
    const section = this.sportSection(market.sport || "Other");
    let node = section.querySelector(`div.event[data-event="${CSS.escape(market.eventId)}"]`);
    if (node) return node;
    const text = `${market.eventDescription} ${market.league || ""} ${market.sport || ""}`.toLowerCase();
    const alt = el("button", { type: "button", class: "toggle alt-toggle", hidden: true });
    const header = el("div", { class: "event-h" },
      el("strong", { text: market.eventDescription }),
      alt,
      el("span", { text: `${market.league || ""} · ${market.startTime ? dateTime(market.startTime) : ""}` }));
    node = el("div", { class: "event", dataset: { event: market.eventId, start: market.startTime || 0, text } }, header);
    const id = market.eventId;
    if (!this.folded.has(id)) this.folded.set(id, $("board").querySelectorAll("div.event").length >= AUTO_FOLD_EVENTS);
    node.classList.toggle("folded", this.folded.get(id));
    header.addEventListener("click", (event) => {
      if (event.target === alt) return;
      this.folded.set(id, !this.folded.get(id));
      node.classList.toggle("folded", this.folded.get(id));
    });
    alt.addEventListener("click", () => {
      node.classList.toggle("show-alt");
      this.markAlternatives(node);
    });
    const after = [...section.querySelectorAll("div.event")].find((e) => Number(e.dataset.start) > (market.startTime || 0));
    section.insertBefore(node, after || null);
    this.applySearch();
    return node;
  }

  // Per event, the spread and the total whose best prices are closest to even are the main lines;
  // the others are alternative lines, folded until the trader opens them.
  markAlternatives(eventNode) {
    const byType = new Map();
    for (const node of eventNode.querySelectorAll(".market")) {
      const market = this.markets.get(node.dataset.market);
      if (!market || market.marketType === "moneyline" || market.marketType === "outright") continue;
      if (!byType.has(market.marketType)) byType.set(market.marketType, []);
      byType.get(market.marketType).push({ node, market });
    }
    let alternatives = 0;
    for (const entries of byType.values()) {
      const balance = ({ market }) => {
        const prices = market.selections.map((sel) => market.bestOdds[sel.id]?.decimal).filter(Boolean);
        return prices.length === 2 ? Math.abs(Math.log(prices[0] / prices[1])) : Infinity;
      };
      const main = entries.reduce((best, e) => (balance(e) < balance(best) ? e : best), entries[0]);
      for (const e of entries) {
        e.node.classList.toggle("alt", e !== main);
        if (e !== main) alternatives += 1;
      }
    }
    const toggle = eventNode.querySelector(".alt-toggle");
    toggle.hidden = alternatives === 0;
    toggle.textContent = eventNode.classList.contains("show-alt") ? "hide alt lines" : `+${alternatives} alt lines`;
  }

  applySearch() {
    const query = $("search").value.trim().toLowerCase();
    for (const node of $("board").querySelectorAll("div.event")) {
      node.hidden = query !== "" && !node.dataset.text.includes(query);
    }
    for (const section of $("board").querySelectorAll("section[data-sport]")) {
      section.hidden = ![...section.querySelectorAll("div.event")].some((e) => !e.hidden);
    }
  }

  // Value items came or went: the outrights flag them in their cells.
  valueChanged() {
    for (const [id, view] of this.outrights) {
      const market = this.markets.get(id);
      if (market) view.update(market);
    }
  }

  renderOutright(market) {
    let view = this.outrights.get(market.id);
    if (!view) {
      view = new OutrightView(market, { onPrice: this.onPrice, onChart: this.onChart, onDutch: this.onDutch,
        valueKeys: this.valueKeys });
      this.outrights.set(market.id, view);
      const event = this.eventSection(market);
      const after = [...event.querySelectorAll(".market")].find((m) => {
        const other = this.markets.get(m.dataset.market);
        return other && other.numberOfWinners > market.numberOfWinners;
      });
      event.insertBefore(view.node, after || null);
      this.nodes.set(market.id, view.node);
    }
    view.update(market);
  }

  render(market) {
    if (market.marketType === "outright") {
      this.renderOutright(market);
      return;
    }
    const books = [...new Set(market.selections.flatMap((s) => Object.keys(s.odds)))].sort();
    const head = el("tr", {}, el("th", {}, `${market.marketType} ${line(market.line)}`.trim(),
      el("button", { type: "button", class: "chart-open", text: "chart", title: "line movement",
        dataset: { chart: market.id }, onclick: () => this.onChart(market) }),
      el("button", { type: "button", class: "dutch-open", text: "dutch", title: "split a stake over its selections",
        dataset: { dutch: market.id }, onclick: () => this.onDutch(market) })), books.map((b) => el("th", { text: b })));
    const rows = market.selections.map((sel) => {
      const best = market.bestOdds[sel.id];
      return el("tr", {},
        el("td", { text: `${sel.name} ${line(sel.line)}`.trim() }),
        books.map((book) => {
          const odds = sel.odds[book];
          if (odds === undefined) return el("td", { class: "price" });
          const key = `${market.id}|${sel.id}|${book}`;
          const previous = this.lastPrices.get(key);
          const decimal = sel.decimal[book];
          this.lastPrices.set(key, decimal);
          const move = previous === undefined || previous === decimal ? "" : decimal > previous ? "up" : "down";
          const isBest = best && best.bookmaker === book;
          const button = el("button", {
            type: "button", class: `price ${move}`, text: american(odds),
            title: `${sel.name} at ${book}: ${decimal}`,
            dataset: { market: market.id, selection: sel.id, book },
            onclick: () => this.onPrice({ market, selection: sel, book, odds }),
          });
          return el("td", { class: `price${isBest ? " best" : ""}` }, button);
        }));
    });
    const node = el("div", { class: `market${this.heldBack(market) ? " held" : ""}`, dataset: { market: market.id } },
      el("table", { class: "grid" }, el("thead", {}, head), el("tbody", {}, rows)));
    const old = this.nodes.get(market.id);
    if (old) old.replaceWith(node);
    else {
      const event = this.eventSection(market);
      const order = TYPES.indexOf(market.marketType);
      const after = [...event.querySelectorAll(".market")].find((m) => {
        const other = this.markets.get(m.dataset.market);
        return other && (TYPES.indexOf(other.marketType) > order || (other.marketType === market.marketType && (other.line ?? 0) > (market.line ?? 0)));
      });
      event.insertBefore(node, after || null);
    }
    this.nodes.set(market.id, node);
    this.markAlternatives(node.closest(".event"));
  }

  maxHold() {
    const raw = $("max-hold").value.trim();
    return raw === "" ? null : Number(raw);
  }

  heldBack(market) {
    const limit = this.maxHold();
    return limit !== null && (market.hold === null || market.hold === undefined || market.hold > limit);
  }

  applyHoldFilter() {
    let shown = 0;
    for (const [id, node] of this.nodes) {
      const market = this.markets.get(id);
      const hide = !market || this.heldBack(market);
      node.classList.toggle("held", hide);
      if (!hide) shown += 1;
    }
    $("hold-shown").textContent = this.maxHold() === null ? "" : `${shown} of ${this.nodes.size} markets at or under ${this.maxHold()}%`;
  }
}
