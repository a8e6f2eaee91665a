"""A scanned PDF (page images, no text layer) is read by OCR in ingestion, and its answers cite the
page they are on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from apps.cli.system import ALL_COMPONENTS, System, running_system
from apps.common.documents import document_id_for
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from tests import documents
from tests.support import wait_until_settled

pytestmark = pytest.mark.integration

KEY = "scans/lighthouses.pdf"


@pytest.fixture
async def system(settings: Settings) -> AsyncIterator[System]:
    async with running_system(settings, ALL_COMPONENTS) as running:
        yield running


async def test_a_scanned_pdf_is_indexed_and_answers_cite_its_page(settings: Settings, system: System) -> None:
    async with s3_client(settings) as s3:
        await s3.put_object(Bucket=settings.s3_bucket, Key=KEY, Body=documents.scanned_pdf())
    [row] = await wait_until_settled(settings, [KEY], timeout=120)
    assert row["status"] == "complete", row["error_message"]
    async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client:
        response = await client.post(
            "/v1/query",
            json={"query": "Why did the lighthouse keeper climb the tower at dusk?", "stream": False},
        )
    assert response.status_code == 200, response.text
    top = response.json()["sources"][0]
    assert top["document_id"] == str(document_id_for(settings.s3_bucket, KEY)), top
    assert top["page"] == 2, top
