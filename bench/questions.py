"""The retrieval benchmark's question set, made by rule from the PostgreSQL manual itself (no model).

Pages. The manual's HTML files in sorted name order, without the pages that are lists rather than
text (`index.html`, `bookindex.html`, `biblio.html`, `appendixes.html`, `sql-commands.html`,
`glossary.html`, `reference*.html`, the release notes `release*.html`), without pages under 4,000
bytes (mostly tables of contents), and without pages that have no paragraph outside their
navigation and table of contents. Of those: every k-th (k = eligible // count, the first `count`),
a fixed subset spread over the whole manual, plus the pages the glossary's entries send the reader
to (so that the glossary questions have their answers in the corpus). Only these pages are
indexed, and the answers of every question are among them.

Three rules make the questions:

- **title** (one per page): the page's heading, its `<title>` without the section number
  ("9.4. String Functions and Operators" -> "String Functions and Operators"). When several pages
  share a heading ("Extensibility"), it is qualified by the chapter the navigation header names:
  "Extensibility (BRIN Indexes)". The question is the heading in one of three fixed templates,
  by the page's position: "What does the PostgreSQL documentation say about X?",
  "How do I use X?", "X". Answers: the page(s) that give the same question (almost always one).
- **sentence** (one per page, when enough is left): the first sentence of the page's first
  paragraph (for a reference page, the purpose after the dash: "SELECT, TABLE, WITH — retrieve
  rows from a table or view"), cut at 30 words, with every word of the heading removed
  (case-insensitive, singular and plural alike, identifiers whole and by their parts:
  "pg_hba.conf" also takes "pg_hba", "pg", "hba" and "conf"; small function words such as "and"
  or "of" stay). Kept if 3 or more different words remain besides those function words and "this
  chapter section describes see more information PostgreSQL". "bloom provides an index access
  method based on Bloom filters." becomes "provides an index access method based on filters."
  Answers: the page(s) that give the same question.
- **glossary** (one per glossary entry that points at a page): the first paragraph of the entry's
  definition in the manual's glossary, as written ("A set of background processes that
  routinely perform vacuum and analyze operations. ..."). Answers: the pages its "For more
  information, see ..." paragraph links to.

Why three rules. A heading names the page's subject in its own words, often rare identifiers
("pg_statistic_ext_data"). The sentence rule removes those names, but what is left is still the
page's own wording, word for word (it is in the page's first chunk), which exact-term matching
rewards. A glossary definition is the only text here written apart from the page it points to: the
concept described in other words, the nearest a rule gets to a user describing what they want.
The glossary itself is not indexed. Results are reported per rule as well as together; the rules
were written before any mode was measured on them, except the glossary rule, added after the
first run showed that the sentence rule was not the less lexical one it was meant to be.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

Rule = Literal["title", "sentence", "glossary"]

TEMPLATES = ("What does the PostgreSQL documentation say about {}?", "How do I use {}?", "{}")
MIN_PAGE_BYTES = 4000
MAX_SENTENCE_WORDS = 30
MIN_CONTENT_WORDS = 3
_LIST_PAGES = frozenset({"index", "bookindex", "biblio", "appendixes", "sql-commands", "glossary"})
_LIST_PREFIXES = ("release", "reference")
_SKIPPED_DIVS = frozenset({"navheader", "navfooter", "toc"})
# Function words stay in a sentence even when the heading has them: removing them only garbles it.
_KEPT_WORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "how", "in", "is", "it", "its"}
    | {"of", "on", "or", "the", "to", "use", "using", "what", "when", "with"}
)
# Words that say nothing about what a page is about: they do not count towards a sentence's 3.
_VAGUE_WORDS = frozenset(
    {"this", "chapter", "section", "describes", "see", "more", "information", "postgresql"}
)
_SECTION_NUMBER = re.compile(r"^(?:(?:Chapter|Appendix|Part)\s+)?(?:[0-9]+|[A-Z]|[IVXLC]+)(?:\.[0-9]+)*\.\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_HEAD_CHARS = 40_000  # the title, the navigation and the first paragraph are all near the top


@dataclass(frozen=True)
class Page:
    """What the question rules read from one page of the manual."""

    name: str  # the file name, which is the page's identity in the index
    heading: str  # the title without its section number
    chapter: str  # the heading of the chapter (or part) it is in, "" at the top
    first_paragraph: str


@dataclass(frozen=True)
class Question:
    text: str
    answers: frozenset[str]  # page names
    rule: Rule


def _clean(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


def strip_number(title: str) -> str:
    """ "9.4. String Functions and Operators" -> "String Functions and Operators"."""
    return _SECTION_NUMBER.sub("", _clean(title))


class _HeadParser(HTMLParser):
    """The `<title>`, the navigation header's headings and the first paragraph outside navigation."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.nav_headings: list[str] = []
        self.paragraph: str | None = None
        self._divs: list[str] = []  # one per open <div>: "navheader", "navfooter", "toc" or ""
        self._capture: str | None = None  # "title", "th" or "p"
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div":
            classes = set((dict(attrs).get("class") or "").split()) & _SKIPPED_DIVS
            self._divs.append(min(classes) if classes else "")
        elif tag == "title" and not self.title:
            self._start("title")
        elif tag == "th" and "navheader" in self._divs:
            self._start("th")
        elif tag == "p" and self.paragraph is None and not any(self._divs):
            self._start("p")

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._divs:
            self._divs.pop()
        elif self._capture == tag:
            text = _clean("".join(self._text))
            if tag == "title":
                self.title = text
            elif tag == "th":
                self.nav_headings.append(text)
            elif text:
                self.paragraph = text
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._capture:
            self._text.append(data)

    def _start(self, what: str) -> None:
        self._capture = what
        self._text = []


