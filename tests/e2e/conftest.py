"""Fixtures the console's browser tests share: one headless Chromium per module, and the real app
under a real uvicorn server for the module's ``world`` (each module builds its own store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import chromium, serve


@pytest.fixture(scope="module")
def base_url(world: Any) -> Iterator[str]:
    """The module's world served by the real app on a free loopback port."""
    from api.app import create_app

    with serve(create_app(world.engine, [], world.settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as found:
        yield found
