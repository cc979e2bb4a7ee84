"""The dashboard in a real headless Chromium against a real server on a free port."""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import aiohttp
import pytest
from aiohttp import web

from sbws.server.keys import SOCKETS
from sbws.server.app import make_app
from tests.helpers import FUTURE, SHARED, ScriptedFeed, fast_settings, make_user, opening_batch
from tests.serverproc import free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - depends on the machine
    async_playwright = None

_missing = None if (async_playwright and shutil.which(CHROMIUM)) else "needs playwright and /usr/bin/chromium (apt-get install chromium)"
if _missing and os.environ.get("CI") == "true":
    raise RuntimeError(f"browser tests must run in CI: {_missing}")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(_missing is not None, reason=_missing or "")]


class LiveServer:
    """The app on a real port; can be stopped and started again on the same port."""

    def __init__(self, settings, port, feed=lambda: ScriptedFeed([opening_batch()])):
        """``feed``: makes the feed each start (None from it: the one the settings name)."""
        self.settings, self.port, self.runner, self.app, self.feed = settings, port, None, None, feed

    async def start(self):
        self.app = await make_app(self.settings, self.feed())
        self.runner = web.AppRunner(self.app, shutdown_timeout=1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self):
        await self.runner.cleanup()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"


@pytest.fixture
async def server(tmp_path):
    live = LiveServer(fast_settings(tmp_path, heartbeat_interval=0.5), free_port())
    await live.start()
    yield live
    await live.stop()


@pytest.fixture
async def page():
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = await browser.new_page(viewport={"width": 1280, "height": 900})
        pg.errors = []
        pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        yield pg
        await browser.close()


async def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_connects_shows_odds_books_and_arbitrage(server, page):
    await page.goto(server.url)
    await page.wait_for_selector("#conn.conn-live")
    assert (await page.text_content("#client-id")).startswith("client-")
    await page.wait_for_selector('div.market[data-market="lal-bos:spread:-3.5"]')
    best = page.locator('div.market[data-market="lal-bos:spread:-3.5"] td.best button')
    assert await best.all_text_contents() == ["+110", "+105"]
    assert await page.locator("#books tr").count() == 4
    await wait_until(lambda: _clients(page))
    assert page.errors == []


async def _clients(page):
    return (await page.text_content("#clients")) == "1"


async def test_arbitrage_stakes_are_correct_and_rounding_applies(server, page):
    await page.goto(server.url)
    arb = page.locator("li.arb")
    await arb.first.wait_for()
    stakes = [float(x) for x in await arb.first.locator("td.stake").all_text_contents()]
    s = 1 / 2.10 + 1 / 2.05
    assert stakes == pytest.approx([round(100 / 2.10 / s, 2), round(100 / 2.05 / s, 2)], abs=0.006)
    assert float(await arb.first.locator(".profit").text_content()) == pytest.approx(100 / s - 100, abs=0.006)
    await page.fill("#calc-total", "1000")
    await page.select_option("#calc-unit", "5")
    rounded = [float(x) for x in await arb.first.locator("td.stake").all_text_contents()]
    assert all(x % 5 == 0 for x in rounded) and sum(rounded) == pytest.approx(1000, abs=5)
    assert page.errors == []


async def test_book_offline_and_price_moves_show_within_one_push(server, page):
    from engine.board import Quote
    from sbws.server.keys import NODE
    from sbws.market.records import Batch, BookStatus

    await page.goto(server.url)
    await page.wait_for_selector('div.market[data-market="lal-bos:moneyline"]')
    feed = server.app[NODE].feed
    ts = time.time()
    feed.push(Batch(ts, quotes=[Quote("lal-bos:moneyline", 0, "pinnacle", 1.70, ts), Quote("lal-bos:moneyline", 1, "pinnacle", 2.30, ts)]))
    await page.wait_for_selector('div.market[data-market="lal-bos:moneyline"] button.up[data-selection="home"][data-book="pinnacle"]')
    await page.wait_for_selector('div.market[data-market="lal-bos:moneyline"] button.down[data-selection="away"][data-book="pinnacle"]')
    feed.push(Batch(time.time(), statuses=[BookStatus("draftkings", "DraftKings", "offline", 0, int(ts * 1000))]))
    await page.wait_for_selector('#books tr[data-book="draftkings"] td.st-offline')
    assert page.errors == []


