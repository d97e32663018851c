"""The email's own HTML serialisation of the answer trees (see :mod:`pipeline.markup`).

Email differs from the Anki card enough to need its own writer rather than hooks on
:func:`pipeline.markup.to_html`:

* top-level code blocks become separate *segments*, so the template can give each ``<pre>``
  its own table cell (the one layout every client, Outlook included, keeps); code blocks
  nested in lists or quotes get a one-cell table of their own;
* links and images must be absolute: relative links resolve against ``newsletter.base_url``
  (else the link is dropped, keeping its text), local images are published under that URL and
  SVG/``data:`` images never appear (no client shows them reliably) — the alt text does;
* blockquotes become one-cell tables, because padding only works on ``<td>`` everywhere;
* formulas are Unicode text (:mod:`pipeline.targets.digest.math`): no MathJax in a mailbox;
* raw HTML is cleaned by :mod:`pipeline.markup.sanitize`, then its URLs get the same rules as
  Markdown's and its tables the same class (a second nh3 pass: the allow-list is unchanged).

The output uses tags and a few classes only; the stylesheet in ``templates/digest/`` is
inlined afterwards by css-inline.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import quote, urljoin, urlsplit
from xml.etree.ElementTree import Element

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from pipeline import markup
from pipeline.markup import sanitize
from pipeline.source.model import Image
from pipeline.targets.digest.math import tex_to_text

#: Tabs in code become this many spaces: narrow screens, and clients disagree on tab width.
TAB_WIDTH = 4

_VOID = {"br", "hr", "img"}
_FORMATTER = HtmlFormatter(nowrap=True)


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of answer HTML: flowing text, or one code block (inner HTML of its ``<pre>``)."""

    kind: Literal["flow", "code"]
    html: str
    language: str = ""


class Urls:
    """The digest's URL rules: absolute links, published images, nothing else."""

    def __init__(
        self, base_url: str | None, content_dir: Path, images: Iterable[Image] = ()
    ) -> None:
        self.base = base_url.rstrip("/") + "/" if base_url else None
        self.content_dir = _resolved(content_dir)
        self.local = {img.src: img.path for img in images}
        #: Image sources looked up but not among ``images`` (they took the written path).
        #: A question's fragment is made with its own images only; the digest checks these
        #: against the whole bank's to know the result is the same.
        self.misses: set[str] = set()

    def link(self, href: str) -> str | None:
        """An absolute, safe link target, or None to keep only the link text."""
        href = href.strip()
        if not href or not sanitize.safe_url(href):
            return None
        parts = urlsplit(href)
        if (parts.scheme in ("http", "https") and parts.netloc) or parts.scheme == "mailto":
            return href
        if parts.scheme or href.startswith("#") or self.base is None:
            return None  # an anchor or a relative link with nowhere to point
        return urljoin(self.base, href.lstrip("/"))

    def image(self, src: str) -> str | None:
        """An absolute, non-SVG image URL, or None to show the alt text instead."""
        src = src.strip()
        parts = urlsplit(src)
        if parts.path.lower().endswith((".svg", ".svgz")):
            return None
        if parts.scheme in ("http", "https") and parts.netloc:
            return src if src in self.local else None  # not fetched: its alt text and link
        if parts.scheme or self.base is None:
            return None  # data:, file:, … or a local image without a published location
        path = self.local.get(src)
        if path is None:
            self.misses.add(src)
        if path is not None and _resolved(path).is_relative_to(self.content_dir):
            relative = PurePosixPath(_resolved(path).relative_to(self.content_dir).as_posix())
        else:  # raw HTML images are not in Question.images: trust the written path
            relative = PurePosixPath(parts.path.lstrip("/"))
        return urljoin(self.base, quote(str(relative)))


@lru_cache(maxsize=1024)
def _resolved(path: Path) -> Path:
    """``path.resolve()``, once per path (it asks the file system)."""
    return path.resolve()


