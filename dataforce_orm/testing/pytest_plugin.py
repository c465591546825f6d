"""pytest plugin (entry point ``dataforce_orm``): a session-wide LocalServer fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._server import LocalServer


@pytest.fixture(scope="session")
def dataforce_server() -> Iterator[LocalServer]:
    """An in-memory LocalServer running for the whole test session."""
    with LocalServer() as server:
        yield server
