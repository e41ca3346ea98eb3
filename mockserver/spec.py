"""The contract, loaded once: operations indexed by operationId, request validators compiled when used.

``openapi.yaml`` ships inside the package (``packaged.py``). What several
operations share (responses, parameters, headers, examples, links) is written once under
``components`` and referenced; ``Spec`` follows those references when it indexes the operations
(``resolve_path_item``), so an ``Operation`` holds its parameters, body and responses as they
apply (the responses' references are followed when first read: no request reads them). Schema
references are kept: every schema compiles with ``components`` at its root. Each operation's path,
query and body schemas become JSON Schema 2020-12 validators (jsonschema-rs), each compiled when it
is first used (``Validator``: compiling them all was most of the start-up's own work, and a
request needs one or two); a request is then checked with one fast ``is_valid``
call, and only a failing request pays for building a readable error.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from . import parse_cache
from .packaged import packaged
from .world.errors import DomainError, ErrorCode

__all__ = ["Body", "Operation", "Parameter", "Spec", "Validator", "load_document", "load_spec", "resolve_path_item"]

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str  # "path" | "query" | "header"
    required: bool
    type: str  # JSON type used to coerce the text of a path or query value


class Validator:
    """A JSON Schema 2020-12 validator of ``root``, compiled on its first use.

    The tests compile every validator of the shipped contracts (``Spec.validators``), so a schema
    that does not compile fails there, never at a request.
    """

    __slots__ = ("_compiled", "root")

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self._compiled: Any = None

    def compiled(self) -> Any:
        compiled = self._compiled
        if compiled is None:
            # Two threads may both compile the first time: either result is the same validator.
            compiled = self._compiled = jsonschema_rs.validator_for(self.root)
        return compiled

    def is_valid(self, instance: Any) -> bool:
        # Every checked request comes here: the compiled validator without a call when it exists.
        compiled = self._compiled if self._compiled is not None else self.compiled()
        valid: bool = compiled.is_valid(instance)
        return valid

    def iter_errors(self, instance: Any) -> Any:
        return self.compiled().iter_errors(instance)


@dataclass(frozen=True, slots=True)
class Body:
    required: bool
    media_types: tuple[str, ...]
    validator: Validator  # its root is the schema, to find ``x-error-message`` of a failing node
    max_bytes: tuple[tuple[str, int], ...]  # top-level string fields limited in UTF-8 bytes


@dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # the OpenAPI template, e.g. /v1/agent/{agent_code}/speak
    tag: str
    security: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    params_validator: Validator | None  # validates {"path": {...}, "query": {...}}; None when unconstrained
    body: Body | None
    responses: Mapping[str, Any]  # status -> response object, references other than schemas followed


def resolve_path_item(document: dict[str, Any], item: dict[str, Any], *, responses: bool = True) -> dict[str, Any]:
    """A path item with its references to shared parts followed: parameters, request bodies,
    responses and, inside those, headers, examples and links.

    References are followed where OpenAPI allows a Reference Object, not everywhere a ``$ref`` key
    appears (an example's value is data). Schemas are left as written: validators compile each with
    ``components`` at its root, where their references resolve. Shared parts are not copied, so
    treat the result as read-only. With ``responses=False`` the responses are left as written.
    """
    out = dict(item)
    if "parameters" in item:
        out["parameters"] = [_follow(document, p) for p in item["parameters"]]
    for method in HTTP_METHODS:
        if method in item:
            op = out[method] = dict(item[method])
            if "parameters" in op:
                op["parameters"] = [_follow(document, p) for p in op["parameters"]]
            if "requestBody" in op:
                op["requestBody"] = _with_content(document, _follow(document, op["requestBody"]))
            if responses and "responses" in op:
                op["responses"] = {
                    status: _response(document, _follow(document, r)) for status, r in op["responses"].items()
                }
    return out


def _follow(document: dict[str, Any], node: Any) -> Any:
    # A Reference Object's siblings (OpenAPI 3.1: summary, description) override its target's.
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        target = _lookup(document, node["$ref"])
        node = {**target, **siblings} if siblings else target
    return node


class _Responses(Mapping[str, Any]):
    """An operation's responses, their references followed when first read.

    No request reads them (the coverage report, the checks of answers and fault rules do), and
    following them was a good part of indexing the contract at start-up. A reference that does not
    resolve fails then; the tests follow every one of the shipped contracts.
    """

    __slots__ = ("_document", "_raw", "_resolved")

    def __init__(self, document: dict[str, Any], raw: dict[str, Any]) -> None:
        self._document, self._raw = document, raw
        self._resolved: dict[str, Any] | None = None

    def _all(self) -> dict[str, Any]:
        resolved = self._resolved
        if resolved is None:  # two threads may both resolve them the first time: the same result
            document = self._document
            resolved = self._resolved = {
                status: _response(document, _follow(document, r)) for status, r in self._raw.items()
            }
        return resolved

    def __getitem__(self, status: str) -> Any:
        return self._all()[status]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, status: object) -> bool:
        return status in self._raw

    def __repr__(self) -> str:
        return repr(self._all())


def _response(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    out = _with_content(document, response)
    for part in ("headers", "links"):
        if part in response:
            out[part] = {name: _follow(document, value) for name, value in response[part].items()}
    return out


def _with_content(document: dict[str, Any], holder: dict[str, Any]) -> dict[str, Any]:
    content = holder.get("content")
    if not content or not any("examples" in media for media in content.values()):
        return holder
    media_types = {
        name: {**media, "examples": {k: _follow(document, e) for k, e in media["examples"].items()}}
        if "examples" in media
        else media
        for name, media in content.items()
    }
    return {**holder, "content": media_types}


def _lookup(document: dict[str, Any], target: str) -> Any:
    if not target.startswith("#/"):
        raise ValueError(f"$ref {target!r}: only references inside the document are supported")
    node: Any = document
    for part in target[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"$ref {target!r} does not resolve")
        node = node[part]
    return node


class Spec:
    """An OpenAPI document with its operations ready to serve."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        # Schemas refer only to schemas: compiling each validator with just those at its root keeps
        # the shared responses and examples out of every compile (jsonschema-rs walks the whole root).
        components = {"schemas": (document.get("components") or {}).get("schemas", {})}
        operations: dict[str, Operation] = {}
        for path, raw_item in (document.get("paths") or {}).items():
            item = resolve_path_item(document, raw_item, responses=False)
            shared = item.get("parameters", [])
            for method in HTTP_METHODS:
                raw = item.get(method)
                if raw is None:
                    continue
                responses = _Responses(document, raw.get("responses") or {})
                op = _operation(path, method, raw, shared, components, document.get("security"), responses)
                if op.operation_id in operations:
                    raise ValueError(f"operationId {op.operation_id!r} is used twice")
                operations[op.operation_id] = op
        self.operations = operations

    def validators(self) -> list[Validator]:
        """Every request validator of the document (each compiles when first used)."""
        out: list[Validator] = []
        for op in self.operations.values():
            if op.params_validator is not None:
                out.append(op.params_validator)
            if op.body is not None:
                out.append(op.body.validator)
        return out

    def by_path(self) -> dict[str, dict[str, Operation]]:
        """Path template -> method -> operation, in document order."""
        table: dict[str, dict[str, Operation]] = {}
        for op in self.operations.values():
            table.setdefault(op.path, {})[op.method] = op
        return table


def _validator(schema: dict[str, Any], components: dict[str, Any]) -> Validator:
    return Validator({**schema, "components": components})


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = components["schemas"][name]
    return schema


def _operation(
    path: str,
    method: str,
    raw: dict[str, Any],
    shared: list[dict[str, Any]],
    components: dict[str, Any],
    default_security: list[dict[str, Any]] | None,
    responses: Mapping[str, Any],
) -> Operation:
    op_id = raw.get("operationId")
    if not op_id or not _SNAKE.match(op_id):
        raise ValueError(f"{method.upper()} {path}: operationId must be snake_case, got {op_id!r}")
    params: list[Parameter] = []
    groups: dict[str, dict[str, Any]] = {"path": {}, "query": {}}
    required: dict[str, list[str]] = {"path": [], "query": []}
    for p in [*shared, *raw.get("parameters", [])]:
        schema = p.get("schema", {"type": "string"})
        kind = _resolve(schema, components).get("type", "string")
        kind = next((t for t in kind if t != "null"), "string") if isinstance(kind, list) else kind
        params.append(Parameter(p["name"], p["in"], bool(p.get("required")), kind))
        if p["in"] in groups:
            groups[p["in"]][p["name"]] = schema
            if p.get("required"):
                required[p["in"]].append(p["name"])
    constrained = any(
        set(_resolve(s, components)) - {"type", "description", "example", "examples"}
        for group in groups.values()
        for s in group.values()
    ) or any(kind != "string" for kind in (p.type for p in params))
    params_validator = None
    if constrained:
        params_validator = _validator(
            {
                "type": "object",
                "properties": {
                    where: {"type": "object", "properties": props, "required": required[where]}
                    for where, props in groups.items()
                },
            },
            components,
        )
    body = None
    request_body = raw.get("requestBody")
    if request_body:
        content = request_body.get("content", {})
        media = tuple(content)
        schema = next((c.get("schema") for c in content.values() if c.get("schema")), {})
        validator = _validator(schema, components)
        resolved = _resolve(schema, components)
        max_bytes = tuple(
            (name, prop["x-max-utf8-bytes"])
            for name, prop in (resolved.get("properties") or {}).items()
            if isinstance(prop, dict) and "x-max-utf8-bytes" in prop
        )
        body = Body(bool(request_body.get("required")), media, validator, max_bytes)
    security = raw.get("security", default_security) or []
    tags = raw.get("tags") or [""]
    return Operation(
        operation_id=op_id,
        method=method.upper(),
        path=path,
        tag=tags[0],
        security=tuple(name for requirement in security for name in requirement),
        parameters=tuple(params),
        params_validator=params_validator,
        body=body,
        responses=responses,
    )


def load_document(name: str = "openapi.yaml") -> dict[str, Any]:
    """Read a YAML document the package ships (``name`` relative to it).

    Parsing the 190 KB contract takes a good part of a second on a slow machine, and start-up
    should feel instant, so the parsed document is cached as JSON, keyed by the text's SHA-256
    (``parse_cache``: a changed file is parsed again). Set MOCKSERVER_NO_CACHE to skip the cache.
    """
    raw = packaged(name).read_bytes()
    document: dict[str, Any] = parse_cache.parsed(name, raw, lambda: _parse_yaml(raw))
    return document


def _parse_yaml(raw: bytes) -> Any:
    import yaml  # here, not at import: a start that finds the cache warm never pays for PyYAML

    return yaml.load(raw.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.cache
def load_spec(name: str = "openapi.yaml") -> Spec:
    """The shipped contract (or another shipped document), parsed and compiled once per process."""
    return Spec(load_document(name))


# -- request checks --------------------------------------------------------------------------


def _dotted(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _failing_node(root: dict[str, Any], schema_path: list[str | int]) -> dict[str, Any]:
    # The schema node whose keyword failed: it may carry the vendor's own wording for the failure
    # (``x-error-message``) or the vendor's own error code (``x-error-code``).
    node: Any = root
    for key in schema_path[:-1]:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return {}
    return node if isinstance(node, dict) else {}


_MAX_KEYS_COMPARED = 32  # a body with more keys is not a typo worth a hint; the work stays bounded
_MAX_KEY_LENGTH = 64


def _misspelt(missing: str, instance: Any, node: dict[str, Any]) -> str | None:
    # The body's unknown key that is probably the missing one misspelt ("mesage" for "message").
    if not isinstance(instance, dict) or len(instance) > _MAX_KEYS_COMPARED:
        return None
    known = node.get("properties") or {}
    unknown = [k for k in instance if k not in known and len(k) <= _MAX_KEY_LENGTH]
    import difflib  # here: only a refused body needs it, and start-up should not import it

    close = difflib.get_close_matches(missing, unknown, n=1, cutoff=0.75)
    return close[0] if close else None


def schema_error(validator: Validator, root: dict[str, Any], instance: Any, prefix: list[str | int]) -> DomainError:
    """The most useful failure of ``instance`` as a ``missing_field`` or ``invalid_field`` error."""
    # A hostile body may break its schema in thousands of places: the first 100 are enough to choose from.
    errors = list(itertools.islice(validator.iter_errors(instance), 100))
    # Missing fields first (vendors report them first), then the shallowest problem.
    errors.sort(
        key=lambda e: (not isinstance(e.kind, jsonschema_rs.ValidationErrorKind.Required), len(e.instance_path))
    )
    error = errors[0]
    where = list(error.instance_path)
    if isinstance(error.kind, jsonschema_rs.ValidationErrorKind.Required):
        field = clip(_dotted([*prefix, *where, error.kind.property]))
        message = f"Missing required field: {field}"
        typo = _misspelt(error.kind.property, error.instance, _failing_node(root, list(error.schema_path)))
        if typo is not None:
            message += f" (the body has {typo!r}: did you mean {error.kind.property!r}?)"
        return DomainError(ErrorCode.MISSING_FIELD, message, field=field)
    field = clip(_dotted([*prefix, *where]) or "body")
    node = _failing_node(root, list(error.schema_path))
    # The validator's message quotes the offending value: an error never echoes a huge one whole.
    problem = clip(error.message)
    message = node.get("x-error-message") or f"Invalid value for {field}: {problem}"
    return DomainError(node.get("x-error-code", ErrorCode.INVALID_FIELD), message, field=field, problem=problem)


def clip(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


def coerce(param: Parameter, text: str) -> Any:
    """Turn the text of a path or query value into the JSON type its schema declares."""
    try:
        if param.type == "integer":
            return int(text)
        if param.type == "number":
            return float(text)
    except ValueError:
        raise DomainError(
            ErrorCode.INVALID_FIELD,
            f"Invalid value for {param.name}: {text!r} is not a valid {param.type}",
            field=param.name,
        ) from None
    if param.type == "boolean":
        if text in ("true", "false"):
            return text == "true"
        raise DomainError(
            ErrorCode.INVALID_FIELD, f"Invalid value for {param.name}: {text!r} is not true or false", field=param.name
        )
    return text


def check_params(op: Operation, path: dict[str, str], query_items: Any) -> dict[str, Any]:
    """Coerce and validate the query parameters the operation declares; returns them typed."""
    query: dict[str, Any] = {}
    for param in op.parameters:
        if param.location == "query":
            text = query_items.get(param.name)
            if text is not None:
                query[param.name] = coerce(param, text)
    if op.params_validator is not None:
        typed_path = {
            p.name: coerce(p, path[p.name]) if p.type != "string" and p.name in path else path.get(p.name)
            for p in op.parameters
            if p.location == "path"
        }
        instance = {"path": typed_path, "query": query}
        if not op.params_validator.is_valid(instance):
            err = schema_error(op.params_validator, {}, instance, [])
            # Drop the "path." / "query." prefix the wrapper adds.
            field = str(err.details.get("field", "")).partition(".")[2] or err.details.get("field")
            message = err.message.replace(str(err.details.get("field")), str(field), 1)
            raise DomainError(err.code, message, field=field)
    return query


def check_body(body: Body, value: Any) -> None:
    """Validate a parsed body against the operation's schema; raise the first useful failure."""
    if not body.validator.is_valid(value):
        raise schema_error(body.validator, body.validator.root, value, [])
    for name, limit in body.max_bytes:
        text = value.get(name) if isinstance(value, dict) else None
        if isinstance(text, str) and len(text.encode("utf-8", "surrogatepass")) > limit:
            raise DomainError(
                ErrorCode.INVALID_FIELD, f"Invalid value for {name}: longer than {limit} UTF-8 bytes", field=name
            )
