"""Stage 2, validate: YAML nodes -> :class:`~pipeline.source.model.Bank`, every problem at once.

The format is the table :data:`~pipeline.source.fields.SOURCE` (also the source of the JSON
Schema). After the table has converted what it can, cross-field rules run: unique ids,
duplicate question texts, images that exist inside the content folder (read the one way,
:mod:`pipeline.source.images`), quiz answers in range. Errors are raised together as one
:class:`PipelineError`; warnings are returned with the bank.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline import markup
from pipeline.errors import PipelineError, Pos, Problem, Severity
from pipeline.source.fields import QUESTION, SOURCE
from pipeline.source.images import ImageRefused, image_path, read_image_file, refused_by_place
from pipeline.source.model import (
    GRADES,
    Bank,
    ChannelSettings,
    Image,
    Question,
    Quiz,
    ScheduleSettings,
    Settings,
    derived_settings,
)
from pipeline.source.read import Document
from pipeline.source.spec import INVALID, Checker


@dataclass(frozen=True, slots=True)
class Validated:
    bank: Bank
    warnings: tuple[Problem, ...]


def validate(doc: Document) -> Validated:
    """Check the document against :data:`SOURCE` and the cross-field rules; build the Bank."""
    check = Checker(doc)
    if not isinstance(doc.root, MappingNode):
        check.expected(doc.root, "top level", "a mapping with a 'questions:' list")
        raise PipelineError(check.problems)
    data = SOURCE.convert(doc.root, "", check)
    # A bad question does not hide the others: 'questions' converts item by item.
    settings = settings_of(data if data is not INVALID else _partial(doc))
    converted = data.get("questions") if data is not INVALID else None
    questions = _questions(doc, check, settings, converted)
    errors = [p for p in check.problems if p.severity is Severity.ERROR]
    if errors:
        raise PipelineError(errors)
    bank = Bank(doc.path, settings, tuple(questions))
    warnings = tuple(p for p in check.problems if p.severity is Severity.WARNING)
    return Validated(bank, warnings)


def _partial(doc: Document) -> dict[str, Any]:
    """Settings sections that converted cleanly, when the document as a whole did not."""
    out: dict[str, Any] = {}
    for name in ("channel", "deck", "schedule", "newsletter"):
        node = doc.top(name)
        if node is not None:
            value = SOURCE.fields[name].spec.convert(node, name, Checker(doc))
            if value is not INVALID:
                out[name] = value
    return out


def settings_of(data: dict[str, Any]) -> Settings:
    def section(name: str) -> dict[str, Any]:
        raw = data.get(name, {})
        return {("sender" if k == "from" else k): v for k, v in raw.items() if k != "__positions__"}

    # The deck's and the digest's names follow channel.name unless set (one name default).
    return derived_settings(
        ChannelSettings(**section("channel")),
        section("deck"),
        ScheduleSettings(**section("schedule")),
        section("newsletter"),
    )


def _questions(
    doc: Document, check: Checker, settings: Settings, converted: tuple[Any, ...] | None
) -> list[Question]:
    """Cross-question rules and model objects; ``converted`` is the table's per-item result.

    When the document failed elsewhere the items are converted again quietly (their problems
    are already recorded), so duplicate ids and images are still reported in the same run.
    """
    node = doc.top("questions")
    if not isinstance(node, SequenceNode):
        return []
    out: list[Question] = []
    first_id: dict[str, Pos] = {}
    first_text: dict[str, tuple[str, Pos]] = {}
    tz = ZoneInfo(settings.schedule.timezone)
    for index, item in enumerate(node.value):
        path = f"questions[{index}]"
        data = (
            converted[index]
            if converted is not None
            else QUESTION.convert(item, path, Checker(doc))
        )
        # Duplicate ids are checked even on questions with other problems.
        id_node = value_node(item, "id")
        if id_node is not item and isinstance(id_node, ScalarNode):
            qid = id_node.value
            if qid in first_id:
                check.error(
                    id_node,
                    f"{path}.id",
                    f"duplicate id '{qid}' (first used at line {first_id[qid].line}); "
                    "ids must be unique and are never reused",
                )
                continue
            first_id[qid] = doc.pos(id_node)
        if data is INVALID:
            continue
        pos: dict[str, Pos] = dict(data["__positions__"])
        question = question_of(doc, check, data, pos, index, item, path, tz)
        if question is None:
            continue
        key = normalise(question.question)
        if key in first_text:
            check.problems.append(same_text(question, *first_text[key]))
        else:
            first_text[key] = (question.id, pos["question"])
        out.append(question)
    return out


def same_text(question: Question, other: str, other_pos: Pos) -> Problem:
    """The warning for a question whose text repeats question ``other``'s (at ``other_pos``)."""
    return Problem(
        question.pos_of("question"),
        f"questions[{question.index}].question",
        f"same question text as '{other}' (line {other_pos.line})",
        Severity.WARNING,
    )


