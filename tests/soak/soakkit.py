"""The soak workload, shared by tests/soak and benchmarks/reliability.py.

Workers (threads, or asyncio tasks) run a seeded random mix of creates, gets, filters, updates,
deletes and full iterations through the library against a LocalServer that injects a seeded
mix of faults into their orbit. Each worker keeps a reference model of the collections it made
(it is their only writer) and checks every read against it; at the end the server's rows are
compared with the model.

The rules of the reference model:

- an operation that succeeded must have happened, one that failed with a definite error must
  not have happened;
- an operation that failed with an error saying the library could not know (a
  ``TransportError``/``TimeoutError`` with ``maybe_sent``, or a gateway ``ServerError``) may or
  may not have happened, even later (the request may still be on its way): the collection is
  "unsettled" and accepts either state until a read after the settling time resolves it;
- any exception that is not a ``DataForceError`` is a discrepancy, as is any duplicate row.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dataforce_orm import (
    APIError,
    Collection,
    DataForceError,
    RetryPolicy,
    ServerError,
    Session,
    TransportError,
)
from dataforce_orm.testing import Fault, LocalServer

Snap = tuple[str, str, tuple[str, ...] | None, str]  # name, description, tags, type

READ_TIMEOUT = 0.3  # the session's read timeout
STALL = 0.6  # a delay fault: longer than the read timeout
SETTLE = 1.5  # a request the client gave up on has surely finished by then
TYPES = ("model", "dataset", "experiment", "mixed", "model_dataset")
COLORS = ("red", "green", "blue")
WORDS = ("alpha", "beta", "gamma", "δέλτα", "ε", "naïve", "😀", "a b", "x%y", "u_v", "\\")
OPS = ("create", "get", "filter", "update", "delete", "iterate")
WEIGHTS = (22, 20, 14, 26, 10, 8)


def soak_policy() -> RetryPolicy:
    """Small waits so the run stays fast; Retry-After values are capped at 50 ms."""
    return RetryPolicy(attempts=6, deadline=5.0, backoff=0.01, max_backoff=0.05,
                       max_retry_after=0.05)


def fault_mix(orbit_id: str, seed: int, rate: float, horizon: float) -> list[Fault]:
    """Rules giving each kind an equal share of ``rate`` (first applicable rule wins).

    429s carry ``Retry-After`` as delta-seconds ("0", "1") and as an HTTP-date that stays
    ahead for the whole run (``horizon`` seconds); the policy caps both.
    """
    date = email.utils.formatdate(time.time() + horizon + 1.0, usegmt=True)
    kinds: list[dict[str, Any]] = [
        {"kind": "status", "status": 502},
        {"kind": "status", "status": 503},
        {"kind": "status", "status": 504},
        {"kind": "status", "status": 429, "retry_after": "0"},
        {"kind": "status", "status": 429, "retry_after": "1"},
        {"kind": "status", "status": 429, "retry_after": date},
        {"kind": "delay", "delay": STALL},
        # held longer than the read timeout, then applied (and never answered)
        {"kind": "stall", "delay": STALL},
        {"kind": "drop"},
        {"kind": "drop_after"},
    ]
    share = rate / len(kinds)
    rules = []
    for i, kw in enumerate(kinds):
        # P(rule i fires) = r_i * (1 - i * share) = share
        rules.append(Fault(path=orbit_id, rate=share / (1 - i * share), seed=seed * 100 + i,
                           **kw))
    return rules


def could_not_know(exc: BaseException) -> bool:
    """The library said it cannot know whether the request took effect."""
    if isinstance(exc, (TransportError, APIError)) and exc.maybe_sent:
        return True
    return isinstance(exc, ServerError) and exc.status in (502, 503, 504)


def snap_of(obj: Any) -> Snap:
    if isinstance(obj, dict):
        tags = obj.get("tags")
        return (obj["name"], obj["description"], None if tags is None else tuple(tags),
                obj["type"])
    ctype = obj.collection_type
    tags = obj._lookup_value("tags")  # (a wire null shows as an empty list)
    return (obj.name, obj.description, None if tags is None else tuple(tags),
            ctype.value if ctype is not None else "")


# -- the library's API, sync or async, behind one awaitable interface ---------------------


class SyncApi:
    """Blocking calls (each thread runs its own event loop with one task)."""

    def __init__(self, session: Session) -> None:
        self.objects = Collection.objects.using(session)
        self.session = session

    async def create(self, **fields: Any) -> Collection:
        return self.objects.create(**fields)

    async def get(self, ident: str) -> Collection:
        return self.objects.get(id=ident)

    async def filter(self, **lookups: Any) -> list[Collection]:
        return list(self.objects.filter(**lookups))

    async def iterate(self) -> list[Collection]:
        return list(self.objects.iterator())

    async def save(self, obj: Collection) -> None:
        obj.save(using=self.session)

    async def delete(self, obj: Collection) -> None:
        obj.delete(using=self.session)


class AsyncApi(SyncApi):
    """The a-prefixed twins on the same Session."""

    async def create(self, **fields: Any) -> Collection:
        return await self.objects.acreate(**fields)

    async def get(self, ident: str) -> Collection:
        return await self.objects.aget(id=ident)

    async def filter(self, **lookups: Any) -> list[Collection]:
        return [c async for c in self.objects.filter(**lookups)]

    async def iterate(self) -> list[Collection]:
        return [c async for c in self.objects.all()]

    async def save(self, obj: Collection) -> None:
        await obj.asave(using=self.session)

    async def delete(self, obj: Collection) -> None:
        await obj.adelete(using=self.session)


# -- the reference model --------------------------------------------------------------------


@dataclass
class Entry:
    """One collection a worker created (or tried to)."""

    origin: str  # the unique name it was created with
    id: str | None  # None: the create's outcome is unknown (or it failed)
    expect: Snap | None  # the state the server holds once settled (None: absent)
    maybe: list[Snap | None] = field(default_factory=list)  # also acceptable while unsettled
    settle_at: float = 0.0
    obj: Collection | None = None  # an up-to-date local copy (None: reload before writing)
    renames: int = 0
    history: list[str] = field(default_factory=list)  # what happened to it, for reports

    def acceptable(self) -> list[Snap | None]:
        return [self.expect, *self.maybe]

    @property
    def settled(self) -> bool:
        return not self.maybe


@dataclass
class Stats:
    """What a run did and found (shared by the workers, under a lock)."""

    ops: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    checks: int = 0
    discrepancies: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def op(self, kind: str, outcome: str) -> None:
        with self.lock:
            self.ops[kind] += 1
            self.outcomes[outcome] += 1

    def check(self, ok: bool, what: Callable[[], str]) -> None:
        with self.lock:
            self.checks += 1
            if not ok:
                self.discrepancies.append(what())


class Worker:
    """One thread's or task's share: its own entries, its own seeded choices."""

    def __init__(self, run: str, index: int, seed: int, api: SyncApi, stats: Stats) -> None:
        self.prefix = f"{run}-w{index}-"
        self.tag = f"{run}-w{index}"
        self.rng = random.Random(seed * 1000 + index)
        self.api, self.stats = api, stats
        self.entries: list[Entry] = []
        self.made = 0

    # -- helpers ---------------------------------------------------------------------------

    def _body(self, name: str) -> dict[str, Any]:
        rng = self.rng
        tags: list[str] | None = None
        if rng.random() < 0.85:
            tags = [self.tag, rng.choice(COLORS), *rng.sample(WORDS, rng.randint(0, 2))]
        return {"name": name, "description": " ".join(rng.sample(WORDS, rng.randint(0, 3))),
                "collection_type": rng.choice(TYPES), "tags": tags}

    def _fail(self, what: str) -> None:
        self.stats.check(False, lambda: f"{self.prefix} {what}")

    async def _call(self, kind: str, fn: Callable[[], Awaitable[Any]],
                    e: Entry | None = None) -> tuple[Any, BaseException | None]:
        """Run one library call: (result, None) or (None, the library's error)."""
        try:
            result = await fn()
        except DataForceError as exc:
            outcome = "unknown" if could_not_know(exc) else type(exc).__name__
            self.stats.op(kind, outcome)
            if e is not None:
                tries = getattr(exc, "attempts", 1)
                e.history.append(f"{kind}:{outcome}({type(exc).__name__}, {tries} tries)")
            return None, exc
        except Exception as exc:  # anything else is a bug in the library
            self.stats.op(kind, "foreign")
            tb = "".join(traceback.format_exception(exc, limit=-6))
            self._fail(f"{kind}: not a library error: {type(exc).__name__}: {exc}\n{tb}")
            return None, exc
        self.stats.op(kind, "ok")
        if e is not None:
            e.history.append(f"{kind}:ok")
        return result, None

    def _wrong(self, e: Entry, what: str) -> None:
        self._fail(f"{e.origin} ({e.id}): {what}; history: {' '.join(e.history)}")

    def _pick(self, want: Callable[[Entry], bool]) -> Entry | None:
        found = [e for e in self.entries if want(e)]
        return self.rng.choice(found) if found else None

    # -- resolving unknown outcomes ------------------------------------------------------

    async def _resolve(self, e: Entry) -> None:
        """Read the truth for an entry whose state is unknown or whose local copy is stale."""
        if e.id is None:
            rows, err = await self._call("filter", lambda: self.api.filter(name=e.origin), e)
            if err is not None:
                return
            if len(rows) > 1:
                self._wrong(e, f"duplicate create: {len(rows)} collections named {e.origin!r}")
            seen = snap_of(rows[0]) if rows else None
            if seen not in e.acceptable():
                self._wrong(e, f"create left {seen}, expected one of {e.acceptable()}")
            if rows:
                e.id, e.obj = rows[0].id, rows[0]
            e.expect, e.maybe = seen, []
            return
        ident = e.id
        obj, err = await self._call("get", lambda: self.api.get(ident), e)
        if err is not None and not isinstance(err, Collection.DoesNotExist):
            return
        seen = snap_of(obj) if obj is not None else None
        if seen not in e.acceptable():
            self._wrong(e, f"server has {seen}, expected one of {e.acceptable()}")
        e.expect, e.maybe, e.obj = seen, [], obj

    def _unknown(self, e: Entry, state: Snap | None) -> None:
        e.maybe.append(state)
        e.settle_at = time.monotonic() + SETTLE
        e.obj = None

    # -- the operations --------------------------------------------------------------------

    async def create(self) -> None:
        self.made += 1
        body = self._body(f"{self.prefix}{self.made}")
        want: Snap = (body["name"], body["description"],
                      None if body["tags"] is None else tuple(body["tags"]),
                      body["collection_type"])
        e = Entry(body["name"], None, None)
        self.entries.append(e)
        obj, err = await self._call("create", lambda: self.api.create(**body), e)
        if err is None:
            e.id, e.expect, e.obj = obj.id, want, obj
            if snap_of(obj) != want or obj.id is None:
                self._wrong(e, f"create returned {snap_of(obj)}, sent {want}")
        elif could_not_know(err):
            self._unknown(e, want)

    async def get(self) -> None:
        e = self._pick(lambda e: e.settled and e.id is not None)
        if e is None:
            return
        ident = e.id
        assert ident is not None
        obj, err = await self._call("get", lambda: self.api.get(ident))
        if isinstance(err, Collection.DoesNotExist):
            self.stats.check(e.expect is None,
                             lambda: f"{e.origin}: get said DoesNotExist, expected {e.expect}")
        elif err is None:
            self.stats.check(snap_of(obj) == e.expect,
                             lambda: f"{e.origin}: get found {snap_of(obj)}, "
                                     f"expected {e.expect}; history: {' '.join(e.history)}")

    def _check_listing(self, what: str, got: list[Collection],
                       expected: Callable[[Entry], Snap | None]) -> None:
        """A listing of (some of) this worker's collections against the model: each settled
        collection listed exactly as ``expected`` says (None: not listed), nothing unknown."""
        ids = [c.id for c in got]
        self.stats.check(len(ids) == len(set(ids)), lambda: f"{what}: duplicate ids in result")
        by_id = {c.id: c for c in got}
        pending = {e.origin for e in self.entries if e.id is None}
        known = {e.id for e in self.entries}
        strays = [c for c in got if c.id not in known and c.name not in pending]
        self.stats.check(not strays, lambda: f"{what}: unknown collections {strays}")
        for e in self.entries:
            if not e.settled or e.id is None:
                continue
            seen = snap_of(by_id[e.id]) if e.id in by_id else None
            want = expected(e)
            self.stats.check(seen == want,
                             lambda e=e, seen=seen, want=want: f"{e.origin} ({e.id}): {what} "
                             f"listed {seen}, expected {want}; history: {' '.join(e.history)}")

    async def filter(self) -> None:
        if self.rng.random() < 0.5:
            got, err = await self._call("filter", lambda: self.api.filter(
                name__startswith=self.prefix))
            if err is None:
                self._check_listing("filter by prefix", got, lambda e: e.expect)
            return
        color = self.rng.choice(COLORS)
        got, err = await self._call("filter", lambda: self.api.filter(
            tags__contains=[self.tag, color]))
        if err is None:
            def expected(e: Entry) -> Snap | None:
                tags = e.expect[2] if e.expect is not None else None
                return e.expect if tags is not None and color in tags else None

            self._check_listing(f"filter by tags {color}", got, expected)

    async def iterate(self) -> None:
        got, err = await self._call("iterate", self.api.iterate)
        if err is None:
            ids = [c.id for c in got]
            self.stats.check(len(ids) == len(set(ids)),
                             lambda: "full iteration: a collection listed twice")
            mine = [c for c in got if c.name.startswith(self.prefix)]
            self._check_listing("full iteration", mine, lambda e: e.expect)

    async def update(self) -> None:
        e = self._pick(lambda e: e.settled and e.expect is not None and e.obj is not None)
        if e is None:
            return
        obj = e.obj
        assert obj is not None
        rng = self.rng
        fields = rng.sample(("name", "description", "tags"), rng.randint(1, 3))
        if "name" in fields:
            e.renames += 1
            obj.name = f"{e.origin}~{e.renames}"
        if "description" in fields:
            obj.description = " ".join(rng.sample(WORDS, rng.randint(0, 4)))
        if "tags" in fields:
            roll = rng.random()
            if roll < 0.4 and obj.tags is not None:
                obj.tags.append(rng.choice(WORDS))  # an in-place edit
            elif roll < 0.5:
                obj.tags = None
            else:
                obj.tags = [self.tag, rng.choice(COLORS)]
        want = snap_of(obj)
        _, err = await self._call("update", lambda: self.api.save(obj), e)
        if err is None:
            if snap_of(obj) != want or obj.changed_fields():
                self._wrong(e, f"saved object holds {snap_of(obj)}, sent {want}")
            e.expect = want
        elif could_not_know(err):
            self._unknown(e, want)
        else:
            e.obj = None  # the local edits did not happen: reload before the next write

    async def delete(self) -> None:
        e = self._pick(lambda e: e.settled and e.expect is not None and e.obj is not None)
        if e is None:
            return
        obj = e.obj
        assert obj is not None
        _, err = await self._call("delete", lambda: self.api.delete(obj), e)
        if err is None:
            if obj.id is not None:
                self._wrong(e, "deleted object kept its id")
            e.expect, e.obj = None, None
        elif could_not_know(err):
            self._unknown(e, None)

    @staticmethod
    def _due(e: Entry) -> bool:
        """Unsettled past its settling time, or its local copy needs reloading."""
        if not e.settled:
            return time.monotonic() >= e.settle_at
        return e.expect is not None and e.obj is None and e.id is not None

    async def run(self, until: float) -> None:
        actions = {"create": self.create, "get": self.get, "filter": self.filter,
                   "update": self.update, "delete": self.delete, "iterate": self.iterate}
        while time.monotonic() < until:
            due = self._pick(self._due)
            if due is not None:
                await self._resolve(due)
            op = self.rng.choices(OPS, WEIGHTS)[0]
            await actions[op]()

    # -- the final comparison --------------------------------------------------------------

    def final_check(self, rows: dict[str, dict[str, Any]]) -> None:
        """Compare with the server's rows (taken after settling); removes the rows it owns."""
        for e in self.entries:
            if e.id is not None:
                row = rows.pop(e.id, None)
                seen = snap_of(row) if row is not None else None
                self.stats.check(seen in e.acceptable(),
                                 lambda e=e, seen=seen: f"final: {e.origin} ({e.id}) is "
                                                        f"{seen}, expected {e.acceptable()}; "
                                                        f"history: {' '.join(e.history)}")
                continue
            made = [cid for cid, r in rows.items() if r["name"] == e.origin]
            self.stats.check(len(made) <= 1,
                             lambda e=e, n=len(made): f"final: {n} collections named {e.origin}")
            seen = snap_of(rows[made[0]]) if made else None
            self.stats.check(seen in e.acceptable(),
                             lambda e=e, seen=seen: f"final: create of {e.origin} left {seen}, "
                                                    f"expected {e.acceptable()}; "
                                                    f"history: {' '.join(e.history)}")
            for cid in made:
                rows.pop(cid)


# -- log capture: retries and leaks ---------------------------------------------------------


class LogScan(logging.Handler):
    """Counts the library's WARNING records (one per retry) and scans every record of every
    logger, at every level, for a secret."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.secrets = secrets
        self.records = 0
        self.retries = 0
        self.leaks: list[str] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"{record.getMessage()} {record.__dict__!r}"
        except Exception:  # a record that cannot render is still scanned as far as it goes
            text = repr(record.__dict__)
        with self._lock2:
            self.records += 1
            if record.name == "dataforce_orm" and record.levelno == logging.WARNING:
                self.retries += 1
            for secret in self.secrets:
                if secret in text:
                    self.leaks.append(f"{record.name}:{record.levelname}: {text[:200]}")

    def __enter__(self) -> LogScan:
        root = logging.getLogger()
        self._saved = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._saved)


# -- a run ----------------------------------------------------------------------------------


@dataclass
class Report:
    mode: str
    workers: int
    seconds: float
    ops: Counter[str]
    outcomes: Counter[str]
    checks: int
    faults: dict[str, int]
    retries: int
    log_records: int
    leaks: list[str]
    discrepancies: list[str]
    rows: int

    def lines(self) -> list[str]:
        faults = ", ".join(f"{k}={v}" for k, v in sorted(self.faults.items()))
        ops = ", ".join(f"{k}={self.ops[k]}" for k in OPS)
        outcomes = ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return [
            f"soak[{self.mode} x{self.workers}] {self.seconds:.1f} s: "
            f"{sum(self.ops.values())} operations ({ops})",
            f"  outcomes: {outcomes}",
            f"  faults injected: {sum(self.faults.values())} ({faults})",
            f"  retries logged: {self.retries}; checks: {self.checks}; rows at end: {self.rows}",
            f"  log records scanned: {self.log_records}; key leaks: {len(self.leaks)}",
            f"  discrepancies: {len(self.discrepancies)}",
            *(f"    - {d}" for d in self.discrepancies[:20]),
        ]


def run_soak(server: LocalServer, mode: str, workers: int, seconds: float, seed: int = 1,
             rate: float = 0.2) -> Report:
    """Soak one fresh orbit of ``server`` with ``workers`` threads ("threads") or asyncio tasks
    ("async") for ``seconds``, then settle and compare."""
    run = f"soak{seed}{mode[0]}{random.Random(seed).randrange(10**6)}"
    orbit_id = server.add_orbit(server.organization_id, run)
    session = Session(api_key=server.api_key, base_url=server.url,
                      organization=server.organization_id, orbit=orbit_id,
                      timeout=(5.0, READ_TIMEOUT), retry=soak_policy())
    stats = Stats()
    before = server.fault_counts
    made = [Worker(run, i, seed, (AsyncApi if mode == "async" else SyncApi)(session), stats)
            for i in range(workers)]
    for rule in fault_mix(orbit_id, seed, rate, seconds + 5):
        server.add_fault(rule)
    start = time.monotonic()
    until = start + seconds
    try:
        with LogScan([server.api_key]) as scan:
            if mode == "async":
                async def main() -> None:
                    await asyncio.gather(*(w.run(until) for w in made))
                    await session.aclose()

                asyncio.run(main())
            else:
                threads = [threading.Thread(target=asyncio.run, args=(w.run(until),))
                           for w in made]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                session.close()
    finally:
        server.clear_faults()
    elapsed = time.monotonic() - start
    time.sleep(SETTLE)  # requests still on their way land now
    rows = {r["id"]: r for r in server.collection_rows(orbit_id)}
    total = len(rows)
    for w in made:
        w.final_check(rows)
    for cid, row in rows.items():
        stats.check(False, lambda cid=cid, row=row: f"final: unaccounted row {cid} "
                                                    f"{snap_of(row)} (a duplicate create?)")
    after = server.fault_counts
    faults = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return Report(mode, workers, elapsed, stats.ops, stats.outcomes, stats.checks,
                  {k: v for k, v in faults.items() if v}, scan.retries, scan.records,
                  scan.leaks, stats.discrepancies, total)
