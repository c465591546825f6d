"""Platform ids: recognising a UUID, and the check every id passes before it joins a path."""

from __future__ import annotations

import re
import uuid

from ._errors import DataForceError

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def as_uuid(value: str) -> str | None:
    """The canonical form of ``value`` if it is a UUID, else None."""
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return value  # already canonical (as ids from the server are): no parse needed
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None


def path_id(value: object, what: str) -> str:
    """``value`` if it is an id that may become a path segment (the platform's ids are
    UUIDs); else a DataForceError naming ``what`` (so an id a server sent, such as
    ``"../x"``, can never send a request to another route)."""
    if not isinstance(value, str) or as_uuid(value) is None:
        raise DataForceError(f"the {what} id {value!r} is not a UUID: refusing to put it in a "
                             "request path")
    return value
