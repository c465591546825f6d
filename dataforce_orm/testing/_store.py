"""SQLite storage for the local server: one connection, one lock, short transactions."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ._ids import new_api_key, new_id, now_iso
from ._validation import SECRET_FIELDS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, key_hash TEXT UNIQUE,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS organizations (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT);
CREATE TABLE IF NOT EXISTS org_members (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id), role TEXT NOT NULL,
    PRIMARY KEY (organization_id, user_id));
CREATE TABLE IF NOT EXISTS orbits (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL, bucket_secret_id TEXT NOT NULL, created_at TEXT NOT NULL,
    updated_at TEXT);
CREATE TABLE IF NOT EXISTS orbit_members (
    id TEXT PRIMARY KEY, orbit_id TEXT NOT NULL REFERENCES orbits(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id), role TEXT NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (orbit_id, user_id));
CREATE TABLE IF NOT EXISTS collections (
    id TEXT PRIMARY KEY, orbit_id TEXT NOT NULL REFERENCES orbits(id) ON DELETE CASCADE,
    name TEXT NOT NULL, description TEXT NOT NULL, type TEXT NOT NULL, tags TEXT,
    total_artifacts INTEGER NOT NULL DEFAULT 0,
    artifacts_tags TEXT NOT NULL DEFAULT '[]', artifacts_extra TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL, updated_at TEXT);
"""
_SECRETS_SCHEMA = """
CREATE TABLE IF NOT EXISTS bucket_secrets (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    type TEXT NOT NULL, endpoint TEXT NOT NULL, bucket_name TEXT NOT NULL,
    access_key TEXT, secret_key TEXT, session_token TEXT, secure INTEGER, region TEXT,
    cert_check INTEGER, created_at TEXT NOT NULL, updated_at TEXT,
    UNIQUE (endpoint, bucket_name, organization_id));
CREATE TABLE IF NOT EXISTS own_storage_secrets (
    bucket_secret_id TEXT PRIMARY KEY REFERENCES bucket_secrets(id) ON DELETE CASCADE,
    endpoint TEXT NOT NULL);
"""
# organizations' limits (column, default), added to older databases too
ORG_LIMITS = {"members": 3, "orbits": 1, "satellites": 2, "artifacts": 50}
SECRET_COLUMNS = (
    "id", "organization_id", "type", "endpoint", "bucket_name", "access_key", "secret_key",
    "session_token", "secure", "region", "cert_check", "created_at", "updated_at",
)
_SECRET_BOOLS = ("secure", "cert_check")
DEFAULT_SECRET = {
    "type": "s3",
    "endpoint": "127.0.0.1:9000",
    "bucket_name": "default-bucket",
    "region": "us-east-1",
    "secure": False,
    "access_key": "local-access-key",
    "secret_key": "local-secret-key",
}
SORT_COLUMNS = ("created_at", "name", "type", "description", "total_artifacts")
_INDEXES = "".join(
    f"CREATE INDEX IF NOT EXISTS ix_coll_{c} ON collections (orbit_id, {c}, id);\n"
    for c in SORT_COLUMNS
)
_COLLECTION_COLS = (
    "id, orbit_id, description, name, type, tags, total_artifacts, created_at, updated_at"
)


class NotNullError(Exception):
    """An update would write NULL into name or description."""


class DuplicateSecretError(Exception):
    """A bucket secret with this endpoint and bucket name exists in the organization."""


@dataclass(frozen=True)
class User:
    """A user and its API key (the key is only known when the user was just made)."""

    id: str
    api_key: str
    name: str = ""


def hash_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


def tags_text(tags: list[str] | None) -> str | None:
    """Tags as the database renders the JSONB array (``["prod", "Churn"]``)."""
    return None if tags is None else json.dumps(tags, ensure_ascii=False)


@functools.lru_cache(maxsize=256)
def _like_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _ilike(value: str | None, pattern: str) -> bool:
    return value is not None and _like_regex(pattern).fullmatch(value) is not None


