"""Fixtures for the LocalServer conformance suite: one server, a fresh orbit per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import requests
from artifacts_kit import Arts, fresh
from dforg_helpers import Org, new_org
from dfserver_helpers import Api, session_for

from dataforce_orm.testing import LocalServer

_counter = itertools.count()


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


@pytest.fixture(scope="session")
def session(server: LocalServer) -> Iterator[requests.Session]:
    s = session_for(server.api_key)
    yield s
    s.close()


@pytest.fixture
def api(server: LocalServer, session: requests.Session) -> Api:
    """A client on a fresh, empty orbit of the default organization."""
    orbit = server.add_orbit(server.organization_id, f"orbit-{next(_counter)}")
    return Api(server, session, server.organization_id, orbit)


@pytest.fixture
def org(server: LocalServer) -> Iterator[Org]:
    """A fresh organization (no bucket secret, no orbit) owned by a fresh user."""
    made = new_org(server)
    yield made
    made.close()


@pytest.fixture
def arts(server: LocalServer, session: requests.Session) -> Arts:
    """Artifact routes on a fresh organization and orbit of the default user."""
    return fresh(server, session)
