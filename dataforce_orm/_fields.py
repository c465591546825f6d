"""Field declarations: each model field's facts stated once.

``field(kind, ...)`` declares an attrs field and records a ``Spec`` in its metadata: the
wire name, the lookup kind, whether it is sent on create and changeable by ``save()``, the
server's sort key, the client-side limits, whether it is a write-only secret, and its one-line
description (``doc=``). Validation, the wire mapping, snapshots, request bodies, lookups,
narrowing, repr and the reference's field tables are derived from these.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import attrs

from ._errors import ValidationError
from ._ids import as_uuid
from ._wire import converter, format_time, loading

SPEC = "dataforce_orm"  # the attrs metadata key
SURROGATE = "must be valid Unicode text (it holds a lone surrogate)"


def unsendable(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate: not valid Unicode, so it cannot be sent as
    UTF-8 (in a body or a URL), nor stored by the server."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class WireEnum(str, enum.Enum):
    """A wire enumeration: its members are their wire strings, and print as them."""

    def __str__(self) -> str:
        return str(self.value)


class SecretStr(str):
    """A write-only credential: a string whose repr never shows it (so a traceback rendering
    locals, a log of a request body's repr, or a model's repr cannot leak it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


def check_str(field: str, value: object, max_len: int | None = None, *,
              empty_ok: bool = True) -> str:
    """``value`` if it is a sendable string within ``max_len``; else a ValidationError."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, not {type(value).__name__}")
    if unsendable(value):
        raise ValidationError(field, SURROGATE)
    if max_len is not None and len(value) > max_len:
        raise ValidationError(field, f"must be at most {max_len} characters (got {len(value)})")
    if not empty_ok and not value:
        raise ValidationError(field, "must not be empty")
    return value


def check_tags(value: object, field: str = "tags", max_items: int | None = 50,
               max_len: int | None = 64) -> list[str] | None:
    """A list of sendable strings within the limits (None stays None)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError(field, f"must be a list of strings, not {type(value).__name__}")
    tags = list(value)
    if max_items is not None and len(tags) > max_items:
        raise ValidationError(field, f"must have at most {max_items} items (got {len(tags)})")
    for i, tag in enumerate(tags):
        check_str(f"{field}[{i}]", tag, max_len)
    return tags


def check_enum(field: str, enum_type: type[enum.Enum], value: object) -> Any:
    """``value`` as a member of ``enum_type``; a ValidationError lists the allowed values."""
    if value is None or isinstance(value, enum_type):
        return value
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum_type)
        raise ValidationError(field, f"must be one of {allowed}; got {value!r}") from None


class Kind(WireEnum):
    """A field's kind: which values it takes, how they are checked, and which lookups it has
    (each kind's lookups are registered under it in ``_lookups``). Equal to its name as text,
    so ``field("str")`` and ``Kind.STR`` are one kind, and a misspelt kind fails when the model
    is declared."""

    ID = "id"
    STR = "str"
    ENUM = "enum"
    TAGS = "tags"
    NUM = "num"
    TIME = "time"
    BOOL = "bool"
    DATE = "date"  # (a time field's ``__date`` part; no field is declared with it)
    JSON = "json"  # a structure kept as loaded: no lookups

    __hash__ = str.__hash__  # (found in dicts keyed by the plain text too)

    @classmethod
    def of(cls, kind: object) -> Kind:
        """``kind`` as a Kind; a TypeError naming the kinds otherwise."""
        try:
            return cls(kind)
        except ValueError:
            raise TypeError(f"unknown field kind {kind!r}; kinds: "
                            f"{', '.join(k.value for k in cls)}") from None


def _to_kind(value: object) -> Kind:
    return Kind.of(value)


