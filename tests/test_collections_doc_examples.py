"""Every example of the collections SDK document (shared/seed/collections-resource-docs.md)
runs here against LocalServer, in its sync and its async form.

Adapted only for ids (the server's organization, a fresh orbit, collections made for the test),
for the connection (``base_url=``, and the organization/orbit the test account needs because
it has several) and for ``asyncio.run``. The rest is the documented code, kept as written.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from dataforce_orm import (
    AsyncDataForceClient,
    Collection,
    CollectionType,
    DataForceClient,
)
from dataforce_orm.testing import LocalServer


@pytest.fixture
def conn(server: LocalServer, orbit_id: str) -> dict[str, Any]:
    """What the examples' ``api_key="dfs_your_key"`` stands for against LocalServer."""
    return {"base_url": server.url, "api_key": server.api_key,
            "organization": server.organization_id, "orbit": orbit_id}


def _make(server: LocalServer, orbit_id: str, name: str = "My Collection",
          description: str = "Dataset for ML models", kind: str = "model",
          tags: list[str] | None = None) -> str:
    (cid,) = server.insert_collections(orbit_id, [{
        "name": name, "description": description, "type": kind,
        "tags": ["ml", "training"] if tags is None else tags}])
    return cid


def _row(server: LocalServer, orbit_id: str, cid: str) -> dict[str, Any] | None:
    return next((r for r in server.collection_rows(orbit_id) if r["id"] == cid), None)


def _like_example_response(c: Collection | None, cid: str, orbit_id: str) -> None:
    """The shape of the documented "Example response" for get/list."""
    assert isinstance(c, Collection)
    assert (c.id, c.name, c.description, c.collection_type, c.orbit_id, c.tags) == (
        cid, "My Collection", "Dataset for ML models", CollectionType.MODEL, orbit_id,
        ["ml", "training"])
    assert isinstance(c.created_at, datetime) and c.updated_at is None
    assert repr(c).startswith(f"Collection(id={cid!r}, name='My Collection', ")
    assert "collection_type='model'" in repr(c) and "updated_at=None" in repr(c)


# -- get ---------------------------------------------------------------------------------


def test_get_sync(conn: dict[str, Any], server: LocalServer, orbit_id: str) -> None:
    cid = _make(server, orbit_id)

    dfs = DataForceClient(**conn)
    collection_by_name = dfs.collections.get("My Collection")
    # The document breaks this call across lines as ``get`` / ``("...")``, which Python reads
    # as two statements; the call it means:
    collection_by_id = dfs.collections.get(
        cid
    )

    _like_example_response(collection_by_name, cid, orbit_id)
    _like_example_response(collection_by_id, cid, orbit_id)


def test_get_async(conn: dict[str, Any], server: LocalServer, orbit_id: str) -> None:
    cid = _make(server, orbit_id)
    got: dict[str, Any] = {}

    dfs = AsyncDataForceClient(**conn)
    async def main():
        collection_by_name = await dfs.collections.get(
            "My Collection"
        )
        collection_by_id = await dfs.collections.get(
            cid
        )
        got.update(by_name=collection_by_name, by_id=collection_by_id)

    asyncio.run(main())

    _like_example_response(got["by_name"], cid, orbit_id)
    _like_example_response(got["by_id"], cid, orbit_id)


# -- list --------------------------------------------------------------------------------


def test_list_sync(conn: dict[str, Any], server: LocalServer, orbit_id: str) -> None:
    cid = _make(server, orbit_id)

    dfs = DataForceClient(**conn)
    collections = dfs.collections.list()

    assert isinstance(collections, list) and len(collections) == 1
    _like_example_response(collections[0], cid, orbit_id)


def test_list_async(conn: dict[str, Any], server: LocalServer, orbit_id: str) -> None:
    cid = _make(server, orbit_id)
    got: dict[str, Any] = {}

    dfs = AsyncDataForceClient(**conn)
    async def main():
        collections = await dfs.collections.list()
        got["collections"] = collections

    asyncio.run(main())

    assert isinstance(got["collections"], list) and len(got["collections"]) == 1
    _like_example_response(got["collections"][0], cid, orbit_id)


# -- create ------------------------------------------------------------------------------


def _like_create_response(c: Collection, server: LocalServer, orbit_id: str) -> None:
    assert isinstance(c, Collection) and c.id is not None
    assert (c.name, c.description, c.collection_type, c.orbit_id, c.tags) == (
        "Training Dataset", "Dataset for model training", CollectionType.DATASET, orbit_id,
        ["ml", "training"])
    assert isinstance(c.created_at, datetime) and c.updated_at is None
    row = _row(server, orbit_id, c.id)
    assert row is not None and (row["name"], row["type"], row["tags"]) == (
        "Training Dataset", "dataset", ["ml", "training"])


