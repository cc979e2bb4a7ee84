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


async def test_a_failed_write_leaves_the_writer_sound(store):
    """Issue 22, item 10: a write that fails rolls back whole, and the series and day tables it created are not
    remembered; later writes land in their own series, and the failure is counted (/metrics)."""
    now = 10 * DAY_MS + 60_000
    store.record([("new:moneyline", 0, "a", now, 2.0), ("new:moneyline", 0, "a", now + 1, object())])  # unbindable
    assert await store.flush()
    assert store.failures == 1
    store.record([("other:moneyline", 0, "b", now + 2, 1.8), ("new:moneyline", 0, "a", now + 3, 2.1)])
    assert await store.flush()
    assert store.failures == 1, "the next write must not fail (no table or series remembered from the rollback)"
    other, _o, _c, _s = await store.query("other:moneyline", None, 0, now + 10)
    new, _o, _c, _s = await store.query("new:moneyline", None, 0, now + 10)
    assert other == {SeriesKey("other:moneyline", 0, "b"): [(now + 2, 1.8)]}
    assert new == {SeriesKey("new:moneyline", 0, "a"): [(now + 3, 2.1)]}


async def test_dense_series_are_bucketed_in_sql_alike_on_both_stores(store):
    """Issue 22, item 9 (in part): a series denser than the buckets asked comes back as the last point of each
    bucket from either store, not every row."""
    from sbws.history.series import downsample

    lo, hi = 10 * DAY_MS, 10 * DAY_MS + 99_999
    points = [(lo + i * 100, 1.5 + (i % 50) / 100) for i in range(1000)]
    store.record([("d:moneyline", 0, "a", t, p) for t, p in points])
    assert await store.flush()
    series, _o, _c, _s = await store.query("d:moneyline", None, lo, hi, 20)
    got = series[SeriesKey("d:moneyline", 0, "a")]
    assert len(got) <= 21 and got == sorted(got)
    assert downsample(got, lo, hi, 20) == downsample(points, lo, hi, 20)


async def test_a_budget_shares_its_points_between_the_series(store):
    """Issue 22, item 9: with a budget, a market with many series brings at most about that many points out of
    the store in all (each series its share, bucketed in SQL), however many points each series has."""
    lo, hi = 10 * DAY_MS, 10 * DAY_MS + 99_999
    store.record([("m:moneyline", o, b, lo + i * 100, 1.5 + (i % 50) / 100)
                  for o in range(2) for b in ("a", "b", "c", "d", "e") for i in range(1000)])
    assert await store.flush()
    series, _o, _c, _s = await store.query("m:moneyline", None, lo, hi, 500, 100)
    assert len(series) == 10 and all(len(points) <= 11 for points in series.values())  # 100 / 10 series, +1 edge
    unbudgeted, _o, _c, _s = await store.query("m:moneyline", None, lo, hi, 500)
    assert all(400 <= len(points) <= 501 for points in unbudgeted.values())