def _row_to_collection(row: sqlite3.Row) -> dict[str, Any]:
    out = {k: row[k] for k in _COLLECTION_COLS.split(", ")}
    out["tags"] = None if row["tags"] is None else json.loads(row["tags"])
    return out


AZURE_REFUSED = frozenset(
    ("access_key", "secret_key", "session_token", "secure", "region", "cert_check")
)


def _secret_row(row: sqlite3.Row) -> dict[str, Any]:
    out = {k: row[k] for k in SECRET_COLUMNS}
    for k in _SECRET_BOOLS:
        out[k] = None if out[k] is None else bool(out[k])
    return out


def encode_cursor(values: list[Any]) -> str:
    """url-safe base64 (with padding) of the JSON array."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def _cursor_time(stored: str) -> str:
    return stored[:-1] + "+00:00"


def decode_cursor(cursor: str, sort_by: str, order: str, orbit_id: str) -> tuple[str, Any] | None:
    """(last id, last sort value) when the cursor is valid and bound to this query, else None."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        last_id, last_value, c_sort, c_order, c_orbit = values
        if (c_sort, c_order) != (sort_by, order) or str(_uuid(c_orbit)) != orbit_id:
            return None
        if sort_by == "total_artifacts":
            if not isinstance(last_value, int) or isinstance(last_value, bool):
                return None
        elif sort_by == "created_at":
            moment = datetime.fromisoformat(last_value).astimezone(timezone.utc)
            last_value = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        elif not isinstance(last_value, str):
            return None
        return str(_uuid(last_id)), last_value
    except (ValueError, TypeError, UnicodeError, AttributeError):
        return None