async def test_filter_change_changes_the_subscription(server, page):
    await page.goto(server.url)
    await page.wait_for_selector('section[data-sport="NBA"]')
    await page.uncheck('input[data-group="sport"][value="NBA"]')

    async def server_dropped_nba():
        [ctx] = list(server.app[SOCKETS].values())
        return "NBA" not in ctx.sport_filters and "NFL" in ctx.sport_filters

    await wait_until(server_dropped_nba)
    await page.wait_for_selector('section[data-sport="NBA"]', state="detached")
    await page.wait_for_selector('section[data-sport="NFL"]')  # the new image may still be on its way
    assert await page.locator('section[data-sport="NFL"]').count() == 1
    await page.check('input[data-group="book"][value="fanduel"]')

    async def server_has_book():
        [ctx] = list(server.app[SOCKETS].values())
        return ctx.subscribed_sportsbooks == {"fanduel"}

    await wait_until(server_has_book)
    # The only arbitrage needs pinnacle and draftkings, so with fanduel alone it disappears.
    await page.wait_for_selector("li.arb", state="detached")
    assert page.errors == []


async def test_sign_in_and_place_a_bet(server, page):
    token = make_user(server.settings.db, "alice")
    await page.goto(server.url)
    await page.wait_for_selector("#conn.conn-live")
    await page.fill("#token", token)
    await page.click("#signin button[type=submit]")
    await page.wait_for_selector("#who:has-text('signed in as alice')")
    await page.click('div.market[data-market="lal-bos:spread:-3.5"] button[data-selection="home"][data-book="pinnacle"]')
    await page.fill("#slip-stake", "25")
    await page.click("#slip button[type=submit]")
    await page.wait_for_selector("#slip-msg.ok")
    row = page.locator("#my-bets tr").first
    await row.wait_for()
    assert await row.locator(".status").text_content() == "placed"
    assert "pinnacle" in await row.text_content()
    # Asking for a better price than offered: the slip shows the new price.
    await page.fill("#slip-odds", "150")
    await page.click("#slip button[type=submit]")
    await page.wait_for_selector("#slip-msg.err")
    assert "+110" in await page.text_content("#slip-msg")
    assert await page.input_value("#slip-odds") == "110"
    assert await page.locator("#my-bets tr").count() == 1
    assert page.errors == []


async def test_survives_a_server_restart(server, page):
    await page.goto(server.url)
    await page.wait_for_selector("#conn.conn-live")
    first_id = await page.text_content("#client-id")
    await server.stop()
    await page.wait_for_selector("#conn.conn-reconnecting")
    await server.start()
    await page.wait_for_selector("#conn.conn-live", timeout=20000)
    assert await page.text_content("#client-id") != first_id
    await page.wait_for_selector('div.market[data-market="lal-bos:spread:-3.5"]')
    # A restarted server is a new stream: the dashboard cannot resume, it says so and takes an image.
    await page.wait_for_selector('#sync[data-state="resynced"]')
    assert "epoch changed" in await page.text_content("#sync")


async def test_resumes_after_a_dropped_socket_without_refetching(server, page):
    from engine.board import Quote
    from sbws.market.records import Batch
    from sbws.server.keys import NODE

    await page.goto(server.url)
    cell = 'div.market[data-market="lal-bos:moneyline"] button[data-selection="home"][data-book="draftkings"]'
    await page.wait_for_selector(cell)
    assert await page.text_content(cell) == "-182"
    for ws in list(server.app[SOCKETS].keys()):
        await ws.close(code=1012, message=b"restart")  # the network drops; the server keeps its state
    ts = time.time()
    server.app[NODE].feed.push(Batch(ts, [], [], [Quote("lal-bos:moneyline", 0, "draftkings", 1.5, ts)], (), (), ()))
    await page.wait_for_selector('#sync[data-state="resumed"]', timeout=20000)
    await wait_until(lambda: _text_is(page.locator(cell), "-200"))
    assert page.errors == []


