"""Unusual writes and the tag search (end to end, sync and async): writes on a read-only
model, saving an object never loaded, create(id=...), nested `with session:` blocks, and the
platform's search over the text of a collection's tags JSON ("null" when created without
tags)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from parity import AsyncMode, MakeSession, SyncMode

import dataforce_orm as dfo
from dataforce_orm import Collection, DataForceError, Organization, Session, ValidationError
from dataforce_orm.testing import LocalServer

Mode = SyncMode | AsyncMode


# -- read-only models -----------------------------------------------------------------------


def test_writes_on_a_read_only_model_are_refused(m: Mode, session: Session,
                                                 server: LocalServer) -> None:
    org = m.get(Organization.objects, id=server.organization_id)
    before = server.request_log
    calls: list[Any] = [
        lambda: m.create(Organization.objects, name="new"),
        lambda: m.get_or_create(Organization.objects, name="new"),
        lambda: m.update_or_create(Organization.objects, name=org.name,
                                   defaults={"name": "x"}),
        lambda: m.save(Organization(name="new")),
        lambda: m.save(org),
        lambda: m.delete(org),
        lambda: m.delete_all(Organization.objects.all()),
    ]
    for call in calls:
        with pytest.raises(DataForceError, match="Organization is read-only") as info:
            call()
        assert type(info.value) is DataForceError
    assert [r for r in server.request_log if r[0] != "GET"] == \
        [r for r in before if r[0] != "GET"]  # no write was sent


# -- an object never loaded --------------------------------------------------------------------


def test_saving_an_unloaded_object_writes_only_the_fields_it_was_given(
        m: Mode, session: Session) -> None:
    c = Collection(name="orig", description="keep me", collection_type="dataset",
                   tags=["a", "b"])
    m.save(c)
    blind = Collection(id=c.id, name="new")  # never loaded: no snapshot
    m.save(blind)
    m.refresh(c)
    assert (c.name, c.description, c.tags) == ("new", "keep me", ["a", "b"])
    assert (blind.description, blind.tags) == ("keep me", ["a", "b"])  # took the server's

    also = Collection(id=c.id)
    also.tags = ["z"]  # set after construction: written too
    m.save(also)
    m.refresh(c)
    assert (c.name, c.description, c.tags) == ("new", "keep me", ["z"])

    cleared = Collection(id=c.id, description="")  # given, though equal to the default
    m.save(cleared)
    m.refresh(c)
    assert (c.name, c.description, c.tags) == ("new", "", ["z"])


def test_saving_an_unloaded_object_with_nothing_given_sends_nothing(
        m: Mode, session: Session, server: LocalServer) -> None:
    c = m.create(Collection.objects, name="n", collection_type="model")
    server.reset_request_log()
    m.save(Collection(id=c.id))
    assert server.request_log == []


def test_create_with_an_id_is_a_validation_error(m: Mode, session: Session,
                                                 server: LocalServer) -> None:
    server.reset_request_log()
    with pytest.raises(ValidationError) as info:
        m.create(Collection.objects, id=str(uuid.uuid4()), name="x", collection_type="model")
    assert info.value.field == "id" and "given by the server" in str(info.value)
    assert not isinstance(info.value, Collection.DoesNotExist)
    assert server.request_log == []


# -- nested with-blocks -------------------------------------------------------------------------


def test_leaving_an_inner_with_block_keeps_the_threads_connections(make_session: MakeSession,
                                                                   server: LocalServer,
                                                                   orbit_id: str) -> None:
    s = make_session()
    closed: list[int] = []
    original = requests.Session.close

    def spy(self: requests.Session) -> None:
        closed.append(id(self))
        original(self)

    requests.Session.close = spy  # type: ignore[method-assign]
    try:
        with s:
            Collection.objects.count()
            http = s.driver._http()
            with s:
                Collection.objects.count()
            assert closed == [] and s.driver._http() is http  # inner exit: kept
            Collection.objects.count()
            assert s.driver._http() is http
        assert closed == [id(http)]  # the outermost exit releases them
    finally:
        requests.Session.close = original  # type: ignore[method-assign]
        s.close()


# -- search over the tags JSON text ----------------------------------------------------------


def test_the_server_searches_the_text_null_of_collections_without_tags(
        session: Session, server: LocalServer, orbit_id: str) -> None:
    Collection.objects.create(name="abc", collection_type="model")  # tags: JSON null
    Collection.objects.create(name="xyz", collection_type="model", tags=["t"])
    path = f"/v1/organizations/{server.organization_id}/orbits/{orbit_id}/collections"
    got = requests.get(server.url + path, params={"search": "u"},
                       headers={"Authorization": f"Bearer {server.api_key}"}, timeout=5)
    assert [c["name"] for c in got.json()["items"]] == ["abc"]  # as on the platform


@pytest.mark.parametrize("term", ["u", "_", "nul", "null", "l"])
def test_the_clients_exact_checks_keep_those_rows_out(m: Mode, session: Session,
                                                      term: str) -> None:
    m.create(Collection.objects, name="abc", collection_type="model")
    hit = m.create(Collection.objects, name=f"has {term} in it", collection_type="model")
    m.create(Collection.objects, name="tagged", collection_type="model", tags=[f"x{term}y"])
    assert [c.name for c in m.list(Collection.objects.filter(name__contains=term))] == \
        [hit.name]
    assert [c.name for c in m.list(Collection.objects.filter(name__icontains=term))] == \
        [hit.name]
    assert [c.name for c in m.list(Collection.objects.filter(tags__contains=term))] == []
    assert m.count(Collection.objects.filter(name__contains=term)) == 1
    assert m.exists(Collection.objects.filter(name__contains=term, tags=None))


def test_a_lookup_of_an_exact_name_never_returns_an_untagged_lookalike(
        m: Mode, session: Session) -> None:
    m.create(Collection.objects, name="abc", collection_type="model")
    with pytest.raises(dfo.ObjectDoesNotExist):
        m.get(Collection.objects, name="u")
