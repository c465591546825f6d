"""The pytest plugin's fixtures, as users' own test suites get them."""

from __future__ import annotations

from dataforce_orm import Collection, Session
from dataforce_orm import _session as session_module
from dataforce_orm.testing import LocalServer


def test_dataforce_session_is_current_on_a_fresh_server(
        dataforce_server: LocalServer, dataforce_session: Session) -> None:
    assert session_module.current_session() is dataforce_session
    assert dataforce_server.collection_rows() == []
    c = Collection.objects.create(name="from a user's test", collection_type="model")
    assert [r["id"] for r in dataforce_server.collection_rows()] == [c.id]


def test_each_test_gets_its_own_server(dataforce_server: LocalServer,
                                       dataforce_session: Session) -> None:
    assert dataforce_server.collection_rows() == []
    assert Collection.objects.count() == 0
