"""Fixtures shared by the functional tests; helpers live in ``tests.helpers``."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbws.server.app import make_app
from sbws.settings import Settings
from tests.helpers import ScriptedFeed, app_state, fast_settings, opening_batch, wait_for


@pytest.fixture
def feed() -> ScriptedFeed:
    return ScriptedFeed([opening_batch()])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return fast_settings(tmp_path)


@pytest.fixture
async def client(aiohttp_client, settings, feed):  # type: ignore[no-untyped-def]
    app = await make_app(settings, feed)
    c = await aiohttp_client(app)
    await wait_for(lambda: app_state(c).batches >= 1)
    return c
