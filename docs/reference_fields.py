"""A griffe extension for the API reference: each model's fields as one table under the
model's heading, derived from their declarations (``field(..., doc=...)``), and each
enumeration's values as one list.

Every declared model is found at run time (``dataforce_orm._model.MODELS``), so a new model
gets its table from its ``::: dataforce_orm.Name`` line alone.
"""

from __future__ import annotations

import enum
import importlib
import re
from typing import Any

import attrs
import griffe

from dataforce_orm._model import MODELS, ModelBase


def _cell(text: str) -> str:
    return text.replace("|", "&#124;")


def _type_text(annotation: object) -> str:
    """An annotation as written (attrs holds the text, or the type once resolved)."""
    if isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"\b(\w+\.)+", "", str(annotation))


def field_table(model: type[ModelBase]) -> str:
    """The Markdown table of a model's fields: name, type, wire name where it differs, whether
    a create sends it and ``save()`` changes it, and the description."""
    rows = ["| Field | Type | Wire name | Create | Edit | Description |",
            "|---|---|---|---|---|---|"]
    types = {a.name: a.type for a in attrs.fields(model)}
    for name, spec in model._specs.items():
        kind = _type_text(types[name])
        wire = f"`{spec.key}`" if spec.key != name else ""
        create = "required" if spec.required else "yes" if spec.create else ""
        notes = " Write-only." if spec.secret and "write-only" not in spec.doc else ""
        rows.append(f"| `{name}` | <code>{_cell(str(kind))}</code> | {wire} | {create} | "
                    f"{'yes' if spec.editable else ''} | {_cell(spec.doc)}{notes} |")
    for a in attrs.fields(model):  # declared beside the field kinds, with a doc of its own
        if a.name not in model._specs and a.metadata.get("doc"):
            rows.append(f"| `{a.name}` | <code>{_cell(_type_text(a.type))}</code> |  | | | "
                        f"{_cell(a.metadata['doc'])} |")
    return "\n".join(rows)


def value_list(enum_type: type[enum.Enum]) -> str:
    """The Markdown list of an enumeration's members and their wire values."""
    return ", ".join(f"`{m.name}` (`{m.value!r}`)" for m in enum_type)


class ModelFields(griffe.Extension):
    """Puts a model's field table (an enumeration's values) in its docstring and leaves the
    fields (the members) out of its members: the table lists them."""

    def on_class(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        """A declared model's or an enumeration's class: its docstring gains the table."""
        try:
            runtime = getattr(importlib.import_module(cls.module.path), cls.name, None)
        except ImportError:
            return
        if cls.name in MODELS and MODELS[cls.name] is runtime:
            model = MODELS[cls.name]
            self._add(cls, f"**Fields**\n\n{field_table(model)}",
                      [a.name for a in attrs.fields(model)])
        elif isinstance(runtime, type) and issubclass(runtime, enum.Enum):
            self._add(cls, f"**Values**: {value_list(runtime)}.", runtime.__members__)

    @staticmethod
    def _add(cls: griffe.Class, text: str, names: Any) -> None:
        doc = cls.docstring.value if cls.docstring else ""
        cls.docstring = griffe.Docstring(f"{doc}\n\n{text}", parent=cls)
        for name in names:
            if name in cls.members:
                del cls.members[name]
