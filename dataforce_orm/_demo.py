"""``dataforce-orm demo``: a short, readable tour of the library against a real server.

With no API key configured (``DFS_API_KEY`` / ``LUML_API_KEY``, or one stored for the
profile by ``dataforce-orm login``) it starts a LocalServer in this process; with one it uses
the configured platform (a ``Session`` from the environment and the profile). Either
way it only touches collections whose names start with its own random prefix
(``dfo-demo-<random>-``), and deletes every one of them at the end, even on error.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

from ._config import resolve
from ._errors import ConflictError, DataForceError, ValidationError
from ._models import Collection, CollectionType
from ._query import QuerySet
from ._session import Session

COL = 37  # width of the "what we did" column
WIDTH = 100  # results wrap to stay within this

# (short name, type, tags); the demo's names are PREFIX + short name.
_SAMPLES: tuple[tuple[str, CollectionType, list[str] | None], ...] = (
    ("training-images", CollectionType.DATASET, ["ml", "images"]),
    ("resnet-50", CollectionType.MODEL, ["ml", "vision", "prod"]),
    ("lr-sweep", CollectionType.EXPERIMENT, ["ml", "tmp"]),
    ("scratch", CollectionType.MIXED, None),
)


class _RequestLog(logging.Handler):
    """Counts the requests the library sends (its DEBUG line per request)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.methods: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.DEBUG and isinstance(record.args, tuple) and \
                len(record.args) == 4 and record.msg.startswith("%s %s -> "):
            self.methods.append(str(record.args[0]))


@contextmanager
def _watch_requests() -> Iterator[_RequestLog]:
    logger = logging.getLogger("dataforce_orm")
    handler = _RequestLog()
    level = logger.level
    logger.addHandler(handler)
    if not logger.isEnabledFor(logging.DEBUG):
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class _Printer:
    """Aligned output: numbered steps, then ``what  ->  result`` rows."""

    def __init__(self, out: TextIO, requests: _RequestLog) -> None:
        self.out, self.requests = out, requests
        self._mark = 0

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, n: int, title: str) -> None:
        self.line()
        self.line(f"{n}. {title}")

    def row(self, what: str, result: str) -> None:
        parts = textwrap.wrap(result, WIDTH - COL - 4) or [""]
        self.line(f"   {what:<{COL}} {parts[0]}".rstrip())
        for part in parts[1:]:
            self.line(f"   {'':<{COL}} {part}")

    def note(self, text: str) -> None:
        """A remark under the last row, wrapped to the full width."""
        for part in textwrap.wrap(text, WIDTH - 6):
            self.line(f"      {part}")

    def since_mark(self) -> list[str]:
        """Methods of the requests sent since the last call."""
        sent = self.requests.methods[self._mark:]
        self._mark = len(self.requests.methods)
        return sent


def _sent(methods: list[str]) -> str:
    """E.g. "2 requests (GET, PATCH)"; runs of one method are counted: "POST x4"."""
    if not methods:
        return "none"
    runs = [(m, len(list(group))) for m, group in itertools.groupby(methods)]
    shown = ", ".join(f"{m} x{n}" if n != 1 else m for m, n in runs)
    return f"{len(methods)} request{'s' if len(methods) > 1 else ''} ({shown})"


def _tags(tags: Iterable[str] | None) -> str:
    return "[" + ", ".join(tags or ()) + "]"


def _api_key_configured() -> bool:
    """A key in the environment, or stored for the profile (as Session() would use)."""
    return resolve().api_key is not None


def run_demo(out: TextIO = sys.stdout) -> int:
    """Run the tour, printing to ``out``; 0 on success, 1 when the server or setup failed."""
    from .testing import LocalServer

    server: LocalServer | None = None
    prefix = f"dfo-demo-{secrets.token_hex(3)}-"
    with _watch_requests() as requests:
        p = _Printer(out, requests)
        p.line("dataforce-orm demo")
        try:
            if _api_key_configured():
                def connect() -> Session:
                    return Session()

                session = connect()
                where = f"the configured platform at {session.base_url}"
                where += (f" (organization: {session.organization or 'auto-picked'}, "
                          f"orbit: {session.orbit or 'auto-picked'})")
            else:
                server = LocalServer().start()
                srv = server

                def connect() -> Session:
                    return Session(api_key=srv.api_key, base_url=srv.url,
                                   organization=srv.organization_id, orbit=srv.orbit_id)

                session = connect()
                where = (f"no DFS_API_KEY / LUML_API_KEY set (nor a key stored by login): "
                         f"using an in-process LocalServer at {server.url}")
        except DataForceError as exc:
            p.line(f"demo failed: {type(exc).__name__}: {exc}")
            return 1
        started = time.perf_counter()
        try:
            p.line(f"   {where}")
            p.line(f"   namespace {prefix} (every collection made here is deleted at the end)")
            with session:
                _tour(p, prefix, connect)
            p.line()
            p.line(f"Done: {len(requests.methods)} HTTP requests in "
                   f"{time.perf_counter() - started:.2f} s.")
            return 0
        except DataForceError as exc:
            p.line()
            p.line(f"demo failed: {type(exc).__name__}: {exc}")
            return 1
        finally:
            try:
                _clean_up(p, session, prefix)
            finally:
                session.close()
                if server is not None:
                    server.close()