async def test_phone_width_and_keyboard(server, page):
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(server.url)
    await page.wait_for_selector('div.market[data-market="lal-bos:moneyline"]')
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    button = page.locator('div.market[data-market="lal-bos:moneyline"] button.price').first
    await button.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#slip:not([hidden])")
    assert await page.evaluate("document.activeElement.id") == "slip-stake"
    assert page.errors == []


async def test_team_names_are_escaped(tmp_path, page):
    from sbws.market.records import Batch, EventInfo
    from engine.markets import MarketKey
    from engine.board import Quote

    ts = time.time()
    evil = EventInfo("x", "NBA", "NBA", "<img src=x onerror=alert(1)>", "<b>Away</b>", int((ts + 3600) * 1000))
    feed = Batch(ts, [evil], [MarketKey("x", "moneyline")], [Quote("x:moneyline", 0, "a", 1.9, ts), Quote("x:moneyline", 1, "a", 1.9, ts)])
    port = free_port()
    runner = web.AppRunner(await make_app(fast_settings(tmp_path), ScriptedFeed([feed])))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await page.goto(f"http://127.0.0.1:{port}/")
        await page.wait_for_selector('div.market[data-market="x:moneyline"]')
        assert await page.locator("img").count() == 0
        assert "<img src=x onerror=alert(1)>" in await page.text_content("#board")
        assert page.errors == []
    finally:
        await runner.cleanup()


async def test_value_middles_low_hold_and_clv(tmp_path, page):
    """Value with a Kelly stake for the trader's bankroll, middles, the low-hold filter, and a bet's CLV."""
    from tests.functional.test_value import MARKET, START_IN, opening

    start_ms = int((time.time() + START_IN + 2) * 1000)
    settings = fast_settings(tmp_path, value_interval=0.05)
    token = make_user(settings.db, "vera")
    port = free_port()
    runner = web.AppRunner(await make_app(settings, ScriptedFeed([opening(start_ms)])))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await page.goto(f"http://127.0.0.1:{port}/")
        row = page.locator("#value-list tr").first
        await row.wait_for()
        assert await page.text_content("#value-count") == "1"
        cells = await row.locator("td").all_text_contents()
        assert cells[2:6] == ["draftkings", "+110", "+100", "5.00"] and cells[7].startswith("pinnacle")
        assert float(cells[6]) == pytest.approx(0.25 * 0.05 / 1.10 * 1000, abs=0.01)
        await page.fill("#bankroll", "4000")
        assert float(await row.locator("td.stake").text_content()) == pytest.approx(0.25 * 0.05 / 1.10 * 4000, abs=0.01)
        middles = page.locator("#middles-list li.middle")
        await middles.first.wait_for()
        assert await middles.count() == 3
        assert "window 220.5 to 222.5" in " ".join(await middles.all_text_contents())

        await page.wait_for_selector(f'div.market[data-market="{MARKET}"]')
        markets = page.locator("#board div.market")
        total = await markets.count()
        # The spread (best prices under 100 %) and pinnacle's 221.5 total (2.56 %) pass; one-sided totals have no hold.
        await page.fill("#max-hold", "3")
        visible = page.locator("#board div.market:not(.held)")
        await wait_until(lambda: _count_is(visible, 2))
        assert await page.locator(f'div.market[data-market="{MARKET}"]:not(.held)').count() == 1
        assert "2 of" in await page.text_content("#hold-shown")
        await page.fill("#max-hold", "")
        await wait_until(lambda: _count_is(visible, total))

        await page.fill("#token", token)
        await page.click("#signin button[type=submit]")
        await page.wait_for_selector("#who:has-text('signed in as vera')")
        await page.locator("#value-list tr button.price").first.click()
        assert float(await page.input_value("#slip-stake")) == pytest.approx(0.25 * 0.05 / 1.10 * 4000, abs=0.01)
        await page.click("#slip button[type=submit]")
        await page.wait_for_selector("#slip-msg.ok")
        clv = page.locator("#my-bets tr td.clv").first
        assert await clv.text_content() == "–"
        await wait_until(lambda: _text_is_number(clv), timeout=START_IN + 12)  # the close arrives after the start
        assert float(await clv.text_content()) == pytest.approx(5.0, abs=0.01)  # the line never moved: p 0.5 at 2.10
        await wait_until(lambda: _text_is(page.locator("#clv-avg"), "5.00%"))
        assert page.errors == []
    finally:
        await runner.cleanup()


