"""Errors and retries: one error tree, bad input caught before any request, and RetryPolicy.

Every error is a ``DataForceError``; the common ones are shown here with what they carry.
Transient failures (connection errors, timeouts, 408, 429, 502, 503, 504) are retried with
exponential backoff and jitter under a ``RetryPolicy``; each retry is logged at WARNING on the
``dataforce_orm`` logger and the final error says how many attempts were made.

    python examples/05_errors_and_retries.py
"""

from __future__ import annotations

import logging
import socket
import uuid

from dataforce_orm import (
    APIError,
    AuthenticationError,
    Collection,
    CollectionType,
    ConfigurationError,
    DataForceError,
    RetryPolicy,
    Session,
    TransportError,
    ValidationError,
)


def closed_port() -> int:
    """A local port nobody listens on (so connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  [log] %(message)s")
    name = f"ex-errors-{uuid.uuid4().hex[:6]}"
    with Session():
        # Bad input never reaches the server.
        try:
            Collection(name=name, collection_type=CollectionType.MODEL, tags=["x" * 65])
        except ValidationError as exc:  # also a ValueError
            print(f"ValidationError        field={exc.field!r}: {exc.rule}")

        # Lookups: per-model exceptions (also LookupErrors).
        try:
            Collection.objects.get(id=str(uuid.uuid4()))
        except Collection.DoesNotExist as exc:
            print(f"DoesNotExist           {exc}")
        twins = [Collection.objects.create(name=name, collection_type=CollectionType.DATASET)
                 for _ in range(2)]
        try:
            Collection.objects.get(name=name)  # names are not unique
        except Collection.MultipleObjectsReturned as exc:
            print(f"MultipleObjectsReturned {exc}")
        finally:
            for c in twins:
                c.delete()

    # Configuration problems are reported with what would work.
    try:
        Collection.objects.using(Session(orbit="no-such-orbit")).count()
    except ConfigurationError as exc:
        print(f"ConfigurationError     {exc}")

    # The server's refusals are APIErrors with status, method and path (never the key).
    try:
        Collection.objects.using(Session(api_key="dfs_not-a-real-key")).count()
    except AuthenticationError as exc:
        print(f"AuthenticationError    {exc.status} {exc.method}: {exc.detail}")
    except APIError as exc:  # the catch-all for any other status
        print(f"APIError               {exc}")

    # Retries: a server that is not there. Three attempts, short backoff, then the error.
    flaky = Session(base_url=f"http://127.0.0.1:{closed_port()}", timeout=(2.0, 5.0),
                    retry=RetryPolicy(attempts=3, backoff=0.05, max_backoff=0.2, deadline=10))
    try:
        Collection.objects.using(flaky).count()
    except TransportError as exc:
        print(f"TransportError after {exc.attempts} attempts: {exc.args[0]}")
    except DataForceError as exc:  # the root of every error the library raises
        print(f"DataForceError         {exc}")


if __name__ == "__main__":
    main()
