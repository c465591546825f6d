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
    # the transfers ran in the workers' processes, each on its own copy of the session: this
    # process's session never opened a storage connection (its API calls alone used its pool)
    held = list(client.run(os.getpid).values())
    assert len(held) == 2 and os.getpid() not in held
    assert len(session.driver.storage._pool) == 0 and len(session.driver._pool) >= 1
    session.close()