async def _count_is(locator, n):
    return await locator.count() == n


async def _text_is(locator, text):
    return (await locator.text_content()) == text


async def _text_is_number(locator):
    try:
        float(await locator.text_content())
    except ValueError:
        return False
    return True


async def test_line_movement_chart_draws_real_history(server, page):
    from engine.board import Quote
    from sbws.market.records import Batch
    from sbws.server.keys import NODE

    await page.goto(server.url)
    await page.wait_for_selector('div.market[data-market="lal-bos:moneyline"]')
    feed = server.app[NODE].feed
    ts = time.time()
    feed.push(Batch(ts, [], [], [Quote("lal-bos:moneyline", 0, "pinnacle", 1.55, ts),
                                 Quote("lal-bos:moneyline", 0, "draftkings", 1.50, ts + 0.5)], (), (), ()))
    await wait_until(lambda: _history_has(server, "lal-bos:moneyline", 2))
    await page.click('button.chart-open[data-chart="lal-bos:moneyline"]')
    sharp = page.locator('#chart path.series.sharp[data-book="pinnacle"]')
    await sharp.wait_for()
    assert await page.locator("#chart path.series").count() == 2  # the two books quoting home
    d = await sharp.get_attribute("d")
    assert d.startswith("M") and " V" in d  # pinnacle's step: 1.60 then 1.55
    assert "Celtics" in await page.text_content("#chart-title") or "Lakers" in await page.text_content("#chart-title")
    await page.select_option("#chart-selection", "away")
    await wait_until(lambda: _count(page, "#chart path.series", 2))
    assert page.errors == []


async def _history_has(server, market_id, points):
    from sbws.server.keys import NODE

    await server.app[NODE].history.flush()
    found = (await server.app[NODE].history.query(market_id, None, 0, int(time.time() * 1000) + 10_000))[0]
    return sum(len(p) for p in found.values()) >= points + 4


async def _count(page, selector, n):
    return await page.locator(selector).count() == n


async def test_board_with_200_events_search_fold_and_alternative_lines(tmp_path, page):
    from engine.board import Quote
    from engine.markets import MONEYLINE, SPREAD, MarketKey
    from sbws.market.records import Batch, EventInfo

    ts = time.time()
    events, markets, quotes = [], [], []
    for i in range(200):
        event = f"e{i}"
        events.append(EventInfo(event, "NBA", "NBA", f"Home{i}", f"Away{i}", int((ts + 3600 + i) * 1000)))
        markets.append(MarketKey(event, MONEYLINE))
        quotes += [Quote(f"{event}:moneyline", 0, "a", 1.9, ts), Quote(f"{event}:moneyline", 1, "a", 1.9, ts)]
        for line, home in ((-2.5, 1.80), (-3.5, 1.95), (-4.5, 2.10)):  # -3.5 is the even (main) line
            key = MarketKey(event, SPREAD, line)
            markets.append(key)
            quotes += [Quote(key.id, 0, "a", home, ts), Quote(key.id, 1, "a", round(1 / (1.04 - 1 / home), 2), ts)]
    port = free_port()
    runner = web.AppRunner(await make_app(fast_settings(tmp_path), ScriptedFeed([Batch(ts, events, markets, quotes)])))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await page.goto(f"http://127.0.0.1:{port}/")
        await wait_until(lambda: _count(page, "#board div.event", 200), timeout=20)
        first = page.locator('div.event[data-event="e0"]')
        assert not await first.evaluate("n => n.classList.contains('folded')")
        main = first.locator('div.market[data-market="e0:spread:-3.5"]')
        alt = first.locator('div.market[data-market="e0:spread:-2.5"]')
        assert await main.is_visible() and not await alt.is_visible()
        await first.locator(".alt-toggle").click()
        assert await alt.is_visible()
        assert await page.locator('div.event.folded').count() == 200 - 40  # past 40 events they start folded
        height = await page.evaluate("document.getElementById('board').scrollHeight")
        assert height < 20_000, height
        await page.fill("#search", "home123")
        await wait_until(lambda: _count(page, "#board div.event:not([hidden])", 1))
        only = page.locator("#board div.event:not([hidden])")
        assert await only.get_attribute("data-event") == "e123"
        await only.locator(".event-h strong").click()  # unfold it
        assert await only.locator('div.market[data-market="e123:moneyline"]').is_visible()
        await page.fill("#search", "")
        await wait_until(lambda: _count(page, "#board div.event:not([hidden])", 200))
        assert page.errors == []
    finally:
        await runner.cleanup()


