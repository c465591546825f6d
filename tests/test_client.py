"""The seed SDK's client facade, end to end against LocalServer, sync and async.

Tests take the ``dfs`` fixture (parametrised "sync"/"async"): ``dfs.client`` is the real client
(for its properties) and ``dfs.get(...)``, ``dfs.update(...)``... call ``client.collections``,
awaiting the async client's coroutines on a private event loop.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import typing
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

import dataforce_orm
from dataforce_orm import (
    AsyncDataForceClient,
    Collection,
    CollectionType,
    ConfigurationError,
    DataForceClient,
    MultipleResourcesFoundError,
    ObjectDoesNotExist,
    Session,
    ValidationError,
)
from dataforce_orm._client import AsyncCollectionResource, CollectionResource
from dataforce_orm.testing import LocalServer


class Facade:
    """``client.collections`` of either client, called the same way."""

    def __init__(self, client: DataForceClient | AsyncDataForceClient) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop() if isinstance(client, AsyncDataForceClient) else None

    @property
    def name(self) -> str:
        return "async" if self.loop is not None else "sync"

    def run(self, result: Any) -> Any:
        return self.loop.run_until_complete(result) if self.loop is not None else result

    def __getattr__(self, method: str) -> Any:
        """get, list, create, update, delete."""
        return lambda *a, **kw: self.run(getattr(self.client.collections, method)(*a, **kw))

    def save(self, obj: Collection) -> None:
        self.run(obj.asave() if self.loop is not None else obj.save())

    def close(self) -> None:
        if isinstance(self.client, AsyncDataForceClient):
            assert self.loop is not None
            self.loop.run_until_complete(self.client.aclose())
            self.loop.close()
        else:
            self.client.close()


def _conn(server: LocalServer, orbit_id: str) -> dict[str, Any]:
    return {"base_url": server.url, "api_key": server.api_key,
            "organization": server.organization_id, "orbit": orbit_id}


@pytest.fixture(params=["sync", "async"])
def dfs(request: pytest.FixtureRequest, server: LocalServer, orbit_id: str) -> Iterator[Facade]:
    kind = DataForceClient if request.param == "sync" else AsyncDataForceClient
    facade = Facade(kind(**_conn(server, orbit_id)))
    yield facade
    facade.close()


def _make(server: LocalServer, orbit_id: str, *names: str, tags: list[str] | None = None
          ) -> list[str]:
    return server.insert_collections(orbit_id, [
        {"name": n, "description": f"about {n}", "type": "dataset",
         "tags": ["ml", "training"] if tags is None else tags} for n in names])


def _row(server: LocalServer, orbit_id: str, cid: str | None) -> dict[str, Any] | None:
    return next((r for r in server.collection_rows(orbit_id) if r["id"] == cid), None)


def _sent(server: LocalServer) -> list[str]:
    return [method for method, _ in server.request_log]


# -- construction and configuration -------------------------------------------------------


def test_constructing_and_configuring_send_nothing(server: LocalServer, orbit_id: str) -> None:
    server.reset_request_log()
    sync = DataForceClient(**_conn(server, orbit_id), collection="My Collection")
    sync.setup_config(orbit="Some Orbit", collection=str(uuid.uuid4()))
    sync.organization, sync.orbit, sync.collection = "Org", "Orbit", "x"
    aio = AsyncDataForceClient(base_url=server.url, api_key=server.api_key)
    aio.setup_config(organization=server.organization_id, orbit=orbit_id, collection="x")
    aio.collection = None
    _ = sync.collections, aio.collections, repr(sync), repr(aio)
    assert server.request_log == []


def test_properties_drive_the_owned_session(server: LocalServer, orbit_id: str) -> None:
    client = DataForceClient(base_url=server.url, api_key=server.api_key)
    assert isinstance(client.session, Session) and client.session.base_url == server.url
    client.organization, client.orbit, client.collection = "o", "b", "c"
    s = client.session
    assert (s.organization, s.orbit, s.collection) == ("o", "b", "c")
    assert (client.organization, client.orbit, client.collection) == ("o", "b", "c")
    client.setup_config(orbit="b2")  # None keeps the others
    assert (s.organization, s.orbit, s.collection) == ("o", "b2", "c")
    client.collection = None
    assert client.collection is None and s.collection is None
    assert server.api_key not in repr(client) and "collection=None" in repr(client)


def test_async_setup_config_may_be_awaited_or_not(server: LocalServer, orbit_id: str) -> None:
    client = AsyncDataForceClient(base_url=server.url, api_key=server.api_key)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "coroutine was never awaited"
        client.setup_config(organization=server.organization_id)

        async def main() -> None:
            await client.setup_config(orbit=orbit_id, collection="c")

        asyncio.run(main())
    assert (client.organization, client.orbit, client.collection) == (
        server.organization_id, orbit_id, "c")


def test_organization_and_orbit_by_name(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    orbit_name = next(o["name"] for o in _orbits(server) if o["id"] == orbit_id)
    (cid,) = _make(server, orbit_id, "x")
    dfs.client.orbit = orbit_name
    got = dfs.get("x")
    assert got is not None and got.id == cid


def _orbits(server: LocalServer) -> list[dict[str, Any]]:
    s = Session(api_key=server.api_key, base_url=server.url,
                organization=server.organization_id)
    return [{"id": o.id, "name": o.name} for o in dataforce_orm.Orbit.objects.using(s)]


def test_signatures_are_the_documented_ones() -> None:
    def params(f: Any) -> list[tuple[str, Any, Any]]:
        sig = inspect.signature(f)
        return [(p.name, p.kind, p.default) for p in sig.parameters.values()][1:]

    pk, kw = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
    empty = inspect.Parameter.empty
    for cls in (CollectionResource, AsyncCollectionResource):
        assert params(cls.get) == [("collection_value", pk, None)]
        assert params(cls.list) == []
        assert params(cls.create) == [("description", pk, empty), ("name", pk, empty),
                                      ("collection_type", pk, empty), ("tags", pk, None)]
        assert params(cls.update) == [("name", pk, None), ("description", pk, None),
                                      ("tags", pk, None), ("collection_id", kw, None)]
        assert params(cls.delete) == [("collection_id", pk, None)]
        hints = typing.get_type_hints(cls.get)
        assert hints["collection_value"] == str | None and hints["return"] == Collection | None
        assert typing.get_type_hints(cls.list)["return"] == builtins.list[Collection]
        assert typing.get_type_hints(cls.update)["tags"] == builtins.list[str] | None
        coro = cls is AsyncCollectionResource
        for method in ("get", "list", "create", "update", "delete"):
            assert inspect.iscoroutinefunction(getattr(cls, method)) is coro
    assert [p[0] for p in params(DataForceClient.__init__)][:5] == [
        "base_url", "api_key", "organization", "orbit", "collection"]
    assert [p[0] for p in params(AsyncDataForceClient.__init__)][:2] == ["base_url", "api_key"]
    assert [p[0] for p in params(AsyncDataForceClient.setup_config)] == [
        "organization", "orbit", "collection"]


def test_exported_from_the_package() -> None:
    for name in ("DataForceClient", "AsyncDataForceClient", "MultipleResourcesFoundError"):
        assert name in dataforce_orm.__all__ and hasattr(dataforce_orm, name)


# -- get ---------------------------------------------------------------------------------


def test_get_by_id_and_by_name(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    cid, _ = _make(server, orbit_id, "My Collection", "Other")
    server.reset_request_log()
    by_id = dfs.get(cid)
    assert _sent(server) == ["GET"]  # one GET by id
    by_name = dfs.get("My Collection")
    by_upper_id = dfs.get(cid.upper())
    assert by_id == by_name == by_upper_id
    assert isinstance(by_id, Collection) and by_id.name == "My Collection"
    assert by_id.collection_type is CollectionType.DATASET and by_id.tags == ["ml", "training"]


def test_get_returns_none_when_absent(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    _make(server, orbit_id, "present")
    assert dfs.get("absent") is None
    assert dfs.get(str(uuid.uuid4())) is None
    other_orbit = server.add_orbit(server.organization_id, f"other-{uuid.uuid4()}")
    (elsewhere,) = _make(server, other_orbit, "elsewhere")
    assert dfs.get(elsewhere) is None and dfs.get("elsewhere") is None


def test_get_duplicate_name_raises(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    _make(server, orbit_id, "Twin", "Twin", "Twins", "twin")
    with pytest.raises(MultipleResourcesFoundError, match="Twin") as info:
        dfs.get("Twin")
    assert isinstance(info.value, Collection.MultipleObjectsReturned)
    assert dfs.get("Twins") is not None and dfs.get("twin") is not None


def test_get_is_exact_and_case_sensitive(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    ids = dict(zip(["Churn", "Churn models", "Old Churn", "churn", "CHURN", "xChurnx"],
                   _make(server, orbit_id, "Churn", "Churn models", "Old Churn", "churn",
                         "CHURN", "xChurnx"), strict=True))
    _make(server, orbit_id, "tagged", tags=["Churn"])  # search also matches tag text
    for name, cid in ids.items():
        got = dfs.get(name)
        assert got is not None and (got.id, got.name) == (cid, name)
    assert dfs.get("cHuRn") is None and dfs.get("Chur") is None and dfs.get("hurn") is None


def test_get_names_with_wildcards(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    names = ["a_b", "axb", "a%b", "a%%b", "aXYb", "100%", "1000", "a\\b", "_", "%", "a.b"]
    ids = dict(zip(names, _make(server, orbit_id, *names), strict=True))
    for name, cid in ids.items():
        got = dfs.get(name)
        assert got is not None and (got.id, got.name) == (cid, name), name
    assert dfs.get("a__b") is None and dfs.get("a%%%b") is None and dfs.get("10%") is None


def test_get_name_that_looks_like_an_id(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    name = str(uuid.uuid4())
    (cid,) = _make(server, orbit_id, name)
    got = dfs.get(name)
    assert got is not None and got.id == cid and got.name == name


def test_get_rejects_non_strings_before_any_request(dfs: Facade, server: LocalServer) -> None:
    server.reset_request_log()
    with pytest.raises(ValidationError, match="collection_value"):
        dfs.get(42)
    assert server.request_log == []


def test_get_without_value_uses_the_default(dfs: Facade, server: LocalServer,
                                            orbit_id: str) -> None:
    (cid,) = _make(server, orbit_id, "Default one")
    with pytest.raises(ConfigurationError, match=r"client\.collection = "):
        dfs.get()
    dfs.client.collection = "Default one"
    got = dfs.get()
    assert got is not None and got.id == cid


def test_returned_objects_are_the_orms(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    (cid,) = _make(server, orbit_id, "x")
    got = dfs.get("x")
    assert type(got) is Collection
    assert got is not None and got.tags is not None
    got.tags.append("prod")
    got.description = "edited through the ORM"
    dfs.save(got)  # runs on the client's session, not on a current one
    row = _row(server, orbit_id, cid)
    assert row is not None and (row["tags"], row["description"]) == (
        ["ml", "training", "prod"], "edited through the ORM")


def test_returned_object_save_sync(server: LocalServer, orbit_id: str) -> None:
    """The issue's own line: ``client.collections.get("x").save()``."""
    _make(server, orbit_id, "x")
    client = DataForceClient(**_conn(server, orbit_id))
    found = client.collections.get("x")
    assert found is not None
    found.save()  # nothing changed: sends nothing
    found.name = "y"
    found.save()
    assert [r["name"] for r in server.collection_rows(orbit_id)] == ["y"]


