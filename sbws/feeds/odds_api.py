"""The Odds API v4 adapter: polls ``/v4/sports/{sport}/odds`` (and ``/scores``).

Which sports have outrights comes from the free ``/v4/sports`` listing
(``has_outrights``), read at the first poll: those are polled with
``markets=outrights``, the others with the match markets.

Mapping (decimal odds):

* ``h2h`` -> moneyline; a ``Draw`` outcome makes it three-way (soccer);
* ``spreads`` -> spread keyed by the home handicap: home at point p quotes
  line p; away at point q quotes line -q, so exactly opposite lines meet in
  one market and different lines never pair;
* ``totals`` -> total: Over/Under at the same point;
* ``outrights`` -> one outright market per event (``commence_time`` is its
  start, ``sport_title`` its title when it has no teams); each outcome is a
  runner, its id ``runner_id`` of the name, so books spelling a name
  differently quote one runner;
* ``h2h_lay`` and ``outrights_lay`` (an exchange's lay prices) are the lay
  quotes of the same moneyline or outright (never back prices); unknown
  market keys are skipped with one log line each.

Quota headers are read on every response and stretch the poll interval as
the quota runs low; 429 and 5xx back off exponentially with jitter; a
timeout or malformed body keeps the last good data and marks the sources
degraded.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson
import structlog

from attrs import Factory, define

from engine.board import BACK, LAY, Quote
from engine.markets import MONEYLINE, OUTRIGHT, SPREAD, TOTAL, MarketKey, runner_id

from ..clock import iso_ms
from ..errors import FeedError
from ..market.records import DEGRADED, ONLINE, Batch, BookStatus, EventInfo, EventResult, Runner, RunnerQuote

log = structlog.get_logger("sbws.feeds.odds_api")

MARKETS = "h2h,spreads,totals"
"""Exchanges answer ``h2h`` with their lay prices too (``h2h_lay``), and ``outrights`` with ``outrights_lay``."""
LAY_SUFFIX = "_lay"
OUTRIGHTS = "outrights"
EXCHANGE_COMMISSION = {"betfair": 0.05, "betfair_ex_eu": 0.05, "betfair_ex_uk": 0.05, "betfair_ex_au": 0.05,
                       "matchbook": 0.02, "smarkets": 0.02, "betdaq": 0.02}
"""Applied when the operator configured none for that exchange (flags override)."""
SCORES_EVERY = 300.0
SCORES_GIVE_UP = 3 * 86400.0  # the scores endpoint looks back at most three days


@define
class Parsed:
    """One response body as records: events, markets, quotes, outright runners and their quotes, and the books
    seen (title, last update in ms)."""

    events: list[EventInfo] = Factory(list)
    markets: list[MarketKey] = Factory(list)
    quotes: list[Quote] = Factory(list)
    runners: list[Runner] = Factory(list)
    runner_quotes: list[RunnerQuote] = Factory(list)
    books: dict[str, tuple[str, int]] = Factory(dict)


class OddsMapper:
    """The pure part: one response body in, normalized records out."""

    def __init__(self) -> None:
        self.skipped: set[str] = set()

    def parse(self, body: Any, now: float) -> Parsed:
        if not isinstance(body, list):
            raise ValueError("response is not a list of events")
        out = Parsed()
        specs: dict[str, MarketKey] = {}
        runners: dict[tuple[str, str], Runner] = {}
        for ev in body:
            home, away = ev.get("home_team"), ev.get("away_team")
            bookmakers = ev.get("bookmakers") or []
            three_way = any(
                o.get("name") == "Draw"
                for b in bookmakers for m in b.get("markets", []) if m.get("key") == "h2h" for o in m.get("outcomes", [])
            )
            title = ev.get("sport_title") or ev["sport_key"]
            info = EventInfo(
                id=ev["id"], sport=title, league=title, home=home or "", away=away or "",
                start_ms=iso_ms(ev["commence_time"]), three_way=three_way, title="" if home and away else title,
            )
            out.events.append(info)
            for b in bookmakers:
                updated = iso_ms(b["last_update"]) if b.get("last_update") else int(now * 1000)
                out.books[b["key"]] = (b.get("title") or b["key"], updated)
                for market in b.get("markets", []):
                    key = str(market.get("key"))
                    side = LAY if key.endswith(LAY_SUFFIX) else BACK
                    kind = key.removesuffix(LAY_SUFFIX)
                    if kind == OUTRIGHTS:
                        spec = MarketKey(info.id, OUTRIGHT)
                        specs[spec.id] = spec
                        for rid, name, price in _runners(market):
                            runners.setdefault((spec.id, rid), Runner(spec.id, rid, name))
                            out.runner_quotes.append(RunnerQuote(spec.id, rid, b["key"], price, updated / 1000.0, side))
                        continue
                    for spec, outcome, price in self._outcomes(info, market, kind):
                        specs[spec.id] = spec
                        out.quotes.append(Quote(spec.id, outcome, b["key"], price, updated / 1000.0, side))
        out.markets = list(specs.values())
        out.runners = list(runners.values())
        return out

    def _outcomes(self, info: EventInfo, market: Mapping[str, Any], key: str) -> list[tuple[MarketKey, int, float]]:
        """``key``: the market's kind, a lay market's without its ``_lay``."""
        out: list[tuple[MarketKey, int, float]] = []
        for o in market.get("outcomes", []):
            price = o.get("price")
            if not isinstance(price, (int, float)) or not math.isfinite(price) or price <= 1:
                continue
            name, point = o.get("name"), o.get("point")
            if key == "h2h":
                spec = MarketKey(info.id, MONEYLINE, None, info.three_way)
                order = ("home", "draw", "away") if info.three_way else ("home", "away")
                side = "home" if name == info.home else "away" if name == info.away else "draw" if name == "Draw" else None
                if side is None or side not in order:
                    continue
                out.append((spec, order.index(side), float(price)))
            elif key == "spreads" and isinstance(point, (int, float)):
                if name == info.home:
                    out.append((MarketKey(info.id, SPREAD, float(point)), 0, float(price)))
                elif name == info.away:
                    out.append((MarketKey(info.id, SPREAD, -float(point) + 0.0), 1, float(price)))
            elif key == "totals" and isinstance(point, (int, float)):
                if name in ("Over", "Under"):
                    out.append((MarketKey(info.id, TOTAL, float(point)), 0 if name == "Over" else 1, float(price)))
            else:
                if market.get("key") not in self.skipped:
                    self.skipped.add(str(market.get("key")))
                    log.info("odds_api_market_skipped", market=market.get("key"), reason="market not supported")
                break
        return out


def _runners(market: Mapping[str, Any]) -> list[tuple[str, str, float]]:
    """An outrights market's (runner id, name, price) (ids from the names; a name with no letters is skipped)."""
    out = []
    for o in market.get("outcomes", []):
        price, name = o.get("price"), o.get("name")
        if not isinstance(price, (int, float)) or not math.isfinite(price) or price <= 1 or not isinstance(name, str):
            continue
        try:
            out.append((runner_id(name), name, float(price)))
        except ValueError:
            log.info("odds_api_runner_skipped", name=name, reason="no letters or digits")
    return out


