"""The request rules of the published API documents, written once from the limits the server enforces.

The OpenAPI and AsyncAPI documents in ``sbws/schemas/`` give the shapes; every
request field's constraints (lengths, enums, ranges, multiples, list sizes) are
set here from ``wire.limits``, ``engine.markets`` and the ledger's statuses.
``render_*`` apply them: ``scripts/documents.py`` rewrites the files (a test
keeps them equal to its output) and the server serves them rendered with its
own stake limits.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

from . import limits as bounds
from .fields import MAX_AMERICAN, OPERATIONS, Rule, rule
from .limits import Limits

Schema = dict[str, Any]
MESSAGE_ID: Schema = {"type": ["string", "integer"], "maxLength": bounds.MAX_ID_LENGTH, "minimum": -(2**63), "maximum": 2**64 - 1}
"""A client's message id: a string up to 128 characters, or an integer JSON parsers keep exact (64 bits)."""
PORT = r"([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
WEBHOOK_URL = rf"^https?://[A-Za-z0-9.-]+(:{PORT})?([/?#][!-~]*)?$"
"""http(s), a host, an optional port: what a webhook URL must look like (private hosts are a server setting)."""


def _id(required: bool) -> Schema:
    return {"type": "string", "maxLength": bounds.MAX_ID_LENGTH, **({"minLength": 1} if required else {})}


def _ids() -> Schema:
    return {"type": "array", "maxItems": bounds.MAX_LIST, "items": _id(required=True)}


def _selection_id() -> Schema:
    return {"type": "string", "minLength": 1, "maxLength": bounds.MAX_SELECTION_ID, "pattern": bounds.SELECTION_ID}


def _ranged(kind: str, r: Rule) -> Schema:
    out: Schema = {"type": kind, "minimum": r.lo, "maximum": r.hi}
    if r.default is not None:
        out["default"] = r.default
    return out


def _enum(r: Rule) -> Schema:
    return {"type": "string", "enum": list(r.enum or ())}


def field_rules(limits: Limits) -> dict[str, Callable[[bool, str], Schema]]:
    """The schema of each request field by name: ``(required, request type) -> schema``."""
    return {
        "sport": lambda r, op: _id(r),
        "league": lambda r, op: _id(r),
        "bookmaker": lambda r, op: _id(r),
        "eventId": lambda r, op: _id(r),
        "marketId": lambda r, op: _id(r),
        "selectionId": lambda r, op: _id(r),
        "marketType": lambda r, op: _enum(rule("marketType", op)),
        "status": lambda r, op: _enum(rule("status", op)),
        "limit": lambda r, op: _ranged("integer", rule("limit", op)),
        "from": lambda r, op: _ranged("integer", rule("from", op)),
        "to": lambda r, op: _ranged("integer", rule("to", op)),
        "minEdge": lambda r, op: {"type": "number"},
        "maxHold": lambda r, op: {"type": "number"},
        "stake": lambda r, op: {"type": "number", "minimum": float(limits.min_stake),
                                "maximum": float(limits.max_stake), "multipleOf": 0.01},
        "odds": lambda r, op: {"type": "integer", "anyOf": [
            {"minimum": rule("odds").lo, "maximum": MAX_AMERICAN}, {"minimum": -MAX_AMERICAN, "maximum": -(rule("odds").lo or 0)}]},
        "decimal": lambda r, op: {"type": "number", "exclusiveMinimum": 1, "maximum": float(bounds.MAX_DECIMAL_PRICE),
                                  "multipleOf": 0.0001},
        "notes": lambda r, op: {"type": "string", "maxLength": bounds.MAX_NOTES},
        "clientRef": lambda r, op: {"type": "string", "maxLength": bounds.MAX_CLIENT_REF},
        "sportsbooks": lambda r, op: _ids(),
        "markets": lambda r, op: _ids(),
        "sports": lambda r, op: _ids(),
        "marketTypes": lambda r, op: {"type": "array", "maxItems": bounds.MAX_LIST, "items": _enum(rule("marketTypes", op))},
        "arbitrage": lambda r, op: {"type": "boolean"},
        "value": lambda r, op: {"type": "boolean"},
        "middles": lambda r, op: {"type": "boolean"},
        "minEv": lambda r, op: _ranged("number", rule("minEv", op)),
        "bankroll": lambda r, op: _ranged("number", rule("bankroll", op)),
        "steam": lambda r, op: {"type": "boolean"},
        "selection": lambda r, op: _selection_id(),
        "maxPoints": lambda r, op: _ranged("integer", rule("maxPoints", op)),
        "kind": lambda r, op: _enum(rule("kind", op)),
        "side": lambda r, op: _enum(rule("side", op)),
        "bookmakers": lambda r, op: _ids(),
        "selections": lambda r, op: {"type": "array", "minItems": 1, "maxItems": bounds.MAX_DUTCH, "uniqueItems": True,
                                     "items": _selection_id()},
        "webhook": lambda r, op: _id(r),
        "mutedUntil": lambda r, op: {**_ranged("integer", rule("mutedUntil", op)), "type": ["integer", "null"]},
        "url": lambda r, op: {"type": "string", "maxLength": bounds.MAX_URL, "pattern": WEBHOOK_URL},
        "secret": lambda r, op: {"type": "string", "minLength": bounds.MIN_SECRET, "maxLength": bounds.MAX_SECRET},
    }


