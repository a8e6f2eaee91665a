"""Unit tests of the answer-level benchmark (`bench.reference_questions`, `bench.answers`) on small
pages shaped as the real ones: the entry and question rules, what counts as a hit, the metrics,
the BM25 baseline's windows, the table, and a search through a Qdrant Edge store."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.common.embeddings import HASHING_MODEL, Embedders
from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.settings import Settings
from bench import reference_questions
from bench.answers import (
    BASELINE,
    Baseline,
    Found,
    Score,
    answer_rank,
    hybrid_above_baseline,
    in_index,
    reciprocal_rank,
    result,
    search,
    windows,
    words,
)
from bench.reference_questions import (
    POSTGRES_CONFIG,
    Entry,
    QuestionSet,
    ReferenceQuestion,
    answer_span,
    build_questions,
    config_entries,
    function_entries,
    holds_answer,
    main_text,
    node_entries,
    plain_markdown,
    python_entries,
    select_pages,
)
from bench.retrieval import index_pages
from schemas.events import Chunk

WORK_MEM = (
    "Sets the base maximum amount of memory to be used by a query operation (such as a sort or hash"
    " table) before writing to temporary disk files."
)


def postgres_page(title: str, body: str) -> str:
    """A page shaped as the PostgreSQL manual's XHTML: navigation, title, table of contents, body."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
        f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head><body>'
        f'<div class="navheader"><table><tr><th colspan="5">{title}</th></tr></table></div>'
        f'<div class="sect1"><h2 class="title">{title}</h2>'
        '<div class="toc"><dl class="toc"><dt>20.4.1. Memory</dt></dl></div>'
        f"{body}</div>"
        '<div class="navfooter"><p>Prev Up Next</p></div></body></html>'
    )


CONFIG_PAGE = postgres_page(
    "20.4.\xa0Resource Consumption",
    '<div class="variablelist"><dl class="variablelist">'
    '<dt id="GUC-WORK-MEM"><span class="term"><code class="varname">work_mem</code>'
    ' (<code class="type">integer</code>)\n      <a id="id-1.6.7.7.2.2.6.1.3" class="indexterm"></a>'
    "\n      </span></dt><dd><p>\n        Sets the base maximum amount of memory to be used by a query"
    " operation\n        (such as a sort or hash table) before writing to temporary disk files.\n"
    "        If this value is specified without units, it is taken as kilobytes.\n       </p>"
    "<p>Hash-based operations are generally more sensitive to memory availability.</p></dd>"
    '<dt id="GUC-SSL"><span class="term"><code class="varname">ssl</code> (<code class="type">boolean'
    "</code>)</span></dt><dd><p>Enables SSL connections. This parameter can only be set at start.</p></dd>"
    "</dl></div>"
    '<dl class="variablelist"><dt><span class="term">plain term</span></dt><dd><p>Not a parameter,'
    " so no entry is made of it here.</p></dd></dl>",
)

FUNCTIONS_PAGE = postgres_page(
    "9.8.\xa0Data Type Formatting Functions",
    '<table class="table"><tbody><tr><td class="func_table_entry"><p class="func_signature">'
    '<a id="id-1.5.8.14.4.2.2.1.1.1.1" class="indexterm"></a>\n'
    '<code class="function">to_char</code> ( <code class="type">timestamp</code>, <code class="type">'
    'text</code> ) → <code class="returnvalue">text</code></p><p class="func_signature">'
    '<code class="function">to_char</code> ( <code class="type">timestamp with time zone</code> )</p>'
    "<p>\n        Converts time stamp to string according to the given format.\n       </p><p>"
    "<code class=\"literal\">to_char(timestamp '2002-04-20 17:31:12.66', 'HH12:MI:SS')</code> → "
    '<code class="returnvalue">05:31:12</code></p></td></tr>'
    '<tr><td class="func_table_entry"><p class="func_signature"><code class="function">to_date</code>'
    ' ( <code class="type">text</code>, <code class="type">text</code> ) → <code class="returnvalue">'
    "date</code></p><p>Converts string to date according to the given format.</p></td></tr>"
    '<tr><td class="func_table_entry"><p class="func_signature"><code class="type">text</code>'
    ' <code class="literal">||</code> <code class="type">text</code></p><p>Concatenates the two'
    " strings given to it, one after the other.</p></td></tr></tbody></table>",
)

