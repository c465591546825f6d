"""No presigned URL's query string (its signature: a bearer credential) in any log record, at
any level, whoever emits it (the library, urllib3 under requests, httpx), nor in an error
message: every logger is turned to DEBUG during sync and async transfers, failures included,
and every record is scanned."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from parity import AsyncMode, SyncMode

import dataforce_orm as dfo
from dataforce_orm import Collection, RetryPolicy, Session
from dataforce_orm._log_urls import without_queries
from dataforce_orm.testing import Fault, LocalServer, make_luml_archive

PART = 16 * 1024
# what a presigned S3 or Azure URL's query holds
SIGNED = re.compile(r"X-Amz-Signature|X-Amz-Credential|[?&]sig=|[?&]se=")


@pytest.fixture(scope="module")
def lserver() -> Iterator[LocalServer]:
    with LocalServer(multipart_threshold=4 * PART, multipart_part_size=PART) as srv:
        yield srv


class _All(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every record of every logger, at DEBUG, for the test's length."""
    handler = _All()
    loggers = [logging.getLogger(n) for n in ("", "urllib3", "httpx", "httpcore", "requests",
                                              *logging.root.manager.loggerDict)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    logging.root.addHandler(handler)
    try:
        yield handler.records
    finally:
        logging.root.removeHandler(handler)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled


def _text(record: logging.LogRecord) -> str:
    out = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        out += repr(record.exc_info[1])
    return out


@pytest.mark.parametrize("flavour", ["s3", "azure"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_signature_in_any_record(lserver: LocalServer, tmp_path: Path, mode: str,
                                    flavour: str, records: list[logging.LogRecord]) -> None:
    orbit = lserver.add_orbit(lserver.organization_id, f"logs-{mode}-{flavour}")
    lserver.set_storage_flavour(orbit, flavour)
    with Session(api_key=lserver.api_key, base_url=lserver.url,
                 organization=lserver.organization_id, orbit=orbit,
                 retry=RetryPolicy(sleep=lambda _: None, backoff=0.0)) as s:
        m: Any = SyncMode() if mode == "sync" else AsyncMode(s)
        try:
            coll = Collection.objects.create(name="logs", collection_type="model")
            errors: list[BaseException] = []
            for size in (100, 6 * PART):  # one PUT, then parts
                path = make_luml_archive(tmp_path / f"m{size}.luml",
                                         files={"w.bin": os.urandom(size)})
                lserver.add_fault(Fault(kind="status", status=503, method="PUT",
                                        scope="storage", times=1))  # retried: logged
                art = m.upload(coll.artifacts, path)
                m.download(art, tmp_path / f"out{size}")
                lserver.add_fault(Fault(kind="status", status=403, method="GET",
                                        scope="storage"))
                with pytest.raises(dfo.DataForceError) as info:
                    m.download(art, tmp_path / f"refused{size}")
                errors.append(info.value)
                lserver.clear_faults()
                lserver.add_fault(Fault(kind="drop", method="DELETE", scope="storage"))
                with pytest.raises(dfo.DataForceError) as info:
                    m.delete(art)
                errors.append(info.value)
                lserver.clear_faults()
        finally:
            lserver.clear_faults()
            if isinstance(m, AsyncMode):
                m.close()
    texts = [_text(r) for r in records]
    # the scan sees the clients' request records (urllib3 at DEBUG, httpx at INFO)...
    client = "httpx" if mode == "async" else "urllib3"
    assert any(r.name.startswith(client) and ("PUT" in r.getMessage()) for r in records)
    # ...and none of them, nor any error, holds a signature
    leaks = [t for t in texts if SIGNED.search(t)]
    assert leaks == []
    for err in errors:
        assert not SIGNED.search(str(err)) and not SIGNED.search(repr(err))


@pytest.mark.parametrize(("text", "shown"), [
    ('127.0.0.1:80 "PUT /b/k?X-Amz-Signature=abc HTTP/1.1" 200 0',
     '127.0.0.1:80 "PUT /b/k?<query hidden> HTTP/1.1" 200 0'),
    ("HTTP Request: GET https://acc.blob/c/b?se=1&sig=x%2F \"HTTP/1.1 200 OK\"",
     "HTTP Request: GET https://acc.blob/c/b?<query hidden> \"HTTP/1.1 200 OK\""),
    ("no url here? none", "no url here? none"),
])
def test_queries_are_hidden(text: str, shown: str) -> None:
    assert without_queries(text) == shown
