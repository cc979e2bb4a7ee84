// The trader's dashboard: speaks only the public WebSocket protocol (docs/protocol.md).
import { AlertsPanel } from "./alerts.js";
import { lineChart } from "./chart.js";
import { Connection } from "./connection.js";
import { applyDelta } from "./deltas.js";
import { american, dateTime, el, line, money, time } from "./dom.js";

const SPORTS = ["NBA", "NFL", "MLB", "NHL", "Soccer"];
const TYPES = ["moneyline", "spread", "total"];
const CHART_WINDOW_MS = 5 * 60 * 1000;
const AUTO_FOLD_EVENTS = 40;
const HISTORY_POINTS = 300;

const state = {
  markets: new Map(),
  marketNodes: new Map(),
  lastPrices: new Map(),
  opportunities: new Map(),
  value: new Map(),
  middles: new Map(),
  clv: null,
  folded: new Map(),
  position: null,
  resumable: false,
  syncLabel: "",
  chart: null,
  books: [],
  bets: new Map(),
  wanted: { sports: new Set(SPORTS), types: new Set(TYPES), books: new Set() },
  subscribed: null,
  edges: [],
  slip: null,
};

const $ = (id) => document.getElementById(id);
const conn = new Connection({ onMessage, onState, token: sessionStorage.getItem("sbws-token") });
const alertsPanel = new AlertsPanel(document.querySelector("section.alerts"), () => conn.token);

// ---- connection ------------------------------------------------------------------
function onState(status, delay) {
  const node = $("conn");
  node.className = `conn conn-${status}`;
  node.textContent = status === "reconnecting" && delay ? `reconnecting in ${(delay / 1000).toFixed(1)}s` : status;
}

function onMessage(msg) {
  // The position of the state we hold: a new socket's "connected" says where the server is, not where we are.
  if (msg.epoch !== undefined && msg.seq !== undefined && msg.type !== "connected") {
    state.position = { epoch: msg.epoch, seq: msg.seq };
  }
  switch (msg.type) {
    case "resumed":
      state.syncLabel = `resumed ${msg.from}→${msg.to}`;
      $("sync").dataset.state = "resumed";
      break;
    case "snapshot_required":
      state.syncLabel = `resynced (${msg.reason.replace("_", " ")})`;
      $("sync").dataset.state = "resynced";
      break;
    case "connected":
      $("client-id").textContent = msg.clientId;
      $("who").textContent = msg.authenticated ? `signed in as ${msg.username}` : "anonymous";
      $("signout").hidden = !msg.authenticated;
      if (conn.token && !msg.authenticated) {
        sessionStorage.removeItem("sbws-token");
        conn.token = null;
        $("who").textContent = "anonymous: token not accepted";
      }
      if (state.resumable && state.position && state.subscribed) {
        // Same subscription, and where we were: the server sends what we missed, or an image.
        conn.send("subscribe", { ...subscriptionPayload(), resume: state.position });
      } else {
        state.subscribed = null;
        subscribe();
      }
      state.resumable = true;
      if (msg.authenticated) loadBets();
      alertsPanel.load();
      break;
    case "sportsbooks":
      state.books = msg.sportsbooks;
      renderBooks();
      renderBookFilter();
      break;
    case "subscribed":
    case "unsubscribed":
      state.subscribed = msg.subscriptions;
      break;
    case "market_update":
      if (msg.id !== undefined) break;
      if (msg.image) {
        state.markets.clear();
        renderBoardReset();
        applyMarkets(msg.markets);
      } else if (msg.delta) {
        applyMarketDeltas(msg.markets, msg.ts);
      } else applyMarkets(msg.markets);
      break;
    case "arbitrage_update":
      if (msg.id === undefined) applyOpportunities(msg);
      break;
    case "value_update":
      if (msg.id === undefined) applyItems(state.value, msg, msg.value, renderValue);
      break;
    case "middles_update":
      if (msg.id === undefined) applyItems(state.middles, msg, msg.middles, renderMiddles);
      break;
    case "bet_updated":
      state.bets.set(msg.bet.id, msg.bet);
      renderBets();
      loadBets();
      break;
    case "alert":
      alertsPanel.received(msg.alert);
      break;
    case "steam":
      if (state.chart && state.chart.market.id === msg.steam.marketId) openChart(state.chart.market);
      break;
    case "heartbeat":
      $("clients").textContent = msg.clients;
      break;
    case "bet_settled":
      state.bets.set(msg.bet.id, msg.bet);
      renderBets();
      break;
    default:
      break;
  }
  if (state.position) {
    $("sync").textContent = [state.syncLabel, `seq ${state.position.seq}`].filter(Boolean).join(" · ");
  }
}

