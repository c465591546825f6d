"""Every rule about a write whose outcome is unknown: whether a failed try may have been applied
and may be sent again, lost creates and the claims that keep them apart, updates settled by
reading back, and the artifact's lost create and status read-back."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from . import _errors as errors
from ._errors import APIError, ConflictError, DataForceError, TimeoutError, TransportError
from ._lookups import search_escape
from ._protocol import UNPROCESSED_STATUSES, Op, Request, Response, Sleep

if TYPE_CHECKING:
    from ._artifacts import Artifact, ArtifactStatus, CreatedArtifact
    from ._resource import Model
    from ._retry import RetryPolicy
    from ._session import Session

LOST_CREATE_WAITS = (0.5, 1.0, 2.0)  # seconds between looks for an artifact create that timed out


# -- the rule: may a failed try have been applied, may it be sent again? ----------------------


def maybe_applied(method: str, exc: BaseException, *, server_errors: bool) -> bool:
    """Whether a failed try of a ``method`` request may have taken effect (or still may) on
    the server.

    Never for a GET. A TransportError when the request may have been sent (a timeout after
    sending, a connection closed mid-answer). With ``server_errors`` a 5xx answer counts too
    (the retry engine's view: a gateway error can hide a commit); without it, it does not (the
    write operations' view: a write the server answered was settled by the retry engine).
    """
    if method == "GET":
        return False
    if isinstance(exc, TransportError):
        return exc.maybe_sent
    return server_errors and isinstance(exc, APIError) and 500 <= exc.status < 600


def may_resend(req: Request, exc: BaseException, statuses: frozenset[int]) -> bool:
    """Whether ``exc`` from sending ``req`` is transient and safe to send again blindly
    (``statuses``: the answers the retry policy retries)."""
    if isinstance(exc, TransportError):
        if not exc.transient:
            return False
        if not exc.maybe_sent:
            return True
        # A PATCH that may have been sent is never re-sent blindly: if the copy stalled, it
        # could land after a newer write (the update settles it by reading back first).
        # A create that timed out may still be running: no lookup can rule it out.
        if req.method == "PATCH":
            return False
        if isinstance(exc, TimeoutError):
            return req.idempotent
        return req.idempotent or req.recover is not None
    if isinstance(exc, APIError) and exc.status in statuses:
        # A create answered 502/503/504 may have been committed: re-sent only after a
        # lookup for what it made (``req.recover``).
        return req.idempotent or exc.status in UNPROCESSED_STATUSES or req.recover is not None
    return False


# -- claims -------------------------------------------------------------------------------------


class Claims:
    """The ids a session's creates took, so a lost-create lookup never hands out the same row
    twice. Thread-safe; the oldest of more than 10,000 are forgotten."""

    def __init__(self) -> None:
        self._taken: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, object_id: str, since: float) -> bool:
        """Take an id for one create; False if another create took it first. ``since`` is the
        earliest time (``time.time()``) the taker's own row can date from."""
        with self._lock:
            if object_id in self._taken:
                return False
            self._taken[object_id] = since
            while len(self._taken) > 10_000:
                self._taken.popitem(last=False)
        return True

    def claimed_since(self, object_id: str) -> float:
        """The ``since`` the taker of ``object_id`` (any object's id) claimed it with (now, if
        no create took it)."""
        with self._lock:
            return self._taken.get(object_id, time.time())


# -- lost creates -------------------------------------------------------------------------------


def create_op(obj: Model, session: Session) -> Op[None]:
    """POST a new object; when the answer is lost, find (and claim) what it made instead of
    making a second one."""
    parents = obj._parents()
    path = yield from obj._path_op(session, parents)
    body = obj._create_body()
    # An earlier save() of this object may have sent a POST whose outcome is unknown (it
    # raised "maybe sent", or was cancelled): look for what it made before sending again.
    earlier = obj._maybe_created_at
    started = earlier or time.time()
    object.__setattr__(obj, "_maybe_created_at", started)
    # Re-sent after a failure that may have been committed only once a lookup finds
    # nothing (see RetryPolicy.retry_op).
    recovered: list[dict[str, Any]] = []  # what a lookup found (and claimed) for it
    model = type(obj)

    def recover() -> Op[dict[str, Any] | None]:
        found = yield from find_created_op(model, session, parents, body, started)
        if found is not None:
            recovered.append(found)
        return found

    req = Request("POST", path, json=body, recover=recover)
    data = None
    if earlier is not None:
        data = yield from find_created_op(model, session, parents, body, earlier)
    while data is None:
        try:
            data = (yield req).data
        except (TransportError, APIError) as exc:
            gateway = isinstance(exc, APIError) and exc.status in session.retry.statuses \
                and exc.status not in UNPROCESSED_STATUSES
            if not (exc.maybe_sent or gateway):
                object.__setattr__(obj, "_maybe_created_at", None)  # refused: none made
                raise
            if not maybe_applied(req.method, exc, server_errors=False):
                exc.instance = obj  # its save() looks for what this made first
                raise
            # The POST may still be in flight: watch for what it makes until the deadline.
            data = yield from _watch_created_op(obj, session, parents, body, started, exc)
            recovered.append(data)
            break
        ident = data.get("id") if isinstance(data, dict) else None
        if recovered and data is recovered[-1]:
            break  # found by the lookup, and claimed there
        if not isinstance(ident, str) or session.claims.claim(ident, started):
            break
        # Another create of this session lost its answer, and its lookup took this row (the
        # bodies are identical): the row that one's POST made is this one's to take.
        since = min(started, session.claims.claimed_since(ident))
        data = yield from find_created_op(model, session, parents, body, since)
        # None: that POST was never committed, so this one is sent again.
    obj._absorb(req, data, session)
    obj._sent(created=True)
    object.__setattr__(obj, "_maybe_created_at", None)


def _watch_created_op(obj: Model, session: Session, parents: dict[str, str],
                      body: dict[str, Any], started: float, exc: TransportError | APIError
                      ) -> Op[dict[str, Any]]:
    """After a create whose outcome is unknown: look for what it made, again and again with
    backoff (the request may still be on its way), until the session's retry deadline; then
    ``exc``, carrying the object (``exc.instance``: its save() looks again before sending
    anything)."""
    policy = session.retry
    limit = policy.deadline if policy.deadline is not None else 60.0
    look = 0
    while True:
        try:
            found = yield from find_created_op(type(obj), session, parents, body, started)
        except DataForceError:  # the lookup failed after its own retries: stop here
            exc.instance = obj
            raise exc from None
        if found is not None:
            return found
        look += 1
        elapsed = time.time() - started
        if elapsed >= limit or (policy.deadline is None and look >= policy.attempts):
            exc.instance = obj
            raise exc
        yield Sleep(poll_wait(policy, look, elapsed, limit))


def find_created_op(model: type[Model], session: Session, parents: dict[str, str],
                    body: dict[str, Any], started: float) -> Op[dict[str, Any] | None]:
    """After a lost create: the wire object it made, if the server committed it (same fields,
    made since the attempt began), claimed for this create so no other create of the session
    can take it too."""
    params: list[tuple[str, str]] = []
    newest_first = "created_at" in model._sort_keys and model._paged
    if newest_first:
        params += [("sort_by", model._sort_keys["created_at"]), ("order", "desc")]
    term = next((body[s.key] for s in model._specs.values()
                 if s.search and s.kind == "str" and body.get(s.key)), None)
    if term and model._paged:
        params.append(("search", search_escape(term)))

    def matches(item: dict[str, Any], made: Any) -> bool:
        return model._made_by(item, body)

    found = yield from _find_made_op(model, session, params, parents, started, matches,
                                     newest_first)
    return None if found is None else dict(found[0])


def _find_made_op(model: type[Model], session: Session, params: list[tuple[str, str]],
                  parents: dict[str, str], started: float,
                  matches: Callable[[dict[str, Any], Any], bool], newest_first: bool,
                  one_page: bool = False) -> Op[tuple[dict[str, Any], Any] | None]:
    """The first listed row (wire item, object) made since ``started`` (by the server's
    clock, less two seconds) that ``matches`` and this create can claim. ``newest_first``:
    the listing is sorted newest first, so the first older row ends the search; ``one_page``:
    only the first page is read."""
    pager = yield from model._pager_op(session, params, 100, parents)
    while (req := pager.next_request()) is not None:
        resp = yield req
        since = datetime.fromtimestamp(started, timezone.utc) + clock_skew(resp) \
            - timedelta(seconds=2)
        for item in pager.feed(req, resp, load=False):
            made = pager.load(req, item)
            made_at = getattr(made, "created_at", None)
            if made_at is not None and made_at < since:
                if newest_first:
                    return None
                continue
            if matches(item, made) and session.claims.claim(str(item.get("id")), started):
                return item, made
        if one_page:
            return None
    return None


def clock_skew(resp: Response) -> timedelta:
    """Server clock minus ours, from the Date header (zero when absent)."""
    try:
        server = parsedate_to_datetime(resp.headers["date"])
    except (KeyError, TypeError, ValueError):
        return timedelta(0)
    return server - datetime.now(timezone.utc)


def poll_wait(policy: RetryPolicy, look: int, elapsed: float, limit: float) -> float:
    """The pause before look number ``look + 1`` for a write's outcome: the policy's backoff,
    at least 10 ms, never past ``limit``."""
    wait = max(0.01, policy.backoff_for(min(look, 30), None, elapsed))
    return max(0.0, min(wait, limit - elapsed))


# -- updates settled by reading back ------------------------------------------------------------


def send_update_op(obj: Model, session: Session, req: Request, changed: list[str],
                   values: dict[str, Any], snap: dict[str, Any], force: bool) -> Op[Any]:
    """Send an update; when its answer is lost, settle it (see ``settle_update_op()``)."""
    started = time.time()
    try:
        return (yield req).data
    except (TransportError, APIError) as exc:
        if not maybe_applied(req.method, exc, server_errors=False):
            raise
        return (yield from settle_update_op(obj, session, req.path, changed, values, snap,
                                            force, started, exc, req.params))


def settle_update_op(obj: Model, session: Session, path: str, changed: list[str],
                     values: dict[str, Any], snap: dict[str, Any], force: bool,
                     started: float, exc: TransportError | APIError,
                     params: tuple[tuple[str, str], ...] = ()) -> Op[dict[str, Any]]:
    """After an update whose answer was lost (it may have landed, or still land): read the
    object back, with backoff, until the session's retry deadline. Done when the server holds
    the values sent for ``changed``; else what has not landed is sent again (a full-write
    model's other fields from the server's current state), and a field changed on the server
    to something else since loading is a ConflictError (unless ``force``). After a timeout
    nothing is sent again: the stalled request may still land, after the copy and after any
    newer write, so it is only waited for (after a connection closed mid-answer the server is
    done with it, so a re-send is safe). When the deadline passes: ``exc``, carrying the object
    as ``exc.instance`` (its save() reads back and finishes the job). A re-send keeps the
    first request's query ``params`` (a promotion's ``force``)."""
    policy = session.retry
    limit = policy.deadline if policy.deadline is not None else 60.0
    look = 0
    while True:
        look += 1
        elapsed = time.time() - started
        if elapsed >= limit or (policy.deadline is None and look > policy.attempts):
            exc.instance = obj
            raise exc
        yield Sleep(poll_wait(policy, look, elapsed, limit))
        try:
            current = yield from obj._get_data_op(Request("GET", path), obj.pk)
        except errors.ObjectDoesNotExist:
            raise
        except DataForceError:  # the read failed after its own retries: stop here
            exc.instance = obj
            raise exc from None
        server = obj._snapshot_of(current)
        pending = [f for f in changed if server.get(f) != values[f]]
        if not pending:
            return current  # it landed
        clash = [f for f in pending if server.get(f) != snap.get(f)]
        if clash and not force:
            raise ConflictError(
                409, "PATCH", path,
                f"changed on the server since loaded, and here: {', '.join(clash)}; "
                "refresh() and re-apply, or save(force=True) to overwrite", fields=clash)
        if isinstance(exc, TimeoutError):
            continue  # still in flight, perhaps: wait for it
        body = obj._resend_body(pending, changed, values, server)
        try:
            updated = (yield Request("PATCH", path, params, json=body)).data
        except (TransportError, APIError) as again:
            if not maybe_applied("PATCH", again, server_errors=False):
                raise
            exc = again
            continue
        if isinstance(updated, dict):
            return {**current, **updated}
        return current


# -- the artifact: its lost create, and its status read back -----------------------------------


def create_artifact_op(model: type[Artifact], session: Session, collection_id: str,
                       body: dict[str, Any]) -> Op[CreatedArtifact]:
    """Register an artifact (POST). A create whose answer was lost may have made a row whose
    upload URLs were lost with the answer: that row is removed before the create is sent
    again, and looked for a few times when the create failed for good (a row left
    ``pending_upload`` counts against the quota)."""
    parents = {"collection": collection_id}
    started = time.time()

    def remove_lost() -> Op[bool]:
        lost = yield from find_lost_artifact_op(model, session, collection_id, body, started)
        if lost is not None:
            path = yield from lost._path_op(session, parents, ident=lost.pk)
            yield Request("DELETE", f"{path}/force")
        return lost is not None

    def recover() -> Op[None]:  # (None: the create is sent again)
        yield from remove_lost()

    try:
        return (yield from model._create_row_op(session, collection_id, body, recover))
    except (TransportError, APIError) as exc:
        if exc.maybe_sent or maybe_applied("POST", exc, server_errors=True):
            # The create may still be running on the server: look a few times.
            with contextlib.suppress(DataForceError):  # the create's own error is reported
                for wait in (0.0, *LOST_CREATE_WAITS):
                    yield Sleep(wait)
                    if (yield from remove_lost()):
                        break
        raise


def find_lost_artifact_op(model: type[Artifact], session: Session, collection_id: str,
                          body: dict[str, Any], started: float) -> Op[Artifact | None]:
    """The row a create whose answer was lost made, if any: the same file and name, still
    ``pending_upload``, made since the create began (on the first page, newest first), and
    not claimed by another create of this session."""
    params = [("collection_ids", collection_id), ("sort_by", "created_at"), ("order", "desc"),
              ("search", search_escape(body["name"]))]
    wanted = (body["file_hash"], body["file_name"], body["size"], body["name"],
              "pending_upload")  # (ArtifactStatus.PENDING_UPLOAD is this string)

    def matches(item: dict[str, Any], art: Any) -> bool:
        return (art.file_hash, art.file_name, art.size, art.name, art.status) == wanted

    found = yield from _find_made_op(model, session, params, {}, started, matches,
                                     newest_first=True, one_page=True)
    return None if found is None else found[1]


def patch_status_op(art: Artifact, session: Session, status: ArtifactStatus) -> Op[None]:
    """Set an artifact's status. When the answer is lost after the server applied it (a
    re-sent PATCH is then an invalid transition), the status is read back: sent again only if
    it did not land and the connection closed before the server could apply it."""
    path = yield from art._own_path_op(session)
    req = Request("PATCH", path, json={"status": status.value})
    try:
        data = (yield req).data
    except (APIError, TransportError) as exc:
        data = yield from art._get_data_op(Request("GET", path), art.pk)
        if data.get("status") != status.value:
            if not (isinstance(exc, TransportError) and exc.maybe_sent
                    and not isinstance(exc, TimeoutError)):
                raise
            data = (yield req).data  # the connection closed before it was applied
    art._absorb(req, data, session)
