"""Every public class, method and property of the public names has a docstring (the API
reference is generated from them)."""

from __future__ import annotations

import inspect

import dataforce_orm
import dataforce_orm.testing
from dataforce_orm import _client

FACADE = [_client.CollectionResource, _client.AsyncCollectionResource,
          _client.OrbitResource, _client.AsyncOrbitResource, _client.BucketSecretResource,
          _client.AsyncBucketSecretResource, _client.ArtifactResource,
          _client.AsyncArtifactResource]


def _public_classes() -> list[type]:
    names = [getattr(dataforce_orm, n) for n in dataforce_orm.__all__]
    names += [getattr(dataforce_orm.testing, n) for n in dataforce_orm.testing.__all__]
    return [c for c in names if inspect.isclass(c)] + FACADE


def _missing() -> list[str]:
    missing = []
    for cls in _public_classes():
        if not (cls.__doc__ or "").strip():
            missing.append(cls.__qualname__)
        for name, member in vars(cls).items():
            if name.startswith("_"):
                continue
            target = member.fget if isinstance(member, property) else member
            if isinstance(target, (staticmethod, classmethod)):
                target = target.__func__
            # (an override may keep the documented contract of the method it overrides)
            if inspect.isfunction(target) and not (inspect.getdoc(getattr(cls, name)) or ""):
                missing.append(f"{cls.__qualname__}.{name}")
    return missing


def test_every_public_method_and_property_has_a_docstring() -> None:
    assert _missing() == []
