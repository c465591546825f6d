"""SQLite state behind the artifact routes: artifacts, deployments, orbits' storage.

Shares the Store's connection and lock. Collection counters (``total_artifacts``,
``artifacts_tags``, ``artifacts_extra``) are recomputed in the same transaction as every
artifact change, so they are always in step.
"""

from __future__ import annotations

import base64
import json
import math
import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ._ids import new_id, now_iso
from ._satellites_store import DEPLOYMENT_SQL, deployment_out
from ._storage import S3Target
from ._store import _COLLECTION_COLS, NotNullError, Store, _row_to_collection
from ._validation import strip_scheme
from ._wire import HttpError, ServerError

SCHEMA = """
CREATE TABLE IF NOT EXISTS artifacts (
    id TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    file_name TEXT NOT NULL, name TEXT NOT NULL, description TEXT, extra_values TEXT NOT NULL,
    manifest TEXT NOT NULL, file_hash TEXT NOT NULL, file_index TEXT NOT NULL,
    bucket_location TEXT NOT NULL, size INTEGER NOT NULL, unique_identifier TEXT NOT NULL,
    tags TEXT, created_by_user TEXT, status TEXT NOT NULL, type TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT);
CREATE INDEX IF NOT EXISTS ix_artifacts_collection ON artifacts (collection_id, created_at, id);
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY, orbit_id TEXT NOT NULL REFERENCES orbits(id) ON DELETE CASCADE,
    artifact_id TEXT NOT NULL REFERENCES artifacts(id), name TEXT NOT NULL, status TEXT NOT NULL,
    satellite_id TEXT NOT NULL, satellite_name TEXT NOT NULL, created_by_user TEXT,
    created_at TEXT NOT NULL, updated_at TEXT);
CREATE INDEX IF NOT EXISTS ix_deployments_artifact ON deployments (artifact_id);
"""

# Wire order of the Artifact fields (pydantic: ArtifactIn's fields, then Artifact's own).
FIELDS = (
    "file_name",
    "name",
    "description",
    "extra_values",
    "manifest",
    "file_hash",
    "file_index",
    "size",
    "tags",
    "type",
    "id",
    "collection_id",
    "bucket_location",
    "unique_identifier",
    "status",
    "created_by_user",
    "created_at",
    "updated_at",
)
_JSON_FIELDS = frozenset(("extra_values", "manifest", "file_index", "tags"))
_TEXT_COLUMNS = frozenset(
    (
        "file_name",
        "name",
        "description",
        "file_hash",
        "bucket_location",
        "unique_identifier",
        "created_by_user",
        "status",
        "type",
    )
)
# Attributes of the platform's ArtifactOrm that are not sortable columns: ordering by them fails.
_ORM_ATTRIBUTES = frozenset(
    (
        "collection",
        "deployments",
        "to_artifact",
        "to_listed_artifact",
        "to_artifact_details",
        "metadata",
        "registry",
        "_sa_class_manager",
        "_sa_registry",
    )
)
SCOPE_NAMESPACE = uuid.UUID("a8f5f167-4f8a-5e6c-9b2d-1c3e4d5a6b7f")
_COLS = ", ".join(f"a.{f}" for f in FIELDS)
_TRANSITIONS = {
    "pending_upload": ("uploaded", "upload_failed"),
    "pending_deletion": ("deletion_failed",),
}


@dataclass(frozen=True)
class Bucket:
    """The storage an orbit uses: its bucket secret (organization, ``type`` = the wire
    flavour, where and how to sign) and whether the secret is marked as the server's own
    storage (made by the server, endpoint unchanged since)."""

    secret_id: str
    organization_id: str
    type: str
    endpoint: str
    bucket_name: str
    access_key: str | None
    secret_key: str | None
    region: str | None
    secure: bool | None
    marked_own: bool


