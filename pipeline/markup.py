"""Markdown, parsed once per answer into one tree that every output serialises its own way.

The tree is Python-Markdown's ElementTree with three additions, so writers never re-parse or
regex-patch HTML:

* ``<math display="inline|block">TeX</math>``: ``$…$`` and ``$$…$$``, taken out before any
  other inline rule, so underscores, asterisks and backslashes inside reach MathJax untouched.
  ``$`` inside code is code; ``\\$`` and a lone ``$`` stay text. A ``$`` opens math only when a
  non-space follows it, closes only after a non-space and not before a digit ("$5 и $10").
* ``<pre><code class="language-x">``: fenced blocks (``` or ~~~, any indentation, unclosed
  fences run to the end), kept as elements rather than pre-rendered strings.
* ``<raw html="…" block="0|1">``: raw HTML written in the source, unsanitised. Every writer must
  pass it through :mod:`pipeline.sanitize`.

Other elements: p, h1-h6, ul/ol/li, blockquote, pre/code, code, strong, em, a, img, br, hr,
table/thead/tbody/tr/th/td (cell alignment in ``style``). Element text is plain text (not
HTML-escaped). Writers must treat the tree as read-only.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Iterator
from xml.etree.ElementTree import Element, SubElement

import markdown
from markdown import treeprocessors, util
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

from pipeline import sanitize

#: Python-Markdown's link and image rules are quadratic in the number of '[' on a line, and
#: its block parser recurses per nesting level: beyond these bounds a field is refused with a
#: located error instead of hanging the build.
MAX_FIELD_CHARS = 100_000
MAX_BRACKETS = 1_000


#: List markers stacked on one line ("- - - - x") nest a list per marker: the parser's recursion.
_DEEP_MARKERS = re.compile(r"^[ \t>]*(?:(?:[-*+]|[0-9]{1,9}[.)])[ \t]+){40,}", re.M)
_TOO_DEEP = "Markdown nested too deeply (lists or quotes); flatten it"


class MarkupLimitError(ValueError):
    """A field too large or too deeply nested to parse safely."""


_FENCE_OPEN = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*?)[ \t]*$")
_STASH = "\x02mdfence:{}\x03"
_STASH_RE = re.compile("\x02mdfence:(\\d+)\x03")
_RAW_RE = re.compile(re.escape(util.HTML_PLACEHOLDER).replace("%s", "(\\d+)"))
_LANG = re.compile(r"^[\w#+.-]+")


class _FencePreprocessor(Preprocessor):
    """Take fenced code blocks out before block parsing; keep their text for the tree."""

    def __init__(self, md: markdown.Markdown, blocks: list[tuple[str, str]]) -> None:
        super().__init__(md)
        self.blocks = blocks

    def run(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(lines):
            opened = _FENCE_OPEN.match(lines[i])
            if not opened or (opened["fence"][0] == "`" and "`" in opened["info"]):
                out.append(lines[i])
                i += 1
                continue
            indent, fence = len(opened["indent"]), opened["fence"]
            close = re.compile(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
            body: list[str] = []
            i += 1
            while i < len(lines) and not close.match(lines[i]):
                body.append(_dedent(lines[i], indent))
                i += 1
            i += 1  # the closing fence (or the end of an unclosed block)
            lang = _LANG.match(opened["info"])
            self.blocks.append((lang.group(0) if lang else "", "\n".join(body)))
            placeholder = " " * indent + _STASH.format(len(self.blocks) - 1)
            out.extend(["", placeholder, ""])
        return out


def _dedent(line: str, indent: int) -> str:
    strip = len(line) - len(line.lstrip(" "))
    return line[min(strip, indent) :]


class _MathProcessor(InlineProcessor):
    """``$$…$$`` and ``$…$`` -> <math>, before escapes and emphasis can touch the TeX."""

    PATTERN = (
        r"(?<![\\$])\$\$(?P<block>[^$]+?)\$\$"
        r"|(?<![\\$\w])\$(?=[^\s$])(?P<inline>[^$\n]*?[^\s\\$])\$(?![\d$])"
    )

    def handleMatch(  # type: ignore[override]
        self, m: re.Match[str], data: str
    ) -> tuple[Element, int, int]:
        el = Element("math")
        if m.group("block") is not None:
            el.set("display", "block")
            el.text = util.AtomicString(m.group("block").strip())
        else:
            el.set("display", "inline")
            el.text = util.AtomicString(m.group("inline"))
        return el, m.start(0), m.end(0)


class _UnescapeCode(Treeprocessor):
    """Python-Markdown stores code spans and indented code blocks HTML-escaped; the tree holds
    plain text (writers escape for their own target), so undo exactly its ``code_escape``."""

    def run(self, root: Element) -> None:
        for pre in root.iter("pre"):  # indented blocks end in newlines; fenced ones do not
            for code in pre.iter("code"):
                code.text = util.AtomicString((code.text or "").rstrip("\n"))
        for el in root.iter("code"):
            if el.text and "&" in el.text:
                text = el.text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                el.text = util.AtomicString(text)


class _StashToElements(Treeprocessor):
    """Turn fence and raw-HTML placeholders left in text back into elements."""

    def __init__(self, md: markdown.Markdown, blocks: list[tuple[str, str]]) -> None:
        super().__init__(md)
        self.blocks = blocks

    def run(self, root: Element) -> None:
        raw = self.md.htmlStash.rawHtmlBlocks
        for parent in list(root.iter()):
            _expand_placeholders(parent, lambda m: self._element(m, raw))
            _merge_inline_raw(parent)
        for parent in list(root.iter()):
            for i, child in enumerate(list(parent)):
                if (
                    child.tag == "p"
                    and len(child) == 1
                    and not (child.text or "").strip()
                    and not (child[0].tail or "").strip()
                    and child[0].get("block") == "1"
                ):
                    block = child[0]
                    block.tail = child.tail
                    parent.remove(child)
                    parent.insert(i, block)

    def _element(self, match: re.Match[str], raw: list[str | Element]) -> Element:
        if match.group(1) is not None:  # a fenced block
            lang, code = self.blocks[int(match.group(1))]
            pre = Element("pre", {"block": "1"})
            code_el = SubElement(pre, "code")
            if lang:
                code_el.set("class", f"language-{lang}")
            code_el.text = util.AtomicString(code)
            return pre
        source = raw[int(match.group(2))]
        text = source if isinstance(source, str) else str(source)
        return Element(
            "raw",
            {
                "html": text,
                "block": "1"
                if "\n" in text or (text.lstrip().startswith("<") and _is_block(text))
                else "0",
            },
        )


_ANY_STASH = re.compile(f"{_STASH_RE.pattern}|{_RAW_RE.pattern}")


_OPEN_TAG = re.compile(r"^<([a-zA-Z][a-zA-Z0-9]*)\b[^>]*(?<!/)>$")


def _merge_inline_raw(parent: Element) -> None:
    """Join an inline raw opening tag, the plain text after it and its closing tag into one.

    Python-Markdown stashes ``<b>`` and ``</b>`` separately; sanitised apart they would lose
    the formatting between them. Only runs of raw pieces and plain text are joined: an opening
    tag takes the nearest matching closing tag of its run. Linear: thousands of unclosed tags
    made a forward search per tag quadratic.
    """
    children = list(parent)
    closes: list[int | None] = [None] * len(children)
    later: dict[str, int] = {}  # raw piece (normalised) -> its nearest index to the right
    for k in range(len(children) - 1, -1, -1):
        child = children[k]
        if child.tag != "raw":
            later = {}  # a run of raw pieces ends here
            continue
        opened = _OPEN_TAG.match(child.get("html", ""))
        if opened:
            closes[k] = later.get(f"</{opened.group(1).lower()}>")
        later[child.get("html", "").strip().lower()] = k
    if not any(j is not None for j in closes):
        return
    out: list[Element] = []
    i = 0
    while i < len(children):
        j = closes[i]
        if j is None:
            out.append(children[i])
            i += 1
            continue
        pieces = []
        for k in range(i, j + 1):
            pieces.append(children[k].get("html", ""))
            tail = children[k].tail
            if k < j and tail:
                pieces.append(html.escape(tail, quote=False))
        merged = Element("raw", {"html": "".join(pieces), "block": "0"})
        merged.tail = children[j].tail
        out.append(merged)
        i = j + 1
    parent[:] = out


def _is_block(text: str) -> bool:
    return bool(
        re.match(
            r"\s*<(?:div|table|p|ul|ol|pre|blockquote|h[1-6]|details|figure|hr|"
            r"section|iframe|script|style|form|center|dl)\b",
            text,
            re.I,
        )
    )


def _expand_placeholders(parent: Element, make: Callable[[re.Match[str]], Element]) -> None:
    """Split ``parent.text`` and each child's tail wherever a placeholder stands."""
    pieces = _split(parent.text, make)
    if pieces is not None:
        parent.text, new = pieces
        for offset, el in enumerate(new):
            parent.insert(offset, el)
    i = 0
    while i < len(parent):
        child = parent[i]
        pieces = _split(child.tail, make)
        if pieces is not None:
            child.tail, new = pieces
            for offset, el in enumerate(new, start=1):
                parent.insert(i + offset, el)
            i += len(new)
        i += 1


