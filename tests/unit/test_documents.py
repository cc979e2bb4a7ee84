"""The API documents carry the request rules of sbws.wire.documents, written from the limits the code enforces."""

from __future__ import annotations

import json
from decimal import Decimal

from engine.markets import MARKET_TYPES
from sbws.ledger.models import BET_STATUSES
from sbws.settings import DEFAULTS
from sbws.wire import limits
from sbws.wire.documents import rendered, schemas_dir
from sbws.wire.limits import Limits

DEFAULT_LIMITS = Limits(Decimal(str(DEFAULTS.min_stake)), Decimal(str(DEFAULTS.max_stake)))


def test_the_committed_documents_are_the_rendered_ones():
    for name in ("openapi.json", "asyncapi.json"):
        assert (schemas_dir() / name).read_bytes() == rendered(name, DEFAULT_LIMITS), (
            f"sbws/schemas/{name} is out of date: run .venv/bin/python scripts/documents.py"
        )


def test_request_rules_come_from_the_code():
    openapi = json.loads(rendered("openapi.json", Limits(Decimal("0.5"), Decimal("250"))))
    body = openapi["components"]["schemas"]["PlaceBet"]["properties"]
    assert (body["stake"]["minimum"], body["stake"]["maximum"], body["stake"]["multipleOf"]) == (0.5, 250.0, 0.01)
    assert body["marketId"]["minLength"] == 1 and body["marketId"]["maxLength"] == limits.MAX_ID_LENGTH
    assert body["notes"]["maxLength"] == limits.MAX_NOTES and body["clientRef"]["maxLength"] == limits.MAX_CLIENT_REF
    assert body["decimal"]["maximum"] == float(limits.MAX_DECIMAL_PRICE)
    params = {(path, p["name"]): p["schema"] for path, ops in openapi["paths"].items()
              for op in ops.values() for p in op.get("parameters", ())}
    assert params[("/api/arbitrage", "marketType")]["enum"] == list(MARKET_TYPES)
    assert params[("/api/bets", "status")]["enum"] == list(BET_STATUSES)
    assert params[("/api/bets", "from")]["minimum"] == 0
    assert params[("/api/markets", "limit")]["maximum"] == limits.MAX_MARKETS
    assert params[("/api/bets", "limit")]["maximum"] == limits.MAX_BETS
    asyncapi = json.loads(rendered("asyncapi.json", DEFAULT_LIMITS))
    subscribe = asyncapi["components"]["messages"]["subscribe"]["payload"]["properties"]["payload"]["properties"]
    assert subscribe["markets"]["maxItems"] == limits.MAX_LIST
    assert subscribe["marketTypes"]["items"]["enum"] == list(MARKET_TYPES)
