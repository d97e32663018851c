"""The Anki deck: ``dist/anki/<deck.slug>.apkg``, safe to re-import forever.

Subscribers import every new package over the previous one. Anki's importer matches notes by
GUID, updates a note only when the incoming ``mod`` is newer, never touches existing cards
(reviews, deck placement) and matches the note type by id and schema. So:

* **GUID** = a namespaced hash of the question ``id`` (:func:`note_guid`), never of content.
* **Note ``mod``** = the moment the note's rendered content last changed. It comes from this
  renderer's lock section (``content/questions.lock.json``, section ``anki``): per question id
  ``"<content hash> <changed-at>"`` (plus `` removed``), and the same for the note type
  (templates, CSS, fields). A changed hash takes the build's ``now`` (``SOURCE_DATE_EPOCH``
  or the clock), always later than the previous one; an unchanged source leaves the lock and
  the package byte-identical, so a subscriber's own edits to unchanged notes (newer ``mod``)
  survive re-import.
* **Ids** are pinned constants (note type, fields, template, decks) or derived from the
  question id (note and card ids, in 2010–2020: Anki rewrites ids from the future).
* **Order**: one subdeck per primary grade; new cards junior → middle → senior, then source
  order (``Note.due``). Questions a build leaves out with ``--until`` are simply not packed.
* **Removed questions**: Anki cannot delete by import. An id the lock remembers but the source
  no longer has becomes a "removed" note: its fields are replaced by a notice
  (``templates/anki/removed.html``), it is tagged ``removed``, and for new subscribers it sits
  in the subdeck ``<title>::Удалённые вопросы`` (suspended when imported with learning
  progress). Existing subscribers see the notice
  on the card where it was and can delete ``tag:removed``. The lock keeps removed ids forever,
  so the notice reaches everyone whenever they update; if the id returns, the note is restored.

Migration rule for the note type (read before touching :data:`FIELDS` or :data:`TEMPLATE`).
Anki keeps a note type only while its field and template *names* are unchanged; otherwise it
imports a renamed copy and every existing note becomes "conflicting" (skipped, updates stop).
So: never rename, reorder or delete a field or the template, and never reuse an id. Adding a
field is a migration: append it at the end with a fresh pinned id, announce it, and tell
subscribers to import that one package with "Merge note types" ticked and "Update notes" set
to "Always" (Anki 23.10+; merging matches fields by these ids and marks the notes modified at
import time, so "if newer" would skip the new content). Reviews survive; the subscriber's own
edits to notes are overwritten that once. ``tests/test_anki.py`` plays exactly this.
Renaming the deck title renames nothing for existing subscribers (decks match by name; cards
are never moved): new cards would land in new decks.

Speed: a question's note (fields as HTML, tags, media names, content hash, GUID) is this
target's fragment (:func:`fragment`), computed once per question content and cached by the
build; :func:`render` only assembles the package. Notes stream into the collection one at a
time, and the zip (compressing: most of the remaining time) is reused from the cache
when the collection, media and zip time are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import genanki
import pygments
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)

from pipeline.build.contract import Fragments, LaterFile, OutputFile, RenderContext, Rendered
from pipeline.errors import PipelineError, Pos, Problem
from pipeline.source.model import GRADES, Image, Question
from pipeline.source.validate import read_image
from pipeline.targets.anki.fields import (
    FRAGMENT_VERSION,
    Fragment,
    field_writer,
    highlight_css,
    media_name,
    removed_note,
)
from pipeline.targets.anki.package import DeckSpec, NoteRow, collection_bytes, zip_package

KIND = "anki-deck"
LOCK_SECTION = "anki"

MODEL_ID = 1_607_392_319
MODEL_NAME = "Вопрос с собеседования (Data Science)"
#: Field names and pinned ids, in note order. See the migration rule in the module docstring.
FIELDS: tuple[tuple[str, int], ...] = (
    ("Question", 4_121_800_001),
    ("Answer", 4_121_800_002),
    ("Header", 4_121_800_003),
    ("Grades", 4_121_800_004),
    ("Topics", 4_121_800_005),
    ("Id", 4_121_800_006),
    ("Notice", 4_121_800_007),
)
TEMPLATE: tuple[str, int] = ("Вопрос → ответ", 4_121_800_101)
#: Deck ids are pinned too (Anki matches decks by name, but ids keep the package stable).
DECK_ID = 2_059_400_000
SUBDECK_IDS = {"junior": DECK_ID + 1, "middle": DECK_ID + 2, "senior": DECK_ID + 3}
REMOVED_DECK_ID = DECK_ID + 9
REMOVED_SUBDECK = "Удалённые вопросы"
#: Never change: GUIDs of every subscriber's notes are derived from it.
GUID_NAMESPACE = "ds-interview-pipeline/question/"
#: Note ids: 2010-01-01 UTC in ms plus a hash slot; slots are 10 ms apart (room for card ids).
NOTE_ID_BASE = 1_262_304_000_000
NOTE_ID_SLOTS = 2**35

#: Bump when :func:`~pipeline.render.anki_package.zip_package` changes: zipped decks are reused
#: from the cache by their content (see :func:`_package`).
PACKAGE_FORMAT = 1

#: What an Anki template may reference besides our fields.
_SPECIAL_FIELDS = {"FrontSide", "Tags", "Type", "Deck", "Subdeck", "Card", "CardFlag", "CardID"}
_LEADING_COMMENT = re.compile(r"\A\s*<!--.*?-->", re.S)
_FIELD_REF = re.compile(r"{{\s*([#^/]?)\s*([^{}]*?)\s*}}")


def note_guid(qid: str) -> str:
    """GUID of a question's note: a hash of the namespaced id (never of content)."""
    return str(genanki.guid_for(GUID_NAMESPACE + qid))