// ---- subscription ------------------------------------------------------------------
function subscriptionPayload() {
  return {
    sports: [...state.wanted.sports],
    marketTypes: [...state.wanted.types],
    sportsbooks: [...state.wanted.books],
    arbitrage: true,
    value: true,
    middles: true,
    steam: true,
  };
}

function subscribe() {
  const next = subscriptionPayload();
  const current = state.subscribed;
  if (current) {
    conn.send("unsubscribe", { sports: current.sports, marketTypes: current.marketTypes, sportsbooks: current.sportsbooks });
  }
  state.markets.clear();
  state.opportunities.clear();
  state.value.clear();
  state.middles.clear();
  renderBoardReset();
  renderOpportunities();
  renderValue();
  renderMiddles();
  conn.send("subscribe", next);
}

function chip(group, value, checked, onChange) {
  const input = el("input", { type: "checkbox", value, checked, dataset: { group } });
  input.addEventListener("change", () => onChange(input));
  return el("label", {}, input, value);
}

function renderFilters() {
  const toggle = (set, minimum) => (input) => {
    if (!input.checked && set.size <= minimum && set.has(input.value)) {
      input.checked = true;
      return;
    }
    if (input.checked) set.add(input.value);
    else set.delete(input.value);
    subscribe();
  };
  $("f-sports").replaceChildren(...SPORTS.map((s) => chip("sport", s, true, toggle(state.wanted.sports, 1))));
  $("f-types").replaceChildren(...TYPES.map((t) => chip("type", t, true, toggle(state.wanted.types, 1))));
}

function renderBookFilter() {
  const box = $("f-books");
  const known = new Set([...box.querySelectorAll("input")].map((i) => i.value));
  const ids = state.books.map((b) => b.id);
  if (ids.length === known.size && ids.every((id) => known.has(id))) return;
  box.replaceChildren(...ids.map((id) => chip("book", id, state.wanted.books.has(id), (input) => {
    if (input.checked) state.wanted.books.add(id);
    else state.wanted.books.delete(id);
    subscribe();
  })));
}

// ---- sportsbooks -------------------------------------------------------------------
function renderBooks() {
  $("books").replaceChildren(...state.books.map((b) => el("tr", { dataset: { book: b.id } },
    el("td", { text: b.name }),
    el("td", { class: `st-${b.status}`, text: b.status }),
    el("td", { text: b.responseTime }),
    el("td", { text: b.availableMarkets }),
    el("td", { text: b.activeBets }),
  )));
}

// ---- odds board ----------------------------------------------------------------------
function renderBoardReset() {
  state.marketNodes.clear();
  $("board").replaceChildren();
  $("market-count").textContent = "0";
}

function applyMarkets(markets) {
  for (const market of markets) {
    if (market.status === "closed") {
      state.markets.delete(market.id);
      removeMarketNode(market.id);
      continue;
    }
    state.markets.set(market.id, market);
    renderMarket(market);
  }
  $("market-count").textContent = String(state.markets.size);
  if (maxHold() !== null) applyHoldFilter();
}

// Protocol v2: apply each delta to the market held, then redraw only those markets.
function applyMarketDeltas(list, ts) {
  for (const delta of list) {
    const market = applyDelta(state.markets, delta, ts);
    if (market === null || market.status === "closed") {
      state.markets.delete(delta.id);
      removeMarketNode(delta.id);
    } else renderMarket(market);
  }
  $("market-count").textContent = String(state.markets.size);
  if (maxHold() !== null) applyHoldFilter();
}

