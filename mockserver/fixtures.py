"""Fixture files: read YAML, validate against the shipped JSON Schema, report where it is wrong.

Errors name the file, the place (a dotted path and the YAML line) and what is wrong, so a typo
in a seed world never turns into a confusing failure later. The format is documented in
docs/fixtures.md; ``fixture.schema.json`` ships in the package for editors.

YAML is read through ``parse_yaml``, which bounds what a document may cost before anything is
built from it: its size, its nesting and how far its aliases expand (a "billion laughs" document
of a few hundred bytes otherwise expands to gigabytes). Control-plane YAML bodies use it too.

PyYAML is imported where YAML is parsed, not with this module: importing it costs tens of
milliseconds (its reader compiles a large regular expression), and the packaged fixtures come from
the parse cache (``parse_cache``), so a start with them reads no YAML at all.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from . import parse_cache
from .packaged import packaged
from .world.clock import parse_instant
from .world.errors import DomainError

if TYPE_CHECKING:
    import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_YAML_BYTES",
    "PACKAGED_FIXTURES",
    "FixtureError",
    "YamlLimitError",
    "check_document",
    "fixture_schema",
    "load_fixture_file",
    "load_fixture_text",
    "parse_yaml",
    "resolve_fixture",
]

# The fixture files shipped in the package (``mockserver/worlds/``, the repository's ``fixtures/``),
# named the same way by the CLI, the pytest plugin and ``MockServer``; anything else is a path.
PACKAGED_FIXTURES = ("default", "legacy", "no-active-rooms", "rate-limited", "transitional")


def resolve_fixture(fixture: str | Path) -> Path:
    """The file of a packaged fixture's name (``default``, ``legacy``...), else ``fixture`` as a path."""
    if isinstance(fixture, str) and fixture in PACKAGED_FIXTURES:
        return Path(str(packaged("worlds", f"{fixture}.yaml")))
    return Path(fixture)


@functools.cache
def _loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when PyYAML was built with it


# Our bounds (no fixture comes near them: the shipped default world is 6 KiB, depth 7, ~300 nodes).
MAX_YAML_BYTES = 1024 * 1024  # the control plane's request body cap, for files too
MAX_DEPTH = 64  # nested mappings and sequences
MAX_NODES = 100_000  # scalars and collections, counting what every alias expands to
_MAX_MESSAGE = 200  # characters of one problem: a huge offending value is never echoed whole
_MAX_PROBLEMS = 50


class YamlLimitError(ValueError):
    """A YAML document over one of the bounds; ``line`` is 1-based, 0 when unknown."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


def _check_events(text: str | bytes) -> None:
    # One pass over the parser's events (libyaml's parser keeps its own stack, it does not recurse)
    # before anything is composed: depth, and the size of the document once every alias is
    # expanded, computed per anchor so a bomb is refused after reading it, not after expanding it.
    import yaml

    sizes: dict[str, int] = {}  # anchor -> expanded node count
    stack: list[list[Any]] = [[None, 0]]  # frames of [anchor, expanded node count so far]
    total = 0  # the sum of the frames' counts: every node expanded so far
    for event in yaml.parse(text, Loader=_loader()):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) > MAX_DEPTH:
                raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels", _line(event))
            stack.append([event.anchor, 1])
            added = 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, count = stack.pop()
            if anchor is not None:
                sizes[anchor] = count
            stack[-1][1] += count
            added = 0
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = 1
            added = 1
        elif isinstance(event, yaml.AliasEvent):
            added = sizes.get(event.anchor or "", 1)
        else:
            continue
        if added:
            if not isinstance(event, yaml.CollectionStartEvent):
                stack[-1][1] += added
            total += added
            if total > MAX_NODES:
                raise YamlLimitError(
                    f"the document expands to more than {MAX_NODES} nodes (aliases included)",
                    _line(event),
                )


def parse_yaml(text: str | bytes) -> Any:
    """Parse one YAML document within the bounds (size, depth, expanded aliases).

    Raises:
        YamlLimitError: the document is over a bound.
        yaml.YAMLError: it is not valid YAML.
    """
    if len(text) > MAX_YAML_BYTES:
        raise YamlLimitError(f"the document is larger than {MAX_YAML_BYTES} bytes")
    _check_events(text)
    import yaml

    return yaml.load(text, Loader=_loader())


class FixtureError(ValueError):
    """A fixture document that cannot be loaded; ``problems`` lists each (place, message)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        # Bounded: a hostile document must not turn into a huge error. Messages are clipped (a
        # schema error quotes the offending value) and only the first problems are listed.
        clipped = [(place, _clip(message)) for place, message in problems[:_MAX_PROBLEMS]]
        if len(problems) > _MAX_PROBLEMS:
            clipped.append(("(top)", f"{len(problems) - _MAX_PROBLEMS} more problems not shown"))
        self.problems = problems = clipped
        lines = "\n".join(f"  {source}:{place}: {message}" for place, message in problems)
        super().__init__(f"invalid fixture {source}:\n{lines}")