# -- list --------------------------------------------------------------------------------


def test_list_returns_every_collection_of_the_orbit(dfs: Facade, server: LocalServer,
                                                    orbit_id: str) -> None:
    ids = _make(server, orbit_id, *(f"c{i:03}" for i in range(230)))
    other_orbit = server.add_orbit(server.organization_id, f"other-{uuid.uuid4()}")
    _make(server, other_orbit, "not mine")
    got = dfs.list()
    assert type(got) is list and all(type(c) is Collection for c in got)
    assert sorted(c.id for c in got) == sorted(ids)


def test_list_empty(dfs: Facade) -> None:
    assert dfs.list() == []


# -- create ------------------------------------------------------------------------------


def test_create_positional_and_string_type(dfs: Facade, server: LocalServer,
                                           orbit_id: str) -> None:
    c = dfs.create("desc", "made", "model")
    assert isinstance(c, Collection) and c.id is not None and c.tags == []
    assert c.collection_type is CollectionType.MODEL
    row = _row(server, orbit_id, c.id)
    assert row is not None and (row["name"], row["description"], row["type"]) == (
        "made", "desc", "model")
    assert row["tags"] is None  # shown as an appendable [] but kept null on the server


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"name": 1}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"description": "d" * 1001}, "description"),
    ({"collection_type": "nope"}, "collection_type"),
    ({"collection_type": None}, "collection_type"),
    ({"tags": "ml"}, "tags"),
    ({"tags": ["t"] * 51}, "tags"),
    ({"tags": [1]}, "tags[0]"),
])
def test_create_validates_before_any_request(dfs: Facade, server: LocalServer,
                                             kwargs: dict[str, Any], field: str) -> None:
    args = {"description": "d", "name": "n", "collection_type": CollectionType.MODEL, **kwargs}
    server.reset_request_log()
    with pytest.raises(ValidationError) as info:
        dfs.create(**args)
    assert info.value.field == field and server.request_log == []


