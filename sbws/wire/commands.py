"""Client messages in: parsing and validating into command values.

Everything a client can send is turned into one of the command classes below
or rejected with a ``ProtocolError`` naming the field.  The WebSocket and the
REST API both go through here, so a rule exists once.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

import orjson
from attrs import frozen

from engine.board import BACK
from engine.odds import american_to_fraction

from ..errors import BAD_REQUEST, ProtocolError, bad
from ..history.series import DEFAULT_POINTS
from .fields import rule
from .limits import (
    MAX_CLIENT_REF,
    MAX_DECIMAL_PRICE,
    MAX_DUTCH,
    MAX_ID_LENGTH,
    MAX_SELECTION_ID,
    SELECTION_ID,
    MAX_LIST,
    MAX_NOTES,
    MAX_SECRET,
    MAX_URL,
    MIN_SECRET,
    Limits,
)


# -- commands ----------------------------------------------------------------
@frozen
class Subscription:
    sportsbooks: frozenset[str] = frozenset()
    markets: frozenset[str] = frozenset()
    arbitrage: bool | None = None
    market_types: frozenset[str] = frozenset()
    sports: frozenset[str] = frozenset()
    value: bool | None = None
    middles: bool | None = None
    min_ev: float | None = None
    """Value pushes only at or above this EV (percent); the server's --min-ev when unset."""
    steam: bool | None = None
    protocol: int = 1
    """Set by the socket, never parsed: v1 and v2 sockets never share a group (their frames differ)."""


@frozen
class Resume:
    epoch: str
    seq: int


@frozen
class Subscribe:
    filters: Subscription
    resume: Resume | None = None


@frozen
class Unsubscribe:
    filters: Subscription


@frozen
class MarketFilter:
    """The filters every listing request shares (a market's own fields; ``bookmaker``: quoted there, or a leg there)."""

    sport: str | None = None
    league: str | None = None
    market_type: str | None = None
    bookmaker: str | None = None
    event_id: str | None = None

    def admits(self, event_id: str, sport: str | None, league: str | None, market_type: str) -> bool:
        """The event and market filters (``bookmaker`` is the caller's: quoted there, or a leg there)."""
        return ((not self.event_id or event_id == self.event_id) and (not self.sport or sport == self.sport)
                and (not self.league or league == self.league)
                and (not self.market_type or market_type == self.market_type))


@frozen
class GetMarkets:
    filter: MarketFilter = MarketFilter()
    limit: int = 100
    max_hold: float | None = None


@frozen
class GetSignals:
    """``get_arbitrage``, ``get_value``, ``get_middles``: one kind's live items (``kind``: the table's name)."""

    kind: str
    filter: MarketFilter = MarketFilter()
    min_score: float | None = None
    """The smallest edge (arbitrage) or EV (value, middles) listed, in percent."""
    bankroll: float | None = None
    """Value: adds each item's Kelly ``stake`` for this bankroll."""
    stake: float | None = None
    """Arbitrage: every figure for this total (back-lay: back) stake, a back-lay's lay walking the exchange's
    ladder."""


@frozen
class GetHistory:
    market_id: str
    selection: str | None = None
    bookmaker: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    max_points: int = DEFAULT_POINTS


@frozen
class AlertRuleSpec:
    kind: str
    min_edge: float | None = None
    min_ev: float | None = None
    sports: tuple[str, ...] = ()
    bookmakers: tuple[str, ...] = ()
    webhook: str | None = None


@frozen
class WebhookSpec:
    url: str
    secret: str


@frozen
class GetDutch:
    """Stakes on several selections of one market that return the same whichever of them wins."""

    market_id: str
    selections: tuple[str, ...]
    stake: Decimal
    """The total staked over them."""


@frozen
class GetMatched:
    """Each selection an exchange lays, its best bookmaker back against its best lay, for a stake and a bet type."""

    stake: Decimal
    bet_type: str
    market_id: str | None = None
    sport: str | None = None
    limit: int = 50


@frozen
class GetExposure:
    """The caller's profit in one market if each of its selections wins, from their open bets."""

    market_id: str


