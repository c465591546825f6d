"""The Dask recipe of docs/artifacts.md, run as written there: a few small artifacts uploaded
and downloaded through a two-worker LocalCluster of processes, against LocalServer."""

from __future__ import annotations

import hashlib
import os
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataforce_orm import Collection, Session
from dataforce_orm.testing import LocalServer, make_luml_archive

distributed = pytest.importorskip("distributed")

DOCS = Path(__file__).resolve().parent.parent / "docs" / "artifacts.md"


def recipe() -> types.ModuleType:
    """The recipe's definitions (the section's first code block), as a module of their own:
    not importable by the workers, so its functions travel to them by value."""
    text = DOCS.read_text()
    section = text[text.index("## Many artifacts over worker processes"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    module = types.ModuleType("dask_recipe")
    exec(compile(code[1], str(DOCS), "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_the_recipe_fans_uploads_and_downloads_over_worker_processes(
        client: Any, server: LocalServer, orbit_id: str, tmp_path: Path) -> None:
    session = Session(api_key=server.api_key, base_url=server.url,
                      organization=server.organization_id, orbit=orbit_id)
    collection = Collection.objects.using(session).create(name="fan-out",
                                                          collection_type="model")
    paths = [make_luml_archive(tmp_path / f"m{i}.luml", files={"w.bin": os.urandom(2048)})
             for i in range(4)]
    steps = recipe()
    # (twice: each call scatters the session again, while the last one's copy is released)
    ids = [*steps.upload_all(client, session, collection, [str(p) for p in paths[:2]]),
           *steps.upload_all(client, session, collection, [str(p) for p in paths[2:]])]
    stored = {a.id: a for a in collection.artifacts.all()}
    assert sorted(ids) == sorted(stored)
    want = {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    assert {a.file_hash for a in stored.values()} == want

    out = tmp_path / "downloads"
    out.mkdir()
    files = steps.download_all(client, session, list(stored.values()), str(out))
    assert {hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files} == want
    assert all(Path(f).parent == out for f in files)
    # the work ran in the workers' processes, each with its own copy of the session and its
    # own connections
    def sessions(dask_worker: Any) -> tuple[int, list[int]]:
        return os.getpid(), [len(v.driver._pool) for v in dask_worker.data.values()
                             if isinstance(v, Session)]

    held = list(client.run(sessions).values())
    assert len(held) == 2 and os.getpid() not in [pid for pid, _ in held]
    assert all(pools for _, pools in held)  # the session scattered to each worker
    assert sum(n for _, pools in held for n in pools) >= 1
    session.close()
