"""Linear time in the size of an answer: 4× the text takes less than 6× the time.

Python-Markdown splits a long block again at every rule or heading underline (quadratic:
24,000 '---' lines took 27 s) and SuperFences splices every fence back into the lines
(10,000 fences: 2.5 s); the parse now ends such blocks itself and takes fences out first.
Each pattern is timed through the parse and every writer (card HTML, Telegram spans and post
text, digest text), at n and 4n repetitions, as the best of three runs of the process's CPU
time: a ratio, not an absolute time, so a busy machine does not fail it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline import markup
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
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
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
