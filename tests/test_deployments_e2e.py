"""Satellites and deployments end to end: LocalServer and a LocalSatellite that succeeds,
fails, or goes silent (its small poll interval and the server's movable clock: no long
sleeps)."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from parity import MakeSession

import dataforce_orm as dfo
from dataforce_orm import (
    Deployment,
    DeploymentStatus,
    RetryPolicy,
    Satellite,
    SatelliteStatus,
    Session,
)
from dataforce_orm._secrets import mask
from dataforce_orm.testing import Fault, LocalSatellite, LocalServer, make_luml_archive

POLL = 0.01  # the satellite's pause between polls
SOON = 10.0  # a wait that succeeds well before this


@pytest.fixture
def live(server: LocalServer, make_session: MakeSession) -> Iterator[Session]:
    """A current session whose waits really sleep (polling a satellite thread)."""
    server.set_organization_limits(server.organization_id, satellites=10_000)
    with make_session(retry=RetryPolicy()) as s:
        yield s


@pytest.fixture
def artifact(live: Session, tmp_path: Path) -> dfo.Artifact:
    coll = dfo.Collection.objects.create(name="models", collection_type="model")
    path = make_luml_archive(tmp_path / "clf.luml", name="clf")
    return coll.artifacts.upload(path, name="clf-v1")


def _satellite(name: str = "edge") -> Satellite:
    sat = Satellite(name=name, description="rack 4")
    sat.save()
    return sat


def test_a_new_satellite_holds_its_key_once_masked(server: LocalServer, live: Session) -> None:
    sat = _satellite()
    key = sat.api_key
    assert key is not None and str(key).startswith("dfssat_") and len(str(key)) == 50
    assert str(key) not in repr(sat) and repr(key) == "'***'"
    assert mask(f"key {key!s}") == "key ***"  # masked in every error and log record
    assert (sat.paired, sat.status) == (False, SatelliteStatus.INACTIVE)
    again = Satellite.objects.get(id=sat.id)
    assert again.api_key is None and "api_key" not in again.to_dict()
    new = sat.regenerate_key()
    assert sat.api_key == new and str(new) != str(key)
    old_worker = requests.get(f"{server.url}/satellites/v1/tasks",
                              headers={"Authorization": f"Bearer {key!s}"}, timeout=5)
    assert old_worker.status_code == 401  # the old key stopped at once
    with LocalSatellite(server.url, str(new), poll_interval=POLL):
        sat.refresh()
        assert sat.paired and sat.status == SatelliteStatus.ACTIVE


def test_a_rename_keeps_the_description(server: LocalServer, live: Session) -> None:
    sat = _satellite()
    sat.name = "edge-2"
    sat.save()
    row = Satellite.objects.get(id=sat.id)
    assert (row.name, row.description) == ("edge-2", "rack 4")


def test_paired_and_status_lookups(server: LocalServer, live: Session) -> None:
    a, b = _satellite("a"), _satellite("b")
    with LocalSatellite(server.url, str(a.api_key), poll_interval=POLL):
        assert [s.name for s in Satellite.objects.filter(paired=True)] == ["a"]
        assert [s.name for s in Satellite.objects.filter(status="inactive")] == ["b"]
        assert [s.name for s in Satellite.objects.filter(status=SatelliteStatus.ACTIVE)] \
            == ["a"]
    assert b.pk is not None


def test_a_lost_satellite_create_is_adopted_with_a_working_key(server: LocalServer,
                                                                live: Session) -> None:
    server.add_fault(Fault(kind="drop_after", method="POST", path="/satellites$", times=1))
    sat = _satellite("lost")
    assert [s.id for s in Satellite.objects.all()] == [sat.id]  # never a second one
    with LocalSatellite(server.url, str(sat.api_key), poll_interval=POLL):  # its key works
        sat.refresh()
        assert sat.paired


def test_a_member_who_may_not_regenerate_is_told_the_orphan(server: LocalServer,
                                                             live: Session,
                                                             orbit_id: str,
                                                             make_session: MakeSession) -> None:
    member = server.make_member(orbit_id)
    server.add_fault(Fault(kind="drop_after", method="POST", path="/satellites$", times=1))
    with make_session(api_key=member.api_key, retry=RetryPolicy()) as s, \
            pytest.raises(dfo.PermissionDeniedError) as info:
        Satellite(name="orphan").save(using=s)
    (orphan,) = Satellite.objects.all()
    assert orphan.id in str(info.value) and "orbit admin must delete" in str(info.value)


def test_deploy_wait_call_edit_roll_out_and_tear_down(server: LocalServer, live: Session,
                                                      artifact: dfo.Artifact) -> None:
    sat = _satellite()
    seen: list[str] = []
    with LocalSatellite(server.url, str(sat.api_key), poll_interval=POLL):
        dep = Deployment(artifact=artifact, satellite=sat, name="clf-prod",
                         satellite_parameters={"replicas": 2}, env_variables={"MODE": "fast"},
                         tags=["prod"])
        dep.save()
        assert dep.status == DeploymentStatus.PENDING
        dep.wait_until(DeploymentStatus.ACTIVE, timeout=SOON,
                       progress=lambda d: seen.append(str(d.status)))
        assert dep.status == DeploymentStatus.ACTIVE and seen[-1] == "active"
        assert dep.inference_url is not None
        echo = requests.post(dep.inference_url + "/predict", json={"x": 1}, timeout=5,
                             headers={"Authorization": f"Bearer {server.api_key}"})
        assert echo.json()["body"] == {"x": 1}
        schemas = dep.schemas
        assert schemas
        dep.description = "served"
        dep.save()  # the six-field PATCH: schemas and the rest sent as the server has them
        row = Deployment.objects.get(id=dep.id)
        assert (row.description, row.schemas, row.tags, row.dynamic_attributes_secrets) == (
            "served", schemas, ["prod"], {})
        dep.env_variables["MODE"] = "slow"
        before = len(server.request_log)
        with pytest.raises(dfo.ValidationError) as info:
            dep.save()
        assert info.value.field == "env_variables" and len(server.request_log) == before
        dep.env_variables["MODE"] = "fast"
        v2 = dfo.Artifact.objects.filter(collection_id=artifact.collection_id).get()
        with pytest.raises(dfo.ValidationError):  # only the copied settings may be given
            Deployment.objects.rollout(dep, v2, replicas=3)
        new = Deployment.objects.rollout(dep, v2, timeout=SOON, satellite=sat)
        assert (new.name, new.satellite_id, new.satellite_parameters, new.env_variables,
                new.tags, new.status) == ("clf-prod", sat.id, {"replicas": 2},
                                          {"MODE": "fast"}, ["prod"], DeploymentStatus.ACTIVE)
        assert dep.pk is None  # the old one is gone
        assert [d.id for d in Deployment.objects.all()] == [new.id]
        new.delete(wait=True, timeout=SOON)
        assert new.pk is None and Deployment.objects.count() == 0
    sat.delete()


def test_deploy_and_roll_out_from_a_track_stage(server: LocalServer, live: Session,
                                               artifact: dfo.Artifact, tmp_path: Path) -> None:
    sat = _satellite()
    track = dfo.Track.objects.create(name="clf", artifact_type="model",
                                     stages=["staging", "production"])
    v1 = track.entries.add(artifact, stage="production")
    v2_art = dfo.Collection.objects.get(name="models").artifacts.upload(
        make_luml_archive(tmp_path / "v2.luml"), name="clf-v2")
    v2 = track.entries.add(v2_art, stage="staging")
    with pytest.raises(dfo.ValidationError) as bad:  # checked before any request
        Deployment(track=track, stage="canary", satellite=sat)
    assert bad.value.field == "stage" and "no stage 'canary'" in str(bad.value)
    with pytest.raises(dfo.ValidationError) as both:
        Deployment(artifact, track=track, stage="production", satellite=sat)
    assert both.value.field == "artifact"
    v1.promote(None)
    posts = sum(1 for m, _ in server.request_log if m == "POST")
    with pytest.raises(dfo.ValidationError) as empty:  # nobody holds production now
        Deployment.objects.create(track=track, stage="production", satellite=sat)
    assert empty.value.field == "stage" and "promote one first" in str(empty.value)
    assert sum(1 for m, _ in server.request_log if m == "POST") == posts
    v1.promote("production")
    with LocalSatellite(server.url, str(sat.api_key), poll_interval=POLL):
        dep = Deployment.objects.create(track=track, stage="production", satellite=sat)
        assert (dep.artifact_id, dep.name) == (artifact.id, "clf-v1")  # the holder's
        dep.wait_until(timeout=SOON)
        by_entry = Deployment(v2, satellite=sat)  # an entry: its artifact, named after it
        assert (by_entry.artifact_id, by_entry.name) == (v2_art.id, "clf-v2")
        v2.promote("production", force=True)
        new = Deployment.objects.rollout(dep, track=track, stage="production", timeout=SOON)
        assert (new.artifact_id, new.name, new.status) == (v2_art.id, "clf-v1",
                                                           DeploymentStatus.ACTIVE)
        assert dep.pk is None and [d.id for d in Deployment.objects.all()] == [new.id]

        async def main() -> None:  # the async path resolves the stage the same way
            return await Deployment.objects.arollout(new, track=track, stage="staging",
                                                      wait=False, timeout=SOON)

        with pytest.raises(dfo.RolloutError) as rolled:  # staging is empty now
            asyncio.run(main())
        assert rolled.value.step == "deploy" and isinstance(rolled.value.__cause__,
                                                            dfo.ValidationError)
        new.delete(wait=True, timeout=SOON)
    track.entries.remove([v1, v2])
    track.delete()
    sat.delete()


def test_a_failing_satellite(server: LocalServer, live: Session,
                             artifact: dfo.Artifact) -> None:
    sat = _satellite()
    with LocalSatellite(server.url, str(sat.api_key), poll_interval=POLL) as local:
        old = Deployment.objects.create(artifact=artifact, satellite=sat, name="svc")
        old.wait_until(timeout=SOON)
        local.fail = True
        bad = Deployment.objects.create(artifact=artifact, satellite=sat, name="svc-bad")
        with pytest.raises(dfo.DeploymentFailedError) as info:
            bad.wait_until(timeout=SOON)
        assert info.value.instance is bad and bad.status == DeploymentStatus.FAILED
        assert info.value.error_message == bad.error_message and "error" in bad.error_message
        with pytest.raises(dfo.RolloutError) as rolled:
            Deployment.objects.rollout(old, artifact, timeout=SOON)
        err = rolled.value
        assert err.step == "wait" and err.old is old and err.new is not None
        assert isinstance(err.__cause__, dfo.DeploymentFailedError)
        old.refresh()
        assert old.status == DeploymentStatus.ACTIVE  # untouched, still serving
        assert err.new.status == DeploymentStatus.DELETION_PENDING  # its deletion queued
        bad.delete(wait=True, timeout=SOON)
        old.delete(wait=True, timeout=SOON)
        assert [d.id for d in Deployment.objects.all()] == []  # the satellite removed all


def test_a_silent_satellite_times_out_naming_its_last_seen_time(
        server: LocalServer, live: Session, artifact: dfo.Artifact) -> None:
    sat = _satellite()
    with LocalSatellite(server.url, str(sat.api_key), poll_interval=POLL) as local:
        old = Deployment.objects.create(artifact=artifact, satellite=sat, name="svc")
        old.wait_until(timeout=SOON)
        local.silent = True
        server.advance_clock(21 * 60)  # 20 minutes unseen: the platform says error
        dep = Deployment.objects.create(artifact=artifact, satellite=sat, name="late")
        attempts = len(server.request_log)
        with pytest.raises(dfo.TimeoutError) as info:
            dep.wait_until(timeout=0.3)
        assert info.value.instance is dep and dep.status == DeploymentStatus.PENDING
        text = str(info.value)
        assert "is error" in text and "last seen 20" in text, text
        assert len(server.request_log) - attempts < 40  # it polled with backoff
        with pytest.raises(dfo.RolloutError) as rolled:
            Deployment.objects.rollout(old, artifact, timeout=0.2)
        assert rolled.value.step == "wait" and isinstance(rolled.value.__cause__,
                                                          dfo.TimeoutError)
        with pytest.raises(dfo.TimeoutError):
            old.delete(wait=True, timeout=0.2)
        old.refresh()
        assert old.status == DeploymentStatus.DELETION_PENDING  # the offline case
        for d in Deployment.objects.all():
            d.delete(force=True)  # the row only
    assert Deployment.objects.count() == 0
    sat.delete()


def test_secret_ids_are_checked_before_the_create(server: LocalServer, live: Session,
                                                  artifact: dfo.Artifact,
                                                  orbit_id: str) -> None:
    sat = _satellite()
    secret = server.make_orbit_secret("TOKEN", "s3cr3t-value", orbit_id=orbit_id)
    as_object = types.SimpleNamespace(pk=secret["id"])  # any object with a pk or an id
    unknown = "01900000-0000-7000-8000-000000000000"
    posts = sum(1 for m, p in server.request_log if m == "POST")
    with pytest.raises(dfo.ValidationError) as info:
        Deployment(artifact=artifact, satellite=sat, name="x",
                   dynamic_attributes_secrets={"key": unknown}).save()
    assert info.value.field == "dynamic_attributes_secrets['key']"
    assert sum(1 for m, p in server.request_log if m == "POST") == posts
    dep = Deployment(artifact=artifact, satellite=sat, name="x",
                     env_variables_secrets={"TOKEN": as_object})
    dep.save()
    assert dep.env_variables_secrets == {"TOKEN": secret["id"]}
    with pytest.raises(dfo.ValidationError):
        Deployment(artifact=artifact, satellite=sat, name="x",
                   env_variables_secrets={"TOKEN": 42}).save()
    dep.delete(force=True)


def test_a_lost_deployment_create_is_never_doubled(server: LocalServer, live: Session,
                                                   artifact: dfo.Artifact) -> None:
    sat = _satellite()
    server.add_fault(Fault(kind="drop_after", method="POST", path="/deployments$", times=2))
    made = [Deployment.objects.create(artifact=artifact, satellite=sat, name="same")
            for _ in range(2)]
    rows = Deployment.objects.all()
    assert sorted(d.id for d in made) == sorted(d.id for d in rows) and len(rows) == 2
    tasks = [t for t in server.satellite_tasks(str(sat.id)) if t["type"] == "deploy"]
    assert len(tasks) == 2  # one deploy per deployment, never a second
    for d in made:
        d.delete(force=True)


def test_a_deployed_artifact_cannot_be_deleted_blindly(server: LocalServer, live: Session,
                                                       artifact: dfo.Artifact) -> None:
    sat = _satellite()
    dep = Deployment.objects.create(artifact=artifact, satellite=sat, name="svc")
    with pytest.raises(dfo.ConflictError) as info:
        artifact.delete()
    assert "svc" in str(info.value) and str(dep.id) in str(info.value)
    with pytest.raises(dfo.ConflictError) as forced:
        artifact.delete(force=True)
    assert "force_deployments" in str(forced.value)
    with pytest.raises(dfo.ConflictError) as used:
        sat.delete()
    assert "svc" in str(used.value)
    artifact.delete(force=True, force_deployments=True)
    assert Deployment.objects.count() == 0


def test_async_twins(server: LocalServer, live: Session, artifact: dfo.Artifact) -> None:
    async def main() -> None:
        dropped = server.fault_counts.get("drop_after", 0)
        server.add_fault(Fault(kind="drop_after", method="POST",
                               path="/(satellites|deployments)$", times=2))
        sat = Satellite(name="async")
        await sat.asave()  # its answer lost: adopted and re-keyed
        assert sat.api_key is not None and len(Satellite.objects.all()) == 1
        with LocalSatellite(server.url, str(sat.api_key), poll_interval=POLL):
            dep = await Deployment.objects.acreate(artifact=artifact, satellite=sat,
                                                   name="svc")  # its answer lost too
            assert len(server.satellite_tasks(str(sat.id))) == 1  # one deploy queued
            assert server.fault_counts["drop_after"] == dropped + 2
            await dep.await_until(DeploymentStatus.ACTIVE, timeout=SOON)
            new = await Deployment.objects.arollout(dep, artifact, timeout=SOON)
            assert new.status == DeploymentStatus.ACTIVE and dep.pk is None
            await new.adelete(wait=True, timeout=SOON)
        await sat.aregenerate_key()
        await sat.adelete()

    asyncio.run(main())


def test_the_facade(server: LocalServer, live: Session, orbit_id: str,
                    artifact: dfo.Artifact) -> None:
    with dfo.DataForceClient(server.url, server.api_key, server.organization_id,
                             orbit_id) as client:
        sat = client.satellites.create("facade", "d")
        assert sat.api_key is not None and client.satellites.get(str(sat.id)) == sat
        assert client.satellites.list(paired=True) == []
        renamed = client.satellites.update(str(sat.id), name="facade-2")
        assert (renamed.name, renamed.description) == ("facade-2", "d")
        key = client.satellites.regenerate_key(str(sat.id))
        with LocalSatellite(server.url, str(key), poll_interval=POLL):
            dep = client.deployments.create(str(sat.id), str(artifact.id), "svc",
                                            tags=["a"])
            up = client.deployments.wait(str(dep.id), timeout=SOON)
            assert up.status == DeploymentStatus.ACTIVE and up.inference_url
            edited = client.deployments.update(str(dep.id), description="x")
            assert (edited.description, edited.tags, edited.schemas) == ("x", ["a"], up.schemas)
            assert client.deployments.list() == [dep]
            client.deployments.delete(str(dep.id), wait=True, timeout=SOON)
            assert client.deployments.get(str(dep.id)) is None
        client.satellites.delete(str(sat.id))
        assert client.satellites.get(str(sat.id)) is None

    async def main() -> None:
        async with dfo.AsyncDataForceClient(server.url, server.api_key,
                                            organization=server.organization_id,
                                            orbit=orbit_id) as aclient:
            made = await aclient.satellites.create("async-facade")
            with LocalSatellite(server.url, str(made.api_key), poll_interval=POLL):
                dep = await aclient.deployments.create(str(made.id), str(artifact.id), "a")
                await aclient.deployments.wait(str(dep.id), timeout=SOON)
                assert [d.id for d in await aclient.deployments.list()] == [dep.id]
                await aclient.deployments.delete(str(dep.id), force=True)
            assert [s.name for s in await aclient.satellites.list()] == ["async-facade"]
            await aclient.satellites.delete(str(made.id))

    asyncio.run(main())
