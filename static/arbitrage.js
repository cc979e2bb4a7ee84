// The arbitrage panel: live opportunities best edge first, the stake calculator, and the edge chart.
import { american, el, line, money } from "./dom.js";
import { backLayStakes, stakes } from "./store.js";

const CHART_WINDOW_MS = 5 * 60 * 1000;
const $ = (id) => document.getElementById(id);

export class ArbitragePanel {
  constructor({ onPrice }) {
    this.onPrice = onPrice;
    this.items = new Map();
    this.edges = [];
    $("calc-total").addEventListener("input", () => this.render());
    $("calc-unit").addEventListener("change", () => this.render());
  }

  // After each push: one point of the edge chart, then the list.
  pushed(received) {
    const live = [...this.items.values()];
    const max = live.reduce((m, o) => Math.max(m, o.edge), 0);
    this.edges.push({ t: received, max, n: live.length });
    this.edges = this.edges.filter((p) => received - p.t <= CHART_WINDOW_MS);
    this.render();
    this.drawChart();
  }

  render() {
    const total = Number($("calc-total").value) || 0;
    const unit = Number($("calc-unit").value) || 0;
    const list = [...this.items.values()].sort((a, b) => b.edge - a.edge);
    $("arb-count").textContent = String(list.length);
    $("arb-list").replaceChildren(...list.map((opp) => {
      const backLay = opp.kind === "back_lay";
      const calc = backLay ? backLayStakes(opp, total) : stakes(opp.legs, total, unit);
      const age = opp.age + (Date.now() - opp.receivedAt) / 1000;
      return el("li", { class: `arb${opp.suspect ? " suspect" : ""}`, dataset: { arb: opp.id } },
        el("div", { class: "arb-h" },
          el("strong", { text: opp.eventDescription }),
          el("span", { text: `${opp.marketType} ${line(opp.line)}${backLay ? " · back-lay" : ""}`.trim() }),
          el("span", { class: "edge", text: `${opp.edge.toFixed(2)}%` }),
          el("span", { text: `roi ${opp.roi.toFixed(2)}%` }),
          el("span", { text: `age ${age.toFixed(0)}s` }),
          opp.suspect ? el("span", { class: "st-degraded", text: "suspect" }) : null),
        el("table", { class: "grid legs" },
          el("thead", {}, el("tr", {}, ["Book", "Selection", "Odds", "Decimal", "Stake", backLay ? "Liability" : "Returns"]
            .map((h) => el("th", { text: h })))),
          el("tbody", {}, opp.legs.map((leg, i) => el("tr", { dataset: { side: leg.side } },
            el("td", { text: leg.side === "lay" ? `lay at ${leg.bookmaker}` : leg.bookmaker }),
            el("td", { text: `${leg.selectionName} ${line(leg.line)}`.trim() }),
            el("td", {}, el("button", { type: "button", class: "price", text: american(leg.odds),
              onclick: () => this.onPrice({ market: opp, selection: { id: leg.selection, name: leg.selectionName, line: leg.line }, book: leg.bookmaker, odds: leg.odds, stake: calc.amounts[i] }) })),
            el("td", { text: leg.decimal }),
            el("td", { class: "stake", text: money(calc.amounts[i]) }),
            el("td", { class: "returns", text: money(backLay ? calc.liabilities[i] : calc.amounts[i] * leg.effectiveDecimal) }))))),
        el("div", {}, "Guaranteed profit ", el("strong", { class: "profit", text: money(calc.profit) }), ` on ${money(calc.staked)}`));
    }));
  }

  drawChart() {
    const canvas = $("edge-chart");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 600;
    const height = canvas.clientHeight || 120;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.clearRect(0, 0, width, height);
    const now = Date.now();
    const points = this.edges;
    const top = Math.max(1, ...points.map((p) => p.max));
    const x = (t) => width - ((now - t) / CHART_WINDOW_MS) * width;
    const y = (v) => height - 14 - (v / top) * (height - 24);
    ctx.fillStyle = "#2d3a4a";
    const maxN = Math.max(1, ...points.map((p) => p.n));
    for (const p of points) ctx.fillRect(x(p.t) - 1, height - 14 - (p.n / maxN) * 30, 2, (p.n / maxN) * 30);
    ctx.strokeStyle = "#3fb950";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    points.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.max)) : ctx.moveTo(x(p.t), y(p.max))));
    ctx.stroke();
    ctx.fillStyle = "#8b98a5";
    ctx.font = "11px system-ui";
    ctx.fillText(`best edge, max ${top.toFixed(2)}% · bars: open opportunities · last 5 min`, 6, height - 2);
  }
}
