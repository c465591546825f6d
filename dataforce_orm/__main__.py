"""The ``dataforce-orm`` command: ``serve`` (the local server), ``demo``, and the command
groups of ``_cli`` (the platform's objects: collections, orbits, artifacts, ...)."""

from __future__ import annotations

import argparse
import os
import sys

from . import _cli
from ._version import __version__


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="dataforce-orm", allow_abbrev=False,
        description="The DataForce (luml) ORM's command line. The collections and orbits "
                    "commands are configured like Session(): DFS_API_KEY (or --api-key-file), "
                    "DFS_BASE_URL, DFS_ORGANIZATION, DFS_ORBIT, or the LUML_* spellings.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _cli.add_groups(sub)
    serve = sub.add_parser("serve", help="run the local DataForce server in the foreground")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    serve.add_argument("--db", default=None, help="SQLite file; state survives restarts")
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback host")
    sub.add_parser("demo", help="a short tour of the library (a LocalServer without DFS_API_KEY)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (2), --help and --version (0)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    if args.command == "serve":
        from .testing._cli import serve_main

        return serve_main(args.host, args.port, args.db, args.allow_remote)
    if args.command == "demo":
        from ._demo import run_demo

        try:
            return run_demo(sys.stdout)
        except BrokenPipeError:  # the reader went away (e.g. `| head`); cleanup already ran
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    return _cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
