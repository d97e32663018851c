"""The Anki target: ``dist/anki/<deck.slug>.apkg``, safe to re-import forever.

Subscribers import every new package over the previous one. Anki's importer matches notes by
GUID, updates a note only when the incoming ``mod`` is newer, never touches existing cards
(reviews, deck placement) and matches the note type by id and schema. So:

* GUIDs, note and deck ids are pinned, and notes are placed by grade
  (:mod:`~pipeline.targets.anki.deck`);
* a note's ``mod`` is the moment its rendered content last changed, kept in this target's
  lock section (:mod:`~pipeline.targets.anki.lock`); an unchanged source leaves the lock and
  the package byte-identical, so a subscriber's own edits to unchanged notes (newer ``mod``)
  survive re-import;
* the note type never renames a field or its template (the migration rule in
  :mod:`~pipeline.targets.anki.notetype`);
* questions a build leaves out with ``--until`` are simply not packed (the lock still covers
  them);
* Anki cannot delete by import: an id the lock remembers but the source no longer has becomes
  a "removed" note: its fields are replaced by a notice (``templates/anki/removed.html``), it
  is tagged ``removed``, and for new subscribers it sits suspended in a subdeck of its own.
  Existing subscribers see the notice on the card where it was and can delete
  ``tag:removed``. The lock keeps removed ids forever, so the notice reaches everyone whenever
  they update; if the id returns, the note is restored.

Speed: a question's note (fields as HTML, tags, media names, content hash, GUID) is this
target's fragment (:func:`fragment`, written by :mod:`~pipeline.targets.anki.fields`),
computed once per question content and cached by the build; :func:`render` only assembles
the package (:mod:`~pipeline.targets.anki.package`). Notes stream into the collection one at
a time, and the zip (compressing: most of the remaining time) is reused from the cache when
the collection, media and zip time are unchanged.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial

from pipeline.build.contract import Fragments, LaterFile, OutputFile, RenderContext, Rendered
from pipeline.build.keys import memo_key
from pipeline.source.images import read_image
from pipeline.source.model import GRADES, Image, Question
from pipeline.targets.anki.deck import Placed, deck_tree, note_guid, note_ids, placement
from pipeline.targets.anki.fields import (
    Fragment,
    field_writer,
    media_name,
    removed_note,
)
from pipeline.targets.anki.lock import Stamp, lock_section, read_section, stamp_for
from pipeline.targets.anki.notetype import (
    load_card_templates,
    note_model,
    render_template,
    template_environment,
)
from pipeline.targets.anki.package import NoteRow, collection_bytes, zip_package

KIND = "anki-deck"
LOCK_SECTION = "anki"


def fragment(q: Question, ctx: RenderContext) -> Fragment:
    """A question's note (fields, tags, media names, digest, GUID): the per-question work,
    cached by the build (see :mod:`pipeline.targets.anki.fields`)."""
    return field_writer(ctx.bank.settings.deck.slug).question(q).fragment(note_guid(q.id))


def render(ctx: RenderContext) -> Rendered:
    """Build the deck; see the module docstring for the rules it keeps.

    Notes are streamed: each note's fields are fetched from the fragments as its row goes
    into the collection and dropped right after, so only the collection is ever whole in
    memory. Each fragment is read once.
    """
    settings = ctx.bank.settings
    title = settings.deck.title
    folder = ctx.options.template_folder("anki")
    env = template_environment(folder, ctx.options.template_search("anki"))
    design = load_card_templates(env, folder)
    cached: Mapping[str, Fragment] = ctx.fragments.get("anki", {})
    by_id = {q.id: q for q in ctx.bank.questions}
    previous = read_section(ctx.lock.get(LOCK_SECTION))
    removed = sorted(set(previous["notes"]) - set(by_id))
    notice = render_template(env, folder, "removed.html", deck_title=title)
    now = ctx.now.astimezone(UTC).replace(microsecond=0)
    model_changed = stamp_for(previous["note_type"], design.digest, now)
    published = sorted(
        (q for q, _ in ctx.schedule.until(ctx.options.until).items),
        key=lambda q: (GRADES.index(q.primary_grade), q.index),
    )
    channel = settings.channel
    description = render_template(
        env,
        folder,
        "description.html",
        deck_title=title,
        channel_name=channel.name,
        channel_url=channel.url,
        question_count=len(published),
    )
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

    def rows(placed: Placed, suspended: bool) -> Iterator[NoteRow]:
        for qid, due in placed:
            fields, tags, names, digest, guid = text_of(qid)
            stamp = changed[qid] = stamp_for(previous["notes"].get(qid), digest, now)
            media.update(names)
            yield NoteRow(ids[qid], guid, int(stamp[1].timestamp()), fields, tags, due, suspended)

    placed = placement(published, removed)
    if isinstance(cached, Fragments):  # the notes are read deck by deck
        cached.expect(qid for where in placed.values() for qid, _ in where)
    decks = deck_tree(title, description, placed, rows)
    collection = collection_bytes(note_model(design), int(model_changed[1].timestamp()), decks)
    for q in ctx.bank.questions:  # left out by --until: only their hash, for the lock
        if q.id not in changed:
            changed[q.id] = stamp_for(previous["notes"].get(q.id), text_of(q.id)[3], now)
    stamps = [model_changed[1], *(changed[qid][1] for qid in ids)]
    images = _media_images(settings.deck.slug, published, media)
    path, deck_ids = f"anki/{settings.deck.slug}.apkg", tuple(q.id for q in published)
    deck_file = _package(ctx, collection, images, max(stamps), path, deck_ids)
    del collection
    return Rendered(files=[deck_file], lock=lock_section(model_changed, changed, set(removed)))


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
    media = sorted((name, img.digest or _sha256(read_image(img))) for name, img in images.items())
    full = memo_key("anki:package", _sha256(collection), zlib.ZLIB_RUNTIME_VERSION, stamp, media)
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
