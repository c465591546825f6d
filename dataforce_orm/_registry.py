"""The model registry: tracks (version lines of artifacts), their stages, and their entries.

``Track`` and ``TrackEntry`` are declared on the resource layer like every model; ``Stage`` is
a small value kept in ``track.stages``. What the platform leaves to its clients is done here:
the stage set is sent whole and only when it changed, a stage's holder is found through the
entry listing's stage filter (never the by-stage route, which answers 500 for an empty
stage), a track is addressed through its own orbit, and edits the platform would silently
ignore are refused before any request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar, SupportsIndex, cast

import attrs

from . import _errors as errors
from ._artifacts import Artifact, ArtifactType
from ._capabilities import CursorPages
from ._errors import ConflictError, ValidationError
from ._fields import check_str, field
from ._listing import PAGE, Pager, count_op, rows_op
from ._outcomes import send_update_op
from ._protocol import Op, Request
from ._query import QuerySet, collect
from ._resource import Model, load_one
from ._session import Session, current_session
from ._wire import converter, parse_time

TRACK_TYPES = frozenset(t.value for t in ArtifactType)


# -- stages -------------------------------------------------------------------------------------


def _stage_name(value: object, where: str = "name") -> str:
    return check_str(where, value, empty_ok=False)


@attrs.define(eq=False, repr=False)
class Stage:
    """A stage of a track ("staging", "production"): a name at most one version holds.

    Rename one with ``stage.name = "prod"`` and ``track.save()``; the other fields come from
    the server.
    """

    name: str = field("str", doc="the stage's name, unique in its track",
                      checked=False)
    id: str | None = field("id", checked=False, doc="the stage's id (None until saved)")
    track_id: str | None = field("id", checked=False, doc="the track it belongs to")
    is_used: bool = field("bool", default=False, checked=False,
                          doc="whether a version held it when the track was loaded")
    created_at: datetime | None = field("time", checked=False, doc="when it was made")
    updated_at: datetime | None = field("time", checked=False, doc="when it was last renamed")

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "name":
            value = _stage_name(value, "stages.name")
        object.__setattr__(self, key, value)

    def __repr__(self) -> str:
        return f"Stage(name={self.name!r}, id={self.id!r})"

    def __str__(self) -> str:
        return self.name

    def to_dict(self) -> dict[str, Any]:
        """The stage as plain data."""
        return attrs.asdict(self)


def _load_stage(value: Any) -> Stage:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) \
            or not isinstance(value.get("name"), str):
        raise TypeError("expected a stage with a string id and name")
    stage = Stage.__new__(Stage)
    for key, default in (("id", None), ("name", ""), ("track_id", None), ("is_used", False)):
        object.__setattr__(stage, key, value.get(key, default))
    for key in ("created_at", "updated_at"):
        raw = value.get(key)
        object.__setattr__(stage, key, None if raw is None else parse_time(raw))
    return stage


class StageList(list[Stage]):
    """``track.stages``: a list of ``Stage``; ``append``/``insert`` take a name too,
    ``remove`` a name or a stage. Any change is sent by ``track.save()`` as the complete set."""

    def __init__(self, items: Iterable[Stage | str] = ()) -> None:
        super().__init__()
        for item in items:
            self.append(item)

    @staticmethod
    def _stage(item: Stage | str) -> Stage:
        if isinstance(item, Stage):
            return item
        return Stage(name=_stage_name(item, "stages"))

    def _check_new(self, stage: Stage) -> None:
        if any(s.name == stage.name for s in self):
            raise ValidationError("stages", f"the track already has a stage {stage.name!r}")

    def append(self, item: Stage | str) -> None:
        """Add a stage (a name, or a ``Stage``) at the end."""
        stage = self._stage(item)
        self._check_new(stage)
        super().append(stage)

    def insert(self, index: SupportsIndex, item: Stage | str) -> None:
        """Add a stage (a name, or a ``Stage``) before ``index``."""
        stage = self._stage(item)
        self._check_new(stage)
        super().insert(index, stage)

    def remove(self, item: Stage | str) -> None:
        """Remove the stage of this name (or this stage); ValueError if there is none."""
        super().remove(self.named(item.name if isinstance(item, Stage) else item))

    def named(self, name: str) -> Stage:
        """The stage of this name; a ValueError naming the stages if there is none."""
        for stage in self:
            if stage.name == name:
                return stage
        raise ValueError(f"no stage {name!r}; stages: {', '.join(s.name for s in self) or '-'}")

    @property
    def names(self) -> list[str]:
        """The stages' names, in order."""
        return [s.name for s in self]

    def __repr__(self) -> str:
        return repr(self.names)