async def test_alerts_panel_creates_mutes_and_deletes_rules(server, page):
    token = make_user(server.settings.db, "ava")
    await page.goto(server.url)
    await page.fill("#token", token)
    await page.click("#signin button[type=submit]")
    await page.wait_for_selector("#who:has-text('signed in as ava')")
    form = page.locator("section.alerts form")
    await form.wait_for()
    await form.locator("select[name=kind]").select_option("arbitrage")
    await form.locator("input[name=minimum]").fill("1")
    await form.locator("input[name=sports]").fill("NBA")
    await form.locator("button[type=submit]").click()
    rule = page.locator("section.alerts .rules li.rule")
    await rule.wait_for()
    assert "arbitrage" in await rule.text_content() and "edge ≥ 1%" in await rule.text_content()
    recent = page.locator("section.alerts .recent li")
    await recent.first.wait_for(timeout=10_000)  # the opening batch's NBA arbitrage alerts at once
    assert "arbitrage" in await recent.first.text_content()
    await rule.locator("button.mute").click()
    await page.wait_for_selector("section.alerts .rules li.rule.muted")
    await page.locator("section.alerts .rules li.rule button.delete").click()
    await wait_until(lambda: _count(page, "section.alerts .rules li.rule", 0))
    assert page.errors == []


async def test_the_dashboard_reducer_passes_the_shared_cases(server, page):
    """The same (state, frame, state after) cases as tests/unit/test_delta_cases.py, on static/store.js."""
    from tests.unit.test_delta_cases import CASES

    await page.goto(server.url)
    results = await page.evaluate("""async (cases) => {
      const { applyMarkets } = await import("/static/store.js");
      return cases.map((c) => {
        const markets = new Map(Object.entries(structuredClone(c.state)));
        applyMarkets(markets, structuredClone(c.message));
        return Object.fromEntries(markets);
      });
    }""", CASES)
    for case, got in zip(CASES, results, strict=True):
        assert got == case["expected"], case["name"]
    assert page.errors == []


async def test_dutching_calculator_splits_a_stake_over_picked_selections(server, page):
    """Issue 23, in part: the dutch button opens the calculator; two picks and a stake give the server's split."""
    await page.goto(server.url)
    await page.wait_for_selector('div.market[data-market="ars-che:moneyline"]')
    await page.click('button.dutch-open[data-dutch="ars-che:moneyline"]')
    await page.wait_for_selector('#dutch-picks input[value="away"]')
    assert await page.locator('input[name="dutch-pick"]').count() == 3  # home, draw, away
    await page.uncheck('#dutch-picks input[value="away"]')
    await page.fill("#dutch-stake", "50")
    await page.click('#dutch-form button[type="submit"]')
    await page.wait_for_selector("#dutch-legs tr")
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "api/dutch", params={"marketId": "ars-che:moneyline",
                                                              "selections": "home,draw", "stake": "50"}) as resp:
            want = await resp.json()
    stakes = await page.locator("#dutch-legs td.stake").all_text_contents()
    assert stakes == [f"{leg['stake']:.2f}" for leg in want["selections"]]
    assert f"returns {want['returns']:.2f}" in await page.text_content("#dutch-summary")
    await page.uncheck('#dutch-picks input[value="home"]')
    await page.uncheck('#dutch-picks input[value="draw"]')
    await page.click('#dutch-form button[type="submit"]')
    await page.wait_for_function("document.getElementById('dutch-msg').textContent.includes('selections')")
    assert await page.locator("#dutch-legs tr").count() == 0
    assert page.errors == []


