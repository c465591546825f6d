"""The model registry end to end against LocalServer, through the sync API and its async twins:
tracks, their stages and entries, promotion, and the quirks the library shields users from."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from parity import AsyncMode, SyncMode

from dataforce_orm import (
    Artifact,
    ArtifactType,
    Collection,
    ConflictError,
    Session,
    Stage,
    Track,
    TrackEntry,
    ValidationError,
)
from dataforce_orm.testing import Fault, LocalServer, make_luml_archive

Mode = SyncMode | AsyncMode
_names = itertools.count()


def upload(server: LocalServer, tmp_path: Path, collection: Collection, kind: str = "model",
           name: str | None = None) -> Artifact:
    name = name or f"a{next(_names)}"
    path = make_luml_archive(tmp_path / f"{name}.luml", type=kind, name=name)
    return collection.artifacts.upload(path, name=name)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """This module's own server (the tests upload many artifacts: the organization's quota
    is raised)."""
    with LocalServer() as s:
        s.set_organization_limits(s.organization_id, orbits=100, artifacts=1000)
        yield s


@pytest.fixture
def models(session: Session) -> Collection:
    return Collection.objects.create(name="models", collection_type="model")


@pytest.fixture
def track(session: Session) -> Track:
    made, created = Track.objects.get_or_create(
        name="churn", defaults={"artifact_type": ArtifactType.MODEL,
                                "stages": ["staging", "production"]})
    assert created
    return made


def requests_since(server: LocalServer, start: int) -> list[tuple[str, str]]:
    return list(server.request_log[start:])


# -- tracks ---------------------------------------------------------------------------------


def test_get_or_create_makes_one_track_then_finds_it(m: Mode, session: Session) -> None:
    defaults: dict[str, Any] = {"artifact_type": "model", "stages": ["staging", "production"]}
    t, created = m.get_or_create(Track.objects, name="churn", defaults=defaults)
    again, created_again = m.get_or_create(Track.objects, name="churn", defaults=defaults)
    assert (created, created_again) == (True, False)
    assert again.id == t.id and again.artifact_type is ArtifactType.MODEL
    assert sorted(again.stages.names) == ["production", "staging"]
    assert all(isinstance(s, Stage) and s.id for s in again.stages)


def test_tracks_list_filter_by_type_and_search(m: Mode, session: Session) -> None:
    m.create(Track.objects, name="alpha-model", artifact_type="model", tags=["Blue"])
    m.create(Track.objects, name="beta", artifact_type="dataset")
    assert [t.name for t in m.list(Track.objects.filter(artifact_type="dataset"))] == ["beta"]
    assert [t.name for t in m.list(Track.objects.filter(tags__contains=["Blue"]))] == [
        "alpha-model"]
    assert [t.name for t in m.list(Track.objects.order_by("name"))] == ["alpha-model", "beta"]


def test_bad_artifact_type_is_refused_before_any_request(server: LocalServer,
                                                         session: Session) -> None:
    start = len(server.request_log)
    with pytest.raises(ValidationError, match="artifact_type"):
        Track(name="x", artifact_type="model_dataset").save()
    with pytest.raises(ValidationError, match="artifact_type"):
        Track(name="x").save()
    with pytest.raises(ValidationError, match="already has a stage 'a'"):
        Track(name="x", artifact_type="model", stages=[Stage(name="a"), Stage(name="a")])
    renamed = Track(name="x", artifact_type="model", stages=["a", "b"])
    renamed.stages[1].name = "a"
    with pytest.raises(ValidationError, match="unique; repeated: a"):
        renamed.save()
    assert requests_since(server, start) == []


def test_changing_artifact_type_is_refused(track: Track) -> None:
    track.artifact_type = ArtifactType.DATASET
    with pytest.raises(ValidationError, match=r"artifact_type.*cannot change"):
        track.save()


def test_stage_set_is_sent_whole_and_only_when_changed(m: Mode, server: LocalServer,
                                                       track: Track) -> None:
    start = len(server.request_log)
    m.save(track)
    track.description = "churn model"
    m.save(track)
    assert [r for r in requests_since(server, start) if r[0] == "PATCH"] == [
        ("PATCH", f"/v1/organizations/{server.organization_id}/orbits/{track.orbit_id}"
                  f"/tracks/{track.id}")]
    track.stages.append("canary")
    track.stages.named("staging").name = "qa"
    m.save(track)
    assert sorted(track.stages.names) == ["canary", "production", "qa"]
    fresh = Track.objects.get(id=track.id)
    assert sorted(fresh.stages.names) == ["canary", "production", "qa"]
    assert fresh.description == "churn model"
    track.stages.remove("canary")
    m.save(track)
    assert sorted(Track.objects.get(id=track.id).stages.names) == ["production", "qa"]
    assert track.changed_fields() == []


def test_duplicate_stage_is_refused_at_append(track: Track) -> None:
    with pytest.raises(ValidationError, match="already has a stage 'staging'"):
        track.stages.append("staging")


def test_a_track_is_addressed_through_its_own_orbit(server: LocalServer, track: Track,
                                                    session: Session) -> None:
    home = f"/v1/organizations/{server.organization_id}/orbits/{track.orbit_id}/tracks/{track.id}"
    session.orbit = server.add_orbit(server.organization_id, f"elsewhere-{next(_names)}")
    track.description = "the default orbit moved on"
    track.save()
    assert server.request_log[-1] == ("PATCH", home)
    track.delete()
    assert server.request_log[-1] == ("DELETE", home)


def test_create_is_made_once_after_a_dropped_answer(server: LocalServer, session: Session,
                                                    orbit_id: str) -> None:
    dropped = server.fault_counts.get("drop_after", 0)
    server.add_fault(Fault(kind="drop_after", method="POST", path="/tracks", times=1))
    t = Track(name="once", artifact_type="model", stages=["a", "b"])
    t.save()
    assert server.fault_counts.get("drop_after") == dropped + 1
    rows = [x for x in Track.objects.filter(name="once")]
    assert [r.id for r in rows] == [t.id]
    assert sorted(t.stages.names) == ["a", "b"]


# -- entries --------------------------------------------------------------------------------


def test_register_promote_and_ask_what_is_in_production(m: Mode, server: LocalServer,
                                                        tmp_path: Path, models: Collection,
                                                        track: Track) -> None:
    a1, a2 = upload(server, tmp_path, models), upload(server, tmp_path, models)
    e1 = m.add(track.entries, a1)
    e2 = m.add(track.entries, a2, stage="staging")
    assert (e1.version, e2.version, e2.stage_name) == (1, 2, "staging")
    m.promote(e1, "production")
    start = len(server.request_log)
    holder = m.get(track.entries, stage="production")
    assert holder.id == e1.id and holder.artifact.id == a1.id
    assert not any("by-stage" in p for _, p in requests_since(server, start))
    assert m.first(track.entries.filter(stage="production")).id == e1.id
    with pytest.raises(ConflictError, match=r"held by v1"):
        m.promote(e2, "production")
    m.promote(e2, track.stages.named("production"), force=True)
    assert m.get(track.entries, stage="production").id == e2.id
    assert m.count(track.entries) == 2
    assert m.latest(track.entries, "version").id == e2.id
    m.promote(e2, None)
    assert e2.stage_id is None
    with pytest.raises(TrackEntry.DoesNotExist):
        m.get(track.entries, stage="production")
    assert m.first(track.entries.filter(stage="production")) is None


def test_filters_order_and_remove(m: Mode, server: LocalServer, tmp_path: Path,
                                  models: Collection, track: Track) -> None:
    made = [m.add(track.entries, upload(server, tmp_path, models)) for _ in range(4)]
    newest = m.list(track.entries.filter(version__gte=3).order_by("-version"))
    assert [e.version for e in newest] == [4, 3]
    m.remove(track.entries, [made[0], made[1]])
    assert made[0].id is None
    m.remove(track.entries, [made[2].id])
    assert [e.version for e in m.list(track.entries.all())] == [4]
    again = m.add(track.entries, upload(server, tmp_path, models))
    assert again.version == 5  # versions are never reused


def test_remove_an_entry_of_another_track_is_refused(server: LocalServer, tmp_path: Path,
                                                     models: Collection, track: Track) -> None:
    other = Track.objects.create(name="other", artifact_type="model")
    stranger = other.entries.add(upload(server, tmp_path, models))
    start = len(server.request_log)
    with pytest.raises(ValidationError, match="another track"):
        track.entries.remove([stranger])
    with pytest.raises(ValidationError, match="not entries of track"):
        track.entries.remove([stranger.id])
    assert not any(meth == "DELETE" for meth, _ in requests_since(server, start))
    with pytest.raises(ValidationError, match="at least one"):
        track.entries.remove([])


def test_editing_artifact_or_version_is_refused(server: LocalServer, tmp_path: Path,
                                                models: Collection, track: Track) -> None:
    e = track.entries.add(upload(server, tmp_path, models))
    e.version = 9
    with pytest.raises(ValidationError, match="version"):
        e.save()
    fresh = track.entries.get(id=e.id)
    fresh.artifact_id = upload(server, tmp_path, models).id
    with pytest.raises(ValidationError, match="artifact_id"):
        fresh.save()


def test_an_artifact_twice_is_a_conflict_naming_its_version(server: LocalServer,
                                                            tmp_path: Path,
                                                            models: Collection,
                                                            track: Track) -> None:
    a = upload(server, tmp_path, models)
    track.entries.add(a)
    with pytest.raises(ConflictError, match="already v1 of track 'churn'"):
        track.entries.add(a)


def test_an_artifact_of_another_type_is_refused_before_any_request(
        server: LocalServer, tmp_path: Path, session: Session, track: Track) -> None:
    data = Collection.objects.create(name="data", collection_type="dataset")
    rows = upload(server, tmp_path, data, kind="dataset")
    start = len(server.request_log)
    with pytest.raises(ValidationError, match="is a dataset; track 'churn' holds model"):
        track.entries.add(rows)
    assert requests_since(server, start) == []


def test_unknown_entry_is_does_not_exist_not_a_500(track: Track) -> None:
    with pytest.raises(TrackEntry.DoesNotExist):
        track.entries.get(id="0190a000-0000-7000-8000-000000000000")


def test_entry_add_is_made_once_after_a_dropped_answer(server: LocalServer, tmp_path: Path,
                                                       models: Collection,
                                                       track: Track) -> None:
    a = upload(server, tmp_path, models)
    dropped = server.fault_counts.get("drop_after", 0)
    server.add_fault(Fault(kind="drop_after", method="POST", path="/entries", times=1))
    e = track.entries.add(a)
    assert server.fault_counts.get("drop_after") == dropped + 1
    assert [x["id"] for x in server.track_entries(str(track.id))] == [e.id]
    assert e.version == 1


def test_async_creates_are_made_once_after_dropped_answers(server: LocalServer,
                                                           tmp_path: Path, session: Session,
                                                           models: Collection) -> None:
    a = upload(server, tmp_path, models)
    mode = AsyncMode(session)
    try:
        dropped = server.fault_counts.get("drop_after", 0)
        server.add_fault(Fault(kind="drop_after", method="POST", path="/tracks$", times=1))
        t = Track(name="once-async", artifact_type="model", stages=["staging"])
        mode.save(t)
        server.add_fault(Fault(kind="drop_after", method="POST", path="/entries$", times=1))
        e = mode.run(t.entries.aadd(a, stage="staging"))
        assert server.fault_counts.get("drop_after") == dropped + 2
        assert [r.id for r in Track.objects.filter(name="once-async")] == [t.id]
        assert [x["id"] for x in server.track_entries(str(t.id))] == [e.id]
        assert (e.version, e.stage_name) == (1, "staging")
        listed = mode.run(t.entries.aget(stage="staging"))
        assert mode.run(listed.atrack()).id == t.id
        start = len(server.request_log)
        assert mode.run(listed.aartifact()).id == a.id
        assert requests_since(server, start)[-1][0] == "GET"
        loose = mode.run(t.entries.aget(id=e.id))
        object.__setattr__(loose, "_track", None)  # as one loaded on its own
        assert mode.run(loose.atrack()).id == t.id
    finally:
        mode.close()


def test_a_lost_forced_promotion_is_sent_again_with_force(server: LocalServer,
                                                          tmp_path: Path, models: Collection,
                                                          track: Track) -> None:
    v1 = track.entries.add(upload(server, tmp_path, models), stage="production")
    v2 = track.entries.add(upload(server, tmp_path, models))
    # the connection drops before the server handles it: the read-back finds nothing landed
    server.add_fault(Fault(kind="drop", method="PATCH", path=f"/entries/{v2.id}", times=1))
    v2.promote("production", force=True)  # the re-send carries ?force=true: no 409
    assert v2.stage_name == "production"
    assert track.entries.get(stage="production").id == v2.id
    assert track.entries.get(id=v1.id).stage_id is None


def test_removing_a_held_stage_names_the_version(server: LocalServer, tmp_path: Path,
                                                 models: Collection, track: Track) -> None:
    e = track.entries.add(upload(server, tmp_path, models), stage="production")
    track.stages.remove("production")
    with pytest.raises(ConflictError, match=rf"'production' is held by v1 \(entry {e.id}\)"):
        track.save()


def test_unknown_stage_name_is_refused_before_any_request(server: LocalServer,
                                                          track: Track) -> None:
    start = len(server.request_log)
    with pytest.raises(ValidationError, match=r"no stage 'prod'.*production"):
        track.entries.filter(stage="prod")
    assert requests_since(server, start) == []


# -- artifacts in tracks ---------------------------------------------------------------------


def test_artifact_delete_names_the_tracks_holding_it(m: Mode, server: LocalServer,
                                                     tmp_path: Path, models: Collection,
                                                     track: Track) -> None:
    a = upload(server, tmp_path, models)
    m.add(track.entries, a)
    other = Track.objects.create(name="shadow", artifact_type="model")
    other.entries.add(upload(server, tmp_path, models))
    e2 = other.entries.add(a)
    assert sorted((e.track.name, e.version) for e in a.track_entries) == [
        ("churn", 1), ("shadow", 2)]
    for force in (False, True):
        with pytest.raises(ConflictError) as caught:
            m.delete(a, force=force)
        text = str(caught.value)
        assert "v1 of track 'churn'" in text and "v2 of track 'shadow'" in text
        assert "remove those entries first" in text
    track.entries.remove(track.entries.all())  # (a QuerySet of this track's entries)
    other.entries.remove([e2])
    m.delete(a, force=True)
    assert a.id is None