function removeMarketNode(id) {
  const node = state.marketNodes.get(id);
  if (!node) return;
  const event = node.closest(".event");
  node.remove();
  state.marketNodes.delete(id);
  if (event && !event.querySelector(".market")) event.remove();
}

function sportSection(sport) {
  const board = $("board");
  let section = board.querySelector(`section[data-sport="${CSS.escape(sport)}"]`);
  if (!section) {
    section = el("section", { dataset: { sport } }, el("h3", { class: "sport", text: sport }));
    const after = [...board.children].find((s) => SPORTS.indexOf(s.dataset.sport) > SPORTS.indexOf(sport));
    board.insertBefore(section, after || null);
  }
  return section;
}

function eventSection(market) {
  const section = sportSection(market.sport || "Other");
  let node = section.querySelector(`div.event[data-event="${CSS.escape(market.eventId)}"]`);
  if (!node) {
    const text = `${market.eventDescription} ${market.league || ""} ${market.sport || ""}`.toLowerCase();
    const alt = el("button", { type: "button", class: "toggle alt-toggle", hidden: true });
    const header = el("div", { class: "event-h" },
      el("strong", { text: market.eventDescription }),
      alt,
      el("span", { text: `${market.league || ""} · ${market.startTime ? dateTime(market.startTime) : ""}` }));
    node = el("div", { class: "event", dataset: { event: market.eventId, start: market.startTime || 0, text } }, header);
    const id = market.eventId;
    if (!state.folded.has(id)) state.folded.set(id, $("board").querySelectorAll("div.event").length >= AUTO_FOLD_EVENTS);
    node.classList.toggle("folded", state.folded.get(id));
    header.addEventListener("click", (event) => {
      if (event.target === alt) return;
      state.folded.set(id, !state.folded.get(id));
      node.classList.toggle("folded", state.folded.get(id));
    });
    alt.addEventListener("click", () => {
      node.classList.toggle("show-alt");
      markAlternatives(node);
    });
    const after = [...section.querySelectorAll("div.event")].find((e) => Number(e.dataset.start) > (market.startTime || 0));
    section.insertBefore(node, after || null);
    applySearch();
  }
  return node;
}

