"""Orbit and BucketSecret end to end against LocalServer, through the sync API and its async
twins (``m``), and through the facade's ``client.orbits`` / ``client.bucket_secrets``.

Each test gets an organization of its own (the API key's user owns it), so the orbit limit and
the bucket secrets it sees are its own.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from parity import MakeSession

import dataforce_orm as dfo
from dataforce_orm import (
    AsyncDataForceClient,
    BucketSecret,
    Collection,
    DataForceClient,
    Orbit,
    Organization,
    Session,
)
from dataforce_orm.testing import LocalServer

_orgs = itertools.count()
KEYS = {"access_key": "AKIA-e2e-1", "secret_key": "s3cr3t-e2e-1", "session_token": None}


@pytest.fixture
def org(server: LocalServer) -> str:
    return server.add_organization(f"secrets-org-{next(_orgs)}", owner=server.user_id)


@pytest.fixture
def osession(make_session: MakeSession, org: str) -> Iterator[Session]:
    """A session on the test's own organization (it has no orbit yet: none is resolved)."""
    with make_session(organization=org, orbit=None) as s:
        yield s


def _secret(bucket: str = "models", **over: Any) -> BucketSecret:
    fields: dict[str, Any] = {"endpoint": "127.0.0.1:9000", "bucket_name": bucket,
                              "region": "us-east-1", "secure": False, **KEYS, **over}
    return BucketSecret(**fields)


def _requests(server: LocalServer) -> int:
    return len(server.request_log)


def test_secret_lifecycle(m: Any, server: LocalServer, osession: Session) -> None:
    s = _secret()
    m.save(s)
    assert s.id is not None and s.organization_id is not None and s.created_at is not None
    row = server.bucket_secret_row(s.id)
    assert row is not None and (row["access_key"], row["secret_key"]) == (
        "AKIA-e2e-1", "s3cr3t-e2e-1")
    # listed and found without their keys, by any field
    listed = m.list(BucketSecret.objects.all())
    assert listed == [s] and listed[0].access_key is None
    got = m.get(BucketSecret.objects, bucket_name="models")
    assert got == s and got.secure is False and got.region == "us-east-1"
    assert m.count(BucketSecret.objects.filter(secure=True)) == 0
    # a secret loaded from the server is not saved without its keys: nothing is sent
    got.bucket_name = "renamed"
    before = _requests(server)
    with pytest.raises(dfo.ValidationError, match="erase"):
        m.save(got)
    assert _requests(server) == before and server.bucket_secret_row(s.id)["access_key"] == (
        "AKIA-e2e-1")
    # with the keys set again it writes, keeping the fields not changed
    got.access_key, got.secret_key, got.session_token = "AKIA-e2e-2", "s3cr3t-e2e-2", None
    m.save(got)
    row = server.bucket_secret_row(s.id)
    assert (row["bucket_name"], row["region"], row["access_key"]) == (
        "renamed", "us-east-1", "AKIA-e2e-2")
    assert got.changed_fields() == []
    # the object that made it still holds its keys: it saves directly
    s.refresh()
    s.region = "eu-west-1"
    m.save(s)
    row = server.bucket_secret_row(s.id)
    assert (row["bucket_name"], row["region"], row["access_key"]) == (
        "renamed", "eu-west-1", "AKIA-e2e-1")
    m.delete(s)
    assert s.id is None and server.bucket_secret_row(got.id) is None


def test_an_object_never_loaded_saves_only_with_every_key(m: Any, server: LocalServer,
                                                        osession: Session) -> None:
    """BucketSecret(id=...) with one key rotated is refused (the update writes every key:
    the ones not given would be erased), by constructor or by assignment; given them all,
    it writes."""
    s = _secret(session_token="tok-e2e-1")
    m.save(s)
    assert s.id is not None
    before = _requests(server)
    for partial in (BucketSecret(id=s.id, secret_key="rotated"), BucketSecret(id=s.id)):
        partial.secret_key = "rotated"
        with pytest.raises(dfo.ValidationError, match=r"access_key, session_token: .*erase"):
            m.save(partial)
    row = server.bucket_secret_row(s.id)
    assert _requests(server) == before and (
        row["access_key"], row["secret_key"], row["session_token"]) == (
        "AKIA-e2e-1", "s3cr3t-e2e-1", "tok-e2e-1")
    whole = BucketSecret(id=s.id, access_key="AKIA-e2e-1", session_token=None)
    whole.secret_key = "rotated"
    m.save(whole)
    row = server.bucket_secret_row(s.id)
    assert (row["access_key"], row["secret_key"], row["session_token"], row["bucket_name"]) == (
        "AKIA-e2e-1", "rotated", None, "models")


