"""Unit tests of `apps.stream_processors.email_elements` on messages made here with the email package."""

from __future__ import annotations

from email.message import EmailMessage

from apps.stream_processors.chunking import TextElement
from apps.stream_processors.coverage import kept_share
from apps.stream_processors.email_elements import email_elements, email_text
from tests import documents

BODY = "Hello Bob,\n\nWe counted 1,200 emperor penguins\nat Cape Crozier this morning.\n\nAna\n"
HEADERS = (
    "From: Ana Lima <ana@example.org>; To: Bob Stone <bob@example.org>; Date: Tue, 02 Jan 2024 09:30:00 +0000"
)


def described(elements: list[TextElement]) -> list[tuple[str, bool]]:
    return [(e.text, e.is_title) for e in elements]


def test_subject_headers_and_the_plain_text_paragraphs() -> None:
    data = documents.eml(
        "Penguin census", BODY, html="<p>The HTML copy, not read.</p>", attachment=b"\x00\x01"
    )
    assert described(email_elements(data)) == [
        ("Penguin census", True),
        (HEADERS, False),
        ("Hello Bob,", False),
        ("We counted 1,200 emperor penguins at Cape Crozier this morning.", False),
        ("Ana", False),
    ]


def test_an_html_only_message_is_read_as_html() -> None:
    html = "<html><head><style>p {color: red}</style></head><body><h2>Census</h2><p>1,200 <b>birds</b>.</p>"
    assert described(email_elements(documents.eml("Penguin census", "", html=html)))[2:] == [
        ("Census", True),
        ("1,200 birds.", False),
    ]


def test_the_charset_of_the_mime_part_wins_over_the_one_its_html_declares() -> None:
    message = EmailMessage()
    message["Subject"] = "Manchots"
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Café crème à Dumont d\'Urville</p>'
    message.set_content(html, subtype="html", charset="utf-8")
    assert email_elements(bytes(message))[-1].text == "Café crème à Dumont d'Urville"


def test_encoded_headers_are_decoded() -> None:
    message = EmailMessage()
    message["Subject"] = "Recensement des manchots à Terre Adélie"
    message.set_content("Bonjour.")
    assert "=?utf-8?" in bytes(message).decode()
    assert email_elements(bytes(message))[0].text == "Recensement des manchots à Terre Adélie"


def test_the_reference_holds_the_headers_and_the_body_and_the_elements_keep_it() -> None:
    data = documents.eml("Penguin census", BODY)
    reference = email_text(data)
    for words in ("Penguin census", "ana@example.org", "Cape Crozier", "2024"):
        assert words in reference
    assert kept_share(reference, (e.text for e in email_elements(data))) == 1.0


def test_a_message_without_a_body_holds_its_headers() -> None:
    message = EmailMessage()
    message["Subject"] = "Nothing to add"
    assert described(email_elements(bytes(message))) == [("Nothing to add", True)]
