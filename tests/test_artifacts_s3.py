"""The ORM's artifact transfers against a real S3 implementation (moto in server mode on
loopback): LocalServer presigns URLs for moto as the platform signs them, and the client
uploads (one PUT, and multipart in 5 MiB parts), downloads and deletes through them."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from dataforce_orm import ArtifactStatus, BucketSecret, Collection, RetryPolicy, Session
from dataforce_orm.testing import LocalServer, make_luml_archive

MIB = 1024 * 1024
_orgs = itertools.count()


@pytest.fixture(scope="module")
def s3_server() -> Iterator[LocalServer]:
    with LocalServer(multipart_threshold=6 * MIB, multipart_part_size=5 * MIB) as srv:
        yield srv


@pytest.fixture
def on_moto(s3_server: LocalServer, moto_s3: Any) -> Iterator[Session]:
    """A session on an orbit whose bucket secret is moto's bucket."""
    org = s3_server.add_organization(f"moto-{next(_orgs)}", owner=s3_server.user_id)
    s = Session(api_key=s3_server.api_key, base_url=s3_server.url, organization=org,
                retry=RetryPolicy(sleep=lambda _: None))
    with s:
        secret = BucketSecret(endpoint=moto_s3.endpoint, bucket_name=moto_s3.bucket,
                              region=moto_s3.region, secure=False,
                              access_key=moto_s3.access_key, secret_key=moto_s3.secret_key)
        secret.save()
        s.orbit = s3_server.add_orbit(org, "moto-orbit", bucket_secret_id=secret.id)
        yield s
    s.close()


def _stored(moto_s3: Any, key: str) -> bytes:
    client = boto3.client("s3", endpoint_url=f"http://{moto_s3.endpoint}",
                          aws_access_key_id=moto_s3.access_key,
                          aws_secret_access_key=moto_s3.secret_key, region_name=moto_s3.region)
    return client.get_object(Bucket=moto_s3.bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]


@pytest.mark.parametrize("size", [200 * 1024, 11 * MIB], ids=["single", "multipart"])
def test_upload_download_delete_on_moto(on_moto: Session, moto_s3: Any, tmp_path: Path,
                                        size: int) -> None:
    c = Collection.objects.create(name="on-moto", collection_type="model")
    path = make_luml_archive(tmp_path / "m.luml", files={"w.bin": os.urandom(size)})
    a = c.artifacts.upload(path, concurrency=3)
    assert a.status is ArtifactStatus.UPLOADED and a.bucket_location is not None
    assert _stored(moto_s3, a.bucket_location) == path.read_bytes()  # moto has the bytes
    out = a.download(tmp_path / "out.luml")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == a.file_hash
    with a.open() as f:
        assert f.read(100) == path.read_bytes()[:100]
    key = a.bucket_location
    a.delete()  # delete URL, moto's DELETE, confirm
    assert c.artifacts.count() == 0
    with pytest.raises(Exception, match="NoSuchKey"):
        _stored(moto_s3, key)


def test_async_upload_on_moto(on_moto: Session, moto_s3: Any, tmp_path: Path) -> None:
    c = Collection.objects.create(name="on-moto-async", collection_type="model")
    path = make_luml_archive(tmp_path / "a.luml", files={"w.bin": os.urandom(7 * MIB)})

    async def main() -> None:
        a = await c.artifacts.aupload(path)
        assert _stored(moto_s3, str(a.bucket_location)) == path.read_bytes()
        got = await a.adownload(tmp_path)
        assert got.read_bytes() == path.read_bytes()
        await a.adelete()
        await on_moto.aclose()

    asyncio.run(main())