def _split(
    text: str | None, make: Callable[[re.Match[str]], Element]
) -> tuple[str | None, list[Element]] | None:
    if not text or "\x02" not in text:
        return None
    parts = _ANY_STASH.split(text)
    matches = list(_ANY_STASH.finditer(text))
    if not matches:
        return None
    head = text[: matches[0].start()]
    new: list[Element] = []
    for n, m in enumerate(matches):
        el = make(m)
        end = matches[n + 1].start() if n + 1 < len(matches) else len(text)
        el.tail = text[m.end() : end] or None
        new.append(el)
    del parts
    return (head or None), new


#: The characters without which an inline pattern cannot match (its expression needs one of
#: them). Patterns not listed are always tried.
_TRIGGERS = {
    "backtick": "`",
    "math": "$",
    "escape": "\\",
    "reference": "[",
    "link": "[",
    "image_link": "[",
    "image_reference": "[",
    "short_reference": "[",
    "short_image_ref": "[",
    "autolink": "<",
    "linebreak": "\n",
    "html": "<",
    "entity": "&",
    "em_strong": "*_",
}


class _QuickInline(treeprocessors.InlineProcessor):
    """Python-Markdown's inline processor, skipping the patterns that cannot match a text.

    It tries each of its fifteen patterns on every piece of text, one Python call and one
    regular-expression search each: two thirds of parsing an answer. A pattern whose every
    match needs a character the text lacks is skipped exactly as a failed search would be
    (next pattern, search from the start), so the tree is the same; parsing 10,000 answers
    took a quarter less time. ``tests/test_markup.py`` compares it with the plain processor.
    """

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        self._triggers: list[str | None] | None = None

    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:
        if isinstance(data, util.AtomicString):
            return data
        patterns = self.inlinePatterns
        if self._triggers is None:  # by index, once the patterns are all registered
            self._triggers = [None] * len(patterns)
            for name, chars in _TRIGGERS.items():
                if name in patterns:
                    self._triggers[patterns.get_index_for_name(name)] = chars
        triggers = self._triggers
        apply = self._InlineProcessor__applyPattern  # type: ignore[attr-defined]
        start = 0
        while patternIndex < len(patterns):
            needed = triggers[patternIndex]
            if needed is not None and not any(c in data for c in needed):
                patternIndex, start = patternIndex + 1, 0
                continue
            data, matched, start = apply(patterns[patternIndex], data, patternIndex, start)
            if not matched:
                patternIndex += 1
        return data


