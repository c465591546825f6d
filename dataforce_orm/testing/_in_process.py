"""InProcessTransport: a Session's requests (API and storage) answered by a LocalServer's
handler in the calling process, without sockets."""

from __future__ import annotations

import asyncio
import http.client
import io
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3

if TYPE_CHECKING:
    from ._server import LocalServer


def _request_bytes(method: str, url: str, headers: list[tuple[str, str]], body: bytes
                   ) -> bytes:
    """One HTTP/1.1 request as the server reads it off a connection."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"host: {parts.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers
              if k.lower() not in ("host", "content-length", "transfer-encoding",
                                   "connection")]
    lines += [f"content-length: {len(body)}", "connection: close"]
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


class _Bytes:
    """What ``http.client`` reads an answer from: the bytes the server wrote."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str, *args: Any) -> io.BytesIO:
        return io.BytesIO(self._data)


def _parse(method: str, data: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and raw body (nothing decoded) of the server's answer."""
    if not data:
        raise ConnectionResetError("the server closed the connection without an answer")
    answer = http.client.HTTPResponse(_Bytes(data), method=method)  # type: ignore[arg-type]
    answer.begin()
    return answer.status, answer.getheaders(), answer.read()


def _read_body(body: Any) -> bytes:
    """A ``requests`` body (bytes, text, a file-like object or an iterable) as bytes."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        chunks = []
        while chunk := body.read(1024 * 1024):
            chunks.append(chunk)
        return b"".join(chunks)
    return b"".join(body)


class _Adapter(requests.adapters.HTTPAdapter):
    """Sync requests, answered by the server's handler."""

    def __init__(self, server: LocalServer) -> None:
        super().__init__()
        self._server = server

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        method = request.method or "GET"
        raw = _request_bytes(method, request.url or "", list(request.headers.items()),
                             _read_body(request.body))
        try:
            status, headers, body = _parse(method, self._server.answer(raw))
        except (OSError, http.client.HTTPException) as exc:
            raise requests.exceptions.ConnectionError(exc, request=request) from None
        answer = urllib3.HTTPResponse(body=io.BytesIO(body), status=status,
                                      headers=urllib3.HTTPHeaderDict(headers),
                                      preload_content=False, decode_content=False,
                                      request_method=method)
        return self.build_response(request, answer)


def _async_transport(server: LocalServer) -> Any:
    """Async requests (httpx), answered by the server's handler in a worker thread."""
    import httpx

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            raw = _request_bytes(request.method, str(request.url),
                                 list(request.headers.multi_items()), body)
            try:
                data = await asyncio.to_thread(server.answer, raw)
                status, headers, content = _parse(request.method, data)
            except (OSError, http.client.HTTPException) as exc:
                raise httpx.RemoteProtocolError(str(exc), request=request) from None
            return httpx.Response(status, headers=headers,
                                  stream=httpx.ByteStream(content), request=request)

    return Transport()


class InProcessTransport:
    """A transport for ``Session(transport=...)`` that hands every request, API and storage
    alike, sync and async, to ``server``'s handler in this process (no socket, no port; the
    server need not be started, and its faults apply). Each request and answer is held whole
    in memory, so it suits tests rather than large files.

    ``srv = LocalServer(port=9)`` (a server never started: the port only names its URLs),
    then ``Session(api_key=srv.api_key, base_url=srv.url, transport=InProcessTransport(srv))``.
    """

    def __init__(self, server: LocalServer) -> None:
        self.server = server

    def requests_adapter(self) -> requests.adapters.BaseAdapter:
        """An adapter for one ``requests`` session."""
        return _Adapter(self.server)

    def httpx_transport(self) -> Any:
        """An ``httpx.AsyncBaseTransport`` for one ``httpx.AsyncClient``."""
        return _async_transport(self.server)
