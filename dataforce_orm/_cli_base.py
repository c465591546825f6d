"""The command framework: groups of commands, the global options, running, output, errors.

A group is a declaration; its commands are functions taking a ``Context``::

    tracks = Group("tracks", "list, show and delete the orbit's tracks", model=Track)

    @tracks.command("get", "show one track",
                    arg("ref", metavar="ID_OR_NAME", help="the track's id, or its exact name"))
    def _tracks_get(ctx: Context) -> None:
        ctx.show(find_in("track", ctx.args.ref, Track.objects.using(ctx.session)))

``build_parser()`` turns every declared group (and the top-level commands of
``command()``) into argparse parsers; the global options (``GLOBAL_OPTIONS``) are
accepted anywhere on the line. ``run()`` runs the chosen command with one error policy: one
line on stderr and the exit status of the error's class (``EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import difflib
import enum
import json
import logging
import os
import sys
import traceback
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn, TextIO, TypeVar

import attrs

from ._config import Settings, resolve
from ._errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DataForceError,
    MultipleObjectsReturned,
    NotFoundError,
    ObjectDoesNotExist,
    PermissionDeniedError,
    TransportError,
    UnprocessableEntityError,
    ValidationError,
)
from ._fields import SPEC
from ._query import QuerySet
from ._resource import Model
from ._session import Session
from ._version import __version__

PROG = "dataforce-orm"
MAX_LISTED = 10  # ids named in an "several match" error
T = TypeVar("T")
M = TypeVar("M", bound=Model)
MANY_NAMES = 1000  # names read for a "did you mean" after a miss


# -- declarations ---------------------------------------------------------------------------


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
    """One command: its name, help, arguments, and the function that runs it."""

    name: str
    help: str
    arguments: tuple[Argument, ...]
    run: Run


@dataclass
class Group:
    """A command group, ``dataforce-orm NAME COMMAND ...``, for the objects of ``model``
    (None: not a model's group); registers itself in GROUPS."""

    name: str
    help: str
    model: type | None = None
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
COMMANDS: dict[str, Command] = {}  # the top-level commands (serve, login, ...)


def command(name: str, help: str, *arguments: Argument) -> Callable[[Run], Run]:
    """Register the decorated function as the top-level command ``name``."""

    def register(func: Run) -> Run:
        COMMANDS[name] = Command(name, help, arguments, func)
        return func

    return register


# -- errors and their exit statuses ----------------------------------------------------------


class CLIError(Exception):
    """A failure the command line reports as one line (its exit status: EXIT_CODES)."""


class NotFound(CLIError):
    """No object has the id or name given."""


class Ambiguous(CLIError):
    """Several objects have the name given."""


class NoConfig(CLIError):
    """The command line cannot be used as configured (no key, unreadable key file)."""


class UsageError(Exception):
    """Arguments argparse could not check alone (exit status 2, with the usage)."""


# The exit status of each error class, the first that matches (docs/cli.md tells them).
EXIT_CODES: tuple[tuple[tuple[type[BaseException], ...], int, str], ...] = (
    ((ConfigurationError, NoConfig), 3, "configuration"),
    ((AuthenticationError,), 4, "key refused"),
    ((PermissionDeniedError,), 5, "permission denied"),
    ((NotFoundError, ObjectDoesNotExist, NotFound), 6, "not found"),
    ((MultipleObjectsReturned, Ambiguous), 7, "ambiguous name"),
    ((ConflictError,), 8, "conflict"),
    ((ValidationError, UnprocessableEntityError), 9, "bad input"),
    ((TransportError,), 10, "no answer"),
)


def exit_code(exc: BaseException) -> int:
    """The exit status for ``exc``: its class's in EXIT_CODES, else 1."""
    for classes, code, _ in EXIT_CODES:
        if isinstance(exc, classes):
            return code
    return 1


# -- the parser -----------------------------------------------------------------------------


class _RefuseKeyArgument(argparse.Action):
    """``--api-key``: refused without echoing its value."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> NoReturn:
        parser.error("the API key is never taken from an argument (it would show in ps and the "
                     "shell's history): set DFS_API_KEY, pass --api-key-file PATH, or store it "
                     "with 'dataforce-orm login'")


# (names, options, default): accepted before the command, after it, or between.
GLOBAL_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any], Any], ...] = (
    (("--json",), dict(action="store_true", help="print JSON instead of a table"), False),
    (("--profile",), dict(metavar="NAME", help="the profile of the configuration file to use "
                                               "(DFS_PROFILE; default: 'default')"), None),
    (("--base-url",), dict(metavar="URL", help="the platform's API URL (DFS_BASE_URL; "
                                               "default: https://api.luml.ai)"), None),
    (("--organization",), dict(metavar="ID_OR_NAME", help="the organization (DFS_ORGANIZATION); "
                                                          "picked for you if there is one"), None),
    (("--orbit",), dict(metavar="ID_OR_NAME", help="the orbit (DFS_ORBIT); picked for you if "
                                                   "there is one"), None),
    (("--api-key-file",), dict(metavar="PATH", help="read the API key from this file ('-': "
                                                    "standard input)"), None),
    (("--allow-insecure-http",), dict(action="store_true",
                                      help="allow a plain-http URL that is not loopback "
                                           "(DFS_ALLOW_INSECURE_HTTP=1)"), None),
    (("-q", "--quiet"), dict(action="store_true", help="only errors on stderr: no progress "
                                                       "bar, no warnings"), False),
    (("-v", "--verbose"), dict(action="count", help="show retries on stderr; -vv also each "
                                                    "request"), 0),
    (("--debug",), dict(action="store_true", help="as -vv, and show the traceback of an "
                                                  "error"), False),
)


def _add_global_options(parser: argparse.ArgumentParser, top: bool, shown: bool = True) -> None:
    """The global options on ``parser``: with their defaults on the top-level parser, without
    (argparse.SUPPRESS) below it, so that a value given anywhere is kept."""
    group = parser.add_argument_group("global options (anywhere on the line)")
    for names, options, default in GLOBAL_OPTIONS:
        options = dict(options)
        options["default"] = default if top else argparse.SUPPRESS
        if not shown:
            options["help"] = argparse.SUPPRESS
        group.add_argument(*names, **options)
    group.add_argument("--api-key", nargs="?", action=_RefuseKeyArgument,
                       default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _add_command(subparsers: Any, cmd: Command) -> None:
    parser = subparsers.add_parser(cmd.name, help=cmd.help, description=cmd.help,
                                   allow_abbrev=False)
    for argument in cmd.arguments:
        parser.add_argument(*argument.names, **argument.options)
    _add_global_options(parser, top=False)
    parser.set_defaults(_command=cmd, _parser=parser)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line's parser: every group and top-level command."""
    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="The DataForce (luml) platform from the shell. Connection settings come "
                    "from the options, else the environment (DFS_*), else the profile of the "
                    "configuration file (see 'dataforce-orm login').",
        epilog="Run 'dataforce-orm COMMAND --help' for a command's options. Exit statuses: "
               "0 success, 2 usage, " + ", ".join(f"{code} {what}" for _, code, what in EXIT_CODES)
               + ", 1 any other error.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version and exit")
    _add_global_options(parser, top=True)
    parser.set_defaults(_command=None, _parser=parser)
    sub = parser.add_subparsers(metavar="COMMAND", title="commands")
    for group in GROUPS.values():
        group_parser = sub.add_parser(
            group.name, help=group.help, description=group.help, allow_abbrev=False,
            epilog=f"Run '{PROG} {group.name} COMMAND --help' for a command's options; the "
                   f"global options (see '{PROG} --help') go anywhere on the line.")
        _add_global_options(group_parser, top=False, shown=False)
        group_parser.set_defaults(_parser=group_parser)
        commands = group_parser.add_subparsers(metavar="COMMAND", title="commands")
        for cmd in group.commands.values():
            _add_command(commands, cmd)
    for cmd in COMMANDS.values():
        _add_command(sub, cmd)
    return parser


