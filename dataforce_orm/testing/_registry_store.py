"""SQLite state behind the track routes: tracks, their stages and entries (the registry).

Shares the Store's connection and lock. Stages made in one request share its timestamp (the
platform's ``now()`` is the transaction's), and a renamed stage moves after the others that
share its timestamp (PostgreSQL writes an updated row anew), which gives the platform's order.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from ._artifacts_store import decode_cursor, encode_cursor, iso_time, stored_time
from ._ids import new_id, now_iso
from ._store import Store, tags_text
from ._wire import HttpError, ServerError

SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    id TEXT PRIMARY KEY, orbit_id TEXT NOT NULL REFERENCES orbits(id) ON DELETE CASCADE,
    name TEXT NOT NULL, artifact_type TEXT NOT NULL, description TEXT, tags TEXT,
    next_version INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, updated_at TEXT);
CREATE INDEX IF NOT EXISTS ix_tracks_orbit ON tracks (orbit_id);
CREATE TABLE IF NOT EXISTS track_stages (
    id TEXT PRIMARY KEY, track_id TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    name TEXT NOT NULL, position INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT,
    UNIQUE (track_id, name));
CREATE TABLE IF NOT EXISTS track_entries (
    id TEXT PRIMARY KEY, track_id TEXT NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
    artifact_id TEXT NOT NULL REFERENCES artifacts(id), version INTEGER NOT NULL,
    stage_id TEXT REFERENCES track_stages(id) ON DELETE SET NULL, added_by TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT,
    UNIQUE (track_id, artifact_id), UNIQUE (track_id, version));
CREATE INDEX IF NOT EXISTS ix_track_entries_artifact ON track_entries (artifact_id);
"""
_NOT_IN_TRACK = "Stage does not belong to this track."
_DUPLICATE_STAGES = "Duplicate stage names are not allowed."

# sort keys -> SQL expressions (t: tracks, e: track_entries)
_TRACK_SORT = {
    "name": "t.name",
    "description": "t.description",
    "total_entries": "(SELECT count(*) FROM track_entries x WHERE x.track_id = t.id)",
    "created_at": "t.created_at",
}
_ENTRY_SORT = {
    "artifact_name": "a.name",
    "description": "a.description",
    "stage": "s.name",
    "version": "e.version",
    "created_at": "e.created_at",
}
_ENTRY_SQL = (
    "SELECT e.*, a.collection_id AS artifact_collection_id, a.name AS artifact_name,"
    " a.description AS artifact_description, s.name AS stage_name FROM track_entries e"
    " LEFT JOIN artifacts a ON a.id = e.artifact_id LEFT JOIN track_stages s ON s.id = e.stage_id"
)
_ENTRY_FIELDS = (
    "id", "track_id", "artifact_id", "version", "stage_id", "added_by", "created_at",
    "updated_at", "artifact_collection_id", "artifact_name", "artifact_description",
    "stage_name",
)


def _hex(uid: str) -> str:
    return uid.replace("-", "")


def _entry(row: sqlite3.Row) -> dict[str, Any]:
    return {k: row[k] for k in _ENTRY_FIELDS}


def _keyset(expr: str, value: Any, last_id: str, order: str, id_col: str) -> tuple[str, list[Any]]:
    """The platform's keyset condition (NULLs last in desc, first in asc)."""
    op = "<" if order == "desc" else ">"
    if value is not None:
        cond = f"(({expr} {op} ?) OR ({expr} = ? AND {id_col} {op} ?)"
        args: list[Any] = [value, value, last_id]
        if order == "desc":
            cond += f" OR {expr} IS NULL"
        return cond + ")", args
    cond = f"(({expr} IS NULL AND {id_col} {op} ?)"
    if order == "asc":
        cond += f" OR {expr} IS NOT NULL"
    return cond + ")", [last_id]


def _cursor_value(sort_by: str, value: Any) -> Any:
    """A decoded cursor value as the column compares it; a wrong type fails like asyncpg."""
    if value is None:
        return None
    if sort_by == "created_at":
        if not isinstance(value, datetime):
            raise ServerError(f"cursor value {value!r} is not a time")
        return stored_time(value)
    want: type = int if sort_by in ("total_entries", "version") else str
    if not isinstance(value, want) or isinstance(value, bool):
        raise ServerError(f"cursor value {value!r} does not fit {sort_by}")
    return value


def _emit(row: sqlite3.Row, key: str, sort_by: str, order: str, scope: str) -> str:
    value = row[key]
    if sort_by == "created_at":
        value = iso_time(value)
    return encode_cursor([_hex(row["id"]), value, sort_by, order, _hex(scope)])


