"""Where a download goes: an explicit directory (made with its parents) or file path, or a
plain target read by the rule (an existing directory, or text ending in a separator, is a
directory; anything else the file's path); the stored name checked before it becomes a file
name. Every file-system problem is a DataForceError naming the path."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from ._errors import DataForceError, ValidationError

PathArg = str | os.PathLike[str]
# A name's longest length in bytes: most file systems allow 255, and ".part" is added while
# the download is under way.
MAX_NAME_BYTES = 250


@dataclass(frozen=True)
class Target:
    """What a caller asked for: a plain ``given`` target, a ``directory`` or a ``path``."""

    given: PathArg | None = None
    directory: PathArg | None = None
    path: PathArg | None = None

    def __post_init__(self) -> None:
        named = [n for n in ("given", "directory", "path") if getattr(self, n) is not None]
        if len(named) > 1:
            shown = ["a target" if n == "given" else f"{n}=" for n in named]
            raise ValidationError("path", f"give one of {' and '.join(shown)}, not both")

    def resolve(self, stored: object, ident: str) -> Path:
        """The file to write, its directory made or checked."""
        if self.directory is not None:
            return _make_dir(Path(self.directory)) / _name(stored, ident)
        if self.path is not None:
            return _file(Path(self.path), "path")
        given = self.given
        if given is None:
            return Path(".") / _name(stored, ident)
        text = os.fspath(given)
        if text.endswith(("/", os.sep)):
            return _make_dir(Path(text)) / _name(stored, ident)
        if Path(text).is_dir():
            return Path(text) / _name(stored, ident)
        return _file(Path(text), "path")


def as_target(value: Target | PathArg | None) -> Target:
    """A caller's target: as given, or a plain path read by the rule."""
    return value if isinstance(value, Target) else Target(given=value)


def _make_dir(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DataForceError(f"cannot download into {str(directory)!r}: it is a file, not a "
                             "directory") from None
    except OSError as exc:
        raise DataForceError(f"cannot make the directory {str(exc.filename or directory)!r}: "
                             f"{exc.strerror or exc}") from None
    return directory


def _file(target: Path, field: str) -> Path:
    if target.is_dir():
        raise DataForceError(f"cannot download to {str(target)!r}: it is a directory (pass "
                             "directory= to download into it)")
    if not target.parent.is_dir():
        raise ValidationError(field, f"no such directory: {str(target.parent)!r}")
    return target


def _name(stored: object, ident: str) -> str:
    """The stored name reduced to its last component, so it cannot escape the directory (the
    artifact's id, reduced the same way, when there is no name)."""
    return safe_name(stored) or safe_name(f"{ident}.luml") or "artifact.luml"


def safe_name(stored: object) -> str | None:
    """A server-supplied name as a file name inside a directory: its last component, or None
    if nothing usable is left. A name with a control character (a NUL, a newline) or longer
    than a file system allows is a ValidationError saying to pass a file path."""
    if not isinstance(stored, str):
        return None
    base = posixpath.basename(stored.replace("\\", "/"))
    if base in ("", ".", ".."):
        return None
    bad = next((ch for ch in base if ord(ch) < 0x20 or ord(ch) == 0x7F), None)
    if bad is not None:
        raise ValidationError("file_name", f"the stored name {stored[:80]!r} holds the "
                                           f"control character {bad!r}, which cannot be in a "
                                           "file name; pass download() a file path")
    if len(base.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ValidationError("file_name", f"the stored name {stored[:80]!r}... is longer "
                                           f"than {MAX_NAME_BYTES} bytes, too long for a file "
                                           "name; pass download() a file path")
    return base


def file_error(exc: OSError, target: Path) -> DataForceError:
    """A file-system failure of a download as a DataForceError naming the path (a
    DataForceError is kept as it is)."""
    if isinstance(exc, DataForceError):
        return exc
    return DataForceError(f"cannot write the download to {str(exc.filename or target)!r}: "
                          f"{exc.strerror or exc}")