NODE_PAGE = """# File system

<!--introduced_in=v0.10.0-->

## Class: `fs.Dir`

A class representing a directory stream.

### `fs.mkdir(path[, options], callback)`

<!-- YAML
added: v0.1.8
changes:
  - version: v10.12.0
    description: The second argument can now be an `options` object with
                 `recursive` and `mode` properties.
-->

* `path` {string|Buffer|URL}
* `options` {Object|integer}
  * `recursive` {boolean} **Default:** `false`
* `callback` {Function}

Asynchronously creates a directory, as [`mkdir(2)`][] does, with the [mode][`fs.chmod()`]
given in `options`. The callback is given a possible exception.

```mjs
import { mkdir } from 'node:fs';
# not a heading
```

### `new fs.Dir(handle)`

Makes a directory stream out of a handle and a path, for the iterator.

### `fs.constants`

> Stability: 2 - Stable

```js
const { constants } = require('node:fs');
```

Returns an object containing commonly used constants for file system operations &amp; more.

### `fs.rmdir(path)`

#### `fs.rmdirSync(path)`

Removes the directory, synchronously &mdash; see <code>fs.rmdir</code> for the callback form.

[`fs.chmod()`]: #fschmodpath-mode-callback
[`mkdir(2)`]: http://man7.org/linux/man-pages/man2/mkdir.2.html
"""

PYTHON_PAGE = (
    '<html><body><div class="sphinxsidebar"><p>Table of Contents: os — Miscellaneous</p></div>'
    '<div class="body" role="main"><section id="module-os"><h1>os — Miscellaneous operating system'
    ' interfaces<a class="headerlink" href="#module-os">¶</a></h1>'
    '<dl class="py function"><dt class="sig sig-object py" id="os.makedirs"><span class="sig-prename'
    ' descclassname"><span class="pre">os.</span></span><span class="sig-name descname"><span'
    ' class="pre">makedirs</span></span>(<em class="sig-param">name</em>)<a class="headerlink"'
    ' href="#os.makedirs">¶</a></dt><dd><p id="index-28">Recursive directory creation function.  Like'
    ' <a class="reference internal" href="#os.mkdir"><code class="xref py py-func docutils literal'
    ' notranslate"><span class="pre">mkdir()</span></code></a>, but makes all\nintermediate-level'
    " directories needed to contain the leaf directory.</p><p>More.</p></dd></dl>"
    '<dl class="py class"><dt class="sig sig-object py" id="os.DirEntry"><em class="property">class'
    ' </em><span class="sig-name descname">DirEntry</span></dt><dd><div class="versionadded">New in'
    " 3.5.</div><p>Object yielded by scandir() to expose the file path and other file attributes of a"
    ' directory entry.</p><dl class="py method"><dt class="sig sig-object py" id="os.DirEntry.is_dir">'
    '<span class="sig-name descname">is_dir</span>()</dt><dd><p>Return True if this entry is a directory'
    " or a symbolic link pointing to a directory.</p></dd></dl></dd></dl>"
    '<dl class="std envvar"><dt id="envvar-PYTHONHOME">PYTHONHOME</dt><dd><p>Change the location of the'
    " standard Python libraries and more.</p></dd></dl>"
    '<dl class="py data"><dt class="sig sig-object py"><span class="sig-name">anonymous</span></dt><dd>'
    "<p>A data entry without an id gives no entry at all.</p></dd></dl>"
    "</section></div></body></html>"
)


# --- the entry rules ------------------------------------------------------------------------------


def test_config_entries_read_each_guc_and_the_first_paragraph_of_its_description() -> None:
    entries = config_entries("runtime-config-resource.html", CONFIG_PAGE.encode())
    assert [(e.name, e.page) for e in entries] == [
        ("work_mem", "runtime-config-resource.html"),
        ("ssl", "runtime-config-resource.html"),
    ]
    assert entries[0].paragraph.startswith(WORK_MEM)  # whitespace collapsed
    assert answer_span(entries[0].paragraph) == "Sets the base maximum amount of memory to be used by a"
    assert answer_span(entries[1].paragraph) == ""  # "Enables SSL connections." has 3 words


def test_function_entries_read_table_rows_named_by_their_first_signature() -> None:
    entries = function_entries("functions-formatting.html", FUNCTIONS_PAGE.encode())
    assert entries == [
        Entry("to_char", "Converts time stamp to string according to the given format.", entries[0].page),
        Entry("to_date", "Converts string to date according to the given format.", entries[0].page),
    ]  # an operator's row (no <code class="function">) gives none


