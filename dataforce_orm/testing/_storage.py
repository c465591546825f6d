"""Object storage served by LocalServer itself, behind presigned URLs on its own host and port.

Two wire flavours, chosen per orbit (its bucket secret's ``type``):

* **S3**, path-style like minio-py presigns for a non-AWS endpoint:
  ``/{bucket}/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…&X-Amz-Date=…&X-Amz-Expires=43200&X-Amz-SignedHeaders=host&X-Amz-Signature=…``
  (real SigV4 over method, path, query and ``host``, checked on every request). PUT object,
  multipart (POST ``?uploads``, PUT ``?partNumber&uploadId``, POST ``?uploadId``, DELETE
  ``?uploadId``), GET (``Range`` -> 206), DELETE.
* **Azure Blob**, Azurite-style paths: ``/{account}/{container}/{blob}?se=…&sp=…&sv=…&sr=b&sig=…``
  (a service SAS, checked too). Put Blob, Put Block (``comp=block&blockid=``), Put Block List
  (``comp=blocklist``), GET (``Range`` -> 206), DELETE (202).

URLs for an external S3 service (an orbit's bucket secret elsewhere, e.g. moto) are presigned
the same way with that secret's endpoint, bucket, keys and region (``S3Target``); the server
never talks to it.

Bytes live in files under a temporary directory, never whole in memory: request bodies are
streamed to disk in chunks and answers are streamed (``sendfile`` when no bandwidth cap).
A multipart object is the list of its part files (completing one copies nothing).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
import uuid
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, BinaryIO
from urllib.parse import quote, unquote

S3_BUCKET = "dataforce-local"
AZURE_ACCOUNT = "devstoreaccount1"
AZURE_CONTAINER = "dataforce-local"
ACCESS_KEY = "DATAFORCELOCALKEY0000"
REGION = "us-east-1"
URL_TTL = 12 * 3600  # seconds: the platform presigns for 12 hours
AZURE_VERSION = "2025-11-05"
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MULTIPART_THRESHOLD = 500 * 1024**2  # 524 288 000 bytes: larger uploads are multipart
_MIB, _GIB = 1024**2, 1024**3
# the platform's part sizes (backend/luml/clients/base_storage_client.py), upper bound inclusive
PART_SIZE_TABLE: tuple[tuple[int, int], ...] = (
    (1 * _GIB, 32 * _MIB),
    (5 * _GIB, 64 * _MIB),
    (10 * _GIB, 128 * _MIB),
    (100 * _GIB, 512 * _MIB),
)
LARGEST_PART = 1 * _GIB
S3_MIN_PART = 5 * _MIB
S3_MAX_PUT = 5 * _GIB
AZURE_MAX_BLOB = 5000 * _MIB
AZURE_MAX_BLOCK = 4000 * _MIB
_CHUNK = 1024 * 1024
_XML_LIMIT = 8 * _MIB
_DRAIN = 64 * _MIB  # an unread body up to this is drained after an early answer


def part_size_for(size: int) -> int:
    """The platform's part size for an upload of ``size`` bytes."""
    for upper, part in PART_SIZE_TABLE:
        if size <= upper:
            return part
    return LARGEST_PART


