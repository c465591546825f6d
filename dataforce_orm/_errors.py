"""The error tree. Every error the library raises is one of these::

    DataForceError
    ├── ConfigurationError          missing key, unknown organization/orbit, missing extra
    ├── ValidationError             bad input, found before any request (also a ValueError)
    ├── ObjectDoesNotExist          get()/refresh() found nothing (also a LookupError)
    │                               (per model: Collection.DoesNotExist)
    ├── MultipleObjectsReturned     get() found several (= MultipleResourcesFoundError)
    │                               (per model: Collection.MultipleObjectsReturned)
    ├── IntegrityError              a downloaded file does not match its size or SHA-256
    ├── TransportError              the request got no HTTP answer (connection, TLS)
    │   └── TimeoutError            connect/read timeout or deadline (also a builtin TimeoutError)
    └── APIError                    the server answered with an error (or with garbage)
        ├── AuthenticationError     401
        ├── PermissionDeniedError   403
        ├── NotFoundError           404
        ├── ConflictError           409, and edits that collide with the server's (save())
        ├── UnprocessableEntityError  422, with ``errors`` as (field path, message) pairs
        ├── RateLimitError          429
        └── ServerError             5xx

Errors from a request carry ``method``, ``url`` (the path sent), ``base_url`` (scheme, host
and port), ``full_url`` (the two together: what was requested, never credentials or the query)
and ``attempts`` (how many times it was sent). A storage error's ``url`` is the storage URL
(absolute, without its query, which holds the signature): ``full_url`` is then that URL alone.
Every secret the library knows (see ``_secrets``) is masked in an error's text and repr.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from ._secrets import mask

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "DataForceError",
    "IntegrityError",
    "MultipleObjectsReturned",
    "MultipleResourcesFoundError",
    "NotFoundError",
    "ObjectDoesNotExist",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "TimeoutError",
    "TransportError",
    "UnprocessableEntityError",
    "ValidationError",
]


class DataForceError(Exception):
    """Base of every error the library raises."""

    def __str__(self) -> str:
        return mask(super().__str__())

    def __repr__(self) -> str:
        return mask(super().__repr__())


def _joined(base_url: str, url: str) -> str:
    """What was requested: the base URL and the path, or an absolute (storage) URL alone."""
    return url if "://" in url else base_url + url


class ConfigurationError(DataForceError):
    """The session cannot be used as configured."""


class ValidationError(DataForceError, ValueError):
    """Client-side input error, raised before any request; names the field and the rule.

    Attributes:
        field: The field (or argument) whose value broke the rule.
        rule: The rule it broke, in words.
    """

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.field, self.rule), self.__dict__


class ObjectDoesNotExist(DataForceError, LookupError):
    """The object asked for does not exist."""


class MultipleObjectsReturned(DataForceError, LookupError):
    """A lookup that must match one object matched several."""


MultipleResourcesFoundError = MultipleObjectsReturned


class IntegrityError(DataForceError):
    """A transferred file does not match the size or SHA-256 the artifact declares."""


class TransportError(DataForceError):
    """The request got no usable HTTP answer.

    Attributes:
        method: The request's HTTP method.
        url: The request's path (no query, never credentials).
        attempts: How many times it was sent.
        base_url: The session's base URL.
        maybe_sent: Whether the request may have reached the server.
        transient: Whether sending it again could help.
        instance: For a write whose outcome is unknown: the object whose ``save()`` finishes it.
    """

    def __init__(self, message: str, method: str = "", url: str = "", attempts: int = 1) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        self.attempts = attempts
        self.base_url = ""  # set by the driver that sent it
        # True when the request may have reached the server (it was sent, the answer was lost).
        self.maybe_sent = True
        # False when sending it again cannot help (an answer over the size cap, say).
        self.transient = True
        # For a write whose outcome the library could not settle: the object it was saving,
        # whose save() finishes the job without a duplicate (None otherwise).
        self.instance: Any = None

    @property
    def full_url(self) -> str:
        """The URL requested: base URL and path (no query, never credentials)."""
        return _joined(self.base_url, self.url)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.args[0], self.method, self.url, self.attempts), self.__dict__

    def __str__(self) -> str:
        where = f" ({self.method} {self.full_url})" if self.method else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return mask(f"{self.args[0]}{where}{tries}")


class TimeoutError(TransportError, builtins.TimeoutError):
    """A connect or read timeout, or the retry deadline, ran out."""


class APIError(DataForceError):
    """The server answered with an error status (or an unreadable body).

    Attributes:
        status: The HTTP status of the answer.
        method: The request's HTTP method.
        url: The request's path (no query, never credentials).
        detail: The server's message (secrets masked).
        errors: The (field path, message) pairs of a 422 answer.
        attempts: How many times the request was sent.
        retry_after: The seconds the server asked to wait (429, 503), if it said.
        base_url: The session's base URL.
        instance: For a write whose outcome is unknown: the object whose ``save()`` finishes it.
        maybe_sent: Whether a write may have been applied despite the error.
    """

    def __init__(
        self,
        status: int,
        method: str,
        url: str,
        detail: str,
        *,
        errors: Sequence[tuple[str, str]] = (),
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        detail = mask(detail)
        super().__init__(detail)
        self.status = status
        self.method = method
        self.url = url
        self.detail = detail
        self.errors = [(mask(where), mask(message)) for where, message in errors]
        self.attempts = attempts
        self.retry_after = retry_after
        self.base_url = ""  # set by the driver that sent it
        self.instance: Any = None  # see TransportError.instance
        # True when an earlier try of this write got no clear answer, so it may have taken
        # effect although this final answer is an error.
        self.maybe_sent = False

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.status, self.method, self.url, self.detail), self.__dict__

    def __str__(self) -> str:
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return mask(f"{self.status} {self.method} {self.full_url}: {self.detail}{tries}")

    @property
    def full_url(self) -> str:
        """The URL requested: base URL and path (no query, never credentials)."""
        return _joined(self.base_url, self.url)


class AuthenticationError(APIError):
    """401: the API key is missing, wrong or revoked."""

    def __str__(self) -> str:
        return (f"{super().__str__()} (the API key was refused: check the key given as "
                "api_key=, or in DFS_API_KEY or LUML_API_KEY)")


class PermissionDeniedError(APIError):
    """403: the key's user may not do this here."""


class NotFoundError(APIError):
    """404: the organization, orbit or collection does not exist."""


class ConflictError(APIError):
    """409, or a save() whose changes collide with changes made on the server since loading.

    Attributes:
        fields: The fields changed both here and on the server (a conflict found by ``save()``).
    """

    def __init__(
        self, status: int, method: str, url: str, detail: str, *, fields: Sequence[str] = ()
    ) -> None:
        super().__init__(status, method, url, detail)
        self.fields = list(fields)  # fields changed on both sides, for a client-detected conflict


class UnprocessableEntityError(APIError):
    """422: the server rejected the request's values; ``errors`` holds (field path, message)."""


class RateLimitError(APIError):
    """429: too many requests."""


class ServerError(APIError):
    """5xx: the server failed."""


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class(status: int) -> type[APIError]:
    """The APIError subclass for an HTTP status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)
