"""The command line's groups, one per kind of object (``collections``, ``artifacts``,
``orbits``, ``organizations``, ``bucket-secrets``), and its top-level commands (``login``,
``logout``, ``whoami``, ``completion``, ``serve``, ``demo``). The framework is in
``_cli_base``; each group here is a ``Group`` and a few decorated functions.

Models that have no group of their own are in ``NOT_NOUNS``, with the reason.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _config
from ._artifacts import Artifact, ArtifactStatus, ArtifactType
from ._cli_base import (
    COMMANDS,
    GROUPS,
    CLIError,
    Column,
    Context,
    Group,
    NoConfig,
    arg,
    cell,
    command,
    find_in,
    find_listed,
    human_size,
    main,
    positive,
    table,
)
from ._cli_deploy import NOT_NOUNS as DEPLOY_NOT_NOUNS
from ._cli_registry import tracks as tracks  # (the tracks group registers itself)
from ._models import BucketSecret, Collection, CollectionType, Orbit, Organization

__all__ = ["COMMANDS", "GROUPS", "NOT_NOUNS", "main"]

# The public models and enums that are not nouns of the command line, and why.
NOT_NOUNS = {
    "CollectionType": "an enum: the choices of --type of the collections commands",
    "ArtifactType": "an enum: the choices of --type of artifacts list",
    "ArtifactStatus": "an enum: the choices of --status of artifacts list",
    "TrackEntry": "a version of a track: tracks add, promote, entries and remove",
    **DEPLOY_NOT_NOUNS,
}

_YES = arg("--yes", "-y", action="store_true", help="do not ask")


def _tags_change(ctx: Context) -> list[str] | None:
    """The tags --tag / --clear-tags ask for (None: unchanged)."""
    if ctx.args.tags is not None and ctx.args.clear_tags:
        ctx.usage_error("--tag and --clear-tags cannot be used together")
    return [] if ctx.args.clear_tags else ctx.args.tags


_EDITS = (arg("--name", metavar="NAME", help="the new name"),
          arg("--description", metavar="TEXT", help="the new description"),
          arg("--tag", dest="tags", action="append", metavar="TAG",
              help="the new tags, replacing the old ones (repeat for several)"),
          arg("--clear-tags", action="store_true", help="remove every tag"))


def _edit(ctx: Context, find: Callable[[], Collection | Artifact]) -> None:
    """The update commands: the --name, --description and --tag/--clear-tags changes (a
    usage error when none is given) applied to the object ``find`` looks up, then saved (only
    what changed is written; a field changed on the server too is a ConflictError)."""
    args = ctx.args
    changes = {"name": args.name, "description": args.description, "tags": _tags_change(ctx)}
    changes = {name: value for name, value in changes.items() if value is not None}
    if not changes:
        ctx.usage_error("nothing to change: give --name, --description, --tag or --clear-tags")
    obj = find()
    for name, value in changes.items():
        setattr(obj, name, value)
    obj.save()
    ctx.show(obj)


def _field_help(model: type[Collection] | type[Artifact], name: str) -> str:
    """A field's description (its ``doc=``) as an option's help text."""
    doc = model._specs[name].doc.rstrip(".")
    return doc[:1].lower() + doc[1:]


# -- collections ----------------------------------------------------------------------------

collections = Group("collections", "list, show, create, update and delete collections",
                    model=Collection)

COLLECTION_COLUMNS = (("ID", "id"), ("NAME", "name"), ("TYPE", "collection_type"),
                      ("TAGS", "tags"), ("ARTIFACTS", "total_artifacts"),
                      ("CREATED (UTC)", "created_at"))
_TYPES = [t.value for t in CollectionType]
_REF = arg("ref", metavar="ID_OR_NAME", help="the collection's id, or its exact name")


def find_collection(ctx: Context, ref: str) -> Collection:
    """The collection ``ref`` (an id, or an exact name) means in the session's orbit."""
    return find_in("collection", ref, Collection.objects.using(ctx.session))