def part_ranges(size: int, part_size: int) -> list[tuple[int, int, int, int]]:
    """(part_number, start_byte, end_byte inclusive, part_size) for every part."""
    out = []
    count = -(-size // part_size) if size > 0 else 0
    start = 0
    for number in range(1, count + 1):
        length = min(part_size, size - (number - 1) * part_size)
        out.append((number, start, start + length - 1, length))
        start += length
    return out


def azure_block_id(part_number: int) -> str:
    """The platform's block id: base64 of ``block-`` and the 8-digit part number."""
    return base64.b64encode(f"block-{part_number:08d}".encode()).decode()


class PresignError(Exception):
    """minio-py refused to presign (the message is what it says)."""


def check_object_name(name: str) -> None:
    """minio-py's object-name check (applied before every S3 presign)."""
    if not name.strip():
        raise PresignError("")
    tokens = name.split("/")
    if "." in tokens or ".." in tokens:
        raise PresignError("object name with '.' or '..' path segment is not supported")


# -- signing ------------------------------------------------------------------------------------


def _enc(text: str) -> str:
    return quote(text, safe="")


def _amz_date(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _sigv4(
    secret: str,
    method: str,
    path: str,
    pairs: list[tuple[str, str]],
    host: str,
    region: str = REGION,
) -> str:
    """SigV4 query signature over canonical (decoded) path and query pairs, host signed."""
    params = dict(pairs)
    date = params["X-Amz-Date"]
    scope = f"{date[:8]}/{region}/s3/aws4_request"
    encoded = sorted((_enc(k), _enc(v)) for k, v in pairs if k != "X-Amz-Signature")
    query = "&".join(f"{k}={v}" for k, v in encoded)
    canonical = (
        f"{method}\n{quote(path, safe='/')}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
    )
    to_sign = (
        f"AWS4-HMAC-SHA256\n{date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    key = _hmac(f"AWS4{secret}".encode(), date[:8])
    for part in (region, "s3", "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _azure_sign(key: bytes, params: dict[str, str], resource: str) -> str:
    fields = [
        params.get("sp", ""),
        params.get("st", ""),
        params.get("se", ""),
        resource,
        params.get("si", ""),
        params.get("sip", ""),
        params.get("spr", ""),
        params.get("sv", ""),
        params.get("sr", ""),
        params.get("sst", ""),
        params.get("ses", ""),
        *(params.get(k, "") for k in ("rscc", "rscd", "rsce", "rscl", "rsct")),
    ]
    digest = hmac.new(key, "\n".join(fields).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _split_query(query: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs; ``+`` stays a plus (S3 and Azure decode it so)."""
    pairs = []
    for item in query.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


@dataclass(frozen=True)
class S3Target:
    """An S3 service other than the server's own storage (a bucket secret's), for which URLs
    are presigned as the platform's minio-py does: path-style, ``http`` unless ``secure``
    (None counts as true), SigV4 with these keys and region; no keys: unsigned URLs."""

    endpoint: str  # host[:port]
    bucket: str
    access_key: str | None
    secret_key: str | None
    region: str
    secure: bool


# -- stored state -------------------------------------------------------------------------------


@dataclass
class Part:
    """A part or block file."""

    path: str
    size: int
    md5: bytes


@dataclass
class StoredObject:
    """An object: its part files in order, total size and headers."""

    segments: list[Part]
    size: int
    etag: str
    content_type: str
    modified: float
    content_md5: str | None = None
    block_ids: list[str] = field(default_factory=list)  # Azure: committed block ids


@dataclass
class Upload:
    """An S3 multipart upload in progress."""

    bucket: str
    key: str
    content_type: str
    parts: dict[int, Part] = field(default_factory=dict)


# -- the HTTP exchange --------------------------------------------------------------------------


class Throttle:
    """Per-connection bandwidth cap: sleep so transfers keep under ``rate`` bytes/s."""

    def __init__(self, rate: float) -> None:
        self.rate = float(rate)
        self.chunk = max(16 * 1024, min(_CHUNK, int(rate) // 20))
        self._start = 0.0
        self._done = 0

    def reset(self) -> None:
        """Start a new accounting window (one request)."""
        self._start, self._done = time.monotonic(), 0

    def account(self, n: int) -> None:
        """n more bytes went through: sleep if ahead of the allowed rate."""
        self._done += n
        ahead = self._done / self.rate - (time.monotonic() - self._start)
        if ahead > 0:
            time.sleep(ahead)


class Exchange:
    """One storage request on a connection: body reading and answer writing, streamed."""

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        rfile: Any,
        wfile: Any,
        connection: socket.socket | None,
        throttle: Throttle | None,
    ) -> None:
        self.method, self.path, self.query, self.headers = method, path, query, headers
        self.rfile, self.wfile, self.connection, self.throttle = rfile, wfile, connection, throttle
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        raw_length = headers.get("content-length")
        self.length: int | None = None
        if raw_length is not None and raw_length.strip().isdigit():
            self.length = int(raw_length)
        self.remaining = self.length or 0
        self.keep_alive = True
        self.mute = False  # drop_after: do everything, answer nothing
        self.answered = False
        if throttle is not None:
            throttle.reset()

    def read(self, size: int) -> bytes:
        """Up to size body bytes; short only at the end of the body (or a hang-up)."""
        size = min(size, self.remaining)
        if size <= 0:
            return b""
        if self.throttle is not None:
            size = min(size, self.throttle.chunk)
        data: bytes = self.rfile.read(size)
        self.remaining -= len(data)
        if len(data) < size:
            self.remaining = 0
            self.keep_alive = False
            raise ConnectionError("client hung up mid-body")
        if self.throttle is not None:
            self.throttle.account(len(data))
        return data

    def read_to(self, target: BinaryIO, digest: Any) -> int:
        """Stream the whole body into target (and the digest); returns its length."""
        total = 0
        while self.remaining:
            data = self.read(_CHUNK)
            target.write(data)
            digest.update(data)
            total += len(data)
        return total

    def read_small(self, limit: int) -> bytes | None:
        """A small body (XML), or None when longer than limit."""
        if self.remaining > limit:
            return None
        parts = []
        while self.remaining:
            parts.append(self.read(_CHUNK))
        return b"".join(parts)

    def finish(self) -> None:
        """After answering: drain a short unread body, or give up the connection."""
        if self.chunked and self.method in ("PUT", "POST"):
            self.keep_alive = False
        if self.remaining > _DRAIN:
            self.keep_alive = False
        elif self.remaining and self.keep_alive:
            with contextlib.suppress(OSError, ConnectionError):
                while self.remaining:
                    self.read(_CHUNK)

    def send(
        self,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        stream: tuple[list[Part], int, int] | None = None,
    ) -> None:
        """Write the answer; stream = (segments, first byte, length) sends file bytes."""
        if self.mute or self.answered:
            return
        self.answered = True
        length = stream[2] if stream is not None else len(body)
        if self.remaining > _DRAIN or (self.chunked and self.method in ("PUT", "POST")):
            self.keep_alive = False
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        head = [f"HTTP/1.1 {status} {phrase}", f"Date: {formatdate(usegmt=True)}"]
        head += [f"{k}: {v}" for k, v in headers]
        if status not in (204, 304) or body:
            head.append(f"Content-Length: {length}")
        if not self.keep_alive:
            head.append("Connection: close")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if self.method == "HEAD":
            self.wfile.write(data)
            return
        if stream is None:
            self._write(data + body)
            return
        self.wfile.write(data)
        self._stream(*stream)

    def _write(self, data: bytes) -> None:
        if self.throttle is None:
            self.wfile.write(data)
            return
        view = memoryview(data)
        for i in range(0, len(view), self.throttle.chunk):
            piece = view[i : i + self.throttle.chunk]
            self.throttle.account(len(piece))  # before writing: the last piece waits too
            self.wfile.write(piece)

    def _stream(self, segments: list[Part], first: int, length: int) -> None:
        for part in segments:
            if length <= 0:
                break
            if first >= part.size:
                first -= part.size
                continue
            count = min(part.size - first, length)
            with open(part.path, "rb") as f:
                if self.throttle is None and self.connection is not None:
                    self.connection.sendfile(f, first, count)
                else:
                    f.seek(first)
                    left = count
                    while left:
                        data = f.read(min(_CHUNK, left))
                        if not data:
                            raise OSError("stored object shrank")
                        self._write(data)
                        left -= len(data)
            length -= count
            first = 0


# -- errors -------------------------------------------------------------------------------------

_S3_MESSAGES = {
    "AccessDenied": "Access Denied",
    "BadDigest": "The Content-MD5 you specified did not match what we received.",
    "EntityTooLarge": "Your proposed upload exceeds the maximum allowed size",
    "EntityTooSmall": "Your proposed upload is smaller than the minimum allowed object size.",
    "InvalidAccessKeyId": "The AWS Access Key Id you provided does not exist in our records.",
    "InvalidArgument": "Part number must be an integer between 1 and 10000, inclusive",
    "InvalidDigest": "The Content-MD5 you specified was invalid.",
    "InvalidPart": (
        "One or more of the specified parts could not be found.  The part may not have been "
        "uploaded, or the specified entity tag may not have matched the part's entity tag."
    ),
    "InvalidPartOrder": (
        "The list of parts was not in ascending order. Parts must be ordered by part number."
    ),
    "InternalError": "We encountered an internal error. Please try again.",
    "InvalidRange": "The requested range is not satisfiable",
    "MalformedXML": (
        "The XML you provided was not well-formed or did not validate against our published "
        "schema"
    ),
    "MethodNotAllowed": "The specified method is not allowed against this resource.",
    "MissingContentLength": "You must provide the Content-Length HTTP header.",
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchUpload": (
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed."
    ),
    "SlowDown": "Please reduce your request rate.",
    "SignatureDoesNotMatch": (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    ),
}
_S3_STATUS_CODES = {500: "InternalError", 501: "NotImplemented", 503: "SlowDown"}
_AZURE_MESSAGES = {
    "AuthenticationFailed": (
        "Server failed to authenticate the request. Make sure the value of Authorization "
        "header is formed correctly including the signature."
    ),
    "AuthorizationPermissionMismatch": (
        "This request is not authorized to perform this operation using this permission."
    ),
    "BlobNotFound": "The specified blob does not exist.",
    "ContainerNotFound": "The specified container does not exist.",
    "InternalError": "The server encountered an internal error. Please retry the request.",
    "InvalidBlobOrBlock": "The specified blob or block content is invalid.",
    "InvalidBlockList": "The specified block list is invalid.",
    "InvalidHeaderValue": "The value for one of the HTTP headers is not in the correct format.",
    "InvalidQueryParameterValue": (
        "Value for one of the query parameters specified in the request URI is invalid."
    ),
    "InvalidRange": "The range specified is invalid for the current size of the resource.",
    "InvalidXmlDocument": "XML specified is not syntactically valid.",
    "MissingContentLengthHeader": "Content-Length HTTP header is missing.",
    "MissingRequiredHeader": "An HTTP header that's mandatory for this request is not specified.",
    "RequestBodyTooLarge": (
        "The request body is too large and exceeds the maximum permissible limit."
    ),
    "ServerBusy": "The server is currently unable to receive requests. Please retry your request.",
    "UnsupportedHttpVerb": "The resource doesn't support specified Http Verb.",
}
_AZURE_STATUS_CODES = {500: "InternalError", 503: "ServerBusy"}


class _Fail(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        extra: list[tuple[str, str]] | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.extra, self.message = status, code, extra or [], message


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _http_time(moment: float) -> str:
    return formatdate(moment, usegmt=True)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(first, length) for one satisfiable range; None: ignore the header; "416": refuse."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not dash or not (first_text.isdigit() or (not first_text and last_text.isdigit())):
        return None
    if last_text and not last_text.isdigit():
        return None
    if not first_text:
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            return "416"
        first = max(0, size - suffix)
        return first, size - first
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        return "416"
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1) - first + 1


# -- the store ----------------------------------------------------------------------------------


class Storage:
    """Objects on disk plus the presigning and serving of both wire flavours."""

    def __init__(
        self,
        base_url: Callable[[], str],
        *,
        root: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_part_size: int | None = None,
        bandwidth: float | None = None,
    ) -> None:
        if multipart_part_size is not None and multipart_part_size <= 0:
            raise ValueError("multipart_part_size must be positive")
        if bandwidth is not None and bandwidth <= 0:
            raise ValueError("storage_bandwidth must be positive")
        self._base_url = base_url
        self._own_root = root is None
        self._root = root
        self._cleanup: Callable[[], Any] = lambda: None
        self.multipart_threshold = multipart_threshold
        self.multipart_part_size = multipart_part_size
        self.bandwidth = bandwidth
        self.secret_key = secrets.token_urlsafe(30)
        self.account_key = base64.b64encode(secrets.token_bytes(64)).decode()
        self._account_key_bytes = base64.b64decode(self.account_key)
        self.buckets: set[str] = {S3_BUCKET}
        self.containers: set[str] = {AZURE_CONTAINER}
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str, str], StoredObject] = {}
        self._uploads: dict[str, Upload] = {}
        self._blocks: dict[tuple[str, str], dict[str, Part]] = {}
        self._etag_counter = 0
        self.now: Callable[[], float] = time.time  # tests may move the clock

    @property
    def root(self) -> str:
        """The directory holding the stored bytes (a temporary one unless given; made on use)."""
        with self._lock:
            if self._root is None:
                self._root = tempfile.mkdtemp(prefix="dataforce-storage-")
                # removed by close(), or when the server is collected, or at exit
                self._cleanup = weakref.finalize(self, shutil.rmtree, self._root, True)
            else:
                os.makedirs(self._root, exist_ok=True)
            return self._root

    # -- sizes ----------------------------------------------------------------------------------

    def is_multipart(self, size: int) -> bool:
        """Whether an upload of size bytes goes multipart."""
        return size > self.multipart_threshold

    def part_size(self, size: int) -> int:
        """The part size for an upload of size bytes (fixed, or the platform's table)."""
        return self.multipart_part_size or part_size_for(size)

    @property
    def min_part(self) -> int:
        """Smallest non-final S3 part accepted at completion."""
        return min(S3_MIN_PART, self.multipart_part_size or S3_MIN_PART)

    # -- presigning -----------------------------------------------------------------------------

    def _host(self) -> tuple[str, str]:
        base = self._base_url()
        return base, base.partition("://")[2]

    @property
    def netloc(self) -> str:
        """The server's own ``host:port`` (where its storage is served)."""
        return self._host()[1]

    def s3_url(
        self,
        method: str,
        key: str,
        extra: list[tuple[str, str]] | None = None,
        what: str = "",
        target: S3Target | None = None,
    ) -> str:
        """A presigned path-style S3 URL (minio-py's layout) for the local bucket, or for
        the target's bucket, signed with its keys and region."""
        try:
            check_object_name(key)
        except PresignError as exc:
            raise PresignError(f"Failed to generate {what}: {exc}") from exc
        if target is None:
            base, host = self._host()
            bucket, access, secret, region = S3_BUCKET, ACCESS_KEY, self.secret_key, REGION
        else:
            host = target.endpoint
            base = f"{'https' if target.secure else 'http'}://{host}"
            bucket, region = target.bucket, target.region
            access, secret = target.access_key or "", target.secret_key or ""
        path = f"/{bucket}/{key}"
        if target is not None and not (access and secret):  # minio: an anonymous URL
            query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in extra or [])
            return f"{base}{quote(path, safe='/')}" + (f"?{query}" if query else "")
        moment = datetime.fromtimestamp(self.now(), timezone.utc)
        pairs = [
            *(extra or []),
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{access}/{moment:%Y%m%d}/{region}/s3/aws4_request"),
            ("X-Amz-Date", _amz_date(moment)),
            ("X-Amz-Expires", str(URL_TTL)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        signature = _sigv4(secret, method, path, pairs, host, region)
        query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in pairs)
        return f"{base}{quote(path, safe='/')}?{query}&X-Amz-Signature={signature}"

    def azure_url(self, blob: str, permissions: str) -> str:
        """A service-SAS blob URL (azure-storage-blob's layout, Azurite-style path)."""
        base, _ = self._host()
        expiry = datetime.fromtimestamp(self.now(), timezone.utc) + timedelta(seconds=URL_TTL)
        params = {
            "se": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sp": permissions,
            "sv": AZURE_VERSION,
            "sr": "b",
        }
        resource = f"/blob/{AZURE_ACCOUNT}/{AZURE_CONTAINER}/{blob}"
        params["sig"] = _azure_sign(self._account_key_bytes, params, resource)
        token = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        path = f"/{AZURE_ACCOUNT}/{quote(AZURE_CONTAINER)}/{quote(blob, safe='~/')}"
        return f"{base}{path}?{token}"

    def upload_details(
        self,
        flavour: str,
        key: str,
        size: int,
        bucket_secret_id: str,
        target: S3Target | None = None,
    ) -> dict[str, Any]:
        """The create response's ``upload_details`` (S3 URLs for target when given)."""
        multipart = self.is_multipart(size)
        if flavour == "azure":
            url = None if multipart else self.azure_url(key, "cw")
        elif multipart:
            url = self.s3_url("POST", key, [("uploads", "")], "initiate URL", target)
        else:
            url = self.s3_url("PUT", key, what="upload URL", target=target)
        return {
            "type": flavour,
            "url": url,
            "multipart": multipart,
            "bucket_location": key,
            "bucket_secret_id": bucket_secret_id,
        }

    def multipart_details(
        self,
        flavour: str,
        key: str,
        size: int,
        upload_id: str | None,
        target: S3Target | None = None,
    ) -> dict[str, Any]:
        """``POST /v1/bucket-secrets/upload/multipart``: part URLs and the completion URL."""
        if flavour != "azure" and upload_id is None:
            raise ValueError("upload_id is required for S3 multipart uploads")
        parts = []
        for number, start, end, length in part_ranges(size, self.part_size(size)):
            if flavour == "azure":
                url = self.azure_url(key, "cw")
                url += f"&comp=block&blockid={azure_block_id(number)}"
            else:
                assert upload_id is not None
                query = [("partNumber", str(number)), ("uploadId", upload_id)]
                url = self.s3_url("PUT", key, query, "URL", target)
            parts.append(
                {
                    "part_number": number,
                    "url": url,
                    "start_byte": start,
                    "end_byte": end,
                    "part_size": length,
                }
            )
        if flavour == "azure":
            return {
                "type": "azure",
                "parts": parts,
                "complete_url": self.azure_url(key, "cw") + "&comp=blocklist",
            }
        assert upload_id is not None
        complete = self.s3_url("POST", key, [("uploadId", upload_id)], "complete URL", target)
        return {"type": "s3", "upload_id": upload_id, "parts": parts, "complete_url": complete}

    def download_url(self, flavour: str, key: str, target: S3Target | None = None) -> str:
        """A presigned GET (S3) or read SAS (Azure)."""
        if flavour == "azure":
            return self.azure_url(key, "r")
        return self.s3_url("GET", key, what="download URL", target=target)

    def delete_url(self, flavour: str, key: str, target: S3Target | None = None) -> str:
        """A presigned DELETE (S3) or delete SAS (Azure)."""
        if flavour == "azure":
            return self.azure_url(key, "d")
        return self.s3_url("DELETE", key, what="delete URL", target=target)

    # -- helpers for tests ----------------------------------------------------------------------

    def read_object(self, flavour: str, key: str) -> bytes | None:
        """The stored bytes of an object (tests only: reads it all), None if absent."""
        with self._lock:
            obj = self._objects.get(self._object_key(flavour, key))
        if obj is None:
            return None
        out = bytearray()
        for part in obj.segments:
            with open(part.path, "rb") as f:
                out += f.read()
        return bytes(out)

    def object_size(self, flavour: str, key: str) -> int | None:
        """The stored size of an object, None if absent."""
        with self._lock:
            obj = self._objects.get(self._object_key(flavour, key))
        return None if obj is None else obj.size

    def pending_uploads(self) -> int:
        """Incomplete S3 multipart uploads plus blobs with uncommitted Azure blocks."""
        with self._lock:
            return len(self._uploads) + sum(1 for b in self._blocks.values() if b)

    @staticmethod
    def _object_key(flavour: str, key: str) -> tuple[str, str, str]:
        if flavour == "azure":
            return ("azure", AZURE_CONTAINER, key)
        return ("s3", S3_BUCKET, key)

    def close(self) -> None:
        """Forget everything and remove the files."""
        with self._lock:
            self._objects.clear()
            self._uploads.clear()
            self._blocks.clear()
        if self._own_root and self._root is not None:
            self._cleanup()
            self._root = None

    # -- files ----------------------------------------------------------------------------------

    def _receive(self, ex: Exchange) -> Part:
        """Stream the request body into a new file."""
        path = os.path.join(self.root, f"{uuid.uuid4().hex}.part")
        digest = hashlib.md5()
        try:
            with open(path, "wb") as f:
                size = ex.read_to(f, digest)
        except BaseException:
            _unlink(path)
            raise
        return Part(path, size, digest.digest())

    def _drop(self, parts: Iterator[Part] | list[Part]) -> None:
        for part in parts:
            _unlink(part.path)

    def _store(self, key: tuple[str, str, str], obj: StoredObject) -> None:
        with self._lock:
            old = self._objects.get(key)
            self._objects[key] = obj
        if old is not None:
            self._drop([p for p in old.segments if p not in obj.segments])

    def _azure_etag(self) -> str:
        with self._lock:
            self._etag_counter += 1
            value = (time.time_ns() // 100) * 16 + (self._etag_counter & 0xF)
        return f'"0x{value:X}"'

    # -- serving --------------------------------------------------------------------------------

    def claims(self, path: str) -> bool:
        """Whether a request path is a storage path (bucket or Azure account)."""
        first = path[1:].split("/", 1)[0]
        return first == AZURE_ACCOUNT or first in self.buckets

    def flavour_of(self, path: str) -> str:
        """"azure" or "s3" for a claimed path."""
        return "azure" if path[1:].split("/", 1)[0] == AZURE_ACCOUNT else "s3"

    def fault(self, ex: Exchange, status: int, retry_after: str | None) -> None:
        """Answer an injected status fault in the storage flavour's error shape."""
        azure = self.flavour_of(ex.path) == "azure"
        table = _AZURE_STATUS_CODES if azure else _S3_STATUS_CODES
        try:
            fallback = HTTPStatus(status).phrase.replace(" ", "")
        except ValueError:
            fallback = "Unknown"
        code = table.get(status, fallback)
        extra = [("Retry-After", retry_after)] if retry_after is not None else []
        self._error(ex, azure, _Fail(status, code, extra))

    def serve(self, ex: Exchange) -> None:
        """Answer one storage request (errors in the flavour's XML shape)."""
        azure = self.flavour_of(ex.path) == "azure"
        try:
            if azure:
                self._serve_azure(ex)
            else:
                self._serve_s3(ex)
        except _Fail as fail:
            self._error(ex, azure, fail)
        except ConnectionError:
            raise
        except Exception:  # a storage-side failure (disk full, ...): the flavour's 500
            ex.keep_alive = False
            if not ex.answered:
                self._error(ex, azure, _Fail(500, "InternalError"))
        finally:
            ex.finish()

    def _error(self, ex: Exchange, azure: bool, fail: _Fail) -> None:
        request_id = str(uuid.uuid4())
        message = fail.message
        if azure:
            text = message or _AZURE_MESSAGES.get(fail.code, fail.code)
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
            body = (
                '\ufeff<?xml version="1.0" encoding="utf-8"?><Error>'
                f"<Code>{fail.code}</Code><Message>{_xml(text)}\n"
                f"RequestId:{request_id}\nTime:{now}</Message></Error>"
            ).encode()
            headers = [
                ("Content-Type", "application/xml"),
                ("Server", "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0"),
                ("x-ms-request-id", request_id),
                ("x-ms-version", AZURE_VERSION),
                ("x-ms-error-code", fail.code),
            ]
        else:
            text = message or _S3_MESSAGES.get(fail.code, fail.code)
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
                f"<Code>{fail.code}</Code><Message>{_xml(text)}</Message>"
                f"<RequestId>{request_id[:16].upper()}</RequestId></Error>"
            ).encode()
            headers = [
                ("Content-Type", "application/xml"),
                ("Server", "AmazonS3"),
                ("x-amz-request-id", request_id[:16].upper()),
            ]
        ex.send(fail.status, headers + fail.extra, body if ex.method != "HEAD" else b"")

    @staticmethod
    def _s3_headers(extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
        request_id = uuid.uuid4().hex[:16].upper()
        return [("Server", "AmazonS3"), ("x-amz-request-id", request_id), *(extra or [])]

    @staticmethod
    def _azure_headers(extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
        return [
            ("Server", "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0"),
            ("x-ms-request-id", str(uuid.uuid4())),
            ("x-ms-version", AZURE_VERSION),
            *(extra or []),
        ]

    # -- S3 -------------------------------------------------------------------------------------

    def _check_s3_signature(self, ex: Exchange, bucket: str, key: str) -> dict[str, str]:
        pairs = _split_query(ex.query)
        params = dict(pairs)
        if "X-Amz-Signature" not in params and "X-Amz-Credential" not in params:
            raise _Fail(403, "AccessDenied")
        try:
            access_key, date, region, service, terminal = params["X-Amz-Credential"].split("/")
            moment = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
            expires = int(params["X-Amz-Expires"])
            ok = (
                params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
                and params["X-Amz-SignedHeaders"] == "host"
                and (region, service, terminal) == (REGION, "s3", "aws4_request")
                and date == params["X-Amz-Date"][:8]
                and 1 <= expires <= 604800
            )
            given = params["X-Amz-Signature"]
        except (KeyError, ValueError):
            ok, access_key, given, expires = False, ACCESS_KEY, "", 0
            moment = datetime.now()
        if not ok:
            raise _Fail(400, "AuthorizationQueryParametersError")
        if access_key != ACCESS_KEY:
            raise _Fail(403, "InvalidAccessKeyId")
        host = ex.headers.get("host", "")
        want = _sigv4(self.secret_key, ex.method, f"/{bucket}/{key}", pairs, host)
        if not hmac.compare_digest(want, given):
            raise _Fail(403, "SignatureDoesNotMatch")
        if moment.replace(tzinfo=timezone.utc).timestamp() + expires < self.now():
            raise _Fail(403, "AccessDenied", message="Request has expired")
        return params

    def _serve_s3(self, ex: Exchange) -> None:
        bucket, _, raw_key = ex.path[1:].partition("/")
        key = unquote(raw_key)
        params = self._check_s3_signature(ex, unquote(bucket), key)
        if not key:
            raise _Fail(405, "MethodNotAllowed")
        okey = ("s3", unquote(bucket), key)
        method = ex.method
        if method == "PUT" and "uploadId" in params:
            self._s3_put_part(ex, params)
        elif method == "PUT":
            self._s3_put(ex, okey)
        elif method == "POST" and "uploads" in params:
            self._s3_initiate(ex, key)
        elif method == "POST" and "uploadId" in params:
            self._s3_complete(ex, key, params["uploadId"])
        elif method == "DELETE" and "uploadId" in params:
            self._s3_abort(ex, key, params["uploadId"])
        elif method == "DELETE":
            with self._lock:
                obj = self._objects.pop(okey, None)
            if obj is not None:
                self._drop(obj.segments)
            ex.send(204, self._s3_headers())
        elif method in ("GET", "HEAD"):
            self._get(ex, okey, azure=False)
        else:
            raise _Fail(405, "MethodNotAllowed")

    def _require_length(self, ex: Exchange, azure: bool, limit: int) -> None:
        if ex.length is None:
            raise _Fail(411, "MissingContentLengthHeader" if azure else "MissingContentLength")
        if ex.length > limit:
            raise _Fail(413 if azure else 400, "RequestBodyTooLarge" if azure else "EntityTooLarge")

    @staticmethod
    def _check_md5(ex: Exchange, part: Part) -> None:
        given = ex.headers.get("content-md5")
        if given is None:
            return
        try:
            wanted = base64.b64decode(given, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _Fail(400, "InvalidDigest") from exc
        if wanted != part.md5:
            raise _Fail(400, "BadDigest")

    def _s3_put(self, ex: Exchange, okey: tuple[str, str, str]) -> None:
        self._require_length(ex, False, S3_MAX_PUT)
        part = self._receive(ex)
        try:
            self._check_md5(ex, part)
        except _Fail:
            self._drop([part])
            raise
        etag = f'"{part.md5.hex()}"'
        ctype = ex.headers.get("content-type") or "binary/octet-stream"
        self._store(okey, StoredObject([part], part.size, etag, ctype, self.now()))
        ex.send(200, self._s3_headers([("ETag", etag)]))

    def _s3_initiate(self, ex: Exchange, key: str) -> None:
        upload_id = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")
        ctype = ex.headers.get("content-type") or "binary/octet-stream"
        with self._lock:
            self._uploads[upload_id] = Upload(unquote(ex.path[1:].split("/", 1)[0]), key, ctype)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult '
            f'xmlns="{S3_NS}"><Bucket>{S3_BUCKET}</Bucket><Key>{_xml(key)}</Key>'
            f"<UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>"
        ).encode()
        ex.send(200, self._s3_headers([("Content-Type", "application/xml")]), body)

    def _upload(self, key: str, upload_id: str) -> Upload:
        upload = self._uploads.get(upload_id)
        if upload is None or upload.key != key:
            raise _Fail(404, "NoSuchUpload")
        return upload

    def _s3_put_part(self, ex: Exchange, params: dict[str, str]) -> None:
        text = params.get("partNumber", "")
        number = int(text) if text.isdigit() else 0
        if not 1 <= number <= 10000:
            raise _Fail(400, "InvalidArgument")
        key = unquote(ex.path[1:].partition("/")[2])
        with self._lock:
            self._upload(key, params["uploadId"])
        self._require_length(ex, False, S3_MAX_PUT)
        part = self._receive(ex)
        try:
            self._check_md5(ex, part)
            with self._lock:
                upload = self._upload(key, params["uploadId"])
                old = upload.parts.get(number)
                upload.parts[number] = part
        except _Fail:
            self._drop([part])
            raise
        if old is not None:
            self._drop([old])
        ex.send(200, self._s3_headers([("ETag", f'"{part.md5.hex()}"')]))

    def _s3_complete(self, ex: Exchange, key: str, upload_id: str) -> None:
        with self._lock:
            self._upload(key, upload_id)
        body = ex.read_small(_XML_LIMIT)
        if body is None:
            raise _Fail(400, "MalformedXML")
        try:
            root = ET.fromstring(body)
            listed: list[tuple[int, str]] = []
            for el in root:
                if _local(el.tag) != "Part":
                    continue
                values = {_local(c.tag): (c.text or "").strip() for c in el}
                listed.append((int(values["PartNumber"]), values["ETag"].strip('"')))
        except (ET.ParseError, KeyError, ValueError) as exc:
            raise _Fail(400, "MalformedXML") from exc
        if _local(root.tag) != "CompleteMultipartUpload" or not listed:
            raise _Fail(400, "MalformedXML")
        with self._lock:
            upload = self._upload(key, upload_id)
            numbers = [n for n, _ in listed]
            if numbers != sorted(set(numbers)):
                raise _Fail(400, "InvalidPartOrder")
            chosen = []
            for number, etag in listed:
                part = upload.parts.get(number)
                if part is None or part.md5.hex() != etag.lower():
                    raise _Fail(400, "InvalidPart")
                chosen.append(part)
            if any(p.size < self.min_part for p in chosen[:-1]):
                raise _Fail(400, "EntityTooSmall")
            del self._uploads[upload_id]
        unused = [p for p in upload.parts.values() if p not in chosen]
        self._drop(unused)
        digest = hashlib.md5(b"".join(p.md5 for p in chosen)).hexdigest()
        etag = f'"{digest}-{len(chosen)}"'
        size = sum(p.size for p in chosen)
        obj = StoredObject(chosen, size, etag, upload.content_type, self.now())
        self._store(("s3", upload.bucket, key), obj)
        _, host = self._host()
        location = f"http://{host}/{S3_BUCKET}/{quote(key, safe='/')}"
        result = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult '
            f'xmlns="{S3_NS}"><Location>{_xml(location)}</Location><Bucket>{S3_BUCKET}</Bucket>'
            f"<Key>{_xml(key)}</Key><ETag>{_xml(etag)}</ETag></CompleteMultipartUploadResult>"
        ).encode()
        ex.send(200, self._s3_headers([("Content-Type", "application/xml")]), result)

    def _s3_abort(self, ex: Exchange, key: str, upload_id: str) -> None:
        with self._lock:
            upload = self._upload(key, upload_id)
            del self._uploads[upload_id]
        self._drop(list(upload.parts.values()))
        ex.send(204, self._s3_headers())

    # -- GET (both flavours) --------------------------------------------------------------------

    def _get(self, ex: Exchange, okey: tuple[str, str, str], azure: bool) -> None:
        with self._lock:
            obj = self._objects.get(okey)
        if obj is None:
            raise _Fail(404, "BlobNotFound" if azure else "NoSuchKey")
        header = ex.headers.get("x-ms-range") if azure else None
        wanted = _parse_range(header or ex.headers.get("range"), obj.size)
        common = [
            ("Accept-Ranges", "bytes"),
            ("ETag", obj.etag),
            ("Last-Modified", _http_time(obj.modified)),
            ("Content-Type", obj.content_type),
        ]
        if azure:
            common.append(("x-ms-blob-type", "BlockBlob"))
        make = self._azure_headers if azure else self._s3_headers
        if wanted == "416":
            raise _Fail(416, "InvalidRange", [("Content-Range", f"bytes */{obj.size}")])
        if wanted is None:
            if azure and obj.content_md5 is not None:
                common.append(("Content-MD5", obj.content_md5))
            ex.send(200, make(common), stream=(obj.segments, 0, obj.size))
            return
        assert not isinstance(wanted, str)
        first, length = wanted
        span = f"bytes {first}-{first + length - 1}/{obj.size}"
        ex.send(206, make([*common, ("Content-Range", span)]), stream=(obj.segments, first, length))

    # -- Azure ----------------------------------------------------------------------------------

    def _check_sas(self, ex: Exchange, container: str, blob: str) -> dict[str, str]:
        params = dict(_split_query(ex.query))
        if "sig" not in params:
            raise _Fail(403, "AuthenticationFailed")
        resource = f"/blob/{AZURE_ACCOUNT}/{container}/{blob}"
        want = _azure_sign(self._account_key_bytes, params, resource)
        if not hmac.compare_digest(want, params["sig"]) or params.get("sr") != "b":
            raise _Fail(403, "AuthenticationFailed")
        try:
            expiry = datetime.strptime(params.get("se", ""), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError as exc:
            raise _Fail(403, "AuthenticationFailed") from exc
        if expiry.replace(tzinfo=timezone.utc).timestamp() < self.now():
            text = f"Signed expiry time [{params['se']}] must be after current time"
            raise _Fail(403, "AuthenticationFailed", message=text)
        need = {"GET": "r", "HEAD": "r", "DELETE": "d"}.get(ex.method, "w")
        if need not in params.get("sp", ""):
            raise _Fail(403, "AuthorizationPermissionMismatch")
        return params

    def _serve_azure(self, ex: Exchange) -> None:
        _, _, rest = ex.path[1:].partition("/")
        raw_container, _, raw_blob = rest.partition("/")
        container, blob = unquote(raw_container), unquote(raw_blob)
        params = self._check_sas(ex, container, blob)
        if container not in self.containers:
            raise _Fail(404, "ContainerNotFound")
        okey = ("azure", container, blob)
        comp = params.get("comp")
        if ex.method == "PUT" and comp == "block":
            self._azure_block(ex, container, blob, params.get("blockid", ""))
        elif ex.method == "PUT" and comp == "blocklist":
            self._azure_block_list(ex, container, blob)
        elif ex.method == "PUT" and comp is None:
            self._azure_put(ex, okey)
        elif ex.method == "PUT":
            raise _Fail(400, "InvalidQueryParameterValue")
        elif ex.method in ("GET", "HEAD"):
            self._get(ex, okey, azure=True)
        elif ex.method == "DELETE":
            with self._lock:
                obj = self._objects.pop(okey, None)
                blocks = self._blocks.pop((container, blob), {})
            if obj is None:
                raise _Fail(404, "BlobNotFound")
            self._drop(obj.segments)
            self._drop(list(blocks.values()))
            ex.send(202, self._azure_headers([("x-ms-delete-type-permanent", "true")]))
        else:
            raise _Fail(405, "UnsupportedHttpVerb")

    def _azure_put(self, ex: Exchange, okey: tuple[str, str, str]) -> None:
        blob_type = ex.headers.get("x-ms-blob-type")
        if blob_type is None:
            raise _Fail(400, "MissingRequiredHeader")
        if blob_type != "BlockBlob":
            raise _Fail(400, "InvalidHeaderValue")
        self._require_length(ex, True, AZURE_MAX_BLOB)
        part = self._receive(ex)
        try:
            self._check_md5(ex, part)
        except _Fail:
            self._drop([part])
            raise
        etag = self._azure_etag()
        md5 = base64.b64encode(part.md5).decode()
        ctype = (
            ex.headers.get("x-ms-blob-content-type")
            or ex.headers.get("content-type")
            or "application/octet-stream"
        )
        self._store(okey, StoredObject([part], part.size, etag, ctype, self.now(), md5))
        with self._lock:
            stale = self._blocks.pop((okey[1], okey[2]), {})
        self._drop(list(stale.values()))
        headers = [
            ("ETag", etag),
            ("Last-Modified", _http_time(self.now())),
            ("Content-MD5", md5),
            ("x-ms-request-server-encrypted", "true"),
        ]
        ex.send(201, self._azure_headers(headers))

    def _azure_block(self, ex: Exchange, container: str, blob: str, block_id: str) -> None:
        try:
            raw = base64.b64decode(block_id, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if not raw or len(raw) > 64:
            raise _Fail(400, "InvalidQueryParameterValue")
        self._require_length(ex, True, AZURE_MAX_BLOCK)
        with self._lock:
            staged = self._blocks.get((container, blob), {})
            if any(len(other) != len(block_id) for other in staged):
                raise _Fail(400, "InvalidBlobOrBlock")
        part = self._receive(ex)
        try:
            self._check_md5(ex, part)
        except _Fail:
            self._drop([part])
            raise
        with self._lock:
            old = self._blocks.setdefault((container, blob), {}).get(block_id)
            self._blocks[(container, blob)][block_id] = part
        if old is not None:
            self._drop([old])
        headers = [
            ("Content-MD5", base64.b64encode(part.md5).decode()),
            ("x-ms-request-server-encrypted", "true"),
        ]
        ex.send(201, self._azure_headers(headers))

    def _azure_block_list(self, ex: Exchange, container: str, blob: str) -> None:
        self._require_length(ex, True, _XML_LIMIT)
        body = ex.read_small(_XML_LIMIT) or b""
        try:
            root = ET.fromstring(body)
            wanted = [
                (_local(el.tag), (el.text or "").strip())
                for el in root
                if _local(el.tag) in ("Latest", "Committed", "Uncommitted")
            ]
        except (ET.ParseError, ValueError) as exc:
            raise _Fail(400, "InvalidXmlDocument") from exc
        if _local(root.tag) != "BlockList":
            raise _Fail(400, "InvalidXmlDocument")
        okey = ("azure", container, blob)
        with self._lock:
            staged = self._blocks.get((container, blob), {})
            current = self._objects.get(okey)
            committed: dict[str, Part] = {}
            if current is not None:
                committed = dict(zip(current.block_ids, current.segments, strict=False))
            chosen: list[Part] = []
            ids: list[str] = []
            for kind, block_id in wanted:
                part = None
                if kind in ("Latest", "Uncommitted"):
                    part = staged.get(block_id)
                if part is None and kind in ("Latest", "Committed"):
                    part = committed.get(block_id)
                if part is None:
                    raise _Fail(400, "InvalidBlockList")
                chosen.append(part)
                ids.append(block_id)
            self._blocks.pop((container, blob), None)
        keep = {id(p) for p in chosen}
        unused = [p for p in staged.values() if id(p) not in keep]
        etag = self._azure_etag()
        ctype = ex.headers.get("x-ms-blob-content-type") or "application/octet-stream"
        obj = StoredObject(chosen, sum(p.size for p in chosen), etag, ctype, self.now())
        obj.block_ids = ids
        self._store(okey, obj)
        self._drop(unused)
        headers = [
            ("ETag", etag),
            ("Last-Modified", _http_time(obj.modified)),
            ("x-ms-request-server-encrypted", "true"),
        ]
        ex.send(201, self._azure_headers(headers))


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
