"""Schemathesis against the app's own OpenAPI schema: generated requests, valid and invalid, never get a 5xx.

The schema is built at import (schemathesis 4.32's `from_fixture` does not work
with pytest 9); the session's model is put into the app's store by a fixture
before the first request, so classify is really exercised, not answered 503.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from service.main import create_app
from service.model_store import ModelStore, ServedModel

from .conftest import settings_for

# With an admin key, so the admin route is in the schema and gets fuzzed (with wrong keys) too.
APP_SETTINGS = settings_for("set-by-the-fixture-below", admin_key="not-guessable-by-the-fuzzer", max_paragraphs=50)
STORE = ModelStore(APP_SETTINGS.model_uri)
APP = create_app(APP_SETTINGS, STORE)

# No 5xx above all; and the schema tells the truth: documented status codes, content types and bodies,
# invalid data refused. (Not "valid data accepted": label-set names and the configured limits are not
# in the schema, so some schema-valid requests are rightly refused.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    unsupported_method,
]
STATUSES: Counter[tuple[str, str, int]] = Counter()

schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP  # requests go to the app in-process (ASGI), as with `from_asgi`


@pytest.fixture(autouse=True)
def _serve_the_session_model(served: ServedModel) -> None:
    STORE.current = served


@schema.parametrize()
@settings(max_examples=50, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case) -> None:
    response = case.call_and_validate(checks=CHECKS)
    STATUSES[(case.method, case.path, response.status_code)] += 1


def test_the_fuzzer_reached_the_model() -> None:
    """Runs after the test above (file order): some generated requests were classified, not all refused."""
    assert STATUSES[("POST", "/v1/classify", 200)] > 0, STATUSES
    assert STATUSES[("POST", "/v1/classify", 422)] > 0, STATUSES