def test_node_entries_read_the_first_prose_paragraph_after_an_api_heading() -> None:
    entries = node_entries("fs.md", NODE_PAGE.encode())
    assert entries == [
        Entry(
            "fs.mkdir",
            "Asynchronously creates a directory, as `mkdir(2)` does, with the mode given in `options`."
            " The callback is given a possible exception.",
            "fs.md",
        ),
        # past the stability note and the code block; the entity decoded
        Entry(
            "fs.constants",
            "Returns an object containing commonly used constants for file system operations & more.",
            "fs.md",
        ),
    ]
    # Not entries: a "Class:" heading, a constructor, a heading followed by another heading, and a
    # paragraph holding inline HTML.


def test_python_entries_read_documented_objects_with_an_id() -> None:
    entries = python_entries("os.html", PYTHON_PAGE.encode())
    assert [(e.name, e.paragraph) for e in entries] == [
        (
            "os.makedirs",
            "Recursive directory creation function. Like mkdir(), but makes all intermediate-level"
            " directories needed to contain the leaf directory.",
        ),
        (
            "os.DirEntry",
            "Object yielded by scandir() to expose the file path and other file attributes of a directory"
            " entry.",
        ),
        (
            "os.DirEntry.is_dir",
            "Return True if this entry is a directory or a symbolic link pointing to a directory.",
        ),
    ]


def test_answer_span_is_the_first_sentence_cut_to_twelve_words() -> None:
    assert answer_span("Return the running event loop in the current OS thread. Raise otherwise.") == (
        "Return the running event loop in the current OS thread."
    )
    # "e.g." does not end a sentence; a sentence ends before a capital, a digit, a bracket or a quote.
    assert answer_span("Resolves a host name (e.g. `'nodejs.org'`) into the first record. All else.") == (
        "Resolves a host name (e.g. `'nodejs.org'`) into the first record."
    )
    assert answer_span("Uses v1.2.3 as a default value here, always. `x` is next.") == (
        "Uses v1.2.3 as a default value here, always."
    )
    assert answer_span("one two three four five six seven eight nine ten eleven twelve thirteen.") == (
        "one two three four five six seven eight nine ten eleven twelve"
    )
    assert answer_span("Stop the event loop. It stops.") == ""


def test_plain_markdown_drops_what_a_reader_does_not_see() -> None:
    text = (
        '<!-- YAML\nadded: v1\n-->See [the guide](https://x.org/a_b "title") and [`fs.open()`][] or '
        "[mode][`fs.chmod()`] &amp; [`buf[i]`][].\n\n[`fs.open()`]: #fsopen\n"
    )
    assert " ".join(plain_markdown(text).split()) == "See the guide and `fs.open()` or mode & `buf[i]`."


def test_main_text_skips_navigation_and_tables_of_contents() -> None:
    text = main_text("runtime-config-resource.html", CONFIG_PAGE.encode())
    assert "Prev Up Next" not in text
    assert "20.4.1. Memory" not in text
    assert "Resource Consumption work_mem ( integer ) Sets the base maximum" in text
    python = main_text("os.html", PYTHON_PAGE.encode())
    assert python.startswith("os — Miscellaneous operating system interfaces ¶")  # the sidebar is out
    markdown = main_text("fs.md", NODE_PAGE.encode())
    assert "YAML" not in markdown
    assert "http://man7.org" not in markdown


# --- hits and questions ---------------------------------------------------------------------------


def test_a_hit_holds_the_whole_answer_however_it_is_spaced_or_punctuated() -> None:
    answer = "Like mkdir(), but makes all intermediate-level directories needed"
    assert holds_answer("Like mkdir() , but makes all intermediate-level directories needed to", answer)
    assert holds_answer("LIKE\nmkdir ( ) but makes all intermediate level¶ directories needed", answer)
    assert holds_answer("Like\xa0mkdir(), but makes all intermediate\u2011level directories needed", answer)
    assert not holds_answer("Like mkdir(), but makes all intermediate-level", answer)  # half of it
    assert not holds_answer("Like rmdir(), but makes all intermediate-level directories needed", answer)


