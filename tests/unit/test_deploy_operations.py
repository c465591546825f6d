"""Satellite and deployment operations driven with canned answers: exactly what goes on the
wire for the platform's quirks (contract 3.2, 3.3)."""

from __future__ import annotations

import pickle
import types
from datetime import datetime, timezone
from typing import Any

import pytest

import dataforce_orm as dfo
from dataforce_orm import Deployment, DeploymentStatus, RetryPolicy, Satellite, Session
from dataforce_orm._errors import TransportError
from dataforce_orm._secrets import mask

from .test_operations import ORBIT, ORG, Script

BASE = f"/v1/organizations/{ORG}/orbits/{ORBIT}"
SATS, DEPS = f"{BASE}/satellites", f"{BASE}/deployments"
SAT = "01a22ad6-0000-7000-8000-0000000000a1"
DEP = "01a22ad6-0000-7000-8000-0000000000d1"
ART = "01a22ad6-0000-7000-8000-0000000000f1"
KEY = "dfssat_" + "k" * 43
NEW_KEY = "dfssat_" + "n" * 43


def now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


@pytest.fixture
def session() -> Session:
    return Session(api_key="dfs_unit", base_url="http://127.0.0.1:9", organization=ORG,
                   orbit=ORBIT, retry=RetryPolicy(sleep=lambda s: None))


def sat_wire(**over: Any) -> dict[str, Any]:
    return {"id": SAT, "orbit_id": ORBIT, "name": "edge", "description": "rack",
            "base_url": None, "paired": False, "capabilities": {}, "slug": None,
            "created_at": now(), "updated_at": None, "last_seen_at": None,
            "status": "inactive", **over}


def dep_wire(**over: Any) -> dict[str, Any]:
    return {"id": DEP, "orbit_id": ORBIT, "satellite_id": SAT, "satellite_name": "edge",
            "name": "svc", "artifact_id": ART, "artifact_name": "clf", "collection_id": None,
            "inference_url": None, "status": "pending", "satellite_parameters": {"n": 1},
            "description": None, "dynamic_attributes_secrets": {}, "env_variables_secrets": {},
            "env_variables": {"A": "b"}, "schemas": {}, "error_message": None,
            "created_by_user": "u", "tags": ["prod"], "created_at": now(), "updated_at": None,
            **over}


def test_a_satellite_rename_sends_the_description_too(session: Session) -> None:
    sat = Satellite._load(sat_wire(), session)
    sat.name = "edge-2"
    script = Script(("GET", f"{SATS}/{SAT}", sat_wire()),
                    ("PATCH", f"{SATS}/{SAT}", sat_wire(name="edge-2")))
    script.run(sat._save_op(session, False, None), session)
    assert script.sent[1].json == {"name": "edge-2", "description": "rack"}


def test_the_key_is_held_once_and_masked(session: Session) -> None:
    sat = Satellite(name="edge")
    script = Script(("POST", SATS, {"satellite": sat_wire(), "api_key": KEY}))
    script.run(sat._save_op(session, False, None), session)
    assert str(sat.api_key) == KEY and KEY not in repr(sat) and mask(KEY) == "***"
    assert script.sent[0].json == {"name": "edge", "description": None}


def test_a_lost_satellite_create_adopts_the_orphan_and_regenerates(session: Session) -> None:
    sat = Satellite(name="edge")
    lost = TransportError("connection closed mid-answer", "POST", SATS)
    other = sat_wire(id="01a22ad6-0000-7000-8000-0000000000a2", paired=True)
    script = Script(("POST", SATS, lost),
                    ("GET", SATS, [other, sat_wire()]),
                    ("POST", f"{SATS}/{SAT}/api-key", {"key": NEW_KEY}))
    script.run(sat._save_op(session, False, None), session)
    assert (sat.id, str(sat.api_key)) == (SAT, NEW_KEY)  # never a second POST


def test_an_orphan_the_key_may_not_regenerate_is_named(session: Session) -> None:
    sat = Satellite(name="edge")
    denied = dfo.PermissionDeniedError(403, "POST", f"{SATS}/{SAT}/api-key",
                                       "Not enough rights")
    script = Script(("POST", SATS, TransportError("reset", "POST", SATS)),
                    ("GET", SATS, [sat_wire()]),
                    ("POST", f"{SATS}/{SAT}/api-key", denied))
    with pytest.raises(dfo.PermissionDeniedError) as info:
        script.run(sat._save_op(session, False, None), session)
    assert SAT in str(info.value) and "an orbit admin must delete" in str(info.value)


def test_a_deployment_save_sends_all_six_fields_merged(session: Session) -> None:
    dep = Deployment._load(dep_wire(), session)
    dep.description = "served"
    server = dep_wire(schemas={"request": {}}, error_message={"error": "e"},
                      dynamic_attributes_secrets=None)
    script = Script(("GET", f"{DEPS}/{DEP}", server),
                    ("PATCH", f"{DEPS}/{DEP}", {**server, "description": "served",
                                                "dynamic_attributes_secrets": {}}))
    script.run(dep._save_op(session, False, None), session)
    assert script.sent[1].json == {
        "name": "svc", "description": "served", "dynamic_attributes_secrets": {},
        "tags": ["prod"], "schemas": {"request": {}}, "error_message": {"error": "e"}}


