"""Stage 2, validate: YAML nodes -> :class:`~pipeline.model.Bank`, every problem at once.

The format is the table :data:`SOURCE` (also the source of the JSON Schema). After the table has
converted what it can, cross-field rules run: unique ids, duplicate question texts, images that
exist inside the content folder, quiz answers in range. Errors are raised together as one
:class:`PipelineError`; warnings are returned with the bank.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import unicodedata
from collections.abc import Mapping
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
from pipeline.errors import PipelineError, Pos, Problem, Severity, fail
from pipeline.source.lockfile import lock_path
from pipeline.source.model import (
    GRADES,
    Bank,
    ChannelSettings,
    DeckSettings,
    Image,
    NewsletterSettings,
    Question,
    Quiz,
    ScheduleSettings,
    Settings,
)
from pipeline.source.read import (
    Document,
    FileTooLarge,
    NotRegularFile,
    file_kind,
    read_regular_file,
)
from pipeline.source.spec import (
    INVALID,
    Checker,
    Choice,
    FieldSpec,
    Integer,
    ListOf,
    Parsed,
    Record,
    Text,
    parse_datetime,
    parse_sender,
    parse_slot,
    parse_start,
    parse_timezone,
)

SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
URL = r"https?://[^\s]+"
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
DATETIME = DATE + r"[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
SLOT = r"(?:mon|tue|wed|thu|fri|sat|sun) [0-9]{1,2}:[0-9]{2}"

QUIZ = Record(
    description="A quiz poll for Telegram (sendPoll, type quiz).",
    fields={
        "question": FieldSpec(Text("Poll question; default: the question text.", max_len=300)),
        "options": FieldSpec(
            ListOf(
                Text(max_len=100),
                min_items=2,
                max_items=12,
                unique=True,
                description="2 to 12 answer options",
            ),
            required=True,
        ),
        "correct": FieldSpec(
            Integer(1, 12, "Number of the correct option, counting from 1."), required=True
        ),
        "explanation": FieldSpec(Text("Shown after answering.", max_len=200, max_lines=2)),
    },
)

QUESTION = Record(
    description="One interview question.",
    fields={
        "id": FieldSpec(
            Text(
                "Stable id: lowercase slug, unique, never reused. Anki's note "
                "identity and the post file names come from it.",
                pattern=SLUG,
                expect="a lowercase slug like 'roc-auc-log'",
            ),
            required=True,
        ),
        "question": FieldSpec(Text("The question, inline Markdown."), required=True),
        "answer": FieldSpec(
            Text(
                "The answer, Markdown: lists, code, tables, links, images "
                "(paths relative to this file), $math$."
            ),
            required=True,
        ),
        "grades": FieldSpec(
            ListOf(
                Choice(GRADES),
                min_items=1,
                unique=True,
                description="Grades: junior, middle, senior.",
            ),
            required=True,
        ),
        "tags": FieldSpec(
            ListOf(
                Text(pattern=SLUG, expect="a lowercase slug like 'metrics'"),
                unique=True,
                description="Topic tags.",
            )
        ),
        "header": FieldSpec(
            Text("Short emoji header shown above the question in posts.", max_len=32, max_lines=0)
        ),
        "publish_at": FieldSpec(
            Parsed(
                "Pinned publish time, ISO 8601 "
                "(e.g. 2026-12-01 10:00); without an offset it is read "
                "in schedule.timezone.",
                expect="a date and time like '2026-12-01 10:00'",
                pattern=DATETIME,
                parse=parse_datetime,
            )
        ),
        "quiz": FieldSpec(QUIZ),
    },
)

SOURCE = Record(
    title="Interview question bank",
    description="The single source of the deck, the Telegram posts and the digest.",
    fields={
        "channel": FieldSpec(
            Record(
                description="The Telegram channel.",
                fields={
                    "name": FieldSpec(Text("Channel name.", max_lines=0)),
                    "url": FieldSpec(
                        Text("https://t.me/...", pattern=URL, expect="an http(s) URL")
                    ),
                },
            )
        ),
        "deck": FieldSpec(
            Record(
                description="The Anki deck.",
                fields={
                    "title": FieldSpec(Text("Deck name in Anki.", max_lines=0)),
                    "slug": FieldSpec(
                        Text(
                            "File name: dist/anki/<slug>.apkg.",
                            pattern=SLUG,
                            expect="a lowercase slug",
                        )
                    ),
                },
            )
        ),
        "schedule": FieldSpec(
            Record(
                description="Publishing calendar.",
                fields={
                    "timezone": FieldSpec(
                        Parsed(
                            "IANA time zone, e.g. Europe/Moscow.",
                            expect="an IANA time zone like 'Europe/Moscow'",
                            parse=parse_timezone,
                        )
                    ),
                    "start": FieldSpec(
                        Parsed(
                            "First day slots may be used (YYYY-MM-DD).",
                            expect="a date like '2026-12-01'",
                            pattern=DATE,
                            parse=parse_start,
                        )
                    ),
                    "slots": FieldSpec(
                        ListOf(
                            Parsed(
                                expect="a weekly slot like 'mon 10:00'",
                                pattern=SLOT,
                                parse=parse_slot,
                            ),
                            min_items=1,
                            unique=True,
                            description="Weekly slots, e.g. 'mon 10:00'.",
                        )
                    ),
                },
            )
        ),
        "newsletter": FieldSpec(
            Record(
                description="The weekly email digest.",
                fields={
                    "title": FieldSpec(Text("Newsletter title.", max_lines=0)),
                    "from": FieldSpec(
                        Parsed(
                            "Sender, e.g. 'Name <digest@example.org>'.",
                            pattern=r"[^<>@\s][^<>]*<[^<>@\s]+@[^<>@\s]+>|[^<>@\s]+@[^<>@\s]+",
                            expect="an address like 'Name <a@example.org>'",
                            max_lines=0,
                            parse=parse_sender,
                        )
                    ),
                    "subject": FieldSpec(
                        Text("Subject; {title}, {week} and {count} are filled in.", max_lines=0)
                    ),
                    "base_url": FieldSpec(
                        Text(
                            "Where images are published (absolute URL).",
                            pattern=URL,
                            expect="an http(s) URL",
                        )
                    ),
                    "unsubscribe": FieldSpec(
                        Choice(
                            ("listmonk", "mailchimp", "buttondown", "url"),
                            "Newsletter service whose unsubscribe "
                            "placeholder goes into the footer.",
                        )
                    ),
                    "unsubscribe_url": FieldSpec(
                        Text(
                            "Unsubscribe URL (service 'url', List-Unsubscribe header).",
                            pattern=URL,
                            expect="an http(s) URL",
                        )
                    ),
                },
            )
        ),
        "questions": FieldSpec(
            ListOf(QUESTION, partial=True, description="The questions, in publishing order."),
            required=True,
        ),
    },
)


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
    settings = _settings(data if data is not INVALID else _partial(doc))
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


def _settings(data: dict[str, Any]) -> Settings:
    def section(name: str) -> dict[str, Any]:
        raw = data.get(name, {})
        return {("sender" if k == "from" else k): v for k, v in raw.items() if k != "__positions__"}

    return Settings(
        channel=ChannelSettings(**section("channel")),
        deck=DeckSettings(**section("deck")),
        schedule=ScheduleSettings(**section("schedule")),
        newsletter=NewsletterSettings(**section("newsletter")),
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
        id_node = _value_node(item, "id")
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
        question = _question(doc, check, data, pos, index, item, path, tz)
        if question is None:
            continue
        key = _normalise(question.question)
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


def _question(
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
                _value_node(_value_node(item, "quiz"), "correct"),
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


#: The largest image file published: Telegram's limit for a photo, far above what a picture in
#: an answer needs. Checked with stat before a byte is read (a sparse file may claim gigabytes).
MAX_IMAGE_BYTES = 10_000_000
#: The extensions an image may have and the format its bytes must then be: what Telegram
#: sends as a photo and Anki shows offline (the formats remote images are sniffed for).
IMAGE_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        ".png": "PNG",
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".gif": "GIF",
        ".webp": "WebP",
        ".avif": "AVIF",
    }
)
_EXTENSIONS = ", ".join(list(IMAGE_FORMATS)[:-1]) + f" or {list(IMAGE_FORMATS)[-1]}"
#: :func:`pipeline.remote_images.sniff`'s media types, as the formats above name them.
_FORMAT_OF_MEDIA_TYPE = MappingProxyType(
    {
        "image/png": "PNG",
        "image/jpeg": "JPEG",
        "image/gif": "GIF",
        "image/webp": "WebP",
        "image/avif": "AVIF",
    }
)


class ImageRefused(Exception):
    """A file that is never published as an image; ``str()`` says why, after its name."""


def image_path(content_dir: Path, src: str) -> Path:
    """Where a local image's ``src`` points: resolved, from the (resolved) content folder.

    Raises :class:`ImageRefused` for a path no file can have (a NUL) or a symlink loop:
    ``resolve`` raises a ValueError or RuntimeError for those, which must not become a
    traceback.
    """
    try:
        return (content_dir / unquote(urlsplit(src).path)).resolve()
    except ValueError:
        raise ImageRefused("a file name cannot hold a NUL character") from None
    except RuntimeError:
        raise ImageRefused("a symlink loop") from None
    except OSError as exc:
        raise ImageRefused(f"cannot be resolved ({exc.strerror or exc})") from None


def refused_by_place(source: Path, content_dir: Path, src: str, target: Path) -> str | None:
    """Why the image ``src`` (resolved: ``target``, inside ``content_dir``) is never published
    whatever its bytes, or None. Hidden files and folders are where secrets live (``.git``,
    ``.env``, ``.ssh``): they are refused as written and as resolved, so neither a symlink
    into ``.git`` nor a hidden path onto a picture is published. The source and its lock
    file are refused by name, before their extension would say less."""
    written = unquote(urlsplit(src).path).split("/")
    resolved = target.relative_to(content_dir).parts
    if any(p.startswith(".") and p not in (".", "..") for p in (*written, *resolved)):
        return "hidden files and folders are never published"
    if target == source.resolve():
        return "the source file itself is never published"
    if target == lock_path(source).resolve():
        return "the lock file is never published"
    return None


def read_image_file(path: Path) -> bytes:
    """The bytes of an image file: a regular file with an image extension, at most
    :data:`MAX_IMAGE_BYTES`, whose first bytes are the format its extension names.

    Raises :class:`ImageRefused` (why, a phrase) or OSError (a missing or unreadable file).
    The one way any image of the source is read, by validation and by the renderers alike:
    a file swapped after validation (for a FIFO, a huge file, another format) is caught here
    too. Never blocks on a FIFO (opened non-blocking, and only after stat said regular).
    """
    _check_regular(path.stat())  # before the name: "a FIFO", whatever it is called
    suffix = path.suffix.lower()
    if suffix == ".svg":
        raise ImageRefused("SVG is never published: it can carry scripts; export it as PNG")
    expected = IMAGE_FORMATS.get(suffix)
    if expected is None:
        raise ImageRefused(f"expected a {_EXTENSIONS} file")
    try:
        data = read_regular_file(path, MAX_IMAGE_BYTES, follow=False)
    except NotRegularFile as exc:
        raise ImageRefused(f"{exc.kind}, not a regular file") from None
    except FileTooLarge as exc:
        if not exc.exact:
            raise ImageRefused(f"grew past {MAX_IMAGE_BYTES:,} bytes while it was read") from None
        raise ImageRefused(f"{exc.size:,} bytes; at most {MAX_IMAGE_BYTES:,}") from None
    # Imported here: pipeline.remote_images imports this module (Validated) at its top.
    from pipeline.build.remote_images import sniff

    kind = sniff(data[:64])
    if kind is None or _FORMAT_OF_MEDIA_TYPE[kind[0]] != expected:
        found = _what_bytes_are(data, None if kind is None else _FORMAT_OF_MEDIA_TYPE[kind[0]])
        raise ImageRefused(f"not a {expected} image ({found})")
    return data


def read_image(image: Image) -> bytes:
    """The bytes of a validated image, for a renderer to pack or copy: read as validation read
    it (:func:`read_image_file`), so a file swapped since then is refused at the image's place,
    never published."""
    try:
        return read_image_file(image.path)
    except ImageRefused as exc:
        why = f"image '{image.src}': {exc} (it changed during the build)"
        raise fail(image.pos, "", why) from None


def _check_regular(info: os.stat_result) -> None:
    kind = file_kind(info.st_mode)
    if kind is not None:
        raise ImageRefused(f"{kind}, not a regular file")


def _what_bytes_are(data: bytes, other_format: str | None) -> str:
    """What a file's bytes look like, for the message that refuses them."""
    if other_format is not None:
        article = "an" if other_format == "AVIF" else "a"
        ext = next(e for e, f in IMAGE_FORMATS.items() if f == other_format)
        return f"the file's bytes are {article} {other_format} image; name it {ext}"
    if not data:
        return "the file is empty"
    head = data[:1024]
    if b"<svg" in head.lower():
        return "the file's bytes are SVG"
    try:
        # Incremental: a character cut at the 1024th byte is not a reason to say "binary".
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\n\r" for c in text):
        return "the file's bytes are text"
    return f"the file starts with the bytes {data[:8].hex(' ')}"


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
    node = _value_node(item, field_name)
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


def _value_node(mapping: Node, key: str) -> Node:
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


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", text).split())