def sports_with_outrights(body: Any) -> set[str]:
    """The sport keys the ``/v4/sports`` listing marks ``has_outrights``."""
    if not isinstance(body, list):
        raise ValueError("sports listing is not a list")
    return {s["key"] for s in body if isinstance(s, dict) and s.get("has_outrights") and isinstance(s.get("key"), str)}


def parse_scores(body: Any) -> list[EventResult]:
    out = []
    if not isinstance(body, list):
        raise ValueError("scores response is not a list")
    for ev in body:
        if not ev.get("completed") or not ev.get("scores"):
            continue
        by_name = {s["name"]: s["score"] for s in ev["scores"]}
        try:
            out.append(EventResult(ev["id"], int(by_name[ev["home_team"]]), int(by_name[ev["away_team"]])))
        except (KeyError, ValueError, TypeError):
            log.warning("odds_api_bad_score", event_id=ev.get("id"))
    return out


class OddsApiFeed:
    name = "odds-api"

    def __init__(
        self,
        base: str,
        sports: tuple[str, ...],
        regions: str,
        interval: float,
        api_key: str,
        timeout: float = 10.0,
        backoff_cap: float = 300.0,
        bookmakers: str = "",
    ) -> None:
        self.base = base.rstrip("/")
        self.sports = sports
        self.regions = regions
        self.bookmakers = bookmakers
        self.interval = interval
        self.api_key = api_key
        self.timeout = timeout
        self.backoff_cap = backoff_cap
        self.mapping = OddsMapper()
        self.quota: dict[str, int] = {}
        self.failures = 0
        self.last_success = 0.0
        self.started = time.time()
        self.known_books: dict[str, str] = {}
        self.outright_sports: set[str] | None = None
        """Which of ``sports`` have outrights (None until the listing was read)."""
        self.last_quotes: dict[str, set[tuple[str, int, str, str]]] = {}
        self.last_runner_quotes: dict[str, set[tuple[str, str, str, str]]] = {}
        self.open_events: dict[str, set[str]] = {}
        self.event_markets: dict[str, set[str]] = {}
        self.pending_scores: dict[str, dict[str, float]] = {}
        """Per sport: events gone from the odds (started) awaiting a result, with when they went."""
        self.scores_checked: dict[str, float] = {}
        self.rng = random.Random()

    # -- pacing ---------------------------------------------------------------------
    def next_interval(self) -> float:
        """The poll interval stretched as the quota runs low, or the backoff after failures."""
        if self.failures:
            delay = min(self.backoff_cap, self.interval * 2.0 ** min(self.failures, 10))
            return delay * self.rng.uniform(0.5, 1.0)
        remaining, used = self.quota.get("remaining"), self.quota.get("used")
        if remaining is None or used is None or remaining + used == 0:
            return self.interval
        share = remaining / (remaining + used)
        if remaining <= 0:
            return max(self.interval, 3600.0)
        factor = 1 if share > 0.2 else 2 if share > 0.1 else 6 if share > 0.02 else 30
        return self.interval * factor

    def _read_quota(self, headers: Mapping[str, str]) -> None:
        for header, key in (("x-requests-remaining", "remaining"), ("x-requests-used", "used"), ("x-requests-last", "last")):
            value = headers.get(header)
            if value is None:
                continue
            try:
                self.quota[key] = int(float(value))
            except ValueError:
                log.warning("odds_api_bad_quota_header", header=header, value=value)

    def is_healthy(self, now: float) -> bool:
        reference = self.last_success or self.started
        return now - reference < max(3 * self.interval, 30.0) + (self.next_interval() if self.failures else 0)

    # -- polling ---------------------------------------------------------------------
    async def _get(self, http: aiohttp.ClientSession, path: str, params: dict[str, str]) -> tuple[Any, float]:
        started = time.monotonic()
        async with http.get(self.base + path, params={"apiKey": self.api_key, **params}) as resp:
            self._read_quota(resp.headers)
            raw = await resp.read()
            elapsed = time.monotonic() - started
            if resp.status != 200:
                raise PollError(resp.status, raw[:200].decode("utf-8", "replace"))
        try:
            return orjson.loads(raw), elapsed
        except orjson.JSONDecodeError:
            raise ValueError("malformed JSON body") from None

    async def poll_once(self, http: aiohttp.ClientSession) -> Batch:
        now = time.time()
        events: list[EventInfo] = []
        specs: list[MarketKey] = []
        quotes: list[Quote] = []
        runners: list[Runner] = []
        runner_quotes: list[RunnerQuote] = []
        closed: list[str] = []
        results: list[EventResult] = []
        books: dict[str, tuple[str, int]] = {}
        elapsed_total = 0.0
        if self.outright_sports is None:  # the listing costs no quota
            listing, elapsed_total = await self._get(http, "/v4/sports", {})
            self.outright_sports = sports_with_outrights(listing) & set(self.sports)
        for sport in self.sports:
            where = {"bookmakers": self.bookmakers} if self.bookmakers else {"regions": self.regions}
            markets = OUTRIGHTS if sport in self.outright_sports else MARKETS
            body, elapsed = await self._get(
                http, f"/v4/sports/{sport}/odds", {**where, "markets": markets, "oddsFormat": "decimal", "dateFormat": "iso"}
            )
            elapsed_total += elapsed
            parsed = self.mapping.parse(body, now)
            events += parsed.events
            specs += parsed.markets
            books.update(parsed.books)
            quotes += parsed.quotes + self._withdrawals(sport, parsed.quotes)
            runners += parsed.runners
            runner_quotes += parsed.runner_quotes + self._runner_withdrawals(sport, parsed.runner_quotes)
            present = {e.id for e in parsed.events}
            for spec in parsed.markets:
                self.event_markets.setdefault(spec.event_id, set()).add(spec.id)
            gone = self.open_events.get(sport, set()) - present
            pending = self.pending_scores.setdefault(sport, {})
            for event_id in gone:
                closed += sorted(self.event_markets.get(event_id, ()))
                if sport in self.outright_sports:  # /scores has no outright results: an operator settles them
                    self.event_markets.pop(event_id, None)
                    log.info("odds_api_outright_closed", sport=sport, event_id=event_id)
                else:
                    pending[event_id] = now
            self.open_events[sport] = present
            if self._scores_due(sport, bool(gone), now):
                self.scores_checked[sport] = now
                scores, _ = await self._get(http, f"/v4/sports/{sport}/scores", {"daysFrom": "3", "dateFormat": "iso"})
                for result in parse_scores(scores):
                    if pending.pop(result.event_id, None) is not None:
                        self.event_markets.pop(result.event_id, None)
                        results.append(result)
        self.known_books.update({k: v[0] for k, v in books.items()})
        statuses = [
            BookStatus(key, title, ONLINE, int(elapsed_total * 1000), books[key][1], self.quota.get("remaining"))
            for key, title in self.known_books.items() if key in books
        ]
        return Batch(now, events, specs, quotes, closed, results, statuses, runners, runner_quotes)

    def _scores_due(self, sport: str, new_pending: bool, now: float) -> bool:
        """Scores cost quota: ask when an event just went, then at most every SCORES_EVERY seconds.

        Events without a result after SCORES_GIVE_UP are dropped with a warning;
        their bets stay open for an operator to settle.
        """
        pending = self.pending_scores.get(sport, {})
        for event_id, since in list(pending.items()):
            if now - since > SCORES_GIVE_UP:
                del pending[event_id]
                self.event_markets.pop(event_id, None)
                log.warning("odds_api_no_result", sport=sport, event_id=event_id)
        if not pending:
            return False
        return new_pending or now - self.scores_checked.get(sport, 0.0) >= max(self.interval, SCORES_EVERY)

    def _withdrawals(self, sport: str, quotes: list[Quote]) -> list[Quote]:
        """Quotes a book listed last time but not now are withdrawn (price 0)."""
        now_keys = {(q.market_id, q.outcome, q.book, q.side) for q in quotes}
        gone = self.last_quotes.get(sport, set()) - now_keys
        self.last_quotes[sport] = now_keys
        return [Quote(m, o, b, 0.0, time.time(), side) for m, o, b, side in sorted(gone)]

    def _runner_withdrawals(self, sport: str, quotes: list[RunnerQuote]) -> list[RunnerQuote]:
        now_keys = {(q.market_id, q.runner, q.book, q.side) for q in quotes}
        gone = self.last_runner_quotes.get(sport, set()) - now_keys
        self.last_runner_quotes[sport] = now_keys
        return [RunnerQuote(m, r, b, 0.0, time.time(), side) for m, r, b, side in sorted(gone)]

    def degraded(self, reason: str) -> Batch:
        now = time.time()
        statuses = [BookStatus(k, title, DEGRADED, 0, int(now * 1000), self.quota.get("remaining")) for k, title in self.known_books.items()]
        log.warning("odds_api_degraded", reason=reason, failures=self.failures, retry_in=round(self.next_interval(), 1))
        return Batch(now, statuses=statuses)

    async def batches(self) -> AsyncIterator[Batch]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                try:
                    batch = await self.poll_once(http)
                    self.failures = 0
                    self.last_success = time.time()
                    yield batch
                except (PollError, ValueError, KeyError, TypeError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    self.failures += 1
                    yield self.degraded(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self.next_interval())


class PollError(FeedError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
