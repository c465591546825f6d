"""SQLite state behind the satellite and deployment routes: satellites, their task queue and
the deployments, on a clock tests can move.

Shares the Store's connection and lock. The ``deployments`` table is the artifact store's;
this module adds the columns a full Deployment needs. Only a key's HMAC is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from ._ids import new_id
from ._store import Store
from ._wire import HttpError, ServerError

SCHEMA = """
CREATE TABLE IF NOT EXISTS satellites (
    id TEXT PRIMARY KEY, orbit_id TEXT NOT NULL REFERENCES orbits(id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, description TEXT, base_url TEXT,
    paired INTEGER NOT NULL DEFAULT 0, capabilities TEXT NOT NULL DEFAULT '{}', slug TEXT,
    created_at TEXT NOT NULL, updated_at TEXT, last_seen_at TEXT);
CREATE INDEX IF NOT EXISTS ix_satellites_orbit ON satellites (orbit_id);
CREATE TABLE IF NOT EXISTS satellite_tasks (
    id TEXT PRIMARY KEY,
    satellite_id TEXT NOT NULL REFERENCES satellites(id) ON DELETE CASCADE,
    orbit_id TEXT NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
    scheduled_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
    result TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT);
CREATE INDEX IF NOT EXISTS ix_satellite_tasks ON satellite_tasks (satellite_id, scheduled_at);
"""
# columns a full Deployment needs beyond the artifact store's (JSON text; NULL is allowed
# where the platform's NOT NULL JSONB would hold a JSON null)
_DEPLOYMENT_COLUMNS = (
    ("description", "TEXT"),
    ("inference_url", "TEXT"),
    ("satellite_parameters", "TEXT NOT NULL DEFAULT '{}'"),
    ("env_variables", "TEXT NOT NULL DEFAULT '{}'"),
    ("env_variables_secrets", "TEXT NOT NULL DEFAULT '{}'"),
    ("dynamic_attributes_secrets", "TEXT DEFAULT '{}'"),
    ("schemas", "TEXT"),
    ("error_message", "TEXT"),
    ("tags", "TEXT"),
)
DEPLOYMENT_SQL = (
    "SELECT d.*, a.name AS artifact_name, a.collection_id, s.name AS joined_satellite_name"
    " FROM deployments d JOIN artifacts a ON a.id = d.artifact_id"
    " LEFT JOIN satellites s ON s.id = d.satellite_id"
)
SATELLITE_KEY_PREFIX = "dfssat_"
OFFLINE_AFTER = timedelta(minutes=20)
_HMAC_KEY = b"dataforce-orm local satellite keys"
_DETAILS = ("name", "description", "schemas", "error_message", "tags",
            "dynamic_attributes_secrets")
WORKER_FIELDS = ("inference_url", "status", "schemas", "error_message", "tags")


class Clock:
    """UTC time with an offset tests can move forward (``advance``)."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current time as the server sees it."""
        with self._lock:
            return datetime.now(timezone.utc) + self._offset

    def advance(self, seconds: float) -> None:
        """Move the server's time forward by ``seconds``."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def iso(self) -> str:
        """now() as stored: ISO-8601 with microseconds and ``Z``."""
        return self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def key_hash(key: str) -> str:
    """The stored form of a satellite key (an HMAC)."""
    return hmac.new(_HMAC_KEY, key.encode(), hashlib.sha256).hexdigest()


def new_satellite_key() -> str:
    """``dfssat_`` + 43 url-safe characters (50 in all)."""
    return SATELLITE_KEY_PREFIX + secrets.token_urlsafe(32)


def _iso(stored: str | None) -> str | None:
    if stored is None:
        return None
    moment = datetime.strptime(stored, "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=timezone.utc).isoformat()


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _text(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def deployment_out(row: sqlite3.Row) -> dict[str, Any]:
    """A Deployment as the API returns it (a row of DEPLOYMENT_SQL). ServerError when a
    non-null field is null (the response fails its own model, as on the platform)."""
    out = {
        "id": row["id"],
        "orbit_id": row["orbit_id"],
        "satellite_id": row["satellite_id"],
        "satellite_name": row["joined_satellite_name"] or row["satellite_name"],
        "name": row["name"],
        "artifact_id": row["artifact_id"],
        "artifact_name": row["artifact_name"],
        "collection_id": row["collection_id"],
        "inference_url": row["inference_url"],
        "status": row["status"],
        "satellite_parameters": _json(row["satellite_parameters"]),
        "description": row["description"],
        "dynamic_attributes_secrets": _json(row["dynamic_attributes_secrets"]),
        "env_variables_secrets": _json(row["env_variables_secrets"]),
        "env_variables": _json(row["env_variables"]),
        "schemas": _json(row["schemas"]),
        "error_message": _json(row["error_message"]),
        "created_by_user": row["created_by_user"],
        "tags": _json(row["tags"]),
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "model_id": row["artifact_id"],
        "model_artifact_name": row["artifact_name"],
    }
    if out["dynamic_attributes_secrets"] is None:
        raise ServerError(f"deployment {row['id']}: dynamic_attributes_secrets is null")
    return out


def satellite_status(paired: bool, last_seen_at: datetime | None, now: datetime) -> str:
    """``inactive`` if unpaired or never seen, ``error`` if last seen more than 20 minutes
    ago, else ``active``."""
    if not paired or last_seen_at is None:
        return "inactive"
    return "error" if now - last_seen_at > OFFLINE_AFTER else "active"


def _task_out(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "satellite_id": row["satellite_id"],
        "orbit_id": row["orbit_id"],
        "type": row["type"],
        "payload": json.loads(row["payload"]),
        "status": row["status"],
        "scheduled_at": _iso(row["scheduled_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "result": json.loads(row["result"]),
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
    }


def satellite_for_key(store: Store, key: str) -> str | None:
    """The satellite a ``dfssat_`` key belongs to."""
    row = store._one("SELECT id FROM satellites WHERE key_hash = ?", key_hash(key))
    return None if row is None else str(row[0])


class SatelliteStore:
    """Satellites, their task queue and deployments in the Store's database."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or Clock()
        store.install(SCHEMA)
        with store.tx() as db:
            have = {r[1] for r in db.execute("PRAGMA table_info(deployments)")}
            for name, kind in _DEPLOYMENT_COLUMNS:
                if name not in have:
                    db.execute(f"ALTER TABLE deployments ADD COLUMN {name} {kind}")
            db.execute(
                "CREATE UNIQUE INDEX IF NOT EXISTS ux_deployments_inference_url"
                " ON deployments (inference_url)"
            )

    # -- satellites -----------------------------------------------------------------------------

    def _satellite_out(self, row: sqlite3.Row) -> dict[str, Any]:
        seen = row["last_seen_at"]
        seen_at = (
            None if seen is None
            else datetime.strptime(seen, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        )
        return {
            "id": row["id"],
            "orbit_id": row["orbit_id"],
            "name": row["name"],
            "description": row["description"],
            "base_url": row["base_url"],
            "paired": bool(row["paired"]),
            "capabilities": json.loads(row["capabilities"]),
            "slug": row["slug"],
            "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
            "last_seen_at": _iso(seen),
            "status": satellite_status(bool(row["paired"]), seen_at, self.clock.now()),
        }

    def satellite(self, satellite_id: str, orbit_id: str | None = None) -> dict[str, Any] | None:
        """A Satellite (None: unknown, or not in ``orbit_id`` when given)."""
        with self.store._lock:
            row = self.store._one("SELECT * FROM satellites WHERE id = ?", satellite_id)
            if row is None or (orbit_id is not None and row["orbit_id"] != orbit_id):
                return None
            return self._satellite_out(row)

    def satellites(self, orbit_id: str, paired: bool | None) -> list[dict[str, Any]]:
        """An orbit's satellites in id (creation) order, optionally only (un)paired ones."""
        sql = "SELECT * FROM satellites WHERE orbit_id = ?"
        args: list[Any] = [orbit_id]
        if paired is not None:
            sql += " AND paired = ?"
            args.append(int(paired))
        with self.store._lock:
            return [self._satellite_out(r) for r in self.store._all(sql + " ORDER BY id", *args)]

    def create_satellite(
        self, organization_id: str, orbit_id: str, name: str | None, description: str | None
    ) -> tuple[dict[str, Any], str]:
        """(the Satellite, its one-time key); 409 at the organization's limit; ServerError
        without a name (the column is NOT NULL)."""
        key, sid = new_satellite_key(), new_id()
        with self.store.tx() as db:
            used = db.execute(
                "SELECT count(*) FROM satellites s JOIN orbits o ON o.id = s.orbit_id"
                " WHERE o.organization_id = ?", (organization_id,)
            ).fetchone()[0]
            limit = db.execute(
                "SELECT satellites_limit FROM organizations WHERE id = ?", (organization_id,)
            ).fetchone()[0]
            if used >= limit:
                raise HttpError(409, "Organization reached maximum number of satellites")
            try:
                db.execute(
                    "INSERT INTO satellites (id, orbit_id, key_hash, name, description,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (sid, orbit_id, key_hash(key), name, description, self.clock.iso()),
                )
            except sqlite3.IntegrityError as exc:
                raise ServerError(str(exc)) from exc
            row = db.execute("SELECT * FROM satellites WHERE id = ?", (sid,)).fetchone()
            return self._satellite_out(row), key

    def update_satellite(
        self, satellite_id: str, name: str | None, description: str | None
    ) -> dict[str, Any]:
        """Write both fields (a null name is the NOT NULL failure, rolled back)."""
        with self.store.tx() as db:
            try:
                db.execute(
                    "UPDATE satellites SET name = ?, description = ?, updated_at = ?"
                    " WHERE id = ?", (name, description, self.clock.iso(), satellite_id),
                )
            except sqlite3.IntegrityError as exc:
                raise ServerError(str(exc)) from exc
            row = db.execute("SELECT * FROM satellites WHERE id = ?", (satellite_id,)).fetchone()
            return self._satellite_out(row)

    def regenerate_key(self, satellite_id: str) -> str:
        """A new key; the old one stops working at once."""
        key = new_satellite_key()
        with self.store.tx() as db:
            db.execute(
                "UPDATE satellites SET key_hash = ?, updated_at = ? WHERE id = ?",
                (key_hash(key), self.clock.iso(), satellite_id),
            )
        return key

    def delete_satellite(self, satellite_id: str) -> None:
        """409 while any deployment references it."""
        with self.store.tx() as db:
            if db.execute(
                "SELECT 1 FROM deployments WHERE satellite_id = ?", (satellite_id,)
            ).fetchone():
                raise HttpError(409, "Cannot delete satellite. It is used in deployments.")
            db.execute("DELETE FROM satellites WHERE id = ?", (satellite_id,))

    def pair(
        self, satellite_id: str, base_url: str, capabilities: dict[str, Any], slug: str | None
    ) -> dict[str, Any]:
        """Record the pairing and see the satellite now."""
        now = self.clock.iso()
        with self.store.tx() as db:
            db.execute(
                "UPDATE satellites SET base_url = ?, capabilities = ?, slug = ?, paired = 1,"
                " last_seen_at = ?, updated_at = ? WHERE id = ?",
                (base_url, json.dumps(capabilities), slug, now, now, satellite_id),
            )
            row = db.execute("SELECT * FROM satellites WHERE id = ?", (satellite_id,)).fetchone()
            return self._satellite_out(row)

    def touch(self, satellite_id: str) -> None:
        """The satellite was seen now."""
        with self.store.tx() as db:
            db.execute(
                "UPDATE satellites SET last_seen_at = ? WHERE id = ?",
                (self.clock.iso(), satellite_id),
            )

    def satellite_orbit(self, satellite_id: str) -> str | None:
        """The orbit a satellite is in."""
        row = self.store._one("SELECT orbit_id FROM satellites WHERE id = ?", satellite_id)
        return None if row is None else str(row[0])

    # -- tasks ----------------------------------------------------------------------------------

    @staticmethod
    def _queue(db: sqlite3.Connection, satellite_id: str, orbit_id: str, kind: str,
               deployment_id: str, now: str) -> str:
        tid = new_id()
        db.execute(
            "INSERT INTO satellite_tasks (id, satellite_id, orbit_id, type, payload, status,"
            " scheduled_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
            (tid, satellite_id, orbit_id, kind, json.dumps({"deployment_id": deployment_id}),
             now, now),
        )
        return tid

    def task(self, task_id: str) -> dict[str, Any] | None:
        """A SatelliteQueueTask by id."""
        row = self.store._one("SELECT * FROM satellite_tasks WHERE id = ?", task_id)
        return None if row is None else _task_out(row)

    def tasks(self, satellite_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """A satellite's tasks in the order they were scheduled."""
        sql, args = "SELECT * FROM satellite_tasks WHERE satellite_id = ?", [satellite_id]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        return [_task_out(r) for r in self.store._all(sql + " ORDER BY scheduled_at, id", *args)]

    def set_task_status(
        self, satellite_id: str, task_id: str, status: str, result: dict[str, Any] | None
    ) -> dict[str, Any]:
        """running sets started_at, done/failed set finished_at; a result is stored."""
        now = self.clock.iso()
        with self.store.tx() as db:
            row = db.execute(
                "SELECT 1 FROM satellite_tasks WHERE id = ? AND satellite_id = ?",
                (task_id, satellite_id),
            ).fetchone()
            if row is None:
                raise HttpError(404, "Task not found")
            sets = ["status = ?", "updated_at = ?"]
            args: list[Any] = [status, now]
            if status == "running":
                sets.append("started_at = ?")
                args.append(now)
            if status in ("done", "failed"):
                sets.append("finished_at = ?")
                args.append(now)
            if result is not None:
                sets.append("result = ?")
                args.append(json.dumps(result))
            db.execute(f"UPDATE satellite_tasks SET {', '.join(sets)} WHERE id = ?",
                       (*args, task_id))
            return _task_out(
                db.execute("SELECT * FROM satellite_tasks WHERE id = ?", (task_id,)).fetchone()
            )

    # -- deployments ----------------------------------------------------------------------------

    def _deployment_row(self, db: sqlite3.Connection, where: str, *args: Any) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(f"{DEPLOYMENT_SQL} WHERE {where}", args).fetchone()
        if row is None:
            raise HttpError(404, "Deployment not found")
        return row

    def check_references(self, orbit_id: str, satellite_id: str, artifact_id: str) -> None:
        """A create's 404s: the satellite, the artifact, then its collection, in this orbit."""
        if self.satellite_orbit(satellite_id) != orbit_id:
            raise HttpError(404, "Satellite not found")
        row = self.store._one(
            "SELECT c.orbit_id FROM artifacts a LEFT JOIN collections c ON c.id = a.collection_id"
            " WHERE a.id = ?", artifact_id,
        )
        if row is None:
            raise HttpError(404, "Artifact not found")
        if row[0] != orbit_id:
            raise HttpError(404, "Collection not found")

    def user_name(self, user_id: str) -> str | None:
        """A user's full name."""
        row = self.store._one("SELECT name FROM users WHERE id = ?", user_id)
        return None if row is None else str(row[0])

    def create_deployment(
        self, orbit_id: str, fields: dict[str, Any], created_by: str | None
    ) -> dict[str, Any]:
        """A pending deployment and its ``deploy`` task (the caller checked the references)."""
        did, now = new_id(), self.clock.iso()
        with self.store.tx() as db:
            sat = db.execute(
                "SELECT name FROM satellites WHERE id = ?", (fields["satellite_id"],)
            ).fetchone()
            db.execute(
                "INSERT INTO deployments (id, orbit_id, artifact_id, name, status, satellite_id,"
                " satellite_name, created_by_user, created_at, description, satellite_parameters,"
                " env_variables, env_variables_secrets, dynamic_attributes_secrets, schemas,"
                " tags) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?)",
                (did, orbit_id, fields["artifact_id"], fields["name"], fields["satellite_id"],
                 sat["name"], created_by, now, fields["description"],
                 json.dumps(fields["satellite_parameters"]), json.dumps(fields["env_variables"]),
                 json.dumps(fields["env_variables_secrets"]),
                 json.dumps(fields["dynamic_attributes_secrets"]), _text(fields["tags"])),
            )
            self._queue(db, fields["satellite_id"], orbit_id, "deploy", did, now)
            return deployment_out(self._deployment_row(db, "d.id = ?", did))

    def deployments(self, orbit_id: str) -> list[dict[str, Any]]:
        """An orbit's deployments, newest first."""
        with self.store._lock:
            rows = self.store._all(
                f"{DEPLOYMENT_SQL} WHERE d.orbit_id = ? ORDER BY d.created_at DESC, d.id DESC",
                orbit_id,
            )
            return [deployment_out(r) for r in rows]

    def deployment(self, deployment_id: str, orbit_id: str) -> dict[str, Any]:
        """One deployment of the orbit (404 otherwise)."""
        with self.store._lock:
            row = self._deployment_row(
                self.store._conn, "d.id = ? AND d.orbit_id = ?", deployment_id, orbit_id
            )
            return deployment_out(row)

    def update_details(
        self, deployment_id: str, orbit_id: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Overwrite the six detail fields (absent ones are null). A null name fails before
        the commit; a null ``dynamic_attributes_secrets`` is committed and fails the answer."""
        with self.store.tx() as db:
            self._deployment_row(db, "d.id = ? AND d.orbit_id = ?", deployment_id, orbit_id)
            values = [fields.get(k) for k in _DETAILS]
            values[2:] = [_text(v) for v in values[2:]]
            try:
                db.execute(
                    "UPDATE deployments SET name = ?, description = ?, schemas = ?,"
                    " error_message = ?, tags = ?, dynamic_attributes_secrets = ?,"
                    " updated_at = ? WHERE id = ?",
                    (*values, self.clock.iso(), deployment_id),
                )
            except sqlite3.IntegrityError as exc:
                raise ServerError(str(exc)) from exc
            row = self._deployment_row(db, "d.id = ?", deployment_id)
        return deployment_out(row)

    def request_deletion(self, deployment_id: str, orbit_id: str) -> dict[str, Any]:
        """Mark ``deletion_pending`` and queue an ``undeploy`` task (returned); 409 when a
        deletion is already pending."""
        now = self.clock.iso()
        with self.store.tx() as db:
            row = self._deployment_row(
                db, "d.id = ? AND d.orbit_id = ?", deployment_id, orbit_id
            )
            if row["status"] == "deletion_pending":
                raise HttpError(409, "Deployment deletion already pending")
            db.execute(
                "UPDATE deployments SET status = 'deletion_pending', updated_at = ? WHERE id = ?",
                (now, deployment_id),
            )
            tid = self._queue(db, row["satellite_id"], orbit_id, "undeploy", deployment_id, now)
            return _task_out(
                db.execute("SELECT * FROM satellite_tasks WHERE id = ?", (tid,)).fetchone()
            )

    def force_delete(self, deployment_id: str, orbit_id: str) -> None:
        """Remove the row, undeploying nothing."""
        with self.store.tx() as db:
            self._deployment_row(db, "d.id = ? AND d.orbit_id = ?", deployment_id, orbit_id)
            db.execute("DELETE FROM deployments WHERE id = ?", (deployment_id,))

    # -- the worker's side ----------------------------------------------------------------------

    def worker_deployments(self, satellite_id: str) -> list[dict[str, Any]]:
        """A satellite's deployments, oldest first."""
        with self.store._lock:
            rows = self.store._all(
                f"{DEPLOYMENT_SQL} WHERE d.satellite_id = ? ORDER BY d.created_at, d.id",
                satellite_id,
            )
            return [deployment_out(r) for r in rows]

    def worker_deployment(self, satellite_id: str, deployment_id: str) -> dict[str, Any]:
        """One of the satellite's deployments (404 otherwise)."""
        with self.store._lock:
            row = self._deployment_row(
                self.store._conn, "d.id = ? AND d.satellite_id = ?", deployment_id, satellite_id
            )
            return deployment_out(row)

    def worker_update(
        self, satellite_id: str, deployment_id: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        """Write the fields given (the full PATCH gives all five; a null status or a taken
        ``inference_url`` fails, rolled back)."""
        with self.store.tx() as db:
            self._deployment_row(
                db, "d.id = ? AND d.satellite_id = ?", deployment_id, satellite_id
            )
            sets = [f"{k} = ?" for k in fields]
            values = [v if k in ("inference_url", "status") else _text(v)
                      for k, v in fields.items()]
            try:
                db.execute(
                    f"UPDATE deployments SET {', '.join(sets)}, updated_at = ? WHERE id = ?",
                    (*values, self.clock.iso(), deployment_id),
                )
            except sqlite3.IntegrityError as exc:
                raise ServerError(str(exc)) from exc
            row = self._deployment_row(db, "d.id = ?", deployment_id)
        return deployment_out(row)

    def worker_delete(self, satellite_id: str, deployment_id: str) -> None:
        """Remove a deployment whose deletion was requested (409 otherwise)."""
        with self.store.tx() as db:
            row = self._deployment_row(
                db, "d.id = ? AND d.satellite_id = ?", deployment_id, satellite_id
            )
            if row["status"] != "deletion_pending":
                raise HttpError(
                    409, "Incorrect deployment status. Request deployment deletion first."
                )
            db.execute("DELETE FROM deployments WHERE id = ?", (deployment_id,))


    # -- test helpers ---------------------------------------------------------------------------

    def add_satellite(
        self, orbit_id: str, name: str, description: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """(a new unpaired Satellite, its key), ignoring the organization's limit."""
        key, sid = new_satellite_key(), new_id()
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO satellites (id, orbit_id, key_hash, name, description, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (sid, orbit_id, key_hash(key), name, description, self.clock.iso()),
            )
        found = self.satellite(sid)
        assert found is not None
        return found, key

    def add_deployment(self, artifact_id: str, name: str, status: str) -> str:
        """A deployment of the artifact with this status on the orbit's unpaired helper
        satellite ``satellite`` (made when missing); no task is queued. KeyError: no such
        artifact."""
        row = self.store._one(
            "SELECT c.orbit_id FROM artifacts a JOIN collections c ON c.id = a.collection_id"
            " WHERE a.id = ?", artifact_id,
        )
        if row is None:
            raise KeyError(artifact_id)
        orbit = str(row[0])
        helper = self.store._one(
            "SELECT id FROM satellites WHERE orbit_id = ? AND name = 'satellite' AND paired = 0"
            " ORDER BY id LIMIT 1", orbit,
        )
        satellite = str(helper[0]) if helper else self.add_satellite(orbit, "satellite")[0]["id"]
        did, now = new_id(), self.clock.iso()
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO deployments (id, orbit_id, artifact_id, name, status, satellite_id,"
                " satellite_name, created_at, schemas) VALUES (?, ?, ?, ?, ?, ?, 'satellite', ?,"
                " '{}')",
                (did, orbit, artifact_id, name, status, satellite, now),
            )
        return did

    def remove_deployment(self, deployment_id: str) -> None:
        """Drop a deployment row (KeyError: none)."""
        with self.store.tx() as db:
            if db.execute("DELETE FROM deployments WHERE id = ?", (deployment_id,)).rowcount == 0:
                raise KeyError(deployment_id)