def test_create_sync(conn: dict[str, Any], server: LocalServer, orbit_id: str) -> None:
    dfs = DataForceClient(**conn)
    collection = dfs.collections.create(
        name="Training Dataset",
        description="Dataset for model training",
        collection_type=CollectionType.DATASET,
        tags=["ml", "training"]
        )

    _like_create_response(collection, server, orbit_id)


def test_create_async(conn: dict[str, Any], server: LocalServer, orbit_id: str) -> None:
    got: dict[str, Any] = {}

    dfs = AsyncDataForceClient(**conn)
    async def main():
        collection = await dfs.collections.create(
            name="Training Dataset",
            description="Dataset for model training",
            collection_type=CollectionType.DATASET,
            tags=["ml", "training"]
        )
        got["collection"] = collection

    asyncio.run(main())

    _like_create_response(got["collection"], server, orbit_id)


# -- update ------------------------------------------------------------------------------


def _like_update_response(c: Collection, cid: str, server: LocalServer, orbit_id: str) -> None:
    # The documented response keeps tags=["ml", "updated"] from the first call although the
    # second does not pass tags: ours does keep them (the official SDK would clear them).
    expected = ("Updated Dataset", "Updated description", ["ml", "updated"], "model")
    assert isinstance(c, Collection) and c.id == cid and c.orbit_id == orbit_id
    assert (c.name, c.description, c.tags, c.collection_type.value if c.collection_type
            else None) == expected
    assert isinstance(c.updated_at, datetime) and c.total_models == 0
    row = _row(server, orbit_id, cid)
    assert row is not None and (row["name"], row["description"], row["tags"], row["type"]) == (
        expected)


def test_update_sync(server: LocalServer, orbit_id: str) -> None:
    cid = _make(server, orbit_id, name="Dataset", description="Dataset for ML models")

    dfs = DataForceClient(
    base_url=server.url,
    api_key=server.api_key,
    organization=server.organization_id,
    orbit=orbit_id
    )
    collection = dfs.collections.update(
    collection_id=cid,
    name="Updated Dataset",
    tags=["ml", "updated"]
    )
    assert (collection.name, collection.description, collection.tags) == (
        "Updated Dataset", "Dataset for ML models", ["ml", "updated"])

    dfs.collection = cid
    collection = dfs.collections.update(
    name="Updated Dataset",
    description="Updated description"
    )

    _like_update_response(collection, cid, server, orbit_id)


def test_update_async(server: LocalServer, orbit_id: str) -> None:
    cid = _make(server, orbit_id, name="Dataset", description="Dataset for ML models")
    got: dict[str, Any] = {}

    dfs = AsyncDataForceClient(
        base_url=server.url,
        api_key=server.api_key,
    )
    dfs.setup_config(
        organization=server.organization_id,
        orbit=orbit_id,
    )
    async def main():
        collection = await dfs.collections.update(
            collection_id=cid,
            name="Updated Dataset",
            tags=["ml", "updated"]
        )
        got["first"] = (collection.name, collection.description, collection.tags)

        dfs.collection = cid
        collection = await dfs.collections.update(
            name="Updated Dataset",
            description="Updated description"
        )
        got["collection"] = collection

    asyncio.run(main())

    assert got["first"] == ("Updated Dataset", "Dataset for ML models", ["ml", "updated"])
    _like_update_response(got["collection"], cid, server, orbit_id)


# -- delete ------------------------------------------------------------------------------


def test_delete_sync(server: LocalServer, orbit_id: str) -> None:
    first = _make(server, orbit_id, name="first")
    second = _make(server, orbit_id, name="second")
    keep = _make(server, orbit_id, name="keep")

    dfs = DataForceClient(
        base_url=server.url,
        api_key=server.api_key,
        organization=server.organization_id,
        orbit=orbit_id
        )
    # Delete specific collection by ID
    dfs.collections.delete(first)
    assert _row(server, orbit_id, first) is None and _row(server, orbit_id, second) is not None

    # Set default collection
    dfs.collection = second
    # Delete default collection (collection_id will be autofilled)
    dfs.collections.delete()

    assert [r["id"] for r in server.collection_rows(orbit_id)] == [keep]


def test_delete_async(server: LocalServer, orbit_id: str) -> None:
    first = _make(server, orbit_id, name="first")
    second = _make(server, orbit_id, name="second")
    keep = _make(server, orbit_id, name="keep")
    seen: list[list[str]] = []

    dfs = AsyncDataForceClient(
        base_url=server.url,
        api_key=server.api_key,
    )
    dfs.setup_config(
        organization=server.organization_id,
        orbit=orbit_id,
    )
    async def main():
        # Delete specific collection by ID
        await dfs.collections.delete(
            first
        )
        seen.append([r["id"] for r in server.collection_rows(orbit_id)])

        # Set default collection
        dfs.collection = second
        # Delete default collection
        await dfs.collections.delete()

    asyncio.run(main())

    assert seen == [[second, keep]]
    assert [r["id"] for r in server.collection_rows(orbit_id)] == [keep]
