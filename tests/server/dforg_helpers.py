"""A fresh organization per test, with its owner and role-holding users (orbit and
bucket-secret conformance tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests
from dfserver_helpers import session_for

from dataforce_orm.testing import LocalServer, User


@dataclass
class Org:
    """An organization whose owner's session is ``http``; ``url('/orbits')`` etc."""

    server: LocalServer
    id: str
    owner: User
    http: requests.Session
    sessions: list[requests.Session] = field(default_factory=list)

    def url(self, path: str = "") -> str:
        return f"{self.server.url}/v1/organizations/{self.id}{path}"

    def user(self, org_role: str | None, name: str = "user") -> tuple[User, requests.Session]:
        """A new user holding org_role here (None: not a member) and their session."""
        user = self.server.add_user(name)
        if org_role is not None:
            self.server.add_member(self.id, user.id, org_role)
        s = session_for(user.api_key)
        self.sessions.append(s)
        return user, s

    def secret(self, **fields: Any) -> str:
        return self.server.add_bucket_secret(self.id, **fields)

    def close(self) -> None:
        for s in [self.http, *self.sessions]:
            s.close()


def new_org(server: LocalServer, name: str = "Org") -> Org:
    owner = server.add_user("owner")
    org = server.add_organization(name, owner=owner.id)
    return Org(server, org, owner, session_for(owner.api_key))