def note_ids(qids: list[str]) -> dict[str, int]:
    """Deterministic note ids in the past; a clash moves to the next free slot."""
    taken: set[int] = set()
    out: dict[str, int] = {}
    for qid in sorted(qids):
        digest = hashlib.sha256((GUID_NAMESPACE + qid).encode()).digest()
        slot = int.from_bytes(digest[:8], "big") % NOTE_ID_SLOTS
        while slot in taken:
            slot = (slot + 1) % NOTE_ID_SLOTS
        taken.add(slot)
        out[qid] = NOTE_ID_BASE + slot * 10
    return out


@dataclass(frozen=True, slots=True)
class CardTemplates:
    """The editor's card design from ``templates/anki/``, plus generated code colours."""

    front: str
    back: str
    css: str

    @property
    def digest(self) -> str:
        data = json.dumps(
            [MODEL_NAME, FIELDS, TEMPLATE, self.front, self.back, self.css], ensure_ascii=False
        )
        return hashlib.sha256(data.encode()).hexdigest()[:20]


def fragment(q: Question, ctx: RenderContext) -> Fragment:
    """A question's note (fields, tags, media names, digest, GUID): the per-question work,
    cached by the build (see :mod:`pipeline.render.anki_fields`)."""
    return field_writer(ctx.bank.settings.deck.slug).question(q).fragment(note_guid(q.id))


def fragment_key(ctx: RenderContext) -> str:
    """What a fragment depends on besides the question: the fields' format and code, the deck
    slug (media names) and Pygments (token classes in highlighted code)."""
    data = json.dumps(
        [FRAGMENT_VERSION, FIELDS, ctx.bank.settings.deck.slug, pygments.__version__],
        ensure_ascii=False,
    )
    return hashlib.sha256(data.encode()).hexdigest()[:20]


