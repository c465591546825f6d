"""The wire converter takes server data as it is: right types, no coercion, newer types kept."""

from __future__ import annotations

from typing import Any

import pytest

from dataforce_orm import Collection, CollectionType
from dataforce_orm._wire import converter

WIRE = {"id": "01a2194c-ef2b-725b-9be9-e8c31c21c786", "orbit_id": None, "name": "x",
        "description": "", "type": "model", "tags": ["a"], "total_artifacts": 0,
        "created_at": "2026-11-26T19:20:02.091180Z", "updated_at": None, "bogus": 1}


def test_types_come_back_as_enum_members() -> None:
    assert converter.structure(WIRE, Collection).collection_type is CollectionType.MODEL


def test_a_type_newer_than_the_library_is_kept_as_text() -> None:
    assert converter.structure({**WIRE, "type": "model_v2"}, Collection).collection_type == (
        "model_v2")


@pytest.mark.parametrize("bad", [
    {"tags": "prod"}, {"tags": {"a": 1}}, {"tags": [1]}, {"name": None}, {"name": 5},
    {"total_artifacts": True}, {"total_artifacts": "3"}, {"type": 5},
    {"created_at": "soon"}, {"created_at": 1}])
def test_wrong_types_are_errors_not_guesses(bad: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        converter.structure({**WIRE, **bad}, Collection)


def test_booleans_load_as_booleans_and_only_booleans() -> None:
    # (bool is an int subclass: it used to get int's hook, so a bucket secret with
    # ``secure: true`` could not load at all)
    from dataforce_orm import BucketSecret

    wire = {"id": "01a2194c-ef2b-725b-9be9-e8c31c21c786", "type": "s3", "endpoint": "e",
            "bucket_name": "b", "region": "r", "secure": True, "cert_check": False,
            "created_at": "2026-11-26T19:20:02.091180Z"}
    secret = converter.structure(wire, BucketSecret)
    assert (secret.secure, secret.cert_check) == (True, False)
    with pytest.raises(TypeError):
        converter.structure({**wire, "secure": 1}, BucketSecret)
