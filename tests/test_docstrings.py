"""The API reference is complete: every public class, method and property of the public names
has a docstring, every model field a one-line description (``doc=``), and no docstring holds
a reST role (the reference renders Markdown, where it would show literally)."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

import dataforce_orm
import dataforce_orm.testing
from dataforce_orm._model import MODELS

ROOT = Path(__file__).resolve().parent.parent
ROLE = re.compile(r":(class|meth|func|attr|mod|exc|data|obj):`")


def facade_classes() -> list[type]:
    """The clients' resource classes (``dfs.collections``, ...), found on the clients
    themselves, so a resource attached to them is covered without a list to keep."""
    found: list[type] = []
    for client in (dataforce_orm.DataForceClient(base_url="http://127.0.0.1:9", api_key="k"),
                   dataforce_orm.AsyncDataForceClient(base_url="http://127.0.0.1:9",
                                                      api_key="k")):
        found += [type(v) for n, v in vars(client).items() if not n.startswith("_")
                  and type(v).__module__.startswith("dataforce_orm.")]
    return found


def public_objects() -> list[object]:
    """Everything in ``__all__`` of the package and of its testing kit."""
    return [getattr(dataforce_orm, n) for n in dataforce_orm.__all__] + \
        [getattr(dataforce_orm.testing, n) for n in dataforce_orm.testing.__all__]


def public_classes() -> list[type]:
    return [c for c in public_objects() if inspect.isclass(c)] + facade_classes()


def _members(cls: type) -> list[tuple[str, object]]:
    """The public methods and properties ``cls`` defines itself."""
    out = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        target = member.fget if isinstance(member, property) else member
        if isinstance(target, (staticmethod, classmethod)):
            target = target.__func__
        if inspect.isfunction(target):
            out.append((name, target))
    return out


def undocumented() -> list[str]:
    missing = [f"{f.__module__}.{f.__name__}" for f in public_objects()
               if inspect.isfunction(f) and not (f.__doc__ or "").strip()]
    for cls in public_classes():
        if not (cls.__doc__ or "").strip():
            missing.append(cls.__qualname__)
        for name, _ in _members(cls):
            # (an override may keep the documented contract of the method it overrides)
            if not inspect.getdoc(getattr(cls, name)):
                missing.append(f"{cls.__qualname__}.{name}")
    return missing


def package_models() -> list[type[Any]]:
    """The package's declared models (not the ones tests declare for themselves)."""
    return [m for m in MODELS.values() if m.__module__.startswith("dataforce_orm.")]


def fields_without_doc(models: list[type[Any]] | None = None) -> list[str]:
    """Every model attribute a caller reads must be a ``field(..., doc=...)`` declaration (or,
    for one the field kinds do not cover, an attrs field with a ``doc`` in its metadata)."""
    missing = []
    for model in package_models() if models is None else models:
        for a in attrs.fields(model):
            doc = model._specs[a.name].doc if a.name in model._specs else a.metadata.get("doc")
            if a.init and not a.name.startswith("_") and not (doc or "").strip():
                missing.append(f"{model.__name__}.{a.name}")
    return missing


def test_every_public_function_class_method_and_property_has_a_docstring() -> None:
    assert undocumented() == []


def test_every_field_of_every_model_has_a_one_line_description() -> None:
    assert {"Collection", "Organization", "Orbit", "BucketSecret", "Artifact"} <= set(MODELS)
    assert fields_without_doc() == []
    long = [f"{m.__name__}.{n}" for m in package_models() for n, s in m._specs.items()
            if "\n" in s.doc or len(s.doc) > 120]
    assert long == []


def test_the_checks_find_what_is_missing() -> None:
    """The two checks above see a missing docstring and a field declared without doc=."""
    from dataforce_orm._fields import field
    from dataforce_orm._resource import Model

    @attrs.define(slots=True, eq=False, repr=False)
    class Probe(Model):
        """A model declared for this test only."""

        _path = "/v1/probes"
        id: str | None = field("id", doc="Its id.")
        size: int = field("num", default=0)
        extra: dict[str, object] | None = None

    try:
        assert fields_without_doc([Probe]) == ["Probe.size", "Probe.extra"]
    finally:
        del MODELS["Probe"]

    class Bare:
        def call(self) -> None:
            pass

    assert [n for n, _ in _members(Bare)] == ["call"]
    assert not inspect.getdoc(Bare.call)


def test_no_docstring_holds_a_rest_role() -> None:
    found = []
    for path in sorted((ROOT / "dataforce_orm").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if ROLE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}")
    assert found == []


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_field_table_is_derived_from_the_declarations() -> None:
    table = _load("reference_fields").field_table(dataforce_orm.Collection)
    rows = {r.split("|")[1].strip(" `"): [c.strip() for c in r.split("|")[1:-1]]
            for r in table.splitlines()[2:]}
    assert list(rows) == list(dataforce_orm.Collection._specs)
    _, kind, wire, create, edit, doc = rows["collection_type"]
    assert (kind, wire, create, edit) == ("<code>CollectionType &#124; None</code>", "`type`",
                                          "required", "")
    assert doc == dataforce_orm.Collection._specs["collection_type"].doc
    assert rows["name"][3:5] == ["yes", "yes"] and rows["id"][3:5] == ["", ""]
    secret = _load("reference_fields").field_table(dataforce_orm.BucketSecret)
    assert "write-only" in next(r for r in secret.splitlines() if r.startswith("| `secret_key`"))


def test_the_command_page_lists_every_command_and_option() -> None:
    from dataforce_orm import _cli

    page = _load("reference_cli").commands_page()
    for group in _cli.GROUPS.values():
        for command in group.commands.values():
            assert f"### `dataforce-orm {group.name} {command.name}`" in page
            assert command.help in page
            for argument in command.arguments:
                label = ", ".join(n for n in argument.names if n.startswith("-")) \
                    or argument.options.get("metavar", argument.names[0])
                assert f"| `{label}` |" in page, (group.name, command.name, label)
    for command in _cli.COMMANDS:
        assert f"### `dataforce-orm {command}`" in page
