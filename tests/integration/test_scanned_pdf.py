"""A scanned PDF (page images, no text layer) is read by OCR in ingestion, and its answers cite the
page they are on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from apps.cli.system import ALL_COMPONENTS, System, running_system
from apps.common.settings import Settings
from tests import documents
from tests.support import assert_answered_from, put_objects, wait_until_settled

pytestmark = pytest.mark.integration

KEY = "scans/lighthouses.pdf"


@pytest.fixture
async def system(settings: Settings) -> AsyncIterator[System]:
    async with running_system(settings, ALL_COMPONENTS) as running:
        yield running


async def test_a_scanned_pdf_is_indexed_and_answers_cite_its_page(settings: Settings, system: System) -> None:
    await put_objects(settings, {KEY: documents.scanned_pdf()})
    [row] = await wait_until_settled(settings, [KEY], timeout=120)
    assert row["status"] == "complete", row["error_message"]
    await assert_answered_from(settings, {KEY: ("Why did the lighthouse keeper climb the tower at dusk?", 2)})
