"""The answer-level benchmark's question sets, made by rule from reference pages themselves (no model).

Entries. Each set reads the entries of one kind of reference page, in page-name order and then in
document order. An entry is a documented name and the first paragraph of its description:

- **postgres-config** (PostgreSQL manual, `runtime-config-*.html`): each `<dt id="GUC-...">` of a
  `<dl class="variablelist">`: the name is its `<code class="varname">` ("work_mem"), the paragraph
  the first `<p>` of the `<dd>` after it.
- **postgres-functions** (PostgreSQL manual, `functions-*.html`): each table cell
  `<td class="func_table_entry">` whose first `<p class="func_signature">` holds a
  `<code class="function">`: that is the name ("to_char"); the paragraph is the cell's first `<p>`
  that is not a signature.
- **nodejs-api** (Node.js API Markdown, `*.md`): each heading (`##` to `####`) that is one code span
  naming an API, a dotted identifier with or without its argument list (`` `fs.mkdir(path[, options],
  callback)` ``): the name is the identifier ("fs.mkdir"); the paragraph is the first one after it
  that is prose, past the `<!-- YAML -->` comments, the parameter lists (`* ...`), the stability
  notes (`> ...`) and code blocks, before the next heading. Its Markdown is read as rendered: link
  targets, reference-link labels and comments dropped, entities decoded. A paragraph holding `<` or
  `>` is left out (an inline HTML tag or not: parsers differ on it).
- **python-library** (Python documentation, `library/*.html`): each `<dl class="py function|method|
  class|data|attribute|exception">` whose first `<dt>` has an `id`: that is the name ("os.makedirs");
  the paragraph is the first `<p>` directly inside its `<dd>`.

Answers. The first sentence of the paragraph (whitespace collapsed; a sentence ends at `.`, `!` or
`?` followed by a space and a capital, a digit, a bracket or a quote, but not at "e.g." or "i.e."), cut
to its first 12 words.
An entry is left out when that sentence has fewer than 6 words, when its name is documented by more
than one entry of the set (overloads: "to_char" has three rows), or when the answer does not occur
exactly once in the main text of the corpus's pages (below), compared as `answer_key` compares.
Of the entries left, every k-th (k = entries // 150, the first 150) makes a question: the name in
one of the set's three fixed templates, by the entry's position ("What does the work_mem setting
control?", "What is work_mem?", "work_mem"). Its answer is the cut sentence, on its page.

Hits. A retrieved text (a chunk, or a baseline window) holds the answer when `answer_key` of the
answer is a substring of `answer_key` of the text: both cased down, Unicode-normalised (NFKC) and
stripped of everything but letters and digits, so that spacing, punctuation, pilcrows and markup a
parser renders differently do not matter, while a chunk holding only part of the answer misses.

Pages. A corpus's indexed pages are those some set reads entries from, spread over them (every k-th
in name order, up to a count), plus other pages of the same corpus as distractors, spread likewise
over those of at least 4,000 bytes that are not lists (indexes, tables of contents, release notes).
Entries are read from the indexed pages only. Main text (what answers must be unique in, and what
the BM25 baseline indexes): for HTML, the `div[role=main]` (Sphinx) or else the `<body>`, without
`div.navheader`, `div.navfooter` and `div.toc` (the PostgreSQL manual's navigation), Sphinx's
`div.toctree-wrapper` and `nav.contents` (tables of contents), scripts and styles; for Markdown,
the file read as rendered (above), without the tags of HTML written into it.
"""

from __future__ import annotations

import fnmatch
import html
import re
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup, Tag, XMLParsedAsHTMLWarning

