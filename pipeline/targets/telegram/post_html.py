"""A post template's output (Telegram HTML) -> spans, with pre-built content spliced in.

Templates stay editable HTML: they receive a :func:`placeholder` for the question and the
answer, and :func:`parse_post_html` reads what they produce strictly (Telegram's tag set
only, every tag closed), then splices the spans made from the source in at the placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from html.parser import HTMLParser
from typing import ClassVar

from pipeline.targets.telegram.spans import (
    CODE_LANGUAGE,
    FORMAT_TAGS,
    QuoteIds,
    Span,
    clean_text,
    link_target,
    merge,
    strip_spans,
)


class TemplateError(ValueError):
    """A template produced something Telegram would refuse (a tag it does not know)."""


class _PostParser(HTMLParser):
    """Strict reader of Telegram HTML, whitespace kept as Telegram keeps it."""

    _MARK: ClassVar[dict[str, str]] = {**FORMAT_TAGS, "tg-spoiler": "spoiler"}

    def __init__(self, slots: Mapping[str, list[Span]], next_quote: Callable[[], int]) -> None:
        super().__init__(convert_charrefs=True)
        self.slots = slots
        self.next_quote = next_quote
        self.stack: list[tuple[str, frozenset[str], str | None, int, str | None]] = []
        self.marks: frozenset[str] = frozenset()
        self.href: str | None = None
        self.quote = 0
        self.pre: str | None = None
        self.spans: list[Span] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        self.stack.append((tag, self.marks, self.href, self.quote, self.pre))
        if tag in self._MARK or (tag == "span" and attr.get("class") == "tg-spoiler"):
            self.marks = self.marks | {self._MARK.get(tag, "spoiler")}
        elif tag == "a":
            self.href = link_target(attr.get("href") or "")
        elif tag == "code":
            cls = attr.get("class") or ""
            if self.pre is not None and cls.startswith("language-"):
                lang = cls.removeprefix("language-")
                self.pre = lang if CODE_LANGUAGE.match(lang) else ""
            elif self.pre is None:
                self.marks = self.marks | {"code"}
        elif tag == "pre":
            self.pre = ""
        elif tag == "blockquote":
            self.quote = self.quote or self.next_quote()
        else:
            raise TemplateError(
                f"<{tag}> is not a tag Telegram accepts (allowed: b, strong, "
                "i, em, u, ins, s, strike, del, tg-spoiler, span "
                'class="tg-spoiler", a, code, pre, blockquote)'
            )

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            raise TemplateError(f"</{tag}> closes a tag that is not open")
        _, self.marks, self.href, self.quote, self.pre = self.stack.pop()

    def handle_data(self, data: str) -> None:
        for i, piece in enumerate(_PLACEHOLDER.split(data)):
            if i % 2:
                self.spans.extend(self._splice(self.slots[piece]))
            elif piece:
                self.spans.append(
                    Span(clean_text(piece), self.marks, self.href, pre=self.pre, quote=self.quote)
                )

    def _splice(self, spans: list[Span]) -> list[Span]:
        if not (self.marks or self.href or self.quote or self.pre is not None):
            return spans
        remap: dict[int, int] = {}
        out = []
        for s in spans:
            quote = self.quote or (remap.setdefault(s.quote, self.next_quote()) if s.quote else 0)
            pre = self.pre if self.pre is not None and s.pre is None else s.pre
            out.append(Span(s.text, s.marks | self.marks, s.href or self.href, pre, quote))
        return out


_PLACEHOLDER = re.compile("\ufdd0([a-z_]+)\ufdd1")


def placeholder(name: str) -> str:
    """The marker a template receives instead of pre-built content ``name``."""
    return f"\ufdd0{name}\ufdd1"


def parse_post_html(text: str, slots: Mapping[str, list[Span]]) -> list[Span]:
    """A rendered post template -> spans, with ``slots`` spliced in at their placeholders."""
    parser = _PostParser(slots, QuoteIds())
    parser.feed(text)
    parser.close()
    if parser.stack:
        raise TemplateError(f"<{parser.stack[-1][0]}> is never closed")
    return merge(strip_spans(parser.spans))
