"""A mkdocs hook for the API reference: the command line's page, derived from its parser.

The marker ``<!-- dataforce-orm commands -->`` in a page becomes the global options, every
group and command with its usage and a table of its arguments, and the exit statuses, so a
new command group is listed from its declaration alone.
"""

from __future__ import annotations

import argparse
from typing import Any

from dataforce_orm import _cli  # noqa: F401 (declares the groups and commands)
from dataforce_orm._cli_base import EXIT_CODES, GLOBAL_OPTIONS, PROG, build_parser

MARKER = "<!-- dataforce-orm commands -->"
_GLOBAL = {name for names, _, _ in GLOBAL_OPTIONS for name in names} | {"--api-key"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _own(action: argparse.Action) -> bool:
    return not set(action.option_strings) & _GLOBAL


def _shown(parser: argparse.ArgumentParser, keep: Any) -> list[argparse.Action]:
    """The parser's arguments that its help shows and ``keep`` takes."""
    return [a for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
            and a.help != argparse.SUPPRESS and keep(a)]


def _value(action: argparse.Action) -> str:
    return "" if action.nargs == 0 or not action.option_strings \
        else str(action.metavar or action.dest.upper())


def _arguments(parser: argparse.ArgumentParser, keep: Any) -> list[str]:
    rows = []
    for action in _shown(parser, keep):
        names = ", ".join(action.option_strings) or (action.metavar or action.dest)
        extra = ""
        if action.choices and str(next(iter(action.choices))) not in (action.help or ""):
            extra = f" One of: {', '.join(map(str, action.choices))}."
        rows.append(f"| `{_cell(names)}` | {_cell(_value(action))} | "
                    f"{_cell(action.help or '')}{_cell(extra)} |")
    if not rows:
        return []
    return ["| Argument | Value | What it does |", "|---|---|---|", *rows, ""]


def _usage(path: str, parser: argparse.ArgumentParser) -> str:
    """The command's usage without the global options (they are listed once)."""
    words = [path]
    for action in _shown(parser, _own):
        if not action.option_strings:
            words.append(str(action.metavar or action.dest))
            continue
        word = " ".join(filter(None, (max(action.option_strings, key=len), _value(action))))
        words.append(word if action.required else f"[{word}]")
    return " ".join(words)


def _command(path: str, parser: argparse.ArgumentParser) -> list[str]:
    return [f"### `{path}`", "", parser.description or "", "", "```text",
            _usage(path, parser), "```", "", *_arguments(parser, _own)]


def commands_page() -> str:
    """The Markdown of every command, derived from ``build_parser()``."""
    top = build_parser()
    lines = ["## Global options", "", "Accepted anywhere on the line.", "",
             *_arguments(top, lambda a: bool(set(a.option_strings) & _GLOBAL)),
             "## Exit statuses", "", "| Status | Meaning |", "|---|---|", "| 0 | success |",
             "| 1 | any other error |", "| 2 | usage: the arguments are wrong |",
             *(f"| {code} | {_cell(what)} |" for _, code, what in EXIT_CODES), ""]
    for name, parser in _choices(top).items():
        commands = _choices(parser)
        if not commands:
            continue
        lines += [f"## {name}", "", parser.description or "", ""]
        for cmd, sub in commands.items():
            lines += _command(f"{PROG} {name} {cmd}", sub)
    lines += ["## Other commands", ""]
    for name, parser in _choices(top).items():
        if not _choices(parser):
            lines += _command(f"{PROG} {name}", parser)
    return "\n".join(lines)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """mkdocs: the marker becomes the commands' reference."""
    return markdown.replace(MARKER, commands_page()) if MARKER in markdown else markdown
