// Line-movement chart: each book's implied probability over time, as inline SVG (no library, no CDN).
const NS = "http://www.w3.org/2000/svg";
const W = 640;
const H = 240;
const PAD = { left: 44, right: 10, top: 12, bottom: 26 };
const COLOURS = ["#58a6ff", "#d29922", "#a371f7", "#3fb950", "#f778ba", "#79c0ff", "#ffa657", "#7ee787", "#d2a8ff", "#ff7b72"];

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// history: the get_history reply; selection: "home", "over", …; sharp: the server's sharp books, in order.
export function lineChart(history, selection, sharp) {
  const series = history.series.filter((s) => s.selection === selection);
  const times = series.flatMap((s) => s.points.map((p) => p[0]));
  const lo = times.length ? Math.min(...times) : history.from;  // the span of the data, not the whole query window
  const hi = history.to;
  const probs = series.flatMap((s) => s.points.filter((p) => p[2] !== null).map((p) => 100 / p[2]));
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", class: "line-chart",
    "aria-label": `implied probability of ${selection} by book` });
  if (!probs.length) {
    root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "muted" }, "no prices recorded yet"));
    return root;
  }
  let yMin = Math.min(...probs);
  let yMax = Math.max(...probs);
  if (yMax - yMin < 1) { yMin -= 0.5; yMax += 0.5; }
  const x = (t) => PAD.left + ((t - lo) / Math.max(1, hi - lo)) * (W - PAD.left - PAD.right);
  const y = (p) => H - PAD.bottom - ((p - yMin) / (yMax - yMin)) * (H - PAD.top - PAD.bottom);
  for (const v of [yMin, (yMin + yMax) / 2, yMax]) {
    root.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid-line" }));
    root.append(svg("text", { x: PAD.left - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" }, `${v.toFixed(1)}%`));
  }
  for (const t of [lo, hi]) {
    root.append(svg("text", { x: x(t), y: H - 6, "text-anchor": t === lo ? "start" : "end", class: "axis" },
      new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })));
  }
  const sharpBook = sharp.find((b) => series.some((s) => s.bookmaker === b));
  const ordered = [...series].sort((a, b) => (a.bookmaker === sharpBook) - (b.bookmaker === sharpBook));
  ordered.forEach((s, i) => {
    // Step line: a price holds until the next one; a withdrawal (null) breaks the line.
    let path = "";
    let open = false;
    let lastY = null;
    for (const [t, , decimal] of s.points) {
      if (decimal === null) { open = false; continue; }
      const py = y(100 / decimal);
      path += open ? ` H${x(t).toFixed(1)} V${py.toFixed(1)}` : ` M${x(t).toFixed(1)} ${py.toFixed(1)}`;
      open = true;
      lastY = py;
    }
    if (open && lastY !== null) path += ` H${x(hi).toFixed(1)}`;
    const isSharp = s.bookmaker === sharpBook;
    const line = svg("path", { d: path.trim(), class: isSharp ? "series sharp" : "series", "data-book": s.bookmaker,
      stroke: isSharp ? "#ffffff" : COLOURS[i % COLOURS.length], "stroke-width": isSharp ? 2.5 : 1.2, fill: "none" });
    line.append(svg("title", {}, isSharp ? `${s.bookmaker} (sharp)` : s.bookmaker));
    root.append(line);
  });
  for (const steam of history.steam.filter((e) => e.selection === selection)) {
    const sx = x(steam.detectedAt);
    const mark = svg("g", { class: "steam-mark" });
    mark.append(svg("line", { x1: sx, x2: sx, y1: PAD.top, y2: H - PAD.bottom }));
    mark.append(svg("text", { x: sx + 3, y: PAD.top + 10 }, steam.direction === "shortening" ? "▲ steam" : "▼ steam"));
    mark.append(svg("title", {}, `${steam.direction} ${steam.move.toFixed(1)} pts at ${steam.books.length} books` +
      `${steam.sharpFirst ? ", sharp first" : ""}`));
    root.append(mark);
  }
  return root;
}
