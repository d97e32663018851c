"""The deck's note type and the templates in ``templates/anki/``.

The note type (:func:`note_model`) has pinned ids for itself, its fields (:data:`FIELDS`) and
its one template (:data:`TEMPLATE`); its card design (front, back, CSS: Anki's own template
language) is read from the editor's ``templates/anki/`` and checked here, so a typo in a
field name is a located error at build time instead of a broken card on a phone. The deck's
description and the notice of a removed question are Jinja templates of the same folder
(:func:`render_template`).

Migration rule for the note type (read before touching :data:`FIELDS` or :data:`TEMPLATE`).
Anki keeps a note type only while its field and template *names* are unchanged; otherwise it
imports a renamed copy and every existing note becomes "conflicting" (skipped, updates stop).
So: never rename, reorder or delete a field or the template, and never reuse an id. Adding a
field is a migration: append it at the end with a fresh pinned id, announce it, and tell
subscribers to import that one package with "Merge note types" ticked and "Update notes" set
to "Always" (Anki 23.10+; merging matches fields by these ids and marks the notes modified at
import time, so "if newer" would skip the new content). Reviews survive; the subscriber's own
edits to notes are overwritten that once. ``tests/targets/anki/test_anki.py`` plays exactly this.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import genanki
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)

from pipeline.errors import PipelineError, Pos, Problem
from pipeline.targets.anki.fields import highlight_css

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

#: What an Anki template may reference besides our fields.
_SPECIAL_FIELDS = {"FrontSide", "Tags", "Type", "Deck", "Subdeck", "Card", "CardFlag", "CardID"}
_LEADING_COMMENT = re.compile(r"\A\s*<!--.*?-->", re.S)
_FIELD_REF = re.compile(r"{{\s*([#^/]?)\s*([^{}]*?)\s*}}")


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


class _Loader(FileSystemLoader):
    """The deck's folder, and where else it was looked for (for "template not found")."""

    def __init__(self, folder: Path, searched: str) -> None:
        super().__init__(folder)
        self.searched = searched


def template_environment(folder: Path, searched: str = "") -> Environment:
    """The Jinja environment for the deck's Jinja templates (one per build).

    ``searched``: the templates' look-up order (``BuildOptions.template_search``), shown when
    a file is missing."""
    return Environment(
        loader=_Loader(folder, searched),
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


def render_template(env: Environment, folder: Path, name: str, **variables: Any) -> str:
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


def _source(env: Environment, folder: Path, name: str) -> str:
    assert env.loader is not None
    try:
        return env.loader.get_source(env, name)[0]
    except TemplateNotFound:
        searched = env.loader.searched if isinstance(env.loader, _Loader) else ""
        raise PipelineError(
            [
                Problem(
                    Pos(str(folder / name), 1, 1),
                    "",
                    "template not found: the Anki deck needs front.html, "
                    "back.html, card.css, description.html and removed.html "
                    f"in {folder}/" + (f" ({searched})" if searched else ""),
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