def test_questions_take_unique_answers_in_fixed_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    def read(page: str, data: bytes) -> list[Entry]:
        return [
            Entry("alpha", "Alpha sets the size of every shared memory buffer in the pool.", page),
            Entry("beta", "Beta is short.", page),
            Entry("gamma", "Gamma sets the number of workers started for parallel queries.", page),
            Entry("gamma", "Gamma again, documented twice with another description here.", page),
            Entry("epsilon", "This sentence is on two pages, so it answers nothing alone.", page),
            Entry("zeta", "Zeta chooses the method used to force WAL updates out to the disk.", page),
            Entry("eta", "Eta is the port the server listens on for client connections.", page),
        ]

    question_set = QuestionSet(
        "test", "postgres", "ref-*.md", read, ("What does {} set?", "What is {}?", "{}")
    )
    data = {"ref-a.md": b"", "other.md": b""}
    texts = {
        "ref-a.md": "Alpha sets the size of every shared memory buffer in the pool. Gamma sets the number of"
        " workers started for parallel queries. This sentence is on two pages, so it answers nothing"
        " alone. Zeta chooses the method used to force WAL updates out to the disk. Eta is the port the"
        " server listens on for client connections.",
        "other.md": "This sentence is on two pages, so it answers nothing alone.",
    }
    alpha = ReferenceQuestion(
        "What does alpha set?", "Alpha sets the size of every shared memory buffer in the pool.", "ref-a.md"
    )
    zeta = ReferenceQuestion(
        "What is zeta?", "Zeta chooses the method used to force WAL updates out to the", "ref-a.md"
    )
    eta = ReferenceQuestion(
        "eta", "Eta is the port the server listens on for client connections.", "ref-a.md"
    )
    # Left out: beta (too short), gamma (documented twice), epsilon (its answer is on two pages).
    assert build_questions(question_set, data, texts) == [alpha, zeta, eta]
    monkeypatch.setattr(reference_questions, "QUESTIONS_PER_SET", 1)
    assert build_questions(question_set, data, texts) == [alpha]  # every 3rd, the first 1
    texts["ref-a.md"] += " Eta is the port the server listens on for client connections."
    monkeypatch.setattr(reference_questions, "QUESTIONS_PER_SET", 150)
    assert build_questions(question_set, data, texts) == [alpha, zeta]  # twice on one page: out


def test_config_questions_from_a_page() -> None:
    data = {"runtime-config-resource.html": CONFIG_PAGE.encode()}
    texts = {name: main_text(name, page) for name, page in data.items()}
    assert build_questions(POSTGRES_CONFIG, data, texts) == [
        ReferenceQuestion(
            "What does the work_mem setting control?",
            "Sets the base maximum amount of memory to be used by a",
            "runtime-config-resource.html",
        )
    ]


def test_select_pages_spreads_sources_and_distractors_and_skips_lists(tmp_path: Path) -> None:
    for name in ["functions-a", "functions-b", "functions-c", "functions-d", "index", "release-15"]:
        (tmp_path / f"{name}.html").write_text("x" * 5000)
    for name in ["alpha", "beta", "gamma", "delta"]:
        (tmp_path / f"{name}.html").write_text("y" * 5000)
    (tmp_path / "tiny.html").write_text("small")
    chosen = select_pages(tmp_path.glob("*.html"), ["functions-*.html"], source_pages=2, other_pages=2)
    assert [p.stem for p in chosen] == [
        "alpha",
        "delta",
        "functions-a",
        "functions-c",
    ]  # of alpha beta delta gamma
    everything = select_pages(tmp_path.glob("*.html"), ["functions-*.html"], source_pages=9, other_pages=9)
    assert [p.stem for p in everything] == sorted(
        ["functions-a", "functions-b", "functions-c", "functions-d", "alpha", "beta", "gamma", "delta"]
    )


# --- metrics, baseline and table ------------------------------------------------------------------

Q1 = ReferenceQuestion("q1", "the answer to the first question here", "a.html")
Q2 = ReferenceQuestion("q2", "the answer to the second question here", "b.html")


def found(page: str, text: str = "nothing to see") -> Found:
    return Found(page, text)


def test_answer_rank_and_reciprocal_rank_count_chunks_not_pages() -> None:
    ranking = [
        found("a.html"),
        found("a.html"),
        found("b.html", "so: The answer to the first question here!"),
    ]
    assert answer_rank(ranking, Q1.answer, 5) == 3
    assert answer_rank(ranking, Q1.answer, 2) is None
    assert reciprocal_rank(ranking, Q1.answer, 10) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranking, Q2.answer, 10) == 0.0
    assert reciprocal_rank([], Q1.answer, 10) == 0.0


