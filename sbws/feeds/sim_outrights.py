"""The simulator's outrights: a golf tournament and horse races, each with a hidden truth.

A field's truth is one strength per runner; the win probabilities are their
softmax, and a finishing order is drawn by Plackett–Luce (the Gumbel trick:
sort strength + Gumbel noise), which has exactly those win probabilities.  A
place market paying k places is priced from Harville's formula, the
probability of finishing in the first k under the same model.  Each book sees
the strengths through its own noise, prices with its own outright margin
(wider than on matches: a golf field carries 15-45 %), and the soft books
leave out long shots below their own cut, as real bookmakers do.  Pure apart
from the generator it is handed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from attrs import define, field

from engine.markets import OUTRIGHT, MarketKey, runner_id

GOLF_FIELD = (60, 150)
RACE_FIELD = (8, 14)


def golf_margin(match_margin: float) -> float:
    return 0.05 + 6.0 * match_margin


def race_margin(match_margin: float) -> float:
    return 0.03 + 2.5 * match_margin

_FIRST = ("Ludvig", "Nicolai", "Thorbjørn", "Rasmus", "Sébastien", "Matthias", "José María", "Joaquín", "Sami",
          "Tommy", "Rory", "Scottie", "Xander", "Jordan", "Collin", "Viktor", "Hideki", "Tom", "Min Woo", "Aksel",
          "Jon", "Shane", "Tyrrell", "Max", "Sepp", "Brian", "Keegan", "Wyndham", "Cameron", "Adam")
_LAST = ("Åberg", "Højgaard", "Olesen", "Söderberg", "Pérez", "Núñez", "Välimäki", "Fleetwood", "McIlroy", "Lowry",
         "Straka", "Matsuyama", "Kim", "Lee", "Hovland", "Rahm", "Lowry", "Hatton", "Homa", "Schauffele", "Spieth",
         "Morikawa", "Hughes", "Young", "Smith", "Scott", "Clark", "Fox", "MacIntyre", "Bhatia", "Fitzpatrick")
_HORSE = ("Silver", "Dancing", "Northern", "Golden", "Midnight", "Royal", "Wild", "Lucky", "Brave", "Quiet", "Sea",
          "Storm", "Desert", "Highland", "Copper", "Velvet")
_STEED = ("Arrow", "Dancer", "Light", "Crown", "Echo", "Legend", "Rover", "Spirit", "Thunder", "Comet", "Harbour",
          "Whisper", "Falcon", "Blaze", "Meadow", "Ember")
COURSES = ("Sim Downs", "Lakeside Park", "Harbour Vale")


@define
class Field:
    """One outright event: its runners (ids and names), their hidden strengths and its markets (WIN, and for a
    race a PLACE market paying ``places``)."""

    event_id: str
    sport: str
    league: str
    title: str
    ids: list[str]
    names: list[str]
    strength: np.ndarray
    markets: list[MarketKey]
    spread: float
    """How far the soft books' views stray from the truth (log-strength; the sharp's, a third of it)."""
    margin: Callable[[float], float]
    """A book's outright margin from its margin on matches."""
    start: float = 0.0
    end: float = 0.0
    closed: bool = False
    bias: np.ndarray = field(factory=lambda: np.zeros((0, 0)))
    """(book, runner): each book's view of each strength, mean-reverting."""
    omitted: np.ndarray = field(factory=lambda: np.zeros((0, 0), bool))
    """(book, runner): the long shots a book leaves out."""

    def win(self, strength: np.ndarray | None = None) -> np.ndarray:
        s = self.strength if strength is None else strength
        e = np.exp(s - s.max())
        out: np.ndarray = e / e.sum()
        return out


def golf(event_id: str, rng: np.random.Generator) -> Field:
    n = int(rng.integers(GOLF_FIELD[0], GOLF_FIELD[1] + 1))
    names = _unique(lambda: f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", n)
    strength = rng.normal(0.0, 0.9, n)
    return Field(event_id, "Golf", "PGA Tour", f"The Sim Open {event_id.rsplit('-', 1)[-1]}", [runner_id(x) for x in names],
                 names, strength, [MarketKey(event_id, OUTRIGHT)], 0.14, golf_margin)


def race(event_id: str, rng: np.random.Generator) -> Field:
    n = int(rng.integers(RACE_FIELD[0], RACE_FIELD[1] + 1))
    names = _unique(lambda: f"{rng.choice(_HORSE)} {rng.choice(_STEED)}", n)
    strength = rng.normal(0.0, 0.7, n)
    places = 2 if n < 12 else 3
    markets = [MarketKey(event_id, OUTRIGHT), MarketKey(event_id, OUTRIGHT, winners=places)]
    course = COURSES[int(rng.integers(len(COURSES)))]
    return Field(event_id, "Horse Racing", course, f"{course} race {event_id.rsplit('-', 1)[-1]}",
                 [runner_id(x) for x in names], names, strength, markets, 0.07, race_margin)


def _unique(make: Callable[[], str], n: int) -> list[str]:
    """``n`` distinct names (a repeat gets a roman numeral, as a second horse of a name would)."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        name = str(make())
        if runner_id(name) in seen:
            name = f"{name} {'I' * (1 + sum(1 for x in out if x.startswith(name)))}"
        seen.add(runner_id(name))
        out.append(name)
    return out


def place_probabilities(p: np.ndarray, places: int) -> np.ndarray:
    """Harville: the probability of each runner finishing in the first ``places`` (1 to 3), given win
    probabilities ``p``; sums to ``places``."""
    total = p.copy()
    if places >= 2:
        rest = 1.0 - p  # P(j first) · P(i second | j first) = p_j · p_i / (1 − p_j)
        second_given = p[None, :] / rest[:, None]
        np.fill_diagonal(second_given, 0.0)
        second = p[:, None] * second_given  # [j, i]: j first, i second
        total += second.sum(axis=0)
        if places >= 3:
            left = 1.0 - p[:, None] - p[None, :]  # after j and l
            with np.errstate(divide="ignore", invalid="ignore"):
                third = second[:, :, None] * p[None, None, :] / left[:, :, None]  # [j, l, i]
            n = p.size
            idx = np.arange(n)
            third[idx, idx, :] = 0.0
            third[idx, :, idx] = 0.0
            third[:, idx, idx] = 0.0
            total += np.nan_to_num(third).sum(axis=(0, 1))
    return total


def finishing_order(f: Field, rng: np.random.Generator) -> list[str]:
    """A finishing order drawn from the truth (Plackett–Luce by the Gumbel trick)."""
    noisy = f.strength + rng.gumbel(size=f.strength.size)
    return [f.ids[i] for i in np.argsort(-noisy)]


def outright_price(p: float, margin: float) -> float:
    """A book's price for probability ``p`` with its margin, on the coarser steps books use for long odds."""
    raw = 1.0 / (max(p, 1e-4) * (1.0 + margin))
    step = 0.01 if raw < 5 else 0.1 if raw < 20 else 1.0 if raw < 100 else 10.0
    return max(1.01, math.floor(raw / step) * step)
