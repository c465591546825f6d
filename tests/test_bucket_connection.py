"""BucketSecret.test_connection() and save(verify=True), against LocalServer's own storage and
against a real S3 implementation (moto on loopback): new settings before they are stored, a
stored secret with pending changes (a key rotation without sending the keys again), and the
step that failed, named."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from parity import MakeSession

from dataforce_orm import (
    BucketConnectionError,
    BucketSecret,
    ConfigurationError,
    DataForceClient,
    NotFoundError,
    RetryPolicy,
    Session,
    ValidationError,
)
from dataforce_orm.testing import LocalServer

_orgs = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """A server of this module's own (the organizations it makes are seen by no other)."""
    with LocalServer() as srv:
        yield srv


@pytest.fixture
def org_session(server: LocalServer, make_session: MakeSession) -> Iterator[Session]:
    """A current session on a fresh organization (its bucket secrets are this test's)."""
    org = server.add_organization(f"check-{next(_orgs)}", owner=server.user_id)
    with make_session(organization=org, orbit=None,
                      retry=RetryPolicy(attempts=2, sleep=lambda _: None)) as s:
        yield s


def _own(server: LocalServer, **over: Any) -> BucketSecret:
    """New settings for LocalServer's own storage."""
    fields: dict[str, Any] = {"endpoint": server.url, "bucket_name": "own", "region": "r1",
                              "secure": False, "access_key": "AK-own", "secret_key": "SK-own",
                              **over}
    return BucketSecret(**fields)


def _moto(moto_s3: Any, **over: Any) -> BucketSecret:
    fields: dict[str, Any] = {"endpoint": moto_s3.endpoint, "bucket_name": moto_s3.bucket,
                              "region": moto_s3.region, "secure": False,
                              "access_key": moto_s3.access_key,
                              "secret_key": moto_s3.secret_key, **over}
    return BucketSecret(**fields)


def _moto_keys(moto_s3: Any) -> list[str]:
    client = boto3.client("s3", endpoint_url=f"http://{moto_s3.endpoint}",
                          aws_access_key_id=moto_s3.access_key,
                          aws_secret_access_key=moto_s3.secret_key, region_name=moto_s3.region)
    listed = client.list_objects_v2(Bucket=moto_s3.bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_new_settings_on_the_local_storage(server: LocalServer, org_session: Session) -> None:
    secret = _own(server)
    secret.test_connection()
    assert secret.id is None and BucketSecret.objects.count() == 0  # nothing stored
    secret.save(verify=True)
    assert secret.id is not None and BucketSecret.objects.count() == 1


def test_a_stored_secret_is_tested_with_its_stored_keys_and_pending_changes(
        server: LocalServer, org_session: Session) -> None:
    _own(server).save()
    listed = BucketSecret.objects.get(bucket_name="own")  # loaded: no keys held
    listed.test_connection()  # the platform signs with the stored keys
    endpoint = listed.endpoint
    listed.endpoint = "127.0.0.1:9"  # nothing listens there
    with pytest.raises(BucketConnectionError, match="at its put step") as info:
        listed.test_connection()
    assert info.value.step == "put" and info.value.__cause__ is not None
    with pytest.raises(BucketConnectionError):
        listed.save(verify=True)  # the test fails: nothing is saved
    assert BucketSecret.objects.get(id=listed.id).endpoint == endpoint


def test_refusals_before_and_by_the_platform(server: LocalServer, org_session: Session) -> None:
    with pytest.raises(ValidationError, match="bucket_name: is required"):
        BucketSecret(endpoint="e", region="r").test_connection()
    with pytest.raises(ValidationError, match="region: is required"):
        BucketSecret(endpoint="e", bucket_name="b").test_connection()
    with pytest.raises(NotFoundError, match="Secret not found"):
        BucketSecret(id=server.organization_id).test_connection()  # (an id of no secret)


def test_async_twins(server: LocalServer, org_session: Session) -> None:
    async def flow() -> None:
        secret = _own(server)
        await secret.atest_connection()
        await secret.asave(verify=True)
        secret.endpoint = "127.0.0.1:9"
        with pytest.raises(BucketConnectionError, match="put"):
            await secret.asave(verify=True)

    asyncio.run(flow())


def test_the_facade_create_verifies_first_when_asked(server: LocalServer,
                                                     org_session: Session) -> None:
    settings = {"endpoint": server.url, "bucket_name": "own", "region": "r1", "secure": False,
                "access_key": "AK-own", "secret_key": "SK-own"}
    with DataForceClient(base_url=server.url, api_key=server.api_key,
                         organization=org_session.organization) as dfs:
        with pytest.raises(BucketConnectionError, match="put"):
            dfs.bucket_secrets.create(**{**settings, "endpoint": "127.0.0.1:9"}, verify=True)
        assert BucketSecret.objects.count() == 0  # nothing stored
        made = dfs.bucket_secrets.create(**settings, verify=True)
        assert made.id is not None and BucketSecret.objects.count() == 1
        unchecked = dfs.bucket_secrets.create(**{**settings, "endpoint": "127.0.0.1:9",
                                                 "bucket_name": "other"})  # the default
        assert unchecked.id is not None and BucketSecret.objects.count() == 2


# -- against moto ---------------------------------------------------------------------------


def test_moto_round_trip_leaves_nothing(org_session: Session, moto_s3: Any) -> None:
    before = _moto_keys(moto_s3)
    secret = _moto(moto_s3)
    secret.test_connection()
    secret.save(verify=True)
    assert _moto_keys(moto_s3) == before  # the test object was deleted


def test_moto_stored_secret_with_pending_changes(org_session: Session, moto_s3: Any) -> None:
    _moto(moto_s3).save()
    stored = BucketSecret.objects.get(bucket_name=moto_s3.bucket)
    stored.test_connection()  # the stored keys, never sent by the library
    stored.bucket_name = "no-such-bucket"
    stored.secret_key = "a-rotated-secret-key"
    with pytest.raises(BucketConnectionError, match="at its put step: 404") as info:
        stored.test_connection()  # the pending changes, merged over the stored settings
    assert "a-rotated-secret-key" not in str(info.value) + repr(info.value)
    stored.bucket_name, stored.secret_key = moto_s3.bucket, moto_s3.secret_key
    # (a save writes every field: each key is set again, as BucketSecret.save() requires)
    stored.access_key, stored.session_token = moto_s3.access_key, None
    stored.save(verify=True)
    assert BucketSecret.objects.get(id=stored.id).bucket_name == moto_s3.bucket


def test_moto_missing_bucket_names_the_step(org_session: Session, moto_s3: Any) -> None:
    with pytest.raises(BucketConnectionError, match="put step: 404") as info:
        _moto(moto_s3, bucket_name="no-such-bucket").test_connection()
    assert info.value.step == "put" and "NoSuchBucket" in info.value.reason


# -- the key check (contract 3.6) -------------------------------------------------------------


def test_session_check_names_a_satellite_key(server: LocalServer) -> None:
    with Session(api_key=server.api_key, base_url=server.url) as good:
        good.check()
    satellite = server.make_satellite()[1]
    with Session(api_key=satellite, base_url=server.url) as s:
        with pytest.raises(ConfigurationError, match=r"not a user API key.*403.*dfs_") as info:
            s.check()
        assert satellite not in str(info.value)
        with pytest.raises(ConfigurationError, match="not a user API key"):
            asyncio.run(s.acheck())
