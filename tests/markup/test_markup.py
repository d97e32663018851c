"""The one Markdown parse every output serialises: math, code, raw HTML, text order."""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element, tostring

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown.treeprocessors import Treeprocessor

from pipeline import markup
from pipeline.markup import parse_markdown, plain_text, to_html
from pipeline.markup.parse import Parser
from tests.support.examples import examples


def html(text: str) -> str:
    return to_html(parse_markdown(text), image_src=lambda src: f"media/{src}")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("$a_1 * b_2 \\\\ c$", "<p>\\(a_1 * b_2 \\\\ c\\)</p>"),
        ("$$\\sum_{i=1}^n x_i^2$$", "<p>\\[\\sum_{i=1}^n x_i^2\\]</p>"),
        ("цена $5 и $10", "<p>цена $5 и $10</p>"),
        ("один $ знак", "<p>один $ знак</p>"),
        ("\\$x$ не формула", "<p>$x$ не формула</p>"),
        ("`$HOME` и $x$", "<p><code>$HOME</code> и \\(x\\)</p>"),
        ("$x<y$ & z", "<p>\\(x&lt;y\\) &amp; z</p>"),
    ],
)
def test_math_is_taken_out_before_markdown_touches_it(source: str, expected: str) -> None:
    assert html(source) == expected


def test_code_text_is_plain_text_in_the_tree() -> None:
    tree = parse_markdown("`X <= 5 && a`\n\n    indented < &amp;\n\n```py\nfenced < &amp;\n```")
    codes = [el.text for el in tree.iter("code")]
    assert codes == ["X <= 5 && a", "indented < &amp;", "fenced < &amp;"]
    assert html("`a<b`") == "<p><code>a&lt;b</code></p>"


def test_fenced_blocks_keep_language_blank_lines_and_work_inside_lists() -> None:
    tree = parse_markdown("- item\n\n    ```python\n    a = 1\n\n    b = '__x__'\n    ```\n- next")
    pre = tree.find("./ul/li/pre/code")
    assert pre is not None and pre.get("class") == "language-python"
    assert pre.text == "a = 1\n\nb = '__x__'"
    unclosed = parse_markdown("```\nnever closed\n*not emphasis*")
    assert unclosed.find("./pre/code") is not None
    assert unclosed.find(".//em") is None


def test_raw_html_becomes_sanitised_tree_elements() -> None:
    tree = parse_markdown('a <b onclick="x()">bold</b> <a href="javascript:alert(1)">x</a>')
    assert tree.find(".//raw") is None
    bold, link = tree.find("./p/b"), tree.find("./p/a")
    assert bold is not None and bold.text == "bold" and not bold.attrib
    assert link is not None and link.text == "x" and "href" not in link.attrib
    out = html(
        'a <b onclick="x()">bold</b> <script>alert(1)</script>\n\n'
        '<div onmouseover="x">block</div>\n\n[l](javascript:alert(1))'
    )
    assert "onclick" not in out and "script" not in out and "onmouseover" not in out
    assert "javascript" not in out
    assert "<b>bold</b>" in out and "<div><p>block</p></div>" in out  # read as Markdown


def test_plain_text_reads_in_document_order() -> None:
    tree = parse_markdown("**&lt;**a and ![схема](x.png) `c<d`")
    assert plain_text(tree) == "<a and схема c<d"


def test_tree_has_no_placeholders_left() -> None:
    tree = parse_markdown("x <i>a</i> `b` &copy; <!-- c -->\n\n```\nd\n```\n\n<div>e</div>")
    assert "\x02" not in tostring(tree, encoding="unicode")


def test_raw_html_images_are_images_of_the_tree() -> None:
    tree = parse_markdown(
        '<img src="img/x.png" width="300" onerror="x()"> <img src="https://e.org/p.png" alt="b">'
        ' <img src="javascript:alert(1)" alt="c"> <img src="data:image/png;base64,AA" alt="d">'
    )
    images = [dict(el.attrib) for el in markup.iter_images(tree)]
    assert images == [
        {"src": "img/x.png", "width": "300"},
        {"src": "https://e.org/p.png", "alt": "b"},
        {"alt": "c"},
        {"alt": "d"},
    ]