def question_of(
    doc: Document,
    check: Checker,
    data: dict[str, Any],
    pos: dict[str, Pos],
    index: int,
    item: Node,
    path: str,
    tz: ZoneInfo,
) -> Question | None:
    ok = True
    quiz = None
    if "quiz" in data:
        q = data["quiz"]
        if q["correct"] > len(q["options"]):
            check.error(
                value_node(value_node(item, "quiz"), "correct"),
                f"{path}.quiz.correct",
                f"expected a number from 1 to {len(q['options'])} (one of the options); "
                f"got {q['correct']}",
            )
            ok = False
        quiz = Quiz(
            q.get("question"), q["options"], q["correct"] - 1, q.get("explanation"), pos["quiz"]
        )
    publish_at: datetime | None = data.get("publish_at")
    if publish_at is not None and publish_at.tzinfo is None:
        publish_at = publish_at.replace(tzinfo=tz)
    images = []
    trees: dict[str, Element] = {}  # parsed to find images: kept for the renderers
    for field_name in ("answer", "question"):
        text = data[field_name]
        try:
            markup.check_limits(text)
        except markup.MarkupLimitError as exc:
            check.problems.append(Problem(pos[field_name], f"{path}.{field_name}", str(exc)))
            ok = False
            continue
        if not markup.may_hold_images(text):
            continue  # no image: the tree is built later, by the renderers, only if needed
        try:
            tree = markup.parse_markdown(text)
        except markup.MarkupLimitError as exc:
            check.problems.append(Problem(pos[field_name], f"{path}.{field_name}", str(exc)))
            ok = False
            continue
        trees["doc" if field_name == "answer" else "title_doc"] = tree
        for img in markup.iter_images(tree):
            if "src" not in img.attrib:
                continue  # a raw <img> whose URL the sanitiser refused: its alt text is shown
            good, image = _image(doc, check, item, path, field_name, img.get("src", ""))
            ok = ok and good
            if image is not None:
                images.append(image)
    for name in ("question", "answer"):
        if "TODO" in data[name]:
            check.warn(pos[name], f"{path}.{name}", "still says TODO; fill it in")
    if not ok:
        return None
    grades = tuple(g for g in GRADES if g in data["grades"])
    question = Question(
        id=data["id"],
        question=data["question"],
        answer=data["answer"],
        grades=grades,
        tags=data.get("tags", ()),
        header=data.get("header"),
        publish_at=publish_at,
        quiz=quiz,
        images=tuple(images),
        index=index,
        pos=doc.pos(item),
        positions=MappingProxyType(pos),
    )
    question.__dict__.update(trees)  # what its cached properties would parse again
    return question


def _image(
    doc: Document, check: Checker, item: Node, path: str, field_name: str, src: str
) -> tuple[bool, Image | None]:
    """Resolve a local image: (True, Image); (True, None) for a URL; (False, None) reported.

    Everything a build publishes passes here (Markdown and raw ``<img>`` alike, and a cached
    item whose image changed is validated again), so this is the one gate: inside the
    content folder, not hidden, not the source or its lock, and :func:`read_image_file`.
    """
    parts = urlsplit(src)
    if parts.scheme in ("http", "https"):
        return True, None
    node = value_node(item, field_name)
    where = _pos_in_value(doc, node, src)
    content_dir = doc.path.parent.resolve()

    def refuse(message: str) -> tuple[bool, Image | None]:
        check.problems.append(Problem(where, f"{path}.{field_name}", message))
        return False, None

    if parts.scheme or parts.netloc or not parts.path:
        return refuse(
            f"image '{src}': expected a file path relative to "
            f"{doc.path.parent.name or '.'}/ or an http(s) URL"
        )
    try:
        target = image_path(content_dir, src)
    except ImageRefused as exc:
        return refuse(f"image '{src}': {exc}")
    if not target.is_relative_to(content_dir):
        return refuse(f"image '{src}' lies outside the content folder {doc.path.parent}/")
    why = refused_by_place(doc.path, content_dir, src, target)
    if why is not None:
        return refuse(f"image '{src}': {why}")
    try:
        data = read_image_file(target)
    except (FileNotFoundError, NotADirectoryError):
        looked_for = Path(doc.display).parent / unquote(parts.path)
        return refuse(f"image '{src}' not found (looked for {looked_for})")
    except ImageRefused as exc:
        return refuse(f"image '{src}': {exc}")
    except OSError as exc:  # unreadable (permissions, an I/O error): still one located line
        return refuse(f"image '{src}': cannot be read ({exc.strerror or exc})")
    return True, Image(src, target, where, hashlib.sha256(data).hexdigest())


def value_node(mapping: Node, key: str) -> Node:
    if isinstance(mapping, MappingNode):
        for k, v in mapping.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return v  # type: ignore[no-any-return]
    return mapping


def _pos_in_value(doc: Document, node: Node, needle: str) -> Pos:
    """Position of ``needle`` inside a scalar, exact for block scalars (``|``)."""
    base = doc.pos(node)
    value = node.value if isinstance(node, ScalarNode) else ""
    offset = value.find(needle)
    if offset < 0 or not isinstance(node, ScalarNode) or node.style != "|":
        return base
    line_in_value = value.count("\n", 0, offset)
    line_start = value.rfind("\n", 0, offset) + 1
    src_line = doc.line(base.line + 1 + line_in_value)
    value_line = value[
        line_start : value.find("\n", offset) if "\n" in value[offset:] else len(value)
    ]
    indent = len(src_line) - len(value_line)
    return Pos(base.file, base.line + 1 + line_in_value, indent + (offset - line_start) + 1)


_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", text).split())