def render(ctx: RenderContext) -> Rendered:
    """Build the deck; see the module docstring for the rules it keeps.

    Notes are streamed: each note's fields are fetched from the fragments as its row goes
    into the collection and dropped right after, so only the collection is ever whole in
    memory. Each fragment is read once.
    """
    settings = ctx.bank.settings
    folder = ctx.options.templates / "anki"
    env = template_environment(folder)
    design = load_card_templates(env, folder)
    cached: Mapping[str, Fragment] = ctx.fragments.get("anki", {})
    by_id = {q.id: q for q in ctx.bank.questions}
    previous = _lock_entries(ctx.lock.get(LOCK_SECTION))
    removed = sorted(set(previous["notes"]) - set(by_id))
    notice = _render(env, folder, "removed.html", deck_title=settings.deck.title)
    now = ctx.now.astimezone(UTC).replace(microsecond=0)
    model_changed = _stamp(previous["note_type"], design.digest, now)

    published = sorted(
        (q for q, _ in ctx.schedule.until(ctx.options.until).items),
        key=lambda q: (GRADES.index(q.primary_grade), q.index),
    )
    description = _render(
        env,
        folder,
        "description.html",
        deck_title=settings.deck.title,
        channel_name=settings.channel.name,
        channel_url=settings.channel.url,
        question_count=len(published),
    )
    model = note_model(design)
    ids = note_ids([q.id for q in published] + removed)
    changed: dict[str, Stamp] = {}  # question id -> (content hash, changed-at), for the lock
    media: set[str] = set()

    def text_of(qid: str) -> Fragment:
        if qid not in by_id:
            return removed_note(qid, notice).fragment(note_guid(qid))
        try:
            return cached[qid]
        except KeyError:
            return fragment(by_id[qid], ctx)

    def rows(placed: list[tuple[str, int]], suspended: bool) -> Iterator[NoteRow]:
        for qid, due in placed:
            fields, tags, names, digest, guid = text_of(qid)
            stamp = changed[qid] = _stamp(previous["notes"].get(qid), digest, now)
            media.update(names)
            yield NoteRow(ids[qid], guid, int(stamp[1].timestamp()), fields, tags, due, suspended)

    # New-card positions (``due``) run over the whole deck: junior, middle, senior, removed.
    placed: dict[str, list[tuple[str, int]]] = {g: [] for g in (*GRADES, REMOVED_SUBDECK)}
    order = [
        *((q.id, q.primary_grade) for q in published),
        *((qid, REMOVED_SUBDECK) for qid in removed),
    ]
    for due, (qid, where) in enumerate(order, start=1):
        placed[where].append((qid, due))
    if isinstance(cached, Fragments):  # the notes are read deck by deck
        cached.expect(qid for where in placed.values() for qid, _ in where)
    title = settings.deck.title
    decks = [
        DeckSpec(DECK_ID, title, description),
        *(
            DeckSpec(SUBDECK_IDS[g], f"{title}::{g.capitalize()}", notes=rows(placed[g], False))
            for g in GRADES
            if placed[g]
        ),
    ]
    if removed:
        removed_rows = rows(placed[REMOVED_SUBDECK], True)
        decks.append(DeckSpec(REMOVED_DECK_ID, f"{title}::{REMOVED_SUBDECK}", notes=removed_rows))
    collection = collection_bytes(model, int(model_changed[1].timestamp()), decks)
    for q in ctx.bank.questions:  # left out by --until: only their hash, for the lock
        if q.id not in changed:
            changed[q.id] = _stamp(previous["notes"].get(q.id), text_of(q.id)[3], now)
    stamps = [model_changed[1], *(changed[qid][1] for qid in ids)]
    images = _media_images(settings.deck.slug, published, media)
    path, deck_ids = f"anki/{settings.deck.slug}.apkg", tuple(q.id for q in published)
    deck_file = _package(ctx, collection, images, max(stamps), path, deck_ids)
    del collection
    lock = {
        "note_type": _lock_entry(model_changed),
        "notes": {qid: _lock_entry(changed[qid], qid in removed) for qid in sorted(changed)},
    }
    return Rendered(files=[deck_file], lock=lock)


def _media_images(slug: str, questions: list[Question], names: set[str]) -> dict[str, Image]:
    """The images behind the packed media names."""
    known = {media_name(slug, img): img for q in questions for img in q.images}
    return {name: known[name] for name in names}


def _package(
    ctx: RenderContext,
    collection: bytes,
    images: Mapping[str, Image],
    stamp: datetime,
    path: str,
    ids: tuple[str, ...],
) -> OutputFile | LaterFile:
    """The zipped deck, reused from the cache when nothing in it changed.

    Compressing the collection is most of the deck's time; a build in which only other
    outputs changed gets the same collection, media and time, hence the same zip. The key is
    the content itself (collection bytes, media hashes), never a guess about it. A new zip
    is compressed on a thread (zlib releases the GIL) while the other targets render.
    """
    key = hashlib.sha256(collection)
    media = sorted((name, img.digest or _sha256(read_image(img))) for name, img in images.items())
    parts = [PACKAGE_FORMAT, zlib.ZLIB_RUNTIME_VERSION, stamp.isoformat(), media]
    key.update(json.dumps(parts).encode())
    full = f"anki:package\x00{key.hexdigest()}"
    cached = ctx.memo.lookup(full)
    if cached is not None:
        return OutputFile(path, KIND, cached, ids)
    files = {name: read_image(img) for name, img in images.items()}
    pool = ThreadPoolExecutor(1, thread_name_prefix="deck-zip")
    made = pool.submit(zip_package, collection, files, stamp)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return LaterFile(path, KIND, made, ids, partial(ctx.memo.store, full))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def note_model(design: CardTemplates) -> genanki.Model:
    """The note type with pinned ids (fields and template carry Anki's own ``id`` keys)."""
    return genanki.Model(
        MODEL_ID,
        MODEL_NAME,
        fields=[{"name": name, "id": fid} for name, fid in FIELDS],
        templates=[
            {"name": TEMPLATE[0], "id": TEMPLATE[1], "qfmt": design.front, "afmt": design.back}
        ],
        css=design.css,
        sort_field_index=0,
    )


def template_environment(folder: Path) -> Environment:
    """The Jinja environment for the deck's Jinja templates (one per build)."""
    return Environment(
        loader=FileSystemLoader(folder),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=False,
    )