def _to_stages(value: Any) -> StageList:
    if isinstance(value, StageList):
        return value
    if value is None:
        return StageList()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("stages", f"must be a list of stage names, not "
                                        f"{type(value).__name__}")
    return StageList(value)


def _structure_stages(value: Any, _: object) -> StageList:
    if value is None:
        return StageList()
    if not isinstance(value, list):
        raise TypeError("expected a list of stages")
    out = StageList()
    list.extend(out, (_load_stage(v) for v in value))
    return out


converter.register_structure_hook(StageList, _structure_stages)


def _wire_stages(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The stages of a wire track that have a string name."""
    stages = data.get("stages")
    return [s for s in stages if isinstance(s, dict) and isinstance(s.get("name"), str)] \
        if isinstance(stages, list) else []


def _pairs(stages: Iterable[Any]) -> list[tuple[str, str]]:
    """A stage set as (id, name) pairs, sorted: what a change is judged by."""
    out = [(s.get("id"), s.get("name")) if isinstance(s, dict) else (s.id, s.name)
           for s in stages]
    return sorted((str(i or ""), str(n)) for i, n in out)


# -- tracks -------------------------------------------------------------------------------------


@attrs.define(slots=True, eq=False, repr=False)
class Track(CursorPages, Model):
    """A version line of models, datasets or experiments in an orbit, with its stages.

    ``Track.objects.get_or_create(name=..., defaults={"artifact_type": ..., "stages": [...]})``;
    ``track.entries`` holds its versions (``add``, ``get(stage=...)``, ``filter``, ``remove``);
    ``track.stages`` its stages (a change is sent whole by ``save()``). A track is always
    read and written through the orbit it is in.
    """

    _path = "/v1/organizations/{organization}/orbits/{orbit}/tracks"
    _parent_fields: ClassVar[dict[str, str]] = {"orbit": "orbit_id"}
    _default_order = ("-created_at",)

    id: str | None = field("id", doc="the track's id (None until saved)")
    name: str = field("str", default="", create=True, editable=True, required=True,
                      update_nonempty=True, search=True, sort="name",
                      doc="the track's name (not unique in the orbit)")
    artifact_type: ArtifactType | None = field(
        "enum", create=True, required=True, enum=ArtifactType, server_filter="types",
        server_values=TRACK_TYPES,
        doc="what its versions are: model, dataset or experiment (set at creation only)")
    description: str | None = field("str", create=True, editable=True, nullable=True,
                                    sort="description", doc="what the track is for")
    tags: list[str] | None = field("tags", create=True, editable=True, max_items=None,
                                   max_len=None, search=True, doc="the track's tags")
    stages: StageList = attrs.field(factory=StageList, converter=_to_stages, metadata={
        "doc": "the track's stages, a list of Stage (a change is sent whole by save())"})
    orbit_id: str | None = field("id", checked=False, doc="the orbit the track is in")
    next_version: int = field("num", default=1, doc="the version the next entry will get")
    total_entries: int = field("num", default=0, sort="total_entries",
                               doc="how many versions the track holds")
    created_at: datetime | None = field("time", sort="created_at", doc="when it was made")
    updated_at: datetime | None = field("time", doc="when it was last changed")
    # What the PATCH of a stage set sent (sent again if its answer was lost).
    _stage_body: list[dict[str, Any]] | None = attrs.field(default=None, init=False,
                                                             repr=False)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, stages={self.stages!r})"

    @property
    def entries(self) -> TrackEntryQuerySet:
        """The track's versions: ``add(artifact)``, ``get(stage=...)``, ``filter(...)``,
        ``latest("version")``, ``count()``, ``remove([...])``."""
        return TrackEntryQuerySet.of(self)

    def to_dict(self) -> dict[str, Any]:
        """The public fields as plain data (stages as dicts)."""
        out = super().to_dict()
        out["stages"] = [s.to_dict() for s in self.stages]
        return out

    def stage(self, ref: Stage | str) -> Stage:
        """The stage ``ref`` means: a ``Stage``, a name or an id; a ValidationError
        naming the track's stages if it has none such."""
        if isinstance(ref, Stage):
            if ref not in self.stages and ref.id not in {s.id for s in self.stages}:
                raise ValidationError("stage", f"{ref.name!r} is not a stage of track "
                                               f"{self.name!r}")
            return ref
        if not isinstance(ref, str):
            raise ValidationError("stage", f"must be a Stage, a stage name or None, not "
                                           f"{type(ref).__name__}")
        for s in self.stages:
            if ref in (s.name, s.id):
                if s.id is None:
                    raise ValidationError("stage", f"{ref!r} is not saved yet; save() the "
                                                   "track first")
                return s
        raise ValidationError("stage", f"track {self.name!r} has no stage {ref!r}; its "
                                       f"stages: {', '.join(self.stages.names) or 'none'} "
                                       "(refresh() the track if it changed elsewhere)")

    # -- the stage set, beside the declared fields ------------------------------------------

    @classmethod
    def _snapshot_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        snap = super()._snapshot_of(data)
        stages = _wire_stages(data)
        snap["stages"] = sorted(s["name"] for s in stages)
        snap["stage_pairs"] = _pairs(stages)
        return snap

    def _local(self, name: str) -> Any:
        if name == "stages":
            return sorted(self.stages.names)
        return super()._local(name)

    def changed_fields(self) -> list[str]:
        """Editable fields (and ``stages``) that differ from what was last loaded or
        saved."""
        out = super().changed_fields()
        snap = self._snapshot
        if snap is None or _pairs(self.stages) != snap.get("stage_pairs"):
            out.append("stages")
        return out

    def _validate(self, *, creating: bool, only: list[str] | None = None) -> None:
        super()._validate(creating=creating, only=only)
        names = [_stage_name(s.name, "stages") for s in self.stages]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValidationError("stages", f"stage names must be unique; repeated: "
                                            f"{', '.join(repeated)}")
        if self.artifact_type is not None and str(self.artifact_type) not in TRACK_TYPES:
            raise ValidationError("artifact_type", f"must be one of "
                                                   f"{', '.join(sorted(TRACK_TYPES))}")

    def _create_body(self) -> dict[str, Any]:
        return {**super()._create_body(), "stages": self.stages.names}

    @classmethod
    def _made_by(cls, item: dict[str, Any], body: dict[str, Any]) -> bool:
        """A lost create's track: the same fields, and stages of the same names."""
        names = sorted(s["name"] for s in _wire_stages(item))
        return names == sorted(body["stages"]) and super()._made_by(
            item, {k: v for k, v in body.items() if k != "stages"})

    def _save_op(self, session: Session, force: bool,
                 update_fields: Iterable[str] | None) -> Op[None]:
        if self.pk is not None and self._snapshot is not None:
            was = self._snapshot.get("artifact_type")
            now = self._local("artifact_type")
            if was is not None and now != was:
                raise ValidationError("artifact_type", f"cannot change after create (the "
                                                       f"platform keeps {was!r})")
        yield from super()._save_op(session, force, update_fields)

    def _update_op(self, session: Session, force: bool, changed: list[str],
                   snap: dict[str, Any], blind: bool) -> Op[None]:
        """A partial PATCH of the changed fields; with ``stages`` the complete desired set
        of ``{id?, name}`` (stages left out are deleted by the platform)."""
        body = {self._specs[f].key: self._local(f) for f in changed if f != "stages"}
        if "stages" in changed:
            body["stages"] = [{"id": s.id, "name": s.name} if s.id else {"name": s.name}
                              for s in self.stages]
            object.__setattr__(self, "_stage_body", body["stages"])
        path = yield from self._own_path_op(session)
        req = Request("PATCH", path, json=body)
        try:
            data = yield from send_update_op(self, session, req, changed,
                                             {f: self._local(f) for f in changed}, snap,
                                             force or blind)
        except ConflictError as exc:
            if "stages" in changed and "assigned to a version" in exc.detail:
                yield from self._held_stages_op(session, exc)
            raise
        self._absorb(req, data, session)

    def _resend_body(self, pending: list[str], changed: list[str], values: dict[str, Any],
                     server: dict[str, Any]) -> dict[str, Any]:
        body = super()._resend_body([f for f in pending if f != "stages"], changed, values,
                                    server)
        if "stages" in pending:
            body["stages"] = self._stage_body
        return body

    def _held_stages_op(self, session: Session, exc: ConflictError) -> Op[None]:
        """The platform refused to remove stages that versions hold: say which versions."""
        kept = {s.id for s in self.stages}
        dropped = [(i, n) for i, n in (self._snapshot or {}).get("stage_pairs", [])
                   if i not in kept]
        held = []
        for ident, name in dropped:
            holder = yield from self.entries._holder_op(session, ident)
            if holder is not None:
                held.append(f"{name!r} is held by v{holder.version} (entry {holder.id})")
        if held:
            raise ConflictError(409, exc.method, exc.url, (
                f"cannot remove stages that a version holds: {'; '.join(held)}; promote "
                "those versions elsewhere (entry.promote(None) clears a stage) first")) from None

    def _absorb(self, req: Request, data: Any, session: Session) -> None:
        super()._absorb(req, data, session)
        object.__setattr__(self, "_stage_body", None)

    # -- the entries of an artifact ----------------------------------------------------------

    @classmethod
    def _entries_of_op(cls, session: Session, art: Artifact) -> Op[list[TrackEntry]]:
        """Every entry of ``art``: a walk of the orbit's tracks of its type, and of each
        one's entries (there is no route by artifact)."""
        tracks = QuerySet(cls, session)
        if art.type is not None:
            tracks = tracks.filter(artifact_type=art.type)
        found: list[TrackEntry] = []
        for track in (yield from collect(tracks._rows_op(session))):
            mine = track.entries.filter(artifact_id=art.pk)
            found.extend((yield from collect(mine._rows_op(session))))
        return found

    @classmethod
    def _blocked_delete_op(cls, session: Session, art: Artifact,
                           exc: errors.ConflictError) -> Op[None]:
        """After the platform refused to delete ``art`` for its track entries: a
        ConflictError that names them and says to remove them first."""
        entries = yield from cls._entries_of_op(session, art)
        if not entries:
            return
        named = ", ".join(f"v{e.version} of track {e.track.name!r}" for e in entries)
        raise ConflictError(409, exc.method, exc.url, (
            f"artifact {art.name!r} is held by tracks: it is {named}; remove those entries "
            "first (track.entries.remove([...])), then delete it")) from None


# -- entries ------------------------------------------------------------------------------------


@attrs.define(slots=True, eq=False, repr=False)
class TrackEntry(CursorPages, Model):
    """One version of a track: an artifact as version N, perhaps holding a stage.

    Made by ``track.entries.add(artifact)``; ``promote("production")`` moves it onto a stage
    (``force=True`` takes the stage from its holder, ``None`` clears it); ``delete()`` removes
    the entry (the artifact stays).
    """

    _path = "/v1/organizations/{organization}/orbits/{orbit}/tracks/{track}/entries"
    _parent_fields: ClassVar[dict[str, str]] = {"track": "track_id", "orbit": "_orbit_id"}
    _default_order = ("-created_at",)
    _noun = "track entry"

    id: str | None = field("id", doc="the entry's id (None until saved)")
    track_id: str | None = field("id", checked=False, doc="the track it is a version of")
    artifact_id: str | None = field("id", create=True, doc="the artifact it registers")
    version: int | None = field("num", sort="version",
                                doc="its version number in the track (never reused)")
    stage_id: str | None = field("id", create=True, editable=True, server_filter="stage",
                                 doc="the id of the stage it holds, or None")
    stage_name: str | None = field("str", sort="stage", doc="the name of the stage it holds")
    artifact_name: str | None = field("str", sort="artifact_name", doc="the artifact's name")
    artifact_description: str | None = field("str", sort="description",
                                             doc="the artifact's description")
    artifact_collection_id: str | None = field("id", checked=False,
                                               doc="the collection holding the artifact")
    added_by: str | None = field("str", shown=False, doc="the id of the user who added it")
    created_at: datetime | None = field("time", sort="created_at", doc="when it was added")
    updated_at: datetime | None = field("time", doc="when its stage last changed")
    _orbit_id: str | None = attrs.field(default=None, init=False, repr=False)
    _track: Track | None = attrs.field(default=None, init=False, repr=False)

    @classmethod
    def _snapshot_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {**super()._snapshot_of(data), "version": data.get("version")}

    def _save_op(self, session: Session, force: bool,
                 update_fields: Iterable[str] | None) -> Op[None]:
        snap = self._snapshot
        if self.pk is not None and snap is not None:
            for name in ("artifact_id", "version"):
                if snap.get(name) is not None and getattr(self, name) != snap[name]:
                    raise ValidationError(name, "cannot change after the entry is made (the "
                                                "platform ignores it); add the artifact as a "
                                                "new version instead")
        if self.pk is None and self._orbit_id is None and self._track is not None:
            object.__setattr__(self, "_orbit_id", self._track.orbit_id)
        yield from super()._save_op(session, force, update_fields)

    @classmethod
    def _get_by_id_op(cls, session: Session, ident: str,
                      parents: dict[str, str] | None = None) -> Op[TrackEntry]:
        """The entry with this id. The platform answers an unknown entry with a 500: then the
        track's listing says whether it exists."""
        if not (parents or {}).get("track"):
            raise ValidationError("track_id", "a track entry lives inside a track; it is not "
                                              "known here")
        path = yield from cls._path_op(session, parents, ident=ident)
        req = Request("GET", path)
        try:
            data = (yield req).data
        except errors.NotFoundError:
            raise cls.DoesNotExist(f"no track entry with id {ident!r}") from None
        except errors.ServerError:
            listed = yield from collect(_InTrack(parents or {})._listing_op(session))
            if not any(e.pk == ident for e in listed):
                raise cls.DoesNotExist(f"no track entry with id {ident!r}") from None
            raise
        obj = load_one(cls, req, data, session)
        object.__setattr__(obj, "_orbit_id", (parents or {}).get("orbit"))
        return obj

    @property
    def track(self) -> Track:
        """The track it is a version of (the one it was listed from, else one GET); in async
        code, ``await entry.atrack()``."""
        session = self._session_for(None)
        return session.driver.run(self._track_op(session))

    async def atrack(self) -> Track:
        """Async ``track``."""
        session = self._session_for(None)
        return await session.async_driver.run(self._track_op(session))

    @property
    def artifact(self) -> Artifact:
        """The artifact this version registers (one GET); in async code,
        ``await entry.aartifact()``."""
        session = self._session_for(None)
        return session.driver.run(self._artifact_op(session))

    async def aartifact(self) -> Artifact:
        """Async ``artifact``."""
        session = self._session_for(None)
        return await session.async_driver.run(self._artifact_op(session))

    def _artifact_op(self, session: Session) -> Op[Artifact]:
        parents = {"collection": str(self.artifact_collection_id)}
        if self._orbit_id:
            parents["orbit"] = self._orbit_id
        return Artifact._get_by_id_op(session, str(self.artifact_id), parents)

    def _track_op(self, session: Session) -> Op[Track]:
        if self._track is None:
            parents = {"orbit": self._orbit_id} if self._orbit_id else {}
            track = yield from Track._get_by_id_op(session, str(self.track_id), parents)
            object.__setattr__(self, "_track", track)
        assert self._track is not None
        return self._track

    def _promote_op(self, session: Session, stage: Stage | str | None, force: bool) -> Op[None]:
        if self.pk is None:
            raise ValidationError("id", "the track entry is not saved; add it to a track first")
        if not isinstance(force, bool):
            raise ValidationError("force", "must be True or False")
        track = yield from self._track_op(session)
        target = None if stage is None else track.stage(stage)
        stage_id = None if target is None else target.id
        path = yield from self._own_path_op(session)
        req = Request("PATCH", path, (("force", "true" if force else "false"),),
                      json={"stage_id": stage_id})
        snap = self._snapshot or {}
        try:
            data = yield from send_update_op(self, session, req, ["stage_id"],
                                             {"stage_id": stage_id}, snap, True)
        except ConflictError as exc:
            if target is None or target.id is None:
                raise
            holder = yield from track.entries._holder_op(session, target.id)
            who = f"v{holder.version} (entry {holder.id})" if holder else "another version"
            raise ConflictError(exc.status, exc.method, exc.url, (
                f"stage {target.name!r} of track {track.name!r} is held by {who}; "
                "promote(..., force=True) takes it over")) from None
        self._absorb(req, data, session)

    def promote(self, stage: Stage | str | None, *, force: bool = False,
                using: Session | None = None) -> None:
        """Move this version onto ``stage`` (a ``Stage``, a name or an id; None clears
        its stage). A stage another version holds is a ConflictError naming the holder,
        unless ``force=True``, which takes it from the holder."""
        session = self._session_for(using)
        session.driver.run(self._promote_op(session, stage, force))

    async def apromote(self, stage: Stage | str | None, *, force: bool = False,
                       using: Session | None = None) -> None:
        """Async ``promote()``."""
        session = self._session_for(using)
        await session.async_driver.run(self._promote_op(session, stage, force))


# -- a track's entries ------------------------------------------------------------------------


class _EntryPager(Pager):
    """A pager of one track's entries: each loaded entry knows its orbit and track."""

    def __init__(self, track: Track | None, orbit: str | None, *args: Any) -> None:
        super().__init__(*args)
        self.track, self.orbit = track, orbit

    def load(self, req: Request, item: Any) -> Any:
        entry = super().load(req, item)
        object.__setattr__(entry, "_orbit_id", self.orbit)
        object.__setattr__(entry, "_track", self.track)
        return entry


class _InTrack:
    """TrackEntry as the listing sees it inside one track (the path's track and orbit
    filled in); everything else is TrackEntry's."""

    def __init__(self, parents: dict[str, str], track: Track | None = None) -> None:
        self.parents, self.track = parents, track

    def __getattr__(self, name: str) -> Any:
        return getattr(TrackEntry, name)

    def _can_get(self, parents: dict[str, str] | None) -> bool:
        return True

    def _get_by_id_op(self, session: Session, ident: str,
                      parents: dict[str, str] | None = None) -> Op[TrackEntry]:
        entry = yield from TrackEntry._get_by_id_op(session, ident, self.parents)
        object.__setattr__(entry, "_track", self.track)
        return entry

    def _pager_op(self, session: Session, params: list[tuple[str, str]], limit: int,
                  parents: dict[str, str] | None = None) -> Op[Pager]:
        path = yield from TrackEntry._path_op(session, self.parents)
        stages = [p for p in params if p[0] == "stage"]
        if len(stages) > 1:  # the platform takes one stage: the others are checked here
            params = [p for p in params if p[0] != "stage"]
        return _EntryPager(self.track, self.parents.get("orbit"), TrackEntry, session, path,
                           [("limit", str(limit)), *params], True)

    def _listing_op(self, session: Session) -> Op[None]:
        return rows_op(self, session, None, (), 0, None, False, PAGE)


class TrackEntryQuerySet(QuerySet[TrackEntry]):
    """``track.entries``: a QuerySet of one track's versions, with ``add()`` and
    ``remove()``; ``stage=`` (a name, a ``Stage`` or None) filters by the stage held,
    through the listing's stage filter."""

    _track: Track

    @classmethod
    def of(cls, track: Track) -> TrackEntryQuerySet:
        """The entries of ``track`` (saved)."""
        if track.pk is None:
            raise ValidationError("track", "is not saved; save() it before its entries")
        qs = cls(TrackEntry, track._session)
        qs._track = track
        return qs

    def _clone(self, **changes: Any) -> QuerySet[TrackEntry]:
        qs = super()._clone(**changes)
        qs.__class__ = TrackEntryQuerySet
        cast(TrackEntryQuerySet, qs)._track = self._track
        return qs

    def _parents_of_track(self) -> dict[str, str]:
        parents = {"track": str(self._track.pk)}
        if self._track.orbit_id:
            parents["orbit"] = self._track.orbit_id
        return parents

    def _bound(self) -> _InTrack:
        return _InTrack(self._parents_of_track(), self._track)

    def _stage_lookups(self, lookups: dict[str, Any]) -> dict[str, Any]:
        if "stage" not in lookups:
            return lookups
        out = dict(lookups)
        stage = out.pop("stage")
        out["stage_id"] = None if stage is None else self._track.stage(stage).id
        return out

    def filter(self, *args: Any, **lookups: Any) -> TrackEntryQuerySet:
        """Narrowed by lookups; ``stage=`` takes a stage name, a Stage or None."""
        return cast(TrackEntryQuerySet, super().filter(*args, **self._stage_lookups(lookups)))

    def exclude(self, *args: Any, **lookups: Any) -> TrackEntryQuerySet:
        """Without the matches of the lookups; ``stage=`` as in ``filter()``."""
        return cast(TrackEntryQuerySet, super().exclude(*args, **self._stage_lookups(lookups)))

    def get(self, *args: Any, **lookups: Any) -> TrackEntry:
        """The one matching entry; ``get(stage="production")`` is the stage's holder
        (``TrackEntry.DoesNotExist`` when the stage is empty)."""
        return super().get(*args, **self._stage_lookups(lookups))

    async def aget(self, *args: Any, **lookups: Any) -> TrackEntry:
        """Async ``get()``."""
        return await super().aget(*args, **self._stage_lookups(lookups))

    def _rows_op(self, session: Session) -> Op[None]:
        if self._empty:
            return
        yield from rows_op(self._bound(), session, self._where, self._order, self._low,
                           self._high, self._rev, self._chunk)

    def _count_op(self, session: Session) -> Op[int]:
        if self._where is None and not self._low and self._high is None and not self._empty:
            return (yield from count_op(self._bound(), session))
        return (yield from super()._count_op(session))

    def _holder_op(self, session: Session, stage_id: str) -> Op[TrackEntry | None]:
        """The entry holding the stage, through the listing's stage filter."""
        found = yield from collect(self.filter(stage_id=stage_id)._rows_op(session), limit=1)
        return found[0] if found else None

    def _known(self, entry_id: str) -> TrackEntry:
        """An entry of this track known by its id only."""
        entry = TrackEntry(id=entry_id)
        object.__setattr__(entry, "track_id", self._track.pk)
        object.__setattr__(entry, "_orbit_id", self._track.orbit_id)
        object.__setattr__(entry, "_track", self._track)
        object.__setattr__(entry, "_session", self._track._session)
        return entry

    # -- add and remove ---------------------------------------------------------------------

    def _add_op(self, session: Session, artifact: Artifact | str,
                stage: Stage | str | None) -> Op[TrackEntry]:
        target = None if stage is None else self._track.stage(stage)
        kind = getattr(artifact, "type", None)
        if isinstance(artifact, Artifact) and kind is not None \
                and kind != self._track.artifact_type:
            raise ValidationError("artifact", f"is a {kind}; track {self._track.name!r} holds "
                                              f"{self._track.artifact_type} artifacts")
        entry = TrackEntry(artifact_id=cast(Any, artifact),
                           stage_id=None if target is None else target.id)
        object.__setattr__(entry, "track_id", self._track.pk)
        object.__setattr__(entry, "_orbit_id", self._track.orbit_id)
        object.__setattr__(entry, "_track", self._track)
        try:
            yield from entry._save_op(session, False, None)
        except ConflictError as exc:
            if "already an entry" in exc.detail:
                mine = self.filter(artifact_id=entry.artifact_id)
                found = yield from collect(mine._rows_op(session), limit=1)
                if found:
                    raise ConflictError(exc.status, exc.method, exc.url, (
                        f"the artifact is already v{found[0].version} of track "
                        f"{self._track.name!r} (entry {found[0].id})")) from None
            if target is not None and "already assigned" in exc.detail:
                holder = yield from self._holder_op(session, str(target.id))
                who = f"v{holder.version} (entry {holder.id})" if holder else "another version"
                raise ConflictError(exc.status, exc.method, exc.url, (
                    f"stage {target.name!r} is held by {who}; add it without a stage and "
                    "promote(..., force=True)")) from None
            raise
        return entry

    def add(self, artifact: Artifact | str, stage: Stage | str | None = None) -> TrackEntry:
        """Add an artifact (or its id) as the track's next version, onto ``stage`` if given.

        The artifact's type must be the track's, and it must be in the track's orbit. An
        artifact already in the track is a ConflictError naming its version. A retried add
        after a lost answer makes one entry.
        """
        session = self._session_for()
        return session.driver.run(self._add_op(session, artifact, stage))

    async def aadd(self, artifact: Artifact | str,
                   stage: Stage | str | None = None) -> TrackEntry:
        """Async ``add()``."""
        session = self._session_for()
        return await session.async_driver.run(self._add_op(session, artifact, stage))

    def _ids_to_remove(self, entries: Iterable[TrackEntry | str]) -> tuple[list[str],
                                                                            list[TrackEntry]]:
        if isinstance(entries, (str, TrackEntry)) or not isinstance(entries, Iterable):
            entries = [entries]
        items = list(entries)
        if not items:
            raise ValidationError("entries", "must name at least one entry")
        ids, objs = [], []
        for i, item in enumerate(items):
            if isinstance(item, TrackEntry):
                if item.pk is None:
                    raise ValidationError(f"entries[{i}]", "is not saved")
                if item.track_id != self._track.pk:
                    raise ValidationError(f"entries[{i}]", (
                        f"v{item.version} is an entry of another track ({item.track_id}), not "
                        f"of {self._track.name!r}; the platform would skip it silently"))
                objs.append(item)
                ids.append(item.pk)
            else:
                ids.append(cast(str, TrackEntry._specs["id"].check(item)))
        return list(dict.fromkeys(ids)), objs

    def _remove_op(self, session: Session, entries: Iterable[TrackEntry | str]) -> Op[None]:
        ids, objs = self._ids_to_remove(entries)
        given = {o.pk for o in objs}
        if set(ids) - given:  # ids alone: checked against the listing first
            mine = {e.pk for e in (yield from collect(self.all()._rows_op(session)))}
            strangers = [i for i in ids if i not in mine]
            if strangers:
                raise ValidationError("entries", (
                    f"not entries of track {self._track.name!r}: {', '.join(strangers)}; the "
                    "platform would skip them silently"))
        path = yield from TrackEntry._path_op(session, self._parents_of_track())
        yield Request("DELETE", path, json={"entry_ids": ids})
        for obj in objs:
            object.__setattr__(obj, "id", None)
            object.__setattr__(obj, "_snapshot", None)

    def remove(self, entries: Iterable[TrackEntry | str] | TrackEntry | str) -> None:
        """Remove entries (objects or ids) from the track in one request; the artifacts stay.
        An entry of another track is a ValidationError before any request."""
        session = self._session_for()
        session.driver.run(self._remove_op(session, cast(Iterable[Any], entries)))

    async def aremove(self, entries: Iterable[TrackEntry | str] | TrackEntry | str) -> None:
        """Async ``remove()``."""
        session = self._session_for()
        await session.async_driver.run(self._remove_op(session, cast(Iterable[Any], entries)))

    def _session_for(self) -> Session:
        return self._session or self._track._session or current_session()
