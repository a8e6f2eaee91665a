"""E-mail (.eml) -> text elements: the subject as a title, the From, To, Cc and Date headers, then the
body: its text/plain part, else its HTML part read as HTML is. Attachments are not read."""

from __future__ import annotations

import email.policy
import re
from email.message import EmailMessage
from email.parser import BytesParser

from lxml.etree import _Element

from apps.stream_processors import html_elements
from apps.stream_processors.chunking import TextElement

HEADERS = ("From", "To", "Cc", "Date")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def email_elements(data: bytes) -> list[TextElement]:
    """The subject (a title), one element of the headers ("From: ...; To: ...; Date: ..."), then the
    body's paragraphs (a blank line apart in plain text; the blocks of an HTML body)."""
    message = _message(data)
    elements: list[TextElement] = []
    subject = _header(message, "Subject")
    if subject:
        elements.append(TextElement(text=subject, is_title=True))
    headers = "; ".join(f"{name}: {value}" for name in HEADERS if (value := _header(message, name)))
    if headers:
        elements.append(TextElement(text=headers))
    kind, body = _body(message)
    if kind == "html":
        region = _html_region(body)
        elements += [] if region is None else html_elements.elements_of(region)
    else:
        paragraphs = (" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(body))
        elements += [TextElement(text=p) for p in paragraphs if p]
    return elements


def email_text(data: bytes) -> str:
    """The subject, the headers kept and the body's whole text: what the coverage guard measures the
    chunks against."""
    message = _message(data)
    kind, text = _body(message)
    if kind == "html":
        region = _html_region(text)
        text = "" if region is None else html_elements.text_of(region)
    return "\n".join([*(_header(message, name) for name in ("Subject", *HEADERS)), text])


def _message(data: bytes) -> EmailMessage:
    return BytesParser(policy=email.policy.default).parsebytes(data)


def _header(message: EmailMessage, name: str) -> str:
    value = message.get(name)
    return "" if value is None else " ".join(str(value).split())


def _body(message: EmailMessage) -> tuple[str, str]:
    """The body's kind ("plain" or "html") and text: the text/plain part, else the HTML one."""
    part = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, EmailMessage):
        return "plain", ""
    kind = part.get_content_subtype()
    try:
        text = part.get_content()
    except (LookupError, UnicodeError):  # a charset Python does not know, or bytes that are not in it
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return ("html" if kind == "html" else "plain"), str(text)


def _html_region(body: str) -> _Element | None:
    """An HTML body read as authored content (e-mail has no page navigation to leave out), or None if
    it is empty. Its MIME part's charset has decoded it: one its HTML declares no longer applies."""
    if not body.strip():
        return None
    return html_elements.content_of(b'<meta charset="utf-8">' + body.encode(), page=False)
