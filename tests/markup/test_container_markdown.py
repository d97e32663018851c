"""Markdown inside ``<details>``, ``<div>`` and other containers, and nowhere else.

The containers' content is read as Markdown by marking them for md_in_html. The mark was once
written into the text wherever ``<div`` stood, so a code span, an indented code block or a
``<`` that opens no tag showed ``<div markdown="1">``: text the editor never wrote. Now the
HTML block extractor marks the tags it reads as block openers, and nothing else.

An element md_in_html made was also lost when its placeholder did not start a block of its
own: ``<tr><td>1</td></tr>ab<details>x y`` (a container after text that follows an HTML
block's closing tag) or ``<details>`` indented by 1-3 spaces kept nothing of it.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

import pytest

from pipeline.markup import parse_markdown, plain_text


def tags(root: Element) -> list[str]:
    return [el.tag for el in root]


def code_texts(root: Element) -> list[str]:
    return [el.text or "" for el in root.iter("code")]


def words(el: Element) -> list[str]:
    """The words of the tree in document order, block by block."""
    found = (el.text or "").split()
    for child in el:
        found += words(child) + (child.tail or "").split()
    return found


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("`<div>`", ["<div>"]),
        ("a `<details>` and `<p>` b", ["<details>", "<p>"]),
        ('`<div markdown="1">`', ['<div markdown="1">']),  # as written, not emptied
        ("text\n\n    <div>\n    <section>\n\nafter", ["<div>\n<section>"]),
        ("```html\n<div>\n<details>\n```", ["<div>\n<details>"]),
        ("- item\n\n    ```\n    <div>\n    ```", ["<div>"]),
        ("<details>\n<summary>s</summary>\n\n`<div>` x\n\n</details>", ["<div>"]),
        ("<div>\n\n    <div>\n\n</div>", ["<div>"]),
    ],
    ids=[
        "code span",
        "code spans in text",
        "an attribute in a code span",
        "indented code",
        "fence",
        "fence in a list",
        "code span in details",
        "indented code in a div",
    ],
)
def test_code_shows_its_tags_as_written(text: str, code: list[str]) -> None:
    root = parse_markdown(text)
    assert code_texts(root) == code
    assert plain_text(root).count("markdown") == text.count("markdown")


def test_a_less_than_that_opens_no_tag_stays_as_written() -> None:
    root = parse_markdown("a <div x<y>")
    assert plain_text(root) == "a <div x"  # <y> is an (unknown) inline tag, as on GitHub
    assert tags(root) == ["p"]


def test_an_inline_container_tag_is_unchanged() -> None:
    root = parse_markdown("see <div>inline</div> here")
    assert "markdown" not in plain_text(root)
    assert words(root) == ["see", "inline", "here"]


def test_details_still_reads_markdown_inside() -> None:
    root = parse_markdown(
        "<details>\n<summary>S</summary>\n\n- a\n- b\n\n```\ncode\n```\n\n</details>"
    )
    (details,) = root
    assert tags(details) == ["summary", "ul", "pre"]
    assert [li.text for li in details[1]] == ["a", "b"]
    assert code_texts(details) == ["code"]


@pytest.mark.parametrize("tag", ["div", "section", "article", "aside", "center", "blockquote"])
def test_containers_still_read_markdown_inside(tag: str) -> None:
    root = parse_markdown(f"<{tag}>\n\n*em* and **strong**\n\n</{tag}>")
    inner = root[0] if tag in ("div", "blockquote") else root  # the others are unwrapped
    paragraph = next(inner.iter("p"))
    assert tags(paragraph) == ["em", "strong"]


def test_an_authors_markdown_attribute_changes_nothing() -> None:
    """Containers are read as Markdown and other tags are not, whatever the author marks."""
    assert tags(parse_markdown('<div markdown="0">\n\n*em*\n\n</div>')[0][0]) == ["em"]
    table = parse_markdown('<table markdown="1"><tr><td>*x*</td></tr></table>')
    assert not list(table.iter("em"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<tr><td>1</td></tr>ab<details>x y", ["1", "ab", "x", "y"]),
        ("<hr>ab<details>x y</details>", ["ab", "x", "y"]),
        ("<!-- c -->ab<details>x y", ["ab", "x", "y"]),
        ("   <details>\nx y\n</details>", ["x", "y"]),
        ("text\n   <details>\nx y\n</details>", ["text", "x", "y"]),
    ],
    ids=["after a row", "after a rule", "after a comment", "indented", "indented after text"],
)
def test_a_container_after_text_keeps_its_words(text: str, expected: list[str]) -> None:
    root = parse_markdown(text)
    assert words(root) == expected
    assert "details" in [el.tag for el in root.iter()]


def test_a_container_after_text_still_reads_markdown_inside() -> None:
    root = parse_markdown("<tr><td>1</td></tr>ab<details>x y\n\n- a\n- b\n\n</details>")
    (details,) = root.iter("details")
    assert [li.text for li in details.iter("li")] == ["a", "b"]
    assert words(root) == ["1", "ab", "x", "y", "a", "b"]


@pytest.mark.parametrize(
    ("text", "outer"),
    [("<hr>> <details>x y", "blockquote"), ("<hr>- <details>x y", "ul")],
    ids=["in a quote", "in a list item"],
)
def test_a_container_after_a_quote_or_list_marker_stays_inside(text: str, outer: str) -> None:
    """After ``> `` or ``- `` the element starts a block in the quote or item already."""
    root = parse_markdown(text)
    assert tags(root) == ["hr", outer]
    assert "details" in [el.tag for el in root[1].iter()]
    assert words(root) == ["x", "y"]


@pytest.mark.parametrize(
    ("text", "outer", "expected"),
    [
        ("<hr>> ab<details>x y", "blockquote", ["ab", "x", "y"]),
        ("<hr>- ab<details>x y\n\n    more", "ul", ["ab", "x", "y", "more"]),
        ("<hr>> - ab<details>x y", "blockquote", ["ab", "x", "y"]),
    ],
    ids=["in a quote", "in a list item", "in a quoted list item"],
)
def test_a_container_after_text_in_a_quote_or_item_stays_inside(
    text: str, outer: str, expected: list[str]
) -> None:
    """The text before it ends its paragraph; the quote or item goes on with the element."""
    root = parse_markdown(text)
    assert tags(root) == ["hr", outer]
    assert "details" in [el.tag for el in root[1].iter()]
    assert words(root) == expected
