"""Code is text for the depth check: tags in fences, code spans and indented code nest nothing.

The check on a whole field (:func:`pipeline.markup.parse.parse_markdown`) read every ``<div>``
as a tag, so 101 code samples each holding an unclosed ``<div>`` were refused as "raw HTML
nested 101 levels deep". Raw HTML nested that deep outside code is still refused, located.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.build.run import check
from pipeline.errors import PipelineError
from pipeline.markup import MarkupLimitError, parse_markdown
from pipeline.markup.codetext import mask_code

SAMPLES = {
    "fences": "\n\n".join(["```html\n<div>\n```"] * 101),
    "one fence": "```\n" + "<div>\n" * 101 + "```",
    "tilde fence in a list": "- a\n\n  ~~~\n" + "  <div>\n" * 101 + "  ~~~",
    "unclosed fence": "text\n\n```\n" + "<details>\n" * 101,
    "code spans": "`<div>` " * 101,
    "code spans on lines": "\n".join(["Write `<div>` to open it."] * 101),
    "double-tick spans": "``<div>`` " * 101,
    "indented code": "text\n\n" + "    <div>\n" * 101,
}


@pytest.mark.parametrize("text", SAMPLES.values(), ids=SAMPLES.keys())
def test_tags_in_code_are_not_counted(text: str) -> None:
    root = parse_markdown(text)
    codes = [el.text or "" for el in root.iter("code")]
    assert sum(code.count("<div>") + code.count("<details>") for code in codes) == 101


def test_a_closing_tag_in_code_still_closes_for_the_check() -> None:
    """md_in_html's extractor reads the ``</details>`` in backticks as the element's end, so
    these are 101 details side by side: masking the code (101 open tags) must not refuse it."""
    root = parse_markdown("\n".join(["<details>x `</details>`"] * 101))
    assert [el.tag for el in root].count("details") == 101


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("<div>" * 101, 101),
        ("```\n<div>\n```\n\n" + "<div>" * 101, 101),  # code before it changes nothing
        ("`</div>` " * 50 + "\n\n" + "<div><span>" * 60, 120),  # a closing tag in code too
        ("<div>\n" + "\n".join(["<div> `<div>`"] * 100), 101),
    ],
    ids=["bare", "after a fence", "after code spans", "next to code spans"],
)
def test_deep_html_outside_code_is_still_refused(text: str, depth: int) -> None:
    with pytest.raises(MarkupLimitError, match=f"raw HTML nested {depth} levels deep"):
        parse_markdown(text)


def test_deep_html_outside_code_is_a_located_error(
    write_source: Callable[[str], Path],
) -> None:
    answer = "```\n" + "<div>\n" * 101 + "```\n\n" + "<div>" * 101
    source = write_source(
        "questions:\n  - id: x\n    question: Q?\n    grades: [junior]\n"
        f"    answer: {json.dumps(answer)}\n"
    )
    with pytest.raises(PipelineError) as caught:
        check(source)
    (problem,) = caught.value.problems
    assert problem.path == "questions[0].answer"
    assert problem.message == "raw HTML nested 101 levels deep; at most 100: flatten it"
    assert problem.pos is not None and (problem.pos.line, problem.pos.col) == (5, 13)


@pytest.mark.parametrize(
    "text",
    [
        "<div>\n<div>\n</div></div>",
        "a `b` <div>x</div>",
        "- a\n    <div>\n",  # a list item's continuation, not code
        "text\n    <div>",  # a paragraph's continuation, not code
        "<div>\n    <div>\n</div>",  # inside an HTML block, not code
        "\\`<div>\\`",  # escaped backticks open no code span
        "`unclosed <div>",
    ],
)
def test_the_mask_leaves_what_is_not_code(text: str) -> None:
    assert mask_code(text) == text


def test_the_mask_escapes_only_the_code() -> None:
    text = "<div>\n\n```\n<b>\n```\n\na `<i>` <u>\n\n    <s>\n"
    assert mask_code(text) == "<div>\n\n```\n&lt;b>\n```\n\na `&lt;i>` <u>\n\n    &lt;s>\n"