def read_page(name: str, html: str) -> Page | None:
    """The page's heading, chapter and first paragraph; None if it has no title or no paragraph."""
    parser = _HeadParser()
    parser.feed(html[:_HEAD_CHARS])
    if not parser.title or not parser.paragraph:
        return None
    chapter = strip_number(parser.nav_headings[1]) if len(parser.nav_headings) > 1 else ""
    return Page(name, strip_number(parser.title), chapter, parser.paragraph)


def select_pages(
    directory: Path, count: int, *, also: Collection[str] = (), min_bytes: int = MIN_PAGE_BYTES
) -> list[Page]:
    """`count` pages of the manual in `directory` spread over it, plus the eligible pages named in
    `also`, in name order: the rule in this module's docstring."""
    eligible = []
    for path in sorted(directory.glob("*.html")):
        if path.stem in _LIST_PAGES or path.stem.startswith(_LIST_PREFIXES):
            continue
        if path.stat().st_size < min_bytes:
            continue
        page = read_page(path.name, path.read_text(encoding="utf-8", errors="replace"))
        if page is not None:
            eligible.append(page)
    step = max(1, len(eligible) // count)
    chosen = {p.name for p in eligible[::step][:count]} | set(also)
    return [p for p in eligible if p.name in chosen]


@dataclass(frozen=True)
class GlossaryEntry:
    term: str
    definition: str  # the first paragraph of the definition
    pages: tuple[str, ...]  # the pages its "For more information, see ..." paragraph links to


class _GlossaryParser(HTMLParser):
    """Each `<dt>` term and its `<dd class="glossdef">` paragraphs, with the pages they link to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.entries: list[GlossaryEntry] = []
        self._term: list[str] | None = None
        self._last_term = ""
        self._paragraphs: list[tuple[str, list[str]]] | None = None  # open glossdef
        self._text: list[str] | None = None  # open paragraph
        self._links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "dt":
            self._term = []
        elif tag == "dd" and attributes.get("class") == "glossdef":
            self._paragraphs = []
        elif tag == "p" and self._paragraphs is not None:
            self._text, self._links = [], []
        elif tag == "a" and self._text is not None and attributes.get("class") in ("xref", "link"):
            page = (attributes.get("href") or "").split("#")[0]
            if page.endswith(".html") and "/" not in page and page != "glossary.html":
                self._links.append(page)

    def handle_endtag(self, tag: str) -> None:
        if tag == "dt" and self._term is not None:
            self._last_term, self._term = _clean("".join(self._term)), None
        elif tag == "p" and self._paragraphs is not None and self._text is not None:
            self._paragraphs.append((_clean("".join(self._text)), self._links))
            self._text = None
        elif tag == "dd" and self._paragraphs is not None:
            paragraphs, self._paragraphs = self._paragraphs, None
            pointers = [links for text, links in paragraphs if text.startswith("For more information")]
            pages = tuple(dict.fromkeys(page for links in pointers for page in links))
            if paragraphs and paragraphs[0][0] and pages:
                self.entries.append(GlossaryEntry(self._last_term, paragraphs[0][0], pages))

    def handle_data(self, data: str) -> None:
        for sink in (self._term, self._text):
            if sink is not None:
                sink.append(data)


def read_glossary(html: str) -> list[GlossaryEntry]:
    """The glossary's entries that send the reader to a page for more information."""
    parser = _GlossaryParser()
    parser.feed(html)
    return parser.entries


def _norm(word: str) -> str:
    word = word.lower().removesuffix("'s")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _strip_punctuation(token: str) -> str:
    return re.sub(r"^\W+|\W+$", "", token)


def _words(heading: str) -> set[str]:
    """Its words whole ("pg_hba.conf"), as identifiers ("pg_hba", "conf") and by parts ("pg", "hba")."""
    whole = {_strip_punctuation(t) for t in heading.split()}
    return (whole | set(re.findall(r"\w+", heading)) | set(re.findall(r"[^\W_]+", heading))) - {""}


def description(page: Page) -> str:
    """The sentence rule's text: the first sentence without the heading's words ("" if too short)."""
    text = page.first_paragraph
    if " — " in text:  # a reference page's "NAME, OTHER — purpose" line
        text = text.split(" — ", 1)[1]
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0]
    # Identifiers count whole and by parts: "pg_foreign_server" takes "foreign" and "server" too.
    heading_words = {_norm(w) for w in _words(page.heading)} - _KEPT_WORDS
    kept = []
    for token in sentence.split()[:MAX_SENTENCE_WORDS]:
        core = _strip_punctuation(token)
        if core and _norm(core) in heading_words:
            continue
        kept.append(token)
    content = {_norm(w) for w in re.findall(r"[A-Za-z][\w'-]*", " ".join(kept))}
    content -= _KEPT_WORDS | _VAGUE_WORDS
    result = re.sub(r"\s+([,.;:)])", r"\1", " ".join(kept)).strip(" ,;:—-")
    return result if len(content) >= MIN_CONTENT_WORDS else ""


def build_questions(pages: Sequence[Page], glossary: Sequence[GlossaryEntry] = ()) -> list[Question]:
    """The questions of the three rules: title and sentence of each page in order, then glossary."""
    names = {p.name for p in pages}
    shared = Counter(p.heading for p in pages)
    candidates: list[tuple[str, Rule, set[str]]] = []
    for position, page in enumerate(pages):
        heading = page.heading
        if shared[heading] > 1 and page.chapter:
            heading = f"{heading} ({page.chapter})"
        candidates.append((TEMPLATES[position % len(TEMPLATES)].format(heading), "title", {page.name}))
        sentence = description(page)
        if sentence:
            candidates.append((sentence, "sentence", {page.name}))
    for entry in glossary:
        if names.intersection(entry.pages):
            candidates.append((entry.definition, "glossary", names.intersection(entry.pages)))
    answers: dict[str, set[str]] = defaultdict(set)
    for text, _, pages_of in candidates:
        answers[text] |= pages_of
    questions: list[Question] = []
    seen: set[str] = set()
    for text, rule, _ in candidates:
        if text not in seen:
            seen.add(text)
            questions.append(Question(text, frozenset(answers[text]), rule))
    return questions
