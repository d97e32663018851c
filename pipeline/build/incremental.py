"""Load and validate again after an edit: only the questions whose text changed.

A bank of thousands of questions takes most of a second to compose as YAML and another half to
validate, on every build. But the editor changes a question or two between builds, and each
question is one item of the ``questions:`` list, written as its own block of lines. So:

1. The source is cut into its head (everything before the first item), one block of lines per
   item, and its tail (top-level keys after the list), by indentation only (:func:`split`).
2. Each item's block is composed and validated on its own, exactly as inside the document
   (positions relative to the block), and the resulting question is cached under a digest of
   the block's text, the time zone and the code; an unchanged block, wherever it moved, is
   read back and moved to its new line and index.
3. The head and tail, with an empty list in between, are validated as the settings.

This is a shortcut, never a second dialect: whenever anything is not plainly clean (a YAML or
validation error anywhere, an alias to an anchor in another item, document markers, duplicate
ids, a layout the cutter does not recognise) the whole file goes through
:func:`pipeline.source.read.load_source` and :func:`pipeline.source.validate.validate`, which
give the located messages. Warnings do not need that: an item's own (a TODO) are cached with it and
moved like its positions, and repeated question texts are found across the items here, with
the same message. An item with local images is cached with each file's identity (inode, size,
modification and change times): any change to a file, or a path that now resolves elsewhere,
validates the item again. ``tests/build/test_incremental_source.py`` checks the two paths agree.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from yaml.nodes import SequenceNode

from pipeline.build import records
from pipeline.build.cache import Memo
from pipeline.build.keys import text_keys
from pipeline.errors import PipelineError, Pos, Problem, Severity
from pipeline.source.fields import QUESTION, SOURCE
from pipeline.source.images import ImageRefused, image_path, read_image_file, refused_by_place
from pipeline.source.model import Bank, Image, Question, Settings
from pipeline.source.read import (
    Document,
    check_aliases,
    compose,
    has_anchor,
    load_source,
    read_source,
)
from pipeline.source.spec import INVALID, Checker
from pipeline.source.validate import (
    Validated,
    normalise,
    question_of,
    same_text,
    settings_of,
    validate,
)

NAMESPACE = "source-item"

_QUESTIONS_KEY = re.compile(r"^questions:[ ]*(?:#.*)?$", re.M)
_FIRST_ITEM = re.compile(r"^( *)-(?: |$)", re.M)
#: Lines that need the whole document to be read right: YAML directives, document markers.
_DOCUMENT_LEVEL = re.compile(r"^(?:%|---(?:\s|$)|\.\.\.(?:\s|$))", re.M)


class _Unclean(Exception):
    """The shortcut does not apply: validate the whole file."""


#: Questions a long-lived caller keeps between loads (``pipeline serve``): an item whose
#: block text (its key), index and first line are unchanged is taken as it is.
Kept = dict[tuple[str, int, int], tuple[Question, str, tuple[Problem, ...]]]


def load_validated(source: Path, memo: Memo, kept: Kept | None = None) -> Validated:
    """``validate(load_source(source))``, reusing the questions of earlier builds.

    ``kept``: a process that loads the same source again and again keeps the questions
    themselves here, so an unchanged item in an unchanged place is not even decoded from
    the memo (at 10,000 questions, decoding their positions is most of a reload); it is
    refilled with this load's items. Items with images are always checked again.
    """
    display, text = read_source(source)
    try:
        return _from_blocks(source, display, text, memo, kept)
    except (_Unclean, PipelineError):
        return validate(load_source(source))


@dataclass(frozen=True, slots=True)
class Blocks:
    """A source cut at its items: ``head + items + tail == text``."""

    head: str
    items: list[tuple[int, str]]  # (0-based line of the block's first line, block text)
    tail: str


def split(text: str) -> Blocks | None:
    """Cut the source at the items of its top-level ``questions:`` list, or None when the
    layout is not the plain one (one ``questions:`` key, a block list under it)."""
    if "\r" in text or _document_level(text):
        return None
    key = _questions_key(text)
    if key is None:
        return None
    first = _FIRST_ITEM.search(text, key)
    if first is None or not _only_blank(text[key : first.start()]):
        return None
    indent = len(first.group(1))
    # Every line that starts at or left of the items' dash, and is not blank or a comment: an
    # item's first line, or the first line after the list.
    edge = re.compile(rf"^ {{0,{indent}}}(?=[^ \n#])", re.M)
    marker = " " * indent + "-"
    starts: list[int] = []
    end = len(text)
    for m in edge.finditer(text, first.start()):
        at = m.start()
        if text.startswith(marker, at) and text[at + indent + 1 : at + indent + 2] in (" ", "\n"):
            starts.append(at)
        else:
            end = at
            break
    line = text.count("\n", 0, first.start())
    items = []
    for k, at in enumerate(starts):
        block = text[at : starts[k + 1] if k + 1 < len(starts) else end]
        items.append((line, block))
        line += block.count("\n")
    return Blocks(text[: first.start()], items, text[end:])


def _document_level(text: str) -> bool:
    """Whether a line is a YAML directive or a document marker."""
    starts = ("%", "---", "...")
    if not text.startswith(starts) and not any(f"\n{s}" in text for s in starts):
        return False  # plain substring searches first: the expression tests every line
    return _DOCUMENT_LEVEL.search(text) is not None


def _questions_key(text: str) -> int | None:
    """Where the line after the only top-level ``questions:`` key starts, else None."""
    line = "questions:"
    found = [0] if text.startswith(line) else []
    at = text.find("\n" + line)
    while at >= 0 and len(found) < 2:
        found.append(at + 1)
        at = text.find("\n" + line, at + 1)
    if len(found) != 1:
        return None
    m = _QUESTIONS_KEY.match(text, found[0])
    return m.end() + 1 if m else None


def _only_blank(text: str) -> bool:
    """Whether every line of ``text`` is blank or a comment."""
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.split("\n"))


def _from_blocks(
    source: Path, display: str, text: str, memo: Memo, kept: Kept | None = None
) -> Validated:
    blocks = split(text)
    if blocks is None or not blocks.items:
        raise _Unclean
    settings = _settings_of(source, display, blocks)
    tz = ZoneInfo(settings.schedule.timezone)
    keys_of = text_keys(NAMESPACE, display, settings.schedule.timezone)  # and each block
    content = source.parent.resolve()  # where images are found
    questions = []
    warnings: list[Problem] = []
    seen_ids: set[str] = set()
    first_text: dict[str, tuple[str, Pos]] = {}
    keep: Kept = {}
    for index, (line, block) in enumerate(blocks.items):
        key = keys_of(block)
        item = None if kept is None else kept.get((key, index, line))
        if item is None:
            item = _item(source, display, block, memo, key, (content, index, line, tz))
        question, normalised, own = item
        if not question.images:  # an image file may change under an unchanged item
            keep[(key, index, line)] = item
        if question.id in seen_ids:
            raise _Unclean  # the whole file gives the located message
        seen_ids.add(question.id)
        # In the order validate() gives them: the item's own warnings, then a repeated text.
        warnings.extend(own)
        if normalised in first_text:
            warnings.append(same_text(question, *first_text[normalised]))
        else:
            first_text[normalised] = (question.id, question.pos_of("question"))
        questions.append(question)
    if kept is not None:
        kept.clear()
        kept.update(keep)
    return Validated(Bank(source, settings, tuple(questions)), tuple(warnings))


def _item(
    source: Path,
    display: str,
    block: str,
    memo: Memo,
    key: str,
    place: tuple[Path, int, int, ZoneInfo],
) -> tuple[Question, str, tuple[Problem, ...]]:
    """One item as question ``index`` starting at ``line`` (``place``: the folder images are
    found in, index, line, time zone): from the memo, else validated and remembered."""
    content, index, line, tz = place
    entry = memo.lookup(key) if memo.contains(key) else None
    cached = (
        None if entry is None else _question_from(entry, source, content, display, index, line, tz)
    )
    if cached is not None:
        return cached
    fresh, normalised, own = _validate_block(source, display, block, tz)
    plain = _plain(fresh, normalised, own)
    if plain is not None:
        memo.store(key, plain)
    return (
        _moved(fresh, index, line),
        normalised,
        tuple(_moved_problem(p, index, line) for p in own),
    )


def _settings_of(source: Path, display: str, blocks: Blocks) -> Settings:
    """The settings, from the head and tail around an empty list."""
    text = f"{blocks.head}  []\n{blocks.tail}"
    doc = _document(source, display, text)
    check = Checker(doc)
    data = SOURCE.convert(doc.root, "", check)
    if data is INVALID or check.problems:
        raise _Unclean
    return settings_of(data)


def _document(source: Path, display: str, text: str) -> Document:
    """A piece of the source composed on its own, checked as :func:`load_source` checks a
    whole file. An alias to an anchor in another piece cannot compose here (the whole file
    then gives the answer), so a piece's meaning never depends on another piece."""
    doc = Document(source, display, text, compose(text, display), tuple(text.splitlines()))
    if has_anchor(text):
        check_aliases(doc)
    return doc