@frozen
class PlaceBet:
    market_id: str
    selection_id: str
    bookmaker: str
    stake: Decimal
    odds: int | None
    """The worst price accepted, as American odds; or ``decimal`` instead (exactly one of the two)."""
    notes: str = ""
    client_ref: str | None = None
    decimal: Decimal | None = None
    requested: Fraction = Fraction(0)
    """The worst price accepted, exactly, from ``odds`` or ``decimal``: the lowest to back, the highest to lay."""
    side: str = BACK
    """``back``, or ``lay`` at an exchange (``stake`` is then the backer's stake laid; the liability is bounded by
    the stake limits)."""


@frozen
class GetBets:
    status: str | None = None
    bookmaker: str | None = None
    market_id: str | None = None
    from_ms: int | None = None
    to_ms: int | None = None
    limit: int = 50


@frozen
class Ping:
    pass


Command = (Subscribe | Unsubscribe | GetMarkets | GetSignals | GetHistory | GetDutch | GetMatched | PlaceBet | GetBets
           | GetExposure | Ping)


@frozen
class Envelope:
    type: str
    id: str | int | None
    command: Command


# -- field validators ----------------------------------------------------------
def _text(name: str, value: Any, max_len: int) -> str:
    if not isinstance(value, str):
        raise bad(name, "must be a string")
    if len(value) > max_len:
        raise bad(name, f"must be at most {max_len} characters")
    return value


def _str(payload: Mapping[str, Any], name: str, *, max_len: int = MAX_ID_LENGTH) -> str | None:
    value = payload.get(name)
    return None if value is None else _text(name, value, max_len)


def _required_str(payload: Mapping[str, Any], name: str, max_len: int = MAX_ID_LENGTH) -> str:
    value = payload.get(name)
    if value is None:
        raise bad(name, "is required")
    text = _text(name, value, max_len)
    if not text:
        raise bad(name, "must not be empty")
    return text


def _integer(name: str, value: Any, what: str = "an integer") -> int:
    """JSON integers, including those written with a zero fraction (2.0), as JSON Schema counts them."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(name, f"must be {what}")
    return value


def _int(payload: Mapping[str, Any], name: str, default: int | None, lo: int, hi: int) -> int | None:
    value = payload.get(name)
    if value is None:
        return default
    number = _integer(name, value)
    if not lo <= number <= hi:
        raise bad(name, f"must be between {lo} and {hi}")
    return number


def _number(payload: Mapping[str, Any], name: str, default: float) -> float:
    value = payload.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(name, "must be a number")
    if not math.isfinite(value):
        raise bad(name, "must be finite")
    return float(value)


def _set(payload: Mapping[str, Any], name: str, allowed: tuple[str, ...] | None = None) -> frozenset[str]:
    value = payload.get(name)
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise bad(name, "must be a list of strings")
    if len(value) > MAX_LIST:
        raise bad(name, f"must have at most {MAX_LIST} items")
    for item in value:
        if not isinstance(item, str) or not item or len(item) > MAX_ID_LENGTH:
            raise bad(name, "must be a list of non-empty strings")
        if allowed is not None and item not in allowed:
            raise bad(name, f"unknown value {item!r}; expected one of {', '.join(allowed)}")
    return frozenset(value)


def _enum(p: Mapping[str, Any], name: str, request: str | None = None) -> str | None:
    value = _str(p, name)
    allowed = rule(name, request).enum or ()
    if value is not None and value not in allowed:
        raise bad(name, f"must be one of {', '.join(allowed)}")
    return value


def _ranged_int(p: Mapping[str, Any], name: str, request: str | None = None) -> int | None:
    r = rule(name, request)
    return _int(p, name, r.default, int(r.lo or 0), int(r.hi or 0))


def _ranged_number(p: Mapping[str, Any], name: str) -> float | None:
    r = rule(name)
    return _optional_number(p, name, float(r.lo or 0), float(r.hi or 0))


FLOAT_NOISE = Decimal("1e-12")
"""How far a JSON number may sit from its decimal grid and still be that grid value: a float's own
rounding (0.1 * 7 is 0.7000000000000001), which JSON Schema's multipleOf also forgives."""


