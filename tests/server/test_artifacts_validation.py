"""422s of the artifact routes, exactly as FastAPI + pydantic render them (checked against the
platform's own request models), and where validation sits in the check order."""

from __future__ import annotations

from typing import Any

import pytest
from artifacts_kit import LEGACY_MANIFEST, Arts, body

FILE_NAME_PATTERN = "^[^:\\\"*\\`~#%;'^]+\\.[^\\s:\\\"*\\`~#%;'^]+$"
NDJSON_PATTERN = "^(Array\\[.+\\]|NDContainer\\[.+\\])$"
STRING = "Input should be a valid string"
LITERAL = (
    "<ArtifactStatus.UPLOADED: 'uploaded'>, <ArtifactStatus.UPLOAD_FAILED: 'upload_failed'>"
    " or <ArtifactStatus.DELETION_FAILED: 'deletion_failed'>"
)


def _e(kind: str, loc: list[Any], msg: str, value: Any, ctx: Any = None) -> dict[str, Any]:
    out = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx is not None:
        out["ctx"] = ctx
    return out


def test_pattern_size_and_declared_type(arts: Arts) -> None:
    cid = arts.collection()
    r = arts.post(cid, body(file_name="model", size=5_497_558_138_881, type="mixed"))
    assert r.status_code == 422
    assert r.json()["detail"] == [
        _e(
            "string_pattern_mismatch",
            ["body", "file_name"],
            f"String should match pattern '{FILE_NAME_PATTERN}'",
            "model",
            {"pattern": FILE_NAME_PATTERN},
        ),
        _e(
            "value_error",
            ["body", "size"],
            "Value error, Artifact cant be bigger than 5TB",
            5_497_558_138_881,
            {"error": {}},
        ),
        _e(
            "enum",
            ["body", "type"],
            "Input should be 'model', 'experiment' or 'dataset'",
            "mixed",
            {"expected": "'model', 'experiment' or 'dataset'"},
        ),
    ]


def test_wrong_types(arts: Arts) -> None:
    cid = arts.collection()
    payload = body(
        file_name=3, extra_values=[], file_hash=None, file_index={"a": [1.5]}, size="ten", tags="t"
    )
    r = arts.post(cid, payload)
    assert r.status_code == 422
    assert r.json()["detail"] == [
        _e("string_type", ["body", "file_name"], "Input should be a valid string", 3),
        _e("dict_type", ["body", "extra_values"], "Input should be a valid dictionary", []),
        _e("string_type", ["body", "file_hash"], "Input should be a valid string", None),
        _e(
            "int_from_float",
            ["body", "file_index", "a", 0],
            "Input should be a valid integer, got a number with a fractional part",
            1.5,
        ),
        _e("missing", ["body", "file_index", "a", 1], "Field required", [1.5]),
        _e(
            "int_parsing",
            ["body", "size"],
            "Input should be a valid integer, unable to parse string as an integer",
            "ten",
        ),
        _e("list_type", ["body", "tags"], "Input should be a valid list", "t"),
    ]


def test_manifest_is_a_union_of_two_models(arts: Arts) -> None:
    cid = arts.collection()
    r = arts.post(cid, body(manifest="x"))
    msg = "Input should be a valid dictionary or object to extract fields from"
    assert r.json()["detail"] == [
        _e("model_attributes_type", ["body", "manifest", "LumlArtifactManifest"], msg, "x"),
        _e("model_attributes_type", ["body", "manifest", "Manifest"], msg, "x"),
    ]
    manifest = {
        **LEGACY_MANIFEST,
        "inputs": [{"name": "a", "content_type": "NDJSON", "dtype": "float", "shape": [None]}],
    }
    r = arts.post(cid, body(manifest=manifest))
    luml = ["body", "manifest", "LumlArtifactManifest"]
    item = ["body", "manifest", "Manifest", "inputs", 0]
    shape = [*item, "NDJSON", "shape", 0]
    assert r.json()["detail"] == [
        _e("missing", [*luml, "artifact_type"], "Field required", manifest),
        _e("missing", [*luml, "payload"], "Field required", manifest),
        _e(
            "string_pattern_mismatch",
            [*item, "NDJSON", "dtype"],
            f"String should match pattern '{NDJSON_PATTERN}'",
            "float",
            {"pattern": NDJSON_PATTERN},
        ),
        _e("string_type", [*shape, "str"], "Input should be a valid string", None),
        _e("int_type", [*shape, "int"], "Input should be a valid integer", None),
        _e(
            "literal_error",
            [*item, "JSON", "content_type"],
            "Input should be 'JSON'",
            "NDJSON",
            {"expected": "'JSON'"},
        ),
    ]


