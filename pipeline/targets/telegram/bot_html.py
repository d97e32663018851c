"""Spans -> Bot API HTML (``parse_mode=HTML``) and back to its visible text.

:func:`to_html` writes the post a bot sends and counts the entities Telegram will make of
it; :func:`visible_text` reads such HTML back as the text Telegram shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.targets.telegram.spans import SPLITTABLE, Span

_OPEN = {"b": "<b>", "i": "<i>", "u": "<u>", "s": "<s>", "spoiler": "<tg-spoiler>"}
_CLOSE = {"b": "</b>", "i": "</i>", "u": "</u>", "s": "</s>", "spoiler": "</tg-spoiler>"}


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return _esc(text).replace('"', "&quot;")


def to_html(spans: Sequence[Span]) -> tuple[str, int]:
    """Bot API HTML and the number of entities Telegram will make of it."""
    out: list[str] = []
    stack: list[str] = []  # open inline tags, outermost first ("a" carries its href below)
    stack_href: str | None = None
    quote = 0
    count = 0

    def close_to(n: int) -> None:
        nonlocal stack_href
        while len(stack) > n:
            tag = stack.pop()
            out.append("</a>" if tag == "a" else "</code>" if tag == "code" else _CLOSE[tag])
            if tag == "a":
                stack_href = None

    for s in spans:
        if s.quote != quote:
            close_to(0)
            if quote:
                out.append("</blockquote>")
            if s.quote:
                out.append("<blockquote>")
                count += 1
            quote = s.quote
        if s.pre is not None:
            close_to(0)
            lang = f' class="language-{_attr(s.pre)}"' if s.pre else ""
            out.append(
                f"<pre><code{lang}>{_esc(s.text)}</code></pre>"
                if s.pre
                else f"<pre>{_esc(s.text)}</pre>"
            )
            count += 1
            continue
        # A link is the outermost tag so that it stays one entity (one tap target) even
        # when the formatting inside it changes.
        wanted = (["a"] if s.href else []) + [m for m in SPLITTABLE if m in s.marks]
        if "code" in s.marks:
            wanted.append("code")
        keep = 0
        while (
            keep < len(stack)
            and keep < len(wanted)
            and stack[keep] == wanted[keep]
            and (stack[keep] != "a" or stack_href == s.href)
        ):
            keep += 1
        close_to(keep)
        for tag in wanted[keep:]:
            if tag == "a":
                out.append(f'<a href="{_attr(s.href or "")}">')
                stack_href = s.href
            else:
                out.append("<code>" if tag == "code" else _OPEN[tag])
            stack.append(tag)
            count += 1
        out.append(_esc(s.text))
    close_to(0)
    if quote:
        out.append("</blockquote>")
    return "".join(out), count


_ENTITY = re.compile("&(lt|gt|quot|amp);")
_ENTITIES = {"lt": "<", "gt": ">", "quot": '"', "amp": "&"}
_TAG = re.compile("<[^>]*>")


def visible_text(html: str) -> str:
    """The text of Telegram HTML as written by :func:`to_html`: tags dropped, entities read.

    The desk derives each post's text/plain this same way (in JavaScript), so the text is not
    embedded twice; where it would differ, the fragment keeps the text itself.
    """
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], _TAG.sub("", html))
