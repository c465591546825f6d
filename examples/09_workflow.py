"""The artifact workflow: pack models, upload them with their metrics, find the best by a
metric, download it through the cache, move many files at once, and one step async.

Shows ``dataforce_orm.pack`` (files or a directory into a ``.luml`` archive),
``upload(..., extra_values=...)``, ``filter(extra_values__auc__gte=...)`` and
``order_by("-extra_values__auc")``, ``download(directory=..., cache=True)`` (a second call
makes no request), ``bulk_upload`` / ``bulk_download`` (one result or error per slot) and
``aupload``.

Run it against the platform in DFS_API_KEY / DFS_BASE_URL / DFS_ORGANIZATION / DFS_ORBIT, or
against a local server (``dataforce-orm serve --port 8000`` prints the lines to export)::

    python examples/09_workflow.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from pathlib import Path

import dataforce_orm as dfo
from dataforce_orm import Artifact, Collection, CollectionType, Session


def run(work: Path, prefix: str) -> None:
    """The workflow, on the current session, with files under ``work``."""
    c = Collection.objects.create(name=prefix, collection_type=CollectionType.MIXED)
    try:
        # 1. pack what training left behind: a directory of weights and a config
        for i, auc in enumerate((0.81, 0.93, 0.88)):
            model_dir = work / f"model-{i}"
            model_dir.mkdir()
            (model_dir / "weights.bin").write_bytes(os.urandom(64 * 1024))
            (model_dir / "config.json").write_text('{"layers": 4}')
            archive = dfo.pack(model_dir, work / f"churn-v{i}.luml", type="model",
                               name=f"churn-v{i}", metadata={"framework": "numpy"})
            # 2. upload it with its metrics (upload(model_dir, type="model") packs on the way)
            a = c.artifacts.upload(archive, name=f"churn-v{i}",
                                   extra_values={"auc": auc, "epochs": 10 + i})
            print(f"uploaded  {a.name} {a.type} auc={a.extra_values['auc']}")

        # 3. find the best by a metric (checked on the client, beside the metric sort)
        good = c.artifacts.filter(extra_values__auc__gte=0.85).order_by("-extra_values__auc")
        print(f"auc>=0.85 {[a.name for a in good]}")
        best = good.first()
        assert best is not None

        # 4. download it through the cache: the second time is served without a request
        first = best.download(directory=work / "best", cache=True)
        again = best.download(directory=work / "again", cache=True)
        print(f"download  {first.relative_to(work)} and {again.relative_to(work)} "
              f"(same bytes: {first.read_bytes() == again.read_bytes()})")

        # 5. many files at once: each slot holds its artifact, or the error of that item
        data = work / "rows.csv"
        data.write_text("x,y\n1,2\n")
        results = c.artifacts.bulk_upload([data, work / "missing.csv"], concurrency=4,
                                          type="dataset")
        print("bulk      " + ", ".join(r.name if isinstance(r, Artifact) else
                                       type(r).__name__ for r in results))
        paths = Artifact.objects.bulk_download(list(c.artifacts), work / "all", concurrency=4)
        print(f"bulk down {len([p for p in paths if isinstance(p, Path)])} files")

        # 6. one step async: the same flows, awaited
        async def upload_async() -> Artifact:
            return await c.artifacts.aupload(data, name="rows-async", type="dataset")

        print(f"async     {asyncio.run(upload_async()).name}")
    finally:
        for a in c.artifacts.all():
            a.delete()
        c.delete()
        print(f"deleted   {prefix}")


def main() -> None:
    prefix = f"workflow-{uuid.uuid4().hex[:6]}"
    # (a cache of its own, so the example leaves nothing in the user's cache)
    with tempfile.TemporaryDirectory() as tmp, Session(cache_dir=Path(tmp) / "cache"):
        run(Path(tmp), prefix)


if __name__ == "__main__":
    main()
