"""The tree as HTML (:func:`to_html`): the serialiser the Anki deck and the email digest share.

Each output passes its own hooks: where an image's ``src`` points (or None: the image is shown
as :func:`missing_image`), how a code block is highlighted and how math is written (default
:func:`mathjax`). Element text is escaped here; ``<details>`` is shown open; a link whose
``href`` is not safe loses it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from xml.etree.ElementTree import Element

from pipeline.markup import sanitize
from pipeline.markup.tree import image_size

_VOID = {"br", "hr", "img"}


def to_html(
    root: Element,
    *,
    image_src: Callable[[str], str | None],
    code_block: Callable[[str, str | None], str] | None = None,
    math: Callable[[str, bool], str] | None = None,
) -> str:
    """Serialise the tree as HTML.

    ``image_src`` maps a Markdown image src to the URL to emit, or None to show its alt text.
    ``code_block(code, lang)`` returns the inner HTML of a ``<pre><code>`` (highlighting);
    default: escaped text. ``math(tex, display)`` returns HTML; default: MathJax delimiters.
    """
    out: list[str] = []
    _write(root, out, image_src, code_block, math or mathjax, is_root=True)
    return "".join(out)


def missing_image(img: Element) -> str:
    """HTML for an image an output cannot show (a remote one not fetched, an unsafe source):
    its alt text, linked to the image when its URL is http(s)."""
    alt = html.escape(img.get("alt", ""), quote=False)
    src = img.get("src", "").strip()
    if re.match(r"https?://", src, re.I) and sanitize.safe_url(src):
        return (
            f'<a href="{html.escape(src, quote=True)}">{alt or html.escape(src, quote=False)}</a>'
        )
    return alt


def mathjax(tex: str, display: bool) -> str:
    """``\\(…\\)`` / ``\\[…\\]``: what Anki (and MathJax in general) renders."""
    return html.escape(f"\\[{tex}\\]" if display else f"\\({tex}\\)", quote=False)


def _write(
    el: Element,
    out: list[str],
    image_src: Callable[[str], str | None],
    code_block: Callable[[str, str | None], str] | None,
    math: Callable[[str, bool], str],
    *,
    is_root: bool = False,
) -> None:
    tag = el.tag
    if tag == "math":
        out.append(math(el.text or "", el.get("display") == "block"))
    elif tag == "img":
        src = image_src(el.get("src", ""))
        alt = el.get("alt", "")
        if src is None:
            out.append(missing_image(el))
        else:
            attrs = {"src": src, "alt": alt}
            if el.get("title"):
                attrs["title"] = el.get("title", "")
            out.append(f"<img{_attrs(attrs | image_size(el))}>")
    elif tag == "pre" and len(el) == 1 and el[0].tag == "code":
        code = el[0].text or ""
        cls = el[0].get("class", "")
        lang = cls.removeprefix("language-") if cls.startswith("language-") else None
        inner = code_block(code, lang) if code_block else html.escape(code, quote=False)
        out.append(f"<pre><code{_attrs({'class': cls} if cls else {})}>{inner}</code></pre>")
    else:
        if not is_root:
            attrs = dict(el.attrib)
            if tag == "details":
                attrs["open"] = ""  # shown unfolded: a card is read, not explored
            if tag == "a" and not sanitize.safe_url(attrs.get("href", "")):
                attrs.pop("href", None)
            out.append(f"<{tag}{_attrs(attrs)}>")
        if tag not in _VOID:
            if el.text:
                out.append(html.escape(el.text, quote=False))
            for child in el:
                _write(child, out, image_src, code_block, math)
            if not is_root:
                out.append(f"</{tag}>")
    if el.tail and not is_root:
        out.append(html.escape(el.tail, quote=False))


def _attrs(attrs: dict[str, str]) -> str:
    return "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in attrs.items())
