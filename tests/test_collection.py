"""Collection as an active record, end to end against LocalServer (sync and async)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from parity import MakeSession

import dataforce_orm as dfo
from dataforce_orm import Collection, CollectionType, Session
from dataforce_orm.testing import LocalServer


def _new(**kw: Any) -> Collection:
    fields: dict[str, Any] = {"name": "Training", "description": "d",
                              "collection_type": CollectionType.DATASET, "tags": ["ml"]}
    return Collection(**{**fields, **kw})


def _row(server: LocalServer, orbit_id: str, cid: str | None) -> dict[str, Any]:
    (row,) = [r for r in server.collection_rows(orbit_id) if r["id"] == cid]
    return row


def test_create_fills_server_fields(m: Any, server: LocalServer, orbit_id: str) -> None:
    c = _new()
    m.save(c)
    assert c.id is not None and c.orbit_id == orbit_id
    assert isinstance(c.created_at, datetime) and c.created_at.tzinfo is not None
    assert c.updated_at is None and c.total_artifacts == 0 == c.total_models
    row = _row(server, orbit_id, c.id)
    assert (row["name"], row["description"], row["type"], row["tags"]) == (
        "Training", "d", "dataset", ["ml"])
    assert c.collection_type is CollectionType.DATASET
    assert m.get(Collection.objects, id=c.id).collection_type is CollectionType.DATASET


def test_collection_type_accepts_wire_values() -> None:
    assert Collection(collection_type="model_dataset").collection_type is (
        CollectionType.MODEL_DATASET)
    assert {t.value for t in CollectionType} == {
        "model", "dataset", "experiment", "model_dataset", "dataset_experiment",
        "model_experiment", "mixed"}


def test_save_without_changes_sends_nothing(m: Any, server: LocalServer) -> None:
    c = _new()
    m.save(c)
    _ = c.tags[0], c.name  # reading is not a change
    server.reset_request_log()
    m.save(c)
    assert server.request_log == []


def test_in_place_tag_edit_is_saved(m: Any, server: LocalServer, orbit_id: str) -> None:
    c = _new()
    m.save(c)
    assert c.tags is not None
    c.tags.append("prod")
    assert c.changed_fields() == ["tags"]
    server.reset_request_log()
    m.save(c)
    assert [method for method, _ in server.request_log] == ["GET", "PATCH"]
    assert _row(server, orbit_id, c.id)["tags"] == ["ml", "prod"]
    assert c.updated_at is not None and c.changed_fields() == []


def test_update_keeps_fields_changed_elsewhere(make_session: MakeSession, m: Any,
                                               server: LocalServer, orbit_id: str) -> None:
    c = _new()
    m.save(c)
    other = Collection.objects.using(make_session()).get(id=c.id)
    other.description = "changed elsewhere"
    other.save()
    c.tags = ["ml", "prod"]
    m.save(c)
    row = _row(server, orbit_id, c.id)
    assert row["description"] == "changed elsewhere" and row["tags"] == ["ml", "prod"]
    assert c.description == "changed elsewhere"  # the object took the server's value


def test_conflict_on_the_same_field(make_session: MakeSession, m: Any, server: LocalServer,
                                    orbit_id: str) -> None:
    c = _new()
    m.save(c)
    other = Collection.objects.using(make_session()).get(id=c.id)
    other.name = "Theirs"
    other.save()
    c.name = "Ours"
    with pytest.raises(dfo.ConflictError) as err:
        m.save(c)
    assert err.value.fields == ["name"] and "name" in str(err.value)
    assert _row(server, orbit_id, c.id)["name"] == "Theirs"
    server.reset_request_log()
    m.save(c, force=True)
    assert [method for method, _ in server.request_log] == ["PATCH"]
    assert _row(server, orbit_id, c.id)["name"] == "Ours"


def test_same_value_on_both_sides_is_not_a_conflict(make_session: MakeSession, m: Any,
                                                    server: LocalServer, orbit_id: str) -> None:
    c = _new()
    m.save(c)
    other = Collection.objects.using(make_session()).get(id=c.id)
    other.name = "Same"
    other.save()
    c.name = "Same"
    server.reset_request_log()
    m.save(c)
    assert [method for method, _ in server.request_log] == ["GET"]  # nothing left to write
    assert c.name == "Same" and c.changed_fields() == []


def test_update_fields_limits_what_is_written(m: Any, server: LocalServer,
                                              orbit_id: str) -> None:
    c = _new()
    m.save(c)
    c.name, c.description = "New name", "New description"
    m.save(c, update_fields=["name"])
    row = _row(server, orbit_id, c.id)
    assert (row["name"], row["description"]) == ("New name", "d")
    assert c.description == "New description" and c.changed_fields() == ["description"]
    with pytest.raises(dfo.ValidationError, match="update_fields"):
        m.save(c, update_fields=["collection_type"])


def test_type_cannot_change_after_create(m: Any, server: LocalServer) -> None:
    c = _new()
    m.save(c)
    c.collection_type = CollectionType.MODEL
    server.reset_request_log()
    with pytest.raises(dfo.ValidationError, match="collection_type"):
        m.save(c)
    assert server.request_log == []


def test_refresh_reloads_details(m: Any, server: LocalServer, orbit_id: str) -> None:
    c = _new()
    m.save(c)
    assert c.id is not None
    server.set_artifact_count(c.id, 2, tags=["iris", "small"], extra_keys=["rows"])
    m.refresh(c)
    assert c.total_artifacts == 2
    assert c.artifacts_tags == ["iris", "small"] and c.artifacts_extra_values == ["rows"]


def test_refresh_with_unsaved_changes(m: Any, server: LocalServer, orbit_id: str) -> None:
    c = _new()
    m.save(c)
    c.name = "unsaved"
    server.reset_request_log()
    with pytest.raises(dfo.ValidationError, match="unsaved"):
        m.refresh(c)
    assert server.request_log == []
    m.refresh(c, discard=True)
    assert c.name == "Training" and c.changed_fields() == []


def test_delete_leaves_object_unsaved(m: Any, server: LocalServer, orbit_id: str) -> None:
    c = _new()
    m.save(c)
    cid = c.id
    m.delete(c)
    assert c.id is None and not c.is_saved
    assert [r for r in server.collection_rows(orbit_id) if r["id"] == cid] == []
    with pytest.raises(dfo.ValidationError):
        m.delete(c)


def test_delete_missing_is_does_not_exist(m: Any) -> None:
    c = _new()
    m.save(c)
    twin = Collection.objects.get(id=c.id)
    m.delete(c)
    with pytest.raises(Collection.DoesNotExist):
        m.delete(twin)


def test_delete_with_artifacts_is_a_conflict(m: Any, server: LocalServer, orbit_id: str) -> None:
    c = _new()
    m.save(c)
    assert c.id is not None
    server.set_artifact_count(c.id, 1)
    with pytest.raises(dfo.ConflictError, match="has artifacts") as err:
        m.delete(c)
    assert err.value.status == 409 and c.id is not None
    assert _row(server, orbit_id, c.id)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "n" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"description": "d" * 1001}, "description"),
        ({"tags": ["t"] * 51}, "tags"),
        ({"tags": ["t" * 65]}, "tags[0]"),
        ({"tags": ["ok", 3]}, "tags[1]"),
        ({"tags": "prod"}, "tags"),
        ({"collection_type": "weights"}, "collection_type"),
        ({"collection_type": "MODEL"}, "collection_type"),
    ],
)
def test_bad_input_is_refused_at_construction(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(dfo.ValidationError) as err:
        _new(**fields)
    assert err.value.field == field and isinstance(err.value, ValueError)
    assert field in str(err.value)


def test_bad_input_is_refused_on_set_and_save(m: Any, server: LocalServer,
                                              orbit_id: str) -> None:
    c = _new()
    with pytest.raises(dfo.ValidationError, match="name"):
        c.name = "n" * 101
    assert c.tags is not None
    c.tags.extend(["x" * 65])  # in-place: caught at save
    server.reset_request_log()
    with pytest.raises(dfo.ValidationError, match=r"tags\[1\]"):
        m.save(c)
    with pytest.raises(dfo.ValidationError, match="collection_type"):
        m.save(Collection(name="no type"))
    assert server.request_log == [] and server.collection_rows(orbit_id) == []


def test_empty_name_allowed_on_create_but_not_update(m: Any, server: LocalServer) -> None:
    c = _new(name="")
    m.save(c)
    assert c.id is not None and c.name == ""
    c.description = "x"
    with pytest.raises(dfo.ValidationError, match="name: must not be empty"):
        m.save(c)


def test_equality_and_hashing(m: Any) -> None:
    a, b = _new(), _new()
    assert a != b and a == a
    with pytest.raises(TypeError):
        hash(a)
    m.save(a)
    again = Collection.objects.get(id=a.id)
    assert again == a and hash(again) == hash(a) and again is not a
    assert len({a, again}) == 1


def test_repr_looks_like_the_seed(m: Any, server: LocalServer) -> None:
    c = _new()
    m.save(c)
    text = repr(c)
    assert text.startswith(f"Collection(id='{c.id}', name='Training', description='d', "
                           "collection_type='dataset', orbit_id=")
    assert "tags=['ml']" in text and "updated_at=None" in text
    assert server.api_key not in text and server.api_key not in repr(Session(
        api_key=server.api_key, base_url=server.url))


def test_objects_remember_their_session(make_session: MakeSession, session: Session,
                                        server: LocalServer, orbit_id: str) -> None:
    other_orbit = server.add_orbit(server.organization_id, "remember-me")
    s2 = make_session(orbit=other_orbit)
    c = Collection.objects.using(s2).create(name="x", collection_type="model")
    c.description = "kept in the orbit it was loaded from"
    c.save()  # the current session points at another orbit
    assert [r["description"] for r in server.collection_rows(other_orbit)] == [c.description]
    assert server.collection_rows(orbit_id) == []


def test_loading_does_not_validate_old_rows(session: Session, server: LocalServer,
                                            orbit_id: str) -> None:
    (cid,) = server.insert_collections(orbit_id, [
        {"name": "n" * 150, "description": "", "type": "model", "tags": None}])
    c = Collection.objects.get(id=cid)
    assert len(c.name) == 150