def test_score_reports_answer_and_page_recall() -> None:
    rankings = [
        [found(f"x{i}.html") for i in range(5)] + [found("a.html", Q1.answer)],  # the answer 6th
        [found("b.html"), found("b.html", f"... {Q2.answer} ...")],  # its page 1st, its answer 2nd
    ]
    score = Score("test", "hybrid", [Q1, Q2], rankings, indexed=1.0)
    assert score.recall() == pytest.approx(1 / 2)
    assert score.recall(k=6) == 1.0
    assert score.mrr() == pytest.approx((1 / 6 + 1 / 2) / 2)
    assert score.page_recall() == pytest.approx(1 / 2)
    assert score.page_recall(k=6) == 1.0
    assert in_index([Q1, Q2], ["x", Q1.answer.upper(), "the answer to the second", "question here"]) == 0.5


def test_windows_are_200_words_that_do_not_overlap() -> None:
    text = " ".join(f"w{i}" for i in range(450))
    parts = windows(text)
    assert [len(p.split()) for p in parts] == [200, 200, 50]
    assert " ".join(parts) == text
    assert windows("") == []
    assert words("Sets work_mem (4MB), e.g. ORDER BY.") == [
        "sets",
        "work_mem",
        "4mb",
        "e",
        "g",
        "order",
        "by",
    ]


def test_baseline_ranks_windows_by_bm25_and_drops_windows_without_a_shared_word() -> None:
    texts = {
        "a.html": "apples and pears " * 100 + "the zebra crossing is striped",
        "b.html": "bananas grow in bunches " * 10,
        "c.html": "cherries are red " * 10,
        "d.html": "dates are sweet " * 10,
    }
    baseline = Baseline(texts)
    assert [w.page for w in baseline.windows] == ["a.html", "a.html", "b.html", "c.html", "d.html"]
    ranking = baseline.search("where is the zebra?")
    assert ranking[0] == Found("a.html", baseline.windows[1].text)
    assert all(w.page == "a.html" for w in ranking)
    assert baseline.search("kiwis") == []


def test_table_has_a_row_per_set_and_method_and_says_whether_hybrid_wins() -> None:
    def score(set_name: str, method: str, hits: int) -> Score:
        rankings = [[found("a.html", Q1.answer)], [found("b.html", Q2.answer)]][:hits]
        rankings += [[]] * (2 - hits)
        return Score(set_name, method, [Q1, Q2], rankings, indexed=1.0)

    scores = [score(name, m, 2) for name in ("one", "two") for m in ("dense", "sparse", "hybrid")]
    scores += [score("one", BASELINE, 1), score("two", BASELINE, 2)]
    assert hybrid_above_baseline(scores) == {"one": True, "two": False}
    table = result(scores, pages=3, chunks=40, timings=(1.0, 2.0, 3.0, 4.0))
    assert [row[:2] for row in table.rows] == [
        (f"{name} (2 q.)", method)
        for name in ("one", "two")
        for method in ("dense", "sparse", "hybrid", BASELINE)
    ]
    assert table.rows[3][2:] == (0.5, 0.5, 0.5, 1.0)
    assert all(len(row) == len(table.columns) for row in table.rows)
    assert any(
        "NOT above the BM25 baseline on every set (one 1.000 vs 0.500; two 1.000 vs 1.000)" in n
        for n in table.notes
    )


async def test_search_returns_chunks_with_their_pages(tmp_path: Path) -> None:
    embedder = Embedders(Settings(_env_file=None)).get(HASHING_MODEL)
    store = QdrantEdgeStore(tmp_path)
    chunks = {
        "a.html": [Chunk(index=0, text="work_mem sets the memory of a sort", token_count=8)],
        "b.html": [Chunk(index=0, text="port is where the server listens", token_count=7)],
    }
    try:
        await index_pages(store, "answers_test", embedder, chunks)
        question = ReferenceQuestion(
            "Where does the server listen?", "port is where the server listens", "b.html"
        )
        vectors = await embedder.embed([question.text])
        [ranking] = await search(store, "answers_test", [question], vectors, "sparse")
    finally:
        await store.close()
    assert ranking[0] == Found("b.html", "port is where the server listens")
    assert answer_rank(ranking, question.answer, 5) == 1
