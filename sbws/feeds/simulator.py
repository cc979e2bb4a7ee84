"""The embedded market simulator: a deterministic, self-contained odds source.

Every event has a hidden truth (expected home margin and expected total for
the US sports, goal rates for soccer) that moves by random walk.  Each book
sees that truth through its own lag and noise, prices it with its own margin,
and refreshes at its own pace; books also go offline now and then.  When one
book is slow to follow a move, its stale price and a quick book's fresh one
can sum to less than 1 in implied probability: arbitrage appears and
vanishes on its own, nothing is planted.  Events open for pre-match betting,
start (their markets close), finish with a result drawn from the truth (bets
settle) and are replaced.  Same seed, same markets.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable

import numpy as np
from attrs import define

from engine.board import Quote
from engine.markets import MONEYLINE, SPREAD, TOTAL

from .base import DEGRADED, OFFLINE, ONLINE, Batch, BookStatus, EventInfo, EventResult, MarketSpec

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
DURATION = 600.0


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _poisson(lam: float, n: int = 12) -> np.ndarray:
    k = np.arange(n)
    logs = -lam + k * math.log(max(lam, 1e-9)) - np.array([math.lgamma(i + 1) for i in k])
    return np.exp(logs)


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
    markets: list[MarketSpec]
    closed: bool = False


class Simulator:
    name = "sim"

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
        self.last_sent: dict[tuple[str, int, str], float] = {}
        self.books = [
            SimBook(
                id=bid, name=name, margin=margin,
                refresh=float(self.rng.uniform(0.15, 0.9)) if i else 0.9,
                noise=float(self.rng.uniform(0.01, 0.05)),
                latency=float(self.rng.uniform(40, 400)),
            )
            for i, (bid, name, margin) in enumerate(BOOKS[:books])
        ]
        self.events: dict[str, SimEvent] = {}
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
            specs = [MarketSpec(event_id, MONEYLINE, None, True)]
            specs += [MarketSpec(event_id, TOTAL, x) for x in (1.5, 2.5, 3.5)]
            specs += [MarketSpec(event_id, SPREAD, x) for x in (-0.5, 0.5)]
            ev = SimEvent(info, start, start + DURATION, mu, total, 0.0, 0.0, specs)
        else:
            sport, league, sd, mean_total, total_sd, step = US_SPORTS[int(self.rng.integers(len(US_SPORTS)))]
            home, away = self.rng.choice(TEAMS[sport], 2, replace=False)
            mu = float(self.rng.normal(0, sd / 3))
            total = float(self.rng.normal(mean_total, total_sd / 4))
            info = EventInfo(event_id, sport, league, str(home), str(away), start_ms)
            main = -round(mu / step) * step + (0.5 if step == 1.0 else 0.0)
            main_total = round(total / step) * step + (0.5 if step == 1.0 else 0.0)
            specs = [MarketSpec(event_id, MONEYLINE)]
            specs += [MarketSpec(event_id, SPREAD, main + d * step) for d in (-1, 0, 1)]
            specs += [MarketSpec(event_id, TOTAL, main_total + d * step) for d in (-1, 0, 1)]
            ev = SimEvent(info, start, start + DURATION, mu, total, sd, total_sd, specs)
        return ev

    def _fair(self, ev: EventInfo, spec: MarketSpec, mu: float, total: float, sim: SimEvent) -> list[float]:
        if ev.three_way:
            home = _poisson(mu)
            away = _poisson(total)
            grid = np.outer(home, away)
            diff = np.subtract.outer(np.arange(len(home)), np.arange(len(away)))
            goals = np.add.outer(np.arange(len(home)), np.arange(len(away)))
            if spec.market_type == MONEYLINE:
                return [float(grid[diff > 0].sum()), float(grid[diff == 0].sum()), float(grid[diff < 0].sum())]
            if spec.market_type == TOTAL:
                over = float(grid[goals > (spec.line or 0)].sum())
                return [over, 1.0 - over]
            cover = float(grid[diff + (spec.line or 0) > 0].sum())
            return [cover, 1.0 - cover]
        if spec.market_type == MONEYLINE:
            p = _phi(mu / sim.sd)
            return [p, 1.0 - p]
        if spec.market_type == SPREAD:
            p = _phi((mu + (spec.line or 0)) / sim.sd)
            return [p, 1.0 - p]
        p = 1.0 - _phi(((spec.line or 0) - total) / sim.total_sd)
        return [p, 1.0 - p]

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
        while sum(1 for e in self.events.values() if not e.closed) < self.n_events:
            ev = self._new_event()
            self.events[ev.info.id] = ev
            events.append(ev.info)
            specs.extend(ev.markets)
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
            if ev.closed:
                if self.sim_now >= ev.end:
                    results.append(self._result(ev))
                    del self.events[ev.info.id]
                continue
            if self.sim_now >= ev.start:
                ev.closed = True
                closed.extend(spec.key.id for spec in ev.markets)
                continue
            self._walk(ev, dt)
            for book in self.books:
                if book.status == OFFLINE or self.rng.random() > book.refresh:
                    continue
                view = self._perceive(ev, book)
                for spec in ev.markets:
                    fair = self._fair(ev.info, spec, view[0], view[1], ev)
                    for o, p in enumerate(fair):
                        price = self._price(book, p)
                        key = (spec.key.id, o, book.id)
                        if self.last_sent.get(key) != price:
                            self.last_sent[key] = price
                            quotes.append(Quote(spec.key.id, o, book.id, price, now))
        for mid in closed:
            for key in [k for k in self.last_sent if k[0] == mid]:
                del self.last_sent[key]
        if self.rng.random() < 0.02:
            book = self.books[int(self.rng.integers(len(self.books)))]
            if book.status != OFFLINE:
                book.status = DEGRADED if book.status == ONLINE else ONLINE
                statuses.append(self._status(book, now))
        return Batch(now, events, specs, quotes, closed, results, statuses)

    def _walk(self, ev: SimEvent, dt: float) -> None:
        if ev.info.three_way:
            ev.mu = float(np.clip(ev.mu + self.rng.normal(0, 0.004 * math.sqrt(dt)), 0.3, 3.5))
            ev.total = float(np.clip(ev.total + self.rng.normal(0, 0.004 * math.sqrt(dt)), 0.2, 3.0))
        else:
            ev.mu += float(self.rng.normal(0, 0.01 * ev.sd * math.sqrt(dt)))
            ev.total += float(self.rng.normal(0, 0.01 * ev.total_sd * math.sqrt(dt)))

    def _perceive(self, ev: SimEvent, book: SimBook) -> tuple[float, float]:
        scale_mu = 0.1 if ev.info.three_way else ev.sd
        scale_total = 0.1 if ev.info.three_way else ev.total_sd
        return (
            ev.mu + float(self.rng.normal(0, book.noise * scale_mu)),
            ev.total + float(self.rng.normal(0, book.noise * scale_total)),
        )

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