# --- plain one-line text skips the parser --------------------------------------------------

LETTERS = st.characters(categories=["L"]) | st.sampled_from("abcxyzАБВабвёЁ")
PLAIN_CHARS = LETTERS | st.sampled_from("0123456789 .,?:;!'\"()«»—–%/…№-")
#: Characters and snippets with which one of Markdown's rules may start to matter.
NEAR_MISSES = st.sampled_from(
    [
        *"*_`[]<>&$|~\\#=+{}^@!\t\n\r\x02\x03\u00a0\u2028\u0301٣²½",
        *("  ", "1. ", "- ", "> ", "# ", "*a*", "_a_", "`c`", "$x$", "$$x$$", "~~s~~", "a|b"),
        *("[l](u)", "![i](p.png)", "<b>", "&amp;", "&#36;", "\\*", "<http://e.org/>", "  \n"),
        *("\n\n", "\n---", "\n===", "\n    x", "\n- x", "\n1. x", "\n| a |\n|---|"),
    ]
)
#: Plain text with near misses: one in the middle of a title, or any mix from the start.
NEAR_PLAIN = st.one_of(
    st.tuples(
        LETTERS, st.text(PLAIN_CHARS, max_size=20), NEAR_MISSES, st.text(PLAIN_CHARS, max_size=20)
    ).map("".join),
    st.lists(PLAIN_CHARS | NEAR_MISSES, max_size=12).map("".join),
)


def tree_shape(el: Element) -> Any:
    """Everything a writer can see of a tree, with the types of the texts."""
    return (
        el.tag,
        dict(el.attrib),
        type(el.text),
        el.text,
        type(el.tail),
        el.tail,
        [tree_shape(child) for child in el],
    )


def parsed_by_the_parser(text: str) -> Element:
    """The full parse, which :func:`parse_markdown` skips for plain text."""
    return Parser().parse(text)


def assert_same_tree(text: str) -> None:
    fast, full = parse_markdown(text), parsed_by_the_parser(text)
    assert tostring(fast, encoding="unicode") == tostring(full, encoding="unicode"), text
    assert tree_shape(fast) == tree_shape(full), text


@settings(max_examples=examples(400), deadline=None)
@given(st.tuples(LETTERS, st.text(PLAIN_CHARS, max_size=60)).map("".join))
@example("A://")  # found by hypothesis: plain characters, but MagicLink's
def test_plain_text_gets_the_parsers_tree_without_the_parser(text: str) -> None:
    # A trailing space is a line break; a URL (MagicLink: "A://", "www.x") becomes a link.
    linkable = re.search(r"://|www\.|ftp\.", text, re.I) is not None
    assert markup.is_plain_text(text) == (not text.endswith(" ") and not linkable)
    assert_same_tree(text)


@settings(max_examples=examples(600), deadline=None)
@given(NEAR_PLAIN)
def test_near_plain_text_parses_as_the_parser_does(text: str) -> None:
    assert_same_tree(text)


@pytest.mark.parametrize(
    "title",
    [
        "Как изменится ROC-AUC, если к вероятностям применить логарифм?",
        "Как работает KNN (k-ближайших соседей, или k-nearest neighbors)?",
        "В чём разница между L1- и L2-регуляризациями?",
        "Что такое «утечка данных» — и как её найти: 3 примера…",
    ],
)
def test_typical_titles_take_the_fast_path(title: str) -> None:
    assert markup.is_plain_text(title)
    assert_same_tree(title)


@pytest.mark.parametrize(
    "text",
    ["1. пункт", "Вопрос  ", " Вопрос", "Что такое `x`?", "a*b*", "a $x$", "a\nb", "x & y"],
)
def test_markdown_never_takes_the_fast_path(text: str) -> None:
    assert not markup.is_plain_text(text)


