"""The documentation keeps up with the code: every lookup, public name and CLI command."""

from __future__ import annotations

import re
from pathlib import Path

from test_docstrings import facade_classes

import dataforce_orm
import dataforce_orm.testing
from dataforce_orm import _cli
from dataforce_orm._lookups import supported
from dataforce_orm._models import Collection

DOCS = Path(__file__).resolve().parent.parent / "docs"
KINDS = {"id": "id", "str": "text", "enum": "type", "tags": "tags", "num": "number",
         "bool": "flag", "time": "time"}


def test_the_lookup_table_lists_every_lookup_of_every_field() -> None:
    rows = {}
    for line in (DOCS / "querying.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in KINDS.values():
            rows[cells[0]] = cells
    assert set(rows) == set(KINDS.values())
    for kind, name in KINDS.items():
        row = rows[name]
        assert set(re.findall(r"`(\w+)`", row[3])) - {"__date", "__year", "__month", "__day"} \
            == set(supported(kind)), kind
        fields = [f for f, k in Collection._fields.items() if k == kind]
        assert re.findall(r"`(\w+)`", row[1]) == fields, kind


def test_the_reference_pages_name_every_public_name() -> None:
    """Every name of ``__all__`` (package and testing kit) and every client resource class has
    its ``::: module.Name`` block on a reference page; an alias may be named in backticks."""
    text = "\n".join(p.read_text() for p in sorted((DOCS / "reference").glob("*.md")))
    blocks = set(re.findall(r"^::: ([\w.]+)$", text, re.M))
    missing = [n for n in dataforce_orm.__all__ if f"dataforce_orm.{n}" not in blocks
               and f"`{n}`" not in text]
    missing += [n for n in dataforce_orm.testing.__all__
                if f"dataforce_orm.testing.{n}" not in blocks]
    missing += [f"{c.__module__}.{c.__qualname__}" for c in facade_classes()
                if f"{c.__module__}.{c.__qualname__}" not in blocks]
    assert missing == []


def test_the_cli_page_shows_every_command() -> None:
    text = (DOCS / "cli.md").read_text()
    for group in _cli.GROUPS.values():
        for command in group.commands:
            assert f"dataforce-orm {group.name} {command}" in text


def test_every_page_is_in_the_nav() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text()
    for page in DOCS.rglob("*.md"):
        name = page.relative_to(DOCS).as_posix()
        assert re.search(rf"(: |- ){re.escape(name)}\n", nav), name
