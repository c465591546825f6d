"""Every non-2xx answer, and every unusable 2xx one, maps to the error tree.

Real statuses come from LocalServer over HTTP; bodies the server never sends (HTML pages,
garbage JSON, wrong shapes) come from ``responses``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from parity import MakeSession

from dataforce_orm import (
    APIError,
    AuthenticationError,
    Collection,
    ConfigurationError,
    ConflictError,
    DataForceError,
    NotFoundError,
    ObjectDoesNotExist,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Session,
    UnprocessableEntityError,
)
from dataforce_orm._http import Request
from dataforce_orm.testing import Fault, LocalServer

# -- real statuses from LocalServer -----------------------------------------------------------


def path_of(session: Session, server: LocalServer, orbit_id: str) -> str:
    return Collection._path.format(organization=server.organization_id, orbit=orbit_id)


def test_401_wrong_key(make_session: MakeSession, server: LocalServer, orbit_id: str,
                       sleeps: list[float]) -> None:
    s = make_session(api_key="dfs_not_a_real_key")
    with pytest.raises(AuthenticationError) as info:
        list(Collection.objects.using(s).filter(name="x"))
    err = info.value
    assert (err.status, err.method, err.attempts) == (401, "GET", 1)
    assert err.detail == "Not authenticated"
    assert err.url == path_of(s, server, orbit_id)  # the path only: no host, no query
    assert err.full_url == server.url + err.url  # what was requested: host, port and path
    assert str(err).startswith(f"401 GET {err.full_url}: Not authenticated")
    assert all(where in str(err) for where in ("api_key=", "DFS_API_KEY", "LUML_API_KEY"))
    assert sleeps == []
    s.close()


def test_403_not_a_member(make_session: MakeSession, server: LocalServer, orbit_id: str,
                          sleeps: list[float]) -> None:
    # An organization given as an id that the key cannot see: the server's bare 403 becomes
    # a ConfigurationError saying so (and listing what the key can see: nothing here).
    outsider = server.add_user("outsider")
    s = make_session(api_key=outsider.api_key)
    with pytest.raises(ConfigurationError) as info:
        Collection.objects.using(s).create(name="n", collection_type="model")
    assert f"no organization with id {server.organization_id!r} is visible" in str(info.value)
    assert "answered 403" in str(info.value) and "can see: none" in str(info.value)
    cause = info.value.__context__
    assert isinstance(cause, PermissionDeniedError) and cause.method == "POST"
    assert cause.url == path_of(s, server, orbit_id)
    assert server.collection_rows(orbit_id) == []
    s.close()


def test_404_unknown_orbit(make_session: MakeSession, server: LocalServer, session: Session,
                           sleeps: list[float]) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(ConfigurationError) as info:
        Collection.objects.using(make_session(orbit=missing)).count()
    assert f"no orbit with id {missing!r} is visible" in str(info.value)
    assert "'Default Orbit'" in str(info.value)
    cause = info.value.__context__
    assert isinstance(cause, NotFoundError) and cause.detail == "Orbit not found"


def test_404_unknown_collection(server: LocalServer, session: Session, orbit_id: str) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(Collection.DoesNotExist) as info:
        Collection.objects.get(id=missing)
    assert isinstance(info.value, ObjectDoesNotExist) and isinstance(info.value, LookupError)
    c = Collection(id=missing)
    with pytest.raises(Collection.DoesNotExist):
        c.refresh(discard=True)
    with pytest.raises(NotFoundError) as raw:
        session.driver.send(Request("GET", f"{path_of(session, server, orbit_id)}/{missing}"))
    assert (raw.value.status, raw.value.detail) == (404, "Collection not found")


def test_409_delete_with_artifacts(server: LocalServer, session: Session, orbit_id: str) -> None:
    c = Collection.objects.create(name="full", collection_type="dataset")
    server.set_artifact_count(str(c.id), 3)
    with pytest.raises(ConflictError) as info:
        c.delete()
    err = info.value
    assert (err.status, err.method) == (409, "DELETE")
    assert err.detail == "Collection has artifacts and cant be deleted"
    assert err.url == f"{path_of(session, server, orbit_id)}/{c.id}"
    assert c.id is not None and len(server.collection_rows(orbit_id)) == 1


@pytest.mark.parametrize(("body", "errors"), [
    ({"name": "x", "description": "d", "collection_type": "model"}, [("type", "Field required")]),
    ({"name": "n" * 101, "description": "", "type": "model"},
     [("name", "String should have at most 100 characters")]),
    ({"name": "n", "description": "", "type": "model", "tags": ["ok", "t" * 65]},
     [("tags.1", "String should have at most 64 characters")]),
    ({"name": "n", "description": "", "type": "weights"},
     [("type", "Input should be 'model', 'dataset', 'experiment', 'model_dataset', "
               "'dataset_experiment', 'model_experiment' or 'mixed'")]),
])
def test_422_details_as_field_paths(server: LocalServer, session: Session, orbit_id: str,
                                    body: dict[str, Any], errors: list[tuple[str, str]]) -> None:
    path = path_of(session, server, orbit_id)
    with pytest.raises(UnprocessableEntityError) as info:
        session.driver.send(Request("POST", path, json=body))
    err = info.value
    assert (err.status, err.method, err.url, err.attempts) == (422, "POST", path, 1)
    assert err.errors == errors
    assert err.detail == "; ".join(f"{f}: {m}" for f, m in errors)
    assert server.collection_rows(orbit_id) == []


def test_422_on_query_and_path_parameters(server: LocalServer, session: Session,
                                          orbit_id: str) -> None:
    path = path_of(session, server, orbit_id)
    with pytest.raises(UnprocessableEntityError) as info:
        session.driver.send(Request("GET", path, (("limit", "101"),)))
    assert info.value.errors == [("limit", "Input should be less than or equal to 100")]
    assert info.value.url == path
    with pytest.raises(UnprocessableEntityError) as info:
        session.driver.send(Request("GET", f"{path}/not-a-uuid"))
    ((field, msg),) = info.value.errors
    assert field == "collection_id" and msg.startswith("Input should be a valid UUID")


def test_500_text_plain_body(server: LocalServer, session: Session, orbit_id: str,
                             sleeps: list[float]) -> None:
    c = Collection.objects.create(name="n", collection_type="model")
    path = f"{path_of(session, server, orbit_id)}/{c.id}"
    with pytest.raises(ServerError) as info:
        session.driver.send(Request("PATCH", path, json={"tags": ["x"]}))  # no name: a 500
    err = info.value
    assert (err.status, err.method, err.url, err.detail) == (
        500, "PATCH", path, "Internal Server Error")
    assert err.attempts == 1 and sleeps == []  # 500 is not retried


@pytest.mark.parametrize(("status", "cls"), [
    (400, APIError), (401, AuthenticationError), (403, PermissionDeniedError),
    (404, NotFoundError), (405, APIError), (409, ConflictError),
    (422, UnprocessableEntityError), (429, RateLimitError), (500, ServerError),
    (501, ServerError), (502, ServerError), (503, ServerError), (504, ServerError),
])
def test_status_to_class(server: LocalServer, session: Session, orbit_id: str,
                         sleeps: list[float], status: int, cls: type[APIError]) -> None:
    server.add_fault(Fault(kind="status", status=status, method="GET", path=orbit_id))
    with pytest.raises(APIError) as info:
        Collection.objects.count()
    err = info.value
    assert type(err) is cls
    assert (err.status, err.method, err.url) == (status, "GET",
                                                path_of(session, server, orbit_id))
    assert err.detail and isinstance(err.detail, str)
    assert err.attempts == (session.retry.attempts if status in session.retry.statuses else 1)


def test_429_carries_retry_after(server: LocalServer, session: Session, orbit_id: str,
                                 sleeps: list[float]) -> None:
    server.add_fault(Fault(kind="status", status=429, retry_after="2", method="GET",
                           path=orbit_id))
    with pytest.raises(RateLimitError) as info:
        Collection.objects.count()
    assert info.value.retry_after == 2.0 and info.value.attempts == 5
    assert sleeps == [2.0] * 4
    assert "after 5 attempts" in str(info.value)


@pytest.mark.parametrize(("status", "cls"), [
    (401, AuthenticationError), (409, ConflictError), (503, ServerError)])
def test_async_driver_maps_the_same(server: LocalServer, session: Session, orbit_id: str,
                                    sleeps: list[float], status: int,
                                    cls: type[APIError]) -> None:
    server.add_fault(Fault(kind="status", status=status, method="GET", path=orbit_id))

    async def count() -> int:
        try:
            return await Collection.objects.acount()
        finally:
            await session.aclose()

    with pytest.raises(cls) as info:
        asyncio.run(count())
    assert info.value.status == status and info.value.url == path_of(session, server, orbit_id)


# -- bodies only a mock can produce -----------------------------------------------------------

ORG, ORBIT, CID = (str(uuid.UUID(int=n)) for n in (1, 2, 3))
BASE = "https://api.dataforce.test"
LIST = f"{BASE}/v1/organizations/{ORG}/orbits/{ORBIT}/collections"
ONE = f"{LIST}/{CID}"
GOOD = {"id": CID, "orbit_id": ORBIT, "name": "n", "description": "", "type": "model",
        "tags": None, "total_artifacts": 0, "created_at": "2026-01-01T00:00:00Z",
        "updated_at": None}


@pytest.fixture
def mocked(sleeps: list[float]) -> Iterator[tuple[responses.RequestsMock, Session]]:
    s = Session(api_key="dfs_mock", base_url=BASE, organization=ORG, orbit=ORBIT,
                retry=RetryPolicy(sleep=sleeps))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps, s:
        yield rsps, s
    s.close()


def _not_a_python_error(err: BaseException) -> None:
    assert isinstance(err, APIError)
    assert not isinstance(err, (ValueError, KeyError, TypeError, AttributeError))


HTML = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        + "<!-- padding -->\r\n" * 40 + "</body>\r\n</html>\r\n")


def test_html_error_page(mocked: tuple[responses.RequestsMock, Session],
                         sleeps: list[float]) -> None:
    rsps, _ = mocked
    rsps.get(LIST, body=HTML, status=502, content_type="text/html")
    with pytest.raises(ServerError) as info:
        Collection.objects.count()
    err = info.value
    assert (err.status, err.method, err.url) == (502, "GET", LIST.removeprefix(BASE))
    assert "502 Bad Gateway" in err.detail and len(err.detail) <= 200
    assert err.attempts == 5 and len(rsps.calls) == 5


def test_html_error_page_on_a_non_retried_status(
        mocked: tuple[responses.RequestsMock, Session]) -> None:
    rsps, _ = mocked
    rsps.get(ONE, body="<html><body>Forbidden by WAF</body></html>", status=403,
             content_type="text/html; charset=utf-8")
    with pytest.raises(PermissionDeniedError) as info:
        Collection.objects.get(id=CID)
    assert "Forbidden by WAF" in info.value.detail and info.value.attempts == 1


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b"upstream connect error", "text/plain", "upstream connect error"),
    (b'{"detail": "maintenance"', "application/json", '{"detail": "maintenance"'),
    (b'{"message": "down for maintenance"}', "application/json", "down for maintenance"),
    (b"", "application/json", "(empty body)"),
    (b"\xff\xfe bad bytes", "application/json", "bad bytes"),
])
def test_odd_error_bodies(mocked: tuple[responses.RequestsMock, Session], body: bytes,
                          content_type: str, expected: str) -> None:
    rsps, _ = mocked
    rsps.get(ONE, body=body, status=500, content_type=content_type)
    with pytest.raises(ServerError) as info:
        Collection.objects.get(id=CID)
    assert expected in info.value.detail and info.value.status == 500


def test_422_with_malformed_items(mocked: tuple[responses.RequestsMock, Session]) -> None:
    rsps, _ = mocked
    rsps.post(LIST, json={"detail": [
        {"loc": ["body", "name"], "msg": "bad"}, "not a dict", {"msg": "no loc"},
        {"loc": ["body"], "msg": "Field required"}]}, status=422)
    with pytest.raises(UnprocessableEntityError) as info:
        Collection.objects.create(name="n", collection_type="model")
    assert info.value.errors == [("name", "bad"), ("", "no loc"), ("body", "Field required")]


BAD_JSON = [
    pytest.param(b'{"items": [', id="truncated"),
    pytest.param(b"not json at all", id="invalid"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="too-deep"),
    pytest.param(b"\xff\xfe\x00", id="not-utf8"),
]


@pytest.mark.parametrize("body", BAD_JSON)
@pytest.mark.parametrize("call", ["list", "get", "create"])
def test_unreadable_json_on_200(mocked: tuple[responses.RequestsMock, Session],
                                body: bytes, call: str) -> None:
    rsps, _ = mocked
    for method, url in (("GET", LIST), ("GET", ONE), ("POST", LIST)):
        rsps.add(method, url, body=body, status=200, content_type="application/json")
    with pytest.raises(DataForceError) as info:
        _call(call)
    _not_a_python_error(info.value)
    assert info.value.status == 200 and "not valid JSON" in str(info.value)


def test_200_html_page_is_an_api_error(mocked: tuple[responses.RequestsMock, Session]) -> None:
    rsps, _ = mocked
    rsps.get(LIST, body="<html>captive portal</html>", status=200, content_type="text/html")
    with pytest.raises(APIError) as info:
        list(Collection.objects.all())
    _not_a_python_error(info.value)


def _call(call: str) -> Any:
    if call == "list":
        return list(Collection.objects.all())
    if call == "get":
        return Collection.objects.get(id=CID)
    return Collection.objects.create(name="n", collection_type="model")


WRONG_SHAPES: dict[str, list[Any]] = {
    "list": [
        None, [], "items", 5, {}, {"items": None}, {"items": {}}, {"items": ["x"]},
        {"items": [GOOD], "cursor": 5}, {"items": [None]}, {"items": [{}]},
        {"items": [{**GOOD, "id": None}]},
        {"items": [{**GOOD, "created_at": "yesterday"}]},
        {"items": [{**GOOD, "type": ["model"]}]},
        {"items": [{**GOOD, "tags": 5}]},
        {"items": [{**GOOD, "total_artifacts": "many"}]},
    ],
    "get": [None, [], [GOOD], "x", {}, {**GOOD, "id": 3},
            {**GOOD, "created_at": "not a time"}, {**GOOD, "type": 7}],
    "create": [None, [], {}, "ok", {"detail": "created"}, [GOOD],
               {**GOOD, "created_at": "soon"}, {**GOOD, "type": ["model"]},
               {**GOOD, "id": None}],
}


@pytest.mark.parametrize(("call", "data"), [
    pytest.param(call, data, id=f"{call}-{i}")
    for call, shapes in WRONG_SHAPES.items() for i, data in enumerate(shapes)
])
def test_wrong_shape_on_200(mocked: tuple[responses.RequestsMock, Session], call: str,
                            data: Any) -> None:
    rsps, _ = mocked
    body = json.dumps(data)
    for method, url in (("GET", LIST), ("GET", ONE), ("POST", LIST)):
        rsps.add(method, url, body=body, status=200, content_type="application/json")
    with pytest.raises(DataForceError) as info:
        _call(call)
    _not_a_python_error(info.value)
    assert info.value.status == 200 and info.value.attempts == 1


def test_unknown_fields_are_ignored(mocked: tuple[responses.RequestsMock, Session]) -> None:
    rsps, _ = mocked
    rsps.get(LIST, json={"items": [{**GOOD, "shiny_new_field": {"x": 1}}], "cursor": None,
                         "total": 1})
    (c,) = Collection.objects.all()
    assert c.id == CID and c.name == "n"


@pytest.mark.parametrize("bad", [{**GOOD, "created_at": "later"}, {**GOOD, "id": None}, []])
def test_wrong_shape_on_refresh_and_save(mocked: tuple[responses.RequestsMock, Session],
                                         bad: Any) -> None:
    rsps, _ = mocked
    rsps.get(ONE, json=GOOD)
    c = Collection.objects.get(id=CID)
    rsps.replace(responses.GET, ONE, json=bad)
    with pytest.raises(APIError) as info:
        c.refresh()
    _not_a_python_error(info.value)
    assert info.value.method == "GET" and info.value.url == ONE.removeprefix(BASE)
    rsps.replace(responses.GET, ONE, json=GOOD)
    rsps.patch(ONE, json=bad)
    c.name = "renamed"
    with pytest.raises(APIError) as info:
        c.save()
    _not_a_python_error(info.value)
    assert info.value.method == "PATCH" and info.value.status == 200
    assert c.id == CID and c.changed_fields() == ["name"]  # nothing half-applied
