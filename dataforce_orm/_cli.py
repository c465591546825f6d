"""The everyday command line: ``dataforce-orm collections|artifacts|orbits ...``.

Commands are declared in groups. A group is a :class:`Group` (``dataforce-orm NAME``); each of
its commands is a function taking a :class:`Context`, registered with the group's
:meth:`Group.command` decorator together with its arguments. :func:`add_groups` turns every
registered group into argparse subcommands, and :func:`run` runs the chosen command with one
error policy for all (exit 1 and a one-line message; ``--debug`` shows the traceback). A group
is a few declarations (here, or in a module this one imports); the artifacts group below is
one::

    artifacts = Group("artifacts", "list, upload, download and delete artifacts")

    @artifacts.command("list", "list artifacts",
                       arg("--collection", metavar="C", help="id or exact name"))
    def _artifacts_list(ctx: Context) -> None:
        collection = find_collection(ctx, ctx.args.collection)
        ctx.show_list(list(collection.artifacts.all()), ARTIFACT_COLUMNS, "artifacts")

Every command gets the same options (see ``_common_options``): ``--base-url``,
``--organization``, ``--orbit``, ``--api-key-file``, ``--json``, ``--debug``. Unset, they come
from the environment exactly as for ``Session()``. The API key is read from ``DFS_API_KEY`` /
``LUML_API_KEY`` or from a file, never from an argument (arguments show in ``ps`` and in the
shell's history).
"""

from __future__ import annotations

import argparse
import enum
import json
import logging
import os
import sys
import traceback
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn, TextIO

import attrs

from ._artifacts import Artifact
from ._errors import DataForceError
from ._models import Collection, CollectionType, Orbit
from ._session import Session

__all__ = ["GROUPS", "Command", "Context", "Group", "add_groups", "arg", "run"]

PROG = "dataforce-orm"
MAX_LISTED = 10  # ids named in an "several match" error


# -- the registry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Argument:
    """One ``parser.add_argument(*names, **options)``."""

    names: tuple[str, ...]
    options: dict[str, Any]


def arg(*names: str, **options: Any) -> Argument:
    """An argument of a command, given as to ``argparse.ArgumentParser.add_argument``."""
    return Argument(names, options)


Run = Callable[["Context"], int | None]
# A column of a table: its header, and the field shown in it (or a function of the object
# giving the cell's text).
Column = tuple[str, str | Callable[[Any], str]]


@dataclass(frozen=True)
class Command:
    """One command of a group: its name, help, arguments, and the function that runs it."""

    name: str
    help: str
    arguments: tuple[Argument, ...]
    run: Run


@dataclass
class Group:
    """A command group, ``dataforce-orm NAME COMMAND ...``; registers itself in GROUPS."""

    name: str
    help: str
    commands: dict[str, Command] = field(default_factory=dict)

    def __post_init__(self) -> None:
        GROUPS[self.name] = self

    def command(self, name: str, help: str, *arguments: Argument) -> Callable[[Run], Run]:
        """Register the decorated function as the command ``name`` of this group."""

        def register(func: Run) -> Run:
            self.commands[name] = Command(name, help, arguments, func)
            return func

        return register


GROUPS: dict[str, Group] = {}


class CLIError(Exception):
    """A failure the command line reports as one line (exit status 1)."""


class UsageError(Exception):
    """Arguments argparse could not check alone (exit status 2, with the usage)."""