# -- running --------------------------------------------------------------------------------


class Context:
    """What a command runs with: its arguments, the session, and the output."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args = args
        self.out, self.err = out, err
        self._session: Session | None = None
        self._settings: Settings | None = None
        self.new_profile_ok = False  # (login may name a profile it is about to make)

    @property
    def settings(self) -> Settings:
        """The options, over the environment, over the profile (read once)."""
        if self._settings is None:
            a = self.args
            self._settings = resolve(
                api_key=read_key_file(a.api_key_file) if a.api_key_file else None,
                base_url=a.base_url, organization=a.organization, orbit=a.orbit,
                allow_insecure_http=a.allow_insecure_http, profile=a.profile,
                must_exist=not self.new_profile_ok)
        return self._settings

    def make_session(self, api_key: str | None) -> Session:
        """A session of these settings with ``api_key`` (closed with the context)."""
        s = self.settings
        self.close()
        self._session = Session(api_key=api_key, base_url=s.base_url,
                                organization=s.organization, orbit=s.orbit,
                                allow_insecure_http=s.allow_insecure_http, profile=s.profile)
        return self._session

    @property
    def session(self) -> Session:
        """The session the options, the environment and the profile configure."""
        if self._session is None:
            if not self.settings.api_key:
                raise NoConfig("no API key: set DFS_API_KEY, pass --api-key-file PATH, or "
                               "store one with 'dataforce-orm login'")
            self.make_session(self.settings.api_key)
        assert self._session is not None
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def usage_error(self, message: str) -> NoReturn:
        """Fail with exit status 2 and the command's usage, as argparse does."""
        raise UsageError(message)

    # -- output ------------------------------------------------------------------------

    def show(self, obj: Any) -> None:
        """One object: all its public fields, as a two-column table or a JSON object."""
        if self.args.json:
            self._json(public_fields(obj))
            return
        self.print(table(None, [(name, cell(getattr(obj, name), long_time=True))
                                for name in field_names(obj)]))

    def show_list(self, objs: Sequence[Any], columns: Sequence[Column], what: str) -> None:
        """Several objects: a table of ``columns``, or a JSON array."""
        if self.args.json:
            self._json([public_fields(obj) for obj in objs])
            return
        if not objs:
            self.print(f"No {what}.")
            return
        self.print(rows(objs, columns))

    def show_row(self, obj: Any, columns: Sequence[Column]) -> None:
        """One object as a row of a table of ``columns`` (with the headers), or a JSON
        object."""
        if self.args.json:
            self._json(public_fields(obj))
        else:
            self.print(rows([obj], columns))

    def done(self, message: str, data: dict[str, Any]) -> None:
        """The outcome of an action: ``message`` for people, ``data`` as JSON."""
        if self.args.json:
            self._json(data)
        else:
            self.print(message)

    @property
    def progress(self) -> bool:
        """A progress bar (drawn by the library on stderr) only for a person watching it."""
        isatty = getattr(self.err, "isatty", None)
        return not self.args.quiet and isatty is not None and bool(isatty())

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
        self.print(json.dumps(data, indent=2, ensure_ascii=False, default=json_value))

    def print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


