"""Note fields for the Anki deck: each question's parsed Markdown written as card HTML.

This is the deck's per-question work (the target's *fragment*, cached between builds): one
:class:`FieldWriter` per process holds what is costly to build (the Pygments formatter, lexers by
name), so a 10,000-question bank pays for it once. Per question it serialises the shared tree
with :func:`pipeline.markup.to_html` and three hooks:

* code blocks are highlighted at build time with Pygments into ``<span class="k">`` tokens; the
  colours for light and night mode come from :func:`highlight_css`, so cards need no
  JavaScript and no network (phones study offline);
* math stays ``\\(…\\)`` / ``\\[…\\]`` (:func:`pipeline.markup.mathjax`): Anki's own MathJax
  renders it;
* local images are packed into the deck under a flat, content-hashed name (see
  :func:`media_name`; the hash is the validator's :attr:`pipeline.source.model.Image.digest`,
  so fields never read image files) and ``src`` is rewritten to it; http(s) images stay
  links. Only packing the deck reads the bytes (:func:`pipeline.source.images.read_image`).

Raw HTML from the source is cleaned by :mod:`pipeline.markup.sanitize` inside ``to_html``: one
policy for every output.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from functools import lru_cache
from xml.etree.ElementTree import Element

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from pipeline import markup
from pipeline.source.images import read_image
from pipeline.source.model import Image, Question

#: Pygments styles for code on a light card and in night mode.
LIGHT_STYLE = "default"
NIGHT_STYLE = "github-dark"
#: Anki desktop marks night mode with ``.nightMode``; AnkiDroid with ``.night_mode``.
NIGHT_SELECTORS = (".nightMode", ".night_mode")
_CODE = "pre > code"
_SAFE_EXT = re.compile(r"^\.[a-z0-9]{1,8}$")
#: Anki's separator between a note's fields: never inside one.
FIELD_SEPARATOR = "\x1f"

#: A note's fields, tags, media names, content digest and GUID, as the cache stores them.
Fragment = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str, str]


@dataclass(frozen=True, slots=True)
class NoteText:
    """What one note shows: its fields in the note type's order, its tags, its media."""

    fields: tuple[str, ...]
    tags: tuple[str, ...]
    media: tuple[str, ...]  # packed file names the fields reference

    @property
    def digest(self) -> str:
        """Content hash: what decides whether the note's ``mod`` moves (see the lock)."""
        data = "\x1e".join(["\x1f".join(self.fields), " ".join(self.tags)])
        return hashlib.sha256(data.encode()).hexdigest()[:20]

    def fragment(self, guid: str) -> Fragment:
        """Plain data for the build's fragment cache: fields, tags, media, digest, and the
        note's GUID (given: it depends on the question id only)."""
        return self.fields, self.tags, self.media, self.digest, guid


def highlight_css() -> str:
    """Token colours for both modes; night selectors win by specificity."""
    # Pygments' stubs leave get_token_style_defs untyped; it returns a list of CSS lines.
    light = HtmlFormatter(style=LIGHT_STYLE).get_token_style_defs(_CODE)  # type: ignore[no-untyped-call]
    night = HtmlFormatter(style=NIGHT_STYLE).get_token_style_defs(  # type: ignore[no-untyped-call]
        [f"{night} {_CODE}" for night in NIGHT_SELECTORS]
    )
    return "\n".join(["/* Code colours (Pygments, generated at build time) */", *light, *night])


@lru_cache(maxsize=256)
def _lexer(lang: str) -> Lexer | None:
    # stripnl=False: leading blank lines in a code block are the author's
    try:
        return get_lexer_by_name(lang, stripnl=False)
    except ClassNotFound:
        return None


def media_name(slug: str, image: Image) -> str:
    """``<slug>-<sha256 prefix><ext>``: flat, short, safe, and new whenever bytes change.

    Anki never overwrites a same-named media file with different bytes (it renames the
    incoming one), so the name must change with the content. The hash is the one validation
    computed (:attr:`Image.digest`); only an image made without it is read here.
    """
    digest = image.digest or hashlib.sha256(read_image(image)).hexdigest()
    ext = image.path.suffix.lower()
    ext = ext if _SAFE_EXT.match(ext) else ".bin"
    return f"{slug}-{digest[:16]}{ext}"


class FieldWriter:
    """Writes questions as note fields; one per process is enough (see :func:`field_writer`)."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.formatter = HtmlFormatter(nowrap=True)

    def code_block(self, code: str, lang: str | None) -> str:
        """Inner HTML of ``<pre><code>``: Pygments tokens, or escaped text for unknown
        languages."""
        lexer = _lexer(lang.lower()) if lang else None
        if lexer is None:
            return html.escape(code, quote=False)
        out = str(highlight(code, lexer, self.formatter))
        return out[:-1] if out.endswith("\n") and not code.endswith("\n") else out

    def html(self, root: Element, images: dict[str, str], used: list[str]) -> str:
        """One tree as HTML; ``images`` maps a local ``src`` to its packed name, and names
        actually referenced are appended to ``used``."""

        def image_src(src: str) -> str | None:
            name = images.get(src)
            if name is not None:
                used.append(name)
            return name  # remote images are packed when fetched, else shown as a link

        return markup.to_html(root, image_src=image_src, code_block=self.code_block)

    def question(self, q: Question) -> NoteText:
        """Fields (in the order of :data:`pipeline.targets.anki.notetype.FIELDS`) and tags of a
        live question."""
        images = {img.src: media_name(self.slug, img) for img in q.images}
        used: list[str] = []
        title = self.html(markup.inline_children(q.title_doc), images, used)
        answer = self.html(q.doc, images, used)
        grades = "".join(f'<span class="grade grade-{g}">{g.capitalize()}</span>' for g in q.grades)
        topics = "".join(f'<span class="topic">#{html.escape(t)}</span>' for t in q.tags)
        fields = (
            title,
            answer,
            html.escape(q.header or "", quote=False),
            grades,
            topics,
            html.escape(q.id, quote=False),
            "",
        )
        tags = (*(f"grade::{g}" for g in q.grades), *(f"topic::{t}" for t in q.tags))
        return NoteText(_fields(fields), tags, tuple(dict.fromkeys(used)))


@lru_cache(maxsize=8)
def field_writer(slug: str) -> FieldWriter:
    """The process's writer for a deck slug: built once, reused for every question."""
    return FieldWriter(slug)


def removed_note(qid: str, notice: str) -> NoteText:
    """The note that replaces a question deleted from the source (see the deck's README)."""
    escaped = html.escape(qid, quote=False)
    fields = (f'<span class="removed-id">{escaped}</span>', "", "", "", "", escaped, notice)
    return NoteText(_fields(fields), ("removed",), ())


def _fields(fields: tuple[str, ...]) -> tuple[str, ...]:
    """Fields as Anki can store them: it joins a note's fields with U+001F, so that control
    character (invisible on a card anyway) would split a field in two and break the note."""
    return tuple(f.replace(FIELD_SEPARATOR, "") for f in fields)