def load_card_templates(env: Environment, folder: Path) -> CardTemplates:
    """Read front/back/CSS (Anki's template language, not Jinja) and check their fields."""
    front, back, css = (
        _source(env, folder, name) for name in ("front.html", "back.html", "card.css")
    )
    problems = [
        *_check_fields(folder / "front.html", front, front=True),
        *_check_fields(folder / "back.html", back, front=False),
    ]
    if problems:
        raise PipelineError(problems)
    # The comment at the top documents the fields for the editor; cards need not carry it.
    front, back = (_LEADING_COMMENT.sub("", text, count=1).strip() + "\n" for text in (front, back))
    return CardTemplates(front, back, f"{css.strip()}\n\n{highlight_css()}\n")


def _source(env: Environment, folder: Path, name: str) -> str:
    assert env.loader is not None
    try:
        return env.loader.get_source(env, name)[0]
    except TemplateNotFound:
        raise PipelineError(
            [
                Problem(
                    Pos(str(folder / name), 1, 1),
                    "",
                    "template not found: the Anki deck needs front.html, "
                    "back.html, card.css, description.html and removed.html "
                    f"in {folder}/",
                )
            ]
        ) from None


def _check_fields(path: Path, text: str, *, front: bool) -> list[Problem]:
    """Every ``{{…}}`` must name a field Anki knows, else the card shows an error."""
    known = {name for name, _ in FIELDS} | _SPECIAL_FIELDS
    problems = []
    for m in _FIELD_REF.finditer(text):
        name = m.group(2).rsplit(":", 1)[-1].strip()
        line = text.count("\n", 0, m.start()) + 1
        col = m.start() - text.rfind("\n", 0, m.start())
        if name not in known or (front and name == "FrontSide"):
            fields = ", ".join(n for n, _ in FIELDS)
            problems.append(
                Problem(
                    Pos(str(path), line, col),
                    "",
                    f"unknown field '{name}' in {m.group(0)}; the note type's fields are {fields}",
                )
            )
    if front and not any(
        m.group(2).rsplit(":", 1)[-1].strip() == "Question" for m in _FIELD_REF.finditer(text)
    ):
        problems.append(
            Problem(Pos(str(path), 1, 1), "", "the front template must show {{Question}}")
        )
    return problems


def _render(env: Environment, folder: Path, name: str, **variables: Any) -> str:
    """A Jinja template of the deck; problems point at the template file."""
    try:
        return env.get_template(name).render(**variables).strip()
    except TemplateNotFound:
        _source(env, folder, name)
        raise
    except TemplateSyntaxError as exc:
        raise PipelineError(
            [Problem(Pos(str(folder / name), exc.lineno, 1), "", f"template error: {exc.message}")]
        ) from None
    except TemplateError as exc:
        raise PipelineError(
            [Problem(Pos(str(folder / name), 1, 1), "", f"template error: {exc}")]
        ) from None


# --- the lock section ---------------------------------------------------------------------

Stamp = tuple[str, datetime]  # content hash, changed-at


def _stamp(previous: Stamp | None, digest: str, now: datetime) -> Stamp:
    """Keep the previous time for unchanged content; otherwise now, strictly later."""
    if previous is None:
        return digest, now
    old_digest, old_time = previous
    if old_digest == digest:
        return previous
    return digest, max(now, old_time + timedelta(seconds=1))


def _lock_entry(stamp: Stamp, removed: bool = False) -> str:
    """``"<hash> <changed>[ removed]"``: one line per note in the committed lock file."""
    entry = f"{stamp[0]} {_format_time(stamp[1])}"
    return f"{entry} removed" if removed else entry


def _lock_entries(section: Any) -> dict[str, Any]:
    """The previous section, tolerant: an unreadable entry counts as new content."""
    notes: dict[str, Stamp] = {}
    note_type: Stamp | None = None
    if isinstance(section, Mapping):
        note_type = _parse_stamp(section.get("note_type"))
        raw = section.get("notes")
        for qid, entry in raw.items() if isinstance(raw, Mapping) else ():
            stamp = _parse_stamp(entry)
            if stamp is not None and isinstance(qid, str):
                notes[qid] = stamp
    return {"notes": notes, "note_type": note_type}


def _parse_stamp(entry: Any) -> Stamp | None:
    parts = entry.split() if isinstance(entry, str) else []
    if len(parts) < 2:
        return None
    when = _parse_time(parts[1])
    return None if when is None else (parts[0], when)


# Most notes share a few change times (those of the builds that added them): parse and
# format each distinct time once.
@lru_cache(maxsize=1024)
def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


@lru_cache(maxsize=1024)
def _format_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