class _RefuseKeyArgument(argparse.Action):
    """``--api-key``: refused without echoing its value."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> NoReturn:
        parser.error("the API key is never taken from an argument (it would show in ps and the "
                     "shell's history): set DFS_API_KEY (or LUML_API_KEY), or pass "
                     "--api-key-file PATH")


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    conn = common.add_argument_group(
        "connection (default: the DFS_* / LUML_* environment, as for Session())")
    conn.add_argument("--base-url", metavar="URL", help="the API's URL (DFS_BASE_URL)")
    conn.add_argument("--organization", metavar="ID_OR_NAME",
                      help="the organization (DFS_ORGANIZATION); auto-picked if there is one")
    conn.add_argument("--orbit", metavar="ID_OR_NAME",
                      help="the orbit (DFS_ORBIT); auto-picked if there is one")
    conn.add_argument("--api-key-file", metavar="PATH",
                      help="read the API key from this file ('-': standard input) instead of "
                           "DFS_API_KEY / LUML_API_KEY")
    conn.add_argument("--api-key", nargs="?", action=_RefuseKeyArgument, help=argparse.SUPPRESS)
    out = common.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print JSON instead of a table")
    out.add_argument("--debug", action="store_true",
                     help="log each request, and show the traceback of an error")
    return common


def add_groups(subparsers: Any) -> None:
    """Add every registered group and its commands to ``subparsers`` (from add_subparsers)."""
    common = _common_options()
    for group in GROUPS.values():
        group_parser = subparsers.add_parser(group.name, help=group.help,
                                             description=group.help, allow_abbrev=False)
        commands = group_parser.add_subparsers(dest="subcommand", required=True,
                                               metavar="COMMAND")
        for command in group.commands.values():
            parser = commands.add_parser(command.name, help=command.help,
                                         description=command.help, parents=[common],
                                         allow_abbrev=False)
            for argument in command.arguments:
                parser.add_argument(*argument.names, **argument.options)
            parser.set_defaults(_command=command, _parser=parser)


# -- running --------------------------------------------------------------------------------


class Context:
    """What a command runs with: its arguments, the session, and the output."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args = args
        self.out, self.err = out, err
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The session the options and the environment configure (made on first use)."""
        if self._session is None:
            self._session = Session(api_key=_api_key(self.args), base_url=self.args.base_url,
                                    organization=self.args.organization, orbit=self.args.orbit)
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def usage_error(self, message: str) -> NoReturn:
        """Fail with exit status 2 and the command's usage, as argparse does."""
        raise UsageError(message)

    # -- output ------------------------------------------------------------------------

    def show(self, obj: Any) -> None:
        """One object: all its public fields, as a two-column table or a JSON object."""
        if self.args.json:
            self._json(public_fields(obj))
            return
        self._print(table(None, [(name, cell(getattr(obj, name), long_time=True))
                                 for name in field_names(obj)]))

    def show_list(self, objs: Sequence[Any], columns: Sequence[Column], what: str) -> None:
        """Several objects: a table of ``columns``, or a JSON array."""
        if self.args.json:
            self._json([public_fields(obj) for obj in objs])
            return
        if not objs:
            self._print(f"No {what}.")
            return
        self._print(_rows(objs, columns))

    def show_row(self, obj: Any, columns: Sequence[Column]) -> None:
        """One object as a row of a table of ``columns`` (with the headers), or a JSON
        object."""
        if self.args.json:
            self._json(public_fields(obj))
        else:
            self._print(_rows([obj], columns))

    def done(self, message: str, data: dict[str, Any]) -> None:
        """The outcome of an action: ``message`` for people, ``data`` as JSON."""
        if self.args.json:
            self._json(data)
        else:
            self._print(message)

    def confirm(self, action: str) -> None:
        """Go on with ``action`` (e.g. "delete collection 'x' (id)") if ``--yes`` was given
        or a person at the terminal answers yes to "Action? [y/N]"; else fail."""
        if getattr(self.args, "yes", False):
            return
        stdin = sys.stdin
        if stdin is None or not stdin.isatty():
            raise CLIError(f"refusing to {action} without --yes (standard input is not a "
                           "terminal to ask on)")
        print(f"{action[:1].upper()}{action[1:]}? [y/N] ", end="", file=self.err, flush=True)
        try:
            answer = input()
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            raise CLIError(f"cancelled: did not {action}")

    def _json(self, data: Any) -> None:
        self._print(json.dumps(data, indent=2, ensure_ascii=False, default=_json_value))

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the command argparse chose: 0 on success, 1 on an error (one line on stderr)."""
    out, err = sys.stdout, sys.stderr
    ctx = Context(args, out, err)
    command: Command = args._command
    debug_log = _debug_logging(err) if args.debug else None
    try:
        return command.run(ctx) or 0
    except UsageError as exc:
        parser: argparse.ArgumentParser = args._parser
        parser.print_usage(err)
        print(f"{parser.prog}: error: {exc}", file=err)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 1
    except Exception as exc:
        if args.debug:
            traceback.print_exc(file=err)
        print(f"{PROG}: error: {_one_line(_describe(exc))}", file=err)
        return 1
    finally:
        ctx.close()
        if debug_log is not None:
            logging.getLogger("dataforce_orm").removeHandler(debug_log[0])
            logging.getLogger("dataforce_orm").setLevel(debug_log[1])


def _describe(exc: Exception) -> str:
    if isinstance(exc, CLIError):
        return str(exc)
    name = type(exc).__name__
    if isinstance(exc, DataForceError):
        return f"{name}: {exc}"
    return f"unexpected {name}: {exc} (run with --debug for the traceback)"


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _debug_logging(err: TextIO) -> tuple[logging.Handler, int]:
    logger = logging.getLogger("dataforce_orm")
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return handler, level


def _api_key(args: argparse.Namespace) -> str | None:
    """The key from --api-key-file (stripped), else None for Session() to read the environment."""
    path: str | None = args.api_key_file
    if path is None:
        if not (os.environ.get("DFS_API_KEY") or os.environ.get("LUML_API_KEY")):
            raise CLIError("no API key: set DFS_API_KEY (or LUML_API_KEY), or pass "
                           "--api-key-file PATH")
        return None
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CLIError(f"cannot read the API key file {path}: {reason}") from None
    key = text.strip()
    if not key:
        raise CLIError(f"the API key file {path} is empty")
    return key


# -- formatting -----------------------------------------------------------------------------


def field_names(obj: Any) -> list[str]:
    """A model's public fields, ``id`` first, the rest in their declared order."""
    names = [a.name for a in attrs.fields(type(obj)) if not a.name.startswith("_")]
    names.sort(key=lambda name: name != "id")  # (a stable sort)
    return names


