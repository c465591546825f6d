"""The storage protocols of an upload as step plans: one PUT, or a multipart upload (S3: start,
parts, complete; Azure: blocks, block list), chosen by the storage flavour the platform names."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from ._errors import DataForceError
from ._model import wire_error
from ._protocol import Op, Request
from ._transfer import Answer, Call, Progress, Put, PutParts, transfer_op

MULTIPART_URLS = "/v1/bucket-secrets/upload/multipart"
_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class S3:
    """Amazon S3 (and compatible stores): an upload id to start, ETags to complete."""

    single_headers: ClassVar[dict[str, str]] = {}

    def start_op(self, url: str) -> Op[str | None]:
        """Start the multipart upload; its upload id."""
        started = yield from transfer_op(Call("POST", url))
        return _upload_id(started.body)

    def complete_op(self, url: str, parts: Sequence[dict[str, Any]],
                    answers: Sequence[Answer]) -> Op[None]:
        """Complete it with each part's ETag, in part order."""
        etags = [a.headers.get("etag") or a.headers.get("ETag") for a in answers]
        if not all(etags):
            raise DataForceError("storage answered a part without an ETag; the upload cannot "
                                 "be completed")
        xml = "".join(f"<Part><PartNumber>{p['part_number']}</PartNumber>"
                      f"<ETag>{escape(str(e))}</ETag></Part>"
                      for p, e in zip(parts, etags, strict=True))
        done = yield from transfer_op(Call("POST", url, f"<CompleteMultipartUpload>{xml}"
                                                        f"</CompleteMultipartUpload>".encode()))
        if b"<Error>" in done.body:  # S3 may answer 200 and report a failure in the body
            raise DataForceError("storage did not complete the multipart upload: "
                                 + done.body.decode("utf-8", "replace")[:300])


class Azure:
    """Azure Blob Storage: blocks need no start; a block list commits them."""

    single_headers: ClassVar[dict[str, str]] = {"x-ms-blob-type": "BlockBlob"}

    def start_op(self, url: str) -> Op[str | None]:
        """Nothing to start (no request): blocks are staged by their own PUTs."""
        return None
        yield  # (an operation)

    def complete_op(self, url: str, parts: Sequence[dict[str, Any]],
                    answers: Sequence[Answer]) -> Op[None]:
        """Commit the blocks, in part order."""
        xml = "".join(f"<Latest>{escape(_block_id(p))}</Latest>" for p in parts)
        yield from transfer_op(Call("PUT", url, f"<?xml version='1.0' encoding='utf-8'?>"
                                                f"<BlockList>{xml}</BlockList>".encode()))


Flavour = S3 | Azure


def flavour(details: dict[str, Any]) -> Flavour:
    """The storage protocol for an upload's ``upload_details`` (its ``type``)."""
    return Azure() if details.get("type") == "azure" else S3()


def send_file_op(details: dict[str, Any], source: str, size: int, progress: Progress | None,
                 concurrency: int) -> Op[None]:
    """Send the file where ``details`` (the platform's ``upload_details``) say: one PUT, or a
    multipart upload whose part URLs the platform presigns."""
    store = flavour(details)
    if not details.get("multipart"):
        yield from transfer_op(Put(str(details["url"]), source, 0, size, store.single_headers),
                               progress)
        return
    upload_id = yield from store.start_op(str(details["url"]))
    ask = {"bucket_id": details.get("bucket_secret_id"),
           "bucket_location": details.get("bucket_location"), "size": size}
    if upload_id is not None:
        ask["upload_id"] = upload_id
    urls_req = Request("POST", MULTIPART_URLS, json=ask)
    urls = (yield urls_req).data
    if not isinstance(urls, dict) or not isinstance(urls.get("parts"), list):
        raise wire_error(urls_req, "expected {'parts': [...], 'complete_url': ...}")
    parts = sorted(urls["parts"], key=lambda p: int(p["part_number"]))
    puts = tuple(Put(str(p["url"]), source, int(p["start_byte"]),
                     int(p["end_byte"]) - int(p["start_byte"]) + 1) for p in parts)
    # (a failed multipart upload cannot be aborted: the platform presigns no abort URL, so
    # its parts stay in the bucket until a lifecycle rule removes them)
    answers = yield from transfer_op(PutParts(puts, concurrency), progress)
    yield from store.complete_op(str(urls["complete_url"]), parts, answers)


def _upload_id(xml: bytes) -> str:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        root = None
    node = None
    if root is not None:  # (an Element without children is falsy: no `or` here)
        node = root.find(f"{_S3_NS}UploadId")
        if node is None:
            node = root.find("UploadId")
    if node is None or not node.text:
        raise DataForceError("storage did not start the multipart upload (no UploadId)")
    return node.text


def _block_id(part: dict[str, Any]) -> str:
    """An Azure block's id: the one in its URL, else the platform's scheme."""
    ids = parse_qs(urlsplit(str(part["url"])).query).get("blockid")
    if ids:
        return ids[0]
    return base64.b64encode(f"block-{int(part['part_number']):08d}".encode()).decode()
