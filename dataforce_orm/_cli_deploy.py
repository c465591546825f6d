"""The command line's ``satellites`` and ``deployments`` groups (a pairing key is printed
once, on stdout, only by the commands that make one)."""

from __future__ import annotations

from typing import Any

from ._cli_base import Context, Group, arg, find_listed
from ._deployments import DEFAULT_TIMEOUT, Deployment, DeploymentStatus
from ._satellites import Satellite

# The enums that are not nouns of the command line, and why (joined to _cli.NOT_NOUNS).
NOT_NOUNS = {
    "SatelliteStatus": "an enum: what satellites list shows in STATUS",
    "DeploymentStatus": "an enum: the choices of --status of deployments list and wait",
}

_YES = arg("--yes", "-y", action="store_true", help="do not ask")
_TIMEOUT = arg("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
               help=f"how long to wait for the satellite (default {DEFAULT_TIMEOUT:g})")
_STATUSES = [s.value for s in DeploymentStatus]


def _progress(ctx: Context) -> Any:
    """A status line on stderr at each change while waiting (none with --quiet)."""
    if ctx.args.quiet:
        return None

    def show(dep: Deployment) -> None:
        print(f"deployment {dep.name} ({dep.id}): {dep.status}", file=ctx.err, flush=True)

    return show


# -- satellites -----------------------------------------------------------------------------

satellites = Group("satellites", "list, show, create and delete satellites, and regenerate "
                                 "their pairing keys", model=Satellite)

SATELLITE_COLUMNS = (("ID", "id"), ("NAME", "name"), ("STATUS", "status"),
                     ("PAIRED", "paired"), ("LAST SEEN (UTC)", "last_seen_at"),
                     ("BASE URL", "base_url"))
_SAT = arg("ref", metavar="ID_OR_NAME", help="the satellite's id, or its exact name")


def find_satellite(ctx: Context, ref: str) -> Satellite:
    """The satellite ``ref`` (an id, or an exact name) means in the session's orbit."""
    return find_listed("satellite", ref, list(Satellite.objects.using(ctx.session).all()))


def _show_key(ctx: Context, sat: Satellite, what: str) -> None:
    """The satellite and its new key, on stdout; the one time it is shown."""
    key = str(sat.api_key)
    ctx.done(f"{what} satellite {sat.name!r} ({sat.id}).\n"
             f"Pairing key (shown once, it cannot be read again):\n{key}",
             {"satellite": {"id": sat.id, "name": sat.name}, "api_key": key})


@satellites.command(
    "list", "list the orbit's satellites, in creation order",
    arg("--paired", dest="paired", action="store_true", default=None,
        help="only the paired ones"),
    arg("--unpaired", dest="paired", action="store_false", help="only the unpaired ones"),
)
def _satellites_list(ctx: Context) -> None:
    qs = Satellite.objects.using(ctx.session).all()
    if ctx.args.paired is not None:
        qs = qs.filter(paired=ctx.args.paired)
    ctx.show_list(list(qs), SATELLITE_COLUMNS, "satellites")


@satellites.command("get", "show one satellite", _SAT)
def _satellites_get(ctx: Context) -> None:
    ctx.show(find_satellite(ctx, ctx.args.ref))


@satellites.command(
    "create", "create a satellite and print its one-time pairing key",
    arg("name", metavar="NAME", help="its name (at most 100 characters)"),
    arg("--description", metavar="TEXT", help="what it is"),
)
def _satellites_create(ctx: Context) -> None:
    sat = Satellite(name=ctx.args.name, description=ctx.args.description)
    sat.save(using=ctx.session)
    _show_key(ctx, sat, "Created")


@satellites.command("regenerate-key", "print a new pairing key (the old one stops working)",
                    _SAT, _YES)
def _satellites_regenerate(ctx: Context) -> None:
    sat = find_satellite(ctx, ctx.args.ref)
    ctx.confirm(f"replace the pairing key of satellite {sat.name!r} ({sat.id}); its agent "
                "must be given the new one")
    sat.regenerate_key()
    _show_key(ctx, sat, "New key for")


@satellites.command("delete", "delete a satellite (asks first, unless --yes)", _SAT, _YES)
def _satellites_delete(ctx: Context) -> None:
    sat = find_satellite(ctx, ctx.args.ref)
    ident, name = sat.id, sat.name
    ctx.confirm(f"delete satellite {name!r} ({ident})")
    sat.delete()
    ctx.done(f"Deleted satellite {name!r} ({ident}).", {"id": ident, "name": name,
                                                         "deleted": True})


# -- deployments ----------------------------------------------------------------------------

deployments = Group("deployments", "list, show, create, wait for, roll out and delete "
                                   "deployments", model=Deployment)

DEPLOYMENT_COLUMNS = (("ID", "id"), ("NAME", "name"), ("STATUS", "status"),
                      ("ARTIFACT", "artifact_name"), ("SATELLITE", "satellite_name"),
                      ("URL", "inference_url"))
_DEP = arg("ref", metavar="ID_OR_NAME", help="the deployment's id, or its exact name")


def find_deployment(ctx: Context, ref: str) -> Deployment:
    """The deployment ``ref`` (an id, or an exact name) means in the session's orbit."""
    return find_listed("deployment", ref, list(Deployment.objects.using(ctx.session).all()))


