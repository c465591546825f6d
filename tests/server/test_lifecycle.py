"""Persistence, concurrency, loopback-only binding and the ``serve`` command."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from dfserver_helpers import Api, session_for

from dataforce_orm.testing import LocalServer


def test_context_manager_and_start_stop(tmp_path: Path) -> None:
    srv = LocalServer()
    assert srv.start() is srv
    url = srv.url
    assert requests.get(url + "/v1/auth/api-keys/validate",
                        headers={"Authorization": f"Bearer {srv.api_key}"}).status_code == 204
    srv.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/v1/auth/api-keys/validate", timeout=2)
    with LocalServer() as other:
        assert other.url != "" and other.organization_id != srv.organization_id


def test_stop_closes_keep_alive_connections() -> None:
    srv = LocalServer().start()
    s = session_for(srv.api_key)
    assert s.get(srv.url + "/v1/auth/api-keys/validate").status_code == 204
    srv.stop()
    with pytest.raises(requests.ConnectionError):
        s.get(srv.url + "/v1/auth/api-keys/validate", timeout=2)


def test_file_database_survives_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "df.sqlite")
    with LocalServer(db_path=db) as first:
        api = Api(first, session_for(first.api_key), first.organization_id, first.orbit_id)
        created = api.create(name="persisted", tags=["p"])
        ids = (first.api_key, first.organization_id, first.orbit_id, first.user_id)
    with LocalServer(db_path=db) as second:
        assert (second.api_key, second.organization_id, second.orbit_id, second.user_id) == ids
        api = Api(second, session_for(second.api_key), second.organization_id, second.orbit_id)
        assert api.get("/" + created["id"]).json()["name"] == "persisted"


def test_non_loopback_host_refused() -> None:
    with pytest.raises(ValueError, match="allow_remote"):
        LocalServer(host="0.0.0.0")
    LocalServer(host="localhost")  # accepted (not started)


def test_concurrent_creates_and_lists(api: Api) -> None:
    errors: list[str] = []

    def worker(n: int) -> None:
        client = Api(api.server, session_for(api.server.api_key), api.org, api.orbit)
        for i in range(25):
            r = client.post({"name": f"t{n}-{i}", "description": "", "type": "model"})
            if r.status_code != 200:
                errors.append(r.text)
            if client.get(params={"limit": 10}).status_code != 200:
                errors.append("list failed")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = api.server.collection_rows(api.orbit)
    assert len(rows) == 200 and len({r["id"] for r in rows}) == 200
    pages = []
    cursor = None
    while True:
        page = api.get(params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
        pages += page["items"]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert len({i["id"] for i in pages}) == 200


def _serve(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "dataforce_orm", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _exports(proc: subprocess.Popen[str]) -> dict[str, str]:
    assert proc.stdout is not None
    out = {}
    for _ in range(4):
        line = proc.stdout.readline().strip()
        assert line.startswith("export DFS_"), line
        key, _, value = line[len("export "):].partition("=")
        out[key] = value
    return out


def test_cli_serve_prints_exports_and_serves(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.sqlite")
    seen = []
    for _ in range(2):
        proc = _serve("--port", "0", "--db", db)
        try:
            env = _exports(proc)
            assert set(env) == {"DFS_BASE_URL", "DFS_API_KEY", "DFS_ORGANIZATION", "DFS_ORBIT"}
            url = (f"{env['DFS_BASE_URL']}/v1/organizations/{env['DFS_ORGANIZATION']}/orbits/"
                   f"{env['DFS_ORBIT']}/collections")
            r = requests.get(url, headers={"Authorization": f"Bearer {env['DFS_API_KEY']}"})
            assert r.status_code == 200
            seen.append((env["DFS_API_KEY"], env["DFS_ORGANIZATION"], env["DFS_ORBIT"]))
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0
            proc.communicate()
    assert seen[0] == seen[1]


def test_cli_refuses_remote_host_without_flag() -> None:
    proc = _serve("--host", "0.0.0.0", "--port", "0")
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "--allow-remote" in err


def test_restart_after_stop_keeps_data() -> None:
    srv = LocalServer().start()
    api = Api(srv, session_for(srv.api_key), srv.organization_id, srv.orbit_id)
    cid = api.create(name="kept")["id"]
    srv.stop()
    srv.start()
    try:
        fresh = Api(srv, session_for(srv.api_key), srv.organization_id, srv.orbit_id)
        assert fresh.get("/" + cid).json()["name"] == "kept"
    finally:
        srv.stop()