def _uuid(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(text)
    return str(uuid.UUID(hex=text))


class Store:
    """All state of a local server."""

    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.create_function("ilike", 2, _ilike, deterministic=True)
        self._conn.execute("PRAGMA foreign_keys = ON")
        if path:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.executescript(_SCHEMA + _INDEXES)
        self._conn.executescript(_SECRETS_SCHEMA)
        self._add_limit_columns()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A locked transaction, rolled back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, args).fetchone()
            return row

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def install(self, script: str, functions: dict[str, tuple[int, Any]] | None = None) -> None:
        """Add tables (an idempotent script) and SQL functions (name -> (arity, callable))."""
        with self._lock:
            for name, (arity, func) in (functions or {}).items():
                self._conn.create_function(name, arity, func, deterministic=True)
            self._conn.executescript(script)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    # -- users, organizations, orbits -------------------------------------------------------

    def defaults(self) -> dict[str, str]:
        """The default user, key, organization and orbit, made on first use."""
        with self.tx() as db:
            meta = {r["key"]: r["value"] for r in db.execute("SELECT key, value FROM meta")}
        if "orbit_id" in meta:
            if "bucket_secret_id" not in meta:  # a database made before bucket secrets
                meta["bucket_secret_id"] = self._upgrade_default_secret(meta["organization_id"])
            self.mark_own_storage(meta["bucket_secret_id"])  # older files have no mark
            return meta
        user = self.add_user("default")
        org = self.add_organization("Default Organization", owner=user.id)
        secret = self.add_bucket_secret(org, DEFAULT_SECRET, own_storage=True)
        orbit = self.add_orbit(org, "Default Orbit", secret)
        self.add_orbit_member(orbit, user.id, "admin")
        meta = {
            "user_id": user.id,
            "api_key": user.api_key,
            "organization_id": org,
            "orbit_id": orbit,
            "bucket_secret_id": secret,
        }
        with self.tx() as db:
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        return meta

    def add_user(self, name: str) -> User:
        """Make a user with a fresh API key."""
        user = User(new_id(), new_api_key(), name)
        with self.tx() as db:
            db.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
                (user.id, name, f"{name}@example.com", hash_key(user.api_key), now_iso()),
            )
        return user

    def user_for_key(self, key: str) -> str | None:
        """The user id an API key belongs to."""
        row = self._one("SELECT id FROM users WHERE key_hash = ?", hash_key(key))
        return None if row is None else str(row["id"])

    def add_organization(self, name: str, owner: str | None = None) -> str:
        """Make an organization; owner (a user id) becomes its owner."""
        org = new_id()
        with self.tx() as db:
            db.execute(
                "INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)",
                (org, name, now_iso()),
            )
            if owner is not None:
                db.execute("INSERT INTO org_members VALUES (?, ?, 'owner')", (org, owner))
        return org

    def add_orbit(
        self, organization_id: str, name: str, bucket_secret_id: str | None = None
    ) -> str:
        """Make an orbit (no limit, no members); the secret defaults to the organization's
        first one, made when it has none."""
        if bucket_secret_id is None:
            bucket_secret_id = self.first_bucket_secret(organization_id)
        orbit = new_id()
        with self.tx() as db:
            db.execute(
                "INSERT INTO orbits (id, organization_id, name, bucket_secret_id, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (orbit, organization_id, name, bucket_secret_id, now_iso()),
            )
        return orbit

    def add_member(self, organization_id: str, user_id: str, role: str) -> None:
        """Give a user a role in an organization (owner, admin, member)."""
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO org_members VALUES (?, ?, ?)",
                (organization_id, user_id, role),
            )

    def add_orbit_member(self, orbit_id: str, user_id: str, role: str) -> None:
        """Give a user a role in an orbit (admin, member)."""
        with self.tx() as db:
            db.execute(
                "INSERT INTO orbit_members VALUES (?, ?, ?, ?, ?) ON CONFLICT (orbit_id, user_id)"
                " DO UPDATE SET role = excluded.role",
                (new_id(), orbit_id, user_id, role, now_iso()),
            )

    def org_role(self, organization_id: str, user_id: str) -> str | None:
        """The user's role in the organization, if a member."""
        row = self._one(
            "SELECT role FROM org_members WHERE organization_id = ? AND user_id = ?",
            organization_id,
            user_id,
        )
        return None if row is None else str(row["role"])

    def orbit_access(
        self, organization_id: str, orbit_id: str, user_id: str
    ) -> tuple[bool, str | None]:
        """(orbit belongs to the organization, the user's orbit role)."""
        row = self._one(
            "SELECT o.organization_id = ? AS inside, m.role FROM orbits o LEFT JOIN orbit_members m"
            " ON m.orbit_id = o.id AND m.user_id = ? WHERE o.id = ?",
            organization_id,
            user_id,
            orbit_id,
        )
        if row is None:
            return False, None
        return bool(row["inside"]), row["role"]

    def organizations(self, user_id: str) -> list[dict[str, Any]]:
        """The organizations a user belongs to, with the user's role."""
        rows = self._all(
            "SELECT o.*, m.role FROM organizations o JOIN org_members m"
            " ON m.organization_id = o.id WHERE m.user_id = ? ORDER BY o.created_at, o.id",
            user_id,
        )
        return [dict(r) for r in rows]

    def orbits(
        self, organization_id: str, user_id: str, orbit_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Orbits of an organization with counters and the user's orbit role."""
        sql = (
            "SELECT o.id, o.name, o.organization_id, o.bucket_secret_id,"
            " (SELECT count(*) FROM orbit_members WHERE orbit_id = o.id) AS total_members,"
            " (SELECT count(*) FROM collections WHERE orbit_id = o.id) AS total_collections,"
            " (SELECT count(*) FROM satellites WHERE orbit_id = o.id) AS total_satellites,"
            " (SELECT coalesce(sum(total_artifacts), 0) FROM collections"
            "  WHERE orbit_id = o.id) AS total_artifacts,"
            " m.role, o.created_at, o.updated_at FROM orbits o LEFT JOIN orbit_members m"
            " ON m.orbit_id = o.id AND m.user_id = ? WHERE o.organization_id = ?"
        )
        args: list[Any] = [user_id, organization_id]
        if orbit_id is not None:
            sql += " AND o.id = ?"
            args.append(orbit_id)
        return [dict(r) for r in self._all(sql + " ORDER BY o.created_at, o.id", *args)]

    def orbit_members(self, orbit_id: str) -> list[dict[str, Any]]:
        """Members of an orbit with their user records, admins first."""
        rows = self._all(
            "SELECT m.id, m.orbit_id, m.role, m.created_at, u.id AS user_id, u.email, u.name,"
            " u.key_hash IS NOT NULL AS has_key"
            " FROM orbit_members m JOIN users u ON u.id = m.user_id WHERE m.orbit_id = ?"
            " ORDER BY m.role != 'admin', m.created_at, m.id",
            orbit_id,
        )
        return [
            {
                "id": r["id"],
                "orbit_id": r["orbit_id"],
                "role": r["role"],
                "user": {
                    "id": r["user_id"],
                    "email": r["email"],
                    "full_name": r["name"],
                    "disabled": False,
                    "photo": None,
                    "has_api_key": bool(r["has_key"]),
                },
                "created_at": r["created_at"],
                "updated_at": None,
            }
            for r in rows
        ]

    def collections_tags(self, orbit_id: str) -> list[str]:
        """Sorted union of the tags of an orbit's collections."""
        rows = self._all(
            "SELECT DISTINCT j.value FROM collections c, json_each(c.tags) j"
            " WHERE c.orbit_id = ? AND c.tags IS NOT NULL",
            orbit_id,
        )
        return sorted(str(r[0]) for r in rows)

    # -- organization limits ----------------------------------------------------------------

    def _add_limit_columns(self) -> None:
        with self._lock:
            have = {r["name"] for r in self._conn.execute("PRAGMA table_info(organizations)")}
            for name, default in ORG_LIMITS.items():
                if f"{name}_limit" not in have:
                    self._conn.execute(
                        f"ALTER TABLE organizations ADD COLUMN {name}_limit INTEGER NOT NULL"
                        f" DEFAULT {default}"
                    )

    def organization_limits(self, organization_id: str) -> dict[str, int] | None:
        """``{"members", "orbits", "satellites", "artifacts"}`` limits of an organization."""
        row = self._one(
            "SELECT members_limit, orbits_limit, satellites_limit, artifacts_limit"
            " FROM organizations WHERE id = ?",
            organization_id,
        )
        return None if row is None else {k: int(row[f"{k}_limit"]) for k in ORG_LIMITS}

    def set_organization_limits(self, organization_id: str, limits: dict[str, int]) -> None:
        """Set some limits (keys of ORG_LIMITS); KeyError for an unknown organization."""
        with self.tx() as db:
            for name, value in limits.items():
                if name not in ORG_LIMITS:
                    raise ValueError(name)
                cur = db.execute(
                    f"UPDATE organizations SET {name}_limit = ? WHERE id = ?",
                    (value, organization_id),
                )
                if cur.rowcount == 0:
                    raise KeyError(organization_id)

    # -- bucket secrets ---------------------------------------------------------------------

    def add_bucket_secret(
        self, organization_id: str, fields: dict[str, Any], own_storage: bool = False
    ) -> str:
        """Insert a secret from column values (unchecked); DuplicateSecretError when the
        organization has one with this endpoint and bucket name, KeyError for an unknown
        organization. own_storage marks it as served by the server's own storage (while its
        endpoint stays the one it has now)."""
        sid = new_id()
        values = {**fields, "id": sid, "organization_id": organization_id, "created_at": now_iso()}
        cols = [c for c in SECRET_COLUMNS if c in values]
        with self.tx() as db:
            try:
                db.execute(
                    f"INSERT INTO bucket_secrets ({', '.join(cols)})"
                    f" VALUES ({', '.join('?' * len(cols))})",
                    [values[c] for c in cols],
                )
            except sqlite3.IntegrityError as exc:
                if "UNIQUE" in str(exc):
                    raise DuplicateSecretError from exc
                if "FOREIGN KEY" in str(exc):
                    raise KeyError(organization_id) from exc
                raise
            if own_storage:
                db.execute(
                    "INSERT INTO own_storage_secrets VALUES (?, ?)", (sid, values["endpoint"])
                )
        return sid

    def mark_own_storage(self, secret_id: str) -> None:
        """Mark a secret (with its current endpoint) as served by the server's own storage."""
        with self.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO own_storage_secrets"
                " SELECT id, endpoint FROM bucket_secrets WHERE id = ?",
                (secret_id,),
            )

    def first_bucket_secret(self, organization_id: str) -> str:
        """The organization's oldest bucket secret, made (DEFAULT_SECRET) when it has none."""
        with self._lock:
            row = self._one(
                "SELECT id FROM bucket_secrets WHERE organization_id = ?"
                " ORDER BY created_at, id LIMIT 1",
                organization_id,
            )
            if row is not None:
                return str(row["id"])
            return self.add_bucket_secret(organization_id, DEFAULT_SECRET, own_storage=True)

    def _upgrade_default_secret(self, organization_id: str) -> str:
        """Give an older database's default organization a secret its orbits point at."""
        secret = self.first_bucket_secret(organization_id)
        with self.tx() as db:
            db.execute(
                "UPDATE orbits SET bucket_secret_id = ? WHERE organization_id = ?"
                " AND bucket_secret_id NOT IN (SELECT id FROM bucket_secrets)",
                (secret, organization_id),
            )
            db.execute("INSERT INTO meta VALUES ('bucket_secret_id', ?)", (secret,))
        return secret

    def bucket_secret_row(self, secret_id: str) -> dict[str, Any] | None:
        """A stored secret, keys included, by id alone."""
        row = self._one("SELECT * FROM bucket_secrets WHERE id = ?", secret_id)
        return None if row is None else _secret_row(row)

    def bucket_secrets(
        self, organization_id: str, secret_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored secrets of an organization (oldest first), each with ``orbits`` using it."""
        sql, args = "SELECT * FROM bucket_secrets WHERE organization_id = ?", [organization_id]
        if secret_id is not None:
            sql += " AND id = ?"
            args.append(secret_id)
        with self._lock:
            secrets = [_secret_row(r) for r in self._all(sql + " ORDER BY created_at, id", *args)]
            orbits = self._all(
                "SELECT id, name, created_at, updated_at, bucket_secret_id FROM orbits"
                " WHERE bucket_secret_id IN (SELECT id FROM bucket_secrets"
                " WHERE organization_id = ?) ORDER BY created_at, id",
                organization_id,
            )
        for secret in secrets:
            secret["orbits"] = [
                {k: o[k] for k in ("id", "name", "created_at", "updated_at")}
                for o in orbits
                if o["bucket_secret_id"] == secret["id"]
            ]
        return secrets

    def update_bucket_secret(
        self, organization_id: str, secret_id: str, values: dict[str, Any]
    ) -> tuple[str, Any]:
        """Write every field (omitted ones as NULL), as the platform does.

        ("missing", None), ("azure_fields", sorted S3-only fields sent to an Azure secret),
        ("conflict", None) for a duplicate or a NULL endpoint/bucket name, or
        ("updated", stored row).
        """
        with self.tx() as db:
            row = db.execute(
                "SELECT * FROM bucket_secrets WHERE id = ? AND organization_id = ?",
                (secret_id, organization_id),
            ).fetchone()
            if row is None:
                return "missing", None
            old = _secret_row(row)
            if old["type"] == "azure":
                refused = sorted(set(values) & AZURE_REFUSED)
                if refused:
                    return "azure_fields", refused
            new = {f: values.get(f) for f in SECRET_FIELDS}
            # keys are re-encrypted on every write, so sending one always counts as a change
            keys_sent = any(new[k] is not None for k in ("access_key", "secret_key",
                                                         "session_token"))
            if keys_sent or any(new[f] != old[f] for f in SECRET_FIELDS):
                new["updated_at"] = now_iso()
                try:
                    db.execute(
                        f"UPDATE bucket_secrets SET {', '.join(f'{f} = ?' for f in new)}"
                        " WHERE id = ?",
                        [*new.values(), secret_id],
                    )
                except sqlite3.IntegrityError:
                    return "conflict", None
                row = db.execute(
                    "SELECT * FROM bucket_secrets WHERE id = ?", (secret_id,)
                ).fetchone()
        return "updated", _secret_row(row)

    def delete_bucket_secret(self, organization_id: str, secret_id: str) -> str:
        """'deleted', 'missing' or 'in_use' (an orbit uses it)."""
        with self.tx() as db:
            row = db.execute(
                "SELECT id FROM bucket_secrets WHERE id = ? AND organization_id = ?",
                (secret_id, organization_id),
            ).fetchone()
            if row is None:
                return "missing"
            used = db.execute(
                "SELECT 1 FROM orbits WHERE bucket_secret_id = ? LIMIT 1", (secret_id,)
            ).fetchone()
            if used is not None:
                return "in_use"
            db.execute("DELETE FROM bucket_secrets WHERE id = ?", (secret_id,))
        return "deleted"

    # -- orbit writes -----------------------------------------------------------------------

    @staticmethod
    def _secret_in_org(db: sqlite3.Connection, organization_id: str, secret_id: Any) -> bool:
        return secret_id is not None and db.execute(
            "SELECT 1 FROM bucket_secrets WHERE id = ? AND organization_id = ?",
            (secret_id, organization_id),
        ).fetchone() is not None

    def create_orbit(
        self,
        organization_id: str,
        creator: str,
        name: str,
        secret_id: str,
        members: list[tuple[str, str]],
    ) -> tuple[str, Any]:
        """Check and insert in one transaction, in the platform's order.

        ("limit", None), ("secret", None), ("repeated", None), ("self", None),
        ("outsiders", sorted user ids not in the organization), or ("created", orbit id).
        The creator joins as orbit admin.
        """
        with self.tx() as db:
            row = db.execute(
                "SELECT orbits_limit, (SELECT count(*) FROM orbits WHERE organization_id = o.id)"
                " AS total FROM organizations o WHERE id = ?",
                (organization_id,),
            ).fetchone()
            if row["total"] >= row["orbits_limit"]:
                return "limit", None
            if not self._secret_in_org(db, organization_id, secret_id):
                return "secret", None
            user_ids = [user for user, _ in members]
            if len(user_ids) != len(set(user_ids)):
                return "repeated", None
            if creator in user_ids:
                return "self", None
            inside = {
                r[0]
                for r in db.execute(
                    "SELECT user_id FROM org_members WHERE organization_id = ?",
                    (organization_id,),
                )
            }
            outsiders = sorted(set(user_ids) - inside)
            if outsiders:
                return "outsiders", outsiders
            orbit, now = new_id(), now_iso()
            db.execute(
                "INSERT INTO orbits (id, organization_id, name, bucket_secret_id, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (orbit, organization_id, name, secret_id, now),
            )
            db.executemany(
                "INSERT INTO orbit_members VALUES (?, ?, ?, ?, ?)",
                [
                    (new_id(), orbit, user, role, now)
                    for user, role in [*members, (creator, "admin")]
                ],
            )
        return "created", orbit

    def update_orbit(self, organization_id: str, orbit_id: str, fields: dict[str, Any]) -> str:
        """Set the fields sent: 'updated', 'missing' or 'secret' (bucket_secret_id sent but
        not a secret of the organization); a null name raises NotNullError."""
        with self.tx() as db:
            row = db.execute(
                "SELECT name, bucket_secret_id FROM orbits WHERE id = ? AND organization_id = ?",
                (orbit_id, organization_id),
            ).fetchone()
            if row is None:
                return "missing"
            if "bucket_secret_id" in fields and not self._secret_in_org(
                db, organization_id, fields["bucket_secret_id"]
            ):
                return "secret"
            if "name" in fields and fields["name"] is None:
                raise NotNullError
            changed = {k: v for k, v in fields.items() if row[k] != v}
            if changed:
                db.execute(
                    f"UPDATE orbits SET {', '.join(f'{k} = ?' for k in changed)},"
                    " updated_at = ? WHERE id = ?",
                    [*changed.values(), now_iso(), orbit_id],
                )
        return "updated"

    def delete_orbit(self, organization_id: str, orbit_id: str) -> bool:
        """Delete an orbit with its members and collections; False when it is not there."""
        with self.tx() as db:
            cur = db.execute(
                "DELETE FROM orbits WHERE id = ? AND organization_id = ?",
                (orbit_id, organization_id),
            )
        return cur.rowcount > 0

    # -- collections ------------------------------------------------------------------------

    def create_collection(self, orbit_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Insert a collection from a validated create body."""
        cid, now = new_id(), now_iso()
        tags = body.get("tags")
        with self.tx() as db:
            db.execute(
                "INSERT INTO collections (id, orbit_id, name, description, type, tags, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    cid,
                    orbit_id,
                    body["name"],
                    body["description"],
                    body["type"],
                    tags_text(tags),
                    now,
                ),
            )
        return {
            "id": cid,
            "orbit_id": orbit_id,
            "description": body["description"],
            "name": body["name"],
            "type": body["type"],
            "tags": tags,
            "total_artifacts": 0,
            "created_at": now,
            "updated_at": None,
        }

    def get_collection(self, orbit_id: str, collection_id: str) -> dict[str, Any] | None:
        """A collection with its details fields, if it is in the orbit."""
        row = self._one(
            f"SELECT {_COLLECTION_COLS}, artifacts_tags, artifacts_extra FROM collections"
            " WHERE id = ? AND orbit_id = ?",
            collection_id,
            orbit_id,
        )
        if row is None:
            return None
        out = _row_to_collection(row)
        out["artifacts_tags"] = json.loads(row["artifacts_tags"])
        out["artifacts_extra_values"] = json.loads(row["artifacts_extra"])
        return out

    def update_collection(
        self, orbit_id: str, collection_id: str, name: Any, description: Any, tags: Any
    ) -> dict[str, Any] | None:
        """Write all three fields (None into NOT NULL columns raises NotNullError)."""
        with self.tx() as db:
            row = db.execute(
                f"SELECT {_COLLECTION_COLS} FROM collections WHERE id = ? AND orbit_id = ?",
                (collection_id, orbit_id),
            ).fetchone()
            if row is None:
                return None
            if name is None or description is None:
                raise NotNullError
            new_tags = tags_text(tags)
            if (row["name"], row["description"], row["tags"]) != (name, description, new_tags):
                db.execute(
                    "UPDATE collections SET name = ?, description = ?, tags = ?, updated_at = ?"
                    " WHERE id = ?",
                    (name, description, new_tags, now_iso(), collection_id),
                )
                row = db.execute(
                    f"SELECT {_COLLECTION_COLS} FROM collections WHERE id = ?", (collection_id,)
                ).fetchone()
        return _row_to_collection(row)

    def delete_collection(self, orbit_id: str, collection_id: str) -> str:
        """'deleted', 'missing' or 'conflict' (it still holds artifacts)."""
        with self.tx() as db:
            row = db.execute(
                "SELECT total_artifacts FROM collections WHERE id = ? AND orbit_id = ?",
                (collection_id, orbit_id),
            ).fetchone()
            if row is None:
                return "missing"
            if row["total_artifacts"] > 0:
                return "conflict"
            db.execute("DELETE FROM collections WHERE id = ?", (collection_id,))
        return "deleted"

    def list_collections(
        self,
        orbit_id: str,
        *,
        sort_by: str,
        order: str,
        limit: int,
        cursor: str | None,
        search: str | None,
        types: list[str],
    ) -> dict[str, Any]:
        """One keyset page: ``{"items": [...], "cursor": str | None}``."""
        if sort_by not in SORT_COLUMNS or order not in ("asc", "desc"):
            raise ValueError(sort_by)
        where, args = ["orbit_id = ?"], [orbit_id]
        if search:
            # The platform searches the text of the stored tags JSON, which is "null" for a
            # collection created without tags: a search for "u" matches those too.
            where.append("(ilike(name, ?) OR ilike(COALESCE(tags, 'null'), ?))")
            args += ["%" + search + "%"] * 2
        if types:
            where.append(f"type IN ({', '.join('?' * len(types))})")
            args += types
        after = decode_cursor(cursor, sort_by, order, orbit_id) if cursor else None
        if after is not None:
            where.append(f"({sort_by}, id) {'>' if order == 'asc' else '<'} (?, ?)")
            args += [after[1], after[0]]
        sql = (
            f"SELECT {_COLLECTION_COLS} FROM collections WHERE {' AND '.join(where)}"
            f" ORDER BY {sort_by} {order}, id {order} LIMIT ?"
        )
        rows = self._all(sql, *args, limit + 1)
        items = [_row_to_collection(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            value = last[sort_by]
            if sort_by == "created_at":
                value = _cursor_time(value)
            next_cursor = encode_cursor(
                [last["id"].replace("-", ""), value, sort_by, order, orbit_id.replace("-", "")]
            )
        return {"items": items, "cursor": next_cursor}

    def set_artifact_count(
        self,
        collection_id: str,
        count: int,
        tags: list[str] | None = None,
        extra_keys: list[str] | None = None,
    ) -> None:
        """Pretend the collection holds count artifacts (with these tags / extra keys)."""
        with self.tx() as db:
            cur = db.execute(
                "UPDATE collections SET total_artifacts = ?, artifacts_tags = ?,"
                " artifacts_extra = ? WHERE id = ?",
                (
                    count,
                    json.dumps(sorted(set(tags or []))),
                    json.dumps(sorted(set(extra_keys or []))),
                    collection_id,
                ),
            )
            if cur.rowcount == 0:
                raise KeyError(collection_id)

    def collection_rows(self, orbit_id: str | None = None) -> list[dict[str, Any]]:
        """Stored collections as wire-shaped dicts, oldest first."""
        sql = f"SELECT {_COLLECTION_COLS} FROM collections"
        args: list[Any] = []
        if orbit_id is not None:
            sql += " WHERE orbit_id = ?"
            args.append(orbit_id)
        return [_row_to_collection(r) for r in self._all(sql + " ORDER BY created_at, id", *args)]

    def insert_collections(self, orbit_id: str, bodies: list[dict[str, Any]]) -> list[str]:
        """Bulk insert (for tests and benchmarks); returns the new ids."""
        ids = []
        with self.tx() as db:
            for body in bodies:
                cid = new_id()
                ids.append(cid)
                db.execute(
                    "INSERT INTO collections (id, orbit_id, name, description, type, tags,"
                    " total_artifacts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        cid,
                        orbit_id,
                        body["name"],
                        body.get("description", ""),
                        body.get("type", "model"),
                        tags_text(body.get("tags")),
                        body.get("total_artifacts", 0),
                        now_iso(),
                    ),
                )
        return ids
