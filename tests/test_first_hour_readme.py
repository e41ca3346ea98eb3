"""The README's examples work as written: every python and curl block runs against a served mock.

The blocks say ``http://127.0.0.1:8080`` (what ``make serve`` binds); the test serves the default
world on a free port and only swaps that address. Each block runs in a fresh interpreter or shell,
twice, so an example that leaves something behind (a live agent's unique name) fails the second time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver import MockServer

ROOT = Path(__file__).resolve().parents[1]
ADDRESS = "http://127.0.0.1:8080"
BLOCK = re.compile(r"^```(python|sh)\n(.*?)^```", re.S | re.M)


def _blocks(kind: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    found = [body for lang, body in BLOCK.findall(text) if lang == kind]
    # Shell blocks that only set up or install (make, pip) are not examples to run here.
    return [b for b in found if kind == "python" or "curl " in b]


@pytest.fixture(scope="module")
def served() -> Iterator[MockServer]:
    with MockServer(seed=3) as server:
        yield server


@pytest.mark.parametrize("block", _blocks("python"), ids=lambda b: b.strip().splitlines()[0][:40])
def test_readme_python_blocks_run_twice(served: MockServer, block: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text("import warnings; warnings.simplefilter('ignore')\n" + block.replace(ADDRESS, served.url))
    for _ in range(2):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
@pytest.mark.parametrize("block", _blocks("sh"), ids=lambda b: b.strip().splitlines()[0][:40])
def test_readme_curl_blocks_run(served: MockServer, block: str) -> None:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.replace(ADDRESS, served.url) + "\n"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert '"delivered_to_rooms":1' in done.stdout  # the answer the README shows
    assert '"events"' in done.stdout


def test_the_readme_has_the_examples_this_test_runs() -> None:
    assert len(_blocks("python")) >= 3 and len(_blocks("sh")) >= 1


# -- the contract and the docs page, served -----------------------------------------------------------


def test_the_vendor_contract_is_served_as_shipped(served: MockServer) -> None:
    import httpx
    import yaml

    with httpx.Client(base_url=served.url, timeout=60) as http:
        as_yaml, as_json = http.get("/openapi.yaml"), http.get("/openapi.json")
    assert as_yaml.status_code == as_json.status_code == 200
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert as_yaml.content == (ROOT / "openapi.yaml").read_bytes()
    assert as_json.json() == yaml.safe_load(as_yaml.content)


def test_the_docs_page_loads_everything_from_the_mock(served: MockServer) -> None:
    import httpx

    with httpx.Client(base_url=served.url, timeout=60) as http:
        page = http.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/docs/") for a in assets)  # nothing from a CDN
        for asset in assets:
            assert http.get(asset).status_code == 200, asset
        init = http.get("/docs/init.js").text
        for spec in re.findall(r'url: "([^"]+)"', init):
            assert http.get(spec).json()["openapi"].startswith("3."), spec
        assert http.get("/docs/nothing.js").status_code == 404
        assert http.post("/openapi.json").status_code != 200  # read-only


def test_the_docs_page_renders_both_documents_offline(served: MockServer) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", exc_type=ImportError)
    path = os.environ.get("MOCKSERVER_CHROMIUM", "/usr/bin/chromium")
    if not os.path.exists(path):
        pytest.skip(f"no Chromium at {path}")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            outside: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: None if r.url.startswith(served.url) else outside.append(r.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(served.url + "/docs")
            sync_api.expect(page.locator(".opblock-summary-operation-id").first).to_be_visible()
            sync_api.expect(page.get_by_text("bithuman_speak", exact=True).first).to_be_visible()
            page.goto(served.url + "/docs?urls.primaryName=Control%20plane%20(%2F_mock)")
            sync_api.expect(page.get_by_text("add_fault", exact=True).first).to_be_visible()
            assert outside == [] and errors == []
        finally:
            browser.close()