class _Retries(logging.Filter):
    """Drops the retry lines (shown with --verbose only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("retrying ")


def _logging(args: argparse.Namespace, err: TextIO) -> Callable[[], None]:
    """The library's log on ``err`` as the options ask; returns what undoes it."""
    logger = logging.getLogger("dataforce_orm")
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    verbosity = 2 if args.debug else args.verbose or 0
    level = logging.ERROR if args.quiet else (logging.WARNING, logging.INFO,
                                              logging.DEBUG)[min(verbosity, 2)]
    if verbosity == 0:
        handler.addFilter(_Retries())
    handler.setLevel(level)
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    if level < logger.getEffectiveLevel():
        logger.setLevel(level)
    logger.propagate = False

    def undo() -> None:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

    return undo


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (2), --help and --version (0)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    if args._command is None:  # a bare `dataforce-orm` or `dataforce-orm GROUP`
        args._parser.print_help(sys.stdout)
        return 0
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run the command the parser chose: 0 on success, else one line on stderr and the
    exit status of the error."""
    out, err = sys.stdout, sys.stderr
    if args.quiet and (args.verbose or args.debug):
        args._parser.print_usage(err)
        print(f"{args._parser.prog}: error: --quiet cannot be used with --verbose or --debug",
              file=err)
        return 2
    ctx = Context(args, out, err)
    cmd: Command = args._command
    undo = _logging(args, err)
    try:
        return cmd.run(ctx) or 0
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
        print(f"{PROG}: error: {one_line(_describe(exc, ctx))}", file=err)
        return exit_code(exc)
    finally:
        ctx.close()
        undo()


def _describe(exc: Exception, ctx: Context) -> str:
    if isinstance(exc, CLIError):
        return str(exc)
    name = type(exc).__name__
    if isinstance(exc, AuthenticationError) and ctx._settings is not None:
        source = ctx._settings.key_source
        hint = " (run 'dataforce-orm login' to store a new one)" if "profile" in source else ""
        return f"{name}: {exc}; the key came from {source}{hint}"
    if isinstance(exc, ConfigurationError) and "allow_insecure_http=True" in str(exc):
        return (f"{name}: {exc} (here: --allow-insecure-http, DFS_ALLOW_INSECURE_HTTP=1, or "
                "allow_insecure_http = true in the profile)")
    if isinstance(exc, DataForceError):
        return f"{name}: {exc}"
    return f"unexpected {name}: {exc} (run with --debug for the traceback)"


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def read_key_file(path: str) -> str:
    """The key in ``path`` ('-': standard input), surrounding whitespace stripped."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise NoConfig(f"cannot read the API key file {path}: {reason}") from None
    key = text.strip()
    if not key:
        raise NoConfig(f"the API key file {path} is empty")
    return key


