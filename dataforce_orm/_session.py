"""Session: the API key, the default organization/orbit/collection, and the drivers.

Which session a call uses: ``.using(s)`` if given, else the innermost ``with s:`` (a
contextvar, so threads and asyncio tasks don't leak into each other), else the process default
set by ``configure()``, else one built from the environment.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Generator
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from ._clients import PluggableTransport
from ._config import resolve
from ._errors import (
    APIError,
    ConfigurationError,
    DataForceError,
    MultipleObjectsReturned,
    PermissionDeniedError,
    ValidationError,
)
from ._http import AsyncDriver, RetryPolicy, SyncDriver, Timeout, Transport
from ._http import check_api_key as _check_api_key
from ._http import check_base_url as _check_base_url
from ._http import check_verify as _check_verify
from ._ids import as_uuid, path_id
from ._limits import DEFAULT_MAX_ANSWER, DEFAULT_STALL, Limits, check_limits
from ._outcomes import Claims
from ._protocol import Op, Request
from ._routes import ORBITS, ORGANIZATIONS
from ._secrets import register as register_secret
from ._storage_gate import DEFAULT_STORAGE_CONNECTIONS, Gate
from ._transfer import RANGED_DOWNLOAD_ABOVE

DEFAULT_BASE_URL = "https://api.luml.ai"
DEFAULT_TIMEOUT: Timeout = (10.0, 30.0)
VALIDATE_PATH = "/v1/auth/api-keys/validate"


def _not_a_user_key(exc: PermissionDeniedError) -> ConfigurationError:
    """The validate route's 403: the key is a principal the route does not take."""
    return ConfigurationError(
        f"the key is not a user API key: the platform answered {exc.status} "
        f"({exc.detail}). A satellite's key (dfssat_...) or a browser sign-in token cannot "
        "be used here; give the user's API key (dfs_...)")


_stack: ContextVar[tuple[Session, ...]] = ContextVar("dataforce_orm_session", default=())
_default: Session | None = None
_from_env: Session | None = None
_lock = threading.Lock()


_SCOPED = re.compile(r"/v1/organizations/([^/]+)(?:/orbits/([^/]+))?")