@functools.cache
def fixture_schema() -> dict[str, Any]:
    """The JSON Schema of the fixture format."""
    text = packaged("fixture.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> Any:
    return jsonschema_rs.validator_for(fixture_schema())


def _node_at(node: yaml.Node | None, path: list[str | int]) -> yaml.Node | None:
    # Walk the composed YAML tree along a JSON path to find the line of a problem.
    if node is None:  # no tree: a document that did not come from YAML text
        return None
    import yaml  # imported already: the tree is PyYAML's

    for key in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), node)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    return node


def _place(tree: yaml.Node | None, path: list[str | int]) -> str:
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "(top)"
    node = _node_at(tree, path)
    return f"{node.start_mark.line + 1}: {dotted}" if node is not None else dotted


def _schema_at(path: list[str | int]) -> Any:
    node: Any = fixture_schema()
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(node, dict) and "$ref" in node:
        return _schema_at(node["$ref"].removeprefix("#/").split("/"))
    return node


def _describe(schema: Any) -> str:
    # A oneOf branch in the words of the fixture format (the format's own branches are these shapes).
    if not isinstance(schema, dict):
        return "a valid value"
    if "$ref" in schema:
        return _describe(_schema_at(schema["$ref"].removeprefix("#/").split("/")))
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind in ("integer", "number"):
        noun = "a whole number" if kind == "integer" else "a number"
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"{noun} from {low} to {high}"
        return f"{noun} of at least {low}" if low is not None else noun
    if kind == "string":
        if schema.get("format") == "date-time":
            return "an ISO-8601 date-time such as 2024-01-15T10:30:00Z"
        return "a non-empty string" if schema.get("minLength") else "a string"
    if kind == "object":
        return "a mapping of " + ", ".join(schema.get("properties", {})) if schema.get("properties") else "a mapping"
    if kind == "array":
        return "a list"
    return "a valid value"


def _key_line(tree: yaml.Node | None, path: list[str | int], key: str) -> int | None:
    node = _node_at(tree, path)
    if node is None:
        return None
    import yaml  # imported already: the tree is PyYAML's

    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if k.value == key:
                return int(k.start_mark.line) + 1
    return None


def _explain(error: Any, tree: yaml.Node | None) -> list[tuple[str, str]]:
    """One schema error in the fixture's terms, at the line of the offending key or value."""
    try:
        return _explained(error, tree)
    except Exception:  # an explanation must never hide the error itself: the schema's words then
        return [(_place(tree, list(error.instance_path)), error.message)]


def _explained(error: Any, tree: yaml.Node | None) -> list[tuple[str, str]]:
    path = list(error.instance_path)
    kind = type(error.kind).__name__
    if kind == "AdditionalProperties":
        # The key's own line, and the nearest key the schema knows (a typo is the usual cause).
        owner = _schema_at(list(error.schema_path)[:-1])
        known = list(owner.get("properties", {})) if isinstance(owner, dict) else []
        import difflib  # here: only a fixture with problems needs it

        explained = []
        for key in error.kind.unexpected:
            dotted = _place(None, [*path, key])
            line = _key_line(tree, path, key)
            guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"; did you mean {guess[0]!r}?" if guess else (f"; known keys: {', '.join(known)}" if known else "")
            place = f"{line}: {dotted}" if line is not None else dotted
            explained.append((place, f"unknown key {key!r}{hint}"))
        return explained
    if kind == "OneOfNotValid":
        branches = _schema_at(list(error.schema_path))
        if isinstance(branches, list) and path:
            shapes = " or ".join(_describe(b) for b in branches)
            name = next((p for p in reversed(path) if isinstance(p, str)), "the value")
            got = json.dumps(error.instance, default=str)[:_MAX_MESSAGE]
            return [(_place(tree, path), f"{name} must be {shapes}; got {got}")]
    return [(_place(tree, path), error.message)]


