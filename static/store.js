// Pure reducers of server messages into what the dashboard holds: no DOM, run by the wiring in app.js.
import { applyDelta } from "./deltas.js";

// One reducer for every signal kind (arbitrage, value, middles): v1 pushes carry every live item (the list is
// replaced); v2 pushes carry changed items whole and closed ids, and an image replaces them all.
export function applyItems(items, msg, list, receivedAt) {
  if (msg.image || !msg.delta) items.clear();
  for (const id of msg.closed || []) items.delete(id);
  for (const item of list) items.set(item.id, { ...item, receivedAt });
  return items;
}

// A market push: an image replaces every market, a v2 delta updates the markets it names (applyDelta),
// v1 markets arrive whole. Returns what to redraw: { reset, changed: [market], removed: [id] }.
export function applyMarkets(markets, msg) {
  const out = { reset: Boolean(msg.image), changed: [], removed: [] };
  if (msg.image) markets.clear();
  for (const entry of msg.markets) {
    if (msg.delta) {
      const market = applyDelta(markets, entry, msg.ts);
      if (market === null || market.status === "closed") {
        markets.delete(entry.id);
        out.removed.push(entry.id);
      } else out.changed.push(market);
    } else if (entry.status === "closed") {
      markets.delete(entry.id);
      out.removed.push(entry.id);
    } else {
      markets.set(entry.id, entry);
      out.changed.push(entry);
    }
  }
  return out;
}

// Equal-return stakes over an opportunity's legs for a total, rounded to a unit when one is given.
// A back-lay arbitrage for another back stake: every figure the server gave for its stake scales with it.
export function backLayStakes(opp, total) {
  const factor = total / opp.totalStake;
  return { amounts: opp.legs.map((leg) => leg.stake * factor), liabilities: opp.legs.map((leg) => leg.liability * factor),
    profit: opp.guaranteedProfit * factor, staked: total };
}

export function stakes(legs, total, unit) {
  const s = legs.reduce((acc, leg) => acc + 1 / leg.effectiveDecimal, 0);
  let amounts = legs.map((leg) => (total * (1 / leg.effectiveDecimal)) / s);
  if (unit > 0) amounts = amounts.map((x) => Math.floor(x / unit + 0.5) * unit);
  const payout = Math.min(...legs.map((leg, i) => amounts[i] * leg.effectiveDecimal));
  const staked = amounts.reduce((a, b) => a + b, 0);
  return { amounts, profit: payout - staked, staked };
}
