// The fan-out benchmark's load generator on Bun (benchmarks/fanout.py starts it when bun is found): opens
// sockets, subscribes them, counts what arrives in the measured window, prints one JSON line of figures and
// exits (the sockets drop with the process: no close handshakes to wait for). Bun's native WebSocket client
// keeps the generator far cheaper than the server it measures, which the Python generator is not at 5,000.
//   bun benchmarks/fanout_load.ts '{"url": …, "indices": […], "startAt": s, "stopAt": s, "protocol": 2, …}'
const cfg = JSON.parse(process.argv[2]);
const SPORTS = ["NBA", "NFL", "MLB", "NHL", "Soccer"];
const BOOKS = ["pinnacle", "draftkings", "fanduel", "betmgm", "caesars", "bet365", "williamhill", "pointsbet", "betrivers", "unibet"];
const stamp: string = cfg.stamp;
const marketEntry = /\{"id":"[^"]*:/g; // a v2 delta entry: market ids hold a colon, selection ids never do

// The same subscription mix as fanout.py's subscription().
function subscription(i: number): any {
  if (cfg.mix === "trader") return { sports: SPORTS, arbitrage: true };
  const kind = i % 20, sport = SPORTS[i % SPORTS.length];
  if (kind < 7) return { sports: [sport] };
  if (kind < 12) return { sports: [sport, SPORTS[(i + 1) % SPORTS.length]], marketTypes: ["moneyline", "spread"] };
  if (kind < 16) return { sportsbooks: [BOOKS[i % BOOKS.length], BOOKS[(i + 3) % BOOKS.length]], marketTypes: ["moneyline"], arbitrage: true };
  if (kind < 18) return { marketTypes: ["total"], sports: [sport] };
  return { arbitrage: true, sports: [sport] };
}

const stats = { frames: 0, updates: 0, latencies: [] as number[], connected: 0, closed: 0, errors: 0, update_bytes: 0,
  connect_began: 0, connect_ended: 0, late_connect_s: 0 };
const now = () => (performance.timeOrigin + performance.now());
const startMs = cfg.startAt * 1000, stopMs = cfg.stopAt * 1000;

function onMessage(ev: MessageEvent) {
  const t = now();
  if (t < startMs || t > stopMs) return;
  stats.frames++;
  const text = ev.data as string;
  if (!text.startsWith('{"type":"market_update"') && !text.startsWith('{"type": "market_update"')) return;
  const at = text.lastIndexOf(stamp);
  if (at <= 0) return;
  if (cfg.protocol === 2) {
    if (text.includes('"image":true')) return;
    stats.updates += (text.match(marketEntry) ?? []).length;
  } else {
    stats.updates += text.split('"eventId":').length - 1;
  }
  stats.update_bytes += text.length;
  stats.latencies.push(Math.round((t - parseFloat(text.slice(at + stamp.length).replace(/[ }]/g, ""))) * 100) / 100);
}

function open(i: number): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(cfg.url);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      stats.connected++;
      if (!cfg.idle) ws.send(JSON.stringify({ type: "subscribe", payload: subscription(i) }));
      resolve();
    };
    ws.onmessage = cfg.idle ? null : onMessage;
    ws.onerror = () => { if (!opened) { stats.errors++; resolve(); } };
    ws.onclose = () => { if (opened && now() < stopMs) stats.closed++; };
  });
}

// The figures go out at stopAt whatever happened: a connect phase still running then is reported, not waited for.
setTimeout(() => {
  if (!stats.connect_ended) {
    stats.connect_ended = now() / 1000;
    stats.late_connect_s = Math.round((stats.connect_ended - cfg.startAt) * 100) / 100;
  }
  process.stdout.write(JSON.stringify(stats) + "\n", () => process.exit(0));
}, Math.max(0, stopMs - now()));
stats.connect_began = now() / 1000;
const queue = [...cfg.indices];
await Promise.all(Array.from({ length: cfg.concurrency }, async () => {
  while (queue.length && now() < stopMs) await open(queue.shift());
}));
if (now() < stopMs) {
  stats.connect_ended = now() / 1000;
  stats.late_connect_s = Math.max(0, Math.round((stats.connect_ended - cfg.startAt) * 100) / 100);
}
