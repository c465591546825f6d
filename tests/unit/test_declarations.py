"""Declaration mistakes fail when the model class is declared, capabilities are picked by the
bases, and the one rule about a write whose outcome is unknown answers as each caller needs."""

from __future__ import annotations

from typing import ClassVar

import attrs
import pytest

from dataforce_orm import (
    Artifact,
    BucketSecret,
    Collection,
    Orbit,
    OrbitSecret,
    Organization,
    Satellite,
)
from dataforce_orm._capabilities import (
    CursorPages,
    MergedUpdate,
    NoGetById,
    ReadOnly,
    WriteOnly,
)
from dataforce_orm._errors import APIError, ServerError, TimeoutError, TransportError
from dataforce_orm._fields import Kind, field
from dataforce_orm._outcomes import Claims, may_resend, maybe_applied
from dataforce_orm._protocol import RETRY_STATUSES, Request
from dataforce_orm._resource import Model


def test_a_misspelt_field_kind_fails_when_the_model_is_declared() -> None:
    with pytest.raises(TypeError, match="unknown field kind 'strr'; kinds: id, str"):
        @attrs.define(slots=True, eq=False, repr=False)
        class Typo(Model):
            _path = "/v1/typos"
            name: str = field("strr", default="")


def test_a_parent_the_path_names_needs_its_field_declared() -> None:
    with pytest.raises(TypeError, match=r"\{collection\}: declare the field"):
        @attrs.define(slots=True, eq=False, repr=False)
        class Orphan(Model):
            _path = "/v1/organizations/{organization}/collections/{collection}/things"
            id: str | None = field("id")
            collection_id: str | None = field("id", checked=False)

    @attrs.define(slots=True, eq=False, repr=False)
    class Thing(Model):
        _path = "/v1/organizations/{organization}/collections/{collection}/things"
        _parent_fields: ClassVar[dict[str, str]] = {"collection": "collection_id"}
        id: str | None = field("id")
        collection_id: str | None = field("id", checked=False)

    cid = "01a21990-0000-7000-8000-000000000003"
    assert Thing(collection_id=cid)._parents() == {"collection": cid}


def test_kinds_are_their_names_as_text() -> None:
    assert Kind("str") is Kind.STR and Kind.STR == "str" and str(Kind.NUM) == "num"
    assert {"tags": 1}[Kind.TAGS] == 1
    assert Collection._fields["name"] is Kind.STR


def test_capabilities_are_picked_by_the_bases() -> None:
    assert issubclass(Collection, MergedUpdate) and issubclass(Collection, CursorPages)
    assert issubclass(BucketSecret, MergedUpdate) and not issubclass(BucketSecret, CursorPages)
    assert issubclass(Artifact, CursorPages) and not issubclass(Artifact, MergedUpdate)
    assert issubclass(Organization, ReadOnly) and issubclass(Organization, NoGetById)
    assert not issubclass(Orbit, (MergedUpdate, CursorPages, ReadOnly, NoGetById))
    assert (Collection._partial, Collection._paged, Orbit._partial, Orbit._paged) == (
        False, True, True, False)
    assert not hasattr(Collection(name="x", collection_type="model"), "__dict__")  # slotted


POST, PATCH, GET = Request("POST", "/x"), Request("PATCH", "/x"), Request("GET", "/x")


def _unsent() -> TransportError:
    exc = TransportError("connection refused")
    exc.maybe_sent = False  # (refused before anything was sent)
    return exc


def test_a_secret_field_needs_the_write_only_capability() -> None:
    with pytest.raises(TypeError, match=r"Leaky.token is secret=True: the model picks the "
                                        r"WriteOnly capability"):
        @attrs.define(slots=True, eq=False, repr=False)
        class Leaky(Model):
            _path = "/v1/leaks"
            token: str | None = field("str", create=True, secret=True)

    assert all(issubclass(m, WriteOnly) for m in (BucketSecret, OrbitSecret, Satellite))
    assert not issubclass(Collection, WriteOnly)


def test_write_only_values_are_never_taken_from_an_answer() -> None:
    wire = {"id": "0b9f6a52-4c1e-4f57-9a41-2b1f0f6e3c11", "type": "s3", "endpoint": "e",
            "bucket_name": "b", "region": "r", "access_key": "leaked"}
    secret = BucketSecret._load(wire, None)  # type: ignore[arg-type]
    assert secret.access_key is None and not secret._holds("access_key")
    assert "access_key" not in BucketSecret._filterable
    secret.access_key = "mine"
    assert secret._holds("access_key") and "access_key" in secret.changed_fields()
    assert "access_key" not in secret.to_dict() and "mine" not in repr(secret)


def test_maybe_applied_counts_a_5xx_only_where_asked() -> None:
    gateway = ServerError(502, "POST", "/x", "bad gateway")
    sent = TransportError("reset mid-answer")
    unsent = _unsent()
    assert maybe_applied("POST", gateway, server_errors=True)  # the retry engine's view
    assert not maybe_applied("POST", gateway, server_errors=False)  # the write operations'
    for server_errors in (True, False):
        assert maybe_applied("PATCH", sent, server_errors=server_errors)
        assert not maybe_applied("PATCH", unsent, server_errors=server_errors)
        assert not maybe_applied("GET", sent, server_errors=server_errors)
        assert not maybe_applied("POST", APIError(409, "POST", "/x", "conflict"),
                                 server_errors=server_errors)


def test_may_resend_never_resends_a_patch_that_may_have_been_sent() -> None:
    timeout = TimeoutError("read timed out")
    assert not may_resend(PATCH, timeout, RETRY_STATUSES)
    assert may_resend(GET, timeout, RETRY_STATUSES)
    assert not may_resend(POST, timeout, RETRY_STATUSES)
    assert may_resend(POST, _unsent(), RETRY_STATUSES)
    assert not may_resend(POST, ServerError(503, "POST", "/x", "busy"), RETRY_STATUSES)
    assert may_resend(POST, APIError(429, "POST", "/x", "slow down"), RETRY_STATUSES)


def test_claims_hand_an_id_to_one_create_only() -> None:
    claims = Claims()
    assert claims.claim("a", 10.0) and not claims.claim("a", 20.0)
    assert claims.claimed_since("a") == 10.0
    assert claims.claimed_since("b") > 10.0  # unclaimed: now