def test_missing_fields_and_body(arts: Arts) -> None:
    cid = arts.collection()
    r = arts.post(cid, {})
    assert r.json()["detail"] == [
        _e("missing", ["body", field], "Field required", {})
        for field in ("file_name", "extra_values", "manifest", "file_hash", "file_index", "size")
    ]
    r = arts.session.post(f"{arts.base}/collections/{cid}/artifacts")
    assert r.json() == {"detail": [_e("missing", ["body"], "Field required", None)]}
    r = arts.post(cid, [])
    assert r.json()["detail"][0]["type"] == "model_attributes_type"


def test_lax_coercions_are_echoed(arts: Arts) -> None:
    cid = arts.collection()
    art = arts.make(cid, size=" 12 ", file_index={"a": [True, "7"]})
    assert (art["size"], art["file_index"]) == (12, {"a": [1, 7]})
    assert arts.make(cid, size="3.000")["size"] == 3
    assert arts.make(cid, size=-5)["size"] == -5  # not refused
    assert arts.make(cid, file_name="a b/ü.tar gz.luml")["file_name"] == "a b/ü.tar gz.luml"


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            {"status": "pending_deletion"},
            [
                _e(
                    "literal_error",
                    ["body", "status"],
                    f"Input should be {LITERAL}",
                    "pending_deletion",
                    {"expected": LITERAL},
                )
            ],
        ),
        ({"name": 5}, [_e("string_type", ["body", "name"], STRING, 5)]),
        ({"tags": [1]}, [_e("string_type", ["body", "tags", 0], STRING, 1)]),
    ],
)
def test_patch_422(arts: Arts, payload: dict[str, Any], errors: list[dict[str, Any]]) -> None:
    cid = arts.collection()
    aid = arts.make(cid)["id"]
    r = arts.patch(cid, aid, payload)
    assert (r.status_code, r.json()) == (422, {"detail": errors})
    r = arts.session.patch(arts.url(cid, aid))
    assert r.json() == {"detail": [_e("missing", ["body"], "Field required", None)]}


def test_list_query_422_in_parameter_order(arts: Arts) -> None:
    r = arts.list(
        types=["mixed", "model"],
        limit=0,
        order="up",
        collection_ids="xx",
        excluded_tracks="1",
        sort_by="anything",
    )
    assert r.status_code == 422
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [
        ("enum", ["query", "types", 0]),
        ("greater_than", ["query", "limit"]),
        ("enum", ["query", "order"]),
        ("uuid_parsing", ["query", "collection_ids", 0]),
        ("uuid_parsing", ["query", "excluded_tracks", 0]),
    ]
    assert r.json()["detail"][0]["msg"] == "Input should be 'model', 'experiment' or 'dataset'"
    assert arts.list(limit=101).json()["detail"][0]["type"] == "less_than_equal"
    assert arts.list(limit="100").status_code == 200


def test_path_ids_are_validated(arts: Arts) -> None:
    cid = arts.collection()
    r = arts.get(cid, "not-a-uuid")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["path", "artifact_id"]
    assert arts.get(cid.replace("-", "").upper(), arts.make(cid)["id"]).status_code == 200


def test_validation_runs_before_permissions_but_after_auth(arts: Arts) -> None:
    cid = arts.collection()
    stranger = arts.as_user(arts.server.add_user("stranger").api_key)
    assert stranger.post(cid, {}).status_code == 422
    assert stranger.post(cid, body()).status_code == 403
    nobody = arts.as_user("dfs_" + "x" * 43)
    assert nobody.post(cid, {}).status_code == 401
