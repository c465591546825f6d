"""pytest plugin (entry point ``dataforce_orm``): LocalServer and Session fixtures.

``dataforce_server`` is a fresh in-memory LocalServer per test; ``dataforce_session`` is a
Session on it, made current for the test (so ``Collection.objects`` uses it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .._session import Session
from ._server import LocalServer


@pytest.fixture
def dataforce_server() -> Iterator[LocalServer]:
    """A fresh, empty LocalServer for one test."""
    server = LocalServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def dataforce_session(dataforce_server: LocalServer) -> Iterator[Session]:
    """A Session on ``dataforce_server``, current for the test."""
    session = Session(api_key=dataforce_server.api_key, base_url=dataforce_server.url,
                      organization=dataforce_server.organization_id,
                      orbit=dataforce_server.orbit_id)
    with session:
        yield session
    session.close()