class _Parser:
    """One configured Markdown instance; reset per call (Python-Markdown is not re-entrant)."""

    def __init__(self, quick_inline: bool = True) -> None:
        self.blocks: list[tuple[str, str]] = []
        md = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
        if quick_inline:
            md.treeprocessors.register(_QuickInline(md), "inline", 20)
        md.ESCAPED_CHARS = [*md.ESCAPED_CHARS, "$", "|", "~"]
        md.preprocessors.register(_FencePreprocessor(md, self.blocks), "mdfence", 28)
        md.inlinePatterns.register(_MathProcessor(_MathProcessor.PATTERN, md), "math", 185)
        md.inlinePatterns.deregister("automail")  # it emits obfuscated entity soup
        md.treeprocessors.deregister("prettify")  # no synthetic whitespace in the tree
        md.treeprocessors.register(_UnescapeCode(md), "unescape_code", 6)
        md.treeprocessors.register(_StashToElements(md, self.blocks), "stash_elements", 5)
        self.md = md

    def parse(self, text: str) -> Element:
        md = self.md
        md.reset()
        self.blocks.clear()
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for prep in md.preprocessors:
            lines = prep.run(lines)
        root: Element = md.parser.parseDocument(lines).getroot()  # type: ignore[assignment]
        for tree in md.treeprocessors:
            replaced = tree.run(root)
            if replaced is not None:
                root = replaced
        for el in root.iter():  # pre elements only needed the marker while parsing
            el.attrib.pop("block", None) if el.tag == "pre" else None
        return root


