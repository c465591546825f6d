"""LocalSatellite: a satellite agent in a thread that works its task queue over HTTP and
serves its deployments on loopback (a JSON echo behind the platform's key check)."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import requests

from .. import _secrets
from .._errors import ConfigurationError
from .._http import is_loopback
from ._ids import parse_uuid

log = logging.getLogger("dataforce_orm")  # the logger whose records are masked

_TIMEOUT = (5.0, 10.0)  # connect, read (seconds) for every call to the platform
_MAX_ANSWER = 4 * 1024 * 1024  # the most a platform answer may hold
_MAX_BODY = 1024 * 1024  # the largest inference request body served
_FIELDS = ("inference_url", "status", "schemas", "error_message", "tags")
FAILURE = {"error": "LocalSatellite was asked to fail", "reason": "fail=True"}


class _PlatformError(Exception):
    """A platform call that did not answer as expected."""


class LocalSatellite:
    """A satellite for tests: pairs with ``base_url`` (a LocalServer's ``url`` or any
    platform's) using the satellite's one-time ``api_key`` (``dfssat_...``), then polls its
    task queue in a thread, using only the worker HTTP routes.

    A ``deploy`` task brings the deployment up: ``status`` ``active`` and an
    ``inference_url`` on loopback that answers a JSON echo of the request (method, path,
    body) to callers whose ``Authorization: Bearer dfs_...`` key the platform says may read
    the orbit's deployments. With ``fail`` set the deployment becomes ``failed`` with an
    ``error_message`` of ``{error, reason}`` instead. An ``undeploy`` task deletes the
    deployment. With ``silent`` set the satellite stops calling the platform, so new
    deployments stay ``pending`` (and a deletion ``deletion_pending``) and the satellite's
    ``last_seen_at`` stops moving. ``fail`` and ``silent`` may be changed while it runs.

    ``with LocalSatellite(srv.url, key) as satellite:`` pairs before the block starts (a
    ``ConfigurationError`` if the platform refuses) and stops at its end.
    ``host`` is the loopback address it serves on. ``poll_interval`` is the pause between
    polls, in seconds; ``rounds`` counts the rounds
    done (silent ones too), so a test can wait for some to pass. ``satellite`` is the
    Satellite the pairing answered.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        fail: bool = False,
        silent: bool = False,
        poll_interval: float = 0.05,
        host: str = "127.0.0.1",
    ) -> None:
        if not str(api_key).startswith("dfssat_"):
            raise ConfigurationError("api_key: a satellite key starts with 'dfssat_'")
        if not is_loopback(host):
            raise ConfigurationError(f"host: {host!r} is not a loopback address")
        _secrets.register(api_key)
        self.base_url = base_url.rstrip("/")
        self.fail = fail
        self._polling = threading.Lock()  # held while a round calls the platform
        self._silent = silent
        self.poll_interval = poll_interval
        self._host = host
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {api_key}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._server: ThreadingHTTPServer | None = None
        self._serving: set[str] = set()
        self._lock = threading.Lock()
        self.satellite: dict[str, Any] | None = None
        self.rounds = 0

    def __repr__(self) -> str:
        return f"LocalSatellite({self.base_url!r}, fail={self.fail}, silent={self.silent})"

    @property
    def silent(self) -> bool:
        """Whether the satellite has stopped calling the platform. Setting it to True
        returns once a round under way has ended, so nothing it sends lands after."""
        return self._silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self._silent = bool(value)
        if self._silent and self._thread is not threading.current_thread():
            with self._polling:
                pass

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Where the satellite serves its deployments (``http://host:port``)."""
        if self._server is None:
            raise ConfigurationError("the LocalSatellite is not running")
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> LocalSatellite:
        """Serve on loopback, pair, and start working the task queue; returns self."""
        if self._thread is not None:
            return self
        self._server = _InferenceServer((self._host, 0), self)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         name="local-satellite-http", daemon=True).start()
        try:
            self.satellite = self._call(
                "POST", "/pair", {"base_url": self.url, "capabilities": {"deploy": None}}
            )
        except (_PlatformError, requests.RequestException) as exc:
            self._close_server()
            raise ConfigurationError(f"the satellite could not pair with {self.base_url}: "
                                     f"{_secrets.mask(str(exc))}") from None
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="local-satellite", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling and serving (deployments keep their last status)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close_server()
        self._http.close()

    def _close_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> LocalSatellite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the platform ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        """One worker call; the JSON answer (None for 204)."""
        with self._http.request(method, self.base_url + "/satellites/v1" + path, json=body,
                                timeout=_TIMEOUT, stream=True) as r:
            raw = r.raw.read(_MAX_ANSWER + 1, decode_content=True)
            if len(raw) > _MAX_ANSWER:
                raise _PlatformError(f"{method} {path}: the answer is too large")
            if r.status_code == 204:
                return None
            if r.status_code != 200:
                text = raw[:300].decode("utf-8", "replace")
                raise _PlatformError(f"{method} {path}: {r.status_code} {text}")
            try:
                return json.loads(raw)
            except ValueError:
                raise _PlatformError(f"{method} {path}: the answer is not JSON") from None

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._polling:
                if not self.silent:
                    try:
                        self._poll()
                    except Exception as exc:  # a refused call, a strange answer: next round
                        log.warning("satellite poll failed: %s", _secrets.mask(str(exc)))
            self.rounds += 1
            self._stop.wait(self.poll_interval)

    def _poll(self) -> None:
        tasks = self._call("GET", "/tasks")
        if not isinstance(tasks, list):
            raise _PlatformError("the task list is not a list")
        for task in tasks:
            if self._stop.is_set() or self.silent:
                return
            if not isinstance(task, dict) or task.get("status") not in ("pending", "running"):
                continue  # finished (a running one is left from a round that broke off)
            task_id = parse_uuid(str(task.get("id", "")))
            payload = task.get("payload")
            dep_id = (parse_uuid(str(payload.get("deployment_id", "")))
                      if isinstance(payload, dict) else None)
            if task_id is None or dep_id is None:
                continue
            self._call("POST", f"/tasks/{task_id}/status", {"status": "running"})
            if task.get("type") == "deploy":
                status, result = self._deploy(dep_id)
            elif task.get("type") == "undeploy":
                status, result = self._undeploy(dep_id)
            else:
                status, result = "failed", {"error": "unknown task type", "reason": "type"}
            self._call("POST", f"/tasks/{task_id}/status", {"status": status, "result": result})

    def _deploy(self, dep_id: str) -> tuple[str, dict[str, Any]]:
        try:
            current = self._call("GET", f"/deployments/{dep_id}")
        except _PlatformError as exc:  # gone meanwhile (force-deleted)
            return "failed", {"error": str(exc)[:500], "reason": "deployment not readable"}
        if not isinstance(current, dict):
            raise _PlatformError("the deployment is not an object")
        if current.get("status") == "deletion_pending":  # deleted before it came up
            return "done", {}
        update = {k: current.get(k) for k in _FIELDS}  # the worker PATCH overwrites all five
        if self.fail:
            update.update(status="failed", inference_url=None, error_message=dict(FAILURE))
            self._call("PATCH", f"/deployments/{dep_id}", update)
            return "failed", dict(FAILURE)
        inference_url = f"{self.url}/deployments/{dep_id}"
        update.update(status="active", inference_url=inference_url, error_message=None)
        update["schemas"] = update["schemas"] or {"request": {"type": "object"},
                                                  "response": {"type": "object"}}
        with self._lock:
            self._serving.add(dep_id)
        self._call("PATCH", f"/deployments/{dep_id}", update)
        return "done", {"inference_url": inference_url}

    def _undeploy(self, dep_id: str) -> tuple[str, dict[str, Any]]:
        with self._lock:
            self._serving.discard(dep_id)
        try:
            self._call("DELETE", f"/deployments/{dep_id}")
        except _PlatformError as exc:
            if " 404 " not in str(exc):  # already gone (force-deleted) is done
                return "failed", {"error": str(exc)[:500], "reason": "delete refused"}
        return "done", {}

    # -- inference ------------------------------------------------------------------------------

    def serves(self, deployment_id: str) -> bool:
        """Whether this satellite currently serves the deployment."""
        with self._lock:
            return deployment_id in self._serving

    def authorized(self, user_key: str) -> bool:
        """Whether the platform lets this user key call the orbit's deployments."""
        try:
            answer = self._call("POST", "/deployments/inference-access", {"api_key": user_key})
        except (_PlatformError, requests.RequestException):
            return False
        return isinstance(answer, dict) and answer.get("authorized") is True


class _InferenceServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], satellite: LocalSatellite) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.satellite = satellite
        super().__init__(address, _InferenceHandler)


class _InferenceHandler(BaseHTTPRequestHandler):
    server: _InferenceServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _answer(self, status: int, data: Any) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self) -> None:
        path = self.path.split("?", 1)[0]
        parts = path.strip("/").split("/")
        dep_id = parse_uuid(parts[1]) if len(parts) >= 2 and parts[0] == "deployments" else None
        if dep_id is None or not self.server.satellite.serves(dep_id):
            self._answer(404, {"detail": "Deployment not found"})
            return
        length = int(self.headers.get("content-length") or 0)
        if length > _MAX_BODY:
            self.close_connection = True
            self._answer(413, {"detail": "Request Entity Too Large"})
            return
        raw = self.rfile.read(length) if length > 0 else b""
        scheme, _, key = (self.headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not key.startswith("dfs_"):
            self._answer(401, {"detail": "Not authenticated"})
            return
        if not self.server.satellite.authorized(key):
            self._answer(403, {"detail": "Not authorized to call this deployment"})
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._answer(422, {"detail": "The body is not JSON"})
            return
        self._answer(200, {"deployment_id": dep_id, "method": self.command, "path": path,
                           "body": body})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
