"""SQLite state behind the orbit-secret routes; values encrypted at rest.

The cipher is a keyed stream cipher from the standard library: an HMAC-SHA256 keystream
over a random nonce, XORed with the value, then an HMAC tag over nonce and ciphertext. The
key is random, made with the database and kept in its ``meta`` table (a local stand-in for
the platform's configured key: it keeps values out of plain text in the file, no more).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
from typing import Any

from ._ids import new_id, now_iso
from ._store import Store, tags_text
from ._wire import ServerError

SCHEMA = """
CREATE TABLE IF NOT EXISTS orbit_secrets (
    id TEXT PRIMARY KEY, orbit_id TEXT NOT NULL REFERENCES orbits(id) ON DELETE CASCADE,
    name TEXT NOT NULL, value TEXT NOT NULL, tags TEXT, created_at TEXT NOT NULL,
    updated_at TEXT, UNIQUE (orbit_id, name));
"""
_NONCE, _TAG = 16, 16


class DuplicateNameError(Exception):
    """The orbit already has a secret with this name."""


class Cipher:
    """Encrypt and decrypt text with one key (authenticated: a changed byte fails)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _stream(self, nonce: bytes, length: int) -> bytes:
        blocks = (
            hmac.new(self._key, nonce + i.to_bytes(8, "big"), hashlib.sha256).digest()
            for i in range((length + 31) // 32)
        )
        return b"".join(blocks)[:length]

    def encrypt(self, text: str) -> str:
        """base64 of nonce, ciphertext and tag."""
        data, nonce = text.encode(), secrets.token_bytes(_NONCE)
        sealed = bytes(a ^ b for a, b in zip(data, self._stream(nonce, len(data)), strict=True))
        tag = hmac.new(self._key, nonce + sealed, hashlib.sha256).digest()[:_TAG]
        return base64.b64encode(nonce + sealed + tag).decode()

    def decrypt(self, token: str) -> str:
        """The text back; ValueError when the token was not made with this key."""
        raw = base64.b64decode(token)
        nonce, sealed, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
        expected = hmac.new(self._key, nonce + sealed, hashlib.sha256).digest()[:_TAG]
        if not hmac.compare_digest(tag, expected):
            raise ValueError("not a value of this server")
        stream = self._stream(nonce, len(sealed))
        return bytes(a ^ b for a, b in zip(sealed, stream, strict=True)).decode()


def _out(row: sqlite3.Row, value: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "value": value,
        "orbit_id": row["orbit_id"],
        "tags": None if row["tags"] is None else json.loads(row["tags"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


class OrbitSecretStore:
    """Orbit secrets in the Store's database, their values encrypted."""

    def __init__(self, store: Store) -> None:
        self.store = store
        store.install(SCHEMA)
        with store.tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'orbit_secrets_key'").fetchone()
            if row is None:
                key = secrets.token_hex(32)
                db.execute("INSERT INTO meta VALUES ('orbit_secrets_key', ?)", (key,))
            else:
                key = row[0]
        self.cipher = Cipher(bytes.fromhex(key))

    def _render(self, row: sqlite3.Row) -> dict[str, Any]:
        return _out(row, self.cipher.decrypt(row["value"]))

    def create(self, orbit_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Insert a secret; DuplicateNameError when the orbit has one of this name."""
        secret_id = new_id()
        with self.store.tx() as db:
            try:
                db.execute(
                    "INSERT INTO orbit_secrets (id, orbit_id, name, value, tags, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (secret_id, orbit_id, fields["name"], self.cipher.encrypt(fields["value"]),
                     tags_text(fields["tags"]), now_iso()),
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateNameError from exc
            row = db.execute("SELECT * FROM orbit_secrets WHERE id = ?", (secret_id,)).fetchone()
        return self._render(row)

    def list(self, orbit_id: str) -> list[dict[str, Any]]:
        """An orbit's secrets with their values (the route blanks them)."""
        rows = self.store._all(
            "SELECT * FROM orbit_secrets WHERE orbit_id = ? ORDER BY rowid", orbit_id
        )
        return [self._render(r) for r in rows]

    def get(self, orbit_id: str, secret_id: str) -> dict[str, Any] | None:
        """One secret of the orbit, value included."""
        row = self.store._one(
            "SELECT * FROM orbit_secrets WHERE id = ? AND orbit_id = ?", secret_id, orbit_id
        )
        return None if row is None else self._render(row)

    def value(self, secret_id: str) -> str | None:
        """A secret's value by id alone (any orbit), decrypted; None: no such secret."""
        row = self.store._one("SELECT value FROM orbit_secrets WHERE id = ?", secret_id)
        return None if row is None else self.cipher.decrypt(row["value"])

    def update(
        self, orbit_id: str, secret_id: str, fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Set the fields sent (a value is encrypted anew); None: no such secret. A null name
        or value, or a name the orbit already has, fails like the platform's unhandled
        database error (rolled back)."""
        with self.store.tx() as db:
            row = db.execute(
                "SELECT * FROM orbit_secrets WHERE id = ? AND orbit_id = ?", (secret_id, orbit_id)
            ).fetchone()
            if row is None:
                return None
            values = dict(fields)
            if any(values.get(k, "") is None for k in ("name", "value")):
                raise ServerError("null value in a NOT NULL column")
            if "value" in values:
                values["value"] = self.cipher.encrypt(values["value"])
            if "tags" in values:
                values["tags"] = tags_text(values["tags"])
            changed = {k: v for k, v in values.items() if row[k] != v}
            if changed:
                try:
                    db.execute(
                        f"UPDATE orbit_secrets SET {', '.join(f'{k} = ?' for k in changed)},"
                        " updated_at = ? WHERE id = ?",
                        [*changed.values(), now_iso(), secret_id],
                    )
                except sqlite3.IntegrityError as exc:
                    raise ServerError("duplicate secret name") from exc
                row = db.execute(
                    "SELECT * FROM orbit_secrets WHERE id = ?", (secret_id,)
                ).fetchone()
        return self._render(row)

    def delete(self, orbit_id: str, secret_id: str) -> bool:
        """Delete a secret of the orbit (deployments that name it are not checked)."""
        with self.store.tx() as db:
            cur = db.execute(
                "DELETE FROM orbit_secrets WHERE id = ? AND orbit_id = ?", (secret_id, orbit_id)
            )
        return cur.rowcount > 0
