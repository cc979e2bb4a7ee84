// An outright on the odds screen: runners × books, shortest price first, the best price per runner highlighted,
// the fair probability beside it and value flagged.  Past the first FOLD runners the list is folded; the search
// and the fold live outside the table, so a push redraws the rows without taking the trader's cursor away.
import { american, el, toAmerican } from "./dom.js";

export const FOLD = 30;

// "Åberg" is found by "aberg": accents and case do not matter (as in the runner ids).
function plain(text) {
  return text.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

function title(market) {
  return market.numberOfWinners > 1 ? `outright · top ${market.numberOfWinners}` : "outright · winner";
}

export class OutrightView {
  constructor(market, { onPrice, onChart, onDutch, valueKeys }) {
    this.market = market;
    this.onPrice = onPrice;
    this.valueKeys = valueKeys;
    this.expanded = false;
    this.search = el("input", { type: "search", class: "runner-search", placeholder: "runner", "aria-label": "find a runner" });
    this.search.addEventListener("input", () => this.draw());
    this.fold = el("button", { type: "button", class: "toggle runner-fold" });
    this.fold.addEventListener("click", () => { this.expanded = !this.expanded; this.draw(); });
    this.caption = el("span", { class: "count runner-count" });
    this.table = el("table", { class: "grid outright-grid" });
    this.node = el("div", { class: "market outright", dataset: { market: market.id } },
      el("div", { class: "outright-h" },
        el("strong", { class: "outright-title" }),
        el("button", { type: "button", class: "chart-open", text: "chart", title: "line movement",
          dataset: { chart: market.id }, onclick: () => onChart(this.market) }),
        el("button", { type: "button", class: "dutch-open", text: "dutch", title: "split a stake over runners",
          dataset: { dutch: market.id }, onclick: () => onDutch(this.market) }),
        this.search, this.caption),
      this.table, this.fold);
  }

  update(market) {
    this.market = market;
    this.draw();
  }

  // Runners by best price, shortest first; those no book prices go last.
  ordered() {
    const best = (sel) => this.market.bestOdds[sel.id]?.decimal ?? Infinity;
    return [...this.market.selections].sort((a, b) => best(a) - best(b) || a.name.localeCompare(b.name));
  }

  // An exchange's ladder for one runner: three levels to back (best nearest the middle), three to lay, and the
  // last traded price; a level opens the bet slip on that side.
  ladder(market, sel, exchange) {
    const depth = (sel.depth || {})[exchange] || { back: [], lay: [] };
    const cell = (side, level) => {
      const entry = (side === "back" ? depth.back : depth.lay)[level];
      if (!entry) return el("td", { class: `ladder ${side}` });
      const [price, size] = entry;
      return el("td", { class: `ladder ${side}`, dataset: { level } },
        el("button", { type: "button", class: "price", text: price, dataset: { side, book: exchange, selection: sel.id },
          title: `${side} ${sel.name} at ${exchange}: ${price} (${size.toFixed(0)} available)`,
          onclick: () => this.onPrice({ market, selection: sel, book: exchange, odds: toAmerican(price, side), side }) }),
        el("span", { class: "size", text: size.toFixed(0) }));
    };
    const last = (sel.lastTraded || {})[exchange];
    return [cell("back", 2), cell("back", 1), cell("back", 0), cell("lay", 0), cell("lay", 1), cell("lay", 2),
      el("td", { class: "ladder last", text: last === undefined ? "–" : last })];
  }

  draw() {
    const market = this.market;
    this.node.querySelector(".outright-title").textContent = `${title(market)} · hold ${market.hold === null ? "–" : `${market.hold.toFixed(1)}%`}`;
    const books = [...new Set(market.selections.flatMap((s) => Object.keys(s.odds)))].sort();
    const query = plain(this.search.value.trim());
    const matching = this.ordered().filter((sel) => !query || plain(sel.name).includes(query) || sel.id.includes(query));
    const shown = this.expanded || query ? matching : matching.slice(0, FOLD);
    const flagged = this.valueKeys();
    const exchange = market.selections.map((s) => Object.keys(s.depth || {})[0]).find(Boolean);
    const ladderHead = exchange ? [
      ...[3, 2, 1].map((n) => el("th", { class: "ladder", text: `back ${n}` })),
      ...[1, 2, 3].map((n) => el("th", { class: "ladder", text: `lay ${n}` })),
      el("th", { class: "ladder", text: "last" })] : [];
    const head = el("tr", {}, el("th", { text: "runner" }), el("th", { text: "fair %" }), ladderHead,
      books.map((b) => el("th", { text: b })));
    const rows = shown.map((sel) => {
      const best = market.bestOdds[sel.id];
      return el("tr", { dataset: { runner: sel.id } },
        el("td", { class: "runner", text: sel.name }),
        el("td", { class: "fair", text: sel.fairProbability == null ? "–" : (sel.fairProbability * 100).toFixed(2) }),
        exchange ? this.ladder(market, sel, exchange) : [],
        books.map((book) => {
          const odds = sel.odds[book];
          if (odds === undefined) return el("td", { class: "price" });
          const decimal = sel.decimal[book];
          const value = flagged.has(`${market.id}|${sel.id}|${book}`);
          const button = el("button", {
            type: "button", class: "price", text: decimal >= 10 ? decimal.toFixed(0) : decimal.toFixed(2),
            title: `${sel.name} at ${book}: ${decimal} (${american(odds)})${value ? " · value" : ""}`,
            dataset: { market: market.id, selection: sel.id, book },
            onclick: () => this.onPrice({ market, selection: sel, book, odds }),
          });
          const classes = ["price", best && best.bookmaker === book ? "best" : "", value ? "value-flag" : ""];
          return el("td", { class: classes.filter(Boolean).join(" ") }, button);
        }));
    });
    this.table.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
    const hidden = matching.length - shown.length;
    this.fold.hidden = query !== "" || matching.length <= FOLD;
    this.fold.textContent = this.expanded ? `show the first ${FOLD}` : `show all ${matching.length} runners (+${hidden})`;
    this.caption.textContent = `${shown.length} of ${market.selections.length} runners`;
  }
}
