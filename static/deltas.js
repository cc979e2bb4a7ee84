// Protocol v2 on the client: apply a market delta (format 2, short keys) to the markets held
// (docs/protocol.md, "Reducer"). ts: the frame's "ts"; a delta without a "timestamp" of its own was made then.
const KEYS = { s: "selections", d: "decimal", f: "fairProbability", b: "bestOdds", h: "hold" };

// American odds of a decimal price, rounded as the server rounds.
export function american(d) {
  const raw = d >= 2 ? (d - 1) * 100 : -100 / (d - 1);
  const rounded = Math.sign(raw) * Math.floor(Math.abs(raw) + 0.5);
  return Math.abs(rounded) < 100 ? 100 : rounded;
}

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
    if (key === "s") {
      for (const sel of value) {
        let target = market.selections.find((s) => s.id === sel.id);
        if (!target) {
          target = { id: sel.id, odds: {}, decimal: {} };
          market.selections.push(target);
        }
        for (const [k, v] of Object.entries(sel)) {
          if (k === "d") {
            for (const [book, price] of Object.entries(v)) {
              if (price === null) {
                delete target.odds[book];
                delete target.decimal[book];
              } else {
                target.odds[book] = american(price);
                target.decimal[book] = price;
              }
            }
          } else if (k !== "id") target[KEYS[k] ?? k] = v;
        }
      }
    } else if (key === "b") {
      for (const [sel, book] of Object.entries(value)) {
        if (book === null) delete market.bestOdds[sel];
        else market.bestOdds[sel] = { bookmaker: book };
      }
    } else if (key !== "id") market[KEYS[key] ?? key] = value;
  }
  for (const sel of market.selections) { // a best is the selection's price at its book
    const best = market.bestOdds[sel.id];
    if (best) {
      best.odds = sel.odds[best.bookmaker];
      best.decimal = sel.decimal[best.bookmaker];
    }
  }
  return market;
}