def _tour(p: _Printer, prefix: str, connect: Callable[[], Session]) -> None:
    ours: QuerySet[Collection] = Collection.objects.filter(name__startswith=prefix)

    def short(objs: Iterable[Collection]) -> str:
        return ", ".join(c.name.removeprefix(prefix) for c in objs) or "(none)"

    p.step(1, "Create collections (one POST each)")
    made: dict[str, Collection] = {}
    for name, kind, tags in _SAMPLES:
        c = Collection(name=prefix + name, description=f"demo {kind.value}",
                       collection_type=kind, tags=tags)
        c.save()
        made[name] = c
        p.row(f"+ {name}", f"{kind.value:<11} {_tags(tags)}")
    p.row("requests sent", _sent(p.since_mark()))

    p.step(2, "Query (lazy and chainable; every lookup is checked exactly on the client)")
    p.line("   ours = Collection.objects.filter(name__startswith=namespace), then:")
    p.row("ours.count()", str(ours.count()))
    p.row(".filter(collection_type=MODEL)",
          short(ours.filter(collection_type=CollectionType.MODEL)))
    p.row('.filter(tags__contains="ml").count()', str(ours.filter(tags__contains="ml").count()))
    p.row('.filter(tags__contains=["ml","prod"])',
          short(ours.filter(tags__contains=["ml", "prod"])))
    p.row('.exclude(tags__contains="tmp")', short(ours.exclude(tags__contains="tmp")))
    p.row('.order_by("name")', short(ours.order_by("name")))
    newest = ours.order_by("-created_at").first()
    p.row('.order_by("-created_at").first()', short([newest] if newest else []))
    got = Collection.objects.get(name=prefix + "resnet-50")
    p.row('get(name=namespace + "resnet-50")',
          f"{got.collection_type} {_tags(got.tags)}, id {(got.id or '')[:8]}...")
    p.since_mark()

    p.step(3, "Update with tags (in-place edits count; save() sends only what changed)")
    model = got
    assert model.tags is not None
    model.tags.append("reviewed")
    p.row('c.tags.append("reviewed")', f"changed_fields() == {model.changed_fields()}")
    model.save()
    p.row("c.save()", f"sent {' + '.join(p.since_mark())}; tags {_tags(model.tags)}")
    model.save()
    p.row("c.save() again", f"nothing changed, so requests sent: {_sent(p.since_mark())}")
    teammate = connect()
    try:
        theirs = Collection.objects.using(teammate).get(id=model.id)
        theirs.description = "tuned by a teammate"
        theirs.save()
        p.row("teammate (2nd Session) edits", f"description = {theirs.description!r}")
        model.tags.append("v2")
        model.save()
        p.row('we append "v2"; save()', f"merged: tags {_tags(model.tags)},")
        p.row("", f"description kept as {model.description!r}")

        p.step(4, "A conflict, caught")
        theirs.description = "final numbers"
        theirs.save()
        p.row("teammate edits again", f"description = {theirs.description!r}")
        model.description = "my numbers"
        try:
            model.save()
        except ConflictError as exc:
            p.row("we edit description too; save()", f"ConflictError on {exc.fields}:")
            p.note(exc.detail)
        else:
            raise AssertionError("save() should have raised ConflictError")
        model.refresh(discard=True)
        p.row("c.refresh(discard=True)", f"description is {model.description!r}")
        p.since_mark()
    finally:
        teammate.close()

    p.step(5, "Bad input, caught before any request (each a ValidationError)")
    bad: list[tuple[str, Callable[[], object]]] = [
        ('Collection(name="x" * 101, ...)',
         lambda: Collection(name="x" * 101, collection_type=CollectionType.MODEL)),
        ('c.tags = ["ok", 42]', lambda: setattr(model, "tags", ["ok", 42])),
        ('filter(created_at__gt="last week")',
         lambda: Collection.objects.filter(created_at__gt="last week")),
    ]
    for what, action in bad:
        try:
            action()
        except ValidationError as exc:
            p.row(what, str(exc))
        else:
            raise AssertionError(f"{what} should have raised ValidationError")
    p.row("requests sent", _sent(p.since_mark()))

    p.step(6, "Delete")
    scratch = made["scratch"]
    scratch.delete()
    p.row("scratch.delete()", f"deleted; scratch.id is {scratch.id}")
    p.row("ours.delete()", f"{ours.delete()} deleted")
    p.row("ours.count()", str(ours.count()))


def _clean_up(p: _Printer, session: Session, prefix: str) -> None:
    """Delete whatever the demo left in its namespace (normally nothing)."""
    try:
        left = Collection.objects.using(session).filter(name__startswith=prefix).delete()
    except DataForceError as exc:
        p.line(f"warning: could not clean up the {prefix}* collections: {exc}")
        return
    if left:
        p.line(f"cleaned up {left} leftover {prefix}* collection{'s' if left > 1 else ''}")