@collections.command(
    "list", "list the orbit's collections, newest first",
    arg("--search", metavar="TEXT", help="only names containing TEXT (any case)"),
    arg("--type", dest="types", action="append", choices=_TYPES, metavar="TYPE",
        help=f"only this type (repeat for several): {', '.join(_TYPES)}"),
    arg("--tag", dest="tags", action="append", metavar="TAG",
        help="only collections tagged TAG (repeat: tagged with all of them)"),
    arg("--limit", type=positive, metavar="N", help="at most N collections"),
)
def _collections_list(ctx: Context) -> None:
    args = ctx.args
    qs = Collection.objects.using(ctx.session).all()
    if args.search:
        qs = qs.filter(name__icontains=args.search)
    if args.types:
        qs = qs.filter(collection_type__in=args.types)
    if args.tags:
        qs = qs.filter(tags__contains=args.tags)
    if args.limit is not None:
        qs = qs[:args.limit]
    ctx.show_list(list(qs), COLLECTION_COLUMNS, "collections")


@collections.command("get", "show one collection", _REF)
def _collections_get(ctx: Context) -> None:
    ctx.show(find_collection(ctx, ctx.args.ref))


@collections.command(
    "create", "create a collection",
    arg("name", metavar="NAME", help=_field_help(Collection, "name")),
    arg("--type", dest="collection_type", required=True, choices=_TYPES, metavar="TYPE",
        help=f"what it holds: {', '.join(_TYPES)}"),
    arg("--description", default="", metavar="TEXT", help=_field_help(Collection, "description")),
    arg("--tag", dest="tags", action="append", metavar="TAG",
        help=f"{_field_help(Collection, 'tags')}; repeat for several"),
)
def _collections_create(ctx: Context) -> None:
    args = ctx.args
    c = Collection(name=args.name, description=args.description,
                   collection_type=args.collection_type, tags=args.tags)
    c.save(using=ctx.session)
    ctx.show(c)


@collections.command(
    "update", "change a collection's name, description or tags (the rest is kept)",
    _REF,
    *_EDITS,
)
def _collections_update(ctx: Context) -> None:
    _edit(ctx, lambda: find_collection(ctx, ctx.args.ref))


@collections.command("delete", "delete a collection (asks first, unless --yes)", _REF, _YES)
def _collections_delete(ctx: Context) -> None:
    c = find_collection(ctx, ctx.args.ref)
    ident, name = c.id, c.name
    ctx.confirm(f"delete collection {name!r} ({ident})")
    c.delete()
    ctx.done(f"Deleted collection {name!r} ({ident}).", {"id": ident, "name": name,
                                                           "deleted": True})


# -- artifacts ------------------------------------------------------------------------------

artifacts = Group("artifacts", "list, show, upload, download, update and delete artifacts",
                  model=Artifact)

ARTIFACT_COLUMNS: tuple[Column, ...] = (
    ("ID", "id"), ("NAME", "name"), ("TYPE", "type"), ("STATUS", "status"),
    ("SIZE", lambda a: human_size(a.size)), ("CREATED (UTC)", "created_at"))
_ARTIFACT_TYPES = [t.value for t in ArtifactType]
_STATUSES = [s.value for s in ArtifactStatus]
_SORTS = ("name", "created_at", "size", "type", "status", "description")
_ARTIFACT = arg("ref", metavar="ID_OR_NAME", help="the artifact's id, or its exact name")
_IN_COLLECTION = arg("--collection", metavar="C",
                     help="look in this collection only (its id, or its exact name); "
                          "default: the whole orbit")


def _sort(text: str) -> str:
    """``--sort``: a field, or ``metric:NAME``, ``-`` first for descending."""
    field = text.removeprefix("-")
    if field.startswith("metric:") and len(field) > len("metric:"):
        return text[:len(text) - len(field)] + "extra_values__" + field[len("metric:"):]
    if field not in _SORTS:
        raise argparse.ArgumentTypeError(
            f"not a sort key: {text!r} (one of {', '.join(_SORTS)}, or metric:NAME; "
            "'-' first for descending)")
    return text


def find_artifact(ctx: Context, ref: str, collection: str | None = None) -> Artifact:
    """The artifact ``ref`` (an id, or an exact name) means, in ``collection`` (an id or
    name) if given, else anywhere in the orbit (artifact ids are unique)."""
    where = ""
    if collection is not None:
        c = find_collection(ctx, collection)
        objects = c.artifacts.all()
        where = f" in collection {c.name!r}"
    else:
        objects = Artifact.objects.using(ctx.session).all()
    return find_in("artifact", ref, objects, where)


