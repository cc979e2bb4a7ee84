// The line-movement panel: one market's price history per book (get_history), the sharp books highlighted.
import { lineChart } from "./chart.js";
import { el, line } from "./dom.js";

const HISTORY_POINTS = 300;
const $ = (id) => document.getElementById(id);

export class MovementPanel {
  constructor(conn, markets) {
    this.conn = conn;
    this.markets = markets;
    this.chart = null;
    $("chart-selection").addEventListener("change", () => this.draw());
  }

  showing(marketId) {
    return this.chart !== null && this.chart.market.id === marketId;
  }

  async open(market) {
    const reply = await this.conn.request("get_history", { marketId: market.id, maxPoints: HISTORY_POINTS });
    if (reply.type !== "history") return;
    const current = this.markets.get(market.id) || market;
    const select = $("chart-selection");
    const keep = this.showing(market.id) ? select.value : null;
    this.chart = { market: current, history: reply };
    select.replaceChildren(...current.selections.map((sel) => el("option", { value: sel.id, text: `${sel.name} ${line(sel.line)}`.trim() })));
    if (keep) select.value = keep;
    $("chart-title").textContent = `${current.eventDescription} · ${current.marketType} ${line(current.line)}`;
    this.draw();
  }

  refresh() {
    if (this.chart) this.open(this.chart.market);
  }

  draw() {
    if (!this.chart) return;
    const { history } = this.chart;
    $("chart").replaceChildren(lineChart(history, $("chart-selection").value, history.sharpBooks || []));
  }
}
