"""Every supported format is indexed and answerable (PDF answers cite their page), and every kind
of bad file fails alone, quickly, with a message a person can act on, beside good files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from apps.cli.system import ALL_COMPONENTS, System, running_system
from apps.common.settings import Settings
from apps.devstack.stack import LocalStack
from tests import documents
from tests.support import (
    assert_answered_from,
    document_rows,
    isolated_settings,
    put_objects,
    wait_until_settled,
)

pytestmark = pytest.mark.integration

FORMATS: dict[str, bytes] = {
    "formats/glaciers.txt": b"Glaciers form where snow accumulates faster than it melts, over many years.",
    "formats/volcanoes.md": (
        b"# Volcanoes\n\n## Eruptions\n\nA volcano erupts when magma rises through the crust to the surface."
    ),
    "formats/coral reefs.html": documents.html(
        "Coral reefs", ["Coral reefs are built by colonies of tiny animals called polyps."]
    ),
    "formats/tides.docx": documents.docx(
        {"Tides": "", "Causes": "Ocean tides are caused mainly by the gravitational pull of the Moon."}
    ),
    "formats/deserts.pdf": documents.pdf(
        [
            ["Deserts", "Deserts receive less than 250 millimetres of rain a year."],
            ["Cacti", "Cacti store water in their thick stems to survive long droughts."],
        ]
    ),
}
QUESTIONS = {
    "formats/glaciers.txt": ("How do glaciers form?", None),
    "formats/volcanoes.md": ("Why does a volcano erupt?", None),
    "formats/coral reefs.html": ("What builds coral reefs?", None),
    "formats/tides.docx": ("What causes ocean tides?", None),
    "formats/deserts.pdf": ("How do cacti survive droughts?", 2),
}


@pytest.fixture
async def system(settings: Settings) -> AsyncIterator[System]:
    async with running_system(settings, ALL_COMPONENTS) as running:
        yield running


async def test_every_format_is_indexed_and_answerable(settings: Settings, system: System) -> None:
    await put_objects(settings, FORMATS)
    rows = await wait_until_settled(settings, list(FORMATS), timeout=120)
    assert {r["s3_key"]: r["status"] for r in rows} == dict.fromkeys(FORMATS, "complete"), [
        (r["s3_key"], r["error_message"]) for r in rows
    ]
    await assert_answered_from(settings, QUESTIONS)


@pytest.fixture
async def strict_settings(local_stack: LocalStack, tmp_path: Path) -> Settings:
    return await isolated_settings(local_stack, tmp_path, max_object_size=512 * 1024)


BAD_FILES: dict[str, tuple[bytes, str]] = {
    "bad/corrupt.pdf": (documents.corrupt_pdf(), "no text could be extracted from the PDF"),
    "bad/empty.txt": (b"", "the file is empty"),
    "bad/picture.png": (b"\x89PNG\r\n\x1a\n" + documents.binary_noise(512), "unsupported file type .png"),
    "bad/huge.txt": (b"All work and no play. " * 50_000, "over the 0.5 MiB limit"),
    "bad/bomb.docx": (documents.docx_zip_bomb(), "ZIP bomb"),
    "bad/noise.txt": (documents.binary_noise(), "holds binary data"),
}
GOOD_FILES = {
    "good/one.txt": b"Good documents beside bad ones are indexed as usual.",
    "good/two.md": b"# Two\n\nA second good document, in Markdown.",
}


async def test_bad_files_fail_alone_with_actionable_messages(strict_settings: Settings) -> None:
    settings = strict_settings
    async with running_system(settings, ALL_COMPONENTS):
        await put_objects(settings, {key: body for key, (body, _) in BAD_FILES.items()} | GOOD_FILES)
        rows = await wait_until_settled(settings, [*BAD_FILES, *GOOD_FILES], timeout=60)
    by_key: dict[str, dict[str, Any]] = {r["s3_key"]: r for r in rows}
    for key in GOOD_FILES:
        assert by_key[key]["status"] == "complete", by_key[key]
    for key, (_, message) in BAD_FILES.items():
        assert by_key[key]["status"] == "failed", by_key[key]
        assert message in by_key[key]["error_message"], by_key[key]["error_message"]
    assert len(await document_rows(settings, list(BAD_FILES))) == len(BAD_FILES)
