"""Fields the platform sets at create and never changes: a change to one is refused at
``save()``, before any request, instead of being dropped silently by the server's PATCH."""

from __future__ import annotations

import copy
import enum
from collections.abc import Iterable
from typing import Any, ClassVar

from ._errors import ValidationError
from ._protocol import Op
from ._resource import Model
from ._session import Session


def _wire(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


class CreateOnly(Model):
    """A strategy a declaration picks: ``_create_only`` maps each field the platform cannot
    change after create to the reason; ``changed_fields()`` reports a change to one, and
    ``save()`` raises a ValidationError naming it."""

    __slots__ = ()
    _create_only: ClassVar[dict[str, str]] = {}

    @classmethod
    def _snapshot_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        snap = super()._snapshot_of(data)
        for name in cls._create_only:
            key = cls._wire_names.get(name, name)
            if key in data:
                snap[f"={name}"] = copy.deepcopy(data[key])
        return snap

    def _fixed_changes(self) -> list[str]:
        snap = self._snapshot or {}
        return [n for n in self._create_only
                if f"={n}" in snap and _wire(getattr(self, n)) != snap[f"={n}"]]

    def changed_fields(self) -> list[str]:
        """Editable fields whose value differs from what was last loaded or saved, and the
        fields fixed at create that were changed (``save()`` refuses those)."""
        return [*super().changed_fields(), *self._fixed_changes()]

    def _save_op(self, session: Session, force: bool,
                 update_fields: Iterable[str] | None) -> Op[None]:
        fixed = self._fixed_changes()
        if fixed:
            raise ValidationError(fixed[0], self._create_only[fixed[0]])
        yield from super()._save_op(session, force, update_fields)


_FILE = "describes the stored file, which the platform cannot change after create"
ARTIFACT_CREATE_ONLY = {
    "extra_values": "the metrics are set at create (upload(..., extra_values=...)); the "
                    "platform ignores a change after it: upload a new artifact",
    "type": "is decided by the platform from the archive's manifest at create and cannot "
            "change after it",
    "manifest": "is read from the archive at create; the platform cannot change it after",
    "file_name": _FILE, "size": _FILE, "file_hash": _FILE, "file_index": _FILE,
}
