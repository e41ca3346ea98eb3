"""Does one exchange keep to the contract? The proxy's checks, built on the project's own readers.

The request is checked as the mock would check it (``spec.check_params``, ``spec.check_body``), the
answer as the tests and the contract suite check the mock's (``Contract.check_response``), plus
one check JSON Schema does not make by default: fields the answer carries that its schema does not
name, where the schema does not say extra fields are allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from ..contract import Contract
from ..spec import Operation, check_body, check_params, load_spec
from ..world.errors import DomainError

__all__ = ["check_exchange", "undeclared_fields"]

_MAX_DEPTH = 32
_MAX_FOUND = 20


def check_exchange(
    contract: Contract,
    method: str,
    path: str,
    query: str,
    request_body: bytes | None,
    status: int,
    response_headers: Mapping[str, str],
    response_body: bytes | None,
) -> tuple[Operation | None, list[str]]:
    """The operation an exchange was for and what in it breaks the contract.

    Args:
        request_body: the whole body, or None when it was too large to keep whole (not checked).
        response_body: likewise for the answer.
    """
    op = contract.match(method, path)
    if op is None:
        if status < 400:
            return None, [
                f"request: {method} {path} is no operation of the contract, yet the service answered {status}"
            ]
        return None, []  # refused by both: the contract and the service agree
    found: list[str] = []
    refused = _request_problem(contract, op, path, query, request_body)
    # A request the contract refuses is news only when the service accepted it.
    if refused is not None and status < 400:
        found.append(f"request: {op.operation_id}: the contract refuses it ({refused}), the service answered {status}")
    if response_body is not None:
        problems = contract.check_response(op, status, response_headers, response_body)
        if not problems:  # a body that breaks its schema already says what is wrong
            problems = [f"{op.operation_id} {status}: {p}" for p in _extra(op, status, response_body)]
        found += [f"response: {p}" for p in problems]
    return op, found


def _request_problem(contract: Contract, op: Operation, path: str, query: str, body: bytes | None) -> str | None:
    matched = contract.table.match(path)
    params = matched[1] if matched is not None else {}
    try:
        check_params(op, params, dict(parse_qsl(query, keep_blank_values=True)))
        if op.body is None or body is None:
            return None
        if not body:
            return "the body is missing" if op.body.required else None
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return "the body is not JSON"
        check_body(op.body, value)
    except DomainError as exc:
        return exc.message
    return None


def _extra(op: Operation, status: int, body: bytes) -> list[str]:
    response = op.responses.get(str(status)) or (op.responses.get("default") if status >= 400 else None) or {}
    media = (response.get("content") or {}).get("application/json") or {}
    schema = media.get("schema")
    if schema is None or not body:
        return []
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    components = (load_spec().document.get("components") or {}).get("schemas", {})
    return [f"field {where} is not in the contract" for where in undeclared_fields(schema, value, components)]


def undeclared_fields(schema: Any, value: Any, components: Mapping[str, Any]) -> list[str]:
    """Paths (``data.rooms[0].id``) of object fields that no schema declares where they appear.

    An object schema with ``properties`` that says nothing of ``additionalProperties`` is taken to
    list its fields; one that allows more (``true`` or a schema) is not. Of a ``oneOf``/``anyOf``,
    the branch naming most of the value's fields counts.
    """
    found: list[str] = []
    _walk(schema, value, components, "", found, 0)
    return found


def _resolve(schema: Any, components: Mapping[str, Any]) -> Any:
    for _ in range(_MAX_DEPTH):
        if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
            break
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


_DECLARED: dict[int, tuple[Any, tuple[dict[str, Any], bool] | None]] = {}


def _declared(schema: Any, components: Mapping[str, Any], depth: int = 0) -> tuple[dict[str, Any], bool] | None:
    """(properties, closed) of an object schema, merging ``allOf``; None when anything goes.

    Remembered per schema object: the contract's schemas live as long as the process, and the
    proxy asks about the same few for every answer. The schema is kept with its answer, so its id
    cannot be reused by another object.
    """
    cached = _DECLARED.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    found = _declare(schema, components, depth)
    if len(_DECLARED) < 10_000:
        _DECLARED[id(schema)] = (schema, found)
    return found


def _declare(schema: Any, components: Mapping[str, Any], depth: int) -> tuple[dict[str, Any], bool] | None:
    schema = _resolve(schema, components)
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    props: dict[str, Any] = dict(schema.get("properties") or {})
    # A schema that says ``additionalProperties: true`` allows extra fields on purpose (bitHuman's
    # own OpenAPI file does); one that says nothing is taken to list its fields.
    closed = "properties" in schema and schema.get("additionalProperties", False) is False
    closed = closed and "patternProperties" not in schema
    for part in schema.get("allOf") or []:
        inner = _declared(part, components, depth + 1)
        if inner is None:
            return None
        props.update(inner[0])
        closed = closed or inner[1]
    if schema.get("oneOf") or schema.get("anyOf"):
        closed = False
    return props, closed


def _walk(schema: Any, value: Any, components: Mapping[str, Any], where: str, found: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH or len(found) >= _MAX_FOUND:
        return
    schema = _resolve(schema, components)
    if not isinstance(schema, dict):
        return
    if isinstance(value, list):
        for i, item in enumerate(value[:100]):
            _walk(schema.get("items"), item, components, f"{where}[{i}]", found, depth + 1)
        return
    if not isinstance(value, dict):
        return
    declared = _declared(schema, components)
    if declared is None:
        return
    props, closed = declared
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        # The branch that declares the most of the value's fields is the one the value follows.
        best = max(
            (_declared(b, components) or ({}, False) for b in branches), key=lambda d: len(set(d[0]) & set(value))
        )
        props = {**props, **best[0]}
        closed = best[1] and schema.get("additionalProperties", False) is False
    for key, item in value.items():
        path = f"{where}.{key}" if where else str(key)
        if key in props:
            _walk(props[key], item, components, path, found, depth + 1)
        elif closed:
            found.append(path)
