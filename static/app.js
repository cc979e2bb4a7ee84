// The trader's dashboard: speaks only the public WebSocket protocol, version 2 (docs/protocol.md).
// This module wires the panels to the connection; each panel owns its state, store.js holds the reducers.
import { AlertsPanel } from "./alerts.js";
import { ArbitragePanel } from "./arbitrage.js";
import { BetsPanel } from "./bets.js";
import { Board } from "./board.js";
import { Filters, renderBooks } from "./books.js";
import { Connection } from "./connection.js";
import { DutchPanel } from "./dutch.js";
import { MatchedPanel } from "./matched.js";
import { MiddlesPanel } from "./middles.js";
import { MovementPanel } from "./movement.js";
import { Session } from "./session.js";
import { applyItems, applyMarkets } from "./store.js";
import { ValuePanel } from "./value.js";

const $ = (id) => document.getElementById(id);

const session = new Session();
const conn = new Connection({ onMessage, onState, token: sessionStorage.getItem("sbws-token") });
const bets = new BetsPanel(conn);
const openSlip = (pick) => bets.open(pick);
const board = new Board({ onPrice: openSlip, onChart: (market) => movement.open(market),
  onDutch: (market) => dutch.open(market), valueKeys });
const movement = new MovementPanel(conn, board.markets);
const dutch = new DutchPanel(conn, board.markets);
new MatchedPanel(conn);
const filters = new Filters(subscribe);
const alertsPanel = new AlertsPanel(document.querySelector("section.alerts"), () => conn.token);
// Which (market, selection, book) cells are value now: the outright board flags them.
function valueKeys() {
  return new Set([...panels.value_update.panel.items.values()].map((v) => `${v.marketId}|${v.selection}|${v.bookmaker}`));
}
const panels = {
  arbitrage_update: { panel: new ArbitragePanel({ onPrice: openSlip }), key: "opportunities" },
  value_update: { panel: new ValuePanel({ onPrice: openSlip }), key: "value" },
  middles_update: { panel: new MiddlesPanel(), key: "middles" },
};

function onState(status, delay) {
  const node = $("conn");
  node.className = `conn conn-${status}`;
  node.textContent = status === "reconnecting" && delay ? `reconnecting in ${(delay / 1000).toFixed(1)}s` : status;
}

function connected(msg) {
  $("client-id").textContent = msg.clientId;
  $("who").textContent = msg.authenticated ? `signed in as ${msg.username}` : "anonymous";
  $("signout").hidden = !msg.authenticated;
  if (conn.token && !msg.authenticated) {
    sessionStorage.removeItem("sbws-token");
    conn.token = null;
    $("who").textContent = "anonymous: token not accepted";
  }
  const from = session.resumeFrom();
  if (from) conn.send("subscribe", { ...filters.payload(), resume: from });  // what we missed, or an image
  else subscribe();
  if (msg.authenticated) bets.load();
  alertsPanel.load();
}

function onMessage(msg) {
  session.observe(msg);
  const signal = panels[msg.type];
  if (signal) {
    applyItems(signal.panel.items, msg, msg[signal.key], Date.now());
    signal.panel.pushed(Date.now());
    if (msg.type === "value_update") board.valueChanged();
  }
  switch (msg.type) {
    case "resumed":
    case "snapshot_required":
      $("sync").dataset.state = msg.type === "resumed" ? "resumed" : "resynced";
      break;
    case "connected":
      connected(msg);
      break;
    case "sportsbooks":
      renderBooks(msg.sportsbooks);
      filters.books(msg.sportsbooks);
      break;
    case "market_update":
      board.show(applyMarkets(board.markets, msg));
      break;
    case "bet_updated":
      bets.updated(msg.bet);
      bets.load();
      break;
    case "bet_settled":
      bets.updated(msg.bet);
      break;
    case "alert":
      alertsPanel.received(msg.alert);
      break;
    case "steam":
      if (movement.showing(msg.steam.marketId)) movement.refresh();
      break;
    case "heartbeat":
      $("clients").textContent = msg.clients;
      break;
    default:
      break;
  }
  const status = session.status();
  if (status !== null) $("sync").textContent = status;
}

function subscribe() {
  const current = session.subscribed;
  if (current) {
    conn.send("unsubscribe", { sports: current.sports, marketTypes: current.marketTypes, sportsbooks: current.sportsbooks });
  }
  board.markets.clear();
  board.reset();
  for (const { panel } of Object.values(panels)) {
    panel.items.clear();
    panel.render();
  }
  conn.send("subscribe", filters.payload());
}

function init() {
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
    bets.clear();
    alertsPanel.rules = [];
    alertsPanel.recent = [];
    conn.reconnect(null);
  });
  const arbitrage = panels.arbitrage_update.panel;
  setInterval(() => { arbitrage.render(); arbitrage.drawChart(); }, 1000);
  setInterval(() => movement.refresh(), 15000);
  conn.open();
}

init();