// Per event, the spread and the total whose best prices are closest to even are the main lines;
// the others are alternative lines, folded until the trader opens them.
function markAlternatives(eventNode) {
  const byType = new Map();
  for (const node of eventNode.querySelectorAll(".market")) {
    const market = state.markets.get(node.dataset.market);
    if (!market || market.marketType === "moneyline") continue;
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

function applySearch() {
  const query = $("search").value.trim().toLowerCase();
  for (const node of $("board").querySelectorAll("div.event")) {
    node.hidden = query !== "" && !node.dataset.text.includes(query);
  }
  for (const section of $("board").querySelectorAll("section[data-sport]")) {
    section.hidden = ![...section.querySelectorAll("div.event")].some((e) => !e.hidden);
  }
}

function renderMarket(market) {
  const books = [...new Set(market.selections.flatMap((s) => Object.keys(s.odds)))].sort();
  const head = el("tr", {}, el("th", {}, `${market.marketType} ${line(market.line)}`.trim(),
    el("button", { type: "button", class: "chart-open", text: "chart", title: "line movement",
      dataset: { chart: market.id }, onclick: () => openChart(market) })), books.map((b) => el("th", { text: b })));
  const rows = market.selections.map((sel) => {
    const best = market.bestOdds[sel.id];
    return el("tr", {},
      el("td", { text: `${sel.name} ${line(sel.line)}`.trim() }),
      books.map((book) => {
        const odds = sel.odds[book];
        if (odds === undefined) return el("td", { class: "price" });
        const key = `${market.id}|${sel.id}|${book}`;
        const previous = state.lastPrices.get(key);
        const decimal = sel.decimal[book];
        state.lastPrices.set(key, decimal);
        const move = previous === undefined || previous === decimal ? "" : decimal > previous ? "up" : "down";
        const isBest = best && best.bookmaker === book;
        const button = el("button", {
          type: "button", class: `price ${move}`, text: american(odds),
          title: `${sel.name} at ${book}: ${decimal}`,
          dataset: { market: market.id, selection: sel.id, book },
          onclick: () => openSlip({ market, selection: sel, book, odds }),
        });
        return el("td", { class: `price${isBest ? " best" : ""}` }, button);
      }));
  });
  const node = el("div", { class: `market${heldBack(market) ? " held" : ""}`, dataset: { market: market.id } },
    el("table", { class: "grid" }, el("thead", {}, head), el("tbody", {}, rows)));
  const old = state.marketNodes.get(market.id);
  if (old) old.replaceWith(node);
  else {
    const event = eventSection(market);
    const order = TYPES.indexOf(market.marketType);
    const after = [...event.querySelectorAll(".market")].find((m) => {
      const other = state.markets.get(m.dataset.market);
      return other && (TYPES.indexOf(other.marketType) > order || (other.marketType === market.marketType && (other.line ?? 0) > (market.line ?? 0)));
    });
    event.insertBefore(node, after || null);
  }
  state.marketNodes.set(market.id, node);
  markAlternatives(node.closest(".event"));
}

// ---- line movement ------------------------------------------------------------------------------
async function openChart(market) {
  const reply = await conn.request("get_history", { marketId: market.id, maxPoints: HISTORY_POINTS });
  if (reply.type !== "history") return;
  const current = state.markets.get(market.id) || market;
  const select = $("chart-selection");
  const keep = state.chart && state.chart.market.id === market.id ? select.value : null;
  state.chart = { market: current, history: reply };
  select.replaceChildren(...current.selections.map((sel) => el("option", { value: sel.id, text: `${sel.name} ${line(sel.line)}`.trim() })));
  if (keep) select.value = keep;
  $("chart-title").textContent = `${current.eventDescription} · ${current.marketType} ${line(current.line)}`;
  drawLineChart();
}

function drawLineChart() {
  if (!state.chart) return;
  const { history } = state.chart;
  $("chart").replaceChildren(lineChart(history, $("chart-selection").value, history.sharpBooks || []));
}

// ---- low hold -----------------------------------------------------------------------------
function maxHold() {
  const raw = $("max-hold").value.trim();
  return raw === "" ? null : Number(raw);
}

function heldBack(market) {
  const limit = maxHold();
  return limit !== null && (market.hold === null || market.hold === undefined || market.hold > limit);
}

function applyHoldFilter() {
  let shown = 0;
  for (const [id, node] of state.marketNodes) {
    const market = state.markets.get(id);
    const hide = !market || heldBack(market);
    node.classList.toggle("held", hide);
    if (!hide) shown += 1;
  }
  $("hold-shown").textContent = maxHold() === null ? "" : `${shown} of ${state.marketNodes.size} markets at or under ${maxHold()}%`;
}

// ---- arbitrage ---------------------------------------------------------------------------
export function stakes(legs, total, unit) {
  const s = legs.reduce((acc, leg) => acc + 1 / leg.effectiveDecimal, 0);
  let amounts = legs.map((leg) => (total * (1 / leg.effectiveDecimal)) / s);
  if (unit > 0) amounts = amounts.map((x) => Math.floor(x / unit + 0.5) * unit);
  const payout = Math.min(...legs.map((leg, i) => amounts[i] * leg.effectiveDecimal));
  const staked = amounts.reduce((a, b) => a + b, 0);
  return { amounts, profit: payout - staked, staked };
}

function applyOpportunities(msg) {
  const received = Date.now();
  if (msg.image) state.opportunities.clear();
  if (msg.delta) {  // v2: changed items whole, closed ones by id (an image replaces them all)
    for (const id of msg.closed || []) state.opportunities.delete(id);
    for (const opp of msg.opportunities) state.opportunities.set(opp.id, { ...opp, receivedAt: received });
  } else {
    const fresh = new Map();
    for (const opp of msg.opportunities) fresh.set(opp.id, { ...opp, receivedAt: received });
    state.opportunities = fresh;
  }
  const live = [...state.opportunities.values()];
  const max = live.reduce((m, o) => Math.max(m, o.edge), 0);
  state.edges.push({ t: received, max, n: live.length });
  state.edges = state.edges.filter((p) => received - p.t <= CHART_WINDOW_MS);
  renderOpportunities();
  drawChart();
}

function renderOpportunities() {
  const total = Number($("calc-total").value) || 0;
  const unit = Number($("calc-unit").value) || 0;
  const list = [...state.opportunities.values()].sort((a, b) => b.edge - a.edge);
  $("arb-count").textContent = String(list.length);
  $("arb-list").replaceChildren(...list.map((opp) => {
    const calc = stakes(opp.legs, total, unit);
    const age = opp.age + (Date.now() - opp.receivedAt) / 1000;
    return el("li", { class: `arb${opp.suspect ? " suspect" : ""}`, dataset: { arb: opp.id } },
      el("div", { class: "arb-h" },
        el("strong", { text: opp.eventDescription }),
        el("span", { text: `${opp.marketType} ${line(opp.line)}`.trim() }),
        el("span", { class: "edge", text: `${opp.edge.toFixed(2)}%` }),
        el("span", { text: `roi ${opp.roi.toFixed(2)}%` }),
        el("span", { text: `age ${age.toFixed(0)}s` }),
        opp.suspect ? el("span", { class: "st-degraded", text: "suspect" }) : null),
      el("table", { class: "grid legs" },
        el("thead", {}, el("tr", {}, ["Book", "Selection", "Odds", "Decimal", "Stake", "Returns"].map((h) => el("th", { text: h })))),
        el("tbody", {}, opp.legs.map((leg, i) => el("tr", {},
          el("td", { text: leg.bookmaker }),
          el("td", { text: `${leg.selectionName} ${line(leg.line)}`.trim() }),
          el("td", {}, el("button", { type: "button", class: "price", text: american(leg.odds),
            onclick: () => openSlip({ market: opp, selection: { id: leg.selection, name: leg.selectionName, line: leg.line }, book: leg.bookmaker, odds: leg.odds, stake: calc.amounts[i] }) })),
          el("td", { text: leg.decimal }),
          el("td", { class: "stake", text: money(calc.amounts[i]) }),
          el("td", { text: money(calc.amounts[i] * leg.effectiveDecimal) }))))),
      el("div", {}, "Guaranteed profit ", el("strong", { class: "profit", text: money(calc.profit) }), ` on ${money(calc.staked)}`));
  }));
}

function drawChart() {
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
  const points = state.edges;
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

// ---- value and middles ------------------------------------------------------------------------
// v1 pushes carry every live item (the list is replaced); v2 pushes changed items whole and closed ids.
function applyItems(map, msg, items, render) {
  if (msg.image) map.clear();
  if (msg.delta || msg.image) {
    for (const id of msg.closed || []) map.delete(id);
  } else map.clear();
  for (const item of items) map.set(item.id, item);
  render();
}

function renderValue() {
  const bankroll = Number($("bankroll").value) || 0;
  const list = [...state.value.values()].sort((a, b) => b.ev - a.ev);
  $("value-count").textContent = String(list.length);
  $("value-list").replaceChildren(...list.map((v) => el("tr", { class: v.suspect ? "suspect" : "", dataset: { value: v.id } },
    el("td", { text: `${v.eventDescription}` }),
    el("td", { text: `${v.selectionName} ${line(v.line)} · ${v.marketType}`.trim() }),
    el("td", { text: v.bookmaker }),
    el("td", {}, el("button", { type: "button", class: "price", text: american(v.odds),
      onclick: () => openSlip({ market: v, selection: { id: v.selection, name: v.selectionName, line: v.line }, book: v.bookmaker, odds: v.odds, stake: v.stakeFraction * bankroll }) })),
    el("td", { text: v.fairOdds.american === null ? "–" : american(v.fairOdds.american), title: `fair ${(v.fairProbability * 100).toFixed(2)}% · ${v.fairOdds.decimal}` }),
    el("td", { class: "ev", text: v.ev.toFixed(2) }),
    el("td", { class: "stake", text: money(v.stakeFraction * bankroll) }),
    el("td", { text: `${v.sharp.bookmakers.join("+")} · ${v.sharp.age.toFixed(0)}s`, title: `${v.sharp.method}, hold ${v.sharp.hold.toFixed(2)}%` }))));
}

function renderMiddles() {
  const list = [...state.middles.values()].sort((a, b) => (b.ev ?? -1e9) - (a.ev ?? -1e9));
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

// ---- bets ----------------------------------------------------------------------------------
async function loadBets() {
  const reply = await conn.request("get_bets", { limit: 100 });
  if (reply.type !== "bets") return;
  state.bets = new Map(reply.bets.map((b) => [b.id, b]));
  state.clv = reply.clv;
  renderBets();
}

function renderBets() {
  const list = [...state.bets.values()].sort((a, b) => b.placedAt - a.placedAt);
  $("my-bets").replaceChildren(...list.map((b) => el("tr", { dataset: { bet: b.id } },
    el("td", { text: time(b.placedAt) }),
    el("td", { text: `${b.selectionId} · ${b.marketId}` }),
    el("td", { text: b.bookmaker }),
    el("td", { text: money(b.stake) }),
    el("td", { text: american(b.odds) }),
    el("td", { text: money(b.payout ?? b.potentialPayout) }),
    el("td", { class: `status s-${b.status}`, text: b.status }),
    el("td", { class: "clv", text: b.clv === null || b.clv === undefined ? "–" : b.clv.toFixed(2) }))));
  const clv = state.clv;
  $("clv-avg").textContent = clv && clv.average !== null ? `${clv.average.toFixed(2)}%` : "–";
  $("clv-n").textContent = clv ? `over ${clv.bets} bets with a closing line` : "";
}

function openSlip({ market, selection, book, odds, stake }) {
  state.slip = { marketId: market.marketId || market.id, selectionId: selection.id, bookmaker: book };
  $("slip-desc").textContent = `${market.eventDescription} · ${market.marketType} ${line(market.line)} · ${selection.name} ${line(selection.line)} @ ${book}`;
  $("slip-odds").value = odds;
  if (stake) $("slip-stake").value = money(stake);
  const msg = $("slip-msg");
  msg.textContent = "";
  msg.className = "msg";
  $("slip").hidden = false;
  $("slip-stake").focus();
}

async function placeBet(event) {
  event.preventDefault();
  const msg = $("slip-msg");
  if (!state.slip) return;
  const payload = {
    ...state.slip,
    stake: Number($("slip-stake").value),
    odds: Number($("slip-odds").value),
    clientRef: crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`,
  };
  const reply = await conn.request("place_bet", payload);
  if (reply.type === "bet_placed") {
    state.bets.set(reply.bet.id, reply.bet);
    renderBets();
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

// ---- wiring ----------------------------------------------------------------------------------
function init() {
  renderFilters();
  $("calc-total").addEventListener("input", renderOpportunities);
  $("calc-unit").addEventListener("change", renderOpportunities);
  $("bankroll").addEventListener("input", renderValue);
  $("max-hold").addEventListener("input", applyHoldFilter);
  $("search").addEventListener("input", applySearch);
  $("chart-selection").addEventListener("change", drawLineChart);
  $("slip").addEventListener("submit", placeBet);
  $("slip-cancel").addEventListener("click", () => { $("slip").hidden = true; state.slip = null; });
  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (!token) return;
    sessionStorage.setItem("sbws-token", token);
    $("token").value = "";
    conn.reconnect(token);
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem("sbws-token");
    state.bets.clear();
    renderBets();
    alertsPanel.rules = [];
    alertsPanel.recent = [];
    conn.reconnect(null);
  });
  setInterval(() => { renderOpportunities(); drawChart(); }, 1000);
  setInterval(() => { if (state.chart) openChart(state.chart.market); }, 15000);
  conn.open();
}

init();
