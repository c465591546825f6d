"""Objects loaded through the compiled loader: the same values and errors as the wire
converter, and change tracking intact though the snapshot is taken only when first needed."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import attrs
import pytest

from dataforce_orm import APIError, BucketSecret, Collection, Session, ValidationError
from dataforce_orm._wire import converter, parse_time
from dataforce_orm.testing import LocalServer, RequestCounter

WIRE: dict[str, Any] = {
    "id": "01a2194c-ef2b-725b-9be9-e8c31c21c786", "orbit_id": None, "name": "x",
    "description": "", "type": "model", "tags": ["a"], "total_artifacts": 0,
    "created_at": "2026-11-26T19:20:02.091180Z", "updated_at": "2026-11-26T20:20:02+02:00",
    "bogus": 1}


def _public(obj: Any) -> dict[str, Any]:
    return {a.name: getattr(obj, a.name) for a in attrs.fields(type(obj)) if a.init}


@pytest.mark.parametrize("change", [
    {}, {"type": "model_v2"}, {"tags": None}, {"created_at": "2026-11-26T19:20:02z"},
    {"updated_at": None}, {"name": "n" * 500}, {"artifacts_tags": ["t"]}])
def test_the_loader_builds_what_the_converter_builds(change: dict[str, Any]) -> None:
    wire = {**WIRE, **change}
    loaded = Collection._structure(wire, None)
    assert _public(loaded) == _public(converter.structure(wire, Collection))
    assert loaded.created_at == parse_time(wire["created_at"])


@pytest.mark.parametrize("bad", [
    {"tags": "prod"}, {"tags": [1]}, {"name": None}, {"name": 5}, {"id": 7},
    {"total_artifacts": True}, {"total_artifacts": "3"}, {"type": 5},
    {"created_at": "soon"}, {"created_at": "soonZ"}, {"created_at": 1}])
def test_the_loader_refuses_what_the_converter_refuses(bad: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        Collection._structure({**WIRE, **bad}, None)


def test_a_secret_loads_booleans_and_keeps_its_keys_unknown() -> None:
    wire = {"id": WIRE["id"], "type": "s3", "endpoint": "e", "bucket_name": "b",
            "region": "r", "secure": True, "cert_check": False}
    secret = BucketSecret._structure(wire, None)
    assert (secret.secure, secret.cert_check, secret.access_key) == (True, False, None)
    assert not secret._holds("access_key")  # loaded: the server never sent it
    with pytest.raises(TypeError):
        BucketSecret._structure({**wire, "secure": 1}, None)


@pytest.fixture
def loaded(server: LocalServer, orbit_id: str, session: Session) -> list[Collection]:
    server.insert_collections(orbit_id, [
        {"name": f"row-{i}", "description": "d", "type": "model", "tags": ["a", "b"]}
        for i in range(3)])
    return list(Collection.objects.order_by("name"))


def test_an_in_place_edit_of_a_loaded_tag_list_is_seen(loaded: list[Collection]) -> None:
    first = loaded[0]
    first.tags.append("c")
    assert first.changed_fields() == ["tags"]
    first.save()
    assert Collection.objects.get(id=first.id).tags == ["a", "b", "c"]
    assert first.changed_fields() == []


def test_nothing_changed_sends_nothing_and_a_caller_is_still_checked(
        loaded: list[Collection]) -> None:
    with RequestCounter() as sent:
        for obj in loaded:
            assert obj.changed_fields() == []
            obj.save()
    assert sent.total == 0
    with pytest.raises(ValidationError, match="name"):
        loaded[0].name = "n" * 101
    with pytest.raises(ValidationError, match=r"tags\[0\]"):
        loaded[0].tags = [5]  # type: ignore[list-item]


def test_objects_pickled_before_any_change_keep_their_tracking(
        loaded: list[Collection]) -> None:
    for clone in (pickle.loads(pickle.dumps(loaded[1])), copy.deepcopy(loaded[1])):
        assert clone.changed_fields() == []
        assert clone._wire is None  # the snapshot travels, not the wire object
        clone.tags.remove("a")
        clone.description = "e"
        assert clone.changed_fields() == ["description", "tags"]
    assert loaded[1].changed_fields() == []


def test_a_malformed_row_is_an_api_error(server: LocalServer, orbit_id: str,
                                         session: Session) -> None:
    from dataforce_orm._listing import Pager
    from dataforce_orm._protocol import Request, Response

    pager = Pager(Collection, session, "/p", [], paged=False)
    with pytest.raises(APIError, match="TypeError"):
        pager.feed(Request("GET", "/p"), Response(200, {}, [{**WIRE, "tags": "prod"}]))


def test_a_loaded_object_is_of_its_model_class_and_checks_what_a_caller_sets() -> None:
    loaded = Collection._structure(WIRE, None)
    assert type(loaded) is Collection
    with pytest.raises(ValidationError, match="name"):
        loaded.name = "n" * 101
    assert loaded.changed_fields() == []
    assert loaded.tags is not None
    loaded.tags.append("b")
    assert loaded.changed_fields() == ["tags"]


def test_a_model_without_slots_loads_through_its_setters() -> None:
    from dataforce_orm._fields import field
    from dataforce_orm._resource import Model

    @attrs.define(slots=False, eq=False, repr=False)
    class Unslotted(Model):
        _path = "/v1/unslotted"
        id: str | None = field("id")
        name: str = field("str", default="", create=True, editable=True, max_len=5)
        tags: list[str] | None = field("tags", create=True, editable=True)

    loaded = Unslotted._structure({"id": WIRE["id"], "name": "toolong", "tags": None}, None)
    assert type(loaded) is Unslotted
    assert (loaded.id, loaded.name, loaded.tags, loaded._wire_null) == (
        WIRE["id"], "toolong", [], {"tags"})
    with pytest.raises(ValidationError, match="name"):
        loaded.name = "longer"


def test_loading_leaves_the_model_family_as_declared() -> None:
    """The loader's twin is never seen: a subclass hook of the user's own sees only models
    declared (the loader then takes its slow path), and a model's errors stay its own."""
    from dataforce_orm._fields import field
    from dataforce_orm._resource import Model

    seen: dict[str, type] = {}

    class Registered(Model):
        def __init_subclass__(cls, **kwargs: Any) -> None:
            super().__init_subclass__(**kwargs)
            seen[cls.__name__] = cls

    @attrs.define(slots=True, eq=False, repr=False)
    class Thing(Registered):
        _path = "/v1/things"
        id: str | None = field("id")
        name: str = field("str", default="", create=True, editable=True, max_len=5)

    declared = seen["Thing"]
    loaded = Thing._structure({"id": WIRE["id"], "name": "ok"}, None)
    assert seen["Thing"] is declared and type(loaded) is Thing
    with pytest.raises(ValidationError, match="name"):
        loaded.name = "toolong"
    Collection._structure(WIRE, None)
    assert not [e for e in Collection.DoesNotExist.__subclasses__() if "loading" in repr(e)]
