"""Unit tests of `apps.stream_processors.html_elements`: every word of the main content, no navigation."""

from __future__ import annotations

import pytest

from apps.stream_processors.chunking import TextElement
from apps.stream_processors.html_elements import EmptyPage, content_of, elements_of, table_rows, text_of


def read(html: str, *, page: bool = True) -> list[tuple[str, bool]]:
    return [(e.text, e.is_title) for e in elements_of(content_of(html.encode(), page=page))]


def elements(html: str) -> list[TextElement]:
    return elements_of(content_of(html.encode()))


SPHINX_PAGE = """<html><head><title>os</title><script>var x = 1;</script></head><body>
<div class="related" role="navigation"><ul><li><a href="index.html">index</a></li>
<li><a href="modules.html">modules</a> |</li></ul></div>
<div class="document"><div class="body" role="main">
<h1>os — Miscellaneous operating system interfaces<a class="headerlink" href="#os">¶</a></h1>
<nav class="contents local" role="doc-toc"><p>On this page</p><ul><li>Process Parameters</li></ul></nav>
<p>This module provides a portable way of using <code>operating system</code> dependent functionality.</p>
<dl class="py function">
<dt class="sig sig-object py" id="os.makedirs"><span class="sig-prename descclassname">os.</span><span
 class="sig-name descname">makedirs</span>(<em>name</em>,
 <em>mode=0o777</em>, <em>exist_ok=False</em>)
<a class="headerlink" href="#os.makedirs">¶</a></dt>
<dd><p>Recursive directory creation function.</p>
<p>If <em>exist_ok</em> is <code>False</code> (the default), a <code>FileExistsError</code> is raised.</p>
<dl class="field-list"><dt class="field-odd">Parameters<span class="colon">:</span></dt>
<dd class="field-odd"><p><strong>name</strong> – the path</p></dd></dl>
<div class="admonition note"><p class="admonition-title">Note</p><p>It can be confused.</p></div>
<div class="highlight-python3"><div class="highlight"><pre>
os.makedirs("a/b", exist_ok=True)
print("done")
</pre></div></div>
</dd></dl>
</div></div>
<div class="sphinxsidebar" role="navigation"><h3>Table of Contents</h3><ul><li>Previous topic</li></ul>
<div role="search"><form><input type="text" name="q"/></form></div></div>
<div class="footer">© Copyright 2001-2023, Python Software Foundation.</div>
</body></html>"""


def test_a_sphinx_page_keeps_definition_lists_admonitions_and_code_and_drops_navigation() -> None:
    assert read(SPHINX_PAGE) == [
        ("os — Miscellaneous operating system interfaces", True),
        ("This module provides a portable way of using operating system dependent functionality.", False),
        ("os.makedirs(name, mode=0o777, exist_ok=False)", True),
        ("Recursive directory creation function.", False),
        ("If exist_ok is False (the default), a FileExistsError is raised.", False),
        ("Parameters:", False),
        ("name – the path", False),
        ("Note", False),
        ("It can be confused.", False),
        ('os.makedirs("a/b", exist_ok=True)\nprint("done")', False),
    ]


def test_the_reference_text_is_the_main_content_without_navigation() -> None:
    text = text_of(content_of(SPHINX_PAGE.encode()))
    assert "Recursive directory creation function." in text
    for furniture in ("index", "modules", "Table of Contents", "Previous topic", "On this page", "Copyright"):
        assert furniture not in text
    assert "var x" not in text


DOCBOOK_PAGE = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "x">
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>20.4. Resource Consumption</title></head>
<body id="docContent"><div class="navheader"><table summary="Navigation header"><tr>
<th>20.4. Resource Consumption</th></tr><tr><td><a href="a.html">Prev</a></td><td><a href="u.html">Up</a></td>
</tr></table><hr /></div>
<div class="sect1"><div class="titlepage"><h2 class="title">20.4. Resource Consumption</h2></div>
<div class="toc"><dl class="toc"><dt><a href="#m">20.4.1. Memory</a></dt></dl></div>
<div class="variablelist"><dl class="variablelist">
<dt id="GUC-WORK-MEM"><span class="term"><code class="varname">work_mem</code>
 (<code class="type">integer</code>)
