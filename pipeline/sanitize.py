"""The one sanitising policy for raw HTML written in the source, applied to every output.

Raw HTML may come from contributors' pull requests and lands in subscribers' Anki apps and
mailboxes, so it passes an allow-list (nh3, a binding to Rust's ammonia: a real HTML5 parser,
maintained, and far harder to bypass than regexes):

* tags kept: text formatting (b strong i em u s del ins sub sup mark small kbd code pre br),
  structure (p div span blockquote ul ol li h1-h6 hr table thead tbody tr th td details
  summary) and ``a``/``img``;
* attributes kept: ``a[href title]``, ``img[src alt title width height]``, ``th/td[colspan
  rowspan]``; nothing else: no ``style``, ``class``, ``on*`` event handlers, ``id``;
* URLs: http, https and mailto only (no ``javascript:``, ``data:``); links get
  ``rel="noopener noreferrer"``;
* script, style, iframe, object, embed, form and their content are dropped entirely.

Telegram accepts far fewer tags; its writer reduces the cleaned HTML further to Telegram's set.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "s",
        "del",
        "ins",
        "sub",
        "sup",
        "mark",
        "small",
        "kbd",
        "code",
        "pre",
        "br",
        "p",
        "div",
        "span",
        "blockquote",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "details",
        "summary",
        "img",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
DROPPED_WITH_CONTENT = frozenset(
    {
        "script",
        "style",
        "iframe",
        "object",
        "embed",
        "form",
        "template",
        "noscript",
        "svg",
        "math",
        "textarea",
        "select",
    }
)


def clean_html(fragment: str) -> str:
    """Raw HTML from the source -> HTML that can only format, never act."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def safe_url(url: str) -> bool:
    """True for URLs a writer may emit as a link: http(s), mailto, or relative."""
    scheme, sep, _ = url.strip().partition(":")
    if not sep or "/" in scheme or "?" in scheme or "#" in scheme:
        return True  # relative
    return scheme.lower() in URL_SCHEMES


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(fragment: str) -> str:
    """The text a reader would see of a raw HTML fragment, after sanitising."""
    parser = _Text()
    parser.feed(clean_html(fragment))
    parser.close()
    return html.unescape("".join(parser.parts)) if not parser.parts else "".join(parser.parts)


#: Raw HTML may nest at most this deep once sanitised. css-inline (Rust, the digest) overflows
#: its stack and kills the whole build near 10,000 levels; no real answer comes close.
MAX_DEPTH = 100
_TAG_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>")
_VOID = frozenset({"br", "hr", "img", "wbr"})


def nesting_depth(fragment: str) -> int:
    """How deep the elements of a raw HTML fragment nest as every output sees them: measured
    on the sanitised HTML, which is well-formed and escapes ``<`` in text."""
    depth = deepest = 0
    for m in _TAG_TOKEN.finditer(clean_html(fragment)):
        if m.group(2).lower() in _VOID:
            continue
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest
