"""Load and validate again after an edit: only the questions whose text changed.

A bank of thousands of questions takes most of a second to compose as YAML and another half to
validate, on every build. But the editor changes a question or two between builds, and each
question is one item of the ``questions:`` list, written as its own block of lines. So:

1. The source is cut into its head (everything before the first item), one block of lines per
   item, and its tail (top-level keys after the list), by indentation only
   (:mod:`pipeline.build.blocks`; a long-lived caller's :class:`Kept` lets it cut again only
   around the edit).
2. Each item's block is composed and validated on its own, exactly as inside the document
   (positions relative to the block), and the resulting question is cached under a digest of
   the block's text, the time zone and the code; an unchanged block, wherever it moved, is
   read back and moved to its new line and index.
3. The head and tail, with an empty list in between, are validated as the settings.

This is a shortcut, never a second dialect: whenever anything is not plainly clean (a YAML
error anywhere, a problem in the settings, an alias to an anchor in another item, document
markers, duplicate ids, a layout the cutter does not recognise) the whole file goes through
:func:`pipeline.source.read.load_source` and :func:`pipeline.source.validate.validate`, which
give the located messages. An item the format refuses for reasons of its own (an unknown key,
a refused value, a missing image) is the exception: its errors are exactly the ones the whole
file's validation gives for it, so they are reported from its block (at 10,000 questions a
typo is located in a fifth of a second, not a second and a half). Warnings do not need the
whole file either: an item's own (a TODO) are cached with it and moved like its positions,
and repeated question texts are found across the items here, with the same message. An item
with local images is cached with each file's identity (inode, size, modification and change
times): any change to a file, or a path that now resolves elsewhere, validates the item
again. ``tests/build/test_incremental_source.py`` checks the two paths agree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from yaml.nodes import Node, ScalarNode, SequenceNode

from pipeline.build import records
from pipeline.build.blocks import Blocks, Edit, resplit, split
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
    document_of,
    has_anchor,
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
    value_node,
)

NAMESPACE = "source-item"


class _Unclean(Exception):
    """The shortcut does not apply: validate the whole file."""


class _Refused(Exception):
    """Items the format refuses, each for reasons of its own: the whole file's errors."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems


class _Invalid(Exception):
    """An item the format refuses, for reasons of its own (see :func:`_validate_block`): its
    errors, placed as in its block, and its id."""

    def __init__(self, problems: list[Problem], qid: str | None) -> None:
        self.problems, self.qid = problems, qid


#: A loaded item: its question, its normalised question text, its own warnings.
_Item = tuple[Question, str, tuple[Problem, ...]]


@dataclass
class Kept:
    """What a long-lived caller (``pipeline serve``) keeps between loads of one source.

    The last good load's cut (its blocks hold its text), each block's key and the loaded
    items, by key: the next load cuts again only around the edit
    (:func:`pipeline.build.blocks.resplit`), keys only the blocks cut again, and takes an
    unchanged item as it is; one that moved (lines added above it, or items) is shifted to
    its new line and index rather than decoded from the memo again (at 10,000 questions
    that was most of a reload). Items with images are always checked again (a file may
    change under an unchanged item).
    """

    blocks: Blocks | None = None
    keys: list[str] = field(default_factory=list)
    basis: tuple[str, str] = ("", "")  # (display name, time zone) the keys were made with
    items: dict[str, tuple[int, int, _Item]] = field(default_factory=dict)  # (index, line, …)


def load_validated(source: Path, memo: Memo, kept: Kept | None = None) -> Validated:
    """``validate(load_source(source))``, reusing the questions of earlier builds, and with
    ``kept`` those of this process's last load (refilled when the shortcut applies)."""
    display, text = read_source(source)
    try:
        return _from_blocks(source, display, text, memo, kept)
    except _Refused as exc:
        raise PipelineError(exc.problems) from None
    except (_Unclean, PipelineError):
        return validate(document_of(source, display, text))  # the same text, not read again


def _cut(text: str, kept: Kept | None) -> tuple[Blocks | None, Edit | None]:
    """The source's cut, and which items changed since ``kept``'s (None: not known)."""
    if kept is not None and kept.blocks is not None:
        again = resplit(kept.blocks, text)
        if again is not None:
            return again
    return split(text), None


def _from_blocks(
    source: Path, display: str, text: str, memo: Memo, kept: Kept | None = None
) -> Validated:
    blocks, edit = _cut(text, kept)
    if blocks is None or not blocks.items:
        raise _Unclean
    settings = _settings_of(source, display, blocks)
    tz = ZoneInfo(settings.schedule.timezone)
    basis = (display, settings.schedule.timezone)
    keys = _keys(blocks, basis, edit, kept)
    content = source.parent.resolve()  # where images are found
    known = {} if kept is None else kept.items
    questions = []
    warnings: list[Problem] = []
    seen_ids: set[str] = set()
    first_text: dict[str, tuple[str, Pos]] = {}
    keep: dict[str, tuple[int, int, _Item]] = {}
    refused: list[Problem] = []  # the errors of items refused for reasons of their own
    for index, (line, block) in enumerate(blocks.items):
        key = keys[index]
        found = known.get(key)
        if found is None:
            try:
                item = _item(source, display, block, memo, key, (content, index, line, tz))
            except _Invalid as exc:
                if exc.qid in seen_ids:
                    raise _Unclean from None  # the whole file says which id, and where
                if exc.qid is not None:
                    seen_ids.add(exc.qid)
                refused += (_moved_problem(p, index, line) for p in exc.problems)
                continue
        elif found[0] == index and found[1] == line:
            item = found[2]
        else:  # the same block, moved: shifted, not read from the memo again
            item = _shifted(found[2], index, line - found[1])
        question, normalised, own = item
        if not question.images:  # an image file may change under an unchanged item
            keep[key] = (index, line, item)
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
    if refused:  # (a PipelineError puts them in the file's order)
        raise _Refused(refused)
    if kept is not None:
        kept.blocks, kept.keys, kept.basis, kept.items = blocks, keys, basis, keep
    return Validated(Bank(source, settings, tuple(questions)), tuple(warnings))