def golf_batch(runners=150):
    """A golf outright of ``runners`` (Pinnacle prices all, DraftKings all at a wider margin, FanDuel leaves out the
    last 50 and is generous on the fifth favourite: a value bet) and a race with WIN and PLACE (top 3) markets."""
    from engine.markets import OUTRIGHT, MarketKey, runner_id
    from sbws.market.records import Batch, EventInfo, Runner, RunnerQuote

    now = time.time()
    names = ["Ludvig Åberg"] + [f"Player {i:03d}" for i in range(1, runners)]
    weights = [0.97 ** i for i in range(runners)]
    fair = [w / sum(weights) for w in weights]
    golf = MarketKey("open", OUTRIGHT)
    quotes = []
    for i, (name, p) in enumerate(zip(names, fair)):
        rid = runner_id(name)
        quotes.append(RunnerQuote(golf.id, rid, "pinnacle", round(1 / (p * 1.12), 2), now))
        quotes.append(RunnerQuote(golf.id, rid, "draftkings", round(1 / (p * 1.3), 2), now))
        if i < runners - 50:
            quotes.append(RunnerQuote(golf.id, rid, "fanduel", round(1 / (p * (0.9 if i == 4 else 1.25)), 2), now))
    race, place = MarketKey("race", OUTRIGHT), MarketKey("race", OUTRIGHT, winners=3)
    horses = ["Silver Arrow", "Golden Echo", "Wild Rover", "Storm Comet", "Sea Whisper", "Royal Ember", "Brave Falcon",
              "Lucky Meadow"]
    for j, horse in enumerate(horses):
        quotes.append(RunnerQuote(race.id, runner_id(horse), "pinnacle", 2.0 + 2 * j, now))
        quotes.append(RunnerQuote(place.id, runner_id(horse), "pinnacle", 1.2 + 0.5 * j, now))
    events = [EventInfo("open", "Golf", "PGA Tour", "", "", FUTURE, title="The Test Open"),
              EventInfo("race", "Horse Racing", "Sim Downs", "", "", FUTURE, title="Sim Downs 14:05")]
    declared = [Runner(golf.id, runner_id(n), n) for n in names]
    declared += [Runner(m.id, runner_id(h), h) for m in (race, place) for h in horses]
    return Batch(now, events, [golf, race, place], runner_quotes=quotes, runners=declared)


