"""``client.orbit_secrets`` (get/list/create/update/delete) and
``client.bucket_secrets.test_connection``, on both clients, against LocalServer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from dataforce_orm import (
    AsyncDataForceClient,
    BucketConnectionError,
    BucketSecret,
    ConflictError,
    DataForceClient,
    OrbitSecret,
    ValidationError,
)
from dataforce_orm.testing import LocalServer

VALUE = "sk-facade-value-0123456789"


class Calls:
    """Either client's resources, called the same way (async ones awaited on a loop)."""

    def __init__(self, client: DataForceClient | AsyncDataForceClient) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop() if isinstance(client, AsyncDataForceClient) else None

    def run(self, result: Any) -> Any:
        return self.loop.run_until_complete(result) if self.loop is not None else result

    def secrets(self, method: str, *a: Any, **kw: Any) -> Any:
        return self.run(getattr(self.client.orbit_secrets, method)(*a, **kw))

    def close(self) -> None:
        if isinstance(self.client, AsyncDataForceClient):
            assert self.loop is not None
            self.loop.run_until_complete(self.client.aclose())
            self.loop.close()
        else:
            self.client.close()


@pytest.fixture(params=["sync", "async"])
def calls(request: pytest.FixtureRequest, server: LocalServer, orbit_id: str
          ) -> Iterator[Calls]:
    kind = DataForceClient if request.param == "sync" else AsyncDataForceClient
    c = Calls(kind(base_url=server.url, api_key=server.api_key,
                   organization=server.organization_id, orbit=orbit_id))
    yield c
    c.close()


def test_orbit_secrets_calls(calls: Calls, server: LocalServer) -> None:
    made = calls.secrets("create", "OPENAI_API_KEY", VALUE, tags=["llm"])
    assert isinstance(made, OrbitSecret) and server.orbit_secret_value(made.id) == VALUE
    assert [s.name for s in calls.secrets("list")] == ["OPENAI_API_KEY"]
    by_name = calls.secrets("get", "OPENAI_API_KEY")
    by_id = calls.secrets("get", made.id)
    assert by_name == by_id == made and by_name.value is None
    assert calls.secrets("get", "MISSING") is None
    renamed = calls.secrets("update", made.id, name="OPENAI_KEY")
    assert renamed.name == "OPENAI_KEY" and server.orbit_secret_value(made.id) == VALUE
    calls.secrets("update", made.id, value=VALUE + "-2")
    assert server.orbit_secret_value(made.id) == VALUE + "-2"
    with pytest.raises(ConflictError):
        calls.secrets("create", "OPENAI_KEY", "another-value")
    with pytest.raises(ValidationError, match="secret_id"):
        calls.secrets("update", "not-an-id", name="x")
    with pytest.raises(ValidationError, match="name: must be at most 255"):
        calls.secrets("update", made.id, name="n" * 256)
    calls.secrets("delete", made.id)
    assert calls.secrets("list") == []
    with pytest.raises(OrbitSecret.DoesNotExist):
        calls.secrets("delete", made.id)


def test_bucket_secrets_test_connection(calls: Calls, server: LocalServer) -> None:
    test = calls.client.bucket_secrets.test_connection
    calls.run(test(server.bucket_secret_id))  # a stored secret, by id
    new = BucketSecret(endpoint="127.0.0.1:9", bucket_name="b", region="r", secure=False,
                       access_key="ak", secret_key="sk")
    with pytest.raises(BucketConnectionError, match="put step"):
        calls.run(test(new))
    with pytest.raises(ValidationError, match="secret"):
        calls.run(test("not-an-id"))