# -- update ------------------------------------------------------------------------------


def test_update_keeps_tags_when_not_given(dfs: Facade, server: LocalServer,
                                          orbit_id: str) -> None:
    (cid,) = _make(server, orbit_id, "x")
    c = dfs.update(name="renamed", collection_id=cid)
    assert c.tags == ["ml", "training"]
    row = _row(server, orbit_id, cid)
    # The official SDK sends tags=None here and the server clears them; ours keeps them.
    assert row is not None and (row["name"], row["description"], row["tags"]) == (
        "renamed", "about x", ["ml", "training"])
    dfs.update(description="new words", collection_id=cid)
    dfs.update(None, None, ["only", "tags"], collection_id=cid)
    row = _row(server, orbit_id, cid)
    assert row is not None and (row["name"], row["description"], row["tags"]) == (
        "renamed", "new words", ["only", "tags"])


def test_update_sends_only_a_read_and_a_write(dfs: Facade, server: LocalServer,
                                              orbit_id: str) -> None:
    (cid,) = _make(server, orbit_id, "x")
    server.reset_request_log()
    dfs.update(name="y", collection_id=cid)
    assert _sent(server) == ["GET", "PATCH"]
    server.reset_request_log()
    c = dfs.update(name="y", collection_id=cid)  # nothing changes: nothing written
    assert _sent(server) == ["GET"] and c.name == "y"
    c = dfs.update(collection_id=cid)
    assert (c.name, c.tags) == ("y", ["ml", "training"])


