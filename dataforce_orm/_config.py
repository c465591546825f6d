"""Profiles: the configuration file, the stored API keys, and where each setting comes from.

Each setting is taken from the first place that has it: the argument (``Session(...)`` or the
command line), the environment (``DFS_*``, then ``LUML_*``), the profile, the default.

The configuration file (``config.ini`` in the user's configuration directory, or
``DFS_CONFIG_FILE``) holds named profiles::

    [default]
    base_url = https://api.luml.ai
    organization = Acme
    orbit = Research

    [lan]
    base_url = http://10.0.0.5:8000
    allow_insecure_http = true

The profile is the one named by the argument, else ``DFS_PROFILE``, else ``default`` (which
may be absent). The keys ``dataforce-orm login`` stores live beside it in ``credentials``
(readable by the user only), one section per profile.
"""

from __future__ import annotations

import configparser
import logging
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from ._errors import ConfigurationError

__all__ = ["PROFILE_KEYS", "Settings", "config_path", "credentials_path", "forget_key",
           "profile_name", "profile_names", "resolve", "store_key", "write_profile"]

log = logging.getLogger("dataforce_orm")

DEFAULT_PROFILE = "default"
# What a profile may set (the API key is not one: it goes in the credentials file).
PROFILE_KEYS = ("base_url", "organization", "orbit", "collection", "allow_insecure_http")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def env(name: str) -> str | None:
    """``DFS_<name>``, else ``LUML_<name>``, else None (an empty value counts as unset)."""
    return os.environ.get(f"DFS_{name}") or os.environ.get(f"LUML_{name}") or None


def config_path() -> Path:
    """The configuration file: ``DFS_CONFIG_FILE``, else ``dataforce-orm/config.ini`` in the
    user's configuration directory (``%APPDATA%`` on Windows, else ``$XDG_CONFIG_HOME`` or
    ``~/.config``)."""
    given = os.environ.get("DFS_CONFIG_FILE")
    if given:
        return Path(given).expanduser()
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "dataforce-orm" / "config.ini"


def credentials_path() -> Path:
    """The stored keys: ``credentials`` beside the configuration file."""
    return config_path().with_name("credentials")


def _read(path: Path) -> configparser.ConfigParser:
    # (no section is special: a [DEFAULT] would otherwise leak its values into every profile)
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    try:
        with path.open(encoding="utf-8") as f:
            parser.read_file(f)
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigurationError(f"cannot read {path}: {_one_line(reason)}") from None
    return parser


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _flag(value: str, where: str) -> bool:
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ConfigurationError(f"{where}: must be true or false (1/0, yes/no, on/off), "
                             f"got {value!r}")


def profile_name(profile: str | None = None) -> str:
    """The profile meant: ``profile``, else ``DFS_PROFILE``, else ``default``."""
    return profile or os.environ.get("DFS_PROFILE") or DEFAULT_PROFILE


def profile_names() -> list[str]:
    """The profiles the configuration and credentials files name."""
    names = [*_read(config_path()).sections(), *_read(credentials_path()).sections()]
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Settings:
    """The settings a session is made with, and where its API key came from."""

    api_key: str | None
    key_source: str  # "argument", "DFS_API_KEY", "profile 'x' (path)", or "" (no key)
    base_url: str | None
    organization: str | None
    orbit: str | None
    collection: str | None
    allow_insecure_http: bool
    profile: str | None  # the profile used (None: none was named and "default" is absent)


def resolve(*, api_key: str | None = None, base_url: str | None = None,
            organization: str | None = None, orbit: str | None = None,
            collection: str | None = None, allow_insecure_http: bool | None = None,
            profile: str | None = None, must_exist: bool = True) -> Settings:
    """Each setting from the argument, else the environment, else the profile (``base_url``
    None: the caller's default). A profile named by the argument or ``DFS_PROFILE`` must
    exist (unless not ``must_exist``); ``default`` may be absent."""
    named = profile or os.environ.get("DFS_PROFILE") or None
    name = profile_name(profile)
    path, cred_path = config_path(), credentials_path()
    config, creds = _read(path), _read(cred_path)
    exists = config.has_section(name) or creds.has_section(name)
    if must_exist and named is not None and not exists:
        known = ", ".join(map(repr, profile_names())) or "none"
        raise ConfigurationError(f"profile {name!r} is not in {path} (profiles: {known}); "
                                 "create it with dataforce-orm --profile NAME login")
    values = dict(config.items(name)) if config.has_section(name) else {}
    for setting in values:
        if setting not in PROFILE_KEYS:
            raise ConfigurationError(f"{path}: profile {name!r} has an unknown setting "
                                     f"{setting!r} (known: {', '.join(PROFILE_KEYS)})")
    used = name if exists else None

    def pick(arg: str | None, var: str) -> str | None:
        return arg or env(var.upper()) or values.get(var) or None

    insecure = allow_insecure_http
    if insecure is None:
        raw = os.environ.get("DFS_ALLOW_INSECURE_HTTP")
        if raw is not None:
            insecure = _flag(raw, "DFS_ALLOW_INSECURE_HTTP")
        elif "allow_insecure_http" in values:
            insecure = _flag(values["allow_insecure_http"],
                             f"{path}: profile {name!r}: allow_insecure_http")
    key: str | None = api_key
    source = "argument"
    if not key:
        for var in ("DFS_API_KEY", "LUML_API_KEY"):
            if os.environ.get(var):
                key, source = os.environ[var], var
                break
    if not key and creds.has_section(name) and creds[name].get("api_key"):
        _warn_if_shared(cred_path)
        key, source = creds[name]["api_key"], f"profile {name!r} ({cred_path})"
    return Settings(key or None, source if key else "", pick(base_url, "base_url"),
                    pick(organization, "organization"), pick(orbit, "orbit"),
                    pick(collection, "collection"), bool(insecure), used)


def _warn_if_shared(path: Path) -> None:
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s holds API keys and is readable by other users: chmod 600 %s",
                    path, path)


def _write(path: Path, parser: configparser.ConfigParser, private: bool) -> None:
    """Replace ``path`` with ``parser``'s text in one rename (0600 if ``private``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            parser.write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def store_key(profile: str, key: str) -> Path:
    """Store ``key`` for ``profile`` in the credentials file (0600); returns its path."""
    path = credentials_path()
    creds = _read(path)
    if not creds.has_section(profile):
        creds.add_section(profile)
    creds.set(profile, "api_key", key)
    _write(path, creds, private=True)
    return path


def forget_key(profile: str) -> bool:
    """Remove the key stored for ``profile``; False if there was none."""
    path = credentials_path()
    creds = _read(path)
    if not creds.remove_section(profile):
        return False
    _write(path, creds, private=True)
    return True


def write_profile(profile: str, settings: dict[str, str]) -> Path:
    """Set ``settings`` (keys from PROFILE_KEYS) in ``profile`` of the configuration file,
    creating either as needed (the file's comments are not kept); returns its path."""
    path = config_path()
    config = _read(path)
    if not config.has_section(profile):
        config.add_section(profile)
    for key, value in settings.items():
        config.set(profile, key, value)
    _write(path, config, private=False)
    return path
