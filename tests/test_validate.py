"""``mockserver validate``: messages that point at the line, name the likely key and speak the
fixture's terms; folders; ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from starlette.testclient import TestClient

from mockserver.cli import main

from .conftest import DEFAULT_FIXTURE, DOCS_SECRET

TYPO = """\
version: 1
bithuman:
  accounts:
    - id: a
      secrets: [s]
      dialekt: legacy
"""


def _validate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    return result.exit_code, result.output


def test_a_typo_is_reported_at_its_own_line_with_the_nearest_key(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text(TYPO)
    code, output = _validate(str(bad))
    assert code == 1
    assert f"{bad}:6: bithuman.accounts[0].dialekt: unknown key 'dialekt'; did you mean 'dialect'?" in output


def test_a_bad_rate_limit_is_explained_in_the_fixtures_terms(tmp_path: Path) -> None:
    bad = tmp_path / "rate.yaml"
    bad.write_text("bithuman:\n  accounts:\n    - id: a\n      secrets: [s]\n      rate_limit: lots\n")
    code, output = _validate(str(bad))
    assert code == 1 and "oneOf" not in output
    assert f"{bad}:5: bithuman.accounts[0].rate_limit: rate_limit must be a whole number of at least 1" in output
    assert "free, creator, pro, business, enterprise" in output and 'got "lots"' in output


def test_an_empty_file_is_not_a_valid_fixture(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    code, output = _validate(str(empty))
    assert code == 1 and "the document is empty" in output


def test_a_folder_validates_every_fixture_inside(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(DEFAULT_FIXTURE.read_text())
    (tmp_path / "b.yml").write_text(TYPO)
    (tmp_path / "c.json").write_text('{"version": 1}')
    (tmp_path / "notes.txt").write_text("not a fixture")
    code, output = _validate(str(tmp_path))
    assert code == 1
    assert f"{tmp_path / 'a.yaml'}: ok" in output and f"{tmp_path / 'c.json'}: ok" in output
    assert "did you mean 'dialect'" in output and "notes.txt" not in output
    code, output = _validate(str(tmp_path / "nothing-here"))
    assert code == 1 and "nothing-here" in output


def test_json_report(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(DEFAULT_FIXTURE.read_text())
    (tmp_path / "b.yaml").write_text(TYPO)
    code, output = _validate("--json", str(tmp_path))
    assert code == 1
    report = json.loads(output)
    assert report["ok"] is False
    ok, bad = report["files"]
    assert ok == {"file": str(tmp_path / "a.yaml"), "ok": True, "problems": []}
    assert bad["problems"] == [
        {
            "line": 6,
            "path": "bithuman.accounts[0].dialekt",
            "message": "unknown key 'dialekt'; did you mean 'dialect'?",
        }
    ]


def test_a_misspelt_body_field_is_named_in_the_vendors_own_error(client: TestClient) -> None:
    speak = "/v1/agent/A12345678/speak"
    r = client.post(speak, json={"mesage": "hi"}, headers={"api-secret": DOCS_SECRET})
    assert r.status_code == 400 and r.json()["error"]["code"] == "MISSING_PARAM"  # the vendor's, unchanged
    assert r.json()["error"]["message"] == (
        "Missing required field: message (the body has 'mesage': did you mean 'message'?)"
    )
    plain = client.post(speak, json={"room_id": "room_1"}, headers={"api-secret": DOCS_SECRET})
    assert plain.json()["error"]["message"] == "Missing required field: message"  # no guess without a near key
    many = {f"k{i}": i for i in range(100)} | {"mesage": "hi"}
    bounded = client.post(speak, json=many, headers={"api-secret": DOCS_SECRET})
    assert bounded.json()["error"]["message"] == "Missing required field: message"  # large bodies: no search
