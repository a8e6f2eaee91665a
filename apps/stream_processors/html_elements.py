"""HTML -> text elements over lxml: every word of the page's main content, none of its navigation.

unstructured's `partition_html` drops definition lists (where API and configuration references
keep their content) and keeps sidebars and tables of contents, so ragstream walks the tree itself:
headings become titles, a `<dt>` with an anchor starts an entry as a title does, tables become one
element per row with each cell under its column's header, `<pre>` keeps its lines.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Iterator

import lxml.html
from lxml.etree import ParserError, _Element

from apps.stream_processors.chunking import TextElement

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Elements whose content is never text a reader reads.
_NOT_TEXT = frozenset(
    {"script", "style", "noscript", "template", "head", "title", "meta", "link", "svg", "canvas", "iframe"}
    | {"object", "embed", "button", "select", "input", "textarea", "img", "map", "audio", "video"}
)
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog"}
    | {"dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup"}
    | {"hr", "html", "legend", "li", "main", "menu", "nav", "ol", "p", "pre", "section", "summary"}
    | {"table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"}
    | _HEADINGS
)
# Page furniture, by tag and by ARIA role: left out when the page has no main region to read.
_FURNITURE_TAGS = frozenset({"nav", "header", "footer", "aside", "menu"})
_FURNITURE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menubar"})
# Class words that name navigation, tables of contents and permalinks, wherever they are.
_FURNITURE_CLASSES = frozenset(
    {"navheader", "navfooter", "toc", "toctree-wrapper", "sphinxsidebar", "localtoc", "breadcrumb"}
    | {"breadcrumbs", "headerlink", "skip-link", "pagination", "prev-next", "edit-this-page"}
)
# Class or id words of page furniture that a main region may use for its own parts.
_PAGE_FURNITURE_NAMES = frozenset(
    {"navbar", "navigation", "nav", "sidebar", "related", "header", "footer", "menu", "site-header"}
    | {"site-footer", "site-nav"}
)
# docutils' table of contents of one page: <div class="contents local topic">.
_LOCAL_CONTENTS = ({"contents", "topic"}, {"contents", "local"})
_SPACES = re.compile(r"\s+")
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_DECLARED_ENCODING = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


class EmptyPage(ValueError):
    """The HTML could not be read as a page, or holds no text."""


def _is_furniture(element: _Element, *, whole_page: bool) -> bool:
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    classes = {c.lower() for c in (element.get("class") or "").split()}
    if classes & _FURNITURE_CLASSES or any(pair <= classes for pair in _LOCAL_CONTENTS):
        return True
    if element.tag == "nav" or element.get("role") in ("navigation", "search", "menubar", "doc-toc"):
        return True
    if not whole_page:
        return False
    names = classes | {(element.get("id") or "").lower()}
    return bool(
        element.tag in _FURNITURE_TAGS
        or element.get("role") in _FURNITURE_ROLES
        or names & _PAGE_FURNITURE_NAMES
    )


def declared_encoding(data: bytes) -> str:
    """The encoding the page declares in its first bytes (a meta tag, an XML declaration), else UTF-8:
    what a page without one almost always is, where lxml would assume Latin-1."""
    found = _DECLARED_ENCODING.search(data[:4096])
    if found:
        name = found.group(1).decode("ascii")
        with contextlib.suppress(LookupError):
            return codecs.lookup(name).name
    return "utf-8"


def parse_page(data: bytes) -> _Element:
    """The page's tree."""
    parser = lxml.html.HTMLParser(encoding=declared_encoding(data))
    try:
        return lxml.html.document_fromstring(data, parser=parser)
    except (ParserError, ValueError) as exc:
        raise EmptyPage(f"not a readable HTML page ({exc})") from exc


def main_region(page: _Element) -> tuple[_Element, bool]:
    """The element that holds the page's content (`<main>`, `role="main"`, a lone `<article>`), and
    False; or the whole body and True, when the page marks none."""
    for path in ("//main", "//*[@role='main']"):
        found = page.xpath(path)
        if found:
            return found[0], False
    articles = page.xpath("//article")
    if len(articles) == 1:
        return articles[0], False
    body = page.find("body")
    return (body if body is not None else page), True


def _drop(region: _Element, *, furniture: bool, whole_page: bool) -> None:
    """Remove what is not text, and with `furniture` the page's navigation too."""
    doomed = [
        e
        for e in region.iter()
        if isinstance(e.tag, str)
        and e is not region
        and (e.tag in _NOT_TEXT or (furniture and _is_furniture(e, whole_page=whole_page)))
    ]
    for element in doomed:
        _remove_keeping_tail(element)


def _remove_keeping_tail(element: _Element) -> None:
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


