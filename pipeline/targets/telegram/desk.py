"""The posting desk (``index.html``): every post with its slot, length and Copy buttons.

The page comes from ``templates/telegram/desk.html.j2``; each post's HTML and Markdown are
embedded once, in one JSON list, and the page's script builds the posts and copies from
there. A post's own data is made with its fragment (:func:`desk_data`); its place (number,
time, file names) is added when the page is assembled (:func:`desk_entry`, :func:`desk_page`).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from jinja2 import Template
from markupsafe import Markup

from pipeline.build.contract import RenderContext
from pipeline.source.model import Question
from pipeline.targets.telegram.messages import Part, Post

WEEKDAYS_RU = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")


def desk_data(
    q: Question,
    title: str,
    parts: list[Part],
    texts: list[str | None],
    poll: dict[str, Any] | None,
) -> bytes:
    """A post's data for the desk, as JSON safe in the page's script: its text, each message's
    HTML, Markdown and measures (``texts``: each message's text/plain when it is not the HTML's
    visible text, else None), the quiz poll."""
    desk = {
        "id": q.id,
        "title": title,
        "grades": list(q.grades),
        "parts": [
            {"html": p.html, "markdown": p.markdown}
            | ({} if text is None else {"text": text})
            | {"length": p.length, "limit": limit, "entities": p.entities, "photo": photo}
            for (p, limit, photo), text in zip(parts, texts, strict=True)
        ],
        "poll": None
        if poll is None
        else {
            "question": poll["question"],
            "options": [o["text"] for o in poll["options"]],
            "correct": poll["correct_option_id"],
            "explanation": poll.get("explanation"),
        },
    }
    return _script_json(desk)


def _script_json(value: Any) -> bytes:
    """Compact JSON, UTF-8, safe inside ``<script>``: no ``<``, ``>`` or ``&`` left raw."""
    return _script_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def _script_safe(data: bytes) -> bytes:
    """JSON text made safe inside ``<script>``.

    Only "</" could end the element; escape it and the other HTML-significant characters
    (JSON reads ``\\u003c`` as ``<``).
    """
    return data.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def _when(at: datetime) -> str:
    return f"{WEEKDAYS_RU[at.weekday()]} {at:%d.%m.%Y %H:%M}"


def desk_entry(post: Post) -> bytes:
    """One post in the desk's JSON: its place (number, time, file names) and its fragment's
    desk data (text, HTML, Markdown, measures, poll), which is already JSON."""
    # Written by hand rather than with json.dumps: this runs once per post on every build.
    stems = ",".join(map(_json_str, post.stems))
    photos = ",".join(map(_json_str, post.photos))
    poll = _json_str(post.poll_file) if post.poll_file else "null"
    place = (
        f'{{"number":{post.number},"when":{_json_str(_when(post.at))},'
        f'"iso":{_json_str(post.at.isoformat())},"stems":[{stems}],"photos":[{photos}],'
        f'"poll_file":{poll},"post":'
    )
    desk: bytes = post.data["desk"]
    return _script_safe(place.encode()) + desk + b"}"


#: A JSON string literal, non-ASCII kept: the encoder's own method (``json.dumps`` builds an
#: encoder per call, five times slower over the desk's 50,000 strings at 10,000 posts).
_json_str = json.JSONEncoder(ensure_ascii=False).encode


def desk_page(ctx: RenderContext, template: Template, entries: list[bytes]) -> bytes:
    """The posting desk: the template's page with the posts' JSON spliced in as bytes."""
    settings = ctx.bank.settings
    # The JSON is the bulk of the page: it goes in as bytes, after the template has run, so
    # the page is never held as text as well. The marker never reaches the output.
    marker = f"\ufdd0posts-{secrets.token_hex(16)}\ufdd1"
    page = template.render(
        channel=settings.channel,
        timezone=settings.schedule.timezone,
        count=len(entries),
        posts=Markup(marker),
    )
    pieces = [piece.encode() for piece in page.split(marker)]
    del page
    # One join of references: the page is the only new copy of the posts' bytes.
    data = [b"["]
    for k, entry in enumerate(entries):
        data += (b",", entry) if k else (entry,)
    data.append(b"]")
    out: list[bytes] = []
    for i, piece in enumerate(pieces):
        if i:
            out.extend(data)
        out.append(piece)
    return b"".join(out)
