"""The command line's ``secrets`` group (the orbit's secrets; a value is read from standard
input or a file, never from the command line, and never printed) and ``bucket-secrets
test``."""

from __future__ import annotations

import sys
from pathlib import Path

from ._cli_base import GROUPS, CLIError, Context, Group, arg, find_listed
from ._models import BucketSecret
from ._orbit_secrets import OrbitSecret

MAX_VALUE = 8192  # the platform's limit, in characters

secrets = Group("secrets", "list, show, create, change and delete the orbit's secrets "
                           "(values are never shown)", model=OrbitSecret)

COLUMNS = (("ID", "id"), ("NAME", "name"), ("TAGS", "tags"), ("CREATED (UTC)", "created_at"))
_REF = arg("ref", metavar="ID_OR_NAME", help="the secret's id, or its exact name")
_TAGS = arg("--tag", dest="tags", action="append", metavar="TAG",
            help="a tag (repeat for several; replaces the old ones)")
_VALUE_HELP = ("read the value from this file, or '-' for standard input (never from the "
               "command line: it would show in ps); one trailing newline is dropped")


def find_orbit_secret(ctx: Context, ref: str) -> OrbitSecret:
    """The orbit secret ``ref`` (an id, or an exact name) means."""
    return find_listed("orbit secret", ref, list(OrbitSecret.objects.using(ctx.session).all()))


def read_value(path: str) -> str:
    """A secret value from a file or standard input ('-'), without its trailing newline."""
    try:
        if path == "-":
            text = sys.stdin.read(MAX_VALUE + 3) if sys.stdin is not None else ""
        else:
            with Path(path).open(encoding="utf-8", newline="") as f:
                text = f.read(MAX_VALUE + 3)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CLIError(f"cannot read the value from {path}: {reason}") from None
    for end in ("\r\n", "\n"):
        if text.endswith(end):
            return text[:-len(end)]
    return text


@secrets.command("list", "list the orbit's secrets (their values are never shown)")
def _list(ctx: Context) -> None:
    ctx.show_list(list(OrbitSecret.objects.using(ctx.session).all()), COLUMNS, "secrets")


@secrets.command("get", "show one secret (its value is never shown)", _REF)
def _get(ctx: Context) -> None:
    ctx.show(find_orbit_secret(ctx, ctx.args.ref))


@secrets.command("create", "create a secret in the orbit",
                 arg("name", metavar="NAME", help="its name, unique in the orbit"),
                 arg("--value-file", required=True, metavar="PATH", help=_VALUE_HELP), _TAGS)
def _create(ctx: Context) -> None:
    secret = OrbitSecret(name=ctx.args.name, value=read_value(ctx.args.value_file),
                         tags=ctx.args.tags)
    secret.save(using=ctx.session)
    ctx.show(secret)


@secrets.command("set", "change a secret's value, name or tags (the others are kept)", _REF,
                 arg("--value-file", metavar="PATH", help=_VALUE_HELP),
                 arg("--name", metavar="NAME", help="the new name"), _TAGS,
                 arg("--clear-tags", action="store_true", help="remove every tag"))
def _set(ctx: Context) -> None:
    a = ctx.args
    if a.tags is not None and a.clear_tags:
        ctx.usage_error("--tag and --clear-tags cannot be used together")
    if a.value_file is None and a.name is None and a.tags is None and not a.clear_tags:
        ctx.usage_error("nothing to change: give --value-file, --name, --tag or --clear-tags")
    value = read_value(a.value_file) if a.value_file is not None else None
    secret = find_orbit_secret(ctx, a.ref)
    if value is not None:
        secret.value = value
    if a.name is not None:
        secret.name = a.name
    if a.tags is not None or a.clear_tags:
        secret.tags = [] if a.clear_tags else a.tags
    secret.save()
    ctx.show(secret)


@secrets.command("delete", "delete a secret (asks first, unless --yes; deployments that use "
                           "it are not checked by the platform)", _REF,
                 arg("--yes", "-y", action="store_true", help="do not ask"))
def _delete(ctx: Context) -> None:
    secret = find_orbit_secret(ctx, ctx.args.ref)
    ident, name = secret.id, secret.name
    ctx.confirm(f"delete secret {name!r} ({ident})")
    secret.delete()
    ctx.done(f"Deleted secret {name!r} ({ident}).", {"id": ident, "name": name, "deleted": True})


@GROUPS["bucket-secrets"].command(
    "test", "test a stored bucket secret's storage: put a small object, read it back with a "
            "range, delete it (nothing is changed)",
    arg("ref", metavar="ID_OR_BUCKET", help="the bucket secret's id, or its exact bucket name"))
def _bucket_test(ctx: Context) -> None:
    every = list(BucketSecret.objects.using(ctx.session).all())
    secret = find_listed("bucket secret", ctx.args.ref, every, name=lambda s: s.bucket_name)
    secret.test_connection()  # (a failure names its step, and exits with status 1)
    ctx.done(f"The connection test of bucket secret {secret.bucket_name!r} ({secret.id}) "
             "passed: put, ranged get and delete worked.",
             {"id": secret.id, "bucket_name": secret.bucket_name, "passed": True})