_local = threading.local()


def check_limits(text: str) -> None:
    """Raise :class:`MarkupLimitError` for a field too large to parse safely."""
    if len(text) > MAX_FIELD_CHARS:
        raise MarkupLimitError(f"{len(text):,} characters; at most {MAX_FIELD_CHARS:,} per field")
    if _DEEP_MARKERS.search(text):
        raise MarkupLimitError(_TOO_DEEP)
    if text.count("[") > MAX_BRACKETS:
        raise MarkupLimitError(
            f"{text.count('['):,} '[' characters; at most {MAX_BRACKETS:,} "
            "per field (links and images)"
        )


#: One line that no Markdown, HTML, math or typographic rule reacts to: it starts with a
#: letter (no list, heading or quote marker), holds only letters, digits, spaces (no tabs or
#: line breaks) and punctuation no inline rule uses (no escape, emphasis, code, link, HTML,
#: entity, math, table or strike character), and does not end with a space (no hard break).
#: Most question titles look like this; the parser would return one paragraph holding the text
#: as is. tests/test_markup.py checks this against the parser, near misses included.
_PLAIN_PUNCTUATION = re.escape(".,?:;!'\"()«»—–%/…№-")
_PLAIN = re.compile(
    rf"[^\W\d_](?:(?:[^\W_]|[ {_PLAIN_PUNCTUATION}])*(?:[^\W_]|[{_PLAIN_PUNCTUATION}]))?"
)


def is_plain_text(text: str) -> bool:
    """Whether ``text`` is plain (see ``_PLAIN``): :func:`parse_markdown` then skips the parser."""
    return _PLAIN.fullmatch(text) is not None


def parse_markdown(text: str) -> Element:
    """Parse Markdown into the tree described in the module docstring (root is ``<div>``)."""
    check_limits(text)
    if is_plain_text(text):  # the tree the parser makes for it, without the parser's cost
        root = Element("div")
        SubElement(root, "p").text = text
        return root
    parser: _Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _Parser()
    try:
        root = parser.parse(text)
    except RecursionError:
        _local.parser = None  # its state is unknown after the unwind
        raise MarkupLimitError(_TOO_DEEP) from None
    for raw in root.iter("raw"):
        depth = sanitize.nesting_depth(raw.get("html", ""))
        if depth > sanitize.MAX_DEPTH:
            raise MarkupLimitError(
                f"raw HTML nested {depth:,} levels deep; at most {sanitize.MAX_DEPTH}: flatten it"
            )
    return root


def inline_children(root: Element) -> Element:
    """For an inline field (the question): the single paragraph's content, else the root."""
    if len(root) == 1 and root[0].tag == "p" and not (root.text or "").strip():
        return root[0]
    return root


def iter_images(root: Element) -> Iterator[Element]:
    yield from root.iter("img")


def plain_text(root: Element) -> str:
    """Visible text of a tree, for search keys, summaries and duplicate checks."""
    parts: list[str] = []

    def walk(el: Element) -> None:
        if el.tag == "raw":
            parts.append(sanitize.visible_text(el.get("html", "")))
        elif el.tag == "img":
            parts.append(el.get("alt", ""))
        elif el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(root)
    return " ".join("".join(parts).split())


# --- HTML writer shared by the Anki deck and the email digest --------------------------------

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
    elif tag == "raw":
        out.append(sanitize.clean_html(el.get("html", "")))
    elif tag == "img":
        src = image_src(el.get("src", ""))
        alt = el.get("alt", "")
        if src is None:
            out.append(html.escape(alt, quote=False))
        else:
            attrs = {"src": src, "alt": alt}
            if el.get("title"):
                attrs["title"] = el.get("title", "")
            out.append(f"<img{_attrs(attrs)}>")
    elif tag == "pre" and len(el) == 1 and el[0].tag == "code":
        code = el[0].text or ""
        cls = el[0].get("class", "")
        lang = cls.removeprefix("language-") if cls.startswith("language-") else None
        inner = code_block(code, lang) if code_block else html.escape(code, quote=False)
        out.append(f"<pre><code{_attrs({'class': cls} if cls else {})}>{inner}</code></pre>")
    else:
        if not is_root:
            attrs = dict(el.attrib)
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
