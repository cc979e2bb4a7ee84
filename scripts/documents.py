#!/usr/bin/env python3
"""Rewrite sbws/schemas/openapi.json and asyncapi.json with the request rules of sbws.wire.documents.

    .venv/bin/python scripts/documents.py

Run it after changing a limit or a request field; tests/unit/test_documents.py fails until you do.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbws.settings import DEFAULTS  # noqa: E402
from sbws.wire.documents import rendered, schemas_dir  # noqa: E402
from sbws.wire.limits import Limits  # noqa: E402


def main() -> int:
    limits = Limits(Decimal(str(DEFAULTS.min_stake)), Decimal(str(DEFAULTS.max_stake)))
    for name in ("openapi.json", "asyncapi.json"):
        (schemas_dir() / name).write_bytes(rendered(name, limits))
        print(f"wrote sbws/schemas/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
