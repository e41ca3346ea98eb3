"""Fixture files: read YAML, validate against the shipped JSON Schema, report where it is wrong.

Errors name the file, the place (a dotted path and the YAML line) and what is wrong, so a typo
in a seed world never turns into a confusing failure later. The format is documented in
docs/fixtures.md; ``fixture.schema.json`` ships in the package for editors.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

__all__ = ["FixtureError", "check_document", "fixture_schema", "load_fixture_file", "load_fixture_text"]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FixtureError(ValueError):
    """A fixture document that cannot be loaded; ``problems`` lists each (place, message)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {source}:{place}: {message}" for place, message in problems)
        super().__init__(f"invalid fixture {source}:\n{lines}")


@functools.cache
def fixture_schema() -> dict[str, Any]:
    """The JSON Schema of the fixture format."""
    text = resources.files("mockserver").joinpath("fixture.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> Any:
    return jsonschema_rs.validator_for(fixture_schema())


def _node_at(node: yaml.Node | None, path: list[str | int]) -> yaml.Node | None:
    # Walk the composed YAML tree along a JSON path to find the line of a problem.
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


def check_document(document: Any, source: str = "<fixture>", tree: yaml.Node | None = None) -> dict[str, Any]:
    """Validate a parsed fixture document (schema, then cross-references); return it."""
    if document is None:
        document = {}
    problems = [(_place(tree, list(e.instance_path)), e.message) for e in _validator().iter_errors(document)]
    if problems:
        raise FixtureError(source, problems)
    where: list[str | int]
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
            for dup in sorted({r for r in rooms if rooms.count(r) > 1}):
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


def load_fixture_text(text: str, source: str = "<fixture>") -> dict[str, Any]:
    """Parse and validate fixture YAML (or JSON, which is YAML)."""
    try:
        tree = yaml.compose(text, Loader=_LOADER)
        document = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f"{mark.line + 1}" if mark is not None else "(top)"
        raise FixtureError(source, [(place, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    return check_document(document, source, tree)


def load_fixture_file(path: str | Path) -> dict[str, Any]:
    """Read, parse and validate one fixture file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(str(path), [("(file)", exc.strerror or str(exc))]) from None
    except UnicodeDecodeError:
        raise FixtureError(str(path), [("(file)", "not UTF-8 text")]) from None
    return load_fixture_text(text, str(path))
