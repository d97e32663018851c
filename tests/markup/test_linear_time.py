"""Linear time in the size of an answer: 4× the text takes less than 6× the time.

Python-Markdown splits a long block again at every rule or heading underline (quadratic:
24,000 '---' lines took 27 s) and SuperFences splices every fence back into the lines
(10,000 fences: 2.5 s); the parse now ends such blocks itself and takes fences out first.
Each pattern is timed through the parse and every writer (card HTML, Telegram spans and post
text, digest text), at n and 4n repetitions, as the best of three runs of the process's CPU
time: a ratio, not an absolute time, so a busy machine does not fail it.

Two tree steps were quadratic in the children of one element, which a field's 100,000
characters keep few (some 16,000 placeholders, 1,000 footnote references): an insert per
raw HTML or fence placeholder moved every later sibling (100,000 placeholders in one
paragraph: 1.5 s, 400,000: 20.7 s), a search and a remove per footnote back-link (1,000:
0.018 s, 10,000: 1.8 s). They are timed on their own, on one paragraph of n and 4n children.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from xml.etree.ElementTree import Element, SubElement

import markdown
import pytest
from markdown.extensions.footnotes import NBSP_PLACEHOLDER
from markdown.treeprocessors import Treeprocessor

from pipeline import markup
from pipeline.markup import GithubMarkdown
from pipeline.markup.github import FenceFormat
from pipeline.targets.digest.html import Urls
from pipeline.targets.digest.text import TextWriter
from pipeline.targets.telegram import text as tt

#: Pattern -> how many repetitions make the small size (the large one is 4×).
PATTERNS = {
    "---\n": 1500,
    "a\n---\n": 800,
    "a\n===\n": 800,
    "***\n": 1500,
    "- x\n": 1500,
    "1. x\n": 1500,
    "> x\n": 1500,
    "x  \n": 1500,
    "| a | b |\n|---|---|\n": 400,
    "`a` **b** $c$ ~~d~~ ": 600,
    "<b>x</b> <sub>i</sub> ": 600,
    "x a<b y ": 1500,  # a '<' that opens no HTML, hidden from the HTML block extractor
    "a<b\n\n<div>x</div>\n\n": 600,
    "https://example.org/x ": 600,
    "- [ ] x\n  - y\n": 200,
    "```\nx\n```\n": 800,
    "~~~py\nx\n~~~\ntext\n": 600,
    "- x\n\n  ```\n  y\n  ```\n": 500,
    "> ```\n> y\n> ```\n\n": 500,
}


def through_every_writer(text: str) -> None:
    root = markup.parse_markdown(text)
    markup.to_html(root, image_src=lambda src: None)
    tt.write(tt.answer_spans(root))
    TextWriter(Urls(None, Path("."))).answer(root)


def cpu_time(run: Callable[[], None]) -> float:
    """CPU time of ``run``, best of three, without the collector (its pauses grow with every
    live object of the test process, whatever the code under test does)."""
    best = float("inf")
    for _ in range(3):
        gc.collect()
        gc.disable()
        try:
            start = time.process_time()
            run()
            best = min(best, time.process_time() - start)
        finally:
            gc.enable()
    return max(best, 1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(("pattern", "n"), PATTERNS.items(), ids=[repr(p) for p in PATTERNS])
def test_four_times_the_answer_takes_less_than_six_times_as_long(pattern: str, n: int) -> None:
    small, large = pattern * n, pattern * (4 * n)
    assert len(large) <= markup.MAX_FIELD_CHARS
    ratio = cpu_time(lambda: through_every_writer(large)) / cpu_time(
        lambda: through_every_writer(small)
    )
    assert ratio < 6, f"{pattern!r}: 4× the text took {ratio:.1f}× the time"


def step_time(step: Treeprocessor, tree: Callable[[], Element]) -> float:
    """CPU time of ``step`` on a fresh ``tree()``, best of three, without the collector (its
    pauses grow with every live object, whatever the step does)."""
    best = float("inf")
    for _ in range(3):
        root = tree()
        gc.disable()
        try:
            start = time.process_time()
            step.run(root)
            best = min(best, time.process_time() - start)
        finally:
            gc.enable()
    return max(best, 1e-3)


def placeholders(n: int, placeholder: str) -> Element:
    """One paragraph of ``n`` children, a fence placeholder in each one's tail."""
    root = Element("div")
    p = SubElement(root, "p")
    for _ in range(n):
        SubElement(p, "em").tail = f" {placeholder} "
    return root


def back_links(n: int, placeholder: str) -> Element:
    """One paragraph of ``n`` footnote back-links, each after a word (a footnote referenced
    ``n`` times)."""
    root = Element("div")
    p = SubElement(root, "p")
    for _ in range(n):
        SubElement(p, "em").tail = "x" + NBSP_PLACEHOLDER
        SubElement(p, "a", {"class": "footnote-backref"}).tail = " "
    return root


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "tree", "n"),
    [("stash_elements", placeholders, 50_000), ("tasks_footnotes", back_links, 10_000)],
)
def test_tree_steps_take_linear_time_in_one_elements_children(
    name: str, tree: Callable[[int, str], Element], n: int
) -> None:
    fence = FenceFormat()
    md = markdown.Markdown(extensions=[GithubMarkdown(fence)])
    placeholder = fence("x", "")  # what GithubLists leaves for a fence
    step = md.treeprocessors[name]
    done = tree(n, placeholder)
    step.run(done)
    if name == "stash_elements":  # each placeholder became its code block
        assert [el.tag for el in done[0]] == ["em", "pre"] * n
    else:  # each back-link went, the word before it stayed
        assert [(el.tag, el.tail) for el in done[0]] == [("em", "x")] * n
    ratio = step_time(step, lambda: tree(4 * n, placeholder)) / step_time(
        step, lambda: tree(n, placeholder)
    )
    assert ratio < 6, f"{name}: 4× the children took {ratio:.1f}× the time"
