"""``client.tracks``: the official SDK's 13 track calls, with its names and parameters, on
``Track``, ``TrackEntry`` and ``Stage`` objects (sync and async)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any, Protocol

from . import _operations as ops
from ._errors import ValidationError
from ._ids import as_uuid
from ._protocol import Op
from ._query import QuerySet
from ._registry import Stage, StageList, Track, TrackEntry
from ._session import Session

_TRACK_SORTS = ("name", "description", "total_entries", "created_at")
_ENTRY_SORTS = {"artifact_name": "artifact_name", "description": "artifact_description",
                "stage": "stage_name", "version": "version", "created_at": "created_at"}


class _Client(Protocol):
    @property
    def session(self) -> Session: ...


def _value(option: Any) -> str:
    """An enum member (the official SDK's TrackSortBy, SortOrder, ArtifactType) as its text."""
    return str(getattr(option, "value", option))


def _order(sort_by: Any, order: Any, keys: Iterable[str]) -> tuple[str, str]:
    key, direction = _value(sort_by), _value(order)
    if key not in keys:
        raise ValidationError("sort_by", f"must be one of {', '.join(keys)}; got {key!r}")
    if direction not in ("asc", "desc"):
        raise ValidationError("order", f"must be 'asc' or 'desc', not {direction!r}")
    return key, direction


def _limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError("limit", "must be a positive integer")
    return limit


def _after(found: builtins.list[Any], start_after: str | None, limit: int
           ) -> builtins.list[Any]:
    """The objects after the one whose id is ``start_after`` (the last of a previous call),
    at most ``limit``."""
    if start_after is not None:
        ids = [o.id for o in found]
        if start_after not in ids:
            raise ValidationError("start_after", f"{start_after!r} is not in this listing; "
                                                 "pass the id of the last object of a "
                                                 "previous call")
        found = found[ids.index(start_after) + 1:]
    return found[:limit]


class _TrackCalls:
    """Each ``client.tracks`` call once, as an operation; the classes below only run them."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def _session(self) -> Session:
        return self._client.session

    def _objects(self) -> QuerySet[Track]:
        return QuerySet(Track, self._session())

    def _find_op(self, track_id: str) -> Op[Track | None]:
        """The track with this id, else the one with this exact name (every page read)."""
        if not isinstance(track_id, str):
            raise ValidationError("track_id", f"must be an id or a name (a string), not "
                                              f"{type(track_id).__name__}")
        session, ident = self._session(), as_uuid(track_id)
        if ident is not None:
            found = yield from ops.first(self._objects().filter(id=ident), session)
            if found is not None:
                return found
        try:
            return (yield from ops.get(self._objects().filter(name=track_id), session))
        except Track.DoesNotExist:
            return None
        except Track.MultipleObjectsReturned:
            raise Track.MultipleObjectsReturned(
                f"several tracks are named {track_id!r}; use its id") from None

    def _track_op(self, track_id: str) -> Op[Track]:
        found = yield from self._find_op(track_id)
        if found is None:
            raise Track.DoesNotExist(f"{track_id!r} matches no track (by id or exact name) "
                                     "in the orbit")
        return found

    def _create_op(self, name: str, artifact_type: Any, description: str | None,
                   tags: builtins.list[str] | None, stages: builtins.list[str] | None
                   ) -> Op[Track]:
        kind = ops.check_field(Track, "artifact_type", _value(artifact_type))
        track = Track(name=name, artifact_type=kind, description=description, tags=tags,
                      stages=stages)
        yield from ops.save(track, self._session())
        return track

    def _list_op(self, start_after: str | None, limit: int, sort_by: Any, order: Any,
                 search: str | None, types: builtins.list[Any] | None,
                 tags: builtins.list[str] | None) -> Op[builtins.list[Track]]:
        key, direction = _order(sort_by, order, _TRACK_SORTS)
        qs = self._objects().order_by(("-" if direction == "desc" else "") + key)
        if types:
            qs = qs.filter(artifact_type__in=[_value(t) for t in types])
        if tags:
            qs = qs.filter(tags__contains=list(tags))
        wanted = _limit(limit)
        every = start_after is not None or search is not None
        found: builtins.list[Track] = yield from ops.rows(qs, self._session(),
                                                          None if every else wanted)
        if search is not None:  # the platform's search: part of the name or of a tag
            term = str(search).lower()
            found = [t for t in found if term in t.name.lower()
                     or any(term in tag.lower() for tag in t.tags or ())]
        return _after(found, start_after, wanted)

    def _update_op(self, track_id: str, name: str | None, description: str | None,
                   tags: builtins.list[str] | None, stages: builtins.list[Any] | None
                   ) -> Op[Track]:
        track = yield from self._track_op(track_id)
        for field, value in (("name", name), ("description", description), ("tags", tags)):
            if value is not None:
                setattr(track, field, value)
        if stages is not None:
            track.stages = _stage_set(track, stages)
        yield from ops.save(track, self._session())
        return track

    def _delete_op(self, track_id: str) -> Op[None]:
        track = yield from self._track_op(track_id)
        yield from ops.delete(track, self._session())

    def _list_stages_op(self, track_id: str) -> Op[builtins.list[Stage]]:
        track = yield from self._track_op(track_id)
        return builtins.list(track.stages)

    def _add_op(self, track_id: str, artifact_id: str, stage: str | None) -> Op[TrackEntry]:
        track = yield from self._track_op(track_id)
        return (yield from ops.add_entry(track, self._session(), artifact_id, stage))

    def _entry_op(self, track_id: str, entry_id: str) -> Op[TrackEntry]:
        track = yield from self._track_op(track_id)
        ident = as_uuid(entry_id) if isinstance(entry_id, str) else None
        if ident is None:
            raise ValidationError("tracked_artifact_id", f"must be an id (a UUID), got "
                                                         f"{entry_id!r}")
        return (yield from ops.get(track.entries.filter(id=ident), self._session()))

    def _by_stage_op(self, track_id: str, stage: str) -> Op[TrackEntry]:
        track = yield from self._track_op(track_id)
        return (yield from ops.get(track.entries.filter(stage=stage), self._session()))

    def _list_entries_op(self, track_id: str, start_after: str | None, limit: int,
                         sort_by: Any, order: Any, stage: str | None
                         ) -> Op[builtins.list[TrackEntry]]:
        key, direction = _order(sort_by, order, _ENTRY_SORTS)
        track = yield from self._track_op(track_id)
        qs = track.entries.order_by(("-" if direction == "desc" else "") + _ENTRY_SORTS[key])
        if stage is not None:
            qs = qs.filter(stage=stage)
        wanted = _limit(limit)
        found: builtins.list[TrackEntry] = yield from ops.rows(
            qs, self._session(), None if start_after is not None else wanted)
        return _after(found, start_after, wanted)

    def _promote_op(self, track_id: str, entry_id: str, stage: str | None,
                    force: bool) -> Op[TrackEntry]:
        entry = yield from self._entry_op(track_id, entry_id)
        yield from ops.promote(entry, self._session(), stage, force)
        return entry

    def _remove_op(self, track_id: str, entry_id: str) -> Op[None]:
        track = yield from self._track_op(track_id)
        ident = TrackEntry._specs["id"].check(entry_id)
        yield from ops.delete(ops.entry_in(track, ident), self._session())

    def _remove_batch_op(self, track_id: str, entry_ids: builtins.list[str]) -> Op[None]:
        track = yield from self._track_op(track_id)
        yield from ops.remove_entries(track, self._session(), entry_ids)


def _stage_set(track: Track, stages: builtins.list[Any]) -> StageList:
    """The complete desired stage set (the official SDK's ``StageUpsertIn`` items, dicts
    ``{id?, name}``, names or Stage objects): items with an id rename that stage, the others
    are new; stages left out are removed."""
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Iterable):
        raise ValidationError("stages", "must be a list of stages")
    by_id = {s.id: s for s in track.stages}
    out = StageList()
    for i, item in enumerate(stages):
        if isinstance(item, (str, Stage)):
            out.append(item)
            continue
        data = item if isinstance(item, dict) else getattr(item, "__dict__", None) or {
            "id": getattr(item, "id", None), "name": getattr(item, "name", None)}
        ident = data.get("id")
        if ident is None:
            out.append(str(data.get("name")))
            continue
        stage = by_id.get(str(as_uuid(str(ident))))
        if stage is None:
            raise ValidationError(f"stages[{i}]", f"{ident!r} is not a stage of track "
                                                  f"{track.name!r}")
        stage.name = data.get("name")  # type: ignore[assignment]
        out.append(stage)
    return out


class TrackResource(_TrackCalls):
    """``client.tracks``: the official SDK's track calls, on the ORM's objects, without its
    defects (a get by name reads every page; a stage update is the replacement it is)."""

    def create(self, name: str, artifact_type: Any, description: str | None = None,
               tags: builtins.list[str] | None = None,
               stages: builtins.list[str] | None = None) -> Track:
        """Create a track with these stages (made exactly once, even after a lost answer)."""
        op = self._create_op(name, artifact_type, description, tags, stages)
        return self._session().driver.run(op)

    def list(self, start_after: str | None = None, limit: int = 100,
             sort_by: Any = "created_at", order: Any = "desc", search: str | None = None,
             types: builtins.list[Any] | None = None,
             tags: builtins.list[str] | None = None) -> builtins.list[Track]:
        """At most ``limit`` tracks in this order (``start_after``: the id of the last track
        of a previous call), narrowed by ``search`` (name or tag), ``types`` and ``tags``."""
        op = self._list_op(start_after, limit, sort_by, order, search, types, tags)
        return self._session().driver.run(op)

    def get(self, track_id: str) -> Track | None:
        """The track with this id or exact name (every page read); None if absent."""
        return self._session().driver.run(self._find_op(track_id))

    def update(self, track_id: str, name: str | None = None, description: str | None = None,
               tags: builtins.list[str] | None = None,
               stages: builtins.list[Any] | None = None) -> Track:
        """Change the given fields; ``stages`` is the complete desired set (items with an id
        rename, the others are new, the stages left out are removed)."""
        op = self._update_op(track_id, name, description, tags, stages)
        return self._session().driver.run(op)

    def delete(self, track_id: str) -> None:
        """Delete a track with its stages and entries (the artifacts stay)."""
        self._session().driver.run(self._delete_op(track_id))

    def list_stages(self, track_id: str) -> builtins.list[Stage]:
        """The track's stages."""
        return self._session().driver.run(self._list_stages_op(track_id))

    def add_artifact(self, track_id: str, artifact_id: str,
                     stage: str | None = None) -> TrackEntry:
        """Add an artifact as the track's next version, onto ``stage`` (name or id) if
        given."""
        return self._session().driver.run(self._add_op(track_id, artifact_id, stage))

    def get_artifact(self, track_id: str, tracked_artifact_id: str) -> TrackEntry:
        """The entry with this id (TrackEntry.DoesNotExist if there is none)."""
        return self._session().driver.run(self._entry_op(track_id, tracked_artifact_id))

    def get_artifact_by_stage(self, track_id: str, stage: str) -> TrackEntry:
        """The version holding ``stage`` (name or id); TrackEntry.DoesNotExist if it is
        empty."""
        return self._session().driver.run(self._by_stage_op(track_id, stage))

    def list_artifacts(self, track_id: str, start_after: str | None = None, limit: int = 50,
                       sort_by: Any = "created_at", order: Any = "desc",
                       stage: str | None = None) -> builtins.list[TrackEntry]:
        """At most ``limit`` entries in this order (``start_after``: the id of the last entry
        of a previous call), only those holding ``stage`` if given."""
        op = self._list_entries_op(track_id, start_after, limit, sort_by, order, stage)
        return self._session().driver.run(op)

    def update_artifact(self, track_id: str, tracked_artifact_id: str,
                        stage: str | None = None, force: bool = False) -> TrackEntry:
        """Move an entry onto ``stage`` (None clears it); ``force`` takes a held stage."""
        op = self._promote_op(track_id, tracked_artifact_id, stage, force)
        return self._session().driver.run(op)

    def remove_artifact(self, track_id: str, tracked_artifact_id: str) -> None:
        """Remove one entry from the track (the artifact stays)."""
        self._session().driver.run(self._remove_op(track_id, tracked_artifact_id))

    def remove_batch_artifacts(self, track_id: str,
                               tracked_artifact_ids: builtins.list[str]) -> None:
        """Remove several entries in one request; an id that is not an entry of this track
        is a ValidationError before the request."""
        self._session().driver.run(self._remove_batch_op(track_id, tracked_artifact_ids))


class AsyncTrackResource(_TrackCalls):
    """``client.tracks`` on ``AsyncDataForceClient``: the same calls, awaited."""

    async def create(self, name: str, artifact_type: Any, description: str | None = None,
                     tags: builtins.list[str] | None = None,
                     stages: builtins.list[str] | None = None) -> Track:
        """Create a track with these stages (made exactly once, even after a lost answer)."""
        op = self._create_op(name, artifact_type, description, tags, stages)
        return await self._session().async_driver.run(op)

    async def list(self, start_after: str | None = None, limit: int = 100,
                   sort_by: Any = "created_at", order: Any = "desc",
                   search: str | None = None, types: builtins.list[Any] | None = None,
                   tags: builtins.list[str] | None = None) -> builtins.list[Track]:
        """At most ``limit`` tracks in this order (``start_after``: the id of the last track
        of a previous call), narrowed by ``search`` (name or tag), ``types`` and ``tags``."""
        op = self._list_op(start_after, limit, sort_by, order, search, types, tags)
        return await self._session().async_driver.run(op)

    async def get(self, track_id: str) -> Track | None:
        """The track with this id or exact name (every page read); None if absent."""
        return await self._session().async_driver.run(self._find_op(track_id))

    async def update(self, track_id: str, name: str | None = None,
                     description: str | None = None, tags: builtins.list[str] | None = None,
                     stages: builtins.list[Any] | None = None) -> Track:
        """Change the given fields; ``stages`` is the complete desired set (items with an id
        rename, the others are new, the stages left out are removed)."""
        op = self._update_op(track_id, name, description, tags, stages)
        return await self._session().async_driver.run(op)

    async def delete(self, track_id: str) -> None:
        """Delete a track with its stages and entries (the artifacts stay)."""
        await self._session().async_driver.run(self._delete_op(track_id))

    async def list_stages(self, track_id: str) -> builtins.list[Stage]:
        """The track's stages."""
        return await self._session().async_driver.run(self._list_stages_op(track_id))

    async def add_artifact(self, track_id: str, artifact_id: str,
                           stage: str | None = None) -> TrackEntry:
        """Add an artifact as the track's next version, onto ``stage`` (name or id) if
        given."""
        return await self._session().async_driver.run(self._add_op(track_id, artifact_id,
                                                                   stage))

    async def get_artifact(self, track_id: str, tracked_artifact_id: str) -> TrackEntry:
        """The entry with this id (TrackEntry.DoesNotExist if there is none)."""
        return await self._session().async_driver.run(self._entry_op(track_id,
                                                                     tracked_artifact_id))

    async def get_artifact_by_stage(self, track_id: str, stage: str) -> TrackEntry:
        """The version holding ``stage`` (name or id); TrackEntry.DoesNotExist if it is
        empty."""
        return await self._session().async_driver.run(self._by_stage_op(track_id, stage))

    async def list_artifacts(self, track_id: str, start_after: str | None = None,
                             limit: int = 50, sort_by: Any = "created_at", order: Any = "desc",
                             stage: str | None = None) -> builtins.list[TrackEntry]:
        """At most ``limit`` entries in this order (``start_after``: the id of the last entry
        of a previous call), only those holding ``stage`` if given."""
        op = self._list_entries_op(track_id, start_after, limit, sort_by, order, stage)
        return await self._session().async_driver.run(op)

    async def update_artifact(self, track_id: str, tracked_artifact_id: str,
                              stage: str | None = None, force: bool = False) -> TrackEntry:
        """Move an entry onto ``stage`` (None clears it); ``force`` takes a held stage."""
        op = self._promote_op(track_id, tracked_artifact_id, stage, force)
        return await self._session().async_driver.run(op)

    async def remove_artifact(self, track_id: str, tracked_artifact_id: str) -> None:
        """Remove one entry from the track (the artifact stays)."""
        await self._session().async_driver.run(self._remove_op(track_id, tracked_artifact_id))

    async def remove_batch_artifacts(self, track_id: str,
                                     tracked_artifact_ids: builtins.list[str]) -> None:
        """Remove several entries in one request; an id that is not an entry of this track
        is a ValidationError before the request."""
        await self._session().async_driver.run(self._remove_batch_op(track_id,
                                                                     tracked_artifact_ids))
