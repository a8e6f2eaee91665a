"""The web console in Debian's headless Chromium, driven as a person would, against the whole system
on the real servers: upload and watch documents, ask, the retrieval test, the system view, and
signing in. Each view's screenshot goes to the run's artifacts (`RAGSTREAM_TEST_ARTIFACTS`)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from playwright.async_api import Browser, ConsoleMessage, Error, FilePayload, Page, async_playwright, expect

from apps.cli.system import ALL_COMPONENTS, running_system
from apps.common.settings import Settings
from apps.devstack.stack import LocalStack
from tests.documents import corrupt_pdf
from tests.support import document_rows, isolated_settings, wait_for, wait_until_complete

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
# Chromium as this machine's closed network needs it: nothing started in the background.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("RAGSTREAM_TEST_ARTIFACTS", "test-artifacts")) / "console"
SECRET = "a-gateway-hmac-secret-of-32-bytes!"
TENANT = f"console-{uuid.uuid4().hex[:8]}"
TEMPORAL_UI = "http://127.0.0.1:8233"
# The browser's own report of a refused request (a 401 before signing in, a 404 asked for): not a
# script error.
NETWORK_NOISE = "Failed to load resource"


def bearer(tenant: str, *, scope: str, user: str = "dana", groups: list[str] | None = None) -> str:
    claims = {
        "sub": user,
        "tenant": tenant,
        "groups": groups or [],
        "scope": scope,
        "exp": int(time.time()) + 3600,
    }
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(SECRET))


MEMBER = bearer(TENANT, scope="query documents:read documents:write")
LAWYER = bearer(TENANT, scope="query documents:read documents:write", user="lee", groups=["legal"])
READER = bearer(TENANT, scope="documents:read", user="rory")
OPERATOR = bearer("default", scope="query documents:read documents:write admin", user="ops")


@pytest.fixture(scope="module")
async def console(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    """The whole system, its API checking gateway JWTs, with a Temporal UI to link to."""
    settings = await isolated_settings(
        local_stack, tmp_path_factory.mktemp("console"), api_jwt_key=SECRET, temporal_ui_url=TEMPORAL_UI
    )
    async with running_system(settings, ALL_COMPONENTS):
        yield settings


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium; without it the tests skip, except where RAGSTREAM_REQUIRE_BROWSER is set (CI)."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)"
        if os.environ.get("RAGSTREAM_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@dataclass
class Visit:
    """One person's tab on the console, and every script error it logged."""

    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)

    async def open(self, token: str | None = None, view: str = "documents") -> None:
        await self.page.goto(f"{self.base_url}/#/{view}")
        if token is not None:
            await self.page.get_by_label("Access token").fill(token)
            await self.page.get_by_role("button", name="Sign in").click()
            await expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()

    async def go(self, view: str) -> None:
        await self.page.get_by_role("link", name=view, exact=True).click()
        await expect(self.page.get_by_role("heading", name=view, exact=True)).to_be_visible()

    async def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)

    def row(self, filename: str) -> Any:
        return self.page.get_by_role("row").filter(has_text=filename)


@pytest.fixture
async def visit(console: Settings, browser: Browser) -> AsyncIterator[Visit]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    tab = Visit(page, console.api_url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and NETWORK_NOISE not in message.text:
            tab.errors.append(f"console: {message.text}")

    def on_page_error(error: Error) -> None:
        tab.errors.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    try:
        yield tab
    finally:
        await context.close()
    assert tab.errors == [], tab.errors


def _unique(stem: str, suffix: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:6]}{suffix}"


async def test_a_person_uploads_a_file_sees_it_complete_and_asks_about_it(
    console: Settings, visit: Visit, tmp_path: Path
) -> None:
    name = _unique("glacier", ".txt")
    fact = "The Perito Moreno glacier advances about two metres a day into Lake Argentino."
    (tmp_path / name).write_text(f"Field notes.\n\n{fact}\n")
    await visit.open(MEMBER)
    page = visit.page
    await expect(page.get_by_text(TENANT)).to_be_visible()

    await page.get_by_label("Upload documents").set_input_files(tmp_path / name)
    row = visit.row(name)
    await expect(row).to_have_count(1)
    # The table follows the document without a reload: within 2 s of its row turning complete.
    await wait_until_complete(console, [f"tenants/{TENANT}/{name}"])
    await expect(row).to_contain_text("complete", timeout=2_000)
    await visit.screenshot("documents")

    await visit.go("Ask")
    await page.get_by_label("Question").fill("How fast does the Perito Moreno glacier advance?")
    async with page.expect_response(lambda r: r.url.endswith("/v1/query")) as answered:
        await page.get_by_role("button", name="Ask", exact=True).click()
    assert (await answered.value).headers["content-type"].startswith("text/event-stream")
    answer = page.get_by_role("region", name="Answer")
    await expect(answer).to_contain_text("two metres a day")
    sources = page.get_by_role("list", name="Sources")
    source = sources.get_by_role("listitem").filter(has_text=name).first
    await expect(source).to_be_visible()
    await expect(source).to_contain_text("cited")  # badged from the done event's citations
    # The answer's citation marker leads to its source and opens the chunk's text.
    chunk = source.get_by_role("group")  # the <details> holding the chunk's text
    await expect(chunk).not_to_have_attribute("open", "")
    await answer.get_by_role("link", name="1", exact=True).click()
    await expect(chunk).to_have_attribute("open", "")
    await expect(chunk).to_contain_text("Lake Argentino")
    await visit.screenshot("ask")

    # The next question, from the keyboard, continues the same conversation.
    question = page.get_by_label("Question")
    await question.focus()
    await page.keyboard.type("Into which lake does the glacier advance?")
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("region", name="Answer")).to_contain_text("Lake Argentino")
    await expect(page.get_by_role("button", name="Ask", exact=True)).to_be_enabled()
    await expect(page.get_by_role("main")).to_contain_text("Into which lake does the glacier advance?")


