"""The embedded market simulator: a deterministic, self-contained odds source.

Every event has a hidden truth (expected home margin and expected total for
the US sports, goal rates for soccer) that moves by random walk.  Each book
sees that truth through its own lag and noise, prices it with its own margin,
and refreshes at its own pace; books also go offline now and then.  When one
book is slow to follow a move, its stale price and a quick book's fresh one
can sum to less than 1 in implied probability: arbitrage appears and
vanishes on its own, nothing is planted.  Events open for pre-match betting,
start (their markets close), finish with a result drawn from the truth (bets
settle) and are replaced.  Beside the matches run outrights (``sim_outrights``):
a golf tournament of 60-150 runners and two horse races of 8-14 with WIN and
PLACE markets, on a generator of their own so the matches stay as they were.
Same seed, same markets.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable

import numpy as np
from attrs import define, field

from engine.board import Quote
from engine.markets import MONEYLINE, SPREAD, TOTAL, MarketKey

from ..market.records import (DEGRADED, OFFLINE, ONLINE, Batch, BookStatus, EventInfo, EventResult, Runner,
                              RunnerQuote)
from . import sim_outrights as outrights
from .base import NO_QUOTA

BOOKS = (
    ("pinnacle", "Pinnacle", 0.020),
    ("draftkings", "DraftKings", 0.045),
    ("fanduel", "FanDuel", 0.045),
    ("betmgm", "BetMGM", 0.050),
    ("caesars", "Caesars", 0.050),
    ("bet365", "Bet365", 0.040),
    ("williamhill", "William Hill", 0.050),
    ("pointsbet", "PointsBet", 0.055),
    ("betrivers", "BetRivers", 0.050),
    ("unibet", "Unibet", 0.045),
    ("bovada", "Bovada", 0.055),
    ("betonline", "BetOnline", 0.040),
    ("mybookie", "MyBookie", 0.060),
    ("circa", "Circa Sports", 0.030),
    ("wynnbet", "WynnBET", 0.055),
    ("superbook", "SuperBook", 0.045),
    ("barstool", "Barstool", 0.055),
    ("betway", "Betway", 0.050),
    ("marathonbet", "Marathon Bet", 0.035),
    ("sbobet", "SBOBET", 0.030),
)

# sport, league, margin sd, mean total, total sd, spread step
US_SPORTS = (
    ("NBA", "NBA", 12.0, 226.0, 14.0, 1.0),
    ("NFL", "NFL", 13.5, 45.0, 10.0, 1.0),
    ("MLB", "MLB", 4.2, 8.5, 3.0, 0.5),
    ("NHL", "NHL", 2.4, 6.0, 1.8, 0.5),
)
SOCCER = (("Soccer", "EPL"), ("Soccer", "La Liga"))
TEAMS = {
    "NBA": ["Lakers", "Celtics", "Warriors", "Bucks", "Nuggets", "Heat", "Suns", "Knicks", "76ers", "Mavericks",
            "Clippers", "Kings", "Cavaliers", "Grizzlies", "Thunder", "Timberwolves"],
    "NFL": ["Chiefs", "Eagles", "Bills", "49ers", "Cowboys", "Bengals", "Ravens", "Dolphins", "Lions", "Jets",
            "Packers", "Steelers"],
    "MLB": ["Yankees", "Dodgers", "Astros", "Braves", "Mets", "Padres", "Phillies", "Mariners", "Cubs", "Red Sox"],
    "NHL": ["Bruins", "Rangers", "Oilers", "Avalanche", "Stars", "Panthers", "Maple Leafs", "Kings", "Jets", "Devils"],
    "EPL": ["Arsenal", "Man City", "Liverpool", "Chelsea", "Tottenham", "Newcastle", "Man United", "Aston Villa",
            "Brighton", "West Ham"],
    "La Liga": ["Real Madrid", "Barcelona", "Atletico Madrid", "Sevilla", "Real Sociedad", "Villarreal", "Betis",
                "Valencia", "Athletic Club", "Girona"],
}

PRE_MATCH = (180.0, 1200.0)
JUMP_RATE = 1 / 400.0  # jumps per simulated second per event
DURATION = 600.0
OUTRIGHT_EVENTS = (("golf", outrights.golf, (600.0, 1800.0), 900.0),
                   ("race", outrights.race, (180.0, 900.0), 120.0),
                   ("race", outrights.race, (180.0, 900.0), 120.0))
"""The outrights open at any time: (kind, maker, time to the start, duration)."""
CONFIRM_EVERY = 10
"""Every this many ticks each online book is reported online: the feed stands by its unchanged prices."""


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


_GOAL_DIFF = np.subtract.outer(np.arange(12), np.arange(12))
_GOALS = np.add.outer(np.arange(12), np.arange(12))


def _poisson(lam: float, n: int = 12) -> np.ndarray:
    k = np.arange(n)
    logs = -lam + k * math.log(max(lam, 1e-9)) - np.array([math.lgamma(i + 1) for i in k])
    out: np.ndarray = np.exp(logs)
    return out


@define
class SimBook:
    id: str
    name: str
    margin: float
    refresh: float
    noise: float
    latency: float
    status: str = ONLINE


@define
class SimEvent:
    info: EventInfo
    start: float
    end: float
    mu: float
    total: float
    sd: float
    total_sd: float
    markets: list[MarketKey]
    bias: np.ndarray
    """Each book's opinion offset (mu, total), in units of the event's scale; mean-reverting."""
    closed: bool = False
    ids: list[str] = field(factory=list)

    def __attrs_post_init__(self) -> None:
        self.ids = [spec.id for spec in self.markets]

    @property
    def scale(self) -> tuple[float, float]:
        return (0.1, 0.1) if self.info.three_way else (self.sd, self.total_sd)


class Simulator:
    name = "sim"
    quota = NO_QUOTA

    def __init__(
        self,
        seed: int = 1,
        events: int = 24,
        books: int = 10,
        tick_ms: int = 500,
        speed: float = 1.0,
        clock: Callable[[], float] = time.time,
        realtime: bool = True,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.n_events = events
        self.tick = tick_ms / 1000.0
        self.speed = speed
        self.clock = clock
        self.realtime = realtime
        self.sim_now = 0.0
        self.sequence = 0
        self.ticks = 0
        self.last_sent: dict[tuple[str, int, str], float] = {}
        self.books = [
            SimBook(
                id=bid, name=name, margin=margin,
                refresh=float(self.rng.uniform(0.15, 0.9)) if i else 0.9,
                noise=float(self.rng.uniform(0.005, 0.03)),
                latency=float(self.rng.uniform(40, 400)),
            )
            for i, (bid, name, margin) in enumerate(BOOKS[:books])
        ]
        self.events: dict[str, SimEvent] = {}
        self.outright_rng = np.random.default_rng([seed, 23])
        self.outright_sequence = 0
        self.fields: list[outrights.Field | None] = [None] * len(OUTRIGHT_EVENTS)
        self.last_batch = 0.0

    # -- the truth and the books' view of it ---------------------------------------------
    def _new_event(self) -> SimEvent:
        self.sequence += 1
        event_id = f"sim-{self.sequence}"
        soccer = self.rng.random() < 0.3
        start = self.sim_now + float(self.rng.uniform(*PRE_MATCH))
        start_ms = int((self.clock() + (start - self.sim_now) / self.speed) * 1000)
        if soccer:
            sport, league = SOCCER[int(self.rng.integers(len(SOCCER)))]
            home, away = self.rng.choice(TEAMS[league], 2, replace=False)
            mu, total = float(self.rng.uniform(1.0, 2.0)), float(self.rng.uniform(0.7, 1.6))  # goal rates
            info = EventInfo(event_id, sport, league, str(home), str(away), start_ms, three_way=True)
            specs = [MarketKey(event_id, MONEYLINE, None, True)]
            specs += [MarketKey(event_id, TOTAL, x) for x in (1.5, 2.5, 3.5)]
            specs += [MarketKey(event_id, SPREAD, x) for x in (-0.5, 0.5)]
            ev = SimEvent(info, start, start + DURATION, mu, total, 0.0, 0.0, specs, self._bias())
        else:
            sport, league, sd, mean_total, total_sd, step = US_SPORTS[int(self.rng.integers(len(US_SPORTS)))]
            home, away = self.rng.choice(TEAMS[sport], 2, replace=False)
            mu = float(self.rng.normal(0, sd / 3))
            total = float(self.rng.normal(mean_total, total_sd / 4))
            info = EventInfo(event_id, sport, league, str(home), str(away), start_ms)
            main = -round(mu / step) * step + (0.5 if step == 1.0 else 0.0)
            main_total = round(total / step) * step + (0.5 if step == 1.0 else 0.0)
            specs = [MarketKey(event_id, MONEYLINE)]
            specs += [MarketKey(event_id, SPREAD, main + d * step) for d in (-1, 0, 1)]
            specs += [MarketKey(event_id, TOTAL, main_total + d * step) for d in (-1, 0, 1)]
            ev = SimEvent(info, start, start + DURATION, mu, total, sd, total_sd, specs, self._bias())
        return ev

    def _bias(self) -> np.ndarray:
        return np.array([self.rng.normal(0, b.noise, 2) for b in self.books])

    @staticmethod
    def _fair(ev: SimEvent, mu: float, total: float) -> list[list[float]]:
        """Fair probabilities of every outcome of every market of the event, given a view."""
        out = []
        if ev.info.three_way:
            grid = np.outer(_poisson(mu), _poisson(total))
            diff = _GOAL_DIFF
            goals = _GOALS
            for spec in ev.markets:
                if spec.market_type == MONEYLINE:
                    out.append([float(grid[diff > 0].sum()), float(grid[diff == 0].sum()), float(grid[diff < 0].sum())])
                elif spec.market_type == TOTAL:
                    over = float(grid[goals > (spec.line or 0)].sum())
                    out.append([over, 1.0 - over])
                else:
                    cover = float(grid[diff + (spec.line or 0) > 0].sum())
                    out.append([cover, 1.0 - cover])
            return out
        for spec in ev.markets:
            if spec.market_type == MONEYLINE:
                p = _phi(mu / ev.sd)
            elif spec.market_type == SPREAD:
                p = _phi((mu + (spec.line or 0)) / ev.sd)
            else:
                p = 1.0 - _phi(((spec.line or 0) - total) / ev.total_sd)
            out.append([p, 1.0 - p])
        return out

    def _price(self, book: SimBook, fair: float) -> float:
        p = min(max(fair, 0.005), 0.995)
        price = 1.0 / (p * (1.0 + book.margin))
        return max(1.01, math.floor(price * 100) / 100)

    # -- one tick ------------------------------------------------------------------------
    def step(self) -> Batch:
        """Advance the simulation by one tick and return what the books published."""
        self.sim_now += self.tick * self.speed
        now = self.clock()
        events, specs, quotes, closed, results, statuses = [], [], [], [], [], []
        if not self.events and self.sequence == 0:
            statuses = [self._status(b, now) for b in self.books]
        dt = self.tick * self.speed
        for book in self.books:
            if book.status != OFFLINE and self.rng.random() < 0.0004 * dt / self.tick:
                book.status = OFFLINE
                statuses.append(self._status(book, now))
            elif book.status == OFFLINE and self.rng.random() < 0.04:
                book.status = ONLINE
                statuses.append(self._status(book, now))
                for key in [k for k in self.last_sent if k[2] == book.id]:
                    del self.last_sent[key]
        for ev in list(self.events.values()):
            if ev.closed and self.sim_now >= ev.end:
                results.append(self._result(ev))
                del self.events[ev.info.id]
            elif not ev.closed and self.sim_now >= ev.start:
                ev.closed = True
                closed.extend(ev.ids)
        for mid in closed:
            for key in [k for k in self.last_sent if k[0] == mid]:
                del self.last_sent[key]
        while sum(1 for e in self.events.values() if not e.closed) < self.n_events:
            ev = self._new_event()
            self.events[ev.info.id] = ev
            events.append(ev.info)
            specs.extend(ev.markets)
        for ev in self.events.values():
            if not ev.closed:
                self._walk(ev, dt)
                quotes.extend(self._requote(ev, now))
        runners, runner_quotes = self._outrights(now, dt, events, specs, closed, results)
        if self.rng.random() < 0.02:
            book = self.books[int(self.rng.integers(len(self.books)))]
            if book.status != OFFLINE:
                book.status = DEGRADED if book.status == ONLINE else ONLINE
                statuses.append(self._status(book, now))
        if self.ticks % CONFIRM_EVERY == 0:  # the books stand by their unchanged prices
            reported = {s.id for s in statuses}
            statuses += [BookStatus(b.id, b.name, ONLINE, int(b.latency), int(now * 1000))
                         for b in self.books if b.status == ONLINE and b.id not in reported]
        self.ticks += 1
        return Batch(now, events, specs, quotes, closed, results, statuses, runners, runner_quotes)

    # -- outrights ------------------------------------------------------------------------
    def _outrights(self, now: float, dt: float, events: list[EventInfo], specs: list[MarketKey], closed: list[str],
                   results: list[EventResult]) -> tuple[list[Runner], list[RunnerQuote]]:
        """Open, walk, re-price, close and settle the outright events; what they declare and quote this tick."""
        rng = self.outright_rng
        runners: list[Runner] = []
        quotes: list[RunnerQuote] = []
        for slot, (kind, make, pre, duration) in enumerate(OUTRIGHT_EVENTS):
            f = self.fields[slot]
            if f is not None and f.closed and self.sim_now >= f.end:
                results.append(EventResult(f.event_id, placing=outrights.finishing_order(f, rng)[:5]))
                f = self.fields[slot] = None
            elif f is not None and not f.closed and self.sim_now >= f.start:
                f.closed = True
                ids = [k.id for k in f.markets]
                closed.extend(ids)
                for key in [k for k in self.last_sent if k[0] in ids]:
                    del self.last_sent[key]
            if f is None:
                self.outright_sequence += 1
                f = self.fields[slot] = make(f"sim-{kind}-{self.outright_sequence}", rng)
                f.start = self.sim_now + float(rng.uniform(*pre))
                f.end = f.start + duration
                sharpness = np.array([1 / 3] + [1.0] * (len(self.books) - 1))[:, None]
                f.bias = rng.normal(0.0, f.spread, (len(self.books), len(f.ids))) * sharpness
                cut = np.array([0.0] + [float(rng.uniform(0.002, 0.01)) for _ in self.books[1:]])
                f.omitted = f.win()[None, :] < cut[:, None]
                start_ms = int((self.clock() + (f.start - self.sim_now) / self.speed) * 1000)
                events.append(EventInfo(f.event_id, f.sport, f.league, "", "", start_ms, title=f.title))
                specs.extend(f.markets)
                runners.extend(Runner(k.id, r, name) for k in f.markets for r, name in zip(f.ids, f.names))
            if not f.closed:
                self._walk_field(f, dt)
                quotes.extend(self._requote_field(f, now))
        return runners, quotes

    def _walk_field(self, f: outrights.Field, dt: float) -> None:
        rng = self.outright_rng
        f.strength += rng.normal(0.0, 0.003 * math.sqrt(dt), f.strength.size)
        if rng.random() < JUMP_RATE * dt:  # news about one runner
            f.strength[int(rng.integers(f.strength.size))] += float(rng.normal(0.0, 0.3))
        revert = min(1.0, 0.01 * dt)
        sharpness = np.array([1 / 3] + [1.0] * (f.bias.shape[0] - 1))[:, None]
        f.bias += -revert * f.bias + rng.normal(0.0, f.spread * math.sqrt(2 * revert), f.bias.shape) * sharpness

    def _requote_field(self, f: outrights.Field, now: float) -> list[RunnerQuote]:
        out = []
        for b, book in enumerate(self.books):
            if book.status == OFFLINE or self.outright_rng.random() > book.refresh:
                continue
            win = f.win(f.strength + f.bias[b])
            margin = f.margin(book.margin)
            for key in f.markets:
                p = win if key.winners == 1 else outrights.place_probabilities(win, key.winners)
                for i, runner in enumerate(f.ids):
                    if f.omitted[b, i]:
                        continue
                    price = outrights.outright_price(float(p[i]), margin)
                    cell = (key.id, i, book.id)
                    if self.last_sent.get(cell) != price:
                        self.last_sent[cell] = price
                        out.append(RunnerQuote(key.id, runner, book.id, price, now))
        return out

    def _requote(self, ev: SimEvent, now: float) -> list[Quote]:
        """Books that refresh this tick re-price every market of the event from their own view."""
        out = []
        for b, book in enumerate(self.books):
            if book.status == OFFLINE or self.rng.random() > book.refresh:
                continue
            scale = ev.scale
            fair_all = self._fair(ev, ev.mu + ev.bias[b, 0] * scale[0], ev.total + ev.bias[b, 1] * scale[1])
            for market_id, fair in zip(ev.ids, fair_all):
                for o, p in enumerate(fair):
                    price = self._price(book, p)
                    key = (market_id, o, book.id)
                    if self.last_sent.get(key) != price:
                        self.last_sent[key] = price
                        out.append(Quote(market_id, o, book.id, price, now))
        return out

    def _walk(self, ev: SimEvent, dt: float) -> None:
        """The truth drifts, now and then jumps (team news); books' opinions mean-revert."""
        scale_mu, scale_total = ev.scale
        step = math.sqrt(dt)
        jump = self.rng.random() < JUMP_RATE * dt
        ev.mu += float(self.rng.normal(0, 0.004 * scale_mu * step)) + (float(self.rng.normal(0, 0.08 * scale_mu)) if jump else 0.0)
        ev.total += float(self.rng.normal(0, 0.004 * scale_total * step))
        if ev.info.three_way:
            ev.mu, ev.total = float(np.clip(ev.mu, 0.3, 3.5)), float(np.clip(ev.total, 0.2, 3.0))
        revert = min(1.0, 0.01 * dt)
        noise = np.array([b.noise for b in self.books])[:, None]
        ev.bias += -revert * ev.bias + self.rng.normal(0, 1, ev.bias.shape) * noise * math.sqrt(2 * revert)

    def _result(self, ev: SimEvent) -> EventResult:
        if ev.info.three_way:
            return EventResult(ev.info.id, int(self.rng.poisson(ev.mu)), int(self.rng.poisson(ev.total)))
        margin = round(float(self.rng.normal(ev.mu, ev.sd)))
        total = max(abs(margin) + 1, round(float(self.rng.normal(ev.total, ev.total_sd))))
        home = (total + margin) // 2
        return EventResult(ev.info.id, int(home), int(total - home))

    def _status(self, book: SimBook, now: float) -> BookStatus:
        jitter = float(self.rng.normal(0, book.latency * 0.1))
        return BookStatus(book.id, book.name, book.status, int(max(5.0, book.latency + jitter)), int(now * 1000))

    def is_healthy(self, now: float) -> bool:
        return not self.realtime or now - self.last_batch < max(5.0, self.tick * 10)

    async def batches(self) -> AsyncIterator[Batch]:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            batch = self.step()
            self.last_batch = time.time()
            yield batch
            if self.realtime:
                next_at += self.tick
                await asyncio.sleep(max(0.0, next_at - loop.time()))