def _validate_block(
    source: Path, display: str, block: str, tz: ZoneInfo
) -> tuple[Question, str, tuple[Problem, ...]]:
    """One item validated on its own, with its warnings; positions count from the block's
    first line, paths from ``questions[0]``. Any error: the whole file must say it."""
    doc = _document(source, display, block)
    root = doc.root
    if not isinstance(root, SequenceNode) or len(root.value) != 1:
        raise _Unclean
    check = Checker(doc)
    item = root.value[0]
    path = "questions[0]"
    data = QUESTION.convert(item, path, check)
    if data is INVALID or _has_error(check):
        raise _Unclean
    question = question_of(doc, check, data, dict(data["__positions__"]), 0, item, path, tz)
    if question is None or _has_error(check):
        raise _Unclean
    return question, normalise(question.question), tuple(check.problems)


def _has_error(check: Checker) -> bool:
    """An error, or anything this path could not place in the whole file."""
    return any(p.severity is not Severity.WARNING or p.pos is None for p in check.problems)


_CACHED = ("doc", "title_doc", "fingerprint")


def _moved(q: Question, index: int, lines: int) -> Question:
    """A question validated on its own, placed at item ``index``, ``lines`` further down."""

    def at(p: Pos) -> Pos:
        return Pos(p.file, p.line + lines, p.col)

    moved = replace(
        q,
        index=index,
        pos=at(q.pos),
        positions=MappingProxyType({k: at(p) for k, p in q.positions.items()}),
        quiz=None if q.quiz is None else replace(q.quiz, pos=at(q.quiz.pos)),
        images=tuple(replace(img, pos=at(img.pos)) for img in q.images),
    )
    # What its cached properties hold (parsed trees, fingerprint) is not about positions.
    moved.__dict__.update({k: v for k, v in q.__dict__.items() if k in _CACHED})
    return moved