class RegistryStore:
    """Tracks, stages and entries in the Store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._upgrade()
        store.install(SCHEMA)

    def _upgrade(self) -> None:
        """A database made before the registry has bare ``tracks``/``track_entries`` tables
        (made by the test helpers): carry their rows over into the full ones."""
        with self.store.tx() as db:
            columns = {r[1] for r in db.execute("PRAGMA table_info(track_entries)")}
            if not columns or "version" in columns:
                return
            tracks = db.execute("SELECT * FROM tracks").fetchall()
            entries = db.execute(
                "SELECT e.*, a.type FROM track_entries e JOIN artifacts a ON a.id = e.artifact_id"
                " ORDER BY e.created_at"
            ).fetchall()
            user = db.execute("SELECT value FROM meta WHERE key = 'user_id'").fetchone()
            db.execute("DROP TABLE track_entries")
            db.execute("DROP TABLE tracks")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            for t in tracks:
                mine = [e for e in entries if e["track_id"] == t["id"]]
                db.execute(
                    "INSERT INTO tracks (id, orbit_id, name, artifact_type, next_version,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (t["id"], t["orbit_id"], t["name"], mine[0]["type"] if mine else "model",
                     len(mine) + 1, t["created_at"], t["updated_at"]),
                )
                for version, e in enumerate(mine, 1):
                    db.execute(
                        "INSERT INTO track_entries (id, track_id, artifact_id, version,"
                        " added_by, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (new_id(), t["id"], e["artifact_id"], version,
                         user[0] if user else new_id(), e["created_at"]),
                    )

    # -- reading --------------------------------------------------------------------------------

    def track_orbit(self, track_id: str) -> str | None:
        """The orbit a track is in; None: no such track."""
        row = self.store._one("SELECT orbit_id FROM tracks WHERE id = ?", track_id)
        return None if row is None else str(row[0])

    def track(self, track_id: str) -> dict[str, Any] | None:
        """A Track as the API returns it."""
        with self.store._lock:
            row = self.store._one("SELECT * FROM tracks WHERE id = ?", track_id)
            return None if row is None else self._track_out(row)

    def _track_out(self, row: sqlite3.Row) -> dict[str, Any]:
        total = self.store._one(
            "SELECT count(*) FROM track_entries WHERE track_id = ?", row["id"]
        )
        return {
            "id": row["id"],
            "name": row["name"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "orbit_id": row["orbit_id"],
            "artifact_type": row["artifact_type"],
            "description": row["description"],
            "tags": None if row["tags"] is None else json.loads(row["tags"]),
            "stages": self.stages(row["id"]),
            "next_version": row["next_version"],
            "total_entries": total[0] if total else 0,
        }

    def stages(self, track_id: str) -> list[dict[str, Any]]:
        """A track's stages, in the platform's order."""
        rows = self.store._all(
            "SELECT s.*, EXISTS (SELECT 1 FROM track_entries e WHERE e.stage_id = s.id) AS used"
            " FROM track_stages s WHERE s.track_id = ? ORDER BY s.created_at, s.position",
            track_id,
        )
        return [
            {
                "id": r["id"],
                "track_id": r["track_id"],
                "name": r["name"],
                "is_used": bool(r["used"]),
                "created_at": r["created_at"],
                "updated_at": r["updated_at"],
            }
            for r in rows
        ]

    def stage_track(self, stage_id: str) -> str | None:
        """The track a stage belongs to; None: no such stage."""
        row = self.store._one("SELECT track_id FROM track_stages WHERE id = ?", stage_id)
        return None if row is None else str(row[0])

    def entry(self, entry_id: str) -> dict[str, Any] | None:
        """A TrackEntry as the API returns it."""
        row = self.store._one(_ENTRY_SQL + " WHERE e.id = ?", entry_id)
        return None if row is None else _entry(row)

    def entry_by_stage(self, track_id: str, stage_id: str) -> dict[str, Any] | None:
        """The entry holding a stage of a track."""
        row = self.store._one(
            _ENTRY_SQL + " WHERE e.track_id = ? AND e.stage_id = ?", track_id, stage_id
        )
        return None if row is None else _entry(row)

    def entries_of_artifact(self, artifact_id: str) -> list[dict[str, Any]]:
        """Every entry of an artifact, in any track, oldest first."""
        rows = self.store._all(
            _ENTRY_SQL + " WHERE e.artifact_id = ? ORDER BY e.created_at, e.id", artifact_id
        )
        return [_entry(r) for r in rows]

    # -- listing --------------------------------------------------------------------------------

    def _page(
        self,
        sql: str,
        where: list[str],
        args: list[Any],
        expr: str,
        id_col: str,
        scope: str,
        query: dict[str, Any],
    ) -> tuple[list[sqlite3.Row], str | None]:
        sort_by, order, limit = query["sort_by"], query["order"], query["limit"]
        decoded = decode_cursor(query["cursor"])
        if decoded is not None and (decoded.sort_by, decoded.order, decoded.scope_id) == (
            sort_by, order, scope
        ):
            cond, cond_args = _keyset(
                expr, _cursor_value(sort_by, decoded.value), decoded.id, order, id_col
            )
            where, args = [*where, cond], [*args, *cond_args]
        direction = "ASC" if order == "asc" else "DESC"
        rows = self.store._all(
            f"{sql} WHERE {' AND '.join(where)}"
            f" ORDER BY sort_value {direction}, {id_col} {direction} LIMIT ?",
            *args,
            limit + 1,
        )
        cursor = None
        if len(rows) > limit:
            cursor = _emit(rows[limit - 1], "sort_value", sort_by, order, scope)
        return rows[:limit], cursor

    def list_tracks(self, orbit_id: str, query: dict[str, Any]) -> dict[str, Any]:
        """One keyset page of an orbit's tracks (a cursor of another query is ignored)."""
        expr = _TRACK_SORT[query["sort_by"]]
        where, args = ["t.orbit_id = ?"], [orbit_id]
        if query["search"]:
            # the tags' JSON text: "null" for a track made without tags, as on the platform
            where.append("(ilike(t.name, ?) OR ilike(coalesce(t.tags, 'null'), ?))")
            args += ["%" + query["search"] + "%"] * 2
        if query["types"]:
            where.append(f"t.artifact_type IN ({', '.join('?' * len(query['types']))})")
            args += query["types"]
        with self.store._lock:
            rows, cursor = self._page(
                f"SELECT t.*, {expr} AS sort_value FROM tracks t", where, args, expr, "t.id",
                orbit_id, query,
            )
            return {"items": [self._track_out(r) for r in rows], "cursor": cursor}

    def list_entries(self, track_id: str, query: dict[str, Any]) -> dict[str, Any]:
        """One keyset page of a track's entries, optionally of one stage."""
        expr = _ENTRY_SORT[query["sort_by"]]
        where, args = ["e.track_id = ?"], [track_id]
        if query["stage"] is not None:
            where.append("e.stage_id = ?")
            args.append(query["stage"])
        sql = _ENTRY_SQL.replace("SELECT e.*,", f"SELECT e.*, {expr} AS sort_value,", 1)
        rows, cursor = self._page(sql, where, args, expr, "e.id", track_id, query)
        return {"items": [_entry(r) for r in rows], "cursor": cursor}

    # -- writing --------------------------------------------------------------------------------

    @staticmethod
    def _add_stage(db: sqlite3.Connection, track_id: str, name: str, now: str) -> None:
        try:
            db.execute(
                "INSERT INTO track_stages (id, track_id, name, position, created_at)"
                " VALUES (?, ?, ?, (SELECT coalesce(max(position), 0) + 1 FROM track_stages"
                " WHERE track_id = ?), ?)",
                (new_id(), track_id, name, track_id, now),
            )
        except sqlite3.IntegrityError as exc:
            raise HttpError(409, _DUPLICATE_STAGES) from exc

    def create_track(self, orbit_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Insert a track and its stages (one timestamp); 409 for repeated stage names."""
        track_id, now = new_id(), now_iso()
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO tracks (id, orbit_id, name, artifact_type, description, tags,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (track_id, orbit_id, fields["name"], fields["artifact_type"],
                 fields["description"], tags_text(fields["tags"]), now),
            )
            for name in fields["stages"]:
                self._add_stage(db, track_id, name, now)
        out = self.track(track_id)
        assert out is not None
        return out

    def update_track(self, track_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Set the fields sent; ``stages`` (when not null) is the complete desired set.
        None: no such track (in any orbit). A null name fails like the NOT NULL column."""
        now = now_iso()
        with self.store.tx() as db:
            row = db.execute("SELECT * FROM tracks WHERE id = ?", (track_id,)).fetchone()
            if row is None:
                return None
            values = {k: fields[k] for k in ("name", "description", "tags") if k in fields}
            if "name" in values and values["name"] is None:
                raise ServerError("null value in column name")
            if "tags" in values:
                values["tags"] = tags_text(values["tags"])
            changed = {k: v for k, v in values.items() if row[k] != v}
            if changed:
                db.execute(
                    f"UPDATE tracks SET {', '.join(f'{k} = ?' for k in changed)},"
                    " updated_at = ? WHERE id = ?",
                    [*changed.values(), now, track_id],
                )
            if fields.get("stages") is not None:
                self._sync_stages(db, track_id, fields["stages"], now)
        return self.track(track_id)

    def _sync_stages(
        self, db: sqlite3.Connection, track_id: str, desired: list[dict[str, Any]], now: str
    ) -> None:
        """Rename those with an id, add those without, delete the rest (409 if held).

        Renames and inserts are written before the deletes, one row at a time, so a name
        that is still taken at that moment (even by a stage being removed) is a duplicate."""
        current = db.execute(
            "SELECT id, name FROM track_stages WHERE track_id = ? ORDER BY created_at, position",
            (track_id,),
        ).fetchall()
        names = {r["id"]: r["name"] for r in current}
        if any(item["id"] is not None and item["id"] not in names for item in desired):
            raise HttpError(422, _NOT_IN_TRACK)
        keep = {item["id"] for item in desired if item["id"] is not None}
        doomed = [r for r in current if r["id"] not in keep]
        held = [
            r for r in doomed
            if db.execute("SELECT 1 FROM track_entries WHERE stage_id = ?", (r["id"],)).fetchone()
        ]
        if held:
            listed = ", ".join(f"'{r['name']}' ({r['id']})" for r in held)
            raise HttpError(409, f"Cannot remove stages that are assigned to a version: {listed}.")
        try:
            for item in desired:
                if item["id"] is not None and names[item["id"]] != item["name"]:
                    db.execute(
                        "UPDATE track_stages SET name = ?, updated_at = ?, position = (SELECT"
                        " max(position) + 1 FROM track_stages WHERE track_id = ?) WHERE id = ?",
                        (item["name"], now, track_id, item["id"]),
                    )
        except sqlite3.IntegrityError as exc:
            raise HttpError(409, _DUPLICATE_STAGES) from exc
        for item in desired:
            if item["id"] is None:
                self._add_stage(db, track_id, item["name"], now)
        for r in doomed:
            db.execute("DELETE FROM track_stages WHERE id = ?", (r["id"],))

    def delete_track(self, track_id: str) -> bool:
        """Delete a track with its stages and entries; False when there is none."""
        with self.store.tx() as db:
            return db.execute("DELETE FROM tracks WHERE id = ?", (track_id,)).rowcount > 0

    def _check_stage(self, db: sqlite3.Connection, track_id: str, stage_id: str) -> str:
        """The stage's name; 422 unless it is a stage of this track."""
        row = db.execute("SELECT track_id, name FROM track_stages WHERE id = ?", (stage_id,))
        found = row.fetchone()
        if found is None or found["track_id"] != track_id:
            raise HttpError(422, _NOT_IN_TRACK)
        return str(found["name"])

    @staticmethod
    def _holder(db: sqlite3.Connection, track_id: str, stage_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = db.execute(
            "SELECT id, version FROM track_entries WHERE track_id = ? AND stage_id = ?",
            (track_id, stage_id),
        ).fetchone()
        return row

    def create_entry(
        self, track_id: str, orbit_id: str, artifact_id: str, stage_id: str | None, user: str
    ) -> dict[str, Any]:
        """Add an artifact as the track's next version, with the platform's checks in order."""
        entry_id = new_id()
        with self.store.tx() as db:
            track = db.execute(
                "SELECT artifact_type FROM tracks WHERE id = ?", (track_id,)
            ).fetchone()
            artifact = db.execute(
                "SELECT a.type, c.orbit_id FROM artifacts a JOIN collections c"
                " ON c.id = a.collection_id WHERE a.id = ?",
                (artifact_id,),
            ).fetchone()
            if track is None or artifact is None:
                raise HttpError(404, "Artifact not found" if track else "Track not found")
            if artifact["type"] != track["artifact_type"]:
                raise HttpError(
                    400,
                    f"Artifact type '{artifact['type']}' does not match track artifact type"
                    f" '{track['artifact_type']}'.",
                )
            if artifact["orbit_id"] != orbit_id:
                raise HttpError(422, "Artifact must belong to the same orbit as the track.")
            if stage_id is not None:
                name = self._check_stage(db, track_id, stage_id)
                holder = self._holder(db, track_id, stage_id)
                if holder is not None:
                    raise HttpError(
                        409, f"Stage '{name}' is already assigned to v{holder['version']}."
                    )
            version = db.execute(
                "SELECT next_version FROM tracks WHERE id = ?", (track_id,)
            ).fetchone()[0]
            db.execute("UPDATE tracks SET next_version = ? WHERE id = ?", (version + 1, track_id))
            try:
                db.execute(
                    "INSERT INTO track_entries (id, track_id, artifact_id, version, stage_id,"
                    " added_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (entry_id, track_id, artifact_id, version, stage_id, user, now_iso()),
                )
            except sqlite3.IntegrityError as exc:  # the version is not spent: rolled back
                raise HttpError(409, "Artifact is already an entry in this track.") from exc
        out = self.entry(entry_id)
        assert out is not None
        return out

    def update_entry(
        self, track_id: str, entry_id: str, stage_id: str | None, force: bool
    ) -> dict[str, Any]:
        """Point the entry at a stage (None clears it); ``force`` takes a held stage."""
        now = now_iso()
        with self.store.tx() as db:
            row = db.execute(
                "SELECT track_id FROM track_entries WHERE id = ?", (entry_id,)
            ).fetchone()
            if row is None or row["track_id"] != track_id:
                raise HttpError(404, "Entry not found")
            if stage_id is not None:
                name = self._check_stage(db, track_id, stage_id)
                holder = self._holder(db, track_id, stage_id)
                if holder is not None and holder["id"] != entry_id and not force:
                    raise HttpError(
                        409,
                        f"Stage '{name}' is already assigned to v{holder['version']}."
                        " Use force to reassign.",
                    )
                if force:
                    db.execute(
                        "UPDATE track_entries SET stage_id = NULL, updated_at = ?"
                        " WHERE track_id = ? AND stage_id = ?",
                        (now, track_id, stage_id),
                    )
            db.execute(
                "UPDATE track_entries SET stage_id = ?, updated_at = ? WHERE id = ?"
                " AND stage_id IS NOT ?",
                (stage_id, now, entry_id, stage_id),
            )
        out = self.entry(entry_id)
        assert out is not None
        return out

    def delete_entry(self, track_id: str, entry_id: str) -> None:
        """Delete one entry of this track (404 otherwise)."""
        with self.store.tx() as db:
            cur = db.execute(
                "DELETE FROM track_entries WHERE id = ? AND track_id = ?", (entry_id, track_id)
            )
            if cur.rowcount == 0:
                raise HttpError(404, "Entry not found")

    def delete_entries(self, track_id: str, entry_ids: list[str]) -> None:
        """Delete those of the ids that are entries of this track; skip the others."""
        with self.store.tx() as db:
            db.execute(
                f"DELETE FROM track_entries WHERE track_id = ? AND id IN"
                f" ({', '.join('?' * len(entry_ids))})",
                (track_id, *entry_ids),
            )

    # -- test helpers ---------------------------------------------------------------------------

    def add_artifact(self, artifact_id: str, name: str, track_id: str | None, user: str) -> str:
        """Put an artifact into a track (a new one of its type, in its orbit, unless track_id);
        nothing happens when it is already there. KeyError: no such artifact or track."""
        with self.store._lock:
            found = self.store._one(
                "SELECT a.type, c.orbit_id FROM artifacts a JOIN collections c"
                " ON c.id = a.collection_id WHERE a.id = ?",
                artifact_id,
            )
            if found is None:
                raise KeyError(artifact_id)
            if track_id is None:
                track_id = self.create_track(
                    found["orbit_id"],
                    {"name": name, "artifact_type": found["type"], "description": None,
                     "tags": None, "stages": []},
                )["id"]
            elif self.track_orbit(track_id) is None:
                raise KeyError(track_id)
            if self.store._one(
                "SELECT 1 FROM track_entries WHERE track_id = ? AND artifact_id = ?",
                track_id, artifact_id,
            ) is None:
                try:
                    self.create_entry(track_id, found["orbit_id"], artifact_id, None, user)
                except HttpError as exc:
                    raise ValueError(exc.message) from None
        return track_id

    def remove_artifact(self, track_id: str, artifact_id: str) -> None:
        """Take an artifact out of a track; KeyError when it is not in it."""
        with self.store.tx() as db:
            cur = db.execute(
                "DELETE FROM track_entries WHERE track_id = ? AND artifact_id = ?",
                (track_id, artifact_id),
            )
            if cur.rowcount == 0:
                raise KeyError((track_id, artifact_id))