def _pairs(ctx: Context, given: list[str] | None, option: str, typed: bool = False
           ) -> dict[str, Any]:
    """KEY=VALUE options as a dict (``typed``: true/false and integers as such)."""
    out: dict[str, Any] = {}
    for item in given or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            ctx.usage_error(f"{option} takes KEY=VALUE, got {item!r}")
        out[key] = _typed(value) if typed else value
    return out


def _typed(value: str) -> Any:
    if value in ("true", "false"):
        return value == "true"
    try:
        return int(value)
    except ValueError:
        return value


@deployments.command(
    "list", "list the orbit's deployments, newest first",
    arg("--status", choices=_STATUSES, metavar="STATUS",
        help=f"only this status: {', '.join(_STATUSES)}"),
    arg("--satellite", metavar="ID_OR_NAME", help="only those on this satellite"),
)
def _deployments_list(ctx: Context) -> None:
    qs = Deployment.objects.using(ctx.session).all()
    if ctx.args.status:
        qs = qs.filter(status=ctx.args.status)
    if ctx.args.satellite:
        qs = qs.filter(satellite_id=find_satellite(ctx, ctx.args.satellite).id)
    ctx.show_list(list(qs), DEPLOYMENT_COLUMNS, "deployments")


@deployments.command("get", "show one deployment", _DEP)
def _deployments_get(ctx: Context) -> None:
    ctx.show(find_deployment(ctx, ctx.args.ref))


@deployments.command(
    "create", "deploy an artifact on a satellite",
    arg("--artifact", required=True, metavar="ID", help="the model artifact's id"),
    arg("--satellite", required=True, metavar="ID_OR_NAME", help="the satellite serving it"),
    arg("--name", required=True, metavar="NAME", help="its name (at most 100 characters)"),
    arg("--description", metavar="TEXT", help="what it is"),
    arg("--param", dest="params", action="append", metavar="KEY=VALUE",
        help="a satellite parameter (true/false and integers typed; repeat for several)"),
    arg("--env", action="append", metavar="KEY=VALUE", help="an environment variable"),
    arg("--env-secret", action="append", metavar="KEY=SECRET_ID",
        help="an environment variable read from an orbit secret"),
    arg("--attribute-secret", action="append", metavar="KEY=SECRET_ID",
        help="a dynamic attribute read live from an orbit secret"),
    arg("--tag", dest="tags", action="append", metavar="TAG", help="a tag (repeat for several)"),
    arg("--wait", action="store_true", help="wait until it is active"),
    _TIMEOUT,
)
def _deployments_create(ctx: Context) -> None:
    a = ctx.args
    dep = Deployment(
        artifact=a.artifact, satellite=find_satellite(ctx, a.satellite), name=a.name,
        description=a.description, satellite_parameters=_pairs(ctx, a.params, "--param", True),
        env_variables=_pairs(ctx, a.env, "--env"),
        env_variables_secrets=_pairs(ctx, a.env_secret, "--env-secret"),
        dynamic_attributes_secrets=_pairs(ctx, a.attribute_secret, "--attribute-secret"),
        tags=a.tags)
    dep.save(using=ctx.session)
    if a.wait:
        dep.wait_until(DeploymentStatus.ACTIVE, timeout=a.timeout, progress=_progress(ctx))
    ctx.show(dep)


@deployments.command(
    "wait", "wait until a deployment has a status (default: active)",
    _DEP,
    arg("--status", choices=_STATUSES, default="active", metavar="STATUS",
        help=f"the status to wait for: {', '.join(_STATUSES)}"),
    _TIMEOUT,
)
def _deployments_wait(ctx: Context) -> None:
    dep = find_deployment(ctx, ctx.args.ref)
    dep.wait_until(ctx.args.status, timeout=ctx.args.timeout, progress=_progress(ctx))
    ctx.show(dep)


@deployments.command(
    "rollout", "deploy a new artifact beside a deployment, wait, then delete the old one",
    _DEP,
    arg("--artifact", required=True, metavar="ID", help="the new model artifact's id"),
    arg("--no-wait", dest="wait", action="store_false",
        help="do not wait until the old deployment is gone"),
    _TIMEOUT,
)
def _deployments_rollout(ctx: Context) -> None:
    old = find_deployment(ctx, ctx.args.ref)
    made = Deployment.objects.using(ctx.session).rollout(
        old, ctx.args.artifact, wait=ctx.args.wait, timeout=ctx.args.timeout,
        progress=_progress(ctx))
    ctx.show(made)


@deployments.command(
    "delete", "take a deployment down and delete it (asks first, unless --yes)",
    _DEP,
    arg("--wait", action="store_true", help="wait until the satellite removed it"),
    arg("--force", action="store_true",
        help="delete the row without undeploying (the container keeps running)"),
    _TIMEOUT, _YES,
)
def _deployments_delete(ctx: Context) -> None:
    a = ctx.args
    dep = find_deployment(ctx, a.ref)
    ident, name = dep.id, dep.name
    how = " without undeploying it (its container keeps running)" if a.force else ""
    ctx.confirm(f"delete deployment {name!r} ({ident}){how}")
    dep.delete(wait=a.wait, timeout=a.timeout, force=a.force, progress=_progress(ctx))
    gone = a.force or a.wait
    ctx.done(f"Deleted deployment {name!r} ({ident})." if gone else
             f"Deletion of deployment {name!r} ({ident}) queued.",
             {"id": ident, "name": name, "deleted": gone})
