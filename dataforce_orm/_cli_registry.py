"""The ``tracks`` command group: list, show and create tracks, add artifacts as versions,
promote them onto stages, list and remove entries."""

from __future__ import annotations

from ._artifacts import Artifact, ArtifactType
from ._cli_base import (
    Column,
    Context,
    Group,
    NotFound,
    arg,
    find_in,
    json_value,
    positive,
)
from ._registry import Track, TrackEntry

tracks = Group("tracks", "list, show and create tracks; add, promote, list and remove their "
                         "versions", model=Track)

TRACK_COLUMNS: tuple[Column, ...] = (
    ("ID", "id"), ("NAME", "name"), ("TYPE", "artifact_type"),
    ("STAGES", lambda t: ", ".join(t.stages.names) or "-"), ("VERSIONS", "total_entries"),
    ("CREATED (UTC)", "created_at"))
ENTRY_COLUMNS: tuple[Column, ...] = (
    ("VERSION", lambda e: f"v{e.version}"), ("STAGE", "stage_name"),
    ("ARTIFACT", "artifact_name"), ("ARTIFACT ID", "artifact_id"), ("ADDED (UTC)", "created_at"))
_TYPES = [t.value for t in ArtifactType]
_TRACK = arg("track", metavar="TRACK", help="the track's id, or its exact name")


def find_track(ctx: Context, ref: str) -> Track:
    """The track ``ref`` (an id, or an exact name) means in the session's orbit."""
    return find_in("track", ref, Track.objects.using(ctx.session))


def _find_artifact(ctx: Context, ref: str) -> Artifact:
    return find_in("artifact", ref, Artifact.objects.using(ctx.session))


def _version(ctx: Context, track: Track, text: str) -> TrackEntry:
    """The entry ``text`` (``3`` or ``v3``) names in ``track``."""
    digits = text.lower().removeprefix("v")
    if not digits.isdigit():
        ctx.usage_error(f"not a version: {text!r} (a number such as 3 or v3)")
    found = track.entries.filter(version=int(digits)).first()
    if found is None:
        raise NotFound(f"track {track.name!r} has no version v{int(digits)}")
    return found


def _show_track(ctx: Context, track: Track) -> None:
    if ctx.args.json:
        ctx.done("", json_value(track.to_dict()))
    else:
        ctx.show(track)


@tracks.command(
    "list", "list the orbit's tracks, newest first",
    arg("--search", metavar="TEXT", help="only names containing TEXT (any case)"),
    arg("--type", dest="types", action="append", choices=_TYPES, metavar="TYPE",
        help=f"only tracks of this type (repeat for several): {', '.join(_TYPES)}"),
    arg("--limit", type=positive, metavar="N", help="at most N tracks"),
)
def _tracks_list(ctx: Context) -> None:
    args = ctx.args
    qs = Track.objects.using(ctx.session).all()
    if args.search:
        qs = qs.filter(name__icontains=args.search)
    if args.types:
        qs = qs.filter(artifact_type__in=args.types)
    if args.limit is not None:
        qs = qs[:args.limit]
    found = list(qs)
    if ctx.args.json:
        ctx.done("", [json_value(t.to_dict()) for t in found])  # type: ignore[arg-type]
        return
    ctx.show_list(found, TRACK_COLUMNS, "tracks")


@tracks.command("get", "show one track and its stages", _TRACK)
def _tracks_get(ctx: Context) -> None:
    _show_track(ctx, find_track(ctx, ctx.args.track))


@tracks.command(
    "create", "create a track",
    arg("name", metavar="NAME", help="its name"),
    arg("--type", dest="artifact_type", required=True, choices=_TYPES, metavar="TYPE",
        help=f"what its versions are: {', '.join(_TYPES)}"),
    arg("--stage", dest="stages", action="append", metavar="STAGE",
        help="a stage (repeat for several), e.g. --stage staging --stage production"),
    arg("--description", metavar="TEXT", help="what it is for"),
    arg("--tag", dest="tags", action="append", metavar="TAG", help="a tag (repeat for several)"),
)
def _tracks_create(ctx: Context) -> None:
    args = ctx.args
    track = Track(name=args.name, artifact_type=args.artifact_type, stages=args.stages or [],
                  description=args.description, tags=args.tags)
    track.save(using=ctx.session)
    _show_track(ctx, track)


@tracks.command(
    "add", "add an artifact to a track as its next version",
    _TRACK,
    arg("artifact", metavar="ARTIFACT", help="the artifact's id, or its exact name in the orbit"),
    arg("--stage", metavar="STAGE", help="put the new version onto this stage"),
)
def _tracks_add(ctx: Context) -> None:
    track = find_track(ctx, ctx.args.track)
    entry = track.entries.add(_find_artifact(ctx, ctx.args.artifact), stage=ctx.args.stage)
    ctx.show_row(entry, ENTRY_COLUMNS)


@tracks.command(
    "promote", "move a version onto a stage (or off its stage, with --clear)",
    _TRACK,
    arg("version", metavar="VERSION", help="the version, e.g. 3 or v3"),
    arg("stage", nargs="?", metavar="STAGE", help="the stage's name"),
    arg("--clear", action="store_true", help="take the version off its stage"),
    arg("--force", action="store_true", help="take the stage from the version holding it"),
)
def _tracks_promote(ctx: Context) -> None:
    args = ctx.args
    if (args.stage is None) == (not args.clear):
        ctx.usage_error("give a STAGE, or --clear to take the version off its stage")
    track = find_track(ctx, args.track)
    entry = _version(ctx, track, args.version)
    entry.promote(args.stage, force=args.force)
    ctx.show_row(entry, ENTRY_COLUMNS)


@tracks.command(
    "entries", "list a track's versions, newest first",
    _TRACK,
    arg("--stage", metavar="STAGE", help="only the version holding this stage"),
    arg("--limit", type=positive, metavar="N", help="at most N versions"),
)
def _tracks_entries(ctx: Context) -> None:
    args = ctx.args
    track = find_track(ctx, args.track)
    qs = track.entries.order_by("-version")
    if args.stage is not None:
        qs = qs.filter(stage=args.stage)
    if args.limit is not None:
        qs = qs[:args.limit]
    ctx.show_list(list(qs), ENTRY_COLUMNS, "versions")


@tracks.command(
    "remove", "remove versions from a track, the artifacts kept (asks first, unless --yes)",
    _TRACK,
    arg("versions", nargs="+", metavar="VERSION", help="the versions, e.g. 3 or v3"),
    arg("--yes", "-y", action="store_true", help="do not ask"),
)
def _tracks_remove(ctx: Context) -> None:
    track = find_track(ctx, ctx.args.track)
    entries = [_version(ctx, track, v) for v in ctx.args.versions]
    shown = ", ".join(f"v{e.version}" for e in entries)
    ctx.confirm(f"remove {shown} from track {track.name!r}")
    versions = [e.version for e in entries]
    track.entries.remove(entries)
    ctx.done(f"Removed {shown} from track {track.name!r}.",
             {"track": track.id, "removed": versions})
