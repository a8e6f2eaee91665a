"""The API against its own OpenAPI description, by schemathesis: generated requests (valid and
invalid) to every operation of `ragstream api` but the multipart upload, run as its own process.
No response may be a 5xx, and every response must match the description (status, content type,
schema)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from apps.devstack.stack import LocalStack
from apps.query_api.app import describe_api
from tests.support import ComponentProcess, isolated_settings

pytestmark = pytest.mark.integration

# A body over the size limit is rejected with 413 (before it is read as JSON): a rejection too.
REJECTIONS = ["400", "401", "404", "405", "409", "413", "415", "422"]
# The schema cannot say which file names ragstream parses, nor how large a file the deployment takes:
# a valid upload of a .png, or of more than RAGSTREAM_MAX_OBJECT_SIZE, is refused with 415 or 413.
ACCEPTANCES = ["2XX", "3XX", "401", "403", "404", "409", "413", "415", "429", "5XX"]
config = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": REJECTIONS},
            "positive_data_acceptance": {"expected-statuses": ACCEPTANCES},
        }
    }
)
# Multipart uploads are left out: schemathesis's negative cases of a multipart body are not reliably
# negative (it reports valid forms as schema-violating); test_tenants tests the upload's refusals.
schema = schemathesis.openapi.from_dict(describe_api(), config=config).exclude(
    path="/v1/documents", method="POST"
)


@pytest.fixture(scope="module")
def api_url(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import asyncio

    directory = tmp_path_factory.mktemp("contract")
    test_settings = asyncio.run(isolated_settings(local_stack, directory))
    process = ComponentProcess(test_settings, "api", directory / "api.log")
    process.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{test_settings.api_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.process is not None
            assert process.process.poll() is None, process.log.read_text()[-3000:]
            assert time.monotonic() < deadline, process.log.read_text()[-3000:]
            time.sleep(0.2)
        yield test_settings.api_url
    finally:
        process.stop()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_the_description(case: schemathesis.Case[Any], api_url: str) -> None:
    case.call_and_validate(base_url=api_url)


def test_the_api_is_ready_when_postgres_qdrant_kafka_and_temporal_answer(api_url: str) -> None:
    response = httpx.get(f"{api_url}/readyz", timeout=10)
    checks = {"postgres": "ok", "vector_store": "ok", "kafka": "ok", "temporal": "ok"}
    assert (response.status_code, response.json()) == (200, {"status": "ready", "checks": checks})
