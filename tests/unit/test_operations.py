"""The operations of the resource layer, driven with canned answers (no server, no sockets).

Each test runs a model's sans-I/O operation through a ``Script``: the requests it must send,
in order, each with the answer (or the error) to hand back. This checks exactly what goes on
the wire for every model, which the end-to-end suites check against LocalServer.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import pytest

import dataforce_orm as dfo
from dataforce_orm import BucketSecret, Orbit, Organization, RetryPolicy, Session
from dataforce_orm._errors import TransportError
from dataforce_orm._lookups import supported
from dataforce_orm._protocol import Attempt, Op, Request, Response, Sleep, Stepper

ORG = "01a22ad6-0000-7000-8000-000000000001"
ORBIT = "01a22ad6-0000-7000-8000-000000000002"
SID = "01a22ad6-0000-7000-8000-0000000000aa"
OID = "01a22ad6-0000-7000-8000-0000000000bb"
CID = "01a22ad6-0000-7000-8000-0000000000cc"
T0 = "2026-11-30T05:00:00.000000Z"
SECRETS = f"/v1/organizations/{ORG}/bucket-secrets"
ORBITS = f"/v1/organizations/{ORG}/orbits"
COLLECTIONS = f"{ORBITS}/{ORBIT}/collections"

Answer = Any  # the JSON to answer with, or an exception to raise


class Script:
    """Runs an operation, checking each request against the next expected one."""

    def __init__(self, *steps: tuple[str, str, Answer]) -> None:
        self.steps = list(steps)
        self.sent: list[Request] = []

    def run(self, op: Op[Any], session: Session) -> Any:
        stepper = Stepper(op, session.retry, 1.0)
        while (step := stepper.next()) is not None:
            if isinstance(step, Sleep):
                continue
            assert isinstance(step, Attempt)
            req = step.request
            self.sent.append(req)
            assert self.steps, f"unexpected request {req.method} {req.path}"
            method, path, answer = self.steps.pop(0)
            assert (req.method, req.path) == (method, path)
            if isinstance(answer, Exception):
                stepper.error = answer
            else:
                stepper.reply = Response(200, {}, answer)
        assert not self.steps, f"requests not sent: {self.steps}"
        return stepper.result


@pytest.fixture
def session() -> Session:
    return Session(api_key="dfs_unit", base_url="http://127.0.0.1:9", organization=ORG,
                   orbit=ORBIT, retry=RetryPolicy(sleep=lambda s: None))


def secret_wire(**over: Any) -> dict[str, Any]:
    return {"id": SID, "type": "s3", "endpoint": "s3.example.com", "bucket_name": "models",
            "region": "us-east-1", "secure": True, "cert_check": None, "organization_id": ORG,
            "created_at": T0, "updated_at": None, "orbits": [], **over}


def orbit_wire(**over: Any) -> dict[str, Any]:
    return {"id": OID, "name": "Research", "organization_id": ORG, "bucket_secret_id": SID,
            "total_members": 1, "total_collections": 0, "total_satellites": 0,
            "total_artifacts": 0, "role": None, "created_at": T0, "updated_at": None,
            "permissions": {"orbit": ["read"]}, **over}


def loaded(model: type[Any], data: dict[str, Any], session: Session) -> Any:
    return model._load(data, session)


# -- bucket secrets: the full-write PATCH ------------------------------------------------------


def test_secret_loaded_from_the_server_is_not_saved_without_its_keys(session: Session) -> None:
    s = loaded(BucketSecret, secret_wire(), session)
    s.bucket_name = "renamed"
    script = Script()  # nothing may be sent
    with pytest.raises(dfo.ValidationError) as info:
        script.run(s._save_op(session, False, None), session)
    assert info.value.field == "access_key, secret_key, session_token"
    assert "erase" in info.value.rule and script.sent == []


def test_secret_save_sends_every_field_with_the_keys(session: Session) -> None:
    s = loaded(BucketSecret, secret_wire(), session)
    s.access_key, s.secret_key, s.session_token = "AK", "SK", None
    s.bucket_name = "renamed"
    script = Script(("GET", f"{SECRETS}/{SID}", secret_wire()),
                    ("PATCH", f"{SECRETS}/{SID}", secret_wire(bucket_name="renamed")))
    script.run(s._save_op(session, False, None), session)
    body = script.sent[1].json
    assert body == {"type": "s3", "endpoint": "s3.example.com", "bucket_name": "renamed",
                    "region": "us-east-1", "secure": True, "cert_check": None,
                    "access_key": "AK", "secret_key": "SK", "session_token": None}
    assert s.bucket_name == "renamed" and s.changed_fields() == []


def test_secret_conflict_when_the_server_changed_the_same_field(session: Session) -> None:
    s = loaded(BucketSecret, secret_wire(), session)
    s.access_key = s.secret_key = s.session_token = "k"
    s.region = "eu-west-1"
    script = Script(("GET", f"{SECRETS}/{SID}", secret_wire(region="ap-south-1")))
    with pytest.raises(dfo.ConflictError) as info:
        script.run(s._save_op(session, False, None), session)
    assert info.value.fields == ["region"]


def test_azure_secret_update_sends_no_s3_fields(session: Session) -> None:
    conn = "DefaultEndpointsProtocol=https;AccountName=acc;AccountKey=c2VjcmV0;"
    wire = secret_wire(type="azure", endpoint=conn, region=None, secure=None)
    s = loaded(BucketSecret, wire, session)
    s.bucket_name = "container2"
    script = Script(("GET", f"{SECRETS}/{SID}", wire),
                    ("PATCH", f"{SECRETS}/{SID}", {**wire, "bucket_name": "container2"}))
    script.run(s._save_op(session, False, None), session)
    assert script.sent[1].json == {"type": "azure", "endpoint": conn,
                                   "bucket_name": "container2"}


def test_secret_values_never_shown(session: Session) -> None:
    conn = "AccountName=acc;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"
    s = BucketSecret(type="azure", endpoint=conn, bucket_name="c")
    assert "c2VjcmV0" not in repr(s) and "AccountKey=***" in repr(s)
    k = BucketSecret(endpoint="s3", bucket_name="b", region="r", access_key="AKIA123",
                     secret_key="wJalr", session_token="T0KEN-9f3")
    req = Request("POST", SECRETS, json=k._create_body())
    try:
        raise dfo.ConflictError(409, "POST", SECRETS, "boom")
    except dfo.ConflictError as exc:
        text = "".join(traceback.TracebackException.from_exception(
            exc, capture_locals=True).format())
    for shown in (repr(k), repr(req), repr(req.json), text):
        for key in ("AKIA123", "wJalr", "T0KEN-9f3"):
            assert key not in shown


def test_secret_create_validates_before_any_request(session: Session) -> None:
    with pytest.raises(dfo.ValidationError, match="region"):
        Script().run(BucketSecret(endpoint="e", bucket_name="b")._save_op(session, False, None),
                     session)
    with pytest.raises(dfo.ValidationError, match="type"):
        BucketSecret(type="gcs")
    with pytest.raises(dfo.ValidationError) as info:
        Script().run(BucketSecret(type="azure", endpoint="AccountName=a", bucket_name="c")
                     ._save_op(session, False, None), session)
    assert info.value.field == "endpoint"


# -- orbits: the partial PATCH ----------------------------------------------------------------


def test_orbit_save_sends_only_what_changed(session: Session) -> None:
    o = loaded(Orbit, orbit_wire(), session)
    o.name = "Renamed"
    script = Script(("PATCH", f"{ORBITS}/{OID}", orbit_wire(name="Renamed")))
    script.run(o._save_op(session, False, None), session)
    assert script.sent[0].json == {"name": "Renamed"}
    o.bucket_secret = BucketSecret._load(secret_wire(id=CID), session)
    assert o.changed_fields() == ["bucket_secret_id"]
    script = Script(("PATCH", f"{ORBITS}/{OID}", orbit_wire(bucket_secret_id=CID)))
    script.run(o._save_op(session, False, None), session)
    assert script.sent[0].json == {"bucket_secret_id": CID}


def test_orbit_create_takes_a_secret_object_or_id(session: Session) -> None:
    secret = BucketSecret._load(secret_wire(), session)
    for given, made in ((secret, OID), (SID, CID)):
        o = Orbit(name="New", bucket_secret=given)
        script = Script(("POST", ORBITS, orbit_wire(name="New", id=made)))
        script.run(o._save_op(session, False, None), session)
        assert script.sent[0].json == {"name": "New", "bucket_secret_id": SID}
        assert o.id == made and o.total_members == 1
    with pytest.raises(dfo.ValidationError, match="save"):
        Orbit(name="x", bucket_secret=BucketSecret(endpoint="e", bucket_name="b"))
    with pytest.raises(dfo.ValidationError, match="bucket_secret_id"):
        Script().run(Orbit(name="x")._save_op(session, False, None), session)


# -- the lost create ------------------------------------------------------------------------


def test_a_dropped_create_is_found_not_sent_twice(session: Session) -> None:
    dropped = TransportError("dropped", "POST", ORBITS)  # maybe sent
    script = Script(("POST", ORBITS, dropped),
                    ("GET", ORBITS, [orbit_wire(name="Other", id=CID),
                                     orbit_wire(name="New", created_at=_now())]))
    o = Orbit(name="New", bucket_secret=SID)
    script.run(o._save_op(session, False, None), session)
    assert o.id == OID and [r.method for r in script.sent] == ["POST", "GET"]


def test_a_refused_create_is_not_looked_for(session: Session) -> None:
    refused = dfo.ConflictError(409, "POST", ORBITS, "Organization reached maximum number")
    script = Script(("POST", ORBITS, refused))
    with pytest.raises(dfo.ConflictError):
        script.run(Orbit(name="New", bucket_secret=SID)._save_op(session, False, None), session)


# -- read-only organizations ----------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda o: o.save(), lambda o: o.delete(),
    lambda o: Organization.objects.create(name="x"),
    lambda o: Organization.objects.get_or_create(name="x"),
    lambda o: Organization.objects.filter(name="x").update(name="y"),
    lambda o: Organization.objects.all().delete(),
])
def test_writes_on_a_read_only_model_say_why(session: Session,
                                             call: Callable[[Any], Any]) -> None:
    org = Organization._load({"id": ORG, "name": "Org", "created_at": T0}, session)
    with session, pytest.raises(dfo.DataForceError, match=r"read-only.*browser sign-in"):
        call(org)


# -- declarations ---------------------------------------------------------------------------


def test_every_declared_field_is_filterable_with_its_kind() -> None:
    assert Orbit._fields["total_satellites"] == "num"
    assert "gt" in supported("num") and "icontains" in supported("str")
    q = Orbit.objects.filter(total_satellites__gte=1, name__icontains="re")
    assert q is not None
    with pytest.raises(dfo.ValidationError, match="unknown field"):
        BucketSecret.objects.filter(secret_key="x")  # type: ignore[misc]
    assert BucketSecret._editable == ("endpoint", "bucket_name", "region", "secure",
                                      "cert_check", "access_key", "secret_key",
                                      "session_token")


def _now() -> str:
    from datetime import datetime, timezone

    from dataforce_orm._wire import format_time

    return format_time(datetime.now(timezone.utc))
