"""One question's panes: its card front and back, its Telegram post and quiz, its email block.

Each pane is made from what the build makes of the question (the targets' cached fragments,
the deck's templates, the digest's own renderer), never from a second renderer of the
content, and says which file of ``dist/`` it stands for. Local images point at ``/media/``
(the server serves the source folder's images there) instead of their packed or published
names.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipeline.build.contract import RenderContext
from pipeline.build.keys import folder_digest
from pipeline.preview import documents
from pipeline.preview.cards import CardData, render_side
from pipeline.source.model import Question
from pipeline.targets.anki.fields import media_name
from pipeline.targets.anki.notetype import (
    FIELDS,
    TEMPLATE,
    CardTemplates,
    load_card_templates,
    template_environment,
)
from pipeline.targets.digest.preview import question_email
from pipeline.targets.digest.templates import TEMPLATE_DIR, Templates, load_templates
from pipeline.targets.telegram import limits
from pipeline.targets.telegram.quiz import (
    POLL_EXPLANATION_LIMIT,
    POLL_OPTION_LIMIT,
    POLL_OPTIONS,
    POLL_QUESTION_LIMIT,
)
from pipeline.targets.telegram.spans import utf16_len


@dataclass(frozen=True, slots=True)
class Pane:
    """One pane of the preview (see the server's ``/api/question/<id>``)."""

    kind: str
    title: str
    file: str
    html: str
    parts: int = 1
    counters: tuple[tuple[str, int, int], ...] = ()
    variant: str | None = None
    note: str | None = None  # a warning of the build about this output (not in the JSON)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "file": self.file,
            "html": self.html,
            "parts": self.parts,
            "counters": [{"name": n, "value": v, "limit": lim} for n, v, lim in self.counters],
            "variant": self.variant,
        }


@lru_cache(maxsize=8)
def _card_design(folder: Path, digest: str) -> CardTemplates:
    """The deck's card templates, loaded once per content of their folder (``digest``)."""
    return load_card_templates(template_environment(folder), folder)


@lru_cache(maxsize=8)
def _email_templates(folder: Path, digest: str) -> Templates:
    """The email's templates, loaded once per content of their folder (``digest``)."""
    return load_templates(folder)


def _current(folder: Path) -> tuple[Path, str]:
    return folder, folder_digest(folder)


def media_url(content_dir: Path, path: Path) -> str:
    """Where the server shows a local image: ``/media/`` and its path in the source folder."""
    return "/media/" + quote(path.relative_to(content_dir).as_posix())


def question_panes(
    ctx: RenderContext,
    q: Question,
    number: int,
    week: tuple[str, Sequence[tuple[Question, datetime]]],
) -> list[Pane]:
    """Every pane of question ``q``, number ``number`` in the publishing order (``week``:
    its ISO week's label and questions with their slots).

    ``ctx.fragments`` must hold ``q``'s fragments (and its week's, for the email). Raises
    :class:`~pipeline.errors.PipelineError` for templates the build would refuse.
    """
    content = ctx.bank.content_dir.resolve()
    panes = [*anki_panes(ctx, q, content), telegram_pane(ctx, q, number, content)]
    quiz = quiz_pane(ctx, q, number)
    if quiz is not None:
        panes.append(quiz)
    panes.append(digest_pane(ctx, q, content, week))
    return panes


def anki_panes(ctx: RenderContext, q: Question, content: Path) -> list[Pane]:
    """The card's front and back through the deck's templates (:mod:`pipeline.preview.cards`)."""
    design = _card_design(*_current(ctx.options.template_folder("anki")))
    fields, tags, *_ = ctx.fragments["anki"][q.id]
    slug = ctx.bank.settings.deck.slug
    # Packed names become the images' places in the source folder (names are content hashes:
    # one cannot be a prefix of another inside the quotes).
    for img in q.images:
        packed = f'"{media_name(slug, img)}"'
        url = f'"{media_url(content, img.path)}"'
        fields = tuple(f.replace(packed, url) for f in fields)
    title = ctx.bank.settings.deck.title
    data = CardData(
        dict(zip((name for name, _ in FIELDS), fields, strict=True)),
        tuple(tags),
        f"{title}::{q.primary_grade.capitalize()}",
        TEMPLATE[0],
    )
    front = render_side(design.front, data)
    back = render_side(design.back, data, front)
    file = f"dist/anki/{slug}.apkg"
    return [
        Pane(
            "anki-front",
            "Anki: лицевая сторона",
            file,
            documents.card_document(q.id, design.css, front),
        ),
        Pane("anki-back", "Anki: оборот", file, documents.card_document(q.id, design.css, back)),
    ]