# -- finding objects by id or name ----------------------------------------------------------


def as_uuid(text: str) -> str | None:
    """The canonical form of ``text`` if it is a UUID (then it means an id), else None."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def did_you_mean(ref: str, names: Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the names closest to ``ref`` (same text in another case
    first), or ``""``."""
    names = list(dict.fromkeys(n for n in names if isinstance(n, str)))
    same = [n for n in names if n.lower() == ref.lower()]
    close = same + [n for n in difflib.get_close_matches(ref, names, n=3, cutoff=0.6)
                    if n not in same]
    if not close:
        return ""
    return f"; did you mean {' or '.join(repr(n) for n in close[:3])}?"


def find(kind: str, ref: str, *, by_id: Callable[[str], T | None],
         by_name: Callable[[str], list[T]], names: Callable[[], Iterable[str]],
         where: str = "") -> T:
    """The one object ``ref`` names: by id if it is a UUID, else by exact name; a miss is
    NotFound (with the closest names), a shared name Ambiguous (with the ids)."""
    ident = as_uuid(ref)
    if ident is not None:
        found = by_id(ident)
        if found is None:
            raise NotFound(f"no {kind} with id {ident}{where}")
        return found
    matches = by_name(ref)
    if not matches:
        raise NotFound(f"no {kind} named {ref!r}{where}{did_you_mean(ref, names())}")
    if len(matches) > 1:
        ids = [str(getattr(m, "id", "")) for m in matches]
        shown = ", ".join(ids[:MAX_LISTED]) + (", ..." if len(ids) > MAX_LISTED else "")
        many = f"more than {MAX_LISTED}" if len(ids) > MAX_LISTED else str(len(ids))
        raise Ambiguous(f"{many} {kind}s are named {ref!r}{where}: {shown}; pass the id "
                        "instead")
    return matches[0]


