// Sportsbook status, and the subscription filters (sports, market types, books) that drive the WebSocket.
import { el } from "./dom.js";
import { SPORTS, TYPES } from "./board.js";

const $ = (id) => document.getElementById(id);

function chip(group, value, checked, onChange) {
  const input = el("input", { type: "checkbox", value, checked, dataset: { group } });
  input.addEventListener("change", () => onChange(input));
  return el("label", {}, input, value);
}

export class Filters {
  constructor(onChange) {
    this.onChange = onChange;
    this.wanted = { sports: new Set(SPORTS), types: new Set(TYPES), books: new Set() };
    const toggle = (set, minimum) => (input) => {
      if (!input.checked && set.size <= minimum && set.has(input.value)) {
        input.checked = true;
        return;
      }
      if (input.checked) set.add(input.value);
      else set.delete(input.value);
      this.onChange();
    };
    $("f-sports").replaceChildren(...SPORTS.map((s) => chip("sport", s, true, toggle(this.wanted.sports, 1))));
    $("f-types").replaceChildren(...TYPES.map((t) => chip("type", t, true, toggle(this.wanted.types, 1))));
  }

  payload() {
    return {
      sports: [...this.wanted.sports],
      marketTypes: [...this.wanted.types],
      sportsbooks: [...this.wanted.books],
      arbitrage: true,
      value: true,
      middles: true,
      steam: true,
    };
  }

  books(list) {
    const box = $("f-books");
    const known = new Set([...box.querySelectorAll("input")].map((i) => i.value));
    const ids = list.map((b) => b.id);
    if (ids.length === known.size && ids.every((id) => known.has(id))) return;
    box.replaceChildren(...ids.map((id) => chip("book", id, this.wanted.books.has(id), (input) => {
      if (input.checked) this.wanted.books.add(id);
      else this.wanted.books.delete(id);
      this.onChange();
    })));
  }
}

export function renderBooks(list) {
  $("books").replaceChildren(...list.map((b) => el("tr", { dataset: { book: b.id } },
    el("td", { text: b.name }),
    el("td", { class: `st-${b.status}`, text: b.status }),
    el("td", { text: b.responseTime }),
    el("td", { text: b.availableMarkets }),
    el("td", { text: b.activeBets }),
  )));
}
