"""The command line: ``dataforce-orm serve`` and ``dataforce-orm demo``."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dataforce-orm")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the local DataForce server in the foreground")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    serve.add_argument("--db", default=None, help="SQLite file; state survives restarts")
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback host")
    sub.add_parser("demo", help="a short tour of the library (a LocalServer without DFS_API_KEY)")
    args = parser.parse_args(argv)
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
    return 2


if __name__ == "__main__":
    sys.exit(main())