def _merge(old: Schema, new: Schema) -> Schema:
    """The rule's constraints, keeping the document's words (description, examples)."""
    kept = {k: v for k, v in old.items() if k in ("description", "examples", "example", "title")}
    return {**new, **kept}


def _nullable(schema: Schema) -> Schema:
    """An optional field may also be null, which the server reads as absent."""
    out = dict(schema)
    out["type"] = [schema["type"], "null"]
    if "enum" in schema:
        out["enum"] = [*schema["enum"], None]
    return out


def _apply_object(schema: Schema, rules: dict[str, Callable[[bool, str], Schema]], op: str) -> None:
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if name in rules:
            rule = rules[name](name in required, op)
            schema["properties"][name] = _merge(prop, rule if name in required else _nullable(rule))


def render_openapi(doc: Schema, limits: Limits) -> Schema:
    out = copy.deepcopy(doc)
    rules = field_rules(limits)
    for ops in out["paths"].values():
        for op in ops.values():
            name = OPERATIONS.get(op.get("operationId", ""), "")
            for param in op.get("parameters", ()):
                if param.get("in") == "query" and param["name"] in rules:
                    param["schema"] = _merge(param.get("schema", {}), rules[param["name"]](bool(param.get("required")), name))
    _apply_object(out["components"]["schemas"]["PlaceBet"], rules, "place_bet")
    _exactly_one_price(out["components"]["schemas"]["PlaceBet"])
    for name, request in (("NewAlertRule", "create_alert_rule"), ("MuteAlertRule", "mute_alert_rule"),
                          ("NewWebhook", "create_webhook")):
        _apply_object(out["components"]["schemas"][name], rules, request)
    _limits_by_kind(out["components"]["schemas"]["NewAlertRule"])
    return out


def _limits_by_kind(rule: Schema) -> None:
    """``minEdge`` belongs to arbitrage rules, ``minEv`` to value and middle rules, neither to steam."""
    rule["oneOf"] = [
        {"properties": {"kind": {"const": "arbitrage"}, "minEv": {"type": "null"}}},
        {"properties": {"kind": {"enum": ["value", "middle"]}, "minEdge": {"type": "null"}}},
        {"properties": {"kind": {"const": "steam"}, "minEdge": {"type": "null"}, "minEv": {"type": "null"}}},
    ]


def _exactly_one_price(place_bet: Schema) -> None:
    """``odds`` or ``decimal``: one given, the other absent or null."""
    place_bet["oneOf"] = [
        {"required": ["odds"], "properties": {"odds": {"type": "integer"}, "decimal": {"type": "null"}}},
        {"required": ["decimal"], "properties": {"decimal": {"type": "number"}, "odds": {"type": "null"}}},
    ]


def render_asyncapi(doc: Schema, limits: Limits) -> Schema:
    out = copy.deepcopy(doc)
    rules = field_rules(limits)
    messages = out["components"]["messages"]
    for op in out["operations"].values():
        if op["action"] != "receive":
            continue
        for ref in op["messages"]:
            name = ref["$ref"].rsplit("/", 1)[-1]
            envelope = messages[name]["payload"]["properties"]
            if "id" in envelope:
                envelope["id"] = _merge(envelope["id"], MESSAGE_ID)
            payload = envelope.get("payload")
            if payload is not None and "properties" in payload:
                _apply_object(payload, rules, name)
                if not payload.get("required"):
                    payload["type"] = ["object", "null"]  # a null payload is an empty one
    _apply_object(out["components"]["schemas"]["PlaceBet"], rules, "place_bet")
    _exactly_one_price(out["components"]["schemas"]["PlaceBet"])
    return out


def schemas_dir() -> Path:
    return Path(str(files("sbws.schemas")))


def rendered(name: str, limits: Limits) -> bytes:
    doc = orjson.loads((schemas_dir() / name).read_bytes())
    render = render_openapi if name == "openapi.json" else render_asyncapi
    return encode(render(doc, limits))


def encode(doc: Schema) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"
