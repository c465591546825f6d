"""Roles and what they may do: the platform's permission tables (orbit-level resources)."""

from __future__ import annotations

_ALL = ["create", "read", "list", "update", "delete"]


def org_permissions(role: str) -> dict[str, list[str]]:
    """A plausible permissions map for an organization role."""
    full = role in ("owner", "admin")
    some = _ALL if full else ["read", "list"]
    org = (
        ["read", "update", "delete"]
        if role == "owner"
        else ["read", "update"]
        if full
        else ["read"]
    )
    return {
        "organization": org,
        "organization_user": some,
        "organization_invite": some,
        "orbit": some,
        "bucket_secret": some,
        "collection": _ALL if full else [],
        "artifact": _ALL if full else [],
    }


def orbit_permissions(role: str | None) -> dict[str, list[str]]:
    """A plausible permissions map for an effective orbit role."""
    if role == "admin":
        return {"orbit": _ALL, "orbit_user": _ALL, "collection": _ALL, "artifact": _ALL}
    return {
        "orbit": ["read", "list"],
        "orbit_user": ["read", "list"],
        "collection": ["create", "read", "list", "update"],
        "artifact": ["create", "read", "list", "update"],
    }


_CRUD = ["list", "read", "create", "update", "delete"]
_ORBIT_RESOURCES = (
    "orbit", "orbit_user", "artifact", "collection", "track", "satellite", "orbit_secret",
    "deployment",
)
# the platform's tables (backend/luml/schemas/permissions.py), orbit-level resources only
_ORG_ROLE_GRANTS: dict[str, dict[str, list[str]]] = {
    "owner": {
        "orbit": ["create", "update", "delete", "list", "read"],
        "orbit_user": ["list", "create", "update", "delete", "read"],
        "satellite": ["create", "list", "read", "update", "delete"],
        "deployment": _CRUD,
        "orbit_secret": _CRUD,
        "artifact": [*_CRUD, "deploy"],
        "collection": [*_CRUD, "deploy"],
        "track": _CRUD,
    },
}
_ORG_ROLE_GRANTS["admin"] = {
    **_ORG_ROLE_GRANTS["owner"],
    "orbit": ["create", "update", "list", "read"],
}
_ORBIT_ROLE_GRANTS: dict[str, dict[str, list[str]]] = {
    "admin": {
        "orbit": ["create", "update", "delete", "list", "read"],
        "orbit_user": ["list", "create", "update", "delete", "read"],
        "artifact": [*_CRUD, "deploy"],
        "collection": _CRUD,
        "track": _CRUD,
        "satellite": ["create", "list", "read", "update", "delete"],
        "deployment": _CRUD,
        "orbit_secret": _CRUD,
    },
    "member": {
        "orbit": ["list", "read"],
        "artifact": _CRUD[:4],
        "collection": _CRUD[:4],
        "track": _CRUD[:4],
        "deployment": _CRUD[:4],
        "satellite": ["create", "list", "read"],
        "orbit_secret": ["list", "create"],
    },
}


def orbit_permissions_for(org_role: str | None, orbit_role: str | None) -> dict[str, list[str]]:
    """An Orbit's ``permissions`` as the platform computes them: an organization owner/admin
    gets the organization role's grants, anyone else the orbit role's (none: ``{}``)."""
    if org_role in _ORG_ROLE_GRANTS:
        grants = _ORG_ROLE_GRANTS[org_role]
    elif orbit_role is not None:
        grants = _ORBIT_ROLE_GRANTS[orbit_role]
    else:
        return {}
    return {r: list(grants[r]) for r in _ORBIT_RESOURCES if r in grants}



def allowed(org_role: str, orbit_role: str | None, resource: str, action: str) -> bool:
    """Whether an organization role (and the orbit role, for a plain organization member)
    may take ``action`` on an orbit's ``resource``, as the platform's permission check
    decides."""
    if org_role in _ORG_ROLE_GRANTS:
        return action in _ORG_ROLE_GRANTS[org_role].get(resource, [])
    if orbit_role is None:
        return False
    return action in _ORBIT_ROLE_GRANTS[orbit_role].get(resource, [])
