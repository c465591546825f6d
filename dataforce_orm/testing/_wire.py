"""What the route modules answer with: requests, responses and the platform's error shapes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"


@dataclass
class Request:
    """What the route layer needs from an HTTP request (header names lower-case)."""

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Response:
    """Status, body bytes, content type (None: no body headers) and extra headers.

    ``close``: the server closes the connection after sending it (as uvicorn does after
    an unhandled error)."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


def json_response(status: int, data: Any) -> Response:
    """A JSON response rendered as Starlette does (compact, UTF-8)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(status, text.encode())


def detail(status: int, message: str) -> Response:
    """``{"detail": message}``."""
    return json_response(status, {"detail": message})


def no_content() -> Response:
    """A 204 without a body."""
    return Response(204, b"", None)


def internal_error() -> Response:
    """The plain-text 500 of an unhandled exception (the connection is closed after it)."""
    return Response(500, b"Internal Server Error", "text/plain; charset=utf-8", close=True)


class Abort(Exception):
    """Stop handling a request and answer this response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class HttpError(Exception):
    """An application error: ``{"detail": message}`` with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ServerError(Exception):
    """Where the platform fails with its plain-text 500."""