def test_secret_save_conflicts_with_a_change_on_the_server(m: Any, osession: Session) -> None:
    s = _secret()
    m.save(s)
    other = BucketSecret.objects.get(id=s.id)
    other.access_key, other.secret_key, other.session_token = "a", "b", None
    other.region = "ap-south-1"
    m.save(other)
    s.region = "eu-west-1"
    with pytest.raises(dfo.ConflictError) as info:
        m.save(s)
    assert info.value.fields == ["region"]
    m.save(s, force=True)
    assert BucketSecret.objects.get(id=s.id).region == "eu-west-1"


def test_duplicate_secret_is_a_conflict(m: Any, server: LocalServer, org: str,
                                        osession: Session) -> None:
    m.save(_secret())
    with pytest.raises(dfo.ConflictError, match="already exists"):
        m.save(_secret())
    assert len(BucketSecret.objects.all()) == 1


def test_azure_secret(m: Any, osession: Session) -> None:
    conn = "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=QUJDREVG;BlobEndpoint=x"
    s = BucketSecret(type="azure", endpoint=conn, bucket_name="container")
    m.save(s)
    assert "QUJDREVG" not in repr(s)
    s.bucket_name = "container2"
    m.save(s)  # an Azure secret has no keys to hold
    assert BucketSecret.objects.get(id=s.id).bucket_name == "container2"


def test_orbit_lifecycle(m: Any, server: LocalServer, org: str, osession: Session) -> None:
    secret, other = _secret(), _secret("other")
    m.save(secret)
    m.save(other)
    o = Orbit(name="Research", bucket_secret=secret)
    m.save(o)
    assert o.id is not None and o.bucket_secret_id == secret.id and o.organization_id == org
    # one orbit per organization unless raised: the second is refused, nothing is left
    with pytest.raises(dfo.ConflictError, match="maximum number of orbits"):
        m.save(Orbit(name="Second", bucket_secret=secret.id))
    assert m.count(Orbit.objects.all()) == 1
    server.set_organization_limits(org, orbits=3)
    second = Orbit(name="Second", bucket_secret=secret.id)
    m.save(second)
    # rename and change of secret: the PATCH is partial
    o.name = "Renamed"
    m.save(o)
    o.bucket_secret = other
    m.save(o)
    fresh = m.get(Orbit.objects, name="Renamed")
    assert fresh.bucket_secret_id == other.id and fresh.bucket_secret == other
    assert fresh.members is None  # details come with a get by id
    assert m.get(Orbit.objects, id=o.id).members[0]["role"] == "admin"
    assert m.list(Orbit.objects.filter(total_collections=0).order_by("name")) == [o, second]
    # a secret in use cannot be deleted
    with pytest.raises(dfo.ConflictError, match="currently used by orbits"):
        m.delete(other)
    m.delete(o)
    m.delete(other)
    assert m.list(Orbit.objects.all()) == [second]
    with pytest.raises(Orbit.DoesNotExist):
        m.get(Orbit.objects, name="Renamed")


def test_orbit_with_collections_works_as_the_session_orbit(server: LocalServer, org: str,
                                                          osession: Session) -> None:
    secret = _secret()
    secret.save()
    o = Orbit(name="Work", bucket_secret=secret)
    o.save()
    osession.orbit = o.id
    Collection.objects.create(name="c", collection_type="model")
    o.refresh()
    assert o.total_collections == 1 and Orbit.objects.get(total_collections__gte=1) == o


def test_bad_orbit_input_is_refused_before_any_request(server: LocalServer,
                                                      osession: Session) -> None:
    before = _requests(server)
    for bad in (lambda: Orbit(name="x" * 101, bucket_secret=server.bucket_secret_id).save(),
                lambda: Orbit(name="x").save(),
                lambda: Orbit(name="x", bucket_secret="not-a-uuid"),
                lambda: Orbit.objects.filter(total_members="many")):
        with pytest.raises(dfo.ValidationError):
            bad()
    assert _requests(server) == before