def public_fields(obj: Any) -> dict[str, Any]:
    """A model's public fields as JSON values (times in ISO-8601, enums as their values)."""
    return {name: _json_value(getattr(obj, name)) for name in field_names(obj)}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _rows(objs: Sequence[Any], columns: Sequence[Column]) -> str:
    rows = [tuple(cell(getattr(obj, show, None)) if isinstance(show, str) else show(obj)
                  for _, show in columns) for obj in objs]
    return table(tuple(header for header, _ in columns), rows)


def human_size(n: int | None) -> str:
    """A number of bytes for people: ``512 B``, ``1.5 KiB``, ``20.0 MiB``."""
    if n is None:
        return "-"
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def cell(value: Any, long_time: bool = False) -> str:
    """A value as one line of a table cell."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return "-"
    if isinstance(value, datetime):
        text = value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return f"{text} UTC" if long_time else text
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def table(headers: tuple[str, ...] | None, rows: Sequence[tuple[str, ...]]) -> str:
    """Rows of cells in aligned columns, two spaces apart; no trailing spaces."""
    lines = [headers, *rows] if headers is not None else list(rows)
    widths = [max(_width(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(text + " " * (widths[i] - _width(text)) for i, text in enumerate(line))
        .rstrip() for line in lines)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def as_uuid(text: str) -> str | None:
    """The canonical form of ``text`` if it is a UUID (then it means an id), else None."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def _several(kind: str, ref: str, ids: list[str]) -> CLIError:
    shown = ", ".join(ids[:MAX_LISTED]) + (", ..." if len(ids) > MAX_LISTED else "")
    return CLIError(f"{'more than ' if len(ids) > MAX_LISTED else ''}"
                    f"{min(len(ids), MAX_LISTED)} {kind}s are named {ref!r}: {shown}; "
                    "pass the id instead")


# -- collections ----------------------------------------------------------------------------

collections = Group("collections", "list, show, create, update and delete collections")

COLLECTION_COLUMNS = (("ID", "id"), ("NAME", "name"), ("TYPE", "collection_type"),
                      ("TAGS", "tags"), ("ARTIFACTS", "total_artifacts"),
                      ("CREATED (UTC)", "created_at"))
_TYPES = [t.value for t in CollectionType]
_REF = arg("ref", metavar="ID_OR_NAME", help="the collection's id, or its exact name")


def find_collection(ctx: Context, ref: str) -> Collection:
    """The collection ``ref`` means in the session's orbit: an id if it is a UUID, else the
    one collection with that exact name."""
    objects = Collection.objects.using(ctx.session)
    ident = as_uuid(ref)
    if ident is not None:
        try:
            return objects.get(id=ident)
        except Collection.DoesNotExist:
            raise CLIError(f"no collection with id {ident}") from None
    found = list(objects.filter(name=ref)[:MAX_LISTED + 1])
    if not found:
        raise CLIError(f"no collection named {ref!r}")
    if len(found) > 1:
        raise _several("collection", ref, [str(c.id) for c in found])
    return found[0]


