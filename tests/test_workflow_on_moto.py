"""The workflow of examples/09_workflow.py (pack, upload with metrics, pick the best, cached
download, bulk, an async step) against the external S3 path: LocalServer presigning for a
moto S3 server, as the platform does for a bucket secret of the user's own."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataforce_orm import Artifact, BucketSecret, Collection, RetryPolicy, Session
from dataforce_orm.testing import LocalServer, RequestCounter

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


async def _workflow_async(work: Path) -> list[str]:
    """The example's workflow with every call awaited: pack, upload with metrics, the best by
    a metric, a cached download, bulk up and down, tear-down; what it saw, line by line."""
    seen = []
    c = await Collection.objects.acreate(name="moto-async", collection_type="mixed")
    try:
        for i, auc in enumerate((0.81, 0.93)):
            model_dir = work / f"model-{i}"
            model_dir.mkdir()
            (model_dir / "weights.bin").write_bytes(os.urandom(32 * 1024))
            a = await c.artifacts.aupload(model_dir, name=f"churn-v{i}", type="model",
                                          extra_values={"auc": auc})
            seen.append(f"uploaded {a.name} auc={a.extra_values['auc']}")
        best = await c.artifacts.filter(extra_values__auc__gte=0.85).afirst()
        assert best is not None
        first = await best.adownload(directory=work / "best", cache=True)
        with RequestCounter() as sent:
            again = await best.adownload(directory=work / "again", cache=True)
        seen.append(f"best {best.name}, cached again with {sent.total} requests, same bytes: "
                    f"{first.read_bytes() == again.read_bytes()}")
        rows = work / "rows.csv"
        rows.write_text("x,y\n1,2\n")
        up = await c.artifacts.abulk_upload([rows, work / "missing.csv"], type="dataset")
        seen.append("bulk " + ", ".join(r.name if isinstance(r, Artifact) else type(r).__name__
                                        for r in up))
        down = await Artifact.objects.abulk_download([a async for a in c.artifacts.all()],
                                                     work / "all")
        seen.append(f"bulk down {sum(isinstance(p, Path) for p in down)} files")
    finally:
        async for a in c.artifacts.all():
            await a.adelete()
        await c.adelete()
    return seen


def test_the_workflow_runs_async_on_moto(on_moto: Session, tmp_path: Path) -> None:
    on_moto.cache_dir = str(tmp_path / "cache")
    seen = asyncio.run(_workflow_async(tmp_path))
    assert seen == ["uploaded churn-v0 auc=0.81", "uploaded churn-v1 auc=0.93",
                    "best churn-v1, cached again with 0 requests, same bytes: True",
                    "bulk rows.csv, ValidationError", "bulk down 3 files"]
