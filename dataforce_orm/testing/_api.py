"""The DataForce API, independent of the HTTP plumbing: one route table over the route groups.

Each group (``_core_api``, ``_artifacts_api``, ...) lists its routes; they share only
``_access`` (parsing, authentication, rights), ``_routing`` and ``_wire``, never each other.
"""

from __future__ import annotations

from typing import Any

from ._access import Access
from ._artifacts_api import ArtifactRoutes
from ._bucket_urls_api import BucketUrlRoutes
from ._core_api import CoreRoutes
from ._orbit_secrets_api import OrbitSecretRoutes
from ._registry_api import TrackRoutes
from ._routing import Route, RouteTable
from ._storage import PresignError, Storage
from ._store import Store
from ._validation import ErrorList
from ._wire import (
    JSON,
    Abort,
    HttpError,
    Request,
    Response,
    detail,
    internal_error,
    json_response,
)

__all__ = ["Api", "Request", "Response", "detail", "internal_error", "json_response"]


class Api:
    """Route a Request to a Response against a Store (and the storage behind artifacts)."""

    def __init__(self, store: Store, storage: Storage | None = None) -> None:
        self.store = store
        self.access = Access(store)
        self.core = CoreRoutes(store)
        storage = storage or Storage(lambda: "http://127.0.0.1")
        self.artifacts_routes = ArtifactRoutes(store, storage)
        self.artifacts = self.artifacts_routes.artifacts
        self.tracks = TrackRoutes(store)
        self.orbit_secrets = OrbitSecretRoutes(store)
        self.bucket_urls = BucketUrlRoutes(store, self.artifacts, storage)
        self.table = RouteTable(self._routes())

    def _routes(self) -> list[Route]:
        groups = (self.core, self.artifacts_routes, self.tracks, self.orbit_secrets,
                  self.bucket_urls)
        return [route for group in groups for route in group.routes()]

    def handle(self, req: Request) -> Response:
        """Answer one request; unexpected errors become the plain-text 500."""
        try:
            return self._route(req)
        except Abort as abort:
            return abort.response
        except HttpError as exc:
            return detail(exc.status, exc.message)
        except PresignError as exc:
            return detail(400, str(exc))
        except Exception:
            return internal_error()

    def _route(self, req: Request) -> Response:
        found = self.table.match(req.path)
        if found is None:
            if req.path != "/" and req.path.endswith("/") and self.table.match(req.path[:-1]):
                host = req.headers.get("host", "127.0.0.1")
                location = f"http://{host}{req.path[:-1]}" + (f"?{req.query}" if req.query else "")
                return Response(307, b"", None, [("location", location)])
            return detail(404, "Not Found")
        routes, raw = found
        method = "GET" if req.method == "HEAD" else req.method
        route = routes.get(method)
        if route is None:
            allow = [("allow", next(iter(routes)))]
            return Response(405, b'{"detail":"Method Not Allowed"}', JSON, allow)
        access = self.access
        reads_body = method in ("POST", "PATCH") or route.reads_body
        body: Any = access.parse_body(req) if reads_body else None
        user = access.authenticate(req.headers, route.template)
        errors: ErrorList = []
        ids = {key: access.path_uuid(key, value, errors) for key, value in raw.items()}
        return route.handler(user, ids, req, body, errors)