def _keys(
    blocks: Blocks, basis: tuple[str, str], edit: Edit | None, kept: Kept | None
) -> list[str]:
    """Each block's memo key: a digest of its text, the time zone and the code; with the
    last load's keys (``kept``), only the blocks cut again are hashed."""
    keys_of = text_keys(NAMESPACE, *basis)
    if kept is None or edit is None or kept.basis != basis:
        return [keys_of(block) for _, block in blocks.items]
    cut = blocks.items[edit.first : edit.new_end]
    return [*kept.keys[: edit.first], *(keys_of(b) for _, b in cut), *kept.keys[edit.old_end :]]


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
    doc = Document(source, display, text, compose(text, display))
    if has_anchor(text):
        check_aliases(doc)
    return doc


def _validate_block(
    source: Path, display: str, block: str, tz: ZoneInfo
) -> tuple[Question, str, tuple[Problem, ...]]:
    """One item validated on its own, with its warnings; positions count from the block's
    first line, paths from ``questions[0]``.

    An item the format refuses raises :class:`_Invalid` with its errors, exactly the ones
    the whole file's validation gives for it: they are about the item alone (a YAML error,
    an anchor or alias, a problem without a place, or a message naming a line, as a
    duplicate key's does, make the whole file say it instead: :class:`_Unclean`). At 10,000
    questions a typo is then located in a fraction of a second, not one and a half.
    """
    doc = _document(source, display, block)
    root = doc.root
    if not isinstance(root, SequenceNode) or len(root.value) != 1:
        raise _Unclean
    check = Checker(doc)
    item = root.value[0]
    path = "questions[0]"
    data = QUESTION.convert(item, path, check)
    question = None
    if data is not INVALID:  # (as the whole file's validation does, even after errors)
        question = question_of(doc, check, data, dict(data["__positions__"]), 0, item, path, tz)
    if question is None or _has_error(check):
        raise _Invalid(_errors(check.problems), _id_of(item))
    return question, normalise(question.question), tuple(check.problems)


def _has_error(check: Checker) -> bool:
    """An error, or anything this path could not place in the whole file."""
    return any(p.severity is not Severity.WARNING or p.pos is None for p in check.problems)


def _errors(problems: list[Problem]) -> list[Problem]:
    """An item's errors among ``problems``, when they are its own (see
    :func:`_validate_block`)."""
    errors = [p for p in problems if p.severity is not Severity.WARNING]
    if not errors or any(p.pos is None or " line " in p.message for p in problems):
        raise _Unclean  # (or a warning without a place)
    return errors


def _id_of(item: Node) -> str | None:
    """The item's id as written (a plain scalar), for the duplicate check; else None."""
    node = value_node(item, "id")
    return node.value if node is not item and isinstance(node, ScalarNode) else None


_CACHED = ("doc", "title_doc", "fingerprint")


def _moved(q: Question, index: int, lines: int) -> Question:
    """Question ``q`` placed at item ``index``, ``lines`` further down."""

    def at(p: Pos) -> Pos:
        return Pos(p.file, p.line + lines, p.col)

    moved = replace(
        q,
        index=index,
        pos=at(q.pos),
        positions=records.Positions.of(q.positions, q.pos.file).moved(lines),
        quiz=None if q.quiz is None else replace(q.quiz, pos=at(q.quiz.pos)),
        images=tuple(replace(img, pos=at(img.pos)) for img in q.images),
    )
    # What its cached properties hold (parsed trees, fingerprint) is not about positions.
    moved.__dict__.update({k: v for k, v in q.__dict__.items() if k in _CACHED})
    return moved


def _moved_problem(p: Problem, index: int, lines: int) -> Problem:
    """A problem of an item, placed like :func:`_moved` places the item."""
    assert p.pos is not None and p.path.startswith("questions[")
    return Problem(
        Pos(p.pos.file, p.pos.line + lines, p.pos.col),
        f"questions[{index}]{p.path[p.path.index(']') + 1 :]}",
        p.message,
        p.severity,
    )


def _shifted(item: _Item, index: int, lines: int) -> _Item:
    """A loaded item, now item ``index``, ``lines`` further down."""
    question, normalised, own = item
    moved = _moved(question, index, lines)
    return moved, normalised, tuple(_moved_problem(p, index, lines) for p in own)


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