MIN_ANSWER_WORDS = 6
MAX_ANSWER_WORDS = 12
QUESTIONS_PER_SET = 150
MIN_OTHER_PAGE_BYTES = 4000
_LIST_PAGES = frozenset(
    {"index", "bookindex", "genindex", "py-modindex", "search", "contents", "biblio", "appendixes"}
    | {"sql-commands", "glossary", "all"}
)
_LIST_PREFIXES = ("release", "reference", "changelog")
_SENTENCE_END = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+(?=[A-Z0-9(\"'`])")
_NOT_ALPHANUMERIC = re.compile(r"[\W_]+")
_NODE_HEADING = re.compile(r"^#{2,4}\s+`([A-Za-z_$][\w$]*(?:\.[\w$]+)*)(\(.*\))?`\s*$")
_LINK = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\](?:\([^()\s]*(?:\s+\"[^\"]*\")?\)|\[[^\[\]]*\])")
_LINK_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s+\S.*$", re.MULTILINE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_PYTHON_KINDS = frozenset({"function", "method", "class", "data", "attribute", "exception"})


@dataclass(frozen=True)
class Entry:
    """One documented name and the first paragraph of its description, on its page."""

    name: str
    paragraph: str
    page: str


@dataclass(frozen=True)
class ReferenceQuestion:
    text: str
    answer: str  # what a retrieved text must hold: the start of the description's first sentence
    page: str


Reader = Callable[[str, bytes], list[Entry]]


@dataclass(frozen=True)
class QuestionSet:
    name: str
    corpus: str  # the corpus whose pages it is searched in
    sources: str  # the glob of the page names its entries are read from
    read: Reader
    templates: tuple[str, str, str]


def answer_key(text: str) -> str:
    """`text` cased down with only its letters and digits: what a hit is compared on."""
    return _NOT_ALPHANUMERIC.sub("", unicodedata.normalize("NFKC", text).casefold())


def holds_answer(text: str, answer: str) -> bool:
    return answer_key(answer) in answer_key(text)


def _clean(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


def answer_span(paragraph: str) -> str:
    """The paragraph's first sentence cut to `MAX_ANSWER_WORDS` words; "" if it is too short."""
    words = _SENTENCE_END.split(_clean(paragraph), maxsplit=1)[0].split()
    return " ".join(words[:MAX_ANSWER_WORDS]) if len(words) >= MIN_ANSWER_WORDS else ""


def soup(data: bytes) -> BeautifulSoup:
    with warnings.catch_warnings():  # the PostgreSQL manual is XHTML: lxml's HTML parser reads it well
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(data, "lxml")


def _first_paragraph(container: Tag, *, skip_class: str | None = None) -> str:
    for p in container.find_all("p", recursive=False):
        if skip_class is None or skip_class not in (p.get("class") or []):
            return _clean(p.get_text())
    return ""


def config_entries(page: str, data: bytes) -> list[Entry]:
    """The configuration parameters a PostgreSQL `runtime-config-*.html` page documents."""
    entries = []
    for dt in soup(data).select("dl.variablelist > dt[id^=GUC-]"):
        name, dd = dt.select_one("code.varname"), dt.find_next_sibling()
        if name is not None and isinstance(dd, Tag) and dd.name == "dd":
            entries.append(Entry(_clean(name.get_text()), _first_paragraph(dd), page))
    return entries


def function_entries(page: str, data: bytes) -> list[Entry]:
    """The functions of a PostgreSQL `functions-*.html` page's tables, one entry a table row."""
    entries = []
    for cell in soup(data).select("td.func_table_entry"):
        signature = cell.find("p", class_="func_signature", recursive=False)
        name = signature.find("code", class_="function") if isinstance(signature, Tag) else None
        if isinstance(name, Tag):
            paragraph = _first_paragraph(cell, skip_class="func_signature")
            entries.append(Entry(_clean(name.get_text()), paragraph, page))
    return entries


def python_entries(page: str, data: bytes) -> list[Entry]:
    """The functions, classes, methods, attributes and data a Python `library/*.html` page documents."""
    entries = []
    for dl in soup(data).find_all("dl", class_="py"):
        classes = set(dl.get("class") or [])
        dt, dd = dl.find("dt", recursive=False), dl.find("dd", recursive=False)
        if not classes & _PYTHON_KINDS or not isinstance(dt, Tag) or not isinstance(dd, Tag):
            continue
        name = dt.get("id")
        if isinstance(name, str) and name:
            entries.append(Entry(name, _first_paragraph(dd), page))
    return entries


def plain_markdown(text: str) -> str:
    """Markdown as a reader sees its words: without comments, link targets, link definitions and the
    tags of the HTML written into it."""
    text = _LINK_DEFINITION.sub("", _COMMENT.sub("", text))
    return html.unescape(_HTML_TAG.sub(" ", _LINK.sub(r"\1", text)))


def _is_prose(line: str) -> bool:
    return bool(line.strip()) and not line.startswith((" ", "\t", "*", "-", "+", ">", "#", "```", "|", "<"))


def node_entries(page: str, data: bytes) -> list[Entry]:
    """The APIs a Node.js `api/*.md` page documents under a heading of their own."""
    lines = _COMMENT.sub("", data.decode("utf-8")).splitlines()
    entries = []
    for at, line in enumerate(lines):
        heading = _NODE_HEADING.match(line)
        if heading is None:
            continue
        paragraph: list[str] = []
        fenced = False
        for following in lines[at + 1 :]:
            if following.startswith("```"):
                fenced = not fenced
            if not fenced and _is_prose(following):
                paragraph.append(following)
            elif paragraph or (following.startswith("#") and not fenced):
                break
        text = " ".join(paragraph)
        if text and "<" not in text and ">" not in text:
            entries.append(Entry(heading[1], _clean(plain_markdown(text)), page))
    return entries


POSTGRES_CONFIG = QuestionSet(
    "postgres-config",
    "postgres",
    "runtime-config-*.html",
    config_entries,
    ("What does the {} setting control?", "What is {}?", "{}"),
)
POSTGRES_FUNCTIONS = QuestionSet(
    "postgres-functions",
    "postgres",
    "functions-*.html",
    function_entries,
    ("What does the function {} do?", "What is {}() for?", "{}"),
)
NODEJS_API = QuestionSet(
    "nodejs-api", "nodejs", "*.md", node_entries, ("What does {} do?", "What is {} for?", "{}")
)
PYTHON_LIBRARY = QuestionSet(
    "python-library", "python", "*.html", python_entries, ("What does {} do?", "What is {}?", "{}")
)
SETS = (POSTGRES_CONFIG, POSTGRES_FUNCTIONS, NODEJS_API, PYTHON_LIBRARY)


def main_text(page: str, data: bytes) -> str:
    """The page's main text (the module docstring's rule), whitespace collapsed."""
    if page.endswith(".md"):
        return _clean(plain_markdown(data.decode("utf-8")))
    document = soup(data)
    root = document.select_one("div[role=main]") or document.body or document
    furniture = "div.navheader, div.navfooter, div.toc, div.toctree-wrapper, nav.contents, script, style"
    for tag in root.select(furniture):
        tag.decompose()
    return _clean(root.get_text(" "))


def _spread(paths: Sequence[Path], count: int) -> list[Path]:
    return list(paths[:: max(1, len(paths) // count)][:count]) if count else []


def _is_list(path: Path) -> bool:
    return path.stem in _LIST_PAGES or path.stem.startswith(_LIST_PREFIXES)


def select_pages(
    paths: Iterable[Path], sources: Sequence[str], *, source_pages: int, other_pages: int
) -> list[Path]:
    """The corpus's indexed pages, in name order: `source_pages` of those whose names match one of
    the `sources` globs and `other_pages` of the rest, each spread over its kind."""
    ordered = sorted(paths, key=lambda p: p.name)
    is_source = [any(fnmatch.fnmatch(p.name, glob) for glob in sources) and not _is_list(p) for p in ordered]
    chosen = _spread([p for p, s in zip(ordered, is_source, strict=True) if s], source_pages)
    others = [
        p
        for p, s in zip(ordered, is_source, strict=True)
        if not s and not _is_list(p) and p.stat().st_size >= MIN_OTHER_PAGE_BYTES
    ]
    chosen += _spread(others, other_pages)
    return sorted(chosen, key=lambda p: p.name)


def build_questions(
    question_set: QuestionSet, pages: dict[str, bytes], texts: dict[str, str]
) -> list[ReferenceQuestion]:
    """The set's questions from `pages` (name -> bytes, in name order), whose main texts are `texts`
    (name -> text): the rules of this module's docstring."""
    entries = [
        entry
        for page, data in pages.items()
        if fnmatch.fnmatch(page, question_set.sources)
        for entry in question_set.read(page, data)
    ]
    names = Counter(entry.name for entry in entries)
    corpus = "\n".join(answer_key(text) for text in texts.values())  # "\n": no key matches across pages
    kept = []
    for entry in entries:
        answer = answer_span(entry.paragraph)
        if answer and names[entry.name] == 1 and corpus.count(answer_key(answer)) == 1:
            kept.append((entry, answer))
    chosen = kept[:: max(1, len(kept) // QUESTIONS_PER_SET)][:QUESTIONS_PER_SET]
    templates = question_set.templates
    return [
        ReferenceQuestion(templates[position % len(templates)].format(entry.name), answer, entry.page)
        for position, (entry, answer) in enumerate(chosen)
    ]