def test_update_can_empty_tags(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    (cid,) = _make(server, orbit_id, "x")
    dfs.update(tags=[], collection_id=cid)
    row = _row(server, orbit_id, cid)
    assert row is not None and row["tags"] == [] and row["name"] == "x"


def test_update_by_name_and_missing(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    (cid,) = _make(server, orbit_id, "by name")
    assert dfs.update(description="d2", collection_id="by name").id == cid
    with pytest.raises(ObjectDoesNotExist, match="nope"):
        dfs.update(name="z", collection_id="nope")
    with pytest.raises(Collection.DoesNotExist):
        dfs.update(name="z", collection_id=str(uuid.uuid4()))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": 3}, "name"),
    ({"description": "d" * 1001}, "description"),
    ({"tags": "ml"}, "tags"),
    ({"tags": ["x" * 65]}, "tags[0]"),
    ({"collection_id": 7}, "collection_id"),
])
def test_update_validates_before_any_request(dfs: Facade, server: LocalServer, orbit_id: str,
                                             kwargs: dict[str, Any], field: str) -> None:
    (cid,) = _make(server, orbit_id, "x")
    server.reset_request_log()
    with pytest.raises(ValidationError) as info:
        dfs.update(**{"collection_id": cid, **kwargs})
    assert info.value.field == field and server.request_log == []


# -- the default collection ---------------------------------------------------------------


def test_no_default_collection_is_a_configuration_error(dfs: Facade, server: LocalServer,
                                                        orbit_id: str) -> None:
    _make(server, orbit_id, "x")
    server.reset_request_log()
    for call in (lambda: dfs.update(name="y"), lambda: dfs.delete(), lambda: dfs.get()):
        with pytest.raises(ConfigurationError) as info:
            call()
        assert "client.collection = " in str(info.value) and "collection=" in str(info.value)
    assert server.request_log == []
    assert len(server.collection_rows(orbit_id)) == 1