def _grid_number(name: str, value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(name, f"must be {what}")
    if isinstance(value, float) and not math.isfinite(value):
        raise bad(name, "must be finite")
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _on_grid(name: str, exact: Decimal, places: int) -> Decimal:
    """The value on a grid of ``places`` decimals; more places than float noise are refused."""
    step = Decimal(1).scaleb(-places)
    rounded = exact.quantize(step)
    if abs(rounded - exact) > abs(exact) * FLOAT_NOISE:
        raise bad(name, f"must have at most {places} decimal places")
    return rounded


def parse_stake(value: Any, min_stake: Decimal, max_stake: Decimal) -> Decimal:
    """A positive amount with at most two decimals, within the limits, as Decimal."""
    amount = _grid_number("stake", value, "a number")
    if amount <= 0:
        raise bad("stake", "must be positive")
    if amount > max_stake:
        raise bad("stake", f"must be at most {max_stake}")
    if amount < min_stake:
        raise bad("stake", f"must be at least {min_stake}")
    return _on_grid("stake", amount, 2)


def parse_decimal_price(value: Any) -> Decimal:
    """A decimal price as a book quotes it: a number above 1 with at most 4 decimal places."""
    price = _grid_number("decimal", value, "a number (decimal odds)")
    if not Decimal(1) < price <= MAX_DECIMAL_PRICE:
        raise bad("decimal", f"must be above 1 and at most {MAX_DECIMAL_PRICE}")
    return _on_grid("decimal", price, 4)


def parse_american(value: Any) -> int:
    odds = _integer("odds", value, "an integer (American odds)")
    bounds = rule("odds")
    if abs(odds) < (bounds.lo or 0):
        raise bad("odds", f"American odds must satisfy |odds| >= {bounds.lo:g}")
    if abs(odds) > (bounds.hi or 0):
        raise bad("odds", f"must be within +/-{bounds.hi:g}")
    return odds


# -- per-type payload parsers --------------------------------------------------
def _flag(p: Mapping[str, Any], name: str) -> bool | None:
    value = p.get(name)
    if value is not None and not isinstance(value, bool):
        raise bad(name, "must be a boolean")
    return value


def _optional_number(p: Mapping[str, Any], name: str, lo: float, hi: float) -> float | None:
    if p.get(name) is None:
        return None
    value = _number(p, name, 0.0)
    if not lo <= value <= hi:
        raise bad(name, f"must be between {lo:g} and {hi:g}")
    return value


def _subscription(p: Mapping[str, Any]) -> Subscription:
    return Subscription(
        sportsbooks=_set(p, "sportsbooks"),
        markets=_set(p, "markets"),
        arbitrage=_flag(p, "arbitrage"),
        market_types=_set(p, "marketTypes", rule("marketTypes").enum),
        sports=_set(p, "sports"),
        value=_flag(p, "value"),
        middles=_flag(p, "middles"),
        min_ev=_ranged_number(p, "minEv"),
        steam=_flag(p, "steam"),
    )


def _resume(p: Mapping[str, Any]) -> Resume | None:
    value = p.get("resume")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad("resume", "must be an object with epoch and seq")
    epoch = value.get("epoch")
    if not isinstance(epoch, str) or not epoch or len(epoch) > MAX_ID_LENGTH:
        raise bad("resume", "epoch must be a non-empty string")
    seq = value.get("seq")
    if seq is None:
        raise bad("resume", "seq is required")
    return Resume(epoch, _integer("resume", seq, "an object whose seq is an integer"))


def _filter(p: Mapping[str, Any], request: str, *, sport: bool = True, league: bool = False) -> MarketFilter:
    return MarketFilter(
        sport=_str(p, "sport") if sport else None,
        league=_str(p, "league") if league else None,
        market_type=_enum(p, "marketType", request),
        bookmaker=_str(p, "bookmaker"),
        event_id=_str(p, "eventId"),
    )


def parse_get_markets(p: Mapping[str, Any]) -> GetMarkets:
    return GetMarkets(
        filter=_filter(p, "get_markets", league=True),
        limit=_ranged_int(p, "limit", "get_markets") or rule("limit", "get_markets").default,
        max_hold=None if p.get("maxHold") is None else _number(p, "maxHold", 0.0),
    )


def parse_get_arbitrage(p: Mapping[str, Any], limits: Limits = Limits()) -> GetSignals:
    min_edge = _number(p, "minEdge", 0.0)
    stake = None if p.get("stake") is None else float(parse_stake(p["stake"], limits.min_stake, limits.max_stake))
    return GetSignals("arbitrage", _filter(p, "get_arbitrage", sport=False), min_score=min_edge, stake=stake)


def parse_get_value(p: Mapping[str, Any]) -> GetSignals:
    min_ev = _ranged_number(p, "minEv")
    return GetSignals("value", _filter(p, "get_value"), min_score=min_ev, bankroll=_ranged_number(p, "bankroll"))


def parse_get_middles(p: Mapping[str, Any]) -> GetSignals:
    market_type = _enum(p, "marketType")
    if market_type is not None and market_type not in (rule("marketType", "get_middles").enum or ()):
        raise bad("marketType", "middles exist on spread and total markets only")
    return GetSignals("middles", _filter(p, "get_middles"), min_score=_ranged_number(p, "minEv"))


def parse_get_history(p: Mapping[str, Any], market_id: str | None = None) -> GetHistory:
    """``market_id`` comes from the REST path; over the WebSocket it is the payload's ``marketId``."""
    market = market_id if market_id is not None else _required_str(p, "marketId")
    selection = p.get("selection")
    if selection is not None and not is_selection_id(selection):
        raise bad("selection", SELECTION_RULE)
    from_ms = _ranged_int(p, "from")
    to_ms = _ranged_int(p, "to")
    return GetHistory(
        market_id=market,
        selection=selection,
        bookmaker=_str(p, "bookmaker"),
        from_ms=from_ms,
        to_ms=to_ms,
        max_points=_ranged_int(p, "maxPoints") or DEFAULT_POINTS,
    )


def parse_alert_rule(p: Mapping[str, Any]) -> AlertRuleSpec:
    kind = _required_str(p, "kind")
    kinds = rule("kind").enum or ()
    if kind not in kinds:
        raise bad("kind", f"must be one of {', '.join(kinds)}")
    min_edge = None if p.get("minEdge") is None else _number(p, "minEdge", 0.0)
    min_ev = _ranged_number(p, "minEv")
    if min_edge is not None and kind != "arbitrage":
        raise bad("minEdge", "applies to arbitrage rules only")
    if min_ev is not None and kind not in ("value", "middle"):
        raise bad("minEv", "applies to value and middle rules only")
    return AlertRuleSpec(kind, min_edge, min_ev, tuple(sorted(_set(p, "sports"))), tuple(sorted(_set(p, "bookmakers"))),
                         _str(p, "webhook"))


def parse_muted_until(p: Mapping[str, Any]) -> int | None:
    """``{"mutedUntil": ms}`` mutes until then; ``null`` unmutes.  The field must be present."""
    if "mutedUntil" not in p:
        raise bad("mutedUntil", "is required (epoch milliseconds, or null to unmute)")
    return _ranged_int(p, "mutedUntil")


def parse_webhook(p: Mapping[str, Any], allow_private: bool) -> WebhookSpec:
    url = _required_str(p, "url", MAX_URL)
    secret = _required_str(p, "secret", MAX_SECRET)
    if len(secret) < MIN_SECRET:
        raise bad("secret", f"must be at least {MIN_SECRET} characters")
    return WebhookSpec(check_webhook_url(url, allow_private), secret)


LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_allowed(address: str, allow_private: bool) -> bool:
    """A globally routable unicast address, or anything when private targets are allowed.

    An IPv6 address that carries an IPv4 one (mapped, 6to4, NAT64) is judged by the IPv4 address it
    carries; site-local (fec0::/10) and Teredo addresses are refused, and so is shared address space
    (100.64.0.0/10, where cloud metadata services live), which is not globally routable.
    """
    if allow_private:
        return True
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local or ip.teredo is not None:
            return False
        carried = ip.ipv4_mapped or ip.sixtofour
        if carried is None and ip in NAT64:
            carried = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if carried is not None:
            ip = carried
    return ip.is_global and not ip.is_multicast


def check_webhook_url(url: str, allow_private: bool) -> str:
    """http(s) with a host and no credentials; a loopback or private address only when allowed.

    Host names are checked again at every delivery, against what they resolve to then.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        raise bad("url", "is not a valid URL (its host or port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad("url", "must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise bad("url", "must not carry credentials; sign with the secret instead")
    host = parts.hostname.rstrip(".").lower()
    literal = True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        literal = False
    if not allow_private and (host in LOCAL_NAMES or host.endswith(".localhost")
                              or (literal and not address_allowed(host, False))):
        raise bad("url", "loopback and private addresses are refused (the server allows them with --allow-private-webhooks)")
    return url


def parse_place_bet(p: Mapping[str, Any], min_stake: Decimal, max_stake: Decimal) -> PlaceBet:
    market_id = _required_str(p, "marketId")
    selection_id = _required_str(p, "selectionId")
    bookmaker = _required_str(p, "bookmaker")
    if "stake" not in p:
        raise bad("stake", "is required")
    stake = parse_stake(p["stake"], min_stake, max_stake)
    if p.get("odds") is not None and p.get("decimal") is not None:
        raise bad("decimal", "give odds (American) or decimal, not both")
    if p.get("odds") is None and p.get("decimal") is None:
        raise bad("odds", "is required (American odds), or give decimal instead")
    odds = parse_american(p["odds"]) if p.get("odds") is not None else None
    decimal = parse_decimal_price(p["decimal"]) if odds is None else None
    requested = american_to_fraction(odds) if odds is not None else Fraction(decimal or 0)
    notes = _str(p, "notes", max_len=MAX_NOTES) or ""
    client_ref = _str(p, "clientRef", max_len=MAX_CLIENT_REF)
    side = _enum(p, "side") or BACK
    return PlaceBet(market_id, selection_id, bookmaker, stake, odds, notes, client_ref or None, decimal, requested,
                    side)


SELECTION_RULE = f"must be a selection id (1 to {MAX_SELECTION_ID} letters, digits, _ . : -)"


def is_selection_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_SELECTION_ID and re.match(SELECTION_ID, value) is not None


def parse_get_dutch(p: Mapping[str, Any], min_stake: Decimal, max_stake: Decimal) -> GetDutch:
    market_id = _required_str(p, "marketId")
    raw = p.get("selections")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_DUTCH:
        raise bad("selections", f"must be a list of 1 to {MAX_DUTCH} selection ids")
    if not all(is_selection_id(s) for s in raw):
        raise bad("selections", f"must hold selection ids: each {SELECTION_RULE}")
    if len(set(raw)) != len(raw):
        raise bad("selections", "names a selection twice")
    if "stake" not in p:
        raise bad("stake", "is required")
    return GetDutch(market_id, tuple(raw), parse_stake(p["stake"], min_stake, max_stake))


def parse_get_matched(p: Mapping[str, Any], min_stake: Decimal, max_stake: Decimal) -> GetMatched:
    if "stake" not in p:
        raise bad("stake", "is required")
    bet_type = _enum(p, "type", "get_matched") or str(rule("type", "get_matched").default)
    return GetMatched(parse_stake(p["stake"], min_stake, max_stake), bet_type, _str(p, "marketId"), _str(p, "sport"),
                      _ranged_int(p, "limit", "get_matched") or int(rule("limit", "get_matched").default))


def parse_get_exposure(p: Mapping[str, Any]) -> GetExposure:
    return GetExposure(_required_str(p, "marketId"))


def parse_get_bets(p: Mapping[str, Any]) -> GetBets:
    status = _enum(p, "status")
    return GetBets(
        status=status,
        bookmaker=_str(p, "bookmaker"),
        market_id=_str(p, "marketId"),
        from_ms=_ranged_int(p, "from"),
        to_ms=_ranged_int(p, "to"),
        limit=_ranged_int(p, "limit", "get_bets") or rule("limit", "get_bets").default,
    )


SIGNAL_PARSERS: Mapping[str, Callable[[Mapping[str, Any], Limits], GetSignals]] = {
    "get_arbitrage": parse_get_arbitrage,
    "get_value": lambda p, limits: parse_get_value(p),
    "get_middles": lambda p, limits: parse_get_middles(p),
}
"""The listing request of each signal kind (``sbws.signals`` names it per kind)."""

Parser = Callable[[Mapping[str, Any], Limits], Command]

PARSERS: Mapping[str, Parser] = {
    "subscribe": lambda p, limits: Subscribe(_subscription(p), _resume(p)),
    "unsubscribe": lambda p, limits: Unsubscribe(_subscription(p)),
    "get_markets": lambda p, limits: parse_get_markets(p),
    **SIGNAL_PARSERS,
    "get_history": lambda p, limits: parse_get_history(p),
    "get_dutch": lambda p, limits: parse_get_dutch(p, limits.min_stake, limits.max_stake),
    "get_matched": lambda p, limits: parse_get_matched(p, limits.min_stake, limits.max_stake),
    "place_bet": lambda p, limits: parse_place_bet(p, limits.min_stake, limits.max_stake),
    "get_bets": lambda p, limits: parse_get_bets(p),
    "get_exposure": lambda p, limits: parse_get_exposure(p),
    "ping": lambda p, limits: Ping(),
}
"""Every message type a client may send, and its parser."""
KNOWN_TYPES = tuple(PARSERS)

NUMERIC_QUERY: Mapping[str, tuple[str, ...]] = {
    "get_markets": ("limit", "maxHold"),
    "get_arbitrage": ("minEdge", "stake"),
    "get_value": ("minEv", "bankroll"),
    "get_middles": ("minEv",),
    "get_history": ("from", "to", "maxPoints"),
    "get_dutch": ("stake",),
    "get_matched": ("stake", "limit"),
    "get_bets": ("from", "to", "limit"),
    "get_exposure": (),
}
"""The fields a REST query string carries as numbers, per request."""


def valid_id(msg_id: Any) -> bool:
    return msg_id is None or (not isinstance(msg_id, bool) and isinstance(msg_id, (str, int))
                              and len(str(msg_id)) <= MAX_ID_LENGTH)


def message_id(data: str | bytes) -> str | int | None:
    """A frame's ``id`` when it has a valid one, for an error raised before the frame is parsed (the rate limit):
    the error then reaches the request that caused it, as every error does."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    msg_id = doc.get("id") if isinstance(doc, dict) else None
    return msg_id if valid_id(msg_id) else None


def parse_message(data: str | bytes, limits: Limits) -> Envelope:
    """Parse one client frame; raises ProtocolError (with ``extra['id']`` when known)."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ProtocolError(BAD_REQUEST, "invalid JSON", None) from None
    if not isinstance(doc, dict):
        raise ProtocolError(BAD_REQUEST, "message must be a JSON object", None)
    msg_id = doc.get("id")
    if not valid_id(msg_id):
        raise bad("id", "must be a string or an integer")
    try:
        kind = doc.get("type")
        if not isinstance(kind, str):
            raise bad("type", "is required and must be a string")
        if kind not in KNOWN_TYPES:
            raise ProtocolError(BAD_REQUEST, f"type: unknown message type {kind[:40]!r}", "type")
        payload = doc.get("payload", {})
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise bad("payload", "must be an object")
        return Envelope(kind, msg_id, parse_command(kind, payload, limits))
    except ProtocolError as exc:
        if msg_id is not None:
            exc.extra["id"] = msg_id
        raise


def parse_command(kind: str, payload: Mapping[str, Any], limits: Limits) -> Command:
    return PARSERS[kind](payload, limits)


def query_payload(query: Mapping[str, str], request: str) -> dict[str, Any]:
    """Turn REST query strings into a payload for the same parsers (``request``: the message type)."""
    numeric = NUMERIC_QUERY[request]
    out: dict[str, Any] = {}
    for name, raw in query.items():
        if name in numeric:
            try:
                out[name] = int(raw)
            except ValueError:
                try:
                    out[name] = float(raw)
                except ValueError:
                    raise bad(name, "must be a number") from None
        else:
            out[name] = raw
    return out
