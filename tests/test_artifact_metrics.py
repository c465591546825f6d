"""Metrics on artifacts: set at upload (merged over the archive's), refused when edited after
create (the platform's PATCH would drop the change), and filtered on every listing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dataforce_orm as dfo
from dataforce_orm import Artifact, ArtifactType, Collection, Session
from dataforce_orm.testing import LocalServer, RequestCounter, make_luml_archive


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """A server of this module's own (the shared one's organization holds 50 artifacts)."""
    with LocalServer() as srv:
        srv.set_organization_limits(srv.organization_id, orbits=100, artifacts=10_000)
        yield srv


@pytest.fixture
def coll(session: Session) -> Collection:
    return Collection.objects.create(name="models", collection_type="mixed")


def test_upload_merges_the_callers_metrics_over_the_archives(
        m: Any, tmp_path: Path, coll: Collection) -> None:
    path = make_luml_archive(tmp_path / "m.luml", metrics={"auc": 0.5, "f1": 0.4})
    art = m.upload(coll.artifacts, path, extra_values={"auc": 0.9, "epochs": 3})
    assert art.extra_values == {"auc": 0.9, "f1": 0.4, "epochs": 3}
    assert coll.artifacts.get(id=art.id).extra_values == art.extra_values  # stored so


@pytest.mark.parametrize("bad", [{"auc": float("nan")}, {"auc": object()}, [("auc", 1)],
                                 {1: 2}])
def test_bad_metrics_are_refused_before_any_request(
        tmp_path: Path, coll: Collection, bad: Any) -> None:
    path = make_luml_archive(tmp_path / "m.luml")
    with RequestCounter() as sent, pytest.raises(dfo.ValidationError, match="extra_values"):
        coll.artifacts.upload(path, extra_values=bad)
    assert sent.total == 0


@pytest.mark.parametrize(("field", "change"), [
    ("extra_values", lambda a: a.extra_values.__setitem__("auc", 0.99)),
    ("extra_values", lambda a: setattr(a, "extra_values", {"auc": 0.99})),
    ("type", lambda a: setattr(a, "type", ArtifactType.DATASET)),
    ("manifest", lambda a: a.manifest.__setitem__("name", "other")),
    ("file_hash", lambda a: setattr(a, "file_hash", "0" * 64)),
])
def test_a_field_fixed_at_create_is_refused_at_save(
        m: Any, tmp_path: Path, coll: Collection, field: str, change: Any) -> None:
    art = coll.artifacts.upload(make_luml_archive(tmp_path / "m.luml", metrics={"auc": 0.5}))
    assert art.changed_fields() == []
    change(art)
    assert field in art.changed_fields()
    with RequestCounter() as sent, pytest.raises(dfo.ValidationError) as info:
        m.save(art)
    assert sent.total == 0
    assert info.value.field == field and "create" in str(info.value)
    fresh = coll.artifacts.get(id=art.id)
    assert fresh.extra_values == {"auc": 0.5}


def test_editable_fields_still_save_beside_the_fixed_ones(
        tmp_path: Path, coll: Collection) -> None:
    art = coll.artifacts.upload(make_luml_archive(tmp_path / "m.luml", metrics={"auc": 0.5}))
    art.name = "renamed"
    assert art.changed_fields() == ["name"]
    art.save()
    assert coll.artifacts.get(id=art.id).name == "renamed"
    assert art.changed_fields() == []


@pytest.fixture
def three(tmp_path: Path, coll: Collection) -> list[Artifact]:
    out = []
    for i, metrics in enumerate([{"acc": 0.8, "ok": True}, {"acc": 0.9, "kind": "cnn"}, {}]):
        out.append(coll.artifacts.upload(make_luml_archive(tmp_path / f"m{i}.luml",
                                                           metrics=metrics), name=f"m{i}"))
    return out


def test_filtering_by_a_metric(m: Any, coll: Collection, three: list[Artifact]) -> None:
    a, b, c = three
    qs = coll.artifacts
    assert m.list(qs.filter(extra_values__acc__gte=0.85)) == [b]
    assert set(m.list(qs.filter(extra_values__acc__gt=0.5))) == {a, b}
    assert m.list(qs.filter(extra_values__acc__lt=0.85)) == [a]
    assert m.list(qs.filter(extra_values__acc__lte=0.8)) == [a]
    assert m.list(qs.filter(extra_values__acc__range=(0.85, 1))) == [b]
    assert m.list(qs.filter(extra_values__acc=0.9)) == [b]
    assert m.list(qs.filter(extra_values__kind__exact="cnn")) == [b]
    assert m.list(qs.filter(extra_values__kind__in=["cnn", "rnn"])) == [b]
    assert m.list(qs.filter(extra_values__acc__isnull=True)) == [c]
    assert m.list(qs.filter(extra_values__ok=True)) == [a]
    assert m.list(qs.filter(extra_values__ok=1)) == []  # a bool is not a number
    assert m.list(qs.exclude(extra_values__acc__gte=0.85).order_by("name")) == [a, c]
    assert m.list(qs.filter(extra_values__acc__gte=0.5)
                  .order_by("-extra_values__acc")) == [b, a]
    # every artifact listing: orbit-wide too
    assert m.list(Artifact.objects.filter(collection=coll, extra_values__acc__gte=0.85)) == [b]


@pytest.mark.parametrize(("key", "value"), [
    ("extra_values__acc__gte", "high"), ("extra_values__acc__range", (1,)),
    ("extra_values__acc__isnull", "yes"), ("extra_values__acc__in", "0.9"),
    ("extra_values____gte", 1)])
def test_a_bad_metric_lookup_is_refused(coll: Collection, key: str, value: Any) -> None:
    with pytest.raises(dfo.ValidationError) as info:
        coll.artifacts.filter(**{key: value})
    assert info.value.field == key


def test_other_models_take_no_metric_lookups(session: Session) -> None:
    with pytest.raises(dfo.ValidationError, match="unknown field"):
        Collection.objects.filter(extra_values__acc__gte=1)