def check_document(document: Any, source: str = "<fixture>", tree: yaml.Node | None = None) -> dict[str, Any]:
    """Validate a parsed fixture document (schema, then cross-references); return it."""
    if document is None:
        document = {}
    if _deeper_than(document, MAX_DEPTH):
        raise FixtureError(source, [("(top)", f"nested deeper than {MAX_DEPTH} levels")])
    problems = [problem for e in _validator().iter_errors(document) for problem in _explain(e, tree)]
    if problems:
        raise FixtureError(source, problems)
    where: list[str | int]
    if "freeze_at" in (document.get("clock") or {}):
        try:
            parse_instant(document["clock"]["freeze_at"], "clock.freeze_at")
        except DomainError as exc:
            problems.append((_place(tree, ["clock", "freeze_at"]), exc.message.removeprefix("clock.freeze_at: ")))
    seen_secrets: dict[str, str] = {}
    seen_accounts: set[str] = set()
    for i, account in enumerate((document.get("bithuman") or {}).get("accounts", [])):
        where = ["bithuman", "accounts", i]
        if account["id"] in seen_accounts:
            problems.append((_place(tree, [*where, "id"]), f"account id {account['id']!r} is used twice"))
        seen_accounts.add(account["id"])
        for j, secret in enumerate(account["secrets"]):
            if secret in seen_secrets and seen_secrets[secret] != account["id"]:
                problems.append(
                    (_place(tree, [*where, "secrets", j]), f"this secret already belongs to {seen_secrets[secret]!r}")
                )
            seen_secrets[secret] = account["id"]
        codes: set[str] = set()
        for k, agent in enumerate(account.get("agents", [])):
            if agent["code"] in codes:
                problems.append(
                    (_place(tree, [*where, "agents", k, "code"]), f"agent {agent['code']!r} is defined twice")
                )
            codes.add(agent["code"])
            rooms = [r if isinstance(r, str) else r["id"] for r in agent.get("rooms", [])]
            for dup in sorted(r for r, n in collections.Counter(rooms).items() if n > 1):
                problems.append((_place(tree, [*where, "agents", k, "rooms"]), f"room {dup!r} is listed twice"))
    seen_appids: dict[str, str] = {}
    seen_customers: set[str] = set()
    for i, customer in enumerate((document.get("agora") or {}).get("customers", [])):
        where = ["agora", "customers", i]
        if customer["id"] in seen_customers:
            problems.append((_place(tree, [*where, "id"]), f"customer id {customer['id']!r} is used twice"))
        seen_customers.add(customer["id"])
        for j, project in enumerate(customer.get("projects", [])):
            if project["appid"] in seen_appids:
                problems.append(
                    (
                        _place(tree, [*where, "projects", j, "appid"]),
                        f"App ID already used by {seen_appids[project['appid']]!r}",
                    )
                )
            seen_appids[project["appid"]] = customer["id"]
            for k, rule in enumerate(project.get("responder", [])):
                try:
                    re.compile(rule["match"])
                except re.error as exc:
                    problems.append(
                        (_place(tree, [*where, "projects", j, "responder", k, "match"]), f"not a regex: {exc}")
                    )
    if problems:
        raise FixtureError(source, problems)
    return document


def _deeper_than(document: Any, limit: int) -> bool:
    # Iterative, so a document nested thousands deep (JSON allows it) cannot exhaust the stack.
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict | list):
            if depth >= limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def load_fixture_text(text: str, source: str = "<fixture>") -> dict[str, Any]:
    """Parse and validate fixture YAML (or JSON, which is YAML), within the bounds of ``parse_yaml``."""
    return _checked(_parsed(text, source), text, source)


def _parsed(text: str, source: str) -> Any:
    import yaml

    try:
        return parse_yaml(text)
    except YamlLimitError as exc:
        raise FixtureError(source, [(str(exc.line or "(top)"), str(exc))]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"{mark.line + 1}" if mark is not None else "(top)"
        raise FixtureError(source, [(place, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None


def _checked(document: Any, text: str, source: str) -> dict[str, Any]:
    if document is None:
        # An empty file (or one of comments only) is almost always a mistake: a wrong path or an
        # unsaved editor buffer. An empty world is `mockserver serve --empty`, or `{}`.
        keys = ", ".join(fixture_schema().get("properties", {}))
        raise FixtureError(source, [("(top)", f"the document is empty; a fixture is a mapping of {keys}")])
    try:
        return check_document(document, source)
    except FixtureError:
        pass
    # Only a document with problems needs its YAML tree: the line of each problem.
    import yaml

    return check_document(document, source, yaml.compose(text, Loader=_loader()))  # raises, now with lines


def load_fixture_file(path: str | Path) -> dict[str, Any]:
    """Read, parse and validate one fixture file (or a packaged one, by name: ``default``...)."""
    path = resolve_fixture(path)
    try:
        with path.open("rb") as file:
            # One byte more than the bound tells a file over it apart without reading it all.
            raw = file.read(MAX_YAML_BYTES + 1)
        text = raw.decode("utf-8")
    except OSError as exc:
        problem = exc.strerror or str(exc)
        if isinstance(exc, FileNotFoundError):
            problem += f" (a path, or a packaged fixture: {', '.join(PACKAGED_FIXTURES)})"
        raise FixtureError(str(path), [("(file)", problem)]) from None
    except UnicodeDecodeError:
        if len(raw) <= MAX_YAML_BYTES:
            raise FixtureError(str(path), [("(file)", "not UTF-8 text")]) from None
        text = ""  # cut inside a character: over the bound anyway
    if len(raw) > MAX_YAML_BYTES:
        raise FixtureError(str(path), [("(file)", f"larger than {MAX_YAML_BYTES} bytes")])
    source, name = str(path), _packaged_name(path)
    if name is None:
        document = _parsed(text, source)
    else:
        # The package's own fixtures come from the parse cache: a start with them reads no YAML.
        document = parse_cache.parsed(f"fixture-{name}", raw, lambda: _parsed(text, source))
    return _checked(document, text, source)


def _packaged_name(path: Path) -> str | None:
    # A fixture file of the package (``default.yaml``, ``worlds/legacy.yaml``...), by its name in the
    # package. Only these are cached: a bounded set, and no user's file is copied anywhere. (Not
    # ``resolve()``: in the source tree the packaged files are links to ``fixtures/``.)
    package = Path(os.path.abspath(str(packaged())))
    try:
        return Path(os.path.abspath(path)).relative_to(package).as_posix()
    except ValueError:
        return None
