"""Every sync method of the public classes has an ``a``-prefixed twin with the same parameters
(the facade's async resources: the same names, awaited)."""

from __future__ import annotations

import inspect

import pytest

import dataforce_orm as dfo
from dataforce_orm import _client, _client_deploy, _client_registry, _client_secrets

SYNC_ONLY = {"using", "all", "filter", "exclude", "order_by", "reverse", "none", "distinct",
             "only", "defer", "values", "values_list", "iterator", "changed_fields",
             "to_dict", "close", "list_all", "stage"}
# (the twins of the properties Artifact.track_entries, TrackEntry.track and .artifact)
ASYNC_ONLY = {"atrack_entries", "atrack", "aartifact"}


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    out = {}
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_"):
            out[name] = inspect.signature(member)
    return out


@pytest.mark.parametrize("cls", [dfo.Collection, dfo.Orbit, dfo.BucketSecret, dfo.OrbitSecret,
                                 dfo.Organization, dfo.Artifact, dfo.ArtifactManager,
                                 dfo.QuerySet, dfo.Manager, dfo.Track, dfo.TrackEntry,
                                 dfo.TrackEntryQuerySet, dfo.Satellite, dfo.Deployment,
                                 dfo.DeploymentManager])
def test_each_sync_method_has_an_async_twin(cls: type) -> None:
    methods = _public_methods(cls)
    for name in methods:
        if inspect.iscoroutinefunction(getattr(cls, name)):
            assert name[1:] in methods or name in ASYNC_ONLY, f"{cls.__name__}.{name} alone"
            continue
        if name in SYNC_ONLY or (name.startswith("a") and name[1:] in methods):
            continue  # (aiterator is a twin that is no coroutine: it returns an iterator)
        twin = f"a{name}"
        assert twin in methods, f"{cls.__name__}.{name} has no {twin}"
        # an async twin may take keyword-only extras (abulk_create's concurrency)
        extra = [p for p, v in methods[twin].parameters.items()
                 if v.kind is inspect.Parameter.KEYWORD_ONLY and p not in methods[name].parameters]
        twin_params = [p for p in methods[twin].parameters if p not in extra]
        assert twin_params == list(methods[name].parameters), twin
        assert inspect.iscoroutinefunction(getattr(cls, twin)), twin


@pytest.mark.parametrize(("sync_cls", "async_cls"), [
    (_client.CollectionResource, _client.AsyncCollectionResource),
    (_client.OrbitResource, _client.AsyncOrbitResource),
    (_client.BucketSecretResource, _client.AsyncBucketSecretResource),
    (_client_secrets.OrbitSecretResource, _client_secrets.AsyncOrbitSecretResource),
    (_client.ArtifactResource, _client.AsyncArtifactResource),
    (_client_registry.TrackResource, _client_registry.AsyncTrackResource),
    (_client_deploy.SatelliteResource, _client_deploy.AsyncSatelliteResource),
    (_client_deploy.DeploymentResource, _client_deploy.AsyncDeploymentResource),
])
def test_facade_resources_match(sync_cls: type, async_cls: type) -> None:
    sync, aio = _public_methods(sync_cls), _public_methods(async_cls)
    assert set(sync) == set(aio)
    for name, sig in sync.items():
        assert list(sig.parameters) == list(aio[name].parameters), name
        # (list_all gives an iterator on both, an async one on the async client)
        assert inspect.iscoroutinefunction(getattr(async_cls, name)) or name == "list_all", name


@pytest.mark.parametrize(("cls", "name"), [(dfo.Artifact, "track_entries"),
                                           (dfo.TrackEntry, "track"),
                                           (dfo.TrackEntry, "artifact")])
def test_properties_that_make_requests_have_awaitable_twins(cls: type, name: str) -> None:
    assert isinstance(getattr(cls, name), property)
    assert inspect.iscoroutinefunction(getattr(cls, f"a{name}"))
    assert f"a{name}" in ASYNC_ONLY