def storage_target(bucket: Bucket, own_netloc: str) -> S3Target | None:
    """None when the server's own storage serves this bucket, else the S3 service to sign for.

    Own storage: every Azure secret (no external Azure), an S3 secret the server marked as
    its own (the default secret and the ones it makes, while their endpoint is unchanged),
    and an S3 secret whose endpoint is the server's own ``host:port``. Any other S3 secret
    is an external S3 service (MinIO, moto, ...).
    """
    if bucket.type != "s3" or bucket.marked_own or strip_scheme(bucket.endpoint) == own_netloc:
        return None
    return S3Target(
        endpoint=strip_scheme(bucket.endpoint),
        bucket=bucket.bucket_name,
        access_key=bucket.access_key,
        secret_key=bucket.secret_key,
        region=bucket.region or "us-east-1",
        secure=bucket.secure is not False,
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def _render(row: sqlite3.Row) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in FIELDS:
        value = row[f]
        out[f] = json.loads(value) if f in _JSON_FIELDS and value is not None else value
    return out


_FLOAT_TEXT = re.compile(
    r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*|\s*[+-]?(nan|inf|infinity)\s*", re.I
)


def _metric(extra_values: str | None, key: str) -> float | None:
    """``CAST(extra_values ->> key AS float)`` with PostgreSQL's errors for non-numbers."""
    if extra_values is None:
        return None
    value = json.loads(extra_values).get(key)
    if value is None:
        return None
    if isinstance(value, (bool, dict, list)):
        raise ValueError(f"invalid input syntax for type double precision: {value!r}")
    if isinstance(value, str):
        if not _FLOAT_TEXT.fullmatch(value):
            raise ValueError(f"invalid input syntax for type double precision: {value!r}")
        value = float(value)
    number = float(value)
    return math.inf if math.isnan(number) else number  # NaN sorts above every number


def build_scope_id(**filters: Any) -> str:
    """UUIDv5 of the sorted, normalised filters (lists sorted and comma-joined, UUIDs as hex)."""

    def norm(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return ",".join(sorted(norm(v) for v in value))
        return str(value)

    key = "|".join(f"{name}={norm(filters[name])}" for name in sorted(filters))
    return str(uuid.uuid5(SCOPE_NAMESPACE, key))


def _hex(uid: str) -> str:
    return uid.replace("-", "")


def encode_cursor(values: list[Any]) -> str:
    """url-safe base64 (with padding) of the JSON array."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


@dataclass
class Cursor:
    """A decoded cursor (as the platform's ``decode_cursor`` makes it)."""

    id: str
    value: Any
    sort_by: str
    order: str
    scope_id: str | None


def _parse_time(text: str) -> datetime:
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def decode_cursor(text: str | None) -> Cursor | None:
    """The cursor, or None when it cannot be decoded (then it is silently ignored)."""
    if not text:
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(text.encode()).decode())
        cursor_id, value, sort_by = parts[0], parts[1], parts[2]
        order = parts[3] if len(parts) > 3 else "desc"
        if order not in ("asc", "desc"):
            return None
        scope = str(uuid.UUID(parts[4])) if len(parts) > 4 and parts[4] else None
        if sort_by == "created_at" and isinstance(value, str):
            value = _parse_time(value)
        if value is not None and not isinstance(value, (int, float, str, datetime)):
            return None
        if not isinstance(sort_by, str):
            return None
        return Cursor(str(uuid.UUID(cursor_id)), value, sort_by, order, scope)
    except Exception:
        return None


def stored_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_time(stored: str) -> str:
    moment = datetime.strptime(stored, "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=timezone.utc).isoformat()


class ArtifactStore:
    """Artifact rows and their satellites (deployments, tracks) in the Store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # the organization's artifacts_limit column is the Store's (ORG_LIMITS)
        store.install(SCHEMA, {"df_metric": (2, _metric)})

    # -- buckets and limits ---------------------------------------------------------------------

    _BUCKET_SQL = (
        "SELECT s.id, s.organization_id, s.type, s.endpoint, s.bucket_name, s.access_key,"
        " s.secret_key, s.region, s.secure, coalesce(m.endpoint = s.endpoint, 0) AS marked"
        " FROM bucket_secrets s"
        " LEFT JOIN own_storage_secrets m ON m.bucket_secret_id = s.id"
    )

    @staticmethod
    def _to_bucket(row: sqlite3.Row | None) -> Bucket | None:
        if row is None:
            return None
        secure = None if row["secure"] is None else bool(row["secure"])
        return Bucket(
            row["id"], row["organization_id"], row["type"], row["endpoint"],
            row["bucket_name"], row["access_key"], row["secret_key"], row["region"], secure,
            bool(row["marked"]),
        )

    def bucket(self, orbit_id: str) -> Bucket | None:
        """The storage of an orbit (its current bucket secret); None: no such orbit."""
        sql = self._BUCKET_SQL + " JOIN orbits o ON o.bucket_secret_id = s.id WHERE o.id = ?"
        return self._to_bucket(self.store._one(sql, orbit_id))

    def bucket_by_secret(self, secret_id: str) -> Bucket | None:
        """The storage behind a bucket secret id (None: no such secret)."""
        return self._to_bucket(self.store._one(self._BUCKET_SQL + " WHERE s.id = ?", secret_id))

    def use_secret(self, orbit_id: str, secret_id: str) -> None:
        """Point an orbit at another bucket secret (no checks; KeyError: no such orbit)."""
        with self.store.tx() as db:
            cur = db.execute(
                "UPDATE orbits SET bucket_secret_id = ? WHERE id = ?", (secret_id, orbit_id)
            )
            if cur.rowcount == 0:
                raise KeyError(orbit_id)

    def orbit_organization(self, orbit_id: str) -> str | None:
        """The organization an orbit belongs to."""
        row = self.store._one("SELECT organization_id FROM orbits WHERE id = ?", orbit_id)
        return None if row is None else str(row[0])

    # -- reading --------------------------------------------------------------------------------

    def collection(self, orbit_id: str, collection_id: str) -> dict[str, Any] | None:
        """A collection (plain Collection shape) if it is in the orbit."""
        row = self.store._one(
            f"SELECT {_COLLECTION_COLS} FROM collections WHERE id = ? AND orbit_id = ?",
            collection_id,
            orbit_id,
        )
        return None if row is None else _row_to_collection(row)

    def get(self, artifact_id: str) -> dict[str, Any] | None:
        """An artifact by id (any collection)."""
        row = self.store._one(f"SELECT {_COLS} FROM artifacts a WHERE a.id = ?", artifact_id)
        return None if row is None else _render(row)

    def deployments(self, artifact_id: str) -> list[dict[str, Any]]:
        """Full Deployment objects of an artifact (any status), oldest first."""
        with self.store._lock:
            rows = self.store._all(
                f"{DEPLOYMENT_SQL} WHERE d.artifact_id = ? ORDER BY d.created_at, d.id",
                artifact_id,
            )
            return [deployment_out(r) for r in rows]

    def tracks(self, artifact_id: str) -> list[dict[str, Any]]:
        """Tracks holding the artifact, oldest first."""
        rows = self.store._all(
            "SELECT t.id, t.name, t.created_at, t.updated_at FROM tracks t WHERE t.id IN"
            " (SELECT track_id FROM track_entries WHERE artifact_id = ?) ORDER BY t.created_at",
            artifact_id,
        )
        return [dict(r) for r in rows]

    # -- writing --------------------------------------------------------------------------------

    @staticmethod
    def _refresh(db: sqlite3.Connection, collection_id: str) -> None:
        count = db.execute(
            "SELECT count(*) FROM artifacts WHERE collection_id = ?", (collection_id,)
        ).fetchone()[0]
        tags = db.execute(
            "SELECT DISTINCT j.value FROM artifacts a, json_each(a.tags) j"
            " WHERE a.collection_id = ? AND a.tags IS NOT NULL",
            (collection_id,),
        )
        keys = db.execute(
            "SELECT DISTINCT j.key FROM artifacts a, json_each(a.extra_values) j"
            " WHERE a.collection_id = ?",
            (collection_id,),
        )
        db.execute(
            "UPDATE collections SET total_artifacts = ?, artifacts_tags = ?, artifacts_extra = ?"
            " WHERE id = ?",
            (
                count,
                json.dumps(sorted(str(r[0]) for r in tags)),
                json.dumps(sorted(str(r[0]) for r in keys)),
                collection_id,
            ),
        )

    def create(
        self, orbit_id: str, collection_id: str, organization_id: str, user_id: str, body: Any
    ) -> dict[str, Any]:
        """Insert a pending_upload artifact: 409 at the quota, 500 for a null name."""
        with self.store.tx() as db:
            total = db.execute(
                "SELECT coalesce(sum(c.total_artifacts), 0) FROM collections c"
                " JOIN orbits o ON o.id = c.orbit_id WHERE o.organization_id = ?",
                (organization_id,),
            ).fetchone()[0]
            limit = db.execute(
                "SELECT artifacts_limit FROM organizations WHERE id = ?", (organization_id,)
            ).fetchone()
            if limit is not None and total >= limit[0]:
                raise HttpError(409, "Organization reached maximum number of artifacts")
            if body["name"] is None:
                raise NotNullError
            user = db.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()
            unique = uuid.uuid4().hex
            row = {
                "id": new_id(),
                "collection_id": collection_id,
                "file_name": body["file_name"],
                "name": body["name"],
                "description": body["description"],
                "extra_values": _json(body["extra_values"]),
                "manifest": _json(body["manifest"]),
                "file_hash": body["file_hash"],
                "file_index": _json(body["file_index"]),
                "bucket_location": (
                    f"orbit-{orbit_id}/collection-{collection_id}/{unique}-{body['file_name']}"
                ),
                "size": body["size"],
                "unique_identifier": unique,
                "tags": None if body["tags"] is None else _json(body["tags"]),
                "created_by_user": None if user is None else user[0],
                "status": "pending_upload",
                "type": body["type"],
                "created_at": now_iso(),
                "updated_at": None,
            }
            db.execute(
                f"INSERT INTO artifacts ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                tuple(row.values()),
            )
            self._refresh(db, collection_id)
            out = db.execute(f"SELECT {_COLS} FROM artifacts a WHERE a.id = ?", (row["id"],))
            return _render(out.fetchone())


    def update(
        self, collection_id: str, artifact_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """A partial update (only the keys sent); status transitions checked."""
        with self.store.tx() as db:
            found = db.execute(
                f"SELECT {_COLS} FROM artifacts a WHERE a.id = ?", (artifact_id,)
            ).fetchone()
            if found is None or found["collection_id"] != collection_id:
                raise HttpError(404, "Artifact not found")
            status = changes.get("status")
            if status and status not in _TRANSITIONS.get(found["status"], ()):
                raise HttpError(
                    400, f"Invalid status transition from {found['status']} to {status}"
                )
            if any(changes.get(k, "") is None for k in ("name", "status")):
                raise NotNullError
            values = {
                k: (_json(v) if k == "tags" and v is not None else v) for k, v in changes.items()
            }
            if any(found[k] != v for k, v in values.items()):
                sets = ", ".join(f"{k} = ?" for k in values)
                db.execute(
                    f"UPDATE artifacts SET {sets}, updated_at = ? WHERE id = ?",
                    (*values.values(), now_iso(), artifact_id),
                )
                if "tags" in values:
                    self._refresh(db, collection_id)
                found = db.execute(
                    f"SELECT {_COLS} FROM artifacts a WHERE a.id = ?", (artifact_id,)
                ).fetchone()
            return _render(found)

    def check_deletable(self, artifact_id: str) -> None:
        """delete-url's 409s: deployments (any status), then track entries."""
        if self.store._one("SELECT 1 FROM deployments WHERE artifact_id = ?", artifact_id):
            raise HttpError(409, "Cannot delete artifact because it is used in deployments.")
        self._check_tracks(artifact_id)

    def _check_tracks(self, artifact_id: str) -> None:
        if self.store._one("SELECT 1 FROM track_entries WHERE artifact_id = ?", artifact_id):
            raise HttpError(
                409,
                "Artifact is referenced by one or more tracks. Remove it from all tracks before"
                " deleting.",
            )

    def mark_pending_deletion(self, artifact_id: str) -> None:
        """Status -> pending_deletion (updated_at moves only if it changed)."""
        with self.store.tx() as db:
            db.execute(
                "UPDATE artifacts SET status = 'pending_deletion', updated_at = ?"
                " WHERE id = ? AND status != 'pending_deletion'",
                (now_iso(), artifact_id),
            )

    def delete(self, collection_id: str, artifact_id: str, force: bool) -> None:
        """Confirm (needs pending_deletion) or force (drops its deployments) a deletion."""
        with self.store.tx() as db:
            row = db.execute(
                "SELECT collection_id, status FROM artifacts WHERE id = ?", (artifact_id,)
            ).fetchone()
            if row is None or row["collection_id"] != collection_id:
                raise HttpError(404, "Artifact not found")
            self._check_tracks(artifact_id)
            if not force and row["status"] != "pending_deletion":
                raise HttpError(400, f"Unable to confirm deletion with status '{row['status']}'")
            if force:
                db.execute("DELETE FROM deployments WHERE artifact_id = ?", (artifact_id,))
            elif db.execute(
                "SELECT 1 FROM deployments WHERE artifact_id = ?", (artifact_id,)
            ).fetchone():
                raise ServerError("deployments still reference the artifact")
            db.execute("DELETE FROM artifacts WHERE id = ?", (artifact_id,))
            self._refresh(db, collection_id)

    # -- test helpers ---------------------------------------------------------------------------

    def rows(self, collection_id: str | None = None) -> list[dict[str, Any]]:
        """Stored artifacts, oldest first."""
        sql = f"SELECT {_COLS} FROM artifacts a"
        args: list[Any] = []
        if collection_id is not None:
            sql += " WHERE a.collection_id = ?"
            args.append(collection_id)
        return [_render(r) for r in self.store._all(sql + " ORDER BY a.created_at, a.id", *args)]

    # -- listing --------------------------------------------------------------------------------

    def _metric_keys(self, collection_ids: list[str]) -> set[str]:
        marks = ", ".join("?" * len(collection_ids))
        rows = self.store._all(
            "SELECT DISTINCT j.key FROM artifacts a, json_each(a.extra_values) j"
            f" WHERE a.collection_id IN ({marks})",
            *collection_ids,
        )
        return {str(r[0]) for r in rows}

    def list_page(
        self,
        orbit_id: str,
        *,
        collection_ids: list[str] | None,
        types: list[str] | None,
        search: str | None,
        excluded_tracks: list[str] | None,
        sort_by: str,
        order: str,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        """One page of ``GET P/artifacts`` with the platform's cursor and sort rules."""
        if collection_ids:
            marks = ", ".join("?" * len(collection_ids))
            found = {
                r[0]
                for r in self.store._all(
                    f"SELECT id FROM collections WHERE orbit_id = ? AND id IN ({marks})",
                    orbit_id,
                    *collection_ids,
                )
            }
            missing = [c for c in collection_ids if c not in found]
            if missing:
                text = "You don't have access to the following collections: " + ", ".join(missing)
                raise HttpError(404, text)
        scope = build_scope_id(
            orbit_id=_hex(orbit_id),
            collection_ids=[_hex(c) for c in collection_ids or []] or None,
            artifact_types=types,
            search=search,
            excluded_tracks=[_hex(t) for t in excluded_tracks or []] or None,
        )
        decoded = decode_cursor(cursor)
        use = (
            decoded
            if decoded is not None
            and (decoded.sort_by, decoded.order, decoded.scope_id) == (sort_by, order, scope)
            else None
        )
        # what to order by: a column, a metric (collection_ids only), or created_at
        column = sort_by
        metric: str | None = None
        if (sort_by.startswith("__") and sort_by.endswith("__")) or sort_by in _ORM_ATTRIBUTES:
            raise ServerError(f"cannot order by {sort_by}")
        if collection_ids:
            if sort_by == "extra_values":
                raise HttpError(400, "Cannot sort by 'metrics'. Pass a metric key")
            if sort_by not in FIELDS:
                if sort_by not in self._metric_keys(collection_ids):
                    raise HttpError(400, f"Invalid sorting column: {sort_by}")
                metric, column = sort_by, "extra_values"
        args: list[Any] = []
        if metric is not None:
            expr = "df_metric(a.extra_values, ?)"
            expr_args: list[Any] = [metric]
        elif sort_by in FIELDS:
            expr, expr_args = f"a.{sort_by}", []
        else:
            expr, expr_args = "a.created_at", []
        where = ["c.orbit_id = ?"]
        args.append(orbit_id)
        if types:
            where.append(f"a.type IN ({', '.join('?' * len(types))})")
            args += types
        if collection_ids:
            where.append(f"a.collection_id IN ({', '.join('?' * len(collection_ids))})")
            args += collection_ids
        if excluded_tracks:
            where.append(
                "a.id NOT IN (SELECT artifact_id FROM track_entries WHERE track_id IN"
                f" ({', '.join('?' * len(excluded_tracks))}))"
            )
            args += excluded_tracks
        if search:
            where.append("ilike(a.name, ?)")
            args.append(f"%{search}%")
        if use is not None:
            cond, cond_args = self._keyset(sort_by, metric, expr, expr_args, use, order)
            where.append(cond)
            args += cond_args
        direction = "ASC" if order == "asc" else "DESC"
        sql = (
            f"SELECT {_COLS}, c.name AS collection_name FROM artifacts a JOIN collections c"
            f" ON c.id = a.collection_id WHERE {' AND '.join(where)}"
            f" ORDER BY {expr} {direction}, a.id {direction} LIMIT ?"
        )
        try:
            rows = self.store._all(sql, *args, *expr_args, limit + 1)
        except sqlite3.OperationalError as exc:  # a metric that is not a number
            raise ServerError(str(exc)) from exc
        items = [self._listed(r) for r in rows[:limit]]
        self._attach_active_deployments(items)
        next_cursor = None
        if len(rows) > limit:
            next_cursor = self._emit(rows[limit - 1], column, metric, order, scope)
        return {"items": items, "cursor": next_cursor}

    @staticmethod
    def _keyset(
        sort_by: str,
        metric: str | None,
        expr: str,
        expr_args: list[Any],
        cursor: Cursor,
        order: str,
    ) -> tuple[str, list[Any]]:
        """The platform's keyset condition; a value of the wrong type fails like asyncpg."""
        value = cursor.value
        if value is not None:
            if metric is not None:
                ok = isinstance(value, (int, float))
            elif sort_by == "created_at":
                ok = isinstance(value, datetime)
                value = stored_time(value) if ok else value
            elif sort_by == "size":
                ok = isinstance(value, int)
            elif sort_by in _TEXT_COLUMNS or sort_by in ("id", "collection_id"):
                ok = isinstance(value, str)
            else:  # other timestamps (compared with a string), JSON columns, unknown names
                ok = False
            if not ok:
                raise ServerError(f"cursor value {value!r} does not fit {sort_by}")
        op = "<" if order == "desc" else ">"
        if value is not None:
            cond = f"(({expr} {op} ?) OR ({expr} = ? AND a.id {op} ?)"
            args = [*expr_args, value, *expr_args, value, cursor.id]
            if order == "desc":
                cond += f" OR {expr} IS NULL"
                args += expr_args
        else:
            cond = f"(({expr} IS NULL AND a.id {op} ?)"
            args = [*expr_args, cursor.id]
            if order == "asc":
                cond += f" OR {expr} IS NOT NULL"
                args += expr_args
        return cond + ")", args

    @staticmethod
    def _emit(
        row: sqlite3.Row, column: str, metric: str | None, order: str, scope: str
    ) -> str:
        """The next-page cursor from the last row (the metric sort records 'extra_values')."""
        value: Any = None
        if metric is not None:
            value = json.loads(row["extra_values"]).get(metric)
        elif column in ("created_at", "updated_at"):
            value = None if row[column] is None else iso_time(row[column])
        elif column in ("id", "collection_id"):
            raise ServerError("a UUID is not a valid cursor value")
        elif column in _JSON_FIELDS:
            value = None if row[column] is None else json.loads(row[column])
        elif column in FIELDS:
            value = row[column]
        if isinstance(value, bool):
            value = int(value)
        if value is not None and not isinstance(value, (int, float, str)):
            raise ServerError("cursor value is not int, str, float or datetime")
        return encode_cursor([_hex(row["id"]), value, column, order, _hex(scope)])

    @staticmethod
    def _listed(row: sqlite3.Row) -> dict[str, Any]:
        out = _render(row)
        out["deployments"] = []
        out["collection_name"] = row["collection_name"]
        return out

    def _attach_active_deployments(self, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        by_id = {item["id"]: item for item in items}
        rows = self.store._all(
            "SELECT id, name, status, orbit_id, artifact_id FROM deployments"
            f" WHERE status = 'active' AND artifact_id IN ({', '.join('?' * len(by_id))})"
            " ORDER BY created_at, id",
            *by_id,
        )
        for r in rows:
            by_id[r["artifact_id"]]["deployments"].append(
                {"id": r["id"], "name": r["name"], "status": r["status"], "orbit_id": r["orbit_id"]}
            )