async def test_a_corrupt_file_fails_with_its_message_then_is_reprocessed_and_deleted(
    console: Settings, visit: Visit
) -> None:
    name = _unique("scan", ".pdf")
    key = f"tenants/{TENANT}/{name}"
    await visit.open(MEMBER)
    page = visit.page
    await page.get_by_label("Upload documents").set_input_files(
        FilePayload(name=name, mimeType="application/pdf", buffer=corrupt_pdf())
    )
    row = visit.row(name)
    await expect(row).to_contain_text("failed", timeout=90_000)
    await expect(row).to_contain_text("no text could be extracted from the PDF")
    await page.get_by_label("Status").select_option("failed")
    await expect(row).to_have_count(1)
    await expect(page.get_by_role("row").filter(has_text="complete")).to_have_count(0)
    await visit.screenshot("documents-failed")

    await row.get_by_role("button", name=f"Reprocess {name}").click()

    async def reprocessed() -> dict[str, Any] | None:
        [document] = await document_rows(console, [key])
        again = "#reprocess-" in (document["workflow_id"] or "") and document["status"] == "failed"
        return document if again else None

    first = await wait_for(reprocessed, timeout=90, what="the reprocessed document to fail again")
    await expect(row).to_contain_text("failed", timeout=2_000)

    # Every failed document at once: this one is among them.
    await page.get_by_role("button", name="Reprocess all failed").click()
    await expect(page.get_by_role("status")).to_contain_text("Reprocessing")

    async def reprocessed_again() -> bool:
        document = await reprocessed()
        return document is not None and document["workflow_id"] != first["workflow_id"]

    await wait_for(reprocessed_again, timeout=90, what="the bulk reprocess to fail it again")

    await row.get_by_role("button", name=f"Delete {name}").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text(name)
    await dialog.get_by_role("button", name="Delete", exact=True).click()

    async def deleted() -> bool:
        [document] = await document_rows(console, [key])
        return bool(document["status"] == "deleted")

    await wait_for(deleted, timeout=60, what="the document to be deleted")
    await page.get_by_label("Status").select_option("deleted")
    await expect(row).to_contain_text("deleted", timeout=2_000)


async def test_dropped_files_upload_each_with_its_progress_and_groups(
    console: Settings, visit: Visit
) -> None:
    names = [_unique("minutes", ".md"), _unique("agenda", ".txt")]
    await visit.open(LAWYER)
    page = visit.page
    await page.get_by_label("Groups").fill("legal, finance")
    dropped = await page.evaluate_handle(
        """(names) => {
            const transfer = new DataTransfer();
            for (const name of names) {
                transfer.items.add(new File([`# ${name}\\n\\nNotes of ${name}.`], name));
            }
            return transfer;
        }""",
        names,
    )
    await page.get_by_role("region", name="Drop files here").dispatch_event("drop", {"dataTransfer": dropped})
    uploads = page.get_by_role("list", name="Uploads")
    for name in names:
        entry = uploads.get_by_role("listitem").filter(has_text=name)
        await expect(entry).to_contain_text("uploaded")
        await expect(entry.get_by_role("progressbar")).to_have_attribute("value", "100")
    rows = await wait_until_complete(console, [f"tenants/{TENANT}/{name}" for name in names])
    assert all(sorted(row["groups"]) == ["finance", "legal"] for row in rows)
    for name in names:
        await page.get_by_label("Filename").fill(name)
        await expect(visit.row(name)).to_contain_text("complete")
        await expect(page.get_by_role("row")).to_have_count(2)  # the header and this document


async def test_without_a_token_the_console_asks_for_one_and_hides_what_scopes_forbid(
    console: Settings, visit: Visit
) -> None:
    await visit.open()
    page = visit.page
    await expect(page.get_by_label("Access token")).to_be_visible()
    await expect(page.get_by_label("Upload documents")).to_be_hidden()
    await expect(page.get_by_role("table")).to_be_hidden()

    await page.get_by_label("Access token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not accepted")
    await visit.screenshot("sign-in")

    await page.get_by_label("Access token").fill(READER)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text("rory")).to_be_visible()
    await expect(page.get_by_role("table")).to_be_visible()
    await expect(page.get_by_label("Upload documents")).to_be_hidden()
    await expect(page.get_by_role("link", name="Ask", exact=True)).to_be_hidden()
    await expect(page.get_by_role("button", name="Reprocess")).to_have_count(0)
    await visit.go("System")
    await expect(page.get_by_role("region", name="Readiness")).to_be_visible()
    await expect(page.get_by_role("button", name="Show metrics")).to_be_hidden()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("Access token")).to_be_visible()
    assert await page.evaluate("() => sessionStorage.getItem('ragstream.token')") is None


