"""``dataforce-orm serve``: run a LocalServer in the foreground."""

from __future__ import annotations

import signal
import sqlite3
import sys
import threading
from types import FrameType

from .._http import is_loopback
from ._server import LocalServer


def serve_main(host: str, port: int, db: str | None, allow_remote: bool) -> int:
    """Serve until Ctrl-C or SIGTERM after printing the ``export DFS_...`` lines."""
    if not allow_remote and not is_loopback(host):
        print(
            f"dataforce-orm serve: refusing to listen on non-loopback host {host!r}; "
            "pass --allow-remote to expose the server (it has no real security)",
            file=sys.stderr,
        )
        return 2
    try:
        server = LocalServer(db_path=db, host=host, port=port, allow_remote=allow_remote).start()
    except sqlite3.Error as exc:
        print(f"dataforce-orm serve: cannot open the database {db!r}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f"the database {db!r}" if db and exc.filename else f"on {host}:{port}"
        print(f"dataforce-orm serve: cannot serve {where}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"export DFS_BASE_URL={server.url}")
    print(f"export DFS_API_KEY={server.api_key}")
    print(f"export DFS_ORGANIZATION={server.organization_id}")
    print(f"export DFS_ORBIT={server.orbit_id}", flush=True)
    print(f"# serving the DataForce API on {server.url} (Ctrl-C stops)", file=sys.stderr)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
    return 0
