"""Server messages out: whole frames as bytes, built once and shared by every socket that gets them.

List messages (``market_update``, ``arbitrage_update``) are spliced from
pre-encoded JSON objects, so a market's bytes are produced once per change
however many frames carry it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import orjson

from ..clock import SYSTEM, Clock
from ..market.state import MarketState
from . import views


def encode(message: Mapping[str, Any]) -> bytes:
    return orjson.dumps(message)


def reply(message: dict[str, Any], msg_id: str | int | None) -> bytes:
    if msg_id is not None:
        message["id"] = msg_id
    return orjson.dumps(message)


def splice(kind: bytes, key: bytes, fragments: Iterable[bytes], extra: bytes = b"", clock: Clock = SYSTEM) -> bytes:
    """One message whose list field is made of pre-encoded JSON objects."""
    now = clock.time()
    ts = str(int(now * 1000)).encode()
    published = f"{now * 1000:.3f}".encode()
    return b"".join(
        (b'{"type":"', kind, b'","', key, b'":[', b",".join(fragments), b"]", extra,
         b',"timestamp":', ts, b',"publishedAt":', published, b"}")
    )


def market_update(fragments: Collection[bytes], conflated: bool = False, clock: Clock = SYSTEM) -> bytes:
    extra = b',"total":' + str(len(fragments)).encode() + (b',"conflated":true' if conflated else b"")
    return splice(b"market_update", b"markets", fragments, extra, clock)


def closed_ids(ids: Iterable[str]) -> bytes:
    """The ``closed`` list of an arbitrage push, encoded once for every group."""
    return orjson.dumps(sorted(ids))


def items_update(push: str, key: str, items: Collection[bytes], closed: bytes = b"[]", clock: Clock = SYSTEM) -> bytes:
    """v1 ``arbitrage_update``, ``value_update``, ``middles_update``: the items a socket's filters match, and the
    ids closed since the last push."""
    extra = b',"total":' + str(len(items)).encode() + b',"closed":' + closed
    return splice(push.encode(), key.encode(), items, extra, clock)


def steam(event: Mapping[str, Any], clock: Clock = SYSTEM) -> bytes:
    return encode({"type": "steam", "steam": event, "timestamp": clock.ms()})


Position = tuple[str, int]
"""Protocol v2: (epoch, seq) of the market stream."""


def _stream(epoch: str, seq: int) -> bytes:
    return b',"epoch":' + orjson.dumps(epoch) + b',"seq":' + str(seq).encode()


def sportsbooks(state: MarketState, active_bets: Mapping[str, int], position: Position | None = None,
                clock: Clock = SYSTEM) -> bytes:
    books = views.sportsbooks(state, active_bets)
    message: dict[str, Any] = {"type": "sportsbooks", "sportsbooks": books, "total": len(books), "timestamp": clock.ms()}
    if position is not None:
        message.update(epoch=position[0], seq=position[1])
    return encode(message)


def heartbeat(clients: int, position: Position | None = None, clock: Clock = SYSTEM) -> bytes:
    message: dict[str, Any] = {"type": "heartbeat", "timestamp": clock.ms(), "clients": clients}
    if position is not None:
        message.update(epoch=position[0], seq=position[1])
    return encode(message)


def market_image(markets: Collection[bytes], epoch: str, seq: int, clock: Clock = SYSTEM) -> bytes:
    extra = b',"image":true,"total":' + str(len(markets)).encode() + _stream(epoch, seq)
    return splice(b"market_update", b"markets", markets, extra, clock)


def market_delta(deltas: Collection[bytes], epoch: str, seq: int, conflated: bool = False, ts: int | None = None,
                 clock: Clock = SYSTEM) -> bytes:
    """``ts``: the update time of every delta in the frame that has no "timestamp" of its own."""
    extra = (b',"delta":true' + (b',"con":true' if conflated else b"") + _stream(epoch, seq)
             + (b',"ts":' + str(ts).encode() if ts is not None else b""))
    return splice(b"market_update", b"markets", deltas, extra, clock)


def item_delta(push: str, key: str, items: Collection[bytes], closed: bytes, total: int, epoch: str, seq: int,
               image: bool = False, clock: Clock = SYSTEM) -> bytes:
    """v2 arbitrage/value/middles: opened or changed items whole, closed ones by id; ``image``: every live
    item, replacing what the client holds (after a subscribe or a resume)."""
    flag = b',"image":true' if image else b',"delta":true'
    extra = flag + b',"total":' + str(total).encode() + b',"closed":' + closed + _stream(epoch, seq)
    return splice(push.encode(), key.encode(), items, extra, clock)


def snapshot_required(reason: str, epoch: str, seq: int, clock: Clock = SYSTEM) -> bytes:
    return encode({"type": "snapshot_required", "reason": reason, "epoch": epoch, "seq": seq, "timestamp": clock.ms()})


def resumed(since: int, to: int, epoch: str, clock: Clock = SYSTEM) -> bytes:
    return encode({"type": "resumed", "from": since, "to": to, "epoch": epoch, "seq": to, "timestamp": clock.ms()})
