"""The committed OpenAPI document is current, and its operation ids are stable `tag:name`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kameng_api.openapi import openapi_dict, render_openapi

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def test_committed_openapi_is_current() -> None:
    assert SPEC.read_text() == render_openapi(), (
        "openapi/openapi.json is stale: run `make openapi` (and regenerate the SPA client)"
    )


def test_operation_ids_are_tag_colon_name_and_unique() -> None:
    spec = openapi_dict()
    seen: set[str] = set()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            oid = op["operationId"]
            assert re.fullmatch(r"[a-z_]+:[a-z][a-z0-9_]*", oid), f"{method} {path}: {oid}"
            assert oid.split(":")[0] in op["tags"], f"{oid} not under its tag"
            assert oid not in seen
            seen.add(oid)


def test_money_and_errors_are_documented() -> None:
    spec = json.loads(SPEC.read_text())
    assert "Problem" in spec["components"]["schemas"]


def test_schema_names_are_plain() -> None:
    """Two models of one name in different modules make FastAPI fall back to names like
    ``kameng_api__inventory__schemas__KeyOut``, which the generated client turns into types a
    page cannot import by their name (found when the reseller keys' ``KeyOut`` met the
    inventory's). Each schema name is a plain class name, unique across capabilities."""
    names = openapi_dict()["components"]["schemas"].keys()
    qualified = sorted(n for n in names if "__" in n)
    assert not qualified, f"rename one of each pair of same-named models: {qualified}"