@artifacts.command(
    "list", "list the artifacts of a collection, or of the whole orbit, newest first",
    arg("--collection", metavar="C",
        help="only this collection's (its id, or its exact name); default: every collection "
             "of the orbit"),
    arg("--search", metavar="TEXT", help="only names containing TEXT (any case)"),
    arg("--type", dest="types", action="append", choices=_ARTIFACT_TYPES, metavar="TYPE",
        help=f"only this type (repeat for several): {', '.join(_ARTIFACT_TYPES)}"),
    arg("--status", dest="statuses", action="append", choices=_STATUSES, metavar="STATUS",
        help=f"only this status (repeat for several): {', '.join(_STATUSES)}"),
    arg("--tag", dest="tags", action="append", metavar="TAG",
        help="only artifacts tagged TAG (repeat: tagged with all of them)"),
    arg("--sort", type=_sort, metavar="KEY",
        help=f"the order: {', '.join(_SORTS)}, or metric:NAME (a metric of extra_values); "
             "descending with '-' first, written --sort=-KEY (default: -created_at)"),
    arg("--limit", type=positive, metavar="N", help="at most N artifacts"),
)
def _artifacts_list(ctx: Context) -> None:
    args = ctx.args
    if args.collection is not None:
        qs = find_collection(ctx, args.collection).artifacts.all()
    else:
        qs = Artifact.objects.using(ctx.session).all()
    if args.search:
        qs = qs.filter(name__icontains=args.search)
    if args.types:
        qs = qs.filter(type__in=args.types)
    if args.statuses:
        qs = qs.filter(status__in=args.statuses)
    if args.tags:
        qs = qs.filter(tags__contains=args.tags)
    if args.sort:
        qs = qs.order_by(args.sort)
    if args.limit is not None:
        qs = qs[:args.limit]
    ctx.show_list(list(qs), ARTIFACT_COLUMNS, "artifacts")


@artifacts.command("get", "show one artifact", _ARTIFACT, _IN_COLLECTION)
def _artifacts_get(ctx: Context) -> None:
    art = find_artifact(ctx, ctx.args.ref, ctx.args.collection)
    art.refresh()  # the details (tracks, every deployment, the collection) come by id
    ctx.show(art)


@artifacts.command(
    "upload", "upload a .luml archive as a new artifact of a collection",
    arg("file", metavar="FILE", help="the .luml archive"),
    arg("--collection", required=True, metavar="C",
        help="the collection to hold it: its id, or its exact name"),
    arg("--name", metavar="NAME", help="its name (default: the file's name)"),
    arg("--description", metavar="TEXT", help="what it is"),
    arg("--tag", dest="tags", action="append", metavar="TAG", help="a tag (repeat for several)"),
)
def _artifacts_upload(ctx: Context) -> None:
    args = ctx.args
    collection = find_collection(ctx, args.collection)
    made = collection.artifacts.upload(args.file, name=args.name, description=args.description,
                                       tags=args.tags, progress=ctx.progress)
    ctx.show_row(made, ARTIFACT_COLUMNS)


@artifacts.command(
    "download", "download an artifact's file and print where it was written",
    _ARTIFACT,
    _IN_COLLECTION,
    arg("-o", "--output", metavar="PATH",
        help="a file to write, or a directory to write it in under its stored name "
             "(default: the current directory)"),
)
def _artifacts_download(ctx: Context) -> None:
    args = ctx.args
    art = find_artifact(ctx, args.ref, args.collection)
    path = art.download(args.output, progress=ctx.progress)
    ctx.done(str(path), {"id": art.id, "name": art.name, "path": str(path), "size": art.size})


@artifacts.command(
    "update", "change an artifact's name, description or tags (the rest is kept)",
    _ARTIFACT,
    _IN_COLLECTION,
    *_EDITS,
)
def _artifacts_update(ctx: Context) -> None:
    _edit(ctx, lambda: find_artifact(ctx, ctx.args.ref, ctx.args.collection))


@artifacts.command(
    "delete", "delete an artifact and its stored file (asks first, unless --yes)",
    _ARTIFACT,
    _IN_COLLECTION,
    _YES,
    arg("--force", action="store_true",
        help="remove it whatever its status (e.g. a failed upload); the stored file is left"),
    arg("--force-deployments", action="store_true",
        help="with --force, remove a deployed artifact too: the platform drops its "
             "deployments without undeploying them, so their containers keep running"),
)
def _artifacts_delete(ctx: Context) -> None:
    args = ctx.args
    if args.force_deployments and not args.force:
        ctx.usage_error("--force-deployments goes with --force")
    art = find_artifact(ctx, args.ref, args.collection)
    ident, name = art.id, art.name
    ctx.confirm(f"delete artifact {name!r} ({ident})")
    art.delete(force=args.force, force_deployments=args.force_deployments)
    ctx.done(f"Deleted artifact {name!r} ({ident}).", {"id": ident, "name": name,
                                                         "deleted": True})


