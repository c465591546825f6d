"""The route table: (method, path template) -> handler, and the matching of a request path."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ._validation import ErrorList
from ._wire import Request, Response

# handler(user id, path ids, request, parsed body, path-id errors so far) -> Response
Handler = Callable[[str, dict[str, str], Request, Any, ErrorList], Response]

ORG = "/v1/organizations/{organization_id}"
ORBIT = ORG + "/orbits/{orbit_id}"


@dataclass(frozen=True)
class Route:
    """One route: an HTTP method, a path template with ``{name}`` segments, its handler."""

    method: str
    template: str
    handler: Handler
    reads_body: bool = False  # a DELETE whose JSON body is parsed (POST and PATCH always are)
    scopes: tuple[str, ...] = ("jwt", "api_key")  # the principals admitted (see Access)


class RouteTable:
    """Routes matched in the order given (a literal segment must come before a ``{name}``
    one at the same place, e.g. ``entries/by-stage`` before ``entries/{entry_id}``)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._paths: dict[tuple[str, ...], dict[str, Route]] = {}
        for route in routes:
            parts = tuple(route.template.split("/")[1:])
            methods = self._paths.setdefault(parts, {})
            if route.method in methods:
                raise ValueError(f"two handlers for {route.method} {route.template}")
            methods[route.method] = route

    def match(self, path: str) -> tuple[dict[str, Route], dict[str, str]] | None:
        """(routes by method, raw path parameters) for a path, or None."""
        parts = path.split("/")[1:]
        for pattern, methods in self._paths.items():
            if len(parts) != len(pattern):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, parts, strict=False):
                if want.startswith("{"):
                    if not got:
                        break
                    params[want[1:-1]] = unquote(got)
                elif want != got:
                    break
            else:
                return methods, params
        return None

    def templates(self) -> list[tuple[str, str]]:
        """(method, template) of every route, in table order."""
        return [
            (method, "/" + "/".join(parts))
            for parts, methods in self._paths.items()
            for method in methods
        ]