@attrs.define(eq=False)
class Spec:
    """One field's facts. ``name`` is filled in when the model class is declared."""

    kind: Kind = attrs.field(converter=_to_kind)  # see Kind
    wire: str | None = None  # the wire name (default: the field name)
    create: bool = False  # sent when creating
    editable: bool = False  # changed by save() (and sent in an update)
    required: bool = False  # must be set to create
    sort: str | None = None  # the server's sort_by key, if it sorts by this field
    max_len: int | None = None  # str: characters; tags: characters per tag
    max_items: int | None = None  # tags: how many
    empty_ok: bool = True  # str: may be "" when sent
    nullable: bool = False  # a caller may set None
    enum: type[enum.Enum] | None = None  # enum: the values
    choices: tuple[str, ...] = ()  # str: the only values allowed
    secret: bool = False  # write-only: never returned by the server, never shown
    search: bool = False  # the server's ``search`` matches inside this field's wire text
    server_filter: str | None = None  # a list parameter narrowing on this field (``types``)
    server_values: frozenset[str] | None = None  # the values that parameter accepts
    mask: Callable[[Any], str] | None = None  # how repr shows the value
    shown: bool = True  # in the model's repr
    update_nonempty: bool = False  # str: may not be "" in an update
    doc: str = ""  # a one-line description for the reference and the command line's help
    name: str = ""

    @property
    def key(self) -> str:
        """The name on the wire."""
        return self.wire or self.name

    def check(self, value: Any) -> Any:
        """The value as a caller may set it (normalised), or a ValidationError naming the
        field and the rule."""
        if value is None and (self.nullable or self.kind in ("tags", "id")):
            return None
        kind = self.kind
        if kind == "str":
            text = check_str(self.name, value, self.max_len, empty_ok=self.empty_ok)
            if self.choices and text not in self.choices:
                raise ValidationError(self.name, f"must be one of {', '.join(self.choices)}; "
                                                 f"got {text!r}")
            return SecretStr(text) if self.secret else text
        if kind == "tags":
            return check_tags(value, self.name, self.max_items, self.max_len)
        if kind == "enum":
            assert self.enum is not None
            return check_enum(self.name, self.enum, value)
        if kind == "id":
            if isinstance(value, uuid.UUID):
                value = str(value)
            if hasattr(value, "pk") and not isinstance(value, str):  # another model object
                if value.pk is None:
                    raise ValidationError(self.name, f"the {type(value).__name__} given is not "
                                                     "saved yet; save() it first")
                value = value.pk
            canon = as_uuid(value) if isinstance(value, str) else None
            if canon is None:
                raise ValidationError(self.name, f"must be a UUID string, got {value!r}")
            return canon
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValidationError(self.name, f"must be True or False, not "
                                                 f"{type(value).__name__}")
            return value
        return value

    def convert(self, value: Any) -> Any:
        """The attrs converter: checks what a caller sets; takes the server's data as it is."""
        return value if loading.get() else self.check(value)

    def to_wire(self, value: Any) -> Any:
        """The value as sent (enums as their value, lists copied; a secret stays a SecretStr,
        which JSON encodes as its text while any repr of the body hides it)."""
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, list):
            return list(value)
        return value

    def show(self, value: Any) -> str:
        """The value as repr shows it."""
        if value is None:
            return "None"
        if self.secret:
            return "'***'"
        if self.mask is not None:
            return repr(self.mask(value))
        if isinstance(value, datetime):
            return repr(format_time(value))
        return repr(self.to_wire(value))


def field(kind: Kind | str, *, default: Any = None, factory: Callable[[], Any] | None = None,
          checked: bool | None = None, **facts: Any) -> Any:
    """Declare a model field of lookup ``kind`` (see ``Spec`` for ``facts``).

    Fields a caller writes (``create``/``editable``/``id``) are checked when set; fields only
    the server fills are taken as loaded.
    """
    spec = Spec(kind, **facts)
    if spec.enum is not None:
        converter.register_structure_hook(spec.enum, _load_enum)
    if checked is None:
        checked = spec.create or spec.editable or kind == "id"
    extra: dict[str, Any] = {"factory": factory} if factory is not None else {"default": default}
    if spec.secret:
        extra["on_setattr"] = [attrs.setters.convert, _mark_held]
    if kind == "tags":
        extra["on_setattr"] = [attrs.setters.convert, _set_tags]
    return attrs.field(converter=spec.convert if checked else None, metadata={SPEC: spec},
                       **extra)


def _load_enum(value: Any, enum_type: type[enum.Enum]) -> Any:
    """A wire enum value; one newer than this library is kept as the server's string."""
    try:
        return enum_type(value)
    except ValueError:
        if isinstance(value, str):
            return value
        raise TypeError(f"expected one of {enum_type.__name__}, got {value!r}") from None


def _mark_held(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> Any:
    """on_setattr of a write-only field: the object now holds that value (see WriteOnly)."""
    instance._hold(attribute.name)
    return value


def _set_tags(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> Any:
    """on_setattr of a tags field: None reads as an (appendable) empty list that is sent as
    null; any list set by the caller is sent as it is (see Model._local)."""
    null = set(instance._wire_null or ())
    if value is None:
        null.add(attribute.name)
        value = []
    else:
        null.discard(attribute.name)
    object.__setattr__(instance, "_wire_null", null or None)
    return value


def specs(cls: type) -> dict[str, Spec]:
    """The declared fields of a model class, by name, in declaration order (names bound)."""
    out: dict[str, Spec] = {}
    for a in attrs.fields(cls):
        spec = a.metadata.get(SPEC)
        if spec is not None:
            spec.name = a.name
            out[a.name] = spec
    return out