def test_default_collection_by_name(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    cid, other = _make(server, orbit_id, "My Collection", "Other")
    dfs.client.collection = "My Collection"
    dfs.update(description="via default")
    # Renaming the default keeps it the default (its id is pinned once resolved) ...
    dfs.update(name="Renamed")
    # ... and a newcomer with the old name does not make it ambiguous.
    _make(server, orbit_id, "My Collection")
    c = dfs.update(tags=["kept"])
    assert (c.id, c.name, c.description, c.tags) == (cid, "Renamed", "via default", ["kept"])
    got = dfs.get()
    assert got is not None and got.id == cid
    dfs.delete()
    assert _row(server, orbit_id, cid) is None and _row(server, orbit_id, other) is not None


def test_default_collection_name_resolved_again_when_changed(dfs: Facade, server: LocalServer,
                                                             orbit_id: str) -> None:
    first, second = _make(server, orbit_id, "first", "second")
    dfs.client.collection = "first"
    assert dfs.update(description="1").id == first
    dfs.client.collection = "second"
    assert dfs.update(description="2").id == second
    dfs.client.setup_config(collection="first")  # not awaited: applied at once either way
    dfs.delete()
    dfs.client.collection = "first"
    assert dfs.get() is None
    with pytest.raises(ObjectDoesNotExist, match="default collection 'first'"):
        dfs.update(name="x")
    with pytest.raises(ObjectDoesNotExist):
        dfs.delete()


def test_default_collection_duplicate_name(dfs: Facade, server: LocalServer,
                                           orbit_id: str) -> None:
    _make(server, orbit_id, "Twin", "Twin")
    dfs.client.collection = "Twin"
    with pytest.raises(MultipleResourcesFoundError):
        dfs.delete()
    assert len(server.collection_rows(orbit_id)) == 2


def test_default_collection_by_id_and_constructor(server: LocalServer, orbit_id: str) -> None:
    cid, other = _make(server, orbit_id, "a", "b")
    client = DataForceClient(**_conn(server, orbit_id), collection=cid)
    server.reset_request_log()
    client.collections.delete()
    assert _sent(server) == ["DELETE"]
    assert [r["id"] for r in server.collection_rows(orbit_id)] == [other]

    async def main() -> None:
        async with AsyncDataForceClient(**_conn(server, orbit_id), collection="b") as aio:
            c = await aio.collections.update(name="b2")
            assert c.id == other
            await aio.collections.delete()

    asyncio.run(main())
    assert server.collection_rows(orbit_id) == []


# -- delete ------------------------------------------------------------------------------


def test_delete_positional_id_and_name(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    a, _, c = _make(server, orbit_id, "a", "b", "c")
    server.reset_request_log()
    assert dfs.delete(a) is None
    assert _sent(server) == ["DELETE"]
    dfs.delete("b")
    assert [r["id"] for r in server.collection_rows(orbit_id)] == [c]


def test_delete_missing(dfs: Facade, server: LocalServer, orbit_id: str) -> None:
    _make(server, orbit_id, "keep")
    with pytest.raises(Collection.DoesNotExist):
        dfs.delete(str(uuid.uuid4()))
    with pytest.raises(ObjectDoesNotExist, match="'kee'"):
        dfs.delete("kee")
    with pytest.raises(ValidationError, match="collection_id"):
        dfs.delete(["keep"])
    assert len(server.collection_rows(orbit_id)) == 1


def test_delete_refused_by_server_keeps_default(dfs: Facade, server: LocalServer,
                                                orbit_id: str) -> None:
    (cid,) = _make(server, orbit_id, "busy")
    server.set_artifact_count(cid, 3)
    dfs.client.collection = "busy"
    with pytest.raises(dataforce_orm.ConflictError):
        dfs.delete()
    assert _row(server, orbit_id, cid) is not None


def test_default_changed_while_a_call_resolves_it(server: LocalServer, orbit_id: str) -> None:
    first, second = _make(server, orbit_id, "first", "second")

    async def main() -> tuple[Collection | None, Collection | None]:
        async with AsyncDataForceClient(**_conn(server, orbit_id), collection="first") as aio:
            pending = asyncio.create_task(aio.collections.get())
            await asyncio.sleep(0)  # it has read the default and is waiting for the server
            aio.collection = "second"
            return await pending, await aio.collections.get()

    got_first, got_second = asyncio.run(main())
    assert got_first is not None and got_first.id == first
    assert got_second is not None and got_second.id == second