def answer_segments(root: Element, urls: Urls) -> list[Segment]:
    """The answer as flow/code segments; top-level ``<pre>`` blocks get their own segment."""
    segments: list[Segment] = []
    flow: list[str] = []
    if root.text and root.text.strip():
        flow.append(html.escape(root.text, quote=False))
    for child in root:
        code = _code_of(child)
        if code is None:
            _write(child, flow, urls)
            continue
        if "".join(flow).strip():
            segments.append(Segment("flow", "".join(flow)))
        flow = []
        text, lang = code
        segments.append(Segment("code", highlight_code(text, lang), lang or ""))
        if child.tail and child.tail.strip():
            flow.append(html.escape(child.tail, quote=False))
    if "".join(flow).strip():
        segments.append(Segment("flow", "".join(flow)))
    return segments


def inline_html(root: Element, urls: Urls) -> str:
    """An inline field (the question text) as HTML, without the enclosing element."""
    out: list[str] = []
    if root.text:
        out.append(html.escape(root.text, quote=False))
    for child in root:
        _write(child, out, urls)
    return "".join(out)


def highlight_code(code: str, lang: str | None) -> str:
    """Inner HTML of a ``<pre>``: Pygments token spans (classes, inlined later) or plain text."""
    code = code.expandtabs(TAB_WIDTH)
    lexer = _lexer(lang.lower()) if lang else None
    if lexer is None:
        return html.escape(code, quote=False)
    # Pygments always ends with a newline; the <pre> must not get an extra empty line.
    return str(highlight(code, lexer, _FORMATTER)).rstrip("\n")


@lru_cache(maxsize=256)
def _lexer(lang: str) -> Lexer | None:
    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def _code_of(el: Element) -> tuple[str, str | None] | None:
    if el.tag != "pre" or len(el) != 1 or el[0].tag != "code":
        return None
    cls = el[0].get("class", "")
    return el[0].text or "", cls.removeprefix("language-") if cls.startswith("language-") else None


def _write(el: Element, out: list[str], urls: Urls) -> None:
    tag = el.tag
    if tag == "math":
        tex = el.text or ""
        converted = tex_to_text(tex)
        block = el.get("display") == "block"
        if converted is None:  # not wholly convertible: the TeX source, as inline code
            source = f"<code>{html.escape(tex.strip(), quote=False)}</code>"
            out.append(f'<span class="math-block">{source}</span>' if block else source)
        else:
            text = html.escape(converted, quote=False)
            out.append(f'<span class="{"math-block" if block else "math"}">{text}</span>')
    elif tag == "img":
        src = urls.image(el.get("src", ""))
        alt = el.get("alt", "")
        if src is None:
            out.append(f'<span class="img-alt">{markup.missing_image(el)}</span>')
        else:
            out.append(f"<img{_attrs({'src': src, 'alt': alt} | markup.image_size(el))}>")
    elif tag == "details":  # mail clients cannot unfold: the summary and the content, shown
        out.append("<div>")
        _children(el, out, urls)
        out.append("</div>")
    elif tag == "summary":
        out.append("<p><b>")
        _children(el, out, urls)
        out.append("</b></p>")
    elif (code := _code_of(el)) is not None:  # a code block inside a list or quote
        out.append(
            '<table role="presentation" class="code-table nested-code" width="100%" '
            'cellpadding="0" cellspacing="0" border="0"><tr><td class="code-cell">'
            f'<pre class="code">{highlight_code(*code)}</pre></td></tr></table>'
        )
    elif tag == "blockquote":
        out.append(
            '<table role="presentation" class="quote" width="100%" cellpadding="0" '
            'cellspacing="0" border="0"><tr><td class="quote-cell">'
        )
        _children(el, out, urls)
        out.append("</td></tr></table>")
    elif tag == "a":
        href = urls.link(el.get("href", ""))
        out.append(f"<a{_attrs({'href': href})}>" if href else '<span class="link">')
        _children(el, out, urls)
        out.append("</a>" if href else "</span>")
    else:
        attrs = {k: v for k, v in el.attrib.items() if k in ("style", "start", "align")}
        if tag == "table":
            attrs = {"class": "data", "cellpadding": "0", "cellspacing": "0"}
        out.append(f"<{tag}{_attrs(attrs)}>")
        if tag not in _VOID:
            _children(el, out, urls)
            out.append(f"</{tag}>")
    if el.tail:
        out.append(html.escape(el.tail, quote=False))


def _children(el: Element, out: list[str], urls: Urls) -> None:
    if el.text:
        out.append(html.escape(el.text, quote=False))
    for child in el:
        _write(child, out, urls)


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in attrs.items())
