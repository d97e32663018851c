"""The text ``import-telegram`` writes: a new source file, or an existing bank with questions
appended.

:func:`new_file_text` writes a complete source (a header comment pointing at the schema, the
channel's name, the questions). :func:`open_bank` reads what an existing source already holds
(ids, question texts, ids the lock file keeps taken) without requiring it to validate;
:func:`merged_text` appends to its ``questions:`` list, keeping every other byte (comments,
layout, settings) and the existing items' indentation. Both check that every written value
reads back exactly as meant (:func:`pipeline.importer.yaml_writer.read_back`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from yaml import YAMLError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from pipeline import markup
from pipeline.errors import PipelineError, Problem, fail
from pipeline.importer.ids import normalise
from pipeline.importer.posts import Existing, ImportResult
from pipeline.importer.yaml_writer import Entry, inline_scalar, question_yaml, read_back
from pipeline.source.lockfile import used_ids
from pipeline.source.read import Document, load_source

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "questions.schema.json"

HEADER = """\
# yaml-language-server: $schema={schema}
#
# Imported from a Telegram Desktop export with `python -m pipeline import-telegram`.
# Review it, then check it with `python -m pipeline validate --source <this file>`.
# Format: README.md, "The source format".
"""


def schema_ref(out: Path) -> str:
    """The schema path relative to the new file, for the editor's YAML language server."""
    return Path(os.path.relpath(SCHEMA_FILE, out.resolve().parent)).as_posix()


def new_file_text(result: ImportResult, schema: str) -> str:
    """A complete new source: header comment, the channel's name, the questions."""
    parts = [HEADER.format(schema=schema)]
    if result.export.name:
        parts.append(f"\nchannel:\n  name: {inline_scalar(result.export.name)}\n")
    parts.append("\nquestions:\n")
    parts.append("\n".join(question_yaml(e) for e in result.entries))
    text = "".join(parts)
    _check_reads_back(text, result.entries, len(result.entries))
    return text


@dataclass(frozen=True, slots=True)
class Bank:
    """An existing source opened for merging (its text is kept byte for byte)."""

    document: Document
    items: SequenceNode
    existing: Existing


def open_bank(path: Path) -> Bank:
    """Read the ids and question texts of an existing source (it need not validate)."""
    doc = load_source(path)
    items = doc.top("questions")
    if not isinstance(items, SequenceNode) or (items.flow_style and items.value):
        raise fail(
            doc.pos(items or doc.root),
            "questions",
            "expected a block list 'questions:' with '- id: ...' items to append to",
        )
    ids: set[str] = set()
    texts: dict[str, str] = {}
    for index, item in enumerate(items.value):
        fields = (
            {k.value: v for k, v in item.value if isinstance(k, ScalarNode)}
            if isinstance(item, MappingNode)
            else {}
        )
        qid, question = fields.get("id"), fields.get("question")
        if isinstance(qid, ScalarNode):
            ids.add(qid.value)
        if isinstance(question, ScalarNode) and isinstance(qid, ScalarNode):
            try:
                texts.setdefault(normalise(question.value), qid.value)
            except markup.MarkupLimitError as exc:  # the bank would not validate either
                raise fail(doc.pos(question), f"questions[{index}].question", str(exc)) from None
    taken = frozenset(used_ids(path, sorted(ids)))
    return Bank(doc, items, Existing(frozenset(ids), texts, taken))


def merged_text(bank: Bank, entries: Sequence[Entry]) -> str:
    """The bank's text with ``entries`` appended to its questions list; every other byte
    (comments, layout, settings) stays as it was."""
    doc, items = bank.document, bank.items
    text = doc.text
    if not items.value:  # 'questions: []'
        start, end = items.start_mark.index, items.end_mark.index
        if text[end:].split("\n", 1)[0].strip():
            raise fail(
                doc.pos(items),
                "questions",
                "write 'questions:' on a line of its own to append to it",
            )
        blocks = "\n".join(question_yaml(e) for e in entries)
        merged = text[:start].rstrip(" ") + "\n" + blocks + text[end:].removeprefix("\n")
    else:
        dash, key_indent = _item_layout(doc, items)
        lines = text.splitlines(keepends=True)
        at = _insert_line(lines, items, dash)
        if at and not lines[at - 1].endswith("\n"):
            lines[at - 1] += "\n"
        blocks = "".join("\n" + question_yaml(e, dash, key_indent) for e in entries)
        lines[at:at] = [blocks]
        merged = "".join(lines)
    count = len(items.value) + len(entries)
    _check_reads_back(merged, entries, count)
    return merged


def _item_layout(doc: Document, items: SequenceNode) -> tuple[int, int]:
    """Columns of the existing items' dash and of their keys relative to it."""
    first = items.value[0]
    line = doc.line(first.start_mark.line + 1)
    prefix = line[: first.start_mark.column]
    dash = prefix.find("-")
    if dash < 0 or prefix[:dash].strip() or prefix[dash + 1 :].strip():
        return max(first.start_mark.column - 2, 0), 2
    return dash, first.start_mark.column - dash


def _insert_line(lines: list[str], items: SequenceNode, dash: int) -> int:
    """Index of the line after the list's last item. Blank lines and comments at or left of
    the dash after it belong to what follows, so the new questions go before them."""
    end = items.end_mark.line if items.end_mark.column == 0 else items.end_mark.line + 1
    end = min(end, len(lines))
    while end > 0:
        line = lines[end - 1]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if not stripped or (stripped.startswith("#") and indent <= dash):
            end -= 1
            continue
        break
    return end


def _check_reads_back(text: str, entries: Sequence[Entry], count: int) -> None:
    """Every written value must read back as meant; this guards the emitter, not the user."""
    problems = []
    try:
        questions = read_back(text)
    except YAMLError as exc:  # a value the emitter wrote wrongly: the same report, no traceback
        problems.append(f"the written YAML does not read back ({getattr(exc, 'problem', exc)})")
        questions = []
    if not problems and len(questions) != count:
        problems.append(f"expected {count} questions, read {len(questions)}")
    for entry, got in zip(entries, questions[len(questions) - len(entries) :], strict=False):
        meant = {
            "id": entry.id,
            "question": entry.question,
            "answer": entry.answer,
            "grades": entry.grades,
        }
        if entry.header is not None:
            meant["header"] = entry.header
        if entry.tags:
            meant["tags"] = entry.tags
        if entry.publish_at is not None:
            meant["publish_at"] = entry.publish_at
        if got != meant:
            problems.append(f"question '{entry.id}' would not read back exactly")
    if problems:
        raise PipelineError(
            [
                Problem(
                    None,
                    "import-telegram",
                    f"internal error: {p}; nothing was written (please report this export)",
                )
                for p in problems
            ]
        )