def find_in(kind: str, ref: str, objects: QuerySet[M], where: str = "") -> M:
    """``find()`` in ``objects``: an id by one get, a name by a filter, the names of a
    miss's "did you mean" from the first ``MANY_NAMES``."""
    def by_id(ident: str) -> M | None:
        try:
            return objects.get(id=ident)
        except objects.model.DoesNotExist:
            return None

    return find(kind, ref, by_id=by_id, where=where,
                by_name=lambda name: list(objects.filter(name=name)[:MAX_LISTED + 1]),
                names=lambda: (getattr(o, "name", "") for o in objects.all()[:MANY_NAMES]))


def find_listed(kind: str, ref: str, every: Sequence[T],
                name: Callable[[T], str] = lambda o: getattr(o, "name", "")) -> T:
    """``find()`` among objects already listed (``name`` gives each one's name)."""
    return find(kind, ref, by_id=lambda i: next((o for o in every
                                                   if getattr(o, "id", None) == i), None),
                by_name=lambda n: [o for o in every if name(o) == n],
                names=lambda: map(name, every))


# -- formatting -----------------------------------------------------------------------------


def field_names(obj: Any) -> list[str]:
    """A model's public fields but its write-only secrets, ``id`` first, the rest in their
    declared order."""
    names = [a.name for a in attrs.fields(type(obj)) if not a.name.startswith("_")
             and not getattr(a.metadata.get(SPEC), "secret", False)]
    names.sort(key=lambda name: name != "id")  # (a stable sort)
    return names


def public_fields(obj: Any) -> dict[str, Any]:
    """A model's public fields as JSON values (times in ISO-8601, enums as their values)."""
    return {name: json_value(getattr(obj, name)) for name in field_names(obj)}


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def rows(objs: Sequence[Any], columns: Sequence[Column]) -> str:
    lines = [tuple(cell(getattr(obj, show, None)) if isinstance(show, str) else show(obj)
                   for _, show in columns) for obj in objs]
    return table(tuple(header for header, _ in columns), lines)


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
    """A value as one line of a table cell: lists joined by commas, a mapping as
    ``key: value; ...``, a record in a list by its name (or id), deeper values as JSON."""
    if value is None or (isinstance(value, (list, tuple, dict)) and not value):
        return "-"
    if isinstance(value, datetime):
        text = value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return f"{text} UTC" if long_time else text
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, dict):
        return "; ".join(f"{_printable(str(k))}: {_inner(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_inner(v) for v in value)
    return _printable(str(value))


def _inner(value: Any) -> str:
    """A value inside a list or mapping of a cell."""
    if isinstance(value, dict):
        label = value.get("name") or value.get("id")
        if isinstance(label, str):
            return _printable(label)
        return _printable(json.dumps(json_value(value), ensure_ascii=False))
    if isinstance(value, (list, tuple)) and all(not isinstance(v, (dict, list)) for v in value):
        return " ".join(cell(v) for v in value) if value else "-"
    if isinstance(value, (list, tuple)):
        return _printable(json.dumps(json_value(value), ensure_ascii=False))
    return cell(value)


def _printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def table(headers: tuple[str, ...] | None, lines: Sequence[tuple[str, ...]]) -> str:
    """Rows of cells in aligned columns, two spaces apart; no trailing spaces."""
    every = [headers, *lines] if headers is not None else list(lines)
    widths = [max(_width(line[i]) for line in every) for i in range(len(every[0]))]
    return "\n".join(
        "  ".join(text + " " * (widths[i] - _width(text)) for i, text in enumerate(line))
        .rstrip() for line in every)


def positive(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n
