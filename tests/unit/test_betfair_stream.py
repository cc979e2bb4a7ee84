"""The Betfair stream cache (issue 24, in part) against an independent reading of the shared files, message by
message and level by level, and the feed's mapping of a market to an outright that settles."""

from __future__ import annotations

import json

import pytest

from sbws.feeds.betfair import Mapper, read_catalogue
from sbws.feeds.betfair_stream import MarketCache
from tests.helpers import SHARED

DATA = SHARED / "data" / "betfair"
FILES = ["1.197931750", "BASIC-1.132153978", "streaming_mcm_SUB_IMAGE_no_market_def.json",
         "streaming_mcm_RESUB_DELTA.json"]


def messages(name):  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


class Reference:
    """A second reading of the same messages, written from Betfair's documentation without the cache's code:
    per (market, runner, field) a plain dict, rebuilt whole on ``img``."""

    def __init__(self) -> None:
        self.fields: dict[tuple[str, int, str], dict] = {}
        self.scalars: dict[tuple[str, int, str], float] = {}
        self.status: dict[tuple[str, int], str] = {}

    def apply(self, message):  # type: ignore[no-untyped-def]
        for mc in message.get("mc", []):
            market = mc["id"]
            if mc.get("img"):
                for table in (self.fields, self.scalars):
                    for key in [k for k in table if k[0] == market]:
                        del table[key]
            for runner in (mc.get("marketDefinition") or {}).get("runners", []):
                self.status[(market, runner["id"])] = runner["status"]
            for rc in mc.get("rc", []):
                for name in ("atb", "atl", "trd"):
                    table = self.fields.setdefault((market, rc["id"], name), {})
                    for price, size in rc.get(name, []):
                        table[price] = size
                        if size == 0:
                            del table[price]
                for name in ("batb", "batl", "bdatb", "bdatl"):
                    table = self.fields.setdefault((market, rc["id"], name), {})
                    for level, price, size in rc.get(name, []):
                        table[level] = (price, size)
                        if size == 0:
                            del table[level]
                for name in ("ltp", "tv"):
                    if name in rc:
                        self.scalars[(market, rc["id"], name)] = rc[name]


@pytest.mark.parametrize("name", FILES)
def test_every_ladder_level_equals_an_independent_reading_after_every_message(name):
    cache, reference = MarketCache(), Reference()
    compared = 0
    for message in messages(name):
        changed = cache.apply(message)
        reference.apply(message)
        assert sorted(changed) == sorted({mc["id"] for mc in message.get("mc", [])})
        for (market, runner, field), want in reference.fields.items():
            got = getattr(cache.markets[market].runners[runner], field)
            if field in ("atb", "atl", "trd"):
                assert got == want, (market, runner, field)
                # level by level: backs best (highest) first, lays best (lowest) first
                ordered = sorted(got.items(), reverse=field != "atl")
                assert ordered == sorted(want.items(), reverse=field != "atl")
            else:
                assert got == want, (market, runner, field)
            compared += len(want)
        for (market, runner, field), want in reference.scalars.items():
            assert getattr(cache.markets[market].runners[runner], field) == want
            compared += 1
        for (market, runner), status in reference.status.items():
            assert cache.markets[market].runners[runner].status == status
    assert compared > 0


