"""LocalServer: the DataForce API over threaded HTTP/1.1 keep-alive on loopback."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .._http import is_loopback
from ._api import Api, Request, Response, detail
from ._faults import Fault, FaultSet
from ._fixtures import Fixtures
from ._storage import MULTIPART_THRESHOLD, Exchange, Storage, Throttle
from ._store import Store

MAX_BODY = 1024 * 1024  # larger bodies answer 413, like a proxy in front of the real service
_DRAIN_LIMIT = 64 * 1024 * 1024  # up to this, an oversize body is read so the connection lives
_MAX_LINE = 65536
_MAX_HEADERS = 100
_SECURITY_HEADERS = (
    b"x-content-type-options: nosniff\r\n"
    b"x-frame-options: DENY\r\n"
    b"x-xss-protection: 1; mode=block\r\n"
    b"referrer-policy: strict-origin-when-cross-origin\r\n"
    b"content-security-policy: frame-ancestors 'none';\r\n"
)


_date_cache: tuple[int, str] = (0, "")

def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: LocalServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is normal (timeouts, cancellation): stay quiet."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def handle_one_request(self) -> None:
        """Read one request line and its headers (a lean HTTP/1.1 parser), then answer it."""
        self.command = ""
        self.hdrs: dict[str, str] = {}
        try:
            line = self.rfile.readline(_MAX_LINE + 1)
            while line in (b"\r\n", b"\n"):
                line = self.rfile.readline(_MAX_LINE + 1)
        except OSError:
            line = b""
        if not line:
            self.close_connection = True
            return
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(line) > _MAX_LINE or len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
            self._bad_request(414 if len(line) > _MAX_LINE else 400)
            return
        self.command, self.path, self.request_version = parts
        for _ in range(_MAX_HEADERS):
            raw = self.rfile.readline(_MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, colon, value = raw.decode("latin-1").partition(":")
            if not colon or len(raw) > _MAX_LINE:
                self._bad_request(400)
                return
            key, value = name.strip().lower(), value.strip()
            self.hdrs[key] = f"{self.hdrs[key]}, {value}" if key in self.hdrs else value
        else:
            self._bad_request(431)
            return
        connection = self.hdrs.get("connection", "").lower()
        if self.request_version == "HTTP/1.0":
            self.close_connection = "keep-alive" not in connection
        else:
            self.close_connection = "close" in connection
        if self.hdrs.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self._handle()

    def _bad_request(self, status: int) -> None:
        """Malformed requests: a short plain-text answer, then close (like uvicorn)."""
        self.close_connection = True
        self._send(Response(status, b"Invalid HTTP request received.", "text/plain; charset=utf-8"))

    def _read_body(self) -> bytes | None:
        """The request body, or None when it is too large (a 413 was sent)."""
        if "chunked" in self.hdrs.get("transfer-encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline(_MAX_LINE).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > _DRAIN_LIMIT:
                    self.close_connection = True
                    self._send(detail(413, "Request Entity Too Large"))
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(_MAX_LINE)
            body = b"".join(chunks)
        else:
            length = int(self.hdrs.get("content-length") or 0)
            if length < 0:
                raise ValueError(length)
            if length > _DRAIN_LIMIT:
                self.close_connection = True
                self._send(detail(413, "Request Entity Too Large"))
                return None
            body = self.rfile.read(length) if length > 0 else b""
        if len(body) > MAX_BODY:
            self._send(detail(413, "Request Entity Too Large"))
            return None
        return body

    def _handle(self) -> None:
        app = self.server.app
        path, _, query = self.path.partition("?")
        app._log(self.command, self.path)
        if app._storage.claims(path):
            self._handle_storage(path, query)
            return
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._bad_request(400)
            return
        if body is None:
            return
        fault = (
            app._faults.pick(self.command, path)
            if path.startswith(("/v1/", "/satellites/v1/")) else None
        )
        if fault is not None:
            if fault.kind == "drop":
                self.close_connection = True
                return
            if fault.kind == "status":
                response = detail(fault.status or 500, _phrase(fault.status or 500))
                if fault.retry_after is not None:
                    response.headers.append(("retry-after", fault.retry_after))
                self._send(response)
                return
            if fault.kind in ("delay", "stall"):
                time.sleep(fault.delay)
        response = app._api.handle(Request(self.command, path, query, self.hdrs, body))
        if fault is not None and fault.kind in ("drop_after", "stall"):
            self.close_connection = True
            return
        self.close_connection = self.close_connection or response.close
        self._send(response)

    def _handle_storage(self, path: str, query: str) -> None:
        """A presigned storage request: bodies and answers streamed (see _storage.py)."""
        app = self.server.app
        throttle = None
        if app._storage.bandwidth is not None:
            throttle = getattr(self, "_throttle", None)
            if throttle is None:
                throttle = self._throttle = Throttle(app._storage.bandwidth)
        exchange = Exchange(
            self.command, path, query, self.hdrs, self.rfile, self.wfile, self.connection, throttle
        )
        fault = app._faults.pick(self.command, path, scope="storage")
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            return
        if fault is not None and fault.kind == "status":
            app._storage.fault(exchange, fault.status or 500, fault.retry_after)
            exchange.finish()
            self.close_connection = self.close_connection or not exchange.keep_alive
            return
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "drop_after":
            exchange.mute = True
        try:
            app._storage.serve(exchange)
        except ConnectionError:
            self.close_connection = True
            return
        if exchange.mute or not exchange.keep_alive:
            self.close_connection = True

    def _send(self, response: Response) -> None:
        """Headers and body in one write (no Nagle/delayed-ACK stall on keep-alive)."""
        head = [
            f"HTTP/1.1 {response.status} {_phrase(response.status)}",
            f"date: {_http_date()}",
            "server: dataforce-orm-local",
        ]
        if response.content_type is not None or response.status not in (204, 304):
            head.append(f"content-length: {len(response.body)}")
        if response.content_type is not None:
            head.append(f"content-type: {response.content_type}")
        head += [f"{k}: {v}" for k, v in response.headers]
        if self.close_connection:
            head.append("connection: close")
        data = "\r\n".join(head).encode("latin-1") + b"\r\n" + _SECURITY_HEADERS + b"\r\n"
        if self.command != "HEAD":
            data += response.body
        self.wfile.write(data)


class LocalServer(Fixtures):
    """A faithful local DataForce server (in-memory SQLite unless db_path is given).

    ``with LocalServer() as srv:`` or ``srv = LocalServer().start()``; then ``srv.url``,
    ``srv.api_key``, ``srv.organization_id`` and ``srv.orbit_id`` address the default user's
    "Default Organization" and "Default Orbit"; ``srv.bucket_secret_id`` is the orbit's S3
    bucket secret (``127.0.0.1:9000``, bucket ``default-bucket``, region ``us-east-1``).

    Artifact uploads go to storage served on the same host and port, at presigned URLs:
    S3 path-style, or Azure Blob when the orbit's bucket secret is an Azure one (see
    ``set_storage_flavour``). An orbit whose secret is an S3 one at another ``host:port``
    (not made by this server) gets URLs presigned for that service instead, with the
    secret's keys and region, as the platform signs them (e.g. a moto server). Uploads larger
    than ``multipart_threshold`` bytes are multipart, in parts of ``multipart_part_size`` bytes
    (None: the platform's table, 32 MiB up to 1 GiB ... 1 GiB parts above 100 GiB).
    ``storage_bandwidth`` caps each connection's storage reads and writes (bytes/s).
    Stored bytes live in files under ``storage_dir`` (default: a temporary directory, removed
    by ``close()``).
    """

    def __init__(
        self,
        db_path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        *,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_part_size: int | None = None,
        storage_bandwidth: float | None = None,
        storage_dir: str | None = None,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to serve on non-loopback host {host!r} without allow_remote=True"
            )
        self.host, self.port = host, port
        self._store = Store(db_path)
        self._storage = Storage(
            lambda: self.url,
            root=storage_dir,
            multipart_threshold=multipart_threshold,
            multipart_part_size=multipart_part_size,
            bandwidth=storage_bandwidth,
        )
        self._api = Api(self._store, self._storage)
        self._faults = FaultSet()
        self._log_lock = threading.Lock()
        self._request_log: list[tuple[str, str]] = []
        defaults = self._store.defaults()
        self.user_id: str = defaults["user_id"]
        self.api_key: str = defaults["api_key"]
        self.organization_id: str = defaults["organization_id"]
        self.orbit_id: str = defaults["orbit_id"]
        self.bucket_secret_id: str = defaults["bucket_secret_id"]
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> LocalServer:
        """Bind and serve in a background thread; returns self."""
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"dataforce-local-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close open keep-alive connections (the data stays)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with httpd.sockets_lock:
            for sock in list(httpd.open_sockets):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        """Stop, close the database and remove the stored objects' files."""
        self.stop()
        self._store.close()
        self._storage.close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://host:port`` (no trailing slash, no ``/v1``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- request log and faults -------------------------------------------------------------

    def _log(self, method: str, path: str) -> None:
        with self._log_lock:
            self._request_log.append((method, path))

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """(method, path with query) of every request received, oldest first."""
        with self._log_lock:
            return list(self._request_log)

    def reset_request_log(self) -> None:
        """Forget the logged requests."""
        with self._log_lock:
            self._request_log.clear()

    def add_fault(self, fault: Fault) -> None:
        """Add a fault rule (rules are tried in order; the first applicable wins)."""
        self._faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._faults.clear()

    @property
    def fault_counts(self) -> dict[str, int]:
        """Injected faults by kind (``"status:503"`` for status faults)."""
        return self._faults.counts