# -- orbits ---------------------------------------------------------------------------------

orbits = Group("orbits", "list, show, create, rename and delete the organization's orbits",
               model=Orbit)

ORBIT_COLUMNS = (("ID", "id"), ("NAME", "name"), ("ROLE", "role"),
                 ("COLLECTIONS", "total_collections"), ("ARTIFACTS", "total_artifacts"),
                 ("MEMBERS", "total_members"))
_ORBIT = arg("ref", metavar="ID_OR_NAME", help="the orbit's id, or its exact name")
_ORBIT_SECRET_HELP = "the bucket secret storing its files: its id, or its exact bucket name"


def find_orbit(ctx: Context, ref: str) -> Orbit:
    """The orbit ``ref`` (an id, or an exact name) means in the organization."""
    return find_listed("orbit", ref, list(Orbit.objects.using(ctx.session).all()))


@orbits.command("list", "list the orbits of the organization")
def _orbits_list(ctx: Context) -> None:
    ctx.show_list(list(Orbit.objects.using(ctx.session).all()), ORBIT_COLUMNS, "orbits")


@orbits.command("get", "show one orbit", _ORBIT)
def _orbits_get(ctx: Context) -> None:
    ctx.show(find_orbit(ctx, ctx.args.ref))


@orbits.command("create", "create an orbit",
                arg("name", metavar="NAME", help=_field_help(Collection, "name")),
                arg("--bucket-secret", required=True, metavar="ID_OR_BUCKET",
                    help=_ORBIT_SECRET_HELP))
def _orbits_create(ctx: Context) -> None:
    secret = find_secret(ctx, ctx.args.bucket_secret)
    orbit = Orbit(name=ctx.args.name, bucket_secret=secret)
    orbit.save(using=ctx.session)
    ctx.show(orbit)


@orbits.command("update", "rename an orbit or change its bucket secret",
                _ORBIT,
                arg("--name", metavar="NAME", help="the new name"),
                arg("--bucket-secret", metavar="ID_OR_BUCKET", help=_ORBIT_SECRET_HELP))
def _orbits_update(ctx: Context) -> None:
    args = ctx.args
    if args.name is None and args.bucket_secret is None:
        ctx.usage_error("nothing to change: give --name or --bucket-secret")
    orbit = find_orbit(ctx, args.ref)
    if args.name is not None:
        orbit.name = args.name
    if args.bucket_secret is not None:
        orbit.bucket_secret = find_secret(ctx, args.bucket_secret)
    orbit.save()
    ctx.show(orbit)


@orbits.command("delete", "delete an orbit and its collections (asks first, unless --yes)",
                _ORBIT, _YES)
def _orbits_delete(ctx: Context) -> None:
    orbit = find_orbit(ctx, ctx.args.ref)
    ident, name = orbit.id, orbit.name
    ctx.confirm(f"delete orbit {name!r} ({ident}) and every collection in it")
    orbit.delete()
    ctx.done(f"Deleted orbit {name!r} ({ident}).", {"id": ident, "name": name, "deleted": True})


# -- organizations --------------------------------------------------------------------------

organizations = Group("organizations", "list and show the organizations the key's user is in "
                                       "(read-only for an API key)", model=Organization)

ORGANIZATION_COLUMNS = (("ID", "id"), ("NAME", "name"), ("ROLE", "role"),
                        ("CREATED (UTC)", "created_at"))


@organizations.command("list", "list the organizations the key's user belongs to")
def _organizations_list(ctx: Context) -> None:
    ctx.show_list(list(Organization.objects.using(ctx.session).all()), ORGANIZATION_COLUMNS,
                  "organizations")


@organizations.command("get", "show one organization",
                       arg("ref", metavar="ID_OR_NAME",
                           help="the organization's id, or its exact name"))
def _organizations_get(ctx: Context) -> None:
    every = list(Organization.objects.using(ctx.session).all())
    ctx.show(find_listed("organization", ctx.args.ref, every))


# -- bucket secrets -------------------------------------------------------------------------

secrets = Group("bucket-secrets", "list, show, create, update and delete the organization's "
                                  "bucket secrets (where orbits store files)",
                model=BucketSecret)

SECRET_COLUMNS = (("ID", "id"), ("TYPE", "type"), ("ENDPOINT", "endpoint"),
                  ("BUCKET", "bucket_name"), ("REGION", "region"),
                  ("CREATED (UTC)", "created_at"))