async def test_the_retrieval_test_ranks_each_mode_side_by_side(console: Settings, visit: Visit) -> None:
    name = _unique("lighthouse", ".txt")
    await visit.open(MEMBER)
    page = visit.page
    text = b"The Bell Rock lighthouse keeper logs the foghorn hours in the KESTREL-9 ledger."
    await page.get_by_label("Upload documents").set_input_files(
        FilePayload(name=name, mimeType="text/plain", buffer=text)
    )
    await wait_until_complete(console, [f"tenants/{TENANT}/{name}"])
    await visit.go("Retrieval test")
    await page.get_by_label("Search query").fill("Which ledger holds the foghorn hours?")
    await page.get_by_role("button", name="Search", exact=True).click()
    for mode in ("Dense", "Sparse", "Hybrid"):
        ranked = page.get_by_role("list", name=f"{mode} results")
        await expect(ranked.get_by_role("listitem").filter(has_text=name).first).to_be_visible()
    await visit.screenshot("retrieval-test")


async def test_the_system_view_shows_each_part_the_counts_the_generations_and_the_metrics(
    console: Settings, visit: Visit
) -> None:
    await visit.open(OPERATOR, view="system")
    page = visit.page
    await expect(page.get_by_role("heading", name="System", exact=True)).to_be_visible()
    view = page.get_by_role("region", name="System")
    readiness = view.get_by_role("region", name="Readiness")
    for part in ("Postgres", "Kafka", "Temporal", "Vector store"):
        await expect(readiness).to_contain_text(part)
    await expect(readiness).not_to_contain_text("failed")
    await expect(view.get_by_role("region", name="Document counts")).to_contain_text("complete")
    await expect(view.get_by_role("row").filter(has_text=f"{console.qdrant_collection}_g1")).to_contain_text(
        "live"
    )
    await expect(page.get_by_role("link", name="Temporal UI")).to_have_attribute("href", TEMPORAL_UI)
    # The metrics come with the operator's token (the API needs one here): a plain link answered 401.
    await page.get_by_role("button", name="Show metrics").click()
    metrics = view.get_by_role("region", name="Metrics")
    await expect(metrics).to_contain_text("ragstream_http_requests_total")
    shown = await metrics.locator("pre").inner_text()
    assert shown.startswith("# HELP ragstream_"), "ragstream's own metrics come first"
    await visit.screenshot("system")
    await page.get_by_role("button", name="Hide metrics").click()
    await expect(metrics).to_be_hidden()

    # A reindex started elsewhere shows up, and goes live, without a reload.
    async with httpx.AsyncClient(base_url=console.api_url, timeout=30) as client:
        operator = {"Authorization": f"Bearer {OPERATOR}"}
        started = await client.post("/v1/generations", json={"source": "document.ready"}, headers=operator)
    assert started.status_code == 202, started.text
    rebuilt = view.get_by_role("row").filter(has_text=started.json()["name"])
    await expect(rebuilt).to_be_visible(timeout=3_000)
    await expect(rebuilt).to_contain_text("live", timeout=90_000)


async def test_the_console_reads_at_phone_width_without_sideways_scrolling(
    console: Settings, visit: Visit
) -> None:
    page = visit.page
    await page.set_viewport_size({"width": 390, "height": 844})
    await visit.open(MEMBER)
    for view in ("Documents", "Ask", "Retrieval test"):
        await visit.go(view)
        overflow = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the {view} view is {overflow}px wider than the phone"
        await visit.screenshot(f"phone-{view.lower().replace(' ', '-')}")


async def test_navigation_and_deleting_work_from_the_keyboard(console: Settings, visit: Visit) -> None:
    name = _unique("keys", ".txt")
    await visit.open(MEMBER)
    page = visit.page
    await page.get_by_label("Upload documents").set_input_files(
        FilePayload(name=name, mimeType="text/plain", buffer=b"Typed, never clicked.")
    )
    await wait_until_complete(console, [f"tenants/{TENANT}/{name}"])

    await page.get_by_role("link", name="Ask", exact=True).focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Ask", exact=True)).to_be_focused()
    await page.get_by_role("link", name="Documents", exact=True).focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_focused()

    row = visit.row(name)
    await row.get_by_role("button", name=f"Delete {name}").focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(row).to_contain_text("complete")

    await row.get_by_role("button", name=f"Delete {name}").focus()
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    await expect(dialog.get_by_role("button", name="Delete", exact=True)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(row).to_have_count(0, timeout=30_000)
