"""Section 1 and 2: paths, headers, routing answers, authentication."""

from __future__ import annotations

import socket

import requests
from dfserver_helpers import Api, session_for

from dataforce_orm.testing import LocalServer

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "x-xss-protection": "1; mode=block",
    "referrer-policy": "strict-origin-when-cross-origin",
    "content-security-policy": "frame-ancestors 'none';",
}


def _has_security_headers(r: requests.Response) -> bool:
    return all(r.headers.get(k) == v for k, v in SECURITY.items())


def test_url_shape(server: LocalServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    assert not server.url.endswith("/")
    assert server.api_key.startswith("dfs_") and len(server.api_key) == 47


def test_security_headers_on_every_kind_of_answer(api: Api) -> None:
    cid = api.create()["id"]
    answers = [
        api.get(), api.get("/" + cid), api.get("/nope-not-uuid"), api.delete(cid),
        api.session.get(api.server.url + "/nowhere"), api.session.put(api.url("/" + cid)),
        requests.get(api.base), api.get("/", allow_redirects=False), api.patch(cid, {}),
    ]
    assert [r.status_code for r in answers] == [200, 200, 422, 204, 404, 405, 401, 307, 404]
    assert all(_has_security_headers(r) for r in answers)


def test_unknown_route_is_404_not_found(server: LocalServer, session: requests.Session) -> None:
    for path in ("/", "/collections", "/v1", "/v2/users/me/organizations", "/v1/nothing"):
        r = session.get(server.url + path)
        assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})


def test_unknown_route_is_404_even_without_auth(server: LocalServer) -> None:
    r = requests.post(server.url + "/v1/whatever")
    assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})


def test_trailing_slash_redirects_307_absolute(api: Api) -> None:
    r = api.session.get(api.base + "/?limit=5", allow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == api.base + "?limit=5"
    followed = api.session.get(api.base + "/")
    assert followed.status_code == 200 and followed.json() == {"items": [], "cursor": None}


def test_put_is_405(api: Api) -> None:
    cid = api.create()["id"]
    r = api.session.put(api.url("/" + cid), json={"name": "x"})
    assert (r.status_code, r.json()) == (405, {"detail": "Method Not Allowed"})
    assert r.headers["allow"] == "GET"


def test_post_to_item_and_delete_on_list_are_405(api: Api) -> None:
    cid = api.create()["id"]
    assert api.session.post(api.url("/" + cid), json={}).status_code == 405
    assert api.session.delete(api.base).status_code == 405


def test_keep_alive_reuses_one_connection(api: Api) -> None:
    with socket.create_connection(("127.0.0.1", api.server.port)) as sock:
        path = api.base.split(str(api.server.port), 1)[1]
        request = (
            f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.server.api_key}\r\n\r\n"
        ).encode()
        for _ in range(3):
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            while len(body) < length:
                body += sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 200")
            assert b"connection: close" not in head.lower()


# -- authentication ---------------------------------------------------------------------------


def test_auth_failures_are_all_the_same_401(api: Api) -> None:
    key = api.server.api_key
    variants: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer dfs_" + "x" * 43},
        {"Authorization": f"Token {key}"},
        {"Authorization": key},
        {"X-API-Key": key},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {key} extra"},
        {"Authorization": "Bearer dfssat_abc"},
    ]
    for headers in variants:
        r = requests.get(api.base, headers=headers)
        assert (r.status_code, r.json()) == (401, {"detail": "Not authenticated"}), headers


def test_bearer_scheme_is_case_insensitive(api: Api) -> None:
    for scheme in ("bearer", "BEARER", "BeArEr"):
        r = requests.get(api.base, headers={"Authorization": f"{scheme} {api.server.api_key}"})
        assert r.status_code == 200


def test_cookie_access_token_fallback(api: Api) -> None:
    r = requests.get(api.base, cookies={"access_token": api.server.api_key})
    assert r.status_code == 200
    bad = requests.get(api.base, cookies={"access_token": "dfs_nope"})
    assert bad.status_code == 401


def test_auth_before_validation(api: Api) -> None:
    r = requests.get(api.url("/not-a-uuid"), params={"limit": 0})
    assert r.status_code == 401
    r = requests.post(api.base, json={"name": 5})
    assert r.status_code == 401
    r = requests.patch(api.url("/not-a-uuid"), json={"name": ""})
    assert r.status_code == 401


def test_validate_api_key(server: LocalServer, session: requests.Session) -> None:
    r = session.get(server.url + "/v1/auth/api-keys/validate")
    assert r.status_code == 204 and r.content == b""
    assert requests.get(server.url + "/v1/auth/api-keys/validate").status_code == 401


def test_added_user_key_authenticates(server: LocalServer) -> None:
    user = server.add_user(name="carol")
    assert user.api_key.startswith("dfs_") and len(user.api_key) == 47
    r = session_for(user.api_key).get(server.url + "/v1/users/me/organizations")
    assert (r.status_code, r.json()) == (200, [])


# -- discovery --------------------------------------------------------------------------------


def test_my_organizations(server: LocalServer, session: requests.Session) -> None:
    orgs = session.get(server.url + "/v1/users/me/organizations").json()
    default = next(o for o in orgs if o["id"] == server.organization_id)
    assert default["name"] == "Default Organization" and default["role"] == "owner"
    assert set(default) == {"id", "name", "logo", "created_at", "updated_at", "role",
                            "permissions"}


def test_orbits_of_organization(server: LocalServer, session: requests.Session) -> None:
    r = session.get(f"{server.url}/v1/organizations/{server.organization_id}/orbits")
    assert r.status_code == 200
    orbit = next(o for o in r.json() if o["id"] == server.orbit_id)
    assert orbit["name"] == "Default Orbit"
    assert orbit["organization_id"] == server.organization_id
    assert {"bucket_secret_id", "total_members", "total_collections", "total_satellites",
            "total_artifacts", "role", "created_at", "updated_at", "permissions"} <= set(orbit)


def test_orbit_details_members_and_collections_tags(api: Api) -> None:
    api.create(tags=["prod", "Churn"])
    api.create(tags=["prod"])
    api.create(tags=None)
    r = api.session.get(f"{api.server.url}/v1/organizations/{api.org}/orbits/{api.orbit}")
    assert r.status_code == 200
    body = r.json()
    assert body["collections_tags"] == ["Churn", "prod"]
    assert body["total_collections"] == 3
    assert isinstance(body["members"], list)


def test_orbits_of_foreign_organization_is_403(server: LocalServer,
                                                session: requests.Session) -> None:
    other = server.add_organization("Foreign")
    for org in (other, "01a2194c-674c-7271-9c14-74a55ae307ab"):
        r = session.get(f"{server.url}/v1/organizations/{org}/orbits")
        assert (r.status_code, r.json()) == (403, {"detail": "Not enough rights"})


def test_orbit_details_of_unknown_orbit_is_404(server: LocalServer,
                                                session: requests.Session) -> None:
    r = session.get(f"{server.url}/v1/organizations/{server.organization_id}/orbits/"
                    "01a2194c-674c-7271-9c14-74a55ae307ab")
    assert (r.status_code, r.json()) == (404, {"detail": "Orbit not found"})
