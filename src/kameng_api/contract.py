"""The API's contract tells the truth: every status a route can answer is in its OpenAPI entry.

Routes list the errors of their own rules (``responses=error_responses(404, 409)``); what every
route of a kind can answer is added here from what the route *is*, so no route can forget it:

- a request with parameters or a body can be refused ``422`` (validation);
- a body can be unreadable (``400``) or too large (``413``);
- a route behind an access rule other than ``Public`` answers ``401`` (no or bad token), and
  ``403`` when it needs a permission (or a changed password);
- a path parameter names something that may not exist (``404``);
- any route that reaches the database answers ``503`` with ``Retry-After`` while it is away
  or overloaded.

Every error is ``application/problem+json`` with the :class:`~kameng_api.core.errors.Problem`
schema (FastAPI would describe it as ``application/json`` and its own validation schema), and a
success that is a file (CSV/XLSX) is not also described as JSON.

Who needs a token is said the same way, from the route's access rule: a route behind
``Authenticated``, ``AuthenticatedPendingPassword`` or a permission gets
``security: [{"bearer": []}]`` (HTTP bearer, a JWT; ``components.securitySchemes.bearer``), a
route that recognises a signed-in caller but serves anyone (``MaybeSignedIn``) gets
``[{}, {"bearer": []}]`` (the token is optional), and every other route none — so a route
added anywhere gets it from its dependencies, and generated clients (the SPA's) attach the
token exactly where it belongs.

``tests/test_contract_fuzz.py`` holds the document to the app's behaviour with schemathesis.
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _iter_routes_with_context

from kameng_api.core.bounds import BIGINT_MAX
from kameng_api.core.errors import PROBLEM_JSON, FieldProblem, Problem
from kameng_api.rbac import deps

PROBLEM_REF = "#/components/schemas/Problem"
FASTAPI_422 = "#/components/schemas/HTTPValidationError"
NO_DATABASE = frozenset({"system:liveness"})  # answers without touching a dependency


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def implied_statuses(route: APIRoute) -> set[int]:
    """The error statuses ``route`` can answer by what it is, whatever it does."""
    statuses: set[int] = set()
    d = route.dependant
    has_params = bool(d.path_params or d.query_params or d.header_params or d.cookie_params)
    if has_params or route.body_field is not None:
        statuses.add(422)
    if route.body_field is not None:
        statuses |= {400, 413}
    if d.path_params:
        statuses.add(404)
    for call in _calls(d):
        rule = getattr(call, deps.ACCESS_MARKER, None)
        if call is deps.optional_actor or rule == "authenticated":
            statuses.add(401)
        if call is deps.authenticated or (isinstance(rule, str) and rule.startswith("permission")):
            statuses |= {401, 403}
    if route.operation_id not in NO_DATABASE:
        statuses.add(503)
    return statuses


BEARER = "bearer"
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "The access token from `POST /api/v1/auth/login` (or `/auth/refresh`), "
    "sent as `Authorization: Bearer <token>`.",
}


def security_of(route: APIRoute) -> list[dict[str, list[str]]] | None:
    """The route's OpenAPI ``security``, from its access rule: required bearer, optional
    bearer (``{}`` first: anonymous is fine), or None (public)."""
    optional = False
    for call in _calls(route.dependant):
        rule = getattr(call, deps.ACCESS_MARKER, None)
        if call is deps.optional_actor:
            optional = True
        elif rule in ("authenticated", "reseller") or (
            isinstance(rule, str) and rule.startswith("permission")
        ):
            return [{BEARER: []}]
    return [{}, {BEARER: []}] if optional else None


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}


def _is_problem(response: dict[str, Any]) -> bool:
    """An error entry of ours (declared with error_responses, or only a description)."""
    content = response.get("content") or {}
    schemas = [m.get("schema", {}).get("$ref") for m in content.values() if isinstance(m, dict)]
    return all(ref in (None, PROBLEM_REF, FASTAPI_422) for ref in schemas)


_RAW_BOUNDS = {"ge": ("minimum", max), "gt": ("exclusiveMinimum", max)}
_RAW_BOUNDS |= {"le": ("maximum", min), "lt": ("exclusiveMaximum", min)}


def _raw_bounds(node: dict[str, Any]) -> None:
    """Bounds pydantic could not place (``ge``/``le`` beside a validator function, see
    ``core/bounds.py``) as the JSON Schema keywords, the tightest of each kind."""
    for raw, (keyword, tightest) in _RAW_BOUNDS.items():
        if raw in node:
            value = node.pop(raw)
            node[keyword] = tightest(node[keyword], value) if keyword in node else value


def _integral_bounds(node: Any) -> None:
    """FastAPI writes a model's large integer bounds as floats (2^63 − 1 becomes 9.22e18,
    which is 2^63); an integer's bounds are integers, the largest that PostgreSQL stores."""
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            _raw_bounds(node)
        if node.get("type") == "integer":
            for key, limit in (("maximum", BIGINT_MAX), ("minimum", -BIGINT_MAX - 1)):
                value = node.get(key)
                if isinstance(value, float):
                    node[key] = max(-BIGINT_MAX - 1, min(BIGINT_MAX, int(value)))
                    node[key] = limit if abs(value) >= 2**63 else node[key]
        for child in node.values():
            _integral_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _integral_bounds(child)


def normalize(doc: dict[str, Any], routes: dict[str, APIRoute]) -> dict[str, Any]:
    for operations in doc.get("paths", {}).values():
        for op in operations.values():
            route = routes.get(op.get("operationId", ""))
            responses: dict[str, Any] = op.setdefault("responses", {})
            if route is not None:
                for implied in implied_statuses(route):
                    responses.setdefault(str(implied), {})
                security = security_of(route)
                if security is not None:
                    op["security"] = security
                else:
                    op.pop("security", None)
            for status, response in responses.items():
                code = int(status) if status.isdigit() else 0
                if code >= 400 and _is_problem(response):
                    response["content"] = _problem_content()
                    response.setdefault("description", HTTPStatus(code).phrase)
                    if not response["description"] or response["description"] == (
                        "Validation Error"
                    ):
                        response["description"] = HTTPStatus(code).phrase
                    if code in (429, 503):
                        response["headers"] = {
                            "Retry-After": {
                                "description": "Seconds to wait before trying again.",
                                "schema": {"type": "string"},
                            }
                        }
                elif 200 <= code < 300:
                    content = response.get("content") or {}
                    # a file answer: FastAPI's default JSON entry (an empty schema) is untrue
                    if len(content) > 1 and content.get("application/json") == {"schema": {}}:
                        del content["application/json"]
    _integral_bounds(doc)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    ref = "#/components/schemas/{model}"
    schemas["Problem"] = Problem.model_json_schema(ref_template=ref)
    schemas["Problem"].pop("$defs", None)
    schemas["FieldProblem"] = FieldProblem.model_json_schema(ref_template=ref)
    doc["components"].setdefault("securitySchemes", {})[BEARER] = BEARER_SCHEME
    return doc


def normalized(app: FastAPI, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` (FastAPI's document of ``app``) with the contract's rules applied, in place."""
    routes = {
        r.operation_id: r
        for r, _ in _iter_routes_with_context(app.routes)
        if isinstance(r, APIRoute) and r.include_in_schema and r.operation_id
    }
    return normalize(doc, routes)