_SECRET = arg("ref", metavar="ID_OR_BUCKET",
              help="the bucket secret's id, or its exact bucket name")
_KEYS = ("access_key", "secret_key", "session_token", "endpoint")
_KEYS_FILE = arg("--keys-file", metavar="PATH",
                 help="a JSON object with the secret parts: access_key, secret_key, "
                      "session_token (S3), or endpoint (an Azure connection string); '-' "
                      "reads standard input (never on the command line: it would show in ps)")


def find_secret(ctx: Context, ref: str) -> BucketSecret:
    """The bucket secret ``ref`` (an id, or an exact bucket name) means."""
    every = list(BucketSecret.objects.using(ctx.session).all())
    return find_listed("bucket secret", ref, every, name=lambda s: s.bucket_name)


def _read_keys(path: str | None) -> dict[str, str | None]:
    if path is None:
        return {}
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CLIError(f"cannot read the keys file {path}: {reason}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise CLIError(f"the keys file {path} must hold a JSON object of strings")
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise CLIError(f"the keys file {path} has unknown keys {unknown} "
                       f"(known: {', '.join(_KEYS)})")
    return data


def _secret_fields(args: Any) -> dict[str, Any]:
    given = {"endpoint": args.endpoint, "bucket_name": args.bucket, "region": args.region,
             "secure": args.secure, "cert_check": args.cert_check}
    return {k: v for k, v in given.items() if v is not None}


_SECRET_OPTIONS = (
    arg("--endpoint", metavar="HOST", help="the S3 endpoint, e.g. s3.amazonaws.com (an Azure "
                                           "connection string goes in --keys-file)"),
    arg("--bucket", metavar="NAME", help="the bucket (or Azure container) name"),
    arg("--region", metavar="REGION", help="the S3 region, e.g. us-east-1"),
    arg("--secure", action="store_true", default=None, help="use https to reach the endpoint"),
    arg("--cert-check", action="store_true", default=None,
        help="check the endpoint's TLS certificate"),
    _KEYS_FILE,
)


@secrets.command("list", "list the organization's bucket secrets (their keys are never shown)")
def _secrets_list(ctx: Context) -> None:
    ctx.show_list(list(BucketSecret.objects.using(ctx.session).all()), SECRET_COLUMNS,
                  "bucket secrets")


@secrets.command("get", "show one bucket secret (its keys are never shown)", _SECRET)
def _secrets_get(ctx: Context) -> None:
    ctx.show(find_secret(ctx, ctx.args.ref))


@secrets.command("create", "create a bucket secret",
                 arg("--type", default="s3", choices=("s3", "azure"),
                     help="s3 (the default) or azure"),
                 *_SECRET_OPTIONS)
def _secrets_create(ctx: Context) -> None:
    fields = {**_secret_fields(ctx.args), **_read_keys(ctx.args.keys_file)}
    secret = BucketSecret(type=ctx.args.type, **fields)
    secret.save(using=ctx.session)
    ctx.show(secret)


@secrets.command("update", "change a bucket secret (--keys-file is required: the platform "
                           "writes every field; a key the file leaves out is removed)",
                 _SECRET, *_SECRET_OPTIONS)
def _secrets_update(ctx: Context) -> None:
    args = ctx.args
    if args.keys_file is None:
        ctx.usage_error("--keys-file is required: the platform writes every field of a bucket "
                        "secret, and never returns its keys")
    keys = _read_keys(args.keys_file)
    secret = find_secret(ctx, args.ref)
    if secret.type == "s3":  # the file states them all: one it leaves out is removed
        keys = {"access_key": None, "secret_key": None, "session_token": None, **keys}
    for name, value in {**_secret_fields(args), **keys}.items():
        setattr(secret, name, value)
    secret.save()
    ctx.show(secret)


@secrets.command("delete", "delete a bucket secret (asks first, unless --yes)", _SECRET, _YES)
def _secrets_delete(ctx: Context) -> None:
    secret = find_secret(ctx, ctx.args.ref)
    ident, name = secret.id, secret.bucket_name
    ctx.confirm(f"delete bucket secret {name!r} ({ident})")
    secret.delete()
    ctx.done(f"Deleted bucket secret {name!r} ({ident}).",
             {"id": ident, "bucket_name": name, "deleted": True})


# -- the account: login, logout, whoami -----------------------------------------------------


@command("login", "check an API key and store it for the profile (read from a prompt, or "
                  "from standard input; never from the command line)")
def _login(ctx: Context) -> None:
    args, profile = ctx.args, _config.profile_name(ctx.args.profile)
    ctx.new_profile_ok = True
    if args.api_key_file:
        key = ctx.settings.api_key or ""
    elif sys.stdin is not None and sys.stdin.isatty():
        key = getpass.getpass(f"API key for profile {profile!r}: ").strip()
    else:
        key = (sys.stdin.readline() if sys.stdin is not None else "").strip()
    if not key:
        raise NoConfig("no API key given: type it at the prompt, or pipe it in "
                       "(dataforce-orm login < key-file)")
    session = ctx.make_session(key)
    session.check()  # (nothing is written before the key is known to be good)
    chosen = {"base_url": args.base_url, "organization": args.organization,
              "orbit": args.orbit,
              "allow_insecure_http": "true" if args.allow_insecure_http else None}
    chosen = {k: v for k, v in chosen.items() if v is not None}
    if chosen:
        _config.write_profile(profile, chosen)
    path = _config.store_key(profile, key)
    ctx.done(f"The key is valid for {session.base_url}; stored for profile {profile!r} in "
             f"{path}.", {"profile": profile, "base_url": session.base_url, "valid": True,
                          "stored_in": str(path)})


@command("logout", "forget the API key stored for the profile")
def _logout(ctx: Context) -> None:
    profile = _config.profile_name(ctx.args.profile)
    forgot = _config.forget_key(profile)
    message = (f"Forgot the key of profile {profile!r}." if forgot
               else f"No key was stored for profile {profile!r}.")
    ctx.done(message, {"profile": profile, "forgotten": forgot})


@command("whoami", "check the API key, and show the organizations and orbits it sees")
def _whoami(ctx: Context) -> None:
    session = ctx.session
    session.check()
    orgs = []
    for org in Organization.objects.using(session).all():
        session.organization = org.id  # (each organization's orbits in turn)
        seen = [{"id": o.id, "name": o.name} for o in Orbit.objects.using(session).all()]
        orgs.append({"id": org.id, "name": org.name, "role": org.role, "orbits": seen})
    settings = ctx.settings
    if ctx.args.json:
        ctx.done("", {"base_url": session.base_url, "profile": settings.profile, "valid": True,
                      "key_from": settings.key_source, "organizations": orgs})
        return
    ctx.print(f"{session.base_url}: the API key (from {settings.key_source}) is valid")
    if settings.profile:
        ctx.print(f"profile: {settings.profile}")
    ctx.print(table(("ORGANIZATION", "ROLE", "ORBITS"), [
        (f"{o['name']} ({o['id']})", cell(o["role"]), cell(o["orbits"])) for o in orgs]))


# -- completion, the local server, the demo -------------------------------------------------


@command("completion", "print the shell completion script (bash, zsh or fish)",
         arg("shell", choices=("bash", "zsh", "fish"), help="the shell: bash, zsh or fish"))
def _completion(ctx: Context) -> None:
    from ._completion import script

    ctx.print(script(ctx.args.shell))


@command("serve", "run the local DataForce server in the foreground",
         arg("--host", default="127.0.0.1", help="the address to listen on (default: "
                                                 "127.0.0.1)"),
         arg("--port", type=int, default=8000, help="the port (default: 8000; 0 picks a free "
                                                    "one)"),
         arg("--db", default=None, metavar="FILE",
             help="an SQLite file to keep the state in across restarts (default: in memory)"),
         arg("--allow-remote", action="store_true",
             help="allow a host that is not loopback (anyone who reaches it can use it)"))
def _serve(ctx: Context) -> int:
    from .testing._cli import serve_main

    a = ctx.args
    return serve_main(a.host, a.port, a.db, a.allow_remote)


@command("demo", "a short tour of the library (on a LocalServer unless a key is configured)")
def _demo(ctx: Context) -> int:
    from ._demo import run_demo

    return run_demo(ctx.out)

from . import _cli_secrets  # noqa: E402, F401  (the secrets group, and bucket-secrets test)

# The groups in the order a user meets them (they register in the order they are imported).
_ORDER = ("collections", "artifacts", "tracks", "deployments", "satellites", "secrets",
          "orbits", "organizations", "bucket-secrets")
_groups = {**{name: GROUPS[name] for name in _ORDER if name in GROUPS}, **GROUPS}
GROUPS.clear()
GROUPS.update(_groups)