def _moved_problem(p: Problem, index: int, lines: int) -> Problem:
    """A problem of an item validated on its own, placed like :func:`_moved` places it."""
    assert p.pos is not None and p.path.startswith("questions[0]")
    return Problem(
        Pos(p.pos.file, p.pos.line + lines, p.pos.col),
        f"questions[{index}]{p.path.removeprefix('questions[0]')}",
        p.message,
        p.severity,
    )


# --- the cache entry: plain data (see pipeline.build.records) ----------------------------------


def _plain(q: Question, normalised: str, warnings: tuple[Problem, ...]) -> tuple[Any, ...] | None:
    """The entry for a validated item (every field: :mod:`pipeline.build.records`), with each
    image file's identity; None when an image changed while it was read."""
    identities = []
    for img in q.images:
        identity = _identity(img.path)
        # Read again after the identity is taken: equal bytes mean the identity is theirs.
        if identity is None or _file_sha256(img.path) != img.digest:
            return None
        identities.append(identity)
    return (
        records.encode(q),
        normalised,
        q.fingerprint,
        # (Every warning here has a place: see _has_error.)
        tuple((*_lc(w.pos), w.path, w.message) for w in warnings if w.pos is not None),
        tuple(identities),
    )


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    """What changes whenever a file's bytes do (the change time cannot be set back)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _file_sha256(path: Path) -> str | None:
    """The digest of an image's bytes, read the one bounded way; None when it is no longer
    an image validation would accept (swapped for a FIFO, a huge file): not cached then."""
    try:
        return hashlib.sha256(read_image_file(path)).hexdigest()
    except (OSError, ImageRefused):
        return None


def _images_hold(
    images: tuple[Image, ...], identities: tuple[Any, ...], source: Path, content: Path
) -> bool:
    """Whether a cached item's images are still the files it was validated with: False when
    a file changed, its path resolves elsewhere or validation's rules for an image's place
    refuse it; the item is then validated again, and :func:`pipeline.source.images` gives
    the verdict (one gate). An unchanged identity means unchanged bytes, which passed
    :func:`read_image_file` when they were cached."""
    for img, identity in zip(images, identities, strict=True):
        try:
            target = image_path(content, img.src)
        except ImageRefused:
            return False
        if target != img.path or _identity(target) != tuple(identity):
            return False
        if not target.is_relative_to(content) or refused_by_place(source, content, img.src, target):
            return False
    return True


def _lc(p: Pos) -> tuple[int, int]:
    return p.line, p.col


def _question_from(
    entry: tuple[Any, ...],
    source: Path,
    content: Path,
    display: str,
    index: int,
    lines: int,
    tz: ZoneInfo,
) -> tuple[Question, str, tuple[Problem, ...]] | None:
    """A cached question at item ``index``, its block starting ``lines`` lines down; None
    when one of its images changed (``content``: the resolved folder images are found in)."""
    plain, normalised, fp, own, identities = entry
    cls, fields = records.decode_fields(plain, display, lines, tz)
    q = cls(**(fields | {"index": index}))
    if q.images and not _images_hold(q.images, identities, source, content):
        return None
    q.__dict__["fingerprint"] = fp  # what the cached property would compute again
    warnings = tuple(
        _moved_problem(Problem(Pos(display, ln, col), path, text, Severity.WARNING), index, lines)
        for ln, col, path, text in own
    )
    return q, normalised, warnings
