"""The same price-history behaviour from the embedded store and from PostgreSQL (cluster mode)."""

from __future__ import annotations

import pytest

from sbws.history.factory import open_history
from sbws.history.series import DAY_MS, SeriesKey
from tests.services import POSTGRES


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        history = await open_history(str(tmp_path / "ledger.db"), days=2)
        yield history
        await history.close()
        return
    dsn = await POSTGRES.new_database()
    history = await open_history(dsn, days=2)
    yield history
    await history.close()
    await POSTGRES.drop(dsn)


async def test_record_query_and_prune(store):
    now = 10 * DAY_MS + 60_000
    m = "ev:total:+2.5"
    store.record([(m, 0, "a", 7 * DAY_MS + 5, 2.0), (m, 0, "a", 9 * DAY_MS + 5, 1.95), (m, 0, "a", now - 1_000, 1.909090909),
                  (m, 1, "a", now - 1_000, None), (m, 1, "b", now - 500, 1.8), ("other:moneyline", 0, "a", now, 3.0)])
    store.record_steam([("stm_1", m, now - 900, b'{"id":"stm_1"}'), ("stm_0", m, 7 * DAY_MS, b'{"id":"stm_0"}')])
    assert await store.flush()
    series, opening, current, steam = await store.query(m, None, 9 * DAY_MS, now)
    assert series[SeriesKey(m, 0, "a")] == [(9 * DAY_MS + 5, 1.95), (now - 1_000, 1.909090909)]  # exact as delivered
    assert series[SeriesKey(m, 1, "a")] == [(now - 1_000, None)]
    assert opening[SeriesKey(m, 0, "a")] == (7 * DAY_MS + 5, 2.0)  # whatever the range
    assert SeriesKey(m, 1, "a") not in opening  # never priced
    assert current[SeriesKey(m, 1, "a")] == (now - 1_000, None)
    assert steam == [b'{"id":"stm_1"}']
    only_b = (await store.query(m, "b", 0, now))[0]
    assert list(only_b) == [SeriesKey(m, 1, "b")]
    await store.prune(now)
    assert await store.flush()
    series, opening, _current, steam = await store.query(m, None, 0, now)
    assert series[SeriesKey(m, 0, "a")][0] == (9 * DAY_MS + 5, 1.95)  # day 7 is gone, day 9 is within 2 days
    assert opening[SeriesKey(m, 0, "a")] == (9 * DAY_MS + 5, 1.95) and steam == [b'{"id":"stm_1"}']