@collections.command(
    "list", "list the orbit's collections, newest first",
    arg("--search", metavar="TEXT", help="only names containing TEXT (any case)"),
    arg("--type", dest="types", action="append", choices=_TYPES, metavar="TYPE",
        help=f"only this type (repeat for several): {', '.join(_TYPES)}"),
    arg("--tag", dest="tags", action="append", metavar="TAG",
        help="only collections tagged TAG (repeat: tagged with all of them)"),
    arg("--limit", type=_positive, metavar="N", help="at most N collections"),
)
def _collections_list(ctx: Context) -> None:
    args = ctx.args
    qs = Collection.objects.using(ctx.session).all()
    if args.search:
        qs = qs.filter(name__icontains=args.search)
    if args.types:
        qs = qs.filter(collection_type__in=args.types)
    if args.tags:
        qs = qs.filter(tags__contains=args.tags)
    if args.limit is not None:
        qs = qs[:args.limit]
    ctx.show_list(list(qs), COLLECTION_COLUMNS, "collections")


@collections.command("get", "show one collection", _REF)
def _collections_get(ctx: Context) -> None:
    ctx.show(find_collection(ctx, ctx.args.ref))


@collections.command(
    "create", "create a collection",
    arg("name", metavar="NAME"),
    arg("--type", dest="collection_type", required=True, choices=_TYPES, metavar="TYPE",
        help=f"what it holds: {', '.join(_TYPES)}"),
    arg("--description", default="", metavar="TEXT"),
    arg("--tag", dest="tags", action="append", metavar="TAG", help="a tag (repeat for several)"),
)
def _collections_create(ctx: Context) -> None:
    args = ctx.args
    c = Collection(name=args.name, description=args.description,
                   collection_type=args.collection_type, tags=args.tags)
    c.save(using=ctx.session)
    ctx.show(c)


@collections.command(
    "update", "change a collection's name, description or tags (the rest is kept)",
    _REF,
    arg("--name", metavar="NAME", help="the new name"),
    arg("--description", metavar="TEXT", help="the new description"),
    arg("--tag", dest="tags", action="append", metavar="TAG",
        help="the new tags, replacing the old ones (repeat for several)"),
    arg("--clear-tags", action="store_true", help="remove every tag"),
)
def _collections_update(ctx: Context) -> None:
    args = ctx.args
    if args.tags is not None and args.clear_tags:
        ctx.usage_error("--tag and --clear-tags cannot be used together")
    if args.name is None and args.description is None and args.tags is None \
            and not args.clear_tags:
        ctx.usage_error("nothing to change: give --name, --description, --tag or --clear-tags")
    c = find_collection(ctx, args.ref)
    if args.name is not None:
        c.name = args.name
    if args.description is not None:
        c.description = args.description
    if args.tags is not None or args.clear_tags:
        c.tags = args.tags or []
    c.save()  # merged with the server's state; a field changed there too is a ConflictError
    ctx.show(c)


@collections.command(
    "delete", "delete a collection (asks first, unless --yes)",
    _REF,
    arg("--yes", "-y", action="store_true", help="do not ask"),
)
def _collections_delete(ctx: Context) -> None:
    c = find_collection(ctx, ctx.args.ref)
    ident, name = c.id, c.name
    ctx.confirm(f"delete collection {name!r} ({ident})")
    c.delete()
    ctx.done(f"Deleted collection {name!r} ({ident}).", {"id": ident, "name": name,
                                                           "deleted": True})


# -- artifacts ------------------------------------------------------------------------------

artifacts = Group("artifacts", "list, upload, download and delete the artifacts of collections")

ARTIFACT_COLUMNS: tuple[Column, ...] = (
    ("ID", "id"), ("NAME", "name"), ("TYPE", "type"), ("STATUS", "status"),
    ("SIZE", lambda a: human_size(a.size)), ("CREATED (UTC)", "created_at"))


def _artifact_id(text: str) -> str:
    ident = as_uuid(text)
    if ident is None:
        raise argparse.ArgumentTypeError(f"not an artifact id (a UUID): {text!r}")
    return ident


_IN_COLLECTION = arg("--collection", required=True, metavar="C",
                     help="the collection holding it: its id, or its exact name")
_ARTIFACT = arg("id", type=_artifact_id, metavar="ID", help="the artifact's id")


def find_artifact(collection: Collection, ident: str) -> Artifact:
    """The artifact ``ident`` of ``collection``."""
    try:
        return collection.artifacts.get(id=ident)
    except Artifact.DoesNotExist:
        raise CLIError(f"no artifact with id {ident} in collection {collection.name!r}") \
            from None


def _progress(ctx: Context) -> bool | None:
    """A progress bar (drawn by the library on stderr) only for a person watching it."""
    isatty = getattr(ctx.err, "isatty", None)
    return True if isatty is not None and isatty() else None


