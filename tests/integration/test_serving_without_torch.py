"""ragstream serves from an install of requirements/serving.txt, which has no PyTorch: `ragstream dev`
started from such an environment indexes a document of every format it takes (a scanned PDF through
OCR among them) and answers questions over them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from apps.common import file_types
from tests import documents
from tests.dev_process import DevProcess
from tests.serving_venv import serving_venv
from tests.support import assert_answered_from, put_objects, wait_until_complete

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def every_format() -> dict[str, bytes]:
    note = "# Windmills\n\nWindmills turn the energy of the wind into grinding grain."
    files = {
        "formats/penguins.pdf": documents.pdf(),
        "formats/lighthouses.pdf": documents.scanned_pdf(),
        "formats/penguins.docx": documents.docx(),
        "formats/deck.pptx": documents.pptx([("Glaciers", "Glaciers carve valleys into U shapes", "")]),
        "formats/tides.xlsx": documents.xlsx({"Tides": [["port", "high tide"], ["Brest", "06:12"]]}),
        "formats/rivers.csv": documents.csv_file([["river", "length km"], ["Loire", "1006"]]),
        "formats/bees.eml": documents.eml("Bees", "Honey bees dance to tell the hive where flowers are."),
        "formats/page.html": documents.html("Volcanoes", ["Lava cools into basalt columns."]),
        "formats/note.md": note.encode(),
        "formats/note.txt": b"Comets grow tails of gas and dust as they near the Sun.",
    }
    for extension in ("epub", "odt", "rtf", "rst"):
        files[f"formats/note.{extension}"] = documents.pandoc_document(
            f"# Owls\n\nOwls hunt at night ({extension}).", extension
        )
    return files


@pytest.fixture
def serving_bin(tmp_path: Path) -> Path:
    """The bin/ of an environment of requirements/serving.txt, where torch does not import."""
    bin_dir = serving_venv(tmp_path / "venv")
    absent = subprocess.run([bin_dir / "python", "-c", "import torch"], capture_output=True, text=True)
    assert "No module named 'torch'" in absent.stderr
    return bin_dir


async def test_an_install_without_pytorch_indexes_every_format_and_answers(
    serving_bin: Path, tmp_path: Path
) -> None:
    files = every_format()
    assert {file_types.content_type_for(key) for key in files} == set(file_types.CONTENT_TYPES.values())
    workdir = tmp_path / "work"
    workdir.mkdir()
    with DevProcess(workdir, bin_dir=serving_bin) as dev:
        settings = dev.start()
        await put_objects(settings, files)
        rows = await wait_until_complete(settings, list(files), timeout=300)
        assert all(row["chunk_count"] >= 1 for row in rows)
        await assert_answered_from(
            settings,
            {
                "formats/lighthouses.pdf": ("What did the keeper wind every evening at dusk?", 2),
                "formats/bees.eml": ("How do honey bees tell the hive where flowers are?", None),
                "formats/deck.pptx": ("What carves valleys into U shapes?", None),
            },
        )
        assert dev.stop() == 0
