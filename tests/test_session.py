"""Session: configuration, organization/orbit resolution, which session a call uses, threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import dataforce_orm as dfo
from dataforce_orm import Collection, Session
from dataforce_orm import _session as session_module
from dataforce_orm.testing import LocalServer


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for prefix in ("DFS", "LUML"):
        for name in ("API_KEY", "BASE_URL", "ORGANIZATION", "ORBIT", "COLLECTION"):
            monkeypatch.delenv(f"{prefix}_{name}", raising=False)
    monkeypatch.setattr(session_module, "_default", None)
    monkeypatch.setattr(session_module, "_from_env", None)
    yield


def test_constructing_sends_nothing(server: LocalServer, clean_env: None) -> None:
    server.reset_request_log()
    Session(api_key=server.api_key, base_url=server.url, organization="Default Organization",
            orbit="Default Orbit")
    Session()
    assert server.request_log == []


def test_environment_fills_unset_values(server: LocalServer, clean_env: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUML_API_KEY", server.api_key)
    monkeypatch.setenv("LUML_BASE_URL", server.url)
    monkeypatch.setenv("DFS_ORBIT", "Default Orbit")
    monkeypatch.setenv("LUML_ORBIT", "ignored: DFS_ wins")
    s = Session()
    assert s.base_url == server.url and s.orbit == "Default Orbit"
    assert Session(base_url="https://example.com").base_url == "https://example.com"
    assert Session().base_url == server.url
    monkeypatch.delenv("LUML_BASE_URL")
    assert Session().base_url == "https://api.luml.ai"


def test_missing_key_is_a_configuration_error_at_first_request(clean_env: None) -> None:
    s = Session(base_url="http://127.0.0.1:9")
    with pytest.raises(dfo.ConfigurationError, match="DFS_API_KEY"):
        Collection.objects.using(s).count()


def test_names_resolve_with_fewest_requests(server: LocalServer, clean_env: None) -> None:
    s = Session(api_key=server.api_key, base_url=server.url,
                organization="Default Organization", orbit="Default Orbit")
    server.reset_request_log()
    Collection.objects.using(s).count()
    Collection.objects.using(s).count()
    paths = [p.split("?")[0] for _, p in server.request_log]
    assert paths[:2] == ["/v1/users/me/organizations",
                         f"/v1/organizations/{server.organization_id}/orbits"]
    assert len(paths) == 2 + 2  # resolved once, cached
    by_id = Session(api_key=server.api_key, base_url=server.url,
                    organization=server.organization_id, orbit=server.orbit_id)
    server.reset_request_log()
    Collection.objects.using(by_id).count()
    assert len(server.request_log) == 1  # ids are used as they are


def test_single_org_and_orbit_are_auto_picked(server: LocalServer, clean_env: None) -> None:
    user = server.add_user("solo")
    org = server.add_organization("Solo Org", owner=user.id)
    orbit = server.add_orbit(org, "Solo Orbit")
    s = Session(api_key=user.api_key, base_url=server.url)
    Collection.objects.using(s).create(name="auto", collection_type="model")
    assert [r["name"] for r in server.collection_rows(orbit)] == ["auto"]


def test_misses_list_what_exists(server: LocalServer, clean_env: None) -> None:
    s = Session(api_key=server.api_key, base_url=server.url, organization="Nope")
    with pytest.raises(dfo.ConfigurationError, match="'Default Organization'"):
        Collection.objects.using(s).count()
    s = Session(api_key=server.api_key, base_url=server.url,
                organization=server.organization_id, orbit="Nope")
    with pytest.raises(dfo.ConfigurationError, match="'Default Orbit'"):
        Collection.objects.using(s).count()


def test_duplicate_names_are_ambiguous(server: LocalServer, clean_env: None) -> None:
    user = server.add_user("dups")
    for _ in range(2):
        server.add_organization("Twin", owner=user.id)
    s = Session(api_key=user.api_key, base_url=server.url, organization="Twin")
    with pytest.raises(dfo.MultipleObjectsReturned, match="Twin"):
        Collection.objects.using(s).count()
    s = Session(api_key=user.api_key, base_url=server.url)
    with pytest.raises(dfo.ConfigurationError, match="has 2"):
        Collection.objects.using(s).count()


def test_which_session_a_call_uses(server: LocalServer, clean_env: None,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    orbits = [server.add_orbit(server.organization_id, f"which-{i}") for i in range(4)]

    def make(orbit: str) -> Session:
        return Session(api_key=server.api_key, base_url=server.url,
                       organization=server.organization_id, orbit=orbit)

    monkeypatch.setenv("DFS_API_KEY", server.api_key)
    monkeypatch.setenv("DFS_BASE_URL", server.url)
    monkeypatch.setenv("DFS_ORGANIZATION", server.organization_id)
    monkeypatch.setenv("DFS_ORBIT", orbits[0])
    Collection.objects.create(name="env", collection_type="model")
    dfo.configure(api_key=server.api_key, base_url=server.url,
                  organization=server.organization_id, orbit=orbits[1])
    Collection.objects.create(name="default", collection_type="model")
    outer, inner = make(orbits[2]), make(orbits[3])
    with outer:
        Collection.objects.create(name="outer", collection_type="model")
        with inner:
            Collection.objects.create(name="inner", collection_type="model")
            Collection.objects.using(outer).create(name="using", collection_type="model")
        Collection.objects.create(name="outer again", collection_type="model")
    got = [sorted(r["name"] for r in server.collection_rows(o)) for o in orbits]
    assert got == [["env"], ["default"], ["outer", "outer again", "using"], ["inner"]]


def test_current_session_does_not_leak_across_threads_or_tasks(session: Session) -> None:
    seen: list[Session] = []
    t = threading.Thread(target=lambda: seen.append(session_module.current_session()))
    other = Session(api_key="dfs_x", base_url="http://127.0.0.1:9")

    async def task(s: Session | None) -> Session:
        if s is None:
            await asyncio.sleep(0.01)
            return session_module.current_session()
        with s:
            await asyncio.sleep(0.02)
            return session_module.current_session()

    async def both() -> list[Session]:
        return list(await asyncio.gather(task(other), task(None)))

    with other:
        t.start()
        t.join()
    assert seen[0] is not other
    assert asyncio.run(both()) == [other, session]


def test_sixteen_threads_share_one_session(session: Session, server: LocalServer,
                                           orbit_id: str) -> None:
    errors: list[BaseException] = []
    made: list[str] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            for i in range(6):
                c = Collection.objects.using(session).create(
                    name=f"t{n}-{i}", collection_type="model", tags=[f"t{n}"])
                c.tags = [*(c.tags or []), "x"]
                c.save()
                assert Collection.objects.using(session).get(id=c.id).tags == [f"t{n}", "x"]
                mine = Collection.objects.using(session).filter(tags__contains=f"t{n}")
                assert mine.count() == i + 1
                with lock:
                    made.append(str(c.id))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(made) == sorted(r["id"] for r in server.collection_rows(orbit_id))
    assert len(made) == 96


def test_session_repr_and_context_close(server: LocalServer) -> None:
    s = Session(api_key=server.api_key, base_url=server.url)
    assert server.api_key not in repr(s) and "api_key=<set>" in repr(s)
    with s:
        assert session_module.current_session() is s
    assert session_module.current_session() is not s


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1:8000"])
def test_plain_http_to_remote_hosts_is_refused(url: str, clean_env: None) -> None:
    with pytest.raises(dfo.ConfigurationError, match="allow_insecure_http"):
        Session(api_key="dfs_x", base_url=url)
    assert Session(api_key="dfs_x", base_url=url, allow_insecure_http=True).base_url == url


def test_async_session_context(server: LocalServer, orbit_id: str) -> None:
    async def main() -> Any:
        async with Session(api_key=server.api_key, base_url=server.url,
                           organization=server.organization_id, orbit=orbit_id) as s:
            c = await Collection.objects.acreate(name="a", collection_type="model")
            assert session_module.current_session() is s
            return await Collection.objects.aget(id=c.id)

    assert asyncio.run(main()).name == "a"


@pytest.mark.parametrize("timeout", [0, -1, "5", (1, 2, 3), (1, None), True])
def test_bad_timeout_is_refused(timeout: Any) -> None:
    with pytest.raises(dfo.ValidationError, match="timeout"):
        Session(api_key="dfs_x", base_url="http://127.0.0.1:9", timeout=timeout)
