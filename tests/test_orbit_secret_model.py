"""OrbitSecret end to end against LocalServer, sync and async: the write-only value (never
kept from an answer, never shown), reveal() and its role rule, partial saves that never erase
a value, duplicate names as ConflictError, lookups by name, and a create made exactly once
under a dropped answer."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from parity import AsyncMode, MakeSession, SyncMode

from dataforce_orm import (
    BucketSecret,
    ConflictError,
    OrbitSecret,
    PermissionDeniedError,
    Session,
    ValidationError,
)
from dataforce_orm.testing import Fault, LocalServer

VALUE = "sk-test-value-0123456789abcdef"


def test_create_list_reveal_and_the_value_never_shown(server: LocalServer,
                                                      session: Session) -> None:
    s = OrbitSecret(name="OPENAI_API_KEY", value=VALUE, tags=["llm"])
    s.save()
    assert s.id is not None and s.orbit_id is not None
    assert server.orbit_secret_value(s.id) == VALUE
    for text in (repr(s), json.dumps(s.to_dict(), default=str), str(s.to_dict())):
        assert VALUE not in text
    assert "value" not in s.to_dict()
    listed = OrbitSecret.objects.get(name="OPENAI_API_KEY")
    assert listed == s and listed.value is None and listed.tags == ["llm"]
    assert listed.changed_fields() == []
    assert listed.reveal() == VALUE
    assert repr(listed.reveal()) == "'***'"  # a SecretStr: its repr hides it
    assert OrbitSecret.objects.filter(tags__contains=["llm"]).count() == 1
    assert OrbitSecret.objects.get(id=s.id).name == "OPENAI_API_KEY"


def test_a_listed_secret_rename_and_tags_never_erase_the_value(server: LocalServer,
                                                               session: Session) -> None:
    made = OrbitSecret.objects.create(name="A", value=VALUE)
    listed = OrbitSecret.objects.get(id=made.id)
    listed.name = "B"
    listed.tags = ["t"]
    assert listed.changed_fields() == ["name", "tags"]
    listed.save()
    assert server.orbit_secret_value(made.id) == VALUE
    assert listed.reveal() == VALUE and listed.name == "B"
    listed.value = VALUE + "-rotated"
    assert listed.changed_fields() == ["value"]
    listed.save()
    assert listed.changed_fields() == []  # the value sent is not a change any more
    assert server.orbit_secret_value(made.id) == VALUE + "-rotated"
    listed.refresh()
    assert listed.name == "B" and listed.reveal() == VALUE + "-rotated"


def test_an_empty_value_may_be_set_but_the_listings_blank_is_never_sent(
        server: LocalServer, session: Session) -> None:
    made = OrbitSecret.objects.create(name="EMPTY", value="")
    assert made.reveal() == ""
    listed = OrbitSecret.objects.get(name="EMPTY")
    listed.save()  # nothing changed: nothing sent
    listed.tags = ["x"]
    listed.save()
    assert server.orbit_secret_value(made.id) == ""


def test_bad_input_is_refused_before_any_request(server: LocalServer, session: Session) -> None:
    with pytest.raises(ValidationError, match="value: is required"):
        OrbitSecret(name="NO_VALUE").save()
    with pytest.raises(ValidationError, match="name: is required"):
        OrbitSecret(value="v").save()
    with pytest.raises(ValidationError, match="value: must be at most 8192"):
        OrbitSecret(name="BIG", value="v" * 8193)
    with pytest.raises(ValidationError, match="name: must be at most 255"):
        OrbitSecret(name="n" * 256, value="v")
    with pytest.raises(ValidationError, match="value: must be a string"):
        OrbitSecret(name="N", value=42)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"tags\[0\]: must be at most 64"):
        OrbitSecret(name="N", value="v", tags=["t" * 65])
    with pytest.raises(ValidationError, match="not saved"):
        OrbitSecret(name="N", value="v").reveal()
    assert OrbitSecret.objects.count() == 0
    with pytest.raises(ValidationError, match="value"):
        OrbitSecret.objects.filter(value="x")  # a write-only field cannot be looked up


def test_duplicate_names_are_a_conflict(server: LocalServer, session: Session) -> None:
    OrbitSecret.objects.create(name="TOKEN", value=VALUE)
    with pytest.raises(ConflictError, match="already has a secret named 'TOKEN'") as info:
        OrbitSecret.objects.create(name="TOKEN", value="other-value")
    assert info.value.fields == ["name"] and VALUE not in str(info.value)
    other = OrbitSecret.objects.create(name="OTHER", value="v")
    other.name = "TOKEN"
    with pytest.raises(ConflictError, match="already has a secret named 'TOKEN'"):
        other.save()  # (the platform answers a plain 500 here)
    other.refresh(discard=True)
    assert other.name == "OTHER"
    other.value = None
    with pytest.raises(ValidationError, match="value: must be a string"):
        other.save()


def test_a_plain_member_lists_and_creates_but_cannot_read_a_value(
        server: LocalServer, session: Session, orbit_id: str,
        make_session: MakeSession) -> None:
    OrbitSecret.objects.create(name="ADMIN_MADE", value=VALUE)
    member = server.make_member(orbit_id)
    with make_session(api_key=member.api_key) as mine:
        found = OrbitSecret.objects.using(mine).get(name="ADMIN_MADE")
        with pytest.raises(PermissionDeniedError, match="orbit's admin role") as info:
            found.reveal()
        assert VALUE not in str(info.value)
        made = OrbitSecret(name="MEMBER_MADE", value="member-value")
        made.save(using=mine)
        assert OrbitSecret.objects.using(mine).get(id=made.id).name == "MEMBER_MADE"
    assert server.orbit_secret_value(made.id) == "member-value"


def test_a_create_whose_answer_is_dropped_is_made_once(server: LocalServer,
                                                       session: Session, orbit_id: str) -> None:
    before = server.fault_counts.get("drop_after", 0)
    server.add_fault(Fault(kind="drop_after", method="POST", path="/secrets", times=1))
    made = OrbitSecret(name="ONCE", value=VALUE, tags=["a"])
    made.save()
    assert server.fault_counts.get("drop_after") == before + 1
    listed = OrbitSecret.objects.all()
    assert [s.name for s in listed] == ["ONCE"] and made.id == listed[0].id
    assert made.changed_fields() == [] and VALUE not in repr(made)


def test_async_twins(server: LocalServer, session: Session) -> None:
    async def flow() -> None:
        s = OrbitSecret(name="ASYNC", value=VALUE)
        await s.asave()
        found = await OrbitSecret.objects.aget(name="ASYNC")
        assert await found.areveal() == VALUE
        found.name = "ASYNC2"
        await found.asave()
        await found.arefresh()
        assert found.name == "ASYNC2"
        with pytest.raises(ConflictError):
            await OrbitSecret.objects.acreate(name="ASYNC2", value="x-value")
        await found.adelete()
        assert await OrbitSecret.objects.acount() == 0

    asyncio.run(flow())


def test_retry_policy_is_used_for_reveal(server: LocalServer, orbit_id: str,
                                        make_session: MakeSession) -> None:
    server.make_orbit_secret("R", VALUE, orbit_id=orbit_id)
    with make_session() as s:
        server.add_fault(Fault(kind="status", status=503, method="GET", path="/secrets/",
                               times=1))
        found = OrbitSecret.objects.using(s).get(name="R")
        assert found.reveal() == VALUE
    server.clear_faults()


@pytest.mark.parametrize("change", ["value", "name"])
def test_an_update_whose_answer_is_dropped_is_settled(server: LocalServer, session: Session,
                                                      change: str) -> None:
    made = OrbitSecret.objects.create(name="SETTLE", value=VALUE)
    listed = OrbitSecret.objects.get(id=made.id)
    setattr(listed, change, "SETTLED" if change == "name" else VALUE + "-new")
    before = server.fault_counts.get("drop_after", 0)
    server.add_fault(Fault(kind="drop_after", method="PATCH", path="/secrets/", times=1))
    listed.save()
    assert server.fault_counts.get("drop_after") == before + 1
    assert listed.changed_fields() == []
    assert listed.reveal() == (VALUE if change == "name" else VALUE + "-new")


def test_a_value_assigned_on_an_object_never_loaded_is_sent_as_a_constructor_argument(
        server: LocalServer, session: Session, m: SyncMode | AsyncMode,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    made = OrbitSecret.objects.create(name="BY_ID", value=VALUE)
    by_id = OrbitSecret(id=made.id)
    by_id.value = VALUE + "-assigned"
    m.save(by_id)
    assert made.reveal() == VALUE + "-assigned"
    by_id.name = "RENAMED"  # a rename after it keeps the value sent
    m.save(by_id)
    assert made.reveal() == VALUE + "-assigned" and server.orbit_secret_value(made.id) == (
        VALUE + "-assigned")
    assert OrbitSecret.objects.get(id=made.id).name == "RENAMED"
    for text in (repr(by_id), str(by_id.to_dict()), caplog.text):
        assert VALUE not in text


def test_a_bucket_key_assigned_on_an_object_never_loaded_is_sent_as_a_constructor_argument(
        server: LocalServer, session: Session, m: SyncMode | AsyncMode) -> None:
    made = BucketSecret(endpoint="s3.example.com", bucket_name=f"assigned-{m.name}",
                        region="us-east-1", access_key="AK", secret_key="sk-first")
    made.save()
    others = {"access_key": "AK", "session_token": None}  # (the update writes every key)
    given = BucketSecret(id=made.id, secret_key="sk-given", **others)
    assigned = BucketSecret(id=made.id, **others)
    assigned.secret_key = "sk-assigned"
    m.save(given)
    assert (server.bucket_secret_row(made.id) or {})["secret_key"] == "sk-given"
    m.save(assigned)
    row = server.bucket_secret_row(made.id) or {}
    assert (row["secret_key"], row["access_key"]) == ("sk-assigned", "AK")
    assert "sk-assigned" not in repr(assigned)
    made.delete()
