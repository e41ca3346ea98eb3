"""The contract read one way by everyone: which operation a request is for, whether an answer is
one the contract allows, and which vendor (and error envelope) a path belongs to.

The router, the tests' response checker, the contract suite and its report all ask these
questions; each answer has one implementation here, taken from the specs themselves:

- ``PathTable`` finds the path template a request path matches (the router's table too);
- ``Contract.match`` gives the operation of a method and path;
- ``Contract.check_response`` lists what is wrong with an answer (status documented, content type
  declared, body valid against the response's schema, response references followed);
- ``Contract.vendor_of`` / ``Contract.prefixes`` say whose path it is, from each tag's ``x-vendor``
  and ``x-path-prefix`` and from the paths of each tag's operations.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import jsonschema_rs
import orjson

from .spec import Operation, Spec, load_spec

__all__ = ["CONTROL", "Contract", "PathTable", "load_contract"]

T = TypeVar("T")
CONTROL = "control"  # what ``vendor_of`` calls the control plane's own paths


class PathTable(Generic[T]):
    """Path templates bucketed by shape: a dict lookup, then a regex or two.

    Templates are bucketed by (first segment, number of segments), so a path is compared with the
    one to three templates of its shape instead of every template in turn. Within a bucket,
    templates with fewer parameters come first, so a literal segment wins over a parameter. A
    bucket's patterns are compiled when a path of its shape is first matched: compiling all of
    them (about 70 in the router) was a good part of the start-up's own work.
    """

    def __init__(self, templates: Mapping[str, T]) -> None:
        self._sources: dict[tuple[str, int], list[tuple[str, T]]] = {}
        for template in sorted(templates, key=lambda t: t.count("{")):
            segments = template.strip("/").split("/")
            # The pattern keeps the template's own slashes (``/_mock/`` is not ``/_mock``).
            pattern = "/".join(
                f"(?P<{seg[1:-1]}>[^/]+)" if seg.startswith("{") else re.escape(seg) for seg in template.split("/")
            )
            key = (segments[0], len(segments))
            self._sources.setdefault(key, []).append((f"^{pattern}$", templates[template]))
        self.buckets: dict[tuple[str, int], list[tuple[re.Pattern[str], T]]] = {}

    def match(self, path: str) -> tuple[T, dict[str, str]] | None:
        """The value of the template ``path`` matches, with the path parameters; None if none does."""
        first, _, rest = path.strip("/").partition("/")
        key = (first, rest.count("/") + 2 if rest else 1)
        bucket = self.buckets.get(key)
        if bucket is None:
            if key not in self._sources:
                return None
            # Two threads may both compile a bucket the first time: either list is the same.
            bucket = self.buckets[key] = [(re.compile(pattern), value) for pattern, value in self._sources[key]]
        for pattern, value in bucket:
            found = pattern.match(path)
            if found is not None:
                return value, found.groupdict()
        return None


class Contract:
    """The vendors' spec and, optionally, the control plane's, read as one table.

    Args:
        spec: the vendors' contract (``openapi.yaml``).
        control: the control plane's (``admin/openapi.yaml``); its paths belong to ``CONTROL``.
    """

    def __init__(self, spec: Spec, control: Spec | None = None) -> None:
        self.specs = [spec] if control is None else [spec, control]
        by_path: dict[str, dict[str, Operation]] = {}
        self._spec_of: dict[str, Spec] = {}
        for one in self.specs:
            for op in one.operations.values():
                by_path.setdefault(op.path, {})[op.method] = op
                self._spec_of[op.operation_id] = one
        self.table = PathTable(by_path)
        self._vendor_of_tag: dict[str, str | None] = {}
        for one in self.specs:
            for tag in one.document.get("tags") or []:
                self._vendor_of_tag[tag["name"]] = CONTROL if one is control else tag.get("x-vendor")
        self._prefix_table = self._derive_prefixes()
        self._prefixes = [(re.compile(pattern), tag) for pattern, tag in self._prefix_table]
        self._validators: dict[tuple[str, str, str], Any] = {}

    # -- requests --------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method path`` (a concrete path, e.g. ``/v1/agent/A1/speak``), if any."""
        found = self.table.match(path)
        return found[0].get(method.upper()) if found is not None else None

    def prefixes(self) -> list[tuple[str, str]]:
        """(regular expression matched at the start of a path, tag), most specific first.

        A tag with ``x-path-prefix`` claims every path under it (its vendor's unknown paths); the
        other tags claim the shortest leading segments of their operations' paths that no other
        tag's operation shares (``.../projects/{appid}/call`` for telephony).
        """
        return list(self._prefix_table)

    def _derive_prefixes(self) -> list[tuple[str, str]]:
        paths: dict[str, list[list[str]]] = {}
        for one in self.specs:
            for op in one.operations.values():
                paths.setdefault(op.tag, []).append(op.path.strip("/").split("/"))
        declared = {
            tag["name"]: tag["x-path-prefix"]
            for one in self.specs
            for tag in one.document.get("tags") or []
            if tag.get("x-path-prefix")
        }
        found: list[tuple[int, str, str]] = []  # (segments, pattern, tag)
        for tag, own in paths.items():
            if tag in declared:
                prefix = declared[tag]
                found.append((prefix.strip("/").count("/") + 1, _prefix_pattern(prefix), tag))
                continue
            # Only a template with the same first segment (or a parameter there) can share a prefix.
            others = [
                p
                for other, ps in paths.items()
                if other != tag
                for p in ps
                if any(p[0] == s[0] or "{" in p[0] + s[0] for s in own)
            ]
            for segments in own:
                n = next(
                    (n for n in range(1, len(segments) + 1) if not any(_overlap(segments[:n], o) for o in others)),
                    len(segments),
                )
                entry = (n, _prefix_pattern("/" + "/".join(segments[:n])), tag)
                if entry not in found:
                    found.append(entry)
        found.sort(key=lambda entry: (-entry[0], -len(entry[1])))
        return [(pattern, tag) for _, pattern, tag in found]

    def tag_of(self, path: str) -> str | None:
        """The tag whose envelope answers ``path`` when no operation does (None: nobody's)."""
        return next((tag for pattern, tag in self._prefixes if pattern.match(path)), None)

    def vendor_of(self, path: str) -> str | None:
        """``bithuman``, ``agora`` (the tags' ``x-vendor``), ``CONTROL`` or None for a path."""
        tag = self.tag_of(path)
        return self._vendor_of_tag.get(tag) if tag is not None else None

    # -- answers ---------------------------------------------------------------------------------

    def check_response(self, op: Operation, status: int, headers: Mapping[str, str], body: bytes) -> list[str]:
        """What is wrong with this answer of ``op``, as readable problems (empty: it conforms).

        The status must be documented (or fall under ``default`` for an error), the content type
        declared for it, and a JSON body valid against the response's schema; a response that
        declares no content must have an empty body (or ``{}``).
        """
        key = str(status)
        if key not in op.responses and "default" in op.responses and status >= 400:
            key = "default"
        if key not in op.responses:
            return [
                f"{op.operation_id} answered {status}, which the contract does not document "
                f"(documented: {', '.join(sorted(op.responses))}): {body[:300]!r}"
            ]
        content = op.responses[key].get("content")
        if not content:
            if body in (b"", b"{}"):
                return []
            return [f"{op.operation_id} {status} must have no body, got {body[:200]!r}"]
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        media = content_type.split(";")[0].strip()
        if media not in content:
            return [f"{op.operation_id} {status}: content type {media!r}, the contract says {sorted(content)}"]
        validator = self._validator(op, key, media)
        if validator is None:
            return []
        if _is_json(media):
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError:
                return [f"{op.operation_id} {status}: the body is not JSON: {body[:200]!r}"]
        else:
            value = body.decode("utf-8", "replace")
        errors = [
            f"{'/'.join(map(str, e.instance_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(value)
        ]
        if errors:
            return [f"{op.operation_id} {status}: the body does not match the contract: {errors[:3]}: {body[:300]!r}"]
        return []

    def _validator(self, op: Operation, status: str, media: str) -> Any:
        key = (op.operation_id, status, media)
        if key not in self._validators:
            schema = op.responses[status]["content"][media].get("schema")
            schemas = (self._spec_of[op.operation_id].document.get("components") or {}).get("schemas", {})
            self._validators[key] = (
                None if schema is None else jsonschema_rs.validator_for({**schema, "components": {"schemas": schemas}})
            )
        return self._validators[key]


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _overlap(a: list[str], b: list[str]) -> bool:
    # Can a path start with the segments ``a`` and be one of template ``b``? A parameter matches anything.
    if len(b) < len(a):
        return False
    return all(x == y or x.startswith("{") or y.startswith("{") for x, y in zip(a, b, strict=False))


def _prefix_pattern(prefix: str) -> str:
    # A prefix ending in "/" claims everything below it; otherwise its last segment must end there.
    pattern = "/".join("[^/]+" if seg.startswith("{") else re.escape(seg) for seg in prefix.split("/"))
    return pattern if prefix.endswith("/") else pattern + "(?:/|$)"


@functools.cache
def load_contract() -> Contract:
    """The shipped contracts (the vendors' and the control plane's), read once per process."""
    return Contract(load_spec(), load_spec("admin/openapi.yaml"))
