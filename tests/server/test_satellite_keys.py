"""Contract 0 and 3.6: a satellite key (``dfssat_``) is a principal of the wrong scope on the
user routes (403 naming the route's scopes), an unknown one is anonymous (401)."""

from __future__ import annotations

import requests
from dfserver_helpers import session_for

from dataforce_orm._routes import ORGANIZATIONS
from dataforce_orm.testing import LocalServer


def test_a_satellite_key_is_refused_with_the_routes_scopes(server: LocalServer) -> None:
    sat = session_for(server.make_satellite()[1])
    r = sat.get(f"{server.url}/v1/auth/api-keys/validate")
    assert (r.status_code, r.json()) == (
        403, {"detail": "This endpoint requires api_key authentication."})
    r = sat.get(f"{server.url}{ORGANIZATIONS}")
    assert (r.status_code, r.json()) == (
        403, {"detail": "This endpoint requires jwt, api_key authentication."})
    base = f"{server.url}/v1/organizations/{server.organization_id}/orbits/{server.orbit_id}"
    assert sat.get(f"{base}/secrets").status_code == 403


def test_an_unknown_satellite_key_is_anonymous(server: LocalServer) -> None:
    r = session_for("dfssat_" + "x" * 40).get(f"{server.url}/v1/auth/api-keys/validate")
    assert (r.status_code, r.json()) == (401, {"detail": "Not authenticated"})
    r = requests.get(f"{server.url}/v1/auth/api-keys/validate",
                     headers={"Authorization": f"Bearer {server.api_key}"})
    assert (r.status_code, r.content) == (204, b"")
