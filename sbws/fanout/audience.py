"""Who should receive what: subscription matching and the audience index.

Sockets with identical subscriptions share one ``Group``, so an update is
matched and encoded once per group, not once per socket.  Inverted indexes by
sport, market type, sportsbook and explicit market id find the groups an
update concerns without scanning every group.

Matching rules (docs/protocol.md):
* a market matches when its id is explicitly subscribed, or when at least one
  filter dimension (sportsbooks, sports, marketTypes) is set and every set
  dimension matches (OR within a dimension; sportsbooks: the market is quoted
  by one of them);
* an opportunity matches a socket with ``arbitrage`` on when its market is
  explicitly subscribed or the filters match (no filters and no explicit
  markets: all opportunities), and, when sportsbooks are set, every leg is at
  one of them;
* value bets (``value``) and middles (``middles``) match by the same rule,
  a value bet's one book standing for the legs; value bets also need an EV
  of at least the socket's ``minEv``;
* steam (``steam``) matches by market, sport and market type alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from attrs import define, field

from ..signals import BY_NAME, KINDS, item_matches
from ..wire.commands import Subscription
from .context import SocketContext

STEAM = "steam"


def _wants(sub: Subscription, name: str) -> bool:
    return bool(sub.steam) if name == STEAM else bool(BY_NAME[name].wanted(sub))


def market_matches(sub: Subscription, market_id: str, sport: str | None, market_type: str, books: Iterable[str]) -> bool:
    if market_id in sub.markets:
        return True
    if not (sub.sportsbooks or sub.sports or sub.market_types):
        return False
    if sub.sports and sport not in sub.sports:
        return False
    if sub.market_types and market_type not in sub.market_types:
        return False
    return not sub.sportsbooks or not sub.sportsbooks.isdisjoint(books)


def steam_matches(sub: Subscription, market_id: str, sport: str | None, market_type: str) -> bool:
    """Steam is about a market, not a bet: the sportsbooks filter does not apply."""
    return bool(sub.steam) and item_matches(sub, (market_id,), sport, market_type, ())


@define(eq=False)
class Group:
    sub: Subscription
    members: set[SocketContext] = field(factory=set)
    known: set[str] = field(factory=set)
    """v2: the markets every socket of the group holds (a market new to them arrives whole)."""
    sent: dict[str, dict[str, bytes]] = field(factory=dict)
    """v2: per kind (arbitrage, value, middles), each live item as last sent to the whole group."""
    extra_known: set[str] = field(factory=set)
    """v2: markets some members hold beyond ``known`` (an image or a resume since the last push)."""
    extra_sent: dict[str, set[str]] = field(factory=dict)
    """v2: per kind, item ids some members hold beyond ``sent`` (likewise): their closing is sent to all."""

    @property
    def wants_markets(self) -> bool:
        s = self.sub
        return bool(s.markets or s.sportsbooks or s.sports or s.market_types)


class Audience:
    def __init__(self) -> None:
        self.on_group_removed: Callable[[Group], None] = lambda group: None
        """Called when a group's last socket left (v2 forgets what the group held)."""
        self.groups: dict[Subscription, Group] = {}
        self.of: dict[SocketContext, Group] = {}
        self.by_user: dict[str, set[SocketContext]] = {}
        self.by_sport: dict[str, set[Group]] = {}
        self.by_type: dict[str, set[Group]] = {}
        self.by_book: dict[str, set[Group]] = {}
        self.by_market: dict[str, set[Group]] = {}
        self._wanting: dict[str, set[Group]] = {name: set() for name in (*(k.name for k in KINDS), STEAM)}
        """Per signal kind (and steam): the groups whose subscription asks for its pushes."""
        self.contexts: set[SocketContext] = set()
        self._per_protocol: dict[int, int] = {}
        """Groups per protocol version: a version with none does no per-market work."""

    def __len__(self) -> int:
        return len(self.contexts)

    def add(self, ctx: SocketContext) -> None:
        self.contexts.add(ctx)
        if ctx.user_id is not None and ctx.verified:
            self.by_user.setdefault(ctx.user_id, set()).add(ctx)
        self._join(ctx, ctx.subscription())

    def remove(self, ctx: SocketContext) -> None:
        self.contexts.discard(ctx)
        self._leave(ctx)
        if ctx.user_id is not None:
            users = self.by_user.get(ctx.user_id)
            if users is not None:
                users.discard(ctx)
                if not users:
                    del self.by_user[ctx.user_id]

    def resubscribe(self, ctx: SocketContext) -> None:
        self._leave(ctx)
        self._join(ctx, ctx.subscription())

    def _indexes(self, sub: Subscription) -> Iterable[tuple[dict[str, set[Group]], frozenset[str]]]:
        return (
            (self.by_sport, sub.sports),
            (self.by_type, sub.market_types),
            (self.by_book, sub.sportsbooks),
            (self.by_market, sub.markets),
        )

    def _join(self, ctx: SocketContext, sub: Subscription) -> None:
        group = self.groups.get(sub)
        if group is None:
            group = self.groups[sub] = Group(sub)
            self._per_protocol[sub.protocol] = self._per_protocol.get(sub.protocol, 0) + 1
            for index, values in self._indexes(sub):
                for value in values:
                    index.setdefault(value, set()).add(group)
            for name, groups in self._wanting.items():
                if _wants(sub, name):
                    groups.add(group)
        group.members.add(ctx)
        self.of[ctx] = group

    def _leave(self, ctx: SocketContext) -> None:
        group = self.of.pop(ctx, None)
        if group is None:
            return
        group.members.discard(ctx)
        if group.members:
            return
        del self.groups[group.sub]
        self._per_protocol[group.sub.protocol] -= 1
        self.on_group_removed(group)
        for groups in self._wanting.values():
            groups.discard(group)
        for index, values in self._indexes(group.sub):
            for value in values:
                bucket = index[value]
                bucket.discard(group)
                if not bucket:
                    del index[value]

    def serves(self, protocol: int) -> bool:
        """Whether any socket of this protocol version is connected."""
        return self._per_protocol.get(protocol, 0) > 0

    def wanting(self, name: str) -> set[Group]:
        """The groups that asked for one signal kind's pushes (or ``steam``)."""
        return self._wanting[name]

    def market_groups(self, market_id: str, sport: str | None, market_type: str, books: Iterable[str],
                      protocol: int) -> set[Group]:
        """Groups of one protocol version that a change to this market must reach."""
        candidates: set[Group] = set(self.by_market.get(market_id, ()))
        if sport is not None:
            candidates |= self.by_sport.get(sport, set())
        candidates |= self.by_type.get(market_type, set())
        for book in books:
            candidates |= self.by_book.get(book, set())
        return {g for g in candidates
                if g.sub.protocol == protocol and market_matches(g.sub, market_id, sport, market_type, books)}
