"""Slides, sheets, CSV, e-mail, EPUB, ODT, reStructuredText and RTF are indexed and answerable (a slide's
answer cites its slide number), and a ZIP named as a format it is not fails with what it lacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from apps.cli.system import ALL_COMPONENTS, System, running_system
from apps.common.settings import Settings
from tests import documents
from tests.support import assert_answered_from, put_objects, wait_until_settled

pytestmark = pytest.mark.integration

FORMATS: dict[str, bytes] = {
    "more/volcanoes.pptx": documents.pptx(
        [
            ("Volcanoes", "A volcano erupts when magma rises through the crust.", "Start with a photo."),
            ("Lava", "Basaltic lava erupts at temperatures of about 1,150 degrees Celsius.", ""),
        ]
    ),
    "more/rivers.xlsx": documents.xlsx(
        {
            "Rivers": [
                ["River", "Continent", "Length in km"],
                ["Nile", "Africa", 6650],
                ["Amazon", "South America", 6400],
            ]
        }
    ),
    "more/mountains.csv": documents.csv_file(
        [
            ["Mountain", "Range", "Height in metres"],
            ["Mount Everest", "Himalaya", "8849"],
            ["K2", "Karakoram", "8611"],
        ]
    ),
    "more/library.eml": documents.eml(
        "Library opening hours", "Hello,\n\nThe city library opens at nine o'clock on Saturdays.\n\nAna"
    ),
    "more/bees.epub": documents.pandoc_document(
        "# Bees\n\nHoney bees tell each other where flowers are with a waggle dance.", "epub"
    ),
    "more/plants.odt": documents.pandoc_document(
        "# Plants\n\nPhotosynthesis turns sunlight, water and carbon dioxide into glucose and oxygen.", "odt"
    ),
    "more/comets.rst": documents.pandoc_document(
        "# Comets\n\nComets grow a tail of gas and dust when they pass near the Sun.", "rst"
    ),
    "more/sourdough.rtf": documents.pandoc_document(
        "# Sourdough\n\nSourdough bread rises thanks to the wild yeast living in its starter.", "rtf"
    ),
}
QUESTIONS = {
    "more/volcanoes.pptx": ("How hot is basaltic lava?", 2),
    "more/rivers.xlsx": ("How long is the Nile river?", None),
    "more/mountains.csv": ("How high is Mount Everest?", None),
    "more/library.eml": ("When does the city library open on Saturdays?", None),
    "more/bees.epub": ("How do honey bees tell each other where flowers are?", None),
    "more/plants.odt": ("What does photosynthesis turn sunlight into?", None),
    "more/comets.rst": ("Why do comets have a tail?", None),
    "more/sourdough.rtf": ("What makes sourdough bread rise?", None),
}
BAD_FILES: dict[str, tuple[bytes, str]] = {
    "bad/fake.pptx": (
        documents.docx(),
        "it is named .pptx but is not a PowerPoint presentation (no ppt/presentation.xml inside)",
    ),
    "bad/notes.rtf": (b"Plain text named as RTF.", "it is named .rtf but is not RTF"),
    "bad/bomb.xlsx": (documents.docx_zip_bomb(), "ZIP bomb"),
}


@pytest.fixture
async def system(settings: Settings) -> AsyncIterator[System]:
    async with running_system(settings, ALL_COMPONENTS) as running:
        yield running


async def test_every_new_format_is_indexed_and_answerable(settings: Settings, system: System) -> None:
    files = FORMATS | {key: body for key, (body, _) in BAD_FILES.items()}
    await put_objects(settings, files)
    rows = await wait_until_settled(settings, list(files), timeout=120)
    by_key: dict[str, dict[str, Any]] = {r["s3_key"]: r for r in rows}
    assert {key: by_key[key]["status"] for key in FORMATS} == dict.fromkeys(FORMATS, "complete"), [
        (r["s3_key"], r["error_message"]) for r in rows
    ]
    for key, (_, message) in BAD_FILES.items():
        assert by_key[key]["status"] == "failed", by_key[key]
        assert message in by_key[key]["error_message"], by_key[key]["error_message"]
    await assert_answered_from(settings, QUESTIONS)