<a id="id-1.6.7.7.2.2.7.1.3" class="indexterm"></a></span></dt>
<dd><p>Sets the base maximum amount of memory to be used by a query operation
(such as a sort or hash table) before writing to temporary disk files.</p></dd>
<dt><span class="term">a term without an anchor</span></dt><dd><p>Its definition.</p></dd>
</dl></div></div>
<div class="navfooter"><hr /><table summary="Navigation footer"><tr><td>Home</td><td>Next</td></tr>
</table></div></body></html>"""


def test_a_page_without_a_main_region_loses_its_navigation_header_footer_and_table_of_contents() -> None:
    assert read(DOCBOOK_PAGE) == [
        ("20.4. Resource Consumption", True),
        ("work_mem (integer)", True),
        (
            "Sets the base maximum amount of memory to be used by a query operation (such as a sort or"
            " hash table) before writing to temporary disk files.",
            False,
        ),
        ("a term without an anchor", False),
        ("Its definition.", False),
    ]


def test_page_furniture_by_tag_and_role_goes_only_when_there_is_no_main_region() -> None:
    page = (
        "<body><header>Site name</header><nav>Home | Blog</nav><aside role='complementary'>Ads</aside>"
        "<div><p>The content.</p></div><footer>Contact us</footer></body>"
    )
    assert read(page) == [("The content.", False)]
    with_main = (
        "<body><nav>Home</nav><main><header><h1>The article</h1></header><p>Its text.</p>"
        "<aside class='footnote'><p>A footnote.</p></aside><footer><p>A signature.</p></footer></main>"
        "<footer>Contact us</footer></body>"
    )
    assert read(with_main) == [
        ("The article", True),
        ("Its text.", False),
        ("A footnote.", False),
        ("A signature.", False),
    ]


def test_markdown_html_is_read_whole() -> None:
    fragment = "<h1>Notes</h1><nav>A nav written in the document</nav><header>Kept</header><p>Body.</p>"
    assert [text for text, _ in read(fragment, page=False)] == [
        "Notes",
        "A nav written in the document",
        "Kept",
        "Body.",
    ]


def test_a_table_is_read_row_by_row_with_its_header() -> None:
    page = """<main><table><caption>Table 9.9. SQL String Functions</caption>
    <thead><tr><th>Function</th><th>Description</th><th>Example</th></tr></thead>
    <tbody><tr><td><code>lower(text)</code></td><td>Converts the string to lower case.</td>
    <td><code>lower('TOM')</code> → tom</td></tr>
    <tr><td>upper(text)</td><td>Converts the string to upper case.</td><td></td></tr></tbody></table>
    <table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table></main>"""
    assert [text for text, _ in read(page)] == [
        "Table 9.9. SQL String Functions",
        "Function: lower(text); Description: Converts the string to lower case.; Example: lower('TOM') → tom",
        "Function: upper(text); Description: Converts the string to upper case.",
        "a | b",
        "c | d",
    ]


def test_a_nested_table_stays_inside_its_cell() -> None:
    page = (
        "<main><table><tr><th>Name</th><th>Values</th></tr><tr><td>mode</td>"
        "<td><table><tr><td>on</td><td>off</td></tr></table></td></tr></table></main>"
    )
    region = content_of(page.encode())
    [table] = region.findall(".//table")[:1]
    assert table_rows(table) == ["Name: mode; Values: on off"]
    assert [text for text, _ in read(page)] == ["Name: mode; Values: on off"]


def test_a_table_of_headers_only_keeps_them() -> None:
    assert [t for t, _ in read("<main><table><tr><th>Only</th><th>headers</th></tr></table></main>")] == [
        "Only | headers"
    ]


def test_lists_footnotes_captions_and_line_breaks() -> None:
    page = """<main><ul><li>First item<ul><li>nested item</li></ul></li><li>Second<br/>line</li></ul>
    <figure><img src="x.png" alt="a chart"/><figcaption>Figure 1. Latency by load.</figcaption></figure>
    <p>Text with a note<sup><a href="#f1">1</a></sup>.</p>
    <div class="footnotes"><ol><li id="f1">The footnote itself.</li></ol></div>
    <blockquote><p>A quotation.</p></blockquote><details><summary>More</summary><p>Hidden text.</p></details>
    <p hidden>Never shown.</p></main>"""
    assert [text for text, _ in read(page)] == [
        "First item",
        "nested item",
        "Second line",
        "Figure 1. Latency by load.",
        "Text with a note1.",
        "The footnote itself.",
        "A quotation.",
        "More",
        "Hidden text.",
    ]


def test_text_directly_in_a_division_is_kept_around_its_blocks() -> None:
    page = "<main><div>Before the list <b>in bold</b><ul><li>item</li></ul>after the list.</div></main>"
    assert [text for text, _ in read(page)] == ["Before the list in bold", "item", "after the list."]


def test_the_page_declares_its_encoding() -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Caf\xe9 cr\xe8me</p></body></html>'
    [element] = elements_of(content_of(page.encode("iso-8859-1")))
    assert element.text == "Café crème"


def test_a_page_without_a_declared_encoding_is_read_as_utf8() -> None:
    [element] = elements_of(content_of("<p>Café — naïve → ok</p>".encode()))
    assert element.text == "Café — naïve → ok"


def test_nothing_readable() -> None:
    with pytest.raises(EmptyPage):
        content_of(b"")


def test_an_entry_is_titled_by_the_full_name_its_anchor_gives_it() -> None:
    page = (
        '<main><dl class="py method"><dt class="sig sig-object py" id="os.DirEntry.is_dir">'
        '<span class="sig-name descname">is_dir</span>(*, follow_symlinks=True)</dt>'
        "<dd><p>Return True if this entry is a directory.</p></dd></dl>"
        '<dl><dt id="os.makedirs">os.makedirs(name)</dt><dd><p>Make them.</p></dd>'
        '<dt id="GUC-WORK-MEM">work_mem (integer)</dt><dd><p>Sets memory.</p></dd></dl></main>'
    )
    assert [text for text, title in read(page) if title] == [
        "os.DirEntry.is_dir(*, follow_symlinks=True)",
        "os.makedirs(name)",
        "work_mem (integer)",
    ]