class _Secret:
    """Holds the API key; its repr never shows it, nor any text the library shows."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"


class Session:
    """Connection settings and state shared by every call made through it. Thread-safe.

    What a server may cost is bounded: ``max_answer_size`` is the most bytes an API answer
    may have, decompressed (default 16 MiB; a bigger one is a TransportError naming the cap);
    ``stall`` = (bytes, seconds) is the stall rule for storage transfers: a body (up or down)
    that moves fewer bytes than that in that many seconds of waiting fails with a
    TimeoutError, and is retried (a download resumes) under ``retry`` (default 64 KiB in
    10 s). A download is also capped at the artifact's declared size. ``progress_bars=False``
    turns transfers' bars off (as ``DFS_DISABLE_PROGRESS_BARS=1`` does). ``cache=True``
    makes every download go through the local cache (``cache_dir``, else ``DFS_CACHE_DIR``,
    else the user's cache directory). ``max_storage_connections`` caps the storage requests
    in flight at once (default 16), whatever mix of parts and bulk items asks for them.

    ``transport`` plugs in what sends the bytes, for API and storage requests alike, sync and
    async (see ``PluggableTransport``; ``dataforce_orm.testing.InProcessTransport``
    answers from a LocalServer without sockets); everything else (retries, caps, checks)
    stays the library's.

    A session pickles (to send it to another process): its settings and the organization
    and orbit ids it resolved travel, its connections never do. The API key travels in the
    pickle unless ``pickle_key=False``; the receiving process then reads its own from its
    environment or profile. After ``os.fork`` the child opens its own connections.

    Each unset setting comes from the environment (``DFS_API_KEY``, ``DFS_BASE_URL``,
    ``DFS_ORGANIZATION``, ``DFS_ORBIT``, ...), else from the configuration file's profile, else
    from the default.

    Args:
        api_key: The platform API key (never shown in a repr or an error).
        base_url: The platform's API URL (default ``https://api.luml.ai``).
        organization: The default organization: its id or its exact name.
        orbit: The default orbit: its id or its exact name.
        collection: The default collection of the clients' artifact calls (an id).
        timeout: Seconds to wait: one number, or (connect, read).
        retry: When and how often a failed request is sent again (default ``RetryPolicy()``).
        allow_insecure_http: Allow a plain-http URL that is not loopback.
        verify: Verify TLS certificates (True), not (False), or a CA bundle's path.
        profile: The configuration file's profile to read (default ``default``).
        max_answer_size: The most bytes an API answer may have, decompressed.
        stall: (bytes, seconds): the stall rule for storage transfers.
        transport: What sends the bytes, API and storage alike (see ``PluggableTransport``).
        progress_bars: Draw transfers' progress bars on a terminal (default True).
        cache: Send every download through the local cache.
        cache_dir: Where the cache lives (default ``DFS_CACHE_DIR``, else the user's cache).
        max_storage_connections: The most storage requests in flight at once (default 16).
        pickle_key: Whether a pickle of the session carries the API key (default True).
        ranged_download_above: Downloads larger than this many bytes are fetched in ranges,
            ``download(concurrency=)`` at once (default 64 MiB; None: always one stream).

    Attributes:
        profile: The profile the settings were read from.
        key_source: Where the API key came from (argument, environment, profile, ...).
        base_url: The platform's API URL.
        collection: The default collection of the clients' artifact calls.
        timeout: Seconds to wait, as given.
        retry: The retry policy.
        limits: The size and stall bounds of what a server may send.
        ranged_download_above: The size above which downloads are fetched in ranges.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        orbit: str | None = None,
        collection: str | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        *,
        allow_insecure_http: bool | None = None,
        verify: bool | str = True,
        profile: str | None = None,
        max_answer_size: int = DEFAULT_MAX_ANSWER,
        stall: tuple[int, float] = DEFAULT_STALL,
        transport: PluggableTransport | None = None,
        progress_bars: bool = True,
        cache: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
        max_storage_connections: int = DEFAULT_STORAGE_CONNECTIONS,
        pickle_key: bool = True,
        ranged_download_above: int | None = RANGED_DOWNLOAD_ABOVE,
    ) -> None:
        for field, value in (("api_key", api_key), ("organization", organization),
                             ("orbit", orbit), ("collection", collection), ("profile", profile)):
            if value is not None and not isinstance(value, str):  # (never shows the value)
                raise ValidationError(field, f"must be a string, not {type(value).__name__}")
        cfg = resolve(api_key=api_key, base_url=base_url, organization=organization, orbit=orbit,
                      collection=collection, allow_insecure_http=allow_insecure_http,
                      profile=profile)
        del api_key
        # what a pickle carries (see __reduce__): the settings as resolved here
        self._profile_arg, self._insecure = profile, bool(cfg.allow_insecure_http)
        if not isinstance(pickle_key, bool):
            raise ValidationError("pickle_key", f"must be True or False, not "
                                                f"{type(pickle_key).__name__}")
        self.pickle_key = pickle_key
        self._key = _Secret(_check_api_key(cfg.api_key)) if cfg.api_key else None
        self.profile = cfg.profile
        self.key_source = cfg.key_source
        self.base_url = _check_base_url(cfg.base_url or DEFAULT_BASE_URL,
                                        cfg.allow_insecure_http)
        self._organization = cfg.organization
        self._orbit = cfg.orbit
        self.collection = cfg.collection
        del cfg
        self.timeout = _check_timeout(timeout)
        self.progress_bars = bool(progress_bars)  # transfers draw a bar on a terminal
        self.cache = bool(cache)  # downloads go through the local cache (see _cache)
        self.cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
        if ranged_download_above is not None and (
                isinstance(ranged_download_above, bool)
                or not isinstance(ranged_download_above, int) or ranged_download_above < 0):
            raise ValidationError("ranged_download_above", "must be a number of bytes >= 0 or "
                                  f"None, got {ranged_download_above!r}")
        self.ranged_download_above = ranged_download_above  # see _transfer.Fetch
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValidationError("retry", f"must be a RetryPolicy, not {type(retry).__name__}")
        self.retry = retry or RetryPolicy()
        self._scope: tuple[str, str] | None = None
        self._org_id: str | None = None
        self._depth = threading.local()  # nesting of `with self:` blocks, per thread
        self._visible: set[str] = set()  # organization/orbit ids seen in the key's listings
        self.limits: Limits = check_limits(max_answer_size, stall)
        if transport is not None and not isinstance(transport, PluggableTransport):
            raise ValidationError("transport", "must have requests_adapter() and "
                                               f"httpx_transport(); got {type(transport).__name__}")
        settings = Transport(self.base_url, self._authorization, timeout,
                             _check_verify(verify), self._explain_op, self.limits, transport)
        self.driver = SyncDriver(settings, self.retry)
        self.async_driver = AsyncDriver(settings, self.retry)
        self.driver.storage.gate = self.async_driver.storage.gate = Gate(max_storage_connections)
        self.claims = Claims()  # the ids its creates took (see _outcomes)

    # -- configuration -------------------------------------------------------------------

    def _authorization(self) -> str:
        if self._key is None:
            hint = ""
            if self is _from_env:  # the call found no session at all
                hint = ("; this call had no session: 'with session:' applies only to the "
                        "thread or asyncio task that entered it (objects remember the session "
                        "that loaded them); pass one with .using(session) (or using=session), "
                        "or set a process-wide one with dfo.configure(...)")
            raise ConfigurationError(
                "no API key: pass Session(api_key='dfs_...'), set DFS_API_KEY (or LUML_API_KEY), "
                "or store one with 'dataforce-orm login'"
                + hint
            )
        return f"Bearer {self._key.reveal()}"

    @property
    def organization(self) -> str | None:
        """The default organization, as given (id or exact name)."""
        return self._organization

    @organization.setter
    def organization(self, value: str | None) -> None:
        self._organization, self._scope, self._org_id = value, None, None

    @property
    def orbit(self) -> str | None:
        """The default orbit, as given (id or exact name)."""
        return self._orbit

    @orbit.setter
    def orbit(self, value: str | None) -> None:
        self._orbit, self._scope = value, None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles the settings (and the key, if ``pickle_key``), never the connections."""
        settings: dict[str, Any] = {
            "base_url": self.base_url, "organization": self._organization,
            "orbit": self._orbit, "collection": self.collection, "timeout": self.timeout,
            "retry": self.retry, "allow_insecure_http": self._insecure,
            "verify": self.driver.transport.verify, "profile": self._profile_arg,
            "max_answer_size": self.limits.max_answer, "stall": self.limits.stall,
            "transport": self.driver.transport.plug, "progress_bars": self.progress_bars,
            "cache": self.cache, "cache_dir": self.cache_dir,
            "max_storage_connections": self.driver.storage.gate.limit
            if self.driver.storage.gate is not None else DEFAULT_STORAGE_CONNECTIONS,
            "pickle_key": self.pickle_key,
            "ranged_download_above": self.ranged_download_above}
        if self.pickle_key and self._key is not None:
            settings["api_key"] = self._key.reveal()
        return _unpickle, (settings, self._org_id, self._scope)

    def __repr__(self) -> str:
        key = "set" if self._key else "missing"
        return (f"Session(base_url={self.base_url!r}, organization={self._organization!r}, "
                f"orbit={self._orbit!r}, api_key=<{key}>)")

    # -- the key check ---------------------------------------------------------------------

    def check(self) -> None:
        """Check the API key with one cheap request that needs no organization
        (``GET /v1/auth/api-keys/validate``); an invalid key raises AuthenticationError, a
        key that is no user API key (a satellite's ``dfssat_`` key) ConfigurationError."""
        try:
            self.driver.send(Request("GET", VALIDATE_PATH))
        except PermissionDeniedError as exc:
            raise _not_a_user_key(exc) from None

    async def acheck(self) -> None:
        """``check()``, async."""
        try:
            await self.async_driver.send(Request("GET", VALIDATE_PATH))
        except PermissionDeniedError as exc:
            raise _not_a_user_key(exc) from None

    # -- organization and orbit resolution -------------------------------------------------

    def scope_op(self, orbit: bool = True) -> Op[tuple[str, str]]:
        """Resolve (organization id, orbit id), sending requests only the first time.

        With ``orbit=False`` only the organization is resolved (the orbit id is then "").
        """
        if self._scope is not None:
            return self._scope
        org_id = self._org_id or (yield from _pick(
            self._organization, "organization", Request("GET", ORGANIZATIONS)))
        self._org_id = org_id
        if not orbit:
            return org_id, ""
        orbits = ORBITS.format(organization=path_id(org_id, "organization"))
        orbit_id = yield from _pick(self._orbit, "orbit", Request("GET", orbits))
        self._scope = (org_id, orbit_id)
        return self._scope

    def _explain_op(self, exc: APIError) -> Op[None]:
        """After a 403/404 under an organization (or orbit) given as an id: if the key cannot
        see that id, a ConfigurationError saying so and listing the ones it can see (else
        nothing: the caller raises the original error)."""
        m = _SCOPED.match(exc.url)
        if m is None or exc.status not in (403, 404):
            return
        org, orbit = m[1], m[2]
        given = {as_uuid(v) for v in (self._organization, self._orbit) if v}
        for kind, ident, listing in (
                ("organization", org, ORGANIZATIONS),
                ("orbit", orbit, ORBITS.format(organization=org))):
            if ident is None or ident in self._visible or ident not in given:
                continue
            try:
                items = (yield Request("GET", listing)).data
            except DataForceError:
                return  # cannot tell: the original error stands
            if not isinstance(items, list):
                return
            seen = {str(i.get("id")): str(i.get("name")) for i in items if isinstance(i, dict)}
            self._visible.update(seen)
            if ident not in seen:
                where = "" if kind == "organization" else " in that organization"
                names = ", ".join(f"{n!r} ({i})" for i, n in seen.items()) or "none"
                raise ConfigurationError(
                    f"{kind}: no {kind} with id {ident!r} is visible to this API key{where} "
                    f"(the server answered {exc.status}); it can see: {names}")

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Release every pooled sync connection (they reopen on the next call)."""
        self.driver.close()

    async def aclose(self) -> None:
        """Release the async connections of the running event loop."""
        await self.async_driver.aclose()

    def __enter__(self) -> Session:
        _stack.set((*_stack.get(), self))
        self._depth.n = getattr(self._depth, "n", 0) + 1
        return self

    def __exit__(self, *exc: object) -> None:
        stack = _stack.get()
        if stack and stack[-1] is self:
            _stack.set(stack[:-1])
        # Only the outermost exit of this session in this thread releases the thread's pooled
        # connections (an inner block ending must not drop what the outer one still uses).
        depth = max(0, getattr(self._depth, "n", 1) - 1)
        self._depth.n = depth
        if depth == 0:
            self.driver.close(current_thread_only=True)

    async def __aenter__(self) -> Session:
        return self.__enter__()

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(t, e, tb)
        # Other tasks may share this loop's client: it closes now only if none is mid-request
        # (else at session.aclose() or when the loop shuts down).
        await self.async_driver.aclose(if_idle=True)


def _unpickle(settings: dict[str, Any], org_id: str | None,
              scope: tuple[str, str] | None) -> Session:
    """A session from ``Session.__reduce__()``'s settings, with the ids it had resolved."""
    session = Session(**settings)
    session._org_id, session._scope = org_id, scope
    return session


def _check_timeout(timeout: Any) -> Timeout:
    parts = timeout if isinstance(timeout, tuple) else (timeout,)
    if len(parts) != (2 if isinstance(timeout, tuple) else 1) or not all(
            isinstance(p, (int, float)) and not isinstance(p, bool) and 0 < p < math.inf
            for p in parts):
        raise ValidationError(
            "timeout", "must be seconds > 0, or a (connect, read) pair of them")
    return timeout  # type: ignore[no-any-return]


def _pick(wanted: str | None, kind: str, listing: Request) -> Generator[Any, Any, str]:
    """Resolve an id or exact name against a listing; auto-pick when there is exactly one."""
    if wanted is not None and (as_id := as_uuid(wanted)) is not None:
        return as_id
    items = (yield listing).data
    if not isinstance(items, list) or not all(
            isinstance(item, dict) and isinstance(item.get("id"), str) for item in items):
        raise APIError(200, listing.method, listing.path,
                       f"unexpected response shape: expected a list of {kind}s with ids")
    names = [str(item.get("name")) for item in items]
    if wanted is None:
        if len(items) == 1:
            return str(items[0]["id"])
        raise ConfigurationError(
            f"{kind}: none given and the account has {len(items)}; pass {kind}=... "
            f"(or DFS_{kind.upper()}), one of: {', '.join(map(repr, names)) or 'none'}"
        )
    found = [item for item in items if item.get("name") == wanted]
    if len(found) > 1:
        raise MultipleObjectsReturned(f"{kind}: {len(found)} named {wanted!r}; pass its id")
    if not found:
        raise ConfigurationError(
            f"{kind}: no {kind} named {wanted!r}; existing: {', '.join(map(repr, names)) or 'none'}"
        )
    return str(found[0]["id"])


def configure(**kwargs: Any) -> Session:
    """Set the process-wide default session (built from ``kwargs`` like ``Session``)."""
    global _default
    session = Session(**kwargs)
    with _lock:
        _default = session
    return session


def current_session() -> Session:
    """The session a call uses when none is given explicitly."""
    global _from_env
    stack = _stack.get()
    if stack:
        return stack[-1]
    if _default is not None:
        return _default
    with _lock:
        if _from_env is None:
            _from_env = Session()
        return _from_env
