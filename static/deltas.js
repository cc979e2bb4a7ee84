// Protocol v2 on the client: apply a market delta to the markets held (docs/protocol.md, "Reducer").
// ts: the frame's "ts"; a delta without a "timestamp" of its own was made at that time.
export function applyDelta(markets, delta, ts) {
  if (delta.status === "closed" && Object.keys(delta).length === 2) {
    markets.delete(delta.id);
    return null;
  }
  let market = markets.get(delta.id);
  if (!market) {
    market = { id: delta.id, selections: [], bestOdds: {} };
    markets.set(delta.id, market);
  }
  if (ts !== undefined && delta.timestamp === undefined) market.timestamp = ts;
  for (const [key, value] of Object.entries(delta)) {
    if (key === "selections") {
      for (const sel of value) {
        let target = market.selections.find((s) => s.id === sel.id);
        if (!target) {
          target = { id: sel.id, odds: {}, decimal: {} };
          market.selections.push(target);
        }
        for (const [k, v] of Object.entries(sel)) {
          if (k === "odds" || k === "decimal") {
            for (const [book, price] of Object.entries(v)) {
              if (price === null) delete target[k][book];
              else target[k][book] = price;
            }
          } else if (k !== "id") target[k] = v;
        }
      }
    } else if (key === "bestOdds") {
      for (const [sel, best] of Object.entries(value)) {
        if (best === null) delete market.bestOdds[sel];
        else market.bestOdds[sel] = best;
      }
    } else market[key] = value;
  }
  return market;
}