@pytest.mark.parametrize("field", ["env_variables", "satellite_parameters",
                                   "env_variables_secrets"])
def test_fields_fixed_at_create_are_refused_before_any_request(session: Session,
                                                               field: str) -> None:
    dep = Deployment._load(dep_wire(), session)
    getattr(dep, field)["X"] = "y"  # edited in place
    script = Script()
    with pytest.raises(dfo.ValidationError) as info:
        script.run(dep._save_op(session, False, None), session)
    assert info.value.field == field and "after create" in info.value.rule


def test_unknown_secret_ids_are_refused_before_the_create(session: Session) -> None:
    unknown = "01a22ad6-0000-7000-8000-0000000000e9"
    dep = Deployment(artifact=ART, satellite=SAT, name="svc",
                     env_variables_secrets={"TOKEN": unknown})
    script = Script(("GET", f"{BASE}/secrets", [{"id": "01a22ad6-0000-7000-8000-0000000000e1"}]))
    with pytest.raises(dfo.ValidationError) as info:
        script.run(dep._save_op(session, False, None), session)
    assert info.value.field == "env_variables_secrets['TOKEN']" and unknown in info.value.rule


def test_a_lost_deployment_create_is_found_not_sent_again(session: Session) -> None:
    dep = Deployment(artifact=ART, satellite=SAT, name="svc", satellite_parameters={"n": 1},
                     env_variables={"A": "b"}, tags=["prod"])
    script = Script(("POST", DEPS, TransportError("reset", "POST", DEPS)),
                    ("GET", DEPS, [dep_wire(name="other"), dep_wire()]))
    script.run(dep._save_op(session, False, None), session)
    assert dep.id == DEP and [r.method for r in script.sent] == ["POST", "GET"]


def test_a_failed_deployment_raises_with_the_satellites_reason(session: Session) -> None:
    dep = Deployment._load(dep_wire(), session)
    reason = {"error": "image pull failed", "reason": "ErrImagePull"}
    script = Script(("GET", f"{DEPS}/{DEP}", dep_wire(status="failed", error_message=reason)))
    with pytest.raises(dfo.DeploymentFailedError) as info:
        script.run(dep._wait_op(session, DeploymentStatus.ACTIVE, 60, None), session)
    assert info.value.instance is dep and info.value.error_message == reason
    assert "image pull failed" in str(info.value)
    assert pickle.loads(pickle.dumps(info.value)).error_message == reason  # errors pickle


def test_a_timeout_names_the_satellite_and_is_final(session: Session) -> None:
    dep = Deployment._load(dep_wire(), session)
    seen = "2026-11-30T05:00:00Z"
    script = Script(("GET", f"{DEPS}/{DEP}", dep_wire()),
                    ("GET", f"{SATS}/{SAT}", sat_wire(status="error", last_seen_at=seen,
                                                      paired=True)))
    with pytest.raises(dfo.TimeoutError) as info:
        script.run(dep._wait_op(session, DeploymentStatus.ACTIVE, 0, None), session)
    exc = info.value
    assert exc.instance is dep and not exc.transient and not exc.maybe_sent
    assert "still pending" in str(exc) and "is error, last seen 2026-11-30T05:00" in str(exc)


def test_a_second_delete_of_a_pending_deletion_is_not_an_error(session: Session) -> None:
    dep = Deployment._load(dep_wire(), session)
    already = dfo.ConflictError(409, "DELETE", f"{DEPS}/{DEP}",
                                "Deployment deletion already pending")
    script = Script(("DELETE", f"{DEPS}/{DEP}", already))
    script.run(dep._remove_op(session, False, 60, False, None), session)
    assert dep.status == DeploymentStatus.DELETION_PENDING and dep.id == DEP


def test_a_deployment_is_made_from_a_registry_entry_or_an_artifact() -> None:
    entry = types.SimpleNamespace(artifact_id=ART, id="01a22ad6-0000-7000-8000-0000000000c9")
    artifact = types.SimpleNamespace(pk=ART, name="clf-v3")
    satellite = types.SimpleNamespace(pk=SAT)
    from_entry = Deployment(artifact=entry, satellite=satellite, name="svc")
    assert (from_entry.artifact_id, from_entry.satellite_id) == (ART, SAT)
    assert Deployment(artifact=artifact, satellite=SAT).name == "clf-v3"  # its name
    with pytest.raises(dfo.ValidationError) as info:
        Deployment(artifact=types.SimpleNamespace(pk=None), satellite=SAT)
    assert info.value.field == "artifact"


def test_a_satellite_needs_a_name_before_any_request(session: Session) -> None:
    script = Script()  # the platform's column is NOT NULL: a create without one is a 500
    with pytest.raises(dfo.ValidationError) as info:
        script.run(Satellite(description="d")._save_op(session, False, None), session)
    assert info.value.field == "name"