def test_organization_is_read_only(m: Any, server: LocalServer, session: Session) -> None:
    org = m.get(Organization.objects, id=server.organization_id)
    assert org.name == "Default Organization"
    org.name = "x"
    with pytest.raises(dfo.DataForceError, match="read-only"):
        m.save(org)
    with pytest.raises(dfo.DataForceError, match="read-only"):
        m.create(Organization.objects, name="y")


# -- the facade -----------------------------------------------------------------------------


def test_facade_orbits_and_secrets(server: LocalServer, org: str) -> None:
    server.set_organization_limits(org, orbits=5)
    with DataForceClient(base_url=server.url, api_key=server.api_key,
                         organization=org) as dfs:
        secret = dfs.bucket_secrets.create("127.0.0.1:9000", "bkt", "us-east-1", **{
            k: v for k, v in KEYS.items() if v})
        assert dfs.bucket_secrets.get("bkt") == secret == dfs.bucket_secrets.get(secret.id)
        assert dfs.bucket_secrets.get("missing") is None
        with pytest.raises(dfo.ValidationError, match="erase"):
            dfs.bucket_secrets.update(secret.id, bucket_name="bkt2")  # keys not given
        updated = dfs.bucket_secrets.update(secret.id, bucket_name="bkt2", access_key="a2",
                                            secret_key="s2")
        row = server.bucket_secret_row(secret.id)
        assert updated.bucket_name == "bkt2" and (row["region"], row["access_key"]) == (
            "us-east-1", "a2")
        orbit = dfs.orbits.create("Lab", secret.id)
        assert dfs.orbits.get("Lab") == orbit and dfs.orbits.list() == [orbit]
        renamed = dfs.orbits.update(name="Lab 2", orbit_id=orbit.id)
        assert renamed.name == "Lab 2" and renamed.bucket_secret_id == secret.id
        dfs.orbits.delete(orbit.id)
        assert dfs.orbits.list() == []
        dfs.bucket_secrets.delete(secret.id)
        assert dfs.bucket_secrets.list() == []


def test_async_facade_orbits_and_secrets(server: LocalServer, org: str) -> None:
    async def main() -> None:
        async with AsyncDataForceClient(base_url=server.url, api_key=server.api_key,
                                        organization=org) as dfs:
            secret = await dfs.bucket_secrets.create("127.0.0.1:9000", "abkt", "us-east-1")
            orbit = await dfs.orbits.create("ALab", secret.id)
            assert await dfs.orbits.get(orbit.id) == orbit
            assert (await dfs.orbits.update(name="ALab 2", orbit_id=orbit.id)).name == "ALab 2"
            assert await dfs.bucket_secrets.list() == [secret]
            with pytest.raises(dfo.ConflictError):
                await dfs.bucket_secrets.delete(secret.id)
            await dfs.orbits.delete(orbit.id)
            await dfs.bucket_secrets.delete(secret.id)
            assert await dfs.orbits.list() == []

    asyncio.run(main())


def test_keys_never_logged(server: LocalServer, osession: Session,
                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    s = _secret(access_key="AKIA-LOGSCAN", secret_key="SECRET-LOGSCAN")
    s.save()
    s.region = "eu-west-1"
    s.save()
    with pytest.raises(dfo.ValidationError):
        _resave(s.id)
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records) + caplog.text
    assert "LOGSCAN" not in text and caplog.records


def _resave(ident: str) -> None:
    loaded = BucketSecret.objects.get(id=ident)
    loaded.bucket_name = "x"
    loaded.save()


def test_facade_secret_update_never_erases_a_key(server: LocalServer, org: str) -> None:
    with DataForceClient(base_url=server.url, api_key=server.api_key,
                         organization=org) as dfs:
        secret = dfs.bucket_secrets.create("127.0.0.1:9000", "keys", "us-east-1",
                                           access_key="AK1", secret_key="SK1",
                                           session_token="TOK1")
        before = len(server.request_log)
        with pytest.raises(dfo.ValidationError, match="give both"):
            dfs.bucket_secrets.update(secret.id, access_key="AK2")
        assert len(server.request_log) == before
        row = server.bucket_secret_row(secret.id)
        assert (row["access_key"], row["secret_key"], row["session_token"]) == (
            "AK1", "SK1", "TOK1")