async def test_the_outright_board_folds_sorts_flags_value_searches_and_dutches(tmp_path, page):
    """Issue 23's board: 150 runners × books, the first 30 shown shortest first, each runner's best price marked,
    its fair probability and the value bet flagged as the server has them; a search that survives pushes; the fold
    opens all 150; the place market says top 3; the dutching calculator splits over picked runners."""
    live = LiveServer(fast_settings(tmp_path), free_port(), lambda: ScriptedFeed([golf_batch()]))
    await live.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(live.url + "api/markets/open:outright") as resp:
                market = await resp.json()
            async with http.get(live.url + "api/value", params={"marketType": "outright"}) as resp:
                value = (await resp.json())["value"]
        assert len(market["selections"]) == 150 and value
        await page.goto(live.url)
        block = page.locator('div.market.outright[data-market="open:outright"]')
        await block.locator("tbody tr").first.wait_for()
        rows = block.locator("tbody tr")
        assert await rows.count() == 30
        by_id = {s["id"]: s for s in market["selections"]}
        shown = await rows.evaluate_all("rows => rows.map(r => r.dataset.runner)")
        bests = [market["bestOdds"][r]["decimal"] for r in shown]
        assert bests == sorted(bests) and shown[0] == "ludvig-aberg"
        for runner in shown[:10]:
            row = block.locator(f'tr[data-runner="{runner}"]')
            best_book = await row.locator("td.best button").get_attribute("data-book")
            assert best_book == market["bestOdds"][runner]["bookmaker"]
            fair = await row.locator("td.fair").text_content()
            assert fair == f"{by_id[runner]['fairProbability'] * 100:.2f}"
        await page.wait_for_function("document.getElementById('value-count').textContent !== '0'")
        flagged = await block.locator("td.value-flag button").evaluate_all(
            "buttons => buttons.map(b => `${b.dataset.selection}|${b.dataset.book}`)")
        visible = set(shown)
        assert set(flagged) == {f"{v['selection']}|{v['bookmaker']}" for v in value
                                if v["marketId"] == "open:outright" and v["selection"] in visible}
        assert flagged
        fold = block.locator("button.runner-fold")
        assert "show all 150" in await fold.text_content()
        await fold.click()
        assert await rows.count() == 150
        search = block.locator("input.runner-search")
        await search.fill("aberg")
        assert await rows.evaluate_all("rows => rows.map(r => r.dataset.runner)") == ["ludvig-aberg"]
        live.app[__import__("sbws.server.keys", fromlist=["NODE"]).NODE].feed.push(golf_batch())  # a push redraws
        await page.wait_for_timeout(300)
        assert await search.input_value() == "aberg" and await rows.count() == 1
        place = page.locator('div.market.outright[data-market="race:outright:top3"] .outright-title')
        assert "top 3" in await place.text_content()
        await block.locator("button.dutch-open").click()
        await page.wait_for_selector('#dutch-picks input[value="ludvig-aberg"]')
        picked = await page.locator('input[name="dutch-pick"]:checked').evaluate_all("boxes => boxes.map(b => b.value)")
        assert picked == shown[:3]
        await page.fill("#dutch-stake", "60")
        await page.click('#dutch-form button[type="submit"]')
        await page.wait_for_selector("#dutch-legs tr")
        async with aiohttp.ClientSession() as http:
            async with http.get(live.url + "api/dutch", params={"marketId": "open:outright",
                                                                "selections": ",".join(picked), "stake": "60"}) as resp:
                want = await resp.json()
        stakes = await page.locator("#dutch-legs td.stake").all_text_contents()
        assert stakes == [f"{leg['stake']:.2f}" for leg in want["selections"]]
        assert page.errors == []
    finally:
        await live.stop()


async def test_a_back_lay_arbitrage_shows_its_lay_leg_and_liability_for_the_stake_entered(tmp_path, page):
    """Issue 24, in part: the arbitrage panel tells a back-lay opportunity by its lay leg and scales the server's
    stakes and liability to the total entered."""
    from engine.board import LAY, Quote
    from sbws.market.records import Batch

    now = time.time()
    market = "lal-bos:moneyline"
    exchange = Batch(now, quotes=[Quote(market, 0, "smarkets", 2.22, now, LAY), Quote(market, 0, "bet365", 2.25, now)])
    live = LiveServer(fast_settings(tmp_path, commission={"smarkets": 0.02}), free_port(), lambda: ScriptedFeed([opening_batch(now), exchange]))
    await live.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(live.url + "api/arbitrage") as resp:
                [opp] = [o for o in (await resp.json())["opportunities"] if o["kind"] == "back_lay"]
        await page.goto(live.url)
        item = page.locator(f'li.arb[data-arb="{opp["id"]}"]')
        await item.wait_for()
        await page.fill("#calc-total", "50")
        await page.wait_for_timeout(1100)  # the panel redraws every second
        lay = item.locator('tr[data-side="lay"]')
        assert await lay.locator("td").first.text_content() == "lay at smarkets"
        want = opp["legs"][1]
        assert await lay.locator("td.stake").text_content() == f"{want['stake'] / 2:.2f}"
        assert await lay.locator("td.returns").text_content() == f"{want['liability'] / 2:.2f}"
        assert f"{opp['guaranteedProfit'] / 2:.2f}" in await item.locator(".profit").text_content()
        assert page.errors == []
    finally:
        await live.stop()