def _stem(ctx: RenderContext, q: Question, number: int) -> str:
    """``NNN-id``: the post's file stem (its number as wide as the build writes it)."""
    width = max(3, len(str(len(ctx.schedule.items))))
    return f"telegram/{number:0{width}d}-{q.id}"


def telegram_pane(ctx: RenderContext, q: Question, number: int, content: Path) -> Pane:
    """Every message of the post, as the bot sends it, with its measures against the limits."""
    stem = _stem(ctx, q, number)
    data = ctx.fragments["telegram"][q.id]
    if "error" in data:
        text = "Шаблон поста не сработал: см. ошибки"
        return Pane(
            "telegram", "Telegram", f"dist/{stem}.html", documents.notice_document(q.id, text)
        )
    desk = json.loads(data["desk"])
    count = len(desk["parts"])
    parts = []
    counters: list[tuple[str, int, int]] = []
    for k, part in enumerate(desk["parts"], start=1):
        photo = part["photo"]
        url = media_url(content, q.images[photo - 1].path) if photo else None
        size = len(part["html"].encode("utf-8"))
        label = f" {k}/{count}" if count > 1 else ""
        counters += [
            (f"символы{label}", part["length"], part["limit"]),
            (f"сущности{label}", part["entities"], limits.ENTITY_LIMIT),
            (f"байты HTML{label}", size, limits.HTML_BYTES_LIMIT),
        ]
        measures = f"{part['length']}/{part['limit']} · {part['entities']}/{limits.ENTITY_LIMIT}"
        parts.append((part["html"], url, measures))
    return Pane(
        "telegram",
        "Telegram",
        f"dist/{stem}.html",
        documents.post_document(q.id, parts),
        count,
        tuple(counters),
    )


def quiz_pane(ctx: RenderContext, q: Question, number: int) -> Pane | None:
    """The quiz poll as sent (``sendPoll``), or None when the question has no quiz."""
    if q.quiz is None:
        return None
    file = f"dist/{_stem(ctx, q, number)}.poll.json"
    poll = ctx.fragments["telegram"][q.id].get("poll")
    if poll is None:
        text = "Telegram не примет этот квиз: см. ошибки"
        return Pane("quiz", "Квиз", file, documents.notice_document(q.id, text))
    options = [o["text"] for o in poll["options"]]
    explanation = poll.get("explanation")
    counters = (
        ("вопрос", utf16_len(poll["question"]), POLL_QUESTION_LIMIT),
        ("варианты", len(options), POLL_OPTIONS[1]),
        ("самый длинный вариант", max(utf16_len(o) for o in options), POLL_OPTION_LIMIT),
        ("пояснение", utf16_len(explanation or ""), POLL_EXPLANATION_LIMIT),
    )
    document = documents.quiz_document(
        q.id, poll["question"], options, poll["correct_option_id"], explanation
    )
    return Pane("quiz", "Квиз", file, document, 1, counters)


def digest_pane(
    ctx: RenderContext,
    q: Question,
    content: Path,
    week: tuple[str, Sequence[tuple[Question, datetime]]],
) -> Pane:
    """The question's block in its week's email; the images shown from the source folder."""
    templates = _email_templates(*_current(ctx.options.template_folder(TEMPLATE_DIR)))
    block = question_email(ctx, q, templates, week)
    page = block.html
    for img in q.images:
        published = block.urls.image(img.src)
        if published:
            page = page.replace(
                f'src="{html.escape(published)}"', f'src="{media_url(content, img.path)}"'
            )
    file = f"dist/digest/{block.name}.html"
    return Pane("digest", "Дайджест", file, page, variant=block.name, note=block.note)