def test_markdown_inside_details_is_read_and_no_tag_keeps_foreign_attributes() -> None:
    tree = parse_markdown(
        '<details open onclick="x()"><summary>Ответ</summary>\n\nСкрытый *текст*\n\n- a\n- b\n\n'
        '<div markdown="1" onclick="y()">**raw**</div>\n\n</details>'
    )
    details = tree.find("./details")
    assert details is not None and not details.attrib
    assert [child.tag for child in details] == ["summary", "p", "ul", "div"]
    assert details.find("./p/em") is not None  # Markdown inside was parsed
    inner = details.find("./div")
    assert inner is not None and not inner.attrib  # a container: read as Markdown, no onclick
    assert inner.find("./p/strong") is not None
    assert all(set(el.attrib) <= markup.TREE_ATTRIBUTES.get(el.tag, set()) for el in tree.iter())


def test_fenced_code_keeps_what_looks_like_markup() -> None:
    tree = parse_markdown('```html\n<details markdown="1"><b>x</b> & y\n```')
    code = tree.find("./pre/code")
    assert code is not None and code.text == '<details markdown="1"><b>x</b> & y'


@pytest.mark.parametrize(
    "html_block",
    [
        '<div>\n<iframe src="https://evil.example/"></iframe>\n</div>',
        "<div><script>alert(1)</script><style>body{}</style>\n\n<form><input>x</form></div>",
        "<details><summary>s</summary>\n\n<object data=x></object>\n<embed src=x>\n</details>",
        '<section>\n<svg onload="alert(1)"><circle r="5"/></svg>\n</section>',
    ],
)
def test_containers_read_as_markdown_cannot_smuggle_active_tags(html_block: str) -> None:
    """md_in_html makes elements of block HTML inside a container, bypassing the sanitiser:
    the tree's vocabulary check drops what the sanitiser would."""
    tree = parse_markdown(html_block)
    assert all(el.tag in markup.TREE_TAGS for el in tree.iter())
    out = html(html_block)
    for needle in ("iframe", "script", "alert", "style", "form", "object", "embed", "svg"):
        assert needle not in out, (needle, out)


@pytest.mark.parametrize(
    ("source", "codes"),
    [
        ("a\n\n  ```\nb\n```\n\n~~~\n```\n~~~", ["b", "```"]),  # closing fence less indented
        ("-\n\n> ~~~\n> x\n> ~~~", ["x"]),  # a quote right after an empty list item
        ("text\n  ```\n  code\n    more\n  ```", ["code\n  more"]),  # relative indentation kept
    ],
)
def test_fences_indented_as_commonmark_allows_are_code_blocks(
    source: str, codes: list[str]
) -> None:
    tree = parse_markdown(source)
    assert [code.text for code in tree.iter("code")] == codes
    assert tree.find(".//p/pre") is None  # never a code block inside a paragraph


class _LastTree(Treeprocessor):
    """Keeps the tree ``convert`` serialises (registered after every other tree processor)."""

    root: Element | None = None

    def run(self, root: Element) -> None:
        self.root = root


@pytest.mark.parametrize(
    "text",
    [
        "Вопрос с `кодом` и $x_1$",
        "- a\n  - b\n\n1) c\n\n```py\nx = 1\n```\n\n> ~~~\n> q\n> ~~~",
        "<details><summary>s</summary>\n\n- [x] done\n\n</details>\n\nnote[^1]\n\n[^1]: n",
        '| a | b |\n|---|:-:|\n| <b>1</b> | <img src="x.png" width="3"> |\n\nhttps://e.org',
    ],
)
def test_the_parser_runs_the_stages_of_convert(text: str) -> None:
    """:meth:`Parser.parse` runs Python-Markdown's ``convert`` stages up to the tree, from the
    Markdown instance's public attributes (``convert`` would also serialise the tree and run
    the postprocessors: 5% slower on the public bank). If the library changes those stages,
    the two trees differ here."""
    parser = Parser()
    probe = _LastTree(parser.md)
    parser.md.treeprocessors.register(probe, "last_tree", -1_000)
    parser.md.reset()
    parser.md.convert(text)
    assert probe.root is not None
    for el in probe.root.iter():  # as Parser.parse leaves them
        if el.tag in ("pre", "math"):
            el.attrib.pop("block", None)
    converted = tostring(probe.root, encoding="unicode")
    assert converted == tostring(parser.parse(text), encoding="unicode")
