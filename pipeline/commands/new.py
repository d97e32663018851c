"""``pipeline new``: append a question skeleton to the source with a fresh, never-used id.

The text is inserted right after the last question (the file's comments and layout are kept),
separated from it the way the file separates its questions (the blank lines between its last
two; one blank line when it has a single question), and the result is validated before the
file is replaced: the command never leaves a source that does not load.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from pipeline.build.write import write_file_atomic
from pipeline.errors import PipelineError, Problem
from pipeline.source.fields import SLUG
from pipeline.source.lockfile import used_ids
from pipeline.source.read import load_source

TEMPLATE = """\
- id: {id}
  question: TODO — вопрос?
  answer: |
    TODO — ответ в Markdown.
  grades: [{grades}]
  tags: []
"""


def append_question(source: Path, qid: str | None, grades: Sequence[str] | None) -> tuple[str, int]:
    """Insert the skeleton; return its id and 1-based line."""
    doc = load_source(source)
    items = doc.top("questions")
    if not isinstance(items, SequenceNode) or items.flow_style:
        raise PipelineError(
            [
                Problem(
                    doc.pos(items or doc.root),
                    "questions",
                    "expected a block list 'questions:' to append to",
                )
            ]
        )
    listed = [
        v.value
        for item in items.value
        if isinstance(item, MappingNode)
        for k, v in item.value
        if isinstance(k, ScalarNode) and k.value == "id" and isinstance(v, ScalarNode)
    ]
    taken = used_ids(source, listed)
    if qid is None:
        n = 1
        while f"new-question-{n}" in taken:
            n += 1
        qid = f"new-question-{n}"
    elif not re.fullmatch(SLUG, qid):
        raise PipelineError([Problem(None, "--id", f"expected a lowercase slug; got {qid!r}")])
    elif qid in taken:
        raise PipelineError(
            [
                Problem(
                    None,
                    "--id",
                    f"id '{qid}' is already used (ids are "
                    "never reused, even after a question is removed)",
                )
            ]
        )
    lines = doc.text.splitlines(keepends=True)
    if items.value:
        indent = items.value[0].start_mark.column - 2
        insert_at = _end_line(doc.text, items.end_mark.line, items.end_mark.column)
    else:  # 'questions: []' is flow style (refused above); an empty block list cannot exist
        indent, insert_at = 2, len(lines)
    block = TEMPLATE.format(id=qid, grades=", ".join(grades or ["junior"]))
    block = "".join(" " * max(indent, 0) + line for line in block.splitlines(keepends=True))
    blank = _blank_lines_between(doc.text, items)
    block = "\n" * blank + block
    if insert_at > 0 and not lines[insert_at - 1].endswith("\n"):
        lines[insert_at - 1] += "\n"
    lines[insert_at:insert_at] = [block]
    text = "".join(lines)
    _check_still_loads(source, text)
    write_file_atomic(source, text.encode("utf-8"))
    return qid, insert_at + blank + 1


def _end_line(text: str, line: int, column: int) -> int:
    """Index of the line after the block list ends (trailing blank/comment lines excluded)."""
    lines = text.splitlines()
    end = line if column == 0 else line + 1
    while end > 0 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def _blank_lines_between(text: str, items: SequenceNode) -> int:
    """How many blank lines the file puts between two questions: those right after the end of
    the second-to-last question (comments may follow them); 1 when there is no such pair."""
    if len(items.value) < 2:
        return 1
    lines = text.splitlines()
    last_start = items.value[-1].start_mark.line  # the line of its first key, after "- "
    end = _end_line(text, last_start, 0)  # the line after the previous question's content
    blank = 0
    while end + blank < last_start and not lines[end + blank].strip():
        blank += 1
    return blank


def _check_still_loads(source: Path, text: str) -> None:
    tmp = source.with_name(f".{source.name}.new")
    try:
        tmp.write_text(text, encoding="utf-8")
        load_source(tmp)
    finally:
        tmp.unlink(missing_ok=True)
