"""The one sanitising policy for content, applied to every output.

Content (the YAML source, which may come from contributors' pull requests) is untrusted: it
lands in subscribers' Anki apps, mailboxes and Telegram. Templates (``templates/``), the lock
file and the pipeline's own code are trusted. Content is only ever *data*: templates receive it
as variables (autoescaped), never compile it, so ``{{ x }}`` in an answer arrives literally.

**Raw HTML** written in Markdown passes :func:`clean_html`, an allow-list run by nh3 (Rust's
ammonia: a real HTML5 parser, far harder to bypass than regexes):

* tags kept: text formatting (b strong i em u s del ins sub sup mark small kbd code pre br),
  structure (p div span blockquote ul ol li h1-h6 hr table thead tbody tr th td details
  summary) and ``a``/``img``;
* attributes kept: ``a[href title]``, ``img[src alt title width height]``, ``th/td[colspan
  rowspan]``; nothing else: no ``style``, ``class``, ``id``, ``on*`` event handlers;
* URLs: http, https, mailto and relative only (no ``javascript:``, ``data:``, ``file:``, also
  when hidden by entities or control characters); links get ``rel="noopener noreferrer"``;
  a raw ``<img>`` keeps an absolute http(s) or relative ``src``; the parsed tree then holds
  it as an image like Markdown's (checked, packed or published the same way);
* script, style, iframe, object, embed, form, template, noscript, svg, math, textarea and
  select are dropped *with their content*; comments are dropped; any other tag is unwrapped
  (its text kept);
* nesting: at most :data:`MAX_DEPTH` levels (:func:`nesting_depth`); deeper raw HTML is a
  located error (css-inline crashed on 10,000 levels).

What survives becomes ordinary elements of the parsed tree (``pipeline.markup``), which keeps
only its own vocabulary (``TREE_TAGS``/``TREE_ATTRIBUTES``: what an extension such as
md_in_html makes from block HTML is checked there too). Every text of the source loses its
control characters once, as it is read (:func:`clean_controls`).

**Markdown** links and images go through the same URL rule (:func:`safe_url`): a link with
another scheme keeps its text and loses its target. What each output then keeps:

* Anki fields (``pipeline.markup.to_html``): the tree as HTML; the writer adds only
  ``class`` (code language, Pygments tokens, grade/topic badges), ``style`` with
  ``text-align`` on table cells and ``open`` on ``<details>``. Images: local files (and
  fetched remote ones) are packed under a hashed name; anything else shows its alt text,
  linked when it is an http(s) image.
* Digest HTML (``pipeline.targets.digest.html``): links must be absolute http(s) or mailto
  (relative ones resolve against ``newsletter.base_url`` or lose their target); local images
  are published under ``base_url``, fetched remote ones keep their address, others show their
  alt text and link. Styles come only from the template's CSS (inlined by css-inline). The
  plain-text part and ``.txt`` hold visible text only.
* Telegram posts (``pipeline.targets.telegram.text``): the tree reduced to Telegram's set:
  b/strong, i/em, u/ins, s/del/strike, code/kbd, pre, blockquote and ``a href`` for http(s)
  URLs Telegram accepts; block tags become line breaks and bullets, sub/sup Unicode, the rest
  plain text. Text loses what Telegram's Markdown would drop (bidi overrides U+202A-U+202E
  among them), so post and twin match. The desk page embeds only these posts; its JSON
  payload is escaped for ``<script>``.
* Calendar, poll JSON, plain text: text only, no markup.
"""

from __future__ import annotations

import re

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


#: What no reader should get: C0/C1 controls but tab, newline and carriage return (the parse
#: reads \r as a line end), Unicode noncharacters and lone surrogates. Telegram drops them;
#: mail clients and Anki show boxes or cut the text. Every source text passes this once,
#: before it is parsed (:func:`pipeline.markup.parse_markdown`) or written as plain text.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]")


#: Controls that Unicode (and ``str.splitlines``) count as line breaks: they become one, so a
#: one-line setting still refuses them and an answer keeps its lines.
_LINE_BREAKS = re.compile("[\x0b\x0c\x1c-\x1e\x85]")


def clean_controls(text: str) -> str:
    """``text`` without :data:`CONTROLS` (the line-break ones become ``\n``)."""
    if not CONTROLS.search(text):
        return text
    return CONTROLS.sub("", _LINE_BREAKS.sub("\n", text))


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
        attribute_filter=_image_sources,
    )


def _image_sources(tag: str, attribute: str, value: str) -> str | None:
    """A raw ``<img>`` keeps its src when it is an absolute http(s) URL or a relative path:
    the parsed tree treats it as any Markdown image (a local file is checked to lie in the
    content folder, then packed or published; see ``validate``). Anything else is dropped."""
    if tag == "img" and attribute == "src":
        src = value.strip()
        if not (
            re.match(r"https?://", src, re.I) or not re.match(r"[a-z][a-z0-9+.-]*:|//", src, re.I)
        ):
            return None
    return value


def safe_url(url: str) -> bool:
    """True for URLs a writer may emit as a link: http(s), mailto, or relative."""
    scheme, sep, _ = url.strip().partition(":")
    if not sep or "/" in scheme or "?" in scheme or "#" in scheme:
        return True  # relative
    return scheme.lower() in URL_SCHEMES


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