async def test_the_exchange_ladder_and_a_lay_from_the_slip_with_its_exposure(tmp_path, page):
    """Issue 24, in part: a replayed Betfair market shows each runner's three levels each side with sizes and the
    last traded price; a lay level opens the slip on the lay side, the lay is placed and the slip shows the
    exposure."""
    settings = fast_settings(tmp_path, feed=f"betfair:{SHARED / 'data' / 'betfair' / '1.197931750'}",
                             replay_speed=0.02, live_betting=True, commission={"betfair": 0.05})
    token = make_user(settings.db)
    live = LiveServer(settings, free_port(), lambda: None)
    await live.start()
    try:
        await page.goto(live.url)
        await page.fill("#token", token)
        await page.click('#signin button[type="submit"]')
        await page.wait_for_function("document.getElementById('who').textContent.includes('signed in')")
        block = page.locator('div.market.outright[data-market="1.197931750"]')
        await block.locator("td.ladder.lay button").first.wait_for(timeout=15000)
        async with aiohttp.ClientSession() as http:
            async with http.get(live.url + "api/markets/1.197931750") as resp:
                market = await resp.json()
        runner = next(s for s in market["selections"] if s.get("depth", {}).get("betfair", {}).get("lay"))
        row = block.locator(f'tr[data-runner="{runner["id"]}"]')
        shown = await row.locator("td.ladder.lay button").all_text_contents()
        assert [float(x) for x in shown] == [p for p, _s in runner["depth"]["betfair"]["lay"]][:3]
        await row.locator("td.ladder.lay button").first.click()
        await page.wait_for_selector("#slip:not([hidden])")
        assert (await page.text_content("#slip-desc")).startswith("Lay ")
        await page.fill("#slip-stake", "2")
        await page.click('#slip button[type="submit"]')
        await page.wait_for_function("document.getElementById('slip-msg').textContent.includes('Placed')")
        await page.wait_for_selector(f'#slip-exposure span[data-selection="{runner["id"]}"]')
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async with http.get(live.url + "api/bets") as resp:
                [bet] = (await resp.json())["bets"]
            async with http.get(live.url + "api/exposure", params={"marketId": "1.197931750"}) as resp:
                exposure = await resp.json()
        assert bet["side"] == "lay" and bet["selectionId"] == runner["id"]
        mine = next(s for s in exposure["selections"] if s["selection"] == runner["id"])
        text = await page.text_content(f'#slip-exposure span[data-selection="{runner["id"]}"]')
        assert text.endswith(f"{mine['ifWins']:.2f}") and mine["ifWins"] == -bet["liability"]
        assert page.errors == []
    finally:
        await live.stop()


async def test_the_matched_betting_panel_lists_what_get_matched_finds(tmp_path, page):
    from engine.board import LAY, Quote
    from sbws.market.records import Batch

    now = time.time()
    market = "lal-bos:moneyline"
    exchange = Batch(now, quotes=[Quote(market, 0, "smarkets", 2.6, now, LAY), Quote(market, 1, "smarkets", 3.05, now, LAY)])
    live = LiveServer(fast_settings(tmp_path, commission={"smarkets": 0.05}), free_port(), lambda: ScriptedFeed([opening_batch(now), exchange]))
    await live.start()
    try:
        await page.goto(live.url)
        await page.wait_for_selector('div.market[data-market="lal-bos:moneyline"]')
        await page.fill("#matched-stake", "50")
        await page.select_option("#matched-type", "free_snr")
        await page.click('#matched-form button[type="submit"]')
        await page.wait_for_selector("#matched-list tr")
        async with aiohttp.ClientSession() as http:
            async with http.get(live.url + "api/matched", params={"stake": "50", "type": "free_snr"}) as resp:
                want = (await resp.json())["selections"]
        rows = page.locator("#matched-list tr")
        assert await rows.count() == len(want) == 2
        assert await rows.evaluate_all("rows => rows.map(r => r.dataset.selection)") == [m["selection"] for m in want]
        assert await rows.locator("td.lay-stake").all_text_contents() == [f"{m['layStake']:.2f}" for m in want]
        assert await rows.locator("td.rating").all_text_contents() == [f"{m['rating']:.2f}" for m in want]
        assert page.errors == []
    finally:
        await live.stop()
