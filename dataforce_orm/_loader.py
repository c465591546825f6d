"""The per-class loader: one compiled function that builds a model object from a wire object,
setting its attributes directly.

A slotted model's object is built as its twin (a subclass of it adding nothing but object's own
``__setattr__``, so each attribute is set by a plain store, not through the model's checks)
and given its real class once every attribute is set: the twin's objects never leave the
loader.

What a server sends is type-checked by the wire converter's hooks (``_wire``), field by field,
as cattrs would; it never goes through the checks that guard what a caller sets (they stand
aside while loading anyway), nor through ``__init__``. The change-tracking snapshot is not
taken here: the object keeps the wire object it was loaded from (``_wire``) and takes its
snapshot from it when first asked (see ``ModelBase._snapshot``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from types import MemberDescriptorType, NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import attrs

from ._wire import converter, utc_time

_MISSING = object()
_PLAIN = (str, int, bool)  # types whose wire value is taken as it is when its class is exact


def compile_loader(cls: type[Any]) -> Callable[[Any, Any], Any]:
    """``load(data, session)``: a ``cls`` object from the wire dict ``data`` (renames from
    ``cls._wire_names``; tags fields in ``cls._tags_fields`` read null as ``[]``, recorded in
    ``_wire_null``); ``_session`` is ``session`` and ``_wire`` is ``data``. A wrong type
    raises the hook's TypeError, a missing field without a default a KeyError."""
    attrs.resolve_types(cls)
    twin = _twin(cls)
    ns: dict[str, Any] = {"cls": cls, "new": (twin or cls).__new__, "twin": twin or cls,
                          "MISSING": _MISSING}
    body = ["def load(data, session):", "    obj = new(twin)", "    get = data.get",
            "    null = None"]
    late = {"_session": "session", "_wire": "data", "_wire_null": "null"}
    private: list[str] = []
    names = [a.name for a in attrs.fields(cls)]
    for i, a in enumerate(attrs.fields(cls)):
        if twin is None:
            ns[f"s{i}"] = _setter(cls, a.name)
        store = f"    obj.{a.name} = {{}}" if twin else f"    s{i}(obj, {{}})"
        if not a.init:
            if a.name not in late:
                ns[f"d{i}"] = _default(a)
                private.append(store.format(f"d{i}"))
            continue
        key = cls._wire_names.get(a.name, a.name)
        body.append(f"    v = get({key!r}, MISSING)")
        body.append("    if v is MISSING:")
        if a.default is attrs.NOTHING:
            body.append(f"        raise KeyError({key!r})")
        elif isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
            ns[f"f{i}"] = a.default.factory
            body.append(f"        v = f{i}()")
        else:
            ns[f"d{i}"] = a.default
            body.append(f"        v = d{i}")
        body.extend(_check(a.type, i, ns))
        if a.name in cls._tags_fields:
            body += ["    if v is None:", "        v = []",
                     "        null = null or set()", f"        null.add({a.name!r})"]
        body.append(store.format("v"))
    body += private
    body += [(f"    obj.{n} = {v}" if twin else f"    s{names.index(n)}(obj, {v})")
             for n, v in late.items()]
    if twin:
        body.append("    obj.__class__ = cls")
    body.append("    return obj")
    exec(compile("\n".join(body), f"<dataforce_orm loader {cls.__qualname__}>", "exec"), ns)
    load: Callable[[Any, Any], Any] = ns["load"]
    return load


def _twin(cls: type[Any]) -> type[Any] | None:
    """``cls``'s loading twin (see above), or None unless every field of ``cls`` is a plain
    slot (what a store on the twin then sets) and no class above it but the library's own
    has an ``__init_subclass__`` (which would take the twin for a new model)."""
    for a in attrs.fields(cls):
        found = next((k.__dict__[a.name] for k in cls.__mro__ if a.name in k.__dict__), None)
        if not isinstance(found, MemberDescriptorType):
            return None
    if any("__init_subclass__" in k.__dict__ and not k.__module__.startswith("dataforce_orm.")
           for k in cls.__mro__[:-1]):
        return None
    # (its own errors are the model's: the library's hook then makes none for the twin)
    return type(cls.__name__, (cls,), {
        "__slots__": (), "__setattr__": object.__setattr__, "__module__": cls.__module__,
        "__qualname__": f"{cls.__qualname__} (loading)", "DoesNotExist": cls.DoesNotExist,
        "MultipleObjectsReturned": cls.MultipleObjectsReturned})


def _setter(cls: type[Any], name: str) -> Callable[[Any, Any], None]:
    """What sets attribute ``name`` of a ``cls`` object, bypassing ``__setattr__``: its slot's
    own setter (or ``object.__setattr__`` for a class without slots)."""
    for klass in cls.__mro__:
        slot = klass.__dict__.get(name)
        if isinstance(slot, MemberDescriptorType):
            set_slot: Callable[[Any, Any], None] = slot.__set__
            return set_slot
    return lambda obj, value: object.__setattr__(obj, name, value)


def _default(a: attrs.Attribute[Any]) -> Any:
    if isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
        raise TypeError(f"{a.name}: a private field with a factory default is not loadable")
    return a.default


def _check(t: Any, i: int, ns: dict[str, Any]) -> list[str]:
    """The lines that check (and convert) a present value ``v`` of type ``t``: by the
    converter's hook for ``t`` (for ``X | None``, X's hook on a value that is not None),
    skipped for a value of exactly a plain type, an enum's own values looked up."""
    optional = get_origin(t) in (Union, UnionType) and len(get_args(t)) == 2 \
        and NoneType in get_args(t)
    inner = next(a for a in get_args(t) if a is not NoneType) if optional else t
    ns[f"t{i}"], ns[f"h{i}"] = inner, converter.get_structure_hook(inner)
    convert = f"h{i}(v, t{i})"
    tests = ["v is not None"] if optional else []
    if inner in _PLAIN:
        tests.append(f"v.__class__ is not t{i}")
    elif isinstance(inner, type) and issubclass(inner, enum.Enum):
        ns[f"e{i}"] = {m.value: m for m in inner}
        convert = f"e{i}[v] if v.__class__ is str and v in e{i} else {convert}"
    elif inner is datetime:  # the wire's usual form, UTC with a Z suffix
        ns["utc_time"] = utc_time
        convert = f"utc_time(v) if v.__class__ is str and v[-1:] == 'Z' else {convert}"
    head = f"    elif {' and '.join(tests)}:" if tests else "    else:"
    return [head, f"        v = {convert}"]
