"""The workflow of examples/09_workflow.py (pack, upload with metrics, pick the best, cached
download, bulk, an async step) against the external S3 path: LocalServer presigning for a
moto S3 server, as the platform does for a bucket secret of the user's own."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataforce_orm import BucketSecret, RetryPolicy, Session
from dataforce_orm.testing import LocalServer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "09_workflow.py"


@pytest.fixture
def on_moto(moto_s3: Any) -> Iterator[Session]:
    with LocalServer() as srv:
        s = Session(api_key=srv.api_key, base_url=srv.url, organization=srv.organization_id,
                    retry=RetryPolicy(sleep=lambda _: None))
        with s:
            secret = BucketSecret(endpoint=moto_s3.endpoint, bucket_name=moto_s3.bucket,
                                  region=moto_s3.region, secure=False,
                                  access_key=moto_s3.access_key,
                                  secret_key=moto_s3.secret_key)
            secret.save()
            s.orbit = srv.add_orbit(srv.organization_id, "moto-workflow",
                                    bucket_secret_id=secret.id)
            yield s
        s.close()


def test_the_workflow_runs_on_moto(on_moto: Session, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("workflow_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    on_moto.cache_dir = str(tmp_path / "cache")
    example.run(tmp_path, "moto-workflow")
    out = capsys.readouterr().out
    for line in ("auc>=0.85 ['churn-v1', 'churn-v2']", "same bytes: True",
                 "bulk      rows.csv, ValidationError", "bulk down 4 files",
                 "async     rows-async", "deleted   moto-workflow"):
        assert line in out, out
