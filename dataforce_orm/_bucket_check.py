"""The bucket-secret connection test: the platform signs URLs for a small object with a
secret's settings, and the library puts it, reads it back with a range and deletes it,
naming the step that failed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ._errors import DataForceError
from ._model import wire_error
from ._protocol import Op, Request
from ._resource import Model
from ._session import Session
from ._transfer import Answer, Call, transfer_op

TEST_BODY = b"dataforce-orm connection test"
RANGE = (0, 9)  # the bytes read back: the official SDK's test needs Range support too
STEPS = ("put", "get", "delete")
URLS_NEW = "/v1/bucket-secrets/urls"


class BucketConnectionError(DataForceError):
    """A bucket secret's connection test failed at ``step`` (``put``, ``get`` or
    ``delete``) for ``reason``; the storage error, if any, is its ``__cause__``."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"the connection test failed at its {step} step: {reason}")
        self.step = step
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.step, self.reason), self.__dict__


def _url(req: Request, data: Any, key: str) -> str:
    """A storage URL of the answer, checked to be an absolute http(s) URL."""
    url = data.get(key) if isinstance(data, dict) else None
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise wire_error(req, f"expected an http(s) URL as {key!r}")
    return str(url)


class ConnectionTest(Model):
    """``test_connection()``, and ``save(verify=True)`` that runs it first (a capability of
    ``BucketSecret``)."""

    __slots__ = ()

    def _urls_request_op(self, session: Session) -> Op[Request]:
        """The signing request: a new secret's full settings, or a stored one's id with the
        changes not saved yet (the platform merges them over the stored keys)."""
        if self.pk is None:
            self._validate(creating=True)
            return Request("POST", URLS_NEW, json=self._create_body())
        changed = self.changed_fields() if self._snapshot is not None else self._given_fields()
        self._validate(creating=False, only=changed)
        body = {self._specs[n].key: self._local(n) for n in changed}
        path = yield from self._own_path_op(session)
        update_body = getattr(self, "_update_body", dict)
        return Request("POST", f"{path}/urls", json={**update_body(body), "id": self.pk})

    def _test_connection_op(self, session: Session) -> Op[None]:
        req = yield from self._urls_request_op(session)
        data = (yield req).data
        put_url, get_url, delete_url = (_url(req, data, k) for k in (
            "presigned_url", "download_url", "delete_url"))
        azure = getattr(self, "type", None) == "azure"
        put_headers = {"x-ms-blob-type": "BlockBlob"} if azure else {}
        yield from _step("put", Call("PUT", put_url, TEST_BODY, put_headers))
        try:
            got: Answer = yield from _step("get", Call(
                "GET", get_url, headers={"Range": f"bytes={RANGE[0]}-{RANGE[1]}"}))
            want = TEST_BODY[RANGE[0]:RANGE[1] + 1]
            if got.status != 206 or got.body != want:
                raise BucketConnectionError("get", (
                    f"the storage answered {got.status} with {len(got.body)} bytes to a "
                    f"ranged read of {len(want)} (it must support Range requests)"))
        except BucketConnectionError:
            with contextlib.suppress(DataForceError):  # the test object is not left behind
                yield from transfer_op(Call("DELETE", delete_url))
            raise
        yield from _step("delete", Call("DELETE", delete_url))

    def test_connection(self, *, using: Session | None = None) -> None:
        """Check that the storage works with these settings, before or after saving: the
        platform signs URLs for a small object, which is put, read back with a range and
        deleted. A stored secret is tested with its changes not saved yet merged over the
        stored settings (keys need not be set again). Nothing is saved.
        BucketConnectionError names the step that failed and why; the platform's refusals
        (ValidationError, 404, 403) are raised as they are."""
        session = self._session_for(using)
        session.driver.run(self._test_connection_op(session))

    async def atest_connection(self, *, using: Session | None = None) -> None:
        """Async ``test_connection()``."""
        session = self._session_for(using)
        await session.async_driver.run(self._test_connection_op(session))

    def _verified_save_op(self, session: Session, force: bool,
                          update_fields: Iterable[str] | None, verify: bool) -> Op[None]:
        if verify and (self.pk is None or self.changed_fields()):
            yield from self._test_connection_op(session)
        yield from self._save_op(session, force, update_fields)

    def save(self, *, force: bool = False, update_fields: Iterable[str] | None = None,
             using: Session | None = None, verify: bool = False) -> None:
        """``Model.save()``; with ``verify=True`` the connection test runs first (as the
        official SDK's create does), and nothing is saved when it fails."""
        session = self._session_for(using)
        session.driver.run(self._verified_save_op(session, force, update_fields, verify))

    async def asave(self, *, force: bool = False, update_fields: Iterable[str] | None = None,
                    using: Session | None = None, verify: bool = False) -> None:
        """Async ``save()``."""
        session = self._session_for(using)
        await session.async_driver.run(self._verified_save_op(session, force, update_fields,
                                                              verify))


def _step(step: str, call: Call) -> Op[Answer]:
    """One storage call of the test; its failure is a BucketConnectionError naming ``step``."""
    try:
        answer: Answer = yield from transfer_op(call)
    except DataForceError as exc:
        raise BucketConnectionError(step, str(exc)) from exc
    return answer
