"""A ``<`` that opens no HTML is text, for the HTML block extractor and the depth check too.

Two readers took the ``<b`` of ``a<b`` for a tag: Python-Markdown's HTML block extractor
(built on ``html.parser``) ran it through the blank lines to the next ``>``, so a ``<div>``
block further down became inline HTML inside a paragraph; and the depth check on the whole
field (nh3) read ``a<b <br>`` as two open tags holding the rest of the field, so an answer
saying that 60 times was refused as "raw HTML nested 120 levels deep". CommonMark reads such
a ``<`` as text, and so do both now; what opens HTML (tags, comments, autolinks) still does.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

import pytest

from pipeline.markup import MarkupLimitError, parse_markdown, plain_text
from pipeline.markup.angles import STRAY, stray_angles

DIV = "<div><p>raw <i>html</i></p><ul><li>one</li><li>two</li></ul></div>"
#: Found by Hypothesis (tests/targets/telegram/test_telegram_property.py), said 60 times.
FOUND = f"слово\n\n{DIV}\n\na<b <br> a<b"


def tags(root: Element) -> list[str]:
    return [el.tag for el in root]


def leaked(root: Element) -> list[str]:
    """Every text, tail or attribute of the tree that still holds the hidden character."""
    found = []
    for el in root.iter():
        values = [el.text, el.tail, *el.attrib.keys(), *el.attrib.values()]
        found += [v for v in values if v and STRAY in v]
    return found


def test_a_stray_less_than_does_not_swallow_a_later_html_block() -> None:
    root = parse_markdown(f"a<b\n\nслово\n\n{DIV}")
    assert tags(root) == ["p", "p", "div"]
    assert root[0].text == "a<b"
    assert tags(root[2]) == ["p", "ul"]


def test_the_answer_hypothesis_found_reads_its_html_block_as_a_block() -> None:
    root = parse_markdown(FOUND + "\n\n" + FOUND)
    assert tags(root) == ["p", "div", "p", "p", "div", "p"]
    assert plain_text(root[2]).split() == ["a<b", "a<b"]


def test_sixty_times_the_answer_is_not_refused_as_too_deep() -> None:
    root = parse_markdown("\n\n".join([FOUND] * 60))
    assert tags(root).count("div") == 60
    assert max(depth(el) for el in root) == 3  # div > ul > li


def test_the_depth_check_before_parsing_reads_a_stray_less_than_as_text() -> None:
    """The check on the whole field (:func:`pipeline.markup.parse.parse_markdown`) read
    each ``a<b`` as a ``<b>`` holding the rest: 101 of them were 101 levels."""
    root = parse_markdown("\n\n".join(["a<b\n\n<div>x</div>"] * 101))
    assert tags(root) == ["p", "div"] * 101


def test_html_nested_too_deep_is_still_refused() -> None:
    with pytest.raises(MarkupLimitError, match="raw HTML nested 120 levels deep"):
        parse_markdown("a<b\n\n" + "<div><span>" * 60)


def depth(el: Element) -> int:
    return 1 + max((depth(child) for child in el), default=0)


@pytest.mark.parametrize(
    ("before", "text"),
    [
        ("a</b", "a</b"),
        ("x<y and y<z", "x<y and y<z"),
        ("`x a<b y`", "x a<b y"),  # code span
        ("    a<b c", "a<b c"),  # indented code
        ("$a<b$", "a<b"),  # math
        ("> a<b", "a<b"),
        ("- a<b", "a<b"),
        ("**a<b**", "a<b"),
        ("[a<b](https://example.org/x)", "a<b"),
        ("| a<b | c |\n|---|---|\n| d | e |", "a<b"),
        ("<details><summary>s</summary>\n\na<b\n\n</details>", "a<b"),
        ("a <ul x<y", "a <ul x<y"),  # a block tag's name, but not at a line's start
    ],
)
def test_a_stray_less_than_anywhere_keeps_its_text_and_the_block_after_it(
    before: str, text: str
) -> None:
    root = parse_markdown(f"{before}\n\nслово\n\n{DIV}")
    assert text in plain_text(root)
    assert tags(root)[-2:] == ["p", "div"]
    assert leaked(root) == []


def test_a_stray_less_than_inside_an_html_block_does_not_hide_its_end() -> None:
    root = parse_markdown("<div>\na<b c\n</div>\n\nслово")
    assert tags(root) == ["div", "p"]
    assert root[1].text == "слово"
    assert leaked(root) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a <b>x</b> c", "b"),
        ("a <b\nclass='x'>x</b> c", "b"),  # a tag may span one line ending
        ("a <sub title='x'>i</sub>", "sub"),
        ("a <https://example.org/x> c", "a"),
        ("a <br/> c", "br"),
    ],
)
def test_what_opens_html_still_does(source: str, expected: str) -> None:
    assert [el.tag for el in parse_markdown(source)[0]] == [expected]


@pytest.mark.parametrize(
    ("text", "stray"),
    [
        ("a<b", [1]),
        ("a<b c", [1]),
        ("a</b", [1]),
        ("a<b <br> a<b", [1, 10]),
        ("<b\n\nx>", [0]),  # no tag crosses a blank line
        ("a<b c='\n\n'>", [1]),
        ("a<b>", []),
        ("a</b >", []),
        ("a<b\nc>", []),  # one line ending is whitespace
        ("a<b c=d e='f' g=\"h\" i/>", []),
        ("a<1 a< b a<= a<<", []),  # not a letter: html.parser reads text too
        ("<!-- c", []),
        ("<?x", []),
        ("<!DOCTYPE", []),
        ("a<https://example.org/?q=1>", []),
        ("a<user@example.org>", []),
        ("a<https://example.org/a b>", [1]),
        ("<div <p>", []),  # starts an HTML block, as CommonMark's block rule says
        ("   </table", []),
        ("    <div <p>", [4]),  # indented code, not a block
        ("a <div <p>", [2]),
    ],
)
def test_which_less_than_signs_are_stray(text: str, stray: list[int]) -> None:
    assert stray_angles(text, {"div", "p", "table"}) == stray