def test_the_greyhound_market_maps_to_an_outright_named_from_its_catalogue_and_settles_on_its_winner():
    mapper = Mapper(read_catalogue(str(DATA / "1.197931750.catalogue.json")))
    batches = [mapper.batch(m, lambda pt: pt / 1000.0) for m in messages("1.197931750")]
    first = batches[0]
    [market] = first.markets
    assert market.id == "1.197931750" and market.winners == 1
    assert first.events[0].sport == "Greyhound Racing" and first.events[0].description == "Sheffield OR 280m"
    catalogue = json.loads((DATA / "1.197931750.catalogue.json").read_text())
    assert {(r.id, r.name) for r in first.runners} == {(str(r["selectionId"]), r["runnerName"])
                                                       for r in catalogue["runners"]}
    # Each runner is quoted at its best price to back and to lay, as the cache holds it after the message.
    cache = MarketCache()
    for message, batch in zip(messages("1.197931750"), batches):
        cache.apply(message)
        book = cache.markets["1.197931750"]
        for quote in batch.runner_quotes:
            runner = book.runners[int(quote.runner)]
            best = runner.best(quote.side)
            assert quote.price == (best[0] if best and book.status == "OPEN" else 0.0)
            if best and book.status == "OPEN" and quote.side == "lay" and runner.atl:
                assert quote.price == min(runner.atl)  # the lowest offered to lay
    closing = [b for b in batches if b.closed]
    assert len(closing) == 1 and closing[0].closed == ("1.197931750",)
    [result] = closing[0].results
    assert result.placing == ("37947503",)  # 2. Sandwood Jet, the WINNER of the final definition
    assert result.commission == (("betfair", 0.05),)  # its marketBaseRate: what settlement charges


def test_a_non_runner_is_withdrawn_and_last_traded_prices_are_no_back_price():
    mapper = Mapper()
    definition = {"status": "OPEN", "numberOfWinners": 1, "eventTypeId": "7", "marketTime": "2030-01-01T12:00:00Z",
                  "runners": [{"id": 1, "status": "ACTIVE", "sortPriority": 1, "name": "Able"},
                              {"id": 2, "status": "ACTIVE", "sortPriority": 2, "name": "Baker"}]}
    opened = mapper.batch({"op": "mcm", "pt": 1, "mc": [{"id": "1.5", "marketDefinition": definition, "rc": [
        {"id": 1, "atb": [[2.0, 10]]}, {"id": 2, "atb": [[3.0, 5]]}]}]}, lambda pt: pt / 1000.0)
    assert {(q.runner, q.price) for q in opened.runner_quotes} == {("1", 2.0), ("2", 3.0)}
    definition["runners"][1]["status"] = "REMOVED"
    later = mapper.batch({"op": "mcm", "pt": 2, "mc": [{"id": "1.5", "marketDefinition": definition}]},
                         lambda pt: pt / 1000.0)
    assert [(q.runner, q.price) for q in later.runner_quotes] == [("2", 0.0)]
    # Betfair's BASIC tier carries last traded prices only: its runners are declared, none is quoted.
    basic = Mapper()
    batches = [basic.batch(m, lambda pt: pt / 1000.0) for m in messages("BASIC-1.132153978")]
    assert sum(len(b.runners) for b in batches) == 14 and not any(b.runner_quotes for b in batches)
    removed = {r.selection_id for r in basic.cache.markets["1.132153978"].runners.values() if r.status == "REMOVED"}
    assert len(removed) == 2


def test_ladders_status_and_in_play_come_through_as_the_cache_holds_them():
    """Every Depth record is the runner's first three levels each side (backs highest first, lays lowest first),
    its last traded price and volume; every status change (suspension, in play) is one ExchangeState."""
    mapper = Mapper(depth=3)
    cache = MarketCache()
    statuses = []
    for message in messages("1.197931750"):
        batch = mapper.batch(message, lambda pt: pt / 1000.0)
        cache.apply(message)
        book = cache.markets["1.197931750"]
        for d in batch.depth:
            runner = book.runners[int(d.selection)]
            assert d.back == tuple((p, runner.atb[p]) for p in sorted(runner.atb, reverse=True)[:3])
            assert d.lay == tuple((p, runner.atl[p]) for p in sorted(runner.atl)[:3])
            assert (d.last_traded, d.traded) == (runner.ltp, runner.tv) and len(d.back) <= 3
        statuses += [(s.status, s.in_play, s.bet_delay) for s in batch.exchange]
    assert statuses[0] == ("open", False, 0) and ("suspended", False, 0) in statuses
