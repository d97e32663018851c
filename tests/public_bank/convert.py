"""Convert alexeygrigorev/data-science-interviews into one question bank in our source format.

The public repository (CC BY 4.0, see ``LICENSE-AND-ATTRIBUTION.md`` next to the output) keeps
its questions in two Markdown files: ``theory.md`` (one bold line per question, then the answer)
and ``technical.md`` (numbered coding tasks: ``**3) Mean**. Compute the mean...``, then
examples, images and code). This script turns both into one ``questions.yaml`` so the test
suite can check that the pipeline accepts what people actually write.

Rules (deterministic: a rerun on the same input gives the same bytes):

- A question starts at a line that is bold as a whole (``**What is X? 👶**``, theory.md) or
  that starts with a bold number (``**1)** ...``, ``**1) FizzBuzz.** ...``, technical.md),
  outside fenced code. Its text is that paragraph as written (trailing spaces dropped; a line
  that is bold as a whole loses only its outer ``**``).
- The answer is every line after it, up to the next question or ``#`` heading, exactly as
  written. Only the blank lines and ``<br/>`` separators between questions are left out.
  Text between a heading and the section's first question (the SQL schema intro) belongs to
  no question and is reported, not kept.
- A question whose answer is empty or only ``Answer here`` is skipped.
- ``id``: slug (ASCII, ``[a-z0-9-]``) of the task's bold title when it has one
  (``**1) FizzBuzz.** Print...`` -> ``fizzbuzz``), else of the whole question text (task
  number dropped), cut at a word boundary to at most 60 characters; ``-2``, ``-3``... when
  taken.
- ``grades``: see :data:`MARKER_GRADES` and :data:`SECTION_GRADES`.
- ``tags``: the slug of the ``##`` section heading.

Answers are written as ``|`` literal block scalars (indentation indicator only when the first
line starts with a space), so the YAML holds the Markdown byte for byte; the script reads its
own output back and stops if any question or answer would not round-trip.

Usage (defaults: the committed copies and the committed bank)::

    python tests/public_bank/convert.py [--theory FILE] [--technical FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "public" / "data-science-interviews"
SOURCE_REPO = "https://github.com/alexeygrigorev/data-science-interviews"

#: Grades. theory.md marks every question with the author's own legend ("👶 easy ⭐️ medium
#: 🚀 expert"), which maps one to one onto our grades; a question with two markers (⭐️🚀)
#: gets both. The marker stays in the question text, as written.
MARKER_GRADES: dict[str, str] = {"👶": "junior", "⭐": "middle", "🚀": "senior"}

#: technical.md has no legend, so its sections decide: the SQL queries (counts, GROUP BY,
#: one subquery for CTR/CVR) and the Python warm-ups (FizzBuzz, mean, Counter) are junior
#: screening tasks; the algorithmic section (two pointers, recursion, BST check, Kadane)
#: is middle. A question with neither a marker nor a section listed here stops the script.
SECTION_GRADES: dict[str, str] = {
    "SQL": "junior",
    "Coding (Python)": "junior",
    "Algorithmic Questions": "middle",
}

GRADE_ORDER = ("junior", "middle", "senior")
MAX_ID = 60

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*$")
_WHOLE_BOLD = re.compile(r"^\*\*((?:(?!\*\*).)+)\*\*[ \t]*$")
_NUMBERED_BOLD = re.compile(r"^\*\*\d+\)")
_BLOCK_START = re.compile(r"^ {0,3}(?:[*+-][ \t]|\d+[.)][ \t]|[<>|#]|```|~~~)")
_SEPARATOR = re.compile(r"^[ \t]*(?:<br[ \t]*/?>)?[ \t]*$")
_NUMBER = re.compile(r"^\*\*\d+\)(?:\*\*)?")
_TITLE = re.compile(r"^\*\*\d+\)\s*([^*]*\w[^*]*)\*\*")
_LOCAL_IMAGE = re.compile(r"""(?:!\[[^\]]*\]\(|<img\s[^>]*?src=["'])(?!https?:)([^)"'\s]+)""")


@dataclass(frozen=True)
class Entry:
    """One question as found in a Markdown file."""

    file: str
    line: int
    section: str
    question: str
    answer: str


@dataclass(frozen=True)
class Question:
    """One question ready for the YAML: an :class:`Entry` with its id, grades and tags."""

    entry: Entry
    id: str
    grades: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Result:
    """The generated YAML text and what went into it."""

    text: str
    questions: tuple[Question, ...]
    skipped: tuple[Entry, ...]
    dropped: tuple[str, ...]  # "file:first-last (section)" of text outside any question


def is_question_start(line: str) -> bool:
    return bool(_WHOLE_BOLD.match(line) or _NUMBERED_BOLD.match(line))


def parse(name: str, text: str) -> tuple[list[Entry], list[str]]:
    """Questions of one Markdown file, and the places of text that belongs to none."""
    lines = text.split("\n")
    entries: list[Entry] = []
    dropped: list[str] = []
    section = ""
    fence = ""  # the opening fence while inside fenced code
    i = 0
    loose: list[int] = []  # line numbers of text before a section's first question

    def flush_loose() -> None:
        if loose:
            dropped.append(f"{name}:{loose[0]}-{loose[-1]} ({section or 'preamble'})")
            loose.clear()

    while i < len(lines):
        line = lines[i]
        heading = _HEADING.match(line)
        if heading:
            flush_loose()
            section = heading.group(2) if len(heading.group(1)) == 2 else ""
            i += 1
            continue
        if not is_question_start(line):
            if not _SEPARATOR.match(line):
                loose.append(i + 1)
            i += 1
            continue
        flush_loose()
        if not section:
            raise SystemExit(f"{name}:{i + 1}: a question outside any '## ' section")
        start = i
        question = [line.rstrip()]
        i += 1
        while i < len(lines) and lines[i].strip() and not _BLOCK_START.match(lines[i]):
            if is_question_start(lines[i]):
                break
            question.append(lines[i].rstrip())
            i += 1
        body: list[str] = []
        while i < len(lines):
            line = lines[i]
            if fence:
                if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(
                    fence[0]
                ):
                    fence = ""
            elif (match := _FENCE.match(line)) is not None:
                fence = match.group(1)
            elif is_question_start(line) or _HEADING.match(line):
                break
            body.append(line)
            i += 1
        while body and _SEPARATOR.match(body[-1]):
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        text_q = "\n".join(question)
        whole = _WHOLE_BOLD.match(text_q)
        if whole:
            text_q = whole.group(1)
        answer = "\n".join(body) + "\n" if body else ""
        entries.append(Entry(name, start + 1, section, text_q, answer))
    flush_loose()
    return entries, dropped


def slug(text: str) -> str:
    """``What’s the normal distribution? 👶`` -> ``whats-the-normal-distribution``."""
    text = _NUMBER.sub("", text).replace("**", "").replace("`", "")
    text = text.replace("'", "").replace("’", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def make_id(question: str, taken: set[str]) -> str:
    title = _TITLE.match(question)
    base = slug(title.group(1) if title else question)
    if len(base) > MAX_ID:
        cut = base[: MAX_ID + 1]
        base = cut[: cut.rfind("-")] if "-" in cut else base[:MAX_ID]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def grades_of(entry: Entry) -> tuple[str, ...]:
    found = {grade for mark, grade in MARKER_GRADES.items() if mark in entry.question}
    if not found and entry.section in SECTION_GRADES:
        found = {SECTION_GRADES[entry.section]}
    if not found:
        raise SystemExit(
            f"{entry.file}:{entry.line}: no grade marker and section {entry.section!r} "
            "is not in SECTION_GRADES"
        )
    return tuple(g for g in GRADE_ORDER if g in found)


def is_unanswered(answer: str) -> bool:
    return answer.strip() in ("", "Answer here")


def plain_scalar(text: str) -> str:
    """``text`` as a one-line YAML scalar: plain when it reads back as itself, else quoted."""
    if "\n" not in text and text == text.strip():
        try:
            if yaml.safe_load(f"k: {text}") == {"k": text} and text[0] not in "*&!|>'\"%@`":
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)


def block_scalar(text: str, indent: int) -> Iterator[str]:
    """``|`` literal block lines for ``text`` (which ends with exactly one newline)."""
    assert text.endswith("\n") and not text.endswith("\n\n"), text
    lines = text[:-1].split("\n")
    yield "|2" if lines[0].startswith(" ") else "|"
    pad = " " * indent
    for line in lines:
        yield pad + line if line else ""


HEADER = """\
# yaml-language-server: $schema=../../../../schema/questions.schema.json
#
# GENERATED by tests/public_bank/convert.py from theory.md and technical.md in this folder,
# copies of {repo}
# (CC BY 4.0, by Alexey Grigorev and contributors; see LICENSE-AND-ATTRIBUTION.md).
# Do not edit by hand: change the script and run it again;
# tests/public_bank/test_public_bank.py checks that this file is exactly what the script writes.
#
# Grades: theory.md's own legend, 👶 -> junior, ⭐️ -> middle, 🚀 -> senior (⭐️🚀 -> both);
# technical.md by section: SQL -> junior, Coding (Python) -> junior, Algorithmic Questions ->
# middle. Tags: the section heading's slug. Answers are the Markdown exactly as written.

channel:
  name: Data Science Interviews
  url: {repo}

deck:
  title: Data Science Interviews (community answers)
  slug: data-science-interviews

schedule:
  timezone: Europe/Berlin
  start: 2027-01-04
  slots: [mon 10:00, wed 10:00, fri 18:30]

newsletter:
  title: Data Science Interviews
  from: Data Science Interviews <digest@example.org>
  subject: "{{title}}: {{week}} ({{count}} questions)"
  base_url: https://example.org/data-science-interviews/

questions:
"""


def render(questions: list[Question]) -> str:
    out = [HEADER.format(repo=SOURCE_REPO)]
    for n, q in enumerate(questions):
        if n:
            out.append("\n")
        e = q.entry
        out.append(f"  # {e.file}:{e.line} ({e.section})\n")
        out.append(f"  - id: {q.id}\n")
        if "\n" in e.question:
            out.append("    question: " + "\n".join(block_scalar(e.question + "\n", 6)) + "\n")
        else:
            out.append(f"    question: {plain_scalar(e.question)}\n")
        out.append("    answer: " + "\n".join(block_scalar(e.answer, 6)) + "\n")
        out.append(f"    grades: [{', '.join(q.grades)}]\n")
        out.append(f"    tags: [{', '.join(q.tags)}]\n")
    return "".join(out)


def convert(theory: str, technical: str) -> Result:
    """Both files' text -> the YAML bank (checked to read back as the questions given)."""
    entries: list[Entry] = []
    dropped: list[str] = []
    for name, text in (("theory.md", theory), ("technical.md", technical)):
        found, loose = parse(name, text)
        entries += found
        dropped += loose
    taken: set[str] = set()
    questions: list[Question] = []
    skipped: list[Entry] = []
    for entry in entries:
        if is_unanswered(entry.answer):
            skipped.append(entry)
            continue
        qid = make_id(entry.question, taken)
        questions.append(Question(entry, qid, grades_of(entry), (slug(entry.section),)))
    text = render(questions)
    loaded = yaml.safe_load(text)["questions"]
    for q, item in zip(questions, loaded, strict=True):
        want = {
            "id": q.id,
            "question": q.entry.question + ("\n" if "\n" in q.entry.question else ""),
            "answer": q.entry.answer,
            "grades": list(q.grades),
            "tags": list(q.tags),
        }
        if item != want:
            raise SystemExit(f"{q.entry.file}:{q.entry.line}: does not round-trip: {q.id}")
    return Result(text, tuple(questions), tuple(skipped), tuple(dropped))


def missing_images(questions: tuple[Question, ...], folder: Path) -> list[str]:
    """Local images the answers refer to that are not in ``folder`` (where the YAML is)."""
    missing = []
    for q in questions:
        for src in _LOCAL_IMAGE.findall(q.entry.question + "\n" + q.entry.answer):
            if not (folder / src).is_file():
                missing.append(f"{q.id}: {src}")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--theory", type=Path, default=FIXTURE / "theory.md")
    parser.add_argument("--technical", type=Path, default=FIXTURE / "technical.md")
    parser.add_argument("--out", type=Path, default=FIXTURE / "questions.yaml")
    args = parser.parse_args(argv)
    result = convert(
        args.theory.read_text(encoding="utf-8"), args.technical.read_text(encoding="utf-8")
    )
    missing = missing_images(result.questions, args.out.resolve().parent)
    for item in missing:
        print(f"convert: missing image next to {args.out}: {item}", file=sys.stderr)
    if missing:
        return 1
    args.out.write_text(result.text, encoding="utf-8", newline="\n")
    by_file = {
        name: sum(q.entry.file == name for q in result.questions)
        for name in ("theory.md", "technical.md")
    }
    print(
        f"converted {len(result.questions)} questions "
        f"(theory.md {by_file['theory.md']}, technical.md {by_file['technical.md']}); "
        f"skipped {len(result.skipped)} without an answer (empty or 'Answer here')"
    )
    for entry in result.skipped:
        print(f"  skipped {entry.file}:{entry.line}: {entry.question}")
    for place in result.dropped:
        print(f"  not a question, left out: {place}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
