"""Schemathesis over the bitHuman operations of openapi.yaml, against the in-process mock.

Positive and negative data, every default check (no server error, status code and content type
conformance, response schema and headers, negative data rejected, positive data accepted,
ignored auth, ...). The suite grows with the operations the mock simulates (the Agora
operations answer 501 until their simulation lands, so they are not included yet).
"""

from __future__ import annotations

import copy
from pathlib import Path

import schemathesis
from hypothesis import settings

from mockserver import World, create_app
from mockserver.spec import load_spec

DEFAULT_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "default.yaml"
AUTH = {"api-secret": "YOUR_API_SECRET"}

schema = schemathesis.openapi.from_dict(copy.deepcopy(load_spec().document))
schema.app = create_app(World(seed=11), fixtures=[DEFAULT_FIXTURE])
bithuman = schema.include(tag="bitHuman Agent Context")


@bithuman.parametrize()
@settings(max_examples=150, deadline=None)
def test_bithuman_operations_conform(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH)
