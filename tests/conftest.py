"""Shared fixtures: one LocalServer for the run, a fresh orbit and Session per test."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from figures import Figures
from parity import AsyncMode, MakeSession, SyncMode

from dataforce_orm import RetryPolicy, Session
from dataforce_orm.testing import LocalServer

_orbits = itertools.count()

# The tests never read the profiles of the user running them (DFS_CONFIG_FILE moves the
# configuration file; this one does not exist).
os.environ["DFS_CONFIG_FILE"] = str(Path(tempfile.gettempdir()) / f"dfo-tests-{os.getpid()}"
                                    / "none.ini")
for _name in ("DFS_PROFILE", "DFS_ALLOW_INSECURE_HTTP"):
    os.environ.pop(_name, None)


class Sleeps(list[float]):
    """Records the sleeps a RetryPolicy asked for, without sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.append(seconds)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", help="run the long soak tests")


_figures_key = pytest.StashKey[Figures]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_figures_key] = Figures()


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> Figures:
    """Where a test records what it measured (shown with -v or --soak, kept in a file)."""
    return pytestconfig.stash[_figures_key]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    found = config.stash[_figures_key]
    # (addopts has -q: a -v on the command line brings the verbosity to 0)
    if found.lines and (config.get_verbosity() >= 0 or config.getoption("--soak")):
        terminalreporter.section("figures")
        for line in found.lines:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"(also in {found.path})")


@pytest.fixture
def no_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DFS_* / LUML_* setting in the environment for this test."""
    for name in ("API_KEY", "BASE_URL", "ORGANIZATION", "ORBIT", "COLLECTION"):
        monkeypatch.delenv(f"DFS_{name}", raising=False)
        monkeypatch.delenv(f"LUML_{name}", raising=False)


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


class MotoS3(NamedTuple):
    """Where the session's moto S3 server is and how to sign for it."""

    endpoint: str  # host:port
    bucket: str
    access_key: str
    secret_key: str
    region: str


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """A moto S3 server (the ``dev`` extra brings it) on a free loopback port for the
    session, with one bucket made."""
    import boto3
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        s3 = MotoS3(f"{host}:{port}", "dataforce-moto", "moto-access-key", "moto-secret-key",
                    "eu-central-1")
        client = boto3.client(
            "s3",
            endpoint_url=f"http://{s3.endpoint}",
            aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key,
            region_name=s3.region,
        )
        client.create_bucket(
            Bucket=s3.bucket, CreateBucketConfiguration={"LocationConstraint": s3.region}
        )
        yield s3
    finally:
        moto.stop()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def orbit_id(server: LocalServer) -> str:
    """A fresh, empty orbit in the default organization."""
    return server.add_orbit(server.organization_id, f"test-orbit-{next(_orbits)}")


@pytest.fixture
def make_session(server: LocalServer, orbit_id: str, sleeps: Sleeps) -> Iterator[MakeSession]:
    """Makes Sessions on the server and the test's fresh orbit, whose retries never really
    sleep (they record into ``sleeps``); keyword arguments override any setting
    (``make_session(timeout=(2.0, 0.2), retry=RetryPolicy(attempts=1))``). Each is closed,
    and the server's faults cleared, after the test."""
    made: list[Session] = []

    def make(**overrides: Any) -> Session:
        settings: dict[str, Any] = {
            "api_key": server.api_key, "base_url": server.url,
            "organization": server.organization_id, "orbit": orbit_id,
            "retry": RetryPolicy(sleep=sleeps, async_sleep=sleeps.asleep)}
        made.append(Session(**{**settings, **overrides}))
        return made[-1]

    yield make
    for s in made:
        s.close()
    server.clear_faults()


@pytest.fixture
def session(make_session: MakeSession) -> Iterator[Session]:
    """A Session on a fresh orbit, current for the test; retries never really sleep."""
    with make_session() as s:
        yield s


@pytest.fixture(params=["sync", "async"])
def m(request: pytest.FixtureRequest, session: Session) -> Iterator[SyncMode | AsyncMode]:
    """The sync API or its async twins, for parity tests."""
    if request.param == "sync":
        yield SyncMode()
        return
    mode = AsyncMode(session)
    yield mode
    mode.close()
