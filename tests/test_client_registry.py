"""``client.tracks`` end to end: the official SDK's 13 track calls on the ORM's objects, sync
and async."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataforce_orm import (
    AsyncDataForceClient,
    Collection,
    ConflictError,
    DataForceClient,
    Session,
    Track,
    TrackEntry,
    ValidationError,
)
from dataforce_orm.testing import LocalServer, make_luml_archive

# The official SDK's (luml-api 0.4.0) TrackResource calls, as its signatures have them.
OFFICIAL = {
    "create": ["name", "artifact_type", "description", "tags", "stages"],
    "list": ["start_after", "limit", "sort_by", "order", "search", "types", "tags"],
    "get": ["track_id"],
    "update": ["track_id", "name", "description", "tags", "stages"],
    "delete": ["track_id"],
    "list_stages": ["track_id"],
    "add_artifact": ["track_id", "artifact_id", "stage"],
    "get_artifact": ["track_id", "tracked_artifact_id"],
    "get_artifact_by_stage": ["track_id", "stage"],
    "list_artifacts": ["track_id", "start_after", "limit", "sort_by", "order", "stage"],
    "update_artifact": ["track_id", "tracked_artifact_id", "stage", "force"],
    "remove_artifact": ["track_id", "tracked_artifact_id"],
    "remove_batch_artifacts": ["track_id", "tracked_artifact_ids"],
}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """This module's own server (the tests upload many artifacts: the organization's quota
    is raised)."""
    with LocalServer() as s:
        s.set_organization_limits(s.organization_id, orbits=100, artifacts=1000)
        yield s


class Sync:
    def __init__(self, client: DataForceClient) -> None:
        self.tracks = client.tracks

    def __call__(self, name: str, *a: Any, **kw: Any) -> Any:
        return getattr(self.tracks, name)(*a, **kw)


class Async:
    def __init__(self, client: AsyncDataForceClient) -> None:
        self.tracks, self.loop = client.tracks, asyncio.new_event_loop()

    def __call__(self, name: str, *a: Any, **kw: Any) -> Any:
        return self.loop.run_until_complete(getattr(self.tracks, name)(*a, **kw))


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest, server: LocalServer,
         orbit_id: str) -> Iterator[Sync | Async]:
    kw = {"base_url": server.url, "api_key": server.api_key,
          "organization": server.organization_id, "orbit": orbit_id}
    if request.param == "sync":
        client = DataForceClient(**kw)
        yield Sync(client)
        client.session.close()
        return
    aclient = AsyncDataForceClient(**kw)
    runner = Async(aclient)
    yield runner
    runner.loop.run_until_complete(aclient.session.aclose())
    runner.loop.close()


def test_the_official_calls_and_parameters() -> None:
    from dataforce_orm._client_registry import AsyncTrackResource, TrackResource

    for cls in (TrackResource, AsyncTrackResource):
        mine = {n: list(inspect.signature(f).parameters)[1:]
                for n, f in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}
        assert mine == OFFICIAL


def test_register_promote_and_read_back(call: Sync | Async, session: Session,
                                        tmp_path: Path) -> None:
    c = Collection.objects.create(name="m", collection_type="model")
    arts = [c.artifacts.upload(make_luml_archive(tmp_path / f"{i}.luml", name=f"v{i}"))
            for i in range(3)]
    t = call("create", "churn", "model", stages=["staging", "production"])
    assert isinstance(t, Track) and call("get", "churn").id == t.id  # by exact name
    assert call("get", "no-such-track") is None
    e1 = call("add_artifact", t.id, arts[0].id, stage="production")
    e2 = call("add_artifact", "churn", arts[1].id)
    assert isinstance(e1, TrackEntry) and (e1.version, e2.version) == (1, 2)
    assert call("get_artifact_by_stage", t.id, "production").id == e1.id
    with pytest.raises(ConflictError, match="held by v1"):
        call("update_artifact", t.id, e2.id, stage="production")
    moved = call("update_artifact", t.id, e2.id, stage="production", force=True)
    assert moved.stage_name == "production"
    assert call("get_artifact", t.id, e1.id).stage_id is None
    with pytest.raises(TrackEntry.DoesNotExist):
        call("get_artifact_by_stage", t.id, "staging")
    e3 = call("add_artifact", t.id, arts[2].id)
    assert [e.version for e in call("list_artifacts", t.id, sort_by="version",
                                    order="asc")] == [1, 2, 3]
    assert [e.version for e in call("list_artifacts", t.id, stage="production")] == [2]
    page = call("list_artifacts", t.id, limit=2, sort_by="version", order="asc")
    rest = call("list_artifacts", t.id, start_after=page[-1].id, sort_by="version",
                order="asc")
    assert [e.version for e in page + rest] == [1, 2, 3]
    with pytest.raises(ValidationError, match="start_after"):
        call("list_artifacts", t.id, start_after=t.id)
    call("remove_artifact", t.id, e3.id)
    call("remove_batch_artifacts", t.id, [e1.id])
    assert [e.id for e in call("list_artifacts", t.id)] == [e2.id]


def test_update_replaces_the_stage_set(call: Sync | Async, session: Session) -> None:
    t = call("create", "set", "dataset", stages=["dev", "staging", "prod"])
    staging = t.stages.named("staging")
    updated = call("update", t.id, description="d",
                   stages=[{"id": staging.id, "name": "qa"}, {"name": "canary"}])
    assert sorted(s.name for s in call("list_stages", t.id)) == ["canary", "qa"]
    assert updated.description == "d"
    assert next(s for s in updated.stages if s.name == "qa").id == staging.id


def test_list_narrows_and_orders(call: Sync | Async, session: Session) -> None:
    call("create", "b-model", "model", tags=["Alpha"])
    call("create", "a-data", "dataset")
    call("create", "c-exp", "experiment")
    assert [t.name for t in call("list", sort_by="name", order="asc")] == [
        "a-data", "b-model", "c-exp"]
    assert [t.name for t in call("list", search="alpha")] == ["b-model"]  # a tag
    assert [t.name for t in call("list", types=["dataset", "experiment"],
                                 sort_by="name", order="asc")] == ["a-data", "c-exp"]
    with pytest.raises(ValidationError, match="sort_by"):
        call("list", sort_by="size")
    t = call("get", "c-exp")
    call("delete", t.id)
    assert call("get", t.id) is None