def content_of(data: bytes, *, page: bool = True) -> _Element:
    """The page's main region with its navigation, tables of contents and scripts removed; with
    `page=False` (HTML rendered from Markdown, say) the whole body, as authored content."""
    tree = parse_page(data)
    if page:
        region, whole_page = main_region(tree)
    else:
        body = tree.find("body")
        region, whole_page = (body if body is not None else tree), False
    _drop(region, furniture=page, whole_page=whole_page)
    return region


def text_of(region: _Element) -> str:
    """All the text of a content region, its pieces apart (a block's last word never runs into the
    next block's first): what its elements must hold."""
    return " ".join(region.itertext())


def elements_of(region: _Element) -> list[TextElement]:
    """A content region as text elements, in reading order."""
    return list(_Walker().elements(region))


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _inline_text(element: _Element) -> str:
    return _clean("".join(_flat_text(element)))


def _flat_text(element: _Element) -> Iterator[str]:
    """The element's text, with a space where a block or a line break separates two pieces."""
    if element.text:
        yield element.text
    for child in element:
        if isinstance(child.tag, str):
            yield from _flat_text(child)
            if child.tag in _BLOCKS or child.tag == "br":
                yield " "
        if child.tail:
            yield child.tail


class _Walker:
    """Turns a content tree into elements: a block's running text becomes one element when a nested
    block, or the block's end, interrupts it."""

    def __init__(self) -> None:
        self._text: list[str] = []

    def elements(self, region: _Element) -> Iterator[TextElement]:
        yield from self._block(region)
        yield from self._flush()

    def _flush(self) -> Iterator[TextElement]:
        text = _clean("".join(self._text))
        self._text = []
        if text:
            yield TextElement(text=text)

    def _block(self, element: _Element) -> Iterator[TextElement]:
        yield from self._flush()
        tag = element.tag
        if tag in _HEADINGS:
            yield from self._titled(_inline_text(element))
        elif tag == "dt":
            text = _inline_text(element)
            if element.get("id") or element.xpath(".//*[@id]"):
                yield from self._titled(qualified(text, element.get("id")))
            elif text:
                yield TextElement(text=text)
        elif tag == "pre":
            text = "".join(element.itertext()).strip("\n")
            if text.strip():
                yield TextElement(text=text)
        elif tag == "table":
            yield from (TextElement(text=row) for row in table_rows(element))
        else:
            yield from self._flow(element)
        yield from self._flush()

    @staticmethod
    def _titled(text: str) -> Iterator[TextElement]:
        if text:
            yield TextElement(text=text, is_title=True)

    def _flow(self, element: _Element) -> Iterator[TextElement]:
        if element.text:
            self._text.append(element.text)
        for child in element:
            if isinstance(child.tag, str):
                if child.tag in _BLOCKS:
                    yield from self._block(child)
                elif child.tag == "br":
                    self._text.append(" ")
                else:
                    yield from self._flow(child)
            if child.tail:
                self._text.append(child.tail)


def qualified(term: str, anchor: str | None) -> str:
    """A definition term under the full name its anchor gives it: a method's entry shows "is_dir()"
    but is anchored at "os.DirEntry.is_dir", the name a reader searches for."""
    if anchor and _DOTTED_NAME.fullmatch(anchor):
        owner, _, name = anchor.rpartition(".")
        if term.startswith(name) and not term.startswith(anchor):
            return f"{owner}.{term}"
    return term


def table_rows(table: _Element) -> list[str]:
    """One text a row, each cell after its column's header ("Header: cell; ..."); a table without a
    header row joins its cells with " | ". Nested tables stay inside their cell's text."""
    rows = [r for r in table.iter("tr") if _owning_table(r) is table]
    cells = [[c for c in row if isinstance(c.tag, str) and c.tag in ("td", "th")] for row in rows]
    caption = table.find("caption")
    lines = [_inline_text(caption)] if caption is not None else []
    header: list[str] = []
    if cells and cells[0] and (all(c.tag == "th" for c in cells[0]) or rows[0].getparent().tag == "thead"):
        header = [_inline_text(c) for c in cells[0]]
        cells = cells[1:]
        if not cells:  # a header alone is the table's only text
            lines.append(" | ".join(h for h in header if h))
    for row in cells:
        texts = [_inline_text(c) for c in row]
        if header and len(texts) <= len(header):
            pairs = [f"{h}: {t}" if h else t for h, t in zip(header, texts, strict=False) if t]
            lines.append("; ".join(pairs))
        else:
            lines.append(" | ".join(t for t in texts if t))
    return [line for line in lines if line]


def _owning_table(row: _Element) -> _Element | None:
    parent = row.getparent()
    while parent is not None and parent.tag != "table":
        parent = parent.getparent()
    return parent