@artifacts.command(
    "list", "list the artifacts of a collection, or of the whole orbit, newest first",
    arg("--collection", metavar="C",
        help="only this collection's (its id, or its exact name); default: every collection "
             "of the orbit"),
    arg("--limit", type=_positive, metavar="N", help="at most N artifacts"),
)
def _artifacts_list(ctx: Context) -> None:
    args = ctx.args
    if args.collection is not None:
        qs = find_collection(ctx, args.collection).artifacts.all()
    else:
        qs = Artifact.objects.using(ctx.session).all()
    if args.limit is not None:
        qs = qs[:args.limit]
    ctx.show_list(list(qs), ARTIFACT_COLUMNS, "artifacts")


@artifacts.command(
    "upload", "upload a .luml archive as a new artifact of a collection",
    arg("file", metavar="FILE", help="the .luml archive"),
    _IN_COLLECTION,
    arg("--name", metavar="NAME", help="its name (default: the file's name)"),
    arg("--description", metavar="TEXT"),
    arg("--tag", dest="tags", action="append", metavar="TAG", help="a tag (repeat for several)"),
)
def _artifacts_upload(ctx: Context) -> None:
    args = ctx.args
    collection = find_collection(ctx, args.collection)
    made = collection.artifacts.upload(args.file, name=args.name, description=args.description,
                                       tags=args.tags, progress=_progress(ctx))
    ctx.show_row(made, ARTIFACT_COLUMNS)


@artifacts.command(
    "download", "download an artifact's file and print where it was written",
    _ARTIFACT,
    _IN_COLLECTION,
    arg("-o", "--output", metavar="PATH",
        help="a file to write, or a directory to write it in under its stored name "
             "(default: the current directory)"),
)
def _artifacts_download(ctx: Context) -> None:
    args = ctx.args
    art = find_artifact(find_collection(ctx, args.collection), args.id)
    path = art.download(args.output, progress=_progress(ctx))
    ctx.done(str(path), {"id": art.id, "name": art.name, "path": str(path), "size": art.size})


@artifacts.command(
    "delete", "delete an artifact and its stored file (asks first, unless --yes)",
    _ARTIFACT,
    _IN_COLLECTION,
    arg("--yes", "-y", action="store_true", help="do not ask"),
    arg("--force", action="store_true",
        help="remove it whatever its status (e.g. a failed upload); the stored file is left"),
)
def _artifacts_delete(ctx: Context) -> None:
    args = ctx.args
    art = find_artifact(find_collection(ctx, args.collection), args.id)
    ident, name = art.id, art.name
    ctx.confirm(f"delete artifact {name!r} ({ident})")
    art.delete(force=args.force)
    ctx.done(f"Deleted artifact {name!r} ({ident}).", {"id": ident, "name": name,
                                                         "deleted": True})


# -- orbits ---------------------------------------------------------------------------------

orbits = Group("orbits", "list and show the organization's orbits")

ORBIT_COLUMNS = (("ID", "id"), ("NAME", "name"), ("ROLE", "role"),
                 ("COLLECTIONS", "total_collections"), ("ARTIFACTS", "total_artifacts"),
                 ("MEMBERS", "total_members"))


def find_orbit(ctx: Context, ref: str) -> Orbit:
    """The orbit ``ref`` means: an id if it is a UUID, else the one orbit with that name."""
    every = list(Orbit.objects.using(ctx.session).all())
    ident = as_uuid(ref)
    if ident is not None:
        found = [o for o in every if o.id == ident]
        if not found:
            raise CLIError(f"no orbit with id {ident}")
        return found[0]
    found = [o for o in every if o.name == ref]
    if not found:
        names = ", ".join(repr(o.name) for o in every) or "none"
        raise CLIError(f"no orbit named {ref!r}; the orbits: {names}")
    if len(found) > 1:
        raise _several("orbit", ref, [str(o.id) for o in found])
    return found[0]


@orbits.command("list", "list the orbits of the organization")
def _orbits_list(ctx: Context) -> None:
    ctx.show_list(list(Orbit.objects.using(ctx.session).all()), ORBIT_COLUMNS, "orbits")


@orbits.command("get", "show one orbit",
                arg("ref", metavar="ID_OR_NAME", help="the orbit's id, or its exact name"))
def _orbits_get(ctx: Context) -> None:
    ctx.show(find_orbit(ctx, ctx.args.ref))
