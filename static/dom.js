// Tiny DOM helpers. Every string from the server goes through textContent, never innerHTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function american(odds) {
  return odds > 0 ? `+${odds}` : String(odds);
}

// American odds for a decimal price, rounded so a bet at it still accepts that price: down to back it (the
// worst price accepted), up to lay it (the highest lay accepted).
export function toAmerican(decimal, side = "back") {
  const exact = decimal >= 2 ? (decimal - 1) * 100 : -100 / (decimal - 1);
  const rounded = side === "lay" ? Math.ceil(exact - 1e-9) : Math.floor(exact + 1e-9);
  if (rounded > -100 && rounded < 100) return side === "lay" ? 100 : -100;
  return rounded;
}

export function money(value) {
  return Number(value).toFixed(2);
}

export function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function dateTime(ms) {
  return new Date(ms).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
}

export function line(value) {
  if (value === null || value === undefined) return "";
  return value > 0 ? `+${value}` : String(value);
}
